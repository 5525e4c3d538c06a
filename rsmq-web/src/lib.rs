//! An embeddable HTTP API over [`rsmq_async`]: [`router`] returns an [`axum::Router`] that
//! lists, creates, inspects and deletes queues, and sends, receives, changes and deletes
//! messages, with the paths and JSON of the npm package `rest-rsmq`; under `/api/` browses,
//! searches, peeks, pops, moves, redrives and purges, with an OpenAPI document; serves
//! Prometheus metrics at `/metrics`; and a web dashboard at `/` with live updates.
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
//! // The peer address goes into the audit log.
//! let app = app.into_make_service_with_connect_info::<std::net::SocketAddr>();
//! axum::serve(listener, app).await?;
//! # Ok(()) }
//! ```
//!
//! The API answers JSON (`/metrics` Prometheus text, `/api/events` server-sent events, the
//! dashboard HTML). Errors are `{"error": {"name": ..., "message": ...}}` with the names of
//! the JavaScript client (`queueNotFound`, `queueExists`, `invalidValue`, ...):
//! 400 for invalid input, 401 without the credentials, 403 for a change in read-only mode
//! or one that fails the CSRF check ([`router`] tells how requests are checked), 404 for
//! a missing queue or route, 405 for a method a route does not take, 409 for a queue
//! that exists, 503 when Redis fails.
//! Durations (`vt`, `delay`) are numbers of seconds.
#![warn(missing_docs)]

mod api;
mod dashboard;
mod error;
mod events;
pub mod format;
mod guard;
mod metrics;
mod openapi;
mod session;
mod stats;

use std::sync::Arc;

use axum::middleware;
use axum::Router;
use rsmq_async::Rsmq;

/// How the API behaves: read-only or not, and the credentials it requires, if any.
///
/// With no credentials set, every request is let in (bind such a server to loopback
/// only). With a token, a Basic user or both, a request must carry one of them (401
/// otherwise).
///
/// ```
/// use rsmq_web::WebConfig;
///
/// let config = WebConfig::default()
///     .read_only(true)
///     .token("s3cret")
///     .basic("admin", "hunter2");
/// assert!(config.read_only);
/// assert_eq!(config.token.as_deref(), Some("s3cret"));
/// assert_eq!(config.basic.as_ref().map(|b| b.user.as_str()), Some("admin"));
/// // Debug shows neither secret.
/// let shown = format!("{config:?}");
/// assert!(!shown.contains("s3cret") && !shown.contains("hunter2"));
/// ```
#[derive(Clone, Default)]
#[non_exhaustive]
pub struct WebConfig {
    /// Refuse every change (403): creating, changing and deleting queues, sending,
    /// receiving (which hides the message and counts the receive), changing and deleting
    /// messages, purging. Reading attributes, listing, peeking and workers stay. Default
    /// `false`.
    pub read_only: bool,
    /// When set, a request may authenticate with `Authorization: Bearer <token>`.
    /// Default `None`.
    pub token: Option<String>,
    /// When set, a request may authenticate with `Authorization: Basic` and this user name
    /// and password (HTTP Basic authentication, which a browser asks for by itself).
    /// Default `None`.
    pub basic: Option<BasicAuth>,
}

/// A user name and password for HTTP Basic authentication ([`WebConfig::basic`]). Its
/// `Debug` hides the password.
///
/// ```
/// use rsmq_web::WebConfig;
///
/// let config = WebConfig::new().basic("ops", "correct horse");
/// let auth = config.basic.as_ref().unwrap();
/// assert_eq!(auth.user, "ops");
/// assert!(!format!("{auth:?}").contains("correct horse"));
/// ```
#[derive(Clone)]
#[non_exhaustive]
pub struct BasicAuth {
    /// The user name. It cannot contain a colon (HTTP Basic separates the user name from
    /// the password with the first colon), so a name with one never matches.
    pub user: String,
    /// The password, compared in constant time and never logged.
    pub password: String,
}

impl std::fmt::Debug for BasicAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BasicAuth")
            .field("user", &self.user)
            .field("password", &"<hidden>")
            .finish()
    }
}

impl WebConfig {
    /// The default configuration: read-write, no credentials.
    ///
    /// ```
    /// use rsmq_web::WebConfig;
    ///
    /// let config = WebConfig::new();
    /// assert!(!config.read_only);
    /// assert!(config.token.is_none() && config.basic.is_none());
    /// ```
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets [`read_only`](Self::read_only).
    ///
    /// ```
    /// use rsmq_web::WebConfig;
    ///
    /// // A dashboard for looking, not touching.
    /// let config = WebConfig::new().read_only(true);
    /// assert!(config.read_only);
    /// ```
    pub fn read_only(mut self, read_only: bool) -> Self {
        self.read_only = read_only;
        self
    }

