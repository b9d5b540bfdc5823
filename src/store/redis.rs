//! The Redis store: several replicas behind a load balancer share one truth, so that a token
//! issued through one is used exactly once through any, and consents, run-time changes, faults
//! and the journal are the same everywhere.
//!
//! Every decision that must hold across replicas is one Lua script, run atomically by Redis:
//! a cert call's visit (the fault for the call, the token looked up, and used up when its vendor
//! admits the caller), issuing under the live-token maximum, a directory change (compare and
//! set on a version), a fault taken. Keys, under the prefix `bsim:`:
//!
//! | key | what |
//! |---|---|
//! | `t:<token>` | hash: company, member, vendor, issued, expires, used at/by; Redis expires it |
//! | `live` | sorted set of unused tokens by expiry (the live count, the maximum) |
//! | `dir`, `dir:ver` | the directory's image (JSON) and a version drawn at each write |
//! | `faults`, `fault:<id>`, `fault:next` | the faults in force, oldest first |
//! | `journal`, `journal:next` | the journal, one capped stream, and its event ids |
//! | `secret:<name>` | secrets the replicas share (the cookie key, a generated token) |
//!
//! Each replica keeps the directory it read last and its version; every cert call's script
//! checks the version, so a change made through one replica is seen by the next call through
//! any. Journal events are written by one task per replica, batched; a read of the journal
//! waits for this replica's events first.

use std::net::IpAddr;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::Script;
use tokio::sync::{mpsc, oneshot};

use super::{Lookup, StoreError, Visit};
use crate::directory::{Directory, Image};
use crate::domain::OtpToken;
use crate::faults::{Endpoint, Fault, FaultKind, FaultSpec};
use crate::fixtures::Fixtures;
use crate::journal::{Event, EventKind};
use crate::tokens::{Grant, Redeem, TokenView, Use};

const PREFIX: &str = "bsim:";

/// Events written in one go at most.
const JOURNAL_BATCH: usize = 512;

/// Takes the first fault in force for an endpoint and vendor, counting it as applied; the
/// kind's JSON and whether it only delays, or false. Shared by the scripts that need it.
const TAKE_FAULT: &str = r#"
local function take_fault(prefix, list, endpoint, vendor)
  if redis.call('LLEN', list) == 0 then return false, false end
  for _, id in ipairs(redis.call('LRANGE', list, 0, -1)) do
    local fk = prefix .. 'fault:' .. id
    local f = redis.call('HMGET', fk, 'e', 'v', 'r', 'k', 'd')
    if f[1] == endpoint and ((not f[2]) or f[2] == vendor) then
      redis.call('HINCRBY', fk, 'a', 1)
      if f[3] and redis.call('HINCRBY', fk, 'r', -1) <= 0 then
        redis.call('DEL', fk)
        redis.call('LREM', list, 0, id)
      end
      return f[4], f[5] == '1'
    end
  end
  return false, false
end
"#;

/// A cert call's visit. KEYS: dir:ver, t:<token>, live, faults. ARGV: prefix, now, caller,
/// the directory version the replica holds, the vendors admitting the caller (each between
/// two \31), `redeem` or `peek`, the token.
const CERT_VISIT: &str = r#"
local ver = redis.call('GET', KEYS[1])
if not ver then return {'empty'} end
if ver ~= ARGV[4] then return {'stale'} end
local rec = false
if ARGV[7] ~= '' then
  rec = redis.call('HMGET', KEYS[2], 'c', 'm', 'v', 'i', 'e', 'u', 'b')
  if not rec[1] then rec = false end
end
local fault, delay = take_fault(ARGV[1], KEYS[4], 'cert', rec and rec[3])
if fault and not delay then return {'fault', fault, rec and rec[3] or ''} end
fault = fault or ''
if not rec then return {'none', fault} end
local state
if ARGV[6] ~= 'redeem' or not string.find(ARGV[5], '\31' .. rec[3] .. '\31', 1, true) then
  state = 'seen'
elseif rec[6] then
  state = 'used'
elseif tonumber(ARGV[2]) >= tonumber(rec[5]) then
  state = 'expired'
