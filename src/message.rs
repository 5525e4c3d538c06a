//! Message bodies ([`RedisBytes`]) and received messages ([`RsmqMessage`]).
//!
//! A body is stored in Redis as raw bytes. Sending takes anything that is
//! `Into<RedisBytes>`; receiving converts the bytes with `TryFrom<RedisBytes>`, whose error
//! hands the bytes back so that a failed conversion never loses the message.

/// The raw bytes of a message body.
///
/// Built from `String`, `&str`, `Vec<u8>` and `&[u8]`; converted back into `String` (fails on
/// invalid UTF-8, returning the bytes) or `Vec<u8>`. Implement `Into<RedisBytes>` and
/// `TryFrom<RedisBytes, Error = Vec<u8>>` for your own types to send and receive them.
///
/// ```
/// use rsmq_async::RedisBytes;
///
/// struct Ping(u8);
///
/// impl From<Ping> for RedisBytes {
///     fn from(p: Ping) -> RedisBytes {
///         RedisBytes::from(vec![p.0])
///     }
/// }
///
/// impl TryFrom<RedisBytes> for Ping {
///     type Error = Vec<u8>;
///     fn try_from(b: RedisBytes) -> Result<Self, Vec<u8>> {
///         match b.into_bytes() {
///             v if v.len() == 1 => Ok(Ping(v[0])),
///             v => Err(v),
///         }
///     }
/// }
///
/// let bytes: RedisBytes = Ping(7).into();
/// assert_eq!(bytes.as_bytes(), &[7]);
/// assert_eq!(Ping::try_from(bytes).unwrap().0, 7);
/// assert!(String::try_from(RedisBytes::from(vec![0xff])).is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RedisBytes(pub(crate) Vec<u8>);

impl RedisBytes {
    /// The bytes, by value.
    ///
    /// ```
    /// assert_eq!(rsmq_async::RedisBytes::from("hi").into_bytes(), b"hi".to_vec());
    /// ```
    pub fn into_bytes(self) -> Vec<u8> {
        self.0
    }

    /// The bytes, borrowed.
    ///
    /// ```
    /// assert_eq!(rsmq_async::RedisBytes::from("hi").as_bytes(), b"hi");
    /// ```
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

impl From<String> for RedisBytes {
    fn from(s: String) -> Self {
        RedisBytes(s.into_bytes())
    }
}

impl From<&str> for RedisBytes {
    fn from(s: &str) -> Self {
        RedisBytes(s.as_bytes().to_vec())
    }
}

impl From<&String> for RedisBytes {
    fn from(s: &String) -> Self {
        RedisBytes(s.as_bytes().to_vec())
    }
}

impl From<Vec<u8>> for RedisBytes {
    fn from(v: Vec<u8>) -> Self {
        RedisBytes(v)
    }
}

impl From<&[u8]> for RedisBytes {
    fn from(v: &[u8]) -> Self {
        RedisBytes(v.to_vec())
    }
}

impl<const N: usize> From<&[u8; N]> for RedisBytes {
    fn from(v: &[u8; N]) -> Self {
        RedisBytes(v.to_vec())
    }
}

impl TryFrom<RedisBytes> for String {
    type Error = Vec<u8>;

    fn try_from(b: RedisBytes) -> Result<Self, Vec<u8>> {
        String::from_utf8(b.0).map_err(|e| e.into_bytes())
    }
}

impl TryFrom<RedisBytes> for Vec<u8> {
    type Error = Vec<u8>;

    fn try_from(b: RedisBytes) -> Result<Self, Vec<u8>> {
        Ok(b.0)
    }
}

/// A received (or popped) message.
///
/// Timestamps are epoch **milliseconds**, exactly as the JavaScript client reports them
/// (it gives `sent` with a fraction; here it is rounded down).
///
/// ```
/// use rsmq_async::RsmqMessage;
///
/// let m = RsmqMessage { id: "x".into(), message: "body".to_string(), rc: 1, fr: 1, sent: 1 };
/// assert_eq!(m.message, "body");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RsmqMessage<T = String> {
    /// The message id: 32 characters, the send time in base 36 microseconds followed by 22
    /// random alphanumerics.
    pub id: String,
    /// The body.
    pub message: T,
    /// Receive count: how many times the message has been received or popped, this time
    /// included.
    pub rc: u64,
    /// First receive time, epoch milliseconds (Redis clock).
    pub fr: u64,
    /// Send time, epoch milliseconds (Redis clock), derived from the id. 0 when the id was
    /// written by another program and does not start with a base-36 timestamp. The ids of a
    /// batch take consecutive microseconds from the batch's Redis time (so they sort in input
    /// order): a batch's later messages can name up to a millisecond after that time.
    pub sent: u64,
}

