//! Live workers ([`LiveWorker`]): the entries running workers keep in the liveness hash
//! `{ns}:.workers`, how they are written and how they are read back.
//!
//! An entry's field is the worker's id; its value is one line of `name=value` pairs
//! separated by spaces, no value holding a space or an `=`, so any client (a shell, Lua,
//! JavaScript) can read it:
//!
//! ```text
//! expires=1764590000000 seen=1764589970000 started=1764589000000 host=box-1 pid=4242
//! queues=emails,reports concurrency=16 in_flight=3 handled=1200 failed=4 version=19.0.0
//! ```
//!
//! (on one line). Times are Redis time in epoch milliseconds; `expires` and `seen` are
//! written by the script from the Redis clock. Readers ignore names they do not know.

use std::time::Duration;

use redis::Value;

use crate::{reply, RsmqError, RsmqResult};

/// A running worker, as it last registered itself. See
/// [`RsmqConnection::live_workers`](crate::RsmqConnection::live_workers).
///
/// ```no_run
/// # use rsmq_async::{Rsmq, RsmqConnection};
/// # async fn f(rsmq: Rsmq) -> rsmq_async::RsmqResult<()> {
/// for w in rsmq.live_workers().await?.iter().filter(|w| w.serves("emails")) {
///     println!("{} on {} (pid {}): {} in flight", w.id, w.host, w.pid, w.in_flight);
/// }
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct LiveWorker {
    /// The worker's id: `{host}-{pid}-{random}`, unique per run.
    pub id: String,
    /// The host it runs on, as the operating system names it (characters other than
    /// `A-Z a-z 0-9 . _ -` replaced by `_`).
    pub host: String,
    /// Its process id.
    pub pid: u32,
    /// The queues it consumes (its routes).
    pub queues: Vec<String>,
    /// Most handlers it runs at once.
    pub concurrency: u64,
    /// Handlers running when it last registered.
    pub in_flight: u64,
    /// Messages handled (and deleted) since it started, when it last registered.
    pub handled: u64,
    /// Handler failures (errors, panics, timeouts, bodies that do not decode) since it
    /// started, when it last registered.
    pub failed: u64,
    /// When it started, epoch milliseconds (Redis time at its first registration).
    pub started: u64,
    /// When it last registered, epoch milliseconds (Redis time).
    pub seen: u64,
    /// When it counts as gone unless it registers again, epoch milliseconds (Redis time).
    pub expires: u64,
    /// The version of this crate it runs.
    pub version: String,
}

impl LiveWorker {
    /// Whether it consumes `queue`.
    ///
    /// ```no_run
    /// # use rsmq_async::{Rsmq, RsmqConnection};
    /// # async fn f(rsmq: Rsmq) -> rsmq_async::RsmqResult<()> {
    /// let workers = rsmq.live_workers().await?;
    /// if !workers.iter().any(|w| w.serves("emails")) {
    ///     eprintln!("no worker consumes emails");
    /// }
    /// # Ok(()) }
    /// ```
    pub fn serves(&self, queue: &str) -> bool {
        self.queues.iter().any(|q| q == queue)
    }

    /// Reads an entry; `None` when it is not one (no id, no expiry).
    fn parse(id: String, entry: &str) -> Option<LiveWorker> {
        let mut w = LiveWorker {
            id,
            host: String::new(),
            pid: 0,
            queues: Vec::new(),
            concurrency: 0,
            in_flight: 0,
            handled: 0,
            failed: 0,
            started: 0,
            seen: 0,
            expires: 0,
            version: String::new(),
        };
        for pair in entry.split(' ') {
            let Some((name, value)) = pair.split_once('=') else {
                continue;
            };
            let number = || value.parse::<u64>().unwrap_or(0);
            match name {
                "expires" => w.expires = number(),
                "seen" => w.seen = number(),
                "started" => w.started = number(),
                "host" => w.host = value.to_string(),
                "pid" => w.pid = value.parse().unwrap_or(0),
                "queues" => {
                    w.queues = value
                        .split(',')
                        .filter(|q| !q.is_empty())
                        .map(String::from)
                        .collect()
                }
                "concurrency" => w.concurrency = number(),
                "in_flight" => w.in_flight = number(),
                "handled" => w.handled = number(),
                "failed" => w.failed = number(),
                "version" => w.version = value.to_string(),
                _ => {}
            }
        }
        (!w.id.is_empty() && w.expires > 0).then_some(w)
    }
}

