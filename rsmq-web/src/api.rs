//! The JSON routes: `rest-rsmq`'s, and the ones under `/api/`.

use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::routing::{get, post, put};
use axum::{Json, Router};
use rsmq_async::{RsmqConnection, RsmqError, MAX_BATCH};
use serde::Deserialize;
use serde_json::{json, Value};
use std::sync::Arc;
use utoipa::{IntoParams, ToSchema};

use crate::error::{body, path, query, seconds, ApiError, ApiResult};
use crate::format::{self, message_json};
use crate::openapi::{self, BrowsedMessage, ErrorBody, Ids, MessagePage, Redriven, SearchResult};
use crate::{guard, Ctx, Shared};

/// The JSON routes, without state or middleware.
pub(crate) fn routes() -> Router<Arc<Ctx>> {
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
        .route("/message/{qname}/{id}", put(change_visibility_singular))
        .route("/api/queues/{qname}/peek", get(peek))
        .route("/api/queues/{qname}/purge", post(purge))
        .route("/api/queues/{qname}", axum::routing::patch(set_attributes))
        .route("/api/workers", get(workers))
        .route("/api/queues/{qname}/messages", get(browse).post(send_batch))
        .route("/api/queues/{qname}/messages/{id}", get(get_message))
        .route("/api/queues/{qname}/messages/{id}/move", post(move_message))
        .route("/api/queues/{qname}/search", get(search))
        .route("/api/queues/{qname}/pop", post(pop))
        .route("/api/queues/{qname}/redrive", post(redrive))
        .route("/api/openapi.json", get(openapi::openapi_json))
}

/// A queue's attributes, each optional: `vt` and `delay` in seconds, `maxsize` in bytes.
#[derive(Deserialize, Default, ToSchema)]
pub(crate) struct QueueBody {
    /// Visibility timeout, whole seconds (0..=9999999).
    vt: Option<f64>,
    /// Delivery delay, whole seconds (0..=9999999).
    delay: Option<f64>,
    /// Largest body in bytes: 1024..=65536, or -1 for unlimited.
    maxsize: Option<i64>,
}

/// A message to send.
#[derive(Deserialize, ToSchema)]
pub(crate) struct SendBody {
    /// The body.
    message: String,
    /// Seconds before it becomes receivable (default: the queue's delay).
    delay: Option<f64>,
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct VtQuery {
    /// Seconds to hide the message for.
    vt: Option<f64>,
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct PeekQuery {
    /// How many messages, at most 1000 (default 10).
    n: Option<u32>,
}

#[utoipa::path(
    get,
    path = "/queues",
    tag = "rest-rsmq",
    responses(
        (status = 200, description = "The queues", body = openapi::QueueList),
        (status = 503, description = "Redis failed", body = ErrorBody),
    )
)]
pub(crate) async fn list_queues(State(ctx): Shared) -> ApiResult {
    let queues = ctx.rsmq.list_queues().await?;
    Ok(Json(json!({ "queues": queues })))
}

#[utoipa::path(
    get,
    path = "/queues/{qname}",
    tag = "rest-rsmq",
    params(("qname" = String, Path, description = "The queue")),
    responses(
        (status = 200, description = "The queue's attributes", body = openapi::Attributes),
        (status = 400, description = "Invalid queue name", body = ErrorBody),
        (status = 404, description = "No such queue", body = ErrorBody),
    )
)]
pub(crate) async fn get_attributes(
    State(ctx): Shared,
    qname: Result<Path<String>, PathRejection>,
) -> ApiResult {
    let qname = path(qname)?;
    let attrs = ctx.rsmq.get_queue_attributes(&qname).await?;
    Ok(Json(format::attributes_json(&attrs)))
}

