//! Sends: one message, a batch, and concurrent sends coalesced into one call. Large ones
//! store their bodies first (see `stored`).

use std::sync::Arc;
use std::time::Duration;

use redis::aio::ConnectionLike;

use super::lua::Script;
use super::{units_arg, Engine, Waited};
use crate::message::RedisBytes;
use crate::{id, reply, validate, RsmqError, RsmqResult};

pub(super) static SEND_MESSAGE: Script =
    Script::new("send_message", include_str!("send/send_message.lua"));
pub(super) static SEND_MESSAGE_BATCH: Script = Script::new(
    "send_message_batch",
    include_str!("send/send_message_batch.lua"),
);
pub(super) static SEND_MESSAGES: Script =
    Script::new("send_messages", include_str!("send/send_messages.lua"));

/// A send waiting to be coalesced: the body and the delay in score units (`None`: the
/// queue's).
pub(super) type SendRequest = (Vec<u8>, Option<u64>);

/// Batches of sends to one queue in flight at once on one client (see `Coalescers`).
pub(super) const SEND_IN_FLIGHT: usize = 3;

/// Batch and coalesced sends whose bodies add up to this many bytes store them with a plain
/// `HSET` instead of passing them through Lua (see `stored`): one more round trip, less
/// Redis time. Measured on the bench machine, the break-even is near 20 KiB.
pub(super) const STORED_SEND_BYTES: usize = 32 * 1024;

/// A `send_message_batch` of this many messages or more stores the bodies with `HSET` too
/// (see `stored`): Redis spends about a third less per message than when they pass through
/// Lua, which outweighs the extra round trip from here on.
const STORED_BATCH_LEN: usize = 50;

// `send_messages` unpacks two values per message, for at most `MAX_COALESCED` messages.
const _: () = assert!(crate::coalesce::MAX_COALESCED * 2 < super::lua::UNPACK_LIMIT);
// Batches below `STORED_BATCH_LEN` go through `send_message_batch` (two per message), the
// others through `send_batch_stored` (see there).
const _: () = assert!(STORED_BATCH_LEN * 2 < super::lua::UNPACK_LIMIT);

impl Engine {
    pub(crate) async fn send_message<C: ConnectionLike + Send>(
        &self,
        con: &mut C,
        qname: &str,
        message: RedisBytes,
        delay: Option<Duration>,
    ) -> RsmqResult<String> {
        validate::qname(qname)?;
        let delay = self.optional_units(delay, "delay")?;
        self.send_one(con, qname, message.0, delay).await
    }

    async fn send_one<C: ConnectionLike + Send>(
        &self,
        con: &mut C,
        qname: &str,
        message: Vec<u8>,
        delay: Option<u64>,
    ) -> RsmqResult<String> {
        let keys = self.keys(qname);
        let mut call = self.call(&SEND_MESSAGE, &[keys.messages(), keys.queue()]);
        call.arg(id::random_suffix())
            .arg(message)
            .arg(units_arg(delay))
            .arg(self.channel(qname));
        let (value, waited) = self.run_send(con, &call).await?;
        let id = reply::string(value, "message id")?;
        match waited {
            Some(w) => w.check_one(id),
            None => Ok(id),
        }
    }

    /// Sends through the send coalescer (when on): alone when nothing else is in flight for
    /// the queue, else in one call with the other sends that arrive meanwhile.
    pub(crate) async fn send_message_coalesced<C>(
        &self,
        mut con: C,
        qname: &str,
        message: RedisBytes,
        delay: Option<Duration>,
    ) -> RsmqResult<String>
    where
        C: ConnectionLike + Send + 'static,
    {
        validate::qname(qname)?;
        let delay = self.optional_units(delay, "delay")?;
        let Some(coalesce) = &self.coalesce else {
            return self.send_one(&mut con, qname, message.0, delay).await;
        };
        let engine = self.clone();
        let q: Arc<str> = qname.into();
        let key = q.clone();
        coalesce
            .send
            .call(key, (message.0, delay), move |requests| async move {
                engine.send_many(&mut con, &q, requests).await
            })
            .await
    }

    async fn send_many<C: ConnectionLike + Send>(
        &self,
        con: &mut C,
        qname: &str,
        mut requests: Vec<SendRequest>,
    ) -> Vec<RsmqResult<String>> {
        if requests.len() == 1 {
            if let Some((body, delay)) = requests.pop() {
                return vec![self.send_one(con, qname, body, delay).await];
            }
        }
        let bytes: usize = requests.iter().map(|(body, _)| body.len()).sum();
        if bytes >= STORED_SEND_BYTES {
            return self.send_stored(con, qname, requests).await;
        }
        let n = requests.len();
        let keys = self.keys(qname);
        let mut call = self.call(&SEND_MESSAGES, &[keys.messages(), keys.queue()]);
        call.arg(self.channel(qname));
        for (body, delay) in requests {
            call.arg(id::random_suffix())
                .arg(body)
                .arg(units_arg(delay));
        }
        let (reply, waited) = match self.durable {
            None => (call.invoke(con).await.map_err(RsmqError::from), None),
            Some((wanted, ms)) => match call.invoke_and_wait(con, wanted, ms).await {
                Ok((value, acked)) => (Ok(value), Some(Waited { wanted, acked })),
                Err(e) => (Err(RsmqError::from(e)), None),
            },
        };
        let results = reply::per_request(reply, n, |v| reply::string(v, "message id"));
        match waited {
            Some(w) => results
                .into_iter()
                .map(|r| r.and_then(|id| w.check_one(id)))
                .collect(),
            None => results,
        }
    }

    pub(crate) async fn send_message_batch<C: ConnectionLike + Send>(
        &self,
        con: &mut C,
        qname: &str,
        messages: Vec<RedisBytes>,
        delay: Option<Duration>,
    ) -> RsmqResult<Vec<String>> {
        validate::qname(qname)?;
        validate::batch_len(messages.len())?;
        let delay = self.optional_units(delay, "delay")?;
        if messages.is_empty() {
            return Ok(Vec::new());
        }
        let bytes: usize = messages.iter().map(|m| m.0.len()).sum();
        if bytes >= STORED_SEND_BYTES || messages.len() >= STORED_BATCH_LEN {
            return self.send_batch_stored(con, qname, messages, delay).await;
        }
        let keys = self.keys(qname);
        let mut call = self.call(&SEND_MESSAGE_BATCH, &[keys.messages(), keys.queue()]);
        call.arg(units_arg(delay)).arg(self.channel(qname));
        let suffixes: Vec<String> = messages.iter().map(|_| id::random_suffix()).collect();
        for (suffix, m) in suffixes.iter().zip(messages) {
            call.arg(suffix).arg(m.0);
        }
        let (value, waited) = self.run_send(con, &call).await?;
        let base = reply::batch_time(value)?;
        let ids = suffixes
            .into_iter()
            .enumerate()
            .map(|(i, suffix)| {
                let micros = base.checked_add(i as u64).ok_or_else(|| {
                    RsmqError::InvalidReply(format!("batch send: time {base} out of range"))
                })?;
                Ok(id::time_prefix(micros) + &suffix)
            })
            .collect::<RsmqResult<Vec<String>>>()?;
        match waited {
            Some(w) => w.check(ids),
            None => Ok(ids),
        }
    }
}
