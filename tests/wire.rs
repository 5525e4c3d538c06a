//! The bytes in Redis: keys, fields, units and the realtime payload, read with plain
//! commands, plus data planted by other (or broken) writers.

mod common;

use std::time::Duration;

use futures_util::StreamExt;
use redis::AsyncCommands;
use rsmq_async::{Rsmq, RsmqConnection, RsmqError, RsmqOptions};

/// Score units per second of this build.
const UNITS: u64 = if cfg!(feature = "break-js-comp") {
    1_000_000
} else {
    1000
};

fn base36_micros(id: &str) -> u64 {
    u64::from_str_radix(&id[..10], 36).unwrap()
}

#[tokio::test]
async fn queue_hash_holds_whole_seconds_and_epoch_seconds() {
    let (rsmq, ns) = common::rsmq("wirequeue").await;
    rsmq.create_queue(
        "q",
        Some(Duration::from_secs(45)),
        Some(Duration::from_secs(3)),
        Some(2048),
    )
    .await
    .unwrap();
    let mut con = common::raw().await;
    let (s, _): (u64, u64) = redis::cmd("TIME").query_async(&mut con).await.unwrap();
    let hash: Vec<(String, String)> = con.hgetall(format!("{ns}:q:Q")).await.unwrap();
    let get = |f: &str| hash.iter().find(|(k, _)| k == f).map(|(_, v)| v.clone());
    assert_eq!(get("vt").as_deref(), Some("45"));
    assert_eq!(get("delay").as_deref(), Some("3"));
    assert_eq!(get("maxsize").as_deref(), Some("2048"));
    let created: u64 = get("created").unwrap().parse().unwrap();
    assert!(created.abs_diff(s) <= 1);
    assert_eq!(get("modified"), get("created"));
    assert_eq!(
        hash.len(),
        5,
        "JS writes exactly these five fields: {hash:?}"
    );
    let queues: Vec<String> = con.smembers(format!("{ns}:QUEUES")).await.unwrap();
    assert_eq!(queues, ["q"]);
}

#[tokio::test]
async fn send_writes_id_body_score_and_counter_as_js_does() {
    let (rsmq, ns) = common::rsmq("wiresend").await;
    rsmq.create_queue("q", None, None, None).await.unwrap();
    let mut con = common::raw().await;
    let (s, us): (u64, u64) = redis::cmd("TIME").query_async(&mut con).await.unwrap();
    let id = rsmq
        .send_message("q", "body", Some(Duration::from_secs(2)))
        .await
        .unwrap();
    // Id: base-36 microseconds of Redis TIME, then 22 alphanumerics.
    assert_eq!(id.len(), 32);
    let id_us = base36_micros(&id);
    let t_us = s * 1_000_000 + us;
    assert!(
        id_us >= t_us && id_us - t_us < 2_000_000,
        "{id_us} vs {t_us}"
    );
    assert!(id[10..].bytes().all(|b| b.is_ascii_alphanumeric()));
    // Score: send time in score units plus the delay, written as an integer.
    let scores: Vec<(String, String)> = redis::cmd("ZRANGE")
        .arg(format!("{ns}:q"))
        .arg(0)
        .arg(-1)
        .arg("WITHSCORES")
        .query_async(&mut con)
        .await
        .unwrap();
    assert_eq!(scores.len(), 1);
    assert_eq!(scores[0].0, id);
    let score: u64 = scores[0].1.parse().expect("integer score");
    let sent_units = if UNITS == 1000 { id_us / 1000 } else { id_us };
    assert_eq!(score, sent_units + 2 * UNITS);
    let body: String = con.hget(format!("{ns}:q:Q"), &id).await.unwrap();
    assert_eq!(body, "body");
    let total: String = con.hget(format!("{ns}:q:Q"), "totalsent").await.unwrap();
    assert_eq!(total, "1");
}