#[utoipa::path(
    post,
    path = "/queues/{qname}",
    tag = "rest-rsmq",
    params(("qname" = String, Path, description = "The queue")),
    request_body(content = Option<QueueBody>, description = "Attributes; none for the defaults"),
    responses(
        (status = 200, description = "Created", body = openapi::ResultFlag),
        (status = 400, description = "Invalid name or attributes", body = ErrorBody),
        (status = 403, description = "Read-only", body = ErrorBody),
        (status = 409, description = "The queue exists", body = ErrorBody),
    )
)]
pub(crate) async fn create_queue(
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

#[utoipa::path(
    delete,
    path = "/queues/{qname}",
    tag = "rest-rsmq",
    params(("qname" = String, Path, description = "The queue")),
    responses(
        (status = 200, description = "Deleted with its messages", body = openapi::ResultFlag),
        (status = 403, description = "Read-only", body = ErrorBody),
        (status = 404, description = "No such queue", body = ErrorBody),
    )
)]
pub(crate) async fn delete_queue(
    State(ctx): Shared,
    qname: Result<Path<String>, PathRejection>,
) -> ApiResult {
    let qname = path(qname)?;
    ctx.mutation("deleteQueue", &qname, None)?;
    ctx.rsmq.delete_queue(&qname).await?;
    Ok(Json(json!({"result": 1})))
}

#[utoipa::path(
    post,
    path = "/messages/{qname}",
    tag = "rest-rsmq",
    params(("qname" = String, Path, description = "The queue")),
    request_body = SendBody,
    responses(
        (status = 200, description = "Sent", body = openapi::SentId),
        (status = 400, description = "Invalid body or delay, or message too long", body = ErrorBody),
        (status = 403, description = "Read-only", body = ErrorBody),
        (status = 404, description = "No such queue", body = ErrorBody),
    )
)]
pub(crate) async fn send_message(
    State(ctx): Shared,
    qname: Result<Path<String>, PathRejection>,
    b: Result<Json<SendBody>, JsonRejection>,
) -> ApiResult {
    let qname = path(qname)?;
    ctx.mutation("sendMessage", &qname, None)?;
    let b = body(b)?;
    let delay = seconds("delay", b.delay)?;
    let id = ctx.rsmq.send_message(&qname, b.message, delay).await?;
    guard::audit_done("sendMessage", &qname, Some(&id), None);
    Ok(Json(json!({ "id": id })))
}

#[utoipa::path(
    get,
    path = "/messages/{qname}",
    tag = "rest-rsmq",
    params(("qname" = String, Path, description = "The queue"), VtQuery),
    responses(
        (status = 200, description = "The received message, hidden for vt; {} when none is receivable", body = openapi::Message),
        (status = 400, description = "Invalid vt", body = ErrorBody),
        (status = 403, description = "Read-only", body = ErrorBody),
        (status = 404, description = "No such queue", body = ErrorBody),
    )
)]
pub(crate) async fn receive_message(
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

#[utoipa::path(
    put,
    path = "/messages/{qname}/{id}",
    tag = "rest-rsmq",
    params(
        ("qname" = String, Path, description = "The queue"),
        ("id" = String, Path, description = "The message id"),
        VtQuery,
    ),
    responses(
        (status = 200, description = "1 when changed, 0 when no such message", body = openapi::ResultFlag),
        (status = 400, description = "Missing or invalid vt, invalid id", body = ErrorBody),
        (status = 403, description = "Read-only", body = ErrorBody),
        (status = 404, description = "No such queue", body = ErrorBody),
    )
)]
pub(crate) async fn change_visibility(
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

/// `rest-rsmq`'s singular path for [`change_visibility`].
#[utoipa::path(
    put,
    path = "/message/{qname}/{id}",
    tag = "rest-rsmq",
    params(
        ("qname" = String, Path, description = "The queue"),
        ("id" = String, Path, description = "The message id"),
        VtQuery,
    ),
    responses(
        (status = 200, description = "1 when changed, 0 when no such message", body = openapi::ResultFlag),
        (status = 400, description = "Missing or invalid vt, invalid id", body = ErrorBody),
        (status = 403, description = "Read-only", body = ErrorBody),
        (status = 404, description = "No such queue", body = ErrorBody),
    )
)]
pub(crate) async fn change_visibility_singular(
    ctx: Shared,
    p: Result<Path<(String, String)>, PathRejection>,
    q: Result<Query<VtQuery>, QueryRejection>,
) -> ApiResult {
    change_visibility(ctx, p, q).await
}