/// What a worker writes about itself, besides `expires`, `seen` and `started` (the
/// script's).
#[cfg(feature = "worker")]
#[derive(Debug, Clone, Default)]
pub(crate) struct Registration {
    pub(crate) host: String,
    pub(crate) pid: u32,
    pub(crate) queues: Vec<String>,
    pub(crate) concurrency: u64,
    pub(crate) in_flight: u64,
    pub(crate) handled: u64,
    pub(crate) failed: u64,
}

#[cfg(feature = "worker")]
impl Registration {
    /// The entry's pairs after `expires`, `seen` and `started`.
    pub(crate) fn entry(&self) -> String {
        format!(
            "host={} pid={} queues={} concurrency={} in_flight={} handled={} failed={} version={}",
            self.host,
            self.pid,
            self.queues.join(","),
            self.concurrency,
            self.in_flight,
            self.handled,
            self.failed,
            env!("CARGO_PKG_VERSION"),
        )
    }
}

/// The host name, in the characters an entry allows.
#[cfg(feature = "worker")]
pub(crate) fn host_name() -> String {
    let raw = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .or_else(|| std::env::var("COMPUTERNAME").ok())
        .unwrap_or_default();
    let name: String = raw
        .trim()
        .chars()
        .take(64)
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '_'
            }
        })
        .collect();
    if name.is_empty() {
        "unknown".into()
    } else {
        name
    }
}

/// How long an entry lives: three heartbeats, so one late heartbeat never drops a worker.
#[cfg(feature = "worker")]
pub(crate) fn ttl(heartbeat: Duration) -> Duration {
    heartbeat.saturating_mul(3).max(Duration::from_secs(1))
}

/// A time to live in whole milliseconds, at least 1 and at most a year.
pub(crate) fn ttl_ms(ttl: Duration) -> u64 {
    ttl.as_millis().clamp(1, 365 * 86_400_000) as u64
}

/// Decodes the reply of `live_workers`: {now, id, entry, ...}, sorted by id.
pub(crate) fn decode(value: Value) -> RsmqResult<Vec<LiveWorker>> {
    let Value::Array(items) = value else {
        return Err(RsmqError::InvalidReply("live workers: not an array".into()));
    };
    let mut out = Vec::new();
    let mut it = items.into_iter().skip(1);
    while let (Some(id), Some(entry)) = (it.next(), it.next()) {
        let id = reply::string(id, "live worker id")?;
        let entry = reply::string(entry, "live worker entry")?;
        if let Some(w) = LiveWorker::parse(id, &entry) {
            out.push(w);
        }
    }
    out.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(feature = "worker")]
    #[test]
    fn an_entry_reads_back() {
        let r = Registration {
            host: "box-1".into(),
            pid: 42,
            queues: vec!["a".into(), "b-c".into()],
            concurrency: 16,
            in_flight: 3,
            handled: 10,
            failed: 1,
        };
        let entry = format!("expires=9 seen=7 started=5 {}", r.entry());
        let w = LiveWorker::parse("box-1-42-x".into(), &entry).expect("an entry");
        assert_eq!(w.host, "box-1");
        assert_eq!(w.pid, 42);
        assert_eq!(w.queues, ["a", "b-c"]);
        assert!(w.serves("b-c") && !w.serves("b"));
        assert_eq!(
            (w.concurrency, w.in_flight, w.handled, w.failed),
            (16, 3, 10, 1)
        );
        assert_eq!((w.started, w.seen, w.expires), (5, 7, 9));
        assert_eq!(w.version, env!("CARGO_PKG_VERSION"));
    }

    #[test]
    fn junk_is_no_entry_and_no_panic() {
        assert!(LiveWorker::parse("x".into(), "").is_none());
        assert!(LiveWorker::parse("x".into(), "expires=abc pid=-1 = == x").is_none());
        assert!(LiveWorker::parse("".into(), "expires=5").is_none());
        let w = LiveWorker::parse("x".into(), "expires=5 pid=99999999999 future=1").unwrap();
        assert_eq!(w.pid, 0);
    }

    #[cfg(feature = "worker")]
    #[test]
    fn host_names_keep_to_the_entry_characters() {
        let h = host_name();
        assert!(!h.is_empty());
        assert!(h
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')));
    }
}
