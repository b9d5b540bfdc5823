//! The token store: one-time OTP tokens bound to (company, member, vendor), with a lifetime,
//! used up atomically.
//!
//! The store is sharded by the token's bytes so that redeeming tokens on several cores never
//! waits on one lock. Each shard is a `std::sync::Mutex`: nothing is awaited while it is held,
//! and every critical section is a hash-map operation.
//!
//! Records are kept after use (until the token's own expiry) and after expiry (for a retention
//! period) so that the cert endpoint can tell "expired" (401) from "unknown or used" (404), and
//! the control API can say what happened to a token. The sweeper forgets them after that, so
//! memory follows the tokens in flight, not the tokens ever issued.

use std::collections::HashMap;
use std::hash::RandomState;
use std::net::IpAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use crate::domain::OtpToken;

/// What a token was issued for. The strings are shared with the directory's records.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Grant {
    /// Company code.
    pub company: Arc<str>,
    /// Member key (`custId`).
    pub customer_id: Arc<str>,
    /// Vendor number.
    pub vendor: Arc<str>,
}

/// How a token was used up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Use {
    /// When, in milliseconds since the Unix epoch.
    pub at_ms: u64,
    /// The caller's address.
    pub by: IpAddr,
}

/// Everything the store knows about one token.
#[derive(Debug, Clone)]
pub struct TokenView {
    pub grant: Arc<Grant>,
    pub issued_ms: u64,
    pub expires_ms: u64,
    pub used: Option<Use>,
}

/// The outcome of redeeming a token, decided atomically.
#[derive(Debug, Clone)]
pub enum Redeem {
    /// The token was valid and is now used up.
    Redeemed(Arc<Grant>),
    /// The token's lifetime is over and it was never used: the cert endpoint's 401.
    Expired { view: TokenView },
    /// The token was used before: 404.
    AlreadyUsed { view: TokenView },
    /// No such token (never issued, or forgotten): 404.
    Unknown,
}

/// Issuing refused: the store holds as many live tokens as it may.
#[derive(Debug, thiserror::Error)]
#[error("the simulator holds {0} live tokens, its configured maximum; retry when some are used or expire")]
pub struct StoreFull(pub usize);

/// The interface the rest of the simulator uses; a shared backend for several replicas can
/// implement it too.
pub trait TokenStore: Send + Sync + 'static {
    /// Stores a new token for `grant`, valid until `expires_ms`.
    fn issue(&self, grant: Grant, now_ms: u64, expires_ms: u64) -> Result<OtpToken, StoreFull>;
    /// Uses the token up if it is valid; exactly one of any number of concurrent calls wins.
    fn redeem(&self, token: &OtpToken, now_ms: u64, by: IpAddr) -> Redeem;
    /// Looks a token up without changing it.
    fn peek(&self, token: &OtpToken) -> Option<TokenView>;
    /// Sets a token's expiry to `now_ms` (for tests of the 401 path). False when unknown.
    fn expire(&self, token: &OtpToken, now_ms: u64) -> bool;
    /// Forgets used tokens past their expiry and expired tokens past the retention.
    fn sweep(&self, now_ms: u64);
    /// Tokens issued and not yet used nor swept as expired.
    fn live(&self) -> usize;
    /// Records held, live or remembered.
    fn held(&self) -> usize;
    /// Forgets every token.
    fn clear(&self);
    /// The live tokens (unused, unexpired), for saving state.
    fn export(&self, now_ms: u64) -> Vec<(OtpToken, TokenView)>;
    /// Puts a saved token back. Ignores the live-token maximum: what was saved is restored.
    fn restore(&self, token: OtpToken, view: TokenView);
}

/// The map key: a token's bytes, compared in constant time. The maps hash keys with a
/// randomly keyed SipHash (`RandomState`), so neither the bucket a guess lands in nor the key
/// comparison tells a caller anything about the tokens held.
#[derive(Clone, Copy)]
struct TokenKey([u8; 32]);

// Equal keys have equal bytes, so hashing the bytes agrees with the constant-time equality.
impl std::hash::Hash for TokenKey {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        state.write(&self.0);
    }
}

impl PartialEq for TokenKey {
    fn eq(&self, other: &Self) -> bool {
        subtle::ConstantTimeEq::ct_eq(&self.0[..], &other.0[..]).into()
    }
}

impl Eq for TokenKey {}

type Shard = HashMap<TokenKey, Record, RandomState>;

/// The stored state of one token; kept small, a million of them must fit in little memory.
#[derive(Debug)]
struct Record {
    /// Shared by every token of the same company, member and vendor: one pointer a record.
    grant: Arc<Grant>,
    issued_ms: u64,
    expires_ms: u64,
    /// Boxed: most records in memory are unused, and `None` costs one word.
    used: Option<Box<Use>>,
    /// Whether this record still counts as live (unused and not yet swept as expired).
    counted: bool,
}

