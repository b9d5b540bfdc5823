//! The storage seam: everything a replica decides from goes through [`Store`], so that several
//! replicas can share one truth (a Redis backend) while a lone simulator keeps it in memory.
//! Tokens (issue, redeem, peek, expire), the directory (companies, members, vendors, consents,
//! delivery memory), faults and the journal.
//!
//! Dispatch is an enum over the backends rather than a trait object, so the hot path (the cert
//! call) is static calls. Every method is async and may fail with [`StoreError::Unavailable`]
//! (a backend out of reach); the memory backend never does. A cert call visits the store once
//! ([`Store::cert_visit`]): in Redis one script decides the fault, the lookup and the use. Housekeeping that only memory needs
//! (the sweeper, saving and restoring state) lives in [`MemoryStore`] and `persist.rs`.

pub mod memory;
pub mod redis;

use std::net::IpAddr;
use std::sync::Arc;

pub use memory::MemoryStore;
pub use redis::RedisStore;

use crate::directory::Directory;
use crate::domain::OtpToken;
use crate::faults::{Endpoint, Fault, FaultKind, FaultSpec};
use crate::fixtures::Fixtures;
use crate::journal::{Event, EventKind};
use crate::tokens::{Grant, Redeem, TokenStore, TokenView};

/// What a cert call found in the store, in one step: the fault for the call (taken), and
/// unless that fault replaces the answer, the token looked up and, when its vendor admits the
/// caller, used up.
#[derive(Debug)]
pub struct Visit {
    /// The directory the decision is made on.
    pub dir: Arc<Directory>,
    pub fault: Option<FaultKind>,
    /// The token's vendor, when the token is known.
    pub vendor: Option<Arc<str>>,
    pub lookup: Lookup,
}

/// What became of the token.
#[derive(Debug)]
pub enum Lookup {
    /// No token to look up (none sent, malformed, or a fault answers instead).
    NotAsked,
    /// No such token.
    Unknown,
    /// Known, and left as it was: its vendor does not admit the caller, or the caller is
    /// unknown.
    Seen(TokenView),
    /// Known and admitted: what redeeming decided.
    Used(Redeem),
}

/// Why the store could not do what was asked.
#[derive(Debug, Clone, thiserror::Error)]
pub enum StoreError {
    /// The backend is out of reach: nothing was changed; try again.
    #[error("the shared store is unavailable: {0}")]
    Unavailable(String),
    /// Issuing refused: as many live tokens as allowed.
    #[error("the simulator holds {0} live tokens, its configured maximum; retry when some are used or expire")]
    Full(usize),
}

/// The backends.
enum Backend {
    Memory(MemoryStore),
    Redis(Box<RedisStore>),
}

/// The shared state's one door.
pub struct Store(Backend);

impl Store {
    /// A store in this process's memory.
    pub fn memory(store: MemoryStore) -> Self {
        Store(Backend::Memory(store))
    }

    /// A store in Redis, shared by every replica that uses it.
    pub fn redis(store: RedisStore) -> Self {
        Store(Backend::Redis(Box::new(store)))
    }

    /// The memory backend, for the housekeeping only it needs.
    pub fn as_memory(&self) -> Option<&MemoryStore> {
        match &self.0 {
            Backend::Memory(m) => Some(m),
            Backend::Redis(_) => None,
        }
    }

    /// The Redis backend.
    pub fn as_redis(&self) -> Option<&RedisStore> {
        match &self.0 {
            Backend::Memory(_) => None,
            Backend::Redis(r) => Some(r),
        }
    }

    /// A cert call's visit (see [`Visit`]): one atomic step in Redis. `caller` is `None` when
    /// the caller is unknown (the token is then only looked at).
    pub async fn cert_visit(
        &self,
        token: Option<&OtpToken>,
        caller: Option<IpAddr>,
        now_ms: u64,
    ) -> Result<Visit, StoreError> {
        let m = match &self.0 {
            Backend::Memory(m) => m,
            Backend::Redis(r) => return r.cert_visit(token, caller, now_ms).await,
        };
        let dir = m.directory();
        let found = token.and_then(|t| m.tokens.peek(t));
        let vendor = found.as_ref().map(|v| v.grant.vendor.clone());
        let fault = match m.faults.is_empty() {
            true => None,
            false => m.faults.take(Endpoint::Cert, vendor.as_deref()),
        };
        if fault.as_ref().is_some_and(FaultKind::replaces_answer) {
            return Ok(Visit {
                dir,
                fault,
                vendor,
                lookup: Lookup::NotAsked,
            });
        }
        let lookup = match (token, found) {
            (None, _) => Lookup::NotAsked,
            (Some(_), None) => Lookup::Unknown,
            (Some(token), Some(view)) => {
                let entry = dir.vendor(&view.grant.vendor).map(|(_, v)| v);
                match caller.filter(|ip| entry.is_some_and(|v| v.allows(*ip))) {
                    Some(ip) => Lookup::Used(m.tokens.redeem(token, now_ms, ip)),
                    None => Lookup::Seen(view),
                }
            }
        };
        Ok(Visit {
            dir,
            fault,
            vendor,
            lookup,
        })
    }

    /// The directory as this replica last saw it, without waiting on a backend (for checks
    /// made on every request, such as which hosts are served).
    pub fn last_directory(&self) -> Arc<Directory> {
        match &self.0 {
            Backend::Memory(m) => m.directory(),
            Backend::Redis(r) => r.last_directory(),
        }
    }

