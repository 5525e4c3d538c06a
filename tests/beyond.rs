//! Beyond RSMQ: batches, dead letters, long polling, peek, purge and the extra attributes,
//! for every client.

#[macro_use]
mod common;

use std::time::{Duration, Instant};

use common::Client;
use rsmq_async::{RsmqConnection, RsmqError, RsmqOptions, FALLBACK_POLL, MAX_BATCH};

const MS: Duration = Duration::from_millis(1);

suite! {
    batch_send_keeps_input_order_and_is_received_in_it,
    batch_send_is_all_or_nothing,
    batch_sizes_are_limited,
    every_batch_operation_takes_max_batch,
    large_batches_keep_order_counts_and_all_or_nothing,
    a_failed_stored_batch_leaves_no_bodies,
    batch_receive_hides_each_message_and_counts,
    batch_delete_and_visibility_count_what_was_there,
    move_message_keeps_body_and_counters,
    move_message_needs_two_existing_different_queues,
    moves_into_a_broken_destination_lose_nothing,
    receive_or_dlq_parks_messages_that_used_their_receives,
    receive_or_dlq_parks_any_number_of_spent_messages,
    redrive_moves_dead_messages_back_with_a_fresh_budget,
    peek_changes_nothing,
    browse_pages_through_every_message_once_in_order_changing_nothing,
    browse_checks_its_input,
    get_message_reads_one_message_hidden_or_not,
    purge_removes_messages_and_keeps_the_queue,
    purge_removes_message_fields_only,
    purge_empties_a_queue_larger_than_one_step,
    attributes_report_visible_messages_and_the_oldest_age,
    server_memory_reads_info_memory,
    long_poll_returns_none_after_the_wait,
    long_poll_wakes_when_a_delayed_message_becomes_due,
    long_poll_wakes_on_a_realtime_send,
}

async fn batch_send_keeps_input_order_and_is_received_in_it<C: Client>(rsmq: C, _ns: String) {
    rsmq.create_queue("q", None, None, None).await.unwrap();
    rsmq.send_message("q", "before", None).await.unwrap();
    let bodies: Vec<String> = (0..100).map(|i| format!("m{i}")).collect();
    let ids = rsmq
        .send_message_batch("q", bodies.clone(), None)
        .await
        .unwrap();
    assert_eq!(ids.len(), 100);
    let mut sorted = ids.clone();
    sorted.sort();
    assert_eq!(sorted, ids, "ids increase through the batch");
    assert!(ids.iter().all(|id| id.len() == 32));
    assert_eq!(
        rsmq.receive_message::<String>("q", None)
            .await
            .unwrap()
            .unwrap()
            .message,
        "before"
    );
    for (id, body) in ids.iter().zip(&bodies) {
        let m = rsmq
            .receive_message::<String>("q", None)
            .await
            .unwrap()
            .unwrap();
        assert_eq!((&m.id, &m.message), (id, body));
    }
    assert_eq!(rsmq.get_queue_attributes("q").await.unwrap().totalsent, 101);
    assert!(rsmq
        .send_message_batch::<&str>("q", vec![], None)
        .await
        .unwrap()
        .is_empty());
}

async fn batch_send_is_all_or_nothing<C: Client>(rsmq: C, ns: String) {
    rsmq.create_queue("q", None, None, Some(1024))
        .await
        .unwrap();
    let before = common::snapshot(&ns).await;
    let batch = vec!["ok".to_string(), "x".repeat(1025), "ok".to_string()];
    let err = rsmq.send_message_batch("q", batch, None).await.unwrap_err();
    assert!(matches!(err, RsmqError::MessageTooLong), "{err:?}");
    assert_eq!(common::snapshot(&ns).await, before);
    let err = rsmq
        .send_message_batch("nope", vec!["a"], None)
        .await
        .unwrap_err();
    assert!(matches!(err, RsmqError::QueueNotFound));
    // A delayed batch stays hidden as a whole.
    rsmq.send_message_batch("q", vec!["a", "b"], Some(300 * MS))
        .await
        .unwrap();
    assert!(rsmq
        .receive_message::<String>("q", None)
        .await
        .unwrap()
        .is_none());
}

/// Batches of large bodies take the two-step paths (bodies stored with `HSET`, read with
/// `HMGET`) and behave exactly like small ones.
async fn large_batches_keep_order_counts_and_all_or_nothing<C: Client>(rsmq: C, ns: String) {
    rsmq.create_queue("q", None, None, Some(40_000))
        .await
        .unwrap();
    let before = common::snapshot(&ns).await;
    let big = |tag: &str, len: usize| format!("{tag}:") + &"z".repeat(len);
    // One body over maxsize: nothing is written.
    let batch = vec![big("a", 20_000), big("b", 50_000), big("c", 20_000)];
    let err = rsmq.send_message_batch("q", batch, None).await.unwrap_err();
    assert!(matches!(err, RsmqError::MessageTooLong), "{err:?}");
    assert_eq!(common::snapshot(&ns).await, before);
    let err = rsmq
        .send_message_batch("nope", vec![big("a", 40_000)], None)
        .await
        .unwrap_err();
    assert!(matches!(err, RsmqError::QueueNotFound), "{err:?}");
    assert_eq!(common::snapshot(&ns).await, before);

    // Rounds of 8 × 20 KiB: the first receive learns the body size, later ones read the
    // bodies outside Lua; order, bodies and counters are the same either way.
    for round in 0..3 {
        let bodies: Vec<String> = (0..8)
            .map(|i| big(&format!("{round}-{i}"), 20_000))
            .collect();
        let ids = rsmq
            .send_message_batch("q", bodies.clone(), None)
            .await
            .unwrap();
        let mut sorted = ids.clone();
        sorted.sort();
        assert_eq!(sorted, ids, "ids increase through the batch");
        let got = rsmq
            .receive_message_batch::<String>("q", None, 10)
            .await
            .unwrap();
        let got_ids: Vec<&String> = got.iter().map(|m| &m.id).collect();
        assert_eq!(got_ids, ids.iter().collect::<Vec<_>>(), "round {round}");
        for (m, body) in got.iter().zip(&bodies) {
            assert_eq!(&m.message, body);
            assert!(m.rc == 1 && m.fr > 0 && m.sent > 0);
        }
        let deleted = rsmq.delete_message_batch("q", &ids).await.unwrap();
        assert_eq!(deleted, 8);
    }
    let a = rsmq.get_queue_attributes("q").await.unwrap();
    assert_eq!((a.totalsent, a.totalrecv, a.msgs), (24, 24, 0));
    // A delayed large batch stays hidden as a whole.
    rsmq.send_message_batch(
        "q",
        vec![big("d0", 20_000), big("d1", 20_000)],
        Some(300 * MS),
    )
    .await
    .unwrap();
    assert!(rsmq
        .receive_message_batch::<String>("q", None, 10)
        .await
        .unwrap()
        .is_empty());
}

