//! The Redis store: several replicas behind a load balancer share one truth, so that a token
//! issued through one is used exactly once through any, and consents, run-time changes, faults
//! and the journal are the same everywhere.
//!
//! Every decision that must hold across replicas is one Lua script, run atomically by Redis:
//! a cert call's visit (the fault for the call, the token looked up, and used up when its vendor
//! admits the caller), issuing under the live-token maximum, a directory change (compare and
//! set on a version), a fault taken, a reset. Keys, under the prefix `bsim:`:
//!
//! | key | what |
//! |---|---|
//! | `t:<token>` | hash: company, member, vendor, issued, expires, used at/by/call; Redis expires it |
//! | `live` | sorted set of the tokens by expiry, used or not (swept of the expired ones) |
//! | `unused` | hash of the unused, unexpired tokens: the live count (`HLEN`), the maximum |
//! | `dir`, `dir:ver` | the directory's image (JSON) and a version drawn at each write |
//! | `faults`, `fault:<id>`, `fault:next` | the faults in force, oldest first |
//! | `journal`, `journal:next` | the journal, one capped stream, and its event ids |
//! | `secret:<name>` | secrets the replicas share (the cookie key, a generated token) |
//! | `once:<call>` | a counting script's answer, kept a minute, for the same call sent again |
//! | `sandboxes` | sorted set of the sandboxes by the moment each expires (listing, the maximum) |
//! | `sb:<id>:…` | a sandbox: `meta` (name, lifetime, made, made from), `origin` (the directory it was made from), and the keys above (`dir`, `t:<token>`, `faults`, `journal`, …), each with the sandbox's expiry (see `sandboxes.rs`) |
//!
//! Each replica keeps the directory it read last and its version; every cert call's script
//! checks the version, so a change made through one replica is seen by the next call through
//! any. Journal events are written by one task per replica, batched; a read of the journal
//! waits for this replica's events first. Each worker thread has its own connection.

use std::sync::{Arc, RwLock};
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use tokio::sync::broadcast;

pub(crate) use super::answers::shown_url;
use super::answers::{Decision, StoreError, StoreOptions};
use crate::domain::directory::{Directory, Image};
use crate::domain::event::Event;
use crate::domain::fixtures::Fixtures;
use crate::domain::OtpToken;

mod conn;
mod faults;
mod housekeeping;
mod journal;
mod outage;
mod sandboxes;
mod scripts;
mod tokens;

use conn::{Conn, PREFIX};
use outage::Outage;
use scripts::Scripts;

/// Numbers the stores of this process (tests make several).
static NEXT_STORE: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

thread_local! {
    /// This thread's connection to each store, by the store's number.
    static CONNECTIONS: std::cell::RefCell<std::collections::HashMap<usize, ConnectionManager>> =
        Default::default();
}

/// The directory this replica read last.
struct Cached {
    version: String,
    directory: Arc<Directory>,
}

/// The store in Redis.
pub struct RedisStore {
    /// This store's number, for [`CONNECTIONS`].
    id: usize,
    client: redis::Client,
    config: ConnectionManagerConfig,
    /// Where, without a password (for messages).
    shown: String,
    scripts: Arc<Scripts>,
    sandbox_scripts: Arc<sandboxes::SandboxScripts>,
    options: StoreOptions,
    /// What an empty Redis is seeded with.
    seed: Arc<Fixtures>,
    cached: RwLock<Arc<Cached>>,
    /// The journal writer of this replica (shared by its sandboxes), and where this store's
    /// events go.
    journal: Arc<journal::Journal>,
    target: Arc<journal::Target>,
    /// The sandbox this store is (`None`: the base); its keys are under `prefix`.
    sandbox: Option<crate::domain::sandbox::SandboxId>,
    prefix: String,
    /// The secrets this replica uses, asserted again when Redis comes back empty.
    secrets: std::sync::Mutex<Vec<(String, String)>>,
    /// Redis as this replica last found it (outages, its clock, redemptions to take back).
    outage: Arc<Outage>,
}

/// A fresh directory version (never reused, even after Redis is emptied).
fn new_version() -> String {
    OtpToken::generate().to_string()[..16].to_owned()
}

