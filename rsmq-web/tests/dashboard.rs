//! The dashboard's pages, assets and live updates, in-process against a real redis-server
//! (what a browser sees is in `browser.rs`).

mod support;

use std::time::Duration;

use axum::http::{header, StatusCode};
use axum::Router;
use http_body_util::BodyExt;
use rsmq_async::RsmqConnection;
use rsmq_web::{router, WebConfig};
use support::client;
use tower::ServiceExt;

/// GET `uri`: status, content type, body as text.
async fn get(app: &Router, uri: &str) -> (StatusCode, String, String) {
    let reply = support::oneshot(app, support::request("GET", uri, None, &[])).await;
    assert_eq!(
        reply.headers[header::CONTENT_SECURITY_POLICY],
        "default-src 'self'",
        "{uri}"
    );
    (reply.status, reply.content_type(), reply.text())
}

/// The value of `<meta name="{name}" content="...">`.
fn meta<'a>(html: &'a str, name: &str) -> &'a str {
    let tag = format!(r#"<meta name="{name}" content=""#);
    let start = html.find(&tag).unwrap_or_else(|| panic!("no meta {name}")) + tag.len();
    let len = html[start..].find('"').unwrap();
    &html[start..start + len]
}

/// Nothing the `default-src 'self'` policy would block: no inline script, style or handler.
fn assert_no_inline_code(html: &str) {
    for (i, _) in html.match_indices("<script") {
        let tag = &html[i..i + html[i..].find('>').unwrap()];
        assert!(tag.contains(" src="), "inline script: {tag}");
    }
    assert!(!html.contains("<style"), "inline style element");
    assert!(!html.contains(" style="), "inline style attribute");
    assert!(!html.contains(" onclick="), "inline handler");
}

