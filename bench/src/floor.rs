//! The floor of a lone call: what one connection with one request at a time reaches for an
//! operation when no client library is in the way. It is the bound of the 1-task cells,
//! which make exactly that kind of call.
//!
//! The floor takes part in a row's rounds like a client (A, B, C, floor, A, B, C, floor,
//! ...), so it meets the same moments of the machine as the clients it bounds. Each round:
//!
//! - **send**: `redis-benchmark -c 1 -P 1 -n N` running the `EVALSHA` of the send script
//!   with the `KEYS` and `ARGV` this crate passes (as the ceiling does). It grows its queue
//!   from empty, which is emptied (untimed) after each pass to bound the memory of 16 KiB
//!   sends; the client's cell grows its queue through all its rounds. A sorted-set insert
//!   costs O(log n), so the smaller queue can only favour the floor;
//! - **pop**: the queue is pre-filled (untimed) with N messages, then the pop script's
//!   `EVALSHA`, N times: the queue shrinks from N to 0 and is never empty, as in the cell;
//! - **receive+delete**: the queue is pre-filled with N messages; redis-benchmark runs the
//!   receive script's `EVALSHA` N times (receiving every message once), then the bench's
//!   one-deep driver deletes those N messages, in the order they were received, with the
//!   commands this crate sends for a delete (`MULTI`, `ZREM`, `HDEL`, `EXEC` in one write):
//!   a delete names a message that is there, which redis-benchmark's random `__rand_int__`
//!   cannot do. The pair's floor is `1 / (1/receive + 1/delete)`, from the two rates;
//! - **PING**, for the round trip itself: redis-benchmark, and the driver (which shows the
//!   driver costs no more than redis-benchmark).
//!
//! The driver is a blocking `std` TCP socket (`TCP_NODELAY`), one request written with one
//! `write`, its replies read until complete; every request is encoded before the clock
//! starts.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Command;
use std::time::{Duration, Instant};

use rsmq_async::redis::{self, aio::MultiplexedConnection};

use crate::redis_util::{self, queue_keys, Target};
use crate::workload::{IdGen, Op};
use crate::Res;

/// `__rand_int__` draws from 0..RAND_RANGE (12 digits), as in the ceiling.
const RAND_RANGE: u64 = 1_000_000_000_000;

/// One part of a floor (a command measured alone), summed over rounds.
#[derive(Clone, Debug, Default)]
pub struct Part {
    /// `PING`, `send`, `receive`, `pop`, `delete`, `PING (driver)`.
    pub name: String,
    /// What sent it: `redis-benchmark` or `driver`.
    pub via: &'static str,
    pub requests: u64,
    pub seconds: f64,
    /// Latencies of a request in each round (ms): p50 and p99.
    pub p50_ms: Vec<f64>,
    pub p99_ms: Vec<f64>,
}

impl Part {
    fn new(name: &str, via: &'static str) -> Part {
        Part {
            name: name.into(),
            via,
            ..Part::default()
        }
    }

    pub fn rate(&self) -> f64 {
        self.requests as f64 / self.seconds.max(1e-9)
    }

    fn add(&mut self, requests: u64, seconds: f64, p50_ms: f64, p99_ms: f64) {
        self.requests += requests;
        self.seconds += seconds;
        self.p50_ms.push(p50_ms);
        self.p99_ms.push(p99_ms);
    }
}

/// The median of a few values.
pub fn median(v: &[f64]) -> f64 {
    let mut v = v.to_vec();
    v.sort_by(|a, b| a.total_cmp(b));
    v.get(v.len() / 2).copied().unwrap_or(0.0)
}

/// What a floor measured, for the report.
#[derive(Clone, Debug, Default)]
pub struct FloorDetail {
    /// The parts that make the operation (send; pop; receive and delete), by
    /// redis-benchmark (deletes by the driver).
    pub parts: Vec<Part>,
    /// The same parts, all sent by the driver.
    pub strict: Vec<Part>,
    /// `PING` by redis-benchmark and by the driver.
    pub ping: Vec<Part>,
    /// The commands, with bodies elided.
    pub commands: Vec<String>,
}