/// A stored batch whose script fails with a Redis error (here: the queue's sorted set is of
/// the wrong type) takes its bodies back out: nothing is written.
async fn a_failed_stored_batch_leaves_no_bodies<C: Client>(rsmq: C, ns: String) {
    rsmq.create_queue("q", None, None, None).await.unwrap();
    let mut con = common::raw().await;
    let _: () = redis::cmd("SET")
        .arg(format!("{ns}:q"))
        .arg("not a sorted set")
        .query_async(&mut con)
        .await
        .unwrap();
    let before = common::snapshot(&ns).await;
    // Many small bodies, and a few large ones: both take the stored path.
    let many = vec!["m"; 60];
    let err = rsmq.send_message_batch("q", many, None).await.unwrap_err();
    assert!(matches!(err, RsmqError::RedisError(_)), "{err:?}");
    let large = vec!["z".repeat(20_000), "z".repeat(20_000)];
    let err = rsmq.send_message_batch("q", large, None).await.unwrap_err();
    assert!(matches!(err, RsmqError::RedisError(_)), "{err:?}");
    assert_eq!(common::snapshot(&ns).await, before);
}

async fn batch_sizes_are_limited<C: Client>(rsmq: C, ns: String) {
    rsmq.create_queue("q", None, None, None).await.unwrap();
    let before = common::snapshot(&ns).await;
    let too_many = vec!["m"; MAX_BATCH + 1];
    let err = rsmq
        .send_message_batch("q", too_many, None)
        .await
        .unwrap_err();
    assert!(
        matches!(err, RsmqError::BatchTooLarge(MAX_BATCH)),
        "{err:?}"
    );
    let max = MAX_BATCH as u32 + 1;
    assert!(matches!(
        rsmq.receive_message_batch::<String>("q", None, max).await,
        Err(RsmqError::BatchTooLarge(_))
    ));
    assert!(matches!(
        rsmq.peek_messages::<String>("q", max).await,
        Err(RsmqError::BatchTooLarge(_))
    ));
    let ids = vec!["a".repeat(32); MAX_BATCH + 1];
    assert!(matches!(
        rsmq.delete_message_batch("q", &ids).await,
        Err(RsmqError::BatchTooLarge(_))
    ));
    let bad = ["a".repeat(32), "bad".to_string()];
    assert!(matches!(
        rsmq.delete_message_batch("q", &bad).await,
        Err(RsmqError::InvalidFormat(_))
    ));
    assert_eq!(common::snapshot(&ns).await, before);
    assert_eq!(
        rsmq.send_message_batch("q", vec!["m"; MAX_BATCH], None)
            .await
            .unwrap()
            .len(),
        MAX_BATCH
    );
    // The largest batches fit the scripts' limits (Lua's unpack stops at 8000 values).
    let max = MAX_BATCH as u32;
    for rc in 1..=2 {
        let got = rsmq
            .receive_message_batch::<String>("q", Some(Duration::ZERO), max)
            .await
            .unwrap();
        assert_eq!(got.len(), MAX_BATCH);
        assert!(got.iter().all(|m| m.rc == rc));
    }
    let ids: Vec<String> = rsmq
        .peek_messages::<String>("q", max)
        .await
        .unwrap()
        .into_iter()
        .map(|m| m.id)
        .collect();
    assert_eq!(
        rsmq.delete_message_batch("q", &ids).await.unwrap(),
        MAX_BATCH as u64
    );
    assert_eq!(rsmq.get_queue_attributes("q").await.unwrap().msgs, 0);
}

/// Every batch operation at exactly `MAX_BATCH`, including a receive of large bodies (read
/// outside Lua), a visibility change and a redrive.
async fn every_batch_operation_takes_max_batch<C: Client>(rsmq: C, _ns: String) {
    rsmq.create_queue("q", None, None, Some(-1)).await.unwrap();
    rsmq.create_queue("dead", None, None, None).await.unwrap();
    let body = "b".repeat(9 * 1024);
    let ids = rsmq
        .send_message_batch("q", vec![body.as_str(); MAX_BATCH], None)
        .await
        .unwrap();
    let max = MAX_BATCH as u32;
    for _ in 0..2 {
        let got = rsmq
            .receive_message_batch::<String>("q", Some(Duration::ZERO), max)
            .await
            .unwrap();
        assert_eq!(got.len(), MAX_BATCH);
        assert!(got.iter().all(|m| m.message == body));
    }
    let hidden = rsmq
        .change_message_visibility_batch("q", &ids, Duration::from_secs(60))
        .await
        .unwrap();
    assert_eq!(hidden, MAX_BATCH as u64);
    let shown = rsmq
        .change_message_visibility_batch("q", &ids, Duration::ZERO)
        .await
        .unwrap();
    assert_eq!(shown, MAX_BATCH as u64);
    // Spent messages (received twice, one receive allowed) move to the DLQ; redrive them.
    assert!(rsmq
        .receive_message_or_dlq::<String>("q", None, "dead", 1)
        .await
        .unwrap()
        .is_none());
    assert_eq!(
        rsmq.get_queue_attributes("dead").await.unwrap().msgs,
        MAX_BATCH as u64
    );
    assert_eq!(
        rsmq.redrive("dead", "q", max).await.unwrap(),
        MAX_BATCH as u64
    );
    assert_eq!(
        rsmq.delete_message_batch("q", &ids).await.unwrap(),
        MAX_BATCH as u64
    );
}

