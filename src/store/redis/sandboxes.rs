//! Sandboxes in Redis. A sandbox's keys are the base's keys under its own prefix,
//! `bsim:sb:<id>:`, plus `meta` (name, lifetime, when made, made from) and `origin` (the
//! directory it was made from, what its reset goes back to). Every one of its keys carries the
//! sandbox's expiry: refreshed on each use (a control API call naming it, a cert call with one
//! of its tokens, in the same script), given to a key a script makes in it (`follow`, in
//! `scripts.rs`), kept by a directory write. So Redis forgets a sandbox left alone by itself,
//! and removing one deletes its keys by name: nothing ever scans the keyspace. Its tokens keep
//! their own expiry, but every script finds the sandbox gone first, so they are unknown.
//!
//! The sorted set `bsim:sandboxes` lists the sandboxes by the moment each expires: the list,
//! and the maximum counted when one is made. A replica keeps a view of each sandbox it served
//! (its directory read last, as for the base); a view is a [`RedisStore`] sharing the
//! replica's connections, scripts and journal writer.

use std::sync::{Arc, RwLock};

use redis::Script;
use tokio::sync::broadcast;

use super::conn::PREFIX;
use super::{journal, new_version, Cached, RedisStore};
use crate::domain::directory::Directory;
use crate::domain::event::Event;
use crate::domain::sandbox::{NewSandbox, SandboxId, SandboxInfo};
use crate::store::answers::StoreError;

/// The sorted set of sandboxes by expiry.
pub(super) const SANDBOXES: &str = "bsim:sandboxes";

/// A key of sandbox `id`.
pub(super) fn sandbox_key(id: SandboxId, name: &str) -> String {
    format!("{PREFIX}sb:{id}:{name}")
}

/// Refreshes a sandbox's expiry on every key it has: false when it is gone. Its keys are named,
/// not searched. Shared by the scripts that use a sandbox.
pub(super) const TOUCH: &str = r#"
local function touch(p, index, id, now)
  local ttl = tonumber(redis.call('HGET', p .. 'meta', 'ttl') or '0')
  if ttl <= 0 then return false end
  local ms = ttl * 1000
  for _, k in ipairs({'meta', 'origin', 'dir', 'dir:ver', 'live', 'unused', 'faults',
      'fault:next', 'journal', 'journal:next', 'gen'}) do
    redis.call('PEXPIRE', p .. k, ms)
  end
  for _, f in ipairs(redis.call('LRANGE', p .. 'faults', 0, -1)) do
    redis.call('PEXPIRE', p .. 'fault:' .. f, ms)
  end
  redis.call('ZADD', index, now + ms, id)
  return now + ms
end
"#;

/// Uses a sandbox: its expiry refreshed, what is known of it returned, or false when gone.
/// ARGV: prefix, index, id, now.
const USE: &str = r#"
local e = touch(ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4]))
if not e then
  redis.call('ZREM', ARGV[2], ARGV[3])
  return false
end
local m = redis.call('HMGET', ARGV[1] .. 'meta', 'name', 'ttl', 'made', 'from')
return {m[1] or '', m[2] or '0', m[3] or '0', m[4] or '', tostring(e)}
"#;

/// Makes a sandbox unless the maximum is reached. ARGV: prefix, index, id, now, maximum,
/// lifetime (s), name, made from, the directory's image, its version. Its expiry, or minus one
/// minus the count when the maximum is reached.
const MAKE: &str = r#"
redis.call('ZREMRANGEBYSCORE', ARGV[2], '-inf', ARGV[4])
local n = redis.call('ZCARD', ARGV[2])
if redis.call('ZSCORE', ARGV[2], ARGV[3]) == false and n >= tonumber(ARGV[5]) then
  return -1 - n
