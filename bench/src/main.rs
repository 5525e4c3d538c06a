//! `rsmq-bench`: this crate against `rsmq_async` 18, the JavaScript `rsmq` 0.12.4, and the
//! ceiling of Redis itself running the same scripts. See `bench/README.md`.
//!
//! ```text
//! cargo run -p rsmq-bench --release -- [--quick|--full] [--redis-url URL] [--json out.json]
//! ```

mod ceiling;
mod cells;
mod floor;
mod js;
mod redis_util;
mod report;
mod worker_cell;
mod workload;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use crate::ceiling::{CeilingResult, Script, Via};
use crate::redis_util::{Target, KEY_PREFIX};
use crate::workload::{ClientKind, Op};

pub type Res<T> = Result<T, Box<dyn std::error::Error + Send + Sync>>;

/// Body sizes, bytes.
pub const SMALL: usize = 100;
pub const LARGE: usize = 16 * 1024;
/// Concurrency levels: tasks on one client.
pub const CONCS: [usize; 2] = [1, 64];

const USAGE: &str = "\
rsmq-bench: rsmq_async (this crate) vs rsmq_async 18, JS rsmq 0.12.4 and the redis-benchmark ceiling

usage: cargo run -p rsmq-bench --release -- [options]

  --quick              short cells, 16 KiB bodies for send and receive+delete only (default)
  --full               longer cells, every operation at 100 B and 16 KiB
  --redis-url URL      Redis to use (default redis://127.0.0.1:6379)
  --json PATH          also write the results as JSON
  --duration-ms MS     timed length of each cell (default: quick 1000, full 5000)
  --rounds N           split each cell's time into N rounds, the clients of a row taking
                       turns (default: quick 4, full 10)
  --threads N          Tokio worker threads (default: CPUs - 1, leaving one to Redis)
  --pool-size N        connections of the PooledRsmq cells (default 64, one per task)
  --only LIST          run only these operations (comma-separated names as in the table),
                       e.g. --only send,receive+delete,pop; `worker` names the worker cell
  --clients LIST       run only these clients: ours,pooled,peer,js,floor (comma-separated);
                       add peer-loop for rsmq_async 18 deleting batches one id at a time
                       (floor: the lone-call floor of the 1-task send, receive+delete and
                       pop rows, by redis-benchmark -c 1)
  --sizes LIST         body sizes to run, bytes (default 100,16384)
  --tasks LIST         task counts to run (default 1,64)
  --no-js              skip the JavaScript column
  --no-floor           skip the lone-call floor
  --no-ceiling         skip the redis-benchmark ceiling
  --ceiling-only       run only the redis-benchmark ceiling
  --worker-n N         messages per round of the worker cell above 1 task (default: quick
                       20000, full 100000)
  --worker-n1 N        the same at 1 task (default: quick 2000, full 25000)
  --worker-rounds N    timed rounds of each worker cell (default: quick 2, full 3)
  --worker-clients L   consumers of the worker cell: ours,peer,loop,bullmq (default all)
  --hand-loops N       tasks of the hand-written batch loop of the worker cell (default 4;
                       each receives batches of tasks / N)
  --loop-mode M        how the hand-written loop deletes: batch (default: handlers, then
                       delete_message_batch), each (delete_message per message, all at
                       once), spawn (as each, a task per message, as the Worker does),
                       spawn-batch-ack (a task per message, deletes gathered by one task
                       into delete_message_batch calls)
  --latency-msgs N     messages of the worker latency measurement (default: quick 300,
                       full 1000; 0 skips it), one every --latency-interval-us (default 2000)
  --dump-scripts DIR   write this crate's Lua scripts (as the ceiling runs them) to DIR and exit
  -h, --help           this text
";

/// Command-line options.
#[derive(Clone, Debug)]
pub struct Args {
    pub full: bool,
    pub redis_url: String,
    pub json: Option<String>,
    pub duration: Duration,
    pub rounds: u32,
    pub threads: usize,
    pub pool_size: u32,
    pub only: Vec<String>,
    pub clients: Vec<ClientKind>,
    pub sizes: Vec<usize>,
    pub concs: Vec<usize>,
    pub js: bool,
    pub ceiling: bool,
    pub cells: bool,
    pub worker_n: u64,
    pub worker_n1: u64,
    pub worker_rounds: u32,
    pub hand_loops: usize,
    pub worker_clients: Vec<worker_cell::Consumer>,
    pub loop_mode: worker_cell::LoopMode,
    pub latency_msgs: u64,
    pub latency_interval: Duration,
}

fn parse_args() -> Result<Args, String> {
    let mut a = Args {
        full: false,
        redis_url: "redis://127.0.0.1:6379".into(),
        json: None,
        duration: Duration::ZERO,
        rounds: 0,
        // Leave a core to Redis (on this machine it runs beside the bench).
        threads: std::thread::available_parallelism()
            .map_or(1, |n| n.get().saturating_sub(1).max(1)),
        pool_size: 64,
        only: Vec::new(),
        clients: vec![
            ClientKind::Ours,
            ClientKind::Pooled,
            ClientKind::Peer,
            ClientKind::Js,
            ClientKind::Floor,
        ],
        sizes: vec![SMALL, LARGE],
        concs: CONCS.to_vec(),
        js: true,
        ceiling: true,
        cells: true,
        worker_n: 0,
        worker_n1: 0,
        worker_rounds: 0,
        hand_loops: 4,
        worker_clients: worker_cell::Consumer::ALL.to_vec(),
        loop_mode: worker_cell::LoopMode::Batch,
        latency_msgs: u64::MAX,
        latency_interval: Duration::from_millis(2),
    };
    let mut duration_ms = None;
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut value = |name: &str| it.next().ok_or(format!("{name} needs a value"));
        match arg.as_str() {
            "--quick" => a.full = false,
            "--full" => a.full = true,
            "--redis-url" => a.redis_url = value("--redis-url")?,
            "--json" => a.json = Some(value("--json")?),
            "--duration-ms" => {
                duration_ms = Some(
                    value("--duration-ms")?
                        .parse::<u64>()
                        .map_err(|e| e.to_string())?,
                )
            }
            "--rounds" => a.rounds = value("--rounds")?.parse().map_err(|_| "bad --rounds")?,
            "--threads" => a.threads = value("--threads")?.parse().map_err(|_| "bad --threads")?,
            "--pool-size" => {
                a.pool_size = value("--pool-size")?
                    .parse()
                    .map_err(|_| "bad --pool-size")?
            }
            "--only" => {
                a.only = value("--only")?
                    .split(',')
                    .map(|s| s.trim().to_string())
                    .filter(|s| !s.is_empty())
                    .collect()
            }
            "--clients" => {
                a.clients = value("--clients")?
                    .split(',')
                    .map(|s| match s.trim() {
                        "ours" => Ok(ClientKind::Ours),
                        "pooled" => Ok(ClientKind::Pooled),
                        "peer" | "peer18" => Ok(ClientKind::Peer),
                        "peer-loop" => Ok(ClientKind::PeerLoop),
                        "js" => Ok(ClientKind::Js),
                        "floor" => Ok(ClientKind::Floor),
                        other => Err(format!("unknown client `{other}`")),
                    })
                    .collect::<Result<_, _>>()?
            }
            "--tasks" => {
                a.concs = value("--tasks")?
                    .split(',')
                    .map(|s| {
                        s.trim()
                            .parse::<usize>()
                            .map_err(|_| format!("bad task count `{s}`"))
                    })
                    .collect::<Result<_, _>>()?
            }
            "--sizes" => {
                a.sizes = value("--sizes")?
                    .split(',')
                    .map(|s| {
                        s.trim()
                            .parse::<usize>()
                            .map_err(|_| format!("bad size `{s}`"))
                    })
                    .collect::<Result<_, _>>()?
            }
            "--worker-n" => {
                a.worker_n = value("--worker-n")?.parse().map_err(|_| "bad --worker-n")?
            }
            "--worker-n1" => {
                a.worker_n1 = value("--worker-n1")?
                    .parse()
                    .map_err(|_| "bad --worker-n1")?
            }
            "--worker-rounds" => {
                a.worker_rounds = value("--worker-rounds")?
                    .parse()
                    .map_err(|_| "bad --worker-rounds")?
            }
            "--hand-loops" => {
                a.hand_loops = value("--hand-loops")?
                    .parse()
                    .map_err(|_| "bad --hand-loops")?
            }
            "--worker-clients" => {
                a.worker_clients = value("--worker-clients")?
                    .split(',')
                    .map(|s| match s.trim() {
                        "ours" => Ok(worker_cell::Consumer::Ours),
                        "peer" | "peer18" => Ok(worker_cell::Consumer::Peer),
                        "loop" => Ok(worker_cell::Consumer::HandLoop),
                        "bullmq" => Ok(worker_cell::Consumer::BullMq),
                        other => Err(format!("unknown worker consumer `{other}`")),
                    })
                    .collect::<Result<_, _>>()?
            }
            "--loop-mode" => {
                a.loop_mode = match value("--loop-mode")?.as_str() {
                    "batch" => worker_cell::LoopMode::Batch,
                    "each" => worker_cell::LoopMode::Each,
                    "spawn" => worker_cell::LoopMode::Spawn,
                    "spawn-batch-ack" => worker_cell::LoopMode::SpawnBatchAck,
                    other => return Err(format!("unknown --loop-mode `{other}`")),
                }
            }
            "--latency-msgs" => {
                a.latency_msgs = value("--latency-msgs")?
                    .parse()
                    .map_err(|_| "bad --latency-msgs")?
            }
            "--latency-interval-us" => {
                a.latency_interval = Duration::from_micros(
                    value("--latency-interval-us")?
                        .parse()
                        .map_err(|_| "bad --latency-interval-us")?,
                )
            }
            "--no-js" => a.js = false,
            "--no-floor" => a.clients.retain(|c| *c != ClientKind::Floor),
            "--no-ceiling" => a.ceiling = false,
            "--ceiling-only" => a.cells = false,
            "--dump-scripts" => {
                let dir = value("--dump-scripts")?;
                std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
                for (name, source) in rsmq_async::script_sources() {
                    let path = std::path::Path::new(&dir).join(format!("{name}.lua"));
                    std::fs::write(&path, source).map_err(|e| e.to_string())?;
                    println!("{}", path.display());
                }
                std::process::exit(0);
            }
            "-h" | "--help" => {
                print!("{USAGE}");
                std::process::exit(0);
            }
            other => return Err(format!("unknown argument `{other}`\n\n{USAGE}")),
        }
    }
    a.duration = Duration::from_millis(duration_ms.unwrap_or(if a.full { 5000 } else { 1000 }));
    if a.rounds == 0 {
        a.rounds = if a.full { 10 } else { 4 };
    }
    if a.worker_n == 0 {
        a.worker_n = if a.full { 100_000 } else { 20_000 };
    }
    if a.worker_n1 == 0 {
        a.worker_n1 = if a.full { 25_000 } else { 2_000 };
    }
    if a.worker_rounds == 0 {
        a.worker_rounds = if a.full { 3 } else { 2 };
    }
    if a.latency_msgs == u64::MAX {
        a.latency_msgs = if a.full { 1000 } else { 300 };
    }
    if a.threads == 0 || a.pool_size == 0 || a.hand_loops == 0 {
        return Err("--threads, --pool-size and --hand-loops must be at least 1".into());
    }
    Ok(a)
}

