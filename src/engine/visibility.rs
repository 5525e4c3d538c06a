//! Visibility changes: when a received message becomes receivable again.

use std::time::Duration;

use redis::aio::ConnectionLike;

use super::lua::Script;
use super::{run, Engine};
use crate::{reply, validate, RsmqResult};

pub(super) static CHANGE_MESSAGE_VISIBILITY: Script = Script::new(
    "change_message_visibility",
    include_str!("visibility/change_message_visibility.lua"),
);
pub(super) static CHANGE_MESSAGE_VISIBILITY_BATCH: Script = Script::new(
    "change_message_visibility_batch",
    include_str!("visibility/change_message_visibility_batch.lua"),
);

impl Engine {
    pub(crate) async fn change_message_visibility<C: ConnectionLike + Send>(
        &self,
        con: &mut C,
        qname: &str,
        message_id: &str,
        vt: Duration,
    ) -> RsmqResult<bool> {
        validate::qname(qname)?;
        validate::message_id(message_id)?;
        let vt = self.units(vt, "vt")?;
        let keys = self.keys(qname);
        let mut call = self.call(&CHANGE_MESSAGE_VISIBILITY, &[keys.messages(), keys.queue()]);
        call.arg(message_id).arg(vt);
        reply::flag(run(con, &call).await?, "change visibility")
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
        validate::id_batch(ids)?;
        let vt = self.units(vt, "vt")?;
        let keys = self.keys(qname);
        let mut call = self.call(
            &CHANGE_MESSAGE_VISIBILITY_BATCH,
            &[keys.messages(), keys.queue()],
        );
        call.arg(vt);
        for id in ids {
            call.arg(id.as_ref());
        }
        reply::count(run(con, &call).await?, "changed")
    }
}
