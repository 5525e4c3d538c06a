//! Coalescing: concurrent calls of one operation on one queue, made through one client, leave
//! together as one script call.
//!
//! A call runs alone, at once, when nothing of its kind (same operation, same queue, same
//! parameters: the *key*) is in flight or waiting on this client, so a lone caller pays
//! nothing. Otherwise the call joins the key's *open batch* (the newest one still waiting, if
//! it has room), or opens one. A batch leaves after one scheduler turn (so that tasks woken
//! together join it), after every batch of its key opened before it, and once fewer of the
//! key's calls are in flight than the coalescer's limit ([`MAX_IN_FLIGHT`] unless set with
//! `Coalescer::with_in_flight`), carrying every call that joined meanwhile; each caller gets
//! its own result. Redis then pays the fixed cost of a script (the `EVALSHA`, the queue
//! lookup, `TIME`, the counters) once per batch instead of once per message. The in-flight
//! limit is what makes batches grow under load: without it, 64 tasks settle into 32
//! pipelined batches of 2 (measured).
//!
//! Invariants:
//! - a batch is one atomic script; each request in it gets exactly one result, its own;
//! - a caller that gives up (its future is dropped) before its batch leaves is left out of
//!   it; once the batch has left, it runs to the end for the others (it is a shared future
//!   that any remaining caller drives);
//! - requests keep their arrival order: within a batch, and across the batches of one key,
//!   which leave in the order they were opened (a full batch of [`MAX_COALESCED`] is followed
//!   by the next);
//! - no lock is held across an `.await`, and no waker is woken under a lock.

use std::collections::{HashMap, VecDeque};
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
    /// The batches that have not left yet, oldest first, with the futures that run them.
    /// Only the first may leave; only the last takes new requests (while it has room).
    pending: VecDeque<(Arc<Batch<R>>, Done<T>)>,
    /// Calls and batches of this key sent and not yet answered.
    in_flight: usize,
    /// Pending batches waiting for their turn; one waker per batch future.
    waiting: Vec<Waker>,
}

struct Batch<R> {
    state: Mutex<BatchState<R>>,
}

struct BatchState<R> {
    requests: Vec<(R, Arc<AtomicBool>)>,
    /// Set when the batch leaves (it takes no more requests, and withdrawing is too late).
    closed: bool,
}

impl<R, T> Group<R, T> {
    fn new() -> Self {
        Group {
            pending: VecDeque::new(),
            in_flight: 0,
            waiting: Vec::new(),
        }
    }

