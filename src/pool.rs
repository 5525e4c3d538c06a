//! [`PooledRsmq`]: the async client over a pool of connections (feature `tokio-comp`).
//!
//! Each operation checks out a connection of its own, so one large transfer never waits
//! behind another. The pool is [bb8](https://docs.rs/bb8), chosen because it is async-native,
//! small, and already what `redis` integrates with; connections are checked out without a
//! `PING` (which would double the round trips): a connection that failed with an I/O or
//! connection error is marked broken and replaced instead.

use std::sync::Arc;
use std::time::Duration;

use redis::aio::{ConnectionLike, MultiplexedConnection};
use redis::{Cmd, Pipeline, RedisFuture, RedisResult, Value};

use crate::engine::Engine;
use crate::wait::Waiter;
use crate::{RsmqError, RsmqOptions, RsmqResult};

/// How big the pool is.
///
/// ```
/// use rsmq_async::PoolOptions;
///
/// let pool_opts = PoolOptions { max_size: Some(20), min_idle: Some(5) };
/// assert_eq!(PoolOptions::default().max_size, None); // bb8's default: 10
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PoolOptions {
    /// Most connections open at once. Default [`DEFAULT_MAX_SIZE`] (10).
    pub max_size: Option<u32>,
    /// Connections kept open while idle. Default none.
    pub min_idle: Option<u32>,
}

/// Most connections of a pool when [`PoolOptions::max_size`] is `None`.
///
/// ```
/// use rsmq_async::{PoolOptions, DEFAULT_MAX_SIZE};
///
/// // Room for a burst of 40 tasks.
/// let pool = PoolOptions { max_size: Some(4 * DEFAULT_MAX_SIZE), ..Default::default() };
/// assert_eq!(pool.max_size, Some(40));
/// ```
pub const DEFAULT_MAX_SIZE: u32 = 10;

/// How long an operation waits for a free connection before failing with
/// [`RsmqError::PoolTimedOut`], unless set with [`PooledRsmq::new_with_checkout_timeout`].
///
/// ```no_run
/// use rsmq_async::{PoolOptions, PooledRsmq, RsmqOptions, DEFAULT_CHECKOUT_TIMEOUT};
///
/// # async fn f() -> rsmq_async::RsmqResult<()> {
/// // Callers that would rather fail fast than wait the default 5 s.
/// let rsmq = PooledRsmq::new_with_checkout_timeout(
///     RsmqOptions::default(),
///     PoolOptions::default(),
///     DEFAULT_CHECKOUT_TIMEOUT / 10,
/// )
/// .await?;
/// # Ok(()) }
/// ```
pub const DEFAULT_CHECKOUT_TIMEOUT: Duration = Duration::from_secs(5);

/// A pooled connection that remembers whether it failed for good.
pub(crate) struct PoolConnection {
    inner: MultiplexedConnection,
    broken: bool,
}

impl PoolConnection {
    fn note(&mut self, err: &redis::RedisError) {
        if err.is_io_error() || err.is_connection_dropped() || err.is_unrecoverable_error() {
            self.broken = true;
        }
    }
}

impl ConnectionLike for PoolConnection {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        Box::pin(async move {
            let result = self.inner.req_packed_command(cmd).await;
            if let Err(e) = &result {
                self.note(e);
            }
            result
        })
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        cmd: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        Box::pin(async move {
            let result = self.inner.req_packed_commands(cmd, offset, count).await;
            if let Err(e) = &result {
                self.note(e);
            }
            result
        })
    }

    fn get_db(&self) -> i64 {
        self.inner.get_db()
    }
}

/// The bb8 connection manager of a pool you build yourself and hand to
/// [`PooledRsmq::new_with_pool`], as in rsmq_async 18: plain multiplexed connections, checked
/// with `PING` (bb8 does so at checkout unless the builder says otherwise).
///
/// [`PooledRsmq::new`] needs none of this; use it when you want bb8's other settings (idle
/// timeout, maximum lifetime, ...).
///
/// ```no_run
/// use rsmq_async::{PooledRsmq, RedisConnectionManager};
///
/// # async fn f() -> Result<(), Box<dyn std::error::Error>> {
/// let client = redis::Client::open("redis://127.0.0.1/")?;
/// let manager = RedisConnectionManager::from_client(client)?;
/// let pool = bb8::Pool::builder()
///     .max_size(20)
///     .idle_timeout(Some(std::time::Duration::from_secs(60)))
///     .build(manager)
///     .await?;
/// let rsmq = PooledRsmq::new_with_pool(pool, false, Some("app")).await?;
/// # Ok(()) }
/// ```
#[derive(Clone, Debug)]
pub struct RedisConnectionManager {
    client: redis::Client,
}

