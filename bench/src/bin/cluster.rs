//! `rsmq-bench-cluster`: this crate on a Redis Cluster against standalone servers.
//!
//! Starts its own servers on free loopback ports (`redis-server` and `redis-cli` on `PATH`,
//! or `RSMQ_BENCH_REDIS_SERVER`), all of the same binary, on default settings (but for
//! `repl-diskless-sync-delay 0` on masters, so that replicas sync at once), without
//! persistence, every master with one replica, all running for the whole bench and stopped
//! at the end:
//!
//! - a cluster of three masters with a replica each;
//! - one standalone server with a replica;
//! - three standalone servers with a replica each (the same six processes as the cluster).
//!
//! Four sides get the same work, three namespaces of 64 tasks each (one client per
//! namespace): **cluster** (this crate's cluster client, `Rsmq::new_cluster`, the three
//! namespaces placed on the three masters with `Rsmq::cluster_namespaces`), **cluster, plain
//! clients** (the control: `Rsmq::new` straight to each master, on namespaces placed on it),
//! **standalone** (three namespaces on the one server) and **3 standalone** (one namespace
//! per server). The two cells:
//!
//! - **send**: `send_message` of 100-byte bodies, `--messages` per namespace;
//! - **receive+delete**: `receive_message` then `delete_message` of as many, from the
//!   queues the sends filled.
//!
//! Each cell warms every side up (untimed), then runs `--rounds` rounds, each side in turn
//! in an order that rotates, and reads `INFO all` of the masters and replicas right before
//! and after each side's round. Reported per side: messages per second; the masters' Redis
//! CPU time per message (user + system), and its ratio to the standalone server's and to
//! the three standalone servers'; each master's share; the replicas' CPU time per message;
//! script calls, read events and commands per message; and the masters' CPU with no client
//! work over as long as the cell took, per message (what the cluster bus and the timers
//! cost). On standard error: per message, each command's calls and time, write events, and
//! the masters' context switches (from `/proc`). Two cores cannot show absolute scaling,
//! only that load spreads and what a message costs.
//!
//! ```text
//! cargo run -p rsmq-bench --release --bin rsmq-bench-cluster -- --messages 100000
//! ```

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rsmq_async::redis::{self, aio::MultiplexedConnection};
use rsmq_async::{Rsmq, RsmqConnection, RsmqOptions};

type Res<T> = Result<T, Box<dyn std::error::Error + Send + Sync>>;

const TASKS: usize = 64;
const BODY: usize = 100;

