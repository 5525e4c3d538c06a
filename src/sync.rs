//! [`RsmqSync`]: the blocking client, and its trait [`RsmqConnectionSync`] (feature `sync`).
//!
//! The client owns a small Tokio runtime of its own (one worker thread) on which its
//! connection lives. A blocking call sends the operation to that runtime and waits on a plain
//! channel, so it works from an ordinary `fn main`, from any thread, and even from inside
//! another Tokio runtime (where it blocks that worker thread while it waits: prefer the async
//! [`Rsmq`] there). It never starts or blocks on a runtime from within a runtime, and its
//! runtime is shut down without blocking when the last clone is dropped.

use std::future::Future;
use std::sync::{mpsc, Arc};
use std::time::Duration;

use crate::{
    RedisBytes, Rsmq, RsmqConnection, RsmqError, RsmqMessage, RsmqOptions, RsmqQueueAttributes,
    RsmqResult,
};

/// The RSMQ operations, blocking. Same meaning, arguments and errors as [`RsmqConnection`].
/// Sealed like it: only [`RsmqSync`] implements it.
///
/// ```no_run
/// use rsmq_async::{RsmqConnectionSync, RsmqResult};
///
/// fn drain<C: RsmqConnectionSync>(rsmq: &C, qname: &str) -> RsmqResult<usize> {
///     let mut n = 0;
///     while let Some(msg) = rsmq.receive_message::<String>(qname, None)? {
///         rsmq.delete_message(qname, &msg.id)?;
///         n += 1;
///     }
///     Ok(n)
/// }
/// ```
pub trait RsmqConnectionSync: crate::__private::Sealed {
    /// See [`RsmqConnection::change_message_visibility`].
    fn change_message_visibility(
        &self,
        qname: &str,
        message_id: &str,
        vt: Duration,
    ) -> RsmqResult<bool>;
    /// See [`RsmqConnection::create_queue`].
    fn create_queue(
        &self,
        qname: &str,
        vt: Option<Duration>,
        delay: Option<Duration>,
        maxsize: Option<i64>,
    ) -> RsmqResult<()>;
    /// See [`RsmqConnection::delete_message`].
    fn delete_message(&self, qname: &str, message_id: &str) -> RsmqResult<bool>;
    /// See [`RsmqConnection::delete_queue`].
    fn delete_queue(&self, qname: &str) -> RsmqResult<()>;
    /// See [`RsmqConnection::get_queue_attributes`].
    fn get_queue_attributes(&self, qname: &str) -> RsmqResult<RsmqQueueAttributes>;
    /// See [`RsmqConnection::list_queues`].
    fn list_queues(&self) -> RsmqResult<Vec<String>>;
    /// See [`RsmqConnection::pop_message`].
    fn pop_message<E: TryFrom<RedisBytes, Error = Vec<u8>>>(
        &self,
        qname: &str,
    ) -> RsmqResult<Option<RsmqMessage<E>>>;
    /// See [`RsmqConnection::receive_message`].
    fn receive_message<E: TryFrom<RedisBytes, Error = Vec<u8>>>(
        &self,
        qname: &str,
        vt: Option<Duration>,
    ) -> RsmqResult<Option<RsmqMessage<E>>>;
    /// See [`RsmqConnection::send_message`].
    fn send_message<E: Into<RedisBytes> + Send>(
        &self,
        qname: &str,
        message: E,
        delay: Option<Duration>,
    ) -> RsmqResult<String>;
    /// See [`RsmqConnection::set_queue_attributes`].
    fn set_queue_attributes(
        &self,
        qname: &str,
        vt: Option<Duration>,
        delay: Option<Duration>,
        maxsize: Option<i64>,
    ) -> RsmqResult<RsmqQueueAttributes>;
    /// See [`RsmqConnection::send_message_batch`].
    fn send_message_batch<E: Into<RedisBytes> + Send>(
        &self,
        qname: &str,
        messages: Vec<E>,
        delay: Option<Duration>,
    ) -> RsmqResult<Vec<String>>;
    /// See [`RsmqConnection::receive_message_batch`].
    fn receive_message_batch<E: TryFrom<RedisBytes, Error = Vec<u8>>>(
        &self,
        qname: &str,
        vt: Option<Duration>,
        max: u32,
    ) -> RsmqResult<Vec<RsmqMessage<E>>>;
    /// See [`RsmqConnection::delete_message_batch`].
    fn delete_message_batch<S: AsRef<str>>(&self, qname: &str, ids: &[S]) -> RsmqResult<u64>;
    /// See [`RsmqConnection::change_message_visibility_batch`].
    fn change_message_visibility_batch<S: AsRef<str>>(
        &self,
        qname: &str,
        ids: &[S],
        vt: Duration,
    ) -> RsmqResult<u64>;
    /// See [`RsmqConnection::move_message`].
    fn move_message(&self, src: &str, message_id: &str, dst: &str) -> RsmqResult<bool>;
    /// See [`RsmqConnection::receive_message_or_dlq`].
    fn receive_message_or_dlq<E: TryFrom<RedisBytes, Error = Vec<u8>>>(
        &self,
        qname: &str,
        vt: Option<Duration>,
        dlq: &str,
        max_receives: u64,
    ) -> RsmqResult<Option<RsmqMessage<E>>>;
    /// See [`RsmqConnection::redrive`].
    fn redrive(&self, dlq: &str, dst: &str, max: u32) -> RsmqResult<u64>;
    /// See [`RsmqConnection::receive_message_wait`].
    fn receive_message_wait<E: TryFrom<RedisBytes, Error = Vec<u8>>>(
        &self,
        qname: &str,
        vt: Option<Duration>,
        wait: Duration,
    ) -> RsmqResult<Option<RsmqMessage<E>>>;
    /// See [`RsmqConnection::peek_messages`].
    fn peek_messages<E: TryFrom<RedisBytes, Error = Vec<u8>>>(
        &self,
        qname: &str,
        max: u32,
    ) -> RsmqResult<Vec<RsmqMessage<E>>>;
    /// See [`RsmqConnection::purge_queue`].
    fn purge_queue(&self, qname: &str) -> RsmqResult<u64>;
    /// See [`RsmqConnection::live_workers`].
    fn live_workers(&self) -> RsmqResult<Vec<crate::LiveWorker>>;

