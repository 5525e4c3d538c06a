//! The worker cell: N messages already queued, a no-op handler, and the time from the start
//! of the consumer until all N are handled and deleted, at each concurrency, for
//!
//! - this crate's `Worker` (`concurrency(c)`, realtime off: the queue is never empty until
//!   the end, so a realtime wake-up has nothing to do);
//! - `rsmq_async` 18's `Worker`, which handles one message at a time: `c` instances, each
//!   with its own connection (as `Worker::builder` makes it);
//! - a hand-written loop on this crate: `loops` tasks on one client, each receiving a batch
//!   of `c / loops` with `receive_message_batch`, calling the handler on each message and
//!   deleting the batch with `delete_message_batch`, until the queue is empty (`LoopMode`
//!   varies the delete, to compare with the `Worker`'s);
//! - BullMQ's `Worker` (concurrency `c`), in `js/bullmq_worker.js`, with its own jobs added by
//!   `addBulk` under its own key prefix.
//!
//! And the latency of this crate's worker at low load with realtime on: one send every
//! `interval`, from the send call to the start of the handler; the same for a bare loop of
//! `receive_message_wait` calls, in alternating halves, for reference.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rsmq_async::{RsmqConnection, RsmqMessage};
use tokio::sync::Notify;

use crate::redis_util::{self, queue_keys, Target};
use crate::workload::percentile;
use crate::{Ctx, Res};

const QNAME: &str = "q";
/// Bodies of the worker cell, bytes.
pub const BODY: usize = 100;
/// No cell may take longer than this (a consumer that loses messages would wait forever).
const CELL_TIMEOUT: Duration = Duration::from_secs(300);

/// A consumer of the worker cell.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Consumer {
    Ours,
    Peer,
    HandLoop,
    BullMq,
}

impl Consumer {
    pub const ALL: [Consumer; 4] = [
        Consumer::Ours,
        Consumer::Peer,
        Consumer::HandLoop,
        Consumer::BullMq,
    ];

    pub fn key(self) -> &'static str {
        match self {
            Consumer::Ours => "this crate's Worker",
            Consumer::Peer => "rsmq_async 18's Worker",
            Consumer::HandLoop => "hand-written batch loop (this crate)",
            Consumer::BullMq => "BullMQ Worker",
        }
    }

    fn short(self) -> &'static str {
        match self {
            Consumer::Ours => "w-ours",
            Consumer::Peer => "w-peer18",
            Consumer::HandLoop => "w-loop",
            Consumer::BullMq => "w-bullmq",
        }
    }
}

/// How the hand-written loop handles and deletes a batch it received.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LoopMode {
    /// The handler on each message in turn, then one `delete_message_batch`.
    Batch,
    /// Each message's handler and `delete_message` concurrently (deletes coalesced).
    Each,
    /// As `Each`, each message in a task of its own (as the `Worker` does).
    Spawn,
    /// Each message in a task of its own, whose handled id goes to one acknowledging task
    /// per client that deletes whatever has gathered with `delete_message_batch`, one call
    /// at a time; the message's task waits for its delete.
    SpawnBatchAck,
}

/// One acknowledging task: deletes the ids sent to it in batches (all that gathered while
/// the previous batch was being deleted), answering each sender when its id is deleted.
fn ack_task(
    client: rsmq_async::Rsmq,
) -> tokio::sync::mpsc::UnboundedSender<(String, tokio::sync::oneshot::Sender<Result<(), String>>)>
{
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<(
        String,
        tokio::sync::oneshot::Sender<Result<(), String>>,
    )>();
    tokio::spawn(async move {
        let mut ids = Vec::new();
        let mut waiting = Vec::new();
        while let Some((id, done)) = rx.recv().await {
            ids.push(id);
            waiting.push(done);
            while let Ok((id, done)) = rx.try_recv() {
                ids.push(id);
                waiting.push(done);
            }
            let r = client
                .delete_message_batch(QNAME, &ids)
                .await
                .map(|_| ())
                .map_err(|e| e.to_string());
            for w in waiting.drain(..) {
                let _ = w.send(r.clone());
            }
            ids.clear();
        }
    });
    tx
}

