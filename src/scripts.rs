//! The Lua scripts: one per operation, each one atomic round trip.
//!
//! Invariants every script keeps:
//! - every key it touches arrives in `KEYS`; ids, durations and names arrive in `ARGV`;
//! - the only clock is Redis `TIME`, read inside the script (`SEND_STORED` gets the reading
//!   its ids were made from, taken by the same call one round trip earlier);
//! - it validates what only the server can know (does the queue exist, is the body within
//!   `maxsize`) before its first write, and answers a negative error code instead of writing;
//! - numbers are written with `fmt` (`string.format("%d")`), never `tostring`, which would turn
//!   a microsecond score into exponent notation, and every argument of `redis.call` is a
//!   string: Redis formats a Lua number argument with `%.17g`, and the C library's float
//!   formatting and parsing are the dearest steps of a short script (measured with callgrind:
//!   about 4,800 instructions for one `%.0f` against 2,100 for `%d`, and 24,000 for a
//!   table-built base-36 id against 3,400 for the one below);
//! - the hot scripts (send, receive, pop, delete) build no table they do not return.
//!
//! A call sends `EVALSHA`; when the server answers `NOSCRIPT` (after a restart or
//! `SCRIPT FLUSH`) it sends `EVAL` with the source, which runs and caches the script at once.

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

/// A time in epoch microseconds in score units, rounded down.
pub(crate) fn score_time(micros: u64) -> u64 {
    #[cfg(not(feature = "break-js-comp"))]
    return micros / 1000;
    #[cfg(feature = "break-js-comp")]
    return micros;
}

/// A number of score units as a duration.
pub(crate) fn from_score_units(units: u64) -> Duration {
    #[cfg(not(feature = "break-js-comp"))]
    return Duration::from_millis(units);
    #[cfg(feature = "break-js-comp")]
    return Duration::from_micros(units);
}

/// The unit of scores: milliseconds, as the JavaScript client writes them.
#[cfg(not(feature = "break-js-comp"))]
const PRELUDE: &str = "local UNITS = 1000\n";

/// The unit of scores: microseconds (breaks compatibility with the JavaScript client).
#[cfg(feature = "break-js-comp")]
const PRELUDE: &str = "local UNITS = 1000000\n";

/// `clock()`: the Redis time as numbers (seconds, score now, ms now, microseconds of the
/// second). `clock_s()`: as strings (score now, ms now), with no number parsing or
/// formatting, for scripts that only compare and store the time.
#[cfg(not(feature = "break-js-comp"))]
const CLOCKS: [&str; 2] = [
    r#"
local function clock()
  local t = redis.call("TIME")
  local sec, usec = tonumber(t[1]), tonumber(t[2])
  local ms = sec * 1000 + (usec - usec % 1000) / 1000
  return sec, ms, ms, usec
end
"#,
    r#"
local function clock_s()
  local t = redis.call("TIME")
  local u = t[2]
  if #u < 6 then u = string.rep("0", 6 - #u) .. u end
  local ms = t[1] .. string.sub(u, 1, 3)
  return ms, ms
end
"#,
];

#[cfg(feature = "break-js-comp")]
const CLOCKS: [&str; 2] = [
    r#"
local function clock()
  local t = redis.call("TIME")
  local sec, usec = tonumber(t[1]), tonumber(t[2])
  return sec, sec * 1000000 + usec, sec * 1000 + (usec - usec % 1000) / 1000, usec
end
"#,
    r#"
local function clock_s()
  local t = redis.call("TIME")
  local u = t[2]
  if #u < 6 then u = string.rep("0", 6 - #u) .. u end
  return t[1] .. u, t[1] .. string.sub(u, 1, 3)
end
"#,
];

