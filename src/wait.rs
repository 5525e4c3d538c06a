//! Long polling: [`receive_message_wait`](crate::RsmqConnection::receive_message_wait)
//! without busy polling.
//!
//! A waiter tries to receive; when nothing is receivable, the script also says when the next
//! hidden message becomes due. The waiter then sleeps until the first of:
//! - a realtime notification on `{ns}:rt:{qname}` (published by producers with `realtime`);
//! - the next hidden message's due time;
//! - the fallback poll interval ([`FALLBACK_POLL`]), since a PUBLISH can be lost and
//!   producers without `realtime` publish nothing;
//! - the end of the wait (a wait too long to represent has none).
//!
//! Notifications come from one subscriber connection per client (shared by its clones and
//! all their waiters), opened at the first wait with a pattern subscription to
//! `{ns}:rt:*`. The subscriber runs as a task on the Tokio runtime of the wait that starts
//! it, or on a thread of its own driven by `async-io` elsewhere (smol). It resubscribes by
//! itself, backing off from [`RETRY_MIN`] to [`RETRY_MAX`] while subscribing fails (each
//! failure is a `tracing` warning), and stops when the last clone of the client is dropped.
//! When its runtime shuts down, the next wait starts it again on the runtime then current.
//!
//! Each notification wakes one waiter of its queue (one PUBLISH per message sent), not all
//! of them: a waiter that is woken and then gives up (its future dropped before it looked,
//! or its receive failed) passes the wake-up on to another waiter. A re-subscription wakes
//! every waiter, since notifications may have been missed meanwhile.
//!
//! The notifier keeps an entry per queue only while some waiter waits on it.

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use event_listener::{Event, EventListener};
use futures_util::future::{select, Either};
use futures_util::StreamExt;
use redis::aio::ConnectionLike;

use crate::engine::Engine;
use crate::reply::Received;
use crate::{RedisBytes, RsmqMessage, RsmqResult};

#[cfg(not(any(feature = "tokio-comp", feature = "smol-comp")))]
compile_error!("rsmq_async needs a runtime: enable the `tokio-comp` or `smol-comp` feature");

/// The longest a waiter sleeps without checking the queue again.
///
/// ```
/// use std::time::Duration;
/// use rsmq_async::FALLBACK_POLL;
///
/// // Without realtime notifications, a long poll notices a new message within this time.
/// assert!(FALLBACK_POLL <= Duration::from_secs(1));
/// ```
pub const FALLBACK_POLL: Duration = Duration::from_millis(500);

/// The subscriber's first retry delay after a failed subscription (and after a lost one).
const RETRY_MIN: Duration = Duration::from_millis(500);
/// The subscriber's longest retry delay: the delay doubles from [`RETRY_MIN`] up to this.
const RETRY_MAX: Duration = Duration::from_secs(30);

/// The notification side of long polling, shared by a client's clones.
pub(crate) struct Waiter {
    notifier: Option<Arc<Notifier>>,
}

impl Waiter {
    /// A waiter that subscribes through `client` (when given) to the namespace's channels.
    pub(crate) fn new(client: Option<redis::Client>, ns: &str) -> Self {
        Waiter::new_any(client.into_iter().collect(), ns)
    }

    /// A waiter that subscribes through one of `clients` (none: timers only), moving on to
    /// the next when the subscription cannot be made or is lost: on a cluster, where a
    /// `PUBLISH` reaches every node, so any node will do.
    pub(crate) fn new_any(clients: Vec<redis::Client>, ns: &str) -> Self {
        Waiter {
            notifier: (!clients.is_empty()).then(|| Arc::new(Notifier::new(clients, ns))),
        }
    }