impl RedisConnectionManager {
    /// A manager whose connections `client` opens. Never fails (the `Result` is that of
    /// rsmq_async 18).
    ///
    /// ```
    /// use rsmq_async::RedisConnectionManager;
    ///
    /// // Opening a client only reads the URL: nothing connects yet.
    /// let client = redis::Client::open("redis://127.0.0.1:6379/")?;
    /// let manager = RedisConnectionManager::from_client(client)?;
    /// # Ok::<(), redis::RedisError>(())
    /// ```
    pub fn from_client(client: redis::Client) -> Result<RedisConnectionManager, redis::RedisError> {
        Ok(RedisConnectionManager { client })
    }
}

impl bb8::ManageConnection for RedisConnectionManager {
    type Connection = MultiplexedConnection;
    type Error = redis::RedisError;

    async fn connect(&self) -> RedisResult<MultiplexedConnection> {
        self.client.get_multiplexed_async_connection().await
    }

    async fn is_valid(&self, conn: &mut MultiplexedConnection) -> RedisResult<()> {
        redis::cmd("PING").query_async::<()>(conn).await
    }

    fn has_broken(&self, _: &mut MultiplexedConnection) -> bool {
        false
    }
}

/// Makes and checks the pool's connections.
pub(crate) struct Manager {
    client: redis::Client,
    config: redis::AsyncConnectionConfig,
}

impl bb8::ManageConnection for Manager {
    type Connection = PoolConnection;
    type Error = redis::RedisError;

    async fn connect(&self) -> RedisResult<PoolConnection> {
        let inner = self
            .client
            .get_multiplexed_async_connection_with_config(&self.config)
            .await?;
        Ok(PoolConnection {
            inner,
            broken: false,
        })
    }

    async fn is_valid(&self, conn: &mut PoolConnection) -> RedisResult<()> {
        redis::cmd("PING").query_async::<()>(conn).await
    }

    fn has_broken(&self, conn: &mut PoolConnection) -> bool {
        conn.broken
    }
}

/// The async client over a pool of connections. Use it when bodies are large (images,
/// documents) and one slow transfer on a shared connection would hold up the others;
/// otherwise [`Rsmq`](crate::Rsmq) is faster.
///
/// Cloning is cheap (clones share the pool); the client is `Send + Sync`.
///
/// ```no_run
/// use rsmq_async::{PoolOptions, PooledRsmq, RsmqConnection};
///
/// # async fn f() -> rsmq_async::RsmqResult<()> {
/// let pool_opts = PoolOptions { max_size: Some(20), min_idle: Some(5) };
/// let rsmq = PooledRsmq::new(Default::default(), pool_opts).await?;
/// rsmq.send_message("uploads", vec![0u8; 1 << 20], None).await?;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct PooledRsmq {
    pool: Pool,
    /// One permit per connection, handed out first come, first served: bb8 alone lets a task
    /// that returns a connection take it straight back while others starve. `None` for a
    /// pool handed in, whose size is not known.
    turns: Option<Arc<tokio::sync::Semaphore>>,
    checkout_timeout: Duration,
    engine: Engine,
    waiter: Arc<Waiter>,
}

/// The pool a client draws from: its own, or one handed in.
#[derive(Clone)]
enum Pool {
    Own(bb8::Pool<Manager>),
    Given(bb8::Pool<RedisConnectionManager>),
}

/// A connection of either kind of pool.
pub(crate) enum Lease<'a> {
    Own(bb8::PooledConnection<'a, Manager>),
    Given(bb8::PooledConnection<'a, RedisConnectionManager>),
}

impl ConnectionLike for Lease<'_> {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match self {
            Lease::Own(c) => c.req_packed_command(cmd),
            Lease::Given(c) => c.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        cmd: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match self {
            Lease::Own(c) => c.req_packed_commands(cmd, offset, count),
            Lease::Given(c) => c.req_packed_commands(cmd, offset, count),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            Lease::Own(c) => c.get_db(),
            Lease::Given(c) => c.get_db(),
        }
    }
}