end
local p = ARGV[1]
redis.call('HSET', p .. 'meta', 'name', ARGV[7], 'ttl', ARGV[6], 'made', ARGV[4], 'from', ARGV[8])
redis.call('SET', p .. 'origin', ARGV[9])
redis.call('SET', p .. 'dir', ARGV[9])
redis.call('SET', p .. 'dir:ver', ARGV[10])
return touch(p, ARGV[2], ARGV[3], tonumber(ARGV[4]))
"#;

/// Every sandbox not yet expired. ARGV: index, now, the sandboxes' prefix. Each: id, name,
/// lifetime, made, made from, expiry.
const LIST: &str = r#"
redis.call('ZREMRANGEBYSCORE', ARGV[1], '-inf', ARGV[2])
local out = {}
local all = redis.call('ZRANGE', ARGV[1], 0, -1, 'WITHSCORES')
for i = 1, #all, 2 do
  local m = redis.call('HMGET', ARGV[3] .. all[i] .. ':meta', 'name', 'ttl', 'made', 'from')
  if m[2] then
    table.insert(out, {all[i], m[1] or '', m[2], m[3] or '0', m[4] or '', all[i + 1]})
  end
end
return out
"#;

/// Removes a sandbox and everything in it, by name. ARGV: prefix, index, id. 1 when it existed.
const DROP: &str = r#"
local p = ARGV[1]
local known = redis.call('EXISTS', p .. 'meta')
for _, f in ipairs(redis.call('LRANGE', p .. 'faults', 0, -1)) do
  redis.call('DEL', p .. 'fault:' .. f)
end
redis.call('DEL', p .. 'meta', p .. 'origin', p .. 'dir', p .. 'dir:ver', p .. 'live',
  p .. 'unused', p .. 'faults', p .. 'fault:next', p .. 'journal', p .. 'journal:next', p .. 'gen')
redis.call('ZREM', ARGV[2], ARGV[3])
return known
"#;

/// The sandbox scripts.
pub(super) struct SandboxScripts {
    use_: Script,
    make: Script,
    list: Script,
    drop: Script,
}

impl SandboxScripts {
    pub(super) fn new() -> Self {
        SandboxScripts {
            use_: Script::new(&format!("{TOUCH}{USE}")),
            make: Script::new(&format!("{TOUCH}{MAKE}")),
            list: Script::new(LIST),
            drop: Script::new(DROP),
        }
    }
}

/// What the scripts say of a sandbox: id, name, lifetime, made, made from, expiry.
fn info_of(id: SandboxId, f: &[String]) -> SandboxInfo {
    let number = |i: usize| f.get(i).and_then(|s| s.parse::<u64>().ok()).unwrap_or(0);
    SandboxInfo {
        id,
        name: f.first().filter(|n| !n.is_empty()).cloned(),
        ttl_s: number(1),
        created_ms: number(2),
        from: f.get(3).and_then(|s| SandboxId::parse(s)),
        expires_ms: number(4),
    }
}

impl RedisStore {
    /// A view of sandbox `id` through this replica: its connections, scripts and journal writer,
    /// its own keys and directory read last. Its events go to `events`.
    pub fn view(&self, id: SandboxId, events: broadcast::Sender<Arc<Event>>) -> RedisStore {
        let prefix = sandbox_key(id, "");
        RedisStore {
            id: self.id,
            client: self.client.clone(),
            config: self.config.clone(),
            shown: self.shown.clone(),
            scripts: self.scripts.clone(),
            sandbox_scripts: self.sandbox_scripts.clone(),
            options: self.options.clone(),
            seed: self.seed.clone(),
            cached: RwLock::new(Arc::new(Cached {
                version: String::new(),
                directory: self.last_directory(),
            })),
            journal: self.journal.clone(),
            target: Arc::new(journal::Target {
                prefix: prefix.clone(),
                events,
            }),
            sandbox: Some(id),
            prefix,
            secrets: Default::default(),
            outage: self.outage.clone(),
        }
    }

