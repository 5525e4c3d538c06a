//! Peek, browse and purge: looking at a queue's messages without receiving them (the
//! receivable ones, all of them page by page, or one by id), and removing them all.

use redis::aio::ConnectionLike;
use redis::Value;

use super::lua::{Script, UNPACK_LIMIT};
use super::{decode_all, run, Engine};
use crate::message::{BrowsedMessage, MessagePage, RedisBytes, RsmqMessage};
use crate::{reply, validate, RsmqError, RsmqResult};

pub(super) static PEEK_MESSAGES: Script =
    Script::new("peek_messages", include_str!("inspect/peek_messages.lua"));
pub(super) static BROWSE_MESSAGES: Script = Script::new(
    "browse_messages",
    include_str!("inspect/browse_messages.lua"),
);
pub(super) static GET_MESSAGE: Script =
    Script::new("get_message", include_str!("inspect/get_message.lua"));
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

/// The largest cursor of a browse: far beyond any sorted set, and small enough that the
/// script's arithmetic on ranks (Lua numbers are doubles) stays exact.
const MAX_CURSOR: u64 = 1 << 52;

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

    /// One script call: the members of ranks `cursor..cursor + max` in score order, with
    /// their fields and scores, and the size of the sorted set, from which the next cursor
    /// follows.
    pub(crate) async fn browse_messages<C, E>(
        &self,
        con: &mut C,
        qname: &str,
        cursor: u64,
        max: u32,
    ) -> RsmqResult<MessagePage<E>>
    where
        C: ConnectionLike + Send,
        E: TryFrom<RedisBytes, Error = Vec<u8>>,
    {
        validate::qname(qname)?;
        validate::batch_len(max as usize)?;
        let cursor = cursor.min(MAX_CURSOR);
        let keys = self.keys(qname);
        let mut call = self.call(&BROWSE_MESSAGES, &[keys.messages(), keys.queue()]);
        call.arg(cursor).arg(max);
        let (size, raw) = reply::browsed_page(run(con, &call).await?)?;
        let end = cursor + u64::from(max);
        let page = MessagePage {
            messages: raw
                .into_iter()
                .map(|(m, score, hidden)| self.browsed(m, score, hidden))
                .collect(),
            next: (end < size).then_some(end),
        };
        page.decode()
    }

    pub(crate) async fn get_message<C, E>(
        &self,
        con: &mut C,
        qname: &str,
        message_id: &str,
    ) -> RsmqResult<Option<BrowsedMessage<E>>>
    where
        C: ConnectionLike + Send,
        E: TryFrom<RedisBytes, Error = Vec<u8>>,
    {
        validate::qname(qname)?;
        validate::message_id(message_id)?;
        let keys = self.keys(qname);
        let mut call = self.call(&GET_MESSAGE, &[keys.messages(), keys.queue()]);
        call.arg(message_id);
        match run(con, &call).await? {
            Value::Nil | Value::Boolean(false) => Ok(None),
            found => {
                let (m, score, hidden) = reply::browsed(found)?;
                self.browsed(m, score, hidden).decode().map(Some)
            }
        }
    }

    /// A browsed message from a script's reply, its score as milliseconds.
    fn browsed(
        &self,
        m: RsmqMessage<Vec<u8>>,
        score: u64,
        hidden: bool,
    ) -> BrowsedMessage<Vec<u8>> {
        let RsmqMessage {
            id,
            message,
            rc,
            fr,
            sent,
        } = m;
        BrowsedMessage {
            id,
            message,
            rc,
            fr,
            sent,
            visible_at: self.score_unit().millis(score),
            hidden,
        }
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
