//! What the client tells `tracing`: a debug span per operation, warnings when Redis cannot
//! be reached, and never a password.
#![cfg(feature = "tokio-comp")]

mod capture;
mod common;

use std::time::{Duration, Instant};

use common::OwnedServer;
use rsmq_async::{Rsmq, RsmqConnection, RsmqOptions};

/// The operation spans of `queue` so far.
fn spans(operation: &str, queue: &str) -> Vec<capture::Record> {
    capture::records()
        .into_iter()
        .filter(|r| {
            r.is_span && r.field("operation") == Some(operation) && r.field("queue") == Some(queue)
        })
        .collect()
}

#[tokio::test]
async fn operations_run_in_debug_spans_that_never_hold_the_password() {
    capture::install();
    let mut server = OwnedServer::start(&["--requirepass", "0bs-secret-pw"]);
    let opts = RsmqOptions {
        password: Some("0bs-secret-pw".into()),
        realtime: true,
        ..server.options("spans")
    };
    let pattern = format!("{}:rt:*", opts.ns);
    let rsmq = Rsmq::new(opts).await.unwrap();
    rsmq.create_queue("traced-q", None, None, None)
        .await
        .unwrap();
    let id = rsmq.send_message("traced-q", "body", None).await.unwrap();

    let sends = spans("send_message", "traced-q");
    assert_eq!(sends.len(), 1, "{sends:?}");
    let send = &sends[0];
    assert_eq!(send.name, "rsmq");
    assert_eq!(send.level, tracing::Level::DEBUG);
    assert!(send.target.starts_with("rsmq_async"), "{send:?}");
    assert_eq!(send.field("id"), Some(id.as_str()));

    let m = rsmq
        .receive_message_wait::<String>("traced-q", None, Duration::from_secs(5))
        .await
        .unwrap()
        .unwrap();
    let waits = spans("receive_message_wait", "traced-q");
    assert_eq!(waits[0].field("id"), Some(m.id.as_str()));
    assert!(rsmq.delete_message("traced-q", &m.id).await.unwrap());
    let deletes = spans("delete_message", "traced-q");
    assert_eq!(deletes[0].field("id"), Some(m.id.as_str()));
    rsmq.move_message("traced-q", &m.id, "elsewhere")
        .await
        .unwrap_err();
    assert_eq!(
        spans("move_message", "traced-q")[0].field("to"),
        Some("elsewhere")
    );

    // Redis gone: the operation fails, with a warning.
    server.kill();
    let start = Instant::now();
    rsmq.send_message("traced-q", "lost", None)
        .await
        .unwrap_err();
    assert!(start.elapsed() < Duration::from_secs(60));
    let warned = capture::records().into_iter().any(|r| {
        !r.is_span && r.level == tracing::Level::WARN && r.message() == "Redis connection failed"
    });
    assert!(warned, "{:?}", capture::records());
    // The subscriber, too, loses its connection and fails to subscribe again.
    let start = Instant::now();
    while !capture::records().iter().any(|r| {
        r.level == tracing::Level::WARN
            && r.field("pattern") == Some(pattern.as_str())
            && r.message().starts_with("cannot subscribe")
    }) {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "no subscriber warning"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    for r in capture::records() {
        for (name, value) in &r.fields {
            assert!(!value.contains("0bs-secret-pw"), "{name}={value} in {r:?}");
        }
    }
}

#[cfg(feature = "sync")]
#[tokio::test]
async fn the_blocking_client_traces_too() {
    capture::install();
    let opts = common::options("sync-spans");
    let sync = rsmq_async::RsmqSync::new(opts).await.unwrap();
    let id = tokio::task::spawn_blocking(move || {
        use rsmq_async::RsmqConnectionSync;
        sync.create_queue("sync-traced", None, None, None).unwrap();
        sync.send_message("sync-traced", "body", None).unwrap()
    })
    .await
    .unwrap();
    let sends = spans("send_message", "sync-traced");
    assert_eq!(sends.len(), 1, "{sends:?}");
    assert_eq!(sends[0].field("id"), Some(id.as_str()));
}