/// A `redis-server` of the bench's own; killed on drop.
struct Server {
    port: u16,
    child: Child,
    dir: std::path::PathBuf,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn free_port() -> u16 {
    loop {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("a free port");
        // Room for nothing else: the cluster bus gets its own free port.
        if port < 65000 {
            return port;
        }
    }
}

fn server_binary() -> String {
    std::env::var("RSMQ_BENCH_REDIS_SERVER").unwrap_or_else(|_| "redis-server".into())
}

fn start(extra: &[String]) -> Res<Server> {
    let port = free_port();
    let dir =
        std::env::temp_dir().join(format!("rsmq-bench-cluster-{}-{port}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let child = Command::new(server_binary())
        .args([
            "--port",
            &port.to_string(),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
        ])
        .args(["--appendonly", "no", "--dir"])
        .arg(&dir)
        .args(extra)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot run {}: {e}", server_binary()))?;
    let server = Server { port, child, dir };
    let deadline = Instant::now() + Duration::from_secs(10);
    while cli(port, &["ping"]).trim() != "PONG" {
        if Instant::now() > deadline {
            return Err(format!("redis-server on port {port} did not start").into());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Ok(server)
}

fn cli(port: u16, args: &[&str]) -> String {
    Command::new("redis-cli")
        .args(["-p", &port.to_string()])
        .args(args)
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default()
}

/// Six nodes joined as three masters with a replica each, the replicas in sync.
fn cluster() -> Res<Vec<Server>> {
    let mut nodes = Vec::new();
    for _ in 0..6 {
        let bus = free_port().to_string();
        nodes.push(start(&[
            "--cluster-enabled".into(),
            "yes".into(),
            "--cluster-port".into(),
            bus,
            "--repl-diskless-sync-delay".into(),
            "0".into(),
        ])?);
    }
    let addrs: Vec<String> = nodes
        .iter()
        .map(|n| format!("127.0.0.1:{}", n.port))
        .collect();
    let out = Command::new("redis-cli")
        .args(["--cluster", "create"])
        .args(&addrs)
        .args(["--cluster-replicas", "1", "--cluster-yes"])
        .output()?;
    if !out.status.success() {
        return Err(format!(
            "redis-cli --cluster create failed:\n{}",
            String::from_utf8_lossy(&out.stdout)
        )
        .into());
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let ok = nodes.iter().all(|n| {
            let info = cli(n.port, &["cluster", "info"]);
            let repl = cli(n.port, &["info", "replication"]);
            info.contains("cluster_state:ok")
                && (repl.contains("role:slave")
                    || (repl.contains("connected_slaves:1") && repl.contains("state=online")))
        });
        if ok {
            return Ok(nodes);
        }
        if Instant::now() > deadline {
            return Err("the cluster did not become ok".into());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

async fn connect(port: u16) -> Res<MultiplexedConnection> {
    Ok(redis::Client::open(format!("redis://127.0.0.1:{port}/"))?
        .get_multiplexed_async_connection()
        .await?)
}

/// What `INFO all` says of a server at one moment: the counters the cells difference.
#[derive(Clone, Default)]
struct Snapshot {
    /// CPU time (user + system) of the server, seconds.
    cpu: f64,
    /// Commands processed.
    commands: f64,
    /// Read events processed (one per read system call on a client connection).
    reads: f64,
    /// Write events processed.
    writes: f64,
    /// Context switches of the server's process (all threads' main one, from `/proc`):
    /// voluntary (it waited for work) and involuntary (it was preempted).
    voluntary: f64,
    involuntary: f64,
    /// Per command name: calls and microseconds (`INFO commandstats`).
    cmdstats: std::collections::BTreeMap<String, (f64, f64)>,
}

impl Snapshot {
    /// Script calls (`EVALSHA`, `EVAL`).
    fn scripts(&self) -> f64 {
        ["evalsha", "eval"]
            .iter()
            .filter_map(|k| self.cmdstats.get(*k))
            .map(|(calls, _)| calls)
            .sum()
    }

    fn minus(&self, before: &Snapshot) -> Snapshot {
        let mut cmdstats = self.cmdstats.clone();
        for (name, (calls, usec)) in &before.cmdstats {
            let e = cmdstats.entry(name.clone()).or_default();
            e.0 -= calls;
            e.1 -= usec;
        }
        cmdstats.retain(|_, (calls, _)| *calls > 0.0);
        Snapshot {
            cpu: self.cpu - before.cpu,
            commands: self.commands - before.commands,
            reads: self.reads - before.reads,
            writes: self.writes - before.writes,
            voluntary: self.voluntary - before.voluntary,
            involuntary: self.involuntary - before.involuntary,
            cmdstats,
        }
    }

    fn add(&mut self, other: &Snapshot) {
        self.cpu += other.cpu;
        self.commands += other.commands;
        self.reads += other.reads;
        self.writes += other.writes;
        self.voluntary += other.voluntary;
        self.involuntary += other.involuntary;
        for (name, (calls, usec)) in &other.cmdstats {
            let e = self.cmdstats.entry(name.clone()).or_default();
            e.0 += calls;
            e.1 += usec;
        }
    }
}

/// The counters of a server now.
async fn snapshot(con: &mut MultiplexedConnection) -> Res<Snapshot> {
    let info: String = redis::cmd("INFO").arg("all").query_async(con).await?;
    let field = |name: &str| -> f64 {
        info.lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(':')?.trim().parse().ok())
            .unwrap_or(0.0)
    };
    let mut cmdstats = std::collections::BTreeMap::new();
    for line in info.lines() {
        // cmdstat_evalsha:calls=1,usec=2,usec_per_call=2.00,...
        let Some((name, rest)) = line
            .strip_prefix("cmdstat_")
            .and_then(|l| l.split_once(':'))
        else {
            continue;
        };
        let value = |key: &str| -> f64 {
            rest.split(',')
                .find_map(|kv| kv.strip_prefix(key)?.strip_prefix('=')?.parse().ok())
                .unwrap_or(0.0)
        };
        cmdstats.insert(name.to_string(), (value("calls"), value("usec")));
    }
    // The main thread's context switches, when the server runs on this machine.
    let status = std::fs::read_to_string(format!("/proc/{}/status", field("process_id")))
        .unwrap_or_default();
    let switches = |name: &str| -> f64 {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(':')?.trim().parse().ok())
            .unwrap_or(0.0)
    };
    Ok(Snapshot {
        voluntary: switches("voluntary_ctxt_switches"),
        involuntary: switches("nonvoluntary_ctxt_switches"),
        cpu: field("used_cpu_user") + field("used_cpu_sys"),
        commands: field("total_commands_processed"),
        reads: field("total_reads_processed"),
        writes: field("total_writes_processed"),
        cmdstats,
    })
}

#[derive(Clone, Copy, PartialEq)]
enum Cell {
    Send,
    ReceiveDelete,
}

/// Runs one cell on every client, 64 tasks each, until each client has done `per_client`
/// messages; returns the messages done.
async fn run(clients: &[Rsmq], cell: Cell, per_client: u64) -> u64 {
    let done = Arc::new(AtomicU64::new(0));
    let body = "m".repeat(BODY);
    let mut tasks = Vec::new();
    for c in clients {
        let left = Arc::new(AtomicU64::new(per_client));
        for _ in 0..TASKS {
            let (c, left, done, body) = (c.clone(), left.clone(), done.clone(), body.clone());
            tasks.push(tokio::spawn(async move {
                let mut misses = 0;
                while left
                    .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1))
                    .is_ok()
                {
                    let ok = match cell {
                        Cell::Send => c.send_message("q", body.as_str(), None).await.is_ok(),
                        Cell::ReceiveDelete => {
                            match c.receive_message::<Vec<u8>>("q", None).await {
                                Ok(Some(m)) => c.delete_message("q", &m.id).await.unwrap_or(false),
                                _ => false,
                            }
                        }
                    };
                    if ok {
                        done.fetch_add(1, Ordering::Relaxed);
                    } else {
                        // Not done: give the message back to the count, a bounded number of
                        // times, so that an empty queue cannot hold a task forever.
                        misses += 1;
                        if misses < 1000 {
                            left.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                }
            }));
        }
    }
    for t in tasks {
        let _ = t.await;
    }
    done.load(Ordering::Relaxed)
}

/// What one side measured for one cell.
struct Measured {
    rate: f64,
    elapsed: f64,
    /// Redis CPU µs per message, over the masters (or the standalone server).
    cpu_us: f64,
    /// Each master's share of the masters' CPU, percent.
    shares: Vec<f64>,
    /// Replicas' CPU µs per message.
    replica_cpu_us: f64,
    /// The masters' counters over the cell, summed, per message.
    per_message: Snapshot,
}

async fn snapshots(cons: &mut [MultiplexedConnection]) -> Res<Vec<Snapshot>> {
    let mut out = Vec::with_capacity(cons.len());
    for c in cons.iter_mut() {
        out.push(snapshot(c).await?);
    }
    Ok(out)
}

fn total(after: &[Snapshot], before: &[Snapshot]) -> (Vec<Snapshot>, Snapshot) {
    let each: Vec<Snapshot> = after.iter().zip(before).map(|(a, b)| a.minus(b)).collect();
    let mut sum = Snapshot::default();
    each.iter().for_each(|d| sum.add(d));
    (each, sum)
}

fn per(s: &Snapshot, n: f64) -> Snapshot {
    Snapshot {
        cpu: s.cpu / n,
        commands: s.commands / n,
        reads: s.reads / n,
        writes: s.writes / n,
        voluntary: s.voluntary / n,
        involuntary: s.involuntary / n,
        cmdstats: s
            .cmdstats
            .iter()
            .map(|(k, (c, u))| (k.clone(), (c / n, u / n)))
            .collect(),
    }
}

/// The masters' CPU time (seconds) over `window` with no client work.
async fn idle(masters: &mut [MultiplexedConnection], window: Duration) -> Res<f64> {
    let before = snapshots(masters).await?;
    tokio::time::sleep(window).await;
    let after = snapshots(masters).await?;
    Ok(total(&after, &before).1.cpu)
}

fn diagnostics(side: &str, m: &Measured) {
    let p = &m.per_message;
    let stats: Vec<String> = p
        .cmdstats
        .iter()
        .filter(|(k, _)| !matches!(k.as_str(), "info"))
        .map(|(k, (c, u))| format!("{k} {c:.3} calls {u:.2} µs"))
        .collect();
    eprintln!(
        "  {side}: {:.2} s; per message: cpu {:.2} µs, commands {:.3}, reads {:.3}, writes {:.3}, \
         context switches {:.4} voluntary {:.4} involuntary; {}",
        m.elapsed,
        p.cpu * 1e6,
        p.commands,
        p.reads,
        p.writes,
        p.voluntary,
        p.involuntary,
        stats.join(", ")
    );
}

fn main() -> Res<()> {
    let mut messages: u64 = 100_000;
    let mut rounds: u64 = 4;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--messages" => {
                messages = args
                    .next()
                    .and_then(|s| s.parse().ok())
                    .ok_or("--messages takes a number")?
            }
            "--rounds" => {
                rounds = args
                    .next()
                    .and_then(|s| s.parse().ok())
                    .filter(|&r| r > 0)
                    .ok_or("--rounds takes a positive number")?
            }
            "--help" | "-h" => {
                println!(
                    "rsmq-bench-cluster [--messages N] [--rounds R]: this crate on a 3+3 Redis \
                     Cluster, plain clients on the same masters, one server with a replica, and \
                     three servers with a replica each; N messages per namespace and cell \
                     (default 100000), in R interleaved rounds (default 4)"
                );
                return Ok(());
            }
            other => return Err(format!("unknown argument {other}").into()),
        }
    }
    let threads =
        std::thread::available_parallelism().map_or(1, |n| n.get().saturating_sub(1).max(1));
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads)
        .enable_all()
        .build()?
        .block_on(bench(messages, rounds))
}

/// One side of the comparison: its clients (one per namespace), a connection to each
/// master that serves them, and to each master's replica.
struct Side {
    name: &'static str,
    clients: Vec<Rsmq>,
    masters: Vec<MultiplexedConnection>,
    replicas: Vec<MultiplexedConnection>,
    /// What the rounds measured so far: messages, seconds, and the counters of the masters
    /// (each, and summed) and of the replicas (summed).
    done: u64,
    elapsed: f64,
    each: Vec<Snapshot>,
    sum: Snapshot,
    replica_sum: Snapshot,
}

impl Side {
    fn new(
        name: &'static str,
        clients: Vec<Rsmq>,
        masters: Vec<MultiplexedConnection>,
        replicas: Vec<MultiplexedConnection>,
    ) -> Side {
        Side {
            name,
            each: vec![Snapshot::default(); masters.len()],
            clients,
            masters,
            replicas,
            done: 0,
            elapsed: 0.0,
            sum: Snapshot::default(),
            replica_sum: Snapshot::default(),
        }
    }

    fn reset(&mut self) {
        self.done = 0;
        self.elapsed = 0.0;
        self.each = vec![Snapshot::default(); self.masters.len()];
        self.sum = Snapshot::default();
        self.replica_sum = Snapshot::default();
    }

    /// One round: `per_client` messages on each client, `INFO` read right before and after.
    async fn round(&mut self, cell: Cell, per_client: u64) -> Res<()> {
        let before = snapshots(&mut self.masters).await?;
        let replicas_before = snapshots(&mut self.replicas).await?;
        let started = Instant::now();
        self.done += run(&self.clients, cell, per_client).await;
        self.elapsed += started.elapsed().as_secs_f64();
        let after = snapshots(&mut self.masters).await?;
        let replicas_after = snapshots(&mut self.replicas).await?;
        let (each, sum) = total(&after, &before);
        for (e, d) in self.each.iter_mut().zip(&each) {
            e.add(d);
        }
        self.sum.add(&sum);
        self.replica_sum
            .add(&total(&replicas_after, &replicas_before).1);
        Ok(())
    }

    fn measured(&self) -> Measured {
        let n = self.done.max(1) as f64;
        Measured {
            rate: n / self.elapsed.max(1e-9),
            elapsed: self.elapsed,
            cpu_us: self.sum.cpu * 1e6 / n,
            shares: self
                .each
                .iter()
                .map(|u| 100.0 * u.cpu / self.sum.cpu.max(1e-9))
                .collect(),
            replica_cpu_us: self.replica_sum.cpu * 1e6 / n,
            per_message: per(&self.sum, n),
        }
    }
}

/// A standalone server with a replica of its own, in sync.
fn standalone_pair() -> Res<(Server, Server)> {
    let master = start(&["--repl-diskless-sync-delay".into(), "0".into()])?;
    let replica = start(&[
        "--replicaof".into(),
        "127.0.0.1".into(),
        master.port.to_string(),
    ])?;
    let deadline = Instant::now() + Duration::from_secs(30);
    while !cli(master.port, &["info", "replication"]).contains("state=online") {
        if Instant::now() > deadline {
            return Err("a standalone server's replica did not sync".into());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok((master, replica))
}

async fn plain_client(port: u16, ns: String) -> Res<Rsmq> {
    let c = Rsmq::new(RsmqOptions {
        host: "127.0.0.1".into(),
        port,
        ns,
        ..Default::default()
    })
    .await?;
    c.create_queue("q", None, None, None).await?;
    Ok(c)
}

async fn bench(messages: u64, rounds: u64) -> Res<()> {
    eprintln!(
        "starting a 3+3 cluster, a standalone server with a replica, and three more standalone \
         servers with a replica each ..."
    );
    let nodes = cluster()?;
    let (one, one_replica) = standalone_pair()?;
    let mut three = Vec::new();
    for _ in 0..3 {
        three.push(standalone_pair()?);
    }
    let urls: Vec<String> = nodes
        .iter()
        .map(|n| format!("redis://127.0.0.1:{}/", n.port))
        .collect();
    let admin = Rsmq::new_cluster(
        &urls,
        RsmqOptions {
            ns: "{rsmqbench-admin}".into(),
            ..Default::default()
        },
    )
    .await?;
    let placed = admin.cluster_namespaces("rsmqbench").await?;
    let mut cluster_clients = Vec::new();
    let mut masters = Vec::new();
    for (master, ns) in &placed {
        let c = Rsmq::new_cluster(
            &urls,
            RsmqOptions {
                ns: ns.clone(),
                ..Default::default()
            },
        )
        .await?;
        c.create_queue("q", None, None, None).await?;
        cluster_clients.push(c);
        let port: u16 = master.rsplit(':').next().unwrap_or_default().parse()?;
        masters.push(connect(port).await?);
    }
    let master_addrs: Vec<String> = placed.iter().map(|(m, _)| m.clone()).collect();
    let mut replicas = Vec::new();
    for n in &nodes {
        if !master_addrs.contains(&format!("127.0.0.1:{}", n.port)) {
            replicas.push(connect(n.port).await?);
        }
    }
    let mut one_clients = Vec::new();
    for i in 0..3 {
        one_clients.push(plain_client(one.port, format!("rsmqbench-{i}")).await?);
    }
    let mut three_clients = Vec::new();
    let mut three_masters = Vec::new();
    let mut three_replicas = Vec::new();
    for (i, (m, r)) in three.iter().enumerate() {
        three_clients.push(plain_client(m.port, format!("rsmqbench-{i}")).await?);
        three_masters.push(connect(m.port).await?);
        three_replicas.push(connect(r.port).await?);
    }
    // The control: plain clients (`Rsmq::new`, one per master, on namespaces placed on it)
    // on the same cluster, so that the client's part and Redis's part can be told apart.
    let mut direct_clients = Vec::new();
    let mut direct_masters = Vec::new();
    for (master, ns) in &admin.cluster_namespaces("rsmqdirect").await? {
        let port: u16 = master.rsplit(':').next().unwrap_or_default().parse()?;
        direct_clients.push(plain_client(port, ns.clone()).await?);
        direct_masters.push(connect(port).await?);
    }
    let mut direct_replicas = Vec::new();
    for n in &nodes {
        if !master_addrs.contains(&format!("127.0.0.1:{}", n.port)) {
            direct_replicas.push(connect(n.port).await?);
        }
    }
    let mut sides = [
        Side::new("cluster", cluster_clients, masters, replicas),
        Side::new(
            "cluster, plain clients",
            direct_clients,
            direct_masters,
            direct_replicas,
        ),
        Side::new(
            "standalone",
            one_clients,
            vec![connect(one.port).await?],
            vec![connect(one_replica.port).await?],
        ),
        Side::new("3 standalone", three_clients, three_masters, three_replicas),
    ];

    println!(
        "| cell ({messages} messages × 3 namespaces, 64 tasks each) | side | msg/s | masters' \
         Redis CPU per message | ratio to standalone | ratio to 3 standalone | masters' CPU \
         shares | replicas' CPU per message | script calls / reads / commands per message | \
         idle masters' CPU per message |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|");
    let per_round = messages.div_ceil(rounds.max(1));
    for (cell, name) in [
        (Cell::Send, "send"),
        (Cell::ReceiveDelete, "receive+delete"),
    ] {
        // Warm up every side (connections, scripts), untimed.
        let warm = (messages / 20).max(100);
        for side in sides.iter_mut() {
            run(&side.clients, cell, warm).await;
            side.reset();
        }
        // Interleaved rounds, the order turning each round, so that a change of the
        // machine's load falls on every side alike.
        let mut left = messages;
        let mut r = 0;
        while left > 0 {
            let n = per_round.min(left);
            left -= n;
            let k = sides.len();
            for i in 0..k {
                sides[(i + r) % k].round(cell, n).await?;
            }
            r += 1;
        }
        let m: Vec<Measured> = sides.iter().map(Side::measured).collect();
        // What the masters use with no client work, over as long as the longest side's
        // cell took (at most 10 s), as µs per message of each side's cell.
        let window =
            Duration::from_secs_f64(m.iter().map(|x| x.elapsed).fold(0.0, f64::max).min(10.0));
        let mut idle_us = Vec::new();
        for (side, x) in sides.iter_mut().zip(&m) {
            let cpu = idle(&mut side.masters, window).await?;
            idle_us.push(cpu / window.as_secs_f64() * x.elapsed * 1e6 / side.done.max(1) as f64);
        }
        let (one, three) = (m[2].cpu_us, m[3].cpu_us);
        for ((side, x), idle) in sides.iter().zip(&m).zip(&idle_us) {
            let shares: Vec<String> = x.shares.iter().map(|p| format!("{p:.0}%")).collect();
            let p = &x.per_message;
            println!(
                "| {name} | {} | {:.0} | {:.2} µs | {:.2} | {:.2} | {} | {:.2} µs | {:.3} / {:.3} / {:.3} | {:.3} µs |",
                side.name,
                x.rate,
                x.cpu_us,
                x.cpu_us / one,
                x.cpu_us / three,
                shares.join(" / "),
                x.replica_cpu_us,
                p.scripts(),
                p.reads,
                p.commands,
                idle,
            );
        }
        for (side, x) in sides.iter().zip(&m) {
            diagnostics(side.name, x);
        }
        let c = &m[0];
        eprintln!(
            "{name}: even spread (each master 33% ± 8%): {}; cluster's cost within 15% of \
             standalone: {} ({:.2}); of 3 standalone: {} ({:.2})",
            c.shares.iter().all(|p| (25.0..=41.0).contains(p)),
            c.cpu_us <= one * 1.15,
            c.cpu_us / one,
            c.cpu_us <= three * 1.15,
            c.cpu_us / three,
        );
    }
    Ok(())
}
