//! The ceiling: this crate's own Lua scripts run by `redis-benchmark` (EVALSHA, 64
//! connections, 16-deep pipelines), with the KEYS and ARGV the engine passes. That is what
//! Redis itself can do for an operation with no client cost.
//!
//! Measured directly: send, receive, pop and delete (one message), and the three batch
//! scripts. Derived: receive+delete is two calls per message, so its ceiling is
//! `1 / (1/receive + 1/delete)`; the end-to-end batch is three scripts per batch. A single
//! delete is not a script but what the client sends for it: `MULTI`, `ZREM`, `HDEL`, `EXEC`
//! in one round trip; a batch delete the same with variadic `ZREM` and `HDEL`.
//!
//! Deletes must name messages that are there, in the order a consumer deletes them, and
//! redis-benchmark can only draw random ids (`__rand_int__`): on a large queue most of those
//! hit cold memory or miss. So the delete scripts run through a minimal driver instead
//! ([`Via::Driver`]): the same EVALSHA commands, packed before the clock starts, sent as
//! 16-deep pipelines over 64 connections, the replies only counted. The driver also runs
//! the send script, to show it reaches what redis-benchmark reaches.
//!
//! The floor ([`Script::Floor`]) is not a script: it is the data-structure work that any
//! client writing this wire format must have Redis do for a batch's whole life, as plain
//! variadic commands with no Lua (send: `ZADD`, `HSET` of the bodies, `HINCRBY totalsent`;
//! receive: `ZRANGEBYSCORE`, `HMGET` of body/rc/fr, `ZADD` of the new scores, `HSET` of rc
//! and fr, `HINCRBY totalrecv`; delete: `ZREM`, `HDEL`), sent by the driver. No client can
//! move messages through send, receive and delete faster than Redis runs these.
//!
//! The floor at one task ([`Via::Sequential`]) is the same commands as one caller must send
//! them: three round trips per batch (the send's commands, the receive's, the delete's,
//! each awaited before the next, as a task awaits send, receive and delete) on one
//! connection. A client making one call per round trip cannot be faster at one task; it
//! also needs Lua (or more round trips) for an atomic receive, which the floor leaves out.
//!
//! Every run is checked against Redis afterwards (messages sent, received, removed), so a
//! script that failed on every call cannot pass for a fast one.

use std::process::Command;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

use rsmq_async::redis::{self, aio::MultiplexedConnection, Value};
use rsmq_async::RsmqConnection;

use crate::redis_util::{self, queue_keys, Target};
use crate::Res;

/// A script the ceiling runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Script {
    Send,
    Receive,
    Pop,
    Delete,
    SendBatch(u32),
    RecvBatch(u32),
    DelBatch(u32),
    /// The plain-command floor of a batch's whole life (see the module docs).
    Floor(u32),
}

impl Script {
    pub fn key(self) -> String {
        match self {
            Script::Send => "send".into(),
            Script::Receive => "receive".into(),
            Script::Pop => "pop".into(),
            Script::Delete => "delete".into(),
            Script::SendBatch(b) => format!("batch send {b}"),
            Script::RecvBatch(b) => format!("batch receive {b}"),
            Script::DelBatch(b) => format!("batch delete {b}"),
            Script::Floor(b) => format!("floor: batch {b} send+receive+delete"),
        }
    }

    /// The name `rsmq_async::script_sources()` gives the script.
    fn source_name(self) -> &'static str {
        match self {
            Script::Send => "send_message",
            Script::Receive => "receive_message",
            Script::Pop => "pop_message",
            Script::Delete => "",
            Script::SendBatch(_) => "send_message_batch",
            Script::RecvBatch(_) => "receive_message_batch",
            Script::DelBatch(_) => "",
            Script::Floor(_) => "",
        }
    }

    fn batch(self) -> u64 {
        match self {
            Script::SendBatch(b)
            | Script::RecvBatch(b)
            | Script::DelBatch(b)
            | Script::Floor(b) => u64::from(b),
            _ => 1,
        }
    }
}

/// What sends the EVALSHA commands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Via {
    RedisBenchmark,
    /// The bench's own pipelined sender (for scripts that need the ids of real messages).
    Driver,
    /// One connection, one batch at a time, its send, receive and delete commands each a
    /// round trip of their own (the floor at one task).
    Sequential,
}

impl Via {
    pub fn key(self) -> &'static str {
        match self {
            Via::RedisBenchmark => "redis-benchmark",
            Via::Driver => "driver",
            Via::Sequential => "1 task",
        }
    }
}

