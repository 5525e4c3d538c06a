//! An embeddable HTTP API over [`rsmq_async`]: [`router`] returns an [`axum::Router`] that
//! lists, creates, inspects and deletes queues, and sends, receives, changes and deletes
//! messages, with the paths and JSON of the npm package `rest-rsmq`, plus a few operations
//! under `/api/` (peek, purge, set attributes, live workers).
//!
//! ```no_run
//! use rsmq_async::{Rsmq, RsmqOptions};
//! use rsmq_web::{router, WebConfig};
//!
//! # async fn f() -> Result<(), Box<dyn std::error::Error>> {
//! let rsmq = Rsmq::new(RsmqOptions::default()).await?;
//! let config = WebConfig::default().read_only(true).token("s3cret");
//! let app = axum::Router::new().nest("/rsmq", router(rsmq, config));
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await?;
//! axum::serve(listener, app).await?;
//! # Ok(()) }
//! ```
//!
//! Every answer is JSON. Errors are `{"error": {"name": ..., "message": ...}}` with the
//! names of the JavaScript client (`queueNotFound`, `queueExists`, `invalidValue`, ...):
//! 400 for invalid input, 401 without the token, 403 for a change in read-only mode, 404 for
//! a missing queue or route, 405 for a method a route does not take, 409 for a queue
//! that exists, 503 when Redis fails.
//! Durations (`vt`, `delay`) are numbers of seconds.
#![warn(missing_docs)]

use std::sync::Arc;
use std::time::Duration;

use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{Path, Query, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use rsmq_async::{LiveWorker, Rsmq, RsmqConnection, RsmqError, RsmqMessage, RsmqQueueAttributes};
use serde::Deserialize;
use serde_json::{json, Map, Value};

/// How the API behaves: read-only or not, and the bearer token it requires, if any.
///
/// ```
/// use rsmq_web::WebConfig;
///
/// let config = WebConfig::default().read_only(true).token("s3cret");
/// assert!(config.read_only);
/// assert_eq!(config.token.as_deref(), Some("s3cret"));
/// ```
#[derive(Clone, Default)]
#[non_exhaustive]
pub struct WebConfig {
    /// Refuse every change (403): creating, changing and deleting queues, sending,
    /// receiving (which hides the message and counts the receive), changing and deleting
    /// messages, purging. Reading attributes, listing, peeking and workers stay. Default
    /// `false`.
    pub read_only: bool,
    /// When set, every request must carry `Authorization: Bearer <token>` (401 otherwise).
    /// Default `None`: no authentication.
    pub token: Option<String>,
}

impl WebConfig {
    /// The default configuration: read-write, no token.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets [`read_only`](Self::read_only).
    pub fn read_only(mut self, read_only: bool) -> Self {
        self.read_only = read_only;
        self
    }

    /// Sets the bearer [`token`](Self::token) every request must carry.
    pub fn token(mut self, token: impl Into<String>) -> Self {
        self.token = Some(token.into());
        self
    }
}

impl std::fmt::Debug for WebConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebConfig")
            .field("read_only", &self.read_only)
            .field("token", &self.token.as_ref().map(|_| "<hidden>"))
            .finish()
    }
}

struct Ctx {
    rsmq: Rsmq,
    config: WebConfig,
}

type Shared = State<Arc<Ctx>>;

