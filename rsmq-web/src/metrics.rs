//! `GET /metrics`: the overview ([`crate::stats::overview`]) in the Prometheus text
//! exposition format, version 0.0.4.
//!
//! Per queue (label `queue`): `rsmq_queue_messages`, `rsmq_queue_hidden_messages`,
//! `rsmq_queue_visible_messages`, `rsmq_queue_oldest_message_age_seconds` (0 for an empty
//! queue) and the counters `rsmq_queue_sent_total` and `rsmq_queue_received_total`. For
//! Redis: `rsmq_redis_used_memory_bytes`, `rsmq_redis_maxmemory_bytes` (0: no limit),
//! `rsmq_redis_eviction_policy_info{policy}` (always 1) and `rsmq_redis_may_evict_messages`
//! (0 or 1). And `rsmq_live_workers`.

use std::fmt::Write as _;

use axum::extract::State;
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};

use crate::error::ApiError;
use crate::stats::{overview, Overview};
use crate::Shared;

/// The media type of the text format.
const CONTENT_TYPE: &str = "text/plain; version=0.0.4";

/// `GET /metrics`.
#[utoipa::path(
    get,
    path = "/metrics",
    tag = "api",
    responses(
        (status = 200, description = "Every queue's counters, Redis's memory and the live workers in the Prometheus text format 0.0.4", content_type = "text/plain; version=0.0.4"),
        (status = 503, description = "Redis failed", body = crate::openapi::ErrorBody),
    )
)]
pub(crate) async fn metrics(State(ctx): Shared) -> Result<Response, ApiError> {
    let text = render(&overview(&ctx.rsmq).await?);
    let mut res = text.into_response();
    res.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE));
    Ok(res)
}

/// The overview as exposition text.
fn render(o: &Overview) -> String {
    let mut out = Exposition::default();
    type Pick = fn(&crate::stats::QueueStats) -> Num;
    let per_queue: [(&str, &str, &str, Pick); 6] = [
        (
            "rsmq_queue_messages",
            "gauge",
            "Messages in the queue, hidden or not.",
            |q| Num::Int(q.attrs.msgs),
        ),
        (
            "rsmq_queue_hidden_messages",
            "gauge",
            "Messages in the queue that are not receivable now (received, or delayed).",
            |q| Num::Int(q.attrs.hiddenmsgs),
        ),
        (
            "rsmq_queue_visible_messages",
            "gauge",
            "Messages in the queue that are receivable now.",
            |q| Num::Int(q.attrs.visiblemsgs),
        ),
        (
            "rsmq_queue_oldest_message_age_seconds",
            "gauge",
            "Seconds since the message at the head of the queue was sent (0 when empty).",
            |q| Num::Float(q.oldest_age.unwrap_or(0.0)),
        ),
        (
            "rsmq_queue_sent_total",
            "counter",
            "Messages sent to the queue since it was created.",
            |q| Num::Int(q.attrs.totalsent),
        ),
        (
            "rsmq_queue_received_total",
            "counter",
            "Receives from the queue since it was created.",
            |q| Num::Int(q.attrs.totalrecv),
        ),
    ];
    for (name, kind, help, pick) in per_queue {
        out.family(name, kind, help);
        for q in &o.queues {
            out.sample(name, &[("queue", &q.name)], pick(q));
        }
    }
    let m = &o.memory;
    out.family(
        "rsmq_redis_used_memory_bytes",
        "gauge",
        "Bytes Redis has allocated (used_memory).",
    );
    out.sample("rsmq_redis_used_memory_bytes", &[], Num::Int(m.used));
    out.family(
        "rsmq_redis_maxmemory_bytes",
        "gauge",
        "Redis's memory limit in bytes (maxmemory); 0 when there is none.",
    );
    out.sample("rsmq_redis_maxmemory_bytes", &[], Num::Int(m.max));
    out.family(
        "rsmq_redis_eviction_policy_info",
        "gauge",
        "Redis's eviction policy (maxmemory-policy), as the label policy.",
    );
    out.sample(
        "rsmq_redis_eviction_policy_info",
        &[("policy", &m.policy)],
        Num::Int(1),
    );
    out.family(
        "rsmq_redis_may_evict_messages",
        "gauge",
        "1 when the eviction policy may evict keys without a TTL, which is every queue's key.",
    );
    out.sample(
        "rsmq_redis_may_evict_messages",
        &[],
        Num::Int(u64::from(m.may_evict_messages())),
    );
    out.family(
        "rsmq_live_workers",
        "gauge",
        "Workers whose liveness entry has not expired.",
    );
    out.sample("rsmq_live_workers", &[], Num::Int(o.workers as u64));
    out.0
}

