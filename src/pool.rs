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
pub const DEFAULT_MAX_SIZE: u32 = 10;

/// How long an operation waits for a free connection before failing with
/// [`RsmqError::PoolTimedOut`], unless set with [`PooledRsmq::new_with_checkout_timeout`].
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
    pool: bb8::Pool<Manager>,
    /// One permit per connection, handed out first come, first served: bb8 alone lets a task
    /// that returns a connection take it straight back while others starve.
    turns: Arc<tokio::sync::Semaphore>,
    checkout_timeout: Duration,
    engine: Engine,
    waiter: Arc<Waiter>,
}

/// A pooled connection held for one operation, with its turn.
pub(crate) struct Checkout<'a> {
    connection: bb8::PooledConnection<'a, Manager>,
    _turn: tokio::sync::SemaphorePermit<'a>,
}

impl std::ops::Deref for Checkout<'_> {
    type Target = PoolConnection;
    fn deref(&self) -> &PoolConnection {
        &self.connection
    }
}

impl std::ops::DerefMut for Checkout<'_> {
    fn deref_mut(&mut self) -> &mut PoolConnection {
        &mut self.connection
    }
}

impl std::fmt::Debug for PooledRsmq {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PooledRsmq")
            .field("engine", &self.engine)
            .field("pool", &self.pool.state())
            .finish()
    }
}

impl PooledRsmq {
    /// Opens the pool (and `min_idle` connections). Fails if Redis cannot be reached.
    pub async fn new(options: RsmqOptions, pool_options: PoolOptions) -> RsmqResult<PooledRsmq> {
        Self::new_with_checkout_timeout(options, pool_options, DEFAULT_CHECKOUT_TIMEOUT).await
    }

    /// Like [`new`](Self::new), with the longest wait for a free connection.
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
        let client = options.client()?;
        let max_size = pool_options.max_size.unwrap_or(DEFAULT_MAX_SIZE).max(1);
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
            let mut probe = manager.connect().await?;
            manager.is_valid(&mut probe).await?;
        }
        let pool = builder.build(manager).await?;
        Ok(PooledRsmq {
            pool,
            engine: Engine::new(&options.ns, options.realtime).with_score_unit(options.score_unit),
            waiter: Arc::new(Waiter::new(Some(client), &options.ns)),
            turns: Arc::new(tokio::sync::Semaphore::new(max_size as usize)),
            checkout_timeout,
        })
    }

    /// A connection of the pool for one operation, in turn.
    /// Pooled calls are not coalesced: each takes a connection of its own.
    fn coalescing_conn(&self) -> Option<redis::aio::MultiplexedConnection> {
        None
    }

    async fn conn(&self) -> RsmqResult<Checkout<'_>> {
        let started = tokio::time::Instant::now();
        let turn = tokio::time::timeout(self.checkout_timeout, self.turns.acquire())
            .await
            .map_err(|_| RsmqError::PoolTimedOut)?
            .map_err(|_| RsmqError::PoolTimedOut)?;
        let left = self.checkout_timeout.saturating_sub(started.elapsed());
        let connection = tokio::time::timeout(left, self.pool.get())
            .await
            .map_err(|_| RsmqError::PoolTimedOut)?
            .map_err(|e| match e {
                bb8::RunError::User(e) => RsmqError::RedisError(e),
                bb8::RunError::TimedOut => RsmqError::PoolTimedOut,
            })?;
        Ok(Checkout {
            connection,
            _turn: turn,
        })
    }
}

crate::facade::impl_rsmq_connection!(PooledRsmq);