/// One measured (or skipped) cell.
#[derive(Debug, Clone)]
pub struct CellResult {
    pub op: Op,
    pub size: usize,
    pub conc: usize,
    pub client: ClientKind,
    pub calls: u64,
    pub msgs: u64,
    pub empty: u64,
    pub errors: u64,
    pub first_error: Option<String>,
    pub elapsed_s: f64,
    pub msgs_per_s: f64,
    pub p50_us: f64,
    pub p99_us: f64,
    /// CPU the client used in the timed phase, µs per message.
    pub client_cpu_us: Option<f64>,
    /// CPU Redis's main thread used in the timed phase, µs per message.
    pub redis_cpu_us: Option<f64>,
    /// Why the cell did not run.
    pub skipped: Option<String>,
    /// For the floor: its parts, PING, commands.
    pub floor: Option<floor::FloorDetail>,
}

impl CellResult {
    pub fn skipped(op: Op, size: usize, conc: usize, client: ClientKind, why: String) -> Self {
        CellResult {
            op,
            size,
            conc,
            client,
            calls: 0,
            msgs: 0,
            empty: 0,
            errors: 0,
            first_error: None,
            elapsed_s: 0.0,
            msgs_per_s: 0.0,
            p50_us: 0.0,
            p99_us: 0.0,
            client_cpu_us: None,
            redis_cpu_us: None,
            skipped: Some(why),
            floor: None,
        }
    }

