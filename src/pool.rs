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
    /// Most connections open at once. Default 10.
    pub max_size: Option<u32>,
    /// Connections kept open while idle. Default none.
    pub min_idle: Option<u32>,
}

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
    engine: Engine,
    waiter: Arc<Waiter>,
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
        let mut builder = bb8::Pool::builder()
            .test_on_check_out(false)
            .connection_timeout(checkout_timeout)
            .min_idle(pool_options.min_idle);
        if let Some(max) = pool_options.max_size {
            builder = builder.max_size(max);
        }
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
            engine: Engine::new(&options.ns, options.realtime),
            waiter: Arc::new(Waiter::new(Some(client), &options.ns)),
        })
    }

    /// A connection of the pool for one operation.
    async fn conn(&self) -> RsmqResult<bb8::PooledConnection<'_, Manager>> {
        self.pool.get().await.map_err(|e| match e {
            bb8::RunError::User(e) => RsmqError::RedisError(e),
            bb8::RunError::TimedOut => RsmqError::PoolTimedOut,
        })
    }
}

crate::facade::impl_rsmq_connection!(PooledRsmq);
