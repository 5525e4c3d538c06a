//! Decoding of script replies.
//!
//! Replies are read leniently where other clients write differently (PyRSMQ may store
//! `vt` as `30.0` and `created` with a fraction) and strictly everywhere else: anything
//! unexpected becomes an [`RsmqError`], never a panic.

use std::time::Duration;

use redis::Value;

use crate::engine::lua::code;
use crate::message::RsmqMessage;
use crate::{id, RsmqError, RsmqResult};

/// Turns a negative status code from a script into its error.
pub(crate) fn check_code(value: Value) -> RsmqResult<Value> {
    match value {
        Value::Int(n) if n < 0 => Err(match n {
            code::QUEUE_NOT_FOUND => RsmqError::QueueNotFound,
            code::BAD_VT => RsmqError::CannotParseVT,
            code::BAD_DELAY => RsmqError::CannotParseDelay,
            code::BAD_MAXSIZE => RsmqError::CannotParseMaxsize,
            code::MESSAGE_TOO_LONG => RsmqError::MessageTooLong,
            code::QUEUE_EXISTS => RsmqError::QueueExists,
            other => RsmqError::InvalidReply(format!("unknown status code {other}")),
        }),
        Value::ServerError(e) => Err(RsmqError::RedisError(e.into())),
        other => Ok(other),
    }
}

/// The elements of an array reply that must have `len` elements.
pub(crate) fn array(value: Value, len: usize, what: &str) -> RsmqResult<Vec<Value>> {
    match value {
        Value::Array(items) | Value::Set(items) if items.len() == len => Ok(items),
        other => Err(RsmqError::InvalidReply(format!(
            "{what}: expected an array of {len}, got {}",
            describe(&other)
        ))),
    }
}

/// An integer reply (1/0 flags).
pub(crate) fn flag(value: Value, what: &str) -> RsmqResult<bool> {
    match value {
        Value::Int(n) => Ok(n != 0),
        Value::Boolean(b) => Ok(b),
        other => Err(RsmqError::InvalidReply(format!(
            "{what}: expected an integer, got {}",
            describe(&other)
        ))),
    }
}

/// A string reply.
pub(crate) fn string(value: Value, what: &str) -> RsmqResult<String> {
    match value {
        Value::BulkString(b) => {
            String::from_utf8(b).map_err(|_| RsmqError::InvalidReply(format!("{what}: not UTF-8")))
        }
        Value::SimpleString(s) => Ok(s),
        other => Err(RsmqError::InvalidReply(format!(
            "{what}: expected a string, got {}",
            describe(&other)
        ))),
    }
}

