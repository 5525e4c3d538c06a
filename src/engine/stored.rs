//! Sends whose bodies skip Lua: large coalesced sends and large or long batches take two
//! round trips, `TIME` (for the ids) and then one `MULTI` that stores the bodies with a
//! plain `HSET` and runs a script that checks the queue, undoes the bodies of the sends that
//! must fail, and adds the rest to the sorted set. Lua costs Redis about 25 µs per 16 KiB
//! argument, more than the `HSET` itself.

use std::sync::atomic::{AtomicU64, Ordering};

use redis::aio::ConnectionLike;
use redis::Value;

use super::lua::Script;
use super::send::SendRequest;
use super::{units_arg, Engine, Waited};
use crate::keys::QueueKeys;
use crate::message::RedisBytes;
use crate::validate::MAX_BATCH;
use crate::{id, reply, RsmqError, RsmqResult};

pub(super) static SEND_STORED: Script =
    Script::new("send_stored", include_str!("stored/send_stored.lua"));
pub(super) static SEND_BATCH_STORED: Script = Script::new(
    "send_batch_stored",
    include_str!("stored/send_batch_stored.lua"),
);

// `send_batch_stored` unpacks the ids (one per message) and its ZADD (two per message).
const _: () = assert!(MAX_BATCH * 2 < super::lua::UNPACK_LIMIT);

/// The latest Redis `TIME` believed (the end of the year 9999): a reply beyond it, or with
/// a microsecond part of a second or more, is not a clock.
const LATEST_PLAUSIBLE_SECONDS: u64 = 253_402_300_799;

/// Redis `TIME` in microseconds.
async fn redis_micros<C: ConnectionLike + Send>(con: &mut C) -> RsmqResult<u64> {
    let (sec, usec): (u64, u64) = redis::cmd("TIME").query_async(con).await?;
    micros(sec, usec)
}

/// A `TIME` reply (seconds, microseconds) in microseconds; an implausible one is an error.
fn micros(sec: u64, usec: u64) -> RsmqResult<u64> {
    if sec > LATEST_PLAUSIBLE_SECONDS || usec >= 1_000_000 {
        return Err(RsmqError::InvalidReply(format!(
            "TIME: {sec} s and {usec} µs is not a time"
        )));
    }
    // At most about 2.6e17: no overflow.
    Ok(sec * 1_000_000 + usec)
}

/// `n` new ids made from `base` (microseconds): time parts increasing by 1 µs, so they sort
/// in order, exactly as the send scripts make them.
fn new_ids(base: u64, n: usize) -> RsmqResult<Vec<String>> {
    if base.checked_add(n as u64).is_none() {
        return Err(RsmqError::InvalidReply(format!(
            "time {base} µs is out of range for ids"
        )));
    }
    Ok((0..n as u64)
        .map(|i| id::time_prefix(base + i) + &id::random_suffix())
        .collect())
}

/// The microseconds the ids of the stored sends of one client were made up to.
///
/// A stored send reads `TIME` one round trip before it writes, so two of them in flight
/// together can read the same microseconds; their ids (and, within a millisecond, their
/// order) would then mix. Each claims its microseconds here instead: from the Redis time
/// read, or just after the last ones claimed when that is later, so a client's stored
/// batches stay in the order they left in.
#[derive(Debug, Default)]
pub(super) struct StoredClock(AtomicU64);

impl StoredClock {
    /// The first of `n` microseconds claimed at Redis time `now`.
    fn claim(&self, now: u64, n: usize) -> u64 {
        let mut last = self.0.load(Ordering::Relaxed);
        loop {
            let base = now.max(last);
            let end = base.saturating_add(n as u64);
            match self
                .0
                .compare_exchange_weak(last, end, Ordering::AcqRel, Ordering::Relaxed)
            {
                Ok(_) => return base,
                Err(seen) => last = seen,
            }
        }
    }

    /// The first of `n` microseconds for a stored send, and their ids.
    async fn ids<C: ConnectionLike + Send>(
        &self,
        con: &mut C,
        n: usize,
    ) -> RsmqResult<(u64, Vec<String>)> {
        let base = self.claim(redis_micros(con).await?, n);
        Ok((base, new_ids(base, n)?))
    }
}

impl Engine {
    /// A large coalesced send in two round trips, so the bodies skip Lua: `TIME` for the
    /// ids, then `MULTI`, `HSET` of every body under its id, the `send_stored` script (which
    /// checks the queue and each send, undoes the bodies of failed ones, and adds the rest
    /// to the sorted set), `EXEC`. Atomic like the one-script path, with the same effects;
    /// each send fails alone.
    pub(super) async fn send_stored<C: ConnectionLike + Send>(
        &self,
        con: &mut C,
        qname: &str,
        requests: Vec<SendRequest>,
    ) -> Vec<RsmqResult<String>> {
        let n = requests.len();
        let (base, ids) = match self.stored_clock.ids(con, n).await {
            Ok(claimed) => claimed,
            Err(err) => return reply::fail_all(&err, n),
        };
        let keys = self.keys(qname);
        let mut finish = self.eval(&SEND_STORED, &[keys.messages(), keys.queue()]);
        finish
            .arg(self.channel(qname))
            .arg(self.unit.at_micros(base));
        for (id, (body, delay)) in ids.iter().zip(&requests) {
            finish.arg(id).arg(body.len()).arg(units_arg(*delay));
        }
        let bodies = requests.into_iter().map(|(body, _)| body);
        let (reply, waited) = match self.store_then(con, &keys, &ids, bodies, finish).await {
            Ok((value, waited)) => (Ok(value), waited),
            Err(e) => (Err(e), None),
        };
        let results = reply::per_request(reply, n, |v| reply::string(v, "message id"));
        match waited {
            Some(w) => results
                .into_iter()
                .map(|r| r.and_then(|id| w.check_one(id)))
                .collect(),
            None => results,
        }
    }

