//! The Lua scripts of the Redis store: each a decision that must hold across replicas, run
//! atomically by Redis. Key names are built from the prefix passed in `ARGV[1]` where a script
//! reaches keys it cannot know in advance (a fault's hash).
//!
//! Every script may be sent twice: a command that meets a dropped connection is sent again on
//! the new one, and Redis may have run it before the connection dropped. So each is idempotent:
//! a cert call carries a number of its own that the token remembers (the same call redeeming
//! again gets its OK again, not a 404), a token that exists is the same issue sent again
//! (tokens are 256 random bits), a directory write that finds its own version done, and the
//! scripts that count (adding or taking a fault, appending to the journal) remember their
//! answer for a minute under `once:<call number>`.
//!
//! The same scripts serve the base and every sandbox (its keys under its own prefix). A key a
//! script makes in a sandbox takes the sandbox's expiry (`follow`); a directory write keeps it.

use redis::Script;

use super::sandboxes::TOUCH;

/// Whether Redis runs a script after the deadline its replica gave it (Redis's clock, ms):
/// Redis was paused or stalled while the replica waited, the replica has answered 503 (or is
/// about to), so the script must change nothing. Every script that changes what a partner
/// meets (a token used or issued, a directory write, a fault added or taken) checks it first.
const LATE: &str = r#"
local function late(deadline)
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) > tonumber(deadline)
end
"#;

/// Gives `key` the expiry of the sandbox whose `meta` key is named (nothing for the base, which
/// has no `meta` and never expires).
const FOLLOW: &str = r#"
local function follow(meta, key)
  local ttl = redis.call('PTTL', meta)
  if ttl > 0 then redis.call('PEXPIRE', key, ttl) end
end
"#;

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

/// A cert call's visit. KEYS: dir:ver, t:<token>, unused, faults, gen. ARGV: prefix, now, caller,
/// the directory version the replica holds, the vendors admitting the caller (each between
/// two \31), `redeem` or `peek`, the token, the call's own number, the call's deadline in
/// Redis's clock (ms), the `meta` key of the sandbox the token's first bytes would name (or
/// ''), the sandbox's id when the visit is in one (or ''), the sandboxes' index. Run after its
/// deadline (Redis was paused or stalled while the replica waited) it changes nothing: the
/// replica has answered 503 or is about to. At the base, a token whose sandbox exists is sent
/// there (`sandbox`); in a sandbox, the visit is a use that keeps it alive (`touch`).
const CERT_VISIT: &str = r#"
if ARGV[10] ~= '' and redis.call('EXISTS', ARGV[10]) == 1 then return {'sandbox'} end
local ver = redis.call('GET', KEYS[1])
if not ver then return {'empty'} end
if ver ~= ARGV[4] then return {'stale'} end
if ARGV[11] ~= '' and not touch(ARGV[1], ARGV[12], ARGV[11], tonumber(ARGV[2])) then
  return {'empty'}
end
local rec = false
if ARGV[7] ~= '' then
  rec = redis.call('HMGET', KEYS[2], 'c', 'm', 'v', 'i', 'e', 'u', 'b', 'n', 'g')
  -- A token of a generation before the last reset is unknown (Redis forgets it by itself).
  if not rec[1] or (rec[9] or '0') ~= (redis.call('GET', KEYS[5]) or '0') then rec = false end
end
-- The same call sent again after its redemption: its OK again, and no fault taken twice.
if rec and rec[8] == ARGV[8] then
  return {'ok', '', rec[1], rec[2], rec[3], rec[4], rec[5], rec[6], rec[7]}