/// One consumer at one concurrency, summed over its rounds.
#[derive(Clone, Debug)]
pub struct WorkerCell {
    pub consumer: Consumer,
    pub conc: usize,
    /// Messages per round.
    pub n: u64,
    pub rounds: u32,
    pub msgs: u64,
    pub elapsed_s: f64,
    pub msgs_per_s: f64,
    /// Each round's messages/s.
    pub round_rates: Vec<f64>,
    /// CPU of the consumer's process (this one, or node) per message, µs.
    pub client_cpu_us: Option<f64>,
    /// CPU of Redis's main thread per message, µs (not for BullMQ: its node process does
    /// set-up work around the timed phase).
    pub redis_cpu_us: Option<f64>,
    /// Handler calls beyond N (a message handled twice).
    pub duplicates: u64,
    /// How the consumer was set up (instances, batch size).
    pub shape: String,
    /// Redis commands per message in the timed phase (`INFO commandstats`, so any other
    /// client of the same Redis counts too; not for BullMQ).
    pub calls_per_msg: String,
    pub skipped: Option<String>,
}

impl WorkerCell {
    pub fn ok(&self) -> bool {
        self.skipped.is_none() && self.msgs > 0
    }
}

/// The latency of this crate's worker at low load.
#[derive(Clone, Debug)]
pub struct Latency {
    pub sent: u64,
    pub handled: u64,
    pub interval_us: u64,
    pub conc: usize,
    pub p50_us: f64,
    pub p99_us: f64,
    pub max_us: f64,
    pub error: Option<String>,
    /// Every sample, ns, sorted.
    pub samples_ns: Vec<u64>,
}

impl Latency {
    /// Both measurements as one.
    fn merged(mut self, o: Latency) -> Latency {
        self.sent += o.sent;
        self.handled += o.handled;
        self.error = self.error.or(o.error);
        self.samples_ns.extend(o.samples_ns);
        self.samples_ns.sort_unstable();
        self.p50_us = percentile(&self.samples_ns, 50.0) / 1000.0;
        self.p99_us = percentile(&self.samples_ns, 99.0) / 1000.0;
        self.max_us = self.samples_ns.last().copied().unwrap_or(0) as f64 / 1000.0;
        self
    }
}

/// Everything the worker cell measured.
#[derive(Clone, Debug)]
pub struct WorkerReport {
    pub cells: Vec<WorkerCell>,
    pub latency: Option<Latency>,
    /// The same measurement for a bare loop of `receive_message_wait` calls: what the
    /// machine and the long poll alone allow.
    pub latency_bare: Option<Latency>,
    pub loops: usize,
    pub bullmq_note: Option<String>,
    pub bullmq_version: Option<String>,
}

impl WorkerReport {
    pub fn get(&self, consumer: Consumer, conc: usize) -> Option<&WorkerCell> {
        self.cells
            .iter()
            .find(|c| c.consumer == consumer && c.conc == conc && c.ok())
    }
}

/// The node project of the BullMQ column.
fn js_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("js")
}

/// Why the BullMQ column cannot run, if it cannot; else its version.
pub fn bullmq_available() -> Result<String, String> {
    match Command::new("node").arg("--version").output() {
        Ok(o) if o.status.success() => {}
        _ => return Err("`node` is not on PATH".into()),
    }
    let pj = js_dir().join("node_modules/bullmq/package.json");
    let text = std::fs::read_to_string(&pj).map_err(|_| {
        format!(
            "bullmq is not installed at {} (run bench/js/setup.sh)",
            pj.display()
        )
    })?;
    let v: serde_json::Value = serde_json::from_str(&text).map_err(|e| e.to_string())?;
    Ok(v["version"].as_str().unwrap_or("?").to_string())
}

/// Counts handler calls; wakes the bench at the N-th, or when a consumer fails first.
struct Done {
    count: AtomicU64,
    target: u64,
    all: Notify,
    failed: Mutex<Option<String>>,
}

