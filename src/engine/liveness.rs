//! Worker liveness: running workers register themselves in the liveness hash
//! `{ns}:.workers` (see `crate::liveness` for an entry's form), and tools list them.

use std::time::Duration;

use redis::aio::ConnectionLike;

use super::lua::Script;
use super::{run, Engine};
use crate::keys;
use crate::liveness::{self, LiveWorker};
use crate::RsmqResult;

pub(super) static REGISTER_WORKER: Script = Script::new(
    "register_worker",
    include_str!("liveness/register_worker.lua"),
);
pub(super) static LIVE_WORKERS: Script =
    Script::new("live_workers", include_str!("liveness/live_workers.lua"));

impl Engine {
    /// Writes (or refreshes) a worker's entry (`Registration::entry`), live for `ttl` from
    /// now (Redis time).
    pub(crate) async fn register_worker<C: ConnectionLike + Send>(
        &self,
        con: &mut C,
        id: &str,
        ttl: Duration,
        entry: &str,
    ) -> RsmqResult<()> {
        let key = keys::workers(&self.ns);
        let mut call = self.call(&REGISTER_WORKER, &[&key]);
        call.arg(id).arg(liveness::ttl_ms(ttl)).arg(entry);
        run(con, &call).await.map(drop)
    }

    /// Removes a worker's entry (a plain `HDEL`; Redis drops the hash with its last field).
    pub(crate) async fn unregister_worker<C: ConnectionLike + Send>(
        &self,
        con: &mut C,
        id: &str,
    ) -> RsmqResult<()> {
        let _: i64 = redis::cmd("HDEL")
            .arg(keys::workers(&self.ns))
            .arg(id)
            .query_async(con)
            .await?;
        Ok(())
    }

    pub(crate) async fn live_workers<C: ConnectionLike + Send>(
        &self,
        con: &mut C,
    ) -> RsmqResult<Vec<LiveWorker>> {
        let key = keys::workers(&self.ns);
        let call = self.call(&LIVE_WORKERS, &[&key]);
        liveness::decode(run(con, &call).await?)
    }
}