    pub fn ok(&self) -> bool {
        self.skipped.is_none() && self.msgs > 0
    }
}

/// Everything one run produced.
pub struct RunReport {
    pub args: Args,
    pub machine: report::Machine,
    pub cells: Vec<CellResult>,
    pub ceilings: Vec<CeilingResult>,
    pub ceiling_errors: Vec<String>,
    pub js_note: Option<String>,
    pub worker: Option<worker_cell::WorkerReport>,
    pub started_unix: u64,
    pub wall_s: f64,
}

fn main() {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(2);
        }
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(args.threads)
        .enable_all()
        .build()
        .expect("a Tokio runtime");
    match rt.block_on(run(args)) {
        Ok(()) => {}
        Err(e) => {
            eprintln!("rsmq-bench: {e}");
            std::process::exit(1);
        }
    }
}

/// The operations measured at a body size.
fn ops_for(args: &Args, size: usize) -> Vec<Op> {
    let all = vec![
        Op::Send,
        Op::RecvDel,
        Op::Pop,
        Op::SendBatch(10),
        Op::RecvBatch(10),
        Op::DelBatch(10),
        Op::SendBatch(100),
        Op::RecvBatch(100),
        Op::DelBatch(100),
        Op::EndToEnd(100),
    ];
    let ops = if size <= SMALL || args.full {
        all
    } else {
        vec![Op::Send, Op::RecvDel]
    };
    ops.into_iter()
        .filter(|op| args.only.is_empty() || args.only.iter().any(|o| op.key() == *o))
        .collect()
}