/// Operations per second of parts done one after the other: `1 / (Σ 1/part)`.
pub fn combined(parts: &[Part]) -> f64 {
    let per_call: f64 = parts.iter().map(|p| 1.0 / p.rate().max(1e-9)).sum();
    1.0 / per_call.max(1e-12)
}

impl FloorDetail {
    /// The floor, operations per second.
    pub fn rate(&self) -> f64 {
        combined(&self.parts)
    }

    /// The driver's floor, operations per second.
    pub fn strict_rate(&self) -> f64 {
        combined(&self.strict)
    }

    /// The sum over parts of the median p50 / p99 of a request (ms): an estimate of the
    /// latency of the operation.
    pub fn latency_ms(&self) -> (f64, f64) {
        let p50 = self.parts.iter().map(|p| median(&p.p50_ms)).sum();
        let p99 = self.parts.iter().map(|p| median(&p.p99_ms)).sum();
        (p50, p99)
    }
}

/// A floor between rounds.
pub struct Floor {
    op: Op,
    size: usize,
    ns: String,
    q: String,
    zset: String,
    hash: String,
    ids: IdGen,
    /// Ids handed out to fills so far.
    next_id: u64,
    send: Vec<String>,
    receive: Vec<String>,
    pop: Vec<String>,
    pub detail: FloorDetail,
    /// Operations per second seen so far (sizes the next round).
    rate: f64,
    /// Client CPU (this process and its waited-for children) and Redis CPU of the timed
    /// parts, seconds.
    pub client_cpu_s: f64,
    pub redis_cpu_s: f64,
    /// Operations done in the timed parts.
    pub calls: u64,
    pub seconds: f64,
}

impl Floor {
    /// Sets up the floor of `op` in namespace `ns` (queue `q`, made by this crate) and warms
    /// it up (which also sizes the first round).
    pub async fn new(
        target: &Target,
        raw: &mut MultiplexedConnection,
        ns: &str,
        q: &str,
        op: Op,
        size: usize,
    ) -> Res<Floor> {
        let client = rsmq_async::Rsmq::new(target.ours(ns)).await?;
        rsmq_async::RsmqConnection::create_queue(&client, q, None, None, None).await?;
        drop(client);
        let (zset, hash) = queue_keys(ns, q);
        let sha = |name: &str| {
            rsmq_async::script_sources()
                .into_iter()
                .find(|(n, _)| *n == name)
                .map(|(_, s)| s)
                .ok_or_else(|| format!("script_sources() has no {name}"))
        };
        let head = |sha: String| {
            vec![
                "EVALSHA".into(),
                sha,
                "2".into(),
                zset.clone(),
                hash.clone(),
            ]
        };
        let mut send = head(redis_util::script_load(raw, &sha("send_message")?).await?);
        // Suffix (10 letters + 12 random digits), body, delay "" (the queue's), channel ""
        // (no realtime): what the engine passes.
        send.extend([
            "sfxbenchab__rand_int__".into(),
            "x".repeat(size),
            String::new(),
            String::new(),
        ]);
        let mut receive = head(redis_util::script_load(raw, &sha("receive_message")?).await?);
        receive.push(String::new()); // vt "": the queue's
        let pop = head(redis_util::script_load(raw, &sha("pop_message")?).await?);
        let ids = redis_util::new_ids(raw).await?;
        let mut floor = Floor {
            op,
            size,
            ns: ns.to_string(),
            q: q.to_string(),
            zset,
            hash,
            ids,
            next_id: 0,
            send,
            receive,
            pop,
            detail: FloorDetail::default(),
            rate: 0.0,
            client_cpu_s: 0.0,
            redis_cpu_s: 0.0,
            calls: 0,
            seconds: 0.0,
        };
        // Warm-up: a short untimed round, which sizes the first timed one.
        let warm = floor.round(target, raw, 1_000, 300).await?;
        floor.rate = warm;
        floor.detail = FloorDetail::default();
        (
            floor.client_cpu_s,
            floor.redis_cpu_s,
            floor.calls,
            floor.seconds,
        ) = (0.0, 0.0, 0, 0.0);
        Ok(floor)
    }

