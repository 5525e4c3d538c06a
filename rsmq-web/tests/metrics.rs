//! `GET /metrics`, in the Prometheus text format, against a real redis-server.

mod support;

use std::collections::BTreeMap;
use std::time::Duration;

use axum::http::StatusCode;
use axum::Router;
use rsmq_async::RsmqConnection;
use rsmq_web::WebConfig;
use support::app;

/// `GET /metrics`: the status, the content type and the text.
async fn scrape(app: &Router, auth: Option<&str>) -> (StatusCode, String, String) {
    let headers: Vec<(&str, &str)> = auth.map(|a| ("authorization", a)).into_iter().collect();
    let reply = support::oneshot(app, support::request("GET", "/metrics", None, &headers)).await;
    (reply.status, reply.content_type(), reply.text())
}

/// One sample: the metric name and its labels.
type Key = (String, BTreeMap<String, String>);

/// Parses the text format strictly enough to catch malformed lines: every family has
/// `# HELP` and `# TYPE` (gauge or counter) before its samples, and every sample is
/// `name{label="value",...} value` with a value that parses as a number.
fn parse(text: &str) -> BTreeMap<Key, f64> {
    let mut samples = BTreeMap::new();
    let mut helped = Vec::new();
    let mut typed = Vec::new();
    assert!(text.ends_with('\n'), "the text ends with a line feed");
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# HELP ") {
            let (name, help) = rest.split_once(' ').expect("HELP name text");
            assert!(!help.is_empty(), "{line}");
            helped.push(name.to_string());
            continue;
        }
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').expect("TYPE name kind");
            assert!(["gauge", "counter"].contains(&kind), "{line}");
            assert_eq!(helped.last().map(String::as_str), Some(name), "{line}");
            typed.push(name.to_string());
            continue;
        }
        assert!(!line.starts_with('#') && !line.is_empty(), "{line:?}");
        let name_end = line
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':'))
            .unwrap_or_else(|| panic!("a sample has a value: {line}"));
        let name = &line[..name_end];
        assert!(
            name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_'),
            "{line}"
        );
        assert_eq!(typed.last().map(String::as_str), Some(name), "{line}");
        let mut rest = &line[name_end..];
        let mut labels = BTreeMap::new();
        if let Some(body) = rest.strip_prefix('{') {
            let mut chars = body.char_indices().peekable();
            loop {
                let (start, _) = *chars.peek().expect("a label or }");
                if body[start..].starts_with('}') {
                    rest = &body[start + 1..];
                    break;
                }
                let eq = body[start..].find("=\"").expect("label=\"") + start;
                let label = &body[start..eq];
                assert!(
                    !label.is_empty()
                        && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'),
                    "{line}"
                );
                while chars.next_if(|&(i, _)| i <= eq + 1).is_some() {}
                let mut value = String::new();
                loop {
                    match chars.next().expect("a closing quote") {
                        (_, '"') => break,
                        (_, '\\') => match chars.next().expect("an escape").1 {
                            'n' => value.push('\n'),
                            c @ ('\\' | '"') => value.push(c),
                            c => panic!("bad escape \\{c} in {line}"),
                        },
                        (_, c) => value.push(c),
                    }
                }
                labels.insert(label.to_string(), value);
                if let Some(&(_, ',')) = chars.peek() {
                    chars.next();
                }
            }
        }
        let value = rest.strip_prefix(' ').expect("a space before the value");
        let value: f64 = value.parse().unwrap_or_else(|_| panic!("a number: {line}"));
        let old = samples.insert((name.to_string(), labels), value);
        assert!(old.is_none(), "a sample twice: {line}");
    }
    samples
}

fn get(samples: &BTreeMap<Key, f64>, name: &str, labels: &[(&str, &str)]) -> f64 {
    let labels = labels
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    *samples
        .get(&(name.to_string(), labels))
        .unwrap_or_else(|| panic!("no {name} {samples:?}"))
}

#[test]
fn the_parser_reads_escaped_labels() {
    let text = "# HELP m Help.\n# TYPE m gauge\n\
                m{queue=\"a\\\"b\\\\c\\nd\",x=\"\"} 2\nm 0.5\n";
    let s = parse(text);
    assert_eq!(get(&s, "m", &[("queue", "a\"b\\c\nd"), ("x", "")]), 2.0);
    assert_eq!(get(&s, "m", &[]), 0.5);
}

