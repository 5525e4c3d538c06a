//! The engine: every RSMQ operation, generic over the Redis connection.
//!
//! Each method validates its input, builds the queue's keys, runs one script (one round
//! trip, with the exceptions ARCHITECTURE.md lists) and decodes the reply. The clients
//! ([`Rsmq`](crate::Rsmq) and the others) only hold a connection and call in here, so
//! behaviour cannot drift between them.
//!
//! One file per family of operations, each beside a folder of the scripts it runs:
//!
//! | family | Rust | Lua |
//! |---|---|---|
//! | queues: create, delete, list, attributes | `queue.rs` | `queue/` |
//! | sends, single, batch and coalesced | `send.rs` | `send/` |
//! | sends whose bodies are stored with `HSET` first | `stored.rs` | `stored/` |
//! | receives, pop, batch and coalesced receives | `receive.rs` | `receive/` |
//! | visibility changes | `visibility.rs` | `visibility/` |
//! | deletes | `delete.rs` | `delete/` |
//! | dead letters: move, receive-or-DLQ, redrive | `dlq.rs` | `dlq/` |
//! | peek, browse and purge | `inspect.rs` | `inspect/` |
//! | worker liveness | `liveness.rs` | `liveness/` |
//!
//! `lua.rs` puts the scripts together and calls them; `lua/` holds the Lua pieces scripts
//! share. Not here: connection handling (the clients), key names (`keys`), reply decoding
//! (`reply`).

mod delete;
mod dlq;
mod inspect;
mod liveness;
pub(crate) mod lua;
mod queue;
mod receive;
mod send;
mod server;
mod stored;
mod visibility;

use std::sync::Arc;
use std::time::Duration;

use redis::aio::ConnectionLike;
use redis::Value;

use crate::coalesce::Coalescer;
use crate::keys::{self, QueueKeys};
use crate::message::{RedisBytes, RsmqMessage};
use crate::units::ScoreUnit;
use crate::{reply, validate, RsmqResult};

use lua::{code, Invocation, Script};

/// The namespace-bound operations. Cheap to clone.
#[derive(Clone, Debug)]
pub(crate) struct Engine {
    ns: Arc<str>,
    queues_set: Arc<str>,
    realtime: bool,
    unit: ScoreUnit,
    /// Present when concurrent sends, receives and deletes are coalesced (see `coalesce`).
    coalesce: Option<Arc<Coalescers>>,
    body_sizes: Arc<receive::BodySizes>,
    stored_clock: Arc<stored::StoredClock>,
    /// Durable sends: replicas to wait for, and the `WAIT` timeout in milliseconds.
    durable: Option<(u32, u64)>,
}

/// The coalescers of one client, by operation.
#[derive(Debug)]
pub(crate) struct Coalescers {
    send: Arc<Coalescer<Arc<str>, send::SendRequest, String>>,
    receive: Arc<Coalescer<receive::ReceiveKey, (), receive::Received>>,
    delete: Arc<Coalescer<Arc<str>, String, bool>>,
}

impl Default for Coalescers {
    fn default() -> Self {
        Coalescers {
            // Sends allow one batch more in flight: a batch of large bodies takes two round
            // trips (see `stored`), and sends need no answer to the ones before.
            send: Arc::new(Coalescer::with_in_flight(send::SEND_IN_FLIGHT)),
            receive: Default::default(),
            delete: Default::default(),
        }
    }
}

/// Every script, for the benchmark's `script_sources` and the tests.
const SCRIPTS: &[&Script] = &[
    &queue::CREATE_QUEUE,
    &queue::DELETE_QUEUE,
    &queue::GET_QUEUE_ATTRIBUTES,
    &queue::SET_QUEUE_ATTRIBUTES,
    &send::SEND_MESSAGE,
    &send::SEND_MESSAGE_BATCH,
    &send::SEND_MESSAGES,
    &stored::SEND_STORED,
    &stored::SEND_BATCH_STORED,
    &receive::RECEIVE_MESSAGE,
    &receive::POP_MESSAGE,
    &receive::RECEIVE_MESSAGE_BATCH,
    &receive::RECEIVE_HEADS,
    &visibility::CHANGE_MESSAGE_VISIBILITY,
    &visibility::CHANGE_MESSAGE_VISIBILITY_BATCH,
    &delete::DELETE_MESSAGES,
    &dlq::MOVE_MESSAGE,
    &dlq::RECEIVE_MESSAGE_OR_DLQ,
    &dlq::REDRIVE,
    &inspect::PEEK_MESSAGES,
    &inspect::BROWSE_MESSAGES,
    &inspect::GET_MESSAGE,
    &inspect::PURGE_MESSAGES,
    &inspect::PURGE_ORPHANS,
    &liveness::REGISTER_WORKER,
    &liveness::LIVE_WORKERS,
];

