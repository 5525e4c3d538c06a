//! The engine: every RSMQ operation, generic over the Redis connection.
//!
//! Each method validates its input, builds the queue's keys, runs one script (one round
//! trip) and decodes the reply. The clients ([`Rsmq`](crate::Rsmq) and those to come) only
//! hold a connection and call in here, so behaviour cannot drift between them.
//!
//! Not here: connection handling (the clients), key names (`keys`), the Lua (`scripts`),
//! reply decoding (`reply`).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use redis::aio::ConnectionLike;
use redis::Value;

use crate::attributes::RsmqQueueAttributes;
use crate::coalesce::Coalescer;
use crate::keys::{self, QueueKeys};
use crate::message::{RedisBytes, RsmqMessage};
use crate::scripts::{self, Invocation};
use crate::{id, reply, validate, RsmqError, RsmqResult};

/// Default visibility timeout of a new queue (JS: 30 s).
const DEFAULT_VT: Duration = Duration::from_secs(30);
/// Default maxsize of a new queue (JS: 65536).
const DEFAULT_MAXSIZE: i64 = 65536;

/// The namespace-bound operations. Cheap to clone.
#[derive(Clone, Debug)]
pub(crate) struct Engine {
    ns: Arc<str>,
    queues_set: Arc<str>,
    realtime: bool,
    /// Present when concurrent sends, receives and deletes are coalesced (see `coalesce`).
    coalesce: Option<Arc<Coalescers>>,
    body_sizes: Arc<BodySizes>,
    stored_clock: Arc<StoredClock>,
}

/// Batch and coalesced sends whose bodies add up to this many bytes store them with a plain
/// `HSET` instead of passing them through Lua (see `store_bodies`): one more round trip, less
/// Redis time. Measured on the bench machine, the break-even is near 20 KiB.
const STORED_SEND_BYTES: usize = 32 * 1024;

/// A `send_message_batch` of this many messages or more stores the bodies with `HSET` too
/// (see `send_batch_stored`): Redis spends about a third less per message than when they
/// pass through Lua, which outweighs the extra round trip from here on.
const STORED_BATCH_LEN: usize = 50;

/// A send waiting to be coalesced: the body and the delay in score units (`None`: the
/// queue's).
type SendRequest = (Vec<u8>, Option<u64>);

/// A receive waits under its queue and vt: receives with different vts do not share a call.
type ReceiveKey = (Arc<str>, Option<u64>);

/// What a receive gets: a message not yet decoded, or nothing.
type Received = Option<RsmqMessage<Vec<u8>>>;

/// Batch and coalesced receives on a queue whose recent bodies average this many bytes read
/// the bodies with a plain `HMGET` after the script (see `receive_heads`).
const LARGE_BODY_BYTES: usize = 8 * 1024;

/// The most queues whose body sizes a client remembers (it forgets them all past this).
const REMEMBERED_QUEUES: usize = 4096;

/// The coalescers of one client, by operation.
#[derive(Debug)]
pub(crate) struct Coalescers {
    send: Arc<Coalescer<Arc<str>, SendRequest, String>>,
    receive: Arc<Coalescer<ReceiveKey, (), Received>>,
    delete: Arc<Coalescer<Arc<str>, String, bool>>,
}

impl Default for Coalescers {
    fn default() -> Self {
        Coalescers {
            // Sends allow one batch more in flight: a batch of large bodies takes two round
            // trips (see `store_bodies`), and sends need no answer to the ones before.
            send: Arc::new(Coalescer::with_in_flight(SEND_IN_FLIGHT)),
            receive: Default::default(),
            delete: Default::default(),
        }
    }
}

/// Batches of sends to one queue in flight at once on one client (see `Coalescers`).
const SEND_IN_FLIGHT: usize = 3;

/// The typical body size of each queue's receives on this client (a moving average), which
/// picks the way batch and coalesced receives read bodies.
#[derive(Debug, Default)]
struct BodySizes(Mutex<HashMap<Arc<str>, usize>>);