impl Done {
    fn new(target: u64) -> Arc<Done> {
        Arc::new(Done {
            count: AtomicU64::new(0),
            target,
            all: Notify::new(),
            failed: Mutex::new(None),
        })
    }

    fn handled(&self) {
        if self.count.fetch_add(1, Ordering::Relaxed) + 1 == self.target {
            self.all.notify_one();
        }
    }

    /// A consumer stopped before the end.
    fn fail(&self, why: String) {
        self.failed.lock().expect("done").get_or_insert(why);
        self.all.notify_one();
    }

    /// Until every message is handled; the error of a consumer that stopped first.
    async fn wait(&self) -> Result<(), String> {
        loop {
            if let Some(e) = self.failed.lock().expect("done").clone() {
                return Err(e);
            }
            if self.count.load(Ordering::Relaxed) >= self.target {
                return Ok(());
            }
            // `notify_one` stores a permit, so a notification before this await is not lost.
            self.all.notified().await;
        }
    }
}

/// What one round measured.
struct Round {
    msgs: u64,
    elapsed: Duration,
    client_cpu_s: Option<f64>,
    redis_cpu_s: Option<f64>,
    duplicates: u64,
    /// Redis commands in the timed phase, by name (all clients of this Redis).
    calls: BTreeMap<String, u64>,
}

/// A consumer, built (connected) before the clock starts.
enum Built {
    Ours(rsmq_async::Worker),
    Peer(Vec<peer::Worker>),
    Loop(rsmq_async::Rsmq),
}

/// The no-op handler of the loop: what a worker's handler call is, minus the worker.
async fn noop(done: &Done, _m: &RsmqMessage<Vec<u8>>) -> Result<(), Infallible> {
    done.handled();
    Ok(())
}

