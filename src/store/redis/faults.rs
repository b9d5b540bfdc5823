//! Faults in Redis: a list of ids, oldest first, and a hash per fault; taking one counts it
//! down in the same script, so a fault for the next N calls is met N times across all replicas.

use super::{key, once, RedisStore, PREFIX};
use crate::faults::{Endpoint, Fault, FaultKind, FaultSpec};
use crate::store::StoreError;

impl RedisStore {
    pub async fn add_fault(&self, spec: FaultSpec) -> Result<Result<Fault, String>, StoreError> {
        let kind = match spec.check() {
            Ok(k) => k,
            Err(e) => return Ok(Err(e)),
        };
        let json =
            serde_json::to_string(&kind).map_err(|e| StoreError::Unavailable(e.to_string()))?;
        let id: u64 = self
            .scripts
            .add_fault
            .key(key("fault:next"))
            .key(key("faults"))
            .key(once())
            .arg(PREFIX)
            .arg(spec.endpoint.name())
            .arg(spec.vndr_no.as_deref().unwrap_or(""))
            .arg(spec.count.map(|c| c.to_string()).unwrap_or_default())
            .arg(if matches!(kind, FaultKind::Delay { .. }) {
                "1"
            } else {
                "0"
            })
            .arg(json)
            .invoke_async(&mut self.conn().await?)
            .await
            .map_err(|e| self.down(e))?;
        Ok(Ok(Fault {
            id,
            endpoint: spec.endpoint,
            vndr_no: spec.vndr_no,
            remaining: spec.count,
            applied: 0,
            kind,
        }))
    }

    pub async fn take_fault(
        &self,
        endpoint: Endpoint,
        vendor: Option<&str>,
    ) -> Result<Option<FaultKind>, StoreError> {
        let json: String = self
            .scripts
            .take
            .key(key("faults"))
            .key(once())
            .arg(PREFIX)
            .arg(endpoint.name())
            .arg(vendor.unwrap_or(""))
            .invoke_async(&mut self.conn().await?)
            .await
            .map_err(|e| self.down(e))?;
        Ok(serde_json::from_str(&json).ok())
    }

    pub async fn faults(&self) -> Result<Vec<Fault>, StoreError> {
        let ids: Vec<u64> = redis::cmd("LRANGE")
            .arg(key("faults"))
            .arg(0)
            .arg(-1)
            .query_async(&mut self.conn().await?)
            .await
            .map_err(|e| self.down(e))?;
        let mut faults = Vec::with_capacity(ids.len());
        for id in ids {
            let f: Vec<Option<String>> = redis::cmd("HMGET")
                .arg(key(&format!("fault:{id}")))
                .arg(&["e", "v", "r", "a", "k"])
                .query_async(&mut self.conn().await?)
                .await
                .map_err(|e| self.down(e))?;
            let [Some(e), v, r, a, Some(k)] =
                <[Option<String>; 5]>::try_from(f).unwrap_or([None, None, None, None, None])
            else {
                continue; // taken for the last time meanwhile
            };
            let Ok(kind) = serde_json::from_str(&k) else {
                continue;
            };
            faults.push(Fault {
                id,
                endpoint: if e == "check" {
                    Endpoint::Check
                } else {
                    Endpoint::Cert
                },
                vndr_no: v,
                remaining: r.and_then(|r| r.parse().ok()),
                applied: a.and_then(|a| a.parse().ok()).unwrap_or(0),
                kind,
            });
        }
        Ok(faults)
    }

    pub async fn remove_fault(&self, id: u64) -> Result<bool, StoreError> {
        let removed: i64 = self
            .scripts
            .remove_faults
            .key(key("faults"))
            .arg(PREFIX)
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
            .key(key("faults"))
            .arg(PREFIX)
            .invoke_async(&mut self.conn().await?)
            .await
            .map_err(|e| self.down(e))?;
        Ok(())
    }
}
