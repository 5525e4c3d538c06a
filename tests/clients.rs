//! What differs between the clients: the pool's limits and repairs, the blocking client's
//! runtime independence, smol, and typed JSON bodies.

#[macro_use]
mod common;

#[allow(unused_imports)]
use std::time::Duration;

#[allow(unused_imports)]
use rsmq_async::{RsmqConnection, RsmqError, RsmqOptions};

#[allow(dead_code)]
fn private_options(server: &common::Server, test: &str) -> RsmqOptions {
    RsmqOptions {
        host: server.host.clone(),
        port: server.port,
        ns: common::namespace(test),
        ..Default::default()
    }
}

/// A local port where nothing listens (bound, then released).
#[allow(dead_code)]
fn closed_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The message of an `InvalidOptions` error (panics on any other result).
#[allow(dead_code)]
fn invalid_options<T: std::fmt::Debug>(result: Result<T, RsmqError>) -> String {
    match result {
        Err(RsmqError::InvalidOptions(msg)) => msg,
        other => panic!("expected InvalidOptions, got {other:?}"),
    }
}

/// Checks a construction failure against an unreachable `127.0.0.1:port` whose URL holds a
/// password: a `CannotConnect` whose text is one line, names the address, and shows neither
/// the password nor a `Debug` dump.
#[allow(dead_code)]
fn assert_names_the_address<T: std::fmt::Debug>(result: Result<T, RsmqError>, port: u16) {
    let err = result.unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, RsmqError::CannotConnect { .. }), "{err:?}");
    assert!(text.contains(&format!("127.0.0.1:{port}")), "{text}");
    assert!(!text.contains('\n'), "{text}");
    for dump in [
        "{",
        "}",
        "Os",
        "kind:",
        "Custom",
        "RedisError",
        "CannotConnect",
    ] {
        assert!(!text.contains(dump), "{text}");
    }
    assert!(!format!("{text} {err:?}").contains("hunter2"), "{err:?}");
}

/// Options for `127.0.0.1:port` with a user name and password, from a URL.
#[allow(dead_code)]
fn options_with_password(port: u16) -> RsmqOptions {
    format!("redis://worker:hunter2@127.0.0.1:{port}/0?connection_timeout=2000")
        .parse()
        .unwrap()
}

#[tokio::test]
async fn a_failed_connect_names_the_address_and_nothing_else() {
    let port = closed_port();
    assert_names_the_address(
        rsmq_async::Rsmq::new(options_with_password(port)).await,
        port,
    );
    let v6 = RsmqOptions {
        host: "::1".into(),
        port,
        ..Default::default()
    };
    let err = rsmq_async::Rsmq::new(v6).await.unwrap_err();
    assert!(err.to_string().contains(&format!("[::1]:{port}")), "{err}");
}

#[tokio::test]
async fn zero_timeouts_are_invalid_options_before_connecting() {
    // Nothing listens on the port: an error other than InvalidOptions would mean a
    // connection was tried first.
    let port = closed_port();
    for (name, url) in [
        ("connection_timeout", "connection_timeout=0"),
        ("response_timeout", "response_timeout=0"),
    ] {
        let opts: RsmqOptions = format!("redis://127.0.0.1:{port}/?{url}").parse().unwrap();
        let msg = invalid_options(rsmq_async::Rsmq::new(opts.clone()).await);
        assert!(msg.contains(&format!("{name} is zero")), "{msg}");
        #[cfg(feature = "tokio-comp")]
        invalid_options(rsmq_async::PooledRsmq::new(opts.clone(), Default::default()).await);
        #[cfg(feature = "sync")]
        invalid_options(rsmq_async::RsmqSync::new(opts).await);
    }
    // The same with the fields set directly, on the test server.
    let opts = RsmqOptions {
        response_timeout: Duration::ZERO,
        ..common::options("zero")
    };
    invalid_options(rsmq_async::Rsmq::new(opts).await);
    let opts = RsmqOptions {
        connection_timeout: Duration::ZERO,
        ..common::options("zero")
    };
    invalid_options(rsmq_async::Rsmq::new(opts).await);
}

#[cfg(feature = "tokio-comp")]
mod pooled {
    use super::*;
    use rsmq_async::{PoolOptions, PooledRsmq, RedisConnectionManager};

