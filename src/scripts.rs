//! The Lua scripts: one per operation, each one atomic round trip.
//!
//! Invariants every script keeps:
//! - every key it touches arrives in `KEYS`; ids, durations and names arrive in `ARGV`;
//! - the only clock is Redis `TIME`, read inside the script;
//! - it validates what only the server can know (does the queue exist, is the body within
//!   `maxsize`) before its first write, and answers a negative error code instead of writing;
//! - numbers are written with `string.format("%.0f")`, never `tostring`, which would turn a
//!   microsecond score into exponent notation.
//!
//! Scripts run through [`redis::Script`], which sends `EVALSHA` and reloads the script when
//! the server answers `NOSCRIPT` (after a restart or `SCRIPT FLUSH`).

use std::sync::LazyLock;
use std::time::Duration;

use redis::Script;

/// Error codes a script returns instead of writing.
pub(crate) mod code {
    pub(crate) const QUEUE_NOT_FOUND: i64 = -1;
    pub(crate) const BAD_VT: i64 = -2;
    pub(crate) const BAD_DELAY: i64 = -3;
    pub(crate) const BAD_MAXSIZE: i64 = -4;
    pub(crate) const MESSAGE_TOO_LONG: i64 = -5;
    pub(crate) const QUEUE_EXISTS: i64 = -6;
}

/// A per-call duration in score units, rounded down.
pub(crate) fn to_score_units(d: Duration) -> u64 {
    #[cfg(not(feature = "break-js-comp"))]
    let units = d.as_millis();
    #[cfg(feature = "break-js-comp")]
    let units = d.as_micros();
    u64::try_from(units).unwrap_or(u64::MAX)
}

/// Shared Lua definitions: `clock()` returns the Redis time as (seconds, score now, ms now).
#[cfg(not(feature = "break-js-comp"))]
const PRELUDE: &str = r#"
local UNITS = 1000
local function clock()
  local t = redis.call("TIME")
  local sec = tonumber(t[1])
  local ms = sec * 1000 + math.floor(tonumber(t[2]) / 1000)
  return sec, ms, ms, tonumber(t[2])
end
"#;

#[cfg(feature = "break-js-comp")]
const PRELUDE: &str = r#"
local UNITS = 1000000
local function clock()
  local t = redis.call("TIME")
  local sec = tonumber(t[1])
  local usec = tonumber(t[2])
  return sec, sec * 1000000 + usec, sec * 1000 + math.floor(usec / 1000), usec
end
"#;

const HELPERS: &str = r#"
local function fmt(n)
  return string.format("%.0f", n)
end
local function seconds(v)
  local n = tonumber(v)
  if n == nil or n ~= n or n < 0 or n == math.huge then return nil end
  return n
end
local function attributes(zset, hash, sec)
  local a = redis.call("HMGET", hash, "vt", "delay", "maxsize", "totalrecv", "totalsent", "created", "modified")
  if not a[1] then return -1 end
  a[8] = redis.call("ZCARD", zset)
  a[9] = redis.call("ZCOUNT", zset, fmt(sec * UNITS), "+inf")
  return a
end
"#;

fn build(body: &str) -> Script {
    Script::new(&format!("{PRELUDE}{HELPERS}{body}"))
}

/// KEYS: hash, queues set. ARGV: vt seconds, delay seconds, maxsize, qname.
/// Returns 1, or QUEUE_EXISTS.
pub(crate) static CREATE_QUEUE: LazyLock<Script> = LazyLock::new(|| {
    build(
        r#"
-- Fail on a wrong key type before the first write (a script error keeps earlier writes).
redis.call("SCARD", KEYS[2])
local sec = clock()
local created = redis.call("HSETNX", KEYS[1], "vt", ARGV[1])
redis.call("HSETNX", KEYS[1], "delay", ARGV[2])
redis.call("HSETNX", KEYS[1], "maxsize", ARGV[3])
redis.call("HSETNX", KEYS[1], "created", fmt(sec))
redis.call("HSETNX", KEYS[1], "modified", fmt(sec))
if created == 0 then return -6 end
redis.call("SADD", KEYS[2], ARGV[4])
return 1
"#,
    )
});

/// KEYS: hash, sorted set, queues set. ARGV: qname. Returns 1, or QUEUE_NOT_FOUND.
pub(crate) static DELETE_QUEUE: LazyLock<Script> = LazyLock::new(|| {
    build(
        r#"
redis.call("SREM", KEYS[3], ARGV[1])
local n = redis.call("DEL", KEYS[1])
redis.call("DEL", KEYS[2])
if n == 0 then return -1 end
return 1
"#,
    )
});

/// KEYS: sorted set, hash. Returns the attribute array
/// (vt, delay, maxsize, totalrecv, totalsent, created, modified, msgs, hiddenmsgs),
/// or QUEUE_NOT_FOUND.
pub(crate) static GET_ATTRIBUTES: LazyLock<Script> = LazyLock::new(|| {
    build(
        r#"
local sec = clock()
return attributes(KEYS[1], KEYS[2], sec)
"#,
    )
});

/// KEYS: sorted set, hash. ARGV: vt seconds, delay seconds, maxsize ("" = unchanged).
/// Returns the attribute array, or QUEUE_NOT_FOUND.
pub(crate) static SET_ATTRIBUTES: LazyLock<Script> = LazyLock::new(|| {
    build(
        r#"
if redis.call("HEXISTS", KEYS[2], "vt") == 0 then return -1 end
local sec = clock()
redis.call("HSET", KEYS[2], "modified", fmt(sec))
if ARGV[1] ~= "" then redis.call("HSET", KEYS[2], "vt", ARGV[1]) end
if ARGV[2] ~= "" then redis.call("HSET", KEYS[2], "delay", ARGV[2]) end
if ARGV[3] ~= "" then redis.call("HSET", KEYS[2], "maxsize", ARGV[3]) end
return attributes(KEYS[1], KEYS[2], sec)
"#,
    )
});