#[tokio::test]
async fn receive_writes_rc_fr_and_the_vt_score() {
    let (rsmq, ns) = common::rsmq("wirerecv").await;
    rsmq.create_queue("q", Some(Duration::from_secs(7)), None, None)
        .await
        .unwrap();
    let id = rsmq.send_message("q", "body", None).await.unwrap();
    let m = rsmq
        .receive_message::<String>("q", None)
        .await
        .unwrap()
        .unwrap();
    let mut con = common::raw().await;
    let h = format!("{ns}:q:Q");
    let rc: String = con.hget(&h, format!("{id}:rc")).await.unwrap();
    let fr: String = con.hget(&h, format!("{id}:fr")).await.unwrap();
    let recv: String = con.hget(&h, "totalrecv").await.unwrap();
    assert_eq!((rc.as_str(), recv.as_str()), ("1", "1"));
    assert_eq!(
        fr,
        m.fr.to_string(),
        "fr is stored as integer epoch milliseconds"
    );
    assert_eq!(fr.len(), 13);
    let score: String = con.zscore(format!("{ns}:q"), &id).await.unwrap();
    let score: u64 = score.parse().expect("integer score");
    // The new score is the receive time plus 7 s, in score units.
    let fr_units = m.fr * (UNITS / 1000);
    assert!(
        score >= fr_units + 7 * UNITS && score < fr_units + 7 * UNITS + UNITS / 1000 + 1,
        "{score} {fr_units}"
    );
}

#[tokio::test]
async fn realtime_publishes_the_queue_size_after_each_send() {
    let s = common::server();
    let ns = common::namespace("realtime");
    let rsmq = Rsmq::new(RsmqOptions {
        realtime: true,
        ns: ns.clone(),
        ..common::options("rt")
    })
    .await
    .unwrap();
    let quiet = Rsmq::new(RsmqOptions {
        ns: ns.clone(),
        ..common::options("rt")
    })
    .await
    .unwrap();
    rsmq.create_queue("q", None, None, None).await.unwrap();
    let client = redis::Client::open(s.url()).unwrap();
    let mut pubsub = client.get_async_pubsub().await.unwrap();
    pubsub.subscribe(format!("{ns}:rt:q")).await.unwrap();
    let mut stream = pubsub.on_message();
    rsmq.send_message("q", "a", None).await.unwrap();
    quiet.send_message("q", "b", None).await.unwrap(); // realtime off: no publish
    rsmq.send_message("q", "c", None).await.unwrap();
    let mut got = Vec::new();
    for _ in 0..2 {
        let msg = tokio::time::timeout(Duration::from_secs(5), stream.next())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(msg.get_channel_name(), format!("{ns}:rt:q"));
        got.push(msg.get_payload::<String>().unwrap());
    }
    assert_eq!(got, ["1", "3"]);
    assert!(
        tokio::time::timeout(Duration::from_millis(200), stream.next())
            .await
            .is_err()
    );
}

#[tokio::test]
async fn a_body_less_member_never_blocks_the_queue() {
    let (rsmq, ns) = common::rsmq("bodyless").await;
    rsmq.create_queue("q", None, None, None).await.unwrap();
    let mut con = common::raw().await;
    // A crashed non-atomic writer left members at the head of the queue without bodies.
    for i in 0..3 {
        let orphan = format!("{:0>10}{}", i, "o".repeat(22));
        let _: () = con.zadd(format!("{ns}:q"), &orphan, 0).await.unwrap();
    }
    let id = rsmq.send_message("q", "real", None).await.unwrap();
    let m = rsmq
        .receive_message::<String>("q", None)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((m.id.as_str(), m.message.as_str()), (id.as_str(), "real"));
    let left: u64 = con.zcard(format!("{ns}:q")).await.unwrap();
    assert_eq!(left, 1, "the orphans were dropped");

    let _: () = con
        .zadd(format!("{ns}:q"), "x".repeat(32), 0)
        .await
        .unwrap();
    let id2 = rsmq.send_message("q", "second", None).await.unwrap();
    assert_eq!(
        rsmq.pop_message::<String>("q").await.unwrap().unwrap().id,
        id2
    );
    let _: () = con
        .zadd(format!("{ns}:q"), "y".repeat(32), 0)
        .await
        .unwrap();
    rsmq.delete_message("q", &id).await.unwrap();
    assert!(rsmq
        .receive_message::<String>("q", None)
        .await
        .unwrap()
        .is_none());
}

