//! The `/api/` routes that browse, search, pop, batch-send, move and redrive messages, and
//! the OpenAPI document, driven in-process against a real redis-server (one namespace per
//! test).

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use axum::http::StatusCode;
use axum::Router;
use rsmq_async::{Rsmq, RsmqConnection};
use rsmq_web::WebConfig;
use serde_json::{json, Value};
use support::{app, req};

/// A request that must succeed; its JSON.
async fn ok(app: &Router, method: &str, uri: &str, body: Option<Value>) -> Value {
    let (s, v) = req(app, method, uri, body).await;
    assert_eq!(s, StatusCode::OK, "{method} {uri}: {v}");
    v
}

/// A request that must fail with this status and error name.
async fn fails(
    app: &Router,
    method: &str,
    uri: &str,
    body: Option<Value>,
    status: StatusCode,
    name: &str,
) {
    let (s, v) = req(app, method, uri, body).await;
    assert_eq!(s, status, "{method} {uri}: {v}");
    assert_eq!(v["error"]["name"], name, "{method} {uri}: {v}");
    assert!(!v["error"]["message"].as_str().unwrap().is_empty());
}

/// A queue's counters: msgs, hiddenmsgs, totalsent, totalrecv.
/// What a read must not change. Not `hiddenmsgs`: as in the JavaScript client, it counts
/// the messages due from the start of the current second, so it drops by itself when a
/// second passes after a send.
async fn counters(rsmq: &Rsmq, q: &str) -> (u64, u64, u64, u64) {
    let a = rsmq.get_queue_attributes(q).await.unwrap();
    (a.msgs, a.visiblemsgs, a.totalsent, a.totalrecv)
}

fn messages(v: &Value) -> &Vec<Value> {
    v["messages"]
        .as_array()
        .unwrap_or_else(|| panic!("no messages: {v}"))
}

fn bodies(v: &Value) -> Vec<&str> {
    messages(v)
        .iter()
        .map(|m| m["message"].as_str().unwrap())
        .collect()
}

const NO_SUCH_ID: &str = "0123456789abcdefghijABCDEFGHIJ00";

