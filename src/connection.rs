//! The [`RsmqConnection`] trait: the operations every client offers.

use std::future::Future;
use std::time::Duration;

use crate::{
    BrowsedMessage, LiveWorker, MessagePage, RedisBytes, RsmqMessage, RsmqQueueAttributes,
    RsmqResult,
};

/// The RSMQ operations. Write code against this trait to stay independent of the client.
///
/// Every method takes `&self` (the clients are cheap to clone and `Send + Sync`), so code
/// written for the `&mut self` methods of earlier versions compiles unchanged. Every
/// returned future is `Send`. Each call is atomic in Redis and, except for batches of large
/// bodies, one round trip ([coalescing](crate::guide::coalescing#large-bodies)).
///
/// Cancel safety: dropping a call's future does not undo what Redis has done. A dropped
/// [`pop_message`](Self::pop_message) can lose its message; a dropped receive leaves its
/// message hidden until `vt`. See [cancel safety](crate::guide::reliability#cancel-safety).
///
/// The trait is sealed: only this crate's clients implement it, so operations can be added
/// without a breaking release. Its methods are generic, so it cannot be a `dyn` trait object;
/// write generic code (`C: RsmqConnection`) instead.
///
/// Durations: a queue's `vt` and `delay` are stored in whole seconds (as the JavaScript
/// client reads them), so [`create_queue`](Self::create_queue) and
/// [`set_queue_attributes`](Self::set_queue_attributes) reject fractions with
/// [`RsmqError::NotWholeSeconds`](crate::RsmqError::NotWholeSeconds). The per-call `vt` of
/// [`receive_message`](Self::receive_message) and
/// [`change_message_visibility`](Self::change_message_visibility), and the per-call `delay` of
/// [`send_message`](Self::send_message), may be finer: they are rounded down to milliseconds
/// (microseconds for a client whose [`ScoreUnit`](crate::ScoreUnit) is `Micros`). All are at
/// most 9 999 999 seconds.
///
/// ```no_run
/// use rsmq_async::{RsmqConnection, RsmqResult};
///
/// async fn drain<C: RsmqConnection>(rsmq: &mut C, qname: &str) -> RsmqResult<usize> {
///     let mut n = 0;
///     while let Some(msg) = rsmq.receive_message::<String>(qname, None).await? {
///         rsmq.delete_message(qname, &msg.id).await?;
///         n += 1;
///     }
///     Ok(n)
/// }
/// ```
pub trait RsmqConnection: crate::__private::Sealed {
    /// Sets the time at which a message next becomes receivable to now + `vt`.
    ///
    /// Returns whether the message existed. Errors with `QueueNotFound` when the queue does
    /// not exist.
    ///
    /// ```no_run
    /// # use rsmq_async::{Rsmq, RsmqConnection};
    /// # use std::time::Duration;
    /// # async fn f(rsmq: Rsmq, id: String) -> rsmq_async::RsmqResult<()> {
    /// // Give the worker 5 more minutes.
    /// let existed = rsmq.change_message_visibility("jobs", &id, Duration::from_secs(300)).await?;
    /// # Ok(()) }
    /// ```
    fn change_message_visibility(
        &self,
        qname: &str,
        message_id: &str,
        vt: Duration,
    ) -> impl Future<Output = RsmqResult<bool>> + Send;

    /// Creates a queue. Defaults: `vt` 30 s, `delay` 0, `maxsize` 65536 bytes. `maxsize` is
    /// 1024..=65536, or -1 for unlimited.
    ///
    /// Errors with `QueueExists` when the queue exists.
    ///
    /// ```no_run
    /// # use rsmq_async::{Rsmq, RsmqConnection};
    /// # use std::time::Duration;
    /// # async fn f(rsmq: Rsmq) -> rsmq_async::RsmqResult<()> {
    /// rsmq.create_queue("jobs", Some(Duration::from_secs(30)), Some(Duration::from_secs(0)), Some(65536)).await?;
    /// # Ok(()) }
    /// ```
    fn create_queue(
        &self,
        qname: &str,
        vt: Option<Duration>,
        delay: Option<Duration>,
        maxsize: Option<i64>,
    ) -> impl Future<Output = RsmqResult<()>> + Send;