#[utoipa::path(
    delete,
    path = "/messages/{qname}/{id}",
    tag = "rest-rsmq",
    params(
        ("qname" = String, Path, description = "The queue"),
        ("id" = String, Path, description = "The message id"),
    ),
    responses(
        (status = 200, description = "1 when deleted, 0 when no such message", body = openapi::ResultFlag),
        (status = 400, description = "Invalid id", body = ErrorBody),
        (status = 403, description = "Read-only", body = ErrorBody),
    )
)]
pub(crate) async fn delete_message(
    State(ctx): Shared,
    p: Result<Path<(String, String)>, PathRejection>,
) -> ApiResult {
    let (qname, id) = path(p)?;
    ctx.mutation("deleteMessage", &qname, Some(&id))?;
    let deleted = ctx.rsmq.delete_message(&qname, &id).await?;
    Ok(Json(json!({"result": u8::from(deleted)})))
}

#[utoipa::path(
    get,
    path = "/api/queues/{qname}/peek",
    tag = "api",
    params(("qname" = String, Path, description = "The queue"), PeekQuery),
    responses(
        (status = 200, description = "The next receivable messages, in receive order; nothing changes", body = openapi::Messages),
        (status = 400, description = "Invalid n", body = ErrorBody),
        (status = 404, description = "No such queue", body = ErrorBody),
    )
)]
pub(crate) async fn peek(
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

#[utoipa::path(
    post,
    path = "/api/queues/{qname}/purge",
    tag = "api",
    params(("qname" = String, Path, description = "The queue")),
    responses(
        (status = 200, description = "Every message removed; the queue stays", body = openapi::Removed),
        (status = 403, description = "Read-only", body = ErrorBody),
        (status = 404, description = "No such queue", body = ErrorBody),
    )
)]
pub(crate) async fn purge(
    State(ctx): Shared,
    qname: Result<Path<String>, PathRejection>,
) -> ApiResult {
    let qname = path(qname)?;
    ctx.mutation("purgeQueue", &qname, None)?;
    let removed = ctx.rsmq.purge_queue(&qname).await?;
    Ok(Json(json!({ "removed": removed })))
}

#[utoipa::path(
    patch,
    path = "/api/queues/{qname}",
    tag = "api",
    params(("qname" = String, Path, description = "The queue")),
    request_body = QueueBody,
    responses(
        (status = 200, description = "The new attributes", body = openapi::Attributes),
        (status = 400, description = "Invalid or no attributes", body = ErrorBody),
        (status = 403, description = "Read-only", body = ErrorBody),
        (status = 404, description = "No such queue", body = ErrorBody),
    )
)]
pub(crate) async fn set_attributes(
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
    Ok(Json(format::attributes_json(&attrs)))
}

#[utoipa::path(
    get,
    path = "/api/workers",
    tag = "api",
    responses(
        (status = 200, description = "The live workers", body = openapi::Workers),
        (status = 503, description = "Redis failed", body = ErrorBody),
    )
)]
pub(crate) async fn workers(State(ctx): Shared) -> ApiResult {
    let workers = ctx.rsmq.live_workers().await?;
    let workers: Vec<Value> = workers.iter().map(crate::format::worker_json).collect();
    Ok(Json(json!({ "workers": workers })))
}

/// The default page size of [`browse`].
const DEFAULT_LIMIT: u32 = 50;
/// The default and the largest number of messages a [`search`] looks at.
const DEFAULT_SCAN: u32 = 1000;
const MAX_SCAN: u32 = 10_000;

/// A browsed message as JSON.
fn browsed_json(m: rsmq_async::BrowsedMessage<Vec<u8>>) -> BrowsedMessage {
    BrowsedMessage {
        message: String::from_utf8_lossy(&m.message).into_owned(),
        id: m.id,
        rc: m.rc,
        fr: m.fr,
        sent: m.sent,
        visible_at: m.visible_at,
        hidden: m.hidden,
    }
}

fn message_not_found() -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "messageNotFound",
        "Message not found",
    )
}

