//! A `tracing` subscriber for tests: records every span and event of `rsmq_async`, whatever
//! thread or runtime it comes from (it is the global default of the test binary).
#![allow(dead_code)]

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};

use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record as Values};
use tracing::{Event, Level, Metadata, Subscriber};

/// A span (with every field recorded on it so far) or an event.
#[derive(Clone, Debug)]
pub struct Record {
    pub is_span: bool,
    pub name: &'static str,
    pub level: Level,
    pub target: String,
    pub fields: Vec<(String, String)>,
}

impl Record {
    /// The last value recorded for `name`.
    pub fn field(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .rev()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The event's message.
    pub fn message(&self) -> &str {
        self.field("message").unwrap_or("")
    }
}

#[derive(Default)]
struct Store {
    records: Vec<Record>,
    spans: HashMap<u64, usize>,
}

struct Capture {
    next: AtomicU64,
    store: Mutex<Store>,
}

static CAPTURE: OnceLock<&'static Capture> = OnceLock::new();

/// Installs the recorder as the global default (once per test binary).
pub fn install() {
    CAPTURE.get_or_init(|| {
        let capture: &'static Capture = Box::leak(Box::new(Capture {
            next: AtomicU64::new(1),
            store: Mutex::default(),
        }));
        tracing::subscriber::set_global_default(Recorder(capture))
            .expect("no other global tracing subscriber");
        capture
    });
}

/// Everything recorded so far.
pub fn records() -> Vec<Record> {
    let capture = CAPTURE.get().expect("capture::install() first");
    capture
        .store
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .records
        .clone()
}

struct Fields<'a>(&'a mut Vec<(String, String)>);

impl Visit for Fields<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.push((field.name().to_string(), value.to_string()));
    }
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.0
            .push((field.name().to_string(), format!("{value:?}")));
    }
}

struct Recorder(&'static Capture);

impl Recorder {
    fn store(&self) -> std::sync::MutexGuard<'_, Store> {
        self.0.store.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Subscriber for Recorder {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        metadata.target().starts_with("rsmq_async")
    }

    fn new_span(&self, span: &Attributes<'_>) -> Id {
        let id = self.0.next.fetch_add(1, Ordering::Relaxed);
        let mut fields = Vec::new();
        span.record(&mut Fields(&mut fields));
        let meta = span.metadata();
        let mut store = self.store();
        store.records.push(Record {
            is_span: true,
            name: meta.name(),
            level: *meta.level(),
            target: meta.target().to_string(),
            fields,
        });
        let at = store.records.len() - 1;
        store.spans.insert(id, at);
        Id::from_u64(id)
    }

    fn record(&self, span: &Id, values: &Values<'_>) {
        let mut store = self.store();
        if let Some(&at) = store.spans.get(&span.into_u64()) {
            values.record(&mut Fields(&mut store.records[at].fields));
        }
    }

    fn record_follows_from(&self, _span: &Id, _follows: &Id) {}

    fn event(&self, event: &Event<'_>) {
        let mut fields = Vec::new();
        event.record(&mut Fields(&mut fields));
        let meta = event.metadata();
        self.store().records.push(Record {
            is_span: false,
            name: meta.name(),
            level: *meta.level(),
            target: meta.target().to_string(),
            fields,
        });
    }

    fn enter(&self, _span: &Id) {}

    fn exit(&self, _span: &Id) {}
}