    /// Deletes a message. Returns whether it was there. Does not check that the queue exists.
    ///
    /// ```no_run
    /// # use rsmq_async::{Rsmq, RsmqConnection};
    /// # async fn f(rsmq: Rsmq) -> rsmq_async::RsmqResult<()> {
    /// if let Some(msg) = rsmq.receive_message::<String>("jobs", None).await? {
    ///     rsmq.delete_message("jobs", &msg.id).await?;
    /// }
    /// # Ok(()) }
    /// ```
    fn delete_message(
        &self,
        qname: &str,
        message_id: &str,
    ) -> impl Future<Output = RsmqResult<bool>> + Send;

    /// Deletes a queue and all its messages. Errors with `QueueNotFound`.
    ///
    /// ```no_run
    /// # use rsmq_async::{Rsmq, RsmqConnection};
    /// # async fn f(rsmq: Rsmq) -> rsmq_async::RsmqResult<()> {
    /// rsmq.delete_queue("jobs").await?;
    /// # Ok(()) }
    /// ```
    fn delete_queue(&self, qname: &str) -> impl Future<Output = RsmqResult<()>> + Send;

    /// Reads a queue's attributes and counters. Errors with `QueueNotFound`.
    ///
    /// ```no_run
    /// # use rsmq_async::{Rsmq, RsmqConnection};
    /// # async fn f(rsmq: Rsmq) -> rsmq_async::RsmqResult<()> {
    /// let attrs = rsmq.get_queue_attributes("jobs").await?;
    /// println!("{} messages, {} hidden", attrs.msgs, attrs.hiddenmsgs);
    /// # Ok(()) }
    /// ```
    fn get_queue_attributes(
        &self,
        qname: &str,
    ) -> impl Future<Output = RsmqResult<RsmqQueueAttributes>> + Send;

    /// Lists the queues of the namespace (in no particular order).
    ///
    /// ```no_run
    /// # use rsmq_async::{Rsmq, RsmqConnection};
    /// # async fn f(rsmq: Rsmq) -> rsmq_async::RsmqResult<()> {
    /// for name in rsmq.list_queues().await? {
    ///     println!("{name}");
    /// }
    /// # Ok(()) }
    /// ```
    fn list_queues(&self) -> impl Future<Output = RsmqResult<Vec<String>>> + Send;

    /// Receives and deletes the next message in one atomic step (at-most-once delivery).
    ///
    /// `None` when no message is receivable. Errors with `QueueNotFound`; with
    /// `CannotDecodeMessage` (carrying the id and raw bytes) when the body is not an `E`.
    ///
    /// ```no_run
    /// # use rsmq_async::{Rsmq, RsmqConnection};
    /// # async fn f(rsmq: Rsmq) -> rsmq_async::RsmqResult<()> {
    /// if let Some(msg) = rsmq.pop_message::<String>("jobs").await? {
    ///     println!("{}", msg.message);
    /// }
    /// # Ok(()) }
    /// ```
    fn pop_message<E: TryFrom<RedisBytes, Error = Vec<u8>>>(
        &self,
        qname: &str,
    ) -> impl Future<Output = RsmqResult<Option<RsmqMessage<E>>>> + Send;

    /// Receives the next message and hides it for `vt` (default: the queue's vt). Delete it
    /// after processing, or it is delivered again when `vt` expires (at-least-once).
    ///
    /// `None` when no message is receivable. Errors with `QueueNotFound`; with
    /// `CannotDecodeMessage` (carrying the id and raw bytes) when the body is not an `E`.
    ///
    /// ```no_run
    /// # use rsmq_async::{Rsmq, RsmqConnection};
    /// # use std::time::Duration;
    /// # async fn f(rsmq: Rsmq) -> rsmq_async::RsmqResult<()> {
    /// let msg = rsmq.receive_message::<Vec<u8>>("jobs", Some(Duration::from_secs(60))).await?;
    /// # Ok(()) }
    /// ```
    fn receive_message<E: TryFrom<RedisBytes, Error = Vec<u8>>>(
        &self,
        qname: &str,
        vt: Option<Duration>,
    ) -> impl Future<Output = RsmqResult<Option<RsmqMessage<E>>>> + Send;

