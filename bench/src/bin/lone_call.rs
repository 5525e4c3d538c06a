//! `rsmq-lone-call`: the client cost of a lone call (one task, one connection), for
//! profiling. Runs `--n` calls of one operation back to back and prints, per call: the time,
//! the heap allocations (a counting global allocator), the CPU time of the process (user and
//! system), and the context switches of all its threads (from `/proc/self/task/*/status`).
//! Run it under `strace -c -f` for the syscalls, or `perf stat -e context-switches`.
//!
//! ```text
//! cargo run -p rsmq-bench --release --bin rsmq-lone-call -- --op send --n 50000
//! ```
//!
//! Operations: `ping-mux` / `ping-mgr` (redis-rs `PING` on a `MultiplexedConnection` / a
//! `ConnectionManager`), `send-mux` / `send-mgr` (the `EVALSHA` of this crate's send script,
//! built once, sent through redis-rs alone), `send`, `pop`, `recvdel` (this crate's `Rsmq`),
//! `peer-send`, `peer-pop`, `peer-recvdel` (`rsmq_async` 18).

use std::alloc::{GlobalAlloc, Layout, System};
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

usage: rsmq-lone-call [--op OP] [--n N] [--rt current|multi] [--threads N] [--size BYTES]
                      [--redis-url URL]

  --op OP      ping-mux, ping-mgr, send-mux, send-mgr, send (default), pop, recvdel,
               peer-send, peer-pop, peer-recvdel
  --n N        timed calls (default 50000; 2000 untimed calls warm up first)
  --rt RT      Tokio runtime: multi (default, as the bench) or current (current-thread)
  --threads N  worker threads of the multi-thread runtime (default 1, as the bench on 2 CPUs)
  --size B     body bytes (default 100)
";

struct Args {
    op: String,
    n: u64,
    current: bool,
    threads: usize,
    size: usize,
    url: String,
}

fn parse() -> Result<Args, String> {
    let mut a = Args {
        op: "send".into(),
        n: 50_000,
        current: false,
        threads: 1,
        size: 100,
        url: "redis://127.0.0.1:6379".into(),
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut value = || it.next().ok_or(format!("{arg} needs a value"));
        match arg.as_str() {
            "--op" => a.op = value()?,
            "--n" => a.n = value()?.parse().map_err(|_| "bad --n")?,
            "--rt" => a.current = value()? == "current",
            "--threads" => a.threads = value()?.parse().map_err(|_| "bad --threads")?,
            "--size" => a.size = value()?.parse().map_err(|_| "bad --size")?,
            "--redis-url" => a.url = value()?,
            "-h" | "--help" => {
                print!("{USAGE}");
                std::process::exit(0);
            }
            other => return Err(format!("unknown argument `{other}`\n\n{USAGE}")),
        }
    }
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
    threads: u64,
}

fn snap() -> Snap {
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
            s.threads += 1;
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

/// What one call does.
enum Op {
    Mux(MultiplexedConnection, redis::Cmd),
    Mgr(ConnectionManager, redis::Cmd),
    Ours(rsmq_async::Rsmq, Kind),
    Peer(peer::Rsmq, Kind),
}

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Send,
    Pop,
    RecvDel,
}