    /// Receives from `qname`, waiting up to `wait` for a message to become receivable.
    pub(crate) async fn receive<C, Fut, E>(
        &self,
        engine: &Engine,
        mut connect: impl FnMut() -> Fut,
        qname: &str,
        vt: Option<Duration>,
        wait: Duration,
    ) -> RsmqResult<Option<RsmqMessage<E>>>
    where
        C: std::ops::DerefMut + Send,
        C::Target: ConnectionLike + Send + Sized,
        Fut: Future<Output = RsmqResult<C>> + Send,
        E: TryFrom<RedisBytes, Error = Vec<u8>>,
    {
        // `None`: a wait too long to represent, which never ends.
        let deadline = Instant::now().checked_add(wait);
        // The name is checked before the notifier keeps anything for it.
        crate::validate::qname(qname)?;
        let queue = self.notifier.as_ref().map(|n| n.queue(qname));
        // Whether this waiter took a notification that it has not yet acted on.
        let mut woken = false;
        loop {
            if let Some(q) = &queue {
                q.notifier.start();
            }
            // Listen before receiving, so a publish in between is not missed.
            let listener = queue.as_ref().map(QueueEvent::listen);
            // A notification taken but not acted on (the receive fails, or this future is
            // dropped meanwhile) goes to another waiter.
            let relay = Relay(queue.as_ref().filter(|_| woken).map(|q| &*q.event));
            let due = {
                let mut con = connect().await?;
                match engine.receive_next(&mut *con, qname, vt).await? {
                    Received::Message(m) => {
                        relay.disarm();
                        return m.decode().map(Some);
                    }
                    Received::Nothing(due) => due,
                }
            };
            relay.disarm();
            let now = Instant::now();
            let left = match deadline {
                Some(d) if now >= d => return Ok(None),
                Some(d) => d - now,
                None => FALLBACK_POLL,
            };
            let mut nap = left.min(FALLBACK_POLL);
            if let Some(units) = due {
                // Wake just after the next hidden message becomes due.
                nap = nap.min(engine.score_unit().duration(units) + Duration::from_millis(1));
            }
            woken = match listener {
                Some(l) => matches!(select(l, Box::pin(sleep(nap))).await, Either::Left(_)),
                None => {
                    sleep(nap).await;
                    false
                }
            };
        }
    }
}

/// Passes a notification on to another waiter when dropped armed.
struct Relay<'a>(Option<&'a Event>);

impl Relay<'_> {
    fn disarm(mut self) {
        self.0 = None;
    }
}

impl Drop for Relay<'_> {
    fn drop(&mut self) {
        if let Some(event) = self.0.take() {
            event.notify_additional(1);
        }
    }
}

/// Sleeps on whichever runtime is running.
pub(crate) async fn sleep(d: Duration) {
    #[cfg(feature = "tokio-comp")]
    if tokio::runtime::Handle::try_current().is_ok() {
        tokio::time::sleep(d).await;
        return;
    }
    #[cfg(feature = "smol-comp")]
    {
        async_io::Timer::after(d).await;
    }
    #[cfg(not(feature = "smol-comp"))]
    {
        // Tokio is compiled in but not running: one timer thread serves every such sleep.
        timer::sleep(d).await;
    }
}

/// The timer thread of sleeps outside a Tokio runtime when smol is not compiled in.
#[cfg(not(feature = "smol-comp"))]
mod timer {
    use std::cmp::Ordering;
    use std::collections::BinaryHeap;
    use std::sync::{mpsc, OnceLock};
    use std::time::{Duration, Instant};

    use tokio::sync::oneshot;

    /// One sleep: when it ends and whom to tell. Ordered by end, soonest first.
    struct Due {
        at: Instant,
        tx: oneshot::Sender<()>,
    }

    impl PartialEq for Due {
        fn eq(&self, other: &Self) -> bool {
            self.at == other.at
        }
    }
    impl Eq for Due {}
    impl PartialOrd for Due {
        fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
            Some(self.cmp(other))
        }
    }
    impl Ord for Due {
        fn cmp(&self, other: &Self) -> Ordering {
            other.at.cmp(&self.at) // reversed: the heap's top is the soonest
        }
    }

    /// The timer thread's inbox; `None` if the thread could not be started.
    fn inbox() -> Option<&'static mpsc::Sender<Due>> {
        static INBOX: OnceLock<Option<mpsc::Sender<Due>>> = OnceLock::new();
        INBOX
            .get_or_init(|| {
                let (tx, rx) = mpsc::channel();
                std::thread::Builder::new()
                    .name("rsmq-timer".into())
                    .spawn(move || run(rx))
                    .ok()
                    .map(|_| tx)
            })
            .as_ref()
    }

    /// Ends each sleep at its time; runs for the life of the process.
    fn run(rx: mpsc::Receiver<Due>) {
        let mut heap = BinaryHeap::new();
        loop {
            let now = Instant::now();
            while heap.peek().is_some_and(|d: &Due| d.at <= now) {
                if let Some(d) = heap.pop() {
                    let _ = d.tx.send(());
                }
            }
            let next = match heap.peek() {
                Some(d) => rx.recv_timeout(d.at - now),
                None => rx.recv().map_err(|_| mpsc::RecvTimeoutError::Disconnected),
            };
            match next {
                Ok(d) => heap.push(d),
                Err(mpsc::RecvTimeoutError::Timeout) => {}
                Err(mpsc::RecvTimeoutError::Disconnected) => return,
            }
        }
    }

    pub(super) async fn sleep(d: Duration) {
        let (tx, rx) = oneshot::channel();
        let at = Instant::now().checked_add(d);
        match (inbox(), at) {
            (Some(inbox), Some(at)) => {
                if inbox.send(Due { at, tx }).is_ok() {
                    let _ = rx.await;
                }
            }
            // Too long to represent: it never ends.
            (_, None) => std::future::pending().await,
            // No timer thread: a thread for this sleep.
            (None, Some(_)) => {
                let spawned = std::thread::Builder::new().spawn(move || {
                    std::thread::sleep(d);
                    let _ = tx.send(());
                });
                if spawned.is_ok() {
                    let _ = rx.await;
                }
            }
        }
    }
}