impl BodySizes {
    fn map(&self) -> std::sync::MutexGuard<'_, HashMap<Arc<str>, usize>> {
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

/// Redis `TIME` in microseconds.
async fn redis_micros<C: ConnectionLike + Send>(con: &mut C) -> RsmqResult<u64> {
    let (sec, usec): (u64, u64) = redis::cmd("TIME").query_async(con).await?;
    Ok(sec.saturating_mul(1_000_000).saturating_add(usec))
}

/// `n` new ids made from `base` (microseconds): time parts increasing by 1 µs, so they sort
/// in order, exactly as the send scripts make them.
fn new_ids(base: u64, n: usize) -> Vec<String> {
    (0..n as u64)
        .map(|i| id::time_prefix(base + i) + &id::random_suffix())
        .collect()
}

/// The microseconds the ids of the stored sends of one client were made up to.
///
/// A stored send reads `TIME` one round trip before it writes, so two of them in flight
/// together can read the same microseconds; their ids (and, within a millisecond, their
/// order) would then mix. Each claims its microseconds here instead: from the Redis time
/// read, or just after the last ones claimed when that is later, so a client's stored
/// batches stay in the order they left in.
#[derive(Debug, Default)]
struct StoredClock(std::sync::atomic::AtomicU64);

impl StoredClock {
    /// The first of `n` microseconds claimed at Redis time `now`.
    fn claim(&self, now: u64, n: usize) -> u64 {
        use std::sync::atomic::Ordering;
        let mut last = self.0.load(Ordering::Relaxed);
        loop {
            let base = now.max(last);
            let end = base.saturating_add(n as u64);
            match self
                .0
                .compare_exchange_weak(last, end, Ordering::AcqRel, Ordering::Relaxed)
            {
                Ok(_) => return base,
                Err(seen) => last = seen,
            }
        }
    }
}

async fn run<C>(con: &mut C, call: &Invocation<'_>) -> RsmqResult<Value>
where
    C: ConnectionLike + Send,
{
    reply::check_code(call.invoke(con).await?)
}

impl Engine {
    pub(crate) fn new(ns: &str, realtime: bool) -> Self {
        Engine {
            ns: ns.into(),
            queues_set: keys::queues_set(ns).into(),
            realtime,
            coalesce: None,
            body_sizes: Default::default(),
            stored_clock: Default::default(),
        }
    }

    /// This engine, coalescing concurrent sends, receives and deletes per queue.
    pub(crate) fn coalescing(mut self, on: bool) -> Self {
        self.coalesce = on.then(Default::default);
        self
    }

    /// Whether calls go through the coalescers.
    pub(crate) fn coalesces(&self) -> bool {
        self.coalesce.is_some()
    }

    fn keys(&self, qname: &str) -> QueueKeys {
        QueueKeys::new(&self.ns, qname)
    }

    /// The keys of a source and a destination queue, validated: both names, and different.
    fn pair(&self, src: &str, dst: &str) -> RsmqResult<(QueueKeys, QueueKeys)> {
        validate::qname(src)?;
        validate::qname(dst)?;
        validate::different(src, dst)?;
        Ok((self.keys(src), self.keys(dst)))
    }

    pub(crate) async fn create_queue<C: ConnectionLike + Send>(
        &self,
        con: &mut C,
        qname: &str,
        vt: Option<Duration>,
        delay: Option<Duration>,
        maxsize: Option<i64>,
    ) -> RsmqResult<()> {
        validate::qname(qname)?;
        let vt = validate::queue_seconds(vt.unwrap_or(DEFAULT_VT), "vt")?;
        let delay = validate::queue_seconds(delay.unwrap_or_default(), "delay")?;
        let maxsize = maxsize.unwrap_or(DEFAULT_MAXSIZE);
        validate::maxsize(maxsize)?;
        let keys = self.keys(qname);
        let mut call = scripts::CREATE_QUEUE.call(&[keys.queue(), &*self.queues_set]);
        call.arg(vt).arg(delay).arg(maxsize).arg(qname);
        run(con, &call).await.map(drop)
    }

    pub(crate) async fn delete_queue<C: ConnectionLike + Send>(
        &self,
        con: &mut C,
        qname: &str,
    ) -> RsmqResult<()> {
        validate::qname(qname)?;
        let keys = self.keys(qname);
        let mut call =
            scripts::DELETE_QUEUE.call(&[keys.queue(), keys.messages(), &*self.queues_set]);
        call.arg(qname);
        run(con, &call).await.map(drop)
    }

    pub(crate) async fn list_queues<C: ConnectionLike + Send>(
        &self,
        con: &mut C,
    ) -> RsmqResult<Vec<String>> {
        let names: Vec<String> = redis::cmd("SMEMBERS")
            .arg(&*self.queues_set)
            .query_async(con)
            .await?;
        Ok(names)
    }

    pub(crate) async fn get_queue_attributes<C: ConnectionLike + Send>(
        &self,
        con: &mut C,
        qname: &str,
    ) -> RsmqResult<RsmqQueueAttributes> {
        validate::qname(qname)?;
        let keys = self.keys(qname);
        let call = scripts::GET_ATTRIBUTES.call(&[keys.messages(), keys.queue()]);
        RsmqQueueAttributes::from_reply(run(con, &call).await?)
    }

    pub(crate) async fn set_queue_attributes<C: ConnectionLike + Send>(
        &self,
        con: &mut C,
        qname: &str,
        vt: Option<Duration>,
        delay: Option<Duration>,
        maxsize: Option<i64>,
    ) -> RsmqResult<RsmqQueueAttributes> {
        validate::qname(qname)?;
        if vt.is_none() && delay.is_none() && maxsize.is_none() {
            return Err(RsmqError::NoAttributeSupplied);
        }
        let vt = vt.map(|d| validate::queue_seconds(d, "vt")).transpose()?;
        let delay = delay
            .map(|d| validate::queue_seconds(d, "delay"))
            .transpose()?;
        if let Some(m) = maxsize {
            validate::maxsize(m)?;
        }
        let text = |n: Option<String>| n.unwrap_or_default();
        let keys = self.keys(qname);
        let mut call = scripts::SET_ATTRIBUTES.call(&[keys.messages(), keys.queue()]);
        call.arg(text(vt.map(|n| n.to_string())))
            .arg(text(delay.map(|n| n.to_string())))
            .arg(text(maxsize.map(|n| n.to_string())));
        RsmqQueueAttributes::from_reply(run(con, &call).await?)
    }

    pub(crate) async fn send_message<C: ConnectionLike + Send>(
        &self,
        con: &mut C,
        qname: &str,
        message: RedisBytes,
        delay: Option<Duration>,
    ) -> RsmqResult<String> {
        validate::qname(qname)?;
        let delay = delay
            .map(|d| validate::call_duration(d, "delay"))
            .transpose()?;
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
        let mut call = scripts::SEND_MESSAGE.call(&[keys.messages(), keys.queue()]);
        call.arg(id::random_suffix())
            .arg(message)
            .arg(delay.map(|d| d.to_string()).unwrap_or_default())
            .arg(self.channel(qname));
        reply::string(run(con, &call).await?, "message id")
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
        let delay = delay
            .map(|d| validate::call_duration(d, "delay"))
            .transpose()?;
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
        let mut call = scripts::SEND_MESSAGES.call(&[keys.messages(), keys.queue()]);
        call.arg(self.channel(qname));
        for (body, delay) in requests {
            call.arg(id::random_suffix())
                .arg(body)
                .arg(delay.map(|d| d.to_string()).unwrap_or_default());
        }
        let reply = call.invoke(con).await.map_err(RsmqError::from);
        reply::per_request(reply, n, |v| reply::string(v, "message id"))
    }

    /// A large coalesced send in two round trips, so the bodies skip Lua: `TIME` for the
    /// ids, then `MULTI`, `HSET` of every body under its id, the `SEND_STORED` script (which
    /// checks the queue and each send, undoes the bodies of failed ones, and adds the rest
    /// to the sorted set), `EXEC`. Atomic like the one-script path, with the same effects;
    /// each send fails alone.
    async fn send_stored<C: ConnectionLike + Send>(
        &self,
        con: &mut C,
        qname: &str,
        requests: Vec<SendRequest>,
    ) -> Vec<RsmqResult<String>> {
        let n = requests.len();
        let base = match redis_micros(con).await {
            Ok(now) => self.stored_clock.claim(now, n),
            Err(err) => return reply::fail_all(&err, n),
        };
        let keys = self.keys(qname);
        let mut finish = scripts::SEND_STORED.eval(&[keys.messages(), keys.queue()]);
        finish
            .arg(self.channel(qname))
            .arg(scripts::score_time(base));
        let ids = new_ids(base, n);
        for (id, (body, delay)) in ids.iter().zip(&requests) {
            finish
                .arg(id)
                .arg(body.len())
                .arg(delay.map(|d| d.to_string()).unwrap_or_default());
        }
        let bodies = requests.into_iter().map(|(body, _)| body);
        let reply = self.store_then(con, &keys, &ids, bodies, finish).await;
        reply::per_request(reply, n, |v| reply::string(v, "message id"))
    }

    /// `send_message_batch` of large or many bodies, the same way as `send_stored`, with
    /// `SEND_BATCH_STORED`: all or nothing.
    async fn send_batch_stored<C: ConnectionLike + Send>(
        &self,
        con: &mut C,
        qname: &str,
        messages: Vec<RedisBytes>,
        delay: Option<u64>,
    ) -> RsmqResult<Vec<String>> {
        let n = messages.len();
        let base = self.stored_clock.claim(redis_micros(con).await?, n);
        let keys = self.keys(qname);
        let ids = new_ids(base, n);
        let longest = messages.iter().map(|m| m.0.len()).max().unwrap_or(0);
        let mut finish = scripts::SEND_BATCH_STORED.eval(&[keys.messages(), keys.queue()]);
        finish
            .arg(self.channel(qname))
            .arg(scripts::score_time(base))
            .arg(delay.map(|d| d.to_string()).unwrap_or_default())
            .arg(longest)
            .arg(&ids);
        let bodies = messages.into_iter().map(|m| m.0);
        let reply = self.store_then(con, &keys, &ids, bodies, finish).await?;
        reply::count(reply, "batch send")?;
        Ok(ids)
    }

    /// One round trip: `MULTI`, `HSET` of `bodies` under `ids`, `finish`, `EXEC`; returns the
    /// reply of `finish`.
    async fn store_then<C: ConnectionLike + Send>(
        &self,
        con: &mut C,
        keys: &QueueKeys,
        ids: &[String],
        bodies: impl Iterator<Item = Vec<u8>>,
        finish: redis::Cmd,
    ) -> RsmqResult<Value> {
        let mut hset = redis::cmd("HSET");
        hset.arg(keys.queue());
        for (id, body) in ids.iter().zip(bodies) {
            hset.arg(id).arg(body);
        }
        let (reply,): (Value,) = redis::pipe()
            .atomic()
            .add_command(hset)
            .ignore()
            .add_command(finish)
            .query_async(con)
            .await?;
        reply::check_code(reply)
    }

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
        let vt = vt.map(|d| validate::call_duration(d, "vt")).transpose()?;
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
    ) -> Vec<RsmqResult<Option<RsmqMessage<Vec<u8>>>>> {
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

    /// Receives the next message, or tells when the next one is due (for long polling).
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
            let mut call = scripts::RECEIVE_MESSAGE_BATCH.call(&[keys.messages(), keys.queue()]);
            call.arg(vt.map(|d| d.to_string()).unwrap_or_default())
                .arg(n);
            run(con, &call).await.and_then(reply::messages)
        };
        if let Ok(messages) = &got {
            self.body_sizes.note(qname, messages);
        }
        got
    }