    /// One timed round of about `time`. Returns the operations per second of the round.
    pub async fn timed_round(
        &mut self,
        target: &Target,
        raw: &mut MultiplexedConnection,
        time: Duration,
    ) -> Res<f64> {
        let secs = time.as_secs_f64();
        let n = ((self.rate * secs) as u64).clamp(200, 2_000_000);
        // PING for a fifth of the round, by each sender.
        let pings = ((self.ping_rate() * secs / 5.0) as u64).clamp(200, 200_000);
        let rate = self.round(target, raw, n, pings).await?;
        self.rate = self.calls as f64 / self.seconds.max(1e-9);
        Ok(rate)
    }

    fn ping_rate(&self) -> f64 {
        self.detail
            .ping
            .first()
            .map_or(20_000.0, |p| p.rate().max(1_000.0))
    }

    async fn round(
        &mut self,
        target: &Target,
        raw: &mut MultiplexedConnection,
        n: u64,
        pings: u64,
    ) -> Res<f64> {
        // The floor: redis-benchmark (the driver for deletes). Its time and CPU count.
        let (seconds, cpu, redis_cpu) = self.pass(target, raw, n, false).await?;
        self.client_cpu_s += cpu;
        self.redis_cpu_s += redis_cpu;
        self.calls += n;
        self.seconds += seconds;

        // The same commands from the driver (a blocking socket).
        self.pass(target, raw, n, true).await?;

        // The round trip itself.
        let ping = vec!["PING".to_string()];
        let (s, p50, p99) = benchmark(target, &ping, pings).await?;
        self.ping("PING", "redis-benchmark").add(pings, s, p50, p99);
        let ping_bytes = redis::cmd("PING").get_packed_command();
        let (s, p50, p99) = drive(target, vec![ping_bytes; pings as usize], 1).await?;
        self.ping("PING", "driver").add(pings, s, p50, p99);

        if self.detail.commands.is_empty() {
            self.detail.commands = self.commands();
        }
        Ok(n as f64 / seconds.max(1e-9))
    }