    /// Sends a message, receivable after `delay` (default: the queue's delay). Returns its id.
    ///
    /// Errors with `QueueNotFound`; with `MessageTooLong` when the body has more bytes than
    /// the queue's maxsize (the JavaScript client counts UTF-16 units instead).
    ///
    /// ```no_run
    /// # use rsmq_async::{Rsmq, RsmqConnection};
    /// # async fn f(rsmq: Rsmq) -> rsmq_async::RsmqResult<()> {
    /// let id = rsmq.send_message("jobs", "hello", None).await?;
    /// rsmq.send_message("jobs", vec![0u8, 1, 2], None).await?;
    /// # Ok(()) }
    /// ```
    fn send_message<E: Into<RedisBytes> + Send>(
        &self,
        qname: &str,
        message: E,
        delay: Option<Duration>,
    ) -> impl Future<Output = RsmqResult<String>> + Send;

    /// Changes a queue's vt, delay and/or maxsize, and returns the new attributes.
    ///
    /// Errors with `NoAttributeSupplied` when all three are `None`, `QueueNotFound`.
    ///
    /// ```no_run
    /// # use rsmq_async::{Rsmq, RsmqConnection};
    /// # use std::time::Duration;
    /// # async fn f(rsmq: Rsmq) -> rsmq_async::RsmqResult<()> {
    /// let attrs = rsmq.set_queue_attributes("jobs", Some(Duration::from_secs(60)), None, None).await?;
    /// assert_eq!(attrs.vt, Duration::from_secs(60));
    /// # Ok(()) }
    /// ```
    fn set_queue_attributes(
        &self,
        qname: &str,
        vt: Option<Duration>,
        delay: Option<Duration>,
        maxsize: Option<i64>,
    ) -> impl Future<Output = RsmqResult<RsmqQueueAttributes>> + Send;

    /// Sends several messages in one atomic step: all are stored or none (every body is
    /// checked against `maxsize` first). Returns the ids in input order; receivers get the
    /// messages in that order (their ids and scores increase through the batch). At most
    /// [`MAX_BATCH`](crate::MAX_BATCH) messages; with `realtime`, one notification per batch.
    ///
    /// ```no_run
    /// # use rsmq_async::{Rsmq, RsmqConnection};
    /// # async fn f(rsmq: Rsmq) -> rsmq_async::RsmqResult<()> {
    /// let ids = rsmq.send_message_batch("jobs", vec!["a", "b", "c"], None).await?;
    /// assert_eq!(ids.len(), 3);
    /// # Ok(()) }
    /// ```
    fn send_message_batch<E: Into<RedisBytes> + Send>(
        &self,
        qname: &str,
        messages: Vec<E>,
        delay: Option<Duration>,
    ) -> impl Future<Output = RsmqResult<Vec<String>>> + Send;

    /// Receives up to `max` messages (at most [`MAX_BATCH`](crate::MAX_BATCH)) in one atomic
    /// step, each hidden for `vt`. Returns fewer (or none) when fewer are receivable.
    ///
    /// If a body cannot be decoded into `E`, the call fails with `CannotDecodeMessage` for the
    /// first such message; the batch's other messages have been received too and come back
    /// after `vt`. Receive as `Vec<u8>` to decode each message yourself.
    ///
    /// ```no_run
    /// # use rsmq_async::{Rsmq, RsmqConnection};
    /// # async fn f(rsmq: Rsmq) -> rsmq_async::RsmqResult<()> {
    /// for msg in rsmq.receive_message_batch::<String>("jobs", None, 10).await? {
    ///     println!("{}", msg.message);
    /// }
    /// # Ok(()) }
    /// ```
    fn receive_message_batch<E: TryFrom<RedisBytes, Error = Vec<u8>> + Send>(
        &self,
        qname: &str,
        vt: Option<Duration>,
        max: u32,
    ) -> impl Future<Output = RsmqResult<Vec<RsmqMessage<E>>>> + Send;

    /// Deletes several messages in one atomic step. Returns how many were there.
    ///
    /// ```no_run
    /// # use rsmq_async::{Rsmq, RsmqConnection};
    /// # async fn f(rsmq: Rsmq) -> rsmq_async::RsmqResult<()> {
    /// let batch = rsmq.receive_message_batch::<String>("jobs", None, 10).await?;
    /// let ids: Vec<&str> = batch.iter().map(|m| m.id.as_str()).collect();
    /// rsmq.delete_message_batch("jobs", &ids).await?;
    /// # Ok(()) }
    /// ```
    fn delete_message_batch<S: AsRef<str> + Sync>(
        &self,
        qname: &str,
        ids: &[S],
    ) -> impl Future<Output = RsmqResult<u64>> + Send;

