//! The worker's metrics through the `metrics` facade (feature `metrics`), read by a small
//! recorder of the test's own.
#![cfg(feature = "metrics")]

mod common;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use metrics::{
    Counter, CounterFn, Gauge, GaugeFn, Histogram, HistogramFn, Key, KeyName, Metadata, Recorder,
    SharedString, Unit,
};
use rsmq_async::{RsmqConnection as _, RsmqMessage, Worker};

/// Every value by `name{label=value,...}`; a histogram counts its samples.
#[derive(Default)]
struct Values(Mutex<HashMap<String, f64>>);

struct Handle(String, &'static Values);

impl Handle {
    fn add(&self, d: f64) {
        *self.1 .0.lock().unwrap().entry(self.0.clone()).or_default() += d;
    }
}

impl CounterFn for Handle {
    fn increment(&self, value: u64) {
        self.add(value as f64);
    }
    fn absolute(&self, _: u64) {}
}

impl GaugeFn for Handle {
    fn increment(&self, value: f64) {
        self.add(value);
    }
    fn decrement(&self, value: f64) {
        self.add(-value);
    }
    fn set(&self, _: f64) {}
}

impl HistogramFn for Handle {
    fn record(&self, _: f64) {
        self.add(1.0);
    }
}

struct Rec(&'static Values);

impl Rec {
    fn handle(&self, key: &Key) -> Arc<Handle> {
        let mut labels: Vec<String> = key
            .labels()
            .map(|l| format!("{}={}", l.key(), l.value()))
            .collect();
        labels.sort();
        Arc::new(Handle(
            format!("{}{{{}}}", key.name(), labels.join(",")),
            self.0,
        ))
    }
}

impl Recorder for Rec {
    fn describe_counter(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn describe_gauge(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn describe_histogram(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn register_counter(&self, key: &Key, _: &Metadata<'_>) -> Counter {
        Counter::from_arc(self.handle(key))
    }
    fn register_gauge(&self, key: &Key, _: &Metadata<'_>) -> Gauge {
        Gauge::from_arc(self.handle(key))
    }
    fn register_histogram(&self, key: &Key, _: &Metadata<'_>) -> Histogram {
        Histogram::from_arc(self.handle(key))
    }
}

fn values() -> &'static Values {
    static VALUES: OnceLock<&'static Values> = OnceLock::new();
    VALUES.get_or_init(|| {
        let v: &'static Values = Box::leak(Box::default());
        metrics::set_global_recorder(Rec(v)).expect("one recorder");
        v
    })
}

fn value(key: &str) -> f64 {
    values().0.lock().unwrap().get(key).copied().unwrap_or(0.0)
}

#[derive(Debug)]
struct Boom;

impl std::fmt::Display for Boom {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("boom")
    }
}

impl std::error::Error for Boom {}

#[tokio::test]
async fn the_worker_counts_what_it_does() {
    values();
    let (rsmq, _) = common::rsmq("metrics").await;
    let q = format!("m{}", fastrand::u32(..));
    rsmq.create_queue(&q, None, None, None).await.unwrap();
    rsmq.create_queue("dead", None, None, None).await.unwrap();
    rsmq.send_message_batch(&q, vec!["ok", "ok", "fail"], None)
        .await
        .unwrap();
    let worker = Worker::builder_with_client(rsmq.clone())
        .poll_interval(Duration::from_millis(20))
        .backoff(rsmq_async::Backoff::fixed(Duration::ZERO))
        .dlq("dead", 1)
        .route(&q, |m: RsmqMessage<String>| async move {
            if m.message == "fail" {
                return Err(Boom);
            }
            Ok(())
        })
        .build()
        .await
        .unwrap();
    let handle = worker.handle();
    let task = tokio::spawn(worker.run());
    let deadline = Instant::now() + Duration::from_secs(15);
    while value(&format!("rsmq_worker_dead_lettered_total{{queue={q}}}")) < 1.0 {
        assert!(Instant::now() < deadline, "no dead letter counted");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    handle.shutdown();
    task.await.unwrap().unwrap();
    assert_eq!(
        value(&format!("rsmq_worker_handled_total{{queue={q}}}")),
        2.0
    );
    assert_eq!(
        value(&format!(
            "rsmq_worker_failed_total{{queue={q},reason=error}}"
        )),
        2.0
    );
    assert_eq!(
        value(&format!("rsmq_worker_retried_total{{queue={q}}}")),
        1.0
    );
    assert_eq!(
        value(&format!("rsmq_worker_handler_seconds{{queue={q}}}")),
        4.0
    );
    assert_eq!(value(&format!("rsmq_worker_in_flight{{queue={q}}}")), 0.0);
}
