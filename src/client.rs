//! [`Rsmq`]: the async client over one multiplexed, self-reconnecting connection.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use redis::aio::{ConnectionLike, ConnectionManager, MultiplexedConnection};
use redis::{Cmd, Pipeline, RedisFuture, Value};

use crate::engine::Engine;
use crate::facade::Owned;
use crate::wait::Waiter;
use crate::{RsmqError, RsmqOptions, RsmqResult};

/// The Redis connection a client holds: one multiplexed connection that many tasks share.
#[derive(Clone)]
pub(crate) enum Connection {
    /// Made by [`Rsmq::new`]: reconnects by itself after Redis restarts.
    Managed(ConnectionManager),
    /// Handed in by the caller through [`Rsmq::new_with_connection`].
    Multiplexed(MultiplexedConnection),
    /// Made by [`Rsmq::new_cluster`]: a Redis Cluster.
    #[cfg(feature = "cluster")]
    Cluster(crate::cluster::ClusterLink),
    /// Made by [`Rsmq::new_sentinel`]: the master of a Sentinel deployment, followed.
    #[cfg(feature = "sentinel")]
    Sentinel(crate::sentinel::SentinelLink),
}

impl ConnectionLike for Connection {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match self {
            Connection::Managed(c) => c.req_packed_command(cmd),
            Connection::Multiplexed(c) => c.req_packed_command(cmd),
            #[cfg(feature = "cluster")]
            Connection::Cluster(c) => c.req_packed_command(cmd),
            #[cfg(feature = "sentinel")]
            Connection::Sentinel(c) => c.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        cmd: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match self {
            Connection::Managed(c) => c.req_packed_commands(cmd, offset, count),
            Connection::Multiplexed(c) => c.req_packed_commands(cmd, offset, count),
            #[cfg(feature = "cluster")]
            Connection::Cluster(c) => c.req_packed_commands(cmd, offset, count),
            #[cfg(feature = "sentinel")]
            Connection::Sentinel(c) => c.req_packed_commands(cmd, offset, count),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            Connection::Managed(c) => c.get_db(),
            Connection::Multiplexed(c) => c.get_db(),
            #[cfg(feature = "cluster")]
            Connection::Cluster(_) => 0,
            #[cfg(feature = "sentinel")]
            Connection::Sentinel(c) => c.get_db(),
        }
    }
}

/// The async RSMQ client. Start here.
///
/// One multiplexed connection carries the requests of every task that uses the client, so
/// there is no pool to size and no lock to wait for. Cloning is cheap (clones share the
/// connection); the client is `Send + Sync`.
///
/// A client made by [`Rsmq::new`] reconnects by itself after Redis restarts or drops the
/// connection (with backoff from 50 ms to 2 s), and reloads its scripts when Redis has
/// forgotten them. While Redis is down, calls fail with `RsmqError::RedisError` within the
/// connection timeout; once it is back, they succeed again on the same client. Every reply
/// is awaited at most [`RsmqOptions::response_timeout`].
///
/// ```no_run
/// use rsmq_async::{Rsmq, RsmqConnection, RsmqError};
///
/// #[tokio::main]
/// async fn main() -> Result<(), RsmqError> {
///     let mut rsmq = Rsmq::new(Default::default()).await?;
///     rsmq.create_queue("jobs", None, None, None).await?;
///     rsmq.send_message("jobs", "hello from Rust", None).await?;
///     if let Some(msg) = rsmq.receive_message::<String>("jobs", None).await? {
///         println!("Got: {}", msg.message);
///         rsmq.delete_message("jobs", &msg.id).await?;
///     }
///     Ok(())
/// }
/// ```
#[derive(Clone)]
pub struct Rsmq {
    pub(crate) connection: Connection,
    engine: Engine,
    waiter: Arc<Waiter>,
}

impl fmt::Debug for Rsmq {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Rsmq")
            .field("engine", &self.engine)
            .finish()
    }
}

