//! Faults in Redis: a list of ids, oldest first, and a hash per fault; taking one counts it
//! down in the same script, so a fault for the next N calls is met N times across all replicas.

use super::conn::once;
use super::RedisStore;
use crate::domain::fault::{Endpoint, Fault, FaultKind, FaultSpec};
use crate::store::answers::StoreError;

impl RedisStore {
    pub async fn add_fault(&self, spec: FaultSpec) -> Result<Fault, StoreError> {
        let json = serde_json::to_string(spec.kind())
            .map_err(|e| StoreError::Unavailable(e.to_string()))?;
        let id: u64 = self
            .scripts
            .add_fault
            .key(self.key("fault:next"))
            .key(self.key("faults"))
            .key(once())
            .arg(&self.prefix)
            .arg(spec.endpoint().name())
            .arg(spec.vndr_no().unwrap_or(""))
            .arg(spec.count().map(|c| c.to_string()).unwrap_or_default())
            .arg(if matches!(spec.kind(), FaultKind::Delay { .. }) {
                "1"
            } else {
                "0"
            })
            .arg(json)
            .arg(self.deadline())
            .invoke_async(&mut self.conn().await?)
            .await
            .map_err(|e| self.down(e))?;
        if id == 0 {
            return Err(self.late());
        }
        Ok(spec.into_fault(id))
    }

    pub async fn take_fault(
        &self,
        endpoint: Endpoint,
        vendor: Option<&str>,
    ) -> Result<Option<FaultKind>, StoreError> {
        let json: String = self
            .scripts
            .take
            .key(self.key("faults"))
            .key(once())
            .arg(&self.prefix)
            .arg(endpoint.name())
            .arg(vendor.unwrap_or(""))
            .arg(self.deadline())
            .invoke_async(&mut self.conn().await?)
            .await
            .map_err(|e| self.down(e))?;
        if json == "late" {
            return Err(self.late());
        }
        Ok(serde_json::from_str(&json).ok())
    }

    /// Every fault in force, read in one script (no fault half taken meanwhile). A fault that
    /// does not read back is an error, not a guess.
    pub async fn faults(&self) -> Result<Vec<Fault>, StoreError> {
        let rows: Vec<(u64, String, String, String, u64, String)> = self
            .scripts
            .faults
            .key(self.key("faults"))
            .arg(&self.prefix)
            .invoke_async(&mut self.conn().await?)
            .await
            .map_err(|e| self.down(e))?;
        let unreadable = |id: u64, what: String| {
            StoreError::Unavailable(format!(
                "fault {id} in Redis at {} cannot be read: {what}",
                self.shown
            ))
        };
        rows.into_iter()
            .map(|(id, endpoint, vendor, remaining, applied, kind)| {
                let endpoint = match endpoint.as_str() {
                    "cert" => Endpoint::Cert,
                    "check" => Endpoint::Check,
                    other => return Err(unreadable(id, format!("unknown endpoint {other:?}"))),
                };
                let remaining = match remaining.as_str() {
                    "" => None,
                    r => Some(
                        r.parse()
                            .map_err(|_| unreadable(id, format!("count {r:?}")))?,
                    ),
                };
                let kind = serde_json::from_str(&kind)
                    .map_err(|e| unreadable(id, format!("kind {kind:?}: {e}")))?;
                Ok(Fault {
                    id,
                    endpoint,
                    vndr_no: (!vendor.is_empty()).then_some(vendor),
                    remaining,
                    applied,
                    kind,
                })
            })
            .collect()
    }

    pub async fn remove_fault(&self, id: u64) -> Result<bool, StoreError> {
        let removed: i64 = self
            .scripts
            .remove_faults
            .key(self.key("faults"))
            .arg(&self.prefix)
            .arg(id)
            .invoke_async(&mut self.conn().await?)
            .await
            .map_err(|e| self.down(e))?;
        Ok(removed > 0)
    }

    pub async fn clear_faults(&self) -> Result<(), StoreError> {
        let _: i64 = self
            .scripts
            .remove_faults
            .key(self.key("faults"))
            .arg(&self.prefix)
            .invoke_async(&mut self.conn().await?)
            .await
            .map_err(|e| self.down(e))?;
        Ok(())
    }
}