/// A pooled connection held for one operation, with its turn.
pub(crate) struct Checkout<'a> {
    connection: Lease<'a>,
    _turn: Option<tokio::sync::SemaphorePermit<'a>>,
}

impl<'a> std::ops::Deref for Checkout<'a> {
    type Target = Lease<'a>;
    fn deref(&self) -> &Lease<'a> {
        &self.connection
    }
}

impl<'a> std::ops::DerefMut for Checkout<'a> {
    fn deref_mut(&mut self) -> &mut Lease<'a> {
        &mut self.connection
    }
}

impl std::fmt::Debug for PooledRsmq {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = match &self.pool {
            Pool::Own(p) => p.state(),
            Pool::Given(p) => p.state(),
        };
        f.debug_struct("PooledRsmq")
            .field("engine", &self.engine)
            .field("pool", &state)
            .finish()
    }
}

impl PooledRsmq {
    /// Opens the pool (and `min_idle` connections).
    ///
    /// Fails with `InvalidOptions` (before connecting) when `min_idle` is larger than
    /// `max_size` or the options cannot work, and with
    /// [`CannotConnect`](RsmqError::CannotConnect), naming the address, when Redis cannot be
    /// reached.
    ///
    /// ```no_run
    /// use rsmq_async::{PoolOptions, PooledRsmq, RsmqConnection, RsmqOptions};
    ///
    /// # async fn f() -> rsmq_async::RsmqResult<()> {
    /// let options = RsmqOptions { host: "redis.internal".into(), ..Default::default() };
    /// let rsmq = PooledRsmq::new(options, PoolOptions { max_size: Some(4), min_idle: None }).await?;
    /// if let Some(msg) = rsmq.receive_message::<Vec<u8>>("uploads", None).await? {
    ///     println!("{} bytes", msg.message.len());
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn new(options: RsmqOptions, pool_options: PoolOptions) -> RsmqResult<PooledRsmq> {
        Self::new_with_checkout_timeout(options, pool_options, DEFAULT_CHECKOUT_TIMEOUT).await
    }

    /// Like [`new`](Self::new), with the longest wait for a free connection (not zero).
    ///
    /// ```no_run
    /// use std::time::Duration;
    /// use rsmq_async::{PoolOptions, PooledRsmq};
    ///
    /// # async fn f() -> rsmq_async::RsmqResult<()> {
    /// let rsmq = PooledRsmq::new_with_checkout_timeout(
    ///     Default::default(),
    ///     PoolOptions::default(),
    ///     Duration::from_millis(500),
    /// )
    /// .await?;
    /// # Ok(()) }
    /// ```
    pub async fn new_with_checkout_timeout(
        options: RsmqOptions,
        pool_options: PoolOptions,
        checkout_timeout: Duration,
    ) -> RsmqResult<PooledRsmq> {
        let max_size = pool_options.max_size.unwrap_or(DEFAULT_MAX_SIZE).max(1);
        // bb8 panics on these; say what is wrong instead.
        if checkout_timeout.is_zero() {
            return Err(RsmqError::InvalidOptions(
                "the checkout timeout is zero, so no call could wait for a pooled connection: \
                 pass a positive duration (DEFAULT_CHECKOUT_TIMEOUT is 5 s)"
                    .into(),
            ));
        }
        if let Some(min_idle) = pool_options.min_idle.filter(|&n| n > max_size) {
            return Err(RsmqError::InvalidOptions(format!(
                "PoolOptions::min_idle ({min_idle}) is larger than max_size ({max_size}{}): \
                 lower min_idle or raise max_size",
                if pool_options.max_size.is_none() {
                    ", the default"
                } else {
                    ""
                }
            )));
        }
        let client = options.client()?;
        let cannot_connect = |source| RsmqError::CannotConnect {
            addr: options.address(),
            source,
        };
        let builder = bb8::Pool::builder()
            .test_on_check_out(false)
            .connection_timeout(checkout_timeout)
            .min_idle(pool_options.min_idle)
            .max_size(max_size);
        let manager = Manager {
            client: client.clone(),
            config: options.async_config(),
        };
        // Prove Redis is reachable now, as `Rsmq::new` does, rather than at first use.
        {
            use bb8::ManageConnection;
            let mut probe = manager.connect().await.map_err(cannot_connect)?;
            manager.is_valid(&mut probe).await.map_err(cannot_connect)?;
        }
        let pool = builder.build(manager).await.map_err(cannot_connect)?;
        Ok(PooledRsmq {
            pool: Pool::Own(pool),
            // Each call has a connection of its own: nothing to coalesce.
            engine: Engine::for_options(&options).coalescing(false),
            waiter: Arc::new(Waiter::new(Some(client), &options.ns)),
            turns: Some(Arc::new(tokio::sync::Semaphore::new(max_size as usize))),
            checkout_timeout,
        })
    }

