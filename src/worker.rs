//! [`Worker`]: consumes queues with handlers, in parallel, through failures and shutdowns
//! (feature `worker`, Tokio).
//!
//! One task per route receives messages, in batches sized to the free handler slots, and
//! spawns one task per message. A message's task runs the handler with its heartbeat, its
//! timeout and a panic guard, then deletes the message (success), sets its visibility to the
//! retry delay (failure), or moves it to the dead-letter queue. Slots: every route has one of
//! its own and shares the rest of the worker's `concurrency`, so a slow route never takes the
//! last slot another route needs. The guide page is `docs/guide/worker.md`.

use std::error::Error as StdError;
use std::fmt;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::{pin, Pin};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use futures_util::future::{select, Either};
use futures_util::FutureExt;
use tokio::sync::{mpsc, oneshot, watch, OwnedSemaphorePermit, Semaphore};
use tracing::Instrument;

use crate::liveness::{self, Registration};
use crate::{
    RedisBytes, Rsmq, RsmqConnection, RsmqError, RsmqMessage, RsmqOptions, RsmqResult, MAX_BATCH,
};

/// Handlers in flight at once in a worker when [`WorkerBuilder::concurrency`] is not set.
///
/// ```
/// use rsmq_async::{RsmqOptions, Worker, DEFAULT_CONCURRENCY};
///
/// // Handlers that mostly wait on the network: four times as many at once.
/// let builder = Worker::builder(RsmqOptions::default()).concurrency(4 * DEFAULT_CONCURRENCY);
/// # let _ = builder;
/// ```
pub const DEFAULT_CONCURRENCY: usize = 16;

/// How long [`Worker::run_until`] waits for running handlers after a shutdown when
/// [`WorkerBuilder::shutdown_timeout`] is not set.
///
/// ```
/// use rsmq_async::{RsmqOptions, Worker, DEFAULT_SHUTDOWN_TIMEOUT};
///
/// // Inside a container stopped after 10 s: stop waiting for handlers well before that.
/// let wait = DEFAULT_SHUTDOWN_TIMEOUT.min(std::time::Duration::from_secs(8));
/// let builder = Worker::builder(RsmqOptions::default()).shutdown_timeout(wait);
/// # let _ = builder;
/// ```
pub const DEFAULT_SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(30);

/// The longest visibility a retry delay can set (the largest `vt` RSMQ accepts).
const MAX_DELAY: Duration = Duration::from_secs(9_999_999);

/// The first and the longest pause after a failed receive.
const RECEIVE_RETRY_MIN: Duration = Duration::from_millis(100);
const RECEIVE_RETRY_MAX: Duration = Duration::from_secs(5);

/// The longest an idle route's long poll lasts, so that a stop never waits longer for it.
const LONG_POLL_MAX: Duration = Duration::from_secs(1);

/// How often a failed delete is tried again, and the first pause between tries.
const DELETE_TRIES: u32 = 6;
const DELETE_RETRY_MIN: Duration = Duration::from_millis(100);

// ---------------------------------------------------------------------------------------
// Public types
// ---------------------------------------------------------------------------------------

/// A message body that the route's type does not accept (`TryFrom<RedisBytes>` returned the
/// bytes). The handler is not called. The message goes to the route's dead-letter queue at
/// once; a route without one leaves it, as any failure (it is never deleted).
///
/// ```
/// use rsmq_async::{DecodeError, RedisBytes};
///
/// // A `String` route turns a body that is not UTF-8 into this error:
/// let body = RedisBytes::from(vec![0xff, 0xfe]);
/// let err = String::try_from(body).map_err(DecodeError).unwrap_err();
/// assert_eq!(err.0, [0xff, 0xfe]);
/// assert!(err.to_string().contains("2 bytes"));
/// ```
#[derive(Debug)]
pub struct DecodeError(pub Vec<u8>);

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "the message body ({} bytes) does not decode into the handler's type",
            self.0.len()
        )
    }
}

impl StdError for DecodeError {}

/// A handler error that must not be retried: the message goes to the dead-letter queue at
/// once (or is deleted when the route has none), whatever its receive count.
///
/// Return it as the handler's error, or anywhere in the `source()` chain of the error.
///
/// ```
/// use rsmq_async::{Permanent, RsmqMessage};
///
/// async fn handle(msg: RsmqMessage<String>) -> Result<(), Permanent> {
///     let n: u64 = msg.message.parse().map_err(Permanent::new)?; // never parses later
///     println!("{n}");
///     Ok(())
/// }
/// ```
#[derive(Debug)]
pub struct Permanent(Box<dyn StdError + Send + Sync>);

impl Permanent {
    /// Marks `error` as not to be retried.
    ///
    /// ```
    /// use rsmq_async::Permanent;
    ///
    /// let err = Permanent::new("unknown report type");
    /// assert_eq!(err.to_string(), "permanent failure: unknown report type");
    /// ```
    pub fn new(error: impl Into<Box<dyn StdError + Send + Sync>>) -> Permanent {
        Permanent(error.into())
    }

    /// The error inside.
    ///
    /// ```
    /// use rsmq_async::Permanent;
    ///
    /// let err = Permanent::new(std::io::Error::other("disk full"));
    /// let io = err.into_inner().downcast::<std::io::Error>().unwrap();
    /// assert_eq!(io.to_string(), "disk full");
    /// ```
    pub fn into_inner(self) -> Box<dyn StdError + Send + Sync> {
        self.0
    }
}

impl fmt::Display for Permanent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "permanent failure: {}", self.0)
    }
}

impl StdError for Permanent {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        Some(&*self.0)
    }
}

/// When a failed message is received again: its visibility is set to the delay this gives
/// for its receive count (`rc`, 1 on the first failure), so the wire stays the JavaScript
/// client's. The default, [`Backoff::queue_vt`], leaves the message hidden for the rest of the
/// `vt` it was received with, as rsmq_async 18 did.
///
/// ```
/// use rsmq_async::Backoff;
/// use std::time::Duration;
///
/// let b = Backoff::exponential(Duration::from_secs(1), Duration::from_secs(60));
/// assert_eq!(b.delay(1), Some(Duration::from_secs(1)));
/// assert_eq!(b.delay(3), Some(Duration::from_secs(4)));
/// assert_eq!(b.delay(30), Some(Duration::from_secs(60)));
/// let custom = Backoff::from_fn(|rc| Duration::from_secs(10 * rc)).jitter(0.2);
/// let d = custom.delay(2).unwrap();
/// assert!(d >= Duration::from_secs(16) && d <= Duration::from_secs(24));
/// ```
#[derive(Clone)]
pub struct Backoff {
    kind: BackoffKind,
    jitter: f64,
}

#[derive(Clone)]
enum BackoffKind {
    QueueVt,
    Fixed(Duration),
    Exponential { base: Duration, max: Duration },
    Custom(Arc<dyn Fn(u64) -> Duration + Send + Sync>),
}

impl Backoff {
    /// Leave a failed message as it is: it comes back when its visibility ends (the queue's
    /// `vt` from its receive, or the last heartbeat's extension). The default.
    ///
    /// ```
    /// use rsmq_async::Backoff;
    ///
    /// assert_eq!(Backoff::queue_vt().delay(1), None); // the visibility is left alone
    /// assert_eq!(Backoff::default().delay(7), None);
    /// ```
    pub fn queue_vt() -> Backoff {
        Backoff {
            kind: BackoffKind::QueueVt,
            jitter: 0.0,
        }
    }

    /// The same delay after every failure.
    ///
    /// ```
    /// use rsmq_async::Backoff;
    /// use std::time::Duration;
    ///
    /// let b = Backoff::fixed(Duration::from_secs(30));
    /// assert_eq!(b.delay(1), Some(Duration::from_secs(30)));
    /// assert_eq!(b.delay(9), Some(Duration::from_secs(30)));
    /// ```
    pub fn fixed(delay: Duration) -> Backoff {
        Backoff {
            kind: BackoffKind::Fixed(delay),
            jitter: 0.0,
        }
    }

    /// `base` after the first failure, doubling with each receive, at most `max`.
    ///
    /// ```
    /// use rsmq_async::Backoff;
    /// use std::time::Duration;
    ///
    /// let b = Backoff::exponential(Duration::from_secs(2), Duration::from_secs(10));
    /// assert_eq!(b.delay(1), Some(Duration::from_secs(2)));
    /// assert_eq!(b.delay(2), Some(Duration::from_secs(4)));
    /// assert_eq!(b.delay(4), Some(Duration::from_secs(10))); // 16 s, capped at `max`
    /// ```
    pub fn exponential(base: Duration, max: Duration) -> Backoff {
        Backoff {
            kind: BackoffKind::Exponential { base, max },
            jitter: 0.0,
        }
    }

    /// The delay `f(rc)` of the receive count.
    ///
    /// ```
    /// use rsmq_async::Backoff;
    /// use std::time::Duration;
    ///
    /// // One more minute with each receive.
    /// let b = Backoff::from_fn(|rc| Duration::from_secs(60 * rc));
    /// assert_eq!(b.delay(3), Some(Duration::from_secs(180)));
    /// ```
    pub fn from_fn(f: impl Fn(u64) -> Duration + Send + Sync + 'static) -> Backoff {
        Backoff {
            kind: BackoffKind::Custom(Arc::new(f)),
            jitter: 0.0,
        }
    }

