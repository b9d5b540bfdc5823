//! A store's life: opened from `--store` (memory, restoring `--state`; or Redis, waiting for it
//! and seeding it), its housekeeping while the simulator runs (memory: the sweeper and the state
//! saver; Redis: the directory refresher), what it holds for the start-up lines, and its
//! shutdown (memory: the last save; Redis: the journal flushed). The process never needs to
//! know which backend runs.

use std::time::Duration;

use tokio::sync::broadcast;

use super::answers::{Housekeeping, StoreKind, StoreOptions, Summary, EVENTS};
use super::memory::{persist, MemoryStore};
use super::redis::RedisStore;
use super::{Backend, Store, StoreError};
use crate::domain::clock;
use crate::domain::fixtures::Fixtures;

impl Store {
    /// Opens the store `kind` names, holding `fixtures` when it is new. A Redis out of reach is
    /// waited for (saying so every ten seconds); a state file that cannot be read stops the
    /// start.
    pub async fn open(
        kind: &StoreKind,
        fixtures: &Fixtures,
        options: StoreOptions,
    ) -> anyhow::Result<Store> {
        let (events, _) = broadcast::channel(EVENTS);
        match kind {
            StoreKind::Memory => {
                let memory = MemoryStore::new(fixtures, &options);
                let mut notes = Vec::new();
                if let Some((path, _)) = &options.state {
                    notes.push(match persist::load(&memory, path)? {
                        Some(r) => format!(
                            "state restored from {}: {} live tokens, {} journal events",
                            path.display(),
                            r.tokens,
                            r.events
                        ),
                        None => format!("state will be kept in {}", path.display()),
                    });
                }
                Ok(Store::new(Backend::Memory(memory), events, options, notes))
            }
            StoreKind::Redis(url) => {
                if options.state.is_some() {
                    anyhow::bail!(
                        "--state saves this process's memory; with --store redis://… the state lives in Redis (give Redis persistence instead): leave --state out"
                    );
                }
                let redis = RedisStore::connect(url, fixtures, &options, events.clone()).await?;
                Ok(Store::new(
                    Backend::Redis(redis),
                    events,
                    options,
                    Vec::new(),
                ))
            }
        }
    }

    /// Starts the backend's background tasks: the memory store forgets old tokens every second
    /// and saves `--state` when something changed; a Redis replica reads the directory every
    /// second, so that what it checks without asking Redis (hosts served, certificates) follows
    /// changes made through the others.
    pub fn spawn_housekeeping(&self) -> Housekeeping {
        let mut tasks = Vec::new();
        let store = self.clone();
        tasks.push(tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(1));
            loop {
                tick.tick().await;
                match &store.0.backend {
                    Backend::Memory(m) => {
                        let now = clock::now_ms();
                        m.tokens.sweep(now);
                        store.forget_expired(now);
                    }
                    // A sandbox's view has nothing of its own to keep (the base's does it).
                    Backend::Redis(r) if store.0.scope.is_none() => {
                        r.housekeep().await;
                        store.forget_expired(clock::now_ms());
                    }
                    Backend::Redis(_) => {}
                }
            }
        }));
        if let (Backend::Memory(m), Some((_, every))) = (&self.0.backend, &self.0.options.state) {
            let (store, every) = (self.clone(), *every);
            let mut last = persist::signature(m);
            tasks.push(tokio::spawn(async move {
                let mut tick = tokio::time::interval(every);
                loop {
                    tick.tick().await;
                    let Backend::Memory(m) = &store.0.backend else {
                        return;
                    };
                    let now = persist::signature(m);
                    if now != last {
                        last = now;
                        store.save().await;
                    }
                }
            }));
        }
        Housekeeping(tasks)
    }

    /// At exit: the memory store saves `--state` a last time; a Redis replica writes the
    /// journal events still on their way (waiting two seconds at most).
    pub async fn shutdown(&self) {
        match &self.0.backend {
            Backend::Memory(_) => self.save().await,
            Backend::Redis(r) => {
                let flushed = tokio::time::timeout(Duration::from_secs(2), r.flush()).await;
                if !matches!(flushed, Ok(Ok(()))) {
                    tracing::warn!(
                        "journal: events still queued at exit could not be written to Redis"
                    );
                }
            }
        }
    }

    /// What the store holds now, read from the store itself (a Redis replica reports what
    /// Redis holds, not its own fixture files).
    pub async fn summary(&self) -> Summary {
        let dir = match self.directory().await {
            Ok(dir) => dir,
            Err(_) => self.last_directory(),
        };
        Summary {
            store: match &self.0.backend {
                Backend::Memory(_) => "memory".into(),
                Backend::Redis(r) => format!("Redis at {}", r.shown()),
            },
            companies: dir.companies().count(),
            members: dir.members().count(),
            vendors: dir.vendors().count(),
            live_tokens: self.live_tokens().await.ok(),
            notes: self.0.opened.clone(),
        }
    }

    /// A secret every replica must agree on (the cookie key, a generated control token): the
    /// first one proposed, kept in the store. The memory store keeps `proposed`.
    pub async fn secret(&self, name: &str, proposed: &str) -> Result<String, StoreError> {
        match &self.0.backend {
            Backend::Memory(_) => Ok(proposed.to_owned()),
            Backend::Redis(r) => r.secret(name, proposed).await,
        }
    }

    /// Saves `--state` off the async threads; a failure is logged (the next save tries again).
    async fn save(&self) {
        let Some((path, _)) = self.0.options.state.clone() else {
            return;
        };
        let shown = path.display().to_string();
        let store = self.clone();
        let save = move || match &store.0.backend {
            Backend::Memory(m) => persist::save(m, &path),
            Backend::Redis(_) => anyhow::bail!("only the memory store is saved to a file"),
        };
        match tokio::task::spawn_blocking(save).await {
            Ok(Ok(saved)) => tracing::debug!(
                tokens = saved.tokens,
                events = saved.events,
                bytes = saved.bytes,
                "state saved to {shown}"
            ),
            Ok(Err(e)) => tracing::error!("cannot save state to {shown}: {e:#}"),
            Err(e) => tracing::error!("cannot save state to {shown}: {e}"),
        }
    }
}
