//! Redis Sentinel (feature `sentinel`): [`Rsmq::new_sentinel`], a client that follows the
//! master of a Sentinel deployment.
//!
//! The client asks the sentinels where the master is (`SENTINEL GET-MASTER-ADDR-BY-NAME`,
//! every sentinel at once), checks with `ROLE` that the node is a master, and sends every
//! request over one multiplexed connection to it. It looks again:
//! - after an I/O error, a timeout, or a `READONLY`/`MASTERDOWN` reply (the node was demoted),
//!   and then retries the request once;
//! - when a sentinel announces that a failover of the master starts (`+try-failover`,
//!   `+selected-slave`, ...) or has switched the master (`+switch-master`). Background tasks,
//!   one subscription per sentinel on the Tokio runtime that made the client, listen for
//!   these events and resubscribe when a sentinel goes away.
//!
//! From the announcement of a failover on, the old master is not used for
//! [`SENTINEL_FENCE`] (unless the failover is aborted): requests wait for the sentinels to
//! name another master (at most the response timeout). The announcement comes 100 to 200 ms
//! before the replica is promoted (on loopback), and only from the sentinel leading the failover
//! (the others learn of it a second later, after the promotion); writes acknowledged by the
//! old master after the promotion would be lost when it is demoted, which is why every
//! sentinel is listened to and why the old master is fenced off, not merely re-resolved.
//!
//! The resolution does not use redis-rs's `SentinelClient`: it reads `SENTINEL MASTERS`,
//! where the sentinel leading a failover keeps naming the old master until the failover ends
//! (6.2 s after `SENTINEL FAILOVER` on loopback, with `failover-timeout 5000`), while the old
//! master still answers `ROLE` as a master (for about 11 s). `GET-MASTER-ADDR-BY-NAME` names
//! the promoted replica as soon as the leader has seen it become a master (1.15 s).
//!
//! The guide page is `docs/guide/sentinel.md` ([`guide::sentinel`](crate::guide::sentinel)).

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use redis::aio::{ConnectionLike, MultiplexedConnection};
use redis::{Cmd, Pipeline, RedisError, RedisFuture, RedisResult, Value};

use crate::client::Connection;
use crate::engine::Engine;
use crate::wait::Waiter;
use crate::{Rsmq, RsmqError, RsmqOptions, RsmqResult};

/// How long the master of an announced failover is avoided (unless the failover is
/// aborted): long past the moment every sentinel names the new master (about 1.2 s after
/// the announcement in the tests), so that a sentinel still naming the old one meanwhile is
/// not followed. Calls wait for the new master at most their response timeout.
///
/// ```
/// assert_eq!(rsmq_async::SENTINEL_FENCE, std::time::Duration::from_secs(10));
/// ```
pub const SENTINEL_FENCE: Duration = Duration::from_secs(10);

/// The first pause between two looks for the master during a failover; it doubles up to
/// [`RESOLVE_PAUSE_MAX`].
const RESOLVE_PAUSE_MIN: Duration = Duration::from_millis(20);
const RESOLVE_PAUSE_MAX: Duration = Duration::from_millis(200);
/// The first pause before a lost event subscription is tried again (doubling up to 5 s).
const WATCH_RETRY_MIN: Duration = Duration::from_millis(100);
const WATCH_RETRY_MAX: Duration = Duration::from_secs(5);

/// How long the sentinels that have not answered yet are waited for once one has answered.
const ASK_GRACE: Duration = Duration::from_millis(100);

/// The default port of a sentinel.
const SENTINEL_PORT: u16 = 26379;

/// Sentinel events (of the master's name) that announce a failover about to promote a
/// replica: the old master is fenced off from then on.
const FAILOVER_STARTS: &[&str] = &[
    "+try-failover",
    "+elected-leader",
    "+failover-state-select-slave",
    "+selected-slave",
    "+failover-state-send-slaveof-noone",
    "+failover-state-wait-promotion",
    "+promoted-slave",
];

