//! A row of the table: one operation, body size and concurrency, measured for every client.
//!
//! Every client of the row is set up first (its own namespace and queue, connected, warmed
//! up). Then the timed phase runs in rounds, the clients taking turns within each round
//! (A, B, C, A, B, C, ...), so slow drift of the machine (other processes, CPU frequency)
//! weighs on all of them alike. A cell's result sums its rounds: messages over time, and
//! percentiles over every call of every round. CPU is read around each timed round: the
//! client process's (this process, or the node child) and Redis's main thread's.

use std::sync::Arc;
use std::time::Duration;

use crate::floor::Floor;
use crate::js::{JsSpec, JsWorker};
use crate::redis_util;
use crate::workload::{self, ClientKind, IdGen, LoopResult, LoopSpec, Op, Worker};
use crate::{CellResult, Ctx, Res};

const QNAME: &str = "q";

/// Warm-up calls before a client's first timed round.
pub fn warmup_calls(op: Op, conc: usize) -> u64 {
    if op.single() {
        (10 * conc as u64).max(300)
    } else {
        (2 * conc as u64).max(30)
    }
}

/// The most messages one round of a cell may add to or take from its queue (bounds the
/// memory a cell uses with 16 KiB bodies).
fn max_msgs(size: usize, full: bool) -> u64 {
    let bytes: u64 = if full { 3 << 30 } else { 1 << 30 };
    (bytes / size as u64).min(5_000_000)
}

enum Runner {
    Rust(Box<Worker>),
    Js(JsWorker),
    Floor(Box<Floor>),
}

/// One client of the row, between rounds.
struct Slot {
    client: ClientKind,
    ns: String,
    ids: Arc<IdGen>,
    runner: Runner,
    /// Call numbers handed out so far (they name the batch-delete ids and the fill range).
    next_call: u64,
    /// Calls per second seen in the warm-up (0 for JS, which warms up by itself).
    warm_rate: f64,
    acc: LoopResult,
    client_cpu_s: Option<f64>,
    redis_cpu_s: f64,
    p50_us: f64,
    p99_us: f64,
    failed: Option<String>,
}

/// Measures one row; returns a result per client (skipped ones say why).
pub async fn run_row(
    ctx: &mut Ctx,
    op: Op,
    size: usize,
    conc: usize,
    clients: &[ClientKind],
) -> Vec<CellResult> {
    let body = Arc::new(vec![b'x'; size]);
    let q: Arc<str> = QNAME.into();
    let mut slots = Vec::new();
    let mut results = Vec::new();
    for &client in clients {
        let ns = ctx.ns(client.short());
        match setup(ctx, &ns, op, size, conc, client, &q, &body).await {
            Ok(slot) => slots.push(slot),
            Err(e) => {
                let _ = redis_util::delete_matching(&mut ctx.raw, &format!("{ns}:*")).await;
                results.push(CellResult::skipped(
                    op,
                    size,
                    conc,
                    client,
                    format!("error: {e}"),
                ));
            }
        }
    }

    let rounds = ctx.args.rounds.max(1);
    let round_time = ctx.args.duration / rounds;
    for _ in 0..rounds {
        let mut best_rate: f64 = 0.0;
        for slot in slots.iter_mut().filter(|s| s.failed.is_none()) {
            match round(ctx, slot, op, size, conc, round_time, best_rate, &q, &body).await {
                Ok(rate) => best_rate = best_rate.max(rate),
                Err(e) => slot.failed = Some(format!("error: {e}")),
            }
        }
    }

    for slot in slots {
        let floor = match slot.runner {
            Runner::Js(js) => {
                tokio::task::block_in_place(|| js.quit());
                None
            }
            Runner::Floor(f) => Some(f.detail),
            Runner::Rust(_) => None,
        };
        let _ = redis_util::delete_matching(&mut ctx.raw, &format!("{}:*", slot.ns)).await;
        let r = slot.acc;
        let per_msg = |s: f64| (r.msgs > 0).then(|| s * 1e6 / r.msgs as f64);
        let elapsed = r.elapsed.as_secs_f64();
        let mut cell = CellResult {
            op,
            size,
            conc,
            client: slot.client,
            calls: r.calls,
            msgs: r.msgs,
            empty: r.empty,
            errors: r.errors,
            first_error: r.first_error.clone(),
            elapsed_s: elapsed,
            msgs_per_s: r.msgs as f64 / elapsed.max(1e-9),
            p50_us: slot.p50_us,
            p99_us: slot.p99_us,
            client_cpu_us: slot.client_cpu_s.and_then(per_msg),
            redis_cpu_us: per_msg(slot.redis_cpu_s),
            skipped: None,
            floor,
        };
        if let Some(why) = slot.failed {
            cell = CellResult::skipped(op, size, conc, slot.client, why);
        }
        results.push(cell);
    }
    // In the order asked for.
    results.sort_by_key(|c| clients.iter().position(|k| *k == c.client));
    results
}