    /// A receive of large bodies in two round trips, so the bodies skip Lua: the
    /// `RECEIVE_HEADS` script takes the messages (hides them, counts the receives) and
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
        let mut call = scripts::RECEIVE_HEADS.call(&[keys.messages(), keys.queue()]);
        call.arg(vt.map(|d| d.to_string()).unwrap_or_default())
            .arg(n);
        let heads = reply::heads(run(con, &call).await?)?;
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

    pub(crate) async fn receive_next<C: ConnectionLike + Send>(
        &self,
        con: &mut C,
        qname: &str,
        vt: Option<Duration>,
    ) -> RsmqResult<reply::Received> {
        validate::qname(qname)?;
        let vt = vt.map(|d| validate::call_duration(d, "vt")).transpose()?;
        self.receive_one(con, qname, vt).await
    }

    /// One receive script call; `vt` in score units (`None`: the queue's).
    async fn receive_one<C: ConnectionLike + Send>(
        &self,
        con: &mut C,
        qname: &str,
        vt: Option<u64>,
    ) -> RsmqResult<reply::Received> {
        let keys = self.keys(qname);
        let mut call = scripts::RECEIVE_MESSAGE.call(&[keys.messages(), keys.queue()]);
        call.arg(vt.map(|d| d.to_string()).unwrap_or_default());
        reply::received(run(con, &call).await?)
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
        let call = scripts::POP_MESSAGE.call(&[keys.messages(), keys.queue()]);
        let raw = reply::maybe_message(run(con, &call).await?)?;
        raw.map(RsmqMessage::decode).transpose()
    }