    /// Changes the visibility of several messages in one atomic step. Returns how many were
    /// there. Errors with `QueueNotFound`.
    ///
    /// ```no_run
    /// # use rsmq_async::{Rsmq, RsmqConnection};
    /// # use std::time::Duration;
    /// # async fn f(rsmq: Rsmq, ids: Vec<String>) -> rsmq_async::RsmqResult<()> {
    /// rsmq.change_message_visibility_batch("jobs", &ids, Duration::ZERO).await?;
    /// # Ok(()) }
    /// ```
    fn change_message_visibility_batch<S: AsRef<str> + Sync>(
        &self,
        qname: &str,
        ids: &[S],
        vt: Duration,
    ) -> impl Future<Output = RsmqResult<u64>> + Send;

    /// Moves a message from `src` to `dst` in one atomic step, keeping its id, body, `rc`
    /// and `fr`; it is receivable in `dst` at once. Returns whether it was in `src`. Both
    /// queues must exist (`QueueNotFound`) and differ (`SameQueue`). A move counts as a send
    /// of `dst` (its `totalsent` grows); the counters of `src` stay. The same holds for the
    /// moves of [`receive_message_or_dlq`](Self::receive_message_or_dlq) and
    /// [`redrive`](Self::redrive).
    ///
    /// ```no_run
    /// # use rsmq_async::{Rsmq, RsmqConnection};
    /// # async fn f(rsmq: Rsmq, id: String) -> rsmq_async::RsmqResult<()> {
    /// rsmq.move_message("jobs", &id, "jobs-dead").await?;
    /// # Ok(()) }
    /// ```
    fn move_message(
        &self,
        src: &str,
        message_id: &str,
        dst: &str,
    ) -> impl Future<Output = RsmqResult<bool>> + Send;

    /// Receives like [`receive_message`](Self::receive_message), but a message that has
    /// already been received `max_receives` times is moved to the dead-letter queue `dlq`
    /// (keeping `rc` and `fr`) instead, and the next one is tried, all in one atomic step.
    /// `max_receives = 0` sends everything to the DLQ. The DLQ is an ordinary queue; both
    /// must exist and differ.
    ///
    /// ```no_run
    /// # use rsmq_async::{Rsmq, RsmqConnection};
    /// # async fn f(rsmq: Rsmq) -> rsmq_async::RsmqResult<()> {
    /// // Give each job 5 attempts, then park it in jobs-dead.
    /// let msg = rsmq.receive_message_or_dlq::<String>("jobs", None, "jobs-dead", 5).await?;
    /// # Ok(()) }
    /// ```
    fn receive_message_or_dlq<E: TryFrom<RedisBytes, Error = Vec<u8>>>(
        &self,
        qname: &str,
        vt: Option<Duration>,
        dlq: &str,
        max_receives: u64,
    ) -> impl Future<Output = RsmqResult<Option<RsmqMessage<E>>>> + Send;

    /// Moves up to `max` receivable messages (at most [`MAX_BATCH`](crate::MAX_BATCH)) from
    /// the dead-letter queue `dlq` back to `dst`, oldest first, receivable at once, with their
    /// receive count and first-receive time reset so they get a fresh budget. Returns how
    /// many moved. Messages hidden in the DLQ (being inspected) stay.
    ///
    /// ```no_run
    /// # use rsmq_async::{Rsmq, RsmqConnection};
    /// # async fn f(rsmq: Rsmq) -> rsmq_async::RsmqResult<()> {
    /// let moved = rsmq.redrive("jobs-dead", "jobs", 100).await?;
    /// # Ok(()) }
    /// ```
    fn redrive(
        &self,
        dlq: &str,
        dst: &str,
        max: u32,
    ) -> impl Future<Output = RsmqResult<u64>> + Send;