impl Rsmq {
    /// Connects to Redis as `options` say.
    ///
    /// ```no_run
    /// use rsmq_async::{Rsmq, RsmqOptions};
    ///
    /// # async fn f() -> rsmq_async::RsmqResult<()> {
    /// let rsmq = Rsmq::new(RsmqOptions { realtime: true, ..Default::default() }).await?;
    /// let from_url = Rsmq::new("redis://127.0.0.1:6379/0?ns=app".parse()?).await?;
    /// # Ok(()) }
    /// ```
    ///
    /// Fails with `InvalidOptions` (before connecting) when the options cannot work, and with
    /// [`CannotConnect`](crate::RsmqError::CannotConnect), naming the address, when Redis
    /// cannot be reached within the connection timeout or refuses the credentials.
    pub async fn new(options: RsmqOptions) -> RsmqResult<Rsmq> {
        let client = options.client()?;
        let cannot_connect = |source| RsmqError::CannotConnect {
            addr: options.address(),
            source,
        };
        // Fail fast and clearly (within the connection timeout) when Redis is unreachable
        // or refuses the credentials, before the manager starts retrying.
        let mut probe = client
            .get_multiplexed_async_connection_with_config(&options.async_config())
            .await
            .map_err(cannot_connect)?;
        redis::cmd("PING")
            .query_async::<()>(&mut probe)
            .await
            .map_err(cannot_connect)?;
        drop(probe);
        let config = redis::aio::ConnectionManagerConfig::new()
            .set_connection_timeout(Some(options.connection_timeout))
            .set_response_timeout(Some(options.response_timeout))
            .set_min_delay(Duration::from_millis(50))
            .set_max_delay(Duration::from_secs(2))
            .set_number_of_retries(3);
        let manager = ConnectionManager::new_with_config(client.clone(), config)
            .await
            .map_err(cannot_connect)?;
        Ok(Rsmq {
            connection: Connection::Managed(manager),
            engine: Engine::for_options(&options),
            waiter: Arc::new(Waiter::new(Some(client), &options.ns)),
        })
    }

    /// Uses a connection you made yourself. `ns` defaults to `rsmq`.
    ///
    /// Sends nothing: the connection is used as it is, with its own timeouts, and is not
    /// replaced when it breaks. (It is `async` and returns a `Result`, as in rsmq_async 18,
    /// so code written for 18 compiles unchanged.)
    ///
    /// Such a client cannot open the subscriber connection of long polling, so its
    /// [`receive_message_wait`](crate::RsmqConnection::receive_message_wait) relies on
    /// timers alone (it wakes at the next message's due time or every
    /// [`FALLBACK_POLL`](crate::FALLBACK_POLL)).
    ///
    /// ```no_run
    /// use rsmq_async::Rsmq;
    ///
    /// # async fn f() -> Result<(), Box<dyn std::error::Error>> {
    /// let client = redis::Client::open("redis://127.0.0.1/")?;
    /// let conn = client.get_multiplexed_async_connection().await?;
    /// let rsmq = Rsmq::new_with_connection(conn, false, Some("app")).await?;
    /// # Ok(()) }
    /// ```
    pub async fn new_with_connection(
        connection: MultiplexedConnection,
        realtime: bool,
        ns: Option<&str>,
    ) -> RsmqResult<Rsmq> {
        let ns = ns.unwrap_or("rsmq");
        Ok(Rsmq {
            connection: Connection::Multiplexed(connection),
            engine: Engine::new(ns, realtime).coalescing(true),
            waiter: Arc::new(Waiter::new(None, ns)),
        })
    }

    /// A client of these parts (for the other constructors, such as the cluster's).
    #[cfg_attr(not(any(feature = "cluster", feature = "sentinel")), allow(dead_code))]
    pub(crate) fn from_parts(connection: Connection, engine: Engine, waiter: Arc<Waiter>) -> Rsmq {
        Rsmq {
            connection,
            engine,
            waiter,
        }
    }

    /// A connection for one operation: a clone of the shared multiplexed handle.
    async fn conn(&self) -> RsmqResult<Owned<Connection>> {
        Ok(Owned(self.connection.clone()))
    }

    /// The connection a coalesced call may carry along, when coalescing is on.
    fn coalescing_conn(&self) -> Option<Connection> {
        self.engine.coalesces().then(|| self.connection.clone())
    }
}

impl crate::__private::Sealed for Rsmq {}

crate::facade::impl_rsmq_connection!(Rsmq);
