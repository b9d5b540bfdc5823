//! The storage seam: everything a replica decides from goes through [`Store`], so that several
//! replicas can share one truth (a Redis backend) while a lone simulator keeps it in memory:
//! tokens (issue, redeem, peek, expire), the directory (companies, members, vendors, consents,
//! delivery memory), faults and the journal.
//!
//! Dispatch is an enum over the backends rather than a trait object, so the hot path (the cert
//! call) is static calls. Every method is async and may fail with [`StoreError::Unavailable`]
//! (a backend out of reach); the memory backend never does. A cert call visits the store once
//! ([`Store::cert_visit`]): in Redis one script decides the fault, the lookup and the use. Each
//! backend owns its life (`life.rs`): opening, housekeeping, shutdown, what it holds.
//!
//! Sandboxes (`sandboxes.rs`): a sandbox is a [`Store`] of its own, a view got from the base's
//! handle with [`Store::sandbox`], on which every method acts inside the sandbox only. The cert
//! call needs no view: the base's [`Store::cert_visit`] finds a token's sandbox from the token.

mod answers;
pub mod counts;
pub mod files;
mod life;
pub(crate) mod memory;
pub(crate) mod redis;
mod sandboxes;

use std::net::IpAddr;
use std::sync::Arc;

use tokio::sync::broadcast;

use answers::EVENTS;
pub use answers::{
    Decision, Housekeeping, Lookup, StoreError, StoreKind, StoreOptions, Summary, Visit,
};
use memory::MemoryStore;
use redis::RedisStore;

use crate::domain::directory::Directory;
use crate::domain::event::{Event, EventKind};
use crate::domain::fault::{Endpoint, Fault, FaultKind, FaultSpec};
use crate::domain::fixtures::Fixtures;
use crate::domain::grant::{Grant, TokenView};
use crate::domain::OtpToken;

/// The backends.
#[allow(clippy::large_enum_variant)] // one of it per process, behind an `Arc`
enum Backend {
    Memory(MemoryStore),
    Redis(RedisStore),
}

/// The shared state's one door: a cheap `Clone` handle.
#[derive(Clone)]
pub struct Store(Arc<Inner>);

struct Inner {
    backend: Backend,
    /// Every event recorded through this process, for watchers (the conformance kit).
    events: broadcast::Sender<Arc<Event>>,
    /// The limits and files it was opened with.
    options: StoreOptions,
    /// What opening the store found worth saying (a state file restored).
    opened: Vec<String>,
    /// The sandbox this handle acts in (`None`: the base).
    scope: Option<sandboxes::Scope>,
    /// The sandboxes (the base's handle only).
    sandboxes: Option<sandboxes::Registry>,
}

impl Store {
    fn new(
        backend: Backend,
        events: broadcast::Sender<Arc<Event>>,
        options: StoreOptions,
        opened: Vec<String>,
    ) -> Self {
        Store(Arc::new(Inner {
            backend,
            events,
            options,
            opened,
            scope: None,
            sandboxes: Some(sandboxes::Registry::default()),
        }))
    }

    /// A store in this process's memory, holding `fixtures` (no state file).
    pub fn memory(fixtures: &Fixtures, options: StoreOptions) -> Self {
        let memory = MemoryStore::new(fixtures, &options);
        Store::new(
            Backend::Memory(memory),
            broadcast::channel(EVENTS).0,
            options,
            Vec::new(),
        )
    }

    /// Whether replicas share this store (a watcher must then read the shared journal to see
    /// what other replicas recorded).
    pub fn is_shared(&self) -> bool {
        matches!(self.0.backend, Backend::Redis(_))
    }

