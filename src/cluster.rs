//! Redis Cluster (feature `cluster`): [`Rsmq::new_cluster`], and where a namespace lands.
//!
//! A namespace lives in one hash slot: its name carries a hash tag (`{app}`), so every key
//! of it (`{app}:QUEUES`, `{app}:jobs`, `{app}:jobs:Q`, `{app}:.workers`) and its realtime
//! channels hash alike, and every script stays atomic on one master. The keys are the ones
//! the JavaScript client writes for the same namespace. Load spreads over masters by giving
//! groups of queues namespaces of their own, on different masters
//! ([`Rsmq::cluster_namespaces`]). The guide page is `docs/guide/cluster.md`
//! ([`guide::cluster`](crate::guide::cluster)).

use std::ops::RangeInclusive;
use std::sync::Arc;

use redis::cluster_async::ClusterConnection;
use redis::cluster_routing::{Route, RoutingInfo, SingleNodeRoutingInfo, SlotAddr};
use redis::{Cmd, Pipeline, RedisFuture, Value};

use crate::client::Connection;
use crate::engine::Engine;
use crate::wait::Waiter;
use crate::{Rsmq, RsmqError, RsmqOptions, RsmqResult};

/// The number of hash slots of a Redis Cluster.
const SLOTS: u16 = 16384;

/// The hash tag of a namespace: the text between its first `{` and the next `}`, when that
/// is not empty. Every key of the namespace starts with the namespace, so this is the tag of
/// every key.
///
/// ```
/// use rsmq_async::cluster_hash_tag;
///
/// assert_eq!(cluster_hash_tag("{app}"), Some("app"));
/// assert_eq!(cluster_hash_tag("rsmq{orders}"), Some("orders"));
/// assert_eq!(cluster_hash_tag("rsmq"), None);
/// assert_eq!(cluster_hash_tag("{}x"), None);
/// ```
pub fn cluster_hash_tag(ns: &str) -> Option<&str> {
    let open = ns.find('{')?;
    let close = ns[open + 1..].find('}')?;
    let tag = &ns[open + 1..open + 1 + close];
    (!tag.is_empty()).then_some(tag)
}

/// The hash slot of a namespace's keys (0 to 16383), or `None` when it has no hash tag.
///
/// ```
/// use rsmq_async::cluster_slot;
///
/// assert_eq!(cluster_slot("{app}"), Some(6805)); // as CLUSTER KEYSLOT {app}:q1 says
/// assert_eq!(cluster_slot("rsmq"), None);
/// ```
pub fn cluster_slot(ns: &str) -> Option<u16> {
    cluster_hash_tag(ns).map(|tag| crc16::State::<crc16::XMODEM>::calculate(tag.as_bytes()) % SLOTS)
}

/// The first namespace `{prefix}`, `{prefix-1}`, `{prefix-2}`, ... whose slot is in `slots`:
/// a namespace placed on the master that serves those slots.
///
/// ```
/// use rsmq_async::{cluster_namespace_in, cluster_slot};
///
/// let ns = cluster_namespace_in("orders", 10923..=16383);
/// assert!((10923..=16383).contains(&cluster_slot(&ns).unwrap()));
/// ```
///
/// Panics when `slots` holds no slot of a cluster (is empty or starts beyond 16383).
pub fn cluster_namespace_in(prefix: &str, slots: RangeInclusive<u16>) -> String {
    assert!(
        slots.start() <= slots.end() && *slots.start() < SLOTS,
        "cluster_namespace_in: {slots:?} holds no hash slot (0..=16383)"
    );
    std::iter::once(format!("{{{prefix}}}"))
        .chain((1u64..).map(|i| format!("{{{prefix}-{i}}}")))
        .find(|ns| cluster_slot(ns).is_some_and(|s| slots.contains(&s)))
        .expect("some suffix lands in any slot")
}

