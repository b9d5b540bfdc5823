//! Tokens in Redis: issued under the live-token maximum, and a cert call's one visit (the
//! fault taken, the token looked up and used up), each one script.

use std::net::IpAddr;
use std::sync::Arc;

use super::outage::Revert;
use super::sandboxes::{sandbox_key, SANDBOXES};
use super::RedisStore;
use crate::domain::directory::Directory;
use crate::domain::fault::FaultKind;
use crate::domain::grant::{Grant, Redeem, TokenView, Use};
use crate::domain::sandbox::SandboxId;
use crate::domain::OtpToken;
use crate::store::answers::{Lookup, StoreError, Visit};

impl RedisStore {
    pub async fn issue(
        &self,
        grant: Grant,
        now_ms: u64,
        expires_ms: u64,
    ) -> Result<OtpToken, StoreError> {
        let forget_at = expires_ms.saturating_add(self.options.retention_ms);
        let token = match self.sandbox {
            Some(id) => id.stamp(OtpToken::generate()),
            None => crate::domain::sandbox::base_token(),
        };
        let done: i64 = self
            .scripts
            .issue
            .key(self.token_key(&token))
            .key(self.key("live"))
            .key(self.key("gen"))
            .key(self.key("meta"))
            .key(self.key("unused"))
            .arg(&*grant.company)
            .arg(&*grant.customer_id)
            .arg(&*grant.vendor)
            .arg(now_ms)
            .arg(expires_ms)
            .arg(now_ms)
            .arg(self.options.max_live_tokens)
            .arg(forget_at)
            .arg(token.to_string())
            .arg(self.deadline())
            .invoke_async(&mut self.conn().await?)
            .await
            .map_err(|e| self.down(e))?;
        match done {
            1 => Ok(token),
            0 => Err(self.late()),
            full => Err(StoreError::Full((-1 - full).max(0) as usize)),
        }
    }

    /// A cert call's visit: one script, so that the fault taken, the token looked up and the
    /// token used up are one atomic step across every replica. At the base, `candidate` is the
    /// sandbox the token's first bytes name: `None` back when it exists (visit it there).
    pub async fn cert_visit(
        &self,
        token: Option<&OtpToken>,
        caller: Option<IpAddr>,
        now_ms: u64,
        candidate: Option<SandboxId>,
    ) -> Result<Option<Visit>, StoreError> {
        let token_text = token.map(ToString::to_string).unwrap_or_default();
        // The call's own number: sent again (a dropped connection), it finds its own OK.
        let call = format!("{:016x}", rand::random::<u64>());
        let redeem = caller.is_some();
        if let (Some(token), true) = (token, redeem) {
            // A call of this token's this replica answered 503 may have used it: taken back
            // first (or this call is answered 503 too).
            self.take_back(Some(token)).await?;
        }
        for _ in 0..16 {
            // The script changes nothing if Redis runs it after this (paused, stalled): by then
            // this replica has given up waiting and answered 503.
            let deadline = self.deadline();
            let cached = self.cached();
            let admitted = match caller {
                Some(ip) => admitting(&cached.directory, ip),
                None => String::new(),
            };
            let reply: Vec<String> = self
                .scripts
                .cert
                .key(self.key("dir:ver"))
                .key(if token.is_some() {
                    format!("{}t:{token_text}", self.prefix)
                } else {
                    self.key("t:")
                })
                .key(self.key("unused"))
                .key(self.key("faults"))
                .key(self.key("gen"))
                .arg(&self.prefix)
                .arg(now_ms)
                .arg(caller.map(|ip| ip.to_string()).unwrap_or_default())
                .arg(&cached.version)
                .arg(admitted)
                .arg(if caller.is_some() { "redeem" } else { "peek" })
                .arg(&token_text)
                .arg(&call)
                .arg(deadline)
                .arg(
                    candidate
                        .map(|id| sandbox_key(id, "meta"))
                        .unwrap_or_default(),
                )
                .arg(self.sandbox.map(|id| id.to_string()).unwrap_or_default())
                .arg(SANDBOXES)
                .invoke_async(&mut self.conn().await?)
                .await
                .map_err(|e| {
                    if let (Some(token), true) = (token, redeem) {
                        // Redis may have run it before its deadline and the answer not come:
                        // owed, taken back as soon as Redis answers.
                        self.outage.owe(Revert {
                            token: *token,
                            prefix: self.prefix.clone(),
                            call: call.clone(),
                        });
                    }
                    self.down(e)
                })?;
            let dir = cached.directory.clone();
            let fault = |json: &str| -> Option<FaultKind> {
                (!json.is_empty())
                    .then(|| serde_json::from_str(json).ok())
                    .flatten()
            };
            match reply.first().map(String::as_str) {
                Some("late") => return Err(self.late()),
                Some("sandbox") => return Ok(None),
                Some("empty") => self.seed_if_empty().await?,
                Some("stale") => {
                    self.refresh().await?;
                }
                Some("fault") => {
                    return Ok(Some(Visit {
                        sandbox: None,
                        fault: fault(&reply[1]),
                        vendor: reply
                            .get(2)
                            .filter(|v| !v.is_empty())
                            .map(|v| Arc::from(&**v)),
                        lookup: Lookup::NotAsked,
                        dir,
                    }))
                }
                Some("none") => {
                    return Ok(Some(Visit {
                        sandbox: None,
                        fault: fault(&reply[1]),
                        vendor: None,
                        lookup: if token.is_some() {
                            Lookup::Unknown
                        } else {
                            Lookup::NotAsked
                        },
                        dir,
                    }))
                }
                Some(state) if reply.len() == 9 => {
                    let view = view_of(&dir, &reply[2..]);
                    let vendor = Some(view.grant.vendor.clone());
                    let lookup = match state {
                        "seen" => Lookup::Seen(view),
                        "used" => Lookup::Used(Redeem::AlreadyUsed { view }),
                        "expired" => Lookup::Used(Redeem::Expired { view }),
                        _ => Lookup::Used(Redeem::Redeemed(view.grant)),
                    };
                    return Ok(Some(Visit {
                        sandbox: None,
                        fault: fault(&reply[1]),
                        vendor,
                        lookup,
                        dir,
                    }));
                }
                _ => {
                    return Err(StoreError::Unavailable(format!(
                        "Redis at {} answered the cert script with {reply:?}",
                        self.shown
                    )))
                }
            }
        }
        Err(StoreError::Unavailable(format!(
            "the directory in Redis at {} changed on every try",
            self.shown
        )))
    }