impl RsmqMessage<Vec<u8>> {
    /// Converts the raw body into `T`. On failure, the message with its raw bytes is returned
    /// inside [`RsmqError::CannotDecodeMessage`](crate::RsmqError::CannotDecodeMessage).
    pub(crate) fn decode<T>(self) -> crate::RsmqResult<RsmqMessage<T>>
    where
        T: TryFrom<RedisBytes, Error = Vec<u8>>,
    {
        let RsmqMessage {
            id,
            message,
            rc,
            fr,
            sent,
        } = self;
        match T::try_from(RedisBytes(message)) {
            Ok(message) => Ok(RsmqMessage {
                id,
                message,
                rc,
                fr,
                sent,
            }),
            Err(message) => Err(crate::RsmqError::CannotDecodeMessage(RsmqMessage {
                id,
                message,
                rc,
                fr,
                sent,
            })),
        }
    }
}

/// A message as [`browse_messages`](crate::RsmqConnection::browse_messages) and
/// [`get_message`](crate::RsmqConnection::get_message) see it: hidden or not, with the time it
/// next becomes receivable. Reading it changes nothing in Redis.
///
/// Timestamps are epoch **milliseconds** (Redis clock), whatever the client's
/// [`ScoreUnit`](crate::ScoreUnit) (a microsecond score is rounded down).
///
/// ```no_run
/// # use rsmq_async::{Rsmq, RsmqConnection};
/// # async fn f(rsmq: Rsmq, id: String) -> rsmq_async::RsmqResult<()> {
/// if let Some(m) = rsmq.get_message::<String>("jobs", &id).await? {
///     let state = if m.hidden { "hidden" } else { "receivable" };
///     println!("{} ({state} from {} ms): {}", m.id, m.visible_at, m.message);
/// }
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct BrowsedMessage<T = String> {
    /// The message id (see [`RsmqMessage::id`]).
    pub id: String,
    /// The body.
    pub message: T,
    /// Receive count so far: 0 for a message never received.
    pub rc: u64,
    /// First receive time, epoch milliseconds; 0 for a message never received.
    pub fr: u64,
    /// Send time, epoch milliseconds, derived from the id (see [`RsmqMessage::sent`]).
    pub sent: u64,
    /// When the message is (or became) receivable: its score in the queue's sorted set, as
    /// epoch milliseconds.
    pub visible_at: u64,
    /// Whether the message was not receivable when it was read (`visible_at` after the
    /// Redis time of the read): delayed, or received and not yet due again.
    pub hidden: bool,
}

impl BrowsedMessage<Vec<u8>> {
    /// Converts the raw body into `T`. On failure, the message with its raw bytes is returned
    /// inside [`RsmqError::CannotDecodeMessage`](crate::RsmqError::CannotDecodeMessage).
    pub(crate) fn decode<T>(self) -> crate::RsmqResult<BrowsedMessage<T>>
    where
        T: TryFrom<RedisBytes, Error = Vec<u8>>,
    {
        let BrowsedMessage {
            id,
            message,
            rc,
            fr,
            sent,
            visible_at,
            hidden,
        } = self;
        // The body decodes as a received message's does, with the same error.
        let m = RsmqMessage {
            id,
            message,
            rc,
            fr,
            sent,
        }
        .decode::<T>()?;
        Ok(BrowsedMessage {
            id: m.id,
            message: m.message,
            rc: m.rc,
            fr: m.fr,
            sent: m.sent,
            visible_at,
            hidden,
        })
    }
}

/// One page of [`browse_messages`](crate::RsmqConnection::browse_messages): messages in the
/// order they become receivable, and the cursor of the next page.
///
/// ```no_run
/// # use rsmq_async::{Rsmq, RsmqConnection};
/// # async fn f(rsmq: Rsmq) -> rsmq_async::RsmqResult<()> {
/// let mut cursor = Some(0);
/// while let Some(at) = cursor {
///     let page = rsmq.browse_messages::<Vec<u8>>("jobs", at, 100).await?;
///     println!("{} messages", page.messages.len());
///     cursor = page.next;
/// }
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct MessagePage<T = String> {
    /// The messages of the page, in the order they become receivable (score, then id).
    pub messages: Vec<BrowsedMessage<T>>,
    /// The cursor of the next page; `None` when this page reached the end of the queue.
    pub next: Option<u64>,
}

impl MessagePage<Vec<u8>> {
    /// Converts every raw body into `T`; the first failure is the error.
    pub(crate) fn decode<T>(self) -> crate::RsmqResult<MessagePage<T>>
    where
        T: TryFrom<RedisBytes, Error = Vec<u8>>,
    {
        Ok(MessagePage {
            messages: self
                .messages
                .into_iter()
                .map(BrowsedMessage::decode)
                .collect::<crate::RsmqResult<_>>()?,
            next: self.next,
        })
    }
}