async fn batch_receive_hides_each_message_and_counts<C: Client>(rsmq: C, _ns: String) {
    rsmq.create_queue("q", None, None, None).await.unwrap();
    assert!(rsmq
        .receive_message_batch::<String>("q", None, 10)
        .await
        .unwrap()
        .is_empty());
    rsmq.send_message_batch("q", (0..15).map(|i| i.to_string()).collect(), None)
        .await
        .unwrap();
    let first = rsmq
        .receive_message_batch::<String>("q", Some(Duration::from_secs(30)), 10)
        .await
        .unwrap();
    let bodies: Vec<&str> = first.iter().map(|m| m.message.as_str()).collect();
    assert_eq!(bodies, ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"]);
    assert!(first.iter().all(|m| m.rc == 1 && m.fr > 0 && m.sent > 0));
    let rest = rsmq
        .receive_message_batch::<String>("q", None, 10)
        .await
        .unwrap();
    assert_eq!(rest.len(), 5);
    assert!(rsmq
        .receive_message_batch::<String>("q", None, 10)
        .await
        .unwrap()
        .is_empty());
    let a = rsmq.get_queue_attributes("q").await.unwrap();
    assert_eq!((a.totalrecv, a.msgs, a.visiblemsgs), (15, 15, 0));
    assert!(rsmq
        .receive_message_batch::<String>("q", None, 0)
        .await
        .unwrap()
        .is_empty());
}

async fn batch_delete_and_visibility_count_what_was_there<C: Client>(rsmq: C, _ns: String) {
    rsmq.create_queue("q", None, None, None).await.unwrap();
    let ids = rsmq
        .send_message_batch("q", vec!["a", "b", "c", "d"], None)
        .await
        .unwrap();
    let got = rsmq
        .receive_message_batch::<String>("q", Some(Duration::from_secs(60)), 4)
        .await
        .unwrap();
    assert_eq!(got.len(), 4);
    let missing = "z".repeat(32);
    let n = rsmq
        .change_message_visibility_batch(
            "q",
            &[ids[0].as_str(), ids[1].as_str(), &missing],
            Duration::ZERO,
        )
        .await
        .unwrap();
    assert_eq!(n, 2);
    let again = rsmq
        .receive_message_batch::<String>("q", None, 10)
        .await
        .unwrap();
    assert_eq!(again.iter().map(|m| m.rc).collect::<Vec<_>>(), [2, 2]);
    assert_eq!(
        rsmq.delete_message_batch("q", &[&ids[0], &ids[2], &missing])
            .await
            .unwrap(),
        2
    );
    assert_eq!(rsmq.get_queue_attributes("q").await.unwrap().msgs, 2);
    assert_eq!(
        rsmq.delete_message_batch::<&str>("q", &[]).await.unwrap(),
        0
    );
    let err = rsmq
        .change_message_visibility_batch("nope", &ids, MS)
        .await
        .unwrap_err();
    assert!(matches!(err, RsmqError::QueueNotFound));
}

async fn move_message_keeps_body_and_counters<C: Client>(rsmq: C, ns: String) {
    rsmq.create_queue("q", None, None, None).await.unwrap();
    rsmq.create_queue("dead", None, None, None).await.unwrap();
    let id = rsmq.send_message("q", "payload", None).await.unwrap();
    let r = rsmq
        .receive_message::<String>("q", Some(Duration::from_secs(60)))
        .await
        .unwrap()
        .unwrap();
    assert!(rsmq.move_message("q", &id, "dead").await.unwrap());
    assert!(!rsmq.move_message("q", &id, "dead").await.unwrap());
    assert_eq!(rsmq.get_queue_attributes("q").await.unwrap().msgs, 0);
    // Receivable at once in the destination, with its history.
    let m = rsmq
        .receive_message::<String>("dead", None)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (m.id.as_str(), m.message.as_str(), m.rc, m.fr),
        (id.as_str(), "payload", 2, r.fr)
    );
    let snap = format!("{:?}", common::snapshot(&ns).await);
    assert!(
        !snap.contains(&format!("{ns}:q:Q\", \"[(\\\"{id}")),
        "no trace left in the source"
    );
}

async fn move_message_needs_two_existing_different_queues<C: Client>(rsmq: C, ns: String) {
    rsmq.create_queue("q", None, None, None).await.unwrap();
    let id = rsmq.send_message("q", "m", None).await.unwrap();
    let before = common::snapshot(&ns).await;
    assert!(matches!(
        rsmq.move_message("q", &id, "q").await,
        Err(RsmqError::SameQueue)
    ));
    assert!(matches!(
        rsmq.move_message("q", &id, "nope").await,
        Err(RsmqError::QueueNotFound)
    ));
    assert!(matches!(
        rsmq.move_message("nope", &id, "q").await,
        Err(RsmqError::QueueNotFound)
    ));
    assert!(matches!(
        rsmq.receive_message_or_dlq::<String>("q", None, "q", 1)
            .await,
        Err(RsmqError::SameQueue)
    ));
    assert!(matches!(
        rsmq.receive_message_or_dlq::<String>("q", None, "nope", 1)
            .await,
        Err(RsmqError::QueueNotFound)
    ));
    assert!(matches!(
        rsmq.redrive("q", "q", 1).await,
        Err(RsmqError::SameQueue)
    ));
    assert!(matches!(
        rsmq.redrive("nope", "q", 1).await,
        Err(RsmqError::QueueNotFound)
    ));
    assert_eq!(common::snapshot(&ns).await, before);
}