    #[tokio::test]
    async fn min_idle_above_max_size_is_invalid_options() {
        let opts = common::options("minidle");
        let pool = PoolOptions {
            max_size: Some(2),
            min_idle: Some(5),
        };
        let msg = invalid_options(PooledRsmq::new(opts.clone(), pool).await);
        assert!(
            msg.contains("min_idle (5)") && msg.contains("max_size (2)"),
            "{msg}"
        );
        let pool = PoolOptions {
            max_size: None,
            min_idle: Some(11),
        };
        let msg = invalid_options(PooledRsmq::new(opts.clone(), pool).await);
        assert!(msg.contains("max_size (10, the default)"), "{msg}");
        // At the limit, it works.
        let pool = PoolOptions {
            max_size: Some(2),
            min_idle: Some(2),
        };
        let rsmq = PooledRsmq::new(opts, pool).await.unwrap();
        rsmq.create_queue("q", None, None, None).await.unwrap();
    }

    #[tokio::test]
    async fn a_zero_checkout_timeout_is_invalid_options() {
        let msg = invalid_options(
            PooledRsmq::new_with_checkout_timeout(
                common::options("zerocheckout"),
                PoolOptions::default(),
                Duration::ZERO,
            )
            .await,
        );
        assert!(msg.contains("checkout timeout is zero"), "{msg}");
    }

    #[tokio::test]
    async fn a_failed_pool_connect_names_the_address() {
        let port = closed_port();
        assert_names_the_address(
            PooledRsmq::new(options_with_password(port), PoolOptions::default()).await,
            port,
        );
        assert_names_the_address(
            PooledRsmq::new_with_checkout_timeout(
                options_with_password(port),
                PoolOptions::default(),
                Duration::from_secs(1),
            )
            .await,
            port,
        );
    }

    #[tokio::test]
    async fn a_pool_built_by_hand_works() {
        let client = redis::Client::open(common::server().url()).unwrap();
        let manager = RedisConnectionManager::from_client(client).unwrap();
        let pool = bb8::Pool::builder()
            .max_size(2)
            .build(manager)
            .await
            .unwrap();
        let ns = common::namespace("byhand");
        let rsmq = PooledRsmq::new_with_pool(pool, false, Some(&ns))
            .await
            .unwrap();
        rsmq.create_queue("q", None, None, None).await.unwrap();
        let sends = (0..8).map(|i| rsmq.send_message("q", format!("m{i}"), None));
        for id in futures_util::future::join_all(sends).await {
            id.unwrap();
        }
        assert_eq!(rsmq.get_queue_attributes("q").await.unwrap().msgs, 8);
        assert_eq!(common::snapshot(&ns).await.len(), 3);

        // A pool whose server is gone fails at construction.
        let client = redis::Client::open(format!("redis://127.0.0.1:{}/", closed_port())).unwrap();
        let manager = RedisConnectionManager::from_client(client).unwrap();
        let pool = bb8::Pool::builder()
            .connection_timeout(Duration::from_millis(300))
            .build_unchecked(manager);
        let err = PooledRsmq::new_with_pool(pool, false, None)
            .await
            .unwrap_err();
        assert!(
            matches!(err, RsmqError::RedisError(_) | RsmqError::PoolTimedOut),
            "{err:?}"
        );
    }