/// Connects a client, creates its queue and warms it up.
#[allow(clippy::too_many_arguments)]
async fn setup(
    ctx: &mut Ctx,
    ns: &str,
    op: Op,
    size: usize,
    conc: usize,
    client: ClientKind,
    q: &Arc<str>,
    body: &Arc<Vec<u8>>,
) -> Res<Slot> {
    let ids = Arc::new(redis_util::new_ids(&mut ctx.raw).await?);
    if client == ClientKind::Floor {
        // Its own queue, fills and warm-up (see `floor`).
        let floor = Floor::new(&ctx.target, &mut ctx.raw, ns, QNAME, op, size).await?;
        return Ok(Slot {
            client,
            ns: ns.to_string(),
            ids,
            runner: Runner::Floor(Box::new(floor)),
            next_call: 0,
            warm_rate: 0.0,
            acc: LoopResult::default(),
            client_cpu_s: Some(0.0),
            redis_cpu_s: 0.0,
            p50_us: 0.0,
            p99_us: 0.0,
            failed: None,
        });
    }
    let per = op.per_call();
    let warm = warmup_calls(op, conc);
    if op.consumes() {
        redis_util::fill(&mut ctx.raw, ns, QNAME, &ids, 0, warm * per, body).await?;
    }
    let (runner, warm_rate) = if client == ClientKind::Js {
        // The queue, made by this crate (the layout JS writes); node warms up by itself.
        let maker = rsmq_async::Rsmq::new(ctx.target.ours(ns)).await?;
        rsmq_async::RsmqConnection::create_queue(&maker, QNAME, None, None, None).await?;
        drop(maker);
        let spec = JsSpec {
            target: &ctx.target,
            ns,
            qname: QNAME,
            op,
            size,
            conc,
            warmup: warm,
            duration: ctx.args.duration / ctx.args.rounds.max(1),
        };
        let js = tokio::task::block_in_place(|| JsWorker::start(&spec))?;
        (Runner::Js(js), 0.0)
    } else {
        let mut worker = Worker::connect(client, &ctx.target, ns).await?;
        worker.create_queue(QNAME).await?;
        // Warm up: same operation, same concurrency, untimed.
        let spec = LoopSpec {
            op,
            conc,
            base: 0,
            max_calls: warm,
            duration: None,
        };
        let w = workload::run_loop(&worker, &spec, q, body, &ids).await;
        if w.errors > 0 {
            return Err(format!(
                "warm-up: {} errors, first: {}",
                w.errors,
                w.first_error.unwrap_or_default()
            )
            .into());
        }
        let rate = w.calls as f64 / w.elapsed.as_secs_f64().max(1e-6);
        (Runner::Rust(Box::new(worker)), rate)
    };
    Ok(Slot {
        client,
        ns: ns.to_string(),
        ids,
        runner,
        next_call: warm,
        warm_rate,
        acc: LoopResult::default(),
        client_cpu_s: Some(0.0),
        redis_cpu_s: 0.0,
        p50_us: 0.0,
        p99_us: 0.0,
        failed: None,
    })
}