    /// Uses a bb8 pool you built yourself (see [`RedisConnectionManager`]), as in
    /// rsmq_async 18. `ns` defaults to `rsmq`. Checks out one connection to prove Redis
    /// answers.
    ///
    /// Calls wait for a connection as long as the pool's own connection timeout allows, and
    /// at most [`DEFAULT_CHECKOUT_TIMEOUT`]. As with
    /// [`Rsmq::new_with_connection`](crate::Rsmq::new_with_connection), long polling relies
    /// on timers alone: the client has no address to open its subscriber connection to.
    ///
    /// ```no_run
    /// use rsmq_async::{PooledRsmq, RedisConnectionManager};
    ///
    /// # async fn f() -> Result<(), Box<dyn std::error::Error>> {
    /// let client = redis::Client::open("redis://127.0.0.1/")?;
    /// let pool = bb8::Pool::builder()
    ///     .max_size(8)
    ///     .build(RedisConnectionManager::from_client(client)?)
    ///     .await?;
    /// let rsmq = PooledRsmq::new_with_pool(pool, false, None).await?; // namespace "rsmq"
    /// # Ok(()) }
    /// ```
    pub async fn new_with_pool(
        pool: bb8::Pool<RedisConnectionManager>,
        realtime: bool,
        ns: Option<&str>,
    ) -> RsmqResult<PooledRsmq> {
        let ns = ns.unwrap_or("rsmq");
        let rsmq = PooledRsmq {
            pool: Pool::Given(pool),
            engine: Engine::new(ns, realtime),
            waiter: Arc::new(Waiter::new(None, ns)),
            turns: None,
            checkout_timeout: DEFAULT_CHECKOUT_TIMEOUT,
        };
        drop(rsmq.conn().await?);
        Ok(rsmq)
    }

    /// A connection of the pool for one operation, in turn.
    /// Pooled calls are not coalesced: each takes a connection of its own.
    fn coalescing_conn(&self) -> Option<redis::aio::MultiplexedConnection> {
        None
    }

    async fn conn(&self) -> RsmqResult<Checkout<'_>> {
        let started = tokio::time::Instant::now();
        let turn = match &self.turns {
            Some(turns) => Some(
                tokio::time::timeout(self.checkout_timeout, turns.acquire())
                    .await
                    .map_err(|_| RsmqError::PoolTimedOut)?
                    .map_err(|_| RsmqError::PoolTimedOut)?,
            ),
            None => None,
        };
        let left = self.checkout_timeout.saturating_sub(started.elapsed());
        let connection = match &self.pool {
            Pool::Own(pool) => checkout(left, pool.get()).await.map(Lease::Own),
            Pool::Given(pool) => checkout(left, pool.get()).await.map(Lease::Given),
        }?;
        Ok(Checkout {
            connection,
            _turn: turn,
        })
    }
}

/// Waits at most `left` for a pooled connection.
async fn checkout<T>(
    left: Duration,
    get: impl std::future::Future<Output = Result<T, bb8::RunError<redis::RedisError>>>,
) -> RsmqResult<T> {
    tokio::time::timeout(left, get)
        .await
        .map_err(|_| RsmqError::PoolTimedOut)?
        .map_err(|e| match e {
            bb8::RunError::User(e) => RsmqError::RedisError(e),
            bb8::RunError::TimedOut => RsmqError::PoolTimedOut,
        })
}

impl crate::__private::Sealed for PooledRsmq {}

crate::facade::impl_rsmq_connection!(PooledRsmq);
