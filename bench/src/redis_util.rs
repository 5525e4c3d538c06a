//! The Redis side of the bench: where Redis is, a raw connection, pre-filling queues,
//! and removing the bench's keys.

use rsmq_async::redis::{self, aio::MultiplexedConnection, IntoConnectionInfo};

use crate::workload::IdGen;
use crate::Res;

/// Every key the bench writes starts with this, then `-{pid}-`.
pub const KEY_PREFIX: &str = "rsmqbench";

/// Where Redis is, parsed from `--redis-url` with this crate's URL rules.
#[derive(Clone)]
pub struct Target {
    base: rsmq_async::RsmqOptions,
    /// Connections of the `PooledRsmq` cells.
    pub pool_size: u32,
}

impl Target {
    pub fn parse(url: &str, pool_size: u32) -> Res<Target> {
        let base = rsmq_async::RsmqOptions::from_url(url)?;
        if base.tls {
            return Err(
                "the bench does not support rediss:// (redis-benchmark runs plain TCP)".into(),
            );
        }
        Ok(Target { base, pool_size })
    }

    pub fn host(&self) -> &str {
        &self.base.host
    }

    pub fn port(&self) -> u16 {
        self.base.port
    }

    pub fn db(&self) -> u8 {
        self.base.db
    }

    pub fn username(&self) -> Option<&str> {
        self.base.username.as_deref()
    }

    pub fn password(&self) -> Option<&str> {
        self.base.password.as_deref()
    }

    /// Options for this crate's clients, in namespace `ns`.
    pub fn ours(&self, ns: &str) -> rsmq_async::RsmqOptions {
        let mut o = self.base.clone();
        o.ns = ns.to_string();
        o.realtime = false;
        o
    }

    /// Options for `rsmq_async` 18, in namespace `ns`.
    pub fn peer(&self, ns: &str) -> peer::RsmqOptions {
        peer::RsmqOptions {
            host: self.base.host.clone(),
            port: self.base.port,
            db: self.base.db,
            realtime: false,
            username: self.base.username.clone(),
            password: self.base.password.clone(),
            ns: ns.to_string(),
            ..Default::default()
        }
    }

    /// A plain connection for set-up and clean-up.
    pub async fn raw(&self) -> Res<MultiplexedConnection> {
        let mut settings = redis::RedisConnectionInfo::default().set_db(i64::from(self.base.db));
        if let Some(u) = &self.base.username {
            settings = settings.set_username(u);
        }
        if let Some(p) = &self.base.password {
            settings = settings.set_password(p);
        }
        let info = redis::ConnectionAddr::Tcp(self.base.host.clone(), self.base.port)
            .into_connection_info()?
            .set_redis_settings(settings);
        let client = redis::Client::open(info)?;
        // Set-up and clean-up commands can take long (filling or deleting a big queue).
        let config = redis::AsyncConnectionConfig::new()
            .set_response_timeout(Some(std::time::Duration::from_secs(120)));
        Ok(client
            .get_multiplexed_async_connection_with_config(&config)
            .await?)
    }

    /// Connection arguments for `redis-benchmark` and `redis-cli`.
    pub fn cli_args(&self) -> Vec<String> {
        let mut a = vec![
            "-h".to_string(),
            self.base.host.clone(),
            "-p".to_string(),
            self.base.port.to_string(),
        ];
        if let Some(u) = &self.base.username {
            a.extend(["--user".to_string(), u.clone()]);
        }
        if let Some(p) = &self.base.password {
            a.extend(["-a".to_string(), p.clone()]);
        }
        if self.base.db != 0 {
            a.extend(["--dbnum".to_string(), self.base.db.to_string()]);
        }
        a
    }
}

/// The two keys of queue `q` in namespace `ns`: (sorted set, hash).
pub fn queue_keys(ns: &str, q: &str) -> (String, String) {
    (format!("{ns}:{q}"), format!("{ns}:{q}:Q"))
}