    /// See [`RsmqConnection::server_memory`].
    fn server_memory(&self) -> RsmqResult<crate::ServerMemory>;
    /// See [`RsmqConnection::browse_messages`].
    fn browse_messages<E: TryFrom<RedisBytes, Error = Vec<u8>>>(
        &self,
        qname: &str,
        cursor: u64,
        max: u32,
    ) -> RsmqResult<crate::MessagePage<E>>;
    /// See [`RsmqConnection::get_message`].
    fn get_message<E: TryFrom<RedisBytes, Error = Vec<u8>>>(
        &self,
        qname: &str,
        message_id: &str,
    ) -> RsmqResult<Option<crate::BrowsedMessage<E>>>;
}

/// Owns the runtime; shuts it down without blocking, so dropping the client inside an async
/// context never panics.
struct Runtime(Option<tokio::runtime::Runtime>);

impl Drop for Runtime {
    fn drop(&mut self) {
        if let Some(rt) = self.0.take() {
            rt.shutdown_background();
        }
    }
}

impl Runtime {
    fn new() -> RsmqResult<Self> {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("rsmq-sync")
            .enable_all()
            .build()
            .map(|rt| Runtime(Some(rt)))
            .map_err(|e| RsmqError::TokioStart(crate::SharedError::new(e)))
    }

    fn handle(&self) -> &tokio::runtime::Handle {
        self.0.as_ref().expect("present until drop").handle()
    }
}

/// The blocking client.
///
/// Cloning is cheap (clones share the runtime and the connection); it is `Send + Sync`.
///
/// ```no_run
/// use rsmq_async::{RsmqConnectionSync, RsmqSync};
///
/// fn main() -> rsmq_async::RsmqResult<()> {
///     let rsmq = RsmqSync::connect(Default::default())?;
///     rsmq.send_message("myqueue", "hello", None)?;
///     Ok(())
/// }
/// ```
#[derive(Clone)]
pub struct RsmqSync {
    inner: Rsmq,
    runtime: Arc<Runtime>,
}

impl std::fmt::Debug for RsmqSync {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RsmqSync")
            .field("inner", &self.inner)
            .finish()
    }
}