impl Script {
    /// How the ceiling of this script is measured.
    pub fn via(self) -> Via {
        match self {
            Script::Delete | Script::DelBatch(_) | Script::Floor(_) => Via::Driver,
            _ => Via::RedisBenchmark,
        }
    }
}

/// One ceiling run.
#[derive(Debug, Clone)]
pub struct CeilingResult {
    pub script: Script,
    pub via: Via,
    pub size: usize,
    /// EVALSHA calls made.
    pub requests: u64,
    pub calls_per_s: f64,
    pub msgs_per_s: f64,
    /// redis-benchmark's latency of one request (inside a 16-deep pipeline), ms.
    pub p50_ms: f64,
    pub p99_ms: f64,
    /// The check against Redis afterwards, in words.
    pub check: String,
    /// The command, with bodies elided.
    pub command: String,
    /// Calls per second of every run of this script (the result is the best).
    pub runs: Vec<f64>,
}

/// Connections and pipeline depth of every ceiling run.
pub const CLIENTS: u32 = 64;
pub const PIPELINE: u32 = 16;
/// `__rand_int__` draws from 0..RAND_RANGE (12 digits).
const RAND_RANGE: u64 = 1_000_000_000_000;

/// Runs one ceiling: sets up a queue in a fresh namespace, runs redis-benchmark, checks,
/// cleans up.
pub async fn run(
    target: &Target,
    raw: &mut MultiplexedConnection,
    ns: &str,
    script: Script,
    via: Via,
    size: usize,
    requests: u64,
) -> Res<CeilingResult> {
    let q = "q";
    let (zset, hash) = queue_keys(ns, q);
    let body = vec![b'x'; size];
    let sha = if matches!(
        script,
        Script::Floor(_) | Script::Delete | Script::DelBatch(_)
    ) {
        String::new()
    } else {
        let source = rsmq_async::script_sources()
            .into_iter()
            .find(|(n, _)| *n == script.source_name())
            .map(|(_, s)| s)
            .ok_or_else(|| format!("script_sources() has no {}", script.source_name()))?;
        redis_util::script_load(raw, &source).await?
    };

    // The queue, made by this crate as a user would.
    let client = rsmq_async::Rsmq::new(target.ours(ns)).await?;
    client.create_queue(q, None, None, None).await?;

    let b = script.batch();
    // redis-benchmark may send up to a pipeline per connection more than asked.
    let overshoot = u64::from(CLIENTS * PIPELINE);
    let ids = redis_util::new_ids(raw).await?;
    // Receive and pop need a queue with more messages than calls; delete needs exactly the
    // messages it deletes.
    let filled = match script {
        Script::Receive | Script::Pop | Script::RecvBatch(_) => requests * b + overshoot * b,
        Script::Delete | Script::DelBatch(_) => requests * b,
        _ => 0,
    };
    if filled > 0 {
        redis_util::fill(raw, ns, q, &ids, 0, filled, &body).await?;
    }

    let body_s = String::from_utf8(body).unwrap_or_default();
    let body_shown = format!("<{size}-byte body>");
    let empty = || (String::new(), "\"\"".to_string());
    let mut line = Cmdline::default();
    line.push("EVALSHA".into(), "EVALSHA".into());
    line.push(sha, format!("<sha of {}>", script.source_name()));
    line.push("2".into(), "2".into());
    line.push(zset.clone(), zset.clone());
    line.push(hash.clone(), hash.clone());
    match script {
        Script::Send => {
            // suffix (22 alphanumerics: 10 letters + 12 digits), body, delay, channel.
            let sfx = "sfxbenchab__rand_int__".to_string();
            line.push(sfx.clone(), sfx);
            line.push(body_s, body_shown);
            line.pair(empty());
            line.pair(empty());
        }
        Script::Receive => line.pair(empty()),
        Script::Pop => {}
        Script::Delete => {
            let id = format!("{}__rand_int__", ids.prefix);
            line.push(id.clone(), id);
        }
        Script::SendBatch(n) => {
            line.pair(empty());
            line.pair(empty());
            for i in 0..n {
                let sfx = format!("b{i:03}sfxbn__rand_int__");
                line.push_elided(sfx.clone(), sfx, i >= 2);
                line.push_elided(body_s.clone(), body_shown.clone(), i >= 2);
            }
            line.shown.push(format!("... ({n} suffix/body pairs)"));
        }
        Script::RecvBatch(n) => {
            line.pair(empty());
            line.push(n.to_string(), n.to_string());
        }
        Script::DelBatch(n) => {
            let id = format!("{}__rand_int__", ids.prefix);
            for i in 0..n {
                line.push_elided(id.clone(), id.clone(), i >= 2);
            }
            line.shown.push(format!("... ({n} ids)"));
        }
        Script::Floor(_) => {}
    }
    let Cmdline { args, shown } = line;

    let before = redis_util::zcard(raw, &zset).await?;
    let (rps, p50, p99, command) = match via {
        Via::Sequential => {
            let Script::Floor(n) = script else {
                return Err("only the floor runs sequentially".into());
            };
            let (rps, p50, p99) = sequential(target, &zset, &hash, &ids, n, size, requests).await?;
            let command = format!(
                "one connection, {requests} batches of {n} ({size}-byte bodies), each as three \
                 round trips: ZADD, HSET, HINCRBY | ZRANGEBYSCORE, HMGET, ZADD, HSET, HINCRBY | \
                 ZREM, HDEL"
            );
            (rps, p50, p99, command)
        }
        Via::RedisBenchmark => {
            let mut cmd = Command::new("redis-benchmark");
            cmd.args(target.cli_args())
                .args(["-c", &CLIENTS.to_string(), "-P", &PIPELINE.to_string()])
                .args(["-n", &requests.to_string(), "-r", &RAND_RANGE.to_string()])
                .arg("--csv")
                .args(&args);
            let output = tokio::task::spawn_blocking(move || cmd.output()).await??;
            let stdout = String::from_utf8_lossy(&output.stdout).to_string();
            if !output.status.success() {
                return Err(format!(
                    "redis-benchmark failed ({}): {}",
                    output.status,
                    String::from_utf8_lossy(&output.stderr).trim()
                )
                .into());
            }
            let (rps, p50, p99) = parse_csv(&stdout).ok_or_else(|| {
                format!(
                    "cannot read redis-benchmark's output: {}",
                    stdout.chars().take(300).collect::<String>()
                )
            })?;
            let command = format!(
                "redis-benchmark -c {CLIENTS} -P {PIPELINE} -n {requests} -r {RAND_RANGE} {}",
                shown.join(" ")
            );
            (rps, p50, p99, command)
        }
        Via::Driver => {
            let head = args[..5].to_vec();
            let body = &vec![b'x'; size];
            let ids = &ids;
            let tail = move |k: u64| -> Vec<Vec<u8>> {
                match script {
                    Script::Delete => vec![ids.id(k).into_bytes()],
                    Script::DelBatch(n) => ids
                        .batch(k, n)
                        .into_iter()
                        .map(String::into_bytes)
                        .collect(),
                    _ => vec![
                        std::iter::repeat_with(fastrand::alphanumeric)
                            .take(22)
                            .collect::<String>()
                            .into_bytes(),
                        body.clone(),
                        Vec::new(),
                        Vec::new(),
                    ],
                }
            };
            let make = |k: u64| -> Vec<redis::Cmd> {
                if let Script::Floor(n) = script {
                    return floor_commands(&zset, &hash, &ids.batch(k, n), body);
                }
                if let Script::Delete | Script::DelBatch(_) = script {
                    // What the client sends for a delete: plain commands in MULTI/EXEC.
                    let batch = match script {
                        Script::DelBatch(n) => ids.batch(k, n),
                        _ => vec![ids.id(k)],
                    };
                    let mut zrem = redis::cmd("ZREM");
                    zrem.arg(&zset);
                    let mut hdel = redis::cmd("HDEL");
                    hdel.arg(&hash);
                    for id in &batch {
                        zrem.arg(id);
                        hdel.arg(id).arg(format!("{id}:rc")).arg(format!("{id}:fr"));
                    }
                    return vec![redis::cmd("MULTI"), zrem, hdel, redis::cmd("EXEC")];
                }
                let mut cmd = redis::cmd(&head[0]);
                for a in &head[1..] {
                    cmd.arg(a.as_str());
                }
                for a in tail(k) {
                    cmd.arg(a);
                }
                vec![cmd]
            };
            let (rps, p50, p99) = drive(target, &make, requests).await?;
            let command = format!(
                "driver: {CLIENTS} connections x {PIPELINE}-deep pipelines, {requests} x {} {}",
                if let Script::Delete | Script::DelBatch(_) = script {
                    format!("MULTI, ZREM {zset} <ids>, HDEL {hash} <id> <id>:rc <id>:fr.., EXEC:")
                } else if let Script::Floor(n) = script {
                    format!("the plain commands of a batch of {n} ({size}-byte bodies):")
                } else {
                    shown[..5].join(" ")
                },
                match script {
                    Script::Floor(_) => "ZADD, HSET, HINCRBY, ZRANGEBYSCORE, HMGET, ZADD, HSET, \
                        HINCRBY, ZREM, HDEL"
                        .to_string(),
                    Script::Delete => "<id of message k, k = 0, 1, ...>".to_string(),
                    Script::DelBatch(n) => format!("<ids of messages {n}k .. {n}k+{}>", n - 1),
                    _ => format!("<random suffix> <{size}-byte body> \"\" \"\""),
                }
            );
            (rps, p50, p99, command)
        }
    };

    // Check what happened in Redis.
    let after = redis_util::zcard(raw, &zset).await?;
    let totalrecv: Option<u64> = redis::cmd("HGET")
        .arg(&hash)
        .arg("totalrecv")
        .query_async(raw)
        .await?;
    let totalrecv = totalrecv.unwrap_or(0);
    let expected = requests * b;
    let within = |got: u64| got >= expected && got <= expected + overshoot * b;
    let (ok, check) = match script {
        Script::Send | Script::SendBatch(_) => {
            let got = after - before;
            (
                within(got),
                format!("{got} messages stored ({expected} asked)"),
            )
        }
        Script::Pop => {
            let got = before - after;
            (
                within(got),
                format!("{got} messages popped ({expected} asked)"),
            )
        }
        Script::Receive | Script::RecvBatch(_) => (
            within(totalrecv),
            format!("{totalrecv} messages received ({expected} asked)"),
        ),
        Script::Delete | Script::DelBatch(_) => {
            let got = before - after;
            (
                got == expected,
                format!("{got} messages deleted ({expected} asked)"),
            )
        }
        Script::Floor(_) => (
            totalrecv == expected && after == before,
            format!("{totalrecv} messages sent, received and deleted ({expected} asked)"),
        ),
    };
    redis_util::delete_matching(raw, &format!("{ns}:*")).await?;
    if !ok {
        return Err(format!(
            "ceiling {} ({size} B) did not do its work: {check}",
            script.key()
        )
        .into());
    }
    Ok(CeilingResult {
        script,
        via,
        size,
        requests,
        calls_per_s: rps,
        msgs_per_s: rps * b as f64,
        p50_ms: p50,
        p99_ms: p99,
        check,
        command,
        runs: vec![rps],
    })
}