    /// Sets the bearer [`token`](Self::token) a request may authenticate with.
    ///
    /// ```
    /// use rsmq_web::WebConfig;
    ///
    /// let token = std::env::var("RSMQ_WEB_TOKEN").unwrap_or_else(|_| "dev-only".to_string());
    /// let config = WebConfig::new().token(token);
    /// assert!(config.token.is_some());
    /// ```
    pub fn token(mut self, token: impl Into<String>) -> Self {
        self.token = Some(token.into());
        self
    }

    /// Sets the HTTP [`basic`](Self::basic) user name and password a request may
    /// authenticate with.
    ///
    /// ```
    /// use rsmq_web::WebConfig;
    ///
    /// let config = WebConfig::new().basic("admin", "hunter2");
    /// let basic = config.basic.unwrap();
    /// assert_eq!((basic.user.as_str(), basic.password.as_str()), ("admin", "hunter2"));
    /// ```
    pub fn basic(mut self, user: impl Into<String>, password: impl Into<String>) -> Self {
        self.basic = Some(BasicAuth {
            user: user.into(),
            password: password.into(),
        });
        self
    }

    /// Whether any credentials are required.
    fn requires_auth(&self) -> bool {
        self.token.is_some() || self.basic.is_some()
    }
}

impl std::fmt::Debug for WebConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebConfig")
            .field("read_only", &self.read_only)
            .field("token", &self.token.as_ref().map(|_| "<hidden>"))
            .field("basic", &self.basic)
            .finish()
    }
}

struct Ctx {
    rsmq: Rsmq,
    config: WebConfig,
    /// The token the dashboard's pages carry and send back in `X-CSRF-Token` with every
    /// change: random, made when the router is built.
    csrf: String,
    /// The sessions opened on the sign-in form.
    sessions: session::Sessions,
    /// The live updates' last reading, shared by every stream.
    latest: events::Latest,
}

type Shared = axum::extract::State<Arc<Ctx>>;

