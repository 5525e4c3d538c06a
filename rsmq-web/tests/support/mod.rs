//! The harness the HTTP API's test binaries share (each does `mod support;`): a client on the
//! shared test redis-server in a namespace of its own, the router over it, and requests sent
//! in-process with tower's `oneshot`.
// Every test binary includes this module and uses only some of it.
#![allow(dead_code)]

/// The harness of the command-line tool's tests: the redis-servers.
#[path = "../../../rsmq-cli/tests/common/mod.rs"]
pub mod common;

use axum::body::{Body, Bytes};
use axum::http::{header, HeaderMap, Request, StatusCode};
use axum::Router;
use http_body_util::BodyExt;
use rsmq_async::{Rsmq, RsmqOptions};
use rsmq_web::{router, WebConfig};
use serde_json::Value;
use tower::ServiceExt;

/// The options of a client on `server`, in the namespace `ns`.
pub fn options(server: &common::Server, ns: String) -> RsmqOptions {
    RsmqOptions {
        host: server.host.clone(),
        port: server.port,
        ns,
        ..Default::default()
    }
}

/// A client on the shared test server, in a fresh namespace for `test`.
pub async fn client(test: &str) -> Rsmq {
    Rsmq::new(options(common::server(), common::namespace(test)))
        .await
        .expect("connect to the test server")
}

/// The router over a fresh client (see [`client`]), and that client.
pub async fn app(test: &str, config: WebConfig) -> (Router, Rsmq) {
    let rsmq = client(test).await;
    (router(rsmq.clone(), config), rsmq)
}

/// A request: `method` on `uri`, with `body` as JSON (and its content type) when given, and
/// the extra `headers` (name, value).
pub fn request(
    method: &str,
    uri: &str,
    body: Option<Value>,
    headers: &[(&str, &str)],
) -> Request<Body> {
    let mut req = Request::builder().method(method).uri(uri);
    for (name, value) in headers {
        req = req.header(*name, *value);
    }
    match body {
        Some(b) => req
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(b.to_string())),
        None => req.body(Body::empty()),
    }
    .unwrap()
}

/// A request as [`request`] makes it, with the bearer `token` when given.
pub fn request_with_token(
    method: &str,
    uri: &str,
    body: Option<Value>,
    token: Option<&str>,
) -> Request<Body> {
    let auth = token.map(|t| format!("Bearer {t}"));
    let headers: Vec<(&str, &str)> = auth.iter().map(|a| ("authorization", a.as_str())).collect();
    request(method, uri, body, &headers)
}

/// A whole response.
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Reply {
    /// The body as JSON: Null when empty; a body that is not JSON fails the test.
    pub fn json(&self) -> Value {
        if self.body.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&self.body).unwrap_or_else(|e| {
                panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body))
            })
        }
    }

    /// The body as JSON, Null when it is not JSON.
    pub fn json_or_null(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }

    /// The body as text (UTF-8).
    pub fn text(&self) -> String {
        String::from_utf8(self.body.to_vec()).unwrap()
    }

    /// The `Content-Type` header, empty when there is none.
    pub fn content_type(&self) -> String {
        self.headers
            .get(header::CONTENT_TYPE)
            .map(|v| v.to_str().unwrap().to_string())
            .unwrap_or_default()
    }
}

/// Sends one request to `app`; the whole response.
pub async fn oneshot(app: &Router, req: Request<Body>) -> Reply {
    let res = app.clone().oneshot(req).await.unwrap();
    let status = res.status();
    let headers = res.headers().clone();
    let body = res.into_body().collect().await.unwrap().to_bytes();
    Reply {
        status,
        headers,
        body,
    }
}

/// Sends one request, with the bearer `token` when given; returns the status, the headers and
/// the JSON body (Null when empty).
pub async fn call(
    app: &Router,
    method: &str,
    uri: &str,
    body: Option<Value>,
    token: Option<&str>,
) -> (StatusCode, HeaderMap, Value) {
    let reply = oneshot(app, request_with_token(method, uri, body, token)).await;
    let value = reply.json();
    (reply.status, reply.headers, value)
}

/// Sends one request; returns the status and the JSON body (Null when empty).
pub async fn req(
    app: &Router,
    method: &str,
    uri: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let (s, _, v) = call(app, method, uri, body, None).await;
    (s, v)
}
