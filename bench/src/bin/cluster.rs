//! `rsmq-bench-cluster`: this crate on a Redis Cluster against one standalone server.
//!
//! Starts its own servers on free loopback ports (`redis-server` and `redis-cli` on `PATH`,
//! or `RSMQ_BENCH_REDIS_SERVER`): a cluster of three masters with a replica each, and one
//! standalone server of the same binary with a replica too (so both sides pay for
//! replication alike), all without persistence, all stopped at the end.
//! On the cluster, three namespaces are placed on the three masters
//! (`Rsmq::cluster_namespaces`); on the standalone server, three plain namespaces. Each
//! namespace gets a queue and 64 tasks on one client of its own, and the same work, for
//! the two cells:
//!
//! - **send**: `send_message` of 100-byte bodies, `--messages` per namespace;
//! - **receive+delete**: `receive_message` then `delete_message` of as many, from the
//!   queues the sends filled.
//!
//! Reported per cell: messages per second on each side; the Redis CPU time per message
//! (user + system from `INFO cpu`, summed over the masters, or the standalone server) and
//! its ratio; each master's share of the masters' CPU time (even spread: about a third
//! each); and the replicas' CPU time per message, which a standalone server does not pay.
//! Two cores cannot show absolute scaling, only that load spreads and what a message costs.
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
            "--cluster-node-timeout".into(),
            "2000".into(),
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

/// Redis CPU time (user + system) of a server, seconds, and the commands it has processed.
async fn cpu(con: &mut MultiplexedConnection) -> Res<(f64, f64)> {
    let info: String = redis::cmd("INFO").arg("all").query_async(con).await?;
    let field = |name: &str| -> f64 {
        info.lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(':')?.trim().parse().ok())
            .unwrap_or(0.0)
    };
    Ok((
        field("used_cpu_user") + field("used_cpu_sys"),
        field("total_commands_processed"),
    ))
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
    /// Redis CPU µs per message, over the masters (or the standalone server).
    cpu_us: f64,
    /// Each master's share of the masters' CPU, percent.
    shares: Vec<f64>,
    /// Replicas' CPU µs per message.
    replica_cpu_us: f64,
    /// Commands the masters processed per message.
    commands: f64,
}

async fn measure(
    clients: &[Rsmq],
    masters: &mut [MultiplexedConnection],
    replicas: &mut [MultiplexedConnection],
    cell: Cell,
    per_client: u64,
) -> Res<Measured> {
    let mut before = Vec::new();
    for m in masters.iter_mut() {
        before.push(cpu(m).await?);
    }
    let mut replicas_before = 0.0;
    for r in replicas.iter_mut() {
        replicas_before += cpu(r).await?.0;
    }
    let started = Instant::now();
    let n = run(clients, cell, per_client).await.max(1);
    let elapsed = started.elapsed().as_secs_f64();
    let mut used = Vec::new();
    let mut commands = 0.0;
    for (m, b) in masters.iter_mut().zip(&before) {
        let after = cpu(m).await?;
        used.push(after.0 - b.0);
        commands += after.1 - b.1;
    }
    let mut replicas_after = 0.0;
    for r in replicas.iter_mut() {
        replicas_after += cpu(r).await?.0;
    }
    let total: f64 = used.iter().sum();
    Ok(Measured {
        rate: n as f64 / elapsed,
        cpu_us: total * 1e6 / n as f64,
        shares: used.iter().map(|u| 100.0 * u / total.max(1e-9)).collect(),
        replica_cpu_us: (replicas_after - replicas_before) * 1e6 / n as f64,
        commands: commands / n as f64,
    })
}

fn main() -> Res<()> {
    let mut messages: u64 = 100_000;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--messages" => {
                messages = args
                    .next()
                    .and_then(|s| s.parse().ok())
                    .ok_or("--messages takes a number")?
            }
            "--help" | "-h" => {
                println!(
                    "rsmq-bench-cluster [--messages N]: this crate on a 3+3 Redis Cluster against \
                     one server with a replica; N messages per namespace and cell (default 100000)"
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
        .block_on(bench(messages))
}

async fn bench(messages: u64) -> Res<()> {
    eprintln!("starting a 3+3 cluster, and a standalone server with a replica ...");
    let nodes = cluster()?;
    let standalone = start(&["--repl-diskless-sync-delay".into(), "0".into()])?;
    let standalone_replica = start(&[
        "--replicaof".into(),
        "127.0.0.1".into(),
        standalone.port.to_string(),
    ])?;
    let deadline = Instant::now() + Duration::from_secs(30);
    while !cli(standalone.port, &["info", "replication"]).contains("state=online") {
        if Instant::now() > deadline {
            return Err("the standalone server's replica did not sync".into());
        }
        std::thread::sleep(Duration::from_millis(50));
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
    let mut plain_clients = Vec::new();
    for i in 0..3 {
        let c = Rsmq::new(RsmqOptions {
            host: "127.0.0.1".into(),
            port: standalone.port,
            ns: format!("rsmqbench-{i}"),
            ..Default::default()
        })
        .await?;
        c.create_queue("q", None, None, None).await?;
        plain_clients.push(c);
    }
    let mut plain = vec![connect(standalone.port).await?];
    let mut plain_replica = vec![connect(standalone_replica.port).await?];

    println!(
        "| cell (3 namespaces, 64 tasks each, {messages} messages each) | cluster msg/s | \
         standalone msg/s | Redis CPU per message: cluster masters / standalone | cost ratio | \
         masters' CPU shares | replicas' CPU per message: cluster / standalone | commands per \
         message: cluster / standalone |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    for (cell, name) in [
        (Cell::Send, "send"),
        (Cell::ReceiveDelete, "receive+delete"),
    ] {
        // Warm up both sides (connections, scripts), untimed.
        let warm = (messages / 20).max(100);
        run(&cluster_clients, cell, warm).await;
        run(&plain_clients, cell, warm).await;
        let c = measure(
            &cluster_clients,
            &mut masters,
            &mut replicas,
            cell,
            messages,
        )
        .await?;
        let s = measure(
            &plain_clients,
            &mut plain,
            &mut plain_replica,
            cell,
            messages,
        )
        .await?;
        let shares: Vec<String> = c.shares.iter().map(|p| format!("{p:.0}%")).collect();
        println!(
            "| {name} | {:.0} | {:.0} | {:.1} µs / {:.1} µs | {:.2} | {} | {:.1} µs / {:.1} µs | {:.3} / {:.3} |",
            c.rate,
            s.rate,
            c.cpu_us,
            s.cpu_us,
            c.cpu_us / s.cpu_us,
            shares.join(" / "),
            c.replica_cpu_us,
            s.replica_cpu_us,
            c.commands,
            s.commands
        );
        eprintln!(
            "{name}: even spread (each master 33% ± 8%): {}; cost within 15% of standalone: {}",
            c.shares.iter().all(|p| (25.0..=41.0).contains(p)),
            c.cpu_us <= s.cpu_us * 1.15
        );
    }
    Ok(())
}
