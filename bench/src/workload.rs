//! The operations a cell measures, the Rust clients that perform them, and the timed loop.
//!
//! Every Rust client is driven by the same loop: `conc` Tokio tasks share one client (each
//! task holds a clone, so they share its single multiplexed connection, or its pool), claim
//! call numbers from one atomic counter, and stop at the call budget or the deadline. The
//! latency of a call is taken around the client call only; anything the bench prepares (the
//! ids of a batch delete, the body list of a batch send) is built before the clock starts.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::future::join_all;
use rsmq_async::RsmqConnection;

use crate::redis_util::Target;
use crate::Res;

/// One operation, as a cell measures it. A "call" is one invocation of the operation; it
/// moves `per_call()` messages.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Op {
    /// `send_message` of one body.
    Send,
    /// `receive_message`, then `delete_message` of what came back (two client calls).
    RecvDel,
    /// `pop_message`.
    Pop,
    /// `send_message_batch` of B bodies.
    SendBatch(u32),
    /// `receive_message_batch` of up to B messages (hidden for the queue's vt).
    RecvBatch(u32),
    /// `delete_message_batch` of B ids (the peer: B concurrent `delete_message` calls).
    DelBatch(u32),
    /// Send a batch of B, receive a batch of up to B, delete what was received.
    EndToEnd(u32),
}

impl Op {
    /// The name used in tables, JSON and `--only`.
    pub fn key(self) -> String {
        match self {
            Op::Send => "send".into(),
            Op::RecvDel => "receive+delete".into(),
            Op::Pop => "pop".into(),
            Op::SendBatch(b) => format!("batch send {b}"),
            Op::RecvBatch(b) => format!("batch receive {b}"),
            Op::DelBatch(b) => format!("batch delete {b}"),
            Op::EndToEnd(b) => format!("batch {b}: send+receive+delete"),
        }
    }

    /// Messages one call moves (when the queue has enough).
    pub fn per_call(self) -> u64 {
        match self {
            Op::Send | Op::RecvDel | Op::Pop => 1,
            Op::SendBatch(b) | Op::RecvBatch(b) | Op::DelBatch(b) | Op::EndToEnd(b) => u64::from(b),
        }
    }

    /// Does the cell need a pre-filled queue? (`DelBatch` needs known ids.)
    pub fn consumes(self) -> bool {
        matches!(
            self,
            Op::RecvDel | Op::Pop | Op::RecvBatch(_) | Op::DelBatch(_)
        )
    }

    /// The single-message operations, which the JavaScript client offers too.
    pub fn single(self) -> bool {
        matches!(self, Op::Send | Op::RecvDel | Op::Pop)
    }
}

/// Which client a cell measures.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ClientKind {
    /// This crate's `Rsmq` (one multiplexed connection).
    Ours,
    /// This crate's `PooledRsmq`.
    Pooled,
    /// `rsmq_async` 18.0.0's `Rsmq` (one multiplexed connection).
    Peer,
    /// The same, deleting a batch with a plain loop of `delete_message` (one at a time), as
    /// code written for 18 typically does. Only for the batch-delete operations; off unless
    /// asked for with `--clients`.
    PeerLoop,
    /// The JavaScript `rsmq` 0.12.4 (one node_redis connection), in a child process.
    Js,
    /// The floor of a lone call: the operation's commands sent one at a time on one
    /// connection by `redis-benchmark -c 1` (and the bench's driver for deletes); see `floor`.
    Floor,
}

impl ClientKind {
    pub fn key(self) -> &'static str {
        match self {
            ClientKind::Ours => "rsmq_async (this)",
            ClientKind::Pooled => "PooledRsmq (this)",
            ClientKind::Peer => "rsmq_async 18",
            ClientKind::PeerLoop => "rsmq_async 18 (delete loop)",
            ClientKind::Js => "JS rsmq 0.12.4",
            ClientKind::Floor => "floor (1 connection, 1 request at a time)",
        }
    }

    pub fn short(self) -> &'static str {
        match self {
            ClientKind::Ours => "ours",
            ClientKind::Pooled => "pooled",
            ClientKind::Peer => "peer18",
            ClientKind::PeerLoop => "peer18loop",
            ClientKind::Js => "js",
            ClientKind::Floor => "floor",
        }
    }
}

/// The ids the bench's fill script wrote: `prefix` (20 characters) then a 12-digit index.
#[derive(Clone, Debug)]
pub struct IdGen {
    pub prefix: String,
}

impl IdGen {
    pub fn id(&self, i: u64) -> String {
        format!("{}{:012}", self.prefix, i)
    }

    /// The ids of batch-delete call `k` of `b` ids each.
    pub fn batch(&self, k: u64, b: u32) -> Vec<String> {
        let b = u64::from(b);
        (k * b..(k + 1) * b).map(|i| self.id(i)).collect()
    }
}