/// A move into a queue whose sorted set is of the wrong type fails before it writes: the
/// message stays where it was.
async fn moves_into_a_broken_destination_lose_nothing<C: Client>(rsmq: C, ns: String) {
    rsmq.create_queue("q", None, None, None).await.unwrap();
    rsmq.create_queue("dead", None, None, None).await.unwrap();
    let id = rsmq.send_message("q", "m", None).await.unwrap();
    let mut con = common::raw().await;
    let _: () = redis::cmd("SET")
        .arg(format!("{ns}:dead"))
        .arg("not a sorted set")
        .query_async(&mut con)
        .await
        .unwrap();
    let before = common::snapshot(&ns).await;
    let err = rsmq.move_message("q", &id, "dead").await.unwrap_err();
    assert!(matches!(err, RsmqError::RedisError(_)), "{err:?}");
    let err = rsmq
        .receive_message_or_dlq::<String>("q", None, "dead", 0)
        .await
        .unwrap_err();
    assert!(matches!(err, RsmqError::RedisError(_)), "{err:?}");
    let err = rsmq.redrive("q", "dead", 10).await.unwrap_err();
    assert!(matches!(err, RsmqError::RedisError(_)), "{err:?}");
    assert_eq!(common::snapshot(&ns).await, before);
}

async fn receive_or_dlq_parks_messages_that_used_their_receives<C: Client>(rsmq: C, _ns: String) {
    rsmq.create_queue("q", None, None, None).await.unwrap();
    rsmq.create_queue("dead", None, None, None).await.unwrap();
    let poison = rsmq.send_message("q", "poison", None).await.unwrap();
    // Two deliveries allowed.
    for rc in 1..=2 {
        let m = rsmq
            .receive_message_or_dlq::<String>("q", Some(Duration::ZERO), "dead", 2)
            .await
            .unwrap()
            .unwrap();
        assert_eq!((m.id.as_str(), m.rc), (poison.as_str(), rc));
    }
    let good = rsmq.send_message("q", "good", None).await.unwrap();
    // Third time: poison goes to the DLQ, and the next message is delivered instead.
    let m = rsmq
        .receive_message_or_dlq::<String>("q", Some(Duration::from_secs(60)), "dead", 2)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(m.id, good);
    let dead = rsmq
        .receive_message::<String>("dead", None)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (dead.id.as_str(), dead.message.as_str(), dead.rc),
        (poison.as_str(), "poison", 3)
    );
    assert!(rsmq
        .receive_message_or_dlq::<String>("q", None, "dead", 2)
        .await
        .unwrap()
        .is_none());
    // max_receives 0: everything is dead on arrival.
    rsmq.send_message("q", "x", None).await.unwrap();
    assert!(rsmq
        .receive_message_or_dlq::<String>("q", None, "dead", 0)
        .await
        .unwrap()
        .is_none());
    assert_eq!(rsmq.get_queue_attributes("dead").await.unwrap().msgs, 2);
}

/// However many spent messages lead the queue, they all go to the DLQ and the next good
/// message is delivered: the receive never answers "empty" while one is receivable.
async fn receive_or_dlq_parks_any_number_of_spent_messages<C: Client>(rsmq: C, _ns: String) {
    rsmq.create_queue("q", None, None, None).await.unwrap();
    rsmq.create_queue("dead", None, None, None).await.unwrap();
    rsmq.send_message_batch("q", vec!["spent"; 250], None)
        .await
        .unwrap();
    let got = rsmq
        .receive_message_batch::<String>("q", Some(Duration::ZERO), 250)
        .await
        .unwrap();
    assert_eq!(got.len(), 250);
    let good = rsmq.send_message("q", "good", None).await.unwrap();
    let m = rsmq
        .receive_message_or_dlq::<String>("q", None, "dead", 1)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((m.id.as_str(), m.message.as_str()), (good.as_str(), "good"));
    assert_eq!(rsmq.get_queue_attributes("dead").await.unwrap().msgs, 250);
}

async fn redrive_moves_dead_messages_back_with_a_fresh_budget<C: Client>(rsmq: C, _ns: String) {
    rsmq.create_queue("q", None, None, None).await.unwrap();
    rsmq.create_queue("dead", None, None, None).await.unwrap();
    let ids = rsmq
        .send_message_batch("q", vec!["a", "b", "c"], None)
        .await
        .unwrap();
    for id in &ids {
        rsmq.receive_message::<String>("q", Some(Duration::ZERO))
            .await
            .unwrap();
        rsmq.move_message("q", id, "dead").await.unwrap();
    }
    // One dead message is being inspected (hidden): it stays.
    let inspected = rsmq
        .receive_message::<String>("dead", Some(Duration::from_secs(60)))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(rsmq.redrive("dead", "q", 1).await.unwrap(), 1);
    assert_eq!(rsmq.redrive("dead", "q", 100).await.unwrap(), 1);
    assert_eq!(rsmq.redrive("dead", "q", 100).await.unwrap(), 0);
    let back = rsmq
        .receive_message_batch::<String>("q", None, 10)
        .await
        .unwrap();
    assert_eq!(back.len(), 2);
    assert!(back.iter().all(|m| m.rc == 1), "receive count starts again");
    assert!(back.iter().all(|m| m.id != inspected.id));
    assert_eq!(rsmq.get_queue_attributes("dead").await.unwrap().msgs, 1);
}