/// More body-less members at the head than one script call drops never make a receive, a
/// pop or a batch receive answer "empty" while a message is receivable.
#[tokio::test]
async fn any_number_of_body_less_members_never_hides_a_message() {
    let (rsmq, ns) = common::rsmq("manyorphans").await;
    rsmq.create_queue("q", None, None, None).await.unwrap();
    let mut con = common::raw().await;
    let plant = |round: u32| {
        let mut zadd = redis::cmd("ZADD");
        zadd.arg(format!("{ns}:q"));
        for i in 0..250 {
            zadd.arg(0).arg(format!("{round}{i:0>9}{}", "o".repeat(22)));
        }
        zadd
    };
    let _: () = plant(1).query_async(&mut con).await.unwrap();
    let id = rsmq.send_message("q", "real", None).await.unwrap();
    let m = rsmq.receive_message::<String>("q", None).await.unwrap();
    assert_eq!(m.map(|m| m.id), Some(id));
    let _: () = plant(2).query_async(&mut con).await.unwrap();
    let id = rsmq.send_message("q", "real", None).await.unwrap();
    let m = rsmq.pop_message::<String>("q").await.unwrap();
    assert_eq!(m.map(|m| m.id), Some(id));
    let _: () = plant(3).query_async(&mut con).await.unwrap();
    let id = rsmq.send_message("q", "real", None).await.unwrap();
    let got = rsmq
        .receive_message_batch::<String>("q", None, 10)
        .await
        .unwrap();
    assert_eq!(got.into_iter().map(|m| m.id).collect::<Vec<_>>(), [id]);
    let left: u64 = con.zcard(format!("{ns}:q")).await.unwrap();
    assert_eq!(left, 2, "the orphans were dropped");
}

/// Peeking reads on past body-less members: it returns as many messages as asked while
/// there are that many, and changes nothing.
#[tokio::test]
async fn peek_reads_past_body_less_members() {
    let (rsmq, ns) = common::rsmq("peekorphans").await;
    rsmq.create_queue("q", None, None, None).await.unwrap();
    let mut con = common::raw().await;
    let mut zadd = redis::cmd("ZADD");
    zadd.arg(format!("{ns}:q"));
    for i in 0..300 {
        zadd.arg(0).arg(format!("{i:0>10}{}", "o".repeat(22)));
    }
    let _: () = zadd.query_async(&mut con).await.unwrap();
    let ids = rsmq
        .send_message_batch("q", vec!["a", "b", "c"], None)
        .await
        .unwrap();
    let before = common::snapshot(&ns).await;
    for (max, want) in [(1, &ids[..1]), (3, &ids[..]), (10, &ids[..])] {
        let got = rsmq.peek_messages::<String>("q", max).await.unwrap();
        let got: Vec<&str> = got.iter().map(|m| m.id.as_str()).collect();
        assert_eq!(got, want, "peek {max}");
    }
    assert_eq!(
        common::snapshot(&ns).await,
        before,
        "peeking changes nothing"
    );
}

#[tokio::test]
async fn foreign_attribute_data_gives_clear_errors() {
    let (rsmq, ns) = common::rsmq("foreign").await;
    rsmq.create_queue("q", None, None, None).await.unwrap();
    rsmq.send_message("q", "m", None).await.unwrap();
    let mut con = common::raw().await;
    let h = format!("{ns}:q:Q");

    // PyRSMQ may store fractional seconds: read them as they are.
    let _: () = con.hset(&h, "vt", "1.5").await.unwrap();
    assert_eq!(
        rsmq.get_queue_attributes("q").await.unwrap().vt,
        Duration::from_millis(1500)
    );

    let _: () = con.hset(&h, "vt", "soon").await.unwrap();
    assert!(matches!(
        rsmq.get_queue_attributes("q").await,
        Err(RsmqError::CannotParseVT)
    ));
    assert!(matches!(
        rsmq.receive_message::<String>("q", None).await,
        Err(RsmqError::CannotParseVT)
    ));
    // An explicit vt does not need the stored one.
    assert!(rsmq
        .receive_message::<String>("q", Some(Duration::ZERO))
        .await
        .unwrap()
        .is_some());
    let _: () = con.hset(&h, "vt", "30").await.unwrap();

    let _: () = con.hset(&h, "delay", "-4").await.unwrap();
    assert!(matches!(
        rsmq.send_message("q", "m", None).await,
        Err(RsmqError::CannotParseDelay)
    ));
    assert!(matches!(
        rsmq.get_queue_attributes("q").await,
        Err(RsmqError::CannotParseDelay)
    ));
    let _: () = con.hset(&h, "delay", "0").await.unwrap();

    let _: () = con.hset(&h, "maxsize", "big").await.unwrap();
    assert!(matches!(
        rsmq.send_message("q", "m", None).await,
        Err(RsmqError::CannotParseMaxsize)
    ));
    let _: () = con.hset(&h, "maxsize", "65536").await.unwrap();

    let _: () = con.hset(&h, "totalsent", "many").await.unwrap();
    let err = rsmq.get_queue_attributes("q").await.unwrap_err();
    assert!(
        matches!(err, RsmqError::InvalidReply(ref t) if t.contains("totalsent")),
        "{err}"
    );
}

