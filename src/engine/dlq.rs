//! Dead letters: moving a message to another queue, receiving with a dead-letter queue for
//! messages that used up their receives, and driving them back.

use std::time::Duration;

use redis::aio::ConnectionLike;

use super::lua::Script;
use super::{run, run_to_end, units_arg, Engine};
use crate::message::{RedisBytes, RsmqMessage};
use crate::{reply, validate, RsmqResult};

pub(super) static MOVE_MESSAGE: Script =
    Script::new("move_message", include_str!("dlq/move_message.lua"));
pub(super) static RECEIVE_MESSAGE_OR_DLQ: Script = Script::new(
    "receive_message_or_dlq",
    include_str!("dlq/receive_message_or_dlq.lua"),
);
pub(super) static REDRIVE: Script = Script::new("redrive", include_str!("dlq/redrive.lua"));

impl Engine {
    pub(crate) async fn move_message<C: ConnectionLike + Send>(
        &self,
        con: &mut C,
        src: &str,
        message_id: &str,
        dst: &str,
    ) -> RsmqResult<bool> {
        validate::message_id(message_id)?;
        let (from, to) = self.pair(src, dst)?;
        let mut call = self.call(
            &MOVE_MESSAGE,
            &[from.messages(), from.queue(), to.messages(), to.queue()],
        );
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
        let vt = self.optional_units(vt, "vt")?;
        let mut call = self.call(
            &RECEIVE_MESSAGE_OR_DLQ,
            &[from.messages(), from.queue(), to.messages(), to.queue()],
        );
        call.arg(units_arg(vt))
            .arg(max_receives)
            .arg(self.channel(dlq));
        let raw = reply::maybe_message(run_to_end(con, &call).await?)?;
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
        let mut call = self.call(
            &REDRIVE,
            &[from.messages(), from.queue(), to.messages(), to.queue()],
        );
        call.arg(max).arg(self.channel(dst));
        reply::count(run(con, &call).await?, "redriven")
    }
}