#[tokio::test]
async fn the_queue_list_is_html_with_the_csrf_token_and_every_queue() {
    let rsmq = client("dash-list").await;
    rsmq.create_queue("orders", None, None, None).await.unwrap();
    rsmq.send_message("orders", "x", None).await.unwrap();
    let app = router(rsmq, WebConfig::default());

    let (status, ctype, html) = get(&app, "/").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(ctype, "text/html; charset=utf-8");
    let csrf = meta(&html, "csrf-token");
    assert_eq!(csrf.len(), 64);
    assert!(csrf.bytes().all(|b| b.is_ascii_hexdigit()));
    assert_eq!(meta(&html, "rsmq-base"), "");
    assert!(html.contains(r#"<tr data-queue="orders"><td><a href="/ui/queues/orders">orders</a>"#));
    assert!(html.contains(r#"data-read-only="false""#));
    assert!(html.contains(r#"<script src="/assets/app.js"></script>"#));
    assert_no_inline_code(&html);
}

#[tokio::test]
async fn assets_are_served_with_their_content_types() {
    let app = router(client("dash-assets").await, WebConfig::default());
    let (status, ctype, js) = get(&app, "/assets/app.js").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(ctype, "text/javascript; charset=utf-8");
    assert!(js.contains("EventSource"));
    // The script writes text only.
    assert!(!js.contains("innerHTML") && !js.contains("insertAdjacentHTML"));
    let (status, ctype, css) = get(&app, "/assets/app.css").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(ctype, "text/css; charset=utf-8");
    assert!(css.contains("prefers-color-scheme: dark"));
}

#[tokio::test]
async fn the_queue_page_shows_attributes_and_actions() {
    let rsmq = client("dash-queue").await;
    rsmq.create_queue("jobs", Some(Duration::from_secs(45)), None, None)
        .await
        .unwrap();
    let app = router(rsmq, WebConfig::default());
    let (status, ctype, html) = get(&app, "/ui/queues/jobs").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(ctype, "text/html; charset=utf-8");
    assert!(html.contains(r#"data-queue="jobs""#));
    assert!(html.contains("<dd>45 s</dd>"));
    for control in [r#"id="send""#, r#"id="purge""#, r#"id="redrive-box""#] {
        assert!(html.contains(control), "{control}");
    }
    assert_no_inline_code(&html);
    // The JSON route of the same queue is unchanged.
    let (status, ctype, _) = get(&app, "/queues/jobs").await;
    assert_eq!(
        (status, ctype.as_str()),
        (StatusCode::OK, "application/json")
    );
}

#[tokio::test]
async fn an_unknown_queue_is_a_404_page_that_shows_the_name_as_text() {
    let app = router(client("dash-404").await, WebConfig::default());
    let (status, ctype, html) = get(&app, "/ui/queues/%3Cscript%3Ex%3C%2Fscript%3E").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(ctype, "text/html; charset=utf-8");
    assert!(html.contains("&lt;script&gt;x&lt;/script&gt;"), "{html}");
    assert!(!html.contains("<script>x"));
    let (status, _, html) = get(&app, "/ui/queues/nosuch").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(html.contains("nosuch"));
}

#[tokio::test]
async fn read_only_pages_carry_no_mutating_controls() {
    let rsmq = client("dash-ro").await;
    rsmq.create_queue("jobs", None, None, None).await.unwrap();
    let app = router(rsmq, WebConfig::default().read_only(true));
    let (_, _, html) = get(&app, "/ui/queues/jobs").await;
    assert!(html.contains(r#"data-read-only="true""#));
    assert!(html.contains("read-only"));
    for control in [
        "<textarea",
        r#"id="send""#,
        r#"id="purge""#,
        r#"id="redrive"#,
    ] {
        assert!(!html.contains(control), "{control} in read-only mode");
    }
}

#[tokio::test]
async fn nested_pages_link_under_their_prefix() {
    let rsmq = client("dash-nest").await;
    rsmq.create_queue("jobs", None, None, None).await.unwrap();
    let app = Router::new().nest("/rsmq", router(rsmq, WebConfig::default()));
    let (status, _, html) = get(&app, "/rsmq").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(meta(&html, "rsmq-base"), "/rsmq");
    // The brand links to the list where the nested router serves it.
    assert!(html.contains(r#"<a class="brand" href="/rsmq">"#));
    assert!(html.contains(r#"<script src="/rsmq/assets/app.js"></script>"#));
    assert!(html.contains(r#"href="/rsmq/ui/queues/jobs""#));
    let (status, _, html) = get(&app, "/rsmq/ui/queues/jobs").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(meta(&html, "rsmq-base"), "/rsmq");
    assert!(html.contains(r#"<a href="/rsmq">Queues</a>"#));
    let (status, ctype, _) = get(&app, "/rsmq/assets/app.css").await;
    assert_eq!(
        (status, ctype.as_str()),
        (StatusCode::OK, "text/css; charset=utf-8")
    );
}

#[tokio::test]
async fn events_stream_the_overview_every_second() {
    let rsmq = client("dash-events").await;
    rsmq.create_queue("jobs", None, None, None).await.unwrap();
    let app = router(rsmq.clone(), WebConfig::default());
    let req = support::request("GET", "/api/events", None, &[]);
    let res = app.oneshot(req).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()[header::CONTENT_TYPE], "text/event-stream");
    let mut body = res.into_body();
    let first = next_overview(&mut body).await;
    assert_eq!(first["queues"][0]["name"], "jobs");
    assert_eq!(first["queues"][0]["msgs"], 0);
    rsmq.send_message("jobs", "x", None).await.unwrap();
    let second = next_overview(&mut body).await;
    assert_eq!(second["queues"][0]["msgs"], 1);
    assert!(second["time"].as_u64() > first["time"].as_u64());
}

/// The JSON of the next `overview` event of an `/api/events` stream.
async fn next_overview(body: &mut axum::body::Body) -> serde_json::Value {
    loop {
        let frame = tokio::time::timeout(Duration::from_secs(3), body.frame())
            .await
            .expect("an event within 3 s")
            .expect("the stream goes on")
            .unwrap();
        if let Ok(data) = frame.into_data() {
            let text = String::from_utf8(data.to_vec()).unwrap();
            if let Some(json) = text
                .strip_prefix("event: overview\n")
                .and_then(|t| t.lines().find_map(|l| l.strip_prefix("data: ")))
            {
                return serde_json::from_str(json).unwrap();
            }
        }
    }
}

/// The first `overview` event's JSON of a new `/api/events` stream.
async fn first_overview(app: &Router) -> serde_json::Value {
    let req = support::request("GET", "/api/events", None, &[]);
    let mut body = app.clone().oneshot(req).await.unwrap().into_body();
    next_overview(&mut body).await
}

#[tokio::test]
async fn streams_opened_together_share_one_reading() {
    let rsmq = client("dash-share").await;
    for q in ["a", "b", "c"] {
        rsmq.create_queue(q, None, None, None).await.unwrap();
    }
    let app = router(rsmq.clone(), WebConfig::default());
    let one = first_overview(&app).await;
    let (two, three) = tokio::join!(first_overview(&app), first_overview(&app));
    // Read once (the time of the reading is the same), sent three times.
    assert_eq!(one["queues"].as_array().unwrap().len(), 3);
    assert_eq!((&two, &three), (&one, &one));
    // A router of its own reads for itself.
    let other = router(rsmq.clone(), WebConfig::default());
    tokio::time::sleep(Duration::from_millis(5)).await;
    assert_ne!(first_overview(&other).await["time"], one["time"]);
}
