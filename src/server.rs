//! What the Redis server says of its memory ([`ServerMemory`]): how much it uses, its limit,
//! and whether its eviction policy can drop a queue.

use crate::{RsmqError, RsmqResult};

/// The memory of the Redis server a namespace lives on (on a cluster, its master), from
/// `INFO memory`. See [`RsmqConnection::server_memory`](crate::RsmqConnection::server_memory).
///
/// RSMQ keeps every queue in keys without a time to live, so only an `allkeys-*` policy
/// can evict them: a queue's sorted set or hash then vanishes whole, messages and all,
/// when Redis reaches `maxmemory`. Under `noeviction` and the `volatile-*` policies a full
/// Redis refuses writes (sends fail with an error) and keeps every message.
///
/// ```no_run
/// # use rsmq_async::{Rsmq, RsmqConnection};
/// # async fn f(rsmq: Rsmq) -> rsmq_async::RsmqResult<()> {
/// let memory = rsmq.server_memory().await?;
/// if memory.may_evict_messages() {
///     eprintln!("warning: maxmemory-policy {} can drop queues", memory.policy);
/// }
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ServerMemory {
    /// Bytes Redis has allocated (`used_memory`).
    pub used: u64,
    /// The limit (`maxmemory`) in bytes; 0 when there is none.
    pub max: u64,
    /// The eviction policy (`maxmemory_policy`), such as `noeviction` or `allkeys-lru`.
    pub policy: String,
}

impl ServerMemory {
    /// Whether the policy can evict keys without a time to live, which is every key of a
    /// queue: an `allkeys-*` policy. It is reported whatever `maxmemory` is, because the
    /// limit can be set at any time (and some managed services set it for you).
    ///
    /// ```
    /// use rsmq_async::ServerMemory;
    ///
    /// let m = ServerMemory::parse_info("used_memory:1024\r\nmaxmemory:0\r\nmaxmemory_policy:allkeys-lru\r\n")?;
    /// assert!(m.may_evict_messages());
    /// # Ok::<(), rsmq_async::RsmqError>(())
    /// ```
    pub fn may_evict_messages(&self) -> bool {
        self.policy.starts_with("allkeys-")
    }

    /// Reads the reply of `INFO memory` (`name:value` lines). A reply without `used_memory`,
    /// `maxmemory` or `maxmemory_policy` is `RsmqError::InvalidFormat`.
    ///
    /// ```
    /// use rsmq_async::ServerMemory;
    ///
    /// let m = ServerMemory::parse_info("# Memory\r\nused_memory:2048\r\nmaxmemory:4096\r\nmaxmemory_policy:noeviction\r\n")?;
    /// assert_eq!((m.used, m.max, m.policy.as_str()), (2048, 4096, "noeviction"));
    /// assert!(!m.may_evict_messages());
    /// # Ok::<(), rsmq_async::RsmqError>(())
    /// ```
    pub fn parse_info(info: &str) -> RsmqResult<ServerMemory> {
        let field = |name: &str| {
            info.lines()
                .filter_map(|l| l.trim_end().split_once(':'))
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v)
                .ok_or_else(|| RsmqError::InvalidFormat(format!("INFO memory has no {name}")))
        };
        let number = |name: &str| {
            field(name)?.parse::<u64>().map_err(|_| {
                RsmqError::InvalidFormat(format!("INFO memory: {name} is not a number"))
            })
        };
        Ok(ServerMemory {
            used: number("used_memory")?,
            max: number("maxmemory")?,
            policy: field("maxmemory_policy")?.to_owned(),
        })
    }
}