async fn peek_changes_nothing<C: Client>(rsmq: C, ns: String) {
    rsmq.create_queue("q", None, None, None).await.unwrap();
    rsmq.send_message_batch("q", vec!["a", "b", "c"], None)
        .await
        .unwrap();
    rsmq.send_message("q", "later", Some(Duration::from_secs(60)))
        .await
        .unwrap();
    // Received again a few ms later, "a" goes behind "b" and "c".
    tokio::time::sleep(5 * MS).await;
    rsmq.receive_message::<String>("q", Some(Duration::ZERO))
        .await
        .unwrap();
    let before = common::snapshot(&ns).await;
    let peeked = rsmq.peek_messages::<String>("q", 10).await.unwrap();
    assert_eq!(common::snapshot(&ns).await, before);
    let bodies: Vec<(&str, u64)> = peeked.iter().map(|m| (m.message.as_str(), m.rc)).collect();
    assert_eq!(bodies, [("b", 0), ("c", 0), ("a", 1)]);
    assert_eq!(rsmq.peek_messages::<String>("q", 1).await.unwrap().len(), 1);
    assert!(matches!(
        rsmq.peek_messages::<String>("nope", 1).await,
        Err(RsmqError::QueueNotFound)
    ));
}

/// `INFO memory` of the namespace's server (on a cluster, the master of its slot).
async fn server_memory_reads_info_memory<C: Client>(rsmq: C, ns: String) {
    let before = common::snapshot(&ns).await;
    let m = rsmq.server_memory().await.unwrap();
    assert!(m.used > 0);
    assert!(!m.policy.is_empty());
    assert_eq!(m.may_evict_messages(), m.policy.starts_with("allkeys-"));
    assert_eq!(common::snapshot(&ns).await, before);
}

async fn browse_pages_through_every_message_once_in_order_changing_nothing<C: Client>(
    rsmq: C,
    ns: String,
) {
    rsmq.create_queue("q", None, None, None).await.unwrap();
    let bodies: Vec<String> = (0..7).map(|i| format!("m{i}")).collect();
    rsmq.send_message_batch("q", bodies, None).await.unwrap();
    let later = rsmq
        .send_message("q", "later", Some(Duration::from_secs(60)))
        .await
        .unwrap();
    // Received, m0 is hidden for two minutes: it goes to the end.
    let m0 = rsmq
        .receive_message::<String>("q", Some(Duration::from_secs(120)))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(m0.message, "m0");

    let before = common::snapshot(&ns).await;
    let (mut seen, mut cursor, mut nexts) = (Vec::new(), Some(0), Vec::new());
    while let Some(at) = cursor {
        let page = rsmq.browse_messages::<String>("q", at, 3).await.unwrap();
        assert!(page.messages.len() <= 3);
        seen.extend(page.messages);
        cursor = page.next;
        nexts.push(cursor);
    }
    assert_eq!(
        common::snapshot(&ns).await,
        before,
        "browsing changes nothing"
    );
    assert_eq!(nexts, [Some(3), Some(6), None]);
    let order: Vec<(&str, bool)> = seen
        .iter()
        .map(|m| (m.message.as_str(), m.hidden))
        .collect();
    assert_eq!(
        order,
        [
            ("m1", false),
            ("m2", false),
            ("m3", false),
            ("m4", false),
            ("m5", false),
            ("m6", false),
            ("later", true),
            ("m0", true),
        ]
    );
    let by_body = |b: &str| seen.iter().find(|m| m.message == b).unwrap();
    let (m1, l, r) = (by_body("m1"), by_body("later"), by_body("m0"));
    assert_eq!((m1.rc, m1.fr, l.rc), (0, 0, 0));
    // A batch's ids advance 1 µs per message from the batch's Redis time, while its messages
    // share one score: m1's id can name the next millisecond.
    assert!(m1.sent > 1_600_000_000_000 && m1.visible_at + 1 >= m1.sent);
    assert_eq!(l.id, later);
    assert!(l.visible_at >= l.sent + 60_000 && l.visible_at < l.sent + 61_000);
    assert_eq!((r.id.as_str(), r.rc, r.fr), (m0.id.as_str(), 1, m0.fr));
    assert!(r.visible_at >= r.fr + 120_000 && r.visible_at < r.fr + 121_000);

    // One page of exactly the rest ends; past the end is empty.
    let all = rsmq.browse_messages::<String>("q", 0, 8).await.unwrap();
    assert_eq!((all.messages.len(), all.next), (8, None));
    assert_eq!(all.messages, seen);
    let short = rsmq.browse_messages::<String>("q", 0, 7).await.unwrap();
    assert_eq!(short.next, Some(7));
    let past = rsmq.browse_messages::<String>("q", 100, 10).await.unwrap();
    assert!(past.messages.is_empty() && past.next.is_none());
    let none = rsmq.browse_messages::<String>("q", 2, 0).await.unwrap();
    assert!(none.messages.is_empty());
    assert_eq!(none.next, Some(2));
    let far = rsmq
        .browse_messages::<String>("q", u64::MAX, 10)
        .await
        .unwrap();
    assert!(far.messages.is_empty() && far.next.is_none());
}

