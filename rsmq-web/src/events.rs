//! Live updates: `GET /api/events`, a stream of server-sent events. Every second it reads
//! the overview and sends it as an `overview` event (the JSON of `GET /api/overview`); when
//! Redis fails it sends a `failure` event (`{"error": {...}}`) instead and carries on. The
//! stream ends when the client goes: axum drops it with the connection, and the next tick
//! never comes.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::routing::get;
use axum::Router;
use futures_util::stream::{self, Stream};
use serde_json::json;
use tokio::time::{interval, MissedTickBehavior};

use crate::stats::overview;
use crate::{Ctx, Shared};

/// How often the overview is sent.
const PERIOD: Duration = Duration::from_secs(1);

/// The event stream's route, without state or middleware.
pub(crate) fn routes() -> Router<Arc<Ctx>> {
    Router::new().route("/api/events", get(events))
}

/// The live updates: every second an `overview` event with the JSON of `GET /api/overview`,
/// or a `failure` event with an error while Redis does not answer.
#[utoipa::path(
    get,
    path = "/api/events",
    tag = "api",
    responses((status = 200, description = "Server-sent events: `overview` every second (the JSON of GET /api/overview), `failure` while Redis does not answer", content_type = "text/event-stream"))
)]
pub(crate) async fn events(
    State(ctx): Shared,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let mut ticks = interval(PERIOD);
    // A slow Redis delays the next event rather than sending a burst after it.
    ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let updates = stream::unfold((ctx, ticks), |(ctx, mut ticks)| async move {
        ticks.tick().await;
        let event = match overview(&ctx.rsmq).await {
            Ok(o) => Event::default()
                .event("overview")
                .data(o.to_json().to_string()),
            Err(e) => Event::default().event("failure").data(
                json!({"error": {"name": "redisError", "message": e.to_string()}}).to_string(),
            ),
        };
        Some((Ok(event), (ctx, ticks)))
    });
    Sse::new(updates).keep_alive(KeepAlive::default())
}