/// The clients measured for an operation at a concurrency.
fn clients_for(args: &Args, op: Op, conc: usize) -> Vec<ClientKind> {
    args.clients
        .iter()
        .copied()
        .filter(|c| match c {
            // The pool at 64 tasks; in quick mode for the single-message operations and the
            // end-to-end batch only.
            ClientKind::Pooled => {
                conc > 1 && (args.full || op.single() || matches!(op, Op::EndToEnd(_)))
            }
            ClientKind::Js => args.js && op.single(),
            ClientKind::PeerLoop => matches!(op, Op::DelBatch(_) | Op::EndToEnd(_)),
            // The floor bounds the lone call: 1 task, single-message operations.
            ClientKind::Floor => conc == 1 && op.single(),
            _ => true,
        })
        .collect()
}

pub struct Ctx {
    pub args: Args,
    pub target: Target,
    pub raw: rsmq_async::redis::aio::MultiplexedConnection,
    next_ns: u64,
}

impl Ctx {
    pub fn ns(&mut self, what: &str) -> String {
        self.next_ns += 1;
        format!(
            "{KEY_PREFIX}-{}-{}-{what}",
            std::process::id(),
            self.next_ns
        )
    }
}

async fn run(args: Args) -> Res<()> {
    let started = Instant::now();
    let started_unix = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let target = Target::parse(&args.redis_url, args.pool_size)?;
    let mut raw = target.raw().await?;
    let swept = redis_util::sweep_stale(&mut raw).await?;
    if swept > 0 {
        eprintln!("removed {swept} keys left by an interrupted earlier run");
    }
    let mut machine = report::Machine::probe(&mut raw, &args).await;
    let js_note = if args.js && args.clients.contains(&ClientKind::Js) {
        js::unavailable()
    } else {
        Some("not requested".into())
    };
    if let Some(n) = &js_note {
        if args.js && args.clients.contains(&ClientKind::Js) {
            eprintln!("JS column skipped: {n}");
        }
    }
    let mut ctx = Ctx {
        args: args.clone(),
        target,
        raw,
        next_ns: 0,
    };
    let js_ok = js_note.is_none();

    // The plan.
    let mut plan = Vec::new();
    for &size in args.sizes.iter().filter(|_| args.cells) {
        for op in ops_for(&args, size) {
            for &conc in &args.concs {
                plan.push((op, size, conc));
            }
        }
    }
    let total: usize = plan
        .iter()
        .map(|&(op, _, conc)| clients_for(&args, op, conc).len())
        .sum();
    eprintln!(
        "rsmq-bench {}: {total} cells of {} ms, Redis {} at {}:{}, {} Tokio threads; load {}",
        if args.full { "full" } else { "quick" },
        args.duration.as_millis(),
        machine.redis_version,
        ctx.target.host(),
        ctx.target.port(),
        args.threads,
        machine.load_start
    );

    // The single-message ceilings run before and after the cells (the better run counts, so
    // a busy moment of the machine does not lower the ceiling); the batch ones after.
    let mut ceilings: Vec<CeilingResult> = Vec::new();
    let mut ceiling_errors = Vec::new();
    let plan_ceilings = if args.ceiling {
        ceiling_plan(&args)
    } else {
        Vec::new()
    };
    let singles: Vec<_> = plan_ceilings
        .iter()
        .copied()
        .filter(|(s, ..)| {
            matches!(
                s,
                Script::Send | Script::Receive | Script::Delete | Script::Pop
            )
        })
        .collect();
    run_ceilings(&mut ctx, &singles, &mut ceilings, &mut ceiling_errors).await;

    let mut cells = Vec::new();
    let mut done = 0;
    for (op, size, conc) in plan {
        let clients = clients_for(&args, op, conc);
        let (run, skip): (Vec<ClientKind>, Vec<ClientKind>) =
            clients.iter().partition(|&&c| c != ClientKind::Js || js_ok);
        let mut row = cells::run_row(&mut ctx, op, size, conc, &run).await;
        for c in skip {
            row.push(CellResult::skipped(
                op,
                size,
                conc,
                c,
                js_note.clone().unwrap_or_default(),
            ));
        }
        for r in row {
            done += 1;
            eprintln!(
                "[{done:>3}/{total} {:>5.1}s] {}",
                started.elapsed().as_secs_f64(),
                report::progress_line(&r)
            );
            cells.push(r);
        }
    }

    let worker = if args.cells && (args.only.is_empty() || args.only.iter().any(|o| o == "worker"))
    {
        let wa = worker_cell::WorkerArgs {
            n: args.worker_n,
            n1: args.worker_n1,
            rounds: args.worker_rounds,
            loops: args.hand_loops,
            consumers: args.worker_clients.clone(),
            loop_mode: args.loop_mode,
            latency_msgs: args.latency_msgs,
            latency_interval: args.latency_interval,
        };
        Some(worker_cell::run(&mut ctx, &wa, &args.concs).await)
    } else {
        None
    };

    run_ceilings(&mut ctx, &plan_ceilings, &mut ceilings, &mut ceiling_errors).await;

    // Leave nothing behind.
    let mine = format!("{KEY_PREFIX}-{}-*", std::process::id());
    redis_util::delete_matching(&mut ctx.raw, &mine).await?;
    machine.load_end = report::load_average();

    let run = RunReport {
        args: args.clone(),
        machine,
        cells,
        ceilings,
        ceiling_errors,
        js_note,
        worker,
        started_unix,
        wall_s: started.elapsed().as_secs_f64(),
    };
    let markdown = report::markdown(&run);
    println!("{markdown}");
    if let Some(path) = &args.json {
        std::fs::write(path, serde_json::to_string_pretty(&report::json(&run))?)?;
        eprintln!("wrote {path}");
    }
    Ok(())
}