    /// Spreads each delay at random by up to `fraction` of it either way (0.0 to 1.0), so
    /// messages that failed together do not come back together.
    ///
    /// ```
    /// use rsmq_async::Backoff;
    /// use std::time::Duration;
    ///
    /// let b = Backoff::fixed(Duration::from_secs(10)).jitter(0.5);
    /// let d = b.delay(1).unwrap();
    /// assert!(d >= Duration::from_secs(5) && d <= Duration::from_secs(15));
    /// // A fraction above 1.0 counts as 1.0: at most twice the delay.
    /// let wide = Backoff::fixed(Duration::from_secs(10)).jitter(3.0);
    /// assert!(format!("{wide:?}").contains("jitter: 1.0"));
    /// assert!(wide.delay(1).unwrap() <= Duration::from_secs(20));
    /// ```
    pub fn jitter(mut self, fraction: f64) -> Backoff {
        self.jitter = if fraction.is_nan() {
            0.0
        } else {
            fraction.clamp(0.0, 1.0)
        };
        self
    }

    /// The visibility to set after the failure of a message received `rc` times; `None` for
    /// [`Backoff::queue_vt`]. At most 9 999 999 s.
    ///
    /// ```
    /// use rsmq_async::Backoff;
    /// use std::time::Duration;
    ///
    /// let b = Backoff::fixed(Duration::from_secs(20_000_000));
    /// assert_eq!(b.delay(1), Some(Duration::from_secs(9_999_999))); // the longest vt
    /// assert_eq!(Backoff::queue_vt().delay(1), None);
    /// ```
    pub fn delay(&self, rc: u64) -> Option<Duration> {
        let d = match &self.kind {
            BackoffKind::QueueVt => return None,
            BackoffKind::Fixed(d) => *d,
            BackoffKind::Exponential { base, max } => {
                let doublings = rc.saturating_sub(1).min(64) as u32;
                let factor = 2u32.checked_pow(doublings).unwrap_or(u32::MAX);
                base.checked_mul(factor).unwrap_or(MAX_DELAY).min(*max)
            }
            BackoffKind::Custom(f) => f(rc),
        };
        let d = if self.jitter > 0.0 {
            let spread = self.jitter * (2.0 * fastrand::f64() - 1.0);
            d.mul_f64((1.0 + spread).clamp(0.0, 2.0))
        } else {
            d
        };
        Some(d.min(MAX_DELAY))
    }
}

impl Default for Backoff {
    fn default() -> Backoff {
        Backoff::queue_vt()
    }
}

impl fmt::Debug for Backoff {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Backoff");
        match &self.kind {
            BackoffKind::QueueVt => d.field("kind", &"queue_vt"),
            BackoffKind::Fixed(x) => d.field("fixed", x),
            BackoffKind::Exponential { base, max } => d.field("base", base).field("max", max),
            BackoffKind::Custom(_) => d.field("kind", &"from_fn"),
        };
        d.field("jitter", &self.jitter).finish()
    }
}

/// Settings of one route, for [`WorkerBuilder::route_with`]. `None` takes the worker's.
///
/// ```
/// use rsmq_async::{Backoff, RouteOptions};
/// use std::time::Duration;
///
/// let opts = RouteOptions {
///     concurrency: Some(4),
///     timeout: Some(Duration::from_secs(30)),
///     backoff: Some(Backoff::fixed(Duration::from_secs(5))),
/// };
/// let defaults = RouteOptions::default();
/// ```
#[derive(Debug, Clone, Default)]
pub struct RouteOptions {
    /// Most handlers of this route in flight at once (at most the worker's concurrency).
    pub concurrency: Option<usize>,
    /// How long a handler may run before it is cancelled and counted as a failure.
    pub timeout: Option<Duration>,
    /// When a failed message comes back.
    pub backoff: Option<Backoff>,
}

// ---------------------------------------------------------------------------------------
// The client, behind an object-safe trait so that `Worker` is one type for every client
// ---------------------------------------------------------------------------------------

type Call<'a, T> = Pin<Box<dyn Future<Output = RsmqResult<T>> + Send + 'a>>;
type Raw = RsmqMessage<Vec<u8>>;

trait Client: Send + Sync + 'static {
    fn queue_vt<'a>(&'a self, q: &'a str) -> Call<'a, Duration>;
    fn receive_batch<'a>(&'a self, q: &'a str, max: u32) -> Call<'a, Vec<Raw>>;
    fn receive_or_dlq<'a>(&'a self, q: &'a str, dlq: &'a str, max: u64) -> Call<'a, Option<Raw>>;
    fn receive_wait<'a>(&'a self, q: &'a str, wait: Duration) -> Call<'a, Option<Raw>>;
    fn visibility<'a>(&'a self, q: &'a str, id: &'a str, vt: Duration) -> Call<'a, bool>;
    fn visibility_batch<'a>(&'a self, q: &'a str, ids: &'a [String], vt: Duration)
        -> Call<'a, u64>;
    fn delete<'a>(&'a self, q: &'a str, id: &'a str) -> Call<'a, bool>;
    fn delete_batch<'a>(&'a self, q: &'a str, ids: &'a [String]) -> Call<'a, u64>;
    fn move_to<'a>(&'a self, q: &'a str, id: &'a str, dst: &'a str) -> Call<'a, bool>;
    fn register<'a>(&'a self, id: &'a str, ttl: Duration, entry: &'a str) -> Call<'a, ()>;
    fn unregister<'a>(&'a self, id: &'a str) -> Call<'a, ()>;
}

impl<C: RsmqConnection + Send + Sync + 'static> Client for C {
    fn queue_vt<'a>(&'a self, q: &'a str) -> Call<'a, Duration> {
        Box::pin(async move { Ok(self.get_queue_attributes(q).await?.vt) })
    }
    fn receive_batch<'a>(&'a self, q: &'a str, max: u32) -> Call<'a, Vec<Raw>> {
        Box::pin(self.receive_message_batch::<Vec<u8>>(q, None, max))
    }
    fn receive_or_dlq<'a>(&'a self, q: &'a str, dlq: &'a str, max: u64) -> Call<'a, Option<Raw>> {
        Box::pin(self.receive_message_or_dlq::<Vec<u8>>(q, None, dlq, max))
    }
    fn receive_wait<'a>(&'a self, q: &'a str, wait: Duration) -> Call<'a, Option<Raw>> {
        Box::pin(self.receive_message_wait::<Vec<u8>>(q, None, wait))
    }
    fn visibility<'a>(&'a self, q: &'a str, id: &'a str, vt: Duration) -> Call<'a, bool> {
        Box::pin(self.change_message_visibility(q, id, vt))
    }
    fn visibility_batch<'a>(
        &'a self,
        q: &'a str,
        ids: &'a [String],
        vt: Duration,
    ) -> Call<'a, u64> {
        Box::pin(self.change_message_visibility_batch(q, ids, vt))
    }
    fn delete<'a>(&'a self, q: &'a str, id: &'a str) -> Call<'a, bool> {
        Box::pin(self.delete_message(q, id))
    }
    fn delete_batch<'a>(&'a self, q: &'a str, ids: &'a [String]) -> Call<'a, u64> {
        Box::pin(self.delete_message_batch(q, ids))
    }
    fn move_to<'a>(&'a self, q: &'a str, id: &'a str, dst: &'a str) -> Call<'a, bool> {
        Box::pin(self.move_message(q, id, dst))
    }
    fn register<'a>(&'a self, id: &'a str, ttl: Duration, entry: &'a str) -> Call<'a, ()> {
        Box::pin(self.register_worker(id, ttl, entry))
    }
    fn unregister<'a>(&'a self, id: &'a str) -> Call<'a, ()> {
        Box::pin(self.unregister_worker(id))
    }
}

// ---------------------------------------------------------------------------------------
// Builder
// ---------------------------------------------------------------------------------------

type HandlerError = Box<dyn StdError + Send + Sync>;
type HandlerFuture = Pin<Box<dyn Future<Output = Result<(), HandlerError>> + Send>>;
type ErasedHandler = Arc<dyn Fn(Raw) -> Result<HandlerFuture, DecodeError> + Send + Sync>;

#[derive(Debug, Clone)]
struct DlqConfig {
    queue: String,
    max_failures: u64,
}

struct RouteSpec {
    queue: String,
    handler: ErasedHandler,
    options: RouteOptions,
}

enum Source {
    Options(Box<RsmqOptions>),
    Client(Arc<dyn Client>),
}

/// Builds a [`Worker`]: its routes (a handler per queue) and settings.
///
/// ```no_run
/// use rsmq_async::{Backoff, RouteOptions, RsmqMessage, RsmqOptions, Worker};
/// use std::convert::Infallible;
/// use std::time::Duration;
///
/// # async fn f() -> Result<(), Box<dyn std::error::Error>> {
/// let worker = Worker::builder(RsmqOptions::default())
///     .concurrency(32)
///     .backoff(Backoff::exponential(Duration::from_secs(1), Duration::from_secs(300)).jitter(0.2))
///     .dlq("jobs-dead", 5)
///     .route("emails", |msg: RsmqMessage<String>| async move {
///         println!("{}", msg.message);
///         Ok::<(), Infallible>(())
///     })
///     .route_with(
///         "reports",
///         RouteOptions { concurrency: Some(2), timeout: Some(Duration::from_secs(600)), ..Default::default() },
///         |msg: RsmqMessage<Vec<u8>>| async move {
///             println!("{} bytes", msg.message.len());
///             Ok::<(), Infallible>(())
///         },
///     )
///     .build()
///     .await?;
/// worker.run().await?;
/// # Ok(()) }
/// ```
pub struct WorkerBuilder {
    source: Source,
    routes: Vec<RouteSpec>,
    poll_interval: Duration,
    heartbeat_interval: Duration,
    visibility_extension: Duration,
    use_realtime: bool,
    global_dlq: Option<DlqConfig>,
    route_dlqs: Vec<(String, DlqConfig)>,
    concurrency: usize,
    shutdown_timeout: Duration,
    timeout: Option<Duration>,
    backoff: Backoff,
    handle_signals: bool,
    liveness: bool,
}

