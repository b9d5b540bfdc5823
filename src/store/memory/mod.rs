//! The store in this process's memory: the default, needing nothing installed. It also does the
//! housekeeping only memory needs: the sweeper forgets old tokens, and `persist.rs` saves and
//! restores it (`--state`). A change counter tells the saver whether anything changed.

pub(crate) mod faults;
pub mod journal;
pub(crate) mod persist;
pub mod tokens;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use std::net::IpAddr;

use super::answers::{Decision, Lookup, StoreError, StoreOptions, Visit};
use crate::domain::directory::Directory;
use crate::domain::fault::{Endpoint, FaultKind};
use crate::domain::fixtures::Fixtures;
use crate::domain::grant::Grant;
use crate::domain::OtpToken;
use crate::store::memory::faults::Faults;
use crate::store::memory::journal::Journal;
use crate::store::memory::tokens::MemoryTokenStore;

/// Tokens, directory, faults and journal of one process.
pub(crate) struct MemoryStore {
    pub(crate) tokens: MemoryTokenStore,
    /// The directory, replaced whole on change (copy on write): readers take the `Arc` and
    /// never hold the lock while they read. A std `RwLock`, held only to swap or clone a
    /// pointer, never across an await.
    directory: RwLock<Arc<Directory>>,
    pub(crate) faults: Faults,
    pub(crate) journal: Journal,
    /// Counts changes of tokens and directory, so that saving state can tell whether anything
    /// changed (the journal's next id counts the rest).
    changes: AtomicU64,
}

impl MemoryStore {
    pub(crate) fn new(fixtures: &Fixtures, options: &StoreOptions) -> Self {
        MemoryStore::holding(Directory::from_fixtures(fixtures), options, None)
    }

    /// A store holding `directory`, its tokens stamped with `sandbox` when it is one.
    pub(crate) fn holding(
        directory: Directory,
        options: &StoreOptions,
        sandbox: Option<crate::domain::sandbox::SandboxId>,
    ) -> Self {
        let mut tokens = MemoryTokenStore::new(options.max_live_tokens, options.retention_ms);
        tokens.stamp = sandbox;
        MemoryStore {
            tokens,
            directory: RwLock::new(Arc::new(directory)),
            faults: Faults::default(),
            journal: Journal::new(
                options.journal_capacity,
                options.journal_max_bytes,
                options.replica.clone(),
            ),
            changes: AtomicU64::new(0),
        }
    }

    /// A cert call's visit (see [`Visit`]): the fault, the lookup and the use, each under its
    /// own shard's lock; the token's shard lock makes its use atomic.
    pub(crate) fn cert_visit(
        &self,
        token: Option<&OtpToken>,
        caller: Option<IpAddr>,
        now_ms: u64,
    ) -> Visit {
        let dir = self.directory();
        let found = token.and_then(|t| self.tokens.peek(t));
        let vendor = found.as_ref().map(|v| v.grant.vendor.clone());
        let fault = match self.faults.is_empty() {
            true => None,
            false => self.faults.take(Endpoint::Cert, vendor.as_deref()),
        };
        if fault.as_ref().is_some_and(FaultKind::replaces_answer) {
            return Visit {
                sandbox: None,
                dir,
                fault,
                vendor,
                lookup: Lookup::NotAsked,
            };
        }
        let lookup = match (token, found) {
            (None, _) => Lookup::NotAsked,
            (Some(_), None) => Lookup::Unknown,
            (Some(token), Some(view)) => {
                let entry = dir.vendor(&view.grant.vendor).map(|(_, v)| v);
                match caller.filter(|ip| entry.is_some_and(|v| v.allows(*ip))) {
                    Some(ip) => Lookup::Used(self.tokens.redeem(token, now_ms, ip)),
                    None => Lookup::Seen(view),
                }
            }
        };
        Visit {
            sandbox: None,
            dir,
            fault,
            vendor,
            lookup,
        }
    }

    fn changed(&self) {
        self.changes.fetch_add(1, Ordering::Relaxed);
    }

    /// How many changes of tokens or directory there were.
    pub(crate) fn changes(&self) -> u64 {
        self.changes.load(Ordering::Relaxed)
    }

    pub(crate) fn issue(
        &self,
        grant: Grant,
        now_ms: u64,
        expires_ms: u64,
    ) -> Result<OtpToken, StoreError> {
        let token = self.tokens.issue(grant, now_ms, expires_ms)?;
        self.changed();
        Ok(token)
    }

    pub(crate) fn expire(&self, token: &OtpToken, now_ms: u64) -> bool {
        let known = self.tokens.expire(token, now_ms);
        if known {
            self.changed();
        }
        known
    }

    pub(crate) fn directory(&self) -> Arc<Directory> {
        self.directory
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    pub(crate) fn update_directory<R, E>(
        &self,
        mut change: impl FnMut(&mut Directory) -> Result<R, E>,
    ) -> Result<R, E> {
        let mut slot = self.directory.write().unwrap_or_else(|e| e.into_inner());
        let mut next = Directory::clone(&slot);
        let result = change(&mut next)?;
        *slot = Arc::new(next);
        drop(slot);
        self.changed();
        Ok(result)
    }

    /// See [`crate::store::Store::decide`]: decided and changed under the directory's write
    /// lock, so concurrent decisions take turns.
    pub(crate) fn decide<R, E>(
        &self,
        mut decide: impl FnMut(&Directory) -> Result<Decision<R>, E>,
    ) -> Result<R, E> {
        let mut slot = self.directory.write().unwrap_or_else(|e| e.into_inner());
        let Decision { result, change } = decide(&slot)?;
        if let Some(change) = change {
            let mut next = Directory::clone(&slot);
            change(&mut next);
            *slot = Arc::new(next);
            drop(slot);
            self.changed();
        }
        Ok(result)
    }

    /// Replaces the directory (a reset, a reload, a restore).
    pub(crate) fn set_directory(&self, directory: Directory) {
        *self.directory.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(directory);
        self.changed();
    }

    pub(crate) fn reset(&self, fixtures: &Fixtures) {
        self.reset_to(Directory::from_fixtures(fixtures));
    }

    /// Back to `directory`: no tokens, journal events or faults.
    pub(crate) fn reset_to(&self, directory: Directory) {
        self.set_directory(directory);
        self.tokens.clear();
        self.journal.clear();
        self.faults.clear();
    }
}
