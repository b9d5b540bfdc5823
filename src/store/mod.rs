//! The storage seam: everything a replica decides from goes through [`Store`], so that several
//! replicas can share one truth (a Redis backend) while a lone simulator keeps it in memory.
//! Tokens (issue, redeem, peek, expire), the directory (companies, members, vendors, consents,
//! delivery memory), faults and the journal.
//!
//! Dispatch is an enum over the backends rather than a trait object, so the hot path (the cert
//! call) is static calls. Every method is async and may fail with [`StoreError::Unavailable`]
//! (a backend out of reach); the memory backend never does. Housekeeping that only memory needs
//! (the sweeper, saving and restoring state) lives in [`MemoryStore`] and `persist.rs`.

pub mod memory;

use std::net::IpAddr;
use std::sync::Arc;

pub use memory::MemoryStore;

use crate::directory::Directory;
use crate::domain::OtpToken;
use crate::faults::{Endpoint, Fault, FaultKind, FaultSpec};
use crate::fixtures::Fixtures;
use crate::journal::{Event, EventKind};
use crate::tokens::{Grant, Redeem, TokenStore, TokenView};

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
}

/// The shared state's one door.
pub struct Store(Backend);

impl Store {
    /// A store in this process's memory.
    pub fn memory(store: MemoryStore) -> Self {
        Store(Backend::Memory(store))
    }

    /// The memory backend, for the housekeeping only it needs.
    pub fn as_memory(&self) -> Option<&MemoryStore> {
        match &self.0 {
            Backend::Memory(m) => Some(m),
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
        }
    }

    /// Uses the token up if it is valid; exactly one of any number of concurrent calls wins.
    pub async fn redeem(
        &self,
        token: &OtpToken,
        now_ms: u64,
        by: IpAddr,
    ) -> Result<Redeem, StoreError> {
        match &self.0 {
            Backend::Memory(m) => Ok(m.tokens.redeem(token, now_ms, by)),
        }
    }

    /// Looks a token up without changing it.
    pub async fn peek(&self, token: &OtpToken) -> Result<Option<TokenView>, StoreError> {
        match &self.0 {
            Backend::Memory(m) => Ok(m.tokens.peek(token)),
        }
    }

    /// Ends a token's lifetime now; false when unknown.
    pub async fn expire(&self, token: &OtpToken, now_ms: u64) -> Result<bool, StoreError> {
        match &self.0 {
            Backend::Memory(m) => Ok(m.expire(token, now_ms)),
        }
    }

    /// Tokens issued and not yet used nor expired.
    pub async fn live_tokens(&self) -> Result<usize, StoreError> {
        match &self.0 {
            Backend::Memory(m) => Ok(m.tokens.live()),
        }
    }

    /// The directory as it is now: a snapshot, cheap to take, never locked while read.
    pub async fn directory(&self) -> Result<Arc<Directory>, StoreError> {
        match &self.0 {
            Backend::Memory(m) => Ok(m.directory()),
        }
    }

    /// Changes the directory: `change` sees the current one and may refuse (`Err`), in which
    /// case nothing is stored.
    pub async fn update_directory<R, E>(
        &self,
        change: impl FnOnce(&mut Directory) -> Result<R, E>,
    ) -> Result<Result<R, E>, StoreError> {
        match &self.0 {
            Backend::Memory(m) => Ok(m.update_directory(change)),
        }
    }

    /// Validates and adds a fault.
    pub async fn add_fault(&self, spec: FaultSpec) -> Result<Result<Fault, String>, StoreError> {
        match &self.0 {
            Backend::Memory(m) => Ok(m.faults.add(spec)),
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
        }
    }

    /// Whether faults may be in force (lets the hot path skip looking the token's vendor up).
    pub fn may_have_faults(&self) -> bool {
        match &self.0 {
            Backend::Memory(m) => !m.faults.is_empty(),
        }
    }

    pub async fn faults(&self) -> Result<Vec<Fault>, StoreError> {
        match &self.0 {
            Backend::Memory(m) => Ok(m.faults.list()),
        }
    }

    /// Removes one fault; false when unknown.
    pub async fn remove_fault(&self, id: u64) -> Result<bool, StoreError> {
        match &self.0 {
            Backend::Memory(m) => Ok(m.faults.remove(id)),
        }
    }

    pub async fn clear_faults(&self) -> Result<(), StoreError> {
        match &self.0 {
            Backend::Memory(m) => {
                m.faults.clear();
                Ok(())
            }
        }
    }

    /// Records an event. A journal out of reach never fails the call it records: logged.
    pub fn record(&self, at_ms: u64, kind: EventKind) {
        match &self.0 {
            Backend::Memory(m) => {
                m.journal.record(at_ms, kind);
            }
        }
    }

    /// The journal, oldest first.
    pub async fn journal(&self) -> Result<Vec<Arc<Event>>, StoreError> {
        match &self.0 {
            Backend::Memory(m) => Ok(m.journal.snapshot()),
        }
    }

    pub async fn clear_journal(&self) -> Result<(), StoreError> {
        match &self.0 {
            Backend::Memory(m) => {
                m.journal.clear();
                Ok(())
            }
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
        }
    }

    /// Whether the store can be used now (health).
    pub async fn ready(&self) -> Result<(), StoreError> {
        match &self.0 {
            Backend::Memory(_) => Ok(()),
        }
    }
}