/// Runs ceilings, keeping the best run of each (script, how, size).
async fn run_ceilings(
    ctx: &mut Ctx,
    plan: &[(Script, Via, usize, u64)],
    ceilings: &mut Vec<CeilingResult>,
    errors: &mut Vec<String>,
) {
    for &(script, via, size, requests) in plan {
        let ns = ctx.ns("ceiling");
        let t0 = Instant::now();
        match ceiling::run(&ctx.target, &mut ctx.raw, &ns, script, via, size, requests).await {
            Ok(c) => {
                eprintln!(
                    "ceiling {:<18} {:>6} B {:<15}: {:>9.0} calls/s {:>10.0} msgs/s ({}; {:.1} s)",
                    script.key(),
                    size,
                    via.key(),
                    c.calls_per_s,
                    c.msgs_per_s,
                    c.check,
                    t0.elapsed().as_secs_f64()
                );
                let same = |o: &CeilingResult| o.script == script && o.via == via && o.size == size;
                match ceilings.iter_mut().find(|o| same(o)) {
                    Some(old) => {
                        let mut runs = old.runs.clone();
                        runs.push(c.calls_per_s);
                        if c.calls_per_s > old.calls_per_s {
                            *old = c;
                        }
                        old.runs = runs;
                    }
                    None => ceilings.push(c),
                }
            }
            Err(e) => {
                eprintln!("ceiling {} {size} B failed: {e}", script.key());
                errors.push(format!("{} ({size} B): {e}", script.key()));
            }
        }
        let _ = redis_util::delete_matching(&mut ctx.raw, &format!("{ns}:*")).await;
    }
}

