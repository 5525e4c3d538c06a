//! Faults on purpose: Redis restarts, crashes, script flushes, dying consumers. Each test
//! has a `redis-server` of its own.

mod common;

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::OwnedServer;
use rsmq_async::{Rsmq, RsmqConnection, RsmqError, RsmqOptions};

#[tokio::test]
async fn calls_fail_fast_while_redis_is_down_and_succeed_after_it_is_back() {
    let mut server = OwnedServer::start(&[]);
    let opts = RsmqOptions {
        connection_timeout: Duration::from_secs(1),
        ..server.options("down")
    };
    let rsmq = Rsmq::new(opts).await.unwrap();
    rsmq.create_queue("q", None, None, None).await.unwrap();
    rsmq.send_message("q", "before", None).await.unwrap();
    server.kill();
    for _ in 0..3 {
        let start = Instant::now();
        let err = rsmq
            .send_message("q", "while down", None)
            .await
            .unwrap_err();
        assert!(matches!(err, RsmqError::RedisError(_)), "{err:?}");
        assert!(
            start.elapsed() < Duration::from_secs(3),
            "took {:?}",
            start.elapsed()
        );
    }
    server.restart();
    // The queue was lost with the server (no persistence): recreate, then use as before.
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        match rsmq.create_queue("q", None, None, None).await {
            Ok(()) => break,
            Err(e) if Instant::now() < deadline => {
                let _ = e;
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(e) => panic!("no recovery after restart: {e:?}"),
        }
    }
    rsmq.send_message("q", "after", None).await.unwrap();
    assert_eq!(
        rsmq.receive_message::<String>("q", None)
            .await
            .unwrap()
            .unwrap()
            .message,
        "after"
    );
}

#[tokio::test]
async fn an_unreachable_redis_is_a_clear_error_within_the_connect_timeout() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let opts = RsmqOptions {
        host: "127.0.0.1".into(),
        port,
        ..Default::default()
    };
    let start = Instant::now();
    let err = Rsmq::new(opts).await.unwrap_err();
    assert!(start.elapsed() < Duration::from_secs(5));
    assert!(matches!(err, RsmqError::CannotConnect { .. }), "{err:?}");
    assert!(err.to_string().to_lowercase().contains("refused"), "{err}");
    // A server that never answers: bounded by the connection timeout. (A listener that
    // accepts at the TCP level but never reads: loopback only, no traffic leaves the machine.)
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let opts = RsmqOptions {
        host: "127.0.0.1".into(),
        port: silent.local_addr().unwrap().port(),
        connection_timeout: Duration::from_millis(300),
        ..Default::default()
    };
    let start = Instant::now();
    assert!(Rsmq::new(opts).await.is_err());
    assert!(
        start.elapsed() < Duration::from_secs(3),
        "took {:?}",
        start.elapsed()
    );
}

/// AOF on, fsynced before every reply: what a send acknowledged survives a SIGKILL.
const DURABLE: &[&str] = &["--appendonly", "yes", "--appendfsync", "always"];

/// Options for a fault test: short timeouts, so calls fail fast while Redis is down.
fn fault_options(server: &OwnedServer, test: &str) -> RsmqOptions {
    RsmqOptions {
        connection_timeout: Duration::from_secs(1),
        response_timeout: Duration::from_secs(2),
        ..server.options(test)
    }
}

