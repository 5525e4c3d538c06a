//! `rsmq-lone-call`: the client cost of a lone call (one task, one connection), for
//! profiling. Runs calls of one or more operations back to back and prints, per call: the
//! time, the heap allocations (a counting global allocator), the CPU time of the process
//! (user and system), and the context switches of all its threads (from
//! `/proc/self/task/*/status`). Run it under `strace -c -f` for the system calls, or
//! `perf stat -e context-switches`.
//!
//! With several operations (`--op a,b,c`), they take turns in bursts of `--burst` calls
//! (a, b, c, a, b, c, ...) in one process, so a drift of the machine weighs on all alike;
//! each line then sums that operation's bursts.
//!
//! ```text
//! cargo run -p rsmq-bench --release --bin rsmq-lone-call -- --op send --n 50000
//! cargo run -p rsmq-bench --release --bin rsmq-lone-call -- --op send-block,send-mux,send
//! ```
//!
//! Operations (`ping`, `send` and `pop` in every form; `recvdel` for the two clients):
//! - `<what>-block`: the command encoded beforehand, written on a blocking `std` socket
//!   (`TCP_NODELAY`), its reply read before the next: the least a client can do;
//! - `<what>-mux`: redis-rs alone, a `MultiplexedConnection` (default settings);
//! - `<what>-mgr`: redis-rs's `ConnectionManager`, configured as `Rsmq::new` configures it;
//! - `send`, `pop`, `recvdel`: this crate's `Rsmq`; `peer-send`, `peer-pop`,
//!   `peer-recvdel`: `rsmq_async` 18.
//!
//! The `send`, `receive` and `pop` commands are the `EVALSHA`s this crate sends.

use std::alloc::{GlobalAlloc, Layout, System};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use rsmq_async::redis::{self, aio::ConnectionManager, aio::MultiplexedConnection};
use rsmq_async::RsmqConnection;

/// Counts allocations (and reallocations) and the bytes they ask for.
struct Counting;

static ALLOCS: AtomicU64 = AtomicU64::new(0);
static BYTES: AtomicU64 = AtomicU64::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        BYTES.fetch_add(layout.size() as u64, Ordering::Relaxed);
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        BYTES.fetch_add(new_size as u64, Ordering::Relaxed);
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

type Res<T> = Result<T, Box<dyn std::error::Error + Send + Sync>>;

const USAGE: &str = "\
rsmq-lone-call: the client cost of one call at a time, per call

usage: rsmq-lone-call [--op LIST] [--n N] [--burst N] [--rt current|multi] [--threads N]
                      [--size BYTES] [--nodelay] [--redis-url URL]

  --op LIST    operations (comma-separated; several take turns in bursts):
               ping-block, ping-mux, ping-mgr, send-block, send-mux, send-mgr, send,
               peer-send, pop-block, pop-mux, pop-mgr, pop, peer-pop, recvdel,
               peer-recvdel (default: send)
  --n N        timed calls of each operation (default 50000; 2000 untimed calls of each
               warm up first)
  --burst N    calls per turn when several operations take turns (default 1000)
  --rt RT      Tokio runtime: multi (default, as the bench) or current (current-thread)
  --threads N  worker threads of the multi-thread runtime (default 1, as the bench on 2 CPUs)
  --size B     body bytes (default 100)
  --nodelay    set TCP_NODELAY on the redis-rs connections of the -mux and -mgr operations;
               an operation named with `-nd` at the end (send-mux-nd) sets it for itself
  --tasks N    calls in flight at once on each operation's connection (default 1; not for
               -block): N clones, driven together
";

struct Args {
    ops: Vec<String>,
    n: u64,
    burst: u64,
    current: bool,
    threads: usize,
    size: usize,
    url: String,
    nodelay: bool,
    tasks: usize,
}

fn parse() -> Result<Args, String> {
    let mut a = Args {
        ops: vec!["send".into()],
        n: 50_000,
        burst: 1_000,
        current: false,
        threads: 1,
        size: 100,
        url: "redis://127.0.0.1:6379".into(),
        nodelay: false,
        tasks: 1,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut value = || it.next().ok_or(format!("{arg} needs a value"));
        match arg.as_str() {
            "--op" => a.ops = value()?.split(',').map(|s| s.trim().to_string()).collect(),
            "--n" => a.n = value()?.parse().map_err(|_| "bad --n")?,
            "--burst" => a.burst = value()?.parse().map_err(|_| "bad --burst")?,
            "--rt" => a.current = value()? == "current",
            "--threads" => a.threads = value()?.parse().map_err(|_| "bad --threads")?,
            "--size" => a.size = value()?.parse().map_err(|_| "bad --size")?,
            "--redis-url" => a.url = value()?,
            "--nodelay" => a.nodelay = true,
            "--tasks" => a.tasks = value()?.parse().map_err(|_| "bad --tasks")?,
            "-h" | "--help" => {
                print!("{USAGE}");
                std::process::exit(0);
            }
            other => return Err(format!("unknown argument `{other}`\n\n{USAGE}")),
        }
    }
    a.burst = a.burst.max(1);
    Ok(a)
}