/// A Rust client, as one task holds it.
#[derive(Clone)]
pub enum Worker {
    Ours(rsmq_async::Rsmq),
    Pooled(rsmq_async::PooledRsmq),
    Peer {
        main: peer::Rsmq,
        /// Clones of `main` (same connection) for the concurrent deletes of the peer's
        /// batch-delete path; made before timing so no call pays for cloning.
        extra: Vec<peer::Rsmq>,
        /// Delete a batch one id at a time instead.
        loop_deletes: bool,
    },
}

impl Worker {
    /// Connects a client of `kind` to namespace `ns`.
    pub async fn connect(kind: ClientKind, target: &Target, ns: &str) -> Res<Worker> {
        Ok(match kind {
            ClientKind::Ours => Worker::Ours(rsmq_async::Rsmq::new(target.ours(ns)).await?),
            ClientKind::Pooled => {
                let size = target.pool_size;
                let pool = rsmq_async::PoolOptions {
                    max_size: Some(size),
                    min_idle: Some(size),
                };
                Worker::Pooled(rsmq_async::PooledRsmq::new(target.ours(ns), pool).await?)
            }
            ClientKind::Peer | ClientKind::PeerLoop => Worker::Peer {
                main: peer::Rsmq::new(target.peer(ns)).await?,
                extra: Vec::new(),
                loop_deletes: kind == ClientKind::PeerLoop,
            },
            ClientKind::Js | ClientKind::Floor => {
                return Err(format!("{} is not a Rust worker", kind.key()).into())
            }
        })
    }

    /// Creates the queue (each client with its own create: the peer stores vt in ms).
    pub async fn create_queue(&mut self, q: &str) -> Res<()> {
        match self {
            Worker::Ours(c) => c.create_queue(q, None, None, None).await?,
            Worker::Pooled(c) => c.create_queue(q, None, None, None).await?,
            Worker::Peer { main, .. } => {
                peer::RsmqConnection::create_queue(main, q, None, None, None).await?
            }
        }
        Ok(())
    }

    /// The copy a task uses for `op`.
    fn for_task(&self, op: Op) -> Worker {
        match self {
            Worker::Peer {
                main, loop_deletes, ..
            } => {
                let n = match op {
                    Op::DelBatch(b) | Op::EndToEnd(b) if !loop_deletes => b as usize,
                    _ => 0,
                };
                Worker::Peer {
                    main: main.clone(),
                    extra: (0..n).map(|_| main.clone()).collect(),
                    loop_deletes: *loop_deletes,
                }
            }
            other => other.clone(),
        }
    }

    /// One call of `op`. Returns the messages it moved.
    async fn call(&mut self, op: Op, q: &str, body: &[u8], ids: &[String]) -> Res<u64> {
        match self {
            Worker::Ours(c) => ours_call(c, op, q, body, ids).await,
            Worker::Pooled(c) => ours_call(c, op, q, body, ids).await,
            Worker::Peer {
                main,
                extra,
                loop_deletes,
            } => peer_call(main, extra, *loop_deletes, op, q, body, ids).await,
        }
    }
}

async fn ours_call<C: RsmqConnection>(
    c: &C,
    op: Op,
    q: &str,
    body: &[u8],
    ids: &[String],
) -> Res<u64> {
    Ok(match op {
        Op::Send => {
            c.send_message(q, body, None).await?;
            1
        }
        Op::RecvDel => match c.receive_message::<Vec<u8>>(q, None).await? {
            Some(m) => {
                c.delete_message(q, &m.id).await?;
                1
            }
            None => 0,
        },
        Op::Pop => u64::from(c.pop_message::<Vec<u8>>(q).await?.is_some()),
        Op::SendBatch(b) => {
            let bodies = vec![body; b as usize];
            c.send_message_batch(q, bodies, None).await?.len() as u64
        }
        Op::RecvBatch(b) => c.receive_message_batch::<Vec<u8>>(q, None, b).await?.len() as u64,
        Op::DelBatch(_) => {
            c.delete_message_batch(q, ids).await?;
            ids.len() as u64
        }
        Op::EndToEnd(b) => {
            let bodies = vec![body; b as usize];
            c.send_message_batch(q, bodies, None).await?;
            let got = c.receive_message_batch::<Vec<u8>>(q, None, b).await?;
            let got_ids: Vec<&str> = got.iter().map(|m| m.id.as_str()).collect();
            c.delete_message_batch(q, &got_ids).await?;
            got.len() as u64
        }
    })
}

