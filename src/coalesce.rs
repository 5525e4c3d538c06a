//! Coalescing: concurrent calls of one operation on one queue, made through one client, leave
//! together as one script call.
//!
//! A call runs alone, at once, when nothing of its kind (same operation, same queue, same
//! parameters: the *key*) is in flight on this client, so a lone caller pays nothing. When
//! something is in flight, the call joins the key's *open batch*, or opens one. The batch
//! leaves after one scheduler turn (so that tasks woken together join it) and once fewer of
//! the key's calls are in flight than the coalescer's limit ([`MAX_IN_FLIGHT`] unless set
//! with `Coalescer::with_in_flight`), carrying every call that joined meanwhile; each caller
//! gets its own result. Redis then pays the fixed cost of a script (the `EVALSHA`, the queue
//! lookup, `TIME`, the counters) once per batch instead of once per message. The in-flight
//! limit is what makes batches grow under load: without it, 64 tasks settle into 32
//! pipelined batches of 2 (measured).
//!
//! Invariants:
//! - a batch is one atomic script; each request in it gets exactly one result, its own;
//! - a caller that gives up (its future is dropped) before its batch leaves is left out of
//!   it; once the batch has left, it runs to the end for the others (it is a shared future
//!   that any remaining caller drives);
//! - requests keep their arrival order within a batch;
//! - no lock is held across an `.await`.

use std::collections::HashMap;
use std::future::Future;
use std::hash::Hash;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};

use futures_util::future::{BoxFuture, FutureExt, Shared};

use crate::{RsmqError, RsmqResult};

/// The most requests one batch carries; later ones open the next batch.
pub(crate) const MAX_COALESCED: usize = 256;

/// A batch leaves only while fewer calls of its key are in flight: one in Redis and one on
/// the way keeps both the client and Redis busy.
pub(crate) const MAX_IN_FLIGHT: usize = 2;

/// One result slot per request of a batch, taken by its caller.
type Outcome<T> = Arc<Vec<Mutex<Option<RsmqResult<T>>>>>;

/// The future that runs a batch, which every caller in it may drive.
type Done<T> = Shared<BoxFuture<'static, Outcome<T>>>;

/// The calls of one operation (send, receive, delete), by key.
pub(crate) struct Coalescer<K, R, T> {
    groups: Mutex<HashMap<K, Group<R, T>>>,
    /// Batches of one key sent and not yet answered before the next waits.
    max_in_flight: usize,
}

struct Group<R, T> {
    /// The batch still taking requests, with the future that runs it.
    open: Option<(Arc<Batch<R>>, Done<T>)>,
    /// Calls and batches of this key sent and not yet answered.
    in_flight: usize,
    /// Batches waiting for `in_flight` to drop below the limit.
    waiting: Vec<Waker>,
}

struct Batch<R> {
    state: Mutex<BatchState<R>>,
}

struct BatchState<R> {
    requests: Vec<(R, Arc<AtomicBool>)>,
    closed: bool,
}