/// The connection of a Sentinel client: the current master's multiplexed connection, and
/// how to find the next one.
#[derive(Clone)]
pub(crate) struct SentinelLink {
    inner: Arc<Inner>,
}

struct Inner {
    master_name: String,
    /// The sentinels, with their addresses (for errors and logs).
    sentinels: Vec<(String, redis::Client)>,
    /// The options of a data node; `host` and `port` are set per node.
    data: RsmqOptions,
    state: Mutex<State>,
    /// Held while looking for the master, so that concurrent failures look once.
    resolving: tokio::sync::Mutex<()>,
    /// The event watchers, stopped when the last clone of the client goes.
    watchers: Mutex<Vec<tokio::task::AbortHandle>>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        for w in self.watchers.get_mut().unwrap_or_else(|e| e.into_inner()) {
            w.abort();
        }
    }
}

#[derive(Default)]
struct State {
    /// Bumped whenever `master` is replaced or dropped.
    generation: u64,
    /// The master in use (`host:port`) and the connection to it; `None` until one is found.
    master: Option<(String, MultiplexedConnection)>,
    /// A master that a failover is replacing, and since when: not to be used for
    /// [`SENTINEL_FENCE`], unless the failover is aborted.
    fenced: Option<(String, Instant)>,
}

impl State {
    fn fenced(&self) -> Option<&str> {
        self.fenced
            .as_ref()
            .filter(|(_, since)| since.elapsed() < SENTINEL_FENCE)
            .map(|(addr, _)| addr.as_str())
    }
}

/// Whether an error means the master may have changed: the connection failed or timed
/// out, or the node is no longer a master.
fn master_lost(e: &RedisError) -> bool {
    e.is_io_error()
        || e.is_timeout()
        || e.is_connection_dropped()
        || e.is_connection_refusal()
        || e.is_unrecoverable_error()
        || matches!(e.code(), Some("READONLY" | "MASTERDOWN"))
        || (e.code() == Some("EXECABORT") && e.detail().is_some_and(|d| d.contains("READONLY")))
}

/// Whether a pipeline's replies hold a `READONLY`/`MASTERDOWN` error (nothing was written).
fn replies_lost_master(values: &[Value]) -> bool {
    values.iter().any(|v| match v {
        Value::ServerError(e) => matches!(e.code(), "READONLY" | "MASTERDOWN"),
        Value::Array(items) => replies_lost_master(items),
        _ => false,
    })
}

/// A request to the master: one command or a pipeline.
#[derive(Clone, Copy)]
enum Request<'a> {
    One(&'a Cmd),
    Many(&'a Pipeline, usize, usize),
}

enum Reply {
    One(Value),
    Many(Vec<Value>),
}

impl Request<'_> {
    async fn send(self, con: &mut MultiplexedConnection) -> RedisResult<Reply> {
        match self {
            Request::One(cmd) => con.req_packed_command(cmd).await.map(Reply::One),
            Request::Many(pipe, offset, count) => con
                .req_packed_commands(pipe, offset, count)
                .await
                .map(Reply::Many),
        }
    }
}

/// A reply of the other kind than the request (never happens).
fn mismatch() -> RedisError {
    RedisError::from((redis::ErrorKind::Client, "a reply of the wrong kind"))
}

impl Reply {
    fn lost_master(&self) -> bool {
        match self {
            Reply::One(v) => replies_lost_master(std::slice::from_ref(v)),
            Reply::Many(v) => replies_lost_master(v),
        }
    }
}