/// One round of a Rust consumer in namespace `ns`: fill, build, time, stop, check.
#[allow(clippy::too_many_arguments)]
async fn rust_round(
    ctx: &mut Ctx,
    ns: &str,
    consumer: Consumer,
    conc: usize,
    loops: usize,
    loop_mode: LoopMode,
    n: u64,
    timed: bool,
) -> Res<Round> {
    let target = &ctx.target;
    // The queue, by the consumer's own crate (18 stores vt in milliseconds).
    if consumer == Consumer::Peer {
        let mut p = peer::Rsmq::new(target.peer(ns)).await?;
        peer::RsmqConnection::create_queue(&mut p, QNAME, None, None, None).await?;
    } else {
        let o = rsmq_async::Rsmq::new(target.ours(ns)).await?;
        o.create_queue(QNAME, None, None, None).await?;
    }
    let ids = redis_util::new_ids(&mut ctx.raw).await?;
    redis_util::fill(&mut ctx.raw, ns, QNAME, &ids, 0, n, &[b'x'; BODY]).await?;

    let done = Done::new(n);
    let built = match consumer {
        Consumer::Ours => {
            let d = done.clone();
            let w = rsmq_async::Worker::builder(target.ours(ns))
                .concurrency(conc)
                .use_realtime(false)
                .route(QNAME, move |_m: RsmqMessage<Vec<u8>>| {
                    d.handled();
                    async { Ok::<(), Infallible>(()) }
                })
                .build()
                .await?;
            Built::Ours(w)
        }
        Consumer::Peer => {
            let mut ws = Vec::with_capacity(conc);
            for _ in 0..conc {
                let d = done.clone();
                let w = peer::Worker::builder(target.peer(ns))
                    .route(QNAME, move |_m: peer::RsmqMessage<Vec<u8>>| {
                        d.handled();
                        async { Ok::<(), Infallible>(()) }
                    })
                    .build()
                    .await?;
                ws.push(w);
            }
            Built::Peer(ws)
        }
        Consumer::HandLoop => Built::Loop(rsmq_async::Rsmq::new(target.ours(ns)).await?),
        Consumer::BullMq => return Err("BullMQ is not a Rust consumer".into()),
    };

    let (zset, _) = queue_keys(ns, QNAME);
    let calls0 = redis_util::command_calls(&mut ctx.raw).await?;
    let redis0 = redis_util::redis_cpu_s(&mut ctx.raw).await.ok();
    let cpu0 = redis_util::process_cpu_s();
    let t0 = Instant::now();
    // Start.
    let mut stop_ours = None;
    let mut tasks = Vec::new();
    match built {
        Built::Ours(w) => {
            stop_ours = Some(w.handle());
            let d = done.clone();
            tasks.push(tokio::spawn(async move {
                let r = w.run().await.map_err(|e| e.to_string());
                if d.count.load(Ordering::Relaxed) < d.target {
                    d.fail(format!("the Worker stopped early: {r:?}"));
                }
                r
            }));
        }
        Built::Peer(ws) => {
            for w in ws {
                let d = done.clone();
                tasks.push(tokio::spawn(async move {
                    // 18's `run` returns only on an error.
                    let r = w.run().await.map_err(|e| e.to_string());
                    d.fail(format!("an rsmq_async 18 Worker stopped: {r:?}"));
                    r
                }));
            }
        }
        Built::Loop(client) => {
            let acks = (loop_mode == LoopMode::SpawnBatchAck).then(|| ack_task(client.clone()));
            let loops = loops.clamp(1, conc);
            let batch = (conc / loops).max(1) as u32;
            for _ in 0..loops {
                let (c, d) = (client.clone(), done.clone());
                let mode = loop_mode;
                let acks = acks.clone();
                let d2 = d.clone();
                let one = async move {
                    loop {
                        let got = c
                            .receive_message_batch::<Vec<u8>>(QNAME, None, batch)
                            .await
                            .map_err(|e| e.to_string())?;
                        if got.is_empty() {
                            return Ok(());
                        }
                        match mode {
                            LoopMode::Batch => {
                                for m in &got {
                                    let _ = noop(&d, m).await;
                                }
                                let ids: Vec<&str> = got.iter().map(|m| m.id.as_str()).collect();
                                c.delete_message_batch(QNAME, &ids)
                                    .await
                                    .map_err(|e| e.to_string())?;
                            }
                            LoopMode::Each => {
                                let each = got.iter().map(|m| {
                                    let (c, d) = (&c, &d);
                                    async move {
                                        let _ = noop(d, m).await;
                                        c.delete_message(QNAME, &m.id).await
                                    }
                                });
                                for r in futures_util::future::join_all(each).await {
                                    r.map_err(|e| e.to_string())?;
                                }
                            }
                            LoopMode::Spawn => {
                                let mut each = Vec::with_capacity(got.len());
                                for m in got {
                                    let (c, d) = (c.clone(), d.clone());
                                    each.push(tokio::spawn(async move {
                                        let _ = noop(&d, &m).await;
                                        c.delete_message(QNAME, &m.id).await
                                    }));
                                }
                                for t in each {
                                    t.await
                                        .map_err(|e| e.to_string())?
                                        .map_err(|e| e.to_string())?;
                                }
                            }
                            LoopMode::SpawnBatchAck => {
                                let acks = acks.as_ref().expect("an acknowledging task");
                                let mut each = Vec::with_capacity(got.len());
                                for m in got {
                                    let (acks, d) = (acks.clone(), d.clone());
                                    each.push(tokio::spawn(async move {
                                        let _ = noop(&d, &m).await;
                                        let (tx, rx) = tokio::sync::oneshot::channel();
                                        acks.send((m.id, tx)).map_err(|e| e.to_string())?;
                                        rx.await.map_err(|e| e.to_string())?
                                    }));
                                }
                                for t in each {
                                    t.await.map_err(|e| e.to_string())??;
                                }
                            }
                        }
                    }
                };
                tasks.push(tokio::spawn(async move {
                    let r: Result<(), String> = one.await;
                    if let Err(e) = &r {
                        d2.fail(e.clone());
                    }
                    r
                }));
            }
        }
    }
    // All handled, then all deleted (the sorted set holds hidden messages too).
    let finished = tokio::time::timeout(CELL_TIMEOUT, async {
        done.wait().await?;
        loop {
            if redis_util::zcard(&mut ctx.raw, &zset).await? == 0 {
                return Ok::<(), Box<dyn std::error::Error + Send + Sync>>(());
            }
            tokio::task::yield_now().await;
        }
    })
    .await;
    let elapsed = t0.elapsed();
    let cpu1 = redis_util::process_cpu_s();
    let redis1 = redis_util::redis_cpu_s(&mut ctx.raw).await.ok();
    let calls1 = redis_util::command_calls(&mut ctx.raw).await?;
    let calls: BTreeMap<String, u64> = calls1
        .into_iter()
        .map(|(k, v)| {
            let d = v.saturating_sub(calls0.get(&k).copied().unwrap_or(0));
            (k, d)
        })
        .filter(|(_, d)| *d > 0)
        .collect();

    // Stop.
    if let Some(h) = stop_ours {
        h.shutdown();
    }
    let mut first_error = None;
    for t in tasks {
        if consumer == Consumer::Peer {
            // 18's `run` never returns on its own; its instances sleep on an empty queue.
            t.abort();
            continue;
        }
        match tokio::time::timeout(Duration::from_secs(30), t).await {
            Ok(Ok(Ok(()))) => {}
            Ok(Ok(Err(e))) => {
                first_error.get_or_insert(e);
            }
            Ok(Err(e)) => {
                first_error.get_or_insert(e.to_string());
            }
            Err(_) => {
                first_error.get_or_insert("did not stop within 30 s".into());
            }
        }
    }
    match finished {
        Err(_) => {
            return Err(format!(
                "{} of {n} messages handled after {} s",
                done.count.load(Ordering::Relaxed),
                CELL_TIMEOUT.as_secs()
            )
            .into())
        }
        Ok(Err(e)) => return Err(e),
        Ok(Ok(())) => {}
    }
    if let Some(e) = first_error {
        return Err(e.into());
    }
    let handled = done.count.load(Ordering::Relaxed);
    if timed {
        eprintln!(
            "worker {:<40} {conc:>2} tasks: {n} messages in {:.3} s = {:.0}/s; Redis calls per message: {}",
            consumer.key(),
            elapsed.as_secs_f64(),
            n as f64 / elapsed.as_secs_f64(),
            calls_text(&calls, n)
        );
    }
    Ok(Round {
        msgs: n,
        elapsed,
        client_cpu_s: cpu0.zip(cpu1).map(|(a, b)| b - a),
        redis_cpu_s: redis0.zip(redis1).map(|(a, b)| b - a),
        duplicates: handled.saturating_sub(n),
        calls,
    })
}

