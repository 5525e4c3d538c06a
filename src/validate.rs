//! Input validation, with the JavaScript client's rules and messages.
//!
//! Everything here runs before a request is sent, so invalid input never reaches Redis.

use std::time::Duration;

use crate::units::ScoreUnit;
use crate::{id, RsmqError, RsmqResult};

/// The largest vt or delay, in seconds (JS: `9999999`).
pub(crate) const MAX_SECONDS: u64 = 9_999_999;
/// The smallest maxsize other than -1.
pub(crate) const MIN_MAXSIZE: i64 = 1024;
/// The largest maxsize.
pub(crate) const MAX_MAXSIZE: i64 = 65536;
/// The longest queue name.
pub(crate) const MAX_QNAME_LEN: usize = 160;

/// The most items one batch call takes or returns.
///
/// ```no_run
/// use rsmq_async::{Rsmq, RsmqConnection, MAX_BATCH};
///
/// # async fn f(rsmq: Rsmq, bodies: Vec<String>) -> rsmq_async::RsmqResult<()> {
/// // Any number of messages, in batches of the largest size.
/// for chunk in bodies.chunks(MAX_BATCH) {
///     rsmq.send_message_batch("jobs", chunk.to_vec(), None).await?;
/// }
/// # Ok(()) }
/// ```
pub const MAX_BATCH: usize = 1000;

/// A batch size: at most [`MAX_BATCH`].
pub(crate) fn batch_len(n: usize) -> RsmqResult<()> {
    if n > MAX_BATCH {
        return Err(RsmqError::BatchTooLarge(MAX_BATCH));
    }
    Ok(())
}

/// A batch of message ids: at most [`MAX_BATCH`], each of the id form.
pub(crate) fn id_batch<S: AsRef<str>>(ids: &[S]) -> RsmqResult<()> {
    batch_len(ids.len())?;
    ids.iter().try_for_each(|id| message_id(id.as_ref()))
}

/// Two different queues.
pub(crate) fn different(a: &str, b: &str) -> RsmqResult<()> {
    if a == b {
        return Err(RsmqError::SameQueue);
    }
    Ok(())
}

/// A queue name: 1..=160 of `[A-Za-z0-9_-]`, and not `QUEUES` (which would collide with the
/// `{ns}:QUEUES` set).
pub(crate) fn qname(qname: &str) -> RsmqResult<()> {
    if qname.is_empty() {
        return Err(RsmqError::MissingParameter("qname".into()));
    }
    if qname.len() > MAX_QNAME_LEN
        || qname == "QUEUES"
        || !qname
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    {
        return Err(RsmqError::InvalidFormat("qname".into()));
    }
    Ok(())
}

/// A message id: 32 of `[A-Za-z0-9:]`.
pub(crate) fn message_id(message_id: &str) -> RsmqResult<()> {
    if message_id.is_empty() {
        return Err(RsmqError::MissingParameter("id".into()));
    }
    if !id::is_valid(message_id) {
        return Err(RsmqError::InvalidFormat("id".into()));
    }
    Ok(())
}

fn out_of_range(name: &str) -> RsmqError {
    RsmqError::InvalidValue(name.into(), "0".into(), MAX_SECONDS.to_string())
}

/// A queue attribute (`vt`, `delay`): whole seconds, 0..=9_999_999. Returns the seconds.
pub(crate) fn queue_seconds(d: Duration, name: &str) -> RsmqResult<u64> {
    if d.as_secs() > MAX_SECONDS {
        return Err(out_of_range(name));
    }
    if d.subsec_nanos() != 0 {
        return Err(RsmqError::NotWholeSeconds(name.into()));
    }
    Ok(d.as_secs())
}

/// A per-call vt or delay: at most 9_999_999 seconds, any precision. Returns it in score
/// units, rounded down.
pub(crate) fn call_duration(d: Duration, name: &str, unit: ScoreUnit) -> RsmqResult<u64> {
    if d > Duration::from_secs(MAX_SECONDS) {
        return Err(out_of_range(name));
    }
    // At most 9_999_999 s, so the value fits in u64 in either unit.
    Ok(unit.of(d))
}

/// A maxsize: 1024..=65536, or -1 for unlimited.
pub(crate) fn maxsize(maxsize: i64) -> RsmqResult<()> {
    if maxsize == -1 || (MIN_MAXSIZE..=MAX_MAXSIZE).contains(&maxsize) {
        Ok(())
    } else {
        Err(RsmqError::InvalidValue(
            "maxsize".into(),
            MIN_MAXSIZE.to_string(),
            MAX_MAXSIZE.to_string(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queue_names_follow_js_rules() {
        assert!(qname("a").is_ok());
        assert!(qname("Jobs_2-x").is_ok());
        assert!(qname(&"a".repeat(160)).is_ok());
        assert!(matches!(qname(""), Err(RsmqError::MissingParameter(p)) if p == "qname"));
        for bad in ["a b", "a:b", "a{b}", "ä", "QUEUES", &"a".repeat(161)] {
            assert!(
                matches!(qname(bad), Err(RsmqError::InvalidFormat(ref p)) if p == "qname"),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn ids_follow_js_rules() {
        assert!(message_id(&"a:Z9".repeat(8)).is_ok());
        assert!(matches!(message_id(""), Err(RsmqError::MissingParameter(p)) if p == "id"));
        assert!(matches!(message_id("abc"), Err(RsmqError::InvalidFormat(p)) if p == "id"));
        assert!(matches!(
            message_id(&"-".repeat(32)),
            Err(RsmqError::InvalidFormat(_))
        ));
    }

    #[test]
    fn queue_durations_are_whole_seconds_in_range() {
        assert_eq!(queue_seconds(Duration::from_secs(30), "vt").unwrap(), 30);
        assert_eq!(
            queue_seconds(Duration::from_secs(MAX_SECONDS), "vt").unwrap(),
            MAX_SECONDS
        );
        let err = queue_seconds(Duration::from_secs(MAX_SECONDS + 1), "vt").unwrap_err();
        assert_eq!(err.to_string(), "vt must be between 0 and 9999999");
        assert!(matches!(
            queue_seconds(Duration::from_millis(1500), "delay"),
            Err(RsmqError::NotWholeSeconds(n)) if n == "delay"
        ));
    }

    #[test]
    fn call_durations_may_be_finer_than_seconds() {
        assert!(call_duration(Duration::from_millis(1500), "vt", ScoreUnit::Millis).is_ok());
        assert!(call_duration(Duration::from_secs(MAX_SECONDS), "vt", ScoreUnit::Micros).is_ok());
        assert!(call_duration(
            Duration::from_secs(MAX_SECONDS) + Duration::from_nanos(1),
            "vt",
            ScoreUnit::Millis
        )
        .is_err());
    }

    #[test]
    fn maxsize_is_1024_to_65536_or_unlimited() {
        for ok in [-1, 1024, 65536] {
            assert!(maxsize(ok).is_ok());
        }
        for bad in [-2, 0, 1023, 65537] {
            assert_eq!(
                maxsize(bad).unwrap_err().to_string(),
                "maxsize must be between 1024 and 65536"
            );
        }
    }
}
