//! Authentication (bearer token, HTTP Basic) and the CSRF check of changes, driven
//! in-process against a real redis-server (one namespace per test).

mod support;

use axum::http::{header, HeaderMap, StatusCode};
use axum::Router;
use base64::Engine as _;
use rsmq_async::{Rsmq, RsmqConnection};
use rsmq_web::{router_with_csrf_token, WebConfig};
use serde_json::Value;

const CSRF: &str = "the-csrf-token";

async fn app(test: &str, config: WebConfig) -> (Router, Rsmq) {
    let rsmq = support::client(test).await;
    (
        router_with_csrf_token(rsmq.clone(), config, CSRF.into()),
        rsmq,
    )
}

/// Sends one request with `headers`; the status, the headers and the JSON body (Null when
/// not JSON).
async fn send(
    app: &Router,
    method: &str,
    uri: &str,
    headers: &[(&str, &str)],
) -> (StatusCode, HeaderMap, Value) {
    let reply = support::oneshot(app, support::request(method, uri, None, headers)).await;
    let value = reply.json_or_null();
    (reply.status, reply.headers, value)
}

fn basic(user: &str, password: &str) -> String {
    let encoded = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
    format!("Basic {encoded}")
}

fn challenges(h: &HeaderMap) -> Vec<String> {
    h.get_all(header::WWW_AUTHENTICATE)
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .collect()
}

const BASIC_CHALLENGE: &str = r#"Basic realm="rsmq", charset="UTF-8""#;

#[tokio::test]
async fn basic_auth_lets_the_right_user_in() {
    let (app, _) = app("basic", WebConfig::default().basic("admin", "pa:ss wörd")).await;
    let right = basic("admin", "pa:ss wörd");
    let (s, _, v) = send(&app, "GET", "/queues", &[("authorization", &right)]).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    // The scheme is case-insensitive.
    let lower = right.replacen("Basic", "basic", 1);
    let (s, _, _) = send(&app, "GET", "/queues", &[("authorization", &lower)]).await;
    assert_eq!(s, StatusCode::OK);
    let (s, _, v) = send(&app, "POST", "/queues/q", &[("authorization", &right)]).await;
    assert_eq!(s, StatusCode::OK, "{v}");

    let wrong = [
        basic("admin", "pa:ss word"),
        basic("admin", "pa:ss wörd "),
        basic("Admin", "pa:ss wörd"),
        basic("admin", ""),
        basic("", "pa:ss wörd"),
        "Basic not-base64!".into(),
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode("admin")
        ),
        "Bearer pa:ss wörd".into(),
        "admin:pa:ss wörd".into(),
    ];
    for w in &wrong {
        let (s, h, v) = send(&app, "GET", "/queues", &[("authorization", w)]).await;
        assert_eq!(s, StatusCode::UNAUTHORIZED, "{w}");
        assert_eq!(v["error"]["name"], "unauthorized");
        assert_eq!(challenges(&h), [BASIC_CHALLENGE], "{w}");
    }
    for uri in ["/queues", "/metrics", "/nowhere"] {
        let (s, h, v) = send(&app, "GET", uri, &[]).await;
        assert_eq!(s, StatusCode::UNAUTHORIZED, "{uri}");
        assert_eq!(challenges(&h), [BASIC_CHALLENGE], "{uri}");
        assert!(!v.to_string().contains("wörd"), "{v}");
        assert_eq!(h[header::X_FRAME_OPTIONS], "DENY");
    }
}

#[tokio::test]
async fn token_and_basic_either_passes() {
    let config = WebConfig::default()
        .token("s3cret")
        .basic("admin", "hunter2");
    let (app, _) = app("both", config).await;
    let bearer = "Bearer s3cret";
    let user = basic("admin", "hunter2");
    for a in [bearer, user.as_str()] {
        let (s, _, v) = send(&app, "GET", "/queues", &[("authorization", a)]).await;
        assert_eq!(s, StatusCode::OK, "{a}: {v}");
    }
    // Neither, or one's secret in the other's scheme.
    for a in [
        None,
        Some("Bearer hunter2"),
        Some(basic("admin", "s3cret").as_str()),
    ] {
        let headers: Vec<(&str, &str)> = a.map(|a| ("authorization", a)).into_iter().collect();
        let (s, h, _) = send(&app, "GET", "/queues", &headers).await;
        assert_eq!(s, StatusCode::UNAUTHORIZED, "{a:?}");
        assert_eq!(challenges(&h), ["Bearer", BASIC_CHALLENGE]);
    }
    // With the token alone, the challenge stays Bearer.
    let (app, _) = self::app("token-only", WebConfig::default().token("s3cret")).await;
    let (s, h, _) = send(&app, "GET", "/queues", &[]).await;
    assert_eq!(
        (s, challenges(&h)),
        (StatusCode::UNAUTHORIZED, vec!["Bearer".into()])
    );
    let (s, _, _) = send(&app, "GET", "/queues", &[("authorization", &user)]).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
}