impl Record {
    fn view(&self) -> TokenView {
        TokenView {
            grant: self.grant.clone(),
            issued_ms: self.issued_ms,
            expires_ms: self.expires_ms,
            used: self.used.as_deref().cloned(),
        }
    }
}

const SHARDS: usize = 64;

/// The in-memory store.
pub struct MemoryTokenStore {
    shards: Box<[Mutex<Shard>]>,
    live: AtomicUsize,
    held: AtomicUsize,
    max_live: usize,
    retention_ms: u64,
    /// One shared `Grant` per (company, member, vendor), so that records hold a pointer, not
    /// three. Locked only when issuing; it grows with the pairs ever used, not the tokens.
    grants: Mutex<std::collections::HashSet<Arc<Grant>>>,
}

impl MemoryTokenStore {
    /// A store that holds at most `max_live` live tokens and remembers expired ones for
    /// `retention_ms` after their expiry.
    pub fn new(max_live: usize, retention_ms: u64) -> Self {
        MemoryTokenStore {
            shards: (0..SHARDS).map(|_| Mutex::new(Shard::default())).collect(),
            live: AtomicUsize::new(0),
            held: AtomicUsize::new(0),
            max_live,
            retention_ms,
            grants: Mutex::default(),
        }
    }

    fn shard(&self, token: &OtpToken) -> std::sync::MutexGuard<'_, Shard> {
        let i = token.bytes()[31] as usize % SHARDS;
        // A poisoned shard only means another request panicked mid-operation on plain data.
        self.shards[i].lock().unwrap_or_else(|e| e.into_inner())
    }

    fn intern(&self, grant: Grant) -> Arc<Grant> {
        let mut grants = self.grants.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(shared) = grants.get(&grant) {
            return shared.clone();
        }
        let shared = Arc::new(grant);
        grants.insert(shared.clone());
        shared
    }

    fn uncount(&self, record: &mut Record) {
        if record.counted {
            record.counted = false;
            self.live.fetch_sub(1, Ordering::Relaxed);
        }
    }
}

impl TokenStore for MemoryTokenStore {
    fn issue(&self, grant: Grant, now_ms: u64, expires_ms: u64) -> Result<OtpToken, StoreFull> {
        // Reserve a place first so that concurrent issuers cannot overshoot the maximum.
        if self.live.fetch_add(1, Ordering::Relaxed) >= self.max_live {
            self.live.fetch_sub(1, Ordering::Relaxed);
            return Err(StoreFull(self.max_live));
        }
        let record = Record {
            grant: self.intern(grant),
            issued_ms: now_ms,
            expires_ms,
            used: None,
            counted: true,
        };
        loop {
            let token = OtpToken::generate();
            let mut shard = self.shard(&token);
            // 256 random bits never collide in practice; the check makes it certain.
            if let std::collections::hash_map::Entry::Vacant(slot) =
                shard.entry(TokenKey(*token.bytes()))
            {
                slot.insert(record);
                self.held.fetch_add(1, Ordering::Relaxed);
                return Ok(token);
            }
        }
    }

    fn redeem(&self, token: &OtpToken, now_ms: u64, by: IpAddr) -> Redeem {
        let mut shard = self.shard(token);
        let Some(record) = shard.get_mut(&TokenKey(*token.bytes())) else {
            return Redeem::Unknown;
        };
        // A used token answers 404 always, expired or not: the mall's message says "already
        // used", and a partner's retry logic meets that whatever the time.
        if record.used.is_some() {
            return Redeem::AlreadyUsed {
                view: record.view(),
            };
        }
        if now_ms >= record.expires_ms {
            return Redeem::Expired {
                view: record.view(),
            };
        }
        record.used = Some(Box::new(Use { at_ms: now_ms, by }));
        let grant = record.grant.clone();
        self.uncount(record);
        Redeem::Redeemed(grant)
    }

    fn peek(&self, token: &OtpToken) -> Option<TokenView> {
        self.shard(token)
            .get(&TokenKey(*token.bytes()))
            .map(Record::view)
    }

    fn expire(&self, token: &OtpToken, now_ms: u64) -> bool {
        match self.shard(token).get_mut(&TokenKey(*token.bytes())) {
            Some(record) => {
                record.expires_ms = record.expires_ms.min(now_ms);
                true
            }
            None => false,
        }
    }