/// The HTTP API over `rsmq`, configured by `config`. Mount it where you like
/// ([`Router::nest`], [`Router::merge`]) and serve it with `axum::serve`.
///
/// Routes (`rest-rsmq` paths and JSON):
///
/// | Method and path | Does | Answers |
/// |---|---|---|
/// | `GET /queues` | list queues | `{"queues": [...]}` |
/// | `GET /queues/{q}` | queue attributes | `{"vt", "delay", "maxsize", "totalrecv", "totalsent", "created", "modified", "msgs", "hiddenmsgs"}` |
/// | `POST /queues/{q}` `{vt?, delay?, maxsize?}` | create a queue | `{"result": 1}` |
/// | `DELETE /queues/{q}` | delete a queue | `{"result": 1}` |
/// | `POST /messages/{q}` `{message, delay?}` | send | `{"id": ...}` |
/// | `GET /messages/{q}?vt=` | receive | `{"id", "message", "rc", "fr", "sent"}`, or `{}` |
/// | `PUT /messages/{q}/{id}?vt=` (also `/message/...`) | change visibility | `{"result": 1 or 0}` |
/// | `DELETE /messages/{q}/{id}` | delete a message | `{"result": 1 or 0}` |
///
/// and under `/api/`:
///
/// | Method and path | Does | Answers |
/// |---|---|---|
/// | `GET /api/queues/{q}/peek?n=` | the next `n` (default 10) receivable messages, unchanged | `{"messages": [...]}` |
/// | `POST /api/queues/{q}/purge` | remove every message | `{"removed": n}` |
/// | `PATCH /api/queues/{q}` `{vt?, delay?, maxsize?}` | set attributes | the attributes |
/// | `GET /api/workers` | live workers | `{"workers": [...]}` |
///
/// Every answer carries `Content-Security-Policy: default-src 'self'`,
/// `X-Content-Type-Options: nosniff`, `X-Frame-Options: DENY` and `Cache-Control: no-store`.
/// Every change is logged with `tracing::info!` (target `rsmq_web::audit`: route, queue
/// and message id, never a body or the token).
pub fn router(rsmq: Rsmq, config: WebConfig) -> Router {
    let ctx = Arc::new(Ctx { rsmq, config });
    Router::new()
        .route("/queues", get(list_queues))
        .route(
            "/queues/{qname}",
            get(get_attributes).post(create_queue).delete(delete_queue),
        )
        .route("/messages/{qname}", post(send_message).get(receive_message))
        .route(
            "/messages/{qname}/{id}",
            put(change_visibility).delete(delete_message),
        )
        .route("/message/{qname}/{id}", put(change_visibility))
        .route("/api/queues/{qname}/peek", get(peek))
        .route("/api/queues/{qname}/purge", post(purge))
        .route("/api/queues/{qname}", axum::routing::patch(set_attributes))
        .route("/api/workers", get(workers))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(middleware::from_fn_with_state(ctx.clone(), guard))
        .with_state(ctx)
}

/// A JSON error answer.
struct ApiError {
    status: StatusCode,
    name: &'static str,
    message: String,
}

impl ApiError {
    fn new(status: StatusCode, name: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            name,
            message: message.into(),
        }
    }

    fn bad(name: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, name, message)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = json!({"error": {"name": self.name, "message": self.message}});
        (self.status, Json(body)).into_response()
    }
}

impl From<RsmqError> for ApiError {
    fn from(e: RsmqError) -> Self {
        let message = e.to_string();
        let (status, name) = match e {
            RsmqError::QueueNotFound => (StatusCode::NOT_FOUND, "queueNotFound"),
            RsmqError::QueueExists => (StatusCode::CONFLICT, "queueExists"),
            RsmqError::InvalidFormat(_) => (StatusCode::BAD_REQUEST, "invalidFormat"),
            RsmqError::InvalidValue(..) | RsmqError::NotWholeSeconds(_) => {
                (StatusCode::BAD_REQUEST, "invalidValue")
            }
            RsmqError::BatchTooLarge(_) => (StatusCode::BAD_REQUEST, "invalidValue"),
            RsmqError::MissingParameter(_) => (StatusCode::BAD_REQUEST, "missingParameter"),
            RsmqError::NoAttributeSupplied => (StatusCode::BAD_REQUEST, "noAttributeSupplied"),
            RsmqError::MessageTooLong => (StatusCode::BAD_REQUEST, "messageTooLong"),
            RsmqError::RedisError(_)
            | RsmqError::CannotConnect { .. }
            | RsmqError::PoolTimedOut
            | RsmqError::NotDurable { .. } => (StatusCode::SERVICE_UNAVAILABLE, "redisError"),
            _ => (StatusCode::INTERNAL_SERVER_ERROR, "serverError"),
        };
        ApiError::new(status, name, message)
    }
}

type ApiResult = Result<Json<Value>, ApiError>;

/// Authentication and the security headers, on every route (the fallback too).
async fn guard(State(ctx): Shared, req: Request, next: Next) -> Response {
    let mut res = match &ctx.config.token {
        Some(token) if !authorized(&req, token) => {
            let mut res = ApiError::new(
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "a valid Authorization: Bearer token is required",
            )
            .into_response();
            res.headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            res
        }
        _ => next.run(req).await,
    };
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'self'"),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}

fn authorized(req: &Request, token: &str) -> bool {
    let Some(value) = req.headers().get(header::AUTHORIZATION) else {
        return false;
    };
    let value = value.as_bytes();
    if value.len() < 7 || !value[..7].eq_ignore_ascii_case(b"bearer ") {
        return false;
    }
    constant_time_eq(&value[7..], token.as_bytes())
}

/// Compares in time that depends on the lengths only, never on where the bytes differ.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    let mut diff = u8::from(a.len() != b.len());
    for i in 0..a.len().max(b.len()) {
        let x = a.get(i).copied().unwrap_or(0);
        let y = b.get(i).copied().unwrap_or(0);
        diff |= x ^ y;
    }
    std::hint::black_box(diff) == 0
}