/// Retries `op` until it succeeds or `within` has passed (then panics with the last error).
async fn eventually<T, F, Fut>(within: Duration, what: &str, mut op: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, RsmqError>>,
{
    let deadline = Instant::now() + within;
    loop {
        match op().await {
            Ok(v) => return v,
            Err(e) if Instant::now() < deadline => {
                let _ = e;
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            Err(e) => panic!("{what}: still failing after {within:?}: {e:?}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_and_restart_mid_run_loses_no_acknowledged_message() {
    let started = Instant::now();
    let mut server = OwnedServer::start(DURABLE);
    let opts = fault_options(&server, "restart");
    let producer = Rsmq::new(opts.clone()).await.unwrap();
    let consumer = Rsmq::new(opts).await.unwrap();
    producer.create_queue("q", None, None, None).await.unwrap();

    const TARGET: usize = 400;
    let sent = Arc::new(Mutex::new(HashSet::new()));
    let received = Arc::new(Mutex::new(HashSet::new()));
    let deliveries = Arc::new(AtomicUsize::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let send_errors = Arc::new(AtomicUsize::new(0));
    let crashed = Arc::new(AtomicBool::new(false));

    let producing = {
        let (sent, send_errors, crashed) = (sent.clone(), send_errors.clone(), crashed.clone());
        tokio::spawn(async move {
            let deadline = Instant::now() + Duration::from_secs(15);
            let mut i = 0u64;
            // Not done before the crash, however fast the sends.
            while (sent.lock().unwrap().len() < TARGET || !crashed.load(Ordering::Relaxed))
                && Instant::now() < deadline
            {
                match producer.send_message("q", format!("m{i}"), None).await {
                    Ok(id) => {
                        sent.lock().unwrap().insert(id);
                    }
                    Err(_) => {
                        send_errors.fetch_add(1, Ordering::Relaxed);
                        tokio::time::sleep(Duration::from_millis(20)).await;
                    }
                }
                i += 1;
            }
        })
    };
    let consuming = {
        let (received, deliveries, stop) = (received.clone(), deliveries.clone(), stop.clone());
        tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                let vt = Some(Duration::from_millis(500));
                match consumer.receive_message::<String>("q", vt).await {
                    Ok(Some(msg)) => {
                        assert!(msg.message.starts_with('m'), "{msg:?}");
                        deliveries.fetch_add(1, Ordering::Relaxed);
                        received.lock().unwrap().insert(msg.id.clone());
                        // May fail while Redis is down: the message then comes back after vt.
                        let _ = consumer.delete_message("q", &msg.id).await;
                    }
                    Ok(None) => tokio::time::sleep(Duration::from_millis(5)).await,
                    Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
                }
            }
            consumer
        })
    };

    // Crash in the middle of the run.
    let deadline = Instant::now() + Duration::from_secs(10);
    while sent.lock().unwrap().len() < TARGET / 3 {
        assert!(Instant::now() < deadline, "the producer made no progress");
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let before_kill = sent.lock().unwrap().len();
    tokio::task::block_in_place(|| server.kill());
    crashed.store(true, Ordering::Relaxed);
    // Down until the producer has run into the crash.
    let deadline = Instant::now() + Duration::from_secs(10);
    while send_errors.load(Ordering::Relaxed) == 0 {
        assert!(Instant::now() < deadline, "the crash went unnoticed");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    tokio::task::block_in_place(|| server.restart());

    producing.await.unwrap();
    let sent = sent.lock().unwrap().clone();
    assert!(sent.len() >= TARGET, "the producer did not recover");

    // Drain: every acknowledged send is received, and the queue ends empty (no message that
    // was received but not deleted is left behind).
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let missing = sent.difference(&received.lock().unwrap()).count();
        if missing == 0 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{missing} of {} acknowledged messages were never received after the restart",
            sent.len()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    stop.store(true, Ordering::Relaxed);
    let consumer = consuming.await.unwrap();
    let left = eventually(Duration::from_secs(5), "attributes", || {
        consumer.get_queue_attributes("q")
    })
    .await;
    // Messages whose delete was lost are hidden for 500 ms, then receivable: drain them.
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut msgs = left.msgs;
    while msgs > 0 {
        assert!(
            Instant::now() < deadline,
            "{msgs} messages stuck in the queue"
        );
        if let Some(m) = consumer
            .receive_message::<String>("q", Some(Duration::from_millis(500)))
            .await
            .unwrap()
        {
            deliveries.fetch_add(1, Ordering::Relaxed);
            assert!(consumer.delete_message("q", &m.id).await.unwrap());
        } else {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        msgs = consumer.get_queue_attributes("q").await.unwrap().msgs;
    }
    eprintln!(
        "restart mid-run: {before_kill} sent before the kill, {} acknowledged, {} failed \
         sends, {} deliveries ({} distinct), {:?}",
        sent.len(),
        send_errors.load(Ordering::Relaxed),
        deliveries.load(Ordering::Relaxed),
        received.lock().unwrap().len(),
        started.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn script_flushes_mid_run_fail_no_operation() {
    let started = Instant::now();
    let server = OwnedServer::start(&[]);
    let opts = fault_options(&server, "flush");
    let shared = Rsmq::new(opts.clone()).await.unwrap();
    let own = Rsmq::new(opts).await.unwrap();
    for q in ["q0", "q1", "q2", "q3"] {
        shared.create_queue(q, None, None, None).await.unwrap();
    }
    let stop = Arc::new(AtomicBool::new(false));

    let flusher = {
        let stop = stop.clone();
        let url = server.url();
        tokio::spawn(async move {
            let mut con = redis::Client::open(url)
                .unwrap()
                .get_multiplexed_async_connection()
                .await
                .unwrap();
            let mut flushes = 0u32;
            while !stop.load(Ordering::Relaxed) {
                redis::cmd("SCRIPT")
                    .arg("FLUSH")
                    .query_async::<()>(&mut con)
                    .await
                    .unwrap();
                flushes += 1;
                tokio::time::sleep(Duration::from_millis(fastrand::u64(5..=20))).await;
            }
            flushes
        })
    };

    let mut workers = Vec::new();
    for (n, q) in ["q0", "q1", "q2", "q3"].into_iter().enumerate() {
        // Two clients (two connections), each shared by two tasks.
        let rsmq = if n % 2 == 0 {
            shared.clone()
        } else {
            own.clone()
        };
        let stop = stop.clone();
        workers.push(tokio::spawn(async move {
            let mut failures: Vec<String> = Vec::new();
            let mut ops = 0u32;
            let hide = Duration::from_secs(60);
            let vt = Some(hide);
            while !stop.load(Ordering::Relaxed) {
                ops += 9;
                if let Err(e) = rsmq.send_message(q, "one", None).await {
                    failures.push(format!("{q} send_message: {e:?}"));
                }
                if let Err(e) = rsmq
                    .send_message_batch(q, vec!["a", "b", "c", "d"], None)
                    .await
                {
                    failures.push(format!("{q} send_message_batch: {e:?}"));
                }
                match rsmq.receive_message::<String>(q, vt).await {
                    Ok(Some(m)) => match rsmq.delete_message(q, &m.id).await {
                        Ok(true) => {}
                        Ok(false) => failures.push(format!("{q}: received {} vanished", m.id)),
                        Err(e) => failures.push(format!("{q} delete_message: {e:?}")),
                    },
                    Ok(None) => failures.push(format!("{q}: nothing to receive")),
                    Err(e) => failures.push(format!("{q} receive_message: {e:?}")),
                }
                if let Err(e) = rsmq.pop_message::<String>(q).await {
                    failures.push(format!("{q} pop_message: {e:?}"));
                }
                if let Err(e) = rsmq.get_queue_attributes(q).await {
                    failures.push(format!("{q} get_queue_attributes: {e:?}"));
                }
                match rsmq.receive_message_batch::<String>(q, vt, 2).await {
                    Ok(batch) => {
                        let ids: Vec<&str> = batch.iter().map(|m| m.id.as_str()).collect();
                        if let Err(e) = rsmq.change_message_visibility_batch(q, &ids, hide).await {
                            failures.push(format!("{q} change_message_visibility_batch: {e:?}"));
                        }
                        if let Err(e) = rsmq.delete_message_batch(q, &ids).await {
                            failures.push(format!("{q} delete_message_batch: {e:?}"));
                        }
                    }
                    Err(e) => failures.push(format!("{q} receive_message_batch: {e:?}")),
                }
                if let Err(e) = rsmq.peek_messages::<String>(q, 5).await {
                    failures.push(format!("{q} peek_messages: {e:?}"));
                }
            }
            (ops, failures)
        }));
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    stop.store(true, Ordering::Relaxed);
    let flushes = flusher.await.unwrap();
    let mut ops = 0;
    let mut failures = Vec::new();
    for w in workers {
        let (n, f) = w.await.unwrap();
        ops += n;
        failures.extend(f);
    }
    eprintln!(
        "script flushes: {flushes} flushes, {ops} operations, {} failed, {:?}",
        failures.len(),
        started.elapsed()
    );
    assert!(flushes > 20, "only {flushes} flushes");
    assert!(
        failures.is_empty(),
        "{} of {ops} operations failed, e.g. {:?}",
        failures.len(),
        &failures[..failures.len().min(5)]
    );
}

#[tokio::test]
async fn a_consumer_that_dies_before_deleting_gets_its_message_redelivered() {
    let server = OwnedServer::start(&[]);
    let opts = fault_options(&server, "dies");
    let rsmq = Rsmq::new(opts.clone()).await.unwrap();
    rsmq.create_queue("q", None, None, None).await.unwrap();
    let id = rsmq.send_message("q", "work", None).await.unwrap();

    let doomed = Rsmq::new(opts).await.unwrap();
    let vt = Duration::from_millis(300);
    let received_at = Instant::now(); // before the receive: its vt starts later
    let first = doomed
        .receive_message::<String>("q", Some(vt))
        .await
        .unwrap()
        .unwrap();
    drop(doomed); // dies without deleting
    assert_eq!(
        (first.id.as_str(), first.message.as_str(), first.rc),
        (id.as_str(), "work", 1)
    );
    assert!(rsmq
        .receive_message::<String>("q", None)
        .await
        .unwrap()
        .is_none());

    let again = rsmq
        .receive_message_wait::<String>("q", Some(vt), Duration::from_secs(3))
        .await
        .unwrap()
        .expect("the message came back");
    let after = received_at.elapsed();
    // (Less a millisecond of score rounding, and some slack between Redis' clock and ours.)
    assert!(
        after >= vt - Duration::from_millis(10),
        "back after {after:?}"
    );
    assert!(after < Duration::from_secs(2), "back after {after:?}");
    assert_eq!(again.id, first.id);
    assert_eq!(again.message, "work");
    assert_eq!(again.rc, 2);
    assert_eq!(again.fr, first.fr);
    assert_eq!(again.sent, first.sent);
    assert!(rsmq.delete_message("q", &again.id).await.unwrap());
}

/// Sends `n` messages `"{i}"` in batches of 1000; returns their ids.
async fn fill(rsmq: &Rsmq, q: &str, n: usize) -> HashSet<String> {
    let mut ids = HashSet::new();
    for start in (0..n).step_by(1000) {
        let bodies: Vec<String> = (start..(start + 1000).min(n))
            .map(|i| i.to_string())
            .collect();
        ids.extend(rsmq.send_message_batch(q, bodies, None).await.unwrap());
    }
    assert_eq!(ids.len(), n);
    ids
}

/// Runs 8 consumers, each with a client of its own, until each finds the queue empty;
/// asserts that together they got every id of `expected` exactly once.
async fn consume_exactly_once<F, Fut>(opts: &RsmqOptions, expected: &HashSet<String>, take: F)
where
    F: Fn(Rsmq) -> Fut,
    Fut: std::future::Future<Output = Vec<String>> + Send + 'static,
{
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let rsmq = Rsmq::new(opts.clone()).await.unwrap();
        tasks.push(tokio::spawn(take(rsmq)));
    }
    let mut seen = HashSet::new();
    let mut per_consumer = Vec::new();
    for t in tasks {
        let ids = t.await.unwrap();
        per_consumer.push(ids.len());
        for id in ids {
            assert!(seen.insert(id.clone()), "{id} delivered twice");
        }
    }
    assert_eq!(seen.len(), expected.len(), "per consumer: {per_consumer:?}");
    assert!(seen == *expected, "delivered ids differ from the sent ids");
    assert!(
        per_consumer.iter().filter(|&&n| n > 0).count() >= 2,
        "no concurrency: {per_consumer:?}"
    );
}

const MANY: usize = 20_000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eight_receivers_get_each_of_20k_messages_exactly_once() {
    let started = Instant::now();
    let server = OwnedServer::start(&[]);
    let opts = fault_options(&server, "receive8");
    let rsmq = Rsmq::new(opts.clone()).await.unwrap();
    rsmq.create_queue("q", None, None, None).await.unwrap();
    let t = Instant::now();
    let ids = fill(&rsmq, "q", MANY).await;
    let filled = t.elapsed();
    let t = Instant::now();
    consume_exactly_once(&opts, &ids, |c| async move {
        let mut got = Vec::new();
        let vt = Some(Duration::from_secs(600));
        while let Some(m) = c.receive_message::<String>("q", vt).await.unwrap() {
            assert_eq!(m.rc, 1);
            got.push(m.id);
        }
        got
    })
    .await;
    eprintln!(
        "8 receivers, {MANY} messages: sent in {filled:?}, received in {:?}, test {:?}",
        t.elapsed(),
        started.elapsed()
    );
    let attrs = rsmq.get_queue_attributes("q").await.unwrap();
    assert_eq!((attrs.msgs, attrs.hiddenmsgs), (MANY as u64, MANY as u64));
    assert_eq!(attrs.totalrecv, MANY as u64);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eight_poppers_get_each_of_20k_messages_exactly_once() {
    let started = Instant::now();
    let server = OwnedServer::start(&[]);
    let opts = fault_options(&server, "pop8");
    let rsmq = Rsmq::new(opts.clone()).await.unwrap();
    rsmq.create_queue("q", None, None, None).await.unwrap();
    let ids = fill(&rsmq, "q", MANY).await;
    let t = Instant::now();
    consume_exactly_once(&opts, &ids, |c| async move {
        let mut got = Vec::new();
        while let Some(m) = c.pop_message::<String>("q").await.unwrap() {
            assert_eq!(m.rc, 1);
            got.push(m.id);
        }
        got
    })
    .await;
    eprintln!(
        "8 poppers, {MANY} messages: popped in {:?}, test {:?}",
        t.elapsed(),
        started.elapsed()
    );
    let attrs = rsmq.get_queue_attributes("q").await.unwrap();
    assert_eq!((attrs.msgs, attrs.totalrecv), (0, MANY as u64));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eight_batch_receivers_get_each_of_20k_messages_exactly_once() {
    let started = Instant::now();
    let server = OwnedServer::start(&[]);
    let opts = fault_options(&server, "batch8");
    let rsmq = Rsmq::new(opts.clone()).await.unwrap();
    rsmq.create_queue("q", None, None, None).await.unwrap();
    let ids = fill(&rsmq, "q", MANY).await;
    let t = Instant::now();
    consume_exactly_once(&opts, &ids, |c| async move {
        let mut got = Vec::new();
        let vt = Some(Duration::from_secs(600));
        loop {
            let batch = c
                .receive_message_batch::<String>("q", vt, 50)
                .await
                .unwrap();
            if batch.is_empty() {
                break got;
            }
            assert!(batch.iter().all(|m| m.rc == 1));
            got.extend(batch.into_iter().map(|m| m.id));
        }
    })
    .await;
    eprintln!(
        "8 batch receivers (50 a call), {MANY} messages: received in {:?}, test {:?}",
        t.elapsed(),
        started.elapsed()
    );
    let attrs = rsmq.get_queue_attributes("q").await.unwrap();
    assert_eq!(
        (attrs.hiddenmsgs, attrs.totalrecv),
        (MANY as u64, MANY as u64)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_mid_batch_keeps_each_batch_whole_or_not_at_all() {
    let started = Instant::now();
    let mut server = OwnedServer::start(DURABLE);
    let opts = fault_options(&server, "batchcrash");
    let rsmq = Rsmq::new(opts.clone()).await.unwrap();
    rsmq.create_queue("q", None, None, None).await.unwrap();

    const SIZE: usize = 100;
    let next = Arc::new(AtomicU64::new(0));
    let acked = Arc::new(Mutex::new(HashSet::new()));
    let failed = Arc::new(Mutex::new(HashSet::new()));
    let mut producers = Vec::new();
    for _ in 0..2 {
        let producer = Rsmq::new(opts.clone()).await.unwrap();
        let (next, acked, failed) = (next.clone(), acked.clone(), failed.clone());
        producers.push(tokio::spawn(async move {
            loop {
                let k = next.fetch_add(1, Ordering::Relaxed);
                let bodies: Vec<String> = (0..SIZE).map(|i| format!("b{k}:{i}")).collect();
                match producer.send_message_batch("q", bodies, None).await {
                    Ok(ids) => {
                        assert_eq!(ids.len(), SIZE);
                        acked.lock().unwrap().insert(k);
                    }
                    Err(_) => {
                        // In flight at the kill (or sent just after it): outcome unknown.
                        failed.lock().unwrap().insert(k);
                        return;
                    }
                }
            }
        }));
    }
    // Kill at a random point, once a batch was acknowledged.
    let deadline = Instant::now() + Duration::from_secs(10);
    while acked.lock().unwrap().is_empty() {
        assert!(Instant::now() < deadline, "no batch was acknowledged");
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let wait = Duration::from_millis(fastrand::u64(0..300));
    tokio::time::sleep(wait).await;
    tokio::task::block_in_place(|| server.kill());
    for p in producers {
        p.await.unwrap();
    }
    tokio::task::block_in_place(|| server.restart());

    // Read everything back.
    let mut batches: HashMap<u64, HashSet<usize>> = HashMap::new();
    let mut total = 0u64;
    let vt = Some(Duration::from_secs(600));
    loop {
        let got = eventually(Duration::from_secs(5), "receive after restart", || {
            rsmq.receive_message_batch::<String>("q", vt, 1000)
        })
        .await;
        if got.is_empty() {
            break;
        }
        for m in got {
            total += 1;
            let (k, i) = m.message[1..].split_once(':').expect("a batch tag");
            let (k, i): (u64, usize) = (k.parse().unwrap(), i.parse().unwrap());
            assert!(
                batches.entry(k).or_default().insert(i),
                "{} twice",
                m.message
            );
        }
    }
    let acked = acked.lock().unwrap().clone();
    let failed = failed.lock().unwrap().clone();
    assert!(
        !acked.is_empty(),
        "no batch was acknowledged before the kill ({wait:?})"
    );
    for (k, items) in &batches {
        assert_eq!(
            items.len(),
            SIZE,
            "batch {k} is partial: {} of {SIZE}",
            items.len()
        );
        assert!(
            acked.contains(k) || failed.contains(k),
            "batch {k} was never sent"
        );
    }
    for k in &acked {
        assert!(batches.contains_key(k), "acknowledged batch {k} was lost");
    }
    let attrs = rsmq.get_queue_attributes("q").await.unwrap();
    assert_eq!(
        attrs.totalsent, total,
        "totalsent disagrees with the messages present"
    );
    assert_eq!(total, (batches.len() * SIZE) as u64);
    let unknown_kept = failed.iter().filter(|k| batches.contains_key(k)).count();
    eprintln!(
        "crash mid-batch after {wait:?}: {} batches acknowledged, {} in flight ({unknown_kept} \
         of them kept whole), {:?}",
        acked.len(),
        failed.len(),
        started.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_response_timeout_bounds_a_call_to_a_stalled_server() {
    let server = OwnedServer::start(&[]);
    let opts = RsmqOptions {
        response_timeout: Duration::from_millis(300),
        ..server.options("stall")
    };
    let rsmq = Rsmq::new(opts).await.unwrap();
    rsmq.create_queue("q", None, None, None).await.unwrap();
    let mut admin = redis::Client::open(server.url())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    // Redis holds every script (a write, as far as it knows) until we unpause.
    redis::cmd("CLIENT")
        .arg("PAUSE")
        .arg(60_000)
        .arg("WRITE")
        .query_async::<()>(&mut admin)
        .await
        .unwrap();
    let start = Instant::now();
    let err = rsmq.get_queue_attributes("q").await.unwrap_err();
    let took = start.elapsed();
    assert!(matches!(err, RsmqError::RedisError(_)), "{err:?}");
    // Bounded by the timeout, far below the pause.
    assert!(took < Duration::from_secs(5), "took {took:?}");
    assert!(took >= Duration::from_millis(250), "took {took:?}");
    redis::cmd("CLIENT")
        .arg("UNPAUSE")
        .query_async::<()>(&mut admin)
        .await
        .unwrap();
    let attrs = rsmq.get_queue_attributes("q").await.unwrap();
    assert_eq!(attrs.msgs, 0);
    rsmq.send_message("q", "after", None).await.unwrap();
    assert_eq!(
        rsmq.receive_message::<String>("q", None)
            .await
            .unwrap()
            .unwrap()
            .message,
        "after"
    );
}
