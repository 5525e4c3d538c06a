//! Peek and purge: looking at a queue's messages without receiving them, and removing them
//! all.

use redis::aio::ConnectionLike;
use redis::Value;

use super::lua::{Script, UNPACK_LIMIT};
use super::{decode_all, run, Engine};
use crate::keys::QueueKeys;
use crate::message::{RedisBytes, RsmqMessage};
use crate::{reply, validate, RsmqError, RsmqResult};

pub(super) static PEEK_MESSAGES: Script =
    Script::new("peek_messages", include_str!("inspect/peek_messages.lua"));
pub(super) static PURGE_MESSAGES: Script =
    Script::new("purge_messages", include_str!("inspect/purge_messages.lua"));
pub(super) static PURGE_ORPHANS: Script =
    Script::new("purge_orphans", include_str!("inspect/purge_orphans.lua"));

/// The `COUNT` of each purge step's `ZSCAN` or `HSCAN`: about this many members (or hash
/// fields) per script call. Measured on a queue of 1,000,000 received messages (3,000,000
/// hash fields), the longest step of a purge blocks Redis for about 1 ms.
const PURGE_STEP: usize = 1000;

// A step removes its members and three fields per member in slices the scripts unpack
// (2000 and 6000 values), whatever ZSCAN returns.
const _: () = assert!(6000 < UNPACK_LIMIT && PURGE_STEP * 3 <= 6000);

impl Engine {
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
        let mut call = self.call(&PEEK_MESSAGES, &[keys.messages(), keys.queue()]);
        call.arg(max);
        decode_all(reply::messages(run(con, &call).await?)?)
    }

    /// Purges in steps of about [`PURGE_STEP`] members or fields, each one short script
    /// call, so no step blocks Redis for long: `purge_messages` over the sorted set (each
    /// member and its fields), then `purge_orphans` over the hash (message fields no member
    /// owns). Returns how many members were removed.
    pub(crate) async fn purge_queue<C: ConnectionLike + Send>(
        &self,
        con: &mut C,
        qname: &str,
    ) -> RsmqResult<u64> {
        validate::qname(qname)?;
        let keys = self.keys(qname);
        let removed = self.in_steps(con, &keys, &PURGE_MESSAGES).await?;
        self.in_steps(con, &keys, &PURGE_ORPHANS).await?;
        Ok(removed)
    }

    /// Calls a purge step script from cursor "0" until it answers cursor "0"; returns the
    /// sum of what the steps removed.
    async fn in_steps<C: ConnectionLike + Send>(
        &self,
        con: &mut C,
        keys: &QueueKeys,
        script: &'static Script,
    ) -> RsmqResult<u64> {
        let mut cursor = String::from("0");
        let mut removed = 0u64;
        loop {
            let mut call = self.call(script, &[keys.messages(), keys.queue()]);
            call.arg(&cursor).arg(PURGE_STEP);
            let step = reply::array(run(con, &call).await?, 2, "purge step")?;
            let [next, count] = <[Value; 2]>::try_from(step)
                .map_err(|_| RsmqError::InvalidReply("purge step: wrong length".into()))?;
            removed = removed.saturating_add(reply::count(count, "purged")?);
            cursor = reply::string(next, "purge cursor")?;
            if cursor == "0" {
                return Ok(removed);
            }
        }
    }
}