fn csrf_error(s: StatusCode, v: &Value, what: &str) {
    assert_eq!(s, StatusCode::FORBIDDEN, "{what}: {v}");
    assert_eq!(v["error"]["name"], "csrf", "{what}: {v}");
    assert!(!v.to_string().contains(CSRF), "{v}");
}

#[tokio::test]
async fn cross_site_changes_are_refused_and_change_nothing() {
    let config = WebConfig::default()
        .token("s3cret")
        .basic("admin", "hunter2");
    let (app, rsmq) = app("csrf-cross", config).await;
    rsmq.create_queue("q", None, None, None).await.unwrap();
    let id = rsmq.send_message("q", "body", None).await.unwrap();
    let user = basic("admin", "hunter2");
    let changes = [
        ("POST", "/queues/new".to_string()),
        ("DELETE", "/queues/q".to_string()),
        ("POST", "/messages/q".to_string()),
        ("GET", "/messages/q".to_string()),
        ("HEAD", "/messages/q".to_string()),
        ("PUT", format!("/messages/q/{id}?vt=5")),
        ("PUT", format!("/message/q/{id}?vt=5")),
        ("DELETE", format!("/messages/q/{id}")),
        ("POST", "/api/queues/q/purge".to_string()),
        ("PATCH", "/api/queues/q".to_string()),
    ];
    // Cross-site, whatever the credentials and even with the CSRF token.
    let cross: [&[(&str, &str)]; 4] = [
        &[
            ("origin", "http://evil.example"),
            ("host", "rsmq.local:8080"),
        ],
        &[
            ("origin", "http://rsmq.local:8081"),
            ("host", "rsmq.local:8080"),
        ],
        &[("origin", "null"), ("host", "rsmq.local:8080")],
        &[("sec-fetch-site", "cross-site")],
    ];
    for (method, uri) in &changes {
        for headers in cross {
            for auth in ["Bearer s3cret", user.as_str()] {
                let mut h = headers.to_vec();
                h.extend([("authorization", auth), ("x-csrf-token", CSRF)]);
                let (s, _, v) = send(&app, method, uri, &h).await;
                if *method == "HEAD" {
                    assert_eq!(s, StatusCode::FORBIDDEN, "{method} {uri} {h:?}");
                } else {
                    csrf_error(s, &v, &format!("{method} {uri} {h:?}"));
                }
            }
        }
        let h = [
            ("sec-fetch-site", "same-site"),
            ("authorization", "Bearer s3cret"),
            ("x-csrf-token", CSRF),
        ];
        let (s, _, _) = send(&app, method, uri, &h).await;
        assert_eq!(s, StatusCode::FORBIDDEN, "{method} {uri} same-site");
    }
    // Nothing changed.
    assert_eq!(rsmq.list_queues().await.unwrap(), ["q"]);
    let attrs = rsmq.get_queue_attributes("q").await.unwrap();
    assert_eq!(
        (attrs.msgs, attrs.totalrecv, attrs.vt.as_secs()),
        (1, 0, 30)
    );
    // Still receivable, never received.
    let head = rsmq.peek_messages::<String>("q", 10).await.unwrap();
    assert_eq!((head.len(), &head[0].id, head[0].rc), (1, &id, 0));
    // Reads from another site are let through (the browser keeps their answers from it).
    for uri in ["/queues", "/queues/q", "/api/queues/q/peek", "/api/workers"] {
        let h = [
            ("origin", "http://evil.example"),
            ("sec-fetch-site", "cross-site"),
            ("authorization", "Bearer s3cret"),
        ];
        let (s, _, v) = send(&app, "GET", uri, &h).await;
        assert_eq!(s, StatusCode::OK, "{uri}: {v}");
    }
}

