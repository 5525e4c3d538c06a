//! An async client for RSMQ, the Redis Simple Message Queue, byte-compatible with the
//! JavaScript [`rsmq`](https://www.npmjs.com/package/rsmq) 0.12.4: a Node service and a Rust
//! service can share queues, each reading what the other wrote.
//!
//! Queues live in plain Redis: a sorted set of message ids scored by the time they become
//! receivable, and a hash holding the attributes and bodies. Every operation is one Lua
//! script, so it is atomic and costs one round trip.
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
//! # Features
//! - `tokio-comp` (default): run on Tokio.
//! - `smol-comp`: run on smol.
//! - `break-js-comp`: sorted-set scores in microseconds instead of milliseconds. The JavaScript
//!   client cannot share such queues. With it off, nothing is written that the JavaScript
//!   client would not write.
#![cfg_attr(docsrs, feature(doc_cfg))]

mod attributes;
mod client;
mod connection;
mod engine;
mod error;
mod id;
mod keys;
mod message;
mod options;
mod reply;
mod scripts;
mod validate;

pub use attributes::RsmqQueueAttributes;
pub use client::Rsmq;
pub use connection::RsmqConnection;
pub use error::{RsmqError, RsmqResult};
pub use message::{RedisBytes, RsmqMessage};
pub use options::RsmqOptions;
pub use redis;

/// The README's examples, compiled as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