impl SentinelLink {
    /// The master's connection now, looking for the master first when there is none (for
    /// at most the response timeout, waiting for another task's look included).
    async fn current(&self) -> RedisResult<(u64, MultiplexedConnection)> {
        if let Some(found) = self.inner.usable() {
            return Ok(found);
        }
        let deadline = Instant::now() + self.inner.data.response_timeout;
        let timed_out = || RedisError::from((redis::ErrorKind::Io, "failover in progress"));
        let _one = tokio::time::timeout_at(deadline.into(), self.inner.resolving.lock())
            .await
            .map_err(|_| timed_out())?;
        loop {
            if let Some(found) = self.inner.usable() {
                return Ok(found);
            }
            let (addr, con) = self.inner.resolve(deadline).await?;
            let mut state = self.inner.lock();
            // A failover of this very master may have been announced meanwhile.
            if state.fenced() != Some(addr.as_str()) {
                state.generation += 1;
                state.master = Some((addr, con.clone()));
                return Ok((state.generation, con));
            }
            drop(state);
            if Instant::now() >= deadline {
                return Err(timed_out());
            }
        }
    }

    /// Sends `req` to the master; after an error (or a reply) that says the master may have
    /// changed, looks for the master and sends once more.
    async fn with_master(&self, req: Request<'_>) -> RedisResult<Reply> {
        let (generation, mut con) = self.current().await?;
        match req.send(&mut con).await {
            Ok(reply) if !reply.lost_master() => return Ok(reply),
            Err(e) if !master_lost(&e) => return Err(e),
            Ok(_) => tracing::debug!("the master is read-only; looking for it again"),
            Err(e) => tracing::debug!(error = %e, "the master failed; looking for it again"),
        }
        self.inner.forget(generation);
        let (_, mut con) = self.current().await?;
        req.send(&mut con).await
    }

    pub(crate) fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        Box::pin(async move {
            match self.with_master(Request::One(cmd)).await? {
                Reply::One(v) => Ok(v),
                Reply::Many(_) => Err(mismatch()),
            }
        })
    }

    pub(crate) fn req_packed_commands<'a>(
        &'a mut self,
        pipe: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        Box::pin(async move {
            match self.with_master(Request::Many(pipe, offset, count)).await? {
                Reply::Many(v) => Ok(v),
                Reply::One(_) => Err(mismatch()),
            }
        })
    }

    pub(crate) fn get_db(&self) -> i64 {
        i64::from(self.inner.data.db)
    }
}

impl Inner {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The master's connection, unless there is none or it is fenced off.
    fn usable(&self) -> Option<(u64, MultiplexedConnection)> {
        let state = self.lock();
        let (addr, con) = state.master.as_ref()?;
        (state.fenced() != Some(addr.as_str())).then(|| (state.generation, con.clone()))
    }

    /// Drops the master's connection of `generation` (not a newer one another task found).
    fn forget(&self, generation: u64) {
        let mut state = self.lock();
        if state.generation == generation {
            state.master = None;
            state.generation += 1;
        }
    }

    /// Fences off `old` (a failover replaces it) and drops its connection.
    fn fence(&self, old: &str) {
        let mut state = self.lock();
        if state.fenced() != Some(old) {
            state.fenced = Some((old.to_string(), Instant::now()));
        }
        if state.master.as_ref().is_some_and(|(a, _)| a == old) {
            state.master = None;
            state.generation += 1;
        }
    }

    /// Forgets the master (events may have been missed, or a failover was aborted).
    fn refresh(&self, unfence: bool) {
        let mut state = self.lock();
        if unfence {
            state.fenced = None;
        }
        state.master = None;
        state.generation += 1;
    }

