//! Sandboxes at the seam: made, used, listed and removed through the base's [`Store`] handle;
//! each is a `Store` of its own (a view), on which every method acts inside it only.
//!
//! In memory a sandbox is a [`MemoryStore`] of its own in the base's map, with the directory it
//! was made from (its reset goes back to it) and the moment it expires, pushed back at each use;
//! an expired one is gone at once for every caller and forgotten by the sweeper. In Redis it is
//! the same keys under its own prefix with one expiry (see `redis/sandboxes.rs`); the map then
//! holds this replica's views of the sandboxes it served.
//!
//! A sandbox's tokens begin with its id ([`SandboxId::stamp`]), so the cert call finds the
//! sandbox from the token alone, in its one store visit: in memory one more map lookup, in
//! Redis the cert script itself sends a token of a sandbox this replica has no view of yet to
//! that sandbox (one more round trip, once per sandbox and replica).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::broadcast;

use super::answers::EVENTS;
use super::memory::MemoryStore;
use super::{Backend, Inner, Store, StoreError, Visit};
use crate::domain::directory::Directory;
use crate::domain::sandbox::{NewSandbox, SandboxId, SandboxInfo};
use crate::domain::OtpToken;

/// The default of `--max-sandboxes`.
pub const DEFAULT_MAX_SANDBOXES: usize = 1000;

/// How long a Redis replica keeps a view of a sandbox it no longer serves (the next call of it
/// makes the view again, one more round trip).
const VIEW_KEPT_MS: u64 = 60_000;

/// What a sandbox's handle knows of it.
pub(super) struct Scope {
    /// What is known of it (memory: its expiry kept current here).
    info: Mutex<SandboxInfo>,
    /// The directory it was made from (memory; Redis keeps it in Redis).
    pub(super) origin: Option<Arc<Directory>>,
    /// When this replica last served it (Redis: when to forget the view).
    used_ms: AtomicU64,
}

/// The base's sandboxes: memory, the sandboxes themselves; Redis, this replica's views.
pub(super) struct Registry {
    max: AtomicUsize,
    views: Mutex<HashMap<SandboxId, Store>>,
}

impl Default for Registry {
    fn default() -> Self {
        Registry {
            max: AtomicUsize::new(DEFAULT_MAX_SANDBOXES),
            views: Mutex::default(),
        }
    }
}

impl Registry {
    fn views(&self) -> std::sync::MutexGuard<'_, HashMap<SandboxId, Store>> {
        self.views.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A memory sandbox's info, its expiry pushed back to `now_ms` plus its lifetime.
fn touched(scope: &Scope, now_ms: u64) -> SandboxInfo {
    let mut info = scope.info.lock().unwrap_or_else(|e| e.into_inner());
    info.expires_ms = now_ms.saturating_add(info.ttl_s * 1000);
    info.clone()
}

impl Store {
    /// The sandbox this handle acts in (`None`: the base).
    pub fn sandbox_id(&self) -> Option<SandboxId> {
        self.0
            .scope
            .as_ref()
            .map(|s| s.info.lock().unwrap_or_else(|e| e.into_inner()).id)
    }

    fn registry(&self) -> Result<&Registry, StoreError> {
        self.0.sandboxes.as_ref().ok_or_else(|| {
            StoreError::Unavailable("sandboxes are made through the base, not a sandbox".into())
        })
    }

    /// At most `max` sandboxes at once (`--max-sandboxes`).
    pub fn limit_sandboxes(&self, max: usize) {
        if let Ok(registry) = self.registry() {
            registry.max.store(max, Ordering::Relaxed);
        }
    }

    /// A handle acting in a sandbox of this backend.
    fn view_store(
        &self,
        backend: Backend,
        events: broadcast::Sender<Arc<crate::domain::event::Event>>,
        scope: Scope,
    ) -> Store {
        Store(Arc::new(Inner {
            backend,
            events,
            options: self.0.options.clone(),
            opened: Vec::new(),
            scope: Some(scope),
            sandboxes: None,
        }))
    }

