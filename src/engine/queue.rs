//! Queues: create, delete, list, and their attributes.

use std::time::Duration;

use redis::aio::ConnectionLike;

use super::lua::Script;
use super::{run, Engine};
use crate::attributes::RsmqQueueAttributes;
use crate::{validate, RsmqError, RsmqResult};

pub(super) static CREATE_QUEUE: Script =
    Script::new("create_queue", include_str!("queue/create_queue.lua"));
pub(super) static DELETE_QUEUE: Script =
    Script::new("delete_queue", include_str!("queue/delete_queue.lua"));
pub(super) static GET_QUEUE_ATTRIBUTES: Script = Script::new(
    "get_queue_attributes",
    include_str!("queue/get_queue_attributes.lua"),
);
pub(super) static SET_QUEUE_ATTRIBUTES: Script = Script::new(
    "set_queue_attributes",
    include_str!("queue/set_queue_attributes.lua"),
);

/// Default visibility timeout of a new queue (JS: 30 s).
const DEFAULT_VT: Duration = Duration::from_secs(30);
/// Default maxsize of a new queue (JS: 65536).
const DEFAULT_MAXSIZE: i64 = 65536;

impl Engine {
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
        let mut call = self.call(&CREATE_QUEUE, &[keys.queue(), &self.queues_set]);
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
        let mut call = self.call(
            &DELETE_QUEUE,
            &[keys.queue(), keys.messages(), &self.queues_set],
        );
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
        let call = self.call(&GET_QUEUE_ATTRIBUTES, &[keys.messages(), keys.queue()]);
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
        let mut call = self.call(&SET_QUEUE_ATTRIBUTES, &[keys.messages(), keys.queue()]);
        call.arg(text(vt.map(|n| n.to_string())))
            .arg(text(delay.map(|n| n.to_string())))
            .arg(text(maxsize.map(|n| n.to_string())));
        RsmqQueueAttributes::from_reply(run(con, &call).await?)
    }
}
