//! The audit log of `serve` on standard error: one line per event of the target
//! `rsmq_web::audit` (every change the HTTP API makes or refuses, with who asked and from
//! where), and nothing else of `tracing`.

use std::io::Write;
use std::time::{SystemTime, UNIX_EPOCH};

use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::subscriber::Interest;
use tracing::{Event, Metadata, Subscriber};

use crate::util::utc;

const TARGET: &str = "rsmq_web::audit";

/// Writes the audit events of the HTTP API to standard error, from now on.
pub fn install() {
    // Only fails when one is installed already, which then keeps logging.
    let _ = tracing::subscriber::set_global_default(AuditLog);
}

struct AuditLog;

impl Subscriber for AuditLog {
    fn register_callsite(&self, m: &'static Metadata<'static>) -> Interest {
        if self.enabled(m) {
            Interest::always()
        } else {
            Interest::never()
        }
    }
    fn enabled(&self, m: &Metadata<'_>) -> bool {
        m.is_event() && m.target() == TARGET
    }
    fn new_span(&self, _: &Attributes<'_>) -> Id {
        Id::from_u64(1)
    }
    fn record(&self, _: &Id, _: &Record<'_>) {}
    fn record_follows_from(&self, _: &Id, _: &Id) {}
    fn event(&self, event: &Event<'_>) {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let mut line = Line::default();
        event.record(&mut line);
        // A closed standard error must not stop the server.
        let _ = writeln!(
            std::io::stderr(),
            "{} audit: {}{}",
            utc(now),
            line.message,
            line.fields
        );
    }
    fn enter(&self, _: &Id) {}
    fn exit(&self, _: &Id) {}
}

/// An event as text: its message, then ` name=value` per field (a value with a space or a
/// quote is quoted).
#[derive(Default)]
struct Line {
    message: String,
    fields: String,
}

impl Visit for Line {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.message = value.to_string();
        } else if value.is_empty() || value.contains(|c: char| c.is_whitespace() || c == '"') {
            self.fields
                .push_str(&format!(" {}={value:?}", field.name()));
        } else {
            self.fields.push_str(&format!(" {}={value}", field.name()));
        }
    }
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.record_str(field, &format!("{value:?}"));
    }
}