#[tokio::test]
async fn browse_pages_cover_every_message_once_in_order_and_change_nothing() {
    let (app, rsmq) = app("browse", WebConfig::default()).await;
    rsmq.create_queue("q", None, None, None).await.unwrap();
    let bodies_sent: Vec<String> = (0..23).map(|i| format!("m{i:02}")).collect();
    rsmq.send_message_batch("q", bodies_sent.clone(), None)
        .await
        .unwrap();
    rsmq.send_message("q", "later", Some(Duration::from_secs(60)))
        .await
        .unwrap();
    // Received and hidden for two minutes, m00 goes last.
    rsmq.receive_message::<String>("q", Some(Duration::from_secs(120)))
        .await
        .unwrap()
        .unwrap();
    let before = counters(&rsmq, "q").await;

    let (mut seen, mut uri, mut pages) =
        (Vec::new(), "/api/queues/q/messages?limit=5".to_string(), 0);
    loop {
        let v = ok(&app, "GET", &uri, None).await;
        pages += 1;
        assert!(messages(&v).len() <= 5);
        seen.extend(messages(&v).iter().cloned());
        match v["next"].as_u64() {
            Some(next) => uri = format!("/api/queues/q/messages?limit=5&cursor={next}"),
            None => {
                assert_eq!(v["next"], Value::Null);
                break;
            }
        }
    }
    assert_eq!(pages, 5);
    assert_eq!(
        counters(&rsmq, "q").await,
        before,
        "browsing changes nothing"
    );

    let order: Vec<&str> = seen
        .iter()
        .map(|m| m["message"].as_str().unwrap())
        .collect();
    let mut expected: Vec<&str> = bodies_sent[1..].iter().map(String::as_str).collect();
    expected.extend(["later", "m00"]);
    assert_eq!(order, expected, "every message once, in visible-at order");
    let ids: BTreeSet<&str> = seen.iter().map(|m| m["id"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), 24);
    for m in &seen {
        let keys: BTreeSet<&str> = m.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            BTreeSet::from(["id", "message", "rc", "fr", "sent", "visible_at", "hidden"])
        );
        let hidden = matches!(m["message"].as_str(), Some("later" | "m00"));
        assert_eq!(m["hidden"], hidden, "{m}");
        // A batch's ids take consecutive microseconds from one Redis time, its messages
        // one score: a later id can name the next millisecond.
        assert!(m["visible_at"].as_u64().unwrap() + 1 >= m["sent"].as_u64().unwrap());
    }
    let last = &seen[23];
    assert_eq!(
        (&last["rc"], last["fr"].as_u64().unwrap() > 0),
        (&json!(1), true)
    );
    assert_eq!((&seen[0]["rc"], &seen[0]["fr"]), (&json!(0), &json!(0)));

    // The default page holds up to 50.
    let v = ok(&app, "GET", "/api/queues/q/messages", None).await;
    assert_eq!((messages(&v).len(), &v["next"]), (24, &Value::Null));
    let v = ok(&app, "GET", "/api/queues/q/messages?cursor=100", None).await;
    assert_eq!(v, json!({"messages": [], "next": null}));
    let v = ok(&app, "GET", "/api/queues/q/messages?limit=1000", None).await;
    assert_eq!(messages(&v).len(), 24);

    let bad = StatusCode::BAD_REQUEST;
    fails(
        &app,
        "GET",
        "/api/queues/q/messages?limit=0",
        None,
        bad,
        "invalidValue",
    )
    .await;
    fails(
        &app,
        "GET",
        "/api/queues/q/messages?limit=1001",
        None,
        bad,
        "invalidValue",
    )
    .await;
    fails(
        &app,
        "GET",
        "/api/queues/q/messages?cursor=x",
        None,
        bad,
        "invalidQuery",
    )
    .await;
    fails(
        &app,
        "GET",
        "/api/queues/q/messages?cursor=-1",
        None,
        bad,
        "invalidQuery",
    )
    .await;
    fails(
        &app,
        "GET",
        "/api/queues/bad!/messages",
        None,
        bad,
        "invalidFormat",
    )
    .await;
    let missing = StatusCode::NOT_FOUND;
    fails(
        &app,
        "GET",
        "/api/queues/nope/messages",
        None,
        missing,
        "queueNotFound",
    )
    .await;
}

#[tokio::test]
async fn one_message_by_id_or_404() {
    let (app, rsmq) = app("getone", WebConfig::default()).await;
    rsmq.create_queue("q", None, None, None).await.unwrap();
    let id = rsmq
        .send_message("q", "hello", Some(Duration::from_secs(30)))
        .await
        .unwrap();
    let v = ok(&app, "GET", &format!("/api/queues/q/messages/{id}"), None).await;
    assert_eq!(
        (&v["id"], &v["message"], &v["rc"], &v["fr"], &v["hidden"]),
        (
            &json!(id),
            &json!("hello"),
            &json!(0),
            &json!(0),
            &json!(true)
        )
    );
    let (sent, at) = (
        v["sent"].as_u64().unwrap(),
        v["visible_at"].as_u64().unwrap(),
    );
    assert!(at >= sent + 30_000 && at < sent + 31_000, "{v}");
    assert_eq!(v.as_object().unwrap().len(), 7);

    let missing = StatusCode::NOT_FOUND;
    let uri = format!("/api/queues/q/messages/{NO_SUCH_ID}");
    fails(&app, "GET", &uri, None, missing, "messageNotFound").await;
    rsmq.delete_message("q", &id).await.unwrap();
    let uri = format!("/api/queues/q/messages/{id}");
    fails(&app, "GET", &uri, None, missing, "messageNotFound").await;
    let uri = format!("/api/queues/nope/messages/{id}");
    fails(&app, "GET", &uri, None, missing, "queueNotFound").await;
    let bad = StatusCode::BAD_REQUEST;
    fails(
        &app,
        "GET",
        "/api/queues/q/messages/short",
        None,
        bad,
        "invalidFormat",
    )
    .await;
}

