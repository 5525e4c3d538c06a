//! Peek and purge: looking at a queue's messages without receiving them, and removing them
//! all.

use redis::aio::ConnectionLike;
use redis::Value;

use super::lua::{Script, UNPACK_LIMIT};
use super::{decode_all, run, Engine};
use crate::message::{RedisBytes, RsmqMessage};
use crate::{reply, validate, RsmqError, RsmqResult};

pub(super) static PEEK_MESSAGES: Script =
    Script::new("peek_messages", include_str!("inspect/peek_messages.lua"));
pub(super) static PURGE_MESSAGES: Script =
    Script::new("purge_messages", include_str!("inspect/purge_messages.lua"));
pub(super) static PURGE_ORPHANS: Script =
    Script::new("purge_orphans", include_str!("inspect/purge_orphans.lua"));

/// The most members one step of a purge removes. Chosen by measurement (the ignored test
/// `longest_purge_step`): on a queue of 1,000,000 received messages (3,000,000 hash fields)
/// a step of 500 takes Redis about 2 ms (the longest under 10 ms on a busy two-core
/// machine), where one of 1,000 takes about 4 ms.
const PURGE_STEP: usize = 500;

/// The `COUNT` of each step of the sweep for orphans (`HSCAN`). Small, because after the
/// members are gone the hash is nearly empty but may still be spread over the table it had
/// when full (Redis shrinks it in the background as it is used), and `HSCAN` walks that
/// table's empty buckets up to ten times `COUNT` per call.
const ORPHAN_STEP: usize = 100;

// A step unpacks its members, and three fields for each.
const _: () = assert!(PURGE_STEP * 3 < UNPACK_LIMIT);

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

    /// Purges in steps of at most [`PURGE_STEP`] members, each one short script call, so
    /// no step blocks Redis for long: `purge_messages` from the head of the sorted set (each
    /// member and its fields) up to the highest score when the purge started (so it ends
    /// even while producers keep sending), then `purge_orphans` over the hash for message
    /// fields no member owns. Returns how many members were removed.
    pub(crate) async fn purge_queue<C: ConnectionLike + Send>(
        &self,
        con: &mut C,
        qname: &str,
    ) -> RsmqResult<u64> {
        validate::qname(qname)?;
        let keys = self.keys(qname);
        let mut horizon = String::new();
        let mut removed = 0u64;
        loop {
            let mut call = self.call(&PURGE_MESSAGES, &[keys.messages(), keys.queue()]);
            call.arg(&horizon).arg(PURGE_STEP);
            let (next, n) = step(run(con, &call).await?)?;
            if n == 0 {
                break;
            }
            (horizon, removed) = (next, removed.saturating_add(n));
        }
        let mut cursor = String::from("0");
        loop {
            let mut call = self.call(&PURGE_ORPHANS, &[keys.messages(), keys.queue()]);
            call.arg(&cursor).arg(ORPHAN_STEP);
            (cursor, _) = step(run(con, &call).await?)?;
            if cursor == "0" {
                return Ok(removed);
            }
        }
    }
}

/// The reply of a purge step: {text, count}.
fn step(value: Value) -> RsmqResult<(String, u64)> {
    let [text, count] = <[Value; 2]>::try_from(reply::array(value, 2, "purge step")?)
        .map_err(|_| RsmqError::InvalidReply("purge step: wrong length".into()))?;
    Ok((
        reply::string(text, "purge step")?,
        reply::count(count, "purge step")?,
    ))
}