async fn browse_checks_its_input<C: Client>(rsmq: C, ns: String) {
    rsmq.create_queue("q", None, None, None).await.unwrap();
    rsmq.send_message("q", vec![0xffu8, 0xfe], None)
        .await
        .unwrap();
    let before = common::snapshot(&ns).await;
    assert!(matches!(
        rsmq.browse_messages::<String>("nope", 0, 10).await,
        Err(RsmqError::QueueNotFound)
    ));
    assert!(matches!(
        rsmq.browse_messages::<String>("bad!", 0, 10).await,
        Err(RsmqError::InvalidFormat(_))
    ));
    assert!(matches!(
        rsmq.browse_messages::<String>("q", 0, MAX_BATCH as u32 + 1)
            .await,
        Err(RsmqError::BatchTooLarge(MAX_BATCH))
    ));
    // A body that is not UTF-8 cannot be a String, and comes back as bytes.
    assert!(matches!(
        rsmq.browse_messages::<String>("q", 0, 10).await,
        Err(RsmqError::CannotDecodeMessage(m)) if m.message == [0xff, 0xfe]
    ));
    let page = rsmq.browse_messages::<Vec<u8>>("q", 0, 10).await.unwrap();
    assert_eq!(page.messages[0].message, [0xff, 0xfe]);
    // The largest page fits the script's limits.
    let max = MAX_BATCH as u32;
    assert_eq!(
        rsmq.browse_messages::<Vec<u8>>("q", 0, max)
            .await
            .unwrap()
            .messages
            .len(),
        1
    );
    assert_eq!(common::snapshot(&ns).await, before);
}

async fn get_message_reads_one_message_hidden_or_not<C: Client>(rsmq: C, ns: String) {
    rsmq.create_queue("q", None, None, None).await.unwrap();
    let a = rsmq.send_message("q", "a", None).await.unwrap();
    let b = rsmq
        .send_message("q", "b", Some(Duration::from_secs(30)))
        .await
        .unwrap();
    let gone = rsmq.send_message("q", "gone", None).await.unwrap();
    rsmq.delete_message("q", &gone).await.unwrap();
    let before = common::snapshot(&ns).await;

    let m = rsmq.get_message::<String>("q", &a).await.unwrap().unwrap();
    assert_eq!((m.id.as_str(), m.message.as_str()), (a.as_str(), "a"));
    assert_eq!((m.rc, m.fr, m.hidden), (0, 0, false));
    assert!(m.sent > 1_600_000_000_000 && m.visible_at >= m.sent);
    let m = rsmq.get_message::<String>("q", &b).await.unwrap().unwrap();
    assert_eq!((m.message.as_str(), m.hidden), ("b", true));
    assert!(m.visible_at >= m.sent + 30_000);
    assert_eq!(rsmq.get_message::<String>("q", &gone).await.unwrap(), None);
    assert_eq!(
        common::snapshot(&ns).await,
        before,
        "reading changes nothing"
    );

    // Received: hidden, counted.
    let r = rsmq
        .receive_message::<String>("q", Some(Duration::from_secs(60)))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(r.id, a);
    let m = rsmq.get_message::<String>("q", &a).await.unwrap().unwrap();
    assert_eq!((m.rc, m.fr, m.hidden), (1, r.fr, true));

    assert!(matches!(
        rsmq.get_message::<String>("nope", &a).await,
        Err(RsmqError::QueueNotFound)
    ));
    assert!(matches!(
        rsmq.get_message::<String>("q", "short").await,
        Err(RsmqError::InvalidFormat(_))
    ));
    assert!(matches!(
        rsmq.get_message::<String>("q", "").await,
        Err(RsmqError::MissingParameter(_))
    ));
}

async fn purge_removes_messages_and_keeps_the_queue<C: Client>(rsmq: C, ns: String) {
    rsmq.create_queue("q", Some(Duration::from_secs(45)), None, None)
        .await
        .unwrap();
    rsmq.send_message_batch("q", vec!["a", "b", "c"], None)
        .await
        .unwrap();
    rsmq.receive_message::<String>("q", None).await.unwrap();
    let mut con = common::raw().await;
    let _: () = redis::cmd("HSET")
        .arg(format!("{ns}:q:Q"))
        .arg("custom")
        .arg("kept")
        .query_async(&mut con)
        .await
        .unwrap();
    assert_eq!(rsmq.purge_queue("q").await.unwrap(), 3);
    let a = rsmq.get_queue_attributes("q").await.unwrap();
    assert_eq!(
        (a.msgs, a.vt, a.totalsent, a.totalrecv),
        (0, Duration::from_secs(45), 3, 1)
    );
    let fields: Vec<String> = redis::cmd("HKEYS")
        .arg(format!("{ns}:q:Q"))
        .query_async(&mut con)
        .await
        .unwrap();
    let mut fields: Vec<&str> = fields.iter().map(String::as_str).collect();
    fields.sort();
    assert_eq!(
        fields,
        [
            "created",
            "custom",
            "delay",
            "maxsize",
            "modified",
            "totalrecv",
            "totalsent",
            "vt"
        ]
    );
    rsmq.send_message("q", "after", None).await.unwrap();
    assert_eq!(
        rsmq.receive_message::<String>("q", None)
            .await
            .unwrap()
            .unwrap()
            .message,
        "after"
    );
    assert!(matches!(
        rsmq.purge_queue("nope").await,
        Err(RsmqError::QueueNotFound)
    ));
}

/// Purge removes message fields (a member's `{id}`, `{id}:rc` and `{id}:fr`, and fields
/// shaped like them that no member owns) and nothing else.
async fn purge_removes_message_fields_only<C: Client>(rsmq: C, ns: String) {
    rsmq.create_queue("q", None, None, None).await.unwrap();
    rsmq.send_message("q", "a", None).await.unwrap();
    let mut con = common::raw().await;
    let hash = format!("{ns}:q:Q");
    let orphan = "o".repeat(32);
    let unknown = "an_unknown_field_of_32_character";
    assert_eq!(unknown.len(), 32);
    let _: () = redis::cmd("HSET")
        .arg(&hash)
        .arg(&orphan)
        .arg("left by a crashed writer")
        .arg(format!("{orphan}:rc"))
        .arg("2")
        .arg(format!("{}:fr", "p".repeat(32)))
        .arg("1")
        .arg(unknown)
        .arg("kept")
        .arg("foreign-id")
        .arg("a body under a foreign id")
        .arg("foreign-id:rc")
        .arg("1")
        .arg("x:rc")
        .arg("kept too")
        .query_async(&mut con)
        .await
        .unwrap();
    let _: () = redis::cmd("ZADD")
        .arg(format!("{ns}:q"))
        .arg(0)
        .arg("foreign-id")
        .query_async(&mut con)
        .await
        .unwrap();
    assert_eq!(rsmq.purge_queue("q").await.unwrap(), 2);
    let mut fields: Vec<String> = redis::cmd("HKEYS")
        .arg(&hash)
        .query_async(&mut con)
        .await
        .unwrap();
    fields.sort();
    assert_eq!(
        fields,
        [
            unknown,
            "created",
            "delay",
            "maxsize",
            "modified",
            "totalsent",
            "vt",
            "x:rc"
        ]
    );
}