/// One pattern subscription per client, fanned out to an [`Event`] per queue.
struct Notifier {
    /// Where to subscribe: one server, or any node of a cluster, tried in turn.
    clients: Vec<redis::Client>,
    /// Which of `clients` the subscriber uses (modulo their number).
    turn: std::sync::atomic::AtomicUsize,
    pattern: String,
    prefix: String,
    /// Whether a subscriber is running (set by [`Notifier::start`], cleared by the
    /// subscriber's [`Running`] guard when its future ends or is dropped).
    running: Arc<AtomicBool>,
    /// Notified when the notifier is dropped, so that a sleeping subscriber stops at once.
    closed: Arc<Event>,
    /// The queues somebody waits on. An entry lives as long as a [`QueueEvent`] holds it.
    queues: Mutex<HashMap<String, Entry>>,
}

impl Drop for Notifier {
    fn drop(&mut self) {
        self.closed.notify(usize::MAX);
    }
}

/// The notification of one queue, and how many [`QueueEvent`]s hold it.
struct Entry {
    event: Arc<Event>,
    holders: usize,
}

/// A waiter's hold on the notification of one queue; the entry goes when the last is dropped.
struct QueueEvent {
    notifier: Arc<Notifier>,
    name: String,
    event: Arc<Event>,
}

impl QueueEvent {
    fn listen(&self) -> EventListener {
        self.event.listen()
    }
}

impl Drop for QueueEvent {
    fn drop(&mut self) {
        let mut queues = self.notifier.lock();
        if let Some(entry) = queues.get_mut(&self.name) {
            entry.holders -= 1;
            if entry.holders == 0 {
                queues.remove(&self.name);
            }
        }
    }
}

impl Notifier {
    fn new(clients: Vec<redis::Client>, ns: &str) -> Self {
        let prefix = crate::keys::realtime_channel(ns, "");
        Notifier {
            clients,
            turn: Default::default(),
            pattern: format!("{}*", escape_glob(&prefix)),
            prefix,
            running: Arc::default(),
            closed: Arc::default(),
            queues: Mutex::default(),
        }
    }

    /// The client to subscribe through now.
    fn client(&self) -> redis::Client {
        let turn = self.turn.load(Ordering::Relaxed);
        self.clients[turn % self.clients.len()].clone()
    }