    pub(crate) async fn delete_message<C: ConnectionLike + Send>(
        &self,
        con: &mut C,
        qname: &str,
        message_id: &str,
    ) -> RsmqResult<bool> {
        validate::qname(qname)?;
        validate::message_id(message_id)?;
        self.delete_one(con, qname, message_id).await
    }

    async fn delete_one<C: ConnectionLike + Send>(
        &self,
        con: &mut C,
        qname: &str,
        message_id: &str,
    ) -> RsmqResult<bool> {
        // Plain commands in one atomic round trip: cheaper for Redis than a script. Each
        // command is sized up front, so building them does not reallocate arg by arg.
        let keys = self.keys(qname);
        let id = message_id.len();
        let mut zrem = redis::Cmd::with_capacity(3, 4 + keys.messages().len() + id);
        zrem.arg("ZREM").arg(keys.messages()).arg(message_id);
        let mut hdel = redis::Cmd::with_capacity(5, 4 + keys.queue().len() + 3 * id + 6);
        hdel.arg("HDEL").arg(keys.queue()).arg(message_id);
        let mut field = String::with_capacity(id + 3);
        field.push_str(message_id);
        field.push_str(":rc");
        hdel.arg(field.as_str());
        field.truncate(id);
        field.push_str(":fr");
        hdel.arg(field.as_str());
        let mut pipe = redis::Pipeline::with_capacity(2);
        pipe.atomic().add_command(zrem).add_command(hdel);
        let (z, h): (i64, i64) = pipe.query_async(con).await?;
        Ok(z == 1 && h > 0)
    }