/// Text in the exposition format, written family by family.
#[derive(Default)]
struct Exposition(String);

impl Exposition {
    /// The `# HELP` and `# TYPE` lines of a family.
    fn family(&mut self, name: &str, kind: &str, help: &str) {
        let help = help.replace('\\', r"\\").replace('\n', r"\n");
        let _ = writeln!(self.0, "# HELP {name} {help}");
        let _ = writeln!(self.0, "# TYPE {name} {kind}");
    }

    /// One sample line: `name{label="value",...} value`.
    fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: Num) {
        self.0.push_str(name);
        if !labels.is_empty() {
            self.0.push('{');
            for (i, (label, v)) in labels.iter().enumerate() {
                if i > 0 {
                    self.0.push(',');
                }
                let _ = write!(self.0, "{label}=\"{}\"", escape_label(v));
            }
            self.0.push('}');
        }
        let _ = writeln!(self.0, " {value}");
    }
}

/// A label value with `\`, `"` and line feeds escaped.
fn escape_label(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    for c in v.chars() {
        match c {
            '\\' => out.push_str(r"\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str(r"\n"),
            c => out.push(c),
        }
    }
    out
}

/// A sample value: an integer exactly, or a float as Go's `ParseFloat` reads it.
#[derive(Clone, Copy)]
enum Num {
    Int(u64),
    Float(f64),
}

impl std::fmt::Display for Num {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match *self {
            Num::Int(n) => write!(f, "{n}"),
            Num::Float(v) if v.is_nan() => f.write_str("NaN"),
            Num::Float(v) if v.is_infinite() => f.write_str(if v > 0.0 { "+Inf" } else { "-Inf" }),
            Num::Float(v) => write!(f, "{v}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{escape_label, Exposition, Num};

    #[test]
    fn labels_are_escaped() {
        assert_eq!(escape_label(r#"a"b\c"#), r#"a\"b\\c"#);
        assert_eq!(escape_label("two\nlines"), r"two\nlines");
        assert_eq!(escape_label("plain-name_1"), "plain-name_1");
        let mut e = Exposition::default();
        e.family("m", "gauge", "Help with a \\ and\na line feed.");
        e.sample("m", &[("queue", "q\"1"), ("x", "y")], Num::Int(2));
        e.sample("m", &[], Num::Float(0.25));
        assert_eq!(
            e.0,
            "# HELP m Help with a \\\\ and\\na line feed.\n# TYPE m gauge\n\
             m{queue=\"q\\\"1\",x=\"y\"} 2\nm 0.25\n"
        );
    }

    #[test]
    fn numbers() {
        let shown = |n: Num| n.to_string();
        assert_eq!(shown(Num::Int(u64::MAX)), "18446744073709551615");
        assert_eq!(shown(Num::Float(0.0)), "0");
        assert_eq!(shown(Num::Float(1.5)), "1.5");
        assert_eq!(shown(Num::Float(1e20)), "100000000000000000000");
        assert_eq!(shown(Num::Float(f64::NAN)), "NaN");
        assert_eq!(shown(Num::Float(f64::INFINITY)), "+Inf");
    }
}