    /// Receives a message, waiting up to `wait` for one to become receivable. Returns as soon
    /// as one does: it wakes on the realtime notification of producers with `realtime`, at
    /// the due time of the next hidden or delayed message, and at least every
    /// [`FALLBACK_POLL`](crate::FALLBACK_POLL) (a notification can be lost, and producers
    /// without `realtime` send none). `None` when `wait` passes without a message. A `wait`
    /// too long to represent (such as `Duration::MAX`) never passes.
    ///
    /// ```no_run
    /// # use rsmq_async::{Rsmq, RsmqConnection};
    /// # use std::time::Duration;
    /// # async fn f(rsmq: Rsmq) -> rsmq_async::RsmqResult<()> {
    /// loop {
    ///     if let Some(msg) = rsmq.receive_message_wait::<String>("jobs", None, Duration::from_secs(20)).await? {
    ///         rsmq.delete_message("jobs", &msg.id).await?;
    ///     }
    /// }
    /// # }
    /// ```
    fn receive_message_wait<E: TryFrom<RedisBytes, Error = Vec<u8>>>(
        &self,
        qname: &str,
        vt: Option<Duration>,
        wait: Duration,
    ) -> impl Future<Output = RsmqResult<Option<RsmqMessage<E>>>> + Send;

    /// Returns up to `max` receivable messages (at most [`MAX_BATCH`](crate::MAX_BATCH)), in
    /// receive order, without receiving them: nothing changes in Redis. `rc` and `fr` are as
    /// stored (0 for a message never received). Members without a body (left by a writer
    /// that crashed) are skipped, reading on past them up to 10 000 members. Errors with
    /// `QueueNotFound`.
    ///
    /// ```no_run
    /// # use rsmq_async::{Rsmq, RsmqConnection};
    /// # async fn f(rsmq: Rsmq) -> rsmq_async::RsmqResult<()> {
    /// let next = rsmq.peek_messages::<String>("jobs", 5).await?;
    /// # Ok(()) }
    /// ```
    fn peek_messages<E: TryFrom<RedisBytes, Error = Vec<u8>> + Send>(
        &self,
        qname: &str,
        max: u32,
    ) -> impl Future<Output = RsmqResult<Vec<RsmqMessage<E>>>> + Send;

    /// Removes every message of a queue and keeps the queue, its attributes and its
    /// counters. Returns how many messages it removed. Errors with `QueueNotFound`.
    ///
    /// It removes the message fields of the queue's hash and nothing else. A message field
    /// is `{id}` (the body), `{id}:rc` or `{id}:fr`, where `{id}` is a member of the queue's
    /// sorted set, or has the form of a message id (32 characters of `A-Z`, `a-z`, `0-9`
    /// and `:`) and is no member: such fields are left by a writer that crashed halfway.
    /// The attribute and counter fields (`vt`, `delay`, `maxsize`, `created`, `modified`,
    /// `totalsent`, `totalrecv`) and every other field stay.
    ///
    /// The purge is not atomic: it runs in steps of at most 500 messages, each one short
    /// script (a few milliseconds of Redis time on a queue of a million messages), so it
    /// never blocks Redis for long, and other clients keep working meanwhile. It removes
    /// the messages in the queue when it starts, except one that is received (and so hidden
    /// until later) while it runs, which may stay. A message sent while it runs may be
    /// removed or kept; one sent after it returns is kept.
    ///
    /// ```no_run
    /// # use rsmq_async::{Rsmq, RsmqConnection};
    /// # async fn f(rsmq: Rsmq) -> rsmq_async::RsmqResult<()> {
    /// let removed = rsmq.purge_queue("jobs").await?;
    /// # Ok(()) }
    /// ```
    fn purge_queue(&self, qname: &str) -> impl Future<Output = RsmqResult<u64>> + Send;

    /// The [`Worker`](crate::guide::workers)s running on the namespace, sorted by id: each
    /// registers itself in the hash `{ns}:.workers` when it starts and at every heartbeat,
    /// for three heartbeat intervals, and removes itself when it stops. A worker that died
    /// drops out of the list when its entry expires. Changes nothing. See
    /// [liveness](crate::guide::workers#liveness).
    ///
    /// ```no_run
    /// # use rsmq_async::{Rsmq, RsmqConnection};
    /// # async fn f(rsmq: Rsmq) -> rsmq_async::RsmqResult<()> {
    /// let serving = rsmq.live_workers().await?.into_iter().filter(|w| w.serves("jobs")).count();
    /// println!("{serving} workers consume jobs");
    /// # Ok(()) }
    /// ```
    fn live_workers(&self) -> impl Future<Output = RsmqResult<Vec<LiveWorker>>> + Send;