/// The HTTP API over `rsmq`, configured by `config`. Mount it where you like
/// ([`Router::nest`], [`Router::merge`]) and serve it with `axum::serve`.
///
/// ```no_run
/// use axum::routing::get;
/// use rsmq_web::{router, WebConfig};
///
/// # async fn f() -> Result<(), Box<dyn std::error::Error>> {
/// let rsmq = rsmq_async::Rsmq::new(Default::default()).await?;
/// let app = axum::Router::new()
///     .route("/healthz", get(|| async { "ok" }))
///     .nest("/admin/rsmq", router(rsmq, WebConfig::new().token("s3cret")));
/// let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
/// // With connect info, the audit log names each change's peer address.
/// let app = app.into_make_service_with_connect_info::<std::net::SocketAddr>();
/// axum::serve(listener, app).await?;
/// # Ok(()) }
/// ```
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
/// | `GET /api/queues/{q}/messages?cursor=&limit=` | a page (`limit` 1..=1000, default 50) of all messages, hidden ones included, in visible-at order, unchanged | `{"messages": [{"id", "message", "rc", "fr", "sent", "visible_at", "hidden"}], "next": cursor or null}` |
/// | `GET /api/queues/{q}/messages/{id}` | one message, unchanged | the message, or 404 `messageNotFound` |
/// | `GET /api/queues/{q}/search?id=` | a message by id | `{"messages": [...], "next": null, "scanned": n}` |
/// | `GET /api/queues/{q}/search?q=&cursor=&scan=` | messages whose body holds `q`, looking at `scan` (1..=10000, default 1000) from `cursor` | `{"messages": [...], "next": cursor or null, "scanned": n}` |
/// | `POST /api/queues/{q}/pop` | receive and delete the next message | `{"id", "message", "rc", "fr", "sent"}`, or `{}` |
/// | `POST /api/queues/{q}/messages` `{messages, delay?}` | send 1..=1000 messages, all or none | `{"ids": [...]}` |
/// | `POST /api/queues/{q}/messages/{id}/move` `{to}` | move a message to another queue | `{"result": 1 or 0}` |
/// | `POST /api/queues/{q}/redrive` `{to, max?, dry_run?}` | move up to `max` (default and at most 1000) receivable messages of a dead-letter queue to `to`; a dry run changes nothing | `{"moved": n}`, or `{"would_move": n}` |
/// | `GET /api/openapi.json` | the OpenAPI 3 document of these routes | the document |
///
/// The cursor of a page or search is a position in the queue's order: messages sent,
/// received or deleted between two calls move the others, so a message can then be seen
/// twice or not at all.
///
/// and `GET /metrics`: every queue's counters, Redis's memory and the live workers in the
/// Prometheus text format (0.0.4); `GET /api/overview`: the same as JSON; `GET
/// /api/events`: that JSON every second as server-sent events (event `overview`).
///
/// The dashboard: `GET /` (the queue list) and `GET /ui/queues/{q}` (one queue), HTML
/// pages with their script and style sheet at `/assets/app.js` and `/assets/app.css`, all
/// built into the binary.
///
/// # Security
///
/// - **Authentication.** With [`WebConfig::token`] or [`WebConfig::basic`] set, every
///   request (the fallback and `/metrics` too) must carry `Authorization: Bearer <token>`
///   or `Authorization: Basic <base64 of user:password>`; either passes when both are set.
///   Otherwise 401 (`unauthorized`) with `WWW-Authenticate` (`Basic realm="rsmq",
///   charset="UTF-8"` when Basic is set, so a browser asks for it). Secrets are compared in
///   constant time and never logged. `/login` and `/assets/` are open to anyone.
/// - **Sign-in.** With a token, a browser's request for a page (`GET /` or `/ui/...` with
///   `Accept: text/html`) without credentials answers a sign-in form (401). The token typed
///   there (`POST /login`) opens a session: a random id in an `HttpOnly`,
///   `SameSite=Strict` cookie, kept in memory for 12 hours, until `POST /logout` or a
///   restart. A session reads like the token; its changes need the CSRF token.
/// - **CSRF.** A change (`POST`, `PUT`, `PATCH`, `DELETE`, and `GET`/`HEAD` on
///   `/messages/{q}`, which receives) is refused with 403 (`csrf`) when its `Origin` is
///   present and names another host than its `Host` (compared as `host:port`), or when its
///   `Sec-Fetch-Site` is `cross-site` or `same-site`. A change from a browser (one with any
///   of `Origin`, `Sec-Fetch-Site`, `Sec-Fetch-Mode`, `Referer` or `Cookie`) must also carry
///   `X-CSRF-Token` with the router's token (random, made here; the dashboard's pages carry
///   it), unless it authenticates with the bearer token, which a browser never attaches by
///   itself. Clients that are not browsers (curl, SDKs) send none of those headers and
///   need no CSRF token. Behind a reverse proxy, pass the `Host` header on unchanged.
/// - **Read-only.** [`WebConfig::read_only`] refuses every change with 403 (`readOnly`).
/// - **Headers.** Every answer carries `Content-Security-Policy: default-src 'self'`,
///   `X-Content-Type-Options: nosniff`, `X-Frame-Options: DENY`,
///   `Referrer-Policy: same-origin` and `Cache-Control: no-store`.
/// - **Audit.** Every change, and every change refused by the CSRF check or read-only
///   mode, is logged with `tracing::info!` (target `rsmq_web::audit`): the route (or the
///   method and path, for a CSRF refusal), the queue, the message id, who (`auth`: `token`,
///   `basic:<user>`, `session` or `none`) and from where (`peer`, when the server was started with
///   [`Router::into_make_service_with_connect_info`]`::<SocketAddr>`); never a body or a
///   secret.
pub fn router(rsmq: Rsmq, config: WebConfig) -> Router {
    router_with_csrf_token(rsmq, config, guard::new_csrf_token())
}

/// [`router`] with a CSRF token of the caller's choosing instead of a random one: for
/// tests, which must send the token back.
#[doc(hidden)]
pub fn router_with_csrf_token(rsmq: Rsmq, config: WebConfig, csrf: String) -> Router {
    let ctx = Arc::new(Ctx {
        rsmq,
        config,
        csrf,
        sessions: session::Sessions::default(),
        latest: events::Latest::default(),
    });
    Router::new()
        .merge(api::routes())
        .merge(dashboard::routes())
        .merge(events::routes())
        .merge(session::routes())
        .route("/api/overview", axum::routing::get(stats::get_overview))
        .route("/metrics", axum::routing::get(metrics::metrics))
        .fallback(error::not_found)
        .method_not_allowed_fallback(error::method_not_allowed)
        .layer(middleware::from_fn_with_state(ctx.clone(), guard::guard))
        .with_state(ctx)
}

/// The README's examples, compiled as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