#[tokio::test]
async fn wrong_key_types_are_redis_errors_not_panics() {
    let (rsmq, ns) = common::rsmq("wrongtype").await;
    let mut con = common::raw().await;
    let _: () = con.set(format!("{ns}:q:Q"), "not a hash").await.unwrap();
    let _: () = con.set(format!("{ns}:QUEUES"), "not a set").await.unwrap();
    assert!(matches!(
        rsmq.create_queue("q", None, None, None).await,
        Err(RsmqError::RedisError(_))
    ));
    assert!(matches!(
        rsmq.send_message("q", "m", None).await,
        Err(RsmqError::RedisError(_))
    ));
    assert!(matches!(
        rsmq.receive_message::<String>("q", None).await,
        Err(RsmqError::RedisError(_))
    ));
    assert!(matches!(
        rsmq.get_queue_attributes("q").await,
        Err(RsmqError::RedisError(_))
    ));
    assert!(matches!(
        rsmq.list_queues().await,
        Err(RsmqError::RedisError(_))
    ));
    let _: () = con.del(format!("{ns}:q:Q")).await.unwrap();
    rsmq.create_queue("r", None, None, None).await.unwrap_err();
    let _: () = con.del(format!("{ns}:QUEUES")).await.unwrap();
    let _: () = con.set(format!("{ns}:r"), "not a zset").await.unwrap();
    rsmq.create_queue("r", None, None, None).await.unwrap();
    assert!(matches!(
        rsmq.send_message("r", "m", None).await,
        Err(RsmqError::RedisError(_))
    ));
}

#[tokio::test]
async fn foreign_ids_are_received_with_sent_zero() {
    let (rsmq, ns) = common::rsmq("foreignid").await;
    rsmq.create_queue("q", None, None, None).await.unwrap();
    let mut con = common::raw().await;
    let _: () = con
        .zadd(format!("{ns}:q"), "not-our-format", 0)
        .await
        .unwrap();
    let _: () = con
        .hset(format!("{ns}:q:Q"), "not-our-format", "hi")
        .await
        .unwrap();
    let m = rsmq
        .receive_message::<String>("q", None)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (m.id.as_str(), m.message.as_str(), m.sent, m.rc),
        ("not-our-format", "hi", 0, 1)
    );
}

/// The `tracing` events of the current thread, as "level target: message field=value ...".
#[derive(Default, Clone)]
struct Events(std::sync::Arc<std::sync::Mutex<Vec<String>>>);

impl tracing::Subscriber for Events {
    fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        tracing::span::Id::from_u64(1)
    }
    fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}
    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
    fn event(&self, event: &tracing::Event<'_>) {
        struct Text(String);
        impl tracing::field::Visit for Text {
            fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
                self.0.push_str(&format!(" {}={value:?}", field.name()));
            }
            fn record_str(&mut self, field: &tracing::field::Field, value: &str) {
                self.0.push_str(&format!(" {}={value}", field.name()));
            }
        }
        let meta = event.metadata();
        let mut text = Text(format!("{} {}:", meta.level(), meta.target()));
        event.record(&mut text);
        self.0.lock().unwrap().push(text.0);
    }
    fn enter(&self, _: &tracing::span::Id) {}
    fn exit(&self, _: &tracing::span::Id) {}
}