/// The connection of a cluster client: the cluster's own (multiplexed per node, following
/// `MOVED` and failovers), and the slot of the namespace, where commands without a key
/// (`TIME`, `INFO`) go, so that the clock a script compares with is the one its keys live by.
#[derive(Clone)]
pub(crate) struct ClusterLink {
    con: ClusterConnection,
    slot: u16,
}

impl ClusterLink {
    fn to_namespace(&self) -> RoutingInfo {
        RoutingInfo::SingleNode(SingleNodeRoutingInfo::SpecificNode(Route::new(
            self.slot,
            SlotAddr::Master,
        )))
    }

    pub(crate) fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        let keyless = cmd.args_iter().next().is_some_and(
            |a| matches!(a, redis::Arg::Simple(name) if name.eq_ignore_ascii_case(b"TIME") || name.eq_ignore_ascii_case(b"INFO")),
        );
        if keyless {
            let routing = self.to_namespace();
            Box::pin(async move { self.con.route_command(cmd.clone(), routing).await })
        } else {
            redis::aio::ConnectionLike::req_packed_command(&mut self.con, cmd)
        }
    }

    pub(crate) fn req_packed_commands<'a>(
        &'a mut self,
        pipe: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        redis::aio::ConnectionLike::req_packed_commands(&mut self.con, pipe, offset, count)
    }
}