/// Shared Lua helpers, each defined in a script only when the script (or a helper it
/// includes) calls it: defining a function costs time on every call of a script. A helper
/// may call only helpers listed before it.
const HELPERS: &[(&str, &str)] = &[
    ("clock", CLOCKS[0]),
    ("clock_s", CLOCKS[1]),
    (
        "fmt",
        r#"
-- n is a whole number below 2^63 (a score, a count): "%d" is exact and cheap.
local function fmt(n)
  return string.format("%d", n)
end
"#,
    ),
    (
        "seconds",
        r#"
-- A stored vt or delay in seconds; a foreign value beyond the 9,999,999 s maximum counts as
-- the maximum (so a score stays a whole number that fmt can write).
local function seconds(v)
  if v == "0" then return 0 end
  local n = tonumber(v)
  if n == nil or n ~= n or n < 0 then return nil end
  if n > 9999999 then return 9999999 end
  return n
end
"#,
    ),
    (
        "attributes",
        r#"
local function attributes(zset, hash)
  local sec, now, ms = clock()
  local a = redis.call("HMGET", hash, "vt", "delay", "maxsize", "totalrecv", "totalsent", "created", "modified")
  if not a[1] then return -1 end
  a[8] = redis.call("ZCARD", zset)
  a[9] = redis.call("ZCOUNT", zset, fmt(sec * UNITS), "+inf")
  a[10] = redis.call("ZCOUNT", zset, "-inf", fmt(now))
  a[11] = redis.call("ZRANGE", zset, "0", "0")[1] or false
  a[12] = ms
  return a
end
"#,
    ),
    (
        "next_due",
        r#"
-- Nothing receivable: {score units until the next message is due}, or nil for an empty queue.
local function next_due(zset, now)
  local head = redis.call("ZRANGE", zset, "0", "0", "WITHSCORES")
  if head[2] == nil then return false end
  local wait = tonumber(head[2]) - now
  if not (wait > 0) then wait = 0 end
  if wait > 1e15 then wait = 1e15 end
  return {fmt(wait)}
end
"#,
    ),
    (
        "drop_orphan",
        r#"
-- Drops a sorted-set member that has no body (left by a crashed writer that was not atomic).
local function drop_orphan(zset, hash, id)
  redis.call("ZREM", zset, id)
  redis.call("HDEL", hash, id .. ":rc", id .. ":fr")
end
"#,
    ),
    (
        "count_receive",
        r#"
-- Counts a receive of message id: its rc, and its fr (written on the first receive, as
-- ms now, given as a string). Returns rc, fr.
local function count_receive(hash, id, ms, write_fr)
  local rc = redis.call("HINCRBY", hash, id .. ":rc", "1")
  if rc == 1 then
    if write_fr then redis.call("HSET", hash, id .. ":fr", ms) end
    return rc, ms
  end
  return rc, redis.call("HGET", hash, id .. ":fr")
end
"#,
    ),
    (
        "deliver",
        r#"
-- Hides message id until score and counts the receive. Returns the reply {id, body, rc, fr}.
local function deliver(zset, hash, id, body, score, ms)
  redis.call("ZADD", zset, score, id)
  local rc, fr = count_receive(hash, id, ms, true)
  return {id, body, rc, fr}
end
"#,
    ),
    (
        "notify",
        r#"
-- The realtime notification: the queue's size on its channel ("" = realtime off).
local function notify(channel, zset)
  if channel ~= "" then redis.call("PUBLISH", channel, redis.call("ZCARD", zset)) end
end
"#,
    ),
    (
        "b36",
        r#"
-- n (below 36^10) as 10 base-36 digits, lowercase, zero-padded: the time part of an id,
-- which has exactly 10 digits from 1973 to 2085. Plain arithmetic and one string.char: no
-- table, no loop.
local function b36(n)
  local d0 = n % 36 n = (n - d0) / 36
  local d1 = n % 36 n = (n - d1) / 36
  local d2 = n % 36 n = (n - d2) / 36
  local d3 = n % 36 n = (n - d3) / 36
  local d4 = n % 36 n = (n - d4) / 36
  local d5 = n % 36 n = (n - d5) / 36
  local d6 = n % 36 n = (n - d6) / 36
  local d7 = n % 36 n = (n - d7) / 36
  local d8 = n % 36 n = (n - d8) / 36
  local d9 = n % 36
  return string.char(d9 < 10 and d9 + 48 or d9 + 87, d8 < 10 and d8 + 48 or d8 + 87,
    d7 < 10 and d7 + 48 or d7 + 87, d6 < 10 and d6 + 48 or d6 + 87,
    d5 < 10 and d5 + 48 or d5 + 87, d4 < 10 and d4 + 48 or d4 + 87,
    d3 < 10 and d3 + 48 or d3 + 87, d2 < 10 and d2 + 48 or d2 + 87,
    d1 < 10 and d1 + 48 or d1 + 87, d0 < 10 and d0 + 48 or d0 + 87)
end
"#,
    ),
];

/// A script and its source.
pub(crate) struct Lua {
    source: String,
    script: Script,
}

impl std::ops::Deref for Lua {
    type Target = Script;
    fn deref(&self) -> &Script {
        &self.script
    }
}

impl Lua {
    /// `EVAL` with the source (not `EVALSHA`), for a script queued in `MULTI`: there a
    /// `NOSCRIPT` would come only after the commands before it had run.
    pub(crate) fn eval(&self, keys: &[&str]) -> redis::Cmd {
        let mut cmd = redis::cmd("EVAL");
        cmd.arg(self.source.as_str()).arg(keys.len()).arg(keys);
        cmd
    }

    /// Starts a call of this script with its `KEYS`; add `ARGV` with [`Invocation::arg`].
    pub(crate) fn call(&self, keys: &[&str]) -> Invocation<'_> {
        // Sized for the keys and a few short ARGV (a single send's fit), so building a call
        // does not reallocate its buffers arg by arg.
        let key_bytes: usize = keys.iter().map(|k| k.len()).sum();
        let mut cmd = redis::Cmd::with_capacity(keys.len() + 8, key_bytes + 320);
        cmd.arg("EVALSHA")
            .arg(self.script.get_hash())
            .arg(keys.len())
            .arg(keys);
        Invocation { lua: self, cmd }
    }
}

/// One call of a script: `EVALSHA sha numkeys KEYS.. ARGV..`.
pub(crate) struct Invocation<'a> {
    lua: &'a Lua,
    cmd: redis::Cmd,
}