    pub async fn peek(&self, token: &OtpToken) -> Result<Option<TokenView>, StoreError> {
        let rec: Option<Vec<String>> = self
            .scripts
            .peek
            .key(self.token_key(token))
            .key(self.key("gen"))
            .invoke_async(&mut self.conn().await?)
            .await
            .map_err(|e| self.down(e))?;
        Ok(rec.map(|fields| view_of(&self.last_directory(), &fields)))
    }

    pub async fn expire(&self, token: &OtpToken, now_ms: u64) -> Result<bool, StoreError> {
        let known: i64 = self
            .scripts
            .expire
            .key(self.token_key(token))
            .key(self.key("unused"))
            .key(self.key("gen"))
            .arg(now_ms)
            .arg(now_ms.saturating_add(self.options.retention_ms))
            .arg(token.to_string())
            .invoke_async(&mut self.conn().await?)
            .await
            .map_err(|e| self.down(e))?;
        Ok(known == 1)
    }

    pub async fn live_tokens(&self) -> Result<usize, StoreError> {
        let now = crate::domain::clock::now_ms();
        let live: usize = self
            .scripts
            .live
            .key(self.key("live"))
            .key(self.key("unused"))
            .arg(now)
            .invoke_async(&mut self.conn().await?)
            .await
            .map_err(|e| self.down(e))?;
        self.outage.counted(live as u64, now);
        Ok(live)
    }
}

/// The vendors whose allow-list holds `ip`, each between two `\x1f` (what the cert script
/// searches).
fn admitting(dir: &Directory, ip: IpAddr) -> String {
    let mut out = String::from("\x1f");
    for v in dir.vendors().filter(|v| v.allows(ip)) {
        out.push_str(&v.vendor.vendor_no);
        out.push('\x1f');
    }
    out
}

/// A token's record as the scripts return it: company, member, vendor, issued, expires, used
/// at, used by ('' when unused). Names are shared with the directory's where it has them.
fn view_of(dir: &Directory, f: &[String]) -> TokenView {
    let shared =
        |name: &str, found: Option<&Arc<str>>| found.cloned().unwrap_or_else(|| Arc::from(name));
    let grant = Grant {
        company: shared(&f[0], dir.company(&f[0]).map(|(k, _)| k)),
        customer_id: shared(&f[1], dir.member(&f[1]).map(|(k, _)| k)),
        vendor: shared(&f[2], dir.vendor(&f[2]).map(|(k, _)| k)),
    };
    let number = |i: usize| f.get(i).and_then(|s| s.parse::<u64>().ok());
    let used = number(5).map(|at_ms| Use {
        at_ms,
        by: f
            .get(6)
            .and_then(|b| b.parse().ok())
            .unwrap_or(IpAddr::from([0, 0, 0, 0])),
    });
    TokenView {
        grant: Arc::new(grant),
        issued_ms: number(3).unwrap_or(0),
        expires_ms: number(4).unwrap_or(0),
        used,
    }
}