impl fmt::Debug for WorkerBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WorkerBuilder")
            .field(
                "routes",
                &self.routes.iter().map(|r| &r.queue).collect::<Vec<_>>(),
            )
            .field("concurrency", &self.concurrency)
            .finish_non_exhaustive()
    }
}

impl WorkerBuilder {
    fn with_source(source: Source) -> WorkerBuilder {
        WorkerBuilder {
            source,
            routes: Vec::new(),
            poll_interval: Duration::from_secs(1),
            heartbeat_interval: Duration::from_secs(10),
            visibility_extension: Duration::from_secs(30),
            use_realtime: false,
            global_dlq: None,
            route_dlqs: Vec::new(),
            concurrency: DEFAULT_CONCURRENCY,
            shutdown_timeout: DEFAULT_SHUTDOWN_TIMEOUT,
            timeout: None,
            backoff: Backoff::queue_vt(),
            handle_signals: false,
            liveness: true,
        }
    }

    /// A builder whose worker connects with `options` (as [`Rsmq::new`]) when built.
    ///
    /// ```
    /// use rsmq_async::{RsmqOptions, WorkerBuilder};
    ///
    /// let options = RsmqOptions { ns: "app".into(), ..Default::default() };
    /// let builder = WorkerBuilder::new(options); // nothing connects before `build`
    /// ```
    pub fn new(options: RsmqOptions) -> WorkerBuilder {
        WorkerBuilder::with_source(Source::Options(Box::new(options)))
    }

