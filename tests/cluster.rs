//! Redis Cluster: a 3-master, 3-replica cluster on loopback, started by the test (free
//! ports; every node killed and its directory removed when the test ends, failed or not).
//! Untagged namespaces refused; every operation on a cluster; namespaces placed on each
//! master; a graceful failover and a crashed master under a producer.
#![cfg(feature = "cluster")]

mod common;

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::cluster::Cluster;
use rsmq_async::{cluster_slot, Rsmq, RsmqConnection, RsmqError, RsmqMessage, RsmqOptions, Worker};

fn tagged(test: &str) -> String {
    format!("{{{}}}", common::namespace(test))
}

async fn client(cluster: &Cluster, ns: &str, realtime: bool) -> Rsmq {
    let options = RsmqOptions {
        ns: ns.into(),
        realtime,
        ..Default::default()
    };
    Rsmq::new_cluster(cluster.urls(), options).await.unwrap()
}

#[tokio::test]
async fn an_untagged_namespace_is_refused_before_anything_is_sent() {
    // No server at all: the check comes before connecting.
    let options = RsmqOptions {
        ns: "rsmq".into(),
        ..Default::default()
    };
    let err = Rsmq::new_cluster(["redis://127.0.0.1:1"], options)
        .await
        .unwrap_err();
    let RsmqError::InvalidOptions(text) = &err else {
        panic!("{err:?}")
    };
    assert!(
        text.contains("hash tag") && text.contains("{rsmq}"),
        "{text}"
    );
    let err = Rsmq::new_cluster(
        Vec::<String>::new(),
        RsmqOptions {
            ns: "{app}".into(),
            ..Default::default()
        },
    )
    .await
    .unwrap_err();
    assert!(matches!(err, RsmqError::InvalidOptions(_)), "{err:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn everything_works_on_a_cluster_with_the_javascript_keys() {
    let cluster = Cluster::start();
    let ns = tagged("ops");
    let rsmq = client(&cluster, &ns, true).await;
    rsmq.create_queue("q", None, None, None).await.unwrap();
    rsmq.create_queue("dead", None, None, None).await.unwrap();
    let mut names = rsmq.list_queues().await.unwrap();
    names.sort();
    assert_eq!(names, ["dead", "q"]);

    // Single, batch, coalesced and stored (large) sends; the stored ones read TIME from the
    // namespace's master.
    let id = rsmq.send_message("q", "one", None).await.unwrap();
    rsmq.send_message_batch("q", vec!["b1", "b2"], None)
        .await
        .unwrap();
    let big = "x".repeat(40_000);
    let sent = futures_util::future::join_all((0..20).map(|i| {
        let rsmq = rsmq.clone();
        let body = if i % 4 == 0 {
            big.clone()
        } else {
            format!("c{i}")
        };
        async move { rsmq.send_message("q", body, None).await }
    }))
    .await;
    assert!(sent.iter().all(Result::is_ok), "{sent:?}");
    assert_eq!(rsmq.get_queue_attributes("q").await.unwrap().msgs, 23);
    let peeked = rsmq.peek_messages::<String>("q", 3).await.unwrap();
    assert_eq!(peeked[0].id, id);

    let m = rsmq
        .receive_message::<String>("q", None)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((m.id.as_str(), m.message.as_str()), (id.as_str(), "one"));
    assert!(rsmq.move_message("q", &m.id, "dead").await.unwrap());
    assert_eq!(rsmq.redrive("dead", "q", 10).await.unwrap(), 1);
    let batch = rsmq
        .receive_message_batch::<String>("q", None, 5)
        .await
        .unwrap();
    assert_eq!(batch.len(), 5);
    assert_eq!(
        rsmq.delete_message_batch("q", &batch.iter().map(|m| m.id.clone()).collect::<Vec<_>>())
            .await
            .unwrap(),
        5
    );
    assert!(rsmq.pop_message::<String>("q").await.unwrap().is_some());
    rsmq.set_queue_attributes("q", Some(Duration::from_secs(5)), None, None)
        .await
        .unwrap();
    assert_eq!(rsmq.purge_queue("q").await.unwrap(), 17);

    // Long polling woken by a realtime send (the subscriber hears PUBLISH from any node).
    let waiter = rsmq.clone();
    let wait = tokio::spawn(async move {
        let start = Instant::now();
        let m = waiter
            .receive_message_wait::<String>("q", None, Duration::from_secs(10))
            .await
            .unwrap();
        (m, start.elapsed())
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    let id = rsmq.send_message("q", "wake", None).await.unwrap();
    let (m, took) = wait.await.unwrap();
    assert_eq!(m.unwrap().id, id);
    assert!(took < rsmq_async::FALLBACK_POLL, "woken after {took:?}");
    rsmq.delete_message("q", &id).await.unwrap();

    // A worker on the cluster client, listed by liveness.
    let handled = Arc::new(AtomicU64::new(0));
    let h = handled.clone();
    let worker = Worker::builder_with_client(rsmq.clone())
        .poll_interval(Duration::from_millis(20))
        .route("q", move |_m: RsmqMessage<String>| {
            h.fetch_add(1, Ordering::Relaxed);
            async { Ok::<(), std::convert::Infallible>(()) }
        })
        .build()
        .await
        .unwrap();
    let handle = worker.handle();
    let task = tokio::spawn(worker.run());
    rsmq.send_message_batch("q", (0..50).map(|i| i.to_string()).collect(), None)
        .await
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(15);
    while handled.load(Ordering::Relaxed) < 50 {
        assert!(
            Instant::now() < deadline,
            "the worker on the cluster stalled"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(rsmq.live_workers().await.unwrap().len(), 1);
    handle.shutdown();
    task.await.unwrap().unwrap();

    // Every key on one master, named as the JavaScript client names them.
    let keys = cluster.keys(&ns);
    let masters: HashSet<u16> = keys.iter().map(|(p, _)| *p).collect();
    assert_eq!(masters.len(), 1, "{keys:?}");
    let mut names: Vec<&str> = keys.iter().map(|(_, k)| k.as_str()).collect();
    names.sort();
    // (The queues are empty, so their sorted sets are gone; the worker removed its
    // liveness entry when it stopped.)
    let expected = [
        format!("{ns}:QUEUES"),
        format!("{ns}:dead:Q"),
        format!("{ns}:q:Q"),
    ];
    assert_eq!(
        names,
        expected.iter().map(String::as_str).collect::<Vec<_>>()
    );
    assert_eq!(
        rsmq.cluster_master().await.unwrap(),
        format!("127.0.0.1:{}", keys[0].0)
    );
    rsmq.delete_queue("q").await.unwrap();
    rsmq.delete_queue("dead").await.unwrap();

    // Durable sends: WAIT goes to the node of the send, in the same pipeline.
    let durable = Rsmq::new_cluster(
        cluster.urls(),
        RsmqOptions {
            ns: ns.clone(),
            durable: Some(rsmq_async::Durability {
                replicas: 1,
                timeout: Duration::from_secs(2),
            }),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    durable.create_queue("d", None, None, None).await.unwrap();
    durable.send_message("d", "kept", None).await.unwrap();
    durable
        .send_message_batch("d", vec!["x".repeat(40_000); 2], None)
        .await
        .unwrap();
    durable.delete_queue("d").await.unwrap();

    // One namespace per master, each placed where it says.
    let placed = rsmq.cluster_namespaces("grp").await.unwrap();
    assert_eq!(placed.len(), 3, "{placed:?}");
    let distinct: HashSet<&String> = placed.iter().map(|(m, _)| m).collect();
    assert_eq!(distinct.len(), 3);
    for (master, ns) in &placed {
        assert!(cluster_slot(ns).is_some());
        let c = client(&cluster, ns, false).await;
        assert_eq!(&c.cluster_master().await.unwrap(), master);
    }
}

/// Sends as fast as one task can until `stop`, counting acknowledged sends and failures.
fn producer(
    rsmq: Rsmq,
    stop: Arc<AtomicBool>,
) -> tokio::task::JoinHandle<(Vec<String>, Vec<String>)> {
    tokio::spawn(async move {
        let (mut ok, mut failed) = (Vec::new(), Vec::new());
        let mut i = 0u64;
        while !stop.load(Ordering::Relaxed) {
            i += 1;
            match rsmq.send_message("q", format!("m{i}"), None).await {
                Ok(id) => ok.push(id),
                Err(e) => failed.push(e.to_string()),
            }
        }
        (ok, failed)
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_graceful_failover_under_a_producer_fails_no_call_and_loses_nothing() {
    let cluster = Cluster::start();
    let ns = tagged("failover");
    let rsmq = client(&cluster, &ns, false).await;
    rsmq.create_queue("q", None, None, None).await.unwrap();
    let master = rsmq.cluster_master().await.unwrap();
    let replica = cluster.replica_of(&master);
    let stop = Arc::new(AtomicBool::new(false));
    let sending = producer(rsmq.clone(), stop.clone());
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(cluster
        .cli(replica, &["cluster", "failover"])
        .contains("OK"));
    let deadline = Instant::now() + Duration::from_secs(20);
    while rsmq.cluster_master().await.ok() != Some(format!("127.0.0.1:{replica}")) {
        assert!(Instant::now() < deadline, "the replica did not take over");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    stop.store(true, Ordering::Relaxed);
    let (ok, failed) = sending.await.unwrap();
    assert!(failed.is_empty(), "failed calls: {failed:?}");
    assert!(ok.len() > 10, "{} sends", ok.len());
    // Every acknowledged send is on the new master, once.
    assert_eq!(
        rsmq.get_queue_attributes("q").await.unwrap().msgs,
        ok.len() as u64
    );
    let mut got = HashSet::new();
    while let Some(m) = rsmq.pop_message::<String>("q").await.unwrap() {
        got.insert(m.id);
    }
    assert_eq!(got, ok.into_iter().collect::<HashSet<_>>());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_master_crashes_the_client_recovers_on_its_replica() {
    let mut cluster = Cluster::start();
    let ns = tagged("crash");
    let rsmq = client(&cluster, &ns, false).await;
    rsmq.create_queue("q", None, None, None).await.unwrap();
    let master = rsmq.cluster_master().await.unwrap();
    let replica = cluster.replica_of(&master);
    // Let the replica have the queue before the crash (replication is asynchronous).
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut on_replica = redis::Client::open(format!("redis://127.0.0.1:{replica}/"))
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    let key = format!("{ns}:q:Q");
    loop {
        let (_, exists): ((), bool) = redis::pipe()
            .cmd("READONLY")
            .cmd("EXISTS")
            .arg(&key)
            .query_async(&mut on_replica)
            .await
            .unwrap();
        if exists {
            break;
        }
        assert!(Instant::now() < deadline, "the replica never got the queue");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    cluster.node(&master).kill();
    let crashed = Instant::now();
    // Calls fail at most until the replica is promoted (node timeout 1 s, then the
    // election), then succeed on the same client.
    let recovered = loop {
        match rsmq.send_message("q", "after", None).await {
            Ok(_) => break crashed.elapsed(),
            Err(_) => {
                assert!(
                    crashed.elapsed() < Duration::from_secs(20),
                    "never recovered"
                );
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    };
    eprintln!("recovered {recovered:?} after the master was killed");
    assert!(recovered < Duration::from_secs(10), "{recovered:?}");
    // The client's view of the slot map may lag the first successful call a moment.
    let promoted = format!("127.0.0.1:{replica}");
    let deadline = Instant::now() + Duration::from_secs(10);
    while rsmq.cluster_master().await.ok().as_ref() != Some(&promoted) {
        assert!(
            Instant::now() < deadline,
            "the client never named {promoted}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let m = rsmq
        .receive_message::<String>("q", None)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(m.message, "after");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn waiters_are_woken_again_after_the_subscribers_node_fails() {
    let mut cluster = Cluster::start();
    let ns = tagged("rt-failover");
    let rsmq = client(&cluster, &ns, true).await;
    rsmq.create_queue("q", None, None, None).await.unwrap();
    // The first wait starts the subscriber, on the first node given.
    rsmq.receive_message_wait::<String>("q", None, Duration::from_millis(1))
        .await
        .unwrap();
    let urls = cluster.urls();
    common::subscribed(&urls[0], &ns).await;
    // That node dies (a master or a replica, as it happens); the subscriber moves on.
    let first = urls[0]
        .trim_start_matches("redis://")
        .trim_end_matches('/')
        .to_string();
    cluster.node(&first).kill();
    common::subscribed(&urls[1], &ns).await;
    // Sends may fail until a replica takes over, if the dead node served the namespace.
    let deadline = Instant::now() + Duration::from_secs(20);
    while rsmq.get_queue_attributes("q").await.is_err() {
        assert!(Instant::now() < deadline, "the namespace never came back");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    common::under(
        rsmq_async::FALLBACK_POLL,
        "woken after the failover",
        async || {
            let producer = rsmq.clone();
            let start = Instant::now();
            let sender = tokio::spawn(async move {
                tokio::time::sleep(Duration::from_millis(100)).await;
                producer.send_message("q", "again", None).await.unwrap()
            });
            let m = rsmq
                .receive_message_wait::<String>("q", None, Duration::from_secs(10))
                .await
                .unwrap()
                .unwrap();
            let took = start.elapsed();
            let id = sender.await.unwrap();
            assert_eq!(m.id, id);
            rsmq.delete_message("q", &id).await.unwrap();
            took
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_blocking_client_runs_on_a_cluster() {
    let nodes = common::cluster::shared().urls();
    let ns = tagged("sync");
    let got = tokio::task::spawn_blocking(move || {
        use rsmq_async::{RsmqConnectionSync, RsmqSync};
        let options = RsmqOptions {
            ns,
            ..Default::default()
        };
        let rsmq = RsmqSync::connect_cluster(nodes, options).unwrap();
        rsmq.create_queue("q", None, None, None).unwrap();
        let id = rsmq.send_message("q", "blocking", None).unwrap();
        let m = rsmq.receive_message::<String>("q", None).unwrap().unwrap();
        assert!(rsmq.delete_message("q", &id).unwrap());
        m.message
    })
    .await
    .unwrap();
    assert_eq!(got, "blocking");
}
