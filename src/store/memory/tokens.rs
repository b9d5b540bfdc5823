//! The memory store's tokens: one-time OTP tokens bound to (company, member, vendor), with a
//! lifetime, used up atomically.
//!
//! The tokens are sharded by their bytes so that redeeming tokens on several cores never waits
//! on one lock. Each shard is a `std::sync::Mutex`: nothing is awaited while it is held, and
//! every critical section is a hash-map operation.
//!
//! Records are kept after use and after expiry, until the token's expiry plus the retention, so
//! that the cert endpoint can tell "expired" (401) from "unknown or used" (404), and the control
//! API can say what happened to a token; the Redis store keeps them exactly as long. The
//! sweeper forgets them after that, so memory follows the tokens in flight, not the tokens ever
//! issued.
//!
//! A record is small because a million live tokens must fit in well under 128 MiB: 16 bytes
//! beside its 32-byte key (the grant as an index into the interned grants, the issue time, the
//! lifetime, two flags); how a used token was used lives in a side map of used tokens only.

use std::collections::HashMap;
use std::hash::RandomState;
use std::net::IpAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use crate::domain::grant::{Grant, Redeem, TokenView, Use};
use crate::domain::token::OtpToken;
use crate::store::answers::StoreError;

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

/// The record's flags.
const USED: u8 = 1;
/// Still counted among the live tokens (unused, and not yet found expired).
const COUNTED: u8 = 2;

/// The stored state of one token: 16 bytes.
#[derive(Debug, Clone, Copy)]
#[repr(C, packed(4))]
struct Record {
    issued_ms: u64,
    /// Milliseconds from issue to expiry (a lifetime is at most a day).
    life_ms: u32,
    /// Index into the interned grants (24 bits) and the flags (8 bits).
    grant_and_flags: u32,
}

impl Record {
    fn new(grant: u32, issued_ms: u64, expires_ms: u64, flags: u8) -> Self {
        let life = expires_ms.saturating_sub(issued_ms).min(u32::MAX as u64) as u32;
        Record {
            issued_ms,
            life_ms: life,
            grant_and_flags: (grant << 8) | flags as u32,
        }
    }

    fn expires_ms(&self) -> u64 {
        let (issued, life) = (self.issued_ms, self.life_ms);
        issued + life as u64
    }

    fn grant(&self) -> usize {
        (self.grant_and_flags >> 8) as usize
    }

    fn has(&self, flag: u8) -> bool {
        self.grant_and_flags & flag as u32 != 0
    }

    fn set(&mut self, flag: u8, on: bool) {
        if on {
            self.grant_and_flags |= flag as u32;
        } else {
            self.grant_and_flags &= !(flag as u32);
        }
    }
}

/// One shard: the records, and how each used token was used.
#[derive(Default)]
struct Shard {
    records: HashMap<TokenKey, Record, RandomState>,
    uses: HashMap<TokenKey, Use, RandomState>,
}

const SHARDS: usize = 64;

/// The most distinct (company, member, vendor) grants (the index has 24 bits).
const MAX_GRANTS: usize = 1 << 24;

/// The tokens of one process.
pub(crate) struct MemoryTokenStore {
    shards: Box<[Mutex<Shard>]>,
    live: AtomicUsize,
    max_live: usize,
    retention_ms: u64,
    /// One shared `Grant` per (company, member, vendor), found by value or by index. A std
    /// `RwLock`, written only when a new pair is first issued, never held across an await.
    grants: RwLock<Grants>,
    /// The sandbox whose tokens these are: each token begins with its id.
    pub(crate) stamp: Option<crate::domain::sandbox::SandboxId>,
}

#[derive(Default)]
struct Grants {
    list: Vec<Arc<Grant>>,
    index: HashMap<Arc<Grant>, u32>,
}

impl MemoryTokenStore {
    /// A store that holds at most `max_live` live tokens and remembers used and expired ones for
    /// `retention_ms` after their expiry.
    pub(crate) fn new(max_live: usize, retention_ms: u64) -> Self {
        MemoryTokenStore {
            shards: (0..SHARDS).map(|_| Mutex::new(Shard::default())).collect(),
            live: AtomicUsize::new(0),
            max_live,
            retention_ms,
            grants: RwLock::default(),
            stamp: None,
        }
    }