    /// `n` operations: by redis-benchmark (deletes by the driver), or with `strict` all by
    /// the driver. Pre-fills first when the operation consumes messages, checks afterwards
    /// that every request did its work. Returns the timed seconds, and the CPU seconds of
    /// the client side (this process and redis-benchmark) and of Redis around them.
    async fn pass(
        &mut self,
        target: &Target,
        raw: &mut MultiplexedConnection,
        n: u64,
        strict: bool,
    ) -> Res<(f64, f64, f64)> {
        let first = self.next_id;
        if matches!(self.op, Op::Pop | Op::RecvDel) {
            let body = vec![b'x'; self.size];
            redis_util::fill(raw, &self.ns, &self.q, &self.ids, first, n, &body).await?;
            self.next_id += n;
        }
        let before = redis_util::zcard(raw, &self.zset).await?;
        let recv0 = totalrecv(raw, &self.hash).await?;
        let packed = |args: &[String]| {
            let mut cmd = redis::cmd(&args[0]);
            for a in &args[1..] {
                cmd.arg(a.as_str());
            }
            cmd.get_packed_command()
        };
        let script = match self.op {
            Op::Send => "send",
            Op::Pop => "pop",
            _ => "receive",
        };
        // Every request is encoded before the clock starts.
        let deletes: Vec<Vec<u8>> = if self.op == Op::RecvDel {
            (first..first + n)
                .map(|i| delete_request(&self.zset, &self.hash, &self.ids.id(i)))
                .collect()
        } else {
            Vec::new()
        };
        let requests = match (self.op, strict) {
            (_, false) => Vec::new(),
            (Op::Send, true) => {
                let mut args = self.send.clone();
                (0..n)
                    .map(|_| {
                        args[5] = random_suffix();
                        packed(&args)
                    })
                    .collect()
            }
            (Op::Pop, true) => vec![packed(&self.pop); n as usize],
            (_, true) => vec![packed(&self.receive); n as usize],
        };
        let (cpu0, redis0) = (client_cpu_s(), redis_util::redis_cpu_s(raw).await?);
        let (s, p50, p99) = match (self.op, strict) {
            (Op::Send, false) => benchmark(target, &self.send, n).await?,
            (Op::Pop, false) => benchmark(target, &self.pop, n).await?,
            (_, false) => benchmark(target, &self.receive, n).await?,
            (_, true) => drive(target, requests, 1).await?,
        };
        let via = if strict { "driver" } else { "redis-benchmark" };
        let mut seconds = s;
        self.part(strict, script, via).add(n, s, p50, p99);
        if self.op == Op::RecvDel {
            let (s, p50, p99) = drive(target, deletes, 4).await?;
            self.part(strict, "delete", "driver").add(n, s, p50, p99);
            seconds += s;
        }
        let (cpu1, redis1) = (client_cpu_s(), redis_util::redis_cpu_s(raw).await?);

        // Did every request do its work?
        let after = redis_util::zcard(raw, &self.zset).await?;
        let recv1 = totalrecv(raw, &self.hash).await?;
        let (ok, what) = match self.op {
            Op::Send => (
                after - before == n,
                format!("{} sends stored", after - before),
            ),
            Op::Pop => (
                before - after == n,
                format!("{} messages popped", before - after),
            ),
            _ => (
                recv1 - recv0 == n && before - after == n,
                format!(
                    "{} messages received, {} deleted",
                    recv1 - recv0,
                    before - after
                ),
            ),
        };
        if !ok {
            return Err(format!(
                "the {} floor ({via}) did not do its work: {what} ({n} asked)",
                self.op.key(),
            )
            .into());
        }
        if self.op == Op::Send {
            // Untimed: bounds the memory of 16 KiB sends over many rounds.
            redis_util::drain(raw, &self.ns, &self.q).await?;
        }
        Ok((seconds, cpu1 - cpu0, redis1 - redis0))
    }

    fn part(&mut self, strict: bool, name: &str, via: &'static str) -> &mut Part {
        let parts = if strict {
            &mut self.detail.strict
        } else {
            &mut self.detail.parts
        };
        find_or_add(parts, name, via)
    }

    fn ping(&mut self, name: &str, via: &'static str) -> &mut Part {
        find_or_add(&mut self.detail.ping, name, via)
    }

    fn commands(&self) -> Vec<String> {
        let shown = |args: &[String]| {
            args.iter()
                .map(|a| {
                    if a.is_empty() {
                        "\"\"".to_string()
                    } else if a.len() == self.size && a.bytes().all(|b| b == b'x') {
                        format!("<{}-byte body>", self.size)
                    } else {
                        a.clone()
                    }
                })
                .collect::<Vec<_>>()
                .join(" ")
        };
        let rb = |args: &[String]| format!("redis-benchmark -c 1 -P 1 -n N {}", shown(args));
        match self.op {
            Op::Send => vec![rb(&self.send)],
            Op::Pop => vec![rb(&self.pop)],
            _ => vec![
                rb(&self.receive),
                format!(
                    "driver, one request at a time: MULTI, ZREM {} <id>, HDEL {} <id> <id>:rc \
                     <id>:fr, EXEC (one write), for each received id in order",
                    self.zset, self.hash
                ),
            ],
        }
    }
}

