//! Durable sends: `WAIT` for replicas in the same round trip as the send. A primary and a
//! replica of the test's own; a frozen replica (`SIGSTOP`) makes a send report too few
//! acknowledgements, with the id of the message, which is queued all the same.

mod common;

use std::time::{Duration, Instant};

use common::OwnedServer;
use rsmq_async::{Durability, Rsmq, RsmqConnection, RsmqError, RsmqOptions};

const WAIT: Duration = Duration::from_millis(300);

/// A primary and its replica, in sync.
async fn primary_and_replica() -> (OwnedServer, OwnedServer) {
    let primary = OwnedServer::start(&["--repl-diskless-sync-delay", "0"]);
    let port = primary.port.to_string();
    let replica = OwnedServer::start(&["--replicaof", "127.0.0.1", &port]);
    // (The primary starts a sync at once: `repl-diskless-sync-delay 0` below.)
    let mut con = redis::Client::open(primary.url())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let info: String = redis::cmd("INFO")
            .arg("replication")
            .query_async(&mut con)
            .await
            .unwrap();
        if info.contains("connected_slaves:1") && info.contains("state=online") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the replica never synced:\n{info}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Online is not yet acknowledging: wait until a write of our own is acknowledged.
    loop {
        let (_, acked): ((), u64) = redis::pipe()
            .cmd("SET")
            .arg("rsmq-test-sync")
            .arg(1)
            .cmd("WAIT")
            .arg(1)
            .arg(100)
            .query_async(&mut con)
            .await
            .unwrap();
        if acked == 1 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the replica never acknowledged a write"
        );
    }
    (primary, replica)
}

fn durable(server: &OwnedServer, test: &str, replicas: u32) -> RsmqOptions {
    RsmqOptions {
        durable: Some(Durability {
            replicas,
            timeout: WAIT,
        }),
        ..server.options(test)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn durable_sends_return_once_the_replica_has_them() {
    let (primary, replica) = primary_and_replica().await;
    let options = durable(&primary, "durable", 1);
    let ns = options.ns.clone();
    let rsmq = Rsmq::new(options).await.unwrap();
    rsmq.create_queue("q", None, None, None).await.unwrap();
    let mut ids = vec![rsmq.send_message("q", "one", None).await.unwrap()];
    ids.extend(
        rsmq.send_message_batch("q", vec!["b1", "b2"], None)
            .await
            .unwrap(),
    );
    // Large and many: the stored paths (MULTI ... EXEC, then WAIT).
    ids.extend(
        rsmq.send_message_batch("q", vec!["x".repeat(40_000); 3], None)
            .await
            .unwrap(),
    );
    // Concurrent sends coalesce, small and large.
    let sent = futures_util::future::join_all((0..20).map(|i| {
        let rsmq = rsmq.clone();
        let body = if i % 5 == 0 {
            "y".repeat(40_000)
        } else {
            format!("c{i}")
        };
        async move { rsmq.send_message("q", body, None).await }
    }))
    .await;
    for s in sent {
        ids.push(s.unwrap());
    }
    assert_eq!(ids.len(), 26);
    // Each acknowledged send is on the replica when the call returns.
    let mut on_replica = redis::Client::open(replica.url())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    let members: Vec<String> = redis::cmd("ZRANGE")
        .arg(format!("{ns}:q"))
        .arg(0)
        .arg(-1)
        .query_async(&mut on_replica)
        .await
        .unwrap();
    let mut want = ids.clone();
    want.sort();
    let mut got = members;
    got.sort();
    assert_eq!(got, want);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_frozen_replica_makes_a_durable_send_report_too_few_acknowledgements() {
    let (primary, replica) = primary_and_replica().await;
    let rsmq = Rsmq::new(durable(&primary, "frozen", 1)).await.unwrap();
    rsmq.create_queue("q", None, None, None).await.unwrap();
    rsmq.send_message("q", "before", None).await.unwrap();
    let pid = replica.pid().unwrap().to_string();
    assert!(std::process::Command::new("kill")
        .args(["-STOP", &pid])
        .status()
        .unwrap()
        .success());
    let started = Instant::now();
    let err = rsmq.send_message("q", "frozen", None).await.unwrap_err();
    let took = started.elapsed();
    let batch_err = rsmq
        .send_message_batch("q", vec!["f1", "f2"], None)
        .await
        .unwrap_err();
    assert!(std::process::Command::new("kill")
        .args(["-CONT", &pid])
        .status()
        .unwrap()
        .success());
    let RsmqError::NotDurable { ids, acked, wanted } = &err else {
        panic!("{err:?}")
    };
    assert_eq!((ids.len(), *acked, *wanted), (1, 0, 1));
    assert!(took >= WAIT && took < WAIT * 5, "{took:?}");
    assert!(err.to_string().contains(&ids[0]), "{err}");
    let RsmqError::NotDurable { ids: batch_ids, .. } = &batch_err else {
        panic!("{batch_err:?}")
    };
    assert_eq!(batch_ids.len(), 2);
    // The messages are queued all the same, in order.
    let mut got = Vec::new();
    while let Some(m) = rsmq.pop_message::<String>("q").await.unwrap() {
        got.push((m.id, m.message));
    }
    assert_eq!(got.len(), 4);
    assert_eq!(got[1], (ids[0].clone(), "frozen".to_string()));
    assert_eq!(got[2].0, batch_ids[0]);
    assert_eq!(got[3].0, batch_ids[1]);
}

#[tokio::test]
async fn durable_options_that_cannot_work_are_refused_before_connecting() {
    let dead = RsmqOptions {
        host: "127.0.0.1".into(),
        port: 1,
        ..Default::default()
    };
    for (durability, why) in [
        (
            Durability {
                replicas: 0,
                timeout: WAIT,
            },
            "replicas is 0",
        ),
        (
            Durability {
                replicas: 1,
                timeout: Duration::ZERO,
            },
            "above zero",
        ),
        (
            Durability {
                replicas: 1,
                timeout: Duration::from_secs(5),
            },
            "below the response timeout",
        ),
    ] {
        let err = Rsmq::new(RsmqOptions {
            durable: Some(durability),
            ..dead.clone()
        })
        .await
        .unwrap_err();
        let RsmqError::InvalidOptions(text) = &err else {
            panic!("{durability:?}: {err:?}")
        };
        assert!(text.contains(why), "{text}");
    }
    let o: RsmqOptions = "redis://h/?wait_replicas=2".parse().unwrap();
    assert_eq!(
        o.durable,
        Some(Durability {
            replicas: 2,
            timeout: Duration::from_secs(1)
        })
    );
    let o: RsmqOptions = "redis://h/?wait_timeout=250&wait_replicas=1"
        .parse()
        .unwrap();
    assert_eq!(
        o.durable,
        Some(Durability {
            replicas: 1,
            timeout: Duration::from_millis(250)
        })
    );
    assert!(RsmqOptions::from_url("redis://h/?wait_timeout=250").is_err());
    assert!(RsmqOptions::from_url("redis://h/?wait_replicas=x").is_err());
}
