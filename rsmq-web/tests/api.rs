//! The HTTP API, driven in-process against a real redis-server (one namespace per test).

mod support;

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use rsmq_async::{Rsmq, RsmqConnection, RsmqOptions};
use rsmq_web::{router, WebConfig};
use serde_json::{json, Value};
use support::{app, call, common, req};

fn error_name(v: &Value) -> &str {
    v["error"]["name"]
        .as_str()
        .unwrap_or_else(|| panic!("no error: {v}"))
}

#[tokio::test]
async fn queues_create_list_attributes_delete() {
    let (app, _) = app("queues", WebConfig::default()).await;
    let (s, v) = req(&app, "GET", "/queues", None).await;
    assert_eq!((s, v), (StatusCode::OK, json!({"queues": []})));

    let body = json!({"vt": 30, "delay": 2, "maxsize": 2048});
    let (s, v) = req(&app, "POST", "/queues/jobs", Some(body)).await;
    assert_eq!((s, v), (StatusCode::OK, json!({"result": 1})));
    // No body: the defaults.
    let (s, v) = req(&app, "POST", "/queues/other", None).await;
    assert_eq!((s, v), (StatusCode::OK, json!({"result": 1})));

    let (s, v) = req(&app, "GET", "/queues", None).await;
    assert_eq!(s, StatusCode::OK);
    let mut queues: Vec<String> = serde_json::from_value(v["queues"].clone()).unwrap();
    queues.sort();
    assert_eq!(queues, ["jobs", "other"]);

    let (s, v) = req(&app, "GET", "/queues/jobs", None).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v["vt"], 30);
    assert_eq!(v["delay"], 2);
    assert_eq!(v["maxsize"], 2048);
    for field in ["totalrecv", "totalsent", "msgs", "hiddenmsgs"] {
        assert_eq!(v[field], 0, "{field}");
    }
    assert!(v["created"].as_u64().unwrap() > 1_600_000_000);
    assert!(v["modified"].as_u64().unwrap() > 1_600_000_000);

    let (s, v) = req(&app, "GET", "/queues/other", None).await;
    assert_eq!(
        (s, &v["vt"], &v["delay"], &v["maxsize"]),
        (StatusCode::OK, &json!(30), &json!(0), &json!(65536))
    );

    let (s, v) = req(&app, "DELETE", "/queues/jobs", None).await;
    assert_eq!((s, v), (StatusCode::OK, json!({"result": 1})));
    let (s, v) = req(&app, "GET", "/queues/jobs", None).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert_eq!(error_name(&v), "queueNotFound");
    assert_eq!(v["error"]["message"], "Queue not found");
}

