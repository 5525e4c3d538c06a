//! The JSON routes: `rest-rsmq`'s, and the ones under `/api/`.

use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use rsmq_async::{LiveWorker, RsmqConnection, RsmqMessage, RsmqQueueAttributes};
use serde::Deserialize;
use serde_json::{json, Map, Value};
use std::sync::Arc;
use std::time::Duration;

use crate::error::{body, path, query, seconds, ApiError, ApiResult};
use crate::{Ctx, Shared};

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
        .route("/message/{qname}/{id}", put(change_visibility))
        .route("/api/queues/{qname}/peek", get(peek))
        .route("/api/queues/{qname}/purge", post(purge))
        .route("/api/queues/{qname}", axum::routing::patch(set_attributes))
        .route("/api/workers", get(workers))
}

pub(crate) fn attributes_json(a: &RsmqQueueAttributes) -> Value {
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