fn find_or_add<'a>(parts: &'a mut Vec<Part>, name: &str, via: &'static str) -> &'a mut Part {
    let i = match parts.iter().position(|p| p.name == name && p.via == via) {
        Some(i) => i,
        None => {
            parts.push(Part::new(name, via));
            parts.len() - 1
        }
    };
    &mut parts[i]
}

async fn totalrecv(raw: &mut MultiplexedConnection, hash: &str) -> Res<u64> {
    let v: Option<u64> = redis::cmd("HGET")
        .arg(hash)
        .arg("totalrecv")
        .query_async(raw)
        .await?;
    Ok(v.unwrap_or(0))
}

/// CPU seconds of this process and of its children that have been waited for (the
/// redis-benchmark runs), from `/proc/self/stat`.
fn client_cpu_s() -> f64 {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return 0.0;
    };
    let Some(i) = stat.rfind(')') else {
        return 0.0;
    };
    let f: Vec<&str> = stat[i + 2..].split_whitespace().collect();
    // utime, stime, cutime, cstime: fields 14-17 (11-14 after the name).
    (11..15)
        .filter_map(|k| f.get(k).and_then(|v| v.parse::<f64>().ok()))
        .sum::<f64>()
        / 100.0
}

/// A send's id suffix as the engine makes it: 22 random alphanumerics.
fn random_suffix() -> String {
    std::iter::repeat_with(fastrand::alphanumeric)
        .take(22)
        .collect()
}

/// The bytes this crate writes for `delete_message`: `MULTI`, `ZREM`, `HDEL`, `EXEC`.
fn delete_request(zset: &str, hash: &str, id: &str) -> Vec<u8> {
    redis::pipe()
        .atomic()
        .cmd("ZREM")
        .arg(zset)
        .arg(id)
        .cmd("HDEL")
        .arg(hash)
        .arg(id)
        .arg(format!("{id}:rc"))
        .arg(format!("{id}:fr"))
        .get_packed_pipeline()
}

/// `redis-benchmark -c 1 -P 1 -n n` of one command. Returns (seconds, p50 ms, p99 ms).
async fn benchmark(target: &Target, args: &[String], n: u64) -> Res<(f64, f64, f64)> {
    let mut cmd = Command::new("redis-benchmark");
    cmd.args(target.cli_args())
        .args(["-c", "1", "-P", "1", "-n", &n.to_string()])
        .args(["-r", &RAND_RANGE.to_string(), "--csv"])
        .args(args);
    let output = tokio::task::spawn_blocking(move || cmd.output()).await??;
    let stdout = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() {
        return Err(format!(
            "redis-benchmark failed ({}): {}",
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        )
        .into());
    }
    let (rps, p50, p99) = crate::ceiling::parse_csv(&stdout).ok_or_else(|| {
        format!(
            "cannot read redis-benchmark's output: {}",
            stdout.chars().take(300).collect::<String>()
        )
    })?;
    Ok((n as f64 / rps.max(1e-9), p50, p99))
}