/// The floor's commands for the batch of messages `ids` (see the module docs).
fn floor_commands(zset: &str, hash: &str, ids: &[String], body: &[u8]) -> Vec<redis::Cmd> {
    let n = ids.len();
    let mut add = redis::cmd("ZADD");
    add.arg(zset);
    let mut bodies = redis::cmd("HSET");
    bodies.arg(hash);
    let mut read = redis::cmd("HMGET");
    read.arg(hash);
    let mut hide = redis::cmd("ZADD");
    hide.arg(zset);
    let mut counts = redis::cmd("HSET");
    counts.arg(hash);
    let mut rem = redis::cmd("ZREM");
    rem.arg(zset);
    let mut del = redis::cmd("HDEL");
    del.arg(hash);
    for id in ids {
        let (rc, fr) = (format!("{id}:rc"), format!("{id}:fr"));
        add.arg("1000").arg(id);
        bodies.arg(id).arg(body);
        read.arg(id).arg(&rc).arg(&fr);
        hide.arg("2000").arg(id);
        counts.arg(&rc).arg("1").arg(&fr).arg("1764201234567");
        rem.arg(id);
        del.arg(id).arg(&rc).arg(&fr);
    }
    let mut sent = redis::cmd("HINCRBY");
    sent.arg(hash).arg("totalsent").arg(n);
    let mut range = redis::cmd("ZRANGEBYSCORE");
    range
        .arg(zset)
        .arg("-inf")
        .arg("1000")
        .arg("LIMIT")
        .arg(0)
        .arg(n);
    let mut recv = redis::cmd("HINCRBY");
    recv.arg(hash).arg("totalrecv").arg(n);
    vec![add, bodies, sent, range, read, hide, counts, recv, rem, del]
}