impl Ctx {
    /// Refuses a change in read-only mode, and logs the change otherwise.
    fn mutation(&self, route: &'static str, qname: &str, id: Option<&str>) -> Result<(), ApiError> {
        if self.config.read_only {
            tracing::info!(target: "rsmq_web::audit", route, queue = qname, id, "refused: read-only");
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "readOnly",
                "this API is read-only",
            ));
        }
        tracing::info!(target: "rsmq_web::audit", route, queue = qname, id, "change");
        Ok(())
    }
}

async fn not_found() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "notFound", "no such route")
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "methodNotAllowed",
        "this route does not take this method",
    )
}

fn path<T>(p: Result<Path<T>, PathRejection>) -> Result<T, ApiError> {
    p.map(|Path(t)| t)
        .map_err(|e| ApiError::bad("invalidPath", e.body_text()))
}

fn query<T>(q: Result<Query<T>, QueryRejection>) -> Result<T, ApiError> {
    q.map(|Query(t)| t)
        .map_err(|e| ApiError::bad("invalidQuery", e.body_text()))
}

fn body<T>(b: Result<Json<T>, JsonRejection>) -> Result<T, ApiError> {
    b.map(|Json(t)| t)
        .map_err(|e| ApiError::bad("invalidBody", e.body_text()))
}

/// Seconds (a JSON or query number) as a `Duration`; `name` names it in the error.
fn seconds(name: &str, s: Option<f64>) -> Result<Option<Duration>, ApiError> {
    s.map(|s| {
        Duration::try_from_secs_f64(s).map_err(|_| {
            ApiError::bad(
                "invalidValue",
                format!("{name} must be a non-negative number of seconds"),
            )
        })
    })
    .transpose()
}

fn attributes_json(a: &RsmqQueueAttributes) -> Value {
    json!({
        "vt": secs(a.vt),
        "delay": secs(a.delay),
        "maxsize": a.maxsize,
        "totalrecv": a.totalrecv,
        "totalsent": a.totalsent,
        "created": a.created,
        "modified": a.modified,
        "msgs": a.msgs,
        "hiddenmsgs": a.hiddenmsgs,
    })
}

/// Whole seconds as an integer, finer durations as a fraction.
fn secs(d: Duration) -> Value {
    if d.subsec_nanos() == 0 {
        json!(d.as_secs())
    } else {
        json!(d.as_secs_f64())
    }
}

/// A message as JSON. A body that is not UTF-8 is shown with replacement characters.
fn message_json(m: &RsmqMessage<Vec<u8>>) -> Value {
    json!({
        "id": m.id,
        "message": String::from_utf8_lossy(&m.message),
        "rc": m.rc,
        "fr": m.fr,
        "sent": m.sent,
    })
}

fn worker_json(w: &LiveWorker) -> Value {
    let mut o = Map::new();
    o.insert("id".into(), json!(w.id));
    o.insert("host".into(), json!(w.host));
    o.insert("pid".into(), json!(w.pid));
    o.insert("queues".into(), json!(w.queues));
    o.insert("concurrency".into(), json!(w.concurrency));
    o.insert("in_flight".into(), json!(w.in_flight));
    o.insert("handled".into(), json!(w.handled));
    o.insert("failed".into(), json!(w.failed));
    o.insert("started".into(), json!(w.started));
    o.insert("seen".into(), json!(w.seen));
    o.insert("expires".into(), json!(w.expires));
    o.insert("version".into(), json!(w.version));
    Value::Object(o)
}

#[derive(Deserialize, Default)]
struct QueueBody {
    vt: Option<f64>,
    delay: Option<f64>,
    maxsize: Option<i64>,
}

#[derive(Deserialize)]
struct SendBody {
    message: String,
    delay: Option<f64>,
}

#[derive(Deserialize)]
struct VtQuery {
    vt: Option<f64>,
}

#[derive(Deserialize)]
struct PeekQuery {
    n: Option<u32>,
}

async fn list_queues(State(ctx): Shared) -> ApiResult {
    let queues = ctx.rsmq.list_queues().await?;
    Ok(Json(json!({ "queues": queues })))
}

async fn get_attributes(
    State(ctx): Shared,
    qname: Result<Path<String>, PathRejection>,
) -> ApiResult {
    let qname = path(qname)?;
    let attrs = ctx.rsmq.get_queue_attributes(&qname).await?;
    Ok(Json(attributes_json(&attrs)))
}

async fn create_queue(
    State(ctx): Shared,
    qname: Result<Path<String>, PathRejection>,
    b: Result<Json<QueueBody>, JsonRejection>,
) -> ApiResult {
    let qname = path(qname)?;
    ctx.mutation("createQueue", &qname, None)?;
    // An empty body (no Content-Type) creates the queue with the defaults.
    let b = match b {
        Err(JsonRejection::MissingJsonContentType(_)) => QueueBody::default(),
        b => body(b)?,
    };
    let vt = seconds("vt", b.vt)?;
    let delay = seconds("delay", b.delay)?;
    ctx.rsmq.create_queue(&qname, vt, delay, b.maxsize).await?;
    Ok(Json(json!({"result": 1})))
}

