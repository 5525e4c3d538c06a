//! The [`RsmqConnection`] trait: the operations every client offers.

use std::future::Future;
use std::time::Duration;

use crate::{RedisBytes, RsmqMessage, RsmqQueueAttributes, RsmqResult};

/// The RSMQ operations. Write code against this trait to stay independent of the client.
///
/// Every method takes `&self` (the clients are cheap to clone and `Send + Sync`), so code
/// written for the `&mut self` methods of earlier versions compiles unchanged. Every
/// returned future is `Send`. Each call is one round trip to Redis.
///
/// Durations: a queue's `vt` and `delay` are stored in whole seconds (as the JavaScript
/// client reads them), so [`create_queue`](Self::create_queue) and
/// [`set_queue_attributes`](Self::set_queue_attributes) reject fractions with
/// [`RsmqError::NotWholeSeconds`](crate::RsmqError::NotWholeSeconds). The per-call `vt` of
/// [`receive_message`](Self::receive_message) and
/// [`change_message_visibility`](Self::change_message_visibility), and the per-call `delay` of
/// [`send_message`](Self::send_message), may be finer: they are rounded down to milliseconds
/// (microseconds with `break-js-comp`). All are at most 9 999 999 seconds.
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
pub trait RsmqConnection {
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
}