    /// Makes sandbox `id` holding `directory`, unless `max` are live.
    pub async fn make_sandbox(
        &self,
        id: SandboxId,
        ask: &NewSandbox,
        directory: &Directory,
        now_ms: u64,
        max: usize,
    ) -> Result<SandboxInfo, StoreError> {
        let image = serde_json::to_string(&directory.image())
            .map_err(|e| StoreError::Unavailable(e.to_string()))?;
        let expires: i64 = self
            .sandbox_scripts
            .make
            .arg(sandbox_key(id, ""))
            .arg(SANDBOXES)
            .arg(id.to_string())
            .arg(now_ms)
            .arg(max)
            .arg(ask.ttl_s())
            .arg(ask.name.as_deref().unwrap_or(""))
            .arg(ask.from.map(|f| f.to_string()).unwrap_or_default())
            .arg(image)
            .arg(new_version())
            .invoke_async(&mut self.conn().await?)
            .await
            .map_err(|e| self.down(e))?;
        if expires < 0 {
            return Err(StoreError::TooManySandboxes((-1 - expires) as usize));
        }
        Ok(SandboxInfo {
            id,
            name: ask.name.clone(),
            ttl_s: ask.ttl_s(),
            created_ms: now_ms,
            expires_ms: expires as u64,
            from: ask.from,
        })
    }

    /// Uses sandbox `id`: its expiry refreshed; what is known of it, or `None` when gone.
    pub async fn use_sandbox(
        &self,
        id: SandboxId,
        now_ms: u64,
    ) -> Result<Option<SandboxInfo>, StoreError> {
        let found: Option<Vec<String>> = self
            .sandbox_scripts
            .use_
            .arg(sandbox_key(id, ""))
            .arg(SANDBOXES)
            .arg(id.to_string())
            .arg(now_ms)
            .invoke_async(&mut self.conn().await?)
            .await
            .map_err(|e| self.down(e))?;
        Ok(found.map(|f| info_of(id, &f)))
    }

    /// Every sandbox not yet expired.
    pub async fn list_sandboxes(&self, now_ms: u64) -> Result<Vec<SandboxInfo>, StoreError> {
        let rows: Vec<Vec<String>> = self
            .sandbox_scripts
            .list
            .arg(SANDBOXES)
            .arg(now_ms)
            .arg(format!("{PREFIX}sb:"))
            .invoke_async(&mut self.conn().await?)
            .await
            .map_err(|e| self.down(e))?;
        Ok(rows
            .iter()
            .filter_map(|r| Some(info_of(SandboxId::parse(r.first()?)?, &r[1..])))
            .collect())
    }

    /// Removes sandbox `id` and everything in it; false when there was none.
    pub async fn drop_sandbox(&self, id: SandboxId) -> Result<bool, StoreError> {
        let known: i64 = self
            .sandbox_scripts
            .drop
            .arg(sandbox_key(id, ""))
            .arg(SANDBOXES)
            .arg(id.to_string())
            .invoke_async(&mut self.conn().await?)
            .await
            .map_err(|e| self.down(e))?;
        Ok(known == 1)
    }

    /// A sandbox's reset: back to the directory it was made from, no tokens, faults or journal
    /// events; its expiry kept.
    pub(super) async fn reset_sandbox(&self) -> Result<(), StoreError> {
        let Some(id) = self.sandbox else {
            return Ok(());
        };
        self.journal.flush().await?;
        let origin: Option<String> = redis::cmd("GET")
            .arg(self.key("origin"))
            .query_async(&mut self.conn().await?)
            .await
            .map_err(|e| self.down(e))?;
        let origin = origin.ok_or_else(|| StoreError::NoSandbox(id.to_string()))?;
        let _: u64 = self
            .scripts
            .reset
            .arg(&self.prefix)
            .arg(origin)
            .arg(new_version())
            .invoke_async(&mut self.conn().await?)
            .await
            .map_err(|e| self.down(e))?;
        // Tokens of the generations before are unknown to every script, and expire by
        // themselves: no search for them.
        self.refresh().await.map(|_| ())
    }
}