    /// `send_message_batch` of large or many bodies, the same way as `send_stored`, with
    /// `send_batch_stored`: all or nothing.
    pub(super) async fn send_batch_stored<C: ConnectionLike + Send>(
        &self,
        con: &mut C,
        qname: &str,
        messages: Vec<RedisBytes>,
        delay: Option<u64>,
    ) -> RsmqResult<Vec<String>> {
        let (base, ids) = self.stored_clock.ids(con, messages.len()).await?;
        let keys = self.keys(qname);
        let longest = messages.iter().map(|m| m.0.len()).max().unwrap_or(0);
        let mut finish = self.eval(&SEND_BATCH_STORED, &[keys.messages(), keys.queue()]);
        finish
            .arg(self.channel(qname))
            .arg(self.unit.at_micros(base))
            .arg(units_arg(delay))
            .arg(longest)
            .arg(&ids);
        let bodies = messages.into_iter().map(|m| m.0);
        let (reply, waited) = self.store_then(con, &keys, &ids, bodies, finish).await?;
        reply::count(reply, "batch send")?;
        match waited {
            Some(w) => w.check(ids),
            None => Ok(ids),
        }
    }

    /// One round trip: `MULTI`, `HSET` of `bodies` under `ids`, `finish`, `EXEC` (and, with
    /// durable sends, `WAIT`); returns the reply of `finish` (and what `WAIT` answered).
    async fn store_then<C: ConnectionLike + Send>(
        &self,
        con: &mut C,
        keys: &QueueKeys,
        ids: &[String],
        bodies: impl Iterator<Item = Vec<u8>>,
        finish: redis::Cmd,
    ) -> RsmqResult<(Value, Option<Waited>)> {
        let mut hset = redis::cmd("HSET");
        hset.arg(keys.queue());
        for (id, body) in ids.iter().zip(bodies) {
            hset.arg(id).arg(body);
        }
        let Some((wanted, ms)) = self.durable else {
            let (reply,): (Value,) = redis::pipe()
                .atomic()
                .add_command(hset)
                .ignore()
                .add_command(finish)
                .query_async(con)
                .await?;
            return Ok((reply::check_code(reply)?, None));
        };
        // The transaction by hand, so that `WAIT` can follow `EXEC` in the same pipeline.
        let (exec, acked): (Value, u64) = redis::pipe()
            .cmd("MULTI")
            .ignore()
            .add_command(hset)
            .ignore()
            .add_command(finish)
            .ignore()
            .cmd("EXEC")
            .cmd("WAIT")
            .arg(wanted)
            .arg(ms)
            .query_async(con)
            .await?;
        // EXEC's reply: the HSET's count, then the script's reply (an error stays an error).
        let [_, reply] = <[Value; 2]>::try_from(reply::array(exec.extract_error()?, 2, "EXEC")?)
            .map_err(|_| RsmqError::InvalidReply("EXEC: wrong length".into()))?;
        Ok((
            reply::check_code(reply.extract_error()?)?,
            Some(Waited { wanted, acked }),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_implausible_time_is_an_invalid_reply_not_an_overflow() {
        assert_eq!(
            micros(1_700_000_000, 123_456).unwrap(),
            1_700_000_000_123_456
        );
        for (sec, usec) in [
            (u64::MAX, 0),
            (0, u64::MAX),
            (LATEST_PLAUSIBLE_SECONDS + 1, 0),
            (1, 1_000_000),
        ] {
            assert!(matches!(micros(sec, usec), Err(RsmqError::InvalidReply(_))));
        }
        assert!(matches!(
            new_ids(u64::MAX - 1, 5),
            Err(RsmqError::InvalidReply(_))
        ));
        assert_eq!(new_ids(5, 3).unwrap().len(), 3);
        // Claims never overflow either.
        let clock = StoredClock::default();
        assert_eq!(clock.claim(u64::MAX - 1, 5), u64::MAX - 1);
        assert_eq!(clock.claim(0, 5), u64::MAX);
    }

    #[test]
    fn claims_of_one_client_never_overlap() {
        let clock = StoredClock::default();
        assert_eq!(clock.claim(100, 10), 100);
        assert_eq!(clock.claim(100, 5), 110);
        assert_eq!(clock.claim(200, 1), 200);
    }
}