    #[tokio::test]
    async fn an_exhausted_pool_is_a_clear_timeout_error() {
        let server = common::start_server(&[]).unwrap();
        let opts = private_options(&server, "exhausted");
        let pool = PoolOptions {
            max_size: Some(1),
            min_idle: None,
        };
        let rsmq = PooledRsmq::new_with_checkout_timeout(opts, pool, Duration::from_millis(100))
            .await
            .unwrap();
        rsmq.create_queue("q", None, None, None).await.unwrap();
        let client = redis::Client::open(server.url()).unwrap();
        let mut admin = client.get_multiplexed_async_connection().await.unwrap();
        // Hold every write (scripts included) until we unpause.
        let _: () = redis::cmd("CLIENT")
            .arg("PAUSE")
            .arg(60_000)
            .arg("WRITE")
            .query_async(&mut admin)
            .await
            .unwrap();
        let busy = rsmq.clone();
        let holder = tokio::spawn(async move { busy.send_message("q", "a", None).await });
        // Once its script waits in Redis, the one connection is checked out.
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        loop {
            let info: String = redis::cmd("INFO")
                .arg("clients")
                .query_async(&mut admin)
                .await
                .unwrap();
            if info.lines().any(|l| l.trim() == "blocked_clients:1") {
                break;
            }
            assert!(std::time::Instant::now() < deadline, "the send never came");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let err = rsmq.send_message("q", "b", None).await.unwrap_err();
        assert!(matches!(err, RsmqError::PoolTimedOut), "{err:?}");
        assert!(err.to_string().contains("checkout timeout"));
        let _: () = redis::cmd("CLIENT")
            .arg("UNPAUSE")
            .query_async(&mut admin)
            .await
            .unwrap();
        holder.await.unwrap().unwrap();
        assert_eq!(rsmq.get_queue_attributes("q").await.unwrap().totalsent, 1);
    }

    #[tokio::test]
    async fn a_killed_pooled_connection_is_replaced() {
        let server = common::start_server(&[]).unwrap();
        let opts = private_options(&server, "killed");
        let pool = PoolOptions {
            max_size: Some(2),
            min_idle: Some(2),
        };
        let rsmq = PooledRsmq::new(opts, pool).await.unwrap();
        rsmq.create_queue("q", None, None, None).await.unwrap();
        let client = redis::Client::open(server.url()).unwrap();
        let mut admin = client.get_multiplexed_async_connection().await.unwrap();
        let _: redis::Value = redis::cmd("CLIENT")
            .arg("KILL")
            .arg("TYPE")
            .arg("normal")
            .arg("SKIPME")
            .arg("yes")
            .query_async(&mut admin)
            .await
            .unwrap();
        // Each dead connection may fail once; then it is replaced and calls succeed again.
        let mut failures = 0;
        let mut sent = 0;
        while sent < 5 {
            match rsmq.send_message("q", "m", None).await {
                Ok(_) => sent += 1,
                Err(RsmqError::RedisError(_)) => failures += 1,
                Err(e) => panic!("{e:?}"),
            }
            assert!(failures <= 2, "dead connections are not being replaced");
        }
        assert_eq!(rsmq.get_queue_attributes("q").await.unwrap().totalsent, 5);
    }

    #[tokio::test]
    async fn an_unreachable_server_fails_at_construction() {
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
        let err = PooledRsmq::new(opts, PoolOptions::default())
            .await
            .unwrap_err();
        assert!(matches!(err, RsmqError::CannotConnect { .. }), "{err:?}");
    }
}

#[cfg(feature = "sync")]
mod sync {
    use super::*;
    use rsmq_async::{RsmqConnectionSync, RsmqSync};

    fn exercise(rsmq: &RsmqSync) {
        rsmq.create_queue("q", None, None, None).unwrap();
        rsmq.send_message("q", "hello", None).unwrap();
        let m = rsmq.receive_message::<String>("q", None).unwrap().unwrap();
        assert_eq!(m.message, "hello");
        assert!(rsmq.delete_message("q", &m.id).unwrap());
    }

    #[test]
    fn a_failed_connect_names_the_address() {
        let port = closed_port();
        assert_names_the_address(RsmqSync::connect(options_with_password(port)), port);
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        assert_names_the_address(
            rt.block_on(RsmqSync::new(options_with_password(port))),
            port,
        );
    }

    #[test]
    fn works_from_a_plain_thread_without_a_runtime() {
        let rsmq = RsmqSync::connect(common::options("plain")).unwrap();
        exercise(&rsmq);
        let clone = rsmq.clone();
        std::thread::spawn(move || {
            clone
                .send_message("q", "from another thread", None)
                .unwrap()
        })
        .join()
        .unwrap();
        assert_eq!(
            rsmq.pop_message::<String>("q").unwrap().unwrap().message,
            "from another thread"
        );
    }