/// The floor at one task: `requests` batches of `n`, one after the other on one connection,
/// each as three awaited pipelines (send, receive, delete). Every pipeline is packed before
/// the clock starts. Returns (batches per second, p50 ms, p99 ms of one batch's three).
async fn sequential(
    target: &Target,
    zset: &str,
    hash: &str,
    ids: &crate::workload::IdGen,
    n: u32,
    size: usize,
    requests: u64,
) -> Res<(f64, f64, f64)> {
    let body = vec![b'x'; size];
    let mut batches = Vec::new();
    for k in 0..requests {
        let mut cmds = floor_commands(zset, hash, &ids.batch(k, n), &body).into_iter();
        let mut stage = |count: usize| {
            let mut pipe = redis::pipe();
            for cmd in cmds.by_ref().take(count) {
                pipe.add_command(cmd);
            }
            pipe
        };
        batches.push([stage(3), stage(5), stage(2)]);
    }
    let mut con = target.raw().await?;
    let mut lat = Vec::with_capacity(batches.len());
    let mut errors = 0;
    let start = Instant::now();
    for stages in &batches {
        let t0 = Instant::now();
        for pipe in stages {
            let replies: Vec<Value> = pipe.query_async(&mut con).await?;
            errors += replies
                .iter()
                .filter(|v| matches!(v, Value::ServerError(_)))
                .count();
        }
        lat.push(t0.elapsed().as_nanos() as u64);
    }
    let elapsed = start.elapsed().as_secs_f64();
    if errors > 0 {
        return Err(format!("{errors} command errors").into());
    }
    lat.sort_unstable();
    let pct = |p: f64| crate::workload::percentile(&lat, p) / 1e6;
    Ok((requests as f64 / elapsed, pct(50.0), pct(99.0)))
}

