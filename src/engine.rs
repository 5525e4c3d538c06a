//! The engine: every RSMQ operation, generic over the Redis connection.
//!
//! Each method validates its input, builds the queue's keys, runs one script (one round
//! trip) and decodes the reply. The clients ([`Rsmq`](crate::Rsmq) and those to come) only
//! hold a connection and call in here, so behaviour cannot drift between them.
//!
//! Not here: connection handling (the clients), key names (`keys`), the Lua (`scripts`),
//! reply decoding (`reply`).

use std::sync::Arc;
use std::time::Duration;

use redis::aio::ConnectionLike;
use redis::{ScriptInvocation, Value};

use crate::attributes::RsmqQueueAttributes;
use crate::keys::{self, QueueKeys};
use crate::message::{RedisBytes, RsmqMessage};
use crate::{id, reply, scripts, validate, RsmqError, RsmqResult};

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
}

async fn run<C>(con: &mut C, invocation: &ScriptInvocation<'_>) -> RsmqResult<Value>
where
    C: ConnectionLike + Send,
{
    let value: Value = invocation.invoke_async(con).await?;
    reply::check_code(value)
}

impl Engine {
    pub(crate) fn new(ns: &str, realtime: bool) -> Self {
        Engine {
            ns: ns.into(),
            queues_set: keys::queues_set(ns).into(),
            realtime,
        }
    }

    fn keys(&self, qname: &str) -> QueueKeys {
        QueueKeys::new(&self.ns, qname)
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
        let mut call = scripts::CREATE_QUEUE.key(keys.queue());
        call.key(&*self.queues_set)
            .arg(vt)
            .arg(delay)
            .arg(maxsize)
            .arg(qname);
        run(con, &call).await.map(drop)
    }

    pub(crate) async fn delete_queue<C: ConnectionLike + Send>(
        &self,
        con: &mut C,
        qname: &str,
    ) -> RsmqResult<()> {
        validate::qname(qname)?;
        let keys = self.keys(qname);
        let mut call = scripts::DELETE_QUEUE.key(keys.queue());
        call.key(keys.messages()).key(&*self.queues_set).arg(qname);
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
        let mut call = scripts::GET_ATTRIBUTES.key(keys.messages());
        call.key(keys.queue());
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
        let mut call = scripts::SET_ATTRIBUTES.key(keys.messages());
        call.key(keys.queue())
            .arg(text(vt.map(|n| n.to_string())))
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
        let keys = self.keys(qname);
        let channel = if self.realtime {
            keys::realtime_channel(&self.ns, qname)
        } else {
            String::new()
        };
        let mut call = scripts::SEND_MESSAGE.key(keys.messages());
        call.key(keys.queue())
            .arg(id::random_suffix())
            .arg(message.0)
            .arg(delay.map(|d| d.to_string()).unwrap_or_default())
            .arg(channel);
        reply::string(run(con, &call).await?, "message id")
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
        validate::qname(qname)?;
        let vt = vt.map(|d| validate::call_duration(d, "vt")).transpose()?;
        let keys = self.keys(qname);
        let mut call = scripts::RECEIVE_MESSAGE.key(keys.messages());
        call.key(keys.queue())
            .arg(vt.map(|d| d.to_string()).unwrap_or_default());
        let raw = reply::message(run(con, &call).await?)?;
        raw.map(RsmqMessage::decode).transpose()
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
        let mut call = scripts::POP_MESSAGE.key(keys.messages());
        call.key(keys.queue());
        let raw = reply::message(run(con, &call).await?)?;
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
        let keys = self.keys(qname);
        let mut call = scripts::DELETE_MESSAGE.key(keys.messages());
        call.key(keys.queue()).arg(message_id);
        reply::flag(run(con, &call).await?, "delete message")
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
        let mut call = scripts::CHANGE_VISIBILITY.key(keys.messages());
        call.key(keys.queue()).arg(message_id).arg(vt);
        reply::flag(run(con, &call).await?, "change visibility")
    }
}