impl Invocation<'_> {
    /// Appends an `ARGV` value.
    pub(crate) fn arg<T: redis::ToRedisArgs>(&mut self, arg: T) -> &mut Self {
        self.cmd.arg(arg);
        self
    }

    /// Runs the script: `EVALSHA`, and when Redis has forgotten the script (a restart, a
    /// `SCRIPT FLUSH`), `EVAL` with the source, which runs it and caches it again in the same
    /// step. Unlike load-then-retry, this cannot lose a race with another flush.
    pub(crate) async fn invoke<C>(&self, con: &mut C) -> redis::RedisResult<redis::Value>
    where
        C: redis::aio::ConnectionLike + Send,
    {
        match self.cmd.query_async(con).await {
            Err(e) if e.kind() == redis::ErrorKind::Server(redis::ServerErrorKind::NoScript) => {
                let mut eval = redis::cmd("EVAL");
                eval.arg(self.lua.source.as_str());
                // Skip the command name and the hash.
                for arg in self.cmd.args_iter().skip(2) {
                    if let redis::Arg::Simple(bytes) = arg {
                        eval.arg(bytes);
                    }
                }
                eval.query_async(con).await
            }
            other => other,
        }
    }
}

/// The helpers `code` needs, in definition order.
fn helpers_for(code: &str) -> String {
    let mut needed = vec![false; HELPERS.len()];
    let mut text = code.to_string();
    for (i, (name, source)) in HELPERS.iter().enumerate().rev() {
        if text.contains(&format!("{name}(")) {
            needed[i] = true;
            text.push_str(source);
        }
    }
    HELPERS
        .iter()
        .zip(needed)
        .filter(|(_, n)| *n)
        .map(|((_, source), _)| *source)
        .collect()
}

fn build(body: &str) -> Lua {
    let source = format!("{PRELUDE}{}{body}", helpers_for(body));
    Lua {
        script: Script::new(&source),
        source,
    }
}