impl Rsmq {
    /// Connects to a Redis Cluster through any of its `nodes` (`redis://host:port`,
    /// `rediss://host:port`, or `host:port`), with the namespace, credentials, TLS,
    /// timeouts, realtime and coalescing of `options` (`host`, `port` and `db` are not
    /// used: a cluster has only database 0).
    ///
    /// The namespace must carry a hash tag, such as `{app}` (see [`cluster_hash_tag`]), so
    /// that its keys share a slot; otherwise this fails with `InvalidOptions` before
    /// connecting. Everything else works as on one server, with the same keys.
    ///
    /// ```no_run
    /// use rsmq_async::{Rsmq, RsmqConnection, RsmqOptions};
    ///
    /// # async fn f() -> rsmq_async::RsmqResult<()> {
    /// let options = RsmqOptions { ns: "{app}".into(), ..Default::default() };
    /// let rsmq = Rsmq::new_cluster(["redis://10.0.0.1:7000", "redis://10.0.0.2:7000"], options).await?;
    /// rsmq.create_queue("jobs", None, None, None).await?;
    /// # Ok(()) }
    /// ```
    ///
    /// A call during a failover is retried (after 20 ms, doubling up to 1 s) until it
    /// succeeds or the [`response_timeout`](RsmqOptions::response_timeout) has passed.
    /// Fails with `CannotConnect`, naming the first node, when no node answers.
    pub async fn new_cluster<I, S>(nodes: I, options: RsmqOptions) -> RsmqResult<Rsmq>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let Some(slot) = cluster_slot(&options.ns) else {
            return Err(RsmqError::InvalidOptions(format!(
                "the namespace {:?} has no hash tag, so its keys would spread over the \
                 cluster's slots and its scripts could not run: put the name in braces, \
                 such as ns = \"{{{}}}\" (keys stay those of the JavaScript client for that \
                 namespace)",
                options.ns, options.ns
            )));
        };
        let mut per_node = Vec::new();
        for node in nodes {
            per_node.push(node_options(node.as_ref(), &options)?);
        }
        let Some(first) = per_node.first() else {
            return Err(RsmqError::InvalidOptions(
                "a cluster client needs at least one node address".into(),
            ));
        };
        let addr = first.address();
        let mut clients = Vec::with_capacity(per_node.len());
        for o in &per_node {
            clients.push(o.client()?);
        }
        let mut builder = redis::cluster::ClusterClientBuilder::new(
            clients.iter().map(|c| c.get_connection_info().clone()),
        )
        .connection_timeout(options.connection_timeout)
        .response_timeout(options.response_timeout)
        .use_protocol(options.protocol)
        .retries(12)
        .min_retry_wait(20)
        .max_retry_wait(1_000)
        .retry_wait_formula(10, 2);
        if let Some(user) = &options.username {
            builder = builder.username(user);
        }
        if let Some(pw) = &options.password {
            builder = builder.password(pw);
        }
        #[cfg(feature = "tls-rustls")]
        if options.tls || per_node.iter().any(|o| o.tls) {
            builder = builder.certs(redis::TlsCertificates {
                client_tls: None,
                root_cert: options.tls_root_cert.clone(),
            });
        }
        let cannot_connect = |source| RsmqError::CannotConnect {
            addr: addr.clone(),
            source,
        };
        let client = builder.build().map_err(cannot_connect)?;
        let mut con = tokio::time::timeout(
            options.connection_timeout.saturating_mul(2),
            client.get_async_connection(),
        )
        .await
        .map_err(|_| {
            cannot_connect(redis::RedisError::from((
                redis::ErrorKind::Io,
                "no node answered in time",
            )))
        })?
        .map_err(cannot_connect)?;
        redis::cmd("PING")
            .query_async::<()>(&mut con)
            .await
            .map_err(cannot_connect)?;
        Ok(Rsmq::from_parts(
            Connection::Cluster(ClusterLink { con, slot }),
            Engine::for_options(&options),
            Arc::new(Waiter::new_any(clients, &options.ns)),
        ))
    }

    /// The master that serves this client's namespace now, as `host:port` (it changes
    /// with a failover). Errors when the client is not on a cluster.
    ///
    /// ```no_run
    /// # use rsmq_async::Rsmq;
    /// # async fn f(rsmq: Rsmq) -> rsmq_async::RsmqResult<()> {
    /// println!("namespace served by {}", rsmq.cluster_master().await?);
    /// # Ok(()) }
    /// ```
    pub async fn cluster_master(&self) -> RsmqResult<String> {
        let Connection::Cluster(link) = &self.connection else {
            return Err(RsmqError::InvalidOptions(
                "cluster_master: this client is not on a cluster (make it with Rsmq::new_cluster)"
                    .into(),
            ));
        };
        let mut link = link.clone();
        let routing = link.to_namespace();
        let nodes = link
            .con
            .route_command(redis::cmd("CLUSTER").arg("NODES").clone(), routing)
            .await?;
        let text = crate::reply::string(nodes, "CLUSTER NODES")?;
        myself(&text).ok_or_else(|| {
            RsmqError::InvalidReply("CLUSTER NODES has no line for the node itself".into())
        })
    }

    /// One namespace per master of the cluster, placed on it: `{prefix}`, `{prefix-1}`, ...
    /// as [`cluster_namespace_in`] finds them for each master's first range of slots.
    /// Returns `(master "host:port", namespace)` pairs, sorted by master. Give each group of
    /// queues one of them (a client per namespace) to spread the load.
    ///
    /// ```no_run
    /// # use rsmq_async::{Rsmq, RsmqOptions};
    /// # async fn f(nodes: Vec<String>) -> rsmq_async::RsmqResult<()> {
    /// let admin = Rsmq::new_cluster(&nodes, RsmqOptions { ns: "{admin}".into(), ..Default::default() }).await?;
    /// for (master, ns) in admin.cluster_namespaces("orders").await? {
    ///     let rsmq = Rsmq::new_cluster(&nodes, RsmqOptions { ns, ..Default::default() }).await?;
    ///     // ...
    /// #   let _ = (master, rsmq);
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn cluster_namespaces(&self, prefix: &str) -> RsmqResult<Vec<(String, String)>> {
        let Connection::Cluster(link) = &self.connection else {
            return Err(RsmqError::InvalidOptions(
                "cluster_namespaces: this client is not on a cluster (make it with Rsmq::new_cluster)"
                    .into(),
            ));
        };
        let mut link = link.clone();
        let routing = link.to_namespace();
        let reply = link
            .con
            .route_command(redis::cmd("CLUSTER").arg("SLOTS").clone(), routing)
            .await?;
        let mut masters: Vec<(String, u16, u16)> = Vec::new();
        let Value::Array(ranges) = reply else {
            return Err(RsmqError::InvalidReply(
                "CLUSTER SLOTS: not an array".into(),
            ));
        };
        for range in ranges {
            let Value::Array(parts) = range else { continue };
            let (Some(start), Some(end), Some(Value::Array(master))) =
                (parts.first(), parts.get(1), parts.get(2))
            else {
                continue;
            };
            let (Some(start), Some(end)) =
                (crate::reply::integer(start), crate::reply::integer(end))
            else {
                continue;
            };
            let host: Option<String> = master
                .first()
                .and_then(|h| redis::FromRedisValue::from_redis_value(h.clone()).ok());
            let port = master.get(1).and_then(crate::reply::integer);
            let (Some(host), Some(port)) = (host, port) else {
                continue;
            };
            let (Ok(start), Ok(end)) = (u16::try_from(start), u16::try_from(end)) else {
                continue;
            };
            if start <= end && end < SLOTS {
                masters.push((format!("{host}:{port}"), start, end));
            }
        }
        masters.sort();
        masters.dedup_by(|b, a| a.0 == b.0); // each master's first range
        Ok(masters
            .into_iter()
            .map(|(m, start, end)| (m, cluster_namespace_in(prefix, start..=end)))
            .collect())
    }
}

