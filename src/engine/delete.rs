//! Deletes: one message, a batch, and concurrent deletes coalesced into one call. As in the
//! JavaScript client, a delete does not check that the queue exists.

use std::sync::Arc;

use redis::aio::ConnectionLike;

use super::lua::Script;
use super::Engine;
use crate::{reply, validate, RsmqError, RsmqResult};

pub(super) static DELETE_MESSAGES: Script = Script::new(
    "delete_messages",
    include_str!("delete/delete_messages.lua"),
);

impl Engine {
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
        let mut call = self.call(&DELETE_MESSAGES, &[keys.messages(), keys.queue()]);
        for id in &ids {
            call.arg(id.as_str());
        }
        let reply = call.invoke(con).await.map_err(RsmqError::from);
        reply::per_request(reply, n, |v| reply::flag(v, "delete message"))
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
        validate::id_batch(ids)?;
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
}