/// Runs `fut` on `runtime` and waits for it on a plain channel (never `block_on`).
fn wait<T, F>(runtime: &Runtime, fut: F) -> RsmqResult<T>
where
    T: Send + 'static,
    F: Future<Output = RsmqResult<T>> + Send + 'static,
{
    let (tx, rx) = mpsc::sync_channel(1);
    runtime.handle().spawn(async move {
        let _ = tx.send(fut.await);
    });
    rx.recv().unwrap_or_else(|_| {
        Err(RsmqError::RedisError(
            (redis::ErrorKind::Io, "the RsmqSync runtime stopped").into(),
        ))
    })
}

impl RsmqSync {
    /// Connects, for use from async code as in earlier versions:
    /// `RsmqSync::new(options).await?`. From blocking code, use [`connect`](Self::connect).
    ///
    /// ```no_run
    /// use rsmq_async::{RsmqConnectionSync, RsmqOptions, RsmqSync};
    ///
    /// # async fn f() -> rsmq_async::RsmqResult<()> {
    /// let rsmq = RsmqSync::new(RsmqOptions::default()).await?;
    /// // Hand it to blocking code, off the async threads.
    /// let id = tokio::task::spawn_blocking(move || rsmq.send_message("jobs", "hello", None))
    ///     .await
    ///     .expect("blocking task")?;
    /// # Ok(()) }
    /// ```
    pub async fn new(options: RsmqOptions) -> RsmqResult<RsmqSync> {
        let runtime = Runtime::new()?;
        let inner = runtime
            .handle()
            .spawn(Rsmq::new(options))
            .await
            .map_err(|e| RsmqError::RedisError(std::io::Error::other(e.to_string()).into()))??;
        Ok(RsmqSync {
            inner,
            runtime: Arc::new(runtime),
        })
    }

    /// Connects, blocking. Works with or without a surrounding runtime.
    ///
    /// ```no_run
    /// let rsmq = rsmq_async::RsmqSync::connect(Default::default())?;
    /// # Ok::<(), rsmq_async::RsmqError>(())
    /// ```
    pub fn connect(options: RsmqOptions) -> RsmqResult<RsmqSync> {
        let runtime = Runtime::new()?;
        let inner = wait(&runtime, Rsmq::new(options))?;
        Ok(RsmqSync {
            inner,
            runtime: Arc::new(runtime),
        })
    }

    /// Connects to a Redis Cluster, blocking, as [`Rsmq::new_cluster`] does (feature
    /// `cluster`): the namespace must carry a hash tag.
    ///
    /// ```no_run
    /// use rsmq_async::{RsmqConnectionSync, RsmqOptions, RsmqSync};
    ///
    /// let options = RsmqOptions { ns: "{app}".into(), ..Default::default() };
    /// let rsmq = RsmqSync::connect_cluster(["redis://10.0.0.1:7000"], options)?;
    /// rsmq.send_message("jobs", "hello", None)?;
    /// # Ok::<(), rsmq_async::RsmqError>(())
    /// ```
    #[cfg(feature = "cluster")]
    #[cfg_attr(docsrs, doc(cfg(feature = "cluster")))]
    pub fn connect_cluster<I, S>(nodes: I, options: RsmqOptions) -> RsmqResult<RsmqSync>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let nodes: Vec<String> = nodes.into_iter().map(|n| n.as_ref().to_string()).collect();
        let runtime = Runtime::new()?;
        let inner = wait(&runtime, Rsmq::new_cluster(nodes, options))?;
        Ok(RsmqSync {
            inner,
            runtime: Arc::new(runtime),
        })
    }

    /// Connects through Redis Sentinel, blocking, as [`Rsmq::new_sentinel`] does (feature
    /// `sentinel`): the client follows the master `master_name` through failovers.
    ///
    /// ```no_run
    /// use rsmq_async::{RsmqConnectionSync, RsmqOptions, RsmqSync};
    ///
    /// let rsmq = RsmqSync::connect_sentinel(["redis://10.0.0.1:26379"], "mymaster", RsmqOptions::default())?;
    /// rsmq.send_message("jobs", "hello", None)?;
    /// # Ok::<(), rsmq_async::RsmqError>(())
    /// ```
    #[cfg(feature = "sentinel")]
    #[cfg_attr(docsrs, doc(cfg(feature = "sentinel")))]
    pub fn connect_sentinel<I, S>(
        sentinels: I,
        master_name: &str,
        options: RsmqOptions,
    ) -> RsmqResult<RsmqSync>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let sentinels: Vec<String> = sentinels
            .into_iter()
            .map(|n| n.as_ref().to_string())
            .collect();
        let master = master_name.to_string();
        let runtime = Runtime::new()?;
        let inner = wait(&runtime, async move {
            Rsmq::new_sentinel(sentinels, &master, options).await
        })?;
        Ok(RsmqSync {
            inner,
            runtime: Arc::new(runtime),
        })
    }

    /// Runs an operation of the async client on the runtime and waits for it.
    fn run<T, F, Fut>(&self, op: F) -> RsmqResult<T>
    where
        T: Send + 'static,
        F: FnOnce(Rsmq) -> Fut,
        Fut: Future<Output = RsmqResult<T>> + Send + 'static,
    {
        wait(&self.runtime, op(self.inner.clone()))
    }
}