/// The peer's best path for each operation: its own single-script batch send and receive;
/// for deleting many, one `delete_message` per id, all in flight at once on clones of the
/// client (they share its multiplexed connection, so the deletes are pipelined), or with
/// `loop_deletes` one after the other.
async fn peer_call(
    main: &mut peer::Rsmq,
    extra: &mut [peer::Rsmq],
    loop_deletes: bool,
    op: Op,
    q: &str,
    body: &[u8],
    ids: &[String],
) -> Res<u64> {
    use peer::RsmqConnection as _;
    Ok(match op {
        Op::Send => {
            main.send_message(q, body, None).await?;
            1
        }
        Op::RecvDel => match main.receive_message::<Vec<u8>>(q, None).await? {
            Some(m) => {
                main.delete_message(q, &m.id).await?;
                1
            }
            None => 0,
        },
        Op::Pop => u64::from(main.pop_message::<Vec<u8>>(q).await?.is_some()),
        Op::SendBatch(b) => {
            let bodies = vec![body; b as usize];
            main.send_message_batch(q, bodies, None).await?.len() as u64
        }
        Op::RecvBatch(b) => main
            .receive_message_batch::<Vec<u8>>(q, None, b)
            .await?
            .len() as u64,
        Op::DelBatch(_) => {
            if loop_deletes {
                for id in ids {
                    main.delete_message(q, id).await?;
                }
            } else {
                peer_delete_many(extra, q, ids.iter().map(String::as_str)).await?;
            }
            ids.len() as u64
        }
        Op::EndToEnd(b) => {
            let bodies = vec![body; b as usize];
            main.send_message_batch(q, bodies, None).await?;
            let got = main.receive_message_batch::<Vec<u8>>(q, None, b).await?;
            if loop_deletes {
                for m in &got {
                    main.delete_message(q, &m.id).await?;
                }
            } else {
                peer_delete_many(extra, q, got.iter().map(|m| m.id.as_str())).await?;
            }
            got.len() as u64
        }
    })
}

async fn peer_delete_many<'a>(
    clients: &mut [peer::Rsmq],
    q: &str,
    ids: impl Iterator<Item = &'a str>,
) -> Res<()> {
    use peer::RsmqConnection as _;
    let calls = clients
        .iter_mut()
        .zip(ids)
        .map(|(c, id)| c.delete_message(q, id));
    for r in join_all(calls).await {
        r?;
    }
    Ok(())
}

/// What a timed (or warm-up) loop did.
#[derive(Debug, Default)]
pub struct LoopResult {
    pub calls: u64,
    pub msgs: u64,
    /// Calls that found nothing to receive (should stay 0: queues are pre-filled).
    pub empty: u64,
    pub errors: u64,
    pub first_error: Option<String>,
    pub elapsed: Duration,
    /// Latency of every call, nanoseconds, sorted.
    pub lat_ns: Vec<u64>,
}

impl LoopResult {
    pub fn msgs_per_s(&self) -> f64 {
        self.msgs as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    /// The `p`-th percentile of the call latency, microseconds.
    pub fn percentile_us(&self, p: f64) -> f64 {
        percentile(&self.lat_ns, p) / 1000.0
    }
}

/// The `p`-th percentile (nearest rank) of sorted samples.
pub fn percentile(sorted: &[u64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1] as f64
}

/// The shape of one loop.
pub struct LoopSpec {
    pub op: Op,
    pub conc: usize,
    /// Call numbers start here (the batch-delete ids of call k are those of `base + k`).
    pub base: u64,
    /// At most this many calls.
    pub max_calls: u64,
    /// Stop claiming calls after this long.
    pub duration: Option<Duration>,
}

/// Runs `spec.conc` tasks on clones of `worker` until the budget or the deadline.
pub async fn run_loop(
    worker: &Worker,
    spec: &LoopSpec,
    q: &Arc<str>,
    body: &Arc<Vec<u8>>,
    ids: &Arc<IdGen>,
) -> LoopResult {
    let next = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let deadline = spec.duration.map(|d| start + d);
    let mut tasks = Vec::with_capacity(spec.conc);
    for _ in 0..spec.conc {
        let mut w = worker.for_task(spec.op);
        let (next, q, body, ids) = (next.clone(), q.clone(), body.clone(), ids.clone());
        let (op, base, max_calls) = (spec.op, spec.base, spec.max_calls);
        tasks.push(tokio::spawn(async move {
            let mut r = LoopResult::default();
            let mut batch_ids = Vec::new();
            loop {
                let k = next.fetch_add(1, Ordering::Relaxed);
                if k >= max_calls || deadline.is_some_and(|d| Instant::now() >= d) {
                    break;
                }
                if let Op::DelBatch(b) = op {
                    batch_ids = ids.batch(base + k, b);
                }
                let t0 = Instant::now();
                let out = w.call(op, &q, &body, &batch_ids).await;
                r.lat_ns.push(t0.elapsed().as_nanos() as u64);
                r.calls += 1;
                match out {
                    Ok(0) => r.empty += 1,
                    Ok(n) => r.msgs += n,
                    Err(e) => {
                        r.errors += 1;
                        r.first_error.get_or_insert_with(|| e.to_string());
                    }
                }
            }
            r
        }));
    }
    let mut total = LoopResult::default();
    for t in tasks {
        match t.await {
            Ok(r) => {
                total.calls += r.calls;
                total.msgs += r.msgs;
                total.empty += r.empty;
                total.errors += r.errors;
                if total.first_error.is_none() {
                    total.first_error = r.first_error;
                }
                total.lat_ns.extend(r.lat_ns);
            }
            Err(e) => {
                total.errors += 1;
                total.first_error.get_or_insert_with(|| e.to_string());
            }
        }
    }
    total.elapsed = start.elapsed();
    total.lat_ns.sort_unstable();
    total
}