impl<R, T> Group<R, T> {
    fn new() -> Self {
        Group {
            open: None,
            in_flight: 0,
            waiting: Vec::new(),
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl<K, R, T> Default for Coalescer<K, R, T> {
    fn default() -> Self {
        Self::with_in_flight(MAX_IN_FLIGHT)
    }
}

impl<K, R, T> Coalescer<K, R, T> {
    /// A coalescer whose batches of one key leave while fewer than `max_in_flight` are in
    /// flight (at least 1).
    pub(crate) fn with_in_flight(max_in_flight: usize) -> Self {
        Coalescer {
            groups: Mutex::new(HashMap::new()),
            max_in_flight: max_in_flight.max(1),
        }
    }
}

impl<K, R, T> std::fmt::Debug for Coalescer<K, R, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Coalescer").finish_non_exhaustive()
    }
}

impl<K, R, T> Coalescer<K, R, T>
where
    K: Hash + Eq + Clone + Send + Sync + 'static,
    R: Send + 'static,
    T: Send + Sync + 'static,
{
    /// Runs `request` through `run`, alone or in a batch with the other requests of `key`.
    /// `run` gets the requests in arrival order and returns one result per request; it is
    /// called once, by whichever caller opened the batch.
    pub(crate) async fn call<F, Fut>(self: &Arc<Self>, key: K, request: R, run: F) -> RsmqResult<T>
    where
        F: FnOnce(Vec<R>) -> Fut + Send + 'static,
        Fut: Future<Output = Vec<RsmqResult<T>>> + Send + 'static,
    {
        let live = Arc::new(AtomicBool::new(true));
        let mut run = Some(run);
        let mut request = Some(request);
        let joined = {
            let mut groups = lock(&self.groups);
            let group = groups.entry(key.clone()).or_insert_with(Group::new);
            if group.in_flight == 0 && group.open.is_none() {
                // Nothing to wait for: go alone, now.
                group.in_flight += 1;
                None
            } else {
                let can_join = group.open.as_ref().is_some_and(|(batch, _)| {
                    let state = lock(&batch.state);
                    !state.closed && state.requests.len() < MAX_COALESCED
                });
                match (&group.open, request.take(), run.take()) {
                    (Some((batch, done)), Some(request), _) if can_join => {
                        let mut state = lock(&batch.state);
                        state.requests.push((request, live.clone()));
                        Some((done.clone(), state.requests.len() - 1, batch.clone()))
                    }
                    (_, Some(request), Some(run)) => {
                        // No open batch, or a full one (it leaves as it is): open the next.
                        let batch = Arc::new(Batch {
                            state: Mutex::new(BatchState {
                                requests: vec![(request, live.clone())],
                                closed: false,
                            }),
                        });
                        let done = self.batch_future(key.clone(), batch.clone(), run);
                        group.open = Some((batch.clone(), done.clone()));
                        Some((done, 0, batch))
                    }
                    _ => None, // unreachable: both are taken only here
                }
            }
        };
        match (joined, request, run) {
            (Some((done, index, batch)), _, _) => Self::wait(done, index, batch, live, self).await,
            (None, Some(request), Some(run)) => {
                let _in_flight = InFlight {
                    coalescer: self,
                    key,
                };
                single(run(vec![request]).await)
            }
            _ => Err(RsmqError::InvalidReply("a call lost its request".into())),
        }
    }

    /// Waits for a batch and takes this caller's result; marks the request dead if the
    /// caller gives up first.
    async fn wait(
        done: Done<T>,
        index: usize,
        batch: Arc<Batch<R>>,
        live: Arc<AtomicBool>,
        coalescer: &Arc<Self>,
    ) -> RsmqResult<T> {
        let ticket = Ticket {
            coalescer,
            batch,
            live,
        };
        let outcome = done.await;
        ticket.live.store(false, Ordering::Release);
        let taken = outcome
            .get(index)
            .and_then(|slot| lock(slot).take())
            .unwrap_or_else(|| {
                Err(RsmqError::InvalidReply(
                    "a coalesced call lost its result".into(),
                ))
            });
        taken
    }

    /// The future that runs `batch`: one scheduler turn for others to join, then it closes
    /// the batch and runs the requests still wanted.
    fn batch_future<F, Fut>(self: &Arc<Self>, key: K, batch: Arc<Batch<R>>, run: F) -> Done<T>
    where
        F: FnOnce(Vec<R>) -> Fut + Send + 'static,
        Fut: Future<Output = Vec<RsmqResult<T>>> + Send + 'static,
    {
        let coalescer = self.clone();
        async move {
            YieldNow(false).await;
            let requests = std::future::poll_fn(|cx| {
                let mut groups = lock(&coalescer.groups);
                let group = groups.entry(key.clone()).or_insert_with(Group::new);
                if group.in_flight >= coalescer.max_in_flight {
                    group.waiting.push(cx.waker().clone());
                    return Poll::Pending;
                }
                let mut state = lock(&batch.state);
                state.closed = true;
                if matches!(&group.open, Some((b, _)) if Arc::ptr_eq(b, &batch)) {
                    group.open = None;
                }
                group.in_flight += 1;
                Poll::Ready(std::mem::take(&mut state.requests))
            })
            .await;
            let _in_flight = InFlight {
                coalescer: &coalescer,
                key,
            };
            let slots: Vec<_> = (0..requests.len()).map(|_| Mutex::new(None)).collect();
            let mut wanted = Vec::with_capacity(requests.len());
            let mut positions = Vec::with_capacity(requests.len());
            for (i, (request, live)) in requests.into_iter().enumerate() {
                if live.load(Ordering::Acquire) {
                    wanted.push(request);
                    positions.push(i);
                }
            }
            if !wanted.is_empty() {
                let results = run(wanted).await;
                for (i, result) in positions.into_iter().zip(results) {
                    *lock(&slots[i]) = Some(result);
                }
            }
            Arc::new(slots)
        }
        .boxed()
        .shared()
    }
}

/// The one result of a call that went alone.
fn single<T>(mut results: Vec<RsmqResult<T>>) -> RsmqResult<T> {
    results
        .pop()
        .unwrap_or_else(|| Err(RsmqError::InvalidReply("a call lost its result".into())))
}

/// Counts a call or batch of `key` in flight until dropped (finished or cancelled).
struct InFlight<'a, K: Hash + Eq, R, T> {
    coalescer: &'a Coalescer<K, R, T>,
    key: K,
}

impl<K: Hash + Eq, R, T> Drop for InFlight<'_, K, R, T> {
    fn drop(&mut self) {
        let mut groups = lock(&self.coalescer.groups);
        if let Some(group) = groups.get_mut(&self.key) {
            group.in_flight = group.in_flight.saturating_sub(1);
            for waker in group.waiting.drain(..) {
                waker.wake();
            }
            if group.in_flight == 0 && group.open.is_none() {
                groups.remove(&self.key);
            }
        }
    }
}

/// A caller's place in a batch. Dropping it before the batch leaves withdraws the request;
/// when every request of a still-open batch is withdrawn, the batch is discarded.
struct Ticket<'a, K, R, T> {
    coalescer: &'a Coalescer<K, R, T>,
    batch: Arc<Batch<R>>,
    live: Arc<AtomicBool>,
}

impl<K, R, T> Drop for Ticket<'_, K, R, T> {
    fn drop(&mut self) {
        if !self.live.swap(false, Ordering::AcqRel) {
            return; // answered
        }
        let mut groups = lock(&self.coalescer.groups);
        let state = lock(&self.batch.state);
        if state.closed
            || state
                .requests
                .iter()
                .any(|(_, l)| l.load(Ordering::Acquire))
        {
            return;
        }
        drop(state);
        groups.retain(|_, group| {
            if matches!(&group.open, Some((b, _)) if Arc::ptr_eq(b, &self.batch)) {
                group.open = None;
            }
            group.in_flight > 0 || group.open.is_some()
        });
    }
}

/// Returns `Pending` once, after asking to be polled again: the other tasks that are ready
/// run first (and may join the batch).
struct YieldNow(bool);

impl Future for YieldNow {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.0 {
            return Poll::Ready(());
        }
        self.0 = true;
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}
