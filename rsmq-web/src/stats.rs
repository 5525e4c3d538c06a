//! What the dashboard, the live updates and `/metrics` show: every queue's counters and the
//! age of its oldest message, Redis's memory, and the number of live workers, read in one
//! pass ([`overview`]).

use std::time::{SystemTime, UNIX_EPOCH};

use axum::extract::State;
use axum::Json;
use futures_util::stream::{self, StreamExt};
use rsmq_async::{Rsmq, RsmqConnection, RsmqError, RsmqQueueAttributes, ServerMemory};
use serde_json::{json, Value};

use crate::error::ApiResult;
use crate::Shared;

/// One queue as the overview shows it.
pub(crate) struct QueueStats {
    pub(crate) name: String,
    pub(crate) attrs: RsmqQueueAttributes,
    /// Seconds since the message at the head of the queue (the next to become receivable)
    /// was sent, by the Redis clock; `None` for an empty queue.
    pub(crate) oldest_age: Option<f64>,
}

/// Every queue of the namespace, Redis's memory and the live workers.
pub(crate) struct Overview {
    pub(crate) queues: Vec<QueueStats>,
    pub(crate) memory: ServerMemory,
    pub(crate) workers: usize,
    /// When it was read, epoch milliseconds (this host's clock).
    pub(crate) time: u64,
}

/// How many queues' attributes are read at once: the calls share the connection, so a
/// namespace of many queues costs a few round trips rather than one per queue.
const CONCURRENT_READS: usize = 64;

/// Reads the overview: per queue its attributes (one call each, [`CONCURRENT_READS`] in
/// flight), then `INFO memory` and the liveness hash. Queues are sorted by name; one
/// deleted meanwhile is left out.
pub(crate) async fn overview(rsmq: &Rsmq) -> Result<Overview, RsmqError> {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0);
    let mut names = rsmq.list_queues().await?;
    names.sort();
    let reads: Vec<_> = stream::iter(names)
        .map(|name| async move {
            let attrs = rsmq.get_queue_attributes(&name).await;
            (name, attrs)
        })
        .buffered(CONCURRENT_READS)
        .collect()
        .await;
    let mut queues = Vec::with_capacity(reads.len());
    for (name, attrs) in reads {
        let attrs = match attrs {
            Ok(a) => a,
            Err(RsmqError::QueueNotFound) => continue,
            Err(e) => return Err(e),
        };
        let oldest_age = (attrs.msgs > 0).then_some(attrs.oldestmsgage.as_secs_f64());
        queues.push(QueueStats {
            name,
            attrs,
            oldest_age,
        });
    }
    let (memory, workers) = tokio::join!(rsmq.server_memory(), rsmq.live_workers());
    let (memory, workers) = (memory?, workers?.len());
    Ok(Overview {
        queues,
        memory,
        workers,
        time: now,
    })
}

impl Overview {
    /// The overview as JSON (the answer of `GET /api/overview` and each live update).
    pub(crate) fn to_json(&self) -> Value {
        let queues: Vec<Value> = self
            .queues
            .iter()
            .map(|q| {
                let mut v = crate::format::attributes_json(&q.attrs);
                v["name"] = json!(q.name);
                v["visible"] = json!(q.attrs.visiblemsgs);
                v["oldest_age"] = json!(q.oldest_age);
                v
            })
            .collect();
        json!({
            "queues": queues,
            "redis": {
                "used_memory": self.memory.used,
                "maxmemory": self.memory.max,
                "policy": self.memory.policy,
                "may_evict_messages": self.memory.may_evict_messages(),
            },
            "workers": self.workers,
            "time": self.time,
        })
    }
}

/// `GET /api/overview`.
#[utoipa::path(
    get,
    path = "/api/overview",
    tag = "api",
    responses(
        (status = 200, description = "Every queue's attributes with `visible` and `oldest_age` (seconds, null for an empty queue), Redis's memory (`used_memory`, `maxmemory`, `policy`, `may_evict_messages`), the number of live `workers`, and the `time` read (epoch ms)", content_type = "application/json"),
        (status = 503, description = "Redis failed", body = crate::openapi::ErrorBody),
    )
)]
pub(crate) async fn get_overview(State(ctx): Shared) -> ApiResult {
    Ok(Json(overview(&ctx.rsmq).await?.to_json()))
}