    /// The sentinels' addresses, for errors.
    fn sentinel_list(&self) -> String {
        self.sentinels
            .iter()
            .map(|(a, _)| a.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// Asks every sentinel where the master is: the distinct answers (`host:port`, the one
    /// most sentinels give first), the number of sentinels that answered, and the last
    /// error of one that did not. Sentinels that have not answered [`ASK_GRACE`] after the
    /// first answer are not waited for (a sentinel that hangs costs that, not a timeout).
    async fn ask(&self) -> (Vec<String>, usize, Option<RedisError>) {
        let timeout = self.data.connection_timeout;
        let mut asks: futures_util::stream::FuturesUnordered<_> = self
            .sentinels
            .iter()
            .enumerate()
            .map(|(i, (_, client))| async move {
                let q = async {
                    let mut con = client
                        .get_multiplexed_async_connection_with_config(&sentinel_config(timeout))
                        .await?;
                    redis::cmd("SENTINEL")
                        .arg("GET-MASTER-ADDR-BY-NAME")
                        .arg(&self.master_name)
                        .query_async::<Option<(String, u16)>>(&mut con)
                        .await
                };
                let r = match tokio::time::timeout(timeout.saturating_mul(2), q).await {
                    Ok(r) => r,
                    Err(_) => Err(RedisError::from((
                        redis::ErrorKind::Io,
                        "the sentinel did not answer in time",
                    ))),
                };
                (i, r)
            })
            .collect();
        // Each address named, with how many sentinels name it and the first that did.
        let mut found: Vec<(String, usize, usize)> = Vec::new();
        let mut answered = 0;
        let mut last_err = None;
        let mut grace: Option<std::pin::Pin<Box<tokio::time::Sleep>>> = None;
        loop {
            let next = match grace.as_mut() {
                None => asks.next().await,
                Some(g) => match futures_util::future::select(asks.next(), g.as_mut()).await {
                    futures_util::future::Either::Left((next, _)) => next,
                    futures_util::future::Either::Right(_) => break,
                },
            };
            let Some((i, r)) = next else { break };
            match r {
                Ok(addr) => {
                    answered += 1;
                    grace.get_or_insert_with(|| Box::pin(tokio::time::sleep(ASK_GRACE)));
                    if let Some((host, port)) = addr {
                        let a = host_port(&host, port);
                        match found.iter_mut().find(|(f, _, _)| *f == a) {
                            Some((_, n, first)) => {
                                *n += 1;
                                *first = (*first).min(i);
                            }
                            None => found.push((a, 1, i)),
                        }
                    }
                }
                Err(e) => last_err = Some(e),
            }
        }
        // The address most sentinels name first; among equals, in the sentinels' order.
        found.sort_by_key(|(_, n, first)| (std::cmp::Reverse(*n), *first));
        (
            found.into_iter().map(|(a, _, _)| a).collect(),
            answered,
            last_err,
        )
    }

    /// Connects to `addr` and checks that it is a master.
    async fn connect_master(&self, addr: &str) -> RsmqResult<MultiplexedConnection> {
        let options = self.node_options(addr)?;
        let client = options.client()?;
        let mut con = client
            .get_multiplexed_async_connection_with_config(&options.async_config())
            .await?;
        let role: redis::Role = redis::cmd("ROLE").query_async(&mut con).await?;
        match role {
            redis::Role::Primary { .. } => Ok(con),
            _ => Err(RsmqError::RedisError(RedisError::from((
                redis::ErrorKind::Server(redis::ServerErrorKind::ReadOnly),
                "the node the sentinels name is not a master (yet)",
            )))),
        }
    }

    /// The options for the data node at `addr` (`host:port`).
    fn node_options(&self, addr: &str) -> RsmqResult<RsmqOptions> {
        let (host, port) = split_host_port(addr).ok_or_else(|| {
            RsmqError::InvalidReply(format!("the sentinels gave the address {addr:?}"))
        })?;
        Ok(RsmqOptions {
            host,
            port,
            ..self.data.clone()
        })
    }

    /// Looks for the master until `deadline`: a node the sentinels name, that answers
    /// `ROLE` as a master, and that is not fenced off.
    async fn resolve(&self, deadline: Instant) -> RedisResult<(String, MultiplexedConnection)> {
        let mut pause = RESOLVE_PAUSE_MIN;
        loop {
            let (found, answered, sentinel_err) = self.ask().await;
            let fenced = self.lock().fenced().map(str::to_string);
            let mut why: RedisError = match (answered, &sentinel_err) {
                (0, Some(e)) => RedisError::from((e.kind(), "no sentinel answered", e.to_string())),
                _ if found.is_empty() => RedisError::from((
                    redis::ErrorKind::MasterNameNotFoundBySentinel,
                    "the sentinels know no master of that name",
                    self.master_name.clone(),
                )),
                _ => RedisError::from((redis::ErrorKind::Io, "failover in progress")),
            };
            // The sentinels know no such master, or refuse the credentials: waiting will
            // not change that.
            let transient = |e: &RedisError| {
                e.is_io_error()
                    || e.is_timeout()
                    || e.is_connection_refusal()
                    || e.is_connection_dropped()
            };
            if found.is_empty() && (answered > 0 || !sentinel_err.as_ref().is_some_and(transient)) {
                return Err(why);
            }
            for addr in found
                .iter()
                .filter(|a| fenced.as_deref() != Some(a.as_str()))
            {
                match self.connect_master(addr).await {
                    Ok(con) => {
                        tracing::debug!(master = %addr, "master found through the sentinels");
                        return Ok((addr.clone(), con));
                    }
                    Err(RsmqError::RedisError(e)) => {
                        let refused = e.kind() == redis::ErrorKind::AuthenticationFailed;
                        why = RedisError::from((
                            e.kind(),
                            "the master the sentinels name cannot be used",
                            format!("{addr}: {e}"),
                        ));
                        if refused {
                            return Err(why); // the credentials will not get better
                        }
                    }
                    Err(e) => {
                        why = RedisError::from((
                            redis::ErrorKind::Client,
                            "the master the sentinels name cannot be used",
                            format!("{addr}: {e}"),
                        ))
                    }
                }
            }
            let now = Instant::now();
            if now + pause >= deadline {
                return Err(why);
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(RESOLVE_PAUSE_MAX);
        }
    }

    /// The data nodes the sentinels know of, for the realtime subscriber: the replicas that
    /// are up, then the master. A replica hears every `PUBLISH` of the master (Redis
    /// replicates it), and most replicas stay replicas through a failover, while a former
    /// master may stay cut off from the new one for seconds.
    async fn data_nodes(&self, master: &str) -> Vec<String> {
        let mut nodes = Vec::new();
        for (_, client) in &self.sentinels {
            let q = async {
                let mut con = client
                    .get_multiplexed_async_connection_with_config(&sentinel_config(
                        self.data.connection_timeout,
                    ))
                    .await?;
                redis::cmd("SENTINEL")
                    .arg("REPLICAS")
                    .arg(&self.master_name)
                    .query_async::<Vec<std::collections::HashMap<String, String>>>(&mut con)
                    .await
            };
            if let Ok(replicas) = q.await {
                for r in replicas {
                    let up = r.get("flags").is_some_and(|f| {
                        !f.split(',')
                            .any(|f| matches!(f, "s_down" | "o_down" | "disconnected"))
                    });
                    if let (true, Some(ip), Some(Ok(port))) =
                        (up, r.get("ip"), r.get("port").map(|p| p.parse::<u16>()))
                    {
                        let a = host_port(ip, port);
                        if a != master && !nodes.contains(&a) {
                            nodes.push(a);
                        }
                    }
                }
                break;
            }
        }
        nodes.push(master.to_string());
        nodes
    }
}

/// Timeouts for a connection to a sentinel.
fn sentinel_config(timeout: Duration) -> redis::AsyncConnectionConfig {
    redis::AsyncConnectionConfig::new()
        .set_connection_timeout(Some(timeout))
        .set_response_timeout(Some(timeout))
}

fn host_port(host: &str, port: u16) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

fn split_host_port(addr: &str) -> Option<(String, u16)> {
    let (host, port) = addr.rsplit_once(':')?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    Some((host.to_string(), port.parse().ok()?))
}

/// What a sentinel event means for the client, for the master named `name`.
#[derive(Debug, PartialEq, Eq)]
enum Event {
    /// A failover of the master at this address starts: avoid it.
    Starts(String),
    /// The master moved from the first address to the second.
    Switched(String, String),
    /// A failover was given up: the master stays.
    Aborted,
}

/// Reads one sentinel event (its channel and text), if it concerns the master `name`.
fn event(channel: &str, text: &str, name: &str) -> Option<Event> {
    let words: Vec<&str> = text.split(' ').collect();
    if channel == "+switch-master" {
        return match words.as_slice() {
            [n, old_ip, old_port, new_ip, new_port, ..] if *n == name => {
                let (old, new) = (old_port.parse().ok()?, new_port.parse().ok()?);
                Some(Event::Switched(
                    host_port(old_ip, old),
                    host_port(new_ip, new),
                ))
            }
            _ => None,
        };
    }
    // "<type> <name> <ip> <port> @ <master-name> <master-ip> <master-port>" for a replica
    // or a sentinel; "master <name> <ip> <port>" for the master itself.
    let master = match words.iter().position(|w| *w == "@") {
        Some(at) => words.get(at + 1..at + 4)?,
        None if words.first() == Some(&"master") => words.get(1..4)?,
        None => return None,
    };
    if master[0] != name {
        return None;
    }
    let addr = host_port(master[1], master[2].parse().ok()?);
    if FAILOVER_STARTS.contains(&channel) {
        Some(Event::Starts(addr))
    } else if channel.starts_with("-failover-abort") {
        Some(Event::Aborted)
    } else {
        None
    }
}

/// Listens to one sentinel's events for as long as the client lives, resubscribing (and
/// forgetting the master, since events may have been missed) when the sentinel goes.
async fn watch(inner: std::sync::Weak<Inner>, index: usize) {
    let mut retry = WATCH_RETRY_MIN;
    let mut lost = false;
    loop {
        let Some(link) = inner.upgrade() else { return };
        let (addr, client) = link.sentinels[index].clone();
        let name = link.master_name.clone();
        let timeout = link.data.connection_timeout;
        drop(link);
        let subscribed = async {
            let mut pubsub =
                tokio::time::timeout(timeout.saturating_mul(2), client.get_async_pubsub())
                    .await
                    .map_err(|_| RedisError::from((redis::ErrorKind::Io, "timed out")))??;
            pubsub.psubscribe("*").await?;
            Ok::<_, RedisError>(pubsub)
        };
        match subscribed.await {
            Ok(mut pubsub) => {
                retry = WATCH_RETRY_MIN;
                if lost {
                    // Events may have been missed meanwhile: look for the master again.
                    if let Some(link) = inner.upgrade() {
                        link.refresh(false);
                    }
                }
                lost = true;
                let mut messages = pubsub.on_message();
                while let Some(msg) = messages.next().await {
                    let Some(link) = inner.upgrade() else { return };
                    let text: String = msg.get_payload().unwrap_or_default();
                    match event(msg.get_channel_name(), &text, &name) {
                        Some(Event::Starts(old)) => {
                            tracing::debug!(sentinel = %addr, master = %old, "failover announced; the master is avoided");
                            link.fence(&old);
                        }
                        Some(Event::Switched(old, new)) => {
                            tracing::debug!(sentinel = %addr, old = %old, new = %new, "the master switched");
                            link.fence(&old);
                        }
                        Some(Event::Aborted) => link.refresh(true),
                        None => {}
                    }
                }
                tracing::debug!(sentinel = %addr, "sentinel event subscription lost");
            }
            Err(e) => {
                tracing::debug!(sentinel = %addr, error = %e, "cannot subscribe to sentinel events");
            }
        }
        tokio::time::sleep(retry).await;
        retry = (retry * 2).min(WATCH_RETRY_MAX);
    }
}

/// The options of a sentinel at `addr` (`redis://[user:password@]host[:port]`,
/// `rediss://...`, or `host[:port]`): its credentials only from its address, never the
/// data nodes'.
fn sentinel_options(addr: &str, options: &RsmqOptions) -> RsmqResult<(String, RsmqOptions)> {
    let node = crate::options::node_addr(addr, "sentinel")?;
    let o = RsmqOptions {
        host: node.host,
        port: node.port.unwrap_or(SENTINEL_PORT),
        db: 0,
        username: node.username,
        password: node.password,
        protocol: redis::ProtocolVersion::RESP2,
        tls: node.tls,
        ..options.clone()
    };
    Ok((o.address(), o))
}

impl Rsmq {
    /// Connects to the master that the Redis Sentinel nodes `sentinels` (`redis://host:port`,
    /// `rediss://host:port` or `host:port`; port 26379 when left out) know as `master_name`,
    /// with the namespace, data-node credentials, database, TLS, timeouts, realtime and
    /// coalescing of `options` (`host` and `port` are not used). Tokio only.
    ///
    /// A sentinel's own credentials, if it has any, go in its address
    /// (`redis://:password@host:port`); the data nodes' credentials are never sent to a
    /// sentinel.
    ///
    /// ```no_run
    /// use rsmq_async::{Rsmq, RsmqConnection, RsmqOptions};
    ///
    /// # async fn f() -> rsmq_async::RsmqResult<()> {
    /// let options = RsmqOptions { ns: "app".into(), ..Default::default() };
    /// let sentinels = ["10.0.0.1:26379", "10.0.0.2:26379", "10.0.0.3:26379"];
    /// let rsmq = Rsmq::new_sentinel(sentinels, "mymaster", options).await?;
    /// rsmq.create_queue("jobs", None, None, None).await?;
    /// # Ok(()) }
    /// ```
    ///
    /// The client follows the master through failovers: see the module's behaviour in
    /// the guide ([`guide::sentinel`](crate::guide::sentinel)). A call made while the master
    /// is being replaced waits for the new master, at most the
    /// [`response_timeout`](RsmqOptions::response_timeout), and a call that fails because
    /// the master went away or was demoted is sent once more to the new master (so, after a
    /// dropped connection, a send may be made twice: at-least-once).
    ///
    /// Fails with `InvalidOptions` when `sentinels` is empty or an address cannot be read,
    /// and with `CannotConnect`, naming the sentinels, when none answers, when they know no
    /// master `master_name`, or when the master cannot be reached within the connection
    /// timeout.
    pub async fn new_sentinel<I, S>(
        sentinels: I,
        master_name: &str,
        options: RsmqOptions,
    ) -> RsmqResult<Rsmq>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut nodes = Vec::new();
        for addr in sentinels {
            let (addr, o) = sentinel_options(addr.as_ref(), &options)?;
            nodes.push((addr, o.client()?));
        }
        if nodes.is_empty() {
            return Err(RsmqError::InvalidOptions(
                "a Sentinel client needs at least one sentinel address".into(),
            ));
        }
        // The data nodes' options are checked (TLS available, ...) before connecting.
        options.client()?;
        let inner = Arc::new(Inner {
            master_name: master_name.to_string(),
            sentinels: nodes,
            data: options.clone(),
            state: Mutex::default(),
            resolving: tokio::sync::Mutex::new(()),
            watchers: Mutex::default(),
        });
        let cannot_connect = |source| RsmqError::CannotConnect {
            addr: format!(
                "sentinels {} (master {master_name:?})",
                inner.sentinel_list()
            ),
            source,
        };
        let deadline = Instant::now() + options.connection_timeout;
        let (master, con) = inner.resolve(deadline).await.map_err(cannot_connect)?;
        let data_nodes = inner.data_nodes(&master).await;
        inner.lock().master = Some((master, con));
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            let handles = (0..inner.sentinels.len())
                .map(|i| {
                    runtime
                        .spawn(watch(Arc::downgrade(&inner), i))
                        .abort_handle()
                })
                .collect();
            *inner.watchers.lock().unwrap_or_else(|e| e.into_inner()) = handles;
        }
        let mut clients = Vec::new();
        for addr in &data_nodes {
            clients.push(inner.node_options(addr)?.client()?);
        }
        Ok(Rsmq::from_parts(
            Connection::Sentinel(SentinelLink { inner }),
            Engine::for_options(&options),
            Arc::new(Waiter::new_any(clients, &options.ns)),
        ))
    }

    /// The master this client sends to now, as `host:port` (it changes with a failover),
    /// looking for it through the sentinels first when it is not known. Errors when the
    /// client was not made by [`Rsmq::new_sentinel`].
    ///
    /// ```no_run
    /// # use rsmq_async::Rsmq;
    /// # async fn f(rsmq: Rsmq) -> rsmq_async::RsmqResult<()> {
    /// println!("writing to {}", rsmq.sentinel_master().await?);
    /// # Ok(()) }
    /// ```
    pub async fn sentinel_master(&self) -> RsmqResult<String> {
        let Connection::Sentinel(link) = &self.connection else {
            return Err(RsmqError::InvalidOptions(
                "sentinel_master: this client is not on Sentinel (make it with Rsmq::new_sentinel)"
                    .into(),
            ));
        };
        link.current().await?;
        let state = link.inner.lock();
        match &state.master {
            Some((addr, _)) => Ok(addr.clone()),
            // A failover was announced this very moment.
            None => Err(RsmqError::RedisError(RedisError::from((
                redis::ErrorKind::Io,
                "failover in progress",
            )))),
        }
    }
}

impl ConnectionLike for SentinelLink {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        SentinelLink::req_packed_command(self, cmd)
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        cmd: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        SentinelLink::req_packed_commands(self, cmd, offset, count)
    }