/// A count given in a query: `default` when absent, else within `1..=max`.
fn bounded(name: &str, n: Option<u32>, default: u32, max: u32) -> Result<u32, ApiError> {
    match n.unwrap_or(default) {
        n if (1..=max).contains(&n) => Ok(n),
        _ => Err(ApiError::bad(
            "invalidValue",
            format!("{name} must be between 1 and {max}"),
        )),
    }
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct BrowseQuery {
    /// Where the page starts: 0 (the default) or the `next` of the page before.
    cursor: Option<u64>,
    /// Messages per page, 1..=1000 (default 50).
    limit: Option<u32>,
}

/// Every message of a queue, hidden ones included, a page at a time. Nothing changes. The
/// cursor is a position in the queue's order: messages sent, received or deleted between
/// two pages move the others, so a message can then be seen twice or not at all.
#[utoipa::path(
    get,
    path = "/api/queues/{qname}/messages",
    tag = "api",
    params(("qname" = String, Path, description = "The queue"), BrowseQuery),
    responses(
        (status = 200, description = "A page of messages, in the order they become receivable", body = MessagePage),
        (status = 400, description = "Invalid cursor or limit", body = ErrorBody),
        (status = 404, description = "No such queue", body = ErrorBody),
    )
)]
pub(crate) async fn browse(
    State(ctx): Shared,
    qname: Result<Path<String>, PathRejection>,
    q: Result<Query<BrowseQuery>, QueryRejection>,
) -> Result<Json<MessagePage>, ApiError> {
    let qname = path(qname)?;
    let q = query(q)?;
    let limit = bounded("limit", q.limit, DEFAULT_LIMIT, MAX_BATCH as u32)?;
    let page = ctx
        .rsmq
        .browse_messages::<Vec<u8>>(&qname, q.cursor.unwrap_or(0), limit)
        .await?;
    Ok(Json(MessagePage {
        next: page.next,
        messages: page.messages.into_iter().map(browsed_json).collect(),
    }))
}

/// One message by id, hidden or not. Nothing changes.
#[utoipa::path(
    get,
    path = "/api/queues/{qname}/messages/{id}",
    tag = "api",
    params(
        ("qname" = String, Path, description = "The queue"),
        ("id" = String, Path, description = "The message id"),
    ),
    responses(
        (status = 200, description = "The message", body = BrowsedMessage),
        (status = 400, description = "Invalid id", body = ErrorBody),
        (status = 404, description = "No such queue (queueNotFound) or message (messageNotFound)", body = ErrorBody),
    )
)]
pub(crate) async fn get_message(
    State(ctx): Shared,
    p: Result<Path<(String, String)>, PathRejection>,
) -> Result<Json<BrowsedMessage>, ApiError> {
    let (qname, id) = path(p)?;
    match ctx.rsmq.get_message::<Vec<u8>>(&qname, &id).await? {
        Some(m) => Ok(Json(browsed_json(m))),
        None => Err(message_not_found()),
    }
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct SearchQuery {
    /// Find the message with exactly this id.
    id: Option<String>,
    /// Find the messages whose body holds these bytes (not empty).
    q: Option<String>,
    /// With `q`: where to start, 0 (the default) or the `next` of the search before.
    cursor: Option<u64>,
    /// With `q`: how many messages to look at, 1..=10000 (default 1000).
    scan: Option<u32>,
}

/// A message by id (`id`), or the messages whose body holds a substring (`q`), looking at
/// no more than `scan` messages from `cursor`. Nothing changes.
#[utoipa::path(
    get,
    path = "/api/queues/{qname}/search",
    tag = "api",
    params(("qname" = String, Path, description = "The queue"), SearchQuery),
    responses(
        (status = 200, description = "The matches; continue a substring search from next", body = SearchResult),
        (status = 400, description = "Neither or both of id and q, an empty q, an invalid id or scan", body = ErrorBody),
        (status = 404, description = "No such queue", body = ErrorBody),
    )
)]
pub(crate) async fn search(
    State(ctx): Shared,
    qname: Result<Path<String>, PathRejection>,
    q: Result<Query<SearchQuery>, QueryRejection>,
) -> Result<Json<SearchResult>, ApiError> {
    let qname = path(qname)?;
    let q = query(q)?;
    let needle = match (q.id, q.q) {
        (Some(_), Some(_)) => {
            return Err(ApiError::bad(
                "invalidQuery",
                "give either id or q, not both",
            ))
        }
        (None, None) => return Err(ApiError::bad("missingParameter", "No id or q supplied")),
        (Some(id), None) => {
            let found = ctx.rsmq.get_message::<Vec<u8>>(&qname, &id).await?;
            let messages: Vec<BrowsedMessage> = found.into_iter().map(browsed_json).collect();
            return Ok(Json(SearchResult {
                scanned: messages.len() as u64,
                messages,
                next: None,
            }));
        }
        (None, Some(needle)) if needle.is_empty() => {
            return Err(ApiError::bad("invalidValue", "q must not be empty"))
        }
        (None, Some(needle)) => needle.into_bytes(),
    };
    let mut left = bounded("scan", q.scan, DEFAULT_SCAN, MAX_SCAN)?;
    let mut cursor = q.cursor.unwrap_or(0);
    let (mut messages, mut scanned, mut next) = (Vec::new(), 0u64, None);
    while left > 0 {
        let take = left.min(MAX_BATCH as u32);
        let page = ctx
            .rsmq
            .browse_messages::<Vec<u8>>(&qname, cursor, take)
            .await?;
        left -= take;
        scanned += page.messages.len() as u64;
        messages.extend(
            page.messages
                .into_iter()
                .filter(|m| contains(&m.message, &needle))
                .map(browsed_json),
        );
        next = page.next;
        match next {
            Some(n) => cursor = n,
            None => break,
        }
    }
    Ok(Json(SearchResult {
        messages,
        next,
        scanned,
    }))
}

