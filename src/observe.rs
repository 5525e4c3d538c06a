//! What the client tells `tracing`. The library installs no subscriber; without one, all of
//! this costs a check of a cached flag per span or event.
//!
//! - Every operation of every client runs in a debug span named `rsmq` (see `facade`), with
//!   the fields `operation` (the method name), `queue`, and, where known, `id` (the message
//!   id: given, sent, or received). Operations on two queues add `to` (move, redrive) or
//!   `dlq`; batches add `count`.
//! - An operation that fails because Redis cannot be reached (I/O, refused or dropped
//!   connection, timeout) logs the warning `Redis connection failed`, at most one per
//!   [`WARN_EVERY`] for the process, with the error kind (`kind`, and `io` for an I/O error)
//!   and the number of such failures left unlogged since the last one (`unlogged`). The
//!   redis 1.x `ConnectionManager` says nothing when it reconnects (except over RESP3), so a
//!   failed operation is the sign of it.
//! - The long-polling subscriber warns when it cannot subscribe or loses its subscription
//!   (see `wait`).
//!
//! No field holds a password or a message body.

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use tracing::Instrument;

use crate::{RsmqError, RsmqResult};

/// The shortest time between two warnings about Redis being unreachable.
const WARN_EVERY: Duration = Duration::from_secs(10);

/// The debug span of one operation: `op_span!("name", queue)` plus optional extra fields.
/// `id` is declared empty unless given, so the facade can record it once known.
macro_rules! op_span {
    ($op:literal, $queue:expr, id = $id:expr $(, $($rest:tt)*)?) => {
        ::tracing::debug_span!("rsmq", operation = $op, queue = $queue, id = $id $(, $($rest)*)?)
    };
    ($op:literal, $queue:expr $(, $($rest:tt)*)?) => {
        ::tracing::debug_span!(
            "rsmq",
            operation = $op,
            queue = $queue,
            id = ::tracing::field::Empty
            $(, $($rest)*)?
        )
    };
}
pub(crate) use op_span;

/// Runs one operation in `span`, and warns (rate-limited) when it failed for want of Redis.
pub(crate) fn traced<T, F>(
    span: tracing::Span,
    operation: F,
) -> impl Future<Output = RsmqResult<T>> + Send
where
    F: Future<Output = RsmqResult<T>> + Send,
{
    async move {
        let result = operation.await;
        if let Err(e) = &result {
            unreachable_redis(e);
        }
        result
    }
    .instrument(span)
}

/// Records a message id on the operation's span.
pub(crate) fn record_id(span: &tracing::Span, id: &str) {
    span.record("id", id);
}

/// Warns, at most once per [`WARN_EVERY`], when `e` says Redis could not be reached.
fn unreachable_redis(e: &RsmqError) {
    let RsmqError::RedisError(e) = e else { return };
    if !(e.is_io_error()
        || e.is_connection_refusal()
        || e.is_connection_dropped()
        || e.is_timeout())
    {
        return;
    }
    if let Some(unlogged) = LIMITER.allow() {
        tracing::warn!(
            kind = ?e.kind(),
            io = io_kind(e).map(tracing::field::debug),
            unlogged,
            "Redis connection failed"
        );
    }
}

/// The kind of the I/O error behind `e`, if any (`ConnectionRefused`, `BrokenPipe`, ...).
pub(crate) fn io_kind(e: &redis::RedisError) -> Option<std::io::ErrorKind> {
    type Shared = std::sync::Arc<dyn std::error::Error + Send + Sync>;
    let source = std::error::Error::source(e)?;
    // redis keeps the I/O error behind an `Arc`.
    let io = match source.downcast_ref::<Shared>() {
        Some(shared) => shared.downcast_ref::<std::io::Error>(),
        None => source.downcast_ref::<std::io::Error>(),
    };
    io.map(std::io::Error::kind)
}

/// Lets one warning through per [`WARN_EVERY`], counting the others.
struct Limiter {
    /// Milliseconds since [`epoch`] of the last warning, plus one (0: never).
    last: AtomicU64,
    /// Warnings held back since the last one.
    held: AtomicU64,
}

static LIMITER: Limiter = Limiter {
    last: AtomicU64::new(0),
    held: AtomicU64::new(0),
};

fn epoch() -> Instant {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    *EPOCH.get_or_init(Instant::now)
}

impl Limiter {
    /// `Some(held back since the last)` when a warning may go out now.
    fn allow(&self) -> Option<u64> {
        let now = u64::try_from(epoch().elapsed().as_millis()).unwrap_or(u64::MAX);
        self.allow_at(now.saturating_add(1))
    }

    /// [`allow`](Self::allow) at `now` milliseconds (counted from 1).
    fn allow_at(&self, now: u64) -> Option<u64> {
        let last = self.last.load(Ordering::Relaxed);
        let every = u64::try_from(WARN_EVERY.as_millis()).unwrap_or(u64::MAX);
        if (last != 0 && now.saturating_sub(last) < every)
            || self
                .last
                .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_err()
        {
            self.held.fetch_add(1, Ordering::Relaxed);
            return None;
        }
        Some(self.held.swap(0, Ordering::Relaxed))
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_limiter_lets_one_warning_through_per_interval() {
        let limiter = super::Limiter {
            last: Default::default(),
            held: Default::default(),
        };
        assert_eq!(limiter.allow_at(1), Some(0));
        assert_eq!(limiter.allow_at(5_000), None);
        assert_eq!(limiter.allow_at(10_000), None);
        assert_eq!(limiter.allow_at(10_001), Some(2));
        assert_eq!(limiter.allow_at(10_002), None);
        assert_eq!(limiter.allow_at(30_000), Some(1));
    }
}
