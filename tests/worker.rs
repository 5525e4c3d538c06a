//! The worker runtime: routes, concurrency, retries, dead letters, timeouts, panics,
//! heartbeats, shutdown, and a Redis restart under a running worker. Real Redis throughout.
#![cfg(feature = "worker")]

mod capture;
mod common;

use std::collections::{HashMap, HashSet};
use std::convert::Infallible;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::OwnedServer;
use rsmq_async::{
    Backoff, Permanent, RouteOptions, Rsmq, RsmqConnection as _, RsmqError, RsmqMessage,
    RsmqOptions, Worker, WorkerHandle,
};
use tokio::task::JoinHandle;

/// Generous: the machine running the tests may be slow and busy.
const PATIENCE: Duration = Duration::from_secs(15);

#[derive(Debug)]
struct HandlerErr;

impl std::fmt::Display for HandlerErr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "boom")
    }
}

impl std::error::Error for HandlerErr {}

/// Waits until `cond` holds, failing the test after [`PATIENCE`].
async fn eventually(what: &str, mut cond: impl AsyncFnMut() -> bool) {
    let deadline = Instant::now() + PATIENCE;
    while !cond().await {
        assert!(Instant::now() < deadline, "timed out waiting for: {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn start(worker: Worker) -> (WorkerHandle, JoinHandle<rsmq_async::RsmqResult<()>>) {
    (worker.handle(), tokio::spawn(worker.run()))
}

async fn stop(handle: WorkerHandle, task: JoinHandle<rsmq_async::RsmqResult<()>>) {
    handle.shutdown();
    task.await.expect("worker task").expect("worker result");
}

async fn msgs(rsmq: &Rsmq, q: &str) -> u64 {
    rsmq.get_queue_attributes(q).await.unwrap().msgs
}

// ---------------------------------------------------------------------------------------
// Code written as rsmq_async 18's README and tests write it
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn v18_builder_code_compiles_and_runs_unchanged() {
    let opts = common::options("v18");
    let rsmq = Rsmq::new(opts.clone()).await.unwrap();
    rsmq.create_queue("emails", None, None, None).await.unwrap();
    rsmq.create_queue("billing", None, None, None)
        .await
        .unwrap();
    rsmq.create_queue("dead", None, None, None).await.unwrap();
    rsmq.send_message("emails", "subject".to_string(), None)
        .await
        .unwrap();
    rsmq.send_message("billing", vec![1u8, 2, 3], None)
        .await
        .unwrap();

    let emails = Arc::new(AtomicUsize::new(0));
    let e = emails.clone();
    let worker = Worker::builder(opts.clone())
        .poll_interval(Duration::from_millis(50))
        .heartbeat_interval(Duration::from_secs(10))
        .visibility_extension(Duration::from_secs(30))
        .use_realtime(false)
        .dlq("dead", 0)
        .dlq_for("billing", "dead", 0)
        .route("emails", move |msg: RsmqMessage<String>| {
            let e = e.clone();
            async move {
                assert_eq!(msg.message, "subject");
                e.fetch_add(1, Ordering::SeqCst);
                Ok::<(), Infallible>(())
            }
        })
        .route("billing", |_msg: RsmqMessage<Vec<u8>>| async {
            Err::<(), HandlerErr>(HandlerErr)
        })
        .build()
        .await
        .unwrap();
    let r = rsmq.clone();
    worker
        .run_until(async move {
            while msgs(&r, "emails").await != 0 || msgs(&r, "dead").await != 1 {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
        .await
        .unwrap();
    assert_eq!(emails.load(Ordering::SeqCst), 1);
    assert_eq!(msgs(&rsmq, "billing").await, 0);

    // Build errors as in 18: no routes, a route whose DLQ is itself.
    let none = Worker::builder(opts.clone()).build().await;
    assert!(matches!(none, Err(RsmqError::NoAttributeSupplied)));
    let self_loop = Worker::builder(opts)
        .dlq("emails", 0)
        .route("emails", |_msg: RsmqMessage<String>| async {
            Ok::<(), Infallible>(())
        })
        .build()
        .await;
    assert!(matches!(self_loop, Err(RsmqError::InvalidFormat(_))));
}

/// rsmq_async 18's README, as written there (compiled, not run: it wants Redis on 6379).
#[allow(dead_code)]
async fn v18_readme_compiles(
    shutdown_signal: tokio::sync::oneshot::Receiver<()>,
) -> Result<(), Box<dyn std::error::Error>> {
    async fn send_email(_: &str) -> Result<(), Infallible> {
        Ok(())
    }
    async fn charge_card(_: &[u8]) -> Result<(), Infallible> {
        Ok(())
    }
    async fn handler_emails(_msg: RsmqMessage<String>) -> Result<(), HandlerErr> {
        Ok(())
    }
    async fn handler_billing(_msg: RsmqMessage<Vec<u8>>) -> Result<(), HandlerErr> {
        Err(HandlerErr)
    }
    let worker = Worker::builder(RsmqOptions::default())
        .route("emails", |msg: RsmqMessage<String>| async move {
            send_email(&msg.message).await?;
            Ok::<(), Infallible>(())
        })
        .route("billing", |msg: RsmqMessage<Vec<u8>>| async move {
            charge_card(&msg.message).await?;
            Ok::<(), Infallible>(())
        })
        .heartbeat_interval(Duration::from_secs(10))
        .visibility_extension(Duration::from_secs(60))
        .use_realtime(true)
        .build()
        .await?;
    let shutdown_signal = async move {
        let _ = shutdown_signal.await;
    };
    worker.run_until(shutdown_signal).await?; // graceful

    let worker = Worker::builder(RsmqOptions::default())
        .dlq("jobs_dead", 3) // global DLQ after 3 failures
        .dlq_for("billing", "billing_dead", 0) // override: DLQ on first failure
        .route("emails", handler_emails)
        .route("billing", handler_billing)
        .build()
        .await?;
    worker.run().await?; // forever
    Ok(())
}

#[tokio::test]
async fn build_checks_queues_and_settings() {
    let opts = common::options("build");
    let rsmq2 = Rsmq::new(opts.clone()).await.unwrap();
    rsmq2.create_queue("q", None, None, None).await.unwrap();
    let ok = |_m: RsmqMessage<String>| async { Ok::<(), Infallible>(()) };
    let missing = Worker::builder(opts.clone())
        .route("nope", ok)
        .build()
        .await;
    assert!(
        matches!(missing, Err(RsmqError::QueueNotFound)),
        "{missing:?}"
    );
    let missing_dlq = Worker::builder(opts.clone())
        .dlq("nope", 1)
        .route("q", ok)
        .build()
        .await;
    assert!(
        matches!(missing_dlq, Err(RsmqError::QueueNotFound)),
        "{missing_dlq:?}"
    );
    let same = Worker::builder_with_client(rsmq2.clone())
        .dlq_for("q", "q", 1)
        .route("q", ok)
        .build()
        .await;
    assert!(matches!(same, Err(RsmqError::InvalidFormat(_))), "{same:?}");
    let zero = Worker::builder(opts)
        .concurrency(0)
        .route("q", ok)
        .build()
        .await;
    assert!(
        matches!(zero, Err(RsmqError::InvalidOptions(_))),
        "{zero:?}"
    );
    let beat = Worker::builder(common::options("build"))
        .heartbeat_interval(Duration::ZERO)
        .route("q", ok)
        .build()
        .await;
    assert!(
        matches!(beat, Err(RsmqError::InvalidOptions(_))),
        "{beat:?}"
    );
}

// ---------------------------------------------------------------------------------------
// Throughput and fairness
// ---------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_message_is_handled_exactly_once_across_concurrency() {
    const N: usize = 600;
    let (rsmq, _) = common::rsmq("once").await;
    rsmq.create_queue("q", None, None, None).await.unwrap();
    let mut sent = HashSet::new();
    for chunk in 0..(N / 100) {
        let bodies: Vec<String> = (0..100).map(|i| format!("m{}", chunk * 100 + i)).collect();
        sent.extend(rsmq.send_message_batch("q", bodies, None).await.unwrap());
    }
    let seen: Arc<Mutex<HashMap<String, usize>>> = Arc::default();
    let s = seen.clone();
    let worker = Worker::builder_with_client(rsmq.clone())
        .concurrency(8)
        .poll_interval(Duration::from_millis(20))
        .route("q", move |msg: RsmqMessage<String>| {
            let s = s.clone();
            async move {
                tokio::task::yield_now().await;
                *s.lock().unwrap().entry(msg.id).or_default() += 1;
                Ok::<(), Infallible>(())
            }
        })
        .build()
        .await
        .unwrap();
    let (handle, task) = start(worker);
    eventually("all handled and deleted", async || {
        seen.lock().unwrap().len() == N && msgs(&rsmq, "q").await == 0
    })
    .await;
    stop(handle, task).await;
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.keys().cloned().collect::<HashSet<_>>(), sent);
    assert!(
        seen.values().all(|&n| n == 1),
        "a message was handled twice"
    );
    assert_eq!(
        rsmq.get_queue_attributes("q").await.unwrap().totalrecv,
        N as u64
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn four_workers_share_a_queue_and_handle_each_message_once() {
    const N: usize = 2000;
    let (rsmq, _) = common::rsmq("shared").await;
    rsmq.create_queue("q", None, None, None).await.unwrap();
    let mut sent = HashSet::new();
    for chunk in 0..(N / 500) {
        let bodies: Vec<String> = (0..500).map(|i| format!("m{}", chunk * 500 + i)).collect();
        sent.extend(rsmq.send_message_batch("q", bodies, None).await.unwrap());
    }
    let seen: Arc<Mutex<HashMap<String, usize>>> = Arc::default();
    let mut running = Vec::new();
    for _ in 0..4 {
        let s = seen.clone();
        let worker = Worker::builder_with_client(rsmq.clone())
            .concurrency(16)
            .poll_interval(Duration::from_millis(20))
            .route("q", move |msg: RsmqMessage<String>| {
                let s = s.clone();
                async move {
                    *s.lock().unwrap().entry(msg.id).or_default() += 1;
                    Ok::<(), Infallible>(())
                }
            })
            .build()
            .await
            .unwrap();
        running.push(start(worker));
    }
    eventually("all handled and deleted", async || {
        seen.lock().unwrap().len() == N && msgs(&rsmq, "q").await == 0
    })
    .await;
    for (handle, task) in running {
        stop(handle, task).await;
    }
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.keys().cloned().collect::<HashSet<_>>(), sent);
    assert!(
        seen.values().all(|&n| n == 1),
        "a message was handled twice"
    );
}

/// Eight workers, each on a client of its own, drain 20 000 messages from one queue: each
/// message is handled exactly once and the queue ends empty.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eight_workers_handle_twenty_thousand_messages_exactly_once() {
    const N: usize = 20_000;
    const BATCH: usize = 1_000;
    let opts = common::options("eight");
    let rsmq = Rsmq::new(opts.clone()).await.unwrap();
    rsmq.create_queue("q", None, None, None).await.unwrap();
    let mut sent = HashSet::with_capacity(N);
    for chunk in 0..(N / BATCH) {
        let bodies: Vec<String> = (0..BATCH)
            .map(|i| format!("m{}", chunk * BATCH + i))
            .collect();
        sent.extend(rsmq.send_message_batch("q", bodies, None).await.unwrap());
    }
    assert_eq!(sent.len(), N);

    let seen: Arc<Mutex<HashSet<String>>> = Arc::default();
    let duplicates = Arc::new(AtomicUsize::new(0));
    let mut running = Vec::new();
    for _ in 0..8 {
        let (s, d) = (seen.clone(), duplicates.clone());
        let client = Rsmq::new(opts.clone()).await.unwrap();
        let worker = Worker::builder_with_client(client)
            .concurrency(8)
            .poll_interval(Duration::from_millis(20))
            .route("q", move |msg: RsmqMessage<String>| {
                let (s, d) = (s.clone(), d.clone());
                async move {
                    if !s.lock().unwrap().insert(msg.id) {
                        d.fetch_add(1, Ordering::SeqCst);
                    }
                    Ok::<(), Infallible>(())
                }
            })
            .build()
            .await
            .unwrap();
        running.push(start(worker));
    }

    // Generous: the count is observed, the time is not asserted.
    let began = Instant::now();
    let deadline = began + Duration::from_secs(120);
    loop {
        let handled = seen.lock().unwrap().len();
        if handled >= N && msgs(&rsmq, "q").await == 0 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "timed out: {handled} of {N} handled"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    eprintln!("{N} messages handled by 8 workers in {:?}", began.elapsed());
    for (handle, task) in running {
        stop(handle, task).await;
    }

    assert_eq!(
        duplicates.load(Ordering::SeqCst),
        0,
        "messages handled twice"
    );
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), N);
    assert_eq!(seen, sent);
    let attrs = rsmq.get_queue_attributes("q").await.unwrap();
    assert_eq!((attrs.msgs, attrs.totalrecv), (0, N as u64));
}

#[cfg(feature = "serde")]
#[tokio::test]
async fn handlers_take_typed_json_bodies() {
    use rsmq_async::{Json, RsmqJsonExt as _};
    #[derive(serde::Serialize, serde::Deserialize)]
    struct Job {
        n: u32,
    }
    let (rsmq, _) = common::rsmq("json").await;
    rsmq.create_queue("q", None, None, None).await.unwrap();
    rsmq.create_queue("dead", None, None, None).await.unwrap();
    rsmq.send_json("q", &Job { n: 7 }, None).await.unwrap();
    let bad = rsmq.send_message("q", "{not json", None).await.unwrap();
    let total = Arc::new(AtomicUsize::new(0));
    let t = total.clone();
    let worker = Worker::builder_with_client(rsmq.clone())
        .poll_interval(Duration::from_millis(20))
        .dlq("dead", 5)
        .route("q", move |m: RsmqMessage<Json<Job>>| {
            t.fetch_add(m.message.0.n as usize, Ordering::SeqCst);
            async { Ok::<(), Infallible>(()) }
        })
        .build()
        .await
        .unwrap();
    let (handle, task) = start(worker);
    eventually("done", async || {
        msgs(&rsmq, "q").await == 0 && msgs(&rsmq, "dead").await == 1
    })
    .await;
    stop(handle, task).await;
    assert_eq!(total.load(Ordering::SeqCst), 7);
    // The body that is no JSON went to the DLQ at once.
    let dead = rsmq.peek_messages::<String>("dead", 1).await.unwrap();
    assert_eq!((dead[0].id.clone(), dead[0].rc), (bad, 1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_route_never_starves_another() {
    let (rsmq, _) = common::rsmq("fair").await;
    rsmq.create_queue("slow", None, None, None).await.unwrap();
    rsmq.create_queue("fast", None, None, None).await.unwrap();
    rsmq.send_message_batch("slow", vec!["s"; 20], None)
        .await
        .unwrap();
    // The slow handlers wait for a gate that opens only once every fast message is handled:
    // with a starving scheduler this would never end.
    let gate = Arc::new(tokio::sync::Semaphore::new(0));
    let fast_done = Arc::new(AtomicUsize::new(0));
    let slow_running = Arc::new(AtomicUsize::new(0));
    let (g, sr) = (gate.clone(), slow_running.clone());
    let fd = fast_done.clone();
    let worker = Worker::builder_with_client(rsmq.clone())
        .concurrency(4)
        .poll_interval(Duration::from_millis(20))
        .route("slow", move |_m: RsmqMessage<String>| {
            let (g, sr) = (g.clone(), sr.clone());
            async move {
                sr.fetch_add(1, Ordering::SeqCst);
                let _ = g.acquire().await.unwrap();
                Ok::<(), Infallible>(())
            }
        })
        .route("fast", move |_m: RsmqMessage<String>| {
            let fd = fd.clone();
            async move {
                fd.fetch_add(1, Ordering::SeqCst);
                Ok::<(), Infallible>(())
            }
        })
        .build()
        .await
        .unwrap();
    let (handle, task) = start(worker);
    // The slow route takes every slot it may have (its own and the shared ones) ...
    eventually("slow route saturated", async || {
        slow_running.load(Ordering::SeqCst) >= 3
    })
    .await;
    // ... and the fast route still gets its work done.
    rsmq.send_message_batch("fast", vec!["f"; 5], None)
        .await
        .unwrap();
    eventually("fast route handled", async || {
        fast_done.load(Ordering::SeqCst) == 5
    })
    .await;
    assert_eq!(
        slow_running.load(Ordering::SeqCst),
        3,
        "worker concurrency exceeded"
    );
    gate.add_permits(100);
    eventually("slow route drained", async || {
        msgs(&rsmq, "slow").await == 0
    })
    .await;
    stop(handle, task).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn route_concurrency_limits_one_route() {
    let (rsmq, _) = common::rsmq("routelimit").await;
    rsmq.create_queue("q", None, None, None).await.unwrap();
    rsmq.send_message_batch("q", vec!["x"; 12], None)
        .await
        .unwrap();
    let running = Arc::new(AtomicUsize::new(0));
    let peak = Arc::new(AtomicUsize::new(0));
    let (r, p) = (running.clone(), peak.clone());
    let worker = Worker::builder_with_client(rsmq.clone())
        .concurrency(16)
        .route_with(
            "q",
            RouteOptions {
                concurrency: Some(2),
                ..Default::default()
            },
            move |_m: RsmqMessage<String>| {
                let (r, p) = (r.clone(), p.clone());
                async move {
                    let now = r.fetch_add(1, Ordering::SeqCst) + 1;
                    p.fetch_max(now, Ordering::SeqCst);
                    tokio::time::sleep(Duration::from_millis(30)).await;
                    r.fetch_sub(1, Ordering::SeqCst);
                    Ok::<(), Infallible>(())
                }
            },
        )
        .build()
        .await
        .unwrap();
    let (handle, task) = start(worker);
    eventually("drained", async || msgs(&rsmq, "q").await == 0).await;
    stop(handle, task).await;
    assert_eq!(peak.load(Ordering::SeqCst), 2);
}

// ---------------------------------------------------------------------------------------
// Failures
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn failures_are_retried_with_backoff_then_dead_lettered() {
    let (rsmq, _) = common::rsmq("retry").await;
    // A long vt: only the backoff brings the message back in time.
    rsmq.create_queue("q", Some(Duration::from_secs(60)), None, None)
        .await
        .unwrap();
    rsmq.create_queue("dead", None, None, None).await.unwrap();
    let id = rsmq.send_message("q", "x", None).await.unwrap();
    let calls = Arc::new(Mutex::new(Vec::new()));
    let c = calls.clone();
    let worker = Worker::builder_with_client(rsmq.clone())
        .poll_interval(Duration::from_millis(20))
        .backoff(Backoff::fixed(Duration::from_millis(50)).jitter(0.5))
        .dlq("dead", 2)
        .route("q", move |m: RsmqMessage<String>| {
            c.lock().unwrap().push(m.rc);
            async { Err::<(), HandlerErr>(HandlerErr) }
        })
        .build()
        .await
        .unwrap();
    let (handle, task) = start(worker);
    eventually("dead-lettered", async || msgs(&rsmq, "dead").await == 1).await;
    stop(handle, task).await;
    assert_eq!(*calls.lock().unwrap(), vec![1, 2, 3]);
    assert_eq!(msgs(&rsmq, "q").await, 0);
    let dead = rsmq
        .receive_message::<String>("dead", None)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((dead.id, dead.rc), (id, 4));
}

#[tokio::test]
async fn a_permanent_failure_goes_to_the_dlq_at_once() {
    let (rsmq, _) = common::rsmq("permanent").await;
    rsmq.create_queue("q", None, None, None).await.unwrap();
    rsmq.create_queue("dead", None, None, None).await.unwrap();
    rsmq.send_message("q", "not a number", None).await.unwrap();
    rsmq.send_message("q", vec![0xffu8, 0xfe], None)
        .await
        .unwrap(); // not UTF-8
    let calls = Arc::new(AtomicUsize::new(0));
    let c = calls.clone();
    let worker = Worker::builder_with_client(rsmq.clone())
        .poll_interval(Duration::from_millis(20))
        .dlq("dead", 10)
        .route("q", move |m: RsmqMessage<String>| {
            c.fetch_add(1, Ordering::SeqCst);
            async move {
                let _n: u64 = m.message.parse().map_err(Permanent::new)?;
                Ok::<(), Permanent>(())
            }
        })
        .build()
        .await
        .unwrap();
    let (handle, task) = start(worker);
    eventually("both dead-lettered", async || {
        msgs(&rsmq, "dead").await == 2
    })
    .await;
    stop(handle, task).await;
    // The body that does not decode never reached the handler.
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    for m in rsmq.peek_messages::<Vec<u8>>("dead", 10).await.unwrap() {
        assert_eq!(m.rc, 1);
    }
}

#[tokio::test]
async fn a_message_that_kills_its_handler_reaches_the_dlq_after_its_receives() {
    let (rsmq, _) = common::rsmq("poison").await;
    rsmq.create_queue("q", None, None, None).await.unwrap();
    rsmq.create_queue("dead", None, None, None).await.unwrap();
    let id = rsmq.send_message("q", "poison", None).await.unwrap();
    // Two workers died while handling it: received twice, never failed, never deleted.
    for _ in 0..2 {
        rsmq.receive_message::<String>("q", Some(Duration::ZERO))
            .await
            .unwrap()
            .unwrap();
    }
    let calls = Arc::new(AtomicUsize::new(0));
    let c = calls.clone();
    let worker = Worker::builder_with_client(rsmq.clone())
        .poll_interval(Duration::from_millis(20))
        .dlq("dead", 1) // two receives
        .route("q", move |_m: RsmqMessage<String>| {
            c.fetch_add(1, Ordering::SeqCst);
            async { Ok::<(), Infallible>(()) }
        })
        .build()
        .await
        .unwrap();
    let (handle, task) = start(worker);
    eventually("dead-lettered", async || msgs(&rsmq, "dead").await == 1).await;
    stop(handle, task).await;
    assert_eq!(
        calls.load(Ordering::SeqCst),
        0,
        "the handler met it a third time"
    );
    let dead = rsmq.peek_messages::<String>("dead", 1).await.unwrap();
    assert_eq!((dead[0].id.clone(), dead[0].rc), (id, 2));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_realtime_worker_long_polls_and_handles_what_arrives() {
    let opts = RsmqOptions {
        realtime: true,
        ..common::options("realtime")
    };
    let rsmq = Rsmq::new(opts).await.unwrap();
    rsmq.create_queue("q", None, None, None).await.unwrap();
    let seen = Arc::new(AtomicUsize::new(0));
    let s = seen.clone();
    let worker = Worker::builder_with_client(rsmq.clone())
        .use_realtime(true)
        .poll_interval(Duration::from_secs(30))
        .route("q", move |_m: RsmqMessage<String>| {
            let s = s.clone();
            async move {
                s.fetch_add(1, Ordering::SeqCst);
                Ok::<(), Infallible>(())
            }
        })
        .build()
        .await
        .unwrap();
    let (handle, task) = start(worker);
    for i in 0..5 {
        rsmq.send_message("q", format!("m{i}"), None).await.unwrap();
        eventually("handled", async || seen.load(Ordering::SeqCst) == i + 1).await;
    }
    // A long poll does not hold up the shutdown for its poll interval.
    let began = Instant::now();
    stop(handle, task).await;
    assert!(began.elapsed() < Duration::from_secs(20));
    assert_eq!(msgs(&rsmq, "q").await, 0);
}

#[tokio::test]
async fn a_timed_out_handler_is_cancelled_and_fails() {
    let (rsmq, _) = common::rsmq("timeout").await;
    rsmq.create_queue("q", None, None, None).await.unwrap();
    rsmq.create_queue("dead", None, None, None).await.unwrap();
    rsmq.send_message("q", "x", None).await.unwrap();
    let effect = Arc::new(AtomicBool::new(false));
    let started = Arc::new(AtomicBool::new(false));
    let (e, s) = (effect.clone(), started.clone());
    let worker = Worker::builder_with_client(rsmq.clone())
        .poll_interval(Duration::from_millis(20))
        .handler_timeout(Duration::from_millis(100))
        .dlq("dead", 0)
        .route("q", move |_m: RsmqMessage<String>| {
            let (e, s) = (e.clone(), s.clone());
            async move {
                s.store(true, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(600)).await;
                e.store(true, Ordering::SeqCst);
                Ok::<(), Infallible>(())
            }
        })
        .build()
        .await
        .unwrap();
    let (handle, task) = start(worker);
    eventually("dead-lettered", async || msgs(&rsmq, "dead").await == 1).await;
    // Well past the moment the handler would have finished.
    tokio::time::sleep(Duration::from_millis(1200)).await;
    stop(handle, task).await;
    assert!(started.load(Ordering::SeqCst));
    assert!(
        !effect.load(Ordering::SeqCst),
        "the cancelled handler went on"
    );
}

#[tokio::test]
async fn a_panicking_handler_is_caught_and_the_worker_goes_on() {
    let (rsmq, _) = common::rsmq("panic").await;
    rsmq.create_queue("q", None, None, None).await.unwrap();
    rsmq.create_queue("dead", None, None, None).await.unwrap();
    rsmq.create_queue("sync-panic", None, None, None)
        .await
        .unwrap();
    let boom = rsmq.send_message("q", "boom", None).await.unwrap();
    let worker = Worker::builder_with_client(rsmq.clone())
        .poll_interval(Duration::from_millis(20))
        .concurrency(1)
        .dlq("dead", 0)
        .route("q", |m: RsmqMessage<String>| async move {
            if m.message == "boom" {
                panic!("handler panics on purpose");
            }
            Ok::<(), Infallible>(())
        })
        .route(
            "sync-panic",
            |_m: RsmqMessage<String>| -> std::future::Ready<Result<(), Infallible>> {
                panic!("handler panics before its future")
            },
        )
        .build()
        .await
        .unwrap();
    let (handle, task) = start(worker);
    eventually("dead-lettered", async || msgs(&rsmq, "dead").await == 1).await;
    rsmq.send_message("q", "fine", None).await.unwrap();
    rsmq.send_message("sync-panic", "x", None).await.unwrap();
    eventually("the next message handled", async || {
        msgs(&rsmq, "q").await == 0 && msgs(&rsmq, "dead").await == 2
    })
    .await;
    stop(handle, task).await;
    let dead = rsmq.peek_messages::<String>("dead", 10).await.unwrap();
    assert!(dead.iter().any(|m| m.id == boom));
}

// ---------------------------------------------------------------------------------------
// Heartbeat, pause, shutdown
// ---------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_heartbeat_keeps_a_long_handler_message_hidden() {
    let (rsmq, _) = common::rsmq("heartbeat").await;
    rsmq.create_queue("q", Some(Duration::from_secs(1)), None, None)
        .await
        .unwrap();
    rsmq.send_message("q", "long", None).await.unwrap();
    let calls = Arc::new(AtomicUsize::new(0));
    let c = calls.clone();
    let worker = Worker::builder_with_client(rsmq.clone())
        .poll_interval(Duration::from_millis(20))
        .heartbeat_interval(Duration::from_millis(200))
        .visibility_extension(Duration::from_secs(1))
        .route("q", move |_m: RsmqMessage<String>| {
            let c = c.clone();
            async move {
                c.fetch_add(1, Ordering::SeqCst);
                // Three times the queue's vt.
                tokio::time::sleep(Duration::from_secs(3)).await;
                Ok::<(), Infallible>(())
            }
        })
        .build()
        .await
        .unwrap();
    let (handle, task) = start(worker);
    eventually("handled", async || msgs(&rsmq, "q").await == 0).await;
    stop(handle, task).await;
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    assert_eq!(rsmq.get_queue_attributes("q").await.unwrap().totalrecv, 1);
}

#[tokio::test]
async fn pause_stops_receiving_and_resume_goes_on() {
    let (rsmq, _) = common::pooled("pause").await;
    rsmq.create_queue("q", None, None, None).await.unwrap();
    let calls = Arc::new(AtomicUsize::new(0));
    let c = calls.clone();
    let worker = Worker::builder_with_client(rsmq.clone())
        .poll_interval(Duration::from_millis(20))
        .route("q", move |_m: RsmqMessage<String>| {
            let c = c.clone();
            async move {
                c.fetch_add(1, Ordering::SeqCst);
                Ok::<(), Infallible>(())
            }
        })
        .build()
        .await
        .unwrap();
    let (handle, task) = start(worker);
    handle.pause();
    assert!(handle.is_paused());
    tokio::time::sleep(Duration::from_millis(100)).await;
    rsmq.send_message("q", "x", None).await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(calls.load(Ordering::SeqCst), 0, "received while paused");
    handle.resume();
    eventually("handled after resume", async || {
        calls.load(Ordering::SeqCst) == 1
    })
    .await;
    stop(handle, task).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_waits_then_cancels_and_releases_unfinished_messages() {
    let (rsmq, _) = common::rsmq("shutdown").await;
    rsmq.create_queue("q", Some(Duration::from_secs(60)), None, None)
        .await
        .unwrap();
    let quick = rsmq.send_message("q", "quick", None).await.unwrap();
    let stuck = rsmq.send_message("q", "stuck", None).await.unwrap();
    let started = Arc::new(AtomicUsize::new(0));
    let stuck_finished = Arc::new(AtomicBool::new(false));
    let quick_release = Arc::new(tokio::sync::Notify::new());
    let (s, sf, qr, st) = (
        started.clone(),
        stuck_finished.clone(),
        quick_release.clone(),
        started.clone(),
    );
    let worker = Worker::builder_with_client(rsmq.clone())
        .poll_interval(Duration::from_millis(20))
        .shutdown_timeout(Duration::from_millis(800))
        .route("q", move |m: RsmqMessage<String>| {
            let (s, sf, qr) = (s.clone(), sf.clone(), qr.clone());
            async move {
                s.fetch_add(1, Ordering::SeqCst);
                if m.message == "quick" {
                    // Finishes only after the shutdown has begun.
                    qr.notified().await;
                } else {
                    tokio::time::sleep(Duration::from_secs(60)).await;
                    sf.store(true, Ordering::SeqCst);
                }
                Ok::<(), Infallible>(())
            }
        })
        .build()
        .await
        .unwrap();
    let handle = worker.handle();
    let began = Instant::now();
    let run = tokio::spawn(worker.run_until(async move {
        while st.load(Ordering::SeqCst) != 2 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }));
    eventually("stopping", async || handle.is_stopping()).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    // Sent after receiving stopped: the worker never takes it.
    let late = rsmq.send_message("q", "late", None).await.unwrap();
    quick_release.notify_one();
    run.await.unwrap().unwrap();
    assert!(began.elapsed() < Duration::from_secs(30));
    assert!(!stuck_finished.load(Ordering::SeqCst));
    // The quick one was acknowledged; the stuck one is visible at once (vt 60 s otherwise).
    let left = rsmq.peek_messages::<String>("q", 10).await.unwrap();
    let ids: HashSet<_> = left.iter().map(|m| m.id.clone()).collect();
    assert!(
        !ids.contains(&quick),
        "the finished message was not deleted"
    );
    assert!(ids.contains(&stuck), "the cancelled message is not visible");
    let late_msg = left.iter().find(|m| m.id == late).expect("late message");
    assert_eq!(late_msg.rc, 0, "received after the shutdown began");
    assert_eq!(msgs(&rsmq, "q").await, 2);
}

// ---------------------------------------------------------------------------------------
// Redis restarts
// ---------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redis_restart_under_a_running_worker_loses_nothing() {
    let mut server = OwnedServer::start(&["--appendonly", "yes", "--appendfsync", "always"]);
    let opts = RsmqOptions {
        connection_timeout: Duration::from_secs(1),
        ..server.options("restart")
    };
    let rsmq = Rsmq::new(opts.clone()).await.unwrap();
    rsmq.create_queue("q", Some(Duration::from_secs(2)), None, None)
        .await
        .unwrap();
    let mut sent: HashSet<String> = rsmq
        .send_message_batch("q", (0..50).map(|i| format!("a{i}")).collect(), None)
        .await
        .unwrap()
        .into_iter()
        .collect();
    let seen: Arc<Mutex<HashSet<String>>> = Arc::default();
    let s = seen.clone();
    let worker = Worker::builder(opts)
        .poll_interval(Duration::from_millis(50))
        .concurrency(4)
        .route("q", move |m: RsmqMessage<String>| {
            let s = s.clone();
            async move {
                tokio::time::sleep(Duration::from_millis(10)).await;
                s.lock().unwrap().insert(m.id);
                Ok::<(), Infallible>(())
            }
        })
        .build()
        .await
        .unwrap();
    let (handle, task) = start(worker);
    eventually("some handled", async || seen.lock().unwrap().len() >= 10).await;
    server.kill();
    tokio::time::sleep(Duration::from_millis(500)).await;
    server.restart();
    eventually("producer reconnected", async || {
        match rsmq
            .send_message_batch("q", (0..50).map(|i| format!("b{i}")).collect(), None)
            .await
        {
            Ok(ids) => {
                sent.extend(ids);
                true
            }
            Err(_) => false,
        }
    })
    .await;
    eventually("everything handled after the restart", async || {
        let all = seen.lock().unwrap().is_superset(&sent);
        all && rsmq
            .get_queue_attributes("q")
            .await
            .is_ok_and(|a| a.msgs == 0)
    })
    .await;
    assert!(!task.is_finished(), "the worker ended");
    stop(handle, task).await;
}

// ---------------------------------------------------------------------------------------
// Observability
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn each_message_has_a_span_and_each_outcome_an_event() {
    capture::install();
    let (rsmq, ns) = common::rsmq("traced").await;
    let queue = format!("traced{}", fastrand::u32(..));
    rsmq.create_queue(&queue, None, None, None).await.unwrap();
    rsmq.create_queue("dead", None, None, None).await.unwrap();
    let ok = rsmq.send_message(&queue, "ok", None).await.unwrap();
    let bad = rsmq.send_message(&queue, "bad", None).await.unwrap();
    let text = format!("panic for {ns}");
    let t = text.clone();
    let worker = Worker::builder_with_client(rsmq.clone())
        .poll_interval(Duration::from_millis(20))
        .dlq("dead", 0)
        .route(&queue, move |m: RsmqMessage<String>| {
            let t = t.clone();
            async move {
                if m.message == "bad" {
                    panic!("{t}");
                }
                Ok::<(), Infallible>(())
            }
        })
        .build()
        .await
        .unwrap();
    let (handle, task) = start(worker);
    eventually("both done", async || {
        msgs(&rsmq, &queue).await == 0 && msgs(&rsmq, "dead").await == 1
    })
    .await;
    stop(handle, task).await;
    let records = capture::records();
    for id in [&ok, &bad] {
        let span = records
            .iter()
            .find(|r| r.is_span && r.name == "rsmq_worker_message" && r.field("id") == Some(id))
            .unwrap_or_else(|| panic!("no span for {id}"));
        assert_eq!(span.field("queue"), Some(queue.as_str()));
        assert_eq!(span.field("rc"), Some("1"));
    }
    let panicked = records
        .iter()
        .find(|r| !r.is_span && r.field("panic") == Some(text.as_str()))
        .expect("a panic event");
    assert_eq!(panicked.level, tracing::Level::ERROR);
    assert!(records.iter().any(|r| !r.is_span
        && r.message().contains("dead-letter queue")
        && r.field("dlq").is_some_and(|d| d == "dead")));
}

// ---------------------------------------------------------------------------------------
// A handler that kills its process
// ---------------------------------------------------------------------------------------

/// Set for the child processes of the tests below: the namespace to work in.
const CHILD_NS: &str = "RSMQ_WORKER_TEST_CHILD_NS";
/// Set for a child whose handler hangs instead of aborting.
const CHILD_HANGS: &str = "RSMQ_WORKER_TEST_CHILD_HANGS";

/// Not a test of its own: the worker process that the test below starts (again and again),
/// whose handler aborts the process. Does nothing when run as an ordinary test.
#[tokio::test]
async fn child_worker_whose_handler_aborts() {
    let Ok(ns) = std::env::var(CHILD_NS) else {
        return;
    };
    let opts = RsmqOptions {
        ns,
        ..common::options("child")
    };
    let worker = Worker::builder(opts)
        .poll_interval(Duration::from_millis(20))
        .dlq("dead", 1)
        .route("q", |_m: RsmqMessage<String>| async {
            if std::env::var(CHILD_HANGS).is_ok() {
                std::future::pending::<()>().await;
            }
            let die: Result<(), Infallible> = Ok(());
            if die.is_ok() {
                std::process::abort();
            }
            die
        })
        .build()
        .await
        .unwrap();
    worker
        .run_until(tokio::time::sleep(PATIENCE))
        .await
        .unwrap();
}

#[tokio::test]
async fn a_message_that_aborts_every_worker_ends_in_the_dlq() {
    let (rsmq, ns) = common::rsmq("abort").await;
    rsmq.create_queue("q", Some(Duration::from_secs(1)), None, None)
        .await
        .unwrap();
    rsmq.create_queue("dead", None, None, None).await.unwrap();
    let id = rsmq.send_message("q", "poison", None).await.unwrap();
    let spawn = || {
        std::process::Command::new(std::env::current_exe().unwrap())
            .args([
                "child_worker_whose_handler_aborts",
                "--exact",
                "--test-threads=1",
            ])
            .env(CHILD_NS, &ns)
            .env("REDIS_URL", common::server().url())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap()
    };
    let mut child = spawn();
    let mut died = 0;
    let deadline = Instant::now() + PATIENCE;
    while msgs(&rsmq, "dead").await == 0 {
        assert!(Instant::now() < deadline, "never dead-lettered");
        if let Some(status) = child.try_wait().unwrap() {
            assert!(!status.success(), "the child worker ended without dying");
            died += 1;
            child = spawn();
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let _ = child.kill();
    let _ = child.wait();
    // Received twice, each time the process died; the third receive moved it.
    assert_eq!(died, 2);
    let dead = rsmq.peek_messages::<String>("dead", 1).await.unwrap();
    assert_eq!((dead[0].id.clone(), dead[0].rc), (id, 2));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_killed_mid_handler_leaves_the_message_to_another_after_its_vt() {
    let (rsmq, ns) = common::rsmq("killed").await;
    rsmq.create_queue("q", Some(Duration::from_secs(1)), None, None)
        .await
        .unwrap();
    rsmq.create_queue("dead", None, None, None).await.unwrap();
    let id = rsmq.send_message("q", "job", None).await.unwrap();
    let mut child = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "child_worker_whose_handler_aborts",
            "--exact",
            "--test-threads=1",
        ])
        .env(CHILD_NS, &ns)
        .env(CHILD_HANGS, "1")
        .env("REDIS_URL", common::server().url())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    eventually("the child took the message", async || {
        rsmq.get_queue_attributes("q").await.unwrap().totalrecv == 1
    })
    .await;
    child.kill().unwrap(); // SIGKILL, mid-handler
    child.wait().unwrap();
    let handled = Arc::new(Mutex::new(Vec::new()));
    let h = handled.clone();
    let worker = Worker::builder_with_client(rsmq.clone())
        .poll_interval(Duration::from_millis(20))
        .dlq("dead", 1)
        .route("q", move |m: RsmqMessage<String>| {
            h.lock().unwrap().push((m.id, m.rc));
            async { Ok::<(), Infallible>(()) }
        })
        .build()
        .await
        .unwrap();
    let (handle, task) = start(worker);
    eventually("handled by the other worker", async || {
        msgs(&rsmq, "q").await == 0
    })
    .await;
    stop(handle, task).await;
    assert_eq!(*handled.lock().unwrap(), vec![(id, 2)]);
    assert_eq!(msgs(&rsmq, "dead").await, 0);
}

// ---------------------------------------------------------------------------------------
// Liveness
// ---------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_running_worker_is_listed_until_it_stops() {
    let (rsmq, ns) = common::rsmq("live").await;
    rsmq.create_queue("a", None, None, None).await.unwrap();
    rsmq.create_queue("b", None, None, None).await.unwrap();
    assert!(rsmq.live_workers().await.unwrap().is_empty());
    let worker = Worker::builder_with_client(rsmq.clone())
        .concurrency(7)
        .poll_interval(Duration::from_millis(20))
        .heartbeat_interval(Duration::from_millis(200))
        .route("a", |_m: RsmqMessage<String>| async {
            Ok::<(), Infallible>(())
        })
        .route("b", |_m: RsmqMessage<String>| async {
            Err::<(), _>(HandlerErr)
        })
        .build()
        .await
        .unwrap();
    let id = worker.id().to_string();
    assert!(id.contains(&format!("-{}-", std::process::id())), "{id}");
    let (handle, task) = start(worker);
    eventually("the worker is listed", async || {
        rsmq.live_workers().await.unwrap().len() == 1
    })
    .await;
    let w = rsmq.live_workers().await.unwrap().remove(0);
    assert_eq!(w.id, id);
    assert_eq!(w.pid, std::process::id());
    assert_eq!(w.queues, ["a", "b"]);
    assert!(w.serves("a") && w.serves("b") && !w.serves("c"));
    assert_eq!(w.concurrency, 7);
    assert_eq!(w.version, env!("CARGO_PKG_VERSION"));
    assert!(w.started <= w.seen && w.seen < w.expires, "{w:?}");
    // Three heartbeats of 200 ms, at least a second.
    assert_eq!(w.expires - w.seen, 1_000);

    // The counters follow at the next heartbeats; `started` stays.
    rsmq.send_message("a", "ok", None).await.unwrap();
    rsmq.send_message("b", "fails", None).await.unwrap();
    eventually("the counters are registered", async || {
        let w = &rsmq.live_workers().await.unwrap()[0];
        w.handled == 1 && w.failed >= 1
    })
    .await;
    let again = rsmq.live_workers().await.unwrap().remove(0);
    assert_eq!(again.started, w.started);
    assert!(again.seen > w.seen);

    // The only key beyond the JS layout, and it holds one entry per worker.
    let keys: Vec<String> = common::snapshot(&ns)
        .await
        .into_iter()
        .map(|(k, _)| k)
        .filter(|k| k.contains(".workers"))
        .collect();
    assert!(
        keys.iter().all(|k| k == &format!("{ns}:.workers")),
        "{keys:?}"
    );

    stop(handle, task).await;
    assert!(rsmq.live_workers().await.unwrap().is_empty());
    let mut raw = common::raw().await;
    let exists: bool = redis::cmd("EXISTS")
        .arg(format!("{ns}:.workers"))
        .query_async(&mut raw)
        .await
        .unwrap();
    assert!(!exists, "the liveness hash goes with its last entry");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_that_dies_drops_out_when_its_entry_expires() {
    let (rsmq, ns) = common::rsmq("live-dies").await;
    rsmq.create_queue("q", None, None, None).await.unwrap();
    let build = || {
        Worker::builder_with_client(rsmq.clone())
            .heartbeat_interval(Duration::from_millis(200))
            .route("q", |_m: RsmqMessage<String>| async {
                Ok::<(), Infallible>(())
            })
            .build()
    };
    let (gone, stays) = (build().await.unwrap(), build().await.unwrap());
    let (gone_id, stays_id) = (gone.id().to_string(), stays.id().to_string());
    assert_ne!(gone_id, stays_id);
    let gone = tokio::spawn(gone.run());
    let (handle, task) = start(stays);
    eventually("both are listed", async || {
        rsmq.live_workers().await.unwrap().len() == 2
    })
    .await;
    // As a crashed process: no shutdown, no unregistering.
    gone.abort();
    let _ = gone.await;
    let t = Instant::now();
    eventually("the dead one drops out", async || {
        let live = rsmq.live_workers().await.unwrap();
        live.len() == 1 && live[0].id == stays_id
    })
    .await;
    // Its entry lived at most three heartbeats (1 s) after its last registration (with room
    // for a busy machine).
    assert!(t.elapsed() < Duration::from_secs(3), "{:?}", t.elapsed());
    // The next registration of the live one removes the expired entry from Redis.
    let mut raw = common::raw().await;
    eventually("the expired entry is removed", async || {
        let fields: Vec<String> = redis::cmd("HKEYS")
            .arg(format!("{ns}:.workers"))
            .query_async(&mut raw)
            .await
            .unwrap();
        fields == [stays_id.clone()]
    })
    .await;
    stop(handle, task).await;
}

#[tokio::test]
async fn without_liveness_a_worker_writes_no_key_of_its_own() {
    let (rsmq, ns) = common::rsmq("live-off").await;
    rsmq.create_queue("q", None, None, None).await.unwrap();
    let worker = Worker::builder_with_client(rsmq.clone())
        .liveness(false)
        .poll_interval(Duration::from_millis(20))
        .route("q", |_m: RsmqMessage<String>| async {
            Ok::<(), Infallible>(())
        })
        .build()
        .await
        .unwrap();
    let (handle, task) = start(worker);
    rsmq.send_message("q", "x", None).await.unwrap();
    eventually("handled", async || msgs(&rsmq, "q").await == 0).await;
    assert!(rsmq.live_workers().await.unwrap().is_empty());
    stop(handle, task).await;
    let keys: Vec<String> = common::snapshot(&ns)
        .await
        .into_iter()
        .map(|(k, _)| k)
        .collect();
    assert!(keys.iter().all(|k| !k.contains(".workers")), "{keys:?}");
}

#[tokio::test]
async fn live_workers_skips_entries_it_cannot_read() {
    let (rsmq, ns) = common::rsmq("live-junk").await;
    let mut raw = common::raw().await;
    let key = format!("{ns}:.workers");
    let far = common::redis_now_ms().await + 60_000;
    let _: () = redis::cmd("HSET")
        .arg(&key)
        .arg("junk")
        .arg("not an entry")
        .arg("old")
        .arg("expires=1 host=x")
        .arg("fine")
        .arg(format!("expires={far} host=h pid=1 queues=q"))
        .arg("odd")
        .arg(format!(
            "expires={far} pid=nope queues=,, concurrency=-3 extra=1"
        ))
        .query_async(&mut raw)
        .await
        .unwrap();
    let live = rsmq.live_workers().await.unwrap();
    let ids: Vec<&str> = live.iter().map(|w| w.id.as_str()).collect();
    assert_eq!(ids, ["fine", "odd"]);
    assert_eq!(live[0].queues, ["q"]);
    assert_eq!((live[1].pid, live[1].concurrency), (0, 0));
    assert!(live[1].queues.is_empty());
}