    /// A builder whose worker uses a client you made ([`Rsmq`], [`PooledRsmq`](crate::PooledRsmq)),
    /// with its connection, namespace, TLS, user and realtime subscriber.
    ///
    /// ```no_run
    /// use rsmq_async::{Rsmq, RsmqConnection, RsmqMessage, RsmqOptions, WorkerBuilder};
    /// use std::convert::Infallible;
    ///
    /// # async fn f() -> rsmq_async::RsmqResult<()> {
    /// let rsmq = Rsmq::new(RsmqOptions::default()).await?;
    /// let worker = WorkerBuilder::from_client(rsmq.clone())
    ///     .route("jobs", |_m: RsmqMessage<String>| async { Ok::<(), Infallible>(()) })
    ///     .build()
    ///     .await?;
    /// rsmq.send_message("jobs", "first", None).await?; // the same client still sends
    /// # Ok(()) }
    /// ```
    pub fn from_client<C: RsmqConnection + Send + Sync + 'static>(client: C) -> WorkerBuilder {
        WorkerBuilder::with_source(Source::Client(Arc::new(client)))
    }

    /// Handles the messages of `qname` with `handler`. The body is decoded into `T` through
    /// `TryFrom<RedisBytes>`; a body that does not decode is a [`DecodeError`], a failure
    /// that is not retried. `Ok` deletes the message; `Err` is a failure (retried, see
    /// [`backoff`](Self::backoff) and [`dlq`](Self::dlq), unless it is [`Permanent`]).
    ///
    /// Adding the same queue again replaces its handler.
    ///
    /// ```
    /// use rsmq_async::{Permanent, RsmqMessage, RsmqOptions, Worker};
    ///
    /// let builder = Worker::builder(RsmqOptions::default())
    ///     .route("thumbnails", |msg: RsmqMessage<Vec<u8>>| async move {
    ///         if msg.message.is_empty() {
    ///             return Err(Permanent::new("empty image")); // never retried
    ///         }
    ///         println!("{} bytes", msg.message.len());
    ///         Ok(())
    ///     });
    /// assert!(format!("{builder:?}").contains("thumbnails"));
    /// ```
    pub fn route<F, Fut, T, E>(self, qname: impl Into<String>, handler: F) -> WorkerBuilder
    where
        F: Fn(RsmqMessage<T>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), E>> + Send + 'static,
        T: TryFrom<RedisBytes, Error = Vec<u8>> + Send + 'static,
        E: StdError + Send + Sync + 'static,
    {
        self.route_with(qname, RouteOptions::default(), handler)
    }

    /// As [`route`](Self::route), with settings of the route's own.
    ///
    /// ```
    /// use rsmq_async::{RouteOptions, RsmqMessage, RsmqOptions, Worker};
    /// use std::convert::Infallible;
    /// use std::time::Duration;
    ///
    /// let one_at_a_time = RouteOptions {
    ///     concurrency: Some(1),
    ///     timeout: Some(Duration::from_secs(900)),
    ///     ..Default::default()
    /// };
    /// let builder = Worker::builder(RsmqOptions::default())
    ///     .route_with("exports", one_at_a_time, |msg: RsmqMessage<String>| async move {
    ///         println!("export {}", msg.id);
    ///         Ok::<(), Infallible>(())
    ///     });
    /// ```
    pub fn route_with<F, Fut, T, E>(
        mut self,
        qname: impl Into<String>,
        options: RouteOptions,
        handler: F,
    ) -> WorkerBuilder
    where
        F: Fn(RsmqMessage<T>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), E>> + Send + 'static,
        T: TryFrom<RedisBytes, Error = Vec<u8>> + Send + 'static,
        E: StdError + Send + Sync + 'static,
    {
        let erased: ErasedHandler = Arc::new(move |raw: Raw| {
            let message = T::try_from(RedisBytes::from(raw.message)).map_err(DecodeError)?;
            let fut = handler(RsmqMessage {
                id: raw.id,
                message,
                rc: raw.rc,
                fr: raw.fr,
                sent: raw.sent,
            });
            Ok(
                Box::pin(async move { fut.await.map_err(|e| Box::new(e) as HandlerError) })
                    as HandlerFuture,
            )
        });
        let queue = qname.into();
        self.routes.retain(|r| r.queue != queue);
        self.routes.push(RouteSpec {
            queue,
            handler: erased,
            options,
        });
        self
    }

    /// How long a route waits before receiving again after finding its queue empty (with
    /// [`use_realtime`](Self::use_realtime), the longest it waits for a notification).
    /// Default 1 s.
    ///
    /// ```
    /// use rsmq_async::{RsmqOptions, Worker};
    /// use std::time::Duration;
    ///
    /// // Look at an empty queue five times a second.
    /// let builder = Worker::builder(RsmqOptions::default()).poll_interval(Duration::from_millis(200));
    /// ```
    pub fn poll_interval(mut self, d: Duration) -> WorkerBuilder {
        self.poll_interval = d;
        self
    }

    /// How often a running handler's message has its visibility extended. Default 10 s; keep
    /// it below the queue's `vt` and below [`visibility_extension`](Self::visibility_extension).
    ///
    /// ```
    /// use rsmq_async::{RsmqOptions, Worker};
    /// use std::time::Duration;
    ///
    /// // For queues whose vt is 60 s: every 20 s, hide the message for 2 more minutes.
    /// let builder = Worker::builder(RsmqOptions::default())
    ///     .heartbeat_interval(Duration::from_secs(20))
    ///     .visibility_extension(Duration::from_secs(120));
    /// ```
    pub fn heartbeat_interval(mut self, d: Duration) -> WorkerBuilder {
        self.heartbeat_interval = d;
        self
    }

    /// How far from now each heartbeat sets the message's visibility. Default 30 s.
    ///
    /// ```
    /// use rsmq_async::{RsmqOptions, Worker};
    /// use std::time::Duration;
    ///
    /// // A message whose worker dies comes back within 15 s.
    /// let builder = Worker::builder(RsmqOptions::default())
    ///     .heartbeat_interval(Duration::from_secs(5))
    ///     .visibility_extension(Duration::from_secs(15));
    /// ```
    pub fn visibility_extension(mut self, d: Duration) -> WorkerBuilder {
        self.visibility_extension = d;
        self
    }

    /// The dead-letter queue of every route without one of its own: a message that fails
    /// with a receive count above `max_failures` is moved there (0: on the first failure).
    /// Routes then receive through
    /// [`receive_message_or_dlq`](crate::RsmqConnection::receive_message_or_dlq) with
    /// `max_failures + 1` receives, so a message whose handling kills the process also ends
    /// there. The queue must exist.
    ///
    /// ```
    /// use rsmq_async::{RsmqMessage, RsmqOptions, Worker};
    /// use std::convert::Infallible;
    /// # async fn ok(_: RsmqMessage<String>) -> Result<(), Infallible> { Ok(()) }
    ///
    /// // Three retries: the fourth failure moves the message to "dead" (which must exist).
    /// let builder = Worker::builder(RsmqOptions::default())
    ///     .route("emails", ok)
    ///     .route("invoices", ok)
    ///     .dlq("dead", 3);
    /// ```
    pub fn dlq(mut self, queue: impl Into<String>, max_failures: u64) -> WorkerBuilder {
        self.global_dlq = Some(DlqConfig {
            queue: queue.into(),
            max_failures,
        });
        self
    }

    /// The dead-letter queue of one route, over the one of [`dlq`](Self::dlq).
    ///
    /// ```
    /// use rsmq_async::{RsmqMessage, RsmqOptions, Worker};
    /// use std::convert::Infallible;
    /// # async fn ok(_: RsmqMessage<String>) -> Result<(), Infallible> { Ok(()) }
    ///
    /// let builder = Worker::builder(RsmqOptions::default())
    ///     .route("emails", ok)
    ///     .route("payments", ok)
    ///     .dlq("dead", 5)
    ///     .dlq_for("payments", "payments-dead", 0); // no retry: the first failure moves it
    /// ```
    pub fn dlq_for(
        mut self,
        route: impl Into<String>,
        queue: impl Into<String>,
        max_failures: u64,
    ) -> WorkerBuilder {
        let route = route.into();
        self.route_dlqs.retain(|(r, _)| *r != route);
        self.route_dlqs.push((
            route,
            DlqConfig {
                queue: queue.into(),
                max_failures,
            },
        ));
        self
    }

    /// Wake on realtime notifications (producers with `realtime: true`) instead of waiting
    /// out [`poll_interval`](Self::poll_interval): an idle route long-polls with
    /// [`receive_message_wait`](crate::RsmqConnection::receive_message_wait). Off by default.
    ///
    /// ```
    /// use rsmq_async::{RsmqOptions, Worker};
    /// use std::time::Duration;
    ///
    /// // Producers send with `realtime: true` too.
    /// let options = RsmqOptions { realtime: true, ..Default::default() };
    /// let builder = Worker::builder(options)
    ///     .use_realtime(true)
    ///     .poll_interval(Duration::from_secs(5)); // the longest wait for a notification
    /// ```
    pub fn use_realtime(mut self, enabled: bool) -> WorkerBuilder {
        self.use_realtime = enabled;
        self
    }

    /// Most handlers in flight at once across the worker. Default [`DEFAULT_CONCURRENCY`]
    /// (16). Each route keeps one slot of its own out of these (so a worker with more routes
    /// than `n` runs one handler per route); the rest are shared.
    ///
    /// ```
    /// use rsmq_async::{RsmqOptions, Worker};
    ///
    /// let builder = Worker::builder(RsmqOptions::default()).concurrency(64);
    /// assert!(format!("{builder:?}").contains("concurrency: 64"));
    /// ```
    pub fn concurrency(mut self, n: usize) -> WorkerBuilder {
        self.concurrency = n;
        self
    }

    /// How long a handler may run before it is cancelled (its future dropped) and counted as
    /// a failure. Default none. [`RouteOptions::timeout`] overrides it.
    ///
    /// ```
    /// use rsmq_async::{RsmqOptions, Worker};
    /// use std::time::Duration;
    ///
    /// // A handler still running after 2 minutes is dropped and its message retried.
    /// let builder = Worker::builder(RsmqOptions::default()).handler_timeout(Duration::from_secs(120));
    /// ```
    pub fn handler_timeout(mut self, d: Duration) -> WorkerBuilder {
        self.timeout = Some(d);
        self
    }

    /// When failed messages come back. Default [`Backoff::queue_vt`].
    /// [`RouteOptions::backoff`] overrides it.
    ///
    /// ```
    /// use rsmq_async::{Backoff, RsmqOptions, Worker};
    /// use std::time::Duration;
    ///
    /// let builder = Worker::builder(RsmqOptions::default())
    ///     .backoff(Backoff::exponential(Duration::from_secs(5), Duration::from_secs(600)).jitter(0.1));
    /// ```
    pub fn backoff(mut self, backoff: Backoff) -> WorkerBuilder {
        self.backoff = backoff;
        self
    }

    /// How long a shutdown waits for running handlers before it cancels them and makes their
    /// messages visible again at once. Default [`DEFAULT_SHUTDOWN_TIMEOUT`] (30 s).
    ///
    /// ```
    /// use rsmq_async::{RsmqOptions, Worker};
    /// use std::time::Duration;
    ///
    /// // Within Kubernetes' default grace period of 30 s, with time to spare.
    /// let builder = Worker::builder(RsmqOptions::default()).shutdown_timeout(Duration::from_secs(20));
    /// ```
    pub fn shutdown_timeout(mut self, d: Duration) -> WorkerBuilder {
        self.shutdown_timeout = d;
        self
    }

    /// Shut down gracefully on SIGINT (Ctrl-C) and, on Unix, SIGTERM. Off by default.
    ///
    /// ```no_run
    /// # use rsmq_async::{RsmqMessage, RsmqOptions, Worker};
    /// # use std::convert::Infallible;
    /// # async fn f() -> rsmq_async::RsmqResult<()> {
    /// let worker = Worker::builder(RsmqOptions::default())
    ///     .route("jobs", |_m: RsmqMessage<String>| async { Ok::<(), Infallible>(()) })
    ///     .handle_signals(true)
    ///     .build()
    ///     .await?;
    /// worker.run().await?; // returns after Ctrl-C, once running handlers are done
    /// # Ok(()) }
    /// ```
    pub fn handle_signals(mut self, enabled: bool) -> WorkerBuilder {
        self.handle_signals = enabled;
        self
    }

    /// Register the running worker in the namespace's liveness hash `{ns}:.workers` (at
    /// start and every heartbeat interval, for three intervals), so that
    /// [`live_workers`](RsmqConnection::live_workers) lists it. On by default; the only
    /// key the crate writes beyond the JavaScript layout. See
    /// [liveness](crate::guide::workers#liveness).
    ///
    /// ```
    /// use rsmq_async::{RsmqOptions, Worker};
    ///
    /// // A short-lived worker (a test, a one-off job) that need not be listed.
    /// let builder = Worker::builder(RsmqOptions::default()).liveness(false);
    /// ```
    pub fn liveness(mut self, enabled: bool) -> WorkerBuilder {
        self.liveness = enabled;
        self
    }

    /// Builds the worker: connects (unless built from a client) and checks the
    /// configuration. Errors: `NoAttributeSupplied` without routes; `InvalidFormat` when a
    /// route's dead-letter queue is the route itself (as rsmq_async 18); `InvalidOptions` for
    /// a concurrency, a route concurrency or a heartbeat interval of 0; `QueueNotFound` when a route's queue or
    /// dead-letter queue does not exist; connection errors as [`Rsmq::new`].
    ///
    /// ```
    /// use rsmq_async::{RsmqError, RsmqMessage, RsmqOptions, Worker};
    /// use std::convert::Infallible;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// // The configuration is checked before anything connects.
    /// let no_routes = Worker::builder(RsmqOptions::default()).build().await;
    /// assert!(matches!(no_routes, Err(RsmqError::NoAttributeSupplied)));
    /// let own_dlq = Worker::builder(RsmqOptions::default())
    ///     .route("jobs", |_m: RsmqMessage<String>| async { Ok::<(), Infallible>(()) })
    ///     .dlq("jobs", 3)
    ///     .build()
    ///     .await;
    /// assert!(matches!(own_dlq, Err(RsmqError::InvalidFormat(_))));
    /// # }
    /// ```
    pub async fn build(self) -> RsmqResult<Worker> {
        if self.routes.is_empty() {
            return Err(RsmqError::NoAttributeSupplied);
        }
        if self.concurrency == 0 {
            return Err(RsmqError::InvalidOptions(
                "worker concurrency must be at least 1".into(),
            ));
        }
        if self.heartbeat_interval.is_zero() {
            return Err(RsmqError::InvalidOptions(
                "the worker's heartbeat interval must be above zero".into(),
            ));
        }
        let dlq_of = |queue: &str| {
            self.route_dlqs
                .iter()
                .find(|(r, _)| r == queue)
                .map(|(_, d)| d)
                .or(self.global_dlq.as_ref())
                .cloned()
        };
        for spec in &self.routes {
            if dlq_of(&spec.queue).is_some_and(|d| d.queue == spec.queue) {
                return Err(RsmqError::InvalidFormat(format!(
                    "the dead-letter queue of route {:?} is the route's own queue",
                    spec.queue
                )));
            }
            if spec.options.concurrency == Some(0) {
                return Err(RsmqError::InvalidOptions(format!(
                    "the concurrency of route {:?} must be at least 1",
                    spec.queue
                )));
            }
        }
        let client: Arc<dyn Client> = match self.source {
            Source::Options(options) => Arc::new(Rsmq::new(*options).await?),
            Source::Client(client) => client,
        };
        let n = self.concurrency;
        let shared = Arc::new(Semaphore::new(n.saturating_sub(self.routes.len())));
        let mut routes = Vec::with_capacity(self.routes.len());
        for spec in self.routes {
            let vt = client.queue_vt(&spec.queue).await?;
            let dlq = dlq_of(&spec.queue);
            if let Some(d) = &dlq {
                client.queue_vt(&d.queue).await?;
            }
            if self.heartbeat_interval >= vt && !vt.is_zero() {
                tracing::warn!(
                    queue = %spec.queue,
                    "the worker's heartbeat interval ({:?}) is not below the queue's vt ({:?}): \
                     a long handler's message may be received again before its first heartbeat",
                    self.heartbeat_interval,
                    vt
                );
            }
            let limit = spec.options.concurrency.unwrap_or(n).min(n);
            routes.push(Arc::new(Route {
                queue: spec.queue,
                handler: spec.handler,
                timeout: spec.options.timeout.or(self.timeout),
                backoff: spec.options.backoff.unwrap_or_else(|| self.backoff.clone()),
                dlq,
                limit: Arc::new(Semaphore::new(limit)),
                own: Arc::new(Semaphore::new(1)),
                shared: shared.clone(),
                acks: std::sync::OnceLock::new(),
                busy: tokio::sync::Notify::new(),
            }));
        }
        let (control, _) = watch::channel(State::Running);
        let host = liveness::host_name();
        let pid = std::process::id();
        let id = format!(
            "{host}-{pid}-{}",
            std::iter::repeat_with(fastrand::lowercase)
                .take(6)
                .collect::<String>()
        );
        let registration = Registration {
            host,
            pid,
            queues: routes.iter().map(|r| r.queue.clone()).collect(),
            concurrency: n as u64,
            ..Registration::default()
        };
        Ok(Worker {
            ctx: Arc::new(Ctx {
                client,
                id,
                liveness: self.liveness.then_some(registration),
                counters: Counters::default(),
                poll_interval: self.poll_interval,
                heartbeat_interval: self.heartbeat_interval,
                visibility_extension: self.visibility_extension,
                use_realtime: self.use_realtime,
                shutdown_timeout: self.shutdown_timeout,
                handle_signals: self.handle_signals,
            }),
            routes,
            control: Arc::new(control),
        })
    }
}

