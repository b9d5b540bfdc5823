//! What the store answers and is opened with: the values that cross the seam, so that the
//! seam (`mod.rs`), its backends and the code above them share them without importing each
//! other.

use std::path::PathBuf;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinHandle;

use crate::domain::directory::Directory;
use crate::domain::fault::FaultKind;
use crate::domain::grant::{Redeem, TokenView};

/// Events a slow watcher may fall behind by before it misses some.
pub(crate) const EVENTS: usize = 4096;

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
    /// The sandbox the token belongs to (`None`: the base, or a token unknown everywhere).
    pub sandbox: Option<crate::domain::sandbox::SandboxId>,
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

/// A change of the directory that a decision needs.
pub type Change = Box<dyn Fn(&mut Directory) + Send + Sync>;

/// What [`Store::decide`](super::Store::decide) decided: its result, and the change of the directory it needs.
pub struct Decision<R> {
    pub result: R,
    /// `None`: the directory stays as it is (nothing is written).
    pub change: Option<Change>,
}

impl<R> Decision<R> {
    /// A decision that changes nothing.
    pub fn keep(result: R) -> Self {
        Decision {
            result,
            change: None,
        }
    }

    /// A decision that changes the directory.
    pub fn change(result: R, change: impl Fn(&mut Directory) + Send + Sync + 'static) -> Self {
        Decision {
            result,
            change: Some(Box::new(change)),
        }
    }
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
    /// No such sandbox (never made, removed, or expired).
    #[error("no sandbox {0}: never made, removed, or expired")]
    NoSandbox(String),
    /// Making a sandbox refused: as many as allowed (`--max-sandboxes`).
    #[error("the simulator holds {0} sandboxes, its configured maximum (--max-sandboxes); remove one or wait until one expires")]
    TooManySandboxes(usize),
}

/// Where the shared state lives: `--store`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreKind {
    /// This process's memory (the default).
    Memory,
    /// A Redis server every replica shares (`redis://` or `rediss://`).
    Redis(String),
}

impl FromStr for StoreKind {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let s = s.trim();
        if s.is_empty() || s == "memory" {
            return Ok(StoreKind::Memory);
        }
        if !(s.starts_with("redis://") || s.starts_with("rediss://")) {
            return Err(format!(
                "{}: not `memory`, nor a redis:// or rediss:// URL",
                shown_url(s)
            ));
        }
        redis::Client::open(s).map_err(|e| format!("{}: not a Redis URL: {e}", shown_url(s)))?;
        Ok(StoreKind::Redis(s.to_owned()))
    }
}

impl std::fmt::Display for StoreKind {
    /// Never shows a password.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StoreKind::Memory => f.write_str("memory"),
            StoreKind::Redis(url) => write!(f, "Redis at {}", shown_url(url)),
        }
    }
}

/// The limits and files a store is opened with.
#[derive(Debug, Clone)]
pub struct StoreOptions {
    /// Most tokens live at once; issuing past it is refused.
    pub max_live_tokens: usize,
    /// How long an expired or used token is remembered after its expiry, in milliseconds.
    pub retention_ms: u64,
    /// Most journal events kept.
    pub journal_capacity: usize,
    /// Most bytes the journal holds (memory).
    pub journal_max_bytes: usize,
    /// `--state FILE` and how often it is saved (memory only).
    pub state: Option<(PathBuf, Duration)>,
    /// The replica recording (`--replica-id`), named in each journal event.
    pub replica: Arc<str>,
}

impl Default for StoreOptions {
    /// The command line's defaults.
    fn default() -> Self {
        StoreOptions {
            max_live_tokens: 1_000_000,
            retention_ms: 3_600_000,
            journal_capacity: 10_000,
            journal_max_bytes: 64 * 1024 * 1024,
            state: None,
            replica: "sim".into(),
        }
    }
}

/// What a store holds, for the start-up lines.
#[derive(Debug, Clone)]
pub struct Summary {
    /// `memory`, or `Redis at redis://host:port/0`.
    pub store: String,
    pub companies: usize,
    pub members: usize,
    pub vendors: usize,
    pub live_tokens: Option<usize>,
    /// What opening the store found worth saying.
    pub notes: Vec<String>,
}

/// The store's background tasks; dropping it stops them.
pub struct Housekeeping(pub(super) Vec<JoinHandle<()>>);

impl Drop for Housekeeping {
    fn drop(&mut self) {
        self.0.iter().for_each(JoinHandle::abort);
    }
}

/// `redis://user:secret@host` shown as `redis://user:***@host`.
pub fn shown_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("***"));
            u.to_string()
        }
        Ok(u) => u.to_string(),
        Err(_) => "(an unreadable URL)".into(),
    }
}
