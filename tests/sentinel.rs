//! Redis Sentinel: one master, two replicas and three sentinels on loopback, started by each
//! test (free ports; everything killed and removed when the test ends, failed or not).
//! Operations through the sentinels; a graceful failover and a crashed master under a
//! producer; clear errors.
#![cfg(feature = "sentinel")]

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::sentinel::{cli, data_node_args, Deployment, Passwords, SentinelServer, MASTER};
use rsmq_async::{Rsmq, RsmqConnection, RsmqError, RsmqOptions};

async fn client(d: &Deployment, test: &str, realtime: bool) -> (Rsmq, String) {
    let ns = common::namespace(test);
    let options = RsmqOptions {
        ns: ns.clone(),
        realtime,
        ..Default::default()
    };
    let rsmq = Rsmq::new_sentinel(d.sentinel_addrs(), MASTER, options)
        .await
        .expect("connect through the sentinels");
    (rsmq, ns)
}

#[tokio::test]
async fn operations_go_to_the_master() {
    let d = Deployment::start();
    let (rsmq, ns) = client(&d, "ops", true).await;
    let master = d.master_port();
    assert_eq!(
        rsmq.sentinel_master().await.unwrap(),
        format!("127.0.0.1:{master}")
    );
    rsmq.create_queue("q", None, None, None).await.unwrap();
    let id = rsmq.send_message("q", "one", None).await.unwrap();
    let msg = rsmq
        .receive_message::<String>("q", None)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (msg.id.as_str(), msg.message.as_str()),
        (id.as_str(), "one")
    );
    assert!(rsmq.delete_message("q", &id).await.unwrap());
    let ids = rsmq
        .send_message_batch("q", vec!["a", "b", "c"], None)
        .await
        .unwrap();
    assert_eq!(d.ids(master, &ns, "q"), {
        let mut sorted = ids.clone();
        sorted.sort();
        sorted
    });
    let batch = rsmq
        .receive_message_batch::<String>("q", None, 10)
        .await
        .unwrap();
    assert_eq!(batch.len(), 3);
    let got: Vec<&str> = batch.iter().map(|m| m.id.as_str()).collect();
    assert_eq!(rsmq.delete_message_batch("q", &got).await.unwrap(), 3);
    assert_eq!(rsmq.list_queues().await.unwrap(), vec!["q".to_string()]);

    // Long polling woken by the realtime notification of a send.
    let waiter = rsmq.clone();
    let wait = tokio::spawn(async move {
        let start = Instant::now();
        let got = waiter
            .receive_message_wait::<String>("q", None, Duration::from_secs(10))
            .await
            .unwrap();
        (got, start.elapsed())
    });
    // The subscriber listens on a replica (Redis replicates PUBLISH) or on the master.
    let listening = Instant::now();
    while d
        .nodes
        .iter()
        .all(|n| cli(n.port, &["pubsub", "numpat"]).trim() == "0")
    {
        assert!(
            listening.elapsed() < Duration::from_secs(10),
            "no subscriber"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let sent_at = Instant::now();
    rsmq.send_message("q", "wake", None).await.unwrap();
    let (got, _) = wait.await.unwrap();
    assert_eq!(got.unwrap().message, "wake");
    assert!(
        sent_at.elapsed() < Duration::from_millis(400),
        "woken after {:?}, not by the notification",
        sent_at.elapsed()
    );

    // The client's event subscriptions on the sentinels end with the client.
    let subscribed = |d: &Deployment| {
        d.sentinels
            .iter()
            .map(|s| cli(s.port, &["client", "list"]).matches("psub=1").count())
            .sum::<usize>()
    };
    let listening = Instant::now();
    while subscribed(&d) < 3 {
        assert!(
            listening.elapsed() < Duration::from_secs(5),
            "not subscribed"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    drop(rsmq);
    let dropped = Instant::now();
    while subscribed(&d) > 0 {
        assert!(
            dropped.elapsed() < Duration::from_secs(5),
            "subscriptions left"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Sends until stopped, recording every acknowledged id and when the last error was.
fn producer(
    rsmq: Rsmq,
    stop: Arc<AtomicBool>,
) -> tokio::task::JoinHandle<(Vec<(Instant, String)>, usize)> {
    tokio::spawn(async move {
        let mut acked = Vec::new();
        let mut errors = 0;
        let mut n = 0u64;
        while !stop.load(Ordering::Relaxed) {
            n += 1;
            match rsmq.send_message("q", format!("m{n}"), None).await {
                Ok(id) => acked.push((Instant::now(), id)),
                Err(_) => errors += 1,
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        (acked, errors)
    })
}

/// `SENTINEL FAILOVER` under a producer: every acknowledged send is on the new master, the
/// client writes there afterwards, and realtime notifications wake waiters again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_graceful_failover_loses_no_acknowledged_send() {
    let d = Deployment::start();
    let (rsmq, ns) = client(&d, "graceful", true).await;
    rsmq.create_queue("q", None, None, None).await.unwrap();
    rsmq.create_queue("rt", None, None, None).await.unwrap();
    let old = d.master_port();
    let stop = Arc::new(AtomicBool::new(false));
    let producing = producer(rsmq.clone(), stop.clone());
    tokio::time::sleep(Duration::from_millis(300)).await;
    let asked = Instant::now();
    // The sentinel may not yet consider a replica good enough: ask until it accepts.
    loop {
        let out = cli(d.sentinels[0].port, &["sentinel", "failover", MASTER]);
        if out.trim() == "OK" {
            break;
        }
        assert!(
            asked.elapsed() < Duration::from_secs(10),
            "SENTINEL FAILOVER: {out}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let new = tokio::task::spawn_blocking({
        let ports: Vec<u16> = d.sentinels.iter().map(|s| s.port).collect();
        move || wait_all_name_other(&ports, old, Duration::from_secs(15))
    })
    .await
    .unwrap();
    let switched = asked.elapsed();
    // Keep producing a while on the new master, then stop.
    tokio::time::sleep(Duration::from_millis(700)).await;
    stop.store(true, Ordering::Relaxed);
    let (acked, errors) = producing.await.unwrap();
    let on_new: std::collections::HashSet<String> = d.ids(new, &ns, "q").into_iter().collect();
    let lost: Vec<&String> = acked
        .iter()
        .map(|(_, id)| id)
        .filter(|id| !on_new.contains(*id))
        .collect();
    eprintln!(
        "graceful failover: sentinels switched after {switched:?}; {} sends acknowledged, \
         {errors} failed, {} not on the new master; sending stalled at most {:?}",
        acked.len(),
        lost.len(),
        longest_gap(&acked)
    );
    assert!(lost.is_empty(), "acknowledged sends lost: {lost:?}");
    assert_eq!(
        rsmq.sentinel_master().await.unwrap(),
        format!("127.0.0.1:{new}")
    );
    // The client writes to the new master now.
    let id = rsmq.send_message("q", "after", None).await.unwrap();
    assert!(d.ids(new, &ns, "q").contains(&id));
    // And long polling is woken by realtime notifications again.
    common::under(
        Duration::from_millis(400),
        "a wake-up after the failover",
        async || {
            let waiter = rsmq.clone();
            let wait = tokio::spawn(async move {
                waiter
                    .receive_message_wait::<String>("rt", None, Duration::from_secs(5))
                    .await
                    .unwrap()
            });
            tokio::time::sleep(Duration::from_millis(100)).await;
            let sent = Instant::now();
            rsmq.send_message("rt", "wake", None).await.unwrap();
            assert_eq!(wait.await.unwrap().unwrap().message, "wake");
            sent.elapsed()
        },
    )
    .await;
}

/// The longest time between two acknowledged sends: how long sending stalled.
fn longest_gap(acked: &[(Instant, String)]) -> Duration {
    acked
        .windows(2)
        .map(|w| w[1].0 - w[0].0)
        .max()
        .unwrap_or_default()
}

/// Waits until every sentinel names a master other than `old`; its port.
fn wait_all_name_other(sentinels: &[u16], old: u16, within: Duration) -> u16 {
    let deadline = Instant::now() + within;
    loop {
        let ports: Vec<Option<u16>> = sentinels
            .iter()
            .map(|&s| {
                cli(s, &["sentinel", "get-master-addr-by-name", MASTER])
                    .lines()
                    .nth(1)
                    .and_then(|p| p.trim().parse().ok())
            })
            .collect();
        if let Some(Some(p)) = ports.first() {
            if *p != old && ports.iter().all(|q| *q == Some(*p)) {
                return *p;
            }
        }
        assert!(Instant::now() < deadline, "no switch from {old}: {ports:?}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Waits until one of `sentinels` names another master than `old`.
fn wait_any_names_other(sentinels: &[u16], old: u16, within: Duration) {
    let deadline = Instant::now() + within;
    while !sentinels.iter().any(|&s| {
        cli(s, &["sentinel", "get-master-addr-by-name", MASTER])
            .lines()
            .nth(1)
            .and_then(|p| p.trim().parse::<u16>().ok())
            .is_some_and(|p| p != old)
    }) {
        assert!(Instant::now() < deadline, "no sentinel switched from {old}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The master killed (SIGKILL), with one sentinel hanging as well: sends wait for the new
/// master and succeed soon after the sentinels name it; the old master, back and empty,
/// gets nothing. How long the sentinels take is theirs: about 2 s here, but when their first
/// election fails (a split vote) they try again after twice `failover-timeout`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crashed_master_is_replaced_within_seconds() {
    let mut d = Deployment::start();
    let (rsmq, ns) = client(&d, "crash", false).await;
    rsmq.create_queue("q", None, None, None).await.unwrap();
    let old = d.master_port();
    let stop = Arc::new(AtomicBool::new(false));
    let producing = producer(rsmq.clone(), stop.clone());
    tokio::time::sleep(Duration::from_millis(300)).await;
    // One sentinel hangs too (SIGSTOP: connections open, nothing answers): the two others
    // still make a quorum and elect a leader, and the client does not wait for it.
    d.sentinels[2].freeze();
    let killed = Instant::now();
    d.node(old).kill();
    // When the first of the two sentinels that answer names the new master.
    let switch = tokio::task::spawn_blocking({
        let ports: Vec<u16> = d.sentinels[..2].iter().map(|s| s.port).collect();
        move || {
            wait_any_names_other(&ports, old, Duration::from_secs(30));
            killed.elapsed()
        }
    });
    // The first send acknowledged after the kill.
    let recovered = loop {
        if rsmq.send_message("q", "probe", None).await.is_ok() {
            break killed.elapsed();
        }
        assert!(
            killed.elapsed() < Duration::from_secs(30),
            "no send succeeded 30 s after the crash"
        );
    };
    let switched = switch.await.unwrap();
    let new = tokio::task::spawn_blocking({
        // The two sentinels that answer.
        let ports: Vec<u16> = d.sentinels[..2].iter().map(|s| s.port).collect();
        move || wait_all_name_other(&ports, old, Duration::from_secs(15))
    })
    .await
    .unwrap();
    // The old master comes back empty, as a master, until the sentinels demote it: the
    // client must not write there.
    d.node(old).restart();
    tokio::time::sleep(Duration::from_millis(700)).await;
    stop.store(true, Ordering::Relaxed);
    let (acked, errors) = producing.await.unwrap();
    let on_new: std::collections::HashSet<String> = d.ids(new, &ns, "q").into_iter().collect();
    let (before, after): (Vec<_>, Vec<_>) = acked.iter().partition(|(at, _)| *at < killed);
    let lost_after: Vec<&String> = after
        .iter()
        .map(|(_, id)| id)
        .filter(|id| !on_new.contains(*id))
        .collect();
    let lost_before = before.iter().filter(|(_, id)| !on_new.contains(id)).count();
    eprintln!(
        "crashed master: a sentinel named the new master {switched:?} after the kill, the \
         first send was acknowledged {recovered:?} after it; {} sends acknowledged ({} \
         before the crash, {lost_before} of them lost), {errors} failed; sending stalled at \
         most {:?}",
        acked.len(),
        before.len(),
        longest_gap(&acked)
    );
    assert!(
        lost_after.is_empty(),
        "acknowledged sends lost: {lost_after:?}"
    );
    assert!(
        recovered < switched + Duration::from_secs(3),
        "the client recovered {recovered:?} after the kill, the sentinels switched after \
         {switched:?}"
    );
    assert_eq!(
        rsmq.sentinel_master().await.unwrap(),
        format!("127.0.0.1:{new}")
    );
}

/// A master demoted behind the client's back (no failover announced) answers `READONLY`:
/// the client asks the sentinels again and sends once more, to the new master.
#[tokio::test]
async fn a_readonly_master_is_left_for_the_one_the_sentinels_name() {
    let args = data_node_args();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let old = common::OwnedServer::start(&args);
    let port = old.port.to_string();
    let mut args = data_node_args().to_vec();
    args.extend(["--replicaof".into(), "127.0.0.1".into(), port]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let new = common::OwnedServer::start(&args);
    let sentinel = SentinelServer::start(Some(old.port));
    let ns = common::namespace("readonly");
    let options = RsmqOptions {
        ns: ns.clone(),
        ..Default::default()
    };
    let rsmq = Rsmq::new_sentinel([sentinel.addr()], MASTER, options)
        .await
        .unwrap();
    rsmq.create_queue("q", None, None, None).await.unwrap();
    let first = rsmq.send_message("q", "before", None).await.unwrap();
    let replicated = Instant::now();
    while !cli(new.port, &["zrange", &format!("{ns}:q"), "0", "-1"]).contains(&first) {
        assert!(
            replicated.elapsed() < Duration::from_secs(10),
            "no replication"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Swap the roles by hand, and point the sentinel at the new master.
    assert_eq!(cli(new.port, &["replicaof", "no", "one"]).trim(), "OK");
    cli(sentinel.port, &["sentinel", "remove", MASTER]);
    let monitor = cli(
        sentinel.port,
        &[
            "sentinel",
            "monitor",
            MASTER,
            "127.0.0.1",
            &new.port.to_string(),
            "1",
        ],
    );
    assert_eq!(monitor.trim(), "OK");
    assert_eq!(
        cli(old.port, &["replicaof", "127.0.0.1", &new.port.to_string()]).trim(),
        "OK"
    );
    assert!(cli(old.port, &["set", "probe", "x"]).contains("READONLY"));
    let second = rsmq.send_message("q", "after", None).await.unwrap();
    assert_eq!(
        rsmq.sentinel_master().await.unwrap(),
        format!("127.0.0.1:{}", new.port)
    );
    let on_new = cli(new.port, &["zrange", &format!("{ns}:q"), "0", "-1"]);
    assert!(
        on_new.contains(&first) && on_new.contains(&second),
        "{on_new}"
    );
}

/// Data nodes and sentinels with passwords of their own: the data nodes' password (from the
/// options) never goes to a sentinel, which would refuse it; the sentinels' goes in their
/// addresses.
#[tokio::test]
async fn passwords_for_the_data_nodes_and_for_the_sentinels() {
    let d = Deployment::start_with(Passwords {
        data: Some("data-pw".into()),
        sentinel: Some("sentinel-pw".into()),
    });
    let ns = common::namespace("passwords");
    let options = RsmqOptions {
        ns: ns.clone(),
        password: Some("data-pw".into()),
        ..Default::default()
    };
    let sentinels: Vec<String> = d
        .sentinel_addrs()
        .iter()
        .map(|a| format!("redis://:sentinel-pw@{a}"))
        .collect();
    let rsmq = Rsmq::new_sentinel(&sentinels, MASTER, options.clone())
        .await
        .unwrap();
    rsmq.create_queue("q", None, None, None).await.unwrap();
    let id = rsmq.send_message("q", "secret", None).await.unwrap();
    assert_eq!(d.ids(d.master_port(), &ns, "q"), vec![id]);

    // A wrong password for the data nodes: the error names the master, at once.
    let wrong = RsmqOptions {
        password: Some("wrong-pw".into()),
        ..options.clone()
    };
    let start = Instant::now();
    let err = Rsmq::new_sentinel(&sentinels, MASTER, wrong)
        .await
        .unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, RsmqError::CannotConnect { .. }), "{text}");
    assert!(
        text.contains(&format!("127.0.0.1:{}", d.master_port())) && !text.contains("-pw"),
        "{text}"
    );
    assert!(
        start.elapsed() < Duration::from_secs(2),
        "{:?}",
        start.elapsed()
    );

    // Without the sentinels' password: no sentinel answers, and no password shows.
    let err = Rsmq::new_sentinel(d.sentinel_addrs(), MASTER, options)
        .await
        .unwrap_err();
    let text = err.to_string();
    eprintln!("without the sentinels' password: {text}");
    assert!(matches!(err, RsmqError::CannotConnect { .. }), "{text}");
    assert!(
        text.contains(&d.sentinel_addrs()[0]) && !text.contains("-pw"),
        "{text}"
    );
}

#[tokio::test]
async fn errors_name_the_sentinels_and_no_password() {
    let options = RsmqOptions {
        password: Some("data-node-secret".into()),
        connection_timeout: Duration::from_millis(500),
        ..Default::default()
    };
    // No sentinel.
    let none: [&str; 0] = [];
    let err = Rsmq::new_sentinel(none, MASTER, options.clone())
        .await
        .unwrap_err();
    assert!(matches!(err, RsmqError::InvalidOptions(_)), "{err}");

    // Nothing listens.
    let dead = [
        format!("127.0.0.1:{}", common::free_port()),
        format!("redis://:sentinel-secret@127.0.0.1:{}", common::free_port()),
    ];
    let start = Instant::now();
    let err = Rsmq::new_sentinel(&dead, MASTER, options.clone())
        .await
        .unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, RsmqError::CannotConnect { .. }), "{text}");
    assert!(text.contains(&dead[0]), "{text}");
    assert!(!text.contains("secret"), "{text}");
    assert!(
        start.elapsed() < Duration::from_secs(3),
        "{:?}",
        start.elapsed()
    );

    // A sentinel that knows no such master.
    let sentinel = SentinelServer::start(None);
    let err = Rsmq::new_sentinel([sentinel.addr()], "no-such-master", options)
        .await
        .unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, RsmqError::CannotConnect { .. }), "{text}");
    assert!(
        text.contains(&sentinel.addr()) && text.contains("no-such-master"),
        "{text}"
    );
    assert!(!text.contains("secret"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_blocking_client_connects_through_the_sentinels() {
    let d = Deployment::start();
    let sentinels = d.sentinel_addrs();
    let ns = common::namespace("sync");
    let got = tokio::task::spawn_blocking(move || {
        use rsmq_async::{RsmqConnectionSync, RsmqSync};
        let options = RsmqOptions {
            ns,
            ..Default::default()
        };
        let rsmq = RsmqSync::connect_sentinel(sentinels, MASTER, options).unwrap();
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

/// Durable sends through the sentinels wait for the master's replicas: two exist, so a wait
/// for two is met and a wait for three reports too few, with the message still queued.
#[tokio::test]
async fn durable_sends_wait_for_the_replicas_of_the_master() {
    let d = Deployment::start();
    let ns = common::namespace("durable");
    let options = |replicas| RsmqOptions {
        ns: ns.clone(),
        durable: Some(rsmq_async::Durability {
            replicas,
            timeout: Duration::from_millis(300),
        }),
        ..Default::default()
    };
    let two = Rsmq::new_sentinel(d.sentinel_addrs(), MASTER, options(2))
        .await
        .unwrap();
    two.create_queue("q", None, None, None).await.unwrap();
    let id = two.send_message("q", "kept twice", None).await.unwrap();
    let three = Rsmq::new_sentinel(d.sentinel_addrs(), MASTER, options(3))
        .await
        .unwrap();
    let err = three.send_message("q", "kept", None).await.unwrap_err();
    let RsmqError::NotDurable { ids, acked, wanted } = &err else {
        panic!("expected NotDurable, got {err}");
    };
    assert_eq!((ids.len(), *acked, *wanted), (1, 2, 3), "{err}");
    let mut queued = d.ids(d.master_port(), &ns, "q");
    queued.sort();
    let mut expected = vec![id, ids[0].clone()];
    expected.sort();
    assert_eq!(queued, expected, "both sends are queued");
}