/// A queue of more messages than one purge step takes is emptied all the same.
async fn purge_empties_a_queue_larger_than_one_step<C: Client>(rsmq: C, ns: String) {
    rsmq.create_queue("q", None, None, None).await.unwrap();
    for _ in 0..6 {
        rsmq.send_message_batch("q", vec!["m"; MAX_BATCH], None)
            .await
            .unwrap();
    }
    rsmq.receive_message_batch::<String>("q", None, MAX_BATCH as u32)
        .await
        .unwrap();
    assert_eq!(rsmq.purge_queue("q").await.unwrap(), 6 * MAX_BATCH as u64);
    let mut con = common::raw().await;
    let fields: u64 = redis::cmd("HLEN")
        .arg(format!("{ns}:q:Q"))
        .query_async(&mut con)
        .await
        .unwrap();
    assert_eq!(fields, 7, "the attributes and counters");
    assert_eq!(rsmq.get_queue_attributes("q").await.unwrap().msgs, 0);
}

async fn attributes_report_visible_messages_and_the_oldest_age<C: Client>(rsmq: C, _ns: String) {
    rsmq.create_queue("q", None, None, None).await.unwrap();
    let a = rsmq.get_queue_attributes("q").await.unwrap();
    assert_eq!((a.visiblemsgs, a.oldestmsgage), (0, Duration::ZERO));
    rsmq.send_message("q", "old", None).await.unwrap();
    tokio::time::sleep(150 * MS).await;
    rsmq.send_message("q", "new", None).await.unwrap();
    rsmq.send_message("q", "hidden", Some(Duration::from_secs(60)))
        .await
        .unwrap();
    let a = rsmq.get_queue_attributes("q").await.unwrap();
    assert_eq!((a.msgs, a.visiblemsgs), (3, 2));
    assert!(
        a.oldestmsgage >= 150 * MS && a.oldestmsgage < Duration::from_secs(5),
        "{:?}",
        a.oldestmsgage
    );
}

async fn long_poll_returns_none_after_the_wait<C: Client>(rsmq: C, _ns: String) {
    rsmq.create_queue("q", None, None, None).await.unwrap();
    let start = Instant::now();
    assert!(rsmq
        .receive_message_wait::<String>("q", None, 300 * MS)
        .await
        .unwrap()
        .is_none());
    let took = start.elapsed();
    assert!(took >= 300 * MS && took < 2000 * MS, "{took:?}");
    assert!(matches!(
        rsmq.receive_message_wait::<String>("nope", None, 100 * MS)
            .await,
        Err(RsmqError::QueueNotFound)
    ));
    // A message that is there is returned at once: a waiter that slept first would take at
    // least the fallback poll.
    common::under(FALLBACK_POLL, "a ready message", async || {
        rsmq.send_message("q", "ready", None).await.unwrap();
        let start = Instant::now();
        let m = rsmq
            .receive_message_wait::<String>("q", None, Duration::from_secs(5))
            .await
            .unwrap();
        let took = start.elapsed();
        assert_eq!(m.unwrap().message, "ready");
        took
    })
    .await;
}

async fn long_poll_wakes_when_a_delayed_message_becomes_due<C: Client>(rsmq: C, _ns: String) {
    rsmq.create_queue("q", None, None, None).await.unwrap();
    // No realtime publish: the waiter wakes when the message is due, 120 ms after the send.
    // Its first look comes after the send, so the fallback poll would look again no sooner
    // than FALLBACK_POLL after `start`.
    common::under(FALLBACK_POLL, "woken when due", async || {
        let start = Instant::now();
        let id = rsmq
            .send_message("q", "soon", Some(120 * MS))
            .await
            .unwrap();
        let m = rsmq
            .receive_message_wait::<String>("q", None, Duration::from_secs(5))
            .await
            .unwrap()
            .unwrap();
        let took = start.elapsed();
        assert_eq!(m.id, id);
        // Due 120 ms after a send that began after `start` (less a millisecond of score
        // rounding, and some slack between Redis' clock and ours).
        assert!(took >= 110 * MS, "received {took:?} after the send");
        assert!(rsmq.delete_message("q", &id).await.unwrap());
        took
    })
    .await;
}

async fn long_poll_wakes_on_a_realtime_send<C: Client>(rsmq: C, ns: String) {
    rsmq.create_queue("q", None, None, None).await.unwrap();
    let producer = common::another_client(&ns, true).await;
    // The first wait starts the subscriber; the sends below come once it listens.
    rsmq.receive_message_wait::<String>("q", None, MS)
        .await
        .unwrap();
    common::subscribed(&common::subscriber_url(), &ns).await;
    // The send comes 100 ms into the wait. Were the notification lost, the fallback poll
    // would find the message no sooner than FALLBACK_POLL after `start`.
    common::under(FALLBACK_POLL, "woken by the realtime send", async || {
        let producer = producer.clone();
        let start = Instant::now();
        let sender = tokio::spawn(async move {
            tokio::time::sleep(100 * MS).await;
            producer.send_message("q", "now", None).await.unwrap()
        });
        let m = rsmq
            .receive_message_wait::<String>("q", None, Duration::from_secs(10))
            .await
            .unwrap()
            .unwrap();
        let took = start.elapsed();
        let id = sender.await.unwrap();
        assert_eq!((m.id.as_str(), m.message.as_str()), (id.as_str(), "now"));
        assert!(rsmq.delete_message("q", &id).await.unwrap());
        took
    })
    .await;
}