#[tokio::test]
async fn a_browser_change_needs_the_csrf_token() {
    let (app, rsmq) = app(
        "csrf-browser",
        WebConfig::default().basic("admin", "hunter2"),
    )
    .await;
    let user = basic("admin", "hunter2");
    let auth = ("authorization", user.as_str());
    let browsers: [&[(&str, &str)]; 6] = [
        &[
            ("origin", "http://rsmq.local:8080"),
            ("host", "rsmq.local:8080"),
        ],
        &[("sec-fetch-site", "same-origin")],
        &[("sec-fetch-site", "none")],
        &[("sec-fetch-mode", "cors")],
        &[("referer", "http://rsmq.local:8080/")],
        &[("cookie", "session=1")],
    ];
    for browser in browsers {
        let mut h = browser.to_vec();
        h.push(auth);
        let (s, _, v) = send(&app, "POST", "/queues/q", &h).await;
        csrf_error(s, &v, &format!("{h:?}"));
        h.push(("x-csrf-token", "a-wrong-token"));
        let (s, _, v) = send(&app, "POST", "/queues/q", &h).await;
        csrf_error(s, &v, &format!("{h:?}"));
        assert!(rsmq.list_queues().await.unwrap().is_empty());
    }
    // A receive from a browser needs it too, and is not made without it.
    rsmq.create_queue("r", None, None, None).await.unwrap();
    rsmq.send_message("r", "body", None).await.unwrap();
    let h = [auth, ("sec-fetch-site", "same-origin")];
    let (s, _, v) = send(&app, "GET", "/messages/r", &h).await;
    csrf_error(s, &v, "receive");
    assert_eq!(rsmq.get_queue_attributes("r").await.unwrap().totalrecv, 0);
    let h = [
        auth,
        ("sec-fetch-site", "same-origin"),
        ("x-csrf-token", CSRF),
    ];
    let (s, _, v) = send(&app, "GET", "/messages/r", &h).await;
    assert_eq!((s, &v["message"]), (StatusCode::OK, &"body".into()), "{v}");

    // With the right token, every browser-like request passes.
    for (i, browser) in browsers.iter().enumerate() {
        let mut h = browser.to_vec();
        h.extend([auth, ("x-csrf-token", CSRF)]);
        let (s, _, v) = send(&app, "POST", &format!("/queues/q{i}"), &h).await;
        assert_eq!(s, StatusCode::OK, "{h:?}: {v}");
    }
    // Reads never need it.
    let h = [auth, ("sec-fetch-site", "same-origin"), ("cookie", "a=b")];
    for uri in [
        "/queues",
        "/queues/r",
        "/api/queues/r/peek",
        "/api/overview",
        "/metrics",
    ] {
        let (s, _, _) = send(&app, "GET", uri, &h).await;
        assert_eq!(s, StatusCode::OK, "{uri}");
    }
}

#[tokio::test]
async fn clients_that_are_not_browsers_need_no_csrf_token() {
    // Without credentials, and with the bearer token.
    for (test, config, auth) in [
        ("csrf-open", WebConfig::default(), None),
        (
            "csrf-token",
            WebConfig::default().token("s3cret"),
            Some("Bearer s3cret"),
        ),
    ] {
        let (app, rsmq) = app(test, config).await;
        let h: Vec<(&str, &str)> = auth.map(|a| ("authorization", a)).into_iter().collect();
        let (s, _, v) = send(&app, "POST", "/queues/q", &h).await;
        assert_eq!(s, StatusCode::OK, "{test}: {v}");
        let (s, _, v) = send(&app, "DELETE", "/queues/q", &h).await;
        assert_eq!(s, StatusCode::OK, "{test}: {v}");
        assert!(rsmq.list_queues().await.unwrap().is_empty());
    }
    // A browser's same-origin request with the bearer token: a browser never attaches
    // that token by itself, so the CSRF token is not needed.
    let (app, _) = app("csrf-bearer", WebConfig::default().token("s3cret")).await;
    let h = [
        ("authorization", "Bearer s3cret"),
        ("origin", "http://rsmq.local"),
        ("host", "rsmq.local"),
        ("sec-fetch-site", "same-origin"),
        ("cookie", "a=b"),
    ];
    let (s, _, v) = send(&app, "POST", "/queues/q", &h).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    // Basic credentials do not exempt: a browser sends them by itself.
    let (app, _) = self::app("csrf-basic", WebConfig::default().basic("a", "b")).await;
    let user = basic("a", "b");
    let h = [("authorization", user.as_str()), ("cookie", "a=b")];
    let (s, _, v) = send(&app, "POST", "/queues/q", &h).await;
    csrf_error(s, &v, "basic");
}

#[tokio::test]
async fn the_check_applies_under_a_prefix() {
    let (api, rsmq) = app("csrf-nested", WebConfig::default()).await;
    let nested = Router::new().nest("/rsmq", api);
    rsmq.create_queue("q", None, None, None).await.unwrap();
    rsmq.send_message("q", "body", None).await.unwrap();
    let h = [("sec-fetch-site", "same-origin")];
    let (s, _, v) = send(&nested, "GET", "/rsmq/messages/q", &h).await;
    csrf_error(s, &v, "nested receive");
    let (s, _, v) = send(&nested, "DELETE", "/rsmq/queues/q", &h).await;
    csrf_error(s, &v, "nested delete");
    let (s, _, _) = send(&nested, "GET", "/rsmq/queues/q", &h).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(rsmq.get_queue_attributes("q").await.unwrap().totalrecv, 0);
}