/// The number a reply holds, from an integer, a double, or decimal text.
fn number(value: &Value) -> Option<f64> {
    match value {
        Value::Int(n) => Some(*n as f64),
        Value::Double(d) => Some(*d),
        Value::BulkString(b) => std::str::from_utf8(b).ok()?.trim().parse().ok(),
        Value::SimpleString(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// A stored number of seconds (`vt`, `delay`): non-negative and finite.
pub(crate) fn seconds(value: &Value) -> Option<Duration> {
    let n = number(value)?;
    (n.is_finite() && n >= 0.0)
        .then(|| Duration::try_from_secs_f64(n).ok())
        .flatten()
}

/// A stored whole number (`maxsize`); a fraction is rounded toward zero.
pub(crate) fn integer(value: &Value) -> Option<i64> {
    if let Value::Int(n) = value {
        return Some(*n);
    }
    let n = number(value)?;
    (n.is_finite() && n.abs() < 9.0e18).then_some(n as i64)
}

/// A counter or timestamp: absent means 0; otherwise a non-negative number.
pub(crate) fn counter(value: &Value, what: &str) -> RsmqResult<u64> {
    if matches!(value, Value::Nil) {
        return Ok(0);
    }
    match number(value) {
        Some(n) if (0.0..1.8e19).contains(&n) => Ok(n as u64),
        _ => Err(RsmqError::InvalidReply(format!(
            "`{what}` is not a non-negative number: {}",
            describe(value)
        ))),
    }
}

/// What a receive or pop script found.
pub(crate) enum Received {
    /// A message.
    Message(RsmqMessage<Vec<u8>>),
    /// Nothing receivable; the next message is due in this many score units (`None`: the
    /// queue is empty).
    Nothing(Option<u64>),
}

impl Received {
    /// The message, if one was received.
    pub(crate) fn message(self) -> Option<RsmqMessage<Vec<u8>>> {
        match self {
            Received::Message(m) => Some(m),
            Received::Nothing(_) => None,
        }
    }
}

/// The reply of the receive and pop scripts: {id, body, rc, fr}, {units until the next is
/// due}, or nil.
pub(crate) fn received(value: Value) -> RsmqResult<Received> {
    match check_code(value)? {
        Value::Nil | Value::Boolean(false) => Ok(Received::Nothing(None)),
        Value::Array(items) if items.len() == 1 => {
            let due = counter(&items[0], "next due")?;
            Ok(Received::Nothing(Some(due)))
        }
        other => message(other).map(Received::Message),
    }
}

/// The reply of the receive and pop scripts, as an option.
pub(crate) fn maybe_message(value: Value) -> RsmqResult<Option<RsmqMessage<Vec<u8>>>> {
    received(value).map(Received::message)
}

/// The same error for each of `n` requests of a coalesced call.
pub(crate) fn fail_all<T>(err: &RsmqError, n: usize) -> Vec<RsmqResult<T>> {
    (0..n).map(|_| Err(err.clone())).collect()
}

/// The reply of a coalesced call: one entry per request, each a value or an error code for
/// that request alone; `n` requests. A single error code stands for every request.
pub(crate) fn per_request<T>(
    reply: RsmqResult<Value>,
    n: usize,
    each: impl Fn(Value) -> RsmqResult<T>,
) -> Vec<RsmqResult<T>> {
    let items = match reply.and_then(check_code) {
        Ok(Value::Array(items)) if items.len() == n => items,
        Ok(other) => {
            let err = RsmqError::InvalidReply(format!(
                "expected {n} results of a coalesced call, got {}",
                describe(&other)
            ));
            return fail_all(&err, n);
        }
        Err(err) => return fail_all(&err, n),
    };
    items
        .into_iter()
        .map(|item| check_code(item).and_then(&each))
        .collect()
}

/// An array of {id, body, rc, fr}.
pub(crate) fn messages(value: Value) -> RsmqResult<Vec<RsmqMessage<Vec<u8>>>> {
    match check_code(value)? {
        Value::Array(items) => items.into_iter().map(message).collect(),
        Value::Nil => Ok(Vec::new()),
        other => Err(RsmqError::InvalidReply(format!(
            "messages: expected an array, got {}",
            describe(&other)
        ))),
    }
}

/// An integer count.
pub(crate) fn count(value: Value, what: &str) -> RsmqResult<u64> {
    match check_code(value)? {
        Value::Int(n) if n >= 0 => Ok(n as u64),
        other => Err(RsmqError::InvalidReply(format!(
            "{what}: expected a count, got {}",
            describe(&other)
        ))),
    }
}

/// The reply of the batch send: {the Redis time its ids were made from, in microseconds}.
pub(crate) fn batch_time(value: Value) -> RsmqResult<u64> {
    match array(check_code(value)?, 1, "batch send")?.as_slice() {
        [Value::Int(t)] if *t >= 0 => Ok(*t as u64),
        other => Err(RsmqError::InvalidReply(format!(
            "batch send: expected {{time}}, got {}",
            other.first().map_or_else(|| "nothing".into(), describe)
        ))),
    }
}

/// The reply of the heads receive: per message {id, rc, fr}, returned as the message id and
/// the head to complete with [`with_body`].
pub(crate) fn heads(value: Value) -> RsmqResult<Vec<(String, Vec<Value>)>> {
    let items = match check_code(value)? {
        Value::Array(items) => items,
        Value::Nil => Vec::new(),
        other => {
            return Err(RsmqError::InvalidReply(format!(
                "received heads: expected an array, got {}",
                describe(&other)
            )))
        }
    };
    items
        .into_iter()
        .map(|head| {
            let head = array(head, 3, "received head")?;
            let id = string(head[0].clone(), "message id")?;
            Ok((id, head))
        })
        .collect()
}

/// A message from its head ({id, rc, fr}) and its body as `HMGET` read it: `None` when the
/// body is gone (deleted between the receive and the read).
pub(crate) fn with_body(
    mut head: Vec<Value>,
    body: Value,
) -> Option<RsmqResult<RsmqMessage<Vec<u8>>>> {
    if matches!(body, Value::Nil) {
        return None;
    }
    head.insert(1, body);
    Some(message(Value::Array(head)))
}

/// One {id, body, rc, fr}.
fn message(value: Value) -> RsmqResult<RsmqMessage<Vec<u8>>> {
    let [id, body, rc, fr] = <[Value; 4]>::try_from(array(value, 4, "received message")?)
        .map_err(|_| RsmqError::InvalidReply("received message: wrong length".into()))?;
    let id = string(id, "message id")?;
    let message = match body {
        Value::BulkString(b) => b,
        Value::SimpleString(s) => s.into_bytes(),
        other => {
            return Err(RsmqError::InvalidReply(format!(
                "message body: expected bytes, got {}",
                describe(&other)
            )))
        }
    };
    Ok(RsmqMessage {
        sent: id::sent_millis(&id).unwrap_or(0),
        rc: counter(&rc, "rc")?,
        fr: counter(&fr, "fr")?,
        message,
        id,
    })
}

/// A message read by the browse scripts, its score (in score units) and whether it was
/// hidden when read.
pub(crate) type Browsed = (RsmqMessage<Vec<u8>>, u64, bool);

/// One {id, body, rc, fr, score, hidden} of the browse scripts.
pub(crate) fn browsed(value: Value) -> RsmqResult<Browsed> {
    let [id, body, rc, fr, score, hidden] =
        <[Value; 6]>::try_from(array(value, 6, "browsed message")?)
            .map_err(|_| RsmqError::InvalidReply("browsed message: wrong length".into()))?;
    let message = message(Value::Array(vec![id, body, rc, fr]))?;
    Ok((message, counter(&score, "score")?, flag(hidden, "hidden")?))
}

/// The reply of `browse_messages`: {the size of the sorted set, {browsed message...}}.
pub(crate) fn browsed_page(value: Value) -> RsmqResult<(u64, Vec<Browsed>)> {
    let [size, items] = <[Value; 2]>::try_from(array(check_code(value)?, 2, "message page")?)
        .map_err(|_| RsmqError::InvalidReply("message page: wrong length".into()))?;
    let size = count(size, "message page")?;
    let items = match items {
        Value::Array(items) => items,
        Value::Nil => Vec::new(),
        other => {
            return Err(RsmqError::InvalidReply(format!(
                "message page: expected an array, got {}",
                describe(&other)
            )))
        }
    };
    Ok((
        size,
        items.into_iter().map(browsed).collect::<RsmqResult<_>>()?,
    ))
}

/// A short description of a reply for error messages (never the whole body).
fn describe(value: &Value) -> String {
    match value {
        Value::Nil => "nil".into(),
        Value::Int(n) => format!("integer {n}"),
        Value::BulkString(b) if b.len() <= 40 => format!("{:?}", String::from_utf8_lossy(b)),
        Value::BulkString(b) => format!("a string of {} bytes", b.len()),
        Value::Array(a) => format!("an array of {}", a.len()),
        Value::SimpleString(s) => format!("status {s:?}"),
        other => format!("{other:?}").chars().take(60).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bulk(s: &str) -> Value {
        Value::BulkString(s.as_bytes().to_vec())
    }

    #[test]
    fn a_head_without_its_body_is_left_out() {
        let head = vec![
            Value::BulkString(b"gqll7vdgzkAAAAAAAAAAAAAAAAAAAAAA".to_vec()),
            Value::Int(1),
            Value::Int(1_700_000_000_123),
        ];
        assert!(with_body(head.clone(), Value::Nil).is_none());
        let m = with_body(head, Value::BulkString(b"body".to_vec()))
            .unwrap()
            .unwrap();
        assert_eq!(
            (m.message.as_slice(), m.rc, m.sent),
            (&b"body"[..], 1, 1_700_000_000_123)
        );
    }

    #[test]
    fn seconds_accept_integers_and_pyrsmq_floats() {
        assert_eq!(seconds(&bulk("30")), Some(Duration::from_secs(30)));
        assert_eq!(seconds(&bulk("0.5")), Some(Duration::from_millis(500)));
        assert_eq!(seconds(&bulk("-1")), None);
        assert_eq!(seconds(&bulk("abc")), None);
        assert_eq!(seconds(&bulk("inf")), None);
        assert_eq!(seconds(&Value::Nil), None);
    }

    #[test]
    fn counters_default_to_zero_and_reject_garbage() {
        assert_eq!(counter(&Value::Nil, "x").unwrap(), 0);
        assert_eq!(counter(&bulk("12"), "x").unwrap(), 12);
        assert_eq!(counter(&bulk("1700000000.25"), "x").unwrap(), 1_700_000_000);
        assert!(matches!(
            counter(&bulk("x"), "x"),
            Err(RsmqError::InvalidReply(_))
        ));
        assert!(matches!(
            counter(&bulk("-3"), "x"),
            Err(RsmqError::InvalidReply(_))
        ));
    }

    #[test]
    fn message_replies_decode_or_fail_cleanly() {
        assert!(maybe_message(Value::Nil).unwrap().is_none());
        assert!(maybe_message(Value::Array(vec![bulk("12")]))
            .unwrap()
            .is_none());
        assert!(matches!(
            received(Value::Array(vec![bulk("12")])),
            Ok(Received::Nothing(Some(12)))
        ));
        assert!(matches!(
            maybe_message(Value::Int(-1)),
            Err(RsmqError::QueueNotFound)
        ));
        assert!(matches!(
            maybe_message(Value::Int(7)),
            Err(RsmqError::InvalidReply(_))
        ));
        assert!(matches!(
            maybe_message(Value::Array(vec![bulk("a"), bulk("b")])),
            Err(RsmqError::InvalidReply(_))
        ));
        assert!(matches!(
            messages(Value::Int(3)),
            Err(RsmqError::InvalidReply(_))
        ));
        let id = "gqll7vdgzkAAAAAAAAAAAAAAAAAAAAAA";
        let reply = Value::Array(vec![bulk(id), bulk("hi"), Value::Int(1), bulk("5")]);
        let m = maybe_message(reply).unwrap().unwrap();
        assert_eq!((m.rc, m.fr, m.sent), (1, 5, 1_700_000_000_123));
        assert_eq!(m.message, b"hi");
    }
}

#[cfg(test)]
mod fuzz {
    //! Whatever a server (or something pretending to be one) answers, decoding returns a
    //! value or an error: it never panics.
    use super::*;
    use crate::attributes::RsmqQueueAttributes;
    use proptest::prelude::*;

    fn value() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Nil),
            any::<i64>().prop_map(Value::Int),
            proptest::collection::vec(any::<u8>(), 0..40).prop_map(Value::BulkString),
            "[0-9a-zA-Z.:+-]{0,20}".prop_map(|s| Value::BulkString(s.into_bytes())),
            ".{0,10}".prop_map(Value::SimpleString),
            any::<f64>().prop_map(Value::Double),
            any::<bool>().prop_map(Value::Boolean),
            Just(Value::Okay),
        ];
        leaf.prop_recursive(3, 40, 12, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..13).prop_map(Value::Array),
                proptest::collection::vec(inner, 0..5).prop_map(Value::Set),
            ]
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 2000, failure_persistence: None, ..ProptestConfig::default() })]

        #[test]
        fn decoding_any_reply_never_panics(v in value()) {
            let _ = received(v.clone());
            let _ = messages(v.clone());
            let _ = count(v.clone(), "x");
            let _ = batch_time(v.clone());
            let _ = heads(v.clone());
            let _ = flag(v.clone(), "x");
            let _ = RsmqQueueAttributes::from_reply(v);
        }
    }
}
