//! The error type every operation returns.
//!
//! Validation errors carry the names and messages of the JavaScript client
//! (`Invalid qname format`, `vt must be between 0 and 9999999`, ...), so logs read the
//! same whichever client wrote them. Errors never contain a password.

use std::fmt;
use std::ops::Deref;
use std::sync::Arc;

use crate::message::RsmqMessage;

/// The result of every operation of this crate.
///
/// ```no_run
/// use rsmq_async::{Rsmq, RsmqConnection, RsmqResult};
///
/// async fn queue_length(rsmq: &Rsmq, qname: &str) -> RsmqResult<u64> {
///     Ok(rsmq.get_queue_attributes(qname).await?.msgs)
/// }
/// ```
pub type RsmqResult<T> = Result<T, RsmqError>;

/// Everything that can go wrong.
///
/// Validation errors ([`MissingParameter`](Self::MissingParameter),
/// [`InvalidFormat`](Self::InvalidFormat), [`InvalidValue`](Self::InvalidValue),
/// [`NotWholeSeconds`](Self::NotWholeSeconds), [`NoAttributeSupplied`](Self::NoAttributeSupplied))
/// are raised before anything is sent to Redis. Queue errors
/// ([`QueueNotFound`](Self::QueueNotFound), [`QueueExists`](Self::QueueExists),
/// [`MessageTooLong`](Self::MessageTooLong)) are raised by the server-side script before it
/// writes anything. In both cases Redis is left unchanged.
///
/// ```
/// use rsmq_async::RsmqError;
///
/// let err = RsmqError::InvalidValue("vt".into(), "0".into(), "9999999".into());
/// assert_eq!(err.to_string(), "vt must be between 0 and 9999999");
/// assert_eq!(RsmqError::QueueNotFound.to_string(), "Queue not found");
/// assert_eq!(err, RsmqError::InvalidValue("vt".into(), "0".into(), "9999999".into()));
/// ```
///
/// Errors compare equal when they are the same kind with the same contents (`PartialEq`, as
/// in rsmq_async 18); wrapped errors of other libraries ([`SharedError`]) only equal their
/// clones.
#[derive(thiserror::Error, Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum RsmqError {
    /// Redis or the connection to it failed (I/O, authentication, timeout, server error).
    ///
    /// A client that cannot reach Redis when it is made fails with
    /// [`CannotConnect`](Self::CannotConnect) instead, which names the address.
    #[error("redis error: {0}")]
    RedisError(#[from] redis::RedisError),
    /// A client could not connect to Redis when it was made (`Rsmq::new`, `PooledRsmq::new`,
    /// `RsmqSync::new`/`connect`): nothing listens at `addr`, the connection timed out, or
    /// Redis refused the credentials. `addr` is `host:port`; it never holds the password.
    ///
    /// ```
    /// use rsmq_async::{redis, RsmqError};
    ///
    /// let source = redis::RedisError::from(std::io::Error::from(std::io::ErrorKind::ConnectionRefused));
    /// let err = RsmqError::CannotConnect { addr: "127.0.0.1:6379".into(), source };
    /// assert_eq!(err.to_string(), "cannot connect to Redis at 127.0.0.1:6379: connection refused");
    /// ```
    #[error("cannot connect to Redis at {addr}: {source}")]
    CannotConnect {
        /// The address tried, `host:port`.
        addr: String,
        /// Why the connection failed.
        source: redis::RedisError,
    },
    /// `set_queue_attributes` was called without any attribute to change.
    #[error("No attribute was supplied")]
    NoAttributeSupplied,
    /// A required parameter (`qname`, `id`) was empty. Holds the parameter name.
    #[error("No {0} supplied")]
    MissingParameter(String),
    /// A parameter (`qname`, `id`) has the wrong form. Holds the parameter name.
    #[error("Invalid {0} format")]
    InvalidFormat(String),
    /// A number is out of range: `(name, min, max)`.
    #[error("{0} must be between {1} and {2}")]
    InvalidValue(String, String, String),
    /// A queue attribute (`vt` or `delay`) is not a whole number of seconds. The queue
    /// attributes are stored in whole seconds, as the JavaScript client reads them; per-call
    /// durations may be finer. Holds the attribute name.
    #[error("{0} must be a whole number of seconds for a queue attribute")]
    NotWholeSeconds(String),
    /// The message is longer (in bytes) than the queue's `maxsize`.
    #[error("Message too long")]
    MessageTooLong,
    /// The queue does not exist.
    #[error("Queue not found")]
    QueueNotFound,
    /// `create_queue` was called for a queue that exists.
    #[error("Queue exists")]
    QueueExists,
    /// The body of a received message could not be converted into the requested type.
    ///
    /// The message has already been received (or popped): it carries the id, the raw bytes
    /// and the counters, so the caller can delete it, move it aside or log it instead of
    /// seeing it again after every visibility timeout.
    #[error("message {} cannot be decoded into the requested type", .0.id)]
    CannotDecodeMessage(RsmqMessage<Vec<u8>>),
    /// The queue's stored `vt` is not a non-negative number (data written by another client).
    #[error("the queue's stored vt is not a valid number of seconds")]
    CannotParseVT,
    /// The queue's stored `delay` is not a non-negative number.
    #[error("the queue's stored delay is not a valid number of seconds")]
    CannotParseDelay,
    /// The queue's stored `maxsize` is not a number.
    #[error("the queue's stored maxsize is not a valid number")]
    CannotParseMaxsize,
    /// Redis answered with something this client does not understand, for example a queue
    /// field holding text where a number belongs. The text says what and where.
    #[error("unexpected reply from Redis: {0}")]
    InvalidReply(String),
    /// A batch (of messages, ids, or a `max` count) is larger than the maximum, which is
    /// held here ([`MAX_BATCH`](crate::MAX_BATCH)).
    #[error("a batch holds at most {0} items")]
    BatchTooLarge(usize),
    /// A move, dead-letter or redrive operation named the same queue as source and
    /// destination.
    #[error("source and destination queue must differ")]
    SameQueue,
    /// No pooled connection became free within the checkout timeout
    /// ([`PooledRsmq`](crate::PooledRsmq)): every connection is busy, or new ones cannot be
    /// opened.
    #[error("no pooled Redis connection became available within the checkout timeout")]
    PoolTimedOut,
    /// A value could not be serialized as JSON (feature `serde`): `send_json`,
    /// [`Json::encode`](crate::Json::encode), or `?` on a `serde_json` result. Nothing was
    /// sent. (A received body that is not the requested JSON gives
    /// [`CannotDecodeMessage`](Self::CannotDecodeMessage), which keeps the message.)
    #[cfg(feature = "serde")]
    #[cfg_attr(docsrs, doc(cfg(feature = "serde")))]
    #[error("cannot encode message as JSON: {0}")]
    JsonError(#[source] SharedError<serde_json::Error>),
    /// The blocking client ([`RsmqSync`](crate::RsmqSync)) could not start its Tokio runtime.
    #[error("cannot start the Tokio runtime of the blocking client: {0}")]
    TokioStart(#[source] SharedError<std::io::Error>),
    /// A durable send ([`RsmqOptions::durable`](crate::RsmqOptions::durable)) is queued, but
    /// fewer replicas than asked acknowledged it within the timeout: it may be lost if the
    /// master fails now. `ids` are the queued messages' ids (one for `send_message`, all of
    /// a batch); `acked` is how many replicas acknowledged, `wanted` how many were asked for.
    ///
    /// ```
    /// use rsmq_async::RsmqError;
    ///
    /// let err = RsmqError::NotDurable { ids: vec!["id1".into()], acked: 0, wanted: 1 };
    /// assert_eq!(err.to_string(), "queued as id1, but 0 of 1 replicas acknowledged it in time");
    /// ```
    #[error("queued as {}, but {acked} of {wanted} replicas acknowledged it in time", ids.join(", "))]
    NotDurable {
        /// The ids of the messages, which are queued.
        ids: Vec<String>,
        /// Replicas that acknowledged the write.
        acked: u64,
        /// Replicas asked for.
        wanted: u32,
    },
    /// The options ask for something this build cannot do (for example TLS without the
    /// `tls-rustls` feature).
    #[error("invalid options: {0}")]
    InvalidOptions(String),
    /// A connection URL could not be parsed. The text never contains the password.
    #[error("invalid Redis URL: {0}")]
    InvalidUrl(String),
    /// Never returned. Kept so that code written for rsmq_async 18 that names it compiles.
    #[doc(hidden)]
    #[deprecated(note = "never returned: a client always holds a connection")]
    #[error("No connection acquired")]
    NoConnectionAcquired,
    /// Never returned. Kept so that code written for rsmq_async 18 that names it compiles.
    #[doc(hidden)]
    #[deprecated(
        note = "never returned: a body that is not the requested type gives CannotDecodeMessage"
    )]
    #[error("Message not string")]
    MessageNotString,
    /// Never returned. Kept so that code written for rsmq_async 18 that names it compiles.
    #[doc(hidden)]
    #[deprecated(note = "never returned: making an id cannot fail")]
    #[error("Error when trying to create random value")]
    BugCreatingRandomValue,
}

