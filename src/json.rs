//! Typed JSON messages (feature `serde`, on by default): the [`Json`] body type, the
//! [`RsmqJsonExt`] methods `send_json`, `receive_json` and `pop_json`, and their blocking
//! counterparts in `RsmqJsonExtSync` (with feature `sync`).
//!
//! Bodies are plain JSON text, so a JavaScript client can `JSON.parse` what Rust sends.

use std::future::Future;
use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::{RedisBytes, RsmqConnection, RsmqMessage, RsmqResult};

/// A JSON body. Send it like any body (`send_message(q, Json(value), None)`), receive with
/// `receive_message::<Json<T>>`; a body that is not a `T` gives
/// [`RsmqError::CannotDecodeMessage`](crate::RsmqError::CannotDecodeMessage) carrying the
/// message id and raw bytes.
///
/// ```
/// use rsmq_async::{Json, RedisBytes};
///
/// #[derive(serde::Serialize, serde::Deserialize, Debug, PartialEq)]
/// struct Job { id: u32 }
///
/// let body: RedisBytes = Json(Job { id: 7 }).encode()?;
/// assert_eq!(body.as_bytes(), br#"{"id":7}"#);
/// let Json(job) = Json::<Job>::try_from(body).unwrap();
/// assert_eq!(job, Job { id: 7 });
/// // As in rsmq_async 18, `Json<T>` converts into a body directly:
/// let body: RedisBytes = Json(Job { id: 8 }).into();
/// assert_eq!(body.as_bytes(), br#"{"id":8}"#);
/// # Ok::<(), rsmq_async::RsmqError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Json<T>(pub T);

impl<T: Serialize> Json<T> {
    /// Serializes the value. Fails with [`RsmqError::JsonError`](crate::RsmqError::JsonError)
    /// for values JSON cannot hold (for example a map whose keys are not strings).
    ///
    /// ```
    /// use rsmq_async::{Json, RsmqError};
    /// use std::collections::HashMap;
    ///
    /// let body = Json(vec![1, 2, 3]).encode()?;
    /// assert_eq!(body.as_bytes(), b"[1,2,3]");
    /// let pairs = Json(HashMap::from([((1, 2), "x")])); // keys that are not strings
    /// assert!(matches!(pairs.encode(), Err(RsmqError::JsonError(_))));
    /// # Ok::<(), RsmqError>(())
    /// ```
    pub fn encode(&self) -> RsmqResult<RedisBytes> {
        encode(&self.0)
    }
}

/// Serializes any value (sized or not) as a JSON body.
fn encode<T: Serialize + ?Sized>(value: &T) -> RsmqResult<RedisBytes> {
    Ok(RedisBytes(serde_json::to_vec(value)?))
}

/// # Panics
///
/// Panics when the value cannot be serialized as JSON (a map whose keys are not strings, or
/// a `Serialize` impl that fails), as in rsmq_async 18: a conversion cannot return an error.
/// Use [`RsmqJsonExt::send_json`] or [`Json::encode`] to get an error instead.
impl<T: Serialize> From<Json<T>> for RedisBytes {
    fn from(json: Json<T>) -> RedisBytes {
        match json.encode() {
            Ok(body) => body,
            Err(e) => panic!(
                "{e}; Json<T> into RedisBytes cannot fail gracefully, use send_json or Json::encode"
            ),
        }
    }
}

impl<T: DeserializeOwned> TryFrom<RedisBytes> for Json<T> {
    type Error = Vec<u8>;

    fn try_from(b: RedisBytes) -> Result<Self, Vec<u8>> {
        match serde_json::from_slice(&b.0) {
            Ok(v) => Ok(Json(v)),
            Err(_) => Err(b.0),
        }
    }
}

fn unwrap_json<T>(m: RsmqMessage<Json<T>>) -> RsmqMessage<T> {
    RsmqMessage {
        id: m.id,
        message: m.message.0,
        rc: m.rc,
        fr: m.fr,
        sent: m.sent,
    }
}