    /// Deletes through the delete coalescer (when on): concurrent deletes on one queue share
    /// one call, each caller learning whether its own message was there.
    pub(crate) async fn delete_message_coalesced<C>(
        &self,
        mut con: C,
        qname: &str,
        message_id: &str,
    ) -> RsmqResult<bool>
    where
        C: ConnectionLike + Send + 'static,
    {
        validate::qname(qname)?;
        validate::message_id(message_id)?;
        let Some(coalesce) = &self.coalesce else {
            return self.delete_one(&mut con, qname, message_id).await;
        };
        let engine = self.clone();
        let q: Arc<str> = qname.into();
        let key = q.clone();
        coalesce
            .delete
            .call(key, message_id.to_string(), move |ids| async move {
                engine.delete_many(&mut con, &q, ids).await
            })
            .await
    }

    async fn delete_many<C: ConnectionLike + Send>(
        &self,
        con: &mut C,
        qname: &str,
        mut ids: Vec<String>,
    ) -> Vec<RsmqResult<bool>> {
        if ids.len() == 1 {
            if let Some(id) = ids.pop() {
                return vec![self.delete_one(con, qname, &id).await];
            }
        }
        let n = ids.len();
        let keys = self.keys(qname);
        let mut call = scripts::DELETE_MESSAGES.call(&[keys.messages(), keys.queue()]);
        for id in &ids {
            call.arg(id.as_str());
        }
        let reply = call.invoke(con).await.map_err(RsmqError::from);
        reply::per_request(reply, n, |v| reply::flag(v, "delete message"))
    }

