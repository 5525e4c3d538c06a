//! The audit events of the HTTP API. A test binary of its own: a scoped `tracing`
//! subscriber sees every event only when no other test registers the call sites meanwhile.

mod support;

use std::net::SocketAddr;

use axum::extract::ConnectInfo;
use axum::Router;
use base64::Engine as _;
use rsmq_web::WebConfig;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Sends one request, with the bearer `token` when given; the JSON body (Null when not JSON).
async fn call(
    app: &Router,
    method: &str,
    uri: &str,
    body: Option<Value>,
    token: Option<&str>,
) -> Value {
    support::oneshot(app, support::request_with_token(method, uri, body, token))
        .await
        .json_or_null()
}

/// Collects the events of the audit target as text.
struct Audit(std::sync::Arc<std::sync::Mutex<Vec<String>>>);

struct Fields<'a>(&'a mut String);

impl tracing::field::Visit for Fields<'_> {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        self.0.push_str(&format!("{}={:?} ", field.name(), value));
    }
}

impl tracing::Subscriber for Audit {
    fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        tracing::span::Id::from_u64(1)
    }
    fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}
    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
    fn event(&self, event: &tracing::Event<'_>) {
        if event.metadata().target() == "rsmq_web::audit" {
            let mut line = String::new();
            event.record(&mut Fields(&mut line));
            self.0.lock().unwrap().push(line);
        }
    }
    fn enter(&self, _: &tracing::span::Id) {}
    fn exit(&self, _: &tracing::span::Id) {}
}

#[tokio::test]
async fn every_change_is_audited_without_bodies_or_token() {
    let events = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let _guard = tracing::subscriber::set_default(Audit(events.clone()));
    let (app, _) = support::app(
        "audit",
        WebConfig::default()
            .token("s3cret")
            .basic("admin", "hunter2"),
    )
    .await;
    call(&app, "POST", "/queues/q", None, Some("s3cret")).await;
    let v = call(
        &app,
        "POST",
        "/messages/q",
        Some(json!({"message": "private body"})),
        Some("s3cret"),
    )
    .await;
    let id = v["id"].as_str().unwrap().to_string();
    call(
        &app,
        "DELETE",
        &format!("/messages/q/{id}"),
        None,
        Some("s3cret"),
    )
    .await;
    call(&app, "GET", "/queues/q", None, Some("s3cret")).await;

    // The routes beyond rest-rsmq: browsing, searching and a dry run are no changes.
    call(&app, "POST", "/queues/dst", None, Some("s3cret")).await;
    let v = call(
        &app,
        "POST",
        "/api/queues/q/messages",
        Some(json!({"messages": ["private batch"]})),
        Some("s3cret"),
    )
    .await;
    let batch_id = v["ids"][0].as_str().unwrap().to_string();
    for uri in ["/api/queues/q/messages", "/api/queues/q/search?q=batch"] {
        call(&app, "GET", uri, None, Some("s3cret")).await;
    }
    let dry = json!({"to": "dst", "dry_run": true});
    let v = call(
        &app,
        "POST",
        "/api/queues/q/redrive",
        Some(dry),
        Some("s3cret"),
    )
    .await;
    assert_eq!(v, json!({"would_move": 1}));
    assert!(
        !events.lock().unwrap().iter().any(|e| e.contains("redrive")),
        "a dry run is no change"
    );
    let to_dst = Some(json!({"to": "dst"}));
    let uri = format!("/api/queues/q/messages/{batch_id}/move");
    call(&app, "POST", &uri, to_dst.clone(), Some("s3cret")).await;
    call(
        &app,
        "POST",
        "/api/queues/dst/redrive",
        Some(json!({"to": "q"})),
        Some("s3cret"),
    )
    .await;
    call(&app, "POST", "/api/queues/q/pop", None, Some("s3cret")).await;

    // Who: the Basic user, and the peer's address when the server records it.
    let basic = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode("admin:hunter2")
    );
    let mut req = support::request(
        "POST",
        "/api/queues/q/purge",
        None,
        &[("authorization", &basic)],
    );
    let peer: SocketAddr = "10.1.2.3:4567".parse().unwrap();
    req.extensions_mut().insert(ConnectInfo(peer));
    assert_eq!(support::oneshot(&app, req).await.status, 200);
    // A change refused by the CSRF check.
    let req = support::request(
        "DELETE",
        "/queues/q",
        None,
        &[("authorization", &basic), ("origin", "http://evil.example")],
    );
    assert_eq!(support::oneshot(&app, req).await.status, 403);
    // Served over TCP with the peer's address recorded.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let served = app
        .clone()
        .into_make_service_with_connect_info::<SocketAddr>();
    tokio::spawn(async move { axum::serve(listener, served).await });
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    let local = stream.local_addr().unwrap();
    stream
        .write_all(
            b"DELETE /queues/q HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer s3cret\r\n\
              Connection: close\r\n\r\n",
        )
        .await
        .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).await.unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");

    let events = events.lock().unwrap().clone();
    let all = events.join("\n");
    assert!(
        events
            .iter()
            .any(|e| e.contains("route=\"createQueue\"") && e.contains("queue=\"q\"")),
        "{all}"
    );
    assert!(
        events
            .iter()
            .any(|e| e.contains("route=\"sendMessage\"") && e.contains(&id)),
        "{all}"
    );
    assert!(
        events.iter().any(|e| e.contains("route=\"sendMessage\"")
            && e.contains("done")
            && e.contains(&id)
            && e.contains("auth=\"token\"")),
        "{all}"
    );
    assert!(
        events
            .iter()
            .any(|e| e.contains("route=\"deleteMessage\"") && e.contains(&id)),
        "{all}"
    );
    let has = |route: &str, queue: &str, id: Option<&str>| {
        events.iter().any(|e| {
            e.contains(&format!("route=\"{route}\""))
                && (e.contains(&format!("queue=\"{queue}\""))
                    || e.contains(&format!("queue={queue} ")))
                && id.is_none_or(|id| e.contains(id))
        })
    };
    assert!(has("sendMessageBatch", "q", None), "{all}");
    assert!(has("moveMessage", "q", Some(&batch_id)), "{all}");
    assert!(has("redrive", "dst", None), "{all}");
    assert!(has("popMessage", "q", Some(&batch_id)), "{all}");
    assert!(
        events.iter().any(|e| e.contains("route=\"createQueue\"")
            && e.contains("auth=\"token\"")
            && !e.contains("peer=")),
        "{all}"
    );
    assert!(
        events.iter().any(|e| e.contains("route=\"purgeQueue\"")
            && e.contains("auth=\"basic:admin\"")
            && e.contains("peer=\"10.1.2.3:4567\"")),
        "{all}"
    );
    assert!(
        events.iter().any(|e| e.contains("refused: csrf")
            && e.contains("/queues/q")
            && e.contains("auth=\"basic:admin\"")),
        "{all}"
    );
    assert!(
        events.iter().any(|e| e.contains("route=\"deleteQueue\"")
            && e.contains("auth=\"token\"")
            && e.contains(&format!("peer=\"{local}\""))),
        "{all}"
    );
    assert!(!all.contains("getQueueAttributes"), "{all}");
    assert!(
        !all.contains("private body")
            && !all.contains("private batch")
            && !all.contains("s3cret")
            && !all.contains("hunter2"),
        "{all}"
    );
}
