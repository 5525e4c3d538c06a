//! Typed JSON messages (feature `serde`): the [`Json`] body type and the [`RsmqJsonExt`]
//! methods `send_json`, `receive_json` and `pop_json`.
//!
//! Bodies are plain JSON text, so a JavaScript client can `JSON.parse` what Rust sends.

use std::future::Future;
use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::{RedisBytes, RsmqConnection, RsmqError, RsmqMessage, RsmqResult};

/// A JSON body. Receive with `receive_message::<Json<T>>`; a body that is not a `T` gives
/// [`RsmqError::CannotDecodeMessage`] carrying the message id and raw bytes.
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
/// # Ok::<(), rsmq_async::RsmqError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Json<T>(pub T);

impl<T: Serialize> Json<T> {
    /// Serializes the value. Fails with [`RsmqError::CannotEncodeMessage`] for values JSON
    /// cannot hold (for example a map whose keys are not strings).
    pub fn encode(&self) -> RsmqResult<RedisBytes> {
        serde_json::to_vec(&self.0)
            .map(RedisBytes)
            .map_err(|e| RsmqError::CannotEncodeMessage(e.to_string()))
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
pub trait RsmqJsonExt: RsmqConnection + Sync {
    /// Sends `value` as JSON.
    fn send_json<T: Serialize + Sync>(
        &self,
        qname: &str,
        value: &T,
        delay: Option<Duration>,
    ) -> impl Future<Output = RsmqResult<String>> + Send {
        async move {
            let body = Json(value).encode()?;
            self.send_message(qname, body, delay).await
        }
    }

    /// Receives a message and parses its body as JSON.
    fn receive_json<T: DeserializeOwned>(
        &self,
        qname: &str,
        vt: Option<Duration>,
    ) -> impl Future<Output = RsmqResult<Option<RsmqMessage<T>>>> + Send {
        async move {
            let m = self.receive_message::<Json<T>>(qname, vt).await?;
            Ok(m.map(unwrap_json))
        }
    }

    /// Pops a message and parses its body as JSON.
    fn pop_json<T: DeserializeOwned>(
        &self,
        qname: &str,
    ) -> impl Future<Output = RsmqResult<Option<RsmqMessage<T>>>> + Send {
        async move {
            let m = self.pop_message::<Json<T>>(qname).await?;
            Ok(m.map(unwrap_json))
        }
    }
}

impl<C: RsmqConnection + Sync> RsmqJsonExt for C {}