impl crate::__private::Sealed for RsmqSync {}

impl RsmqConnectionSync for RsmqSync {
    fn change_message_visibility(
        &self,
        qname: &str,
        message_id: &str,
        vt: Duration,
    ) -> RsmqResult<bool> {
        let (q, id) = (qname.to_owned(), message_id.to_owned());
        self.run(|c| async move { c.change_message_visibility(&q, &id, vt).await })
    }

    fn create_queue(
        &self,
        qname: &str,
        vt: Option<Duration>,
        delay: Option<Duration>,
        maxsize: Option<i64>,
    ) -> RsmqResult<()> {
        let q = qname.to_owned();
        self.run(|c| async move { c.create_queue(&q, vt, delay, maxsize).await })
    }

    fn delete_message(&self, qname: &str, message_id: &str) -> RsmqResult<bool> {
        let (q, id) = (qname.to_owned(), message_id.to_owned());
        self.run(|c| async move { c.delete_message(&q, &id).await })
    }

    fn delete_queue(&self, qname: &str) -> RsmqResult<()> {
        let q = qname.to_owned();
        self.run(|c| async move { c.delete_queue(&q).await })
    }

    fn get_queue_attributes(&self, qname: &str) -> RsmqResult<RsmqQueueAttributes> {
        let q = qname.to_owned();
        self.run(|c| async move { c.get_queue_attributes(&q).await })
    }

    fn list_queues(&self) -> RsmqResult<Vec<String>> {
        self.run(|c| async move { c.list_queues().await })
    }

    fn pop_message<E: TryFrom<RedisBytes, Error = Vec<u8>>>(
        &self,
        qname: &str,
    ) -> RsmqResult<Option<RsmqMessage<E>>> {
        let q = qname.to_owned();
        let raw = self.run(|c| async move { c.pop_message::<Vec<u8>>(&q).await })?;
        raw.map(RsmqMessage::decode).transpose()
    }

    fn receive_message<E: TryFrom<RedisBytes, Error = Vec<u8>>>(
        &self,
        qname: &str,
        vt: Option<Duration>,
    ) -> RsmqResult<Option<RsmqMessage<E>>> {
        let q = qname.to_owned();
        let raw = self.run(|c| async move { c.receive_message::<Vec<u8>>(&q, vt).await })?;
        raw.map(RsmqMessage::decode).transpose()
    }

    fn send_message<E: Into<RedisBytes> + Send>(
        &self,
        qname: &str,
        message: E,
        delay: Option<Duration>,
    ) -> RsmqResult<String> {
        let (q, body) = (qname.to_owned(), message.into());
        self.run(|c| async move { c.send_message(&q, body, delay).await })
    }

    fn set_queue_attributes(
        &self,
        qname: &str,
        vt: Option<Duration>,
        delay: Option<Duration>,
        maxsize: Option<i64>,
    ) -> RsmqResult<RsmqQueueAttributes> {
        let q = qname.to_owned();
        self.run(|c| async move { c.set_queue_attributes(&q, vt, delay, maxsize).await })
    }

    fn send_message_batch<E: Into<RedisBytes> + Send>(
        &self,
        qname: &str,
        messages: Vec<E>,
        delay: Option<Duration>,
    ) -> RsmqResult<Vec<String>> {
        let q = qname.to_owned();
        let bodies: Vec<RedisBytes> = messages.into_iter().map(Into::into).collect();
        self.run(|c| async move { c.send_message_batch(&q, bodies, delay).await })
    }

    fn receive_message_batch<E: TryFrom<RedisBytes, Error = Vec<u8>>>(
        &self,
        qname: &str,
        vt: Option<Duration>,
        max: u32,
    ) -> RsmqResult<Vec<RsmqMessage<E>>> {
        let q = qname.to_owned();
        let raw =
            self.run(|c| async move { c.receive_message_batch::<Vec<u8>>(&q, vt, max).await })?;
        raw.into_iter().map(RsmqMessage::decode).collect()
    }

