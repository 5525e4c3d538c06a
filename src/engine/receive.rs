//! Receives: one message, pop, a batch, and concurrent receives coalesced into one batch.
//! Batches of large bodies read the bodies outside Lua (`receive_heads`).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use redis::aio::ConnectionLike;
use redis::Value;

use super::lua::Script;
use super::{decode_all, run_to_end, units_arg, Engine};
use crate::message::{RedisBytes, RsmqMessage};
use crate::validate::MAX_BATCH;
use crate::{reply, validate, RsmqError, RsmqResult};

pub(super) static RECEIVE_MESSAGE: Script = Script::new(
    "receive_message",
    include_str!("receive/receive_message.lua"),
);
pub(super) static POP_MESSAGE: Script =
    Script::new("pop_message", include_str!("receive/pop_message.lua"));
pub(super) static RECEIVE_MESSAGE_BATCH: Script = Script::new(
    "receive_message_batch",
    include_str!("receive/receive_message_batch.lua"),
);
pub(super) static RECEIVE_HEADS: Script =
    Script::new("receive_heads", include_str!("receive/receive_heads.lua"));

// The batch receives unpack three fields per message into one HMGET and up to four values
// per message into one HSET (see `lua/receive_batch.lua`).
const _: () = assert!(MAX_BATCH * 4 < super::lua::UNPACK_LIMIT);

/// A receive waits under its queue and vt: receives with different vts do not share a call.
pub(super) type ReceiveKey = (Arc<str>, Option<u64>);

/// What a receive gets: a message not yet decoded, or nothing.
pub(super) type Received = Option<RsmqMessage<Vec<u8>>>;

/// Batch and coalesced receives on a queue whose recent bodies average this many bytes read
/// the bodies with a plain `HMGET` after the script (see `receive_heads`).
const LARGE_BODY_BYTES: usize = 8 * 1024;

/// The most queues whose body sizes a client remembers (it forgets them all past this).
const REMEMBERED_QUEUES: usize = 4096;

/// The typical body size of each queue's receives on this client (a moving average), which
/// picks the way batch and coalesced receives read bodies.
#[derive(Debug, Default)]
pub(super) struct BodySizes(Mutex<HashMap<Arc<str>, usize>>);

impl BodySizes {
    fn map(&self) -> MutexGuard<'_, HashMap<Arc<str>, usize>> {
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Do the queue's recent receives bring large bodies?
    fn large(&self, qname: &str) -> bool {
        self.map()
            .get(qname)
            .is_some_and(|&size| size >= LARGE_BODY_BYTES)
    }

    /// Remembers the body sizes of a receive of several messages.
    fn note(&self, qname: &str, messages: &[RsmqMessage<Vec<u8>>]) {
        let Some(total) = messages
            .iter()
            .map(|m| m.message.len())
            .reduce(usize::saturating_add)
        else {
            return;
        };
        let mean = total / messages.len();
        let mut sizes = self.map();
        if let Some(size) = sizes.get_mut(qname) {
            *size = (size.saturating_mul(3) / 4).saturating_add(mean / 4);
            return;
        }
        if sizes.len() >= REMEMBERED_QUEUES {
            sizes.clear();
        }
        sizes.insert(qname.into(), mean);
    }
}

impl Engine {
    pub(crate) async fn receive_message<C, E>(
        &self,
        con: &mut C,
        qname: &str,
        vt: Option<Duration>,
    ) -> RsmqResult<Option<RsmqMessage<E>>>
    where
        C: ConnectionLike + Send,
        E: TryFrom<RedisBytes, Error = Vec<u8>>,
    {
        let raw = self.receive_next(con, qname, vt).await?.message();
        raw.map(RsmqMessage::decode).transpose()
    }

    /// Receives the next message, or tells when the next one is due (for long polling).
    pub(crate) async fn receive_next<C: ConnectionLike + Send>(
        &self,
        con: &mut C,
        qname: &str,
        vt: Option<Duration>,
    ) -> RsmqResult<reply::Received> {
        validate::qname(qname)?;
        let vt = self.optional_units(vt, "vt")?;
        self.receive_one(con, qname, vt).await
    }

    /// One receive; `vt` in score units (`None`: the queue's).
    async fn receive_one<C: ConnectionLike + Send>(
        &self,
        con: &mut C,
        qname: &str,
        vt: Option<u64>,
    ) -> RsmqResult<reply::Received> {
        let keys = self.keys(qname);
        let mut call = self.call(&RECEIVE_MESSAGE, &[keys.messages(), keys.queue()]);
        call.arg(units_arg(vt));
        reply::received(run_to_end(con, &call).await?)
    }