impl RedisStore {
    /// Connects to `url`, waiting and retrying (and saying why) while Redis is out of reach,
    /// and seeds an empty Redis with `fixtures`.
    pub async fn connect(
        url: &str,
        fixtures: &Fixtures,
        options: &StoreOptions,
        events: broadcast::Sender<Arc<Event>>,
    ) -> anyhow::Result<Self> {
        let shown = shown_url(url);
        let client = redis::Client::open(url)
            .map_err(|e| anyhow::anyhow!("--store {shown}: not a Redis URL: {e}"))?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(Duration::from_secs(1)))
            .set_response_timeout(Some(outage::REPLY_TIMEOUT))
            .set_number_of_retries(1)
            .set_max_delay(Duration::from_millis(500));
        let mut waited = 0u32;
        let conn = loop {
            match ConnectionManager::new_with_config(client.clone(), config.clone()).await {
                Ok(conn) => break conn,
                Err(e) => {
                    if waited.is_multiple_of(10) {
                        tracing::warn!("waiting for Redis at {shown}: {e}; retrying every second");
                    }
                    waited += 1;
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
        };
        let scripts = Arc::new(Scripts::new());
        let outage = Arc::new(Outage::new(shown.clone()));
        let journal = Arc::new(journal::Journal::spawn(
            Conn(conn.clone(), outage.clone()),
            scripts.clone(),
            options.journal_capacity,
            shown.clone(),
            options.replica.clone(),
        ));
        let store = RedisStore {
            id: NEXT_STORE.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
            client,
            config,
            shown,
            scripts,
            sandbox_scripts: Arc::new(sandboxes::SandboxScripts::new()),
            options: options.clone(),
            seed: Arc::new(fixtures.clone()),
            cached: RwLock::new(Arc::new(Cached {
                version: String::new(),
                directory: Arc::new(Directory::from_fixtures(fixtures)),
            })),
            journal,
            target: Arc::new(journal::Target {
                prefix: PREFIX.to_owned(),
                events,
            }),
            sandbox: None,
            prefix: PREFIX.to_owned(),
            secrets: Default::default(),
            outage,
        };
        loop {
            match store.current().await {
                Ok(_) => {
                    store.housekeep().await;
                    break;
                }
                Err(e) => {
                    tracing::warn!("{e}; retrying in a second");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
        }
        Ok(store)
    }

    /// This store's key `name` (under the base's prefix, or its sandbox's).
    fn key(&self, name: &str) -> String {
        format!("{}{name}", self.prefix)
    }

    fn token_key(&self, token: &OtpToken) -> String {
        format!("{}t:{token}", self.prefix)
    }

    fn down(&self, e: redis::RedisError) -> StoreError {
        conn::down(&self.shown, e)
    }

    /// The deadline a script that changes something carries: in Redis's clock, the moment this
    /// replica stops waiting for the answer, less a margin (see `scripts.rs`).
    fn deadline(&self) -> u64 {
        self.outage
            .redis_now_ms(crate::domain::clock::now_ms())
            .saturating_add((outage::REPLY_TIMEOUT - outage::DEADLINE_MARGIN).as_millis() as u64)
    }

    /// A script run after its deadline: it changed nothing.
    fn late(&self) -> StoreError {
        StoreError::Unavailable(format!(
            "Redis at {} was too slow (more than {} ms): nothing was changed",
            self.shown,
            (outage::REPLY_TIMEOUT - outage::DEADLINE_MARGIN).as_millis()
        ))
    }

    /// This thread's connection: one per worker thread, made at its first call, so that a
    /// worker sends its calls and reads the answers itself, with no hand-over to another
    /// thread and back on every call (the calls of one worker are pipelined on it).
    async fn conn(&self) -> Result<Conn, StoreError> {
        if let Some(conn) = CONNECTIONS.with(|c| c.borrow().get(&self.id).cloned()) {
            return Ok(Conn(conn, self.outage.clone()));
        }
        let conn = ConnectionManager::new_with_config(self.client.clone(), self.config.clone())
            .await
            .map_err(|e| {
                self.outage.failed(&e);
                self.down(e)
            })?;
        CONNECTIONS.with(|c| c.borrow_mut().insert(self.id, conn.clone()));
        Ok(Conn(conn, self.outage.clone()))
    }

    fn cached(&self) -> Arc<Cached> {
        self.cached
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// The directory this replica read last, without asking Redis (for checks that must not
    /// wait, such as which hosts are served).
    pub fn last_directory(&self) -> Arc<Directory> {
        self.cached().directory.clone()
    }

    /// Seeds an empty Redis (first start, or Redis came back without its data). A sandbox is
    /// never seeded: without its directory it is gone.
    async fn seed_if_empty(&self) -> Result<(), StoreError> {
        if let Some(id) = self.sandbox {
            return Err(StoreError::NoSandbox(id.to_string()));
        }
        let image = serde_json::to_string(&Directory::from_fixtures(&self.seed).image())
            .map_err(|e| StoreError::Unavailable(e.to_string()))?;
        let seeded: i64 = self
            .scripts
            .seed
            .key(self.key("dir"))
            .key(self.key("dir:ver"))
            .arg(image)
            .arg(new_version())
            .invoke_async(&mut self.conn().await?)
            .await
            .map_err(|e| self.down(e))?;
        if seeded == 1 {
            self.outage.found_empty(crate::domain::clock::now_ms());
            tracing::info!("seeded the Redis store at {} from the fixtures", self.shown);
            let secrets = self
                .secrets
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .clone();
            for (name, value) in secrets {
                self.secret(&name, &value).await?;
            }
        }
        Ok(())
    }

    /// Reads the directory from Redis (seeding an empty one) and keeps it.
    async fn refresh(&self) -> Result<Arc<Cached>, StoreError> {
        for _ in 0..3 {
            let (version, image): (Option<String>, Option<Vec<u8>>) = redis::cmd("MGET")
                .arg(self.key("dir:ver"))
                .arg(self.key("dir"))
                .query_async(&mut self.conn().await?)
                .await
                .map_err(|e| self.down(e))?;
            let (Some(version), Some(image)) = (version, image) else {
                self.seed_if_empty().await?;
                continue;
            };
            let image: Image = serde_json::from_slice(&image).map_err(|e| {
                StoreError::Unavailable(format!(
                    "the directory in Redis at {} cannot be read: {e}",
                    self.shown
                ))
            })?;
            let fresh = Arc::new(Cached {
                version,
                directory: Arc::new(Directory::from_image(&image)),
            });
            *self.cached.write().unwrap_or_else(|e| e.into_inner()) = fresh.clone();
            self.outage.holds_data();
            return Ok(fresh);
        }
        Err(StoreError::Unavailable(format!(
            "the directory in Redis at {} keeps disappearing",
            self.shown
        )))
    }

    /// The directory as it is in Redis now.
    async fn current(&self) -> Result<Arc<Cached>, StoreError> {
        let version: Option<String> = redis::cmd("GET")
            .arg(self.key("dir:ver"))
            .query_async(&mut self.conn().await?)
            .await
            .map_err(|e| self.down(e))?;
        let cached = self.cached();
        if version.as_deref() == Some(cached.version.as_str()) {
            self.outage.holds_data();
            return Ok(cached);
        }
        self.refresh().await
    }

    pub async fn directory(&self) -> Result<Arc<Directory>, StoreError> {
        Ok(self.current().await?.directory.clone())
    }

    /// Decides on the directory and writes the change it needs, if nobody wrote in between;
    /// else decides again on the new one.
    pub async fn decide<R, E>(
        &self,
        mut decide: impl FnMut(&Directory) -> Result<Decision<R>, E>,
    ) -> Result<Result<R, E>, StoreError> {
        for _ in 0..64 {
            let cached = self.current().await?;
            let Decision { result, change } = match decide(&cached.directory) {
                Ok(d) => d,
                Err(e) => return Ok(Err(e)),
            };
            let Some(change) = change else {
                return Ok(Ok(result));
            };
            let mut next = Directory::clone(&cached.directory);
            change(&mut next);
            if self.write_directory(&cached, next).await? {
                return Ok(Ok(result));
            }
        }
        Err(StoreError::Unavailable(
            "the directory changed 64 times while this change was made; try again".into(),
        ))
    }

    /// Writes `next` in place of `cached` if the directory is still at `cached`'s version.
    async fn write_directory(&self, cached: &Cached, next: Directory) -> Result<bool, StoreError> {
        let version = new_version();
        let image = serde_json::to_string(&next.image())
            .map_err(|e| StoreError::Unavailable(e.to_string()))?;
        let written: i64 = self
            .scripts
            .set_directory
            .key(self.key("dir"))
            .key(self.key("dir:ver"))
            .arg(&cached.version)
            .arg(image)
            .arg(&version)
            .arg(self.deadline())
            .invoke_async(&mut self.conn().await?)
            .await
            .map_err(|e| self.down(e))?;
        if written == 2 {
            return Err(self.late());
        }
        if written == 1 {
            *self.cached.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(Cached {
                version,
                directory: Arc::new(next),
            });
        }
        Ok(written == 1)
    }

    /// Changes the directory: read, change, write if nobody wrote in between, else again.
    pub async fn update_directory<R, E>(
        &self,
        mut change: impl FnMut(&mut Directory) -> Result<R, E>,
    ) -> Result<Result<R, E>, StoreError> {
        for _ in 0..64 {
            let cached = self.current().await?;
            let mut next = Directory::clone(&cached.directory);
            let result = match change(&mut next) {
                Ok(r) => r,
                Err(e) => return Ok(Err(e)),
            };
            if self.write_directory(&cached, next).await? {
                return Ok(Ok(result));
            }
        }
        Err(StoreError::Unavailable(
            "the directory changed 64 times while this change was made; try again".into(),
        ))
    }

    /// Back to `fixtures`, for every replica, in one script (Redis answers nobody else
    /// meanwhile): every token, fault and journal event gone, the directory written anew with a
    /// new version, so that every replica reads it at its next call.
    pub async fn reset(&self, fixtures: &Fixtures) -> Result<(), StoreError> {
        if self.sandbox.is_some() {
            return self.reset_sandbox().await;
        }
        self.journal.flush().await?;
        let image = serde_json::to_string(&Directory::from_fixtures(fixtures).image())
            .map_err(|e| StoreError::Unavailable(e.to_string()))?;
        let generation: u64 = self
            .scripts
            .reset
            .arg(&self.prefix)
            .arg(image)
            .arg(new_version())
            .invoke_async(&mut self.conn().await?)
            .await
            .map_err(|e| self.down(e))?;
        self.refresh().await?;
        self.prune(generation).await
    }

    /// Forgets the tokens of generations before `generation`: found with `SCAN` (a few hundred
    /// keys a step, so Redis serves other calls in between), each removed only if still of an
    /// old generation. Until then they are unknown to every script anyway.
    async fn prune(&self, generation: u64) -> Result<(), StoreError> {
        let mut conn = self.conn().await?;
        let mut cursor: u64 = 0;
        loop {
            let (next, keys): (u64, Vec<String>) = redis::cmd("SCAN")
                .arg(cursor)
                .arg("MATCH")
                .arg(self.key("t:*"))
                .arg("COUNT")
                .arg(500)
                .query_async(&mut conn)
                .await
                .map_err(|e| self.down(e))?;
            if !keys.is_empty() {
                let mut prune = self.scripts.prune.prepare_invoke();
                for k in &keys {
                    prune.key(k);
                }
                let _: u64 = prune
                    .arg(generation)
                    .invoke_async(&mut conn)
                    .await
                    .map_err(|e| self.down(e))?;
            }
            if next == 0 {
                return Ok(());
            }
            cursor = next;
        }
    }

    pub async fn ready(&self) -> Result<(), StoreError> {
        self.current().await.map(|_| ())
    }

    /// The secret every replica uses under `name`: the first replica's `proposed` one.
    pub async fn secret(&self, name: &str, proposed: &str) -> Result<String, StoreError> {
        let shared: String = self
            .scripts
            .secret
            .key(self.key(&format!("secret:{name}")))
            .arg(proposed)
            .invoke_async(&mut self.conn().await?)
            .await
            .map_err(|e| self.down(e))?;
        let mut secrets = self.secrets.lock().unwrap_or_else(|e| e.into_inner());
        secrets.retain(|(n, _)| n != name);
        secrets.push((name.to_owned(), shared.clone()));
        Ok(shared)
    }

    /// Queues an event for the journal writer.
    pub fn record(&self, at_ms: u64, kind: crate::domain::event::EventKind) {
        self.journal.record(&self.target, at_ms, kind);
    }

    /// Waits until this replica's events so far are in Redis (at exit).
    pub async fn flush(&self) -> Result<(), StoreError> {
        self.journal.flush().await
    }

    /// The journal, oldest first (this replica's events written first).
    pub async fn journal(&self) -> Result<Vec<Arc<Event>>, StoreError> {
        self.journal.read(self.conn().await?, &self.prefix).await
    }

    pub async fn clear_journal(&self) -> Result<(), StoreError> {
        self.journal.clear(self.conn().await?, &self.prefix).await
    }

    /// The URL, password masked.
    pub fn shown(&self) -> &str {
        &self.shown
    }

    pub fn journal_capacity(&self) -> usize {
        self.options.journal_capacity
    }
}