    /// Makes a sandbox: a copy of the base's directory as it is now (or of sandbox
    /// `ask.from`'s), with no tokens, faults or journal events. Refused past the maximum.
    pub async fn make_sandbox(
        &self,
        ask: &NewSandbox,
        now_ms: u64,
    ) -> Result<(Store, SandboxInfo), StoreError> {
        let registry = self.registry()?;
        let max = registry.max.load(Ordering::Relaxed);
        let directory = match ask.from {
            Some(from) => self.sandbox(from, now_ms).await?.0.directory().await?,
            None => self.directory().await?,
        };
        let id = SandboxId::generate();
        let (events, _) = broadcast::channel(EVENTS);
        match &self.0.backend {
            Backend::Memory(_) => {
                self.forget_expired(now_ms);
                let info = SandboxInfo {
                    id,
                    name: ask.name.clone(),
                    ttl_s: ask.ttl_s(),
                    created_ms: now_ms,
                    expires_ms: now_ms.saturating_add(ask.ttl_s() * 1000),
                    from: ask.from,
                };
                let memory =
                    MemoryStore::holding(Directory::clone(&directory), &self.0.options, Some(id));
                let scope = Scope {
                    info: Mutex::new(info.clone()),
                    origin: Some(directory),
                    used_ms: AtomicU64::new(now_ms),
                };
                let view = self.view_store(Backend::Memory(memory), events, scope);
                let mut views = registry.views();
                if views.len() >= max {
                    return Err(StoreError::TooManySandboxes(views.len()));
                }
                views.insert(id, view.clone());
                Ok((view, info))
            }
            Backend::Redis(r) => {
                let info = r.make_sandbox(id, ask, &directory, now_ms, max).await?;
                let view = self.redis_view(id, Some(info.clone()));
                Ok((view, info))
            }
        }
    }

    /// This replica's view of Redis sandbox `id`, made and kept if new.
    fn redis_view(&self, id: SandboxId, info: Option<SandboxInfo>) -> Store {
        let Some(registry) = self.0.sandboxes.as_ref() else {
            return self.clone();
        };
        let mut views = registry.views();
        if let Some(view) = views.get(&id) {
            if let Some(scope) = &view.0.scope {
                scope
                    .used_ms
                    .store(crate::domain::clock::now_ms(), Ordering::Relaxed);
                if let Some(info) = info {
                    *scope.info.lock().unwrap_or_else(|e| e.into_inner()) = info;
                }
            }
            return view.clone();
        }
        let Backend::Redis(r) = &self.0.backend else {
            return self.clone();
        };
        let (events, _) = broadcast::channel(EVENTS);
        let scope = Scope {
            info: Mutex::new(info.unwrap_or(SandboxInfo {
                id,
                name: None,
                ttl_s: 0,
                created_ms: 0,
                expires_ms: 0,
                from: None,
            })),
            origin: None,
            used_ms: AtomicU64::new(crate::domain::clock::now_ms()),
        };
        let view = self.view_store(Backend::Redis(r.view(id, events.clone())), events, scope);
        views.insert(id, view.clone());
        view
    }

    /// Sandbox `id`, used now (its expiry pushed back): its handle and what is known of it.
    /// [`StoreError::NoSandbox`] when it was never made, was removed or has expired.
    pub async fn sandbox(
        &self,
        id: SandboxId,
        now_ms: u64,
    ) -> Result<(Store, SandboxInfo), StoreError> {
        let registry = self.registry()?;
        match &self.0.backend {
            Backend::Memory(_) => {
                let view = self
                    .live_view(id, now_ms)
                    .ok_or_else(|| StoreError::NoSandbox(id.to_string()))?;
                let info = match &view.0.scope {
                    Some(scope) => touched(scope, now_ms),
                    None => return Err(StoreError::NoSandbox(id.to_string())),
                };
                Ok((view, info))
            }
            Backend::Redis(r) => match r.use_sandbox(id, now_ms).await? {
                Some(info) => Ok((self.redis_view(id, Some(info.clone())), info)),
                None => {
                    registry.views().remove(&id);
                    Err(StoreError::NoSandbox(id.to_string()))
                }
            },
        }
    }

    /// Sandbox `id`'s handle without using it (its expiry stays): for an operator's look.
    /// `None` when this handle knows of no such sandbox.
    pub fn sandbox_unused(&self, id: SandboxId) -> Option<Store> {
        match &self.0.backend {
            Backend::Memory(_) => self.0.sandboxes.as_ref()?.views().get(&id).cloned(),
            Backend::Redis(_) => Some(self.redis_view(id, None)),
        }
    }

    /// A memory sandbox not expired, used now; `None` when there is none.
    pub(super) fn live_view(&self, id: SandboxId, now_ms: u64) -> Option<Store> {
        let registry = self.0.sandboxes.as_ref()?;
        let mut views = registry.views();
        let view = views.get(&id)?.clone();
        let scope = view.0.scope.as_ref()?;
        let expired = scope
            .info
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .expires_ms
            <= now_ms;
        if expired {
            views.remove(&id);
            return None;
        }
        touched(scope, now_ms);
        Some(view)
    }