    /// Nothing of this key is in flight or waiting: the group may go.
    fn idle(&self) -> bool {
        self.in_flight == 0 && self.pending.is_empty()
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Wakes wakers taken out from under a lock, after it was released.
fn wake_all(wakers: Vec<Waker>) {
    wakers.into_iter().for_each(Waker::wake);
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
        let mut alone = Some((request, run));
        let joined = {
            let mut groups = lock(&self.groups);
            let group = groups.entry(key.clone()).or_insert_with(Group::new);
            if group.idle() {
                // Nothing to wait for: go alone, now.
                group.in_flight += 1;
                None
            } else {
                alone
                    .take()
                    .map(|(request, run)| self.join(group, &key, request, run))
            }
        };
        match (joined, alone) {
            (Some((done, index, ticket)), _) => Self::wait(done, index, ticket).await,
            (None, Some((request, run))) => {
                let _in_flight = InFlight {
                    coalescer: self,
                    key,
                };
                single(run(vec![request]).await)
            }
            (None, None) => Err(RsmqError::InvalidReply("a call lost its request".into())),
        }
    }

    /// Adds `request` to the open batch of `group`, or opens the next batch when there is
    /// none or it is full. Returns the batch's future, the request's place in it, and the
    /// caller's ticket.
    fn join<'a, F, Fut>(
        self: &'a Arc<Self>,
        group: &mut Group<R, T>,
        key: &K,
        request: R,
        run: F,
    ) -> (Done<T>, usize, Ticket<'a, K, R, T>)
    where
        F: FnOnce(Vec<R>) -> Fut + Send + 'static,
        Fut: Future<Output = Vec<RsmqResult<T>>> + Send + 'static,
    {
        let live = Arc::new(AtomicBool::new(true));
        let open = group
            .pending
            .back()
            .filter(|(batch, _)| lock(&batch.state).requests.len() < MAX_COALESCED);
        let (batch, done, index) = match open {
            Some((batch, done)) => {
                let mut state = lock(&batch.state);
                state.requests.push((request, live.clone()));
                (batch.clone(), done.clone(), state.requests.len() - 1)
            }
            None => {
                let batch = Arc::new(Batch {
                    state: Mutex::new(BatchState {
                        requests: vec![(request, live.clone())],
                        closed: false,
                    }),
                });
                let done = self.batch_future(key.clone(), batch.clone(), run);
                group.pending.push_back((batch.clone(), done.clone()));
                (batch, done, 0)
            }
        };
        let ticket = Ticket {
            coalescer: self,
            key: key.clone(),
            batch,
            live,
        };
        (done, index, ticket)
    }

    /// Waits for a batch and takes this caller's result; the ticket withdraws the request
    /// if the caller gives up first.
    async fn wait(done: Done<T>, index: usize, ticket: Ticket<'_, K, R, T>) -> RsmqResult<T> {
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

    /// The future that runs `batch`: one scheduler turn for others to join, then, once the
    /// batches before it have left and the in-flight limit allows, it closes the batch and
    /// runs the requests still wanted.
    fn batch_future<F, Fut>(self: &Arc<Self>, key: K, batch: Arc<Batch<R>>, run: F) -> Done<T>
    where
        F: FnOnce(Vec<R>) -> Fut + Send + 'static,
        Fut: Future<Output = Vec<RsmqResult<T>>> + Send + 'static,
    {
        let coalescer = self.clone();
        async move {
            YieldNow(false).await;
            let requests = std::future::poll_fn(|cx| coalescer.leave(&key, &batch, cx)).await;
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

    /// Closes `batch` and takes its requests when it is the first pending batch of `key` and
    /// the in-flight limit allows; else registers the waker and waits.
    fn leave(
        &self,
        key: &K,
        batch: &Arc<Batch<R>>,
        cx: &mut Context<'_>,
    ) -> Poll<Vec<(R, Arc<AtomicBool>)>> {
        let mut groups = lock(&self.groups);
        let group = groups.entry(key.clone()).or_insert_with(Group::new);
        let place = group
            .pending
            .iter()
            .position(|(b, _)| Arc::ptr_eq(b, batch));
        if matches!(place, Some(1..)) || group.in_flight >= self.max_in_flight {
            if !group.waiting.iter().any(|w| w.will_wake(cx.waker())) {
                group.waiting.push(cx.waker().clone());
            }
            return Poll::Pending;
        }
        if place == Some(0) {
            group.pending.pop_front();
        }
        group.in_flight += 1;
        let requests = {
            let mut state = lock(&batch.state);
            state.closed = true;
            std::mem::take(&mut state.requests)
        };
        // The next batch is first now: let it look again if the limit allows it to leave.
        let wake = if group.in_flight < self.max_in_flight && !group.pending.is_empty() {
            std::mem::take(&mut group.waiting)
        } else {
            Vec::new()
        };
        drop(groups);
        wake_all(wake);
        Poll::Ready(requests)
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
        let wake = {
            let mut groups = lock(&self.coalescer.groups);
            let Some(group) = groups.get_mut(&self.key) else {
                return;
            };
            group.in_flight = group.in_flight.saturating_sub(1);
            let wake = std::mem::take(&mut group.waiting);
            if group.idle() {
                groups.remove(&self.key);
            }
            wake
        };
        wake_all(wake);
    }
}

/// A caller's place in a batch. Dropping it before the batch leaves withdraws the request;
/// when every request of a pending batch is withdrawn, the batch is discarded (and the next
/// batch of its key may leave in its place).
struct Ticket<'a, K: Hash + Eq, R, T> {
    coalescer: &'a Coalescer<K, R, T>,
    key: K,
    batch: Arc<Batch<R>>,
    live: Arc<AtomicBool>,
}

impl<K: Hash + Eq, R, T> Drop for Ticket<'_, K, R, T> {
    fn drop(&mut self) {
        if !self.live.swap(false, Ordering::AcqRel) {
            return; // answered
        }
        // Dropped after the lock is released: the batch's future holds the caller's `run`.
        let (removed, wake) = {
            let mut groups = lock(&self.coalescer.groups);
            {
                let state = lock(&self.batch.state);
                if state.closed
                    || state
                        .requests
                        .iter()
                        .any(|(_, l)| l.load(Ordering::Acquire))
                {
                    return;
                }
            }
            let Some(group) = groups.get_mut(&self.key) else {
                return;
            };
            let Some(place) = group
                .pending
                .iter()
                .position(|(b, _)| Arc::ptr_eq(b, &self.batch))
            else {
                return;
            };
            let removed = group.pending.remove(place);
            // The batch behind it may be first now.
            let wake = if place == 0 {
                std::mem::take(&mut group.waiting)
            } else {
                Vec::new()
            };
            if group.idle() {
                groups.remove(&self.key);
            }
            (removed, wake)
        };
        drop(removed);
        wake_all(wake);
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

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::future::join_all;
    use futures_util::task::noop_waker_ref;
    use std::task::Wake;

    /// Requests and results are numbers; a request `r` is answered with `10 * r`.
    type Numbers = Coalescer<u8, u32, u32>;
    /// The batches `run` was called with, in the order it was called.
    type Log = Arc<Mutex<Vec<Vec<u32>>>>;
    type Run = Box<dyn FnOnce(Vec<u32>) -> BoxFuture<'static, Vec<RsmqResult<u32>>> + Send>;

    fn answer(requests: Vec<u32>) -> Vec<RsmqResult<u32>> {
        requests.into_iter().map(|r| Ok(10 * r)).collect()
    }

    /// A `run` that logs its batch and answers at once.
    fn at_once(log: &Log) -> Run {
        let log = log.clone();
        Box::new(move |requests| {
            lock(&log).push(requests.clone());
            async move { answer(requests) }.boxed()
        })
    }

    /// A `run` that logs its batch and answers once `gate` is open (for polling by hand).
    fn gated(log: &Log, gate: &Arc<AtomicBool>) -> Run {
        let (log, gate) = (log.clone(), gate.clone());
        Box::new(move |requests| {
            lock(&log).push(requests.clone());
            async move {
                std::future::poll_fn(|_| match gate.load(Ordering::Acquire) {
                    true => Poll::Ready(()),
                    false => Poll::Pending,
                })
                .await;
                answer(requests)
            }
            .boxed()
        })
    }

    /// A `run` that logs its batch and answers after a few scheduler turns.
    fn later(log: &Log) -> Run {
        let log = log.clone();
        Box::new(move |requests| {
            lock(&log).push(requests.clone());
            async move {
                for _ in 0..3 {
                    tokio::task::yield_now().await;
                }
                answer(requests)
            }
            .boxed()
        })
    }

    type Call<'a> = Pin<Box<dyn Future<Output = RsmqResult<u32>> + Send + 'a>>;

    fn call<'a>(c: &'a Arc<Numbers>, request: u32, run: Run) -> Call<'a> {
        Box::pin(c.call(0, request, run))
    }

    fn poll_with(call: &mut Call<'_>, waker: &Waker) -> Poll<u32> {
        match call.as_mut().poll(&mut Context::from_waker(waker)) {
            Poll::Ready(result) => Poll::Ready(result.expect("a result")),
            Poll::Pending => Poll::Pending,
        }
    }

    fn poll(call: &mut Call<'_>) -> Poll<u32> {
        poll_with(call, noop_waker_ref())
    }

    fn pending_batches(c: &Numbers) -> usize {
        lock(&c.groups).get(&0).map_or(0, |g| g.pending.len())
    }

    /// A call that goes alone and stays in flight until `gate` opens, so that the next calls
    /// wait in batches (the coalescers under test allow one call in flight).
    fn in_flight<'a>(c: &'a Arc<Numbers>, log: &Log, gate: &Arc<AtomicBool>) -> Call<'a> {
        let mut first = call(c, 0, gated(log, gate));
        assert_eq!(poll(&mut first), Poll::Pending);
        first
    }

    #[test]
    fn two_pending_batches_leave_in_the_order_they_opened() {
        let c = Arc::new(Numbers::with_in_flight(1));
        let (log, gate) = (Log::default(), Arc::new(AtomicBool::new(false)));
        let mut first = in_flight(&c, &log, &gate);
        let n = MAX_COALESCED as u32 + 1;
        let mut calls: Vec<Call> = (1..=n).map(|r| call(&c, r, at_once(&log))).collect();
        for call in &mut calls {
            assert_eq!(poll(call), Poll::Pending);
        }
        assert_eq!(pending_batches(&c), 2, "a full batch and the next");
        gate.store(true, Ordering::Release);
        assert_eq!(poll(&mut first), Poll::Ready(0));
        // The later batch is polled first, and waits for the earlier one.
        let last = calls.last_mut().unwrap();
        assert_eq!(poll(last), Poll::Pending);
        assert_eq!(lock(&log).len(), 1, "nothing left but the first call");
        for (r, call) in (1..=n).zip(&mut calls) {
            assert_eq!(poll(call), Poll::Ready(10 * r));
        }
        let expected = vec![vec![0], (1..n).collect(), vec![n]];
        assert_eq!(*lock(&log), expected);
        assert!(lock(&c.groups).is_empty(), "nothing left behind");
    }

    #[tokio::test]
    async fn more_calls_than_a_batch_holds_get_their_own_results_in_arrival_order() {
        let c = Arc::new(Numbers::with_in_flight(1));
        let log = Log::default();
        let n = 3 * MAX_COALESCED as u32 + 50;
        let results = join_all((0..n).map(|r| c.call(0, r, later(&log)))).await;
        for (r, result) in (0..n).zip(results) {
            assert_eq!(result.unwrap(), 10 * r);
        }
        // The first went alone; the others waited for it in full batches, which left in turn.
        let sizes: Vec<usize> = lock(&log).iter().map(Vec::len).collect();
        let full = MAX_COALESCED;
        assert_eq!(sizes, [1, full, full, full, 49]);
        assert_eq!(lock(&log).concat(), (0..n).collect::<Vec<_>>());
        assert!(lock(&c.groups).is_empty());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn calls_from_several_threads_each_get_their_own_result() {
        let c = Arc::new(Numbers::default());
        let log = Log::default();
        let tasks: Vec<_> = (0..4u32)
            .map(|t| {
                let (c, log) = (c.clone(), log.clone());
                tokio::spawn(async move {
                    for round in 0..5u32 {
                        let base = t * 10_000 + round * 1000;
                        let calls = (base..base + 300).map(|r| c.call(0, r, later(&log)));
                        for (r, result) in (base..).zip(join_all(calls).await) {
                            assert_eq!(result.unwrap(), 10 * r);
                        }
                    }
                })
            })
            .collect();
        for task in tasks {
            task.await.unwrap();
        }
        let mut all = lock(&log).concat();
        assert_eq!(all.len(), 4 * 5 * 300, "each request ran once");
        all.sort_unstable();
        all.dedup();
        assert_eq!(all.len(), 4 * 5 * 300, "each request ran once");
        assert!(lock(&log).iter().all(|b| b.len() <= MAX_COALESCED));
        assert!(lock(&c.groups).is_empty());
    }

    #[test]
    fn a_caller_dropped_after_its_batch_left_leaves_the_others_their_results() {
        let c = Arc::new(Numbers::with_in_flight(1));
        let (log, gate) = (Log::default(), Arc::new(AtomicBool::new(false)));
        let mut first = in_flight(&c, &log, &gate);
        let batch_gate = Arc::new(AtomicBool::new(false));
        let mut x = call(&c, 1, gated(&log, &batch_gate));
        let mut y = call(&c, 2, at_once(&log));
        let mut z = call(&c, 3, at_once(&log));
        for call in [&mut x, &mut y, &mut z] {
            assert_eq!(poll(call), Poll::Pending);
        }
        gate.store(true, Ordering::Release);
        assert_eq!(poll(&mut first), Poll::Ready(0));
        // y drives the batch out; it then waits for the answer, and gives up.
        assert_eq!(poll(&mut y), Poll::Pending);
        assert_eq!(*lock(&log), [vec![0], vec![1, 2, 3]]);
        drop(y);
        batch_gate.store(true, Ordering::Release);
        assert_eq!(poll(&mut z), Poll::Ready(30));
        assert_eq!(poll(&mut x), Poll::Ready(10));
        assert!(lock(&c.groups).is_empty());
    }

    #[test]
    fn callers_that_give_up_before_their_batch_leaves_are_left_out() {
        let c = Arc::new(Numbers::with_in_flight(1));
        let (log, gate) = (Log::default(), Arc::new(AtomicBool::new(false)));
        let mut first = in_flight(&c, &log, &gate);
        let n = MAX_COALESCED as u32 + 2;
        let mut calls: Vec<Call> = (1..=n).map(|r| call(&c, r, at_once(&log))).collect();
        for call in &mut calls {
            assert_eq!(poll(call), Poll::Pending);
        }
        // Every caller of the first (full) batch gives up, and one of the second.
        let mut second = calls.split_off(MAX_COALESCED);
        drop(calls);
        assert_eq!(pending_batches(&c), 1, "the abandoned batch is gone");
        drop(second.remove(0));
        gate.store(true, Ordering::Release);
        assert_eq!(poll(&mut first), Poll::Ready(0));
        assert_eq!(poll(&mut second[0]), Poll::Ready(10 * n));
        assert_eq!(*lock(&log), [vec![0], vec![n]]);
        assert!(lock(&c.groups).is_empty());
        // A batch all of whose callers gave up leaves nothing behind either.
        let gate = Arc::new(AtomicBool::new(false));
        let mut first = in_flight(&c, &log, &gate);
        let mut opener = call(&c, 8, at_once(&log));
        assert_eq!(poll(&mut opener), Poll::Pending);
        drop(opener);
        assert_eq!(pending_batches(&c), 0);
        gate.store(true, Ordering::Release);
        assert_eq!(poll(&mut first), Poll::Ready(0));
        assert_eq!(
            lock(&log).last(),
            Some(&vec![0]),
            "the abandoned batch never ran"
        );
        assert!(lock(&c.groups).is_empty());
    }

    /// A waker that counts its wakes and checks that the coalescer is not locked then.
    struct Probe {
        coalescer: Arc<Numbers>,
        wakes: std::sync::atomic::AtomicUsize,
        woken_under_lock: AtomicBool,
    }

    impl Wake for Probe {
        fn wake(self: Arc<Self>) {
            self.wake_by_ref();
        }
        fn wake_by_ref(self: &Arc<Self>) {
            self.wakes.fetch_add(1, Ordering::SeqCst);
            if self.coalescer.groups.try_lock().is_err() {
                self.woken_under_lock.store(true, Ordering::SeqCst);
            }
        }
    }

    #[test]
    fn a_waiting_batch_keeps_one_waker_and_is_woken_after_the_lock_is_released() {
        let c = Arc::new(Numbers::with_in_flight(1));
        let (log, gate) = (Log::default(), Arc::new(AtomicBool::new(false)));
        let mut first = in_flight(&c, &log, &gate);
        let probe = Arc::new(Probe {
            coalescer: c.clone(),
            wakes: Default::default(),
            woken_under_lock: AtomicBool::new(false),
        });
        let waker = Waker::from(probe.clone());
        let mut x = call(&c, 1, at_once(&log));
        let mut y = call(&c, 2, at_once(&log));
        // Many polls of the waiting batch, through both of its callers.
        for _ in 0..100 {
            assert_eq!(poll_with(&mut x, &waker), Poll::Pending);
            assert_eq!(poll_with(&mut y, &waker), Poll::Pending);
        }
        assert_eq!(lock(&c.groups)[&0].waiting.len(), 1);
        let before = probe.wakes.load(Ordering::SeqCst);
        gate.store(true, Ordering::Release);
        assert_eq!(poll(&mut first), Poll::Ready(0));
        assert!(
            probe.wakes.load(Ordering::SeqCst) > before,
            "the batch was woken"
        );
        assert!(!probe.woken_under_lock.load(Ordering::SeqCst));
        assert_eq!(poll(&mut x), Poll::Ready(10));
        assert_eq!(poll(&mut y), Poll::Ready(20));
        assert!(lock(&c.groups).is_empty());
    }
}