    #[tokio::test(flavor = "current_thread")]
    async fn works_and_drops_inside_a_current_thread_runtime() {
        let rsmq = RsmqSync::new(common::options("inside1")).await.unwrap();
        exercise(&rsmq);
        drop(rsmq); // must not panic with "cannot drop a runtime in an async context"
        let rsmq = RsmqSync::connect(common::options("inside1b")).unwrap();
        exercise(&rsmq);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn works_inside_a_multi_thread_runtime_and_its_blocking_pool() {
        let rsmq = RsmqSync::new(common::options("inside2")).await.unwrap();
        exercise(&rsmq);
        let clone = rsmq.clone();
        tokio::task::spawn_blocking(move || clone.send_message("q", "x", None).unwrap())
            .await
            .unwrap();
        assert_eq!(
            rsmq.pop_message::<String>("q").unwrap().unwrap().message,
            "x"
        );
    }

    #[test]
    fn undecodable_bodies_keep_their_id() {
        let rsmq = RsmqSync::connect(common::options("syncpoison")).unwrap();
        rsmq.create_queue("q", None, None, None).unwrap();
        let id = rsmq.send_message("q", vec![0xffu8], None).unwrap();
        let err = rsmq.receive_message::<String>("q", None).unwrap_err();
        assert!(matches!(err, RsmqError::CannotDecodeMessage(m) if m.id == id));
    }
}

#[cfg(feature = "smol-comp")]
#[test]
fn the_async_client_runs_on_smol() {
    smol::block_on(async {
        let opts = common::options("smol");
        let rsmq = rsmq_async::Rsmq::new(opts.clone()).await.unwrap();
        rsmq.create_queue("q", None, None, None).await.unwrap();
        rsmq.send_message("q", "on smol", None).await.unwrap();
        let m = rsmq
            .receive_message::<String>("q", None)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(m.message, "on smol");
        assert!(rsmq.delete_message("q", &m.id).await.unwrap());

        // Long polling on smol: woken by a realtime producer, before the fallback poll.
        let producer = rsmq_async::Rsmq::new(RsmqOptions {
            realtime: true,
            ..opts.clone()
        })
        .await
        .unwrap();
        // The first wait starts the subscriber; the sends below come once it listens.
        rsmq.receive_message_wait::<String>("q", None, Duration::from_millis(1))
            .await
            .unwrap();
        common::subscribed(&common::server().url(), &opts.ns).await;
        // The send comes 100 ms into the wait. Were the notification lost, the fallback poll
        // would find the message no sooner than FALLBACK_POLL after `start`.
        common::under(rsmq_async::FALLBACK_POLL, "woken on smol", async || {
            let producer = producer.clone();
            let start = std::time::Instant::now();
            let sender = smol::spawn(async move {
                smol::Timer::after(Duration::from_millis(100)).await;
                producer.send_message("q", "wake", None).await.unwrap()
            });
            let m = rsmq
                .receive_message_wait::<String>("q", None, Duration::from_secs(5))
                .await
                .unwrap()
                .unwrap();
            let took = start.elapsed();
            let id = sender.await;
            assert_eq!((m.id.as_str(), m.message.as_str()), (id.as_str(), "wake"));
            assert!(rsmq.delete_message("q", &id).await.unwrap());
            took
        })
        .await;
    });
}

#[cfg(feature = "serde")]
mod json {
    use super::*;
    use rsmq_async::{Json, RsmqJsonExt};
    use serde::{Deserialize, Serialize};

    #[derive(Serialize, Deserialize, Debug, PartialEq, Clone)]
    struct Job {
        id: u32,
        name: String,
        tags: Vec<String>,
    }

    async fn json_round_trip<C: common::Client>(rsmq: C, _ns: String) {
        rsmq.create_queue("q", None, None, None).await.unwrap();
        let job = Job {
            id: 7,
            name: "résumé".into(),
            tags: vec!["a".into()],
        };
        rsmq.send_json("q", &job, None).await.unwrap();
        rsmq.send_json("q", &job, None).await.unwrap();
        let m = rsmq.receive_json::<Job>("q", None).await.unwrap().unwrap();
        assert_eq!(m.message, job);
        let raw = rsmq
            .receive_message::<String>("q", Some(Duration::ZERO))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(raw.message, r#"{"id":7,"name":"résumé","tags":["a"]}"#);
        assert_eq!(
            rsmq.pop_json::<Job>("q").await.unwrap().unwrap().message,
            job
        );
        let m = rsmq.receive_message::<Json<Job>>("q", None).await.unwrap();
        assert!(m.is_none());
    }

    async fn a_body_that_is_not_json_keeps_its_id<C: common::Client>(rsmq: C, _ns: String) {
        rsmq.create_queue("q", None, None, None).await.unwrap();
        let id = rsmq.send_message("q", "{not json", None).await.unwrap();
        let err = rsmq.receive_json::<Job>("q", None).await.unwrap_err();
        let RsmqError::CannotDecodeMessage(m) = err else {
            panic!("{err:?}")
        };
        assert_eq!(
            (m.id.as_str(), m.message.as_slice()),
            (id.as_str(), b"{not json".as_slice())
        );
        let id = rsmq
            .send_json("q", &serde_json::json!({"id": "x"}), None)
            .await
            .unwrap();
        let err = rsmq.pop_json::<Job>("q").await.unwrap_err();
        assert!(
            matches!(err, RsmqError::CannotDecodeMessage(ref m) if m.id == id),
            "{err:?}"
        );
    }

    async fn values_json_cannot_hold_are_encode_errors<C: common::Client>(rsmq: C, ns: String) {
        rsmq.create_queue("q", None, None, None).await.unwrap();
        let before = common::snapshot(&ns).await;
        let mut bad = std::collections::HashMap::new();
        bad.insert((1, 2), "tuple keys are not JSON");
        let err = rsmq.send_json("q", &bad, None).await.unwrap_err();
        assert!(matches!(err, RsmqError::JsonError(_)), "{err:?}");
        assert_eq!(common::snapshot(&ns).await, before);
    }

    suite! {
        json_round_trip,
        a_body_that_is_not_json_keeps_its_id,
        values_json_cannot_hold_are_encode_errors,
    }
}
