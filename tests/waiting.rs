//! Long polling and its subscriber: endless waits, queue names, many waiters, a subscriber
//! that may not subscribe, and a client used from one runtime after another.

mod capture;
mod common;

use std::time::Duration;

use rsmq_async::{Rsmq, RsmqConnection, RsmqError};

/// Sleeps on whichever runtime runs the test.
async fn pause(d: Duration) {
    #[cfg(feature = "tokio-comp")]
    if tokio::runtime::Handle::try_current().is_ok() {
        return tokio::time::sleep(d).await;
    }
    #[cfg(feature = "smol-comp")]
    smol::Timer::after(d).await;
    #[cfg(not(feature = "smol-comp"))]
    std::thread::sleep(d);
}

/// A wait too long to represent has no deadline: it returns the message sent after it began.
async fn an_endless_wait_returns_a_later_message(rsmq: Rsmq) {
    rsmq.create_queue("q", None, None, None).await.unwrap();
    for wait in [Duration::MAX, Duration::from_secs(u64::MAX / 2)] {
        let waiter = rsmq.clone();
        let sender = rsmq.clone();
        let send = async move {
            pause(Duration::from_millis(100)).await;
            sender.send_message("q", "late", None).await.unwrap()
        };
        let wait = async move { waiter.receive_message_wait::<String>("q", None, wait).await };
        let (got, id) = futures_util::future::join(wait, send).await;
        let m = got
            .unwrap()
            .expect("a message, not the end of an endless wait");
        assert_eq!((m.id, m.message.as_str()), (id, "late"));
    }
}

/// Invalid names are refused before any waiting, however long the wait.
async fn invalid_queue_names_are_refused_at_once(rsmq: Rsmq) {
    let long = "q".repeat(10 * 1024 * 1024);
    for (name, expected) in [
        ("", RsmqError::MissingParameter("qname".into())),
        ("bad name!", RsmqError::InvalidFormat("qname".into())),
        ("QUEUES", RsmqError::InvalidFormat("qname".into())),
        (long.as_str(), RsmqError::InvalidFormat("qname".into())),
    ] {
        let err = rsmq
            .receive_message_wait::<String>(name, None, Duration::MAX)
            .await
            .unwrap_err();
        assert_eq!(err.to_string(), expected.to_string());
    }
}

#[cfg(feature = "tokio-comp")]
mod tokio_runtime {
    use super::*;
    use rsmq_async::RsmqOptions;
    use std::time::Instant;

    /// Polls `check` every 20 ms until it holds, failing after a generous `limit`.
    async fn eventually<F, Fut>(what: &str, limit: Duration, mut check: F)
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = bool>,
    {
        let start = Instant::now();
        while !check().await {
            assert!(start.elapsed() < limit, "not within {limit:?}: {what}");
            pause(Duration::from_millis(20)).await;
        }
    }

    #[tokio::test]
    async fn an_endless_wait_returns_a_later_message() {
        let (rsmq, _) = common::rsmq("endless").await;
        super::an_endless_wait_returns_a_later_message(rsmq).await;
    }

    #[tokio::test]
    async fn invalid_queue_names_are_refused_at_once() {
        let (rsmq, _) = common::rsmq("invalid").await;
        super::invalid_queue_names_are_refused_at_once(rsmq).await;
    }

    /// Through the blocking client, whose waits run on its own runtime.
    #[cfg(feature = "sync")]
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_endless_wait_of_the_blocking_client_returns_a_later_message() {
        use rsmq_async::RsmqConnectionSync;

        let opts = common::options("endless-sync");
        let sync = rsmq_async::RsmqSync::new(opts.clone()).await.unwrap();
        let producer = Rsmq::new(opts).await.unwrap();
        producer.create_queue("q", None, None, None).await.unwrap();
        let wait = tokio::task::spawn_blocking(move || {
            sync.receive_message_wait::<String>("q", None, Duration::MAX)
        });
        tokio::time::sleep(Duration::from_millis(100)).await;
        let id = producer.send_message("q", "late", None).await.unwrap();
        let m = tokio::time::timeout(Duration::from_secs(30), wait)
            .await
            .expect("the wait returns")
            .unwrap()
            .unwrap()
            .expect("a message");
        assert_eq!((m.id, m.message.as_str()), (id, "late"));
    }