    /// The memory of the Redis server the namespace lives on (on a cluster, its master):
    /// used bytes, `maxmemory` and the eviction policy, from `INFO memory`. Changes nothing.
    /// [`ServerMemory::may_evict_messages`](crate::ServerMemory::may_evict_messages) says
    /// whether the policy can drop queues.
    ///
    /// ```no_run
    /// # use rsmq_async::{Rsmq, RsmqConnection};
    /// # async fn f(rsmq: Rsmq) -> rsmq_async::RsmqResult<()> {
    /// let memory = rsmq.server_memory().await?;
    /// println!("{} of {} bytes, policy {}", memory.used, memory.max, memory.policy);
    /// # Ok(()) }
    /// ```
    fn server_memory(&self) -> impl Future<Output = RsmqResult<crate::ServerMemory>> + Send;

    /// Writes a worker's liveness entry. For the worker runtime.
    #[doc(hidden)]
    fn register_worker(
        &self,
        id: &str,
        ttl: Duration,
        entry: &str,
    ) -> impl Future<Output = RsmqResult<()>> + Send;

    /// Removes a worker's liveness entry. For the worker runtime.
    #[doc(hidden)]
    fn unregister_worker(&self, id: &str) -> impl Future<Output = RsmqResult<()>> + Send;

    /// Returns one page of all of a queue's messages, hidden and delayed ones included, in
    /// the order they become receivable: up to `max` (at most [`MAX_BATCH`](crate::MAX_BATCH))
    /// from position `cursor` (0 for the first page), and the cursor of the next page
    /// ([`MessagePage::next`], `None` after the last). Nothing changes in Redis. Each message
    /// carries its `visible_at` time (epoch milliseconds) and whether it is hidden; `rc` and
    /// `fr` are as stored (0 for a message never received). Errors with `QueueNotFound`.
    ///
    /// The cursor is a position in the queue's order, so a page is one atomic read, but the
    /// pages together are no snapshot: messages sent, received, deleted or made visible
    /// between two calls move the others, and a message can then be seen twice or not at all.
    /// A page can hold fewer than `max` messages before the end (a member whose body was
    /// lost, left by a crashed writer, is skipped).
    ///
    /// ```no_run
    /// # use rsmq_async::{Rsmq, RsmqConnection};
    /// # async fn f(rsmq: Rsmq) -> rsmq_async::RsmqResult<()> {
    /// let mut cursor = Some(0);
    /// while let Some(at) = cursor {
    ///     let page = rsmq.browse_messages::<String>("jobs", at, 100).await?;
    ///     for m in &page.messages {
    ///         println!("{} hidden={} rc={}: {}", m.id, m.hidden, m.rc, m.message);
    ///     }
    ///     cursor = page.next;
    /// }
    /// # Ok(()) }
    /// ```
    fn browse_messages<E: TryFrom<RedisBytes, Error = Vec<u8>> + Send>(
        &self,
        qname: &str,
        cursor: u64,
        max: u32,
    ) -> impl Future<Output = RsmqResult<MessagePage<E>>> + Send;

    /// Returns the message with this id, hidden or not, without receiving it: nothing changes
    /// in Redis. `None` when the queue holds no such message. Errors with `QueueNotFound`,
    /// and with `InvalidFormat` for a string that is no message id.
    ///
    /// ```no_run
    /// # use rsmq_async::{Rsmq, RsmqConnection};
    /// # async fn f(rsmq: Rsmq, id: String) -> rsmq_async::RsmqResult<()> {
    /// match rsmq.get_message::<String>("jobs", &id).await? {
    ///     Some(m) => println!("rc={} visible at {} ms: {}", m.rc, m.visible_at, m.message),
    ///     None => println!("gone"),
    /// }
    /// # Ok(()) }
    /// ```
    fn get_message<E: TryFrom<RedisBytes, Error = Vec<u8>> + Send>(
        &self,
        qname: &str,
        message_id: &str,
    ) -> impl Future<Output = RsmqResult<Option<BrowsedMessage<E>>>> + Send;
}