/// One timed round of one client. Returns its messages per second.
#[allow(clippy::too_many_arguments)]
async fn round(
    ctx: &mut Ctx,
    slot: &mut Slot,
    op: Op,
    size: usize,
    conc: usize,
    time: Duration,
    best_rate: f64,
    q: &Arc<str>,
    body: &Arc<Vec<u8>>,
) -> Res<f64> {
    if let Runner::Floor(floor) = &mut slot.runner {
        let rate = floor.timed_round(&ctx.target, &mut ctx.raw, time).await?;
        slot.acc.calls = floor.calls;
        slot.acc.msgs = floor.calls;
        slot.acc.elapsed = Duration::from_secs_f64(floor.seconds);
        slot.client_cpu_s = Some(floor.client_cpu_s);
        slot.redis_cpu_s = floor.redis_cpu_s;
        let (p50, p99) = floor.detail.latency_ms();
        slot.p50_us = p50 * 1000.0;
        slot.p99_us = p99 * 1000.0;
        return Ok(rate);
    }
    let per = op.per_call();
    let cap = max_msgs(size, ctx.args.full) / per;
    // Calls this round may make. Consuming operations need that many messages in the queue:
    // budget 1.5x the rate of the client's earlier rounds (first round: 2.5x its warm-up
    // rate; JS: 1.5x the best client of this round), so the clock, not the budget, normally
    // ends the round.
    let budget = if op.consumes() {
        let done_rate = slot.acc.calls as f64 / slot.acc.elapsed.as_secs_f64().max(1e-9);
        let calls_per_s = match slot.runner {
            Runner::Rust(_) if slot.acc.calls > 0 => 1.5 * done_rate,
            Runner::Rust(_) => 2.5 * slot.warm_rate,
            Runner::Js(_) if slot.acc.calls > 0 => 1.5 * done_rate,
            Runner::Floor(_) => 0.0,
            Runner::Js(_) => {
                1.5 * (if best_rate > 0.0 {
                    best_rate
                } else {
                    100_000.0
                }) / per as f64
            }
        };
        let b = ((calls_per_s * time.as_secs_f64()) as u64 + conc as u64).min(cap);
        redis_util::fill(
            &mut ctx.raw,
            &slot.ns,
            QNAME,
            &slot.ids,
            slot.next_call * per,
            b * per,
            body,
        )
        .await?;
        b
    } else {
        cap
    };
    let redis0 = redis_util::redis_cpu_s(&mut ctx.raw).await?;
    let base = slot.next_call;
    slot.next_call += budget;
    let rate = match &mut slot.runner {
        Runner::Rust(worker) => {
            let cpu0 = redis_util::process_cpu_s();
            let spec = LoopSpec {
                op,
                conc,
                base,
                max_calls: budget,
                duration: Some(time),
            };
            let r = workload::run_loop(worker, &spec, q, body, &slot.ids).await;
            let cpu1 = redis_util::process_cpu_s();
            slot.client_cpu_s = match (slot.client_cpu_s, cpu0, cpu1) {
                (Some(sum), Some(a), Some(b)) => Some(sum + (b - a)),
                _ => None,
            };
            let rate = r.msgs_per_s();
            merge(&mut slot.acc, r);
            slot.p50_us = slot.acc.percentile_us(50.0);
            slot.p99_us = slot.acc.percentile_us(99.0);
            rate
        }
        Runner::Floor(_) => 0.0,
        Runner::Js(js) => {
            let r = tokio::task::block_in_place(|| js.round(budget))?;
            slot.client_cpu_s = slot.client_cpu_s.map(|s| s + r.cpu_s);
            slot.p50_us = r.p50_us;
            slot.p99_us = r.p99_us;
            let rate = r.msgs as f64 / r.elapsed_s.max(1e-9);
            merge(
                &mut slot.acc,
                LoopResult {
                    calls: r.calls,
                    msgs: r.msgs,
                    empty: r.empty,
                    errors: r.errors,
                    first_error: r.first_error,
                    elapsed: Duration::from_secs_f64(r.elapsed_s),
                    lat_ns: Vec::new(),
                },
            );
            rate
        }
    };
    let redis1 = redis_util::redis_cpu_s(&mut ctx.raw).await?;
    slot.redis_cpu_s += redis1 - redis0;
    if op.consumes() {
        // Untimed: the next round fills its own messages.
        redis_util::drain(&mut ctx.raw, &slot.ns, QNAME).await?;
    }
    Ok(rate)
}

/// Adds a round to the running total (latencies stay sorted).
fn merge(acc: &mut LoopResult, r: LoopResult) {
    acc.calls += r.calls;
    acc.msgs += r.msgs;
    acc.empty += r.empty;
    acc.errors += r.errors;
    if acc.first_error.is_none() {
        acc.first_error = r.first_error;
    }
    acc.elapsed += r.elapsed;
    if !r.lat_ns.is_empty() {
        acc.lat_ns.extend(r.lat_ns);
        acc.lat_ns.sort_unstable();
    }
}
