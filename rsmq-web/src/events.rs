//! Live updates: `GET /api/events`, a stream of server-sent events. Every second it sends
//! the overview as an `overview` event (the JSON of `GET /api/overview`); when Redis fails
//! it sends a `failure` event (`{"error": {...}}`) instead and carries on. The stream ends
//! when the client goes: axum drops it with the connection, and the next tick never comes;
//! and when the session it was opened with ends (signed out, expired).
//!
//! The streams share their readings ([`Latest`]): however many pages are open, Redis is read
//! about once a second, and not at all when none is.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::{Duration, Instant};

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

/// How long a browser waits before it reconnects a lost stream.
const RECONNECT: Duration = Duration::from_secs(1);

/// The oldest reading a stream sends again instead of reading Redis itself: a little less
/// than [`PERIOD`], so that each stream's data is never more than one period old.
const REUSE: Duration = Duration::from_millis(900);

/// The last overview event's data, shared by every stream of a router.
#[derive(Default)]
pub(crate) struct Latest(tokio::sync::Mutex<Option<(Instant, Reading)>>);

/// One reading, as a stream sends it: the event's name and data.
type Reading = (&'static str, Arc<str>);

impl Latest {
    /// A reading no older than [`REUSE`]; the first caller after that reads Redis while
    /// the others wait for its result.
    async fn get(&self, ctx: &Ctx) -> Reading {
        let mut last = self.0.lock().await;
        if let Some((at, reading)) = &*last {
            if at.elapsed() < REUSE {
                return reading.clone();
            }
        }
        let reading: Reading = match overview(&ctx.rsmq).await {
            Ok(o) => ("overview", o.to_json().to_string().into()),
            Err(e) => (
                "failure",
                json!({"error": {"name": "redisError", "message": e.to_string()}})
                    .to_string()
                    .into(),
            ),
        };
        *last = Some((Instant::now(), reading.clone()));
        reading
    }
}

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
    let session = crate::guard::session();
    let updates = stream::unfold((ctx, ticks), move |(ctx, mut ticks)| {
        let session = session.clone();
        async move {
            ticks.tick().await;
            if session.is_some_and(|id| !ctx.sessions.is_open(&id)) {
                return None;
            }
            let (name, data) = ctx.latest.get(&ctx).await;
            // A browser that loses the stream reconnects after a second (its default is
            // about three).
            let event = Event::default().event(name).data(&*data).retry(RECONNECT);
            Some((Ok(event), (ctx, ticks)))
        }
    });
    Sse::new(updates).keep_alive(KeepAlive::default())
}