/// Writes `count` messages with ids `ids.id(first..)`, receivable now, straight into the
/// queue's sorted set and hash (the layout every client reads). Untimed set-up only.
const FILL: &str = r#"
local t = redis.call("TIME")
local score = string.format("%.0f", tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) - 1000)
local first = tonumber(ARGV[2])
local last = first + tonumber(ARGV[3]) - 1
for i = first, last do
  local id = ARGV[1] .. string.format("%012d", i)
  redis.call("ZADD", KEYS[1], score, id)
  redis.call("HSET", KEYS[2], id, ARGV[4])
end
return last - first + 1
"#;

pub async fn fill(
    con: &mut MultiplexedConnection,
    ns: &str,
    q: &str,
    ids: &IdGen,
    first: u64,
    count: u64,
    body: &[u8],
) -> Res<()> {
    let (zset, hash) = queue_keys(ns, q);
    let script = redis::Script::new(FILL);
    // Keep each script call to about 8 MB of bodies and 5000 messages, so Redis is never blocked for long.
    let chunk = (8 * 1024 * 1024 / body.len().max(1) as u64).clamp(1, 5_000);
    let mut i = first;
    while i < first + count {
        let n = chunk.min(first + count - i);
        let _: i64 = script
            .key(&zset)
            .key(&hash)
            .arg(&ids.prefix)
            .arg(i)
            .arg(n)
            .arg(body)
            .invoke_async(con)
            .await?;
        i += n;
    }
    Ok(())
}