    /// Each message of a realtime producer wakes one waiter; every waiter gets one message.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn many_waiters_share_the_messages_of_a_realtime_producer() {
        let (rsmq, ns) = common::rsmq("herd").await;
        let producer = Rsmq::new(RsmqOptions {
            realtime: true,
            ns,
            ..common::options("herd-producer")
        })
        .await
        .unwrap();
        rsmq.create_queue("q", None, None, None).await.unwrap();
        let waiters: Vec<_> = (0..6)
            .map(|_| {
                let rsmq = rsmq.clone();
                tokio::spawn(async move {
                    rsmq.receive_message_wait::<String>("q", None, Duration::from_secs(60))
                        .await
                        .unwrap()
                        .expect("a message")
                        .message
                })
            })
            .collect();
        tokio::time::sleep(Duration::from_millis(200)).await;
        for i in 0..6 {
            producer
                .send_message("q", format!("m{i}"), None)
                .await
                .unwrap();
        }
        let mut got = Vec::new();
        for w in waiters {
            got.push(w.await.unwrap());
        }
        got.sort();
        assert_eq!(got, ["m0", "m1", "m2", "m3", "m4", "m5"]);
    }

    /// The ACL of a worker that may do everything but subscribe to the realtime channels.
    fn acl(user: &str, password: &str, ns: &str, psubscribe: bool, channels: bool) -> Vec<String> {
        let mut rules = vec![
            user.to_string(),
            "on".into(),
            format!(">{password}"),
            "resetkeys".into(),
            format!("~{ns}:*"),
            "resetchannels".into(),
            "-@all".into(),
        ];
        if channels {
            rules.push(format!("&{ns}:rt:*"));
        }
        let mut commands = "evalsha eval multi exec smembers ping time hmget hget hset hsetnx \
            hdel hincrby hexists hkeys zadd zrem zrange zrangebyscore zcard zcount zscore sadd \
            srem scard del publish punsubscribe"
            .to_string();
        if psubscribe {
            commands.push_str(" psubscribe");
        }
        rules.extend(commands.split_whitespace().map(|c| format!("+{c}")));
        rules
    }

    async fn connections_received(admin: &mut redis::aio::MultiplexedConnection) -> u64 {
        let info: String = redis::cmd("INFO")
            .arg("stats")
            .query_async(admin)
            .await
            .unwrap();
        info.lines()
            .find_map(|l| l.strip_prefix("total_connections_received:"))
            .and_then(|v| v.trim().parse().ok())
            .expect("total_connections_received in INFO stats")
    }

    /// The subscriber's warnings so far that it cannot subscribe to `pattern`.
    fn subscribe_warnings(pattern: &str) -> Vec<capture::Record> {
        capture::records()
            .into_iter()
            .filter(|r| {
                !r.is_span
                    && r.level == tracing::Level::WARN
                    && r.field("pattern") == Some(pattern)
                    && r.message().starts_with("cannot subscribe")
            })
            .collect()
    }

    /// A worker without `+psubscribe`: the subscriber warns, backs off, and waiters still get
    /// their messages through the fallback poll.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_subscriber_that_may_not_subscribe_warns_and_backs_off() {
        capture::install();
        let server = common::OwnedServer::start(&[]);
        let ns = common::namespace("noperm");
        let client = redis::Client::open(server.url()).unwrap();
        let mut admin = client.get_multiplexed_async_connection().await.unwrap();
        let _: () = redis::cmd("ACL")
            .arg("SETUSER")
            .arg(acl("worker", "n0-psub-pw", &ns, false, true))
            .query_async(&mut admin)
            .await
            .unwrap();
        let opts = RsmqOptions {
            username: Some("worker".into()),
            password: Some("n0-psub-pw".into()),
            ns: ns.clone(),
            ..server.options("noperm")
        };
        let rsmq = Rsmq::new(opts.clone()).await.unwrap();
        rsmq.create_queue("q", None, None, None).await.unwrap();
        let waiter = {
            let rsmq = rsmq.clone();
            tokio::spawn(async move {
                rsmq.receive_message_wait::<String>("q", None, Duration::from_secs(120))
                    .await
            })
        };
        let pattern = format!("{ns}:rt:*");
        eventually("a first warning", Duration::from_secs(20), || async {
            !subscribe_warnings(&pattern).is_empty()
        })
        .await;
        let before = connections_received(&mut admin).await;
        let window = Instant::now();
        eventually("three warnings", Duration::from_secs(30), || async {
            subscribe_warnings(&pattern).len() >= 3
        })
        .await;
        // Retried at 0.5, 1.5 and 3.5 s, then not before 7.5 s: at 500 ms intervals there
        // would have been about ten attempts in these five seconds.
        let rest = Duration::from_secs(5).saturating_sub(window.elapsed());
        tokio::time::sleep(rest).await;
        let attempts = connections_received(&mut admin).await - before;
        assert!(attempts <= 5, "{attempts} connection attempts in 5 s");
        let warnings = subscribe_warnings(&pattern);
        let delays: Vec<_> = warnings.iter().map(|w| w.field("retry_in_ms")).collect();
        assert_eq!(
            delays[..3],
            [Some("500"), Some("1000"), Some("2000")],
            "{warnings:?}"
        );
        for w in &warnings {
            assert_eq!(w.field("code"), Some("NOPERM"), "{w:?}");
            assert!(w.fields.iter().all(|(_, v)| !v.contains("n0-psub-pw")));
        }

        // Waiters still get messages, through the fallback poll.
        let producer = Rsmq::new(RsmqOptions {
            realtime: true,
            ..opts
        })
        .await
        .unwrap();
        let id = producer.send_message("q", "polled", None).await.unwrap();
        let m = tokio::time::timeout(Duration::from_secs(30), waiter)
            .await
            .expect("the waiter returns")
            .unwrap()
            .unwrap()
            .expect("a message");
        assert_eq!((m.id, m.message.as_str()), (id, "polled"));
    }

    /// A worker allowed `+psubscribe` but not the namespace's realtime channels.
    #[tokio::test]
    async fn a_subscriber_without_channel_permission_warns() {
        capture::install();
        let server = common::OwnedServer::start(&[]);
        let ns = common::namespace("nochan");
        let client = redis::Client::open(server.url()).unwrap();
        let mut admin = client.get_multiplexed_async_connection().await.unwrap();
        let _: () = redis::cmd("ACL")
            .arg("SETUSER")
            .arg(acl("worker", "n0-chan-pw", &ns, true, false))
            .query_async(&mut admin)
            .await
            .unwrap();
        let rsmq = Rsmq::new(RsmqOptions {
            username: Some("worker".into()),
            password: Some("n0-chan-pw".into()),
            ns: ns.clone(),
            ..server.options("nochan")
        })
        .await
        .unwrap();
        rsmq.create_queue("q", None, None, None).await.unwrap();
        let pattern = format!("{ns}:rt:*");
        let wait = rsmq.receive_message_wait::<String>("q", None, Duration::from_secs(60));
        let warned = eventually("a warning", Duration::from_secs(20), || async {
            !subscribe_warnings(&pattern).is_empty()
        });
        futures_util::pin_mut!(wait, warned);
        if let futures_util::future::Either::Left((got, _)) =
            futures_util::future::select(wait, warned).await
        {
            panic!("the wait ended first: {got:?}");
        }
        let w = &subscribe_warnings(&pattern)[0];
        assert_eq!(w.field("code"), Some("NOPERM"), "{w:?}");
    }

    async fn numpat(admin: &mut redis::aio::MultiplexedConnection) -> u64 {
        redis::cmd("PUBSUB")
            .arg("NUMPAT")
            .query_async(admin)
            .await
            .unwrap()
    }

    /// One client used from one runtime, then (after that runtime is gone) from another: the
    /// subscriber starts again on the second, and wakes its waiters.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_subscriber_moves_to_the_next_runtime() {
        capture::install();
        let server = common::OwnedServer::start(&[]);
        let opts = server.options("runtimes");
        let url = server.url();
        let consumer = Rsmq::new(opts.clone()).await.unwrap();
        let producer = Rsmq::new(RsmqOptions {
            realtime: true,
            ..opts
        })
        .await
        .unwrap();
        consumer
            .create_queue("two-runtimes", None, None, None)
            .await
            .unwrap();

        // On a runtime of its own, then gone.
        let first = consumer.clone();
        let first_url = url.clone();
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async {
                let client = redis::Client::open(first_url).unwrap();
                let admin = client.get_multiplexed_async_connection().await.unwrap();
                let got = first
                    .receive_message_wait::<String>("two-runtimes", None, Duration::from_millis(50))
                    .await
                    .unwrap();
                assert!(got.is_none());
                eventually(
                    "a subscriber on the first runtime",
                    Duration::from_secs(20),
                    || {
                        let mut admin = admin.clone();
                        async move { numpat(&mut admin).await >= 1 }
                    },
                )
                .await;
            });
        })
        .join()
        .unwrap();
        let client = redis::Client::open(url.clone()).unwrap();
        let admin = client.get_multiplexed_async_connection().await.unwrap();
        eventually(
            "the first runtime's subscriber gone",
            Duration::from_secs(20),
            || {
                let mut admin = admin.clone();
                async move { numpat(&mut admin).await == 0 }
            },
        )
        .await;

        // On a second runtime: subscribed again, and woken by the realtime producer.
        let second = consumer.clone();
        let got = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async {
                let client = redis::Client::open(url).unwrap();
                let admin = client.get_multiplexed_async_connection().await.unwrap();
                let wait = tokio::spawn(async move {
                    second
                        .receive_message_wait::<String>(
                            "two-runtimes",
                            None,
                            Duration::from_secs(60),
                        )
                        .await
                });
                eventually(
                    "a subscriber on the second runtime",
                    Duration::from_secs(20),
                    || {
                        let mut admin = admin.clone();
                        async move { numpat(&mut admin).await >= 1 }
                    },
                )
                .await;
                let id = producer
                    .send_message("two-runtimes", "again", None)
                    .await
                    .unwrap();
                (id, wait.await.unwrap())
            })
        })
        .join()
        .unwrap();
        let (id, m) = (got.0, got.1.unwrap().expect("a message"));
        assert_eq!((m.id, m.message.as_str()), (id, "again"));
        // The realtime notification reached the subscriber of the second runtime.
        assert!(capture::records().iter().any(|r| !r.is_span
            && r.message() == "realtime notification"
            && r.field("queue") == Some("two-runtimes")));
    }
}

#[cfg(feature = "smol-comp")]
mod smol_runtime {
    use super::*;

    #[test]
    fn an_endless_wait_returns_a_later_message() {
        smol::block_on(async {
            let rsmq = Rsmq::new(common::options("endless-smol")).await.unwrap();
            super::an_endless_wait_returns_a_later_message(rsmq).await;
        });
    }

    #[test]
    fn invalid_queue_names_are_refused_at_once() {
        smol::block_on(async {
            let rsmq = Rsmq::new(common::options("invalid-smol")).await.unwrap();
            super::invalid_queue_names_are_refused_at_once(rsmq).await;
        });
    }
}