// ---------------------------------------------------------------------------------------
// Worker and its handle
// ---------------------------------------------------------------------------------------

/// What the worker is doing; only moves forward, except between running and paused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum State {
    Running,
    Paused,
    /// Receives no more; waits for running handlers.
    Stopping,
    /// The shutdown timeout has passed: running handlers are cancelled.
    Cancelling,
}

struct Ctx {
    client: Arc<dyn Client>,
    /// The worker's id (`{host}-{pid}-{random}`).
    id: String,
    /// What the worker registers about itself; `None` without liveness.
    liveness: Option<Registration>,
    counters: Counters,
    poll_interval: Duration,
    heartbeat_interval: Duration,
    visibility_extension: Duration,
    use_realtime: bool,
    shutdown_timeout: Duration,
    handle_signals: bool,
}

/// What the worker has done so far, for its liveness entry.
#[derive(Default)]
struct Counters {
    in_flight: AtomicU64,
    handled: AtomicU64,
    failed: AtomicU64,
}

impl Ctx {
    fn failed(&self) {
        self.counters.failed.fetch_add(1, Ordering::Relaxed);
    }
}

struct Route {
    queue: String,
    handler: ErasedHandler,
    timeout: Option<Duration>,
    backoff: Backoff,
    dlq: Option<DlqConfig>,
    /// The route's own limit.
    limit: Arc<Semaphore>,
    /// The one slot that is the route's alone.
    own: Arc<Semaphore>,
    /// The worker's slots beyond one per route.
    shared: Arc<Semaphore>,
    /// Notified when the route's first receiving task finds messages: the others wait for it
    /// while the queue is empty.
    busy: tokio::sync::Notify,
    /// Where handled messages go to be deleted in batches (set when the worker runs).
    acks: std::sync::OnceLock<mpsc::UnboundedSender<Ack>>,
}

/// A handled message to delete, and the shutdown tracker its task held (so that a shutdown
/// waits for the delete).
type Ack = (String, mpsc::Sender<()>);

/// A handler slot: held by a message's task until it ends.
struct Slot {
    _limit: OwnedSemaphorePermit,
    _pool: OwnedSemaphorePermit,
}

impl Route {
    async fn acquire(&self) -> Slot {
        // The semaphores are never closed.
        let limit = self.limit.clone().acquire_owned().await.expect("open");
        if let Ok(p) = self.own.clone().try_acquire_owned() {
            return Slot {
                _limit: limit,
                _pool: p,
            };
        }
        let own = pin!(self.own.clone().acquire_owned());
        let shared = pin!(self.shared.clone().acquire_owned());
        let pool = match select(own, shared).await {
            Either::Left((p, _)) | Either::Right((p, _)) => p.expect("open"),
        };
        Slot {
            _limit: limit,
            _pool: pool,
        }
    }

    fn try_acquire(&self) -> Option<Slot> {
        let limit = self.limit.clone().try_acquire_owned().ok()?;
        let pool = self
            .own
            .clone()
            .try_acquire_owned()
            .or_else(|_| self.shared.clone().try_acquire_owned())
            .ok()?;
        Some(Slot {
            _limit: limit,
            _pool: pool,
        })
    }

    /// The receive limit of a route with a dead-letter queue: `max_failures + 1` receives.
    fn max_receives(&self) -> Option<(&str, u64)> {
        self.dlq
            .as_ref()
            .map(|d| (d.queue.as_str(), d.max_failures.saturating_add(1)))
    }
}

/// Controls a running [`Worker`] from anywhere: shut it down, pause and resume receiving.
/// Cheap to clone. Calls on a worker that has returned do nothing.
///
/// ```no_run
/// # use rsmq_async::{RsmqMessage, RsmqOptions, Worker};
/// # use std::convert::Infallible;
/// # async fn f() -> rsmq_async::RsmqResult<()> {
/// let worker = Worker::builder(RsmqOptions::default())
///     .route("jobs", |_m: RsmqMessage<String>| async { Ok::<(), Infallible>(()) })
///     .build()
///     .await?;
/// let handle = worker.handle();
/// let running = tokio::spawn(worker.run());
/// // ...
/// handle.shutdown();
/// running.await.expect("worker task")?;
/// # Ok(()) }
/// ```
#[derive(Clone, Debug)]
pub struct WorkerHandle {
    control: Arc<watch::Sender<State>>,
}

impl WorkerHandle {
    /// Starts a graceful shutdown (as the signal of [`Worker::run_until`]).
    ///
    /// ```no_run
    /// # use rsmq_async::Worker;
    /// # async fn f(worker: Worker) -> rsmq_async::RsmqResult<()> {
    /// let handle = worker.handle();
    /// let running = tokio::spawn(worker.run());
    /// // ... on a request to stop:
    /// handle.shutdown();
    /// assert!(handle.is_stopping());
    /// running.await.expect("worker task")?; // running handlers have finished
    /// # Ok(()) }
    /// ```
    pub fn shutdown(&self) {
        self.control.send_if_modified(|s| {
            let before = *s;
            *s = (*s).max(State::Stopping);
            *s != before
        });
    }

    /// Stops receiving; running handlers go on.
    ///
    /// ```no_run
    /// # use rsmq_async::Worker;
    /// # async fn f(worker: Worker) {
    /// let handle = worker.handle();
    /// tokio::spawn(worker.run());
    /// handle.pause(); // e.g. while the database behind the handlers is down
    /// assert!(handle.is_paused());
    /// # }
    /// ```
    pub fn pause(&self) {
        self.control.send_if_modified(|s| {
            let running = *s == State::Running;
            if running {
                *s = State::Paused;
            }
            running
        });
    }

    /// Receives again after [`pause`](Self::pause).
    ///
    /// ```no_run
    /// # use rsmq_async::Worker;
    /// # use std::time::Duration;
    /// # async fn f(worker: Worker) {
    /// let handle = worker.handle();
    /// tokio::spawn(worker.run());
    /// handle.pause();
    /// tokio::time::sleep(Duration::from_secs(60)).await;
    /// handle.resume();
    /// assert!(!handle.is_paused());
    /// # }
    /// ```
    pub fn resume(&self) {
        self.control.send_if_modified(|s| {
            let paused = *s == State::Paused;
            if paused {
                *s = State::Running;
            }
            paused
        });
    }

    /// Whether a shutdown has begun.
    ///
    /// ```no_run
    /// # use rsmq_async::WorkerHandle;
    /// // A readiness probe: ready until a shutdown begins.
    /// fn ready(handle: &WorkerHandle) -> bool {
    ///     !handle.is_stopping()
    /// }
    /// ```
    pub fn is_stopping(&self) -> bool {
        *self.control.borrow() >= State::Stopping
    }

    /// Whether the worker is paused.
    ///
    /// ```no_run
    /// # use rsmq_async::WorkerHandle;
    /// // Pause and resume from one switch.
    /// fn toggle(handle: &WorkerHandle) {
    ///     if handle.is_paused() {
    ///         handle.resume();
    ///     } else {
    ///         handle.pause();
    ///     }
    /// }
    /// ```
    pub fn is_paused(&self) -> bool {
        *self.control.borrow() == State::Paused
    }
}

/// Consumes queues: a handler per queue (a route), up to
/// [`concurrency`](WorkerBuilder::concurrency) handlers in flight, with heartbeats, retries,
/// timeouts, dead letters and graceful shutdown. Build it with [`Worker::builder`] or
/// [`Worker::builder_with_client`]. See the [guide](crate::guide::workers).
///
/// ```no_run
/// use rsmq_async::{RsmqMessage, RsmqOptions, Worker};
/// use std::convert::Infallible;
///
/// # async fn f() -> Result<(), Box<dyn std::error::Error>> {
/// let worker = Worker::builder(RsmqOptions::default())
///     .route("emails", |msg: RsmqMessage<String>| async move {
///         println!("email job: {}", msg.message);
///         Ok::<(), Infallible>(())
///     })
///     .handle_signals(true)
///     .build()
///     .await?;
/// worker.run().await?; // until SIGINT or SIGTERM
/// # Ok(()) }
/// ```
pub struct Worker {
    ctx: Arc<Ctx>,
    routes: Vec<Arc<Route>>,
    control: Arc<watch::Sender<State>>,
}

impl fmt::Debug for Worker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Worker")
            .field(
                "routes",
                &self.routes.iter().map(|r| &r.queue).collect::<Vec<_>>(),
            )
            .field("state", &*self.control.borrow())
            .finish_non_exhaustive()
    }
}