    fn shard(&self, token: &OtpToken) -> std::sync::MutexGuard<'_, Shard> {
        let i = token.bytes()[31] as usize % SHARDS;
        // A poisoned shard only means another request panicked mid-operation on plain data.
        self.shards[i].lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The grant's index, interned at its first use.
    fn intern(&self, grant: Grant) -> Result<u32, StoreError> {
        if let Some(i) = self.read_grants().index.get(&grant) {
            return Ok(*i);
        }
        let mut grants = self.grants.write().unwrap_or_else(|e| e.into_inner());
        if let Some(i) = grants.index.get(&grant) {
            return Ok(*i);
        }
        if grants.list.len() >= MAX_GRANTS {
            return Err(StoreError::Unavailable(format!(
                "more than {MAX_GRANTS} distinct (company, member, vendor) pairs were issued tokens; restart or reset"
            )));
        }
        let i = grants.list.len() as u32;
        let shared = Arc::new(grant);
        grants.list.push(shared.clone());
        grants.index.insert(shared, i);
        Ok(i)
    }

    fn read_grants(&self) -> std::sync::RwLockReadGuard<'_, Grants> {
        self.grants.read().unwrap_or_else(|e| e.into_inner())
    }

    fn view(&self, record: &Record, used: Option<&Use>) -> TokenView {
        TokenView {
            grant: self.read_grants().list[record.grant()].clone(),
            issued_ms: record.issued_ms,
            expires_ms: record.expires_ms(),
            used: used.cloned(),
        }
    }

    fn uncount(&self, record: &mut Record) {
        if record.has(COUNTED) {
            record.set(COUNTED, false);
            self.live.fetch_sub(1, Ordering::Relaxed);
        }
    }

    pub(crate) fn issue(
        &self,
        grant: Grant,
        now_ms: u64,
        expires_ms: u64,
    ) -> Result<OtpToken, StoreError> {
        let grant = self.intern(grant)?;
        // Reserve a place first so that concurrent issuers cannot overshoot the maximum.
        if self.live.fetch_add(1, Ordering::Relaxed) >= self.max_live {
            self.live.fetch_sub(1, Ordering::Relaxed);
            return Err(StoreError::Full(self.max_live));
        }
        let record = Record::new(grant, now_ms, expires_ms, COUNTED);
        loop {
            let token = match &self.stamp {
                Some(id) => id.stamp(OtpToken::generate()),
                None => crate::domain::sandbox::base_token(),
            };
            let mut shard = self.shard(&token);
            // 256 random bits never collide in practice; the check makes it certain.
            if let std::collections::hash_map::Entry::Vacant(slot) =
                shard.records.entry(TokenKey(*token.bytes()))
            {
                slot.insert(record);
                return Ok(token);
            }
        }
    }

    pub(crate) fn redeem(&self, token: &OtpToken, now_ms: u64, by: IpAddr) -> Redeem {
        let key = TokenKey(*token.bytes());
        let mut guard = self.shard(token);
        let shard = &mut *guard;
        let Some(record) = shard.records.get_mut(&key) else {
            return Redeem::Unknown;
        };
        // A used token answers 404 always, expired or not: the mall's message says "already
        // used", and a partner's retry logic meets that whatever the time.
        if record.has(USED) {
            let view = self.view(record, shard.uses.get(&key));
            return Redeem::AlreadyUsed { view };
        }
        if now_ms >= record.expires_ms() {
            let view = self.view(record, None);
            return Redeem::Expired { view };
        }
        record.set(USED, true);
        self.uncount(record);
        let grant = self.read_grants().list[record.grant()].clone();
        shard.uses.insert(key, Use { at_ms: now_ms, by });
        Redeem::Redeemed(grant)
    }

    pub(crate) fn peek(&self, token: &OtpToken) -> Option<TokenView> {
        let key = TokenKey(*token.bytes());
        let shard = self.shard(token);
        let record = shard.records.get(&key)?;
        Some(self.view(record, shard.uses.get(&key)))
    }

    /// Ends the token's lifetime now (or keeps an earlier end): it answers 401 from now on and
    /// stops counting as live at once. False when unknown.
    pub(crate) fn expire(&self, token: &OtpToken, now_ms: u64) -> bool {
        let mut shard = self.shard(token);
        let Some(record) = shard.records.get_mut(&TokenKey(*token.bytes())) else {
            return false;
        };
        let expires = record.expires_ms().min(now_ms);
        let issued = record.issued_ms.min(expires);
        let flags = (record.grant_and_flags & 0xff) as u8;
        *record = Record::new(record.grant() as u32, issued, expires, flags);
        self.uncount(record);
        true
    }

    /// Stops counting tokens whose lifetime is over, and forgets every token (used or not) whose
    /// expiry plus the retention has passed.
    pub(crate) fn sweep(&self, now_ms: u64) {
        for shard in self.shards.iter() {
            let mut guard = shard.lock().unwrap_or_else(|e| e.into_inner());
            let Shard { records, uses } = &mut *guard;
            records.retain(|key, record| {
                let expires = record.expires_ms();
                if now_ms < expires {
                    return true;
                }
                self.uncount(record);
                let keep = now_ms < expires.saturating_add(self.retention_ms);
                if !keep && record.has(USED) {
                    uses.remove(key);
                }
                keep
            });
            if records.capacity() > 64 && records.len() < records.capacity() / 4 {
                records.shrink_to_fit();
                uses.shrink_to_fit();
            }
        }
    }

    /// How long used and expired tokens are remembered after their expiry.
    pub(crate) fn retention_ms(&self) -> u64 {
        self.retention_ms
    }

    pub(crate) fn live(&self) -> usize {
        self.live.load(Ordering::Relaxed)
    }

    /// Every token held (live, used or expired within the retention), for saving state.
    pub(crate) fn export(&self) -> Vec<(OtpToken, TokenView)> {
        let mut out = Vec::new();
        for shard in self.shards.iter() {
            let shard = shard.lock().unwrap_or_else(|e| e.into_inner());
            out.extend(shard.records.iter().map(|(k, r)| {
                let view = self.view(r, shard.uses.get(k));
                (OtpToken::from_bytes(k.0), view)
            }));
        }
        out
    }

    /// Puts a saved token back. Ignores the live-token maximum: what was saved is restored.
    pub(crate) fn restore(&self, token: OtpToken, view: TokenView, now_ms: u64) {
        let Ok(grant) = self.intern((*view.grant).clone()) else {
            return;
        };
        let counted = view.used.is_none() && now_ms < view.expires_ms;
        let mut flags = if counted { COUNTED } else { 0 };
        if view.used.is_some() {
            flags |= USED;
        }
        let record = Record::new(grant, view.issued_ms, view.expires_ms, flags);
        let key = TokenKey(*token.bytes());
        let mut shard = self.shard(&token);
        if let Some(mut old) = shard.records.insert(key, record) {
            self.uncount(&mut old);
        }
        match view.used {
            Some(used) => shard.uses.insert(key, used),
            None => shard.uses.remove(&key),
        };
        if counted {
            self.live.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Forgets every token.
    pub(crate) fn clear(&self) {
        for shard in self.shards.iter() {
            let mut shard = shard.lock().unwrap_or_else(|e| e.into_inner());
            let live = shard.records.values().filter(|r| r.has(COUNTED)).count();
            *shard = Shard::default();
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
    fn a_record_takes_sixteen_bytes() {
        assert_eq!(std::mem::size_of::<Record>(), 16);
    }

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
        assert!(store.peek(&t).is_none());
    }

    #[test]
    fn a_used_token_is_remembered_until_its_expiry_plus_the_retention() {
        let store = MemoryTokenStore::new(10, 50);
        let t = store.issue(grant(), 0, 100).unwrap();
        assert!(matches!(store.redeem(&t, 10, LOCAL), Redeem::Redeemed(_)));
        store.sweep(120);
        assert!(matches!(
            store.redeem(&t, 120, LOCAL),
            Redeem::AlreadyUsed { .. }
        ));
        store.sweep(150);
        assert!(store.peek(&t).is_none());
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
    fn expiring_on_demand_gives_expired_at_once_and_stops_counting_it() {
        let store = MemoryTokenStore::new(10, 1000);
        let t = store.issue(grant(), 0, 100_000).unwrap();
        assert!(store.expire(&t, 5));
        assert_eq!(store.live(), 0);
        assert!(
            matches!(store.redeem(&t, 6, LOCAL), Redeem::Expired { view } if view.expires_ms == 5)
        );
        // An earlier end is kept.
        assert!(store.expire(&t, 50));
        assert_eq!(store.peek(&t).unwrap().expires_ms, 5);
        assert_eq!(store.live(), 0);
    }
}