#[tokio::test]
async fn search_by_id_and_by_substring_with_cursor_continuation() {
    let (app, rsmq) = app("search", WebConfig::default()).await;
    rsmq.create_queue("q", None, None, None).await.unwrap();
    let sent: Vec<String> = (0..30)
        .map(|i| {
            if i % 3 == 0 {
                format!("has a needle {i}")
            } else {
                format!("only hay {i}")
            }
        })
        .collect();
    let ids = rsmq
        .send_message_batch("q", sent.clone(), None)
        .await
        .unwrap();
    let before = counters(&rsmq, "q").await;

    // By id.
    let v = ok(
        &app,
        "GET",
        &format!("/api/queues/q/search?id={}", ids[4]),
        None,
    )
    .await;
    assert_eq!(bodies(&v), ["only hay 4"]);
    assert_eq!((&v["next"], &v["scanned"]), (&Value::Null, &json!(1)));
    assert_eq!(messages(&v)[0]["id"], ids[4]);
    let v = ok(
        &app,
        "GET",
        &format!("/api/queues/q/search?id={NO_SUCH_ID}"),
        None,
    )
    .await;
    assert_eq!(v, json!({"messages": [], "next": null, "scanned": 0}));

    // By substring, 7 messages at a time: every match once, in order.
    let (mut found, mut uri, mut calls) = (
        Vec::new(),
        "/api/queues/q/search?q=needle&scan=7".to_string(),
        0,
    );
    loop {
        let v = ok(&app, "GET", &uri, None).await;
        calls += 1;
        assert!(v["scanned"].as_u64().unwrap() <= 7, "{v}");
        found.extend(bodies(&v).into_iter().map(String::from));
        match v["next"].as_u64() {
            Some(next) => uri = format!("/api/queues/q/search?q=needle&scan=7&cursor={next}"),
            None => break,
        }
    }
    assert_eq!(calls, 5);
    let expected: Vec<&String> = sent.iter().filter(|b| b.contains("needle")).collect();
    assert_eq!(found.iter().collect::<Vec<_>>(), expected);

    // The default scan covers the whole queue at once.
    let v = ok(&app, "GET", "/api/queues/q/search?q=hay%2029", None).await;
    assert_eq!(bodies(&v), ["only hay 29"]);
    assert_eq!((&v["next"], &v["scanned"]), (&Value::Null, &json!(30)));
    let v = ok(
        &app,
        "GET",
        "/api/queues/q/search?q=nothing&scan=10000",
        None,
    )
    .await;
    assert_eq!(v, json!({"messages": [], "next": null, "scanned": 30}));
    // A scan that stops before the end says where to go on.
    let v = ok(
        &app,
        "GET",
        "/api/queues/q/search?q=needle&cursor=20&scan=5",
        None,
    )
    .await;
    assert_eq!(bodies(&v), ["has a needle 21", "has a needle 24"]);
    assert_eq!((&v["next"], &v["scanned"]), (&json!(25), &json!(5)));
    assert_eq!(
        counters(&rsmq, "q").await,
        before,
        "searching changes nothing"
    );

    let bad = StatusCode::BAD_REQUEST;
    for uri in [
        "/api/queues/q/search?q=",
        "/api/queues/q/search?q=a&scan=0",
        "/api/queues/q/search?q=a&scan=10001",
    ] {
        fails(&app, "GET", uri, None, bad, "invalidValue").await;
    }
    fails(
        &app,
        "GET",
        "/api/queues/q/search",
        None,
        bad,
        "missingParameter",
    )
    .await;
    let both = format!("/api/queues/q/search?q=a&id={NO_SUCH_ID}");
    fails(&app, "GET", &both, None, bad, "invalidQuery").await;
    fails(
        &app,
        "GET",
        "/api/queues/q/search?q=a&cursor=x",
        None,
        bad,
        "invalidQuery",
    )
    .await;
    fails(
        &app,
        "GET",
        "/api/queues/q/search?id=short",
        None,
        bad,
        "invalidFormat",
    )
    .await;
    let missing = StatusCode::NOT_FOUND;
    fails(
        &app,
        "GET",
        "/api/queues/nope/search?q=a",
        None,
        missing,
        "queueNotFound",
    )
    .await;
    let uri = format!("/api/queues/nope/search?id={NO_SUCH_ID}");
    fails(&app, "GET", &uri, None, missing, "queueNotFound").await;
}

