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

mod api;
mod dashboard;
mod error;
mod events;
mod guard;
mod stats;

use std::sync::Arc;

use axum::middleware;
use axum::Router;
use rsmq_async::Rsmq;

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
    /// The token the dashboard's pages carry and send back in `X-CSRF-Token` with every
    /// change: random, made when the router is built.
    #[allow(dead_code)] // read by the CSRF check and the dashboard
    csrf: String,
}

type Shared = axum::extract::State<Arc<Ctx>>;

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
    let ctx = Arc::new(Ctx {
        rsmq,
        config,
        csrf: guard::new_csrf_token(),
    });
    Router::new()
        .merge(api::routes())
        .merge(dashboard::routes())
        .merge(events::routes())
        .route("/api/overview", axum::routing::get(stats::get_overview))
        .fallback(error::not_found)
        .method_not_allowed_fallback(error::method_not_allowed)
        .layer(middleware::from_fn_with_state(ctx.clone(), guard::guard))
        .with_state(ctx)
}

/// The README's examples, compiled as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
