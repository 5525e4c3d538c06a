//! How the API, the dashboard and the `rsmq` command line write messages and times, so all
//! three show them alike.

use std::time::Duration;

use rsmq_async::{BrowsedMessage, LiveWorker, RsmqMessage, RsmqQueueAttributes};
use serde_json::{json, Value};

/// A message as `rest-rsmq` writes it: `{"id", "message", "rc", "fr", "sent"}`. A body that
/// is not UTF-8 is shown with replacement characters.
///
/// ```
/// use rsmq_async::RsmqMessage;
///
/// let m = RsmqMessage { id: "x".into(), message: b"hi".to_vec(), rc: 1, fr: 2, sent: 3 };
/// let v = rsmq_web::format::message_json(&m);
/// assert_eq!(v.to_string(), r#"{"fr":2,"id":"x","message":"hi","rc":1,"sent":3}"#);
/// ```
pub fn message_json(m: &RsmqMessage<Vec<u8>>) -> Value {
    message_fields(&m.id, &m.message, m.rc, m.fr, m.sent)
}

/// The fields of [`message_json`].
fn message_fields(id: &str, body: &[u8], rc: u64, fr: u64, sent: u64) -> Value {
    json!({
        "id": id,
        "message": String::from_utf8_lossy(body),
        "rc": rc,
        "fr": fr,
        "sent": sent,
    })
}

/// A browsed message (hidden ones included) as the API's browse and search routes write it:
/// the fields of [`message_json`], `visible_at` (epoch milliseconds) and `hidden`.
///
/// ```
/// # async fn f(rsmq: rsmq_async::Rsmq) -> rsmq_async::RsmqResult<()> {
/// use rsmq_async::RsmqConnection;
///
/// let page = rsmq.browse_messages::<Vec<u8>>("jobs", 0, 10).await?;
/// for m in &page.messages {
///     println!("{}", rsmq_web::format::browsed_json(m));
/// }
/// # Ok(()) }
/// ```
pub fn browsed_json(m: &BrowsedMessage<Vec<u8>>) -> Value {
    let mut v = message_fields(&m.id, &m.message, m.rc, m.fr, m.sent);
    v["visible_at"] = json!(m.visible_at);
    v["hidden"] = json!(m.hidden);
    v
}

/// A live worker as `GET /api/workers` writes it: `id`, `host`, `pid`, `queues`,
/// `concurrency`, `in_flight`, `handled`, `failed`, `started`, `seen`, `expires` (epoch
/// milliseconds) and `version`.
///
/// ```
/// # async fn f(rsmq: rsmq_async::Rsmq) -> rsmq_async::RsmqResult<()> {
/// use rsmq_async::RsmqConnection;
///
/// for w in rsmq.live_workers().await? {
///     println!("{}", rsmq_web::format::worker_json(&w));
/// }
/// # Ok(()) }
/// ```
pub fn worker_json(w: &LiveWorker) -> Value {
    json!({
        "id": w.id,
        "host": w.host,
        "pid": w.pid,
        "queues": w.queues,
        "concurrency": w.concurrency,
        "in_flight": w.in_flight,
        "handled": w.handled,
        "failed": w.failed,
        "started": w.started,
        "seen": w.seen,
        "expires": w.expires,
        "version": w.version,
    })
}

/// A duration in seconds as JSON: an integer when whole, else a fraction.
///
/// ```
/// use std::time::Duration;
///
/// assert_eq!(rsmq_web::format::seconds(Duration::from_secs(30)).to_string(), "30");
/// assert_eq!(rsmq_web::format::seconds(Duration::from_millis(1500)).to_string(), "1.5");
/// ```
pub fn seconds(d: Duration) -> Value {
    if d.subsec_nanos() == 0 {
        json!(d.as_secs())
    } else {
        json!(d.as_secs_f64())
    }
}

/// A queue's attributes as `rest-rsmq` writes them: `vt` and `delay` in seconds, `maxsize`,
/// `totalrecv`, `totalsent`, `created`, `modified`, `msgs` and `hiddenmsgs`.
///
/// ```
/// # async fn f(rsmq: rsmq_async::Rsmq) -> rsmq_async::RsmqResult<()> {
/// use rsmq_async::RsmqConnection;
///
/// let attrs = rsmq.get_queue_attributes("jobs").await?;
/// println!("{}", rsmq_web::format::attributes_json(&attrs));
/// # Ok(()) }
/// ```
pub fn attributes_json(a: &RsmqQueueAttributes) -> Value {
    json!({
        "vt": seconds(a.vt),
        "delay": seconds(a.delay),
        "maxsize": a.maxsize,
        "totalrecv": a.totalrecv,
        "totalsent": a.totalsent,
        "created": a.created,
        "modified": a.modified,
        "msgs": a.msgs,
        "hiddenmsgs": a.hiddenmsgs,
    })
}

/// A Unix time in seconds as `YYYY-MM-DD HH:MM:SS UTC`.
///
/// ```
/// assert_eq!(rsmq_web::format::utc(1_709_251_199), "2024-02-29 23:59:59 UTC");
/// ```
pub fn utc(unix_secs: u64) -> String {
    let days = (unix_secs / 86400) as i64;
    let rem = unix_secs % 86400;
    // Days since 1970-01-01 to a civil date (proleptic Gregorian calendar).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02} UTC",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}