#[tokio::test]
async fn pop_answers_the_message_or_nothing() {
    let (app, rsmq) = app("pop", WebConfig::default()).await;
    rsmq.create_queue("q", None, None, None).await.unwrap();
    assert_eq!(ok(&app, "POST", "/api/queues/q/pop", None).await, json!({}));
    let id = rsmq.send_message("q", "once", None).await.unwrap();
    let v = ok(&app, "POST", "/api/queues/q/pop", None).await;
    assert_eq!(
        (&v["id"], &v["message"], &v["rc"]),
        (&json!(id), &json!("once"), &json!(1))
    );
    assert!(v["fr"].as_u64().unwrap() > 0 && v["sent"].as_u64().unwrap() > 0);
    assert_eq!(v.as_object().unwrap().len(), 5);
    assert_eq!(counters(&rsmq, "q").await, (0, 0, 1, 1));
    assert_eq!(ok(&app, "POST", "/api/queues/q/pop", None).await, json!({}));
    let missing = StatusCode::NOT_FOUND;
    fails(
        &app,
        "POST",
        "/api/queues/nope/pop",
        None,
        missing,
        "queueNotFound",
    )
    .await;
}

#[tokio::test]
async fn batch_send_stores_all_in_order_or_nothing() {
    let (app, rsmq) = app("batch", WebConfig::default()).await;
    rsmq.create_queue("q", None, None, Some(1024))
        .await
        .unwrap();
    let v = ok(
        &app,
        "POST",
        "/api/queues/q/messages",
        Some(json!({"messages": ["a", "b", "c"]})),
    )
    .await;
    let ids: Vec<String> = serde_json::from_value(v["ids"].clone()).unwrap();
    assert_eq!(ids.len(), 3);
    let page = ok(&app, "GET", "/api/queues/q/messages", None).await;
    assert_eq!(bodies(&page), ["a", "b", "c"]);
    let listed: Vec<&str> = messages(&page)
        .iter()
        .map(|m| m["id"].as_str().unwrap())
        .collect();
    assert_eq!(listed, ids);

    let v = ok(
        &app,
        "POST",
        "/api/queues/q/messages",
        Some(json!({"messages": ["d", "e"], "delay": 60})),
    )
    .await;
    assert_eq!(v["ids"].as_array().unwrap().len(), 2);
    let page = ok(&app, "GET", "/api/queues/q/messages?cursor=3", None).await;
    assert!(messages(&page).iter().all(|m| m["hidden"] == true));
    let before = counters(&rsmq, "q").await;
    assert_eq!(before.0, 5);

    let bad = StatusCode::BAD_REQUEST;
    let uri = "/api/queues/q/messages";
    fails(
        &app,
        "POST",
        uri,
        Some(json!({"messages": []})),
        bad,
        "invalidValue",
    )
    .await;
    let too_many = json!({ "messages": vec!["m"; 1001] });
    fails(&app, "POST", uri, Some(too_many), bad, "invalidValue").await;
    fails(
        &app,
        "POST",
        uri,
        Some(json!({"message": "x"})),
        bad,
        "invalidBody",
    )
    .await;
    fails(&app, "POST", uri, None, bad, "invalidBody").await;
    let delay = json!({"messages": ["x"], "delay": -1});
    fails(&app, "POST", uri, Some(delay), bad, "invalidValue").await;
    let long = json!({"messages": ["ok", "x".repeat(1025)]});
    fails(&app, "POST", uri, Some(long), bad, "messageTooLong").await;
    assert_eq!(
        counters(&rsmq, "q").await,
        before,
        "a failed batch stores nothing"
    );
    let missing = StatusCode::NOT_FOUND;
    let body = json!({"messages": ["x"]});
    fails(
        &app,
        "POST",
        "/api/queues/nope/messages",
        Some(body),
        missing,
        "queueNotFound",
    )
    .await;
}

