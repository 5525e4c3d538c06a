//! An async client for RSMQ, the Redis Simple Message Queue, byte-compatible with the
//! JavaScript [`rsmq`](https://www.npmjs.com/package/rsmq) 0.12.4: a Node service and a Rust
//! service can share queues, each reading what the other wrote.
//!
//! Queues live in plain Redis: a sorted set of message ids scored by the time they become
//! receivable, and a hash holding the attributes and bodies. An operation is one Lua script,
//! so it is atomic and costs one round trip; only `purge_queue` runs in many short steps, so
//! that it never blocks Redis for long.
//!
//! ```no_run
//! use rsmq_async::{Rsmq, RsmqConnection, RsmqError};
//!
//! #[tokio::main]
//! async fn main() -> Result<(), RsmqError> {
//!     let mut rsmq = Rsmq::new(Default::default()).await?;
//!     rsmq.create_queue("jobs", None, None, None).await?;
//!     rsmq.send_message("jobs", "hello from Rust", None).await?;
//!     if let Some(msg) = rsmq.receive_message::<String>("jobs", None).await? {
//!         println!("Got: {}", msg.message);
//!         rsmq.delete_message("jobs", &msg.id).await?;
//!     }
//!     Ok(())
//! }
//! ```
//!
//! # Clients
//! - [`Rsmq`]: one multiplexed connection shared by all tasks. Start here.
//! - [`PooledRsmq`] (`tokio-comp`): a pool of connections, for large bodies.
//! - [`RsmqSync`] (`sync`): blocking, for code without async.
//!
//! # Features
//! - `tokio-comp` (default): run on Tokio; enables `PooledRsmq`.
//! - `sync` (default): `RsmqSync` and `RsmqConnectionSync`.
//! - `smol-comp`: run on smol (with `default-features = false`).
//! - `tls-rustls`: `rediss://` connections through rustls.
//! - `serde`: typed JSON messages ([`Json`], `RsmqJsonExt`).
//! - `break-js-comp`: sorted-set scores in microseconds instead of milliseconds by default
//!   (the default of [`ScoreUnit`]; each client may still choose with
//!   [`RsmqOptions::score_unit`]). The JavaScript client cannot share such queues. With it
//!   off and the default unit, nothing is written that the JavaScript client would not
//!   write.
#![cfg_attr(docsrs, feature(doc_cfg))]

mod attributes;
mod client;
mod coalesce;
mod connection;
mod engine;
mod error;
mod facade;
mod id;
#[cfg(feature = "serde")]
mod json;
mod keys;
mod message;
mod options;
#[cfg(feature = "tokio-comp")]
mod pool;
mod reply;
#[cfg(feature = "sync")]
mod sync;
mod units;
mod validate;
mod wait;

pub use attributes::RsmqQueueAttributes;
pub use client::Rsmq;
pub use connection::RsmqConnection;
pub use error::{RsmqError, RsmqResult};
#[cfg(feature = "serde")]
#[cfg_attr(docsrs, doc(cfg(feature = "serde")))]
pub use json::{Json, RsmqJsonExt};
pub use message::{RedisBytes, RsmqMessage};
pub use options::{RsmqOptions, DEFAULT_CONNECTION_TIMEOUT, DEFAULT_RESPONSE_TIMEOUT};
#[cfg(feature = "tokio-comp")]
#[cfg_attr(docsrs, doc(cfg(feature = "tokio-comp")))]
pub use pool::{PoolOptions, PooledRsmq, DEFAULT_CHECKOUT_TIMEOUT, DEFAULT_MAX_SIZE};
pub use redis;
#[cfg(feature = "sync")]
#[cfg_attr(docsrs, doc(cfg(feature = "sync")))]
pub use sync::{RsmqConnectionSync, RsmqSync};
pub use units::ScoreUnit;
pub use validate::MAX_BATCH;
pub use wait::FALLBACK_POLL;

/// The Lua source of every script, by operation name, for benchmarks that run them with
/// `redis-benchmark`. Not part of the stable API.
#[doc(hidden)]
pub use engine::sources as script_sources;

/// The README's examples, compiled as doc tests.
#[cfg(all(doctest, feature = "tokio-comp", feature = "sync"))]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