/// KEYS: hash, queues set. ARGV: vt seconds, delay seconds, maxsize, qname.
/// Returns 1, or QUEUE_EXISTS.
pub(crate) static CREATE_QUEUE: LazyLock<Lua> = LazyLock::new(|| {
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
pub(crate) static DELETE_QUEUE: LazyLock<Lua> = LazyLock::new(|| {
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

/// KEYS: sorted set, hash. Returns the attribute array (vt, delay, maxsize, totalrecv,
/// totalsent, created, modified, msgs, hiddenmsgs, visible count, id at the head, now in ms),
/// or QUEUE_NOT_FOUND.
pub(crate) static GET_ATTRIBUTES: LazyLock<Lua> = LazyLock::new(|| {
    build(
        r#"
return attributes(KEYS[1], KEYS[2])
"#,
    )
});

/// KEYS: sorted set, hash. ARGV: vt seconds, delay seconds, maxsize ("" = unchanged).
/// Returns the attribute array, or QUEUE_NOT_FOUND.
pub(crate) static SET_ATTRIBUTES: LazyLock<Lua> = LazyLock::new(|| {
    build(
        r#"
if redis.call("HEXISTS", KEYS[2], "vt") == 0 then return -1 end
local sec = clock()
redis.call("HSET", KEYS[2], "modified", fmt(sec))
if ARGV[1] ~= "" then redis.call("HSET", KEYS[2], "vt", ARGV[1]) end
if ARGV[2] ~= "" then redis.call("HSET", KEYS[2], "delay", ARGV[2]) end
if ARGV[3] ~= "" then redis.call("HSET", KEYS[2], "maxsize", ARGV[3]) end
return attributes(KEYS[1], KEYS[2])
"#,
    )
});

/// KEYS: sorted set, hash. ARGV: id suffix, body, delay in score units ("" = the queue's),
/// realtime channel ("" = none). Returns the new id, or an error code.
pub(crate) static SEND_MESSAGE: LazyLock<Lua> = LazyLock::new(|| {
    build(
        r#"
local q = redis.call("HMGET", KEYS[2], "vt", "delay", "maxsize")
if not q[1] then return -1 end
local maxsize = 65536
if q[3] ~= "65536" then maxsize = tonumber(q[3]) end
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
local id = b36(sec * 1000000 + usec) .. ARGV[1]
redis.call("ZADD", KEYS[1], fmt(now + delay), id)
redis.call("HSET", KEYS[2], id, ARGV[2])
redis.call("HINCRBY", KEYS[2], "totalsent", "1")
notify(ARGV[4], KEYS[1])
return id
"#,
    )
});

/// The part shared by receive and pop: find the first receivable message that has a body,
/// dropping body-less members (left by a crashed non-atomic writer) on the way, so they
/// never block the queue. One HMGET reads body, rc and fr together. Defines `id`, `f`
/// (body, rc, fr), `now_s` and `ms_s`; `rc` is the receive count after this receive.
const TAKE_FIRST: &str = r#"
local now_s, ms_s = clock_s()
local id, f
for _ = 1, 100 do
  local m = redis.call("ZRANGEBYSCORE", KEYS[1], "-inf", now_s, "LIMIT", "0", "1")
  if #m == 0 then
    if EMPTY_CHECK and redis.call("HEXISTS", KEYS[2], "vt") == 0 then return -1 end
    return next_due(KEYS[1], tonumber(now_s))
  end
  f = redis.call("HMGET", KEYS[2], m[1], m[1] .. ":rc", m[1] .. ":fr")
  if f[1] then
    id = m[1]
    break
  end
  drop_orphan(KEYS[1], KEYS[2], m[1])
end
if not id then return false end
local rc = 1
if f[2] then rc = (tonumber(f[2]) or 0) + 1 end
redis.call("HINCRBY", KEYS[2], "totalrecv", "1")
"#;

/// KEYS: sorted set, hash. ARGV: vt in score units ("" = the queue's).
/// Returns {id, body, rc, fr}; when nothing is receivable {units until the next is due}, or
/// nil for an empty queue; or an error code.
pub(crate) static RECEIVE_MESSAGE: LazyLock<Lua> = LazyLock::new(|| {
    build(&format!(
        "local EMPTY_CHECK = false\n{VT_FROM_ARGV}{TAKE_FIRST}{}",
        r#"
local fr = f[3]
if rc == 1 then
  redis.call("HSET", KEYS[2], id .. ":rc", "1", id .. ":fr", ms_s)
  fr = ms_s
else
  redis.call("HSET", KEYS[2], id .. ":rc", fmt(rc))
end
redis.call("ZADD", KEYS[1], fmt(tonumber(now_s) + vt), id)
return {id, f[1], rc, fr}
"#
    ))
});

/// KEYS: sorted set, hash. Returns nil, {id, body, rc, fr}, or QUEUE_NOT_FOUND. The queue's
/// existence is checked when nothing is receivable: a message found in its hash proves it.
pub(crate) static POP_MESSAGE: LazyLock<Lua> = LazyLock::new(|| {
    build(&format!(
        "local EMPTY_CHECK = true\n{TAKE_FIRST}{}",
        r#"
redis.call("ZREM", KEYS[1], id)
redis.call("HDEL", KEYS[2], id, id .. ":rc", id .. ":fr")
local fr = f[3]
if rc == 1 then fr = ms_s end
return {id, f[1], rc, fr}
"#
    ))
});

/// KEYS: sorted set, hash. ARGV: id, vt in score units.
/// Returns 1 when the message was there, 0 when not, or QUEUE_NOT_FOUND.
pub(crate) static CHANGE_VISIBILITY: LazyLock<Lua> = LazyLock::new(|| {
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

/// The part of receive scripts that sets `vt` (score units) from ARGV[1] or the queue default,
/// failing with QUEUE_NOT_FOUND or BAD_VT.
const VT_FROM_ARGV: &str = r#"
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
"#;

/// KEYS: sorted set, hash. ARGV: delay in score units ("" = the queue's), realtime channel
/// ("" = none), then a random id suffix and a body per message.
/// Message i (from 0) gets the id `b36(T + i) .. suffix_i`, T being the Redis time in
/// microseconds: time parts increase by 1 µs each, so the ids sort and are received in input
/// order. Returns {T} (the caller makes the same ids; returning them would cost Redis more
/// than all of their arithmetic), or an error code. Checks every body before writing any.
pub(crate) static SEND_MESSAGE_BATCH: LazyLock<Lua> = LazyLock::new(|| {
    build(
        r#"
local q = redis.call("HMGET", KEYS[2], "vt", "delay", "maxsize")
if not q[1] then return -1 end
local maxsize = tonumber(q[3])
if maxsize == nil then return -4 end
local n = (#ARGV - 2) / 2
if maxsize ~= -1 then
  for i = 1, n do
    if #ARGV[2 + 2 * i] > maxsize then return -5 end
  end
end
local delay
if ARGV[1] == "" then
  delay = seconds(q[2])
  if delay == nil then return -3 end
  delay = math.floor(delay * UNITS)
else
  delay = tonumber(ARGV[1])
end
local sec, now, ms, usec = clock()
local base = sec * 1000000 + usec
local score = fmt(now + delay)
-- Message i's time part is base + i - 1 in base 36: the high digits change only every
-- 1296 µs, so they are computed once per change and the last two digits per message.
local zadd, hset = {}, {}
local high, high_s
for i = 1, n do
  local t = base + i - 1
  local low = t % 1296
  local h = (t - low) / 1296
  if h ~= high then
    high, high_s = h, string.sub(b36(h), 3)
  end
  local d1 = low % 36
  local d0 = (low - d1) / 36
  local id = high_s .. string.char(d0 < 10 and d0 + 48 or d0 + 87, d1 < 10 and d1 + 48 or d1 + 87)
    .. ARGV[1 + 2 * i]
  zadd[2 * i - 1] = score
  zadd[2 * i] = id
  hset[2 * i - 1] = id
  hset[2 * i] = ARGV[2 + 2 * i]
end
redis.call("ZADD", KEYS[1], unpack(zadd))
redis.call("HSET", KEYS[2], unpack(hset))
redis.call("HINCRBY", KEYS[2], "totalsent", fmt(n))
notify(ARGV[2], KEYS[1])
return {base}
"#,
    )
});

/// The coalesced sends, each failing alone: `SEND_MESSAGES` (`STORED = false`: the bodies
/// come in `ARGV`, the script reads `TIME` and makes the ids) and `SEND_STORED` (`STORED =
/// true`: the bodies are in the hash already, under ids made from the time in `ARGV[2]`).
const SEND_EACH: &str = r#"
local first = STORED and 3 or 2
local n = (#ARGV - first + 1) / 3
local q = redis.call("HMGET", KEYS[2], "vt", "delay", "maxsize")
local maxsize = tonumber(q[3])
local out, zadd, hset, drop, k = {}, {}, {}, {}, 0
if not q[1] or maxsize == nil then
  if STORED then
    for i = 1, n do drop[i] = ARGV[3 * i] end
    redis.call("HDEL", KEYS[2], unpack(drop))
  end
  if not q[1] then return -1 end
  return -4
end
local now, base
if STORED then
  now = tonumber(ARGV[2])
else
  local sec, t, _, usec = clock()
  now, base = t, sec * 1000000 + usec
end
local qdelay
for i = 1, n do
  -- STORED: id, body length, delay; else: id suffix, body, delay.
  local a, b, delay = ARGV[first + 3 * i - 3], ARGV[first + 3 * i - 2], ARGV[first + 3 * i - 1]
  if delay == "" then
    if qdelay == nil then
      qdelay = seconds(q[2])
      if qdelay ~= nil then qdelay = math.floor(qdelay * UNITS) else qdelay = false end
    end
    delay = qdelay
  else
    delay = tonumber(delay)
  end
  local len
  if STORED then len = tonumber(b) else len = #b end
  if maxsize ~= -1 and len > maxsize then
    out[i] = -5
    if STORED then drop[#drop + 1] = a end
  elseif not delay then
    out[i] = -3
    if STORED then drop[#drop + 1] = a end
  else
    local id = a
    if not STORED then
      id = b36(base + i - 1) .. a
      hset[2 * k + 1] = id
      hset[2 * k + 2] = b
    end
    out[i] = id
    zadd[2 * k + 1] = fmt(now + delay)
    zadd[2 * k + 2] = id
    k = k + 1
  end
end
if #drop > 0 then redis.call("HDEL", KEYS[2], unpack(drop)) end
if k > 0 then
  redis.call("ZADD", KEYS[1], unpack(zadd))
  if not STORED then redis.call("HSET", KEYS[2], unpack(hset)) end
  redis.call("HINCRBY", KEYS[2], "totalsent", fmt(k))
  if ARGV[1] ~= "" then
    local total = redis.call("ZCARD", KEYS[1])
    for j = 1, k do redis.call("PUBLISH", ARGV[1], fmt(total - k + j)) end
  end
end
return out
"#;

/// The coalesced send: concurrent sends to one queue from one client, in one call.
/// KEYS: sorted set, hash. ARGV: realtime channel ("" = none), then per message: random id
/// suffix, body, delay in score units ("" = the queue's).
/// Returns per message its id, or MESSAGE_TOO_LONG or BAD_DELAY for that message alone; or
/// one error code for all (QUEUE_NOT_FOUND, BAD_MAXSIZE). Ids get increasing time parts, in
/// input order. With realtime, one PUBLISH per message, as single sends would make.
pub(crate) static SEND_MESSAGES: LazyLock<Lua> =
    LazyLock::new(|| build(&format!("local STORED = false\n{SEND_EACH}")));

/// The second step of a large coalesced send ([`crate::engine`]: bodies of 32 KiB or more
/// together), run in `MULTI` right after an `HSET` that stored the bodies under their ids, so
/// the bodies never pass through Lua (which costs Redis about 25 µs per 16 KiB argument, more
/// than the `HSET` itself). It keeps the effects of `SEND_MESSAGES`; where a send must fail,
/// it removes its body again, so the transaction as a whole writes nothing for it.
/// KEYS: sorted set, hash. ARGV: realtime channel ("" = off), the Redis `TIME` the ids were
/// made from, in score units (scores count from it, as the JavaScript client's do from the
/// time its ids carry), then per message: id, body length, delay in score units ("" = the
/// queue's). Returns as `SEND_MESSAGES` does.
pub(crate) static SEND_STORED: LazyLock<Lua> =
    LazyLock::new(|| build(&format!("local STORED = true\n{SEND_EACH}")));

/// The second step of a stored batch send (see `SEND_STORED`; the engine takes this path
/// for batches of large bodies or many messages): the bodies are in the hash already, under
/// their ids. All or nothing, as `SEND_MESSAGE_BATCH`: when the queue is missing or the
/// longest body is over `maxsize`, it removes every body again and answers the code.
/// KEYS: sorted set, hash. ARGV: realtime channel ("" = off), the Redis `TIME` the ids were
/// made from, in score units, delay in score units ("" = the queue's), the longest body's
/// length, then the ids. Returns the number sent, or an error code.
pub(crate) static SEND_BATCH_STORED: LazyLock<Lua> = LazyLock::new(|| {
    build(
        r#"
local function undo(code)
  redis.call("HDEL", KEYS[2], unpack(ARGV, 5))
  return code
end
local q = redis.call("HMGET", KEYS[2], "vt", "delay", "maxsize")
if not q[1] then return undo(-1) end
local maxsize = tonumber(q[3])
if maxsize == nil then return undo(-4) end
if maxsize ~= -1 and tonumber(ARGV[4]) > maxsize then return undo(-5) end
local delay
if ARGV[3] == "" then
  delay = seconds(q[2])
  if delay == nil then return undo(-3) end
  delay = math.floor(delay * UNITS)
else
  delay = tonumber(ARGV[3])
end
local score = fmt(tonumber(ARGV[2]) + delay)
local n = #ARGV - 4
local zadd = {}
for i = 1, n do
  zadd[2 * i - 1] = score
  zadd[2 * i] = ARGV[4 + i]
end
redis.call("ZADD", KEYS[1], unpack(zadd))
redis.call("HINCRBY", KEYS[2], "totalsent", fmt(n))
notify(ARGV[1], KEYS[1])
return n
"#,
    )
});

/// The coalesced delete: concurrent deletes on one queue from one client, in one call.
/// KEYS: sorted set, hash. ARGV: ids. Returns per id 1 when the message was there, else 0
/// (a repeated id: 1 the first time).
pub(crate) static DELETE_MESSAGES: LazyLock<Lua> = LazyLock::new(|| {
    build(
        r#"
local out = {}
for i = 1, #ARGV do
  local id = ARGV[i]
  local z = redis.call("ZREM", KEYS[1], id)
  local h = redis.call("HDEL", KEYS[2], id, id .. ":rc", id .. ":fr")
  if z == 1 and h > 0 then out[i] = 1 else out[i] = 0 end
end
return out
"#,
    )
});

/// The batch receive, with (`BODIES = true`) or without the bodies: `RECEIVE_MESSAGE_BATCH`
/// and `RECEIVE_HEADS`.
const RECEIVE_BATCH: &str = r#"
local now_s, ms_s = clock_s()
local out = {}
local m = redis.call("ZRANGEBYSCORE", KEYS[1], "-inf", now_s, "LIMIT", "0", ARGV[2])
if #m == 0 then return out end
local score = fmt(tonumber(now_s) + vt)
-- One HMGET for every body, rc and fr (the bodies only with BODIES: otherwise HEXISTS
-- tells which are there); one ZADD and one HSET for all that are delivered.
local w = BODIES and 3 or 2
local fields = {}
for i, id in ipairs(m) do
  if BODIES then fields[3 * i - 2] = id end
  fields[w * i - 1] = id .. ":rc"
  fields[w * i] = id .. ":fr"
end
local f = redis.call("HMGET", KEYS[2], unpack(fields))
local zadd, hset = {}, {}
for i, id in ipairs(m) do
  local body
  if BODIES then body = f[3 * i - 2] else body = redis.call("HEXISTS", KEYS[2], id) == 1 end
  if body then
    local rc, fr = 1, f[w * i]
    if f[w * i - 1] then rc = (tonumber(f[w * i - 1]) or 0) + 1 end
    zadd[#zadd + 1] = score
    zadd[#zadd + 1] = id
    hset[#hset + 1] = fields[w * i - 1]
    if rc == 1 then
      hset[#hset + 1] = "1"
      hset[#hset + 1] = fields[w * i]
      hset[#hset + 1] = ms_s
      fr = ms_s
    else
      hset[#hset + 1] = fmt(rc)
    end
    if BODIES then out[#out + 1] = {id, body, rc, fr} else out[#out + 1] = {id, rc, fr} end
  else
    drop_orphan(KEYS[1], KEYS[2], id)
  end
end
if #out > 0 then
  redis.call("ZADD", KEYS[1], unpack(zadd))
  redis.call("HSET", KEYS[2], unpack(hset))
  redis.call("HINCRBY", KEYS[2], "totalrecv", fmt(#out))
end
return out
"#;

/// KEYS: sorted set, hash. ARGV: vt in score units ("" = the queue's), max.
/// Returns an array of {id, body, rc, fr} (at most max; fewer when fewer are receivable or
/// body-less members were dropped), or an error code.
pub(crate) static RECEIVE_MESSAGE_BATCH: LazyLock<Lua> = LazyLock::new(|| {
    build(&format!(
        "local BODIES = true\n{VT_FROM_ARGV}{RECEIVE_BATCH}"
    ))
});

/// `RECEIVE_MESSAGE_BATCH` without the bodies, which the caller reads with a plain `HMGET`
/// next (large bodies cost Redis far more inside Lua, see `SEND_STORED`). Returns an array
/// of {id, rc, fr}, or an error code.
pub(crate) static RECEIVE_HEADS: LazyLock<Lua> = LazyLock::new(|| {
    build(&format!(
        "local BODIES = false\n{VT_FROM_ARGV}{RECEIVE_BATCH}"
    ))
});

/// KEYS: sorted set, hash. ARGV: vt in score units, then ids.
/// Returns how many of them were in the queue, or QUEUE_NOT_FOUND.
pub(crate) static CHANGE_VISIBILITY_BATCH: LazyLock<Lua> = LazyLock::new(|| {
    build(
        r#"
if redis.call("HEXISTS", KEYS[2], "vt") == 0 then return -1 end
local sec, now = clock()
local score = fmt(now + tonumber(ARGV[1]))
local n = 0
for i = 2, #ARGV do
  if redis.call("ZSCORE", KEYS[1], ARGV[i]) then
    redis.call("ZADD", KEYS[1], score, ARGV[i])
    n = n + 1
  end
end
return n
"#,
    )
});

/// Moves message `id` (known to be in `src`) to `dst`, visible at `score`, keeping body, rc
/// and fr (or resetting rc and fr when `reset`). A body-less member is only removed.
/// Returns whether a message landed in dst.
const TRANSFER: &str = r#"
local function transfer(src_z, src_h, dst_z, dst_h, id, score, reset)
  local body = redis.call("HGET", src_h, id)
  local rc = redis.call("HGET", src_h, id .. ":rc")
  local fr = redis.call("HGET", src_h, id .. ":fr")
  redis.call("ZREM", src_z, id)
  redis.call("HDEL", src_h, id, id .. ":rc", id .. ":fr")
  if not body then return false end
  redis.call("ZADD", dst_z, score, id)
  redis.call("HSET", dst_h, id, body)
  if rc and not reset then redis.call("HSET", dst_h, id .. ":rc", rc) end
  if fr and not reset then redis.call("HSET", dst_h, id .. ":fr", fr) end
  redis.call("HINCRBY", dst_h, "totalsent", "1")
  return true
end
"#;

/// KEYS: src sorted set, src hash, dst sorted set, dst hash. ARGV: id, dst realtime channel.
/// Returns 1 when the message was in src, 0 when not, or QUEUE_NOT_FOUND.
pub(crate) static MOVE_MESSAGE: LazyLock<Lua> = LazyLock::new(|| {
    build(&format!(
        "{TRANSFER}{}",
        r#"
if redis.call("HEXISTS", KEYS[2], "vt") == 0 then return -1 end
if redis.call("HEXISTS", KEYS[4], "vt") == 0 then return -1 end
if not redis.call("ZSCORE", KEYS[1], ARGV[1]) then return 0 end
local sec, now = clock()
if transfer(KEYS[1], KEYS[2], KEYS[3], KEYS[4], ARGV[1], fmt(now), false) then
  notify(ARGV[2], KEYS[3])
end
return 1
"#
    ))
});

/// KEYS: sorted set, hash, dlq sorted set, dlq hash. ARGV: vt in score units ("" = the
/// queue's), max receives, dlq realtime channel.
/// Like receive, but a message that has already been received max-receives times is moved to
/// the DLQ (rc and fr kept) instead, and the next one is tried.
pub(crate) static RECEIVE_MESSAGE_OR_DLQ: LazyLock<Lua> = LazyLock::new(|| {
    build(&format!(
        "{TRANSFER}{VT_FROM_ARGV}{}",
        r#"
if redis.call("HEXISTS", KEYS[4], "vt") == 0 then return -1 end
local max_receives = tonumber(ARGV[2])
local sec, now, ms = clock()
local now_s, ms_s = fmt(now), fmt(ms)
local moved = 0
for _ = 1, 100 do
  local m = redis.call("ZRANGEBYSCORE", KEYS[1], "-inf", now_s, "LIMIT", "0", "1")
  if #m == 0 then break end
  local id = m[1]
  local body = redis.call("HGET", KEYS[2], id)
  if not body then
    drop_orphan(KEYS[1], KEYS[2], id)
  elseif (tonumber(redis.call("HGET", KEYS[2], id .. ":rc")) or 0) >= max_receives then
    transfer(KEYS[1], KEYS[2], KEYS[3], KEYS[4], id, now_s, false)
    moved = moved + 1
  else
    if moved > 0 then notify(ARGV[3], KEYS[3]) end
    redis.call("HINCRBY", KEYS[2], "totalrecv", "1")
    return deliver(KEYS[1], KEYS[2], id, body, fmt(now + vt), ms_s)
  end
end
if moved > 0 then notify(ARGV[3], KEYS[3]) end
return false
"#
    ))
});

/// KEYS: dlq sorted set, dlq hash, dst sorted set, dst hash. ARGV: max, dst realtime channel.
/// Moves up to max receivable messages from the DLQ to dst, visible at once, with rc and fr
/// reset. Returns how many moved, or QUEUE_NOT_FOUND.
pub(crate) static REDRIVE: LazyLock<Lua> = LazyLock::new(|| {
    build(&format!(
        "{TRANSFER}{}",
        r#"
if redis.call("HEXISTS", KEYS[2], "vt") == 0 then return -1 end
if redis.call("HEXISTS", KEYS[4], "vt") == 0 then return -1 end
local sec, now = clock()
local score = fmt(now)
local n = 0
local m = redis.call("ZRANGEBYSCORE", KEYS[1], "-inf", score, "LIMIT", "0", ARGV[1])
for _, id in ipairs(m) do
  if transfer(KEYS[1], KEYS[2], KEYS[3], KEYS[4], id, score, true) then n = n + 1 end
end
if n > 0 then notify(ARGV[2], KEYS[3]) end
return n
"#
    ))
});

/// KEYS: sorted set, hash. ARGV: max. Returns up to max receivable messages as
/// {id, body, rc, fr} without changing anything, or QUEUE_NOT_FOUND.
pub(crate) static PEEK_MESSAGES: LazyLock<Lua> = LazyLock::new(|| {
    build(
        r#"
if redis.call("HEXISTS", KEYS[2], "vt") == 0 then return -1 end
local sec, now = clock()
local out = {}
local m = redis.call("ZRANGEBYSCORE", KEYS[1], "-inf", fmt(now), "LIMIT", "0", ARGV[1])
for _, id in ipairs(m) do
  local body = redis.call("HGET", KEYS[2], id)
  if body then
    local rc = redis.call("HGET", KEYS[2], id .. ":rc") or "0"
    local fr = redis.call("HGET", KEYS[2], id .. ":fr") or "0"
    out[#out + 1] = {id, body, rc, fr}
  end
end
return out
"#,
    )
});

/// KEYS: sorted set, hash. Removes every message (members, bodies, rc and fr fields) and
/// keeps the queue, its attributes and counters. Returns how many messages there were, or
/// QUEUE_NOT_FOUND.
pub(crate) static PURGE_QUEUE: LazyLock<Lua> = LazyLock::new(|| {
    build(
        r#"
if redis.call("HEXISTS", KEYS[2], "vt") == 0 then return -1 end
local n = redis.call("ZCARD", KEYS[1])
local keep = {vt = true, delay = true, maxsize = true, created = true, modified = true,
  totalsent = true, totalrecv = true}
for _, f in ipairs(redis.call("HKEYS", KEYS[2])) do
  if not keep[f] then
    local tail = string.sub(f, -3)
    if #f == 32 or tail == ":rc" or tail == ":fr" or redis.call("ZSCORE", KEYS[1], f) then
      redis.call("HDEL", KEYS[2], f)
    end
  end
end
redis.call("DEL", KEYS[1])
return n
"#,
    )
});

/// The Lua source of each operation's script, by operation name, for the benchmark's
/// `redis-benchmark` ceiling runs. Not part of the stable API.
pub fn sources() -> Vec<(&'static str, String)> {
    let all: [(&'static str, &LazyLock<Lua>); 21] = [
        ("create_queue", &CREATE_QUEUE),
        ("delete_queue", &DELETE_QUEUE),
        ("get_queue_attributes", &GET_ATTRIBUTES),
        ("set_queue_attributes", &SET_ATTRIBUTES),
        ("send_message", &SEND_MESSAGE),
        ("receive_message", &RECEIVE_MESSAGE),
        ("pop_message", &POP_MESSAGE),
        ("change_message_visibility", &CHANGE_VISIBILITY),
        ("send_message_batch", &SEND_MESSAGE_BATCH),
        ("send_messages_coalesced", &SEND_MESSAGES),
        ("send_stored_coalesced", &SEND_STORED),
        ("send_batch_stored", &SEND_BATCH_STORED),
        ("delete_messages_coalesced", &DELETE_MESSAGES),
        ("receive_message_batch", &RECEIVE_MESSAGE_BATCH),
        ("receive_heads_coalesced", &RECEIVE_HEADS),
        ("change_message_visibility_batch", &CHANGE_VISIBILITY_BATCH),
        ("move_message", &MOVE_MESSAGE),
        ("receive_message_or_dlq", &RECEIVE_MESSAGE_OR_DLQ),
        ("redrive", &REDRIVE),
        ("peek_messages", &PEEK_MESSAGES),
        ("purge_queue", &PURGE_QUEUE),
    ];
    all.iter()
        .map(|(name, s)| (*name, s.source.clone()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_call_is_evalsha_with_numkeys_keys_then_args_on_the_wire() {
        let mut call = DELETE_MESSAGES.call(&["rsmq:q", "rsmq:q:Q"]);
        call.arg("id1");
        let sha = DELETE_MESSAGES.get_hash();
        let expected = format!(
            "*6\r\n$7\r\nEVALSHA\r\n$40\r\n{sha}\r\n$1\r\n2\r\n$6\r\nrsmq:q\r\n$8\r\nrsmq:q:Q\r\n$3\r\nid1\r\n"
        );
        assert_eq!(call.cmd.get_packed_command(), expected.as_bytes());
    }

    #[test]
    fn every_script_is_listed_with_its_prelude() {
        let sources = sources();
        assert_eq!(sources.len(), 21);
        assert!(sources.iter().all(|(_, s)| s.starts_with("local UNITS")));
        // Helpers come only where they are called.
        let (_, delete) = sources
            .iter()
            .find(|(n, _)| *n == "delete_messages_coalesced")
            .unwrap();
        assert!(!delete.contains("local function clock"));
        let (_, send) = sources.iter().find(|(n, _)| *n == "send_message").unwrap();
        assert!(send.contains("local function clock()") && send.contains("local function b36"));
    }
}