#[tokio::test]
async fn move_takes_a_message_to_another_queue() {
    let (app, rsmq) = app("move", WebConfig::default()).await;
    rsmq.create_queue("q", None, None, None).await.unwrap();
    rsmq.create_queue("dst", None, None, None).await.unwrap();
    let id = rsmq.send_message("q", "moving", None).await.unwrap();
    rsmq.receive_message::<String>("q", Some(Duration::from_secs(60)))
        .await
        .unwrap();
    let uri = format!("/api/queues/q/messages/{id}/move");
    let v = ok(&app, "POST", &uri, Some(json!({"to": "dst"}))).await;
    assert_eq!(v, json!({"result": 1}));
    let m = ok(&app, "GET", &format!("/api/queues/dst/messages/{id}"), None).await;
    assert_eq!(
        (&m["message"], &m["rc"], &m["hidden"]),
        (&json!("moving"), &json!(1), &json!(false))
    );
    assert_eq!(counters(&rsmq, "q").await.0, 0);
    let v = ok(&app, "POST", &uri, Some(json!({"to": "dst"}))).await;
    assert_eq!(v, json!({"result": 0}));

    let bad = StatusCode::BAD_REQUEST;
    let back = format!("/api/queues/dst/messages/{id}/move");
    fails(
        &app,
        "POST",
        &back,
        Some(json!({"to": "dst"})),
        bad,
        "sameQueue",
    )
    .await;
    fails(
        &app,
        "POST",
        &back,
        Some(json!({"to": "bad!"})),
        bad,
        "invalidFormat",
    )
    .await;
    fails(&app, "POST", &back, Some(json!({})), bad, "invalidBody").await;
    fails(&app, "POST", &back, None, bad, "invalidBody").await;
    let short = "/api/queues/dst/messages/short/move";
    fails(
        &app,
        "POST",
        short,
        Some(json!({"to": "q"})),
        bad,
        "invalidFormat",
    )
    .await;
    let missing = StatusCode::NOT_FOUND;
    fails(
        &app,
        "POST",
        &back,
        Some(json!({"to": "nope"})),
        missing,
        "queueNotFound",
    )
    .await;
    let from_nowhere = format!("/api/queues/nope/messages/{id}/move");
    let to_q = Some(json!({"to": "q"}));
    fails(&app, "POST", &from_nowhere, to_q, missing, "queueNotFound").await;
    assert_eq!(counters(&rsmq, "dst").await.0, 1);
}