/// Redis commands per message, the most frequent first (those above 0.005 per message).
pub fn calls_text(calls: &BTreeMap<String, u64>, msgs: u64) -> String {
    let mut v: Vec<(&String, &u64)> = calls.iter().collect();
    v.sort_by(|a, b| b.1.cmp(a.1));
    v.iter()
        .map(|(k, c)| (k, **c as f64 / msgs.max(1) as f64))
        .filter(|(_, r)| *r >= 0.005)
        .map(|(k, r)| format!("{k} {r:.3}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// One round of BullMQ: the node script does its warm-up, pre-fill and timed phase.
fn bullmq_round(target: &Target, prefix: &str, conc: usize, n: u64, warmup: u64) -> Res<Round> {
    let mut cmd = Command::new("node");
    cmd.arg(js_dir().join("bullmq_worker.js"))
        .args(["--host", target.host()])
        .args(["--port", &target.port().to_string()])
        .args(["--db", &target.db().to_string()])
        .args(["--prefix", prefix])
        .args(["--n", &n.to_string()])
        .args(["--conc", &conc.to_string()])
        .args(["--size", &BODY.to_string()])
        .args(["--warmup", &warmup.to_string()]);
    if let Some(u) = target.username() {
        cmd.args(["--username", u]);
    }
    if let Some(p) = target.password() {
        cmd.args(["--password", p]);
    }
    let out = cmd.stdin(Stdio::null()).stderr(Stdio::inherit()).output()?;
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text.lines().last().unwrap_or("");
    let v: serde_json::Value =
        serde_json::from_str(line).map_err(|e| format!("bullmq_worker.js said {line:?}: {e}"))?;
    if v["ok"] != serde_json::Value::Bool(true) {
        return Err(format!("bullmq_worker.js: {}", v["error"]).into());
    }
    let elapsed = Duration::from_secs_f64(v["elapsed_s"].as_f64().unwrap_or(0.0));
    eprintln!(
        "worker {:<40} {conc:>2} tasks: {n} messages in {:.3} s = {:.0}/s",
        Consumer::BullMq.key(),
        elapsed.as_secs_f64(),
        n as f64 / elapsed.as_secs_f64().max(1e-9)
    );
    Ok(Round {
        msgs: n,
        elapsed,
        client_cpu_s: v["cpu_us"].as_f64().map(|u| u / 1e6),
        redis_cpu_s: None,
        duplicates: 0,
        calls: BTreeMap::new(),
    })
}

/// Settings of the worker cell.
pub struct WorkerArgs {
    /// Messages per round above 1 task, and at 1 task.
    pub n: u64,
    pub n1: u64,
    pub rounds: u32,
    pub loops: usize,
    pub loop_mode: LoopMode,
    pub consumers: Vec<Consumer>,
    /// Messages of the latency measurement, and the pause between sends.
    pub latency_msgs: u64,
    pub latency_interval: Duration,
}

/// Runs the worker cell at every concurrency of `concs`.
pub async fn run(ctx: &mut Ctx, wa: &WorkerArgs, concs: &[usize]) -> WorkerReport {
    let bull = if wa.consumers.contains(&Consumer::BullMq) {
        bullmq_available()
    } else {
        Err("not requested".into())
    };
    if let (Err(e), true) = (&bull, wa.consumers.contains(&Consumer::BullMq)) {
        eprintln!("worker cell: BullMQ skipped: {e}");
    }
    let mut cells = Vec::new();
    for &conc in concs {
        let n = if conc <= 1 { wa.n1 } else { wa.n }.max(1);
        let warm = (10 * conc as u64).max(500);
        let mut acc: Vec<(Consumer, Vec<Round>, Option<String>)> = Vec::new();
        for c in Consumer::ALL
            .into_iter()
            .filter(|c| wa.consumers.contains(c))
        {
            let skip = match (&bull, c) {
                (Err(e), Consumer::BullMq) => Some(e.clone()),
                _ => None,
            };
            acc.push((c, Vec::new(), skip));
        }
        // A warm-up round per Rust consumer (loads the scripts, warms the code); BullMQ warms
        // up in each of its processes.
        for (c, _, failed) in acc.iter_mut() {
            if *c == Consumer::BullMq || failed.is_some() {
                continue;
            }
            let ns = ctx.ns(c.short());
            if let Err(e) =
                rust_round(ctx, &ns, *c, conc, wa.loops, wa.loop_mode, warm, false).await
            {
                *failed = Some(format!("warm-up: {e}"));
            }
            let _ = redis_util::delete_matching(&mut ctx.raw, &format!("{ns}:*")).await;
        }
        // Rounds, the consumers taking turns.
        for _ in 0..wa.rounds.max(1) {
            for (c, rounds, failed) in acc.iter_mut() {
                if failed.is_some() {
                    continue;
                }
                let ns = ctx.ns(c.short());
                let r = if *c == Consumer::BullMq {
                    let target = ctx.target.clone();
                    let ns2 = ns.clone();
                    tokio::task::block_in_place(move || bullmq_round(&target, &ns2, conc, n, warm))
                } else {
                    rust_round(ctx, &ns, *c, conc, wa.loops, wa.loop_mode, n, true).await
                };
                match r {
                    Ok(r) => rounds.push(r),
                    Err(e) => *failed = Some(format!("error: {e}")),
                }
                let _ = redis_util::delete_matching(&mut ctx.raw, &format!("{ns}:*")).await;
            }
        }
        for (c, rounds, failed) in acc {
            let msgs: u64 = rounds.iter().map(|r| r.msgs).sum();
            let secs: f64 = rounds.iter().map(|r| r.elapsed.as_secs_f64()).sum();
            let per_msg = |v: Option<f64>| v.filter(|_| msgs > 0).map(|s| s * 1e6 / msgs as f64);
            let sum = |f: fn(&Round) -> Option<f64>| {
                rounds.iter().map(f).try_fold(0.0, |a, x| x.map(|x| a + x))
            };
            let loops = wa.loops.clamp(1, conc);
            let shape = match c {
                Consumer::Ours => format!("1 Worker, concurrency({conc}), 1 connection"),
                Consumer::Peer => format!("{conc} Worker(s), 1 connection each"),
                Consumer::HandLoop => format!(
                    "{loops} loop(s) × batches of {} on 1 client, {}",
                    (conc / loops).max(1),
                    match wa.loop_mode {
                        LoopMode::Batch => "handlers in turn, then `delete_message_batch`",
                        LoopMode::Each => "each message handled and deleted with `delete_message`, concurrently",
                        LoopMode::Spawn => "each message handled and deleted with `delete_message` in a task of its own",
                        LoopMode::SpawnBatchAck => "each message handled in a task of its own, deleted by one acknowledging task with `delete_message_batch`",
                    }
                ),
                Consumer::BullMq => format!("1 Worker, concurrency {conc}"),
            };
            cells.push(WorkerCell {
                consumer: c,
                conc,
                n,
                rounds: rounds.len() as u32,
                msgs,
                elapsed_s: secs,
                msgs_per_s: msgs as f64 / secs.max(1e-9),
                round_rates: rounds
                    .iter()
                    .map(|r| r.msgs as f64 / r.elapsed.as_secs_f64().max(1e-9))
                    .collect(),
                client_cpu_us: per_msg(sum(|r| r.client_cpu_s)),
                redis_cpu_us: per_msg(sum(|r| r.redis_cpu_s)),
                duplicates: rounds.iter().map(|r| r.duplicates).sum(),
                calls_per_msg: {
                    let mut all = BTreeMap::new();
                    for r in &rounds {
                        for (k, v) in &r.calls {
                            *all.entry(k.clone()).or_insert(0) += v;
                        }
                    }
                    calls_text(&all, msgs)
                },
                shape,
                skipped: failed,
            });
        }
    }
    let conc = concs.iter().copied().max().unwrap_or(64);
    // The worker's latency, then a bare long-poll loop's, alternating in halves so both see
    // the machine alike.
    let (mut latency_worker, mut latency_bare) = (None::<Latency>, None::<Latency>);
    if wa.latency_msgs > 0 {
        let half = wa.latency_msgs.div_ceil(2);
        for _ in 0..2 {
            for bare in [false, true] {
                let ns = ctx.ns("w-latency");
                let l = latency(ctx, &ns, conc, half, wa.latency_interval, bare)
                    .await
                    .unwrap_or_else(|e| Latency {
                        sent: 0,
                        handled: 0,
                        interval_us: wa.latency_interval.as_micros() as u64,
                        conc,
                        p50_us: 0.0,
                        p99_us: 0.0,
                        max_us: 0.0,
                        error: Some(e.to_string()),
                        samples_ns: Vec::new(),
                    });
                let _ = redis_util::delete_matching(&mut ctx.raw, &format!("{ns}:*")).await;
                eprintln!(
                    "latency of {} (realtime, one send every {} µs): {} of {} handled, p50 {:.0} µs, p99 {:.0} µs, max {:.0} µs{}",
                    if bare { "a receive_message_wait loop" } else { "this crate's Worker" },
                    l.interval_us,
                    l.handled,
                    l.sent,
                    l.p50_us,
                    l.p99_us,
                    l.max_us,
                    l.error.as_deref().map(|e| format!(" ({e})")).unwrap_or_default()
                );
                let slot = if bare {
                    &mut latency_bare
                } else {
                    &mut latency_worker
                };
                *slot = Some(match slot.take() {
                    None => l,
                    Some(a) => a.merged(l),
                });
            }
        }
    }
    WorkerReport {
        cells,
        latency: latency_worker,
        latency_bare,
        loops: wa.loops,
        bullmq_version: bull.as_ref().ok().cloned(),
        bullmq_note: bull.err(),
    }
}

/// This crate's worker with realtime on (or, `bare`, a loop of `receive_message_wait` calls,
/// each message handled in turn), a producer with realtime on sending one message every
/// `interval`: the time from just before the send call to the start of the handler.
async fn latency(
    ctx: &mut Ctx,
    ns: &str,
    conc: usize,
    count: u64,
    interval: Duration,
    bare: bool,
) -> Res<Latency> {
    let mut opts = ctx.target.ours(ns);
    opts.realtime = true;
    let producer = rsmq_async::Rsmq::new(opts.clone()).await?;
    producer.create_queue(QNAME, None, None, None).await?;
    let base = Instant::now();
    // Warm-up messages are handled but not counted.
    let warm = 50u64;
    let samples = Arc::new(Mutex::new(Vec::with_capacity(count as usize)));
    let done = Done::new(warm + count);
    let handler = {
        let (s, d) = (samples.clone(), done.clone());
        move |m: &RsmqMessage<Vec<u8>>| {
            let now = base.elapsed().as_nanos() as u64;
            let text = String::from_utf8_lossy(&m.message);
            if let Some(sent) = text.strip_prefix('t').and_then(|t| t.parse::<u64>().ok()) {
                s.lock().expect("samples").push(now.saturating_sub(sent));
            }
            d.handled();
        }
    };
    let mut stop = None;
    let running = if bare {
        let c = rsmq_async::Rsmq::new(opts).await?;
        let d = done.clone();
        tokio::spawn(async move {
            while d.count.load(Ordering::Relaxed) < d.target {
                let got = c
                    .receive_message_wait::<Vec<u8>>(QNAME, None, Duration::from_secs(1))
                    .await
                    .map_err(|e| e.to_string())?;
                if let Some(m) = got {
                    handler(&m);
                    c.delete_message(QNAME, &m.id)
                        .await
                        .map_err(|e| e.to_string())?;
                }
            }
            Ok::<(), String>(())
        })
    } else {
        let worker = rsmq_async::Worker::builder(opts)
            .concurrency(conc)
            .use_realtime(true)
            .route(QNAME, move |m: RsmqMessage<Vec<u8>>| {
                handler(&m);
                async { Ok::<(), Infallible>(()) }
            })
            .build()
            .await?;
        stop = Some(worker.handle());
        tokio::spawn(async move { worker.run().await.map_err(|e| e.to_string()) })
    };
    // Let the consumer reach its long poll.
    tokio::time::sleep(Duration::from_millis(100)).await;
    let mut tick = tokio::time::interval(interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut sent = 0;
    for i in 0..warm + count {
        tick.tick().await;
        let body = if i < warm {
            "warm".to_string()
        } else {
            format!("t{}", base.elapsed().as_nanos())
        };
        producer.send_message(QNAME, body, None).await?;
        if i >= warm {
            sent += 1;
        }
    }
    let finished = tokio::time::timeout(Duration::from_secs(30), done.wait()).await;
    if let Some(h) = stop {
        h.shutdown();
    }
    let _ = tokio::time::timeout(Duration::from_secs(30), running).await;
    let mut lat = std::mem::take(&mut *samples.lock().expect("samples"));
    lat.sort_unstable();
    Ok(Latency {
        sent,
        handled: lat.len() as u64,
        interval_us: interval.as_micros() as u64,
        conc: if bare { 1 } else { conc },
        p50_us: percentile(&lat, 50.0) / 1000.0,
        p99_us: percentile(&lat, 99.0) / 1000.0,
        max_us: lat.last().copied().unwrap_or(0) as f64 / 1000.0,
        error: finished
            .is_err()
            .then(|| "not every message was handled within 30 s".to_string()),
        samples_ns: lat,
    })
}