#[tokio::test]
async fn scripts_are_reloaded_after_script_flush() {
    // A server of its own: on the shared one, another test's call could load the script
    // again between the flush and the send below, and no reload would be seen.
    let server = common::start_server(&[]).unwrap();
    let rsmq = rsmq_async::Rsmq::new(rsmq_async::RsmqOptions {
        host: server.host.clone(),
        port: server.port,
        ns: common::namespace("flush"),
        protocol: common::protocol(),
        ..Default::default()
    })
    .await
    .unwrap();
    rsmq.create_queue("q", None, None, None).await.unwrap();
    rsmq.send_message("q", "a", None).await.unwrap();
    let mut con = redis::Client::open(server.url())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    let _: () = redis::cmd("SCRIPT")
        .arg("FLUSH")
        .query_async(&mut con)
        .await
        .unwrap();
    let events = Events::default();
    let guard = tracing::subscriber::set_default(events.clone());
    rsmq.send_message("q", "b", None).await.unwrap();
    drop(guard);
    // One warning, naming the script that Redis had forgotten.
    let seen = events.0.lock().unwrap().clone();
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert!(
        seen[0].starts_with("WARN rsmq_async") && seen[0].contains("script=send_message"),
        "{seen:?}"
    );
    assert_eq!(
        rsmq.receive_message::<String>("q", None)
            .await
            .unwrap()
            .unwrap()
            .message,
        "a"
    );
}

#[cfg(feature = "break-js-comp")]
#[tokio::test]
async fn break_js_comp_scores_are_microseconds() {
    let (rsmq, ns) = common::rsmq("micros").await;
    rsmq.create_queue("q", None, None, None).await.unwrap();
    let id = rsmq.send_message("q", "m", None).await.unwrap();
    let mut con = common::raw().await;
    let score: String = con.zscore(format!("{ns}:q"), &id).await.unwrap();
    assert_eq!(score.len(), 16, "{score}");
    assert_eq!(score.parse::<u64>().unwrap(), base36_micros(&id));
    // Queue attributes are still whole seconds.
    let vt: String = con.hget(format!("{ns}:q:Q"), "vt").await.unwrap();
    assert_eq!(vt, "30");
}

/// The score unit is chosen per client: in one build (and one namespace), a client with
/// microseconds writes microsecond scores and one with milliseconds writes millisecond
/// scores, for sends, delays, batch sends (in Lua and stored) and receives.
#[tokio::test]
async fn each_client_writes_scores_in_its_own_unit() {
    use rsmq_async::ScoreUnit;
    let ns = common::namespace("units");
    let mut con = common::raw().await;
    for (unit, q, per_second) in [
        (ScoreUnit::Micros, "us", 1_000_000),
        (ScoreUnit::Millis, "ms", 1000),
    ] {
        let rsmq = Rsmq::new(RsmqOptions {
            ns: ns.clone(),
            score_unit: unit,
            ..common::options("units")
        })
        .await
        .unwrap();
        rsmq.create_queue(q, None, None, None).await.unwrap();
        let zset = format!("{ns}:{q}");
        // The time an id carries, in the client's unit.
        let sent = |id: &str| base36_micros(id) / (1_000_000 / per_second);

        let id = rsmq.send_message(q, "m", None).await.unwrap();
        let score: u64 = con.zscore(&zset, &id).await.unwrap();
        assert_eq!(score, sent(&id), "{unit:?}");
        assert_eq!(
            score.to_string().len(),
            if per_second == 1000 { 13 } else { 16 }
        );

        let id = rsmq
            .send_message(q, "m", Some(Duration::from_secs(2)))
            .await
            .unwrap();
        let score: u64 = con.zscore(&zset, &id).await.unwrap();
        assert_eq!(score, sent(&id) + 2 * per_second, "{unit:?}");

        // Batches through Lua (3) and stored (60): scored by the first id's time.
        for n in [3, 60] {
            let ids = rsmq
                .send_message_batch(q, vec!["b"; n], None)
                .await
                .unwrap();
            for id in &ids {
                let score: u64 = con.zscore(&zset, id).await.unwrap();
                assert_eq!(score, sent(&ids[0]), "{unit:?} {n}");
            }
        }

        // A receive hides the message for vt in the client's unit.
        let m = rsmq
            .receive_message::<String>(q, Some(Duration::from_secs(7)))
            .await
            .unwrap()
            .unwrap();
        let score: u64 = con.zscore(&zset, &m.id).await.unwrap();
        let fr = m.fr * (per_second / 1000);
        let hidden_until = fr + 7 * per_second;
        assert!(
            (hidden_until..hidden_until + per_second / 1000).contains(&score),
            "{unit:?}: {score} {fr}"
        );
    }
}