async fn delete_queue(State(ctx): Shared, qname: Result<Path<String>, PathRejection>) -> ApiResult {
    let qname = path(qname)?;
    ctx.mutation("deleteQueue", &qname, None)?;
    ctx.rsmq.delete_queue(&qname).await?;
    Ok(Json(json!({"result": 1})))
}

async fn send_message(
    State(ctx): Shared,
    qname: Result<Path<String>, PathRejection>,
    b: Result<Json<SendBody>, JsonRejection>,
) -> ApiResult {
    let qname = path(qname)?;
    ctx.mutation("sendMessage", &qname, None)?;
    let b = body(b)?;
    let delay = seconds("delay", b.delay)?;
    let id = ctx.rsmq.send_message(&qname, b.message, delay).await?;
    tracing::info!(target: "rsmq_web::audit", route = "sendMessage", queue = %qname, id = %id, "sent");
    Ok(Json(json!({ "id": id })))
}

async fn receive_message(
    State(ctx): Shared,
    qname: Result<Path<String>, PathRejection>,
    q: Result<Query<VtQuery>, QueryRejection>,
) -> ApiResult {
    let qname = path(qname)?;
    ctx.mutation("receiveMessage", &qname, None)?;
    let vt = seconds("vt", query(q)?.vt)?;
    match ctx.rsmq.receive_message::<Vec<u8>>(&qname, vt).await? {
        Some(m) => Ok(Json(message_json(&m))),
        None => Ok(Json(json!({}))),
    }
}

async fn change_visibility(
    State(ctx): Shared,
    p: Result<Path<(String, String)>, PathRejection>,
    q: Result<Query<VtQuery>, QueryRejection>,
) -> ApiResult {
    let (qname, id) = path(p)?;
    ctx.mutation("changeMessageVisibility", &qname, Some(&id))?;
    let vt = seconds("vt", query(q)?.vt)?
        .ok_or_else(|| ApiError::bad("missingParameter", "No vt supplied"))?;
    let changed = ctx.rsmq.change_message_visibility(&qname, &id, vt).await?;
    Ok(Json(json!({"result": u8::from(changed)})))
}

async fn delete_message(
    State(ctx): Shared,
    p: Result<Path<(String, String)>, PathRejection>,
) -> ApiResult {
    let (qname, id) = path(p)?;
    ctx.mutation("deleteMessage", &qname, Some(&id))?;
    let deleted = ctx.rsmq.delete_message(&qname, &id).await?;
    Ok(Json(json!({"result": u8::from(deleted)})))
}

async fn peek(
    State(ctx): Shared,
    qname: Result<Path<String>, PathRejection>,
    q: Result<Query<PeekQuery>, QueryRejection>,
) -> ApiResult {
    let qname = path(qname)?;
    let n = query(q)?.n.unwrap_or(10);
    let messages = ctx.rsmq.peek_messages::<Vec<u8>>(&qname, n).await?;
    let messages: Vec<Value> = messages.iter().map(message_json).collect();
    Ok(Json(json!({ "messages": messages })))
}

async fn purge(State(ctx): Shared, qname: Result<Path<String>, PathRejection>) -> ApiResult {
    let qname = path(qname)?;
    ctx.mutation("purgeQueue", &qname, None)?;
    let removed = ctx.rsmq.purge_queue(&qname).await?;
    Ok(Json(json!({ "removed": removed })))
}

async fn set_attributes(
    State(ctx): Shared,
    qname: Result<Path<String>, PathRejection>,
    b: Result<Json<QueueBody>, JsonRejection>,
) -> ApiResult {
    let qname = path(qname)?;
    ctx.mutation("setQueueAttributes", &qname, None)?;
    let b = body(b)?;
    let vt = seconds("vt", b.vt)?;
    let delay = seconds("delay", b.delay)?;
    let attrs = ctx
        .rsmq
        .set_queue_attributes(&qname, vt, delay, b.maxsize)
        .await?;
    Ok(Json(attributes_json(&attrs)))
}

async fn workers(State(ctx): Shared) -> ApiResult {
    let workers = ctx.rsmq.live_workers().await?;
    let workers: Vec<Value> = workers.iter().map(worker_json).collect();
    Ok(Json(json!({ "workers": workers })))
}

#[cfg(test)]
mod tests {
    use super::constant_time_eq;

    #[test]
    fn constant_time_eq_compares() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"abcd"));
        assert!(!constant_time_eq(b"", b"a"));
        assert!(constant_time_eq(b"", b""));
    }
}

/// The README's examples, compiled as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
