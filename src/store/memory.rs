//! The store in this process's memory: the default, needing nothing installed. It also does the
//! housekeeping only memory needs: the sweeper forgets old tokens, and `persist.rs` saves and
//! restores it (`--state`). A change counter tells the saver whether anything changed.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use super::StoreError;
use crate::directory::Directory;
use crate::domain::OtpToken;
use crate::faults::Faults;
use crate::fixtures::Fixtures;
use crate::journal::Journal;
use crate::tokens::{Grant, MemoryTokenStore, TokenStore};

/// Tokens, directory, faults and journal of one process.
pub struct MemoryStore {
    pub tokens: MemoryTokenStore,
    /// The directory, replaced whole on change (copy on write): readers take the `Arc` and
    /// never hold the lock while they read. A std `RwLock`, held only to swap or clone a
    /// pointer, never across an await.
    directory: RwLock<Arc<Directory>>,
    pub faults: Faults,
    pub journal: Journal,
    /// Counts changes of tokens and directory, so that saving state can tell whether anything
    /// changed (the journal's next id counts the rest).
    changes: AtomicU64,
}

impl MemoryStore {
    pub fn new(tokens: MemoryTokenStore, fixtures: &Fixtures, journal: Journal) -> Self {
        MemoryStore {
            tokens,
            directory: RwLock::new(Arc::new(Directory::from_fixtures(fixtures))),
            faults: Faults::default(),
            journal,
            changes: AtomicU64::new(0),
        }
    }

    fn changed(&self) {
        self.changes.fetch_add(1, Ordering::Relaxed);
    }

    /// How many changes of tokens or directory there were.
    pub fn changes(&self) -> u64 {
        self.changes.load(Ordering::Relaxed)
    }

    pub fn issue(
        &self,
        grant: Grant,
        now_ms: u64,
        expires_ms: u64,
    ) -> Result<OtpToken, StoreError> {
        let token = self
            .tokens
            .issue(grant, now_ms, expires_ms)
            .map_err(|full| StoreError::Full(full.0))?;
        self.changed();
        Ok(token)
    }

    pub fn expire(&self, token: &OtpToken, now_ms: u64) -> bool {
        let known = self.tokens.expire(token, now_ms);
        if known {
            self.changed();
        }
        known
    }

    pub fn directory(&self) -> Arc<Directory> {
        self.directory
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    pub fn update_directory<R, E>(
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

    /// Replaces the directory (a reset, a reload, a restore).
    pub fn set_directory(&self, directory: Directory) {
        *self.directory.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(directory);
        self.changed();
    }

    pub fn reset(&self, fixtures: &Fixtures) {
        self.set_directory(Directory::from_fixtures(fixtures));
        self.tokens.clear();
        self.journal.clear();
        self.faults.clear();
    }
}
