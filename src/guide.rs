//! The guide: how the clients behave, beyond what each method's documentation says.
//!
//! Documentation only; nothing here is code. Each page is a file of `docs/guide/` in the
//! crate's source, and every example in it is compiled as a doc test.
//!
//! Start with [`clients`] and [`connecting`]; read [`reliability`] before running workers in
//! production.

/// Choosing a client: `Rsmq`, `PooledRsmq`, `RsmqSync`, and smol instead of Tokio.
///
#[doc = include_str!("../docs/guide/clients.md")]
pub mod clients {}

/// Options, connection URLs and their parameters, timeouts and reconnecting.
///
#[doc = include_str!("../docs/guide/connecting.md")]
pub mod connecting {}

/// Message bodies: strings, bytes, your own types, JSON, and bodies that do not decode.
///
#[doc = include_str!("../docs/guide/messages.md")]
pub mod messages {}

/// Durations, timestamps and their units.
///
#[doc = include_str!("../docs/guide/durations.md")]
pub mod durations {}

/// The errors, when each occurs, and what to do about it.
///
#[doc = include_str!("../docs/guide/errors.md")]
pub mod errors {}

/// Delivery guarantees, cancel safety, and what happens when Redis fails.
///
#[doc = include_str!("../docs/guide/reliability.md")]
pub mod reliability {}

/// Coalescing: concurrent calls on one client share script calls.
///
#[doc = include_str!("../docs/guide/coalescing.md")]
pub mod coalescing {}

/// Queues: creating, configuring, inspecting, peeking and purging.
///
#[doc = include_str!("../docs/guide/queues.md")]
pub mod queues {}

/// Batches: sending, receiving, deleting and changing many messages in one atomic step.
///
#[doc = include_str!("../docs/guide/batches.md")]
pub mod batches {}

/// Dead-letter queues: parking messages that keep failing, and redriving them.
///
#[doc = include_str!("../docs/guide/dead_letters.md")]
pub mod dead_letters {}

/// Long polling: waiting for a message without busy polling.
///
#[doc = include_str!("../docs/guide/long_polling.md")]
pub mod long_polling {}

/// Realtime notifications, as the JavaScript client publishes them.
///
#[doc = include_str!("../docs/guide/realtime.md")]
pub mod realtime {}

/// Passwords, ACL users limited to a namespace, and TLS.
///
#[doc = include_str!("../docs/guide/security.md")]
pub mod security {}

/// The Redis server: versions, persistence, memory, and what is not supported.
///
#[doc = include_str!("../docs/guide/redis_server.md")]
pub mod redis_server {}

/// What the client reports through `tracing`: spans per operation and warnings.
///
#[doc = include_str!("../docs/guide/observability.md")]
pub mod observability {}

/// The worker: routes, concurrency, retries, dead letters, timeouts, heartbeats and shutdown.
///
#[cfg(feature = "worker")]
#[doc = include_str!("../docs/guide/worker.md")]
pub mod workers {}

/// Redis Cluster: hash-tagged namespaces, spreading the load over masters, failover.
///
#[cfg(feature = "cluster")]
#[cfg_attr(docsrs, doc(cfg(feature = "cluster")))]
#[doc = include_str!("../docs/guide/cluster.md")]
pub mod cluster {}

/// Redis Sentinel: connecting through the sentinels, following the master through failovers.
///
#[cfg(feature = "sentinel")]
#[cfg_attr(docsrs, doc(cfg(feature = "sentinel")))]
#[doc = include_str!("../docs/guide/sentinel.md")]
pub mod sentinel {}

/// Compatibility with the JavaScript `rsmq`, PyRSMQ and `rsmq_async` 18: every difference and
/// why.
///
#[doc = include_str!("../docs/compatibility.md")]
pub mod compatibility {}