else
  redis.call('HSET', KEYS[2], 'u', ARGV[2], 'b', ARGV[3])
  redis.call('ZREM', KEYS[3], ARGV[7])
  state = 'ok'
end
return {state, fault, rec[1], rec[2], rec[3], rec[4], rec[5], rec[6] or '', rec[7] or ''}
"#;

/// Issues a token unless the live-token maximum is reached. KEYS: t:<token>, live. ARGV:
/// company, member, vendor, issued, expires, now, maximum, forget at, token. Returns 1, 0 (the
/// token exists: draw another) or minus the live count.
const ISSUE: &str = r#"
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', ARGV[6])
local live = redis.call('ZCARD', KEYS[2])
if live >= tonumber(ARGV[7]) then return -live end
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], 'c', ARGV[1], 'm', ARGV[2], 'v', ARGV[3], 'i', ARGV[4], 'e', ARGV[5])
redis.call('PEXPIREAT', KEYS[1], ARGV[8])
redis.call('ZADD', KEYS[2], ARGV[5], ARGV[9])
return 1
"#;

/// Ends a token's lifetime now. KEYS: t:<token>, live. ARGV: now, forget at, token.
const EXPIRE: &str = r#"
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], 'e', ARGV[1])
redis.call('PEXPIREAT', KEYS[1], ARGV[2])
redis.call('ZREM', KEYS[2], ARGV[3])
return 1
"#;

/// Writes the directory if it is still at the version read. KEYS: dir, dir:ver. ARGV: the
/// version read, the image, the new version.
const SET_DIRECTORY: &str = r#"
if redis.call('GET', KEYS[2]) ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[2])
redis.call('SET', KEYS[2], ARGV[3])
return 1
"#;

/// Seeds an empty store. KEYS: dir, dir:ver. ARGV: the image, its version.
const SEED: &str = r#"
if redis.call('EXISTS', KEYS[2]) == 1 then return 0 end
redis.call('SET', KEYS[1], ARGV[1])
redis.call('SET', KEYS[2], ARGV[2])
return 1
"#;

/// A secret shared by the replicas: the first one's. KEYS: secret:<name>. ARGV: a new one.
const SECRET: &str = r#"
redis.call('SET', KEYS[1], ARGV[1], 'NX')
return redis.call('GET', KEYS[1])
"#;

/// Adds a fault. KEYS: fault:next, faults. ARGV: prefix, endpoint, vendor or '', count or '',
/// '1' for a delay, the kind's JSON.
const ADD_FAULT: &str = r#"
local id = redis.call('INCR', KEYS[1])
local fk = ARGV[1] .. 'fault:' .. id
redis.call('HSET', fk, 'e', ARGV[2], 'a', 0, 'd', ARGV[5], 'k', ARGV[6])
if ARGV[3] ~= '' then redis.call('HSET', fk, 'v', ARGV[3]) end
if ARGV[4] ~= '' then redis.call('HSET', fk, 'r', ARGV[4]) end
redis.call('RPUSH', KEYS[2], id)
return id
"#;

/// Takes a fault. KEYS: faults. ARGV: prefix, endpoint, vendor or ''.
const TAKE: &str = r#"
local vendor = ARGV[3] ~= '' and ARGV[3] or false
local fault = take_fault(ARGV[1], KEYS[1], ARGV[2], vendor)
return fault
"#;

/// Removes one fault (ARGV: prefix, id) or, without an id, all. KEYS: faults.
const REMOVE_FAULTS: &str = r#"
if ARGV[2] then
  local n = redis.call('LREM', KEYS[1], 0, ARGV[2])
  redis.call('DEL', ARGV[1] .. 'fault:' .. ARGV[2])
  return n
end
for _, id in ipairs(redis.call('LRANGE', KEYS[1], 0, -1)) do
  redis.call('DEL', ARGV[1] .. 'fault:' .. id)
end
return redis.call('DEL', KEYS[1])
"#;

/// Appends events. KEYS: journal, journal:next. ARGV: the cap, then (at, JSON) pairs.
const APPEND: &str = r#"
local n = (#ARGV - 1) / 2
local first = redis.call('INCRBY', KEYS[2], n) - n + 1
for i = 0, n - 1 do
  redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], '*',
    'i', tostring(first + i), 't', ARGV[2 + 2 * i], 'e', ARGV[3 + 2 * i])