#[tokio::test]
async fn metrics_show_queues_memory_and_workers() {
    let (app, rsmq) = app("metrics", WebConfig::default().read_only(true)).await;
    // Nothing yet: the families, no queue samples.
    let (s, content_type, text) = scrape(&app, None).await;
    assert_eq!(s, StatusCode::OK, "{text}");
    assert_eq!(content_type, "text/plain; version=0.0.4");
    let samples = parse(&text);
    assert!(
        !samples.keys().any(|(_, l)| l.contains_key("queue")),
        "{text}"
    );
    assert_eq!(get(&samples, "rsmq_live_workers", &[]), 0.0);

    rsmq.create_queue("jobs", None, None, None).await.unwrap();
    rsmq.create_queue("empty_queue-2", None, None, None)
        .await
        .unwrap();
    for i in 0..4 {
        rsmq.send_message("jobs", format!("m{i}"), None)
            .await
            .unwrap();
    }
    rsmq.send_message("jobs", "later", Some(Duration::from_secs(100)))
        .await
        .unwrap();
    rsmq.receive_message::<String>("jobs", None).await.unwrap();
    rsmq.register_worker(
        "box-1-abc",
        Duration::from_secs(30),
        "host=box pid=1 queues=jobs concurrency=1 in_flight=0 handled=0 failed=0 version=19.0.0",
    )
    .await
    .unwrap();
    // A message sent in the current second counts as hidden until it ends (as in the
    // JavaScript client): let it end.
    tokio::time::sleep(Duration::from_millis(1100)).await;

    let (s, _, text) = scrape(&app, None).await;
    assert_eq!(s, StatusCode::OK, "{text}");
    let samples = parse(&text);
    let jobs = [("queue", "jobs")];
    let q = |name: &str| get(&samples, name, &jobs);
    assert_eq!(q("rsmq_queue_messages"), 5.0, "{text}");
    assert_eq!(q("rsmq_queue_hidden_messages"), 2.0, "{text}");
    assert_eq!(q("rsmq_queue_visible_messages"), 3.0, "{text}");
    assert_eq!(q("rsmq_queue_sent_total"), 5.0, "{text}");
    assert_eq!(q("rsmq_queue_received_total"), 1.0, "{text}");
    let age = q("rsmq_queue_oldest_message_age_seconds");
    assert!((1.0..60.0).contains(&age), "{age}");
    // The label of a name with `-` and `_`, and an empty queue's zeros.
    let empty = [("queue", "empty_queue-2")];
    assert!(
        text.contains("rsmq_queue_messages{queue=\"empty_queue-2\"} 0\n"),
        "{text}"
    );
    for name in [
        "rsmq_queue_messages",
        "rsmq_queue_hidden_messages",
        "rsmq_queue_oldest_message_age_seconds",
        "rsmq_queue_sent_total",
    ] {
        assert_eq!(get(&samples, name, &empty), 0.0, "{name}");
    }
    for (name, kind) in [
        ("rsmq_queue_sent_total", "counter"),
        ("rsmq_queue_received_total", "counter"),
        ("rsmq_queue_messages", "gauge"),
        ("rsmq_redis_used_memory_bytes", "gauge"),
    ] {
        assert!(text.contains(&format!("# TYPE {name} {kind}\n")), "{name}");
    }

    // Redis's memory, as INFO says it.
    let memory = rsmq.server_memory().await.unwrap();
    assert!(get(&samples, "rsmq_redis_used_memory_bytes", &[]) > 0.0);
    assert_eq!(
        get(&samples, "rsmq_redis_maxmemory_bytes", &[]),
        memory.max as f64
    );
    let policy = [("policy", memory.policy.as_str())];
    assert_eq!(
        get(&samples, "rsmq_redis_eviction_policy_info", &policy),
        1.0
    );
    assert_eq!(
        get(&samples, "rsmq_redis_may_evict_messages", &[]),
        f64::from(u8::from(memory.may_evict_messages()))
    );
    assert_eq!(get(&samples, "rsmq_live_workers", &[]), 1.0);
}

#[tokio::test]
async fn metrics_need_the_credentials() {
    let (app, _) = app("metrics-auth", WebConfig::default().token("s3cret")).await;
    let (s, _, _) = scrape(&app, None).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    let (s, content_type, text) = scrape(&app, Some("Bearer s3cret")).await;
    assert_eq!(s, StatusCode::OK, "{text}");
    assert_eq!(content_type, "text/plain; version=0.0.4");
    parse(&text);
}