    fn sweep(&self, now_ms: u64) {
        for shard in self.shards.iter() {
            let mut shard = shard.lock().unwrap_or_else(|e| e.into_inner());
            let before = shard.len();
            shard.retain(|_, record| {
                if now_ms < record.expires_ms {
                    return true;
                }
                if record.counted {
                    record.counted = false;
                    self.live.fetch_sub(1, Ordering::Relaxed);
                }
                // A used token answers 404 whether remembered or not, so it goes at expiry;
                // an expired one is remembered to answer 401 for the retention period.
                record.used.is_none() && now_ms < record.expires_ms + self.retention_ms
            });
            let removed = before - shard.len();
            if removed > 0 {
                self.held.fetch_sub(removed, Ordering::Relaxed);
                if shard.capacity() > 64 && shard.len() < shard.capacity() / 4 {
                    shard.shrink_to_fit();
                }
            }
        }
    }

    fn live(&self) -> usize {
        self.live.load(Ordering::Relaxed)
    }

    fn held(&self) -> usize {
        self.held.load(Ordering::Relaxed)
    }

    fn export(&self, now_ms: u64) -> Vec<(OtpToken, TokenView)> {
        let mut out = Vec::new();
        for shard in self.shards.iter() {
            let shard = shard.lock().unwrap_or_else(|e| e.into_inner());
            out.extend(
                shard
                    .iter()
                    .filter(|(_, r)| r.used.is_none() && now_ms < r.expires_ms)
                    .map(|(k, r)| (OtpToken::from_bytes(k.0), r.view())),
            );
        }
        out
    }

    fn restore(&self, token: OtpToken, view: TokenView) {
        let counted = view.used.is_none();
        let record = Record {
            grant: self.intern((*view.grant).clone()),
            issued_ms: view.issued_ms,
            expires_ms: view.expires_ms,
            used: view.used.map(Box::new),
            counted,
        };
        let previous = self.shard(&token).insert(TokenKey(*token.bytes()), record);
        match previous {
            Some(old) => {
                if old.counted {
                    self.live.fetch_sub(1, Ordering::Relaxed);
                }
            }
            None => {
                self.held.fetch_add(1, Ordering::Relaxed);
            }
        }
        if counted {
            self.live.fetch_add(1, Ordering::Relaxed);
        }
    }

    fn clear(&self) {
        for shard in self.shards.iter() {
            let mut shard = shard.lock().unwrap_or_else(|e| e.into_inner());
            let n = shard.len();
            let live = shard.values().filter(|r| r.counted).count();
            *shard = Shard::default();
            self.held.fetch_sub(n, Ordering::Relaxed);
            self.live.fetch_sub(live, Ordering::Relaxed);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grant() -> Grant {
        Grant {
            company: "J01".into(),
            customer_id: "J01A00038745".into(),
            vendor: "VR000216".into(),
        }
    }

    const LOCAL: IpAddr = IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);

    #[test]
    fn a_token_is_redeemed_once_then_reported_used() {
        let store = MemoryTokenStore::new(10, 1000);
        let t = store.issue(grant(), 0, 100).unwrap();
        assert_eq!(store.live(), 1);
        assert!(matches!(store.redeem(&t, 10, LOCAL), Redeem::Redeemed(g) if *g == grant()));
        assert_eq!(store.live(), 0);
        assert!(matches!(
            store.redeem(&t, 11, LOCAL),
            Redeem::AlreadyUsed { view } if view.used.as_ref().unwrap().at_ms == 10
        ));
    }

    #[test]
    fn an_expired_token_is_expired_until_the_retention_ends_then_unknown() {
        let store = MemoryTokenStore::new(10, 50);
        let t = store.issue(grant(), 0, 100).unwrap();
        assert!(matches!(
            store.redeem(&t, 100, LOCAL),
            Redeem::Expired { .. }
        ));
        store.sweep(120);
        assert_eq!(store.live(), 0);
        assert!(matches!(
            store.redeem(&t, 120, LOCAL),
            Redeem::Expired { .. }
        ));
        store.sweep(150);
        assert!(matches!(store.redeem(&t, 150, LOCAL), Redeem::Unknown));
        assert_eq!(store.held(), 0);
    }

    #[test]
    fn issuing_past_the_maximum_is_refused_and_frees_up_after_use() {
        let store = MemoryTokenStore::new(2, 0);
        let a = store.issue(grant(), 0, 100).unwrap();
        store.issue(grant(), 0, 100).unwrap();
        assert!(store.issue(grant(), 0, 100).is_err());
        assert!(matches!(store.redeem(&a, 1, LOCAL), Redeem::Redeemed(_)));
        assert!(store.issue(grant(), 0, 100).is_ok());
    }

    #[test]
    fn expiring_on_demand_gives_expired_at_once() {
        let store = MemoryTokenStore::new(10, 1000);
        let t = store.issue(grant(), 0, 100_000).unwrap();
        assert!(store.expire(&t, 5));
        assert!(matches!(store.redeem(&t, 6, LOCAL), Redeem::Expired { .. }));
    }
}