#[tokio::test]
async fn redrive_moves_receivable_dead_letters_and_a_dry_run_changes_nothing() {
    let (app, rsmq) = app("redrive", WebConfig::default()).await;
    rsmq.create_queue("dead", None, None, None).await.unwrap();
    rsmq.create_queue("q", None, None, None).await.unwrap();
    rsmq.send_message_batch("dead", vec!["a", "b", "c", "d", "e"], None)
        .await
        .unwrap();
    // One is being inspected: hidden, it stays.
    rsmq.receive_message::<String>("dead", Some(Duration::from_secs(60)))
        .await
        .unwrap();
    let before = (counters(&rsmq, "dead").await, counters(&rsmq, "q").await);

    let uri = "/api/queues/dead/redrive";
    let v = ok(&app, "POST", uri, Some(json!({"to": "q", "dry_run": true}))).await;
    assert_eq!(v, json!({"would_move": 4}));
    let v = ok(
        &app,
        "POST",
        uri,
        Some(json!({"to": "q", "dry_run": true, "max": 2})),
    )
    .await;
    assert_eq!(v, json!({"would_move": 2}));
    let after = (counters(&rsmq, "dead").await, counters(&rsmq, "q").await);
    assert_eq!(after, before, "a dry run changes nothing");

    let v = ok(&app, "POST", uri, Some(json!({"to": "q", "max": 3}))).await;
    assert_eq!(v, json!({"moved": 3}));
    let v = ok(
        &app,
        "POST",
        uri,
        Some(json!({"to": "q", "dry_run": false})),
    )
    .await;
    assert_eq!(v, json!({"moved": 1}));
    let v = ok(&app, "POST", uri, Some(json!({"to": "q"}))).await;
    assert_eq!(v, json!({"moved": 0}));
    assert_eq!(counters(&rsmq, "dead").await.0, 1);
    let page = ok(&app, "GET", "/api/queues/q/messages", None).await;
    assert_eq!(bodies(&page).len(), 4);
    assert!(messages(&page).iter().all(|m| m["rc"] == 0));

    let bad = StatusCode::BAD_REQUEST;
    for dry_run in [false, true] {
        let same = json!({"to": "dead", "dry_run": dry_run});
        fails(&app, "POST", uri, Some(same), bad, "sameQueue").await;
        let over = json!({"to": "q", "max": 1001, "dry_run": dry_run});
        fails(&app, "POST", uri, Some(over), bad, "invalidValue").await;
        let name = json!({"to": "bad!", "dry_run": dry_run});
        fails(&app, "POST", uri, Some(name), bad, "invalidFormat").await;
        let missing = StatusCode::NOT_FOUND;
        let nope = json!({"to": "nope", "dry_run": dry_run});
        fails(&app, "POST", uri, Some(nope), missing, "queueNotFound").await;
        let from_nowhere = json!({"to": "q", "dry_run": dry_run});
        let src = "/api/queues/nope/redrive";
        fails(
            &app,
            "POST",
            src,
            Some(from_nowhere),
            missing,
            "queueNotFound",
        )
        .await;
    }
    fails(&app, "POST", uri, None, bad, "invalidBody").await;
    fails(
        &app,
        "POST",
        uri,
        Some(json!({"max": 1})),
        bad,
        "invalidBody",
    )
    .await;
}

#[tokio::test]
async fn read_only_refuses_the_new_changes_and_allows_reads_and_dry_runs() {
    let (app, rsmq) = app("readonly-ops", WebConfig::default().read_only(true)).await;
    rsmq.create_queue("q", None, None, None).await.unwrap();
    rsmq.create_queue("dst", None, None, None).await.unwrap();
    let id = rsmq.send_message("q", "stay", None).await.unwrap();
    let before = (counters(&rsmq, "q").await, counters(&rsmq, "dst").await);

    let forbidden = StatusCode::FORBIDDEN;
    let changes: Vec<(String, Value)> = vec![
        ("/api/queues/q/pop".into(), Value::Null),
        ("/api/queues/q/messages".into(), json!({"messages": ["x"]})),
        (
            format!("/api/queues/q/messages/{id}/move"),
            json!({"to": "dst"}),
        ),
        ("/api/queues/q/redrive".into(), json!({"to": "dst"})),
        (
            "/api/queues/q/redrive".into(),
            json!({"to": "dst", "dry_run": false}),
        ),
    ];
    for (uri, body) in changes {
        let body = (!body.is_null()).then_some(body);
        fails(&app, "POST", &uri, body, forbidden, "readOnly").await;
    }
    let v = ok(
        &app,
        "POST",
        "/api/queues/q/redrive",
        Some(json!({"to": "dst", "dry_run": true})),
    )
    .await;
    assert_eq!(v, json!({"would_move": 1}));
    for uri in [
        "/api/queues/q/messages".to_string(),
        format!("/api/queues/q/messages/{id}"),
        format!("/api/queues/q/search?id={id}"),
        "/api/queues/q/search?q=stay".to_string(),
        "/api/openapi.json".to_string(),
    ] {
        ok(&app, "GET", &uri, None).await;
    }
    let after = (counters(&rsmq, "q").await, counters(&rsmq, "dst").await);
    assert_eq!(after, before);
}