    fn get_db(&self) -> i64 {
        SentinelLink::get_db(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_of_the_master() {
        assert_eq!(
            event(
                "+switch-master",
                "mymaster 127.0.0.1 7200 127.0.0.1 7202",
                "mymaster"
            ),
            Some(Event::Switched(
                "127.0.0.1:7200".into(),
                "127.0.0.1:7202".into()
            ))
        );
        assert_eq!(
            event(
                "+switch-master",
                "other 127.0.0.1 7200 127.0.0.1 7202",
                "mymaster"
            ),
            None
        );
        assert_eq!(
            event(
                "+try-failover",
                "master mymaster 127.0.0.1 7200",
                "mymaster"
            ),
            Some(Event::Starts("127.0.0.1:7200".into()))
        );
        assert_eq!(
            event(
                "+selected-slave",
                "slave 127.0.0.1:7202 127.0.0.1 7202 @ mymaster 127.0.0.1 7200",
                "mymaster"
            ),
            Some(Event::Starts("127.0.0.1:7200".into()))
        );
        assert_eq!(
            event(
                "-failover-abort-no-good-slave",
                "master mymaster 127.0.0.1 7200",
                "mymaster"
            ),
            Some(Event::Aborted)
        );
        assert_eq!(
            event("+sdown", "master mymaster 127.0.0.1 7200", "mymaster"),
            None
        );
        assert_eq!(
            event("+try-failover", "master other 1.2.3.4 1", "mymaster"),
            None
        );
    }

    #[test]
    fn sentinel_addresses() {
        let o = RsmqOptions {
            password: Some("data-secret".into()),
            ..Default::default()
        };
        let (a, s) = sentinel_options("10.0.0.1", &o).unwrap();
        assert_eq!(a, "10.0.0.1:26379");
        assert_eq!(s.password, None);
        let (a, s) = sentinel_options("redis://:s%40cret@10.0.0.2:5000", &o).unwrap();
        assert_eq!(
            (a.as_str(), s.password.as_deref()),
            ("10.0.0.2:5000", Some("s@cret"))
        );
        let e = sentinel_options("http://u:pw@h:1", &o)
            .unwrap_err()
            .to_string();
        assert!(e.contains("http://h:1") && !e.contains("pw"), "{e}");
    }
}