/// Counters of the whole process at one moment.
#[derive(Clone, Copy, Default)]
struct Snap {
    allocs: u64,
    bytes: u64,
    user_s: f64,
    sys_s: f64,
    voluntary: u64,
    involuntary: u64,
}

impl Snap {
    fn now() -> Snap {
        let mut s = Snap {
            allocs: ALLOCS.load(Ordering::Relaxed),
            bytes: BYTES.load(Ordering::Relaxed),
            ..Snap::default()
        };
        if let Ok(stat) = std::fs::read_to_string("/proc/self/stat") {
            if let Some(i) = stat.rfind(')') {
                let f: Vec<&str> = stat[i + 2..].split_whitespace().collect();
                let tick = |k: usize| f.get(k).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
                s.user_s = tick(11) / 100.0;
                s.sys_s = tick(12) / 100.0;
            }
        }
        if let Ok(dir) = std::fs::read_dir("/proc/self/task") {
            for task in dir.flatten() {
                let Ok(status) = std::fs::read_to_string(task.path().join("status")) else {
                    continue;
                };
                for line in status.lines() {
                    let num = |l: &str| l.trim().parse::<u64>().unwrap_or(0);
                    if let Some(v) = line.strip_prefix("voluntary_ctxt_switches:") {
                        s.voluntary += num(v);
                    } else if let Some(v) = line.strip_prefix("nonvoluntary_ctxt_switches:") {
                        s.involuntary += num(v);
                    }
                }
            }
        }
        s
    }
}

/// What an operation has used, summed over its bursts.
#[derive(Default)]
struct Totals {
    calls: u64,
    seconds: f64,
    allocs: u64,
    bytes: u64,
    user_s: f64,
    sys_s: f64,
    voluntary: u64,
    involuntary: u64,
    /// µs per call of each burst.
    bursts: Vec<f64>,
}

