//! Signing in to the dashboard with the token: the form a browser gets, the session cookie,
//! signing out, and what a session may and may not do; in-process against a real
//! redis-server (one namespace per test).

mod support;

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use axum::Router;
use rsmq_async::{Rsmq, RsmqConnection};
use rsmq_web::{router_with_csrf_token, WebConfig};
use std::time::Duration;
use support::Reply;
use tower::ServiceExt;

const CSRF: &str = "the-csrf-token";
const TOKEN: &str = "s3cret-token";

async fn app(test: &str, config: WebConfig) -> (Router, Rsmq) {
    let rsmq = support::client(test).await;
    (
        router_with_csrf_token(rsmq.clone(), config, CSRF.into()),
        rsmq,
    )
}

/// A request as a browser sends it: `Accept: text/html`, same-origin, with the `cookie`
/// when given and a form `body` when given.
fn browser(method: &str, uri: &str, cookie: Option<&str>, form: Option<&str>) -> Request<Body> {
    let mut req = Request::builder()
        .method(method)
        .uri(uri)
        .header(header::HOST, "rsmq.local")
        .header(header::ACCEPT, "text/html,application/xhtml+xml,*/*;q=0.8")
        .header("sec-fetch-site", "same-origin");
    if let Some(c) = cookie {
        req = req.header(header::COOKIE, c);
    }
    match form {
        Some(f) => req
            .header(header::ORIGIN, "http://rsmq.local")
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from(f.to_string())),
        None => req.body(Body::empty()),
    }
    .unwrap()
}

/// The `name=value` part of the reply's `Set-Cookie`, and the whole header.
fn set_cookie(r: &Reply) -> (String, String) {
    let whole = r.headers[header::SET_COOKIE].to_str().unwrap().to_string();
    let pair = whole.split(';').next().unwrap().to_string();
    (pair, whole)
}

fn location(r: &Reply) -> &str {
    r.headers[header::LOCATION].to_str().unwrap()
}

/// Signs in through the form; the cookie to send back.
async fn sign_in(app: &Router, prefix: &str) -> String {
    let form = format!("token={TOKEN}&next=%2F");
    let r = support::oneshot(
        app,
        browser("POST", &format!("{prefix}/login"), None, Some(&form)),
    )
    .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text());
    set_cookie(&r).0
}