/// Removes every message left in queue `q` (members, bodies, rc and fr; not the queue), 2000
/// per script call so Redis is never blocked for long. Rounds of consuming operations fill
/// more than they use; without this the leftovers of every round would add up.
pub async fn drain(con: &mut MultiplexedConnection, ns: &str, q: &str) -> Res<u64> {
    const DRAIN: &str = r#"
local m = redis.call("ZRANGE", KEYS[1], "0", "1999")
if #m == 0 then return 0 end
local f = {}
for _, id in ipairs(m) do
  f[#f + 1] = id
  f[#f + 1] = id .. ":rc"
  f[#f + 1] = id .. ":fr"
end
redis.call("ZREM", KEYS[1], unpack(m))
redis.call("HDEL", KEYS[2], unpack(f))
return #m
"#;
    let (zset, hash) = queue_keys(ns, q);
    let script = redis::Script::new(DRAIN);
    let mut total = 0;
    loop {
        let n: u64 = script.key(&zset).key(&hash).invoke_async(con).await?;
        if n == 0 {
            return Ok(total);
        }
        total += n;
    }
}

/// A fresh id prefix: 10 base-36 characters of the Redis time in microseconds (as real ids
/// start) and 10 random letters; the fill script appends a 12-digit index.
pub async fn new_ids(con: &mut MultiplexedConnection) -> Res<IdGen> {
    let (sec, usec): (u64, u64) = redis::cmd("TIME").query_async(con).await?;
    let mut prefix = base36(sec * 1_000_000 + usec);
    while prefix.len() < 10 {
        prefix.insert(0, '0');
    }
    prefix.extend(std::iter::repeat_with(fastrand::alphabetic).take(10));
    Ok(IdGen { prefix })
}

fn base36(mut n: u64) -> String {
    const DIGITS: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyz";
    let mut out = Vec::new();
    loop {
        out.push(DIGITS[(n % 36) as usize]);
        n /= 36;
        if n == 0 {
            break;
        }
    }
    out.reverse();
    String::from_utf8(out).unwrap_or_default()
}

/// Deletes every key matching `pattern` (synchronously, so freeing memory is not left to a
/// background thread that would run during the next cell). Returns how many.
pub async fn delete_matching(con: &mut MultiplexedConnection, pattern: &str) -> Res<u64> {
    let mut cursor: u64 = 0;
    let mut n = 0;
    loop {
        let (next, keys): (u64, Vec<String>) = redis::cmd("SCAN")
            .arg(cursor)
            .arg("MATCH")
            .arg(pattern)
            .arg("COUNT")
            .arg(1000)
            .query_async(con)
            .await?;
        if !keys.is_empty() {
            let _: i64 = redis::cmd("DEL").arg(&keys).query_async(con).await?;
            n += keys.len() as u64;
        }
        if next == 0 {
            return Ok(n);
        }
        cursor = next;
    }
}

/// Deletes the keys a crashed or interrupted earlier run left behind (their process is gone).
pub async fn sweep_stale(con: &mut MultiplexedConnection) -> Res<u64> {
    let mut cursor: u64 = 0;
    let mut stale = Vec::new();
    let me = std::process::id();
    loop {
        let (next, keys): (u64, Vec<String>) = redis::cmd("SCAN")
            .arg(cursor)
            .arg("MATCH")
            .arg(format!("{KEY_PREFIX}-*"))
            .arg("COUNT")
            .arg(1000)
            .query_async(con)
            .await?;
        for k in keys {
            let pid = k
                .strip_prefix(KEY_PREFIX)
                .and_then(|r| r.strip_prefix('-'))
                .and_then(|r| r.split('-').next())
                .and_then(|p| p.parse::<u32>().ok());
            if let Some(pid) = pid {
                if pid != me && !std::path::Path::new(&format!("/proc/{pid}")).exists() {
                    stale.push(k);
                }
            }
        }
        if next == 0 {
            break;
        }
        cursor = next;
    }
    for chunk in stale.chunks(500) {
        let _: i64 = redis::cmd("DEL").arg(chunk).query_async(con).await?;
    }
    Ok(stale.len() as u64)
}

/// `SCRIPT LOAD`: the sha of `source`.
pub async fn script_load(con: &mut MultiplexedConnection, source: &str) -> Res<String> {
    Ok(redis::cmd("SCRIPT")
        .arg("LOAD")
        .arg(source)
        .query_async(con)
        .await?)
}

/// The number of members of a sorted set.
pub async fn zcard(con: &mut MultiplexedConnection, key: &str) -> Res<u64> {
    Ok(redis::cmd("ZCARD").arg(key).query_async(con).await?)
}

/// A field of `INFO server`, e.g. `redis_version`.
pub async fn server_info(con: &mut MultiplexedConnection, field: &str) -> Res<String> {
    let info: String = redis::cmd("INFO").arg("server").query_async(con).await?;
    Ok(info
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")))
        .unwrap_or("?")
        .trim()
        .to_string())
}

/// CPU seconds Redis's main thread has used (user + system), from `INFO cpu`.
pub async fn redis_cpu_s(con: &mut MultiplexedConnection) -> Res<f64> {
    let info: String = redis::cmd("INFO").arg("cpu").query_async(con).await?;
    let field = |name: &str| {
        info.lines()
            .find_map(|l| l.strip_prefix(&format!("{name}:")))
            .and_then(|v| v.trim().parse::<f64>().ok())
    };
    match (
        field("used_cpu_user_main_thread"),
        field("used_cpu_sys_main_thread"),
    ) {
        (Some(u), Some(s)) => Ok(u + s),
        _ => Ok(field("used_cpu_user").unwrap_or(0.0) + field("used_cpu_sys").unwrap_or(0.0)),
    }
}

/// CPU seconds this process has used (user + system, all threads), from `/proc/self/stat`
/// (10 ms resolution).
pub fn process_cpu_s() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command name (which is in parentheses): state is field 3, utime 14,
    // stime 15.
    let rest = &stat[stat.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    let utime: f64 = f.get(11)?.parse().ok()?;
    let stime: f64 = f.get(12)?.parse().ok()?;
    Some((utime + stime) / 100.0)
}

/// Calls per command so far, from `INFO commandstats` (commands inside scripts count too).
pub async fn command_calls(
    con: &mut MultiplexedConnection,
) -> Res<std::collections::BTreeMap<String, u64>> {
    let info: String = redis::cmd("INFO")
        .arg("commandstats")
        .query_async(con)
        .await?;
    Ok(info
        .lines()
        .filter_map(|l| {
            let (name, rest) = l.strip_prefix("cmdstat_")?.split_once(':')?;
            let calls = rest
                .strip_prefix("calls=")?
                .split(',')
                .next()?
                .parse()
                .ok()?;
            Some((name.to_string(), calls))
        })
        .collect())
}