/// KEYS: sorted set, hash. ARGV: id suffix, body, delay in score units ("" = the queue's),
/// realtime channel ("" = none). Returns the new id, or an error code.
pub(crate) static SEND_MESSAGE: LazyLock<Script> = LazyLock::new(|| {
    build(
        r#"
local q = redis.call("HMGET", KEYS[2], "vt", "delay", "maxsize")
if not q[1] then return -1 end
local maxsize = tonumber(q[3])
if maxsize == nil then return -4 end
if maxsize ~= -1 and #ARGV[2] > maxsize then return -5 end
local delay
if ARGV[3] == "" then
  delay = seconds(q[2])
  if delay == nil then return -3 end
  delay = math.floor(delay * UNITS)
else
  delay = tonumber(ARGV[3])
end
local sec, now, ms, usec = clock()
local n = sec * 1000000 + usec
local digits = "0123456789abcdefghijklmnopqrstuvwxyz"
local id = ""
repeat
  local d = n % 36
  id = string.sub(digits, d + 1, d + 1) .. id
  n = math.floor(n / 36)
until n == 0
id = id .. ARGV[1]
redis.call("ZADD", KEYS[1], fmt(now + delay), id)
redis.call("HSET", KEYS[2], id, ARGV[2])
redis.call("HINCRBY", KEYS[2], "totalsent", 1)
if ARGV[4] ~= "" then
  redis.call("PUBLISH", ARGV[4], redis.call("ZCARD", KEYS[1]))
end
return id
"#,
    )
});

/// The part shared by receive and pop: find the first receivable message that has a body,
/// dropping body-less members (left by a crashed non-atomic writer) on the way, so they
/// never block the queue. Defines `id`, `body`, `rc`, `now` and `ms`.
const TAKE_FIRST: &str = r#"
local sec, now, ms = clock()
local id, body
for _ = 1, 100 do
  local m = redis.call("ZRANGEBYSCORE", KEYS[1], "-inf", fmt(now), "LIMIT", 0, 1)
  if #m == 0 then return false end
  body = redis.call("HGET", KEYS[2], m[1])
  if body then
    id = m[1]
    break
  end
  redis.call("ZREM", KEYS[1], m[1])
  redis.call("HDEL", KEYS[2], m[1] .. ":rc", m[1] .. ":fr")
end
if not id then return false end
redis.call("HINCRBY", KEYS[2], "totalrecv", 1)
local rc = redis.call("HINCRBY", KEYS[2], id .. ":rc", 1)
"#;

/// KEYS: sorted set, hash. ARGV: vt in score units ("" = the queue's).
/// Returns nil (nothing receivable), {id, body, rc, fr}, or an error code.
pub(crate) static RECEIVE_MESSAGE: LazyLock<Script> = LazyLock::new(|| {
    build(&format!(
        "{}{TAKE_FIRST}{}",
        r#"
local vtv = redis.call("HGET", KEYS[2], "vt")
if not vtv then return -1 end
local vt
if ARGV[1] == "" then
  vt = seconds(vtv)
  if vt == nil then return -2 end
  vt = math.floor(vt * UNITS)
else
  vt = tonumber(ARGV[1])
end
"#,
        r#"
redis.call("ZADD", KEYS[1], fmt(now + vt), id)
local fr
if rc == 1 then
  fr = fmt(ms)
  redis.call("HSET", KEYS[2], id .. ":fr", fr)
else
  fr = redis.call("HGET", KEYS[2], id .. ":fr")
end
return {id, body, rc, fr}
"#
    ))
});

/// KEYS: sorted set, hash. Returns nil, {id, body, rc, fr}, or QUEUE_NOT_FOUND.
pub(crate) static POP_MESSAGE: LazyLock<Script> = LazyLock::new(|| {
    build(&format!(
        "{}{TAKE_FIRST}{}",
        r#"
if redis.call("HEXISTS", KEYS[2], "vt") == 0 then return -1 end
"#,
        r#"
local fr
if rc == 1 then
  fr = fmt(ms)
else
  fr = redis.call("HGET", KEYS[2], id .. ":fr")
end
redis.call("ZREM", KEYS[1], id)
redis.call("HDEL", KEYS[2], id, id .. ":rc", id .. ":fr")
return {id, body, rc, fr}
"#
    ))
});

/// KEYS: sorted set, hash. ARGV: id. Returns 1 when the message was there, else 0.
pub(crate) static DELETE_MESSAGE: LazyLock<Script> = LazyLock::new(|| {
    build(
        r#"
local z = redis.call("ZREM", KEYS[1], ARGV[1])
local h = redis.call("HDEL", KEYS[2], ARGV[1], ARGV[1] .. ":rc", ARGV[1] .. ":fr")
if z == 1 and h > 0 then return 1 end
return 0
"#,
    )
});

/// KEYS: sorted set, hash. ARGV: id, vt in score units.
/// Returns 1 when the message was there, 0 when not, or QUEUE_NOT_FOUND.
pub(crate) static CHANGE_VISIBILITY: LazyLock<Script> = LazyLock::new(|| {
    build(
        r#"
if redis.call("HEXISTS", KEYS[2], "vt") == 0 then return -1 end
if not redis.call("ZSCORE", KEYS[1], ARGV[1]) then return 0 end
local sec, now = clock()
redis.call("ZADD", KEYS[1], fmt(now + tonumber(ARGV[2])), ARGV[1])
return 1
"#,
    )
});
