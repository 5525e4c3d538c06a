//! The error type every operation returns.
//!
//! Validation errors carry the names and messages of the JavaScript client
//! (`Invalid qname format`, `vt must be between 0 and 9999999`, ...), so logs read the
//! same whichever client wrote them. Errors never contain a password.

use crate::message::RsmqMessage;

/// The result of every operation of this crate.
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
/// ```
#[derive(thiserror::Error, Debug, Clone)]
#[non_exhaustive]
pub enum RsmqError {
    /// Redis or the connection to it failed (I/O, authentication, timeout, server error).
    #[error("redis error: {0}")]
    RedisError(#[from] redis::RedisError),
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
    /// A message could not be serialized (feature `serde`). Holds the serializer's message.
    #[error("cannot encode message: {0}")]
    CannotEncodeMessage(String),
    /// The options ask for something this build cannot do (for example TLS without the
    /// `tls-rustls` feature).
    #[error("invalid options: {0}")]
    InvalidOptions(String),
    /// A connection URL could not be parsed. The text never contains the password.
    #[error("invalid Redis URL: {0}")]
    InvalidUrl(String),
}