#[tokio::test]
async fn messages_send_receive_change_delete() {
    let (app, _) = app("messages", WebConfig::default()).await;
    req(&app, "POST", "/queues/q", Some(json!({"vt": 30}))).await;

    let (s, v) = req(&app, "GET", "/messages/q", None).await;
    assert_eq!((s, v), (StatusCode::OK, json!({})));

    let (s, v) = req(
        &app,
        "POST",
        "/messages/q",
        Some(json!({"message": "Hello World!"})),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    let id = v["id"].as_str().unwrap().to_string();
    assert_eq!(id.len(), 32);

    let (s, v) = req(&app, "GET", "/messages/q?vt=60", None).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v["id"], id.as_str());
    assert_eq!(v["message"], "Hello World!");
    assert_eq!(v["rc"], 1);
    assert!(v["fr"].as_u64().unwrap() > 1_600_000_000_000);
    assert!(v["sent"].as_u64().unwrap() > 1_600_000_000_000);
    assert_eq!(v.as_object().unwrap().len(), 5);

    // Hidden now.
    let (_, v) = req(&app, "GET", "/messages/q", None).await;
    assert_eq!(v, json!({}));
    let (_, v) = req(&app, "GET", "/queues/q", None).await;
    assert_eq!(
        (
            &v["msgs"],
            &v["hiddenmsgs"],
            &v["totalrecv"],
            &v["totalsent"]
        ),
        (&json!(1), &json!(1), &json!(1), &json!(1))
    );

    // Visible again at once.
    let (s, v) = req(&app, "PUT", &format!("/messages/q/{id}?vt=0"), None).await;
    assert_eq!((s, v), (StatusCode::OK, json!({"result": 1})));
    let (_, v) = req(&app, "GET", "/messages/q?vt=0", None).await;
    assert_eq!((&v["id"], &v["rc"]), (&json!(id), &json!(2)));
    // The rest-rsmq singular path too.
    let (s, v) = req(&app, "PUT", &format!("/message/q/{id}?vt=5"), None).await;
    assert_eq!((s, v), (StatusCode::OK, json!({"result": 1})));

    let (s, v) = req(&app, "DELETE", &format!("/messages/q/{id}"), None).await;
    assert_eq!((s, v), (StatusCode::OK, json!({"result": 1})));
    let (s, v) = req(&app, "DELETE", &format!("/messages/q/{id}"), None).await;
    assert_eq!((s, v), (StatusCode::OK, json!({"result": 0})));
    let (s, v) = req(&app, "PUT", &format!("/messages/q/{id}?vt=5"), None).await;
    assert_eq!((s, v), (StatusCode::OK, json!({"result": 0})));

    // A delayed message is not receivable yet.
    let (s, _) = req(
        &app,
        "POST",
        "/messages/q",
        Some(json!({"message": "later", "delay": 100})),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    let (_, v) = req(&app, "GET", "/messages/q", None).await;
    assert_eq!(v, json!({}));
}

#[tokio::test]
async fn api_peek_purge_patch_workers() {
    let (app, rsmq) = app("api", WebConfig::default()).await;
    req(&app, "POST", "/queues/q", None).await;
    for i in 0..3 {
        req(
            &app,
            "POST",
            "/messages/q",
            Some(json!({"message": format!("m{i}")})),
        )
        .await;
    }

    let (s, v) = req(&app, "GET", "/api/queues/q/peek?n=2", None).await;
    assert_eq!(s, StatusCode::OK);
    let bodies: Vec<&str> = v["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["message"].as_str().unwrap())
        .collect();
    assert_eq!(bodies, ["m0", "m1"]);
    assert_eq!(v["messages"][0]["rc"], 0);
    let (_, v) = req(&app, "GET", "/api/queues/q/peek", None).await;
    assert_eq!(v["messages"].as_array().unwrap().len(), 3);
    // Peeking changed nothing.
    let attrs = rsmq.get_queue_attributes("q").await.unwrap();
    assert_eq!((attrs.totalrecv, attrs.msgs), (0, 3));

    let (s, v) = req(
        &app,
        "PATCH",
        "/api/queues/q",
        Some(json!({"vt": 45, "maxsize": 4096})),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(
        (&v["vt"], &v["delay"], &v["maxsize"], &v["msgs"]),
        (&json!(45), &json!(0), &json!(4096), &json!(3))
    );

    let (s, v) = req(&app, "POST", "/api/queues/q/purge", None).await;
    assert_eq!((s, v), (StatusCode::OK, json!({"removed": 3})));
    assert_eq!(rsmq.get_queue_attributes("q").await.unwrap().msgs, 0);

    let (s, v) = req(&app, "GET", "/api/workers", None).await;
    assert_eq!((s, v), (StatusCode::OK, json!({"workers": []})));
    let entry =
        "host=box pid=42 queues=q,r concurrency=8 in_flight=1 handled=5 failed=2 version=19.0.0";
    rsmq.register_worker("box-42-abc", std::time::Duration::from_secs(30), entry)
        .await
        .unwrap();
    let (s, v) = req(&app, "GET", "/api/workers", None).await;
    assert_eq!(s, StatusCode::OK);
    let w = &v["workers"][0];
    assert_eq!(
        (&w["id"], &w["host"], &w["pid"]),
        (&json!("box-42-abc"), &json!("box"), &json!(42))
    );
    assert_eq!(w["queues"], json!(["q", "r"]));
    assert_eq!(
        (
            &w["concurrency"],
            &w["in_flight"],
            &w["handled"],
            &w["failed"]
        ),
        (&json!(8), &json!(1), &json!(5), &json!(2))
    );
    assert_eq!(w["version"], "19.0.0");
    let (seen, expires) = (w["seen"].as_u64().unwrap(), w["expires"].as_u64().unwrap());
    assert!(w["started"].as_u64().unwrap() > 0 && expires > seen && seen > 0);
}

#[tokio::test]
async fn errors_are_json_with_the_right_status() {
    let (app, _) = app("errors", WebConfig::default()).await;
    req(&app, "POST", "/queues/q", None).await;

    let cases: Vec<(&str, String, Option<Value>, StatusCode, &str)> = vec![
        (
            "POST",
            "/queues/q".into(),
            None,
            StatusCode::CONFLICT,
            "queueExists",
        ),
        (
            "GET",
            "/queues/nope".into(),
            None,
            StatusCode::NOT_FOUND,
            "queueNotFound",
        ),
        (
            "DELETE",
            "/queues/nope".into(),
            None,
            StatusCode::NOT_FOUND,
            "queueNotFound",
        ),
        (
            "POST",
            "/messages/nope".into(),
            Some(json!({"message": "x"})),
            StatusCode::NOT_FOUND,
            "queueNotFound",
        ),
        (
            "GET",
            "/messages/nope".into(),
            None,
            StatusCode::NOT_FOUND,
            "queueNotFound",
        ),
        (
            "GET",
            "/api/queues/nope/peek".into(),
            None,
            StatusCode::NOT_FOUND,
            "queueNotFound",
        ),
        (
            "POST",
            "/api/queues/nope/purge".into(),
            None,
            StatusCode::NOT_FOUND,
            "queueNotFound",
        ),
        (
            "PATCH",
            "/api/queues/nope".into(),
            Some(json!({"vt": 1})),
            StatusCode::NOT_FOUND,
            "queueNotFound",
        ),
        (
            "POST",
            "/queues/bad!name".into(),
            None,
            StatusCode::BAD_REQUEST,
            "invalidFormat",
        ),
        (
            "POST",
            "/queues/v".into(),
            Some(json!({"vt": 99999999})),
            StatusCode::BAD_REQUEST,
            "invalidValue",
        ),
        (
            "POST",
            "/queues/v".into(),
            Some(json!({"vt": -1})),
            StatusCode::BAD_REQUEST,
            "invalidValue",
        ),
        (
            "POST",
            "/queues/v".into(),
            Some(json!({"vt": 1.5})),
            StatusCode::BAD_REQUEST,
            "invalidValue",
        ),
        (
            "POST",
            "/queues/v".into(),
            Some(json!({"vt": "ten"})),
            StatusCode::BAD_REQUEST,
            "invalidBody",
        ),
        (
            "POST",
            "/queues/v".into(),
            Some(json!({"maxsize": 10})),
            StatusCode::BAD_REQUEST,
            "invalidValue",
        ),
        (
            "PATCH",
            "/api/queues/q".into(),
            Some(json!({})),
            StatusCode::BAD_REQUEST,
            "noAttributeSupplied",
        ),
        (
            "POST",
            "/messages/q".into(),
            Some(json!({"nomessage": 1})),
            StatusCode::BAD_REQUEST,
            "invalidBody",
        ),
        (
            "POST",
            "/messages/q".into(),
            None,
            StatusCode::BAD_REQUEST,
            "invalidBody",
        ),
        (
            "POST",
            "/messages/q".into(),
            Some(json!({"message": "x".repeat(70_000)})),
            StatusCode::BAD_REQUEST,
            "messageTooLong",
        ),
        (
            "GET",
            "/messages/q?vt=abc".into(),
            None,
            StatusCode::BAD_REQUEST,
            "invalidQuery",
        ),
        (
            "GET",
            "/messages/q?vt=-3".into(),
            None,
            StatusCode::BAD_REQUEST,
            "invalidValue",
        ),
        (
            "PUT",
            "/messages/q/abc".into(),
            None,
            StatusCode::BAD_REQUEST,
            "missingParameter",
        ),
        (
            "PUT",
            "/messages/q/abc?vt=5".into(),
            None,
            StatusCode::BAD_REQUEST,
            "invalidFormat",
        ),
        (
            "DELETE",
            "/messages/q/abc".into(),
            None,
            StatusCode::BAD_REQUEST,
            "invalidFormat",
        ),
        (
            "GET",
            "/api/queues/q/peek?n=100000".into(),
            None,
            StatusCode::BAD_REQUEST,
            "invalidValue",
        ),
        (
            "GET",
            "/nowhere".into(),
            None,
            StatusCode::NOT_FOUND,
            "notFound",
        ),
    ];
    for (method, uri, body, status, name) in cases {
        let (s, v) = req(&app, method, &uri, body).await;
        assert_eq!(s, status, "{method} {uri}: {v}");
        assert_eq!(error_name(&v), name, "{method} {uri}: {v}");
        let message = v["error"]["message"].as_str().unwrap();
        assert!(
            !message.is_empty() && !message.contains("RedisError("),
            "{message}"
        );
    }

    // A malformed JSON body.
    let bad = Request::builder()
        .method("POST")
        .uri("/messages/q")
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from("{not json"))
        .unwrap();
    assert_eq!(
        support::oneshot(&app, bad).await.status,
        StatusCode::BAD_REQUEST
    );
}

#[tokio::test]
async fn redis_down_is_503() {
    let server = common::start_server(&[]).unwrap();
    let rsmq = Rsmq::new(RsmqOptions {
        response_timeout: std::time::Duration::from_millis(500),
        connection_timeout: std::time::Duration::from_millis(500),
        ..support::options(&server, common::namespace("down"))
    })
    .await
    .unwrap();
    let app = router(rsmq, WebConfig::default());
    drop(server);
    let (s, v) = req(&app, "GET", "/queues", None).await;
    assert_eq!(s, StatusCode::SERVICE_UNAVAILABLE, "{v}");
    assert_eq!(error_name(&v), "redisError");
}

#[tokio::test]
async fn read_only_refuses_every_change() {
    let (app, rsmq) = app("readonly", WebConfig::default().read_only(true)).await;
    rsmq.create_queue("q", None, None, None).await.unwrap();
    let id = rsmq.send_message("q", "body", None).await.unwrap();

    let changes: Vec<(&str, String, Option<Value>)> = vec![
        ("POST", "/queues/new".into(), None),
        ("DELETE", "/queues/q".into(), None),
        ("POST", "/messages/q".into(), Some(json!({"message": "x"}))),
        ("GET", "/messages/q".into(), None),
        ("PUT", format!("/messages/q/{id}?vt=5"), None),
        ("PUT", format!("/message/q/{id}?vt=5"), None),
        ("DELETE", format!("/messages/q/{id}"), None),
        ("POST", "/api/queues/q/purge".into(), None),
        ("PATCH", "/api/queues/q".into(), Some(json!({"vt": 5}))),
    ];
    for (method, uri, body) in changes {
        let (s, v) = req(&app, method, &uri, body).await;
        assert_eq!(s, StatusCode::FORBIDDEN, "{method} {uri}");
        assert_eq!(error_name(&v), "readOnly");
    }
    // Nothing changed; reading still works.
    let attrs = rsmq.get_queue_attributes("q").await.unwrap();
    assert_eq!(
        (attrs.msgs, attrs.totalrecv, attrs.vt.as_secs()),
        (1, 0, 30)
    );
    assert_eq!(rsmq.list_queues().await.unwrap(), ["q"]);
    for uri in ["/queues", "/queues/q", "/api/queues/q/peek", "/api/workers"] {
        let (s, _) = req(&app, "GET", uri, None).await;
        assert_eq!(s, StatusCode::OK, "{uri}");
    }
}

#[tokio::test]
async fn token_is_required_when_set() {
    let (app, _) = app("token", WebConfig::default().token("s3cret")).await;
    for uri in ["/queues", "/api/workers", "/nowhere"] {
        let (s, h, v) = call(&app, "GET", uri, None, None).await;
        assert_eq!(s, StatusCode::UNAUTHORIZED, "{uri}");
        assert_eq!(error_name(&v), "unauthorized");
        assert!(!v.to_string().contains("s3cret"));
        assert_eq!(h[header::X_FRAME_OPTIONS], "DENY");
        let (s, _, _) = call(&app, "GET", uri, None, Some("wrong")).await;
        assert_eq!(s, StatusCode::UNAUTHORIZED, "{uri}");
        let (s, _, _) = call(&app, "GET", uri, None, Some("s3cre")).await;
        assert_eq!(s, StatusCode::UNAUTHORIZED, "{uri}");
    }
    let (s, _, v) = call(&app, "POST", "/queues/q", None, None).await;
    assert_eq!(
        (s, error_name(&v)),
        (StatusCode::UNAUTHORIZED, "unauthorized")
    );
    let (s, _, v) = call(&app, "GET", "/queues", None, Some("s3cret")).await;
    assert_eq!((s, v), (StatusCode::OK, json!({"queues": []})));
    let (s, _, v) = call(&app, "POST", "/queues/q", None, Some("s3cret")).await;
    assert_eq!((s, v), (StatusCode::OK, json!({"result": 1})));
    // The scheme is case-insensitive.
    let req = support::request(
        "GET",
        "/queues",
        None,
        &[("authorization", "bearer s3cret")],
    );
    assert_eq!(support::oneshot(&app, req).await.status, StatusCode::OK);
}

#[tokio::test]
async fn security_headers_on_every_answer() {
    let (app, _) = app("headers", WebConfig::default()).await;
    for (method, uri) in [
        ("GET", "/queues"),
        ("GET", "/queues/nope"),
        ("GET", "/nowhere"),
        ("POST", "/queues/bad!"),
    ] {
        let (_, h, _) = call(&app, method, uri, None, None).await;
        assert_eq!(
            h[header::CONTENT_SECURITY_POLICY],
            "default-src 'self'",
            "{uri}"
        );
        assert_eq!(h[header::X_CONTENT_TYPE_OPTIONS], "nosniff", "{uri}");
        assert_eq!(h[header::X_FRAME_OPTIONS], "DENY", "{uri}");
        assert_eq!(h[header::CACHE_CONTROL], "no-store", "{uri}");
        assert!(h[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("application/json"));
    }
}

#[tokio::test]
async fn overview_counts_queues_memory_and_workers() {
    let (app, rsmq) = app("overview", WebConfig::default().read_only(true)).await;
    rsmq.create_queue("a", None, None, None).await.unwrap();
    rsmq.create_queue("b", None, None, None).await.unwrap();
    rsmq.send_message("a", "one", None).await.unwrap();
    rsmq.send_message("a", "two", None).await.unwrap();
    rsmq.receive_message::<String>("a", None).await.unwrap();
    let (s, v) = req(&app, "GET", "/api/overview", None).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let queues = v["queues"].as_array().unwrap();
    assert_eq!(queues.len(), 2, "{v}");
    let a = &queues[0];
    assert_eq!(a["name"], "a");
    assert_eq!(
        (a["msgs"].as_u64(), a["visible"].as_u64()),
        (Some(2), Some(1))
    );
    assert!(a["hiddenmsgs"].as_u64() >= Some(1), "{v}");
    assert!(
        a["oldest_age"]
            .as_f64()
            .is_some_and(|age| (0.0..60.0).contains(&age)),
        "{v}"
    );
    assert!(
        queues[1]["oldest_age"].is_null(),
        "an empty queue has no oldest message: {v}"
    );
    assert!(v["redis"]["used_memory"].as_u64().unwrap() > 0);
    assert!(v["redis"]["policy"].is_string());
    assert!(v["redis"]["may_evict_messages"].is_boolean());
    assert_eq!(v["workers"], 0);
}