    /// Moves on to the next client, after a failure.
    fn next_client(&self) {
        self.turn.fetch_add(1, Ordering::Relaxed);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Entry>> {
        self.queues.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The notification of one queue, held until the returned value is dropped.
    fn queue(self: &Arc<Self>, qname: &str) -> QueueEvent {
        let mut queues = self.lock();
        let entry = queues.entry(qname.to_string()).or_insert_with(|| Entry {
            event: Arc::default(),
            holders: 0,
        });
        entry.holders += 1;
        let event = entry.event.clone();
        drop(queues);
        QueueEvent {
            notifier: self.clone(),
            name: qname.to_string(),
            event,
        }
    }

    /// Starts the subscriber unless it runs.
    fn start(self: &Arc<Self>) {
        if self.running.load(Ordering::Acquire) || self.running.swap(true, Ordering::AcqRel) {
            return;
        }
        // Outside any lock: a subscriber that cannot be spawned is dropped here, and its
        // guard clears `running` again.
        let running = Running(self.running.clone());
        spawn(subscribe(
            Arc::downgrade(self),
            self.closed.clone(),
            running,
        ));
    }

    /// Wakes one waiter of a queue (one message was sent), or every waiter of every queue.
    fn wake(&self, qname: Option<&str>) {
        let queues = self.lock();
        match qname {
            Some(q) => {
                if let Some(e) = queues.get(q) {
                    e.event.notify_additional(1);
                }
            }
            None => queues.values().for_each(|e| {
                e.event.notify(usize::MAX);
            }),
        }
    }

    /// How many queues have an entry.
    #[cfg(test)]
    fn entries(&self) -> usize {
        self.lock().len()
    }
}

/// Held by the subscriber: clears the notifier's `running` flag when the subscriber ends,
/// including when its runtime shuts down and drops it.
struct Running(Arc<AtomicBool>);

impl Drop for Running {
    fn drop(&mut self) {
        self.0.store(false, Ordering::Release);
    }
}

/// Runs the subscriber: a task on the current Tokio runtime, else a thread of its own.
fn spawn(fut: impl Future<Output = ()> + Send + 'static) {
    #[cfg(feature = "tokio-comp")]
    if let Ok(handle) = tokio::runtime::Handle::try_current() {
        handle.spawn(fut);
        return;
    }
    #[cfg(feature = "smol-comp")]
    {
        let _ = std::thread::Builder::new()
            .name("rsmq-subscriber".into())
            .spawn(move || async_io::block_on(fut));
    }
    #[cfg(not(feature = "smol-comp"))]
    drop(fut); // Tokio only, and no runtime running: waiters use their timers.
}

/// Escapes the glob characters of a PSUBSCRIBE pattern.
fn escape_glob(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '*' | '?' | '[' | ']' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Opens a subscriber connection and subscribes to `pattern`.
async fn open(client: &redis::Client, pattern: &str) -> redis::RedisResult<redis::aio::PubSub> {
    let mut pubsub = client.get_async_pubsub().await?;
    pubsub.psubscribe(pattern).await?;
    Ok(pubsub)
}

/// The subscriber: (re)subscribes, forwards notifications, stops when the client is gone.
async fn subscribe(notifier: Weak<Notifier>, closed: Arc<Event>, _running: Running) {
    let mut retry = RETRY_MIN;
    loop {
        let Some(n) = notifier.upgrade() else { return };
        let (client, pattern, prefix) = (n.client(), n.pattern.clone(), n.prefix.clone());
        drop(n);
        let delay = match open(&client, &pattern).await {
            Ok(mut pubsub) => {
                tracing::debug!(pattern = %pattern, "realtime subscription in place");
                retry = RETRY_MIN;
                // Anything published while we were away was missed: let waiters re-check.
                if let Some(n) = notifier.upgrade() {
                    n.wake(None);
                }
                let mut closing = closed.listen();
                if notifier.strong_count() == 0 {
                    return;
                }
                let mut messages = pubsub.on_message();
                loop {
                    match select(messages.next(), &mut closing).await {
                        Either::Left((Some(msg), _)) => {
                            let Some(n) = notifier.upgrade() else { return };
                            let channel = msg.get_channel_name();
                            let queue = channel.strip_prefix(&prefix).unwrap_or(channel);
                            tracing::trace!(queue, "realtime notification");
                            n.wake(Some(queue));
                        }
                        Either::Left((None, _)) => break,
                        Either::Right(_) => return,
                    }
                }
                tracing::warn!(
                    pattern = %pattern,
                    retry_in_ms = millis(RETRY_MIN),
                    "realtime subscription lost; waiters poll until it is back"
                );
                if let Some(n) = notifier.upgrade() {
                    n.next_client();
                }
                RETRY_MIN
            }
            Err(e) => {
                tracing::warn!(
                    pattern = %pattern,
                    kind = ?e.kind(),
                    io = crate::observe::io_kind(&e).map(tracing::field::debug),
                    code = e.code().unwrap_or(""),
                    detail = e.detail().unwrap_or(""),
                    retry_in_ms = millis(retry),
                    "cannot subscribe to realtime notifications; waiters poll until it works"
                );
                let delay = retry;
                retry = (retry * 2).min(RETRY_MAX);
                if let Some(n) = notifier.upgrade() {
                    n.next_client();
                }
                delay
            }
        };
        let closing = closed.listen();
        if notifier.strong_count() == 0 {
            return;
        }
        if let Either::Right(_) = select(Box::pin(sleep(delay)), closing).await {
            return;
        }
    }
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use futures_util::FutureExt;

    use super::Notifier;

    fn notifier() -> Arc<Notifier> {
        // Never connected: these tests do not start the subscriber.
        let client = redis::Client::open("redis://127.0.0.1:1/").unwrap();
        Arc::new(Notifier::new(vec![client], "ns"))
    }

    #[test]
    fn glob_characters_are_escaped() {
        assert_eq!(
            super::escape_glob("a*b?[c]\\:rt:"),
            "a\\*b\\?\\[c\\]\\\\:rt:"
        );
    }

    #[test]
    fn queue_entries_live_only_while_a_waiter_holds_them() {
        let n = notifier();
        for i in 0..10_000 {
            let q = n.queue(&format!("queue-{i}"));
            drop(q.listen());
        }
        assert_eq!(n.entries(), 0);
        let a = n.queue("q");
        let b = n.queue("q");
        let other = n.queue("other");
        assert!(Arc::ptr_eq(&a.event, &b.event));
        assert_eq!(n.entries(), 2);
        drop(a);
        assert_eq!(n.entries(), 2);
        drop((b, other));
        assert_eq!(n.entries(), 0);
    }

    #[test]
    fn a_notification_wakes_one_waiter_and_a_resubscription_all() {
        let n = notifier();
        let q = n.queue("q");
        let mut listeners: Vec<_> = (0..5).map(|_| q.listen()).collect();
        n.wake(Some("q"));
        let woken = listeners
            .iter_mut()
            .filter_map(|l| l.now_or_never())
            .count();
        assert_eq!(woken, 1);
        drop(listeners);
        let mut listeners: Vec<_> = (0..5).map(|_| q.listen()).collect();
        n.wake(Some("q"));
        n.wake(Some("q"));
        let woken = listeners
            .iter_mut()
            .filter_map(|l| l.now_or_never())
            .count();
        assert_eq!(woken, 2);
        drop(listeners);
        let mut listeners: Vec<_> = (0..5).map(|_| q.listen()).collect();
        n.wake(None);
        assert!(listeners.iter_mut().all(|l| l.now_or_never().is_some()));
    }

    #[test]
    fn a_notification_not_taken_passes_to_another_waiter() {
        let n = notifier();
        let q = n.queue("q");
        let first = q.listen();
        let mut second = q.listen();
        n.wake(Some("q"));
        // Listeners are notified in order: the first gets it, and gives it up unseen.
        drop(first);
        assert!((&mut second).now_or_never().is_some());
        // A relay armed by a waiter that took a notification passes it on when dropped.
        let mut third = q.listen();
        drop(super::Relay(Some(&q.event)));
        assert!((&mut third).now_or_never().is_some());
        let mut fourth = q.listen();
        super::Relay(Some(&q.event)).disarm();
        assert!((&mut fourth).now_or_never().is_none());
    }

    /// Sleeps outside a Tokio runtime share one timer thread instead of a thread each.
    #[cfg(all(target_os = "linux", not(feature = "smol-comp")))]
    #[test]
    fn sleeps_outside_a_runtime_share_one_thread() {
        use std::future::Future;
        use std::task::{Context, Wake, Waker};
        use std::time::{Duration, Instant};

        struct Unpark(std::thread::Thread);
        impl Wake for Unpark {
            fn wake(self: Arc<Self>) {
                self.0.unpark();
            }
        }
        fn threads() -> usize {
            std::fs::read_dir("/proc/self/task").unwrap().count()
        }

        let before = threads();
        let mut sleeps: Vec<_> = (0..200)
            .map(|i| Box::pin(super::sleep(Duration::from_millis(300 + i))))
            .collect();
        let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
        let mut cx = Context::from_waker(&waker);
        let start = Instant::now();
        let mut during = 0;
        while !sleeps.is_empty() {
            sleeps.retain_mut(|s| s.as_mut().poll(&mut cx).is_pending());
            during = during.max(threads());
            std::thread::park_timeout(Duration::from_millis(50));
        }
        assert!(start.elapsed() >= Duration::from_millis(300));
        // Other tests of this binary may run threads meanwhile, but not 200 of them.
        assert!(
            during < before + 50,
            "{before} threads before, {during} during"
        );
    }
}