impl Worker {
    /// A [`WorkerBuilder`] whose worker connects with `options`.
    ///
    /// ```no_run
    /// use rsmq_async::{RsmqMessage, RsmqOptions, Worker};
    /// use std::convert::Infallible;
    ///
    /// # async fn f() -> rsmq_async::RsmqResult<()> {
    /// let options = RsmqOptions { host: "redis.internal".into(), ns: "app".into(), ..Default::default() };
    /// let worker = Worker::builder(options)
    ///     .route("jobs", |msg: RsmqMessage<String>| async move {
    ///         println!("{}", msg.message);
    ///         Ok::<(), Infallible>(())
    ///     })
    ///     .build()
    ///     .await?;
    /// # Ok(()) }
    /// ```
    pub fn builder(options: RsmqOptions) -> WorkerBuilder {
        WorkerBuilder::new(options)
    }

    /// A [`WorkerBuilder`] whose worker uses `client` ([`Rsmq`] or
    /// [`PooledRsmq`](crate::PooledRsmq)).
    ///
    /// ```no_run
    /// use rsmq_async::{PoolOptions, PooledRsmq, RsmqMessage, RsmqOptions, Worker};
    /// use std::convert::Infallible;
    ///
    /// # async fn f() -> rsmq_async::RsmqResult<()> {
    /// // Large bodies: each handler's calls take a pooled connection of their own.
    /// let pooled = PooledRsmq::new(RsmqOptions::default(), PoolOptions::default()).await?;
    /// let worker = Worker::builder_with_client(pooled)
    ///     .route("uploads", |msg: RsmqMessage<Vec<u8>>| async move {
    ///         println!("{} bytes", msg.message.len());
    ///         Ok::<(), Infallible>(())
    ///     })
    ///     .build()
    ///     .await?;
    /// # Ok(()) }
    /// ```
    pub fn builder_with_client<C: RsmqConnection + Send + Sync + 'static>(
        client: C,
    ) -> WorkerBuilder {
        WorkerBuilder::from_client(client)
    }

    /// The worker's id, `{host}-{pid}-{random}`: its name in the logs and in
    /// [`live_workers`](RsmqConnection::live_workers).
    ///
    /// ```no_run
    /// # use rsmq_async::{Rsmq, RsmqConnection, Worker};
    /// # async fn f(rsmq: Rsmq, worker: Worker) -> rsmq_async::RsmqResult<()> {
    /// let id = worker.id().to_string();
    /// tokio::spawn(worker.run());
    /// // Later, from any client of the namespace:
    /// let listed = rsmq.live_workers().await?.iter().any(|w| w.id == id);
    /// # Ok(()) }
    /// ```
    pub fn id(&self) -> &str {
        &self.ctx.id
    }

    /// A handle to shut down, pause and resume this worker while it runs.
    ///
    /// ```no_run
    /// # use rsmq_async::Worker;
    /// # use std::time::Duration;
    /// # async fn f(worker: Worker) -> rsmq_async::RsmqResult<()> {
    /// let handle = worker.handle();
    /// tokio::spawn(async move {
    ///     tokio::time::sleep(Duration::from_secs(3600)).await;
    ///     handle.shutdown(); // run for an hour
    /// });
    /// worker.run().await?;
    /// # Ok(()) }
    /// ```
    pub fn handle(&self) -> WorkerHandle {
        WorkerHandle {
            control: self.control.clone(),
        }
    }

    /// Runs until [`WorkerHandle::shutdown`] (or a signal, with
    /// [`handle_signals`](WorkerBuilder::handle_signals)), then shuts down gracefully. Redis
    /// failures never end it.
    ///
    /// ```no_run
    /// # use rsmq_async::Worker;
    /// # async fn f(emails: Worker, reports: Worker) -> rsmq_async::RsmqResult<()> {
    /// // Two workers (say, on two Redis servers) in one process.
    /// let (a, b) = tokio::join!(emails.run(), reports.run());
    /// a?;
    /// b?;
    /// # Ok(()) }
    /// ```
    pub async fn run(self) -> RsmqResult<()> {
        self.run_until(std::future::pending::<()>()).await
    }

    /// Runs until `shutdown` resolves (or [`WorkerHandle::shutdown`], or a signal), then shuts
    /// down: stops receiving at once, waits for running handlers up to the
    /// [`shutdown_timeout`](WorkerBuilder::shutdown_timeout), cancels the rest and makes
    /// their messages visible again at once (vt 0), and returns. Redis failures never end
    /// it; it returns `Ok`.
    ///
    /// ```no_run
    /// # use rsmq_async::Worker;
    /// # use std::time::Duration;
    /// # async fn f(worker: Worker) -> rsmq_async::RsmqResult<()> {
    /// let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    /// let running = tokio::spawn(worker.run_until(async move {
    ///     let _ = stopped.await;
    /// }));
    /// // ... when the application shuts down:
    /// let _ = stop.send(());
    /// running.await.expect("worker task")?;
    /// # Ok(()) }
    /// ```
    pub async fn run_until<S>(self, shutdown: S) -> RsmqResult<()>
    where
        S: Future<Output = ()> + Send,
    {
        let Worker {
            ctx,
            routes,
            control,
        } = self;
        let (tracker, mut finished) = mpsc::channel::<()>(1);
        let (stopped, stop_registering) = oneshot::channel::<()>();
        let registering = ctx
            .liveness
            .is_some()
            .then(|| tokio::spawn(register(ctx.clone(), stop_registering)));
        for route in &routes {
            let (tx, rx) = mpsc::unbounded_channel();
            if route.acks.set(tx).is_ok() {
                tokio::spawn(
                    deleter(ctx.clone(), route.queue.clone(), rx, control.subscribe()).instrument(
                        tracing::info_span!("rsmq_worker_deletes", queue = %route.queue),
                    ),
                );
            }
        }
        for route in &routes {
            for n in 0..receivers(route) {
                let task = receive_loop(
                    ctx.clone(),
                    route.clone(),
                    control.subscribe(),
                    tracker.clone(),
                    n > 0,
                );
                tokio::spawn(
                    task.instrument(tracing::info_span!("rsmq_worker_route", queue = %route.queue)),
                );
            }
        }
        drop(tracker);
        tracing::info!(routes = routes.len(), id = %ctx.id, "rsmq worker started");

        let requested = reached(control.subscribe(), State::Stopping);
        let signal = signals(ctx.handle_signals);
        let shutdown = pin!(shutdown);
        let _ = select(select(shutdown, pin!(requested)), pin!(signal)).await;
        control.send_if_modified(|s| {
            let before = *s;
            *s = (*s).max(State::Stopping);
            *s != before
        });
        tracing::info!("rsmq worker stopping: receives no more, waits for running handlers");

        if tokio::time::timeout(ctx.shutdown_timeout, finished.recv())
            .await
            .is_err()
        {
            tracing::warn!(
                "rsmq worker: handlers still running after the shutdown timeout ({:?}) are \
                 cancelled; their messages are visible again at once",
                ctx.shutdown_timeout
            );
            control.send_replace(State::Cancelling);
            finished.recv().await;
        }
        if let Some(task) = registering {
            let _ = stopped.send(());
            let _ = task.await;
            if let Err(e) = ctx.client.unregister(&ctx.id).await {
                tracing::warn!(error = %e, "rsmq worker: could not remove its liveness entry; it expires by itself");
            }
        }
        tracing::info!("rsmq worker stopped");
        Ok(())
    }
}

/// Keeps the worker's liveness entry: registers at once, then every heartbeat interval,
/// until `stop`. Warns when registering fails, once until it works again.
async fn register(ctx: Arc<Ctx>, mut stop: oneshot::Receiver<()>) {
    let Some(registration) = &ctx.liveness else {
        return;
    };
    let ttl = liveness::ttl(ctx.heartbeat_interval);
    let mut failing = false;
    loop {
        let c = &ctx.counters;
        let entry = Registration {
            in_flight: c.in_flight.load(Ordering::Relaxed),
            handled: c.handled.load(Ordering::Relaxed),
            failed: c.failed.load(Ordering::Relaxed),
            ..registration.clone()
        }
        .entry();
        match ctx.client.register(&ctx.id, ttl, &entry).await {
            Ok(()) if failing => {
                tracing::info!("rsmq worker: registered in the liveness hash again");
                failing = false;
            }
            Ok(()) => {}
            Err(e) if !failing => {
                tracing::warn!(error = %e, "rsmq worker: could not register in the liveness hash; retrying every heartbeat");
                failing = true;
            }
            Err(_) => {}
        }
        let tick = pin!(tokio::time::sleep(ctx.heartbeat_interval));
        if let Either::Right(_) = select(tick, &mut stop).await {
            return;
        }
    }
}

/// How many receiving tasks a route runs: one per 8 handlers it may run, at most 4, so that
/// while one receive is on its way, slots that free up are taken by another instead of
/// waiting for it. Only the first polls an empty queue; the others wait until it finds
/// messages (`Route::busy`).
fn receivers(route: &Route) -> usize {
    (route.limit.available_permits() / 8).clamp(1, 4)
}

/// Resolves once the state is `at_least` or beyond.
async fn reached(mut state: watch::Receiver<State>, at_least: State) {
    let _ = state.wait_for(|s| *s >= at_least).await;
}

/// Resolves on SIGINT or SIGTERM when `enabled`; never otherwise.
async fn signals(enabled: bool) {
    if !enabled {
        return std::future::pending().await;
    }
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    let _ = select(pin!(ctrl_c), pin!(term)).await;
    tracing::info!("rsmq worker: signal received");
}

/// Runs `fut` unless the state reaches `at_least` first (`None` then).
async fn unless<F: Future>(
    fut: F,
    state: &watch::Receiver<State>,
    at_least: State,
) -> Option<F::Output> {
    match select(pin!(fut), pin!(reached(state.clone(), at_least))).await {
        Either::Left((out, _)) => Some(out),
        Either::Right(_) => None,
    }
}

