//! Coalescing: concurrent sends, receives and deletes of one client on one queue share
//! script calls, and every caller still gets exactly its own result.

mod common;

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll};
use std::time::Duration;

use futures_util::future::join_all;
use futures_util::task::noop_waker;
use rsmq_async::{Rsmq, RsmqConnection, RsmqError, RsmqOptions};

/// Calls of `name` counted by `INFO commandstats`.
async fn calls(con: &mut redis::aio::MultiplexedConnection, name: &str) -> u64 {
    let info: String = redis::cmd("INFO")
        .arg("commandstats")
        .query_async(con)
        .await
        .unwrap();
    info.lines()
        .find_map(|l| l.strip_prefix(&format!("cmdstat_{name}:calls=")))
        .and_then(|rest| rest.split(',').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

#[tokio::test]
async fn concurrent_calls_share_script_calls_and_each_gets_its_own_result() {
    // A server of its own, so the call counts are this test's alone.
    let server = common::OwnedServer::start(&[]);
    let rsmq = Rsmq::new(server.options("share")).await.unwrap();
    let mut con = redis::Client::open(server.url())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    rsmq.create_queue("q", None, None, None).await.unwrap();
    let before = calls(&mut con, "evalsha").await + calls(&mut con, "eval").await;

    let n = 200;
    let ids = join_all((0..n).map(|i| rsmq.send_message("q", format!("m{i}"), None))).await;
    let ids: Vec<String> = ids.into_iter().map(Result::unwrap).collect();
    assert_eq!(
        ids.iter().collect::<HashSet<_>>().len(),
        n,
        "ids are unique"
    );

    let got = join_all((0..n + 20).map(|_| rsmq.receive_message::<String>("q", None))).await;
    let got: Vec<_> = got.into_iter().map(Result::unwrap).collect();
    assert_eq!(
        got.iter().filter(|m| m.is_none()).count(),
        20,
        "20 found nothing"
    );
    let mut bodies = HashSet::new();
    for m in got.iter().flatten() {
        // Each message went to exactly one caller, with its own body and counters.
        assert!(
            bodies.insert(m.message.clone()),
            "{} received twice",
            m.message
        );
        assert_eq!(m.rc, 1);
        assert!(m.fr > 0);
        assert_eq!(
            ids.iter().position(|id| *id == m.id),
            m.message[1..].parse().ok()
        );
    }
    assert_eq!(bodies.len(), n);

    // Each delete learns about its own id; a repeated id is there only once.
    let mut to_delete: Vec<String> = ids.clone();
    to_delete.push(ids[0].clone());
    let deleted = join_all(to_delete.iter().map(|id| rsmq.delete_message("q", id))).await;
    let deleted: Vec<bool> = deleted.into_iter().map(Result::unwrap).collect();
    assert_eq!(deleted.iter().filter(|d| **d).count(), n);
    assert!(!deleted[n], "the repeat finds nothing");

    let after = calls(&mut con, "evalsha").await + calls(&mut con, "eval").await;
    let made = after - before;
    assert!(
        made < (3 * n as u64) / 4,
        "{made} script calls for {} operations: not coalesced",
        3 * n + 21
    );
    let attrs = rsmq.get_queue_attributes("q").await.unwrap();
    assert_eq!(
        (attrs.totalsent, attrs.totalrecv, attrs.msgs),
        (n as u64, n as u64, 0)
    );
}

#[tokio::test]
async fn a_bad_message_fails_alone_and_a_missing_queue_fails_every_call() {
    let (rsmq, _ns) = common::rsmq("coalesce_errors").await;
    rsmq.create_queue("q", None, None, Some(1024))
        .await
        .unwrap();
    let bodies: Vec<String> = (0..40)
        .map(|i| {
            if i % 4 == 1 {
                "x".repeat(2000)
            } else {
                format!("ok{i}")
            }
        })
        .collect();
    let sent = join_all(
        bodies
            .iter()
            .map(|b| rsmq.send_message("q", b.as_str(), None)),
    )
    .await;
    for (i, r) in sent.iter().enumerate() {
        if i % 4 == 1 {
            assert!(matches!(r, Err(RsmqError::MessageTooLong)), "{i}: {r:?}");
        } else {
            assert!(r.is_ok(), "{i}: {r:?}");
        }
    }
    assert_eq!(rsmq.get_queue_attributes("q").await.unwrap().msgs, 30);

    let missing = join_all((0..20).map(|_| rsmq.send_message("nope", "m", None))).await;
    assert!(missing
        .iter()
        .all(|r| matches!(r, Err(RsmqError::QueueNotFound))));
    let missing = join_all((0..20).map(|_| rsmq.receive_message::<String>("nope", None))).await;
    assert!(missing
        .iter()
        .all(|r| matches!(r, Err(RsmqError::QueueNotFound))));
}

#[tokio::test]
async fn per_call_delays_and_vts_are_kept_in_a_shared_call() {
    let (rsmq, _ns) = common::rsmq("coalesce_params").await;
    rsmq.create_queue("q", None, None, None).await.unwrap();
    let delays = [
        None,
        Some(Duration::from_secs(60)),
        None,
        Some(Duration::ZERO),
    ];
    let sent = join_all((0..40).map(|i| rsmq.send_message("q", "m", delays[i % 4]))).await;
    assert!(sent.iter().all(Result::is_ok));
    // A quarter are delayed by a minute: 30 are receivable.
    let attrs = rsmq.get_queue_attributes("q").await.unwrap();
    assert_eq!((attrs.msgs, attrs.visiblemsgs), (40, 30));

    // Receives with different vts do not share a call: each keeps its own vt.
    let vts = [Some(Duration::ZERO), Some(Duration::from_secs(60))];
    let got = join_all((0..20).map(|i| rsmq.receive_message::<String>("q", vts[i % 2]))).await;
    assert!(got.iter().all(|r| matches!(r, Ok(Some(_)))));
    // The ten received with vt 0 are visible again; the ten with 60 s are hidden.
    let attrs = rsmq.get_queue_attributes("q").await.unwrap();
    assert_eq!(attrs.visiblemsgs, 20);
}

// Tokio only: on smol the connection runs on a thread of its own, so a first poll may
// already finish a call, and the test cannot hold a batch open.
#[cfg(feature = "tokio-comp")]
#[tokio::test]
async fn a_caller_that_gives_up_does_not_stall_or_lose_the_others() {
    let (rsmq, _ns) = common::rsmq("coalesce_cancel").await;
    rsmq.create_queue("q", None, None, None).await.unwrap();
    let waker = noop_waker();
    for round in 0..20 {
        // Keep a call in flight so the next ones open a batch, poll the batch's opener once
        // (it has joined and yielded), then drop it.
        let keep = rsmq.send_message("q", format!("keep{round}"), None);
        let mut keep = Box::pin(keep);
        // The first poll may already finish the call (smol drives the connection on a
        // thread of its own): keep that result rather than polling a finished future.
        let first = keep.as_mut().poll(&mut Context::from_waker(&waker));
        {
            let mut opener = pin!(rsmq.send_message("q", "dropped", None));
            assert!(opener
                .as_mut()
                .poll(&mut Context::from_waker(&waker))
                .is_pending());
        }
        let others =
            join_all((0..5).map(|i| rsmq.send_message("q", format!("o{round}-{i}"), None)));
        let (kept, others) = tokio::time::timeout(Duration::from_secs(5), async {
            let kept = match first {
                Poll::Ready(result) => result,
                Poll::Pending => keep.await,
            };
            (kept, others.await)
        })
        .await
        .expect("no call may hang");
        kept.unwrap();
        assert!(others.iter().all(Result::is_ok));
    }
    // Every kept and joined send arrived; the dropped ones were withdrawn before leaving.
    let mut bodies = Vec::new();
    while let Some(m) = rsmq.pop_message::<String>("q").await.unwrap() {
        bodies.push(m.message);
    }
    assert_eq!(
        bodies.iter().filter(|b| !b.starts_with("dropped")).count(),
        20 * 6
    );
    assert!(
        bodies.iter().all(|b| b != "dropped"),
        "a withdrawn send was sent"
    );
}

#[tokio::test]
async fn realtime_publishes_once_per_coalesced_send() {
    let mut opts = common::options("coalesce_rt");
    opts.realtime = true;
    let ns = opts.ns.clone();
    let rsmq = Rsmq::new(opts).await.unwrap();
    rsmq.create_queue("q", None, None, None).await.unwrap();
    let client = redis::Client::open(common::server().url()).unwrap();
    let mut sub = client.get_async_pubsub().await.unwrap();
    sub.subscribe(format!("{ns}:rt:q")).await.unwrap();
    let sent = join_all((0..30).map(|i| rsmq.send_message("q", format!("m{i}"), None))).await;
    assert!(sent.iter().all(Result::is_ok));
    let mut stream = sub.on_message();
    let mut sizes = Vec::new();
    use futures_util::StreamExt;
    while sizes.len() < 30 {
        let msg = tokio::time::timeout(Duration::from_secs(5), stream.next())
            .await
            .expect("one notification per send")
            .unwrap();
        sizes.push(msg.get_payload::<u64>().unwrap());
    }
    sizes.sort_unstable();
    assert_eq!(sizes, (1..=30).collect::<Vec<u64>>());
}

#[tokio::test]
async fn coalescing_can_be_turned_off() {
    assert!(RsmqOptions::default().coalesce);
    // A server of its own, so the call counts are this test's alone.
    let server = common::OwnedServer::start(&[]);
    let opts: RsmqOptions = format!("{}?coalesce=false", server.url()).parse().unwrap();
    assert!(!opts.coalesce);
    let ns = common::namespace("coalesce_off");
    let rsmq = Rsmq::new(RsmqOptions { ns, ..opts }).await.unwrap();
    let mut con = redis::Client::open(server.url())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    rsmq.create_queue("q", None, None, None).await.unwrap();
    // Load the scripts, so that each call below is one EVALSHA.
    let id = rsmq.send_message("q", "warm-up", None).await.unwrap();
    rsmq.receive_message::<String>("q", None).await.unwrap();
    assert!(rsmq.delete_message("q", &id).await.unwrap());

    // Concurrent calls, each its own round trip: a script per send and per receive, a
    // MULTI/EXEC per delete.
    let n = 20;
    let scripts = async |con: &mut _| calls(con, "evalsha").await + calls(con, "eval").await;
    let before = scripts(&mut con).await;
    let sent = join_all((0..n).map(|i| rsmq.send_message("q", format!("m{i}"), None))).await;
    let ids: Vec<String> = sent.into_iter().map(Result::unwrap).collect();
    assert_eq!(
        scripts(&mut con).await - before,
        n,
        "script calls for {n} sends"
    );

    let before = scripts(&mut con).await;
    let got = join_all((0..n).map(|_| rsmq.receive_message::<String>("q", None))).await;
    assert!(got.iter().all(|m| matches!(m, Ok(Some(_)))));
    assert_eq!(
        scripts(&mut con).await - before,
        n,
        "script calls for {n} receives"
    );

    let before = calls(&mut con, "exec").await;
    let deleted = join_all(ids.iter().map(|id| rsmq.delete_message("q", id))).await;
    assert!(deleted.into_iter().all(|d| d.unwrap()));
    assert_eq!(
        calls(&mut con, "exec").await - before,
        n,
        "EXECs for {n} deletes"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_coalesced_from_several_threads_each_get_their_own_result() {
    let (rsmq, _ns) = common::rsmq("coalesce_threads").await;
    rsmq.create_queue("q", None, None, None).await.unwrap();
    const TASKS: usize = 8;
    const ROUNDS: usize = 5;
    const PER: usize = 100;
    const N: usize = TASKS * ROUNDS * PER;

    // Sends: tasks on both threads send rounds of concurrent bodies to one queue (up to
    // 800 at once, more than one batch holds).
    let sending = (0..TASKS).map(|t| {
        let rsmq = rsmq.clone();
        tokio::spawn(async move {
            let mut mine = Vec::new();
            for round in 0..ROUNDS {
                let bodies: Vec<String> = (0..PER).map(|i| format!("{t}:{round}:{i}")).collect();
                let ids = join_all(
                    bodies
                        .iter()
                        .map(|b| rsmq.send_message("q", b.as_str(), None)),
                )
                .await;
                mine.extend(ids.into_iter().map(Result::unwrap).zip(bodies));
            }
            mine
        })
    });
    let mut sent = HashMap::new();
    for task in join_all(sending).await {
        for (id, body) in task.unwrap() {
            assert!(sent.insert(id, body).is_none(), "an id returned twice");
        }
    }
    assert_eq!(sent.len(), N);

    // Receives: each message goes to exactly one caller, under the id its send returned.
    let receiving = (0..TASKS).map(|_| {
        let rsmq = rsmq.clone();
        tokio::spawn(async move {
            let mut mine = Vec::new();
            loop {
                let got =
                    join_all((0..PER).map(|_| rsmq.receive_message::<String>("q", None))).await;
                let got: Vec<_> = got.into_iter().map(Result::unwrap).collect();
                let empty = got.iter().any(Option::is_none);
                mine.extend(got.into_iter().flatten());
                if empty {
                    return mine; // nothing was left to receive
                }
            }
        })
    });
    let mut received = HashSet::new();
    for task in join_all(receiving).await {
        for m in task.unwrap() {
            assert_eq!(
                Some(&m.message),
                sent.get(&m.id),
                "{} has another body",
                m.id
            );
            assert_eq!(m.rc, 1);
            assert!(received.insert(m.id), "a message received twice");
        }
    }
    assert_eq!(received.len(), N);

    // Deletes: every id twice, from two tasks; exactly one of the two finds it.
    let ids: Vec<String> = sent.into_keys().collect();
    let chunks: Vec<Vec<String>> = ids.chunks(N / TASKS).map(<[String]>::to_vec).collect();
    let deleting = (0..TASKS).map(|t| {
        let rsmq = rsmq.clone();
        let mine: Vec<String> = [chunks[t].as_slice(), &chunks[(t + 1) % TASKS]].concat();
        tokio::spawn(async move {
            let found = join_all(mine.iter().map(|id| rsmq.delete_message("q", id))).await;
            mine.into_iter()
                .zip(found)
                .filter_map(|(id, found)| found.unwrap().then_some(id))
                .collect::<Vec<_>>()
        })
    });
    let mut deleted = HashSet::new();
    for task in join_all(deleting).await {
        for id in task.unwrap() {
            assert!(deleted.insert(id), "a message deleted twice");
        }
    }
    assert_eq!(deleted.len(), N);
    let attrs = rsmq.get_queue_attributes("q").await.unwrap();
    assert_eq!(
        (attrs.totalsent, attrs.totalrecv, attrs.msgs),
        (N as u64, N as u64, 0)
    );
}

#[tokio::test]
async fn large_sends_store_bodies_with_a_plain_hset_and_keep_every_effect() {
    // A server of its own, so the EVAL count is this test's alone.
    let server = common::OwnedServer::start(&[]);
    let ns = "large";
    let opts = server.options(ns);
    let rsmq = Rsmq::new(opts.clone()).await.unwrap();
    let mut con = redis::Client::open(server.url())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    rsmq.create_queue("q", None, None, Some(40_000))
        .await
        .unwrap();
    // Every fourth body is over maxsize; the others are 20 KiB, so batches take the
    // stored path.
    let bodies: Vec<String> = (0..48)
        .map(|i| {
            let len = if i % 4 == 1 { 50_000 } else { 20_000 };
            format!("{i:02}:") + &"b".repeat(len)
        })
        .collect();
    let sent = join_all(
        bodies
            .iter()
            .map(|b| rsmq.send_message("q", b.as_str(), None)),
    )
    .await;
    assert!(calls(&mut con, "eval").await > 0, "the stored path ran");
    for (i, r) in sent.iter().enumerate() {
        if i % 4 == 1 {
            assert!(matches!(r, Err(RsmqError::MessageTooLong)), "{i}: {r:?}");
        } else {
            assert!(r.is_ok(), "{i}: {r:?}");
        }
    }
    // No body of a failed send is left behind: the hash holds the attributes and the 36.
    let fields: Vec<String> = redis::cmd("HKEYS")
        .arg(format!("{}:q:Q", opts.ns))
        .query_async(&mut con)
        .await
        .unwrap();
    let ids: Vec<&String> = fields.iter().filter(|f| f.len() == 32).collect();
    assert_eq!(ids.len(), 36, "{fields:?}");
    let attrs = rsmq.get_queue_attributes("q").await.unwrap();
    assert_eq!((attrs.msgs, attrs.totalsent), (36, 36));
    // Each score is the time its id carries (the queue has no delay), as JS writes them.
    for id in sent.iter().flatten() {
        let score: u64 = redis::cmd("ZSCORE")
            .arg(format!("{}:q", opts.ns))
            .arg(id)
            .query_async(&mut con)
            .await
            .unwrap();
        let micros = u64::from_str_radix(&id[..10], 36).unwrap();
        let units = if cfg!(feature = "break-js-comp") {
            micros
        } else {
            micros / 1000
        };
        // Ids of a batch carry increasing microseconds from one time; its score is that time.
        assert!(
            score <= units && units - score < 48,
            "{id}: {score} vs {units}"
        );
    }

    // Each body comes back whole, to exactly one receiver, under the id its send returned.
    let got = join_all((0..40).map(|_| rsmq.receive_message::<String>("q", None))).await;
    let got: Vec<_> = got.into_iter().map(Result::unwrap).collect();
    assert_eq!(got.iter().flatten().count(), 36);
    for m in got.iter().flatten() {
        let i: usize = m.message[..2].parse().unwrap();
        assert_eq!(m.message, bodies[i]);
        assert_eq!(sent[i].as_ref().unwrap(), &m.id);
    }

    // A missing queue: every send fails and nothing is written.
    let missing =
        join_all((0..20).map(|_| rsmq.send_message("nope", bodies[0].as_str(), None))).await;
    assert!(missing
        .iter()
        .all(|r| matches!(r, Err(RsmqError::QueueNotFound))));
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{}:nope*", opts.ns))
        .query_async(&mut con)
        .await
        .unwrap();
    assert!(keys.is_empty(), "{keys:?}");
}

#[tokio::test]
async fn receives_of_large_bodies_read_them_with_a_plain_hmget_and_the_same_results() {
    // A server of its own, so the HEXISTS count is this test's alone.
    let server = common::OwnedServer::start(&[]);
    let opts = server.options("large_recv");
    let rsmq = Rsmq::new(opts).await.unwrap();
    let mut con = redis::Client::open(server.url())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    rsmq.create_queue("q", None, None, None).await.unwrap();
    // The first round teaches the client the queue's body size; later rounds read the
    // bodies outside Lua.
    for round in 0..3 {
        let bodies: Vec<String> = (0..30)
            .map(|i| format!("{round}:{i:02}:") + &"r".repeat(20_000))
            .collect();
        let ids = join_all(
            bodies
                .iter()
                .map(|b| rsmq.send_message("q", b.as_str(), None)),
        )
        .await;
        let ids: Vec<String> = ids.into_iter().map(Result::unwrap).collect();
        let got = join_all((0..35).map(|_| rsmq.receive_message::<String>("q", None))).await;
        let got: Vec<_> = got.into_iter().map(Result::unwrap).collect();
        assert_eq!(
            got.iter().filter(|m| m.is_none()).count(),
            5,
            "round {round}"
        );
        let mut seen = HashSet::new();
        for m in got.iter().flatten() {
            let i: usize = m.message[2..4].parse().unwrap();
            assert_eq!(m.message, bodies[i], "round {round}");
            assert_eq!(m.id, ids[i]);
            assert!(seen.insert(i), "message {i} received twice");
            assert_eq!(m.rc, 1);
            assert!(m.fr > 0 && m.sent > 0);
        }
        let deleted = join_all(
            got.iter()
                .flatten()
                .map(|m| rsmq.delete_message("q", &m.id)),
        )
        .await;
        assert!(deleted.into_iter().all(|d| d.unwrap()));
    }
    assert!(calls(&mut con, "hexists").await > 0, "the heads path ran");
    let attrs = rsmq.get_queue_attributes("q").await.unwrap();
    assert_eq!((attrs.totalrecv, attrs.msgs), (90, 0));
}

// Tokio only: on smol, stored batches in flight together may read TIME out of their
// order of leaving (see the coalescing guide).
#[cfg(feature = "tokio-comp")]
#[tokio::test]
async fn large_sends_in_several_batches_keep_their_order() {
    let (rsmq, _ns) = common::rsmq("large_order").await;
    rsmq.create_queue("q", None, None, None).await.unwrap();
    for round in 0..3 {
        // Several stored batches in flight at once read Redis TIME close together.
        let bodies: Vec<String> = (0..40)
            .map(|i| format!("{round}:{i:02}:") + &"o".repeat(20_000))
            .collect();
        let sent = join_all(
            bodies
                .iter()
                .map(|b| rsmq.send_message("q", b.as_str(), None)),
        )
        .await;
        let ids: Vec<String> = sent.into_iter().map(Result::unwrap).collect();
        let mut sorted = ids.clone();
        sorted.sort();
        assert_eq!(sorted, ids, "round {round}: ids increase in arrival order");
        for (i, body) in bodies.iter().enumerate() {
            let m = rsmq.pop_message::<String>("q").await.unwrap().unwrap();
            assert_eq!(&m.message, body, "round {round}: message {i} in order");
        }
    }
}