    fn delete_message_batch<S: AsRef<str>>(&self, qname: &str, ids: &[S]) -> RsmqResult<u64> {
        let q = qname.to_owned();
        let ids: Vec<String> = ids.iter().map(|i| i.as_ref().to_owned()).collect();
        self.run(|c| async move { c.delete_message_batch(&q, &ids).await })
    }

    fn change_message_visibility_batch<S: AsRef<str>>(
        &self,
        qname: &str,
        ids: &[S],
        vt: Duration,
    ) -> RsmqResult<u64> {
        let q = qname.to_owned();
        let ids: Vec<String> = ids.iter().map(|i| i.as_ref().to_owned()).collect();
        self.run(|c| async move { c.change_message_visibility_batch(&q, &ids, vt).await })
    }

    fn move_message(&self, src: &str, message_id: &str, dst: &str) -> RsmqResult<bool> {
        let (s, id, d) = (src.to_owned(), message_id.to_owned(), dst.to_owned());
        self.run(|c| async move { c.move_message(&s, &id, &d).await })
    }

    fn receive_message_or_dlq<E: TryFrom<RedisBytes, Error = Vec<u8>>>(
        &self,
        qname: &str,
        vt: Option<Duration>,
        dlq: &str,
        max_receives: u64,
    ) -> RsmqResult<Option<RsmqMessage<E>>> {
        let (q, d) = (qname.to_owned(), dlq.to_owned());
        let raw = self.run(|c| async move {
            c.receive_message_or_dlq::<Vec<u8>>(&q, vt, &d, max_receives)
                .await
        })?;
        raw.map(RsmqMessage::decode).transpose()
    }

    fn redrive(&self, dlq: &str, dst: &str, max: u32) -> RsmqResult<u64> {
        let (q, d) = (dlq.to_owned(), dst.to_owned());
        self.run(|c| async move { c.redrive(&q, &d, max).await })
    }

    fn receive_message_wait<E: TryFrom<RedisBytes, Error = Vec<u8>>>(
        &self,
        qname: &str,
        vt: Option<Duration>,
        wait: Duration,
    ) -> RsmqResult<Option<RsmqMessage<E>>> {
        let q = qname.to_owned();
        let raw =
            self.run(|c| async move { c.receive_message_wait::<Vec<u8>>(&q, vt, wait).await })?;
        raw.map(RsmqMessage::decode).transpose()
    }

    fn peek_messages<E: TryFrom<RedisBytes, Error = Vec<u8>>>(
        &self,
        qname: &str,
        max: u32,
    ) -> RsmqResult<Vec<RsmqMessage<E>>> {
        let q = qname.to_owned();
        let raw = self.run(|c| async move { c.peek_messages::<Vec<u8>>(&q, max).await })?;
        raw.into_iter().map(RsmqMessage::decode).collect()
    }

    fn purge_queue(&self, qname: &str) -> RsmqResult<u64> {
        let q = qname.to_owned();
        self.run(|c| async move { c.purge_queue(&q).await })
    }

    fn live_workers(&self) -> RsmqResult<Vec<crate::LiveWorker>> {
        self.run(|c| async move { c.live_workers().await })
    }

    fn server_memory(&self) -> RsmqResult<crate::ServerMemory> {
        self.run(|c| async move { c.server_memory().await })
    }

    fn browse_messages<E: TryFrom<RedisBytes, Error = Vec<u8>>>(
        &self,
        qname: &str,
        cursor: u64,
        max: u32,
    ) -> RsmqResult<crate::MessagePage<E>> {
        let q = qname.to_owned();
        let raw =
            self.run(|c| async move { c.browse_messages::<Vec<u8>>(&q, cursor, max).await })?;
        raw.decode()
    }

    fn get_message<E: TryFrom<RedisBytes, Error = Vec<u8>>>(
        &self,
        qname: &str,
        message_id: &str,
    ) -> RsmqResult<Option<crate::BrowsedMessage<E>>> {
        let (q, id) = (qname.to_owned(), message_id.to_owned());
        let raw = self.run(|c| async move { c.get_message::<Vec<u8>>(&q, &id).await })?;
        raw.map(crate::BrowsedMessage::decode).transpose()
    }
}