/// The options for one node: its host, port and scheme, the rest from `options`.
fn node_options(node: &str, options: &RsmqOptions) -> RsmqResult<RsmqOptions> {
    let addr = crate::options::node_addr(node, "cluster node")?;
    Ok(RsmqOptions {
        host: addr.host,
        port: addr.port.unwrap_or(6379),
        db: 0,
        tls: options.tls || addr.tls,
        ..options.clone()
    })
}

/// The address of the `myself` line of `CLUSTER NODES`.
fn myself(nodes: &str) -> Option<String> {
    nodes.lines().find_map(|line| {
        let mut fields = line.split(' ');
        let (_id, addr, flags) = (fields.next()?, fields.next()?, fields.next()?);
        flags
            .split(',')
            .any(|f| f == "myself")
            .then(|| addr.split(['@', ',']).next().unwrap_or(addr).to_string())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_match_redis() {
        // CLUSTER KEYSLOT on Redis 7 for the same keys.
        assert_eq!(cluster_slot("{app}"), Some(6805));
        assert_eq!(cluster_slot("x{foo}y"), Some(12182));
        assert_eq!(cluster_slot("{}"), None);
        assert_eq!(cluster_slot("{"), None);
    }

    #[test]
    fn a_namespace_lands_in_any_range() {
        for range in [0..=5460, 5461..=10922, 10923..=16383, 100..=100] {
            let ns = cluster_namespace_in("q", range.clone());
            assert!(range.contains(&cluster_slot(&ns).unwrap()), "{ns}");
        }
    }

    #[test]
    fn node_addresses() {
        let o = RsmqOptions::default();
        let n = node_options("10.0.0.1:7001", &o).unwrap();
        assert_eq!((n.host.as_str(), n.port, n.tls), ("10.0.0.1", 7001, false));
        let n = node_options("rediss://[::1]:7002", &o).unwrap();
        assert_eq!((n.host.as_str(), n.port, n.tls), ("::1", 7002, true));
        let e = node_options("http://user:secret@h:1", &o)
            .unwrap_err()
            .to_string();
        assert!(!e.contains("secret") && e.contains("h:1"), "{e}");
    }

    #[test]
    fn the_myself_line() {
        let nodes = "a 127.0.0.1:7001@17001 master - 0 0 1 connected 0-5460\n\
                     b 127.0.0.1:7002@17002,host myself,master - 0 0 2 connected 5461-10922\n";
        assert_eq!(myself(nodes).as_deref(), Some("127.0.0.1:7002"));
        assert_eq!(myself("junk"), None);
    }
}