/// How long the steps of a purge (and the delete of a queue) block Redis on a queue of
/// 1,000,000 messages, each received once (about 3,000,000 hash fields): each script call's
/// time as the server's own SLOWLOG reports it (wall time, so a busy machine inflates it),
/// and the CPU time the server spent in all. Not a timed test: it prints the numbers. It
/// takes minutes, so it runs only when asked (`PURGE_MESSAGES` sets another count):
/// `cargo test --release --test beyond -- --ignored --nocapture longest_purge_step`
#[tokio::test]
#[ignore]
async fn longest_purge_step() {
    use redis::aio::MultiplexedConnection;

    let n: usize = std::env::var("PURGE_MESSAGES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let server = common::start_server(&["--slowlog-max-len", "1000000"]).unwrap();
    let rsmq = rsmq_async::Rsmq::new(RsmqOptions {
        host: server.host.clone(),
        port: server.port,
        ns: common::namespace("purgesteps"),
        // Long enough for a purge in one step, to compare.
        response_timeout: Duration::from_secs(300),
        ..Default::default()
    })
    .await
    .unwrap();
    let long =
        redis::AsyncConnectionConfig::new().set_response_timeout(Some(Duration::from_secs(300)));
    let mut con = redis::Client::open(server.url())
        .unwrap()
        .get_multiplexed_async_connection_with_config(&long)
        .await
        .unwrap();
    async fn fill(rsmq: &rsmq_async::Rsmq, n: usize) {
        rsmq.create_queue("q", None, None, Some(-1)).await.unwrap();
        let batch = vec!["a message body of some forty-two bytes...."; MAX_BATCH];
        for _ in 0..n.div_ceil(MAX_BATCH) {
            rsmq.send_message_batch("q", batch.clone(), None)
                .await
                .unwrap();
        }
        for _ in 0..n.div_ceil(MAX_BATCH) {
            rsmq.receive_message_batch::<String>(
                "q",
                Some(Duration::from_secs(3600)),
                MAX_BATCH as u32,
            )
            .await
            .unwrap();
        }
    }
    /// Starts logging every command, from an empty log; returns the server's CPU seconds.
    async fn start(con: &mut MultiplexedConnection) -> f64 {
        let _: () = redis::cmd("CONFIG")
            .arg("SET")
            .arg("slowlog-log-slower-than")
            .arg(0)
            .query_async(con)
            .await
            .unwrap();
        let _: () = redis::cmd("SLOWLOG")
            .arg("RESET")
            .query_async(con)
            .await
            .unwrap();
        cpu(con).await
    }
    async fn cpu(con: &mut MultiplexedConnection) -> f64 {
        let info: String = redis::cmd("INFO")
            .arg("cpu")
            .query_async(con)
            .await
            .unwrap();
        info.lines()
            .filter(|l| l.starts_with("used_cpu_user:") || l.starts_with("used_cpu_sys:"))
            .filter_map(|l| l.split(':').nth(1)?.trim().parse::<f64>().ok())
            .sum()
    }
    /// Stops logging; returns the script calls' times in µs, sorted.
    async fn script_times(con: &mut MultiplexedConnection) -> Vec<u64> {
        let _: () = redis::cmd("CONFIG")
            .arg("SET")
            .arg("slowlog-log-slower-than")
            .arg(-1)
            .query_async(con)
            .await
            .unwrap();
        let log: Vec<redis::Value> = redis::cmd("SLOWLOG")
            .arg("GET")
            .arg(-1)
            .query_async(con)
            .await
            .unwrap();
        let mut times = Vec::new();
        for entry in log {
            let redis::Value::Array(fields) = entry else {
                continue;
            };
            let (Some(redis::Value::Int(micros)), Some(redis::Value::Array(args))) =
                (fields.get(2), fields.get(3))
            else {
                continue;
            };
            if let Some(redis::Value::BulkString(cmd)) = args.first() {
                if cmd.eq_ignore_ascii_case(b"evalsha") || cmd.eq_ignore_ascii_case(b"eval") {
                    times.push(*micros as u64);
                }
            }
        }
        // The log is newest first.
        times.reverse();
        let mut longest: Vec<(u64, usize)> = times.iter().copied().zip(1..).collect();
        longest.sort_unstable_by(|a, b| b.cmp(a));
        longest.truncate(3);
        println!("longest script calls (µs, call number): {longest:?}");
        times.sort_unstable();
        times
    }

    fill(&rsmq, n).await;
    let cpu_before = start(&mut con).await;
    let started = Instant::now();
    let purged = rsmq.purge_queue("q").await.unwrap();
    let took = started.elapsed();
    let cpu_used = cpu(&mut con).await - cpu_before;
    let times = script_times(&mut con).await;
    assert_eq!(purged, n as u64);
    let at = |q: f64| times[((times.len() - 1) as f64 * q) as usize];
    println!(
        "purge_queue of {n} messages: {} steps; per step {} µs median, {} µs p99, {} µs \
         longest; {:.0} µs of server CPU per step; {took:?} in all",
        times.len(),
        at(0.5),
        at(0.99),
        at(1.0),
        cpu_used * 1e6 / times.len() as f64,
    );

    rsmq.delete_queue("q").await.unwrap();
    fill(&rsmq, n).await;
    start(&mut con).await;
    rsmq.delete_queue("q").await.unwrap();
    let times = script_times(&mut con).await;
    println!("delete_queue of {n} messages: {:?} µs", times.last());
}