/// The Lua source of every script (as the default score unit writes them), by name, for
/// the benchmark's `redis-benchmark` ceiling runs. Not part of the stable API.
pub fn sources() -> Vec<(&'static str, String)> {
    SCRIPTS
        .iter()
        .map(|s| (s.name(), s.get(ScoreUnit::default()).source().to_string()))
        .collect()
}

/// Runs a script call and turns a reply code into its error.
async fn run<C>(con: &mut C, call: &Invocation<'_>) -> RsmqResult<Value>
where
    C: ConnectionLike + Send,
{
    reply::check_code(call.invoke(con).await?)
}

/// Durable sends: the replicas asked for and the `WAIT` timeout (ms), and what a send's
/// `WAIT` answered.
#[derive(Clone, Copy)]
pub(super) struct Waited {
    wanted: u32,
    acked: u64,
}

impl Waited {
    /// `ids` when enough replicas acknowledged; else `NotDurable` carrying them.
    fn check(self, ids: Vec<String>) -> RsmqResult<Vec<String>> {
        if self.acked >= u64::from(self.wanted) {
            Ok(ids)
        } else {
            Err(crate::RsmqError::NotDurable {
                ids,
                acked: self.acked,
                wanted: self.wanted,
            })
        }
    }

    /// [`check`](Self::check) for one id.
    fn check_one(self, id: String) -> RsmqResult<String> {
        self.check(vec![id]).map(|mut ids| ids.remove(0))
    }
}

impl Engine {
    /// Runs a send's script: as [`run`], and with durable sends followed by `WAIT` in the
    /// same round trip. The reply code is checked either way.
    async fn run_send<C>(
        &self,
        con: &mut C,
        call: &Invocation<'_>,
    ) -> RsmqResult<(Value, Option<Waited>)>
    where
        C: ConnectionLike + Send,
    {
        let Some((wanted, ms)) = self.durable else {
            return Ok((run(con, call).await?, None));
        };
        let (value, acked) = call.invoke_and_wait(con, wanted, ms).await?;
        Ok((reply::check_code(value)?, Some(Waited { wanted, acked })))
    }
}

/// Like [`run`], for scripts that may answer `MORE` after a bounded amount of work: calls
/// again until they answer something else. Every call makes progress (drops or moves at
/// least one member), so this ends.
async fn run_to_end<C>(con: &mut C, call: &Invocation<'_>) -> RsmqResult<Value>
where
    C: ConnectionLike + Send,
{
    loop {
        match call.invoke(con).await? {
            Value::Int(code::MORE) => continue,
            other => return reply::check_code(other),
        }
    }
}

/// An optional number of score units as `ARGV`: `""` for "the queue's".
fn units_arg(units: Option<u64>) -> String {
    units.map(|u| u.to_string()).unwrap_or_default()
}

/// Decodes every body; the first failure is the error (the messages stay in Redis).
fn decode_all<E>(raw: Vec<RsmqMessage<Vec<u8>>>) -> RsmqResult<Vec<RsmqMessage<E>>>
where
    E: TryFrom<RedisBytes, Error = Vec<u8>>,
{
    raw.into_iter().map(RsmqMessage::decode).collect()
}

impl Engine {
    /// An engine for namespace `ns`, with scores in the default unit and no coalescing.
    pub(crate) fn new(ns: &str, realtime: bool) -> Self {
        Engine {
            ns: ns.into(),
            queues_set: keys::queues_set(ns).into(),
            realtime,
            unit: ScoreUnit::default(),
            coalesce: None,
            body_sizes: Default::default(),
            stored_clock: Default::default(),
            durable: None,
        }
    }

    /// The engine `options` ask for: their namespace, realtime notifications, coalescing,
    /// score unit and durability. Every client built from options starts here.
    pub(crate) fn for_options(options: &crate::RsmqOptions) -> Self {
        Engine::new(&options.ns, options.realtime)
            .coalescing(options.coalesce)
            .with_score_unit(options.score_unit)
            .with_durability(options.durable)
    }

    /// This engine, coalescing concurrent sends, receives and deletes per queue.
    pub(crate) fn coalescing(mut self, on: bool) -> Self {
        self.coalesce = on.then(Default::default);
        self
    }

    /// This engine, writing and reading scores in `unit`.
    pub(crate) fn with_score_unit(mut self, unit: ScoreUnit) -> Self {
        self.unit = unit;
        self
    }

    /// This engine, waiting for replicas after each send when `durable` says so.
    pub(crate) fn with_durability(mut self, durable: Option<crate::Durability>) -> Self {
        self.durable = durable.map(|d| {
            let ms = u64::try_from(d.timeout.as_millis())
                .unwrap_or(u64::MAX)
                .max(1);
            (d.replicas, ms)
        });
        self
    }

    /// The unit of the scores this engine writes and reads.
    pub(crate) fn score_unit(&self) -> ScoreUnit {
        self.unit
    }

    /// Whether calls go through the coalescers.
    pub(crate) fn coalesces(&self) -> bool {
        self.coalesce.is_some()
    }

    fn keys(&self, qname: &str) -> QueueKeys {
        QueueKeys::new(&self.ns, qname)
    }

    /// The keys of a source and a destination queue, validated: both names, and different.
    fn pair(&self, src: &str, dst: &str) -> RsmqResult<(QueueKeys, QueueKeys)> {
        validate::qname(src)?;
        validate::qname(dst)?;
        validate::different(src, dst)?;
        Ok((self.keys(src), self.keys(dst)))
    }

    /// A call of `script` (in this engine's score unit) with its `KEYS`.
    fn call(&self, script: &'static Script, keys: &[&str]) -> Invocation<'static> {
        script.get(self.unit).call(keys)
    }

    /// `EVAL` of `script` with its source, for `MULTI` (see [`lua::Lua::eval`]).
    fn eval(&self, script: &'static Script, keys: &[&str]) -> redis::Cmd {
        script.get(self.unit).eval(keys)
    }

    /// A per-call vt or delay, validated, in score units.
    fn units(&self, d: Duration, name: &str) -> RsmqResult<u64> {
        validate::call_duration(d, name, self.unit)
    }

    /// An optional per-call vt or delay, validated, in score units (`None`: the queue's).
    fn optional_units(&self, d: Option<Duration>, name: &str) -> RsmqResult<Option<u64>> {
        d.map(|d| self.units(d, name)).transpose()
    }

    /// The realtime channel of a queue, or `""` when realtime is off.
    fn channel(&self, qname: &str) -> String {
        if self.realtime {
            keys::realtime_channel(&self.ns, qname)
        } else {
            String::new()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_call_is_evalsha_with_numkeys_keys_then_args_on_the_wire() {
        let engine = Engine::new("rsmq", false);
        let mut call = engine.call(&delete::DELETE_MESSAGES, &["rsmq:q", "rsmq:q:Q"]);
        call.arg("id1");
        let sha = redis::Script::new(delete::DELETE_MESSAGES.get(ScoreUnit::default()).source())
            .get_hash()
            .to_string();
        let expected = format!(
            "*6\r\n$7\r\nEVALSHA\r\n$40\r\n{sha}\r\n$1\r\n2\r\n$6\r\nrsmq:q\r\n$8\r\nrsmq:q:Q\r\n$3\r\nid1\r\n"
        );
        assert_eq!(call.packed(), expected.as_bytes());
    }

    #[test]
    fn every_script_is_listed_once_with_its_prelude() {
        let sources = sources();
        assert_eq!(sources.len(), SCRIPTS.len());
        let mut names: Vec<&str> = sources.iter().map(|(n, _)| *n).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), SCRIPTS.len());
        assert!(sources.iter().all(|(_, s)| s.starts_with("local ")));
        let source = |name: &str| &sources.iter().find(|(n, _)| *n == name).unwrap().1;
        // Pieces come only where they are included.
        assert!(!source("delete_messages").contains("local function clock"));
        let send = source("send_message");
        assert!(send.contains("local function clock()") && send.contains("local function b36"));
        // The benchmark finds these by name.
        for name in [
            "send_message",
            "receive_message",
            "pop_message",
            "send_message_batch",
            "receive_message_batch",
        ] {
            source(name);
        }
    }
}