end
-- Late, but not this call sent again (its first run's answer stands, above): nothing changes.
if late(ARGV[9]) then return {'late'} end
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
  redis.call('HSET', KEYS[2], 'u', ARGV[2], 'b', ARGV[3], 'n', ARGV[8])
  redis.call('HDEL', KEYS[3], ARGV[7])
  state = 'ok'
  rec[6], rec[7] = ARGV[2], ARGV[3]
end
return {state, fault, rec[1], rec[2], rec[3], rec[4], rec[5], rec[6] or '', rec[7] or ''}
"#;

/// Takes back a redemption made by a call its replica answered 503, if that call made it.
/// KEYS: t:<token>, unused, gen, live, meta. ARGV: the call's number, the token, now, '1' in a
/// sandbox. Sent twice, the second finds nothing to do. A token of a generation before the
/// last reset, or of a sandbox gone, is left alone (nothing to count it in any more).
const TAKE_BACK: &str = r#"
local rec = redis.call('HMGET', KEYS[1], 'n', 'e', 'g')
if not rec[1] or rec[1] ~= ARGV[1] then return 0 end
if (rec[3] or '0') ~= (redis.call('GET', KEYS[3]) or '0') then return 0 end
if ARGV[4] == '1' and redis.call('EXISTS', KEYS[5]) == 0 then return 0 end
redis.call('HDEL', KEYS[1], 'u', 'b', 'n')
-- Unused again, and live again unless it expired meanwhile; in the expiry-ordered set too,
-- so that the sweep takes it out when it expires whatever another replica swept meanwhile.
if tonumber(rec[2]) > tonumber(ARGV[3]) then
  redis.call('HSET', KEYS[2], ARGV[2], 1)
  redis.call('ZADD', KEYS[4], rec[2], ARGV[2])
end
return 1
"#;

/// Forgets the tokens expired by `now` (at most `limit` of them a call): out of `unused` and
/// out of `live`. Shared by the scripts that count live tokens.
const SWEEP: &str = r#"
local function sweep(live, unused, now, limit)
  local gone = redis.call('ZRANGEBYSCORE', live, '-inf', now, 'LIMIT', 0, limit)
  if #gone == 0 then return end
  for i = 1, #gone, 1000 do
    local last = math.min(i + 999, #gone)
    redis.call('HDEL', unused, unpack(gone, i, last))
    redis.call('ZREM', live, unpack(gone, i, last))
  end
end
"#;

/// The live tokens (unused, unexpired), after a sweep of at most 10,000 (a second's
/// housekeeping sweeps the next; until then the count may hold a few just expired). KEYS:
/// live, unused. ARGV: now.
const LIVE: &str = r#"
sweep(KEYS[1], KEYS[2], ARGV[1], 10000)
return redis.call('HLEN', KEYS[2])
"#;

/// Issues a token unless the live-token maximum is reached. KEYS: t:<token>, live, gen, meta,
/// unused. ARGV:
/// company, member, vendor, issued, expires, now, maximum, forget at, token, deadline. Returns
/// 1, or minus one minus the live count when the maximum is reached, or 0 when late.
const ISSUE: &str = r#"
-- 256 random bits never repeat: an existing token is this issue, sent again (its first run's
-- answer stands, however late this one runs).
if redis.call('EXISTS', KEYS[1]) == 1 then return 1 end
if late(ARGV[10]) then return 0 end
sweep(KEYS[2], KEYS[5], ARGV[6], 1000)
local live = redis.call('HLEN', KEYS[5])
if live >= tonumber(ARGV[7]) then return -1 - live end
redis.call('HSET', KEYS[1], 'c', ARGV[1], 'm', ARGV[2], 'v', ARGV[3], 'i', ARGV[4], 'e', ARGV[5],
  'g', redis.call('GET', KEYS[3]) or '0')
redis.call('PEXPIREAT', KEYS[1], ARGV[8])
redis.call('ZADD', KEYS[2], ARGV[5], ARGV[9])
redis.call('HSET', KEYS[5], ARGV[9], 1)
follow(KEYS[4], KEYS[2])
follow(KEYS[4], KEYS[5])
return 1
"#;

/// Ends a token's lifetime now, or keeps an earlier end. KEYS: t:<token>, unused, gen. ARGV:
/// now, forget at, token.
const EXPIRE: &str = r#"
local rec = redis.call('HMGET', KEYS[1], 'e', 'g')
if not rec[1] or (rec[2] or '0') ~= (redis.call('GET', KEYS[3]) or '0') then return 0 end
local e = tonumber(rec[1])
if e == nil or tonumber(ARGV[1]) < e then
  redis.call('HSET', KEYS[1], 'e', ARGV[1])
  redis.call('PEXPIREAT', KEYS[1], ARGV[2])
end
redis.call('HDEL', KEYS[2], ARGV[3])
return 1
"#;

/// Writes the directory if it is still at the version read. KEYS: dir, dir:ver. ARGV: the
/// version read, the image, the new version, the deadline. 1 written, 0 another version, 2 late.
const SET_DIRECTORY: &str = r#"
local ver = redis.call('GET', KEYS[2])
if ver == ARGV[3] then return 1 end
if late(ARGV[4]) then return 2 end
if ver ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[2], 'KEEPTTL')
redis.call('SET', KEYS[2], ARGV[3], 'KEEPTTL')
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

/// Adds a fault. KEYS: fault:next, faults, once:<call>. ARGV: prefix, endpoint, vendor or '',
/// count or '', '1' for a delay, the kind's JSON, the deadline. The fault's id, or 0 when late.
const ADD_FAULT: &str = r#"
local done = redis.call('GET', KEYS[3])
if done then return tonumber(done) end
if late(ARGV[7]) then return 0 end
local id = redis.call('INCR', KEYS[1])
redis.call('SET', KEYS[3], id, 'EX', 60)
local fk = ARGV[1] .. 'fault:' .. id
redis.call('HSET', fk, 'e', ARGV[2], 'a', 0, 'd', ARGV[5], 'k', ARGV[6])
if ARGV[3] ~= '' then redis.call('HSET', fk, 'v', ARGV[3]) end
if ARGV[4] ~= '' then redis.call('HSET', fk, 'r', ARGV[4]) end
redis.call('RPUSH', KEYS[2], id)
for _, k in ipairs({KEYS[1], KEYS[2], fk}) do follow(ARGV[1] .. 'meta', k) end
return id
"#;

/// Takes a fault. KEYS: faults, once:<call>. ARGV: prefix, endpoint, vendor or '', the
/// deadline. The fault's JSON, or '' for none, or 'late'.
const TAKE: &str = r#"
local done = redis.call('GET', KEYS[2])
if done then return done end
if late(ARGV[4]) then return 'late' end
local vendor = ARGV[3] ~= '' and ARGV[3] or false
local fault = take_fault(ARGV[1], KEYS[1], ARGV[2], vendor) or ''
redis.call('SET', KEYS[2], fault, 'EX', 60)
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

/// Resets the shared state, atomically. ARGV: prefix, the directory's image, its new version.
/// Returns how many tokens were forgotten.
const RESET: &str = r#"
local p = ARGV[1]
local gen = redis.call('INCR', p .. 'gen')
for _, id in ipairs(redis.call('LRANGE', p .. 'faults', 0, -1)) do
  redis.call('DEL', p .. 'fault:' .. id)
end
redis.call('DEL', p .. 'faults', p .. 'live', p .. 'unused', p .. 'journal')
redis.call('SET', p .. 'dir', ARGV[2], 'KEEPTTL')
redis.call('SET', p .. 'dir:ver', ARGV[3], 'KEEPTTL')
follow(p .. 'meta', p .. 'gen')
return gen
"#;

/// Forgets the tokens among KEYS of a generation before `ARGV[1]` (after a reset, found by a
/// `SCAN` outside any script).
const PRUNE: &str = r#"
local n = 0
for _, k in ipairs(KEYS) do
  local g = redis.call('HGET', k, 'g') or '0'
  if tonumber(g) < tonumber(ARGV[1]) then
    redis.call('UNLINK', k)
    n = n + 1
  end
end
return n
"#;

/// A token as it is, unless of a generation before the last reset. KEYS: t:<token>, gen.
const PEEK: &str = r#"
local rec = redis.call('HMGET', KEYS[1], 'c', 'm', 'v', 'i', 'e', 'u', 'b', 'g')
if not rec[1] or (rec[8] or '0') ~= (redis.call('GET', KEYS[2]) or '0') then return false end
return {rec[1], rec[2], rec[3], rec[4], rec[5], rec[6] or '', rec[7] or ''}
"#;

/// Every fault in force, oldest first, read at once. KEYS: faults. ARGV: prefix. Each fault:
/// id, endpoint, vendor or '', remaining or '', applied, kind.
const FAULTS: &str = r#"
local out = {}
for _, id in ipairs(redis.call('LRANGE', KEYS[1], 0, -1)) do
  local f = redis.call('HMGET', ARGV[1] .. 'fault:' .. id, 'e', 'v', 'r', 'a', 'k')
  if f[1] then
    table.insert(out, {id, f[1], f[2] or '', f[3] or '', f[4] or '0', f[5] or ''})
  end
end
return out
"#;

/// Appends a batch of events as one stream entry, its id the batch's first event id (drawn
/// from the shared counter), and trims entries older than the newest `ARGV[3]` events. KEYS:
/// journal, journal:next, once:<call>, meta. ARGV: how many events, the batch (a JSON array), how
/// many to keep.
const APPEND: &str = r#"
local done = redis.call('GET', KEYS[3])
if done then return tonumber(done) end
local n = tonumber(ARGV[1])
local first = redis.call('INCRBY', KEYS[2], n) - n + 1
local keep_from = math.max(1, first + n - tonumber(ARGV[3]))
redis.call('XADD', KEYS[1], 'MINID', '~', string.format('%d-0', keep_from),
  string.format('%d-0', first), 'b', ARGV[2])
redis.call('SET', KEYS[3], first, 'EX', 60)
follow(KEYS[4], KEYS[1])
follow(KEYS[4], KEYS[2])
return first
"#;

pub(super) struct Scripts {
    pub(super) cert: Script,
    pub(super) issue: Script,
    pub(super) take_back: Script,
    pub(super) live: Script,
    pub(super) expire: Script,
    pub(super) set_directory: Script,
    pub(super) seed: Script,
    pub(super) secret: Script,
    pub(super) add_fault: Script,
    pub(super) take: Script,
    pub(super) remove_faults: Script,
    pub(super) append: Script,
    pub(super) reset: Script,
    pub(super) prune: Script,
    pub(super) peek: Script,
    pub(super) faults: Script,
}

impl Scripts {
    pub(super) fn new() -> Self {
        Scripts {
            cert: Script::new(&format!("{LATE}{TAKE_FAULT}{TOUCH}{CERT_VISIT}")),
            issue: Script::new(&format!("{LATE}{FOLLOW}{SWEEP}{ISSUE}")),
            live: Script::new(&format!("{SWEEP}{LIVE}")),
            take_back: Script::new(TAKE_BACK),
            expire: Script::new(EXPIRE),
            set_directory: Script::new(&format!("{LATE}{SET_DIRECTORY}")),
            seed: Script::new(SEED),
            secret: Script::new(SECRET),
            add_fault: Script::new(&format!("{LATE}{FOLLOW}{ADD_FAULT}")),
            take: Script::new(&format!("{LATE}{TAKE_FAULT}{TAKE}")),
            remove_faults: Script::new(REMOVE_FAULTS),
            append: Script::new(&format!("{FOLLOW}{APPEND}")),
            reset: Script::new(&format!("{FOLLOW}{RESET}")),
            prune: Script::new(PRUNE),
            peek: Script::new(PEEK),
            faults: Script::new(FAULTS),
        }
    }
}