end
return first
"#;

struct Scripts {
    cert: Script,
    issue: Script,
    expire: Script,
    set_directory: Script,
    seed: Script,
    secret: Script,
    add_fault: Script,
    take: Script,
    remove_faults: Script,
    append: Script,
}

impl Scripts {
    fn new() -> Self {
        Scripts {
            cert: Script::new(&format!("{TAKE_FAULT}{CERT_VISIT}")),
            issue: Script::new(ISSUE),
            expire: Script::new(EXPIRE),
            set_directory: Script::new(SET_DIRECTORY),
            seed: Script::new(SEED),
            secret: Script::new(SECRET),
            add_fault: Script::new(ADD_FAULT),
            take: Script::new(&format!("{TAKE_FAULT}{TAKE}")),
            remove_faults: Script::new(REMOVE_FAULTS),
            append: Script::new(APPEND),
        }
    }
}

/// The connection, shared by every call (commands are pipelined on it). A command that meets
/// a dropped connection (Redis restarted since the last call) is sent once more on the new one,
/// so the first call after Redis comes back is served, not refused.
#[derive(Clone)]
struct Conn(ConnectionManager);

impl redis::aio::ConnectionLike for Conn {
    fn req_packed_command<'a>(
        &'a mut self,
        cmd: &'a redis::Cmd,
    ) -> redis::RedisFuture<'a, redis::Value> {
        Box::pin(async move {
            match self.0.req_packed_command(cmd).await {
                Err(e) if e.is_connection_dropped() => self.0.req_packed_command(cmd).await,
                answer => answer,
            }
        })
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        cmd: &'a redis::Pipeline,
        offset: usize,
        count: usize,
    ) -> redis::RedisFuture<'a, Vec<redis::Value>> {
        self.0.req_packed_commands(cmd, offset, count)
    }

    fn get_db(&self) -> i64 {
        self.0.get_db()
    }
}

/// What the Redis store is built with.
pub struct Options {
    pub max_live: usize,
    pub retention_ms: u64,
    pub journal_capacity: usize,
}

/// The directory this replica read last.
struct Cached {
    version: String,
    directory: Arc<Directory>,
}

enum JournalMsg {
    Event(u64, Box<EventKind>),
    Flush(oneshot::Sender<Result<(), StoreError>>),
}

/// The store in Redis.
pub struct RedisStore {
    conn: Conn,
    /// Where, without a password (for messages).
    shown: String,
    scripts: Arc<Scripts>,
    options: Options,
    /// What an empty Redis is seeded with.
    seed: Fixtures,
    cached: RwLock<Arc<Cached>>,
    journal: mpsc::UnboundedSender<JournalMsg>,
    /// The secrets this replica uses, asserted again when Redis comes back empty.
    secrets: std::sync::Mutex<Vec<(String, String)>>,
}

fn key(name: &str) -> String {
    format!("{PREFIX}{name}")
}

fn token_key(token: &OtpToken) -> String {
    format!("{PREFIX}t:{token}")
}

