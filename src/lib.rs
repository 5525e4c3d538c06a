#![doc = include_str!("../docs/overview.md")]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod attributes;
mod client;
#[cfg(feature = "cluster")]
mod cluster;
mod coalesce;
mod connection;
mod engine;
mod error;
mod facade;
pub mod guide;
mod id;
#[cfg(feature = "serde")]
mod json;
mod keys;
mod liveness;
mod message;
mod observe;
mod options;
#[cfg(feature = "tokio-comp")]
mod pool;
mod reply;
#[cfg(feature = "sentinel")]
mod sentinel;
mod server;
#[cfg(feature = "sync")]
mod sync;
mod units;
mod validate;
mod wait;
#[cfg(feature = "worker")]
mod worker;

pub use attributes::RsmqQueueAttributes;
pub use client::Rsmq;
#[cfg(feature = "cluster")]
#[cfg_attr(docsrs, doc(cfg(feature = "cluster")))]
pub use cluster::{cluster_hash_tag, cluster_namespace_in, cluster_slot};
pub use connection::RsmqConnection;
pub use error::{RsmqError, RsmqResult, SharedError};
#[cfg(all(feature = "serde", feature = "sync"))]
#[cfg_attr(docsrs, doc(cfg(all(feature = "serde", feature = "sync"))))]
pub use json::RsmqJsonExtSync;
#[cfg(feature = "serde")]
#[cfg_attr(docsrs, doc(cfg(feature = "serde")))]
pub use json::{Json, RsmqJsonExt};
pub use liveness::LiveWorker;
pub use message::{BrowsedMessage, MessagePage, RedisBytes, RsmqMessage};
pub use options::{Durability, RsmqOptions, DEFAULT_CONNECTION_TIMEOUT, DEFAULT_RESPONSE_TIMEOUT};
#[cfg(feature = "tokio-comp")]
#[cfg_attr(docsrs, doc(cfg(feature = "tokio-comp")))]
pub use pool::{
    PoolOptions, PooledRsmq, RedisConnectionManager, DEFAULT_CHECKOUT_TIMEOUT, DEFAULT_MAX_SIZE,
};
pub use redis;
#[cfg(feature = "sentinel")]
#[cfg_attr(docsrs, doc(cfg(feature = "sentinel")))]
pub use sentinel::SENTINEL_FENCE;
pub use server::ServerMemory;
#[cfg(feature = "sync")]
#[cfg_attr(docsrs, doc(cfg(feature = "sync")))]
pub use sync::{RsmqConnectionSync, RsmqSync};
pub use units::ScoreUnit;
pub use validate::MAX_BATCH;
pub use wait::FALLBACK_POLL;
#[cfg(feature = "worker")]
#[cfg_attr(docsrs, doc(cfg(feature = "worker")))]
pub use worker::{
    Backoff, DecodeError, Permanent, RouteOptions, Worker, WorkerBuilder, WorkerHandle,
    DEFAULT_CONCURRENCY, DEFAULT_SHUTDOWN_TIMEOUT,
};

/// The Lua source of every script, by operation name, for benchmarks that run them with
/// `redis-benchmark`. Not part of the stable API.
#[doc(hidden)]
pub use engine::sources as script_sources;

/// The README's examples, compiled as doc tests.
#[cfg(all(doctest, feature = "tokio-comp", feature = "sync", feature = "worker"))]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;

/// Not part of the public API: what the sealed traits [`RsmqConnection`] and
/// `RsmqConnectionSync` require. Only this crate's clients implement those traits, so that
/// operations can be added to them without breaking anyone; implementing `Sealed` elsewhere
/// (as this crate's own tests do, to run one suite against every client) is not covered by
/// semantic versioning.
#[doc(hidden)]
pub mod __private {
    /// The supertrait that seals [`RsmqConnection`](crate::RsmqConnection).
    pub trait Sealed {}
}
