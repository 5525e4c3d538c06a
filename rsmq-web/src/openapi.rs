//! The OpenAPI 3 document of the API (`GET /api/openapi.json`), generated from the handlers'
//! `#[utoipa::path]` attributes, and the JSON shapes of the answers.
//!
//! The shapes of the `/api/` routes that browse, search and move messages are the types the
//! handlers serialize, so the document cannot drift from the answers; those of the older
//! routes describe the JSON their handlers build.

use std::sync::{Arc, OnceLock};

use axum::Json;
use serde::Serialize;
use serde_json::Value;
use utoipa::{OpenApi, ToSchema};

use crate::api;

/// The document.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "rsmq-web",
        description = "The HTTP API of rsmq_async: the routes and JSON of rest-rsmq, and more under /api/. \
            Durations (vt, delay) are numbers of seconds; times are epoch milliseconds, except \
            the queue attributes created and modified (epoch seconds). Errors are \
            {\"error\": {\"name\", \"message\"}}."
    ),
    paths(
        api::list_queues,
        api::get_attributes,
        api::create_queue,
        api::delete_queue,
        api::send_message,
        api::receive_message,
        api::change_visibility,
        api::change_visibility_singular,
        api::delete_message,
        api::peek,
        api::purge,
        api::set_attributes,
        api::workers,
        api::browse,
        api::get_message,
        api::search,
        api::pop,
        api::send_batch,
        api::move_message,
        api::redrive,
        openapi_json,
        crate::stats::get_overview,
        crate::events::events,
        crate::metrics::metrics,
    ),
    tags(
        (name = "rest-rsmq", description = "The paths and JSON of the npm package rest-rsmq"),
        (name = "api", description = "Beyond rest-rsmq"),
    )
)]
struct ApiDoc;

/// The document as JSON, built once.
pub(crate) fn document() -> Arc<Value> {
    static DOC: OnceLock<Arc<Value>> = OnceLock::new();
    DOC.get_or_init(|| {
        // The document is built from static attributes; it always serializes.
        Arc::new(serde_json::to_value(ApiDoc::openapi()).unwrap_or_default())
    })
    .clone()
}

/// The OpenAPI 3 document of this API.
#[utoipa::path(
    get,
    path = "/api/openapi.json",
    tag = "api",
    responses((status = 200, description = "The OpenAPI 3 document", content_type = "application/json"))
)]
pub(crate) async fn openapi_json() -> Json<Value> {
    Json(Value::clone(&document()))
}

/// An error answer.
#[derive(ToSchema)]
#[allow(dead_code)]
pub(crate) struct ErrorBody {
    error: ErrorDetail,
}

/// What went wrong.
#[derive(ToSchema)]
#[allow(dead_code)]
pub(crate) struct ErrorDetail {
    /// The name of the error, as the JavaScript client names it (`queueNotFound`,
    /// `invalidValue`, `messageNotFound`, `readOnly`, ...).
    name: String,
    /// A sentence for people.
    message: String,
}

/// The names of the queues.
#[derive(ToSchema)]
#[allow(dead_code)]
pub(crate) struct QueueList {
    queues: Vec<String>,
}

/// A queue's attributes and counters.
#[derive(ToSchema)]
#[allow(dead_code)]
pub(crate) struct Attributes {
    /// Default visibility timeout, seconds.
    vt: f64,
    /// Default delivery delay, seconds.
    delay: f64,
    /// Largest body in bytes, or -1 for unlimited.
    maxsize: i64,
    /// Receives and pops so far.
    totalrecv: u64,
    /// Sends so far.
    totalsent: u64,
    /// Creation time, epoch seconds.
    created: u64,
    /// Last change of the attributes, epoch seconds.
    modified: u64,
    /// Messages in the queue.
    msgs: u64,
    /// Messages not receivable now.
    hiddenmsgs: u64,
}

/// 1 when it was done, 0 when there was no such message.
#[derive(ToSchema)]
#[allow(dead_code)]
pub(crate) struct ResultFlag {
    result: u8,
}

/// The id of a sent message.
#[derive(ToSchema)]
#[allow(dead_code)]
pub(crate) struct SentId {
    id: String,
}

/// A message (the rest-rsmq shape); `{}` when there was none.
#[derive(ToSchema)]
#[allow(dead_code)]
pub(crate) struct Message {
    /// The message id.
    id: String,
    /// The body; bytes that are not UTF-8 are shown as replacement characters.
    message: String,
    /// Receive count.
    rc: u64,
    /// First receive time, epoch milliseconds.
    fr: u64,
    /// Send time, epoch milliseconds.
    sent: u64,
}

/// Messages.
#[derive(ToSchema)]
#[allow(dead_code)]
pub(crate) struct Messages {
    messages: Vec<Message>,
}

/// How many messages a purge removed.
#[derive(ToSchema)]
#[allow(dead_code)]
pub(crate) struct Removed {
    removed: u64,
}

/// The live workers.
#[derive(ToSchema)]
#[allow(dead_code)]
pub(crate) struct Workers {
    workers: Vec<Worker>,
}

/// A live worker, as it registers itself.
#[derive(ToSchema)]
#[allow(dead_code)]
pub(crate) struct Worker {
    id: String,
    host: String,
    pid: u32,
    queues: Vec<String>,
    concurrency: u64,
    in_flight: u64,
    handled: u64,
    failed: u64,
    /// Epoch milliseconds.
    started: u64,
    /// Epoch milliseconds.
    seen: u64,
    /// Epoch milliseconds.
    expires: u64,
    version: String,
}

/// A message as browsing sees it: hidden or not, with the time it becomes receivable.
#[derive(Serialize, ToSchema)]
pub(crate) struct BrowsedMessage {
    /// The message id.
    pub(crate) id: String,
    /// The body; bytes that are not UTF-8 are shown as replacement characters.
    pub(crate) message: String,
    /// Receive count (0: never received).
    pub(crate) rc: u64,
    /// First receive time, epoch milliseconds (0: never received).
    pub(crate) fr: u64,
    /// Send time, epoch milliseconds.
    pub(crate) sent: u64,
    /// When the message is (or became) receivable, epoch milliseconds.
    pub(crate) visible_at: u64,
    /// Not receivable when read: delayed, or received and not yet due again.
    pub(crate) hidden: bool,
}

/// A page of messages, in the order they become receivable.
#[derive(Serialize, ToSchema)]
pub(crate) struct MessagePage {
    pub(crate) messages: Vec<BrowsedMessage>,
    /// The cursor of the next page; null after the last.
    pub(crate) next: Option<u64>,
}

/// The messages a search found.
#[derive(Serialize, ToSchema)]
pub(crate) struct SearchResult {
    /// The matches, in the order they become receivable.
    pub(crate) messages: Vec<BrowsedMessage>,
    /// Where to continue a substring search; null when it reached the end of the queue (and
    /// always for a search by id).
    pub(crate) next: Option<u64>,
    /// How many messages it looked at.
    pub(crate) scanned: u64,
}

/// The ids of the sent messages, in input order.
#[derive(Serialize, ToSchema)]
pub(crate) struct Ids {
    pub(crate) ids: Vec<String>,
}

/// What a redrive did: `moved`, or with `dry_run` what it would do: `would_move`.
#[derive(Serialize, ToSchema)]
pub(crate) struct Redriven {
    /// How many messages moved.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) moved: Option<u64>,
    /// With `dry_run`: how many would move (the receivable messages, at most `max`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) would_move: Option<u64>,
}