#[cfg(feature = "serde")]
impl From<serde_json::Error> for RsmqError {
    fn from(e: serde_json::Error) -> Self {
        RsmqError::JsonError(SharedError::new(e))
    }
}

/// An error of another library inside an [`RsmqError`], shared behind an `Arc` so that
/// `RsmqError` stays `Clone`. The error is `.0` (or `*err` through `Deref`); `Display` and
/// `source` are the error's own.
///
/// Two `SharedError`s are equal only when one is a clone of the other.
///
/// ```
/// use rsmq_async::{RsmqError, SharedError};
///
/// let io = std::io::Error::other("no threads");
/// let err = RsmqError::TokioStart(SharedError::new(io));
/// if let RsmqError::TokioStart(e) = &err {
///     assert_eq!(e.to_string(), "no threads");
///     assert_eq!(e.0.kind(), std::io::ErrorKind::Other);
/// }
/// assert_eq!(err.clone(), err);
/// ```
#[derive(Debug)]
pub struct SharedError<T>(pub Arc<T>);

impl<T> SharedError<T> {
    /// Wraps an error.
    ///
    /// ```
    /// use rsmq_async::SharedError;
    ///
    /// let err = SharedError::new(std::io::Error::other("timed out"));
    /// assert_eq!(err.to_string(), "timed out");
    /// assert_eq!(err.clone(), err); // clones share the error
    /// assert_ne!(SharedError::new(std::io::Error::other("timed out")), err);
    /// ```
    pub fn new(error: T) -> Self {
        SharedError(Arc::new(error))
    }
}

impl<T> Clone for SharedError<T> {
    fn clone(&self) -> Self {
        SharedError(Arc::clone(&self.0))
    }
}

impl<T> PartialEq for SharedError<T> {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl<T> Deref for SharedError<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T: fmt::Display> fmt::Display for SharedError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl<T: std::error::Error> std::error::Error for SharedError<T> {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.0.source()
    }
}