impl Totals {
    fn add(&mut self, calls: u64, seconds: f64, a: Snap, b: Snap) {
        self.calls += calls;
        self.seconds += seconds;
        self.allocs += b.allocs - a.allocs;
        self.bytes += b.bytes - a.bytes;
        self.user_s += b.user_s - a.user_s;
        self.sys_s += b.sys_s - a.sys_s;
        self.voluntary += b.voluntary.saturating_sub(a.voluntary);
        self.involuntary += b.involuntary.saturating_sub(a.involuntary);
        self.bursts.push(seconds * 1e6 / calls.max(1) as f64);
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Ping,
    Send,
    Pop,
    RecvDel,
}

/// One operation, ready to call.
enum Op {
    /// Encoded commands (used in turn) on a blocking socket.
    Block {
        socket: TcpStream,
        commands: Vec<Vec<u8>>,
        next: usize,
        buf: Vec<u8>,
    },
    Mux(MultiplexedConnection, Vec<redis::Cmd>, usize),
    Mgr(ConnectionManager, Vec<redis::Cmd>, usize),
    Ours(rsmq_async::Rsmq, Kind),
    Peer(peer::Rsmq, Kind),
}

impl Op {
    async fn call(&mut self, q: &str, body: &[u8]) -> Res<()> {
        match self {
            Op::Block {
                socket,
                commands,
                next,
                buf,
            } => {
                socket.write_all(&commands[*next % commands.len()])?;
                *next += 1;
                // One reply: read until a whole RESP value is in.
                let mut filled = 0;
                loop {
                    let got = socket.read(&mut buf[filled..])?;
                    if got == 0 {
                        return Err("Redis closed the connection".into());
                    }
                    filled += got;
                    if redis::parse_redis_value(&buf[..filled]).is_ok() {
                        break;
                    }
                    if filled == buf.len() {
                        buf.resize(buf.len() * 2, 0);
                    }
                }
            }
            Op::Mux(c, cmds, next) => {
                let cmd = &cmds[*next % cmds.len()];
                *next += 1;
                let _: redis::Value = cmd.query_async(c).await?;
            }
            Op::Mgr(c, cmds, next) => {
                let cmd = &cmds[*next % cmds.len()];
                *next += 1;
                let _: redis::Value = cmd.query_async(c).await?;
            }
            Op::Ours(c, kind) => match kind {
                Kind::Send | Kind::Ping => {
                    c.send_message(q, body, None).await?;
                }
                Kind::Pop => {
                    c.pop_message::<Vec<u8>>(q).await?.ok_or("queue empty")?;
                }
                Kind::RecvDel => {
                    let m = c
                        .receive_message::<Vec<u8>>(q, None)
                        .await?
                        .ok_or("queue empty")?;
                    c.delete_message(q, &m.id).await?;
                }
            },
            Op::Peer(c, kind) => {
                use peer::RsmqConnection as _;
                match kind {
                    Kind::Send | Kind::Ping => {
                        c.send_message(q, body, None).await?;
                    }
                    Kind::Pop => {
                        c.pop_message::<Vec<u8>>(q).await?.ok_or("queue empty")?;
                    }
                    Kind::RecvDel => {
                        let m = c
                            .receive_message::<Vec<u8>>(q, None)
                            .await?
                            .ok_or("queue empty")?;
                        c.delete_message(q, &m.id).await?;
                    }
                }
            }
        }
        Ok(())
    }
}

/// The commands of a raw operation: `count` sends with distinct random suffixes, or one
/// `PING` / pop `EVALSHA`.
fn raw_commands(kind: Kind, ns: &str, q: &str, body: &[u8], count: u64) -> Res<Vec<redis::Cmd>> {
    let sha = |name: &str| -> Res<String> {
        let source = rsmq_async::script_sources()
            .into_iter()
            .find(|(n, _)| *n == name)
            .map(|(_, s)| s)
            .ok_or_else(|| format!("no script {name}"))?;
        Ok(redis::Script::new(&source).get_hash().to_string())
    };
    let head = |sha: String| {
        let mut cmd = redis::cmd("EVALSHA");
        cmd.arg(sha)
            .arg(2)
            .arg(format!("{ns}:{q}"))
            .arg(format!("{ns}:{q}:Q"));
        cmd
    };
    Ok(match kind {
        Kind::Ping => vec![redis::cmd("PING")],
        Kind::Pop => vec![head(sha("pop_message")?)],
        Kind::Send => {
            let sha = sha("send_message")?;
            (0..count)
                .map(|_| {
                    let mut cmd = head(sha.clone());
                    let suffix: String = std::iter::repeat_with(fastrand::alphanumeric)
                        .take(22)
                        .collect();
                    cmd.arg(suffix).arg(body).arg("").arg("");
                    cmd
                })
                .collect()
        }
        Kind::RecvDel => return Err("recvdel runs on the clients only".into()),
    })
}

/// `calls` calls on each op of the group, all ops in flight together. Returns the calls.
async fn run_group(group: &mut [Op], calls: u64, q: &str, body: &[u8]) -> Res<u64> {
    let each = group.iter_mut().map(|op| async move {
        for _ in 0..calls {
            op.call(q, body).await?;
        }
        Ok::<_, Box<dyn std::error::Error + Send + Sync>>(())
    });
    for r in futures_util::future::join_all(each).await {
        r?;
    }
    Ok(calls * group.len() as u64)
}

async fn run(a: Args) -> Res<()> {
    let ns = format!("rsmqbench-{}-lone", std::process::id());
    let q = "q";
    let body = vec![b'x'; a.size];
    let mut options: rsmq_async::RsmqOptions = a.url.parse()?;
    options.ns = ns.clone();
    let admin = rsmq_async::Rsmq::new(options.clone()).await?;
    admin.create_queue(q, None, None, None).await?;
    // Loads the scripts, which the raw operations call by sha.
    admin.send_message(q, body.as_slice(), None).await?;
    admin.pop_message::<Vec<u8>>(q).await?;
    let warm = 2_000;
    let kind = |op: &str| match op.trim_start_matches("peer-").split('-').next() {
        Some("ping") => Kind::Ping,
        Some("pop") => Kind::Pop,
        Some("recvdel") => Kind::RecvDel,
        _ => Kind::Send,
    };
    let consuming = a
        .ops
        .iter()
        .filter(|op| matches!(kind(op), Kind::Pop | Kind::RecvDel))
        .count() as u64;
    // Untimed: enough messages for every call.
    let mut left = consuming * (a.n + warm) * a.tasks as u64;
    while left > 0 {
        let k = left.min(1_000);
        admin
            .send_message_batch(q, vec![body.as_slice(); k as usize], None)
            .await?;
        left -= k;
    }
    let info = redis::IntoConnectionInfo::into_connection_info(a.url.as_str())?;
    let info = if a.nodelay {
        info.set_tcp_settings(redis::io::tcp::TcpSettings::default().set_nodelay(true))
    } else {
        info
    };
    let client = redis::Client::open(info)?;
    let mut ops = Vec::new();
    for full in &a.ops {
        let nodelay = full.ends_with("-nd");
        let name = &full.trim_end_matches("-nd").to_string();
        let client = if nodelay && !a.nodelay {
            let info = redis::IntoConnectionInfo::into_connection_info(a.url.as_str())?
                .set_tcp_settings(redis::io::tcp::TcpSettings::default().set_nodelay(true));
            redis::Client::open(info)?
        } else {
            client.clone()
        };
        let k = kind(name);
        let count = if k == Kind::Send { a.n + warm } else { 1 };
        let op = match name.rsplit('-').next() {
            _ if name.starts_with("peer-") => {
                let o = peer::RsmqOptions {
                    host: options.host.clone(),
                    port: options.port,
                    db: options.db,
                    ns: ns.clone(),
                    realtime: false,
                    ..Default::default()
                };
                Op::Peer(peer::Rsmq::new(o).await?, k)
            }
            Some("block") => {
                let socket = TcpStream::connect((options.host.as_str(), options.port))?;
                socket.set_nodelay(true)?;
                let commands = raw_commands(k, &ns, q, &body, count)?
                    .iter()
                    .map(|c| c.get_packed_command())
                    .collect();
                Op::Block {
                    socket,
                    commands,
                    next: 0,
                    buf: vec![0; 64 * 1024],
                }
            }
            Some("mux") => Op::Mux(
                client.get_multiplexed_async_connection().await?,
                raw_commands(k, &ns, q, &body, count)?,
                0,
            ),
            Some("mgr") => {
                let config = redis::aio::ConnectionManagerConfig::new()
                    .set_connection_timeout(Some(options.connection_timeout))
                    .set_response_timeout(Some(options.response_timeout))
                    .set_min_delay(Duration::from_millis(50))
                    .set_max_delay(Duration::from_secs(2))
                    .set_number_of_retries(3);
                Op::Mgr(
                    ConnectionManager::new_with_config(client.clone(), config).await?,
                    raw_commands(k, &ns, q, &body, count)?,
                    0,
                )
            }
            _ if matches!(name.as_str(), "send" | "pop" | "recvdel") => {
                Op::Ours(rsmq_async::Rsmq::new(options.clone()).await?, k)
            }
            _ => return Err(format!("unknown operation `{name}`").into()),
        };
        let mut group = vec![op];
        for _ in 1..a.tasks {
            let copy = match &group[0] {
                Op::Mux(c, cmds, _) => Op::Mux(c.clone(), cmds.clone(), fastrand::usize(..)),
                Op::Mgr(c, cmds, _) => Op::Mgr(c.clone(), cmds.clone(), fastrand::usize(..)),
                Op::Ours(c, k) => Op::Ours(c.clone(), *k),
                Op::Peer(c, k) => Op::Peer(c.clone(), *k),
                Op::Block { .. } => return Err("--tasks needs a client, not -block".into()),
            };
            group.push(copy);
        }
        ops.push(group);
    }
    for group in &mut ops {
        run_group(group, warm, q, &body).await?;
    }
    let mut totals: Vec<Totals> = ops.iter().map(|_| Totals::default()).collect();
    let burst = if ops.len() > 1 { a.burst } else { a.n };
    let mut done = 0;
    while done < a.n {
        let k = burst.min(a.n - done);
        for (group, t) in ops.iter_mut().zip(&mut totals) {
            let s0 = Snap::now();
            let t0 = Instant::now();
            let calls = run_group(group, k, q, &body).await?;
            let seconds = t0.elapsed().as_secs_f64();
            t.add(calls, seconds, s0, Snap::now());
        }
        done += k;
    }
    let rt = if a.current { "current" } else { "multi" };
    for (name, t) in a.ops.iter().zip(&totals) {
        let n = t.calls as f64;
        let mut bursts = t.bursts.clone();
        bursts.sort_by(|x, y| x.total_cmp(y));
        let median = bursts.get(bursts.len() / 2).copied().unwrap_or(0.0);
        println!(
            "{name:<13} {rt:<7} {:>7} calls {:>7.0} calls/s {:>6.1} µs/call (median burst {:>6.1}) | allocs {:>5.1} ({:>6.0} B) | cpu user {:>5.1} sys {:>5.1} µs | ctx switches vol {:.2} invol {:.2}",
            t.calls,
            n / t.seconds,
            t.seconds * 1e6 / n,
            median,
            t.allocs as f64 / n,
            t.bytes as f64 / n,
            t.user_s * 1e6 / n,
            t.sys_s * 1e6 / n,
            t.voluntary as f64 / n,
            t.involuntary as f64 / n,
        );
    }
    drop(ops);
    admin.delete_queue(q).await?;
    tokio::time::sleep(Duration::from_millis(10)).await;
    Ok(())
}

fn main() {
    let a = match parse() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(2);
        }
    };
    let rt = if a.current {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(a.threads.max(1))
            .enable_all()
            .build()
    }
    .expect("a Tokio runtime");
    // As the bench: the calls run in a spawned task, not in `block_on`'s thread.
    if let Err(e) = rt.block_on(async move { tokio::spawn(run(a)).await? }) {
        eprintln!("rsmq-lone-call: {e}");
        std::process::exit(1);
    }
}