/// The coalesced scripts take as many calls as one coalesced batch may hold (256) without
/// reaching Lua's `unpack` limit: sends through Lua and stored, and deletes.
#[tokio::test]
async fn coalesced_scripts_take_a_full_batch() {
    const MAX_COALESCED: usize = 256;
    let (rsmq, ns) = common::rsmq("fullbatch").await;
    rsmq.create_queue("q", None, None, None).await.unwrap();
    let sources = rsmq_async::script_sources();
    let source = |name: &str| sources.iter().find(|(n, _)| *n == name).unwrap().1.clone();
    let (zset, hash) = (format!("{ns}:q"), format!("{ns}:q:Q"));
    let mut con = common::raw().await;
    let suffix = |i: usize| format!("{i:0>22}");

    let mut send = redis::cmd("EVAL");
    send.arg(source("send_messages"))
        .arg(2)
        .arg(&zset)
        .arg(&hash)
        .arg("");
    for i in 0..MAX_COALESCED {
        send.arg(suffix(i)).arg(format!("body {i}")).arg("");
    }
    let ids: Vec<String> = send.query_async(&mut con).await.unwrap();
    assert_eq!(ids.len(), MAX_COALESCED);

    let (s, us): (u64, u64) = redis::cmd("TIME").query_async(&mut con).await.unwrap();
    let stored_ids: Vec<String> = (0..MAX_COALESCED)
        .map(|i| format!("{}{}", "z".repeat(10), suffix(i)))
        .collect();
    let mut hset = redis::cmd("HSET");
    hset.arg(&hash);
    let mut stored = redis::cmd("EVAL");
    stored
        .arg(source("send_stored"))
        .arg(2)
        .arg(&zset)
        .arg(&hash)
        .arg("")
        .arg((s * 1_000_000 + us) / (1_000_000 / UNITS));
    for id in &stored_ids {
        hset.arg(id).arg("stored body");
        stored.arg(id).arg(11).arg("");
    }
    let (sent,): (Vec<String>,) = redis::pipe()
        .atomic()
        .add_command(hset)
        .ignore()
        .add_command(stored)
        .query_async(&mut con)
        .await
        .unwrap();
    assert_eq!(sent, stored_ids);
    assert_eq!(
        rsmq.get_queue_attributes("q").await.unwrap().msgs,
        2 * MAX_COALESCED as u64
    );

    for ids in [ids, stored_ids] {
        let mut delete = redis::cmd("EVAL");
        delete
            .arg(source("delete_messages"))
            .arg(2)
            .arg(&zset)
            .arg(&hash)
            .arg(&ids);
        let deleted: Vec<u8> = delete.query_async(&mut con).await.unwrap();
        assert_eq!(deleted, vec![1; MAX_COALESCED]);
    }
    assert_eq!(rsmq.get_queue_attributes("q").await.unwrap().msgs, 0);
}

/// The coalesced stored send, when adding to the sorted set fails with a Redis error (a key
/// of the wrong type), takes every body it was given back out: the transaction writes
/// nothing.
#[tokio::test]
async fn a_failed_stored_coalesced_send_leaves_no_bodies() {
    let (rsmq, ns) = common::rsmq("storedfail").await;
    rsmq.create_queue("q", None, None, None).await.unwrap();
    let (zset, hash) = (format!("{ns}:q"), format!("{ns}:q:Q"));
    let mut con = common::raw().await;
    let _: () = con.set(&zset, "not a sorted set").await.unwrap();
    let before = common::snapshot(&ns).await;
    let sources = rsmq_async::script_sources();
    let source = &sources.iter().find(|(n, _)| *n == "send_stored").unwrap().1;
    let ids: Vec<String> = (0..3)
        .map(|i| format!("{}{i:0>22}", "z".repeat(10)))
        .collect();
    let mut hset = redis::cmd("HSET");
    hset.arg(&hash);
    let mut stored = redis::cmd("EVAL");
    stored
        .arg(source)
        .arg(2)
        .arg(&zset)
        .arg(&hash)
        .arg("")
        .arg(1);
    for id in &ids {
        hset.arg(id).arg("body");
        stored.arg(id).arg(4).arg("");
    }
    let result: redis::RedisResult<(redis::Value,)> = redis::pipe()
        .atomic()
        .add_command(hset)
        .ignore()
        .add_command(stored)
        .query_async(&mut con)
        .await;
    let failed = match result {
        Err(e) => e.to_string().contains("WRONGTYPE"),
        Ok((redis::Value::ServerError(e),)) => format!("{e:?}").contains("WRONGTYPE"),
        Ok(other) => panic!("{other:?}"),
    };
    assert!(failed);
    assert_eq!(common::snapshot(&ns).await, before);
}
