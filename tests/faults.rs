//! Faults on purpose: Redis restarts, crashes, script flushes, dying consumers. Each test
//! has a `redis-server` of its own.

mod common;

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
    assert!(matches!(err, RsmqError::RedisError(_)), "{err:?}");
    assert!(err.to_string().to_lowercase().contains("refused"), "{err}");
    // A host that never answers: bounded by the connection timeout.
    let opts = RsmqOptions {
        host: "10.255.255.1".into(),
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