/// Every route of the router, as the OpenAPI document must list it.
const ROUTES: &[(&str, &str)] = &[
    ("get", "/queues"),
    ("get", "/queues/{qname}"),
    ("post", "/queues/{qname}"),
    ("delete", "/queues/{qname}"),
    ("post", "/messages/{qname}"),
    ("get", "/messages/{qname}"),
    ("put", "/messages/{qname}/{id}"),
    ("delete", "/messages/{qname}/{id}"),
    ("put", "/message/{qname}/{id}"),
    ("get", "/api/queues/{qname}/peek"),
    ("post", "/api/queues/{qname}/purge"),
    ("patch", "/api/queues/{qname}"),
    ("get", "/api/workers"),
    ("get", "/api/queues/{qname}/messages"),
    ("post", "/api/queues/{qname}/messages"),
    ("get", "/api/queues/{qname}/messages/{id}"),
    ("post", "/api/queues/{qname}/messages/{id}/move"),
    ("get", "/api/queues/{qname}/search"),
    ("post", "/api/queues/{qname}/pop"),
    ("post", "/api/queues/{qname}/redrive"),
    ("get", "/api/openapi.json"),
    ("get", "/api/overview"),
    ("get", "/api/events"),
    ("get", "/metrics"),
];

#[tokio::test]
async fn the_openapi_document_parses_and_lists_every_route() {
    // Read-only, so that probing the routes changes nothing.
    let (app, _) = app("openapi", WebConfig::default().read_only(true)).await;
    let doc = ok(&app, "GET", "/api/openapi.json", None).await;
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."), "{doc}");
    assert_eq!(doc["info"]["title"], "rsmq-web");
    let paths = doc["paths"].as_object().expect("paths");
    let mut listed: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for (path, item) in paths {
        for (method, op) in item.as_object().unwrap() {
            if ["get", "post", "put", "delete", "patch"].contains(&method.as_str()) {
                listed.entry(path).or_default().insert(method);
                let responses = op["responses"].as_object().expect("responses");
                assert!(responses.contains_key("200"), "{method} {path}");
                for p in op["parameters"].as_array().into_iter().flatten() {
                    if p["in"] == "path" {
                        let name = p["name"].as_str().unwrap();
                        assert!(path.contains(&format!("{{{name}}}")), "{path}: {name}");
                    }
                }
            }
        }
        for segment in path.split('/').filter(|s| s.starts_with('{')) {
            let name = segment.trim_matches(['{', '}']);
            let declared = item.as_object().unwrap().values().all(|op| {
                op["parameters"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .any(|p| p["in"] == "path" && p["name"] == name)
            });
            assert!(declared, "{path}: parameter {name} not declared");
        }
    }
    for (method, path) in ROUTES {
        assert!(
            listed.get(path).is_some_and(|m| m.contains(method)),
            "the document lacks {method} {path}"
        );
    }
    // Routes that take a JSON body say so.
    for (method, path) in [
        ("post", "/messages/{qname}"),
        ("post", "/api/queues/{qname}/messages"),
        ("post", "/api/queues/{qname}/messages/{id}/move"),
        ("post", "/api/queues/{qname}/redrive"),
        ("patch", "/api/queues/{qname}"),
    ] {
        let body = &doc["paths"][path][method]["requestBody"]["content"]["application/json"];
        assert!(body["schema"].is_object(), "{method} {path}: {body}");
    }
    assert!(doc["components"]["schemas"]["MessagePage"].is_object());

    // Every operation of the document is a route of the router, and on each of its paths the
    // router takes no method the document leaves out.
    for (path, methods) in &listed {
        // Not JSON: a stream that never ends, and the metrics' text (tested on their own).
        if ["/api/events", "/metrics"].contains(path) {
            continue;
        }
        let uri = path.replace("{qname}", "nope").replace("{id}", NO_SUCH_ID);
        for method in ["GET", "POST", "PUT", "DELETE", "PATCH"] {
            let (s, v) = req(&app, method, &uri, None).await;
            let routed = s != StatusCode::METHOD_NOT_ALLOWED && v["error"]["name"] != "notFound";
            assert_eq!(
                routed,
                methods.contains(method.to_lowercase().as_str()),
                "{method} {path}: {s} {v}"
            );
        }
    }
}
