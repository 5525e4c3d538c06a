//! [`Rsmq`]: the async client over one multiplexed, self-reconnecting connection.

use std::fmt;
use std::time::Duration;

use redis::aio::{ConnectionLike, ConnectionManager, MultiplexedConnection};
use redis::{Cmd, Pipeline, RedisFuture, Value};

use crate::engine::Engine;
use crate::{
    RedisBytes, RsmqConnection, RsmqMessage, RsmqOptions, RsmqQueueAttributes, RsmqResult,
};

/// The Redis connection a client holds: one multiplexed connection that many tasks share.
#[derive(Clone)]
enum Connection {
    /// Made by [`Rsmq::new`]: reconnects by itself after Redis restarts.
    Managed(ConnectionManager),
    /// Handed in by the caller through [`Rsmq::new_with_connection`].
    Multiplexed(MultiplexedConnection),
}

impl ConnectionLike for Connection {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match self {
            Connection::Managed(c) => c.req_packed_command(cmd),
            Connection::Multiplexed(c) => c.req_packed_command(cmd),
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
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            Connection::Managed(c) => c.get_db(),
            Connection::Multiplexed(c) => c.get_db(),
        }
    }
}

/// The async RSMQ client. Start here.
///
/// One multiplexed connection carries the requests of every task that uses the client, so
/// there is no pool to size and no lock to wait for. Cloning is cheap (clones share the
/// connection); the client is `Send + Sync`. A client made by [`Rsmq::new`] reconnects by
/// itself after Redis restarts, and reloads its scripts when Redis has forgotten them.
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
    connection: Connection,
    engine: Engine,
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
    pub async fn new(options: RsmqOptions) -> RsmqResult<Rsmq> {
        let client = redis::Client::open(options.connection_info()?)?;
        let config = redis::aio::ConnectionManagerConfig::new()
            .set_connection_timeout(Some(Duration::from_secs(5)))
            .set_number_of_retries(2);
        let manager = ConnectionManager::new_with_config(client, config).await?;
        Ok(Rsmq {
            connection: Connection::Managed(manager),
            engine: Engine::new(&options.ns, options.realtime),
        })
    }

    /// Uses a connection you made yourself. `ns` defaults to `rsmq`.
    ///
    /// ```no_run
    /// use rsmq_async::Rsmq;
    ///
    /// # async fn f() -> Result<(), Box<dyn std::error::Error>> {
    /// let client = redis::Client::open("redis://127.0.0.1/")?;
    /// let conn = client.get_multiplexed_async_connection().await?;
    /// let rsmq = Rsmq::new_with_connection(conn, false, Some("app"));
    /// # Ok(()) }
    /// ```
    pub fn new_with_connection(
        connection: MultiplexedConnection,
        realtime: bool,
        ns: Option<&str>,
    ) -> Rsmq {
        Rsmq {
            connection: Connection::Multiplexed(connection),
            engine: Engine::new(ns.unwrap_or("rsmq"), realtime),
        }
    }
}

impl RsmqConnection for Rsmq {
    async fn change_message_visibility(
        &self,
        qname: &str,
        message_id: &str,
        vt: Duration,
    ) -> RsmqResult<bool> {
        let mut con = self.connection.clone();
        self.engine
            .change_message_visibility(&mut con, qname, message_id, vt)
            .await
    }

    async fn create_queue(
        &self,
        qname: &str,
        vt: Option<Duration>,
        delay: Option<Duration>,
        maxsize: Option<i64>,
    ) -> RsmqResult<()> {
        let mut con = self.connection.clone();
        self.engine
            .create_queue(&mut con, qname, vt, delay, maxsize)
            .await
    }

    async fn delete_message(&self, qname: &str, message_id: &str) -> RsmqResult<bool> {
        let mut con = self.connection.clone();
        self.engine
            .delete_message(&mut con, qname, message_id)
            .await
    }

    async fn delete_queue(&self, qname: &str) -> RsmqResult<()> {
        let mut con = self.connection.clone();
        self.engine.delete_queue(&mut con, qname).await
    }

    async fn get_queue_attributes(&self, qname: &str) -> RsmqResult<RsmqQueueAttributes> {
        let mut con = self.connection.clone();
        self.engine.get_queue_attributes(&mut con, qname).await
    }

    async fn list_queues(&self) -> RsmqResult<Vec<String>> {
        let mut con = self.connection.clone();
        self.engine.list_queues(&mut con).await
    }

    async fn pop_message<E: TryFrom<RedisBytes, Error = Vec<u8>>>(
        &self,
        qname: &str,
    ) -> RsmqResult<Option<RsmqMessage<E>>> {
        let mut con = self.connection.clone();
        self.engine.pop_message(&mut con, qname).await
    }

    async fn receive_message<E: TryFrom<RedisBytes, Error = Vec<u8>>>(
        &self,
        qname: &str,
        vt: Option<Duration>,
    ) -> RsmqResult<Option<RsmqMessage<E>>> {
        let mut con = self.connection.clone();
        self.engine.receive_message(&mut con, qname, vt).await
    }

    async fn send_message<E: Into<RedisBytes> + Send>(
        &self,
        qname: &str,
        message: E,
        delay: Option<Duration>,
    ) -> RsmqResult<String> {
        let mut con = self.connection.clone();
        self.engine
            .send_message(&mut con, qname, message.into(), delay)
            .await
    }

    async fn set_queue_attributes(
        &self,
        qname: &str,
        vt: Option<Duration>,
        delay: Option<Duration>,
        maxsize: Option<i64>,
    ) -> RsmqResult<RsmqQueueAttributes> {
        let mut con = self.connection.clone();
        self.engine
            .set_queue_attributes(&mut con, qname, vt, delay, maxsize)
            .await
    }
}