    pub(crate) async fn change_message_visibility<C: ConnectionLike + Send>(
        &self,
        con: &mut C,
        qname: &str,
        message_id: &str,
        vt: Duration,
    ) -> RsmqResult<bool> {
        validate::qname(qname)?;
        validate::message_id(message_id)?;
        let vt = validate::call_duration(vt, "vt")?;
        let keys = self.keys(qname);
        let mut call = scripts::CHANGE_VISIBILITY.call(&[keys.messages(), keys.queue()]);
        call.arg(message_id).arg(vt);
        reply::flag(run(con, &call).await?, "change visibility")
    }

    fn channel(&self, qname: &str) -> String {
        if self.realtime {
            keys::realtime_channel(&self.ns, qname)
        } else {
            String::new()
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
        let delay = delay
            .map(|d| validate::call_duration(d, "delay"))
            .transpose()?;
        if messages.is_empty() {
            return Ok(Vec::new());
        }
        let bytes: usize = messages.iter().map(|m| m.0.len()).sum();
        if bytes >= STORED_SEND_BYTES || messages.len() >= STORED_BATCH_LEN {
            return self.send_batch_stored(con, qname, messages, delay).await;
        }
        let keys = self.keys(qname);
        let mut call = scripts::SEND_MESSAGE_BATCH.call(&[keys.messages(), keys.queue()]);
        call.arg(delay.map(|d| d.to_string()).unwrap_or_default())
            .arg(self.channel(qname));
        let suffixes: Vec<String> = messages.iter().map(|_| id::random_suffix()).collect();
        for (suffix, m) in suffixes.iter().zip(messages) {
            call.arg(suffix).arg(m.0);
        }
        let base = reply::batch_time(run(con, &call).await?)?;
        Ok(suffixes
            .into_iter()
            .enumerate()
            .map(|(i, suffix)| id::time_prefix(base + i as u64) + &suffix)
            .collect())
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
        let vt = vt.map(|d| validate::call_duration(d, "vt")).transpose()?;
        if max == 0 {
            return Ok(Vec::new());
        }
        decode_all(self.receive_batch(con, qname, vt, max as usize).await?)
    }

    pub(crate) async fn delete_message_batch<C, S>(
        &self,
        con: &mut C,
        qname: &str,
        ids: &[S],
    ) -> RsmqResult<u64>
    where
        C: ConnectionLike + Send,
        S: AsRef<str>,
    {
        validate::qname(qname)?;
        validate::batch_len(ids.len())?;
        for id in ids {
            validate::message_id(id.as_ref())?;
        }
        if ids.is_empty() {
            return Ok(0);
        }
        // Plain variadic commands in one atomic round trip: no Lua copies of the ids.
        let keys = self.keys(qname);
        let mut zrem = redis::cmd("ZREM");
        let mut hdel = redis::cmd("HDEL");
        zrem.arg(keys.messages());
        hdel.arg(keys.queue());
        for id in ids {
            let id = id.as_ref();
            zrem.arg(id);
            hdel.arg(id).arg(format!("{id}:rc")).arg(format!("{id}:fr"));
        }
        let mut pipe = redis::pipe();
        pipe.atomic().add_command(zrem).add_command(hdel);
        let (removed, _fields): (u64, u64) = pipe.query_async(con).await?;
        Ok(removed)
    }

    pub(crate) async fn change_message_visibility_batch<C, S>(
        &self,
        con: &mut C,
        qname: &str,
        ids: &[S],
        vt: Duration,
    ) -> RsmqResult<u64>
    where
        C: ConnectionLike + Send,
        S: AsRef<str>,
    {
        validate::qname(qname)?;
        validate::batch_len(ids.len())?;
        for id in ids {
            validate::message_id(id.as_ref())?;
        }
        let vt = validate::call_duration(vt, "vt")?;
        let keys = self.keys(qname);
        let mut call = scripts::CHANGE_VISIBILITY_BATCH.call(&[keys.messages(), keys.queue()]);
        call.arg(vt);
        for id in ids {
            call.arg(id.as_ref());
        }
        reply::count(run(con, &call).await?, "changed")
    }

    pub(crate) async fn move_message<C: ConnectionLike + Send>(
        &self,
        con: &mut C,
        src: &str,
        message_id: &str,
        dst: &str,
    ) -> RsmqResult<bool> {
        validate::message_id(message_id)?;
        let (from, to) = self.pair(src, dst)?;
        let mut call =
            scripts::MOVE_MESSAGE.call(&[from.messages(), from.queue(), to.messages(), to.queue()]);
        call.arg(message_id).arg(self.channel(dst));
        reply::flag(run(con, &call).await?, "move message")
    }

    pub(crate) async fn receive_message_or_dlq<C, E>(
        &self,
        con: &mut C,
        qname: &str,
        vt: Option<Duration>,
        dlq: &str,
        max_receives: u64,
    ) -> RsmqResult<Option<RsmqMessage<E>>>
    where
        C: ConnectionLike + Send,
        E: TryFrom<RedisBytes, Error = Vec<u8>>,
    {
        let (from, to) = self.pair(qname, dlq)?;
        let vt = vt.map(|d| validate::call_duration(d, "vt")).transpose()?;
        let mut call = scripts::RECEIVE_MESSAGE_OR_DLQ.call(&[
            from.messages(),
            from.queue(),
            to.messages(),
            to.queue(),
        ]);
        call.arg(vt.map(|d| d.to_string()).unwrap_or_default())
            .arg(max_receives)
            .arg(self.channel(dlq));
        let raw = reply::maybe_message(run(con, &call).await?)?;
        raw.map(RsmqMessage::decode).transpose()
    }

    pub(crate) async fn redrive<C: ConnectionLike + Send>(
        &self,
        con: &mut C,
        dlq: &str,
        dst: &str,
        max: u32,
    ) -> RsmqResult<u64> {
        let (from, to) = self.pair(dlq, dst)?;
        validate::batch_len(max as usize)?;
        if max == 0 {
            return Ok(0);
        }
        let mut call =
            scripts::REDRIVE.call(&[from.messages(), from.queue(), to.messages(), to.queue()]);
        call.arg(max).arg(self.channel(dst));
        reply::count(run(con, &call).await?, "redriven")
    }

    pub(crate) async fn peek_messages<C, E>(
        &self,
        con: &mut C,
        qname: &str,
        max: u32,
    ) -> RsmqResult<Vec<RsmqMessage<E>>>
    where
        C: ConnectionLike + Send,
        E: TryFrom<RedisBytes, Error = Vec<u8>>,
    {
        validate::qname(qname)?;
        validate::batch_len(max as usize)?;
        let keys = self.keys(qname);
        let mut call = scripts::PEEK_MESSAGES.call(&[keys.messages(), keys.queue()]);
        call.arg(max);
        decode_all(reply::messages(run(con, &call).await?)?)
    }

    pub(crate) async fn purge_queue<C: ConnectionLike + Send>(
        &self,
        con: &mut C,
        qname: &str,
    ) -> RsmqResult<u64> {
        validate::qname(qname)?;
        let keys = self.keys(qname);
        let call = scripts::PURGE_QUEUE.call(&[keys.messages(), keys.queue()]);
        reply::count(run(con, &call).await?, "purged")
    }
}

/// Decodes every body; the first failure is the error (the messages stay in Redis).
fn decode_all<E>(raw: Vec<RsmqMessage<Vec<u8>>>) -> RsmqResult<Vec<RsmqMessage<E>>>
where
    E: TryFrom<RedisBytes, Error = Vec<u8>>,
{
    raw.into_iter().map(RsmqMessage::decode).collect()
}
