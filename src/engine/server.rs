//! Questions to the server itself rather than to a queue.

use redis::aio::ConnectionLike;

use super::Engine;
use crate::server::ServerMemory;
use crate::RsmqResult;

impl Engine {
    /// `INFO memory` (on a cluster, routed to the namespace's master like `TIME`).
    pub(crate) async fn server_memory<C: ConnectionLike + Send>(
        &self,
        con: &mut C,
    ) -> RsmqResult<ServerMemory> {
        let info: String = redis::cmd("INFO").arg("memory").query_async(con).await?;
        ServerMemory::parse_info(&info)
    }
}