/// One route's receiving: take slots, receive as many messages, spawn their tasks.
async fn receive_loop(
    ctx: Arc<Ctx>,
    route: Arc<Route>,
    mut state: watch::Receiver<State>,
    tracker: mpsc::Sender<()>,
    helper: bool,
) {
    let mut retry = RECEIVE_RETRY_MIN;
    loop {
        // Wait while paused; end when stopping.
        let now = match state.wait_for(|s| *s != State::Paused).await {
            Ok(s) => *s,
            Err(_) => return,
        };
        if now >= State::Stopping {
            return;
        }
        let Some(first) = unless(route.acquire(), &state, State::Paused).await else {
            continue;
        };
        let mut slots = vec![first];
        while slots.len() < MAX_BATCH {
            match route.try_acquire() {
                Some(s) => slots.push(s),
                None => break,
            }
        }
        let messages = match receive(&ctx, &route, slots.len()).await {
            Ok(m) => {
                retry = RECEIVE_RETRY_MIN;
                m
            }
            Err(e) => {
                tracing::warn!(queue = %route.queue, error = %e, "rsmq worker: receive failed; retrying in {retry:?}");
                drop(slots);
                unless(tokio::time::sleep(retry), &state, State::Paused).await;
                retry = (retry * 2).min(RECEIVE_RETRY_MAX);
                continue;
            }
        };
        if *state.borrow() != State::Running {
            release(&ctx, &route, messages).await;
            continue;
        }
        let empty = messages.is_empty();
        slots.truncate(messages.len().max(1));
        let mut slots = slots.into_iter();
        for message in messages {
            let slot = slots.next().expect("a slot per message");
            spawn_message(&ctx, &route, message, slot, &state, &tracker);
        }
        if !empty {
            if !helper {
                route.busy.notify_waiters();
            }
            continue;
        }
        if helper {
            // An empty queue is the first receiving task's to watch.
            drop(slots);
            unless(route.busy.notified(), &state, State::Paused).await;
            continue;
        }
        // The queue is empty: wait, holding one slot.
        let slot = slots.next().expect("one slot kept");
        if ctx.use_realtime {
            // Not cut short by a pause or a stop: a receive dropped inside its script would
            // leave its message hidden until its vt. What it gets after a stop is released.
            let wait = ctx
                .client
                .receive_wait(&route.queue, ctx.poll_interval.min(LONG_POLL_MAX))
                .await;
            match wait {
                Ok(Some(message)) => {
                    if *state.borrow() != State::Running {
                        release(&ctx, &route, vec![message]).await;
                    } else if !poisoned(&ctx, &route, &message).await {
                        spawn_message(&ctx, &route, message, slot, &state, &tracker);
                    }
                }
                Ok(None) => {}
                Err(e) => {
                    tracing::warn!(queue = %route.queue, error = %e, "rsmq worker: receive failed; retrying in {retry:?}");
                    drop(slot);
                    unless(tokio::time::sleep(retry), &state, State::Paused).await;
                    retry = (retry * 2).min(RECEIVE_RETRY_MAX);
                }
            }
        } else {
            drop(slot);
            unless(tokio::time::sleep(ctx.poll_interval), &state, State::Paused).await;
        }
    }
}

/// Receives up to `n` messages for the route.
async fn receive(ctx: &Ctx, route: &Route, n: usize) -> RsmqResult<Vec<Raw>> {
    match route.max_receives() {
        None => {
            ctx.client
                .receive_batch(&route.queue, n.min(MAX_BATCH) as u32)
                .await
        }
        Some((dlq, max)) => {
            let mut out = Vec::new();
            while out.len() < n {
                match ctx.client.receive_or_dlq(&route.queue, dlq, max).await {
                    Ok(Some(m)) => out.push(m),
                    Ok(None) => break,
                    // What was received is handled; the error shows on the next receive.
                    Err(_) if !out.is_empty() => break,
                    Err(e) => return Err(e),
                }
            }
            Ok(out)
        }
    }
}

/// A message received past its route's receive limit without the dead-letter check (the
/// long-polling path) is moved to the dead-letter queue here. Returns whether it was.
async fn poisoned(ctx: &Ctx, route: &Route, message: &Raw) -> bool {
    let Some((_, max)) = route.max_receives() else {
        return false;
    };
    if message.rc <= max {
        return false;
    }
    dead_letter(ctx, route, &message.id, message.rc, "received too often").await;
    true
}

/// Makes messages received after a stop visible again at once.
async fn release(ctx: &Ctx, route: &Route, messages: Vec<Raw>) {
    if messages.is_empty() {
        return;
    }
    let ids: Vec<String> = messages.into_iter().map(|m| m.id).collect();
    if let Err(e) = ctx
        .client
        .visibility_batch(&route.queue, &ids, Duration::ZERO)
        .await
    {
        tracing::warn!(queue = %route.queue, error = %e, "rsmq worker: could not release messages received during shutdown; they return after their vt");
    }
}

fn spawn_message(
    ctx: &Arc<Ctx>,
    route: &Arc<Route>,
    message: Raw,
    slot: Slot,
    state: &watch::Receiver<State>,
    tracker: &mpsc::Sender<()>,
) {
    let span = tracing::info_span!(
        "rsmq_worker_message",
        queue = %route.queue,
        id = %message.id,
        rc = message.rc
    );
    let (ctx, route, state, tracker) = (ctx.clone(), route.clone(), state.clone(), tracker.clone());
    tokio::spawn(
        async move {
            meter::in_flight(&route.queue, 1.0);
            ctx.counters.in_flight.fetch_add(1, Ordering::Relaxed);
            let handled = process(&ctx, &route, message, &state).await;
            ctx.counters.in_flight.fetch_sub(1, Ordering::Relaxed);
            meter::in_flight(&route.queue, -1.0);
            // The handler is done: its slot goes to the next message now, while the delete
            // joins the route's next batch.
            drop(slot);
            if let Some(id) = handled {
                acknowledge(&ctx, &route, id, tracker, &state).await;
            }
        }
        .instrument(span),
    );
}

/// How a handler's run ended.
enum Outcome {
    Done(Result<(), HandlerError>),
    Undecodable(DecodeError),
    Panicked(String),
    TimedOut(Duration),
    Cancelled,
}

fn panic_text(p: &(dyn std::any::Any + Send)) -> String {
    p.downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| p.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "(no message)".into())
}