#[tokio::test]
async fn a_browser_without_credentials_gets_the_sign_in_form() {
    let (app, rsmq) = app("form", WebConfig::default().token(TOKEN)).await;
    rsmq.create_queue("q", None, None, None).await.unwrap();
    for page in ["/", "/ui/queues/q?x=1"] {
        let r = support::oneshot(&app, browser("GET", page, None, None)).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED);
        assert!(r.content_type().starts_with("text/html"));
        let html = r.text();
        assert!(html.contains(r#"action="/login""#), "{html}");
        assert!(html.contains(r#"name="token""#));
        assert!(
            html.contains(&format!(r#"name="next" value="{page}""#)),
            "{html}"
        );
        // The form carries no CSRF token and the page shows no queue.
        assert!(!html.contains(CSRF) && !html.contains("data-queue=\"q\""));
        assert_eq!(r.headers[header::WWW_AUTHENTICATE], "Bearer");
        assert!(r.headers.contains_key(header::CONTENT_SECURITY_POLICY));
    }
    // The API still answers JSON, and a page asked for by a client that is not a browser too.
    let r = support::oneshot(&app, support::request("GET", "/queues", None, &[])).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(r.json()["error"]["name"], "unauthorized");
    let r = support::oneshot(&app, support::request("GET", "/", None, &[])).await;
    assert_eq!(r.json()["error"]["name"], "unauthorized");
    // The form's style sheet and script are served to anyone: they are the same for all.
    for asset in ["/assets/app.css", "/assets/app.js"] {
        let r = support::oneshot(&app, browser("GET", asset, None, None)).await;
        assert_eq!(r.status, StatusCode::OK, "{asset}");
    }
    // GET /login shows the form too.
    let r = support::oneshot(&app, browser("GET", "/login", None, None)).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.text().contains(r#"name="token""#));
}

#[tokio::test]
async fn the_token_opens_a_session_that_reads_and_changes_with_the_csrf_token() {
    let (app, rsmq) = app("session", WebConfig::default().token(TOKEN)).await;
    rsmq.create_queue("q", None, None, None).await.unwrap();
    let form = format!("token={TOKEN}&next=%2Fui%2Fqueues%2Fq");
    let r = support::oneshot(&app, browser("POST", "/login", None, Some(&form))).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(location(&r), "/ui/queues/q");
    let (cookie, whole) = set_cookie(&r);
    assert!(cookie.starts_with("rsmq_session=") && cookie.len() == 13 + 64);
    for part in ["HttpOnly", "SameSite=Strict", "Path=/;", "Max-Age=43200"] {
        assert!(whole.contains(part), "{whole}");
    }
    assert!(!whole.contains("Secure"), "plain HTTP: {whole}");

    // The page, with the CSRF token and a way to sign out.
    let r = support::oneshot(&app, browser("GET", "/ui/queues/q", Some(&cookie), None)).await;
    assert_eq!(r.status, StatusCode::OK);
    let html = r.text();
    assert!(html.contains(CSRF) && html.contains(r#"action="/logout""#));
    // Reading the API.
    let r = support::oneshot(&app, browser("GET", "/api/overview", Some(&cookie), None)).await;
    assert_eq!(r.status, StatusCode::OK);
    // A change needs the page's CSRF token.
    let send = |csrf: Option<&str>| {
        let mut req = browser("POST", "/messages/q", Some(&cookie), None);
        let h = req.headers_mut();
        h.insert(header::CONTENT_TYPE, "application/json".parse().unwrap());
        if let Some(t) = csrf {
            h.insert("x-csrf-token", t.parse().unwrap());
        }
        *req.body_mut() = Body::from(r#"{"message":"hello"}"#);
        req
    };
    let r = support::oneshot(&app, send(None)).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_eq!(r.json()["error"]["name"], "csrf");
    assert_eq!(rsmq.get_queue_attributes("q").await.unwrap().msgs, 0);
    let r = support::oneshot(&app, send(Some(CSRF))).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(rsmq.get_queue_attributes("q").await.unwrap().msgs, 1);

    // Signing out ends it: the cookie no longer opens anything.
    let r = support::oneshot(&app, browser("POST", "/logout", Some(&cookie), Some(""))).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(location(&r), "/login");
    assert!(set_cookie(&r).1.contains("Max-Age=0"));
    let r = support::oneshot(&app, browser("GET", "/api/overview", Some(&cookie), None)).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn signing_out_ends_the_live_updates_of_the_session() {
    use http_body_util::BodyExt;
    let (app, _) = app("stream", WebConfig::default().token(TOKEN)).await;
    let cookie = sign_in(&app, "").await;
    let res = app
        .clone()
        .oneshot(browser("GET", "/api/events", Some(&cookie), None))
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let mut body = res.into_body();
    let first = tokio::time::timeout(Duration::from_secs(3), body.frame()).await;
    assert!(matches!(first, Ok(Some(Ok(_)))), "an event first");
    let r = support::oneshot(&app, browser("POST", "/logout", Some(&cookie), Some(""))).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    // The stream ends at its next tick (keep-alive comments may come first).
    let ended = tokio::time::timeout(Duration::from_secs(3), async {
        while let Some(frame) = body.frame().await {
            let data = frame.unwrap().into_data().unwrap_or_default();
            assert!(!data.starts_with(b"event:"), "an event after signing out");
        }
    })
    .await;
    assert!(ended.is_ok(), "the stream goes on after signing out");
}

#[tokio::test]
async fn a_wrong_token_or_a_forged_cookie_opens_nothing() {
    let (app, _) = app("wrong", WebConfig::default().token(TOKEN)).await;
    for form in [
        "token=s3cret",
        "token=s3cret-token%20",
        "",
        "next=%2F",
        "token=",
    ] {
        let r = support::oneshot(&app, browser("POST", "/login", None, Some(form))).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{form}");
        assert!(!r.headers.contains_key(header::SET_COOKIE));
        assert!(r.text().contains("not the server"), "{form}");
    }
    let forged = format!("rsmq_session={}", "0".repeat(64));
    for cookie in [forged.as_str(), "rsmq_session=", "rsmq_session"] {
        let r = support::oneshot(&app, browser("GET", "/api/overview", Some(cookie), None)).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{cookie}");
    }
    // A wrong Authorization header is not rescued by a good cookie: the header decides.
    let cookie = sign_in(&app, "").await;
    let mut req = browser("GET", "/api/overview", Some(&cookie), None);
    req.headers_mut()
        .insert(header::AUTHORIZATION, "Bearer wrong".parse().unwrap());
    let r = support::oneshot(&app, req).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn signing_in_is_refused_cross_site_and_never_redirects_away() {
    let (app, _) = app("cross", WebConfig::default().token(TOKEN)).await;
    let form = format!("token={TOKEN}");
    let mut req = browser("POST", "/login", None, Some(&form));
    req.headers_mut()
        .insert(header::ORIGIN, "http://evil.example".parse().unwrap());
    let r = support::oneshot(&app, req).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert!(!r.headers.contains_key(header::SET_COOKIE));
    let mut req = browser("POST", "/login", None, Some(&form));
    req.headers_mut()
        .insert("sec-fetch-site", "cross-site".parse().unwrap());
    assert_eq!(
        support::oneshot(&app, req).await.status,
        StatusCode::FORBIDDEN
    );
    // `next` naming another host goes to the queue list instead.
    for next in [
        "%2F%2Fevil.example%2F",
        "https%3A%2F%2Fevil.example",
        "%2F%5Cevil",
    ] {
        let form = format!("token={TOKEN}&next={next}");
        let r = support::oneshot(&app, browser("POST", "/login", None, Some(&form))).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER);
        assert_eq!(location(&r), "/", "{next}");
    }
}

#[tokio::test]
async fn sessions_work_under_a_prefix_and_behind_https() {
    let (api, _) = app("prefix", WebConfig::default().token(TOKEN)).await;
    let app = Router::new().nest("/rsmq", api);
    let r = support::oneshot(&app, browser("GET", "/rsmq", None, None)).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert!(r.text().contains(r#"action="/rsmq/login""#));
    let form = format!("token={TOKEN}&next=%2Fui%2Fqueues%2Fq");
    let mut req = browser("POST", "/rsmq/login", None, Some(&form));
    req.headers_mut()
        .insert("x-forwarded-proto", "https".parse().unwrap());
    let r = support::oneshot(&app, req).await;
    assert_eq!(location(&r), "/rsmq/ui/queues/q");
    let (cookie, whole) = set_cookie(&r);
    assert!(
        whole.contains("Path=/rsmq;") && whole.contains("Secure"),
        "{whole}"
    );
    let r = support::oneshot(
        &app,
        browser("GET", "/rsmq/api/overview", Some(&cookie), None),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    // Going back to the list goes where the nested router serves it.
    let form = format!("token={TOKEN}&next=%2F");
    let r = support::oneshot(&app, browser("POST", "/rsmq/login", None, Some(&form))).await;
    assert_eq!(location(&r), "/rsmq");
    let r = support::oneshot(
        &app,
        browser("POST", "/rsmq/logout", Some(&cookie), Some("")),
    )
    .await;
    assert_eq!(location(&r), "/rsmq/login");
    assert!(set_cookie(&r).1.contains("Path=/rsmq;"));
}

#[tokio::test]
async fn without_a_token_there_is_no_sign_in() {
    // Basic only: the browser asks by itself; the cookie is never accepted.
    let (app, _) = app("basic-only", WebConfig::default().basic("a", "b")).await;
    let r = support::oneshot(&app, browser("GET", "/", None, None)).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(r.json()["error"]["name"], "unauthorized");
    let form = "token=b";
    let r = support::oneshot(&app, browser("POST", "/login", None, Some(form))).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let (app, _) = self::app("open", WebConfig::default()).await;
    let r = support::oneshot(&app, browser("GET", "/login", None, None)).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_read_only_server_still_lets_one_sign_in_and_changes_stay_refused() {
    let config = WebConfig::default().token(TOKEN).read_only(true);
    let (app, rsmq) = app("read-only", config).await;
    rsmq.create_queue("q", None, None, None).await.unwrap();
    let cookie = sign_in(&app, "").await;
    let mut req = browser("DELETE", "/queues/q", Some(&cookie), None);
    req.headers_mut()
        .insert("x-csrf-token", CSRF.parse().unwrap());
    let r = support::oneshot(&app, req).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_eq!(r.json()["error"]["name"], "readOnly");
    assert!(rsmq.get_queue_attributes("q").await.is_ok());
}