    /// Every sandbox not expired.
    pub async fn sandboxes(&self, now_ms: u64) -> Result<Vec<SandboxInfo>, StoreError> {
        let registry = self.registry()?;
        match &self.0.backend {
            Backend::Memory(_) => {
                self.forget_expired(now_ms);
                let mut all: Vec<SandboxInfo> = registry
                    .views()
                    .values()
                    .filter_map(|v| v.0.scope.as_ref())
                    .map(|s| s.info.lock().unwrap_or_else(|e| e.into_inner()).clone())
                    .collect();
                all.sort_by_key(|i| (i.created_ms, i.id));
                Ok(all)
            }
            Backend::Redis(r) => r.list_sandboxes(now_ms).await,
        }
    }

    /// Removes sandbox `id` with everything in it: its tokens are unknown from now on. False
    /// when there was none.
    pub async fn remove_sandbox(&self, id: SandboxId, now_ms: u64) -> Result<bool, StoreError> {
        let registry = self.registry()?;
        let view = registry.views().remove(&id);
        match &self.0.backend {
            Backend::Memory(_) => Ok(view.is_some_and(|v| {
                v.0.scope.as_ref().is_some_and(|s| {
                    s.info.lock().unwrap_or_else(|e| e.into_inner()).expires_ms > now_ms
                })
            })),
            Backend::Redis(r) => r.drop_sandbox(id).await,
        }
    }

    /// Forgets the memory sandboxes that expired, and each live one's old tokens (the sweeper);
    /// in Redis, the views of sandboxes this replica has not served for a while.
    pub(super) fn forget_expired(&self, now_ms: u64) {
        let Some(registry) = self.0.sandboxes.as_ref() else {
            return;
        };
        let mut views = registry.views();
        if let Backend::Redis(_) = &self.0.backend {
            views.retain(|_, v| {
                v.0.scope.as_ref().is_some_and(|s| {
                    s.used_ms
                        .load(Ordering::Relaxed)
                        .saturating_add(VIEW_KEPT_MS)
                        > now_ms
                })
            });
            return;
        }
        views.retain(|_, v| {
            v.0.scope.as_ref().is_some_and(|s| {
                s.info.lock().unwrap_or_else(|e| e.into_inner()).expires_ms > now_ms
            })
        });
        for view in views.values() {
            if let Backend::Memory(m) = &view.0.backend {
                m.tokens.sweep(now_ms);
            }
        }
    }

    /// Redis: a token of a sandbox this replica has a view of, visited there. `None`: no such
    /// view, or the sandbox is gone (the token is then the base's to answer).
    pub(super) async fn visit_known_view(
        &self,
        candidate: Option<SandboxId>,
        token: Option<&OtpToken>,
        caller: Option<IpAddr>,
        now_ms: u64,
    ) -> Result<Option<Visit>, StoreError> {
        let (Some(id), Some(registry)) = (candidate, self.0.sandboxes.as_ref()) else {
            return Ok(None);
        };
        let Some(view) = registry.views().get(&id).cloned() else {
            return Ok(None);
        };
        if let Some(scope) = &view.0.scope {
            scope.used_ms.store(now_ms, Ordering::Relaxed);
        }
        let Backend::Redis(r) = &view.0.backend else {
            return Ok(None);
        };
        match r.cert_visit(token, caller, now_ms, None).await {
            Ok(Some(mut visit)) => {
                visit.sandbox = Some(id);
                Ok(Some(visit))
            }
            Ok(None) | Err(StoreError::NoSandbox(_)) => {
                registry.views().remove(&id);
                Ok(None)
            }
            Err(e) => Err(e),
        }
    }

    /// Redis: the cert script found the token's sandbox, which this replica had no view of:
    /// visited there through a new view (or at the base if it went meanwhile).
    pub(super) async fn visit_new_view(
        &self,
        candidate: Option<SandboxId>,
        token: Option<&OtpToken>,
        caller: Option<IpAddr>,
        now_ms: u64,
    ) -> Result<Visit, StoreError> {
        let Some(id) = candidate else {
            return Err(StoreError::Unavailable(
                "a sandbox named without a token".into(),
            ));
        };
        self.redis_view(id, None);
        if let Some(visit) = self
            .visit_known_view(candidate, token, caller, now_ms)
            .await?
        {
            return Ok(visit);
        }
        let Backend::Redis(r) = &self.0.backend else {
            return Err(StoreError::NoSandbox(id.to_string()));
        };
        r.cert_visit(token, caller, now_ms, None)
            .await?
            .ok_or_else(|| StoreError::NoSandbox(id.to_string()))
    }
}