/// Sends `requests` EVALSHA commands (`head` then `tail(k)` for command k) as
/// `PIPELINE`-deep pipelines over `CLIENTS` connections. Every pipeline is packed before the
/// clock starts; during the run the driver only writes them and counts the replies.
/// Returns (commands per second, p50 ms, p99 ms of one pipeline's round trip).
async fn drive(
    target: &Target,
    make: &(dyn Fn(u64) -> Vec<redis::Cmd> + Sync),
    requests: u64,
) -> Res<(f64, f64, f64)> {
    let per = u64::from(PIPELINE);
    let mut pipes = Vec::new();
    let mut k = 0;
    while k < requests {
        let mut pipe = redis::pipe();
        for j in k..(k + per).min(requests) {
            for cmd in make(j) {
                pipe.add_command(cmd);
            }
        }
        pipes.push(pipe);
        k += per;
    }
    let pipes = Arc::new(pipes);
    let next = Arc::new(AtomicUsize::new(0));
    let mut conns = Vec::new();
    for _ in 0..CLIENTS {
        conns.push(target.raw().await?);
    }
    let start = Instant::now();
    let mut tasks = Vec::new();
    for mut con in conns {
        let (pipes, next) = (pipes.clone(), next.clone());
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            let mut errors = 0u64;
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(pipe) = pipes.get(i) else { break };
                let t0 = Instant::now();
                let replies: Vec<Value> = pipe.query_async(&mut con).await?;
                lat.push(t0.elapsed().as_nanos() as u64);
                errors += replies
                    .iter()
                    .filter(|v| matches!(v, Value::ServerError(_)))
                    .count() as u64;
            }
            Ok::<_, redis::RedisError>((lat, errors))
        }));
    }
    let mut lat = Vec::new();
    let mut errors = 0;
    for t in tasks {
        let (l, e) = t.await??;
        lat.extend(l);
        errors += e;
    }
    let elapsed = start.elapsed().as_secs_f64();
    if errors > 0 {
        return Err(format!("{errors} script errors").into());
    }
    lat.sort_unstable();
    let pct = |p: f64| crate::workload::percentile(&lat, p) / 1e6;
    Ok((requests as f64 / elapsed, pct(50.0), pct(99.0)))
}

/// A command line, and how it is shown (bodies and long lists elided).
#[derive(Default)]
struct Cmdline {
    args: Vec<String>,
    shown: Vec<String>,
}

impl Cmdline {
    fn push(&mut self, arg: String, shown: String) {
        self.push_elided(arg, shown, false);
    }

    fn pair(&mut self, (arg, shown): (String, String)) {
        self.push(arg, shown);
    }

    fn push_elided(&mut self, arg: String, shown: String, elide: bool) {
        self.args.push(arg);
        if !elide {
            self.shown.push(shown);
        }
    }
}

/// (requests per second, p50 ms, p99 ms) from `--csv` output: the last line holds
/// "test","rps","avg","min","p50","p95","p99","max".
pub fn parse_csv(out: &str) -> Option<(f64, f64, f64)> {
    let line = out
        .lines()
        .rev()
        .find(|l| l.starts_with('"') && !l.starts_with("\"test\""))?;
    let fields: Vec<f64> = line
        .rsplitn(8, ',')
        .take(7)
        .map(|f| f.trim().trim_matches('"').parse::<f64>())
        .collect::<Result<_, _>>()
        .ok()?;
    // rsplitn yields from the end: max, p99, p95, p50, min, avg, rps.
    Some((fields[6], fields[3], fields[1]))
}