/// Whether `needle` (not empty) occurs in `haystack`.
fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// Receives and deletes the next message in one step (at-most-once).
#[utoipa::path(
    post,
    path = "/api/queues/{qname}/pop",
    tag = "api",
    params(("qname" = String, Path, description = "The queue")),
    responses(
        (status = 200, description = "The popped message; {} when none is receivable", body = openapi::Message),
        (status = 403, description = "Read-only", body = ErrorBody),
        (status = 404, description = "No such queue", body = ErrorBody),
    )
)]
pub(crate) async fn pop(
    State(ctx): Shared,
    qname: Result<Path<String>, PathRejection>,
) -> ApiResult {
    let qname = path(qname)?;
    ctx.mutation("popMessage", &qname, None)?;
    match ctx.rsmq.pop_message::<Vec<u8>>(&qname).await? {
        Some(m) => {
            guard::audit_done("popMessage", &qname, Some(&m.id), None);
            Ok(Json(message_json(&m)))
        }
        None => Ok(Json(json!({}))),
    }
}

/// Messages to send in one atomic step.
#[derive(Deserialize, ToSchema)]
pub(crate) struct BatchBody {
    /// The bodies, 1..=1000, in the order receivers get them.
    messages: Vec<String>,
    /// Seconds before they become receivable (default: the queue's delay).
    delay: Option<f64>,
}

/// Sends several messages in one atomic step: all are stored or none.
#[utoipa::path(
    post,
    path = "/api/queues/{qname}/messages",
    tag = "api",
    params(("qname" = String, Path, description = "The queue")),
    request_body = BatchBody,
    responses(
        (status = 200, description = "Sent; the ids in input order", body = Ids),
        (status = 400, description = "No messages, more than 1000, an invalid delay or a message too long", body = ErrorBody),
        (status = 403, description = "Read-only", body = ErrorBody),
        (status = 404, description = "No such queue", body = ErrorBody),
    )
)]
pub(crate) async fn send_batch(
    State(ctx): Shared,
    qname: Result<Path<String>, PathRejection>,
    b: Result<Json<BatchBody>, JsonRejection>,
) -> Result<Json<Ids>, ApiError> {
    let qname = path(qname)?;
    ctx.mutation("sendMessageBatch", &qname, None)?;
    let b = body(b)?;
    if b.messages.is_empty() || b.messages.len() > MAX_BATCH {
        return Err(ApiError::bad(
            "invalidValue",
            format!("messages must hold between 1 and {MAX_BATCH} messages"),
        ));
    }
    let delay = seconds("delay", b.delay)?;
    let ids = ctx
        .rsmq
        .send_message_batch(&qname, b.messages, delay)
        .await?;
    guard::audit_done("sendMessageBatch", &qname, None, Some(ids.len()));
    Ok(Json(Ids { ids }))
}