/// Whether the error, or one of its sources, says not to retry.
fn is_permanent(e: &(dyn StdError + 'static)) -> bool {
    let mut cur = Some(e);
    while let Some(err) = cur {
        if err.is::<Permanent>() {
            return true;
        }
        cur = err.source();
    }
    false
}

/// One message: run its handler, then acknowledge, retry or dead-letter it.
/// Returns the id when the handler succeeded and the message is to be deleted.
async fn process(
    ctx: &Ctx,
    route: &Route,
    message: Raw,
    state: &watch::Receiver<State>,
) -> Option<String> {
    let id = message.id.clone();
    let rc = message.rc;
    let started = std::time::Instant::now();
    let outcome = match std::panic::catch_unwind(AssertUnwindSafe(|| (route.handler)(message))) {
        Err(p) => Outcome::Panicked(panic_text(&*p)),
        Ok(Err(decode)) => Outcome::Undecodable(decode),
        Ok(Ok(fut)) => guarded(ctx, route, &id, fut, state).await,
    };
    let elapsed = started.elapsed();
    if !matches!(outcome, Outcome::Cancelled | Outcome::Undecodable(_)) {
        meter::handler_time(&route.queue, elapsed);
    }
    match outcome {
        Outcome::Done(Ok(())) => {
            meter::count("rsmq_worker_handled_total", &route.queue);
            ctx.counters.handled.fetch_add(1, Ordering::Relaxed);
            tracing::debug!(?elapsed, "rsmq worker: message handled");
            return Some(id);
        }
        Outcome::Done(Err(e)) => {
            let permanent = is_permanent(&*e);
            tracing::warn!(error = %e, permanent, "rsmq worker: handler failed");
            meter::failed(&route.queue, if permanent { "permanent" } else { "error" });
            ctx.failed();
            failed(ctx, route, &id, rc, permanent).await;
        }
        Outcome::Undecodable(e) => {
            // Never decodes: straight to the DLQ; without one, left as any failure (18 did
            // so), never deleted.
            tracing::warn!(error = %e, "rsmq worker: message body does not decode");
            meter::failed(&route.queue, "decode");
            ctx.failed();
            match route.dlq {
                Some(_) => failed(ctx, route, &id, rc, true).await,
                None => failed(ctx, route, &id, rc, false).await,
            }
        }
        Outcome::Panicked(text) => {
            tracing::error!(panic = %text, "rsmq worker: handler panicked");
            meter::failed(&route.queue, "panic");
            ctx.failed();
            failed(ctx, route, &id, rc, false).await;
        }
        Outcome::TimedOut(t) => {
            tracing::warn!(timeout = ?t, "rsmq worker: handler timed out and was cancelled");
            meter::failed(&route.queue, "timeout");
            ctx.failed();
            failed(ctx, route, &id, rc, false).await;
        }
        Outcome::Cancelled => {
            match ctx
                .client
                .visibility(&route.queue, &id, Duration::ZERO)
                .await
            {
                Ok(_) => tracing::info!(
                    "rsmq worker: handler cancelled at shutdown; message visible again"
                ),
                Err(e) => {
                    tracing::warn!(error = %e, "rsmq worker: handler cancelled at shutdown; could not make the message visible, it returns after its vt")
                }
            }
        }
    }
    None
}

/// Runs a handler's future with its heartbeat, timeout, panic guard and cancellation.
async fn guarded(
    ctx: &Ctx,
    route: &Route,
    id: &str,
    fut: HandlerFuture,
    state: &watch::Receiver<State>,
) -> Outcome {
    let mut guarded = AssertUnwindSafe(fut).catch_unwind();
    // A handler done at its first poll needs no timer, heartbeat or watch of the shutdown.
    if let Some(result) = (&mut guarded).now_or_never() {
        return match result {
            Ok(r) => Outcome::Done(r),
            Err(p) => Outcome::Panicked(panic_text(&*p)),
        };
    }
    let run = async {
        let result = match route.timeout {
            Some(t) => match tokio::time::timeout(t, guarded).await {
                Ok(r) => r,
                Err(_) => return Outcome::TimedOut(t),
            },
            None => guarded.await,
        };
        match result {
            Ok(r) => Outcome::Done(r),
            Err(p) => Outcome::Panicked(panic_text(&*p)),
        }
    };
    let heartbeat = async {
        loop {
            tokio::time::sleep(ctx.heartbeat_interval).await;
            match ctx
                .client
                .visibility(&route.queue, id, ctx.visibility_extension)
                .await
            {
                Ok(_) => tracing::trace!("rsmq worker: heartbeat"),
                Err(e) => tracing::warn!(error = %e, "rsmq worker: heartbeat failed"),
            }
        }
    };
    let work = async {
        match select(pin!(run), pin!(heartbeat)).await {
            Either::Left((o, _)) => o,
            Either::Right((never, _)) => never,
        }
    };
    unless(work, state, State::Cancelling)
        .await
        .unwrap_or(Outcome::Cancelled)
}

/// Deletes a handled message: hands it, with the shutdown tracker, to the route's deleter,
/// which deletes what has gathered in one `delete_message_batch` (one `ZREM` and one `HDEL`
/// for all of them). Deletes it here when the deleter is not running.
async fn acknowledge(
    ctx: &Ctx,
    route: &Route,
    id: String,
    tracker: mpsc::Sender<()>,
    state: &watch::Receiver<State>,
) {
    let ack = (id, tracker);
    let ack = match route.acks.get() {
        Some(acks) => match acks.send(ack) {
            Ok(()) => return,
            Err(mpsc::error::SendError(ack)) => ack,
        },
        None => ack,
    };
    delete_with_retries(ctx, &route.queue, std::slice::from_ref(&ack.0), state).await;
}

/// A route's deleter: takes the handled messages that have gathered (at most a batch),
/// deletes them in one call, then lets their trackers go; goes on until the worker is gone.
async fn deleter(
    ctx: Arc<Ctx>,
    queue: String,
    mut acks: mpsc::UnboundedReceiver<Ack>,
    state: watch::Receiver<State>,
) {
    let mut batch: Vec<Ack> = Vec::new();
    let mut ids: Vec<String> = Vec::new();
    while acks.recv_many(&mut batch, MAX_BATCH).await > 0 {
        ids.extend(batch.iter().map(|(id, _)| id.clone()));
        delete_with_retries(&ctx, &queue, &ids, &state).await;
        ids.clear();
        batch.clear();
    }
}

/// Deletes `ids`, trying again after failures (deleting a message that is gone already is
/// no error, so trying again is safe); gives up after [`DELETE_TRIES`] tries, or at once when
/// the shutdown is cancelling handlers.
async fn delete_with_retries(
    ctx: &Ctx,
    queue: &str,
    ids: &[String],
    state: &watch::Receiver<State>,
) {
    let mut pause = DELETE_RETRY_MIN;
    for attempt in 1..=DELETE_TRIES {
        let result = match ids {
            [id] => ctx.client.delete(queue, id).await.map(drop),
            _ => ctx.client.delete_batch(queue, ids).await.map(drop),
        };
        match result {
            Ok(()) => return,
            Err(e) if attempt == DELETE_TRIES || *state.borrow() == State::Cancelling => {
                tracing::warn!(error = %e, messages = ids.len(), "rsmq worker: could not delete handled messages; they will be received again after their vt");
                return;
            }
            Err(e) => {
                tracing::warn!(error = %e, messages = ids.len(), "rsmq worker: delete failed; retrying in {pause:?}");
                tokio::time::sleep(pause).await;
                pause *= 2;
            }
        }
    }
}

/// After a failure: dead-letter, delete, or set the retry delay.
async fn failed(ctx: &Ctx, route: &Route, id: &str, rc: u64, permanent: bool) {
    match &route.dlq {
        Some(d) if permanent || rc > d.max_failures => {
            let why = if permanent {
                "failure not to be retried"
            } else {
                "too many failures"
            };
            dead_letter(ctx, route, id, rc, why).await;
            return;
        }
        None if permanent => {
            match ctx.client.delete(&route.queue, id).await {
                Ok(_) => tracing::error!("rsmq worker: failure not to be retried and no dead-letter queue: message deleted"),
                Err(e) => tracing::warn!(error = %e, "rsmq worker: could not delete a message that is not to be retried"),
            }
            return;
        }
        _ => {}
    }
    meter::count("rsmq_worker_retried_total", &route.queue);
    match route.backoff.delay(rc) {
        Some(delay) => match ctx.client.visibility(&route.queue, id, delay).await {
            Ok(_) => tracing::info!(?delay, "rsmq worker: message will be retried"),
            Err(e) => {
                tracing::warn!(error = %e, "rsmq worker: could not set the retry delay; the message returns after its vt")
            }
        },
        None => tracing::info!("rsmq worker: message will be retried after its vt"),
    }
}

async fn dead_letter(ctx: &Ctx, route: &Route, id: &str, rc: u64, why: &str) {
    let Some(d) = &route.dlq else { return };
    match ctx.client.move_to(&route.queue, id, &d.queue).await {
        Ok(true) => {
            meter::count("rsmq_worker_dead_lettered_total", &route.queue);
            tracing::warn!(dlq = %d.queue, rc, reason = why, "rsmq worker: message moved to the dead-letter queue")
        }
        Ok(false) => {}
        Err(e) => {
            tracing::error!(dlq = %d.queue, error = %e, "rsmq worker: could not move the message to the dead-letter queue; it returns after its vt")
        }
    }
}

/// The worker's metrics (feature `metrics`), through the `metrics` facade; nothing without it.
mod meter {
    use std::time::Duration;

    #[cfg(feature = "metrics")]
    pub(super) fn count(name: &'static str, queue: &str) {
        metrics::counter!(name, "queue" => queue.to_owned()).increment(1);
    }

    #[cfg(feature = "metrics")]
    pub(super) fn failed(queue: &str, reason: &'static str) {
        metrics::counter!("rsmq_worker_failed_total", "queue" => queue.to_owned(), "reason" => reason)
            .increment(1);
    }

    #[cfg(feature = "metrics")]
    pub(super) fn handler_time(queue: &str, d: Duration) {
        metrics::histogram!("rsmq_worker_handler_seconds", "queue" => queue.to_owned())
            .record(d.as_secs_f64());
    }

    #[cfg(feature = "metrics")]
    pub(super) fn in_flight(queue: &str, delta: f64) {
        metrics::gauge!("rsmq_worker_in_flight", "queue" => queue.to_owned()).increment(delta);
    }

    #[cfg(not(feature = "metrics"))]
    pub(super) fn count(_: &'static str, _: &str) {}

    #[cfg(not(feature = "metrics"))]
    pub(super) fn failed(_: &str, _: &'static str) {}

    #[cfg(not(feature = "metrics"))]
    pub(super) fn handler_time(_: &str, _: Duration) {}

    #[cfg(not(feature = "metrics"))]
    pub(super) fn in_flight(_: &str, _: f64) {}
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_delays() {
        assert_eq!(Backoff::queue_vt().delay(3), None);
        assert_eq!(
            Backoff::fixed(Duration::from_secs(2)).delay(9),
            Some(Duration::from_secs(2))
        );
        let e = Backoff::exponential(Duration::from_millis(100), Duration::from_secs(1));
        assert_eq!(e.delay(0), Some(Duration::from_millis(100)));
        assert_eq!(e.delay(2), Some(Duration::from_millis(200)));
        assert_eq!(e.delay(u64::MAX), Some(Duration::from_secs(1)));
        let huge = Backoff::exponential(Duration::from_secs(1_000_000), Duration::MAX);
        assert_eq!(huge.delay(60), Some(MAX_DELAY));
        let j = Backoff::fixed(Duration::from_secs(10)).jitter(f64::NAN);
        assert_eq!(j.delay(1), Some(Duration::from_secs(10)));
        for _ in 0..100 {
            let d = Backoff::fixed(Duration::from_secs(10))
                .jitter(5.0)
                .delay(1)
                .unwrap();
            assert!(d <= Duration::from_secs(20));
        }
    }

    #[test]
    fn permanent_is_found_in_the_chain() {
        #[derive(Debug)]
        struct Outer(Permanent);
        impl fmt::Display for Outer {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("outer")
            }
        }
        impl StdError for Outer {
            fn source(&self) -> Option<&(dyn StdError + 'static)> {
                Some(&self.0)
            }
        }
        let e: HandlerError = Box::new(Outer(Permanent::new("bad input")));
        assert!(is_permanent(&*e));
        let plain: HandlerError = "transient".into();
        assert!(!is_permanent(&*plain));
    }
}