/// The ceiling runs: (script, how, body size, EVALSHA calls).
fn ceiling_plan(args: &Args) -> Vec<(Script, Via, usize, u64)> {
    let k: u64 = if args.full { 5 } else { 1 };
    let mut plan = Vec::new();
    for &size in &args.sizes {
        let small = size <= SMALL;
        let n = if small { 40_000 } else { 10_000 } * k;
        let singles = [
            (Script::Send, Op::Send),
            (Script::Receive, Op::RecvDel),
            (Script::Delete, Op::RecvDel),
            (Script::Pop, Op::Pop),
        ];
        let ops = ops_for(args, size);
        for (script, op) in singles {
            if ops.contains(&op) {
                plan.push((script, script.via(), size, n));
            }
        }
        // The driver against redis-benchmark, on the same script.
        if small && ops.contains(&Op::Send) {
            plan.push((Script::Send, Via::Driver, size, n));
        }
        // Batches at 100 B only: a 16 KiB batch does not fit redis-benchmark's command line.
        if small {
            for b in [10u32, 100] {
                let calls = 50_000 / u64::from(b) * k;
                let wanted = |o: Op| ops.contains(&o) || ops.contains(&Op::EndToEnd(b));
                for (script, op) in [
                    (Script::SendBatch(b), Op::SendBatch(b)),
                    (Script::RecvBatch(b), Op::RecvBatch(b)),
                    (Script::DelBatch(b), Op::DelBatch(b)),
                ] {
                    if wanted(op) {
                        plan.push((script, script.via(), size, calls));
                    }
                }
                if ops.contains(&Op::EndToEnd(b)) {
                    let floor = Script::Floor(b);
                    plan.push((floor, floor.via(), size, calls));
                    plan.push((floor, Via::Sequential, size, calls / 2));
                }
            }
        }
    }
    plan
}

/// Results by (operation, size, concurrency, client).
pub fn index(cells: &[CellResult]) -> HashMap<(Op, usize, usize, ClientKind), &CellResult> {
    cells
        .iter()
        .map(|c| ((c.op, c.size, c.conc, c.client), c))
        .collect()
}