/// The queue to move to.
#[derive(Deserialize, ToSchema)]
pub(crate) struct MoveBody {
    /// The destination queue (not this one).
    to: String,
}

/// Moves a message to another queue, keeping its id, body, rc and fr; receivable there at
/// once.
#[utoipa::path(
    post,
    path = "/api/queues/{qname}/messages/{id}/move",
    tag = "api",
    params(
        ("qname" = String, Path, description = "The queue"),
        ("id" = String, Path, description = "The message id"),
    ),
    request_body = MoveBody,
    responses(
        (status = 200, description = "1 when moved, 0 when no such message", body = openapi::ResultFlag),
        (status = 400, description = "Invalid id or destination, or the same queue", body = ErrorBody),
        (status = 403, description = "Read-only", body = ErrorBody),
        (status = 404, description = "No such queue (either)", body = ErrorBody),
    )
)]
pub(crate) async fn move_message(
    State(ctx): Shared,
    p: Result<Path<(String, String)>, PathRejection>,
    b: Result<Json<MoveBody>, JsonRejection>,
) -> ApiResult {
    let (qname, id) = path(p)?;
    ctx.mutation("moveMessage", &qname, Some(&id))?;
    let to = body(b)?.to;
    let moved = ctx.rsmq.move_message(&qname, &id, &to).await?;
    Ok(Json(json!({"result": u8::from(moved)})))
}

/// Where and how many to redrive.
#[derive(Deserialize, ToSchema)]
pub(crate) struct RedriveBody {
    /// The destination queue (not this one).
    to: String,
    /// The most messages to move, 0..=1000 (default 1000).
    max: Option<u32>,
    /// Change nothing; answer how many would move.
    #[serde(default)]
    dry_run: bool,
}

/// Moves receivable messages from this (dead-letter) queue back to `to`, oldest first,
/// receivable at once, with their receive count reset. A dry run changes nothing (and is
/// allowed in read-only mode).
#[utoipa::path(
    post,
    path = "/api/queues/{qname}/redrive",
    tag = "api",
    params(("qname" = String, Path, description = "The dead-letter queue")),
    request_body = RedriveBody,
    responses(
        (status = 200, description = "{\"moved\": n}, or with dry_run {\"would_move\": n}", body = Redriven),
        (status = 400, description = "Invalid destination or max, or the same queue", body = ErrorBody),
        (status = 403, description = "Read-only (not for a dry run)", body = ErrorBody),
        (status = 404, description = "No such queue (either)", body = ErrorBody),
    )
)]
pub(crate) async fn redrive(
    State(ctx): Shared,
    qname: Result<Path<String>, PathRejection>,
    b: Result<Json<RedriveBody>, JsonRejection>,
) -> Result<Json<Redriven>, ApiError> {
    let qname = path(qname)?;
    let b = body(b)?;
    if !b.dry_run {
        ctx.mutation("redrive", &qname, None)?;
    }
    let max = b.max.unwrap_or(MAX_BATCH as u32);
    if max as usize > MAX_BATCH {
        return Err(ApiError::bad(
            "invalidValue",
            format!("max must be between 0 and {MAX_BATCH}"),
        ));
    }
    if !b.dry_run {
        let moved = ctx.rsmq.redrive(&qname, &b.to, max).await?;
        return Ok(Json(Redriven {
            moved: Some(moved),
            would_move: None,
        }));
    }
    if qname == b.to {
        return Err(RsmqError::SameQueue.into());
    }
    // Both must exist, as for the redrive itself.
    let attrs = ctx.rsmq.get_queue_attributes(&qname).await?;
    ctx.rsmq.get_queue_attributes(&b.to).await?;
    Ok(Json(Redriven {
        moved: None,
        would_move: Some(attrs.visiblemsgs.min(u64::from(max))),
    }))
}