    /// How many events the journal keeps.
    pub fn journal_capacity(&self) -> usize {
        match &self.0 {
            Backend::Memory(m) => m.journal.capacity(),
            Backend::Redis(r) => r.journal_capacity(),
        }
    }

    /// Stores a new token for `grant`, valid until `expires_ms`.
    pub async fn issue(
        &self,
        grant: Grant,
        now_ms: u64,
        expires_ms: u64,
    ) -> Result<OtpToken, StoreError> {
        match &self.0 {
            Backend::Memory(m) => m.issue(grant, now_ms, expires_ms),
            Backend::Redis(r) => r.issue(grant, now_ms, expires_ms).await,
        }
    }

    /// Looks a token up without changing it.
    pub async fn peek(&self, token: &OtpToken) -> Result<Option<TokenView>, StoreError> {
        match &self.0 {
            Backend::Memory(m) => Ok(m.tokens.peek(token)),
            Backend::Redis(r) => r.peek(token).await,
        }
    }

    /// Ends a token's lifetime now; false when unknown.
    pub async fn expire(&self, token: &OtpToken, now_ms: u64) -> Result<bool, StoreError> {
        match &self.0 {
            Backend::Memory(m) => Ok(m.expire(token, now_ms)),
            Backend::Redis(r) => r.expire(token, now_ms).await,
        }
    }

    /// Tokens issued and not yet used nor expired.
    pub async fn live_tokens(&self) -> Result<usize, StoreError> {
        match &self.0 {
            Backend::Memory(m) => Ok(m.tokens.live()),
            Backend::Redis(r) => r.live_tokens().await,
        }
    }

    /// The directory as it is now: a snapshot, cheap to take, never locked while read.
    pub async fn directory(&self) -> Result<Arc<Directory>, StoreError> {
        match &self.0 {
            Backend::Memory(m) => Ok(m.directory()),
            Backend::Redis(r) => r.directory().await,
        }
    }

    /// Changes the directory: `change` sees the current one and may refuse (`Err`), in which
    /// case nothing is stored. It may be called again when another replica changed the
    /// directory meanwhile (Redis), so it must not consume what it captures.
    pub async fn update_directory<R, E>(
        &self,
        change: impl FnMut(&mut Directory) -> Result<R, E>,
    ) -> Result<Result<R, E>, StoreError> {
        match &self.0 {
            Backend::Memory(m) => Ok(m.update_directory(change)),
            Backend::Redis(r) => r.update_directory(change).await,
        }
    }

    /// Validates and adds a fault.
    pub async fn add_fault(&self, spec: FaultSpec) -> Result<Result<Fault, String>, StoreError> {
        match &self.0 {
            Backend::Memory(m) => Ok(m.faults.add(spec)),
            Backend::Redis(r) => r.add_fault(spec).await,
        }
    }

    /// The fault that applies to this call, if any, counted as applied.
    pub async fn take_fault(
        &self,
        endpoint: Endpoint,
        vendor: Option<&str>,
    ) -> Result<Option<FaultKind>, StoreError> {
        match &self.0 {
            Backend::Memory(m) => Ok(m.faults.take(endpoint, vendor)),
            Backend::Redis(r) => r.take_fault(endpoint, vendor).await,
        }
    }

    pub async fn faults(&self) -> Result<Vec<Fault>, StoreError> {
        match &self.0 {
            Backend::Memory(m) => Ok(m.faults.list()),
            Backend::Redis(r) => r.faults().await,
        }
    }

    /// Removes one fault; false when unknown.
    pub async fn remove_fault(&self, id: u64) -> Result<bool, StoreError> {
        match &self.0 {
            Backend::Memory(m) => Ok(m.faults.remove(id)),
            Backend::Redis(r) => r.remove_fault(id).await,
        }
    }

    pub async fn clear_faults(&self) -> Result<(), StoreError> {
        match &self.0 {
            Backend::Memory(m) => {
                m.faults.clear();
                Ok(())
            }
            Backend::Redis(r) => r.clear_faults().await,
        }
    }

    /// Records an event. A journal out of reach never fails the call it records: logged.
    pub fn record(&self, at_ms: u64, kind: EventKind) {
        match &self.0 {
            Backend::Memory(m) => {
                m.journal.record(at_ms, kind);
            }
            Backend::Redis(r) => r.record(at_ms, kind),
        }
    }

    /// The journal, oldest first.
    pub async fn journal(&self) -> Result<Vec<Arc<Event>>, StoreError> {
        match &self.0 {
            Backend::Memory(m) => Ok(m.journal.snapshot()),
            Backend::Redis(r) => r.journal().await,
        }
    }

    pub async fn clear_journal(&self) -> Result<(), StoreError> {
        match &self.0 {
            Backend::Memory(m) => {
                m.journal.clear();
                Ok(())
            }
            Backend::Redis(r) => r.clear_journal().await,
        }
    }

    /// Back to `fixtures`: no run-time changes, consents or deliveries beyond them, no tokens,
    /// an empty journal, no faults. Once, for every replica.
    pub async fn reset(&self, fixtures: &Fixtures) -> Result<(), StoreError> {
        match &self.0 {
            Backend::Memory(m) => {
                m.reset(fixtures);
                Ok(())
            }
            Backend::Redis(r) => r.reset(fixtures).await,
        }
    }

    /// Whether the store can be used now (health).
    pub async fn ready(&self) -> Result<(), StoreError> {
        match &self.0 {
            Backend::Memory(_) => Ok(()),
            Backend::Redis(r) => r.ready().await,
        }
    }
}