    /// Every event recorded through this process from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<Event>> {
        self.0.events.subscribe()
    }

    /// A cert call's visit (see [`Visit`]): one atomic step in Redis. `caller` is `None` when
    /// the caller is unknown (the token is then only looked at). At the base, a token of a live
    /// sandbox is visited there ([`Visit::sandbox`] says so), and a token unknown everywhere
    /// meets the base's faults.
    pub async fn cert_visit(
        &self,
        token: Option<&OtpToken>,
        caller: Option<IpAddr>,
        now_ms: u64,
    ) -> Result<Visit, StoreError> {
        let visit = self.visit_where_it_belongs(token, caller, now_ms).await?;
        if visit.fault.is_some() {
            counts::fault_applied(Endpoint::Cert.name());
        }
        Ok(visit)
    }

    /// [`Store::cert_visit`] in the store the token belongs to: a live sandbox's, or this one.
    async fn visit_where_it_belongs(
        &self,
        token: Option<&OtpToken>,
        caller: Option<IpAddr>,
        now_ms: u64,
    ) -> Result<Visit, StoreError> {
        let candidate = match (&self.0.sandboxes, token) {
            // A base token's first bit says it names no sandbox: nothing to ask after.
            (Some(_), Some(t)) if crate::domain::sandbox::SandboxId::may_name(t) => {
                Some(crate::domain::sandbox::SandboxId::of_token(t))
            }
            _ => None,
        };
        match &self.0.backend {
            Backend::Memory(m) => {
                if let Some(view) = candidate.and_then(|id| self.live_view(id, now_ms)) {
                    if let Backend::Memory(v) = &view.0.backend {
                        let mut visit = v.cert_visit(token, caller, now_ms);
                        visit.sandbox = view.sandbox_id();
                        return Ok(visit);
                    }
                }
                Ok(m.cert_visit(token, caller, now_ms))
            }
            Backend::Redis(r) => {
                if let Some(visit) = self
                    .visit_known_view(candidate, token, caller, now_ms)
                    .await?
                {
                    return Ok(visit);
                }
                match r.cert_visit(token, caller, now_ms, candidate).await? {
                    Some(visit) => Ok(visit),
                    None => self.visit_new_view(candidate, token, caller, now_ms).await,
                }
            }
        }
    }

    /// The directory as this replica last saw it, without waiting on a backend (for checks
    /// made on every request, such as which hosts are served).
    pub fn last_directory(&self) -> Arc<Directory> {
        match &self.0.backend {
            Backend::Memory(m) => m.directory(),
            Backend::Redis(r) => r.last_directory(),
        }
    }

    /// How many events the journal keeps.
    pub fn journal_capacity(&self) -> usize {
        match &self.0.backend {
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
        let vendor = grant.vendor.clone();
        let token = match &self.0.backend {
            Backend::Memory(m) => m.issue(grant, now_ms, expires_ms),
            Backend::Redis(r) => r.issue(grant, now_ms, expires_ms).await,
        }?;
        counts::token_issued(&vendor);
        Ok(token)
    }

    /// Looks a token up without changing it.
    pub async fn peek(&self, token: &OtpToken) -> Result<Option<TokenView>, StoreError> {
        match &self.0.backend {
            Backend::Memory(m) => Ok(m.tokens.peek(token)),
            Backend::Redis(r) => r.peek(token).await,
        }
    }

    /// Ends a token's lifetime now; false when unknown.
    pub async fn expire(&self, token: &OtpToken, now_ms: u64) -> Result<bool, StoreError> {
        match &self.0.backend {
            Backend::Memory(m) => Ok(m.expire(token, now_ms)),
            Backend::Redis(r) => r.expire(token, now_ms).await,
        }
    }

    /// Tokens issued and not yet used nor expired.
    pub async fn live_tokens(&self) -> Result<usize, StoreError> {
        match &self.0.backend {
            Backend::Memory(m) => Ok(m.tokens.live()),
            Backend::Redis(r) => r.live_tokens().await,
        }
    }

    /// The directory as it is now: a snapshot, cheap to take, never locked while read.
    pub async fn directory(&self) -> Result<Arc<Directory>, StoreError> {
        match &self.0.backend {
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
        match &self.0.backend {
            Backend::Memory(m) => Ok(m.update_directory(change)),
            Backend::Redis(r) => r.update_directory(change).await,
        }
    }

    /// Decides on the directory as it is and, when the decision needs it, changes it, as one
    /// atomic step: no other change lands between what `decide` read and what it wrote (in
    /// Redis, a write that finds the directory changed meanwhile decides again on the new one).
    /// A decision that changes nothing writes nothing. `decide` may run more than once, so it
    /// must not consume what it captures.
    pub async fn decide<R, E>(
        &self,
        decide: impl FnMut(&Directory) -> Result<Decision<R>, E>,
    ) -> Result<Result<R, E>, StoreError> {
        match &self.0.backend {
            Backend::Memory(m) => Ok(m.decide(decide)),
            Backend::Redis(r) => r.decide(decide).await,
        }
    }

    /// Adds a fault (a [`FaultSpec`] is valid as read).
    pub async fn add_fault(&self, spec: FaultSpec) -> Result<Fault, StoreError> {
        match &self.0.backend {
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
        let fault = match &self.0.backend {
            Backend::Memory(m) => m.faults.take(endpoint, vendor),
            Backend::Redis(r) => r.take_fault(endpoint, vendor).await?,
        };
        if fault.is_some() {
            counts::fault_applied(endpoint.name());
        }
        Ok(fault)
    }

    pub async fn faults(&self) -> Result<Vec<Fault>, StoreError> {
        match &self.0.backend {
            Backend::Memory(m) => Ok(m.faults.list()),
            Backend::Redis(r) => r.faults().await,
        }
    }

    /// Removes one fault; false when unknown.
    pub async fn remove_fault(&self, id: u64) -> Result<bool, StoreError> {
        match &self.0.backend {
            Backend::Memory(m) => Ok(m.faults.remove(id)),
            Backend::Redis(r) => r.remove_fault(id).await,
        }
    }

    pub async fn clear_faults(&self) -> Result<(), StoreError> {
        match &self.0.backend {
            Backend::Memory(m) => {
                m.faults.clear();
                Ok(())
            }
            Backend::Redis(r) => r.clear_faults().await,
        }
    }

    /// Records an event, and counts the answer it tells of. A journal out of reach never fails
    /// the call it records: logged.
    pub fn record(&self, at_ms: u64, kind: EventKind) {
        match &kind {
            EventKind::Cert {
                result_code,
                vndr_no,
                ..
            } => counts::cert_answer(result_code, vndr_no.as_deref()),
            EventKind::Check {
                answer, vndr_no, ..
            } => counts::check_answer(answer, vndr_no.as_deref()),
            EventKind::Gate { .. } | EventKind::Login { .. } => {}
        }
        match &self.0.backend {
            Backend::Memory(m) => {
                let event = m.journal.record(at_ms, kind);
                if self.0.events.receiver_count() > 0 {
                    let _ = self.0.events.send(event);
                }
            }
            // The writer tells watchers once the event has its id in Redis.
            Backend::Redis(r) => r.record(at_ms, kind),
        }
    }

    /// The journal, oldest first.
    pub async fn journal(&self) -> Result<Vec<Arc<Event>>, StoreError> {
        match &self.0.backend {
            Backend::Memory(m) => Ok(m.journal.snapshot()),
            Backend::Redis(r) => r.journal().await,
        }
    }

    pub async fn clear_journal(&self) -> Result<(), StoreError> {
        match &self.0.backend {
            Backend::Memory(m) => {
                m.journal.clear();
                Ok(())
            }
            Backend::Redis(r) => r.clear_journal().await,
        }
    }

    /// Back to `fixtures`: no run-time changes, consents or deliveries beyond them, no tokens,
    /// an empty journal, no faults. Once, for every replica. A sandbox goes back to what it was
    /// made from instead.
    pub async fn reset(&self, fixtures: &Fixtures) -> Result<(), StoreError> {
        match &self.0.backend {
            Backend::Memory(m) => {
                match self.0.scope.as_ref().and_then(|s| s.origin.clone()) {
                    Some(origin) => m.reset_to(Directory::clone(&origin)),
                    None => m.reset(fixtures),
                }
                Ok(())
            }
            Backend::Redis(r) => r.reset(fixtures).await,
        }
    }

    /// Whether the store can be used now (health).
    pub async fn ready(&self) -> Result<(), StoreError> {
        match &self.0.backend {
            Backend::Memory(_) => Ok(()),
            Backend::Redis(r) => r.ready().await,
        }
    }
}