/// JSON conveniences for every async client.
///
/// ```no_run
/// use rsmq_async::{Rsmq, RsmqJsonExt};
///
/// #[derive(serde::Serialize, serde::Deserialize)]
/// struct Job { id: u32 }
///
/// # async fn f(rsmq: Rsmq) -> rsmq_async::RsmqResult<()> {
/// rsmq.send_json("jobs", &Job { id: 7 }, None).await?;
/// if let Some(msg) = rsmq.receive_json::<Job>("jobs", None).await? {
///     println!("job {}", msg.message.id);
/// }
/// # Ok(()) }
/// ```
pub trait RsmqJsonExt: RsmqConnection {
    /// Sends `value` as JSON. A value JSON cannot hold is
    /// [`RsmqError::JsonError`](crate::RsmqError::JsonError), and nothing is sent.
    fn send_json<T: Serialize + ?Sized>(
        &self,
        qname: &str,
        value: &T,
        delay: Option<Duration>,
    ) -> impl Future<Output = RsmqResult<String>> + Send {
        // Serialized before the future is made, so it holds neither `value` nor `self`.
        let sending = encode(value).map(|body| self.send_message(qname, body, delay));
        async move { sending?.await }
    }

    /// Receives a message and parses its body as JSON. A body that is not a `T` is
    /// [`RsmqError::CannotDecodeMessage`](crate::RsmqError::CannotDecodeMessage), carrying
    /// the message (it has been received).
    fn receive_json<T: DeserializeOwned>(
        &self,
        qname: &str,
        vt: Option<Duration>,
    ) -> impl Future<Output = RsmqResult<Option<RsmqMessage<T>>>> + Send {
        let receiving = self.receive_message::<Json<T>>(qname, vt);
        async move { Ok(receiving.await?.map(unwrap_json)) }
    }

    /// Pops a message and parses its body as JSON (errors as
    /// [`receive_json`](Self::receive_json)).
    fn pop_json<T: DeserializeOwned>(
        &self,
        qname: &str,
    ) -> impl Future<Output = RsmqResult<Option<RsmqMessage<T>>>> + Send {
        let popping = self.pop_message::<Json<T>>(qname);
        async move { Ok(popping.await?.map(unwrap_json)) }
    }
}

impl<C: RsmqConnection + ?Sized> RsmqJsonExt for C {}

#[cfg(feature = "sync")]
pub use blocking::RsmqJsonExtSync;

#[cfg(feature = "sync")]
mod blocking {
    use std::time::Duration;

    use serde::de::DeserializeOwned;
    use serde::Serialize;

    use super::{encode, unwrap_json, Json};
    use crate::{RsmqConnectionSync, RsmqMessage, RsmqResult};

    /// JSON conveniences for the blocking client (features `serde` and `sync`). Same
    /// meaning and errors as [`RsmqJsonExt`](crate::RsmqJsonExt).
    ///
    /// ```no_run
    /// use rsmq_async::{RsmqJsonExtSync, RsmqSync};
    ///
    /// #[derive(serde::Serialize, serde::Deserialize)]
    /// struct Job { id: u32 }
    ///
    /// let rsmq = RsmqSync::connect(Default::default())?;
    /// rsmq.send_json("jobs", &Job { id: 7 }, None)?;
    /// if let Some(msg) = rsmq.receive_json::<Job>("jobs", None)? {
    ///     println!("job {}", msg.message.id);
    /// }
    /// # Ok::<(), rsmq_async::RsmqError>(())
    /// ```
    pub trait RsmqJsonExtSync: RsmqConnectionSync {
        /// Sends `value` as JSON.
        fn send_json<T: Serialize + ?Sized>(
            &self,
            qname: &str,
            value: &T,
            delay: Option<Duration>,
        ) -> RsmqResult<String> {
            self.send_message(qname, encode(value)?, delay)
        }

        /// Receives a message and parses its body as JSON.
        fn receive_json<T: DeserializeOwned>(
            &self,
            qname: &str,
            vt: Option<Duration>,
        ) -> RsmqResult<Option<RsmqMessage<T>>> {
            Ok(self.receive_message::<Json<T>>(qname, vt)?.map(unwrap_json))
        }

        /// Pops a message and parses its body as JSON.
        fn pop_json<T: DeserializeOwned>(&self, qname: &str) -> RsmqResult<Option<RsmqMessage<T>>> {
            Ok(self.pop_message::<Json<T>>(qname)?.map(unwrap_json))
        }
    }

    impl<C: RsmqConnectionSync + ?Sized> RsmqJsonExtSync for C {}
}