impl Op {
    async fn call(&mut self, q: &str, body: &[u8]) -> Res<()> {
        match self {
            Op::Mux(c, cmd) => {
                let _: redis::Value = cmd.query_async(c).await?;
            }
            Op::Mgr(c, cmd) => {
                let _: redis::Value = cmd.query_async(c).await?;
            }
            Op::Ours(c, Kind::Send) => {
                c.send_message(q, body, None).await?;
            }
            Op::Ours(c, Kind::Pop) => {
                c.pop_message::<Vec<u8>>(q).await?.ok_or("queue empty")?;
            }
            Op::Ours(c, Kind::RecvDel) => {
                let m = c
                    .receive_message::<Vec<u8>>(q, None)
                    .await?
                    .ok_or("queue empty")?;
                c.delete_message(q, &m.id).await?;
            }
            Op::Peer(c, kind) => {
                use peer::RsmqConnection as _;
                match kind {
                    Kind::Send => {
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

async fn run(a: Args) -> Res<()> {
    let ns = format!("rsmqbench-{}-lone", std::process::id());
    let q = "q";
    let body = vec![b'x'; a.size];
    let mut options: rsmq_async::RsmqOptions = a.url.parse()?;
    options.ns = ns.clone();
    let admin = rsmq_async::Rsmq::new(options.clone()).await?;
    admin.create_queue(q, None, None, None).await?;
    let kind = match a.op.trim_start_matches("peer-") {
        "pop" => Kind::Pop,
        "recvdel" => Kind::RecvDel,
        _ => Kind::Send,
    };
    let warm = 2_000;
    if kind != Kind::Send {
        // Untimed: enough messages for every call.
        let mut left = a.n + warm;
        while left > 0 {
            let k = left.min(1_000);
            admin
                .send_message_batch(q, vec![body.as_slice(); k as usize], None)
                .await?;
            left -= k;
        }
    }
    let client = redis::Client::open(a.url.as_str())?;
    let send_cmd = || -> Res<redis::Cmd> {
        let source = rsmq_async::script_sources()
            .into_iter()
            .find(|(n, _)| *n == "send_message")
            .map(|(_, s)| s)
            .ok_or("no send script")?;
        let sha = redis::Script::new(&source).get_hash().to_string();
        let mut cmd = redis::cmd("EVALSHA");
        cmd.arg(sha)
            .arg(2)
            .arg(format!("{ns}:{q}"))
            .arg(format!("{ns}:{q}:Q"))
            .arg("sfxlonecallab0123456789")
            .arg(body.as_slice())
            .arg("")
            .arg("");
        Ok(cmd)
    };
    let mut op = match a.op.as_str() {
        "ping-mux" | "send-mux" => {
            let con = client.get_multiplexed_async_connection().await?;
            let cmd = if a.op == "ping-mux" {
                redis::cmd("PING")
            } else {
                send_cmd()?
            };
            Op::Mux(con, cmd)
        }
        "ping-mgr" | "send-mgr" => {
            let con = ConnectionManager::new(client.clone()).await?;
            let cmd = if a.op == "ping-mgr" {
                redis::cmd("PING")
            } else {
                send_cmd()?
            };
            Op::Mgr(con, cmd)
        }
        "send" | "pop" | "recvdel" => Op::Ours(rsmq_async::Rsmq::new(options.clone()).await?, kind),
        "peer-send" | "peer-pop" | "peer-recvdel" => {
            let o = peer::RsmqOptions {
                host: options.host.clone(),
                port: options.port,
                db: options.db,
                ns: ns.clone(),
                realtime: false,
                ..Default::default()
            };
            Op::Peer(peer::Rsmq::new(o).await?, kind)
        }
        other => return Err(format!("unknown --op `{other}`").into()),
    };
    if matches!(a.op.as_str(), "send-mux" | "send-mgr") {
        // The script must be cached for EVALSHA: one call of the crate loads it.
        admin.send_message(q, body.as_slice(), None).await?;
    }
    for _ in 0..warm {
        op.call(q, &body).await?;
    }
    let s0 = snap();
    let t0 = Instant::now();
    for _ in 0..a.n {
        op.call(q, &body).await?;
    }
    let elapsed = t0.elapsed();
    let s1 = snap();
    let n = a.n as f64;
    let per = |x: f64| x / n;
    println!(
        "{:<13} {:<7} {:>7} calls {:>8.0} calls/s {:>6.1} µs/call | allocs {:>5.1} ({:>6.0} B) | cpu user {:>5.1} sys {:>5.1} µs | ctx switches vol {:.2} invol {:.2} | {} threads",
        a.op,
        if a.current { "current" } else { "multi" },
        a.n,
        n / elapsed.as_secs_f64(),
        per(elapsed.as_secs_f64() * 1e6),
        per((s1.allocs - s0.allocs) as f64),
        per((s1.bytes - s0.bytes) as f64),
        per((s1.user_s - s0.user_s) * 1e6),
        per((s1.sys_s - s0.sys_s) * 1e6),
        per(s1.voluntary.saturating_sub(s0.voluntary) as f64),
        per(s1.involuntary.saturating_sub(s0.involuntary) as f64),
        s1.threads
    );
    drop(op);
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