    /// Receives through the receive coalescer (when on): concurrent receives of one queue
    /// with the same vt share one batch receive, each caller getting its own message.
    pub(crate) async fn receive_message_coalesced<C, E>(
        &self,
        mut con: C,
        qname: &str,
        vt: Option<Duration>,
    ) -> RsmqResult<Option<RsmqMessage<E>>>
    where
        C: ConnectionLike + Send + 'static,
        E: TryFrom<RedisBytes, Error = Vec<u8>>,
    {
        let Some(coalesce) = &self.coalesce else {
            return self.receive_message(&mut con, qname, vt).await;
        };
        validate::qname(qname)?;
        let vt = self.optional_units(vt, "vt")?;
        let engine = self.clone();
        let q: Arc<str> = qname.into();
        let key = (q.clone(), vt);
        let raw = coalesce
            .receive
            .call(key, (), move |requests| async move {
                engine.receive_many(&mut con, &q, vt, requests.len()).await
            })
            .await?;
        raw.map(RsmqMessage::decode).transpose()
    }

    async fn receive_many<C: ConnectionLike + Send>(
        &self,
        con: &mut C,
        qname: &str,
        vt: Option<u64>,
        n: usize,
    ) -> Vec<RsmqResult<Received>> {
        if n == 1 {
            let got = self.receive_one(con, qname, vt).await;
            return vec![got.map(reply::Received::message)];
        }
        match self.receive_batch(con, qname, vt, n).await {
            Ok(messages) => {
                let mut out: Vec<_> = messages.into_iter().map(|m| Ok(Some(m))).collect();
                out.resize_with(n, || Ok(None));
                out
            }
            Err(e) => reply::fail_all(&e, n),
        }
    }

    pub(crate) async fn receive_message_batch<C, E>(
        &self,
        con: &mut C,
        qname: &str,
        vt: Option<Duration>,
        max: u32,
    ) -> RsmqResult<Vec<RsmqMessage<E>>>
    where
        C: ConnectionLike + Send,
        E: TryFrom<RedisBytes, Error = Vec<u8>>,
    {
        validate::qname(qname)?;
        validate::batch_len(max as usize)?;
        let vt = self.optional_units(vt, "vt")?;
        if max == 0 {
            return Ok(Vec::new());
        }
        decode_all(self.receive_batch(con, qname, vt, max as usize).await?)
    }

    /// Receives up to `n` messages: in one script, or, on a queue whose receives have been
    /// bringing large bodies, with `receive_heads`.
    async fn receive_batch<C: ConnectionLike + Send>(
        &self,
        con: &mut C,
        qname: &str,
        vt: Option<u64>,
        n: usize,
    ) -> RsmqResult<Vec<RsmqMessage<Vec<u8>>>> {
        let got = if self.body_sizes.large(qname) {
            self.receive_heads(con, qname, vt, n).await
        } else {
            let keys = self.keys(qname);
            let mut call = self.call(&RECEIVE_MESSAGE_BATCH, &[keys.messages(), keys.queue()]);
            call.arg(units_arg(vt)).arg(n);
            run_to_end(con, &call).await.and_then(reply::messages)
        };
        if let Ok(messages) = &got {
            self.body_sizes.note(qname, messages);
        }
        got
    }

    /// A receive of large bodies in two round trips, so the bodies skip Lua: the
    /// `receive_heads` script takes the messages (hides them, counts the receives) and
    /// returns their ids and counters; a plain `HMGET` then reads the bodies. A message
    /// deleted in between (by a holder of its id) is left out.
    async fn receive_heads<C: ConnectionLike + Send>(
        &self,
        con: &mut C,
        qname: &str,
        vt: Option<u64>,
        n: usize,
    ) -> RsmqResult<Vec<RsmqMessage<Vec<u8>>>> {
        let keys = self.keys(qname);
        let mut call = self.call(&RECEIVE_HEADS, &[keys.messages(), keys.queue()]);
        call.arg(units_arg(vt)).arg(n);
        let heads = reply::heads(run_to_end(con, &call).await?)?;
        if heads.is_empty() {
            return Ok(Vec::new());
        }
        let mut hmget = redis::cmd("HMGET");
        hmget.arg(keys.queue());
        for (id, _) in &heads {
            hmget.arg(id);
        }
        let bodies: Vec<Value> = hmget.query_async(con).await?;
        if bodies.len() != heads.len() {
            return Err(RsmqError::InvalidReply(format!(
                "expected {} bodies, got {}",
                heads.len(),
                bodies.len()
            )));
        }
        heads
            .into_iter()
            .zip(bodies)
            .filter_map(|((_, head), body)| reply::with_body(head, body))
            .collect()
    }

    pub(crate) async fn pop_message<C, E>(
        &self,
        con: &mut C,
        qname: &str,
    ) -> RsmqResult<Option<RsmqMessage<E>>>
    where
        C: ConnectionLike + Send,
        E: TryFrom<RedisBytes, Error = Vec<u8>>,
    {
        validate::qname(qname)?;
        let keys = self.keys(qname);
        let call = self.call(&POP_MESSAGE, &[keys.messages(), keys.queue()]);
        let raw = reply::maybe_message(run_to_end(con, &call).await?)?;
        raw.map(RsmqMessage::decode).transpose()
    }
}