/// A fresh directory version (never reused, even after Redis is emptied).
fn new_version() -> String {
    OtpToken::generate().to_string()[..16].to_owned()
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

impl RedisStore {
    /// Connects to `url`, waiting and retrying (and saying why) while Redis is out of reach,
    /// and seeds an empty Redis with `fixtures`.
    pub async fn connect(url: &str, fixtures: &Fixtures, options: Options) -> anyhow::Result<Self> {
        let shown = shown_url(url);
        let client = redis::Client::open(url)
            .map_err(|e| anyhow::anyhow!("--store {shown}: not a Redis URL: {e}"))?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(Duration::from_secs(2)))
            .set_response_timeout(Some(Duration::from_secs(3)))
            .set_number_of_retries(2)
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
        let (journal, rx) = mpsc::unbounded_channel();
        let scripts = Arc::new(Scripts::new());
        tokio::spawn(write_journal(
            Conn(conn.clone()),
            scripts.clone(),
            rx,
            options.journal_capacity,
            shown.clone(),
        ));
        let store = RedisStore {
            conn: Conn(conn),
            shown,
            scripts,
            options,
            seed: fixtures.clone(),
            cached: RwLock::new(Arc::new(Cached {
                version: String::new(),
                directory: Arc::new(Directory::from_fixtures(fixtures)),
            })),
            journal,
            secrets: Default::default(),
        };
        loop {
            match store.current().await {
                Ok(_) => break,
                Err(e) => {
                    tracing::warn!("{e}; retrying in a second");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
        }
        Ok(store)
    }

    fn down(&self, e: redis::RedisError) -> StoreError {
        StoreError::Unavailable(format!("Redis at {}: {e}", self.shown))
    }

    fn conn(&self) -> Conn {
        self.conn.clone()
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

    /// Seeds an empty Redis (first start, or Redis came back without its data).
    async fn seed_if_empty(&self) -> Result<(), StoreError> {
        let image = serde_json::to_string(&Directory::from_fixtures(&self.seed).image())
            .map_err(|e| StoreError::Unavailable(e.to_string()))?;
        let seeded: i64 = self
            .scripts
            .seed
            .key(key("dir"))
            .key(key("dir:ver"))
            .arg(image)
            .arg(new_version())
            .invoke_async(&mut self.conn())
            .await
            .map_err(|e| self.down(e))?;
        if seeded == 1 {
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
                .arg(key("dir:ver"))
                .arg(key("dir"))
                .query_async(&mut self.conn())
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
            .arg(key("dir:ver"))
            .query_async(&mut self.conn())
            .await
            .map_err(|e| self.down(e))?;
        let cached = self.cached();
        if version.as_deref() == Some(cached.version.as_str()) {
            return Ok(cached);
        }
        self.refresh().await
    }

    pub async fn directory(&self) -> Result<Arc<Directory>, StoreError> {
        Ok(self.current().await?.directory.clone())
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
            let version = new_version();
            let image = serde_json::to_string(&next.image())
                .map_err(|e| StoreError::Unavailable(e.to_string()))?;
            let written: i64 = self
                .scripts
                .set_directory
                .key(key("dir"))
                .key(key("dir:ver"))
                .arg(&cached.version)
                .arg(image)
                .arg(&version)
                .invoke_async(&mut self.conn())
                .await
                .map_err(|e| self.down(e))?;
            if written == 1 {
                *self.cached.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(Cached {
                    version,
                    directory: Arc::new(next),
                });
                return Ok(Ok(result));
            }
        }
        Err(StoreError::Unavailable(
            "the directory changed 64 times while this change was made; try again".into(),
        ))
    }

    pub async fn issue(
        &self,
        grant: Grant,
        now_ms: u64,
        expires_ms: u64,
    ) -> Result<OtpToken, StoreError> {
        let forget_at = expires_ms.saturating_add(self.options.retention_ms);
        loop {
            let token = OtpToken::generate();
            let done: i64 = self
                .scripts
                .issue
                .key(token_key(&token))
                .key(key("live"))
                .arg(&*grant.company)
                .arg(&*grant.customer_id)
                .arg(&*grant.vendor)
                .arg(now_ms)
                .arg(expires_ms)
                .arg(now_ms)
                .arg(self.options.max_live)
                .arg(forget_at)
                .arg(token.to_string())
                .invoke_async(&mut self.conn())
                .await
                .map_err(|e| self.down(e))?;
            match done {
                1 => return Ok(token),
                0 => continue,
                live => return Err(StoreError::Full(live.unsigned_abs() as usize)),
            }
        }
    }

    /// A cert call's visit: one script, so that the fault taken, the token looked up and the
    /// token used up are one atomic step across every replica.
    pub async fn cert_visit(
        &self,
        token: Option<&OtpToken>,
        caller: Option<IpAddr>,
        now_ms: u64,
    ) -> Result<Visit, StoreError> {
        let token_text = token.map(ToString::to_string).unwrap_or_default();
        for _ in 0..4 {
            let cached = self.cached();
            let admitted = match caller {
                Some(ip) => admitting(&cached.directory, ip),
                None => String::new(),
            };
            let reply: Vec<String> = self
                .scripts
                .cert
                .key(key("dir:ver"))
                .key(if token.is_some() {
                    format!("{PREFIX}t:{token_text}")
                } else {
                    key("t:")
                })
                .key(key("live"))
                .key(key("faults"))
                .arg(PREFIX)
                .arg(now_ms)
                .arg(caller.map(|ip| ip.to_string()).unwrap_or_default())
                .arg(&cached.version)
                .arg(admitted)
                .arg(if caller.is_some() { "redeem" } else { "peek" })
                .arg(&token_text)
                .invoke_async(&mut self.conn())
                .await
                .map_err(|e| self.down(e))?;
            let dir = cached.directory.clone();
            let fault = |json: &str| -> Option<FaultKind> {
                (!json.is_empty())
                    .then(|| serde_json::from_str(json).ok())
                    .flatten()
            };
            match reply.first().map(String::as_str) {
                Some("empty") => self.seed_if_empty().await?,
                Some("stale") => {
                    self.refresh().await?;
                }
                Some("fault") => {
                    return Ok(Visit {
                        fault: fault(&reply[1]),
                        vendor: reply
                            .get(2)
                            .filter(|v| !v.is_empty())
                            .map(|v| Arc::from(&**v)),
                        lookup: Lookup::NotAsked,
                        dir,
                    })
                }
                Some("none") => {
                    return Ok(Visit {
                        fault: fault(&reply[1]),
                        vendor: None,
                        lookup: if token.is_some() {
                            Lookup::Unknown
                        } else {
                            Lookup::NotAsked
                        },
                        dir,
                    })
                }
                Some(state) if reply.len() == 9 => {
                    let view = view_of(&dir, &reply[2..]);
                    let vendor = Some(view.grant.vendor.clone());
                    let lookup = match state {
                        "seen" => Lookup::Seen(view),
                        "used" => Lookup::Used(Redeem::AlreadyUsed { view }),
                        "expired" => Lookup::Used(Redeem::Expired { view }),
                        _ => Lookup::Used(Redeem::Redeemed(view.grant)),
                    };
                    return Ok(Visit {
                        fault: fault(&reply[1]),
                        vendor,
                        lookup,
                        dir,
                    });
                }
                _ => {
                    return Err(StoreError::Unavailable(format!(
                        "Redis at {} answered the cert script with {reply:?}",
                        self.shown
                    )))
                }
            }
        }
        Err(StoreError::Unavailable(format!(
            "the directory in Redis at {} changed on every try",
            self.shown
        )))
    }

    pub async fn peek(&self, token: &OtpToken) -> Result<Option<TokenView>, StoreError> {
        let rec: Vec<Option<String>> = redis::cmd("HMGET")
            .arg(token_key(token))
            .arg(&["c", "m", "v", "i", "e", "u", "b"])
            .query_async(&mut self.conn())
            .await
            .map_err(|e| self.down(e))?;
        if rec.first().is_none_or(Option::is_none) {
            return Ok(None);
        }
        let fields: Vec<String> = rec.into_iter().map(Option::unwrap_or_default).collect();
        Ok(Some(view_of(&self.last_directory(), &fields)))
    }

    pub async fn expire(&self, token: &OtpToken, now_ms: u64) -> Result<bool, StoreError> {
        let known: i64 = self
            .scripts
            .expire
            .key(token_key(token))
            .key(key("live"))
            .arg(now_ms)
            .arg(now_ms.saturating_add(self.options.retention_ms))
            .arg(token.to_string())
            .invoke_async(&mut self.conn())
            .await
            .map_err(|e| self.down(e))?;
        Ok(known == 1)
    }

    pub async fn live_tokens(&self) -> Result<usize, StoreError> {
        let live: usize = redis::cmd("ZCOUNT")
            .arg(key("live"))
            .arg(format!("({}", crate::clock::now_ms()))
            .arg("+inf")
            .query_async(&mut self.conn())
            .await
            .map_err(|e| self.down(e))?;
        Ok(live)
    }

    pub async fn add_fault(&self, spec: FaultSpec) -> Result<Result<Fault, String>, StoreError> {
        let kind = match spec.check() {
            Ok(k) => k,
            Err(e) => return Ok(Err(e)),
        };
        let json =
            serde_json::to_string(&kind).map_err(|e| StoreError::Unavailable(e.to_string()))?;
        let id: u64 = self
            .scripts
            .add_fault
            .key(key("fault:next"))
            .key(key("faults"))
            .arg(PREFIX)
            .arg(spec.endpoint.name())
            .arg(spec.vndr_no.as_deref().unwrap_or(""))
            .arg(spec.count.map(|c| c.to_string()).unwrap_or_default())
            .arg(if matches!(kind, FaultKind::Delay { .. }) {
                "1"
            } else {
                "0"
            })
            .arg(json)
            .invoke_async(&mut self.conn())
            .await
            .map_err(|e| self.down(e))?;
        Ok(Ok(Fault {
            id,
            endpoint: spec.endpoint,
            vndr_no: spec.vndr_no,
            remaining: spec.count,
            applied: 0,
            kind,
        }))
    }

    pub async fn take_fault(
        &self,
        endpoint: Endpoint,
        vendor: Option<&str>,
    ) -> Result<Option<FaultKind>, StoreError> {
        let json: Option<String> = self
            .scripts
            .take
            .key(key("faults"))
            .arg(PREFIX)
            .arg(endpoint.name())
            .arg(vendor.unwrap_or(""))
            .invoke_async(&mut self.conn())
            .await
            .map_err(|e| self.down(e))?;
        Ok(json.and_then(|j| serde_json::from_str(&j).ok()))
    }

    pub async fn faults(&self) -> Result<Vec<Fault>, StoreError> {
        let ids: Vec<u64> = redis::cmd("LRANGE")
            .arg(key("faults"))
            .arg(0)
            .arg(-1)
            .query_async(&mut self.conn())
            .await
            .map_err(|e| self.down(e))?;
        let mut faults = Vec::with_capacity(ids.len());
        for id in ids {
            let f: Vec<Option<String>> = redis::cmd("HMGET")
                .arg(key(&format!("fault:{id}")))
                .arg(&["e", "v", "r", "a", "k"])
                .query_async(&mut self.conn())
                .await
                .map_err(|e| self.down(e))?;
            let [Some(e), v, r, a, Some(k)] =
                <[Option<String>; 5]>::try_from(f).unwrap_or([None, None, None, None, None])
            else {
                continue; // taken for the last time meanwhile
            };
            let Ok(kind) = serde_json::from_str(&k) else {
                continue;
            };
            faults.push(Fault {
                id,
                endpoint: if e == "check" {
                    Endpoint::Check
                } else {
                    Endpoint::Cert
                },
                vndr_no: v,
                remaining: r.and_then(|r| r.parse().ok()),
                applied: a.and_then(|a| a.parse().ok()).unwrap_or(0),
                kind,
            });
        }
        Ok(faults)
    }

    pub async fn remove_fault(&self, id: u64) -> Result<bool, StoreError> {
        let removed: i64 = self
            .scripts
            .remove_faults
            .key(key("faults"))
            .arg(PREFIX)
            .arg(id)
            .invoke_async(&mut self.conn())
            .await
            .map_err(|e| self.down(e))?;
        Ok(removed > 0)
    }

    pub async fn clear_faults(&self) -> Result<(), StoreError> {
        let _: i64 = self
            .scripts
            .remove_faults
            .key(key("faults"))
            .arg(PREFIX)
            .invoke_async(&mut self.conn())
            .await
            .map_err(|e| self.down(e))?;
        Ok(())
    }

    /// Queues an event for the journal writer.
    pub fn record(&self, at_ms: u64, kind: EventKind) {
        let _ = self.journal.send(JournalMsg::Event(at_ms, Box::new(kind)));
    }

    /// Waits until this replica's events so far are in Redis.
    async fn flush_journal(&self) -> Result<(), StoreError> {
        let (done, wait) = oneshot::channel();
        if self.journal.send(JournalMsg::Flush(done)).is_err() {
            return Err(StoreError::Unavailable("the journal writer stopped".into()));
        }
        wait.await
            .unwrap_or_else(|_| Err(StoreError::Unavailable("the journal writer stopped".into())))
    }

    pub async fn journal(&self) -> Result<Vec<Arc<Event>>, StoreError> {
        self.flush_journal().await?;
        let entries: Vec<(String, Vec<(String, String)>)> = redis::cmd("XREVRANGE")
            .arg(key("journal"))
            .arg("+")
            .arg("-")
            .arg("COUNT")
            .arg(self.options.journal_capacity.max(1))
            .query_async(&mut self.conn())
            .await
            .map_err(|e| self.down(e))?;
        let mut events: Vec<Arc<Event>> = entries
            .into_iter()
            .filter_map(|(_, fields)| {
                let field = |name: &str| {
                    fields
                        .iter()
                        .find(|(k, _)| k == name)
                        .map(|(_, v)| v.as_str())
                };
                let at_ms: u64 = field("t")?.parse().ok()?;
                Some(Arc::new(Event {
                    id: field("i")?.parse().ok()?,
                    at: at_ms,
                    at_ms,
                    kind: serde_json::from_str(field("e")?).ok()?,
                }))
            })
            .collect();
        events.reverse();
        Ok(events)
    }

    pub async fn clear_journal(&self) -> Result<(), StoreError> {
        self.flush_journal().await?;
        let _: i64 = redis::cmd("DEL")
            .arg(key("journal"))
            .query_async(&mut self.conn())
            .await
            .map_err(|e| self.down(e))?;
        Ok(())
    }

    /// Back to `fixtures`, for every replica: tokens, faults, journal gone, the directory
    /// written anew (a new version, so every replica reads it at its next call).
    pub async fn reset(&self, fixtures: &Fixtures) -> Result<(), StoreError> {
        self.flush_journal().await?;
        let mut conn = self.conn();
        let mut cursor: u64 = 0;
        loop {
            let (next, keys): (u64, Vec<String>) = redis::cmd("SCAN")
                .arg(cursor)
                .arg("MATCH")
                .arg(format!("{PREFIX}t:*"))
                .arg("COUNT")
                .arg(1000)
                .query_async(&mut conn)
                .await
                .map_err(|e| self.down(e))?;
            if !keys.is_empty() {
                let _: i64 = redis::cmd("UNLINK")
                    .arg(keys)
                    .query_async(&mut conn)
                    .await
                    .map_err(|e| self.down(e))?;
            }
            if next == 0 {
                break;
            }
            cursor = next;
        }
        self.clear_faults().await?;
        let _: i64 = redis::cmd("DEL")
            .arg(key("live"))
            .arg(key("journal"))
            .query_async(&mut conn)
            .await
            .map_err(|e| self.down(e))?;
        let fresh = Directory::from_fixtures(fixtures);
        self.update_directory(|dir| {
            *dir = fresh.clone();
            Ok::<_, std::convert::Infallible>(())
        })
        .await?
        .unwrap_or_else(|never| match never {});
        Ok(())
    }

    pub async fn ready(&self) -> Result<(), StoreError> {
        self.current().await.map(|_| ())
    }

    /// The secret every replica uses under `name`: the first replica's `proposed` one.
    pub async fn secret(&self, name: &str, proposed: &str) -> Result<String, StoreError> {
        let shared: String = self
            .scripts
            .secret
            .key(key(&format!("secret:{name}")))
            .arg(proposed)
            .invoke_async(&mut self.conn())
            .await
            .map_err(|e| self.down(e))?;
        let mut secrets = self.secrets.lock().unwrap_or_else(|e| e.into_inner());
        secrets.retain(|(n, _)| n != name);
        secrets.push((name.to_owned(), shared.clone()));
        Ok(shared)
    }

    pub fn journal_capacity(&self) -> usize {
        self.options.journal_capacity
    }
}

/// The vendors whose allow-list holds `ip`, each between two `\x1f` (what the cert script
/// searches).
fn admitting(dir: &Directory, ip: IpAddr) -> String {
    let mut out = String::from("\x1f");
    for v in dir.vendors().filter(|v| v.allows(ip)) {
        out.push_str(&v.vendor.vendor_no);
        out.push('\x1f');
    }
    out
}

/// A token's record as the scripts return it: company, member, vendor, issued, expires, used
/// at, used by ('' when unused). Names are shared with the directory's where it has them.
fn view_of(dir: &Directory, f: &[String]) -> TokenView {
    let shared =
        |name: &str, found: Option<&Arc<str>>| found.cloned().unwrap_or_else(|| Arc::from(name));
    let grant = Grant {
        company: shared(&f[0], dir.company(&f[0]).map(|(k, _)| k)),
        customer_id: shared(&f[1], dir.member(&f[1]).map(|(k, _)| k)),
        vendor: shared(&f[2], dir.vendor(&f[2]).map(|(k, _)| k)),
    };
    let number = |i: usize| f.get(i).and_then(|s| s.parse::<u64>().ok());
    let used = number(5).map(|at_ms| Use {
        at_ms,
        by: f
            .get(6)
            .and_then(|b| b.parse().ok())
            .unwrap_or(IpAddr::from([0, 0, 0, 0])),
    });
    TokenView {
        grant: Arc::new(grant),
        issued_ms: number(3).unwrap_or(0),
        expires_ms: number(4).unwrap_or(0),
        used,
    }
}

/// The journal writer: takes events as they come, writes them in batches; while Redis is out
/// of reach, holds them (at most the journal's capacity, the oldest dropped first) and tries
/// again, so that an outage loses no event unless it outlasts the capacity.
async fn write_journal(
    conn: Conn,
    scripts: Arc<Scripts>,
    mut rx: mpsc::UnboundedReceiver<JournalMsg>,
    capacity: usize,
    shown: String,
) {
    let mut batch: Held = Default::default();
    let mut flushes: Vec<oneshot::Sender<Result<(), StoreError>>> = Vec::new();
    let mut dropped = 0u64;
    while let Some(msg) = rx.recv().await {
        dropped += take(msg, &mut batch, &mut flushes, capacity);
        let mut failing = false;
        loop {
            while let Ok(msg) = rx.try_recv() {
                dropped += take(msg, &mut batch, &mut flushes, capacity);
            }
            if capacity == 0 {
                batch.clear();
            }
            if batch.is_empty() {
                break;
            }
            let n = batch.len().min(JOURNAL_BATCH);
            let mut call = scripts.append.prepare_invoke();
            call.key(key("journal"))
                .key(key("journal:next"))
                .arg(capacity);
            for (at, json) in batch.iter().take(n) {
                call.arg(*at).arg(json);
            }
            match call.invoke_async::<u64>(&mut conn.clone()).await {
                Ok(_) => {
                    batch.drain(..n);
                    if failing {
                        tracing::info!("journal: Redis at {shown} is back; held events written");
                        failing = false;
                    }
                }
                Err(e) => {
                    let why = StoreError::Unavailable(format!("Redis at {shown}: {e}"));
                    for done in flushes.drain(..) {
                        let _ = done.send(Err(why.clone()));
                    }
                    if !failing {
                        tracing::warn!(
                            "journal: cannot write to Redis at {shown} ({e}); holding up to {capacity} events and trying again"
                        );
                        failing = true;
                    }
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
            }
        }
        for done in flushes.drain(..) {
            let _ = done.send(Ok(()));
        }
        if dropped > 0 {
            tracing::warn!(
                "journal: {dropped} events dropped while Redis at {shown} was out of reach"
            );
            dropped = 0;
        }
    }
}

type Held = std::collections::VecDeque<(u64, String)>;

/// Adds one message to what the writer holds; how many old events were dropped for it.
fn take(
    msg: JournalMsg,
    batch: &mut Held,
    flushes: &mut Vec<oneshot::Sender<Result<(), StoreError>>>,
    capacity: usize,
) -> u64 {
    let mut dropped = 0;
    match msg {
        JournalMsg::Event(at, mut kind) => {
            kind.bound();
            if let Ok(json) = serde_json::to_string(&kind) {
                batch.push_back((at, json));
                while batch.len() > capacity.max(1) {
                    batch.pop_front();
                    dropped += 1;
                }
            }
        }
        JournalMsg::Flush(done) => flushes.push(done),
    }
    dropped
}