/// Sends `requests` one at a time on one connection, each written whole, waiting for its
/// `replies` replies before the next. Returns (seconds, p50 ms, p99 ms).
async fn drive(target: &Target, requests: Vec<Vec<u8>>, replies: usize) -> Res<(f64, f64, f64)> {
    let (host, port) = (target.host().to_string(), target.port());
    let mut hello: Vec<Vec<u8>> = Vec::new();
    if let Some(p) = target.password() {
        let mut auth = redis::cmd("AUTH");
        if let Some(u) = target.username() {
            auth.arg(u);
        }
        hello.push(auth.arg(p).get_packed_command());
    }
    if target.db() != 0 {
        hello.push(redis::cmd("SELECT").arg(target.db()).get_packed_command());
    }
    tokio::task::spawn_blocking(move || -> Res<(f64, f64, f64)> {
        let mut s = TcpStream::connect((host.as_str(), port))?;
        s.set_nodelay(true)?;
        let mut buf = vec![0u8; 64 * 1024];
        let mut filled = 0;
        for h in &hello {
            s.write_all(h)?;
            if read_replies(&mut s, &mut buf, &mut filled, 1)? {
                return Err("AUTH or SELECT failed".into());
            }
        }
        let mut lat = Vec::with_capacity(requests.len());
        let mut errors = 0;
        let start = Instant::now();
        for r in &requests {
            let t0 = Instant::now();
            s.write_all(r)?;
            errors += u64::from(read_replies(&mut s, &mut buf, &mut filled, replies)?);
            lat.push(t0.elapsed().as_nanos() as u64);
        }
        let seconds = start.elapsed().as_secs_f64();
        if errors > 0 {
            return Err(format!("{errors} requests had error replies").into());
        }
        lat.sort_unstable();
        let pct = |p: f64| crate::workload::percentile(&lat, p) / 1e6;
        Ok((seconds, pct(50.0), pct(99.0)))
    })
    .await?
}

/// Reads until `count` whole replies are in `buf[..*filled]`, then drops them from the
/// buffer. Returns whether any of them was (or held) an error.
fn read_replies(
    s: &mut TcpStream,
    buf: &mut Vec<u8>,
    filled: &mut usize,
    count: usize,
) -> Res<bool> {
    loop {
        let mut at = 0;
        let mut error = false;
        let mut whole = 0;
        while whole < count {
            match skip_value(&buf[at..*filled]) {
                Some((len, e)) => {
                    at += len;
                    error |= e;
                    whole += 1;
                }
                None => break,
            }
        }
        if whole == count {
            buf.copy_within(at..*filled, 0);
            *filled -= at;
            return Ok(error);
        }
        if *filled == buf.len() {
            buf.resize(buf.len() * 2, 0);
        }
        let got = s.read(&mut buf[*filled..])?;
        if got == 0 {
            return Err("Redis closed the connection".into());
        }
        *filled += got;
    }
}

/// The length of the first whole RESP2 value in `b`, and whether it is or holds an error;
/// `None` while incomplete.
fn skip_value(b: &[u8]) -> Option<(usize, bool)> {
    let line_end = b.windows(2).position(|w| w == b"\r\n")?;
    let line = std::str::from_utf8(&b[1..line_end]).ok()?;
    let head = line_end + 2;
    match b.first()? {
        b'+' | b':' => Some((head, false)),
        b'-' => Some((head, true)),
        b'$' => {
            let len: i64 = line.parse().ok()?;
            if len < 0 {
                return Some((head, false));
            }
            let end = head + len as usize + 2;
            (b.len() >= end).then_some((end, false))
        }
        b'*' => {
            let n: i64 = line.parse().ok()?;
            let mut at = head;
            let mut error = false;
            for _ in 0..n.max(0) {
                let (len, e) = skip_value(&b[at..])?;
                at += len;
                error |= e;
            }
            Some((at, error))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::skip_value;

    #[test]
    fn skips_whole_values_only() {
        assert_eq!(skip_value(b"+PONG\r\n"), Some((7, false)));
        assert_eq!(skip_value(b"+PON"), None);
        assert_eq!(skip_value(b"-ERR x\r\n"), Some((8, true)));
        assert_eq!(skip_value(b"$3\r\nabc\r\n+OK\r\n"), Some((9, false)));
        assert_eq!(skip_value(b"$3\r\nab"), None);
        assert_eq!(skip_value(b"*2\r\n:1\r\n:3\r\n"), Some((12, false)));
        assert_eq!(skip_value(b"*2\r\n:1\r\n"), None);
        assert_eq!(skip_value(b"*1\r\n-ERR\r\n"), Some((10, true)));
        assert_eq!(skip_value(b"$-1\r\n"), Some((5, false)));
    }
}
