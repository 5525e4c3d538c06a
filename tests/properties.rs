//! Property tests (proptest) through the public API: input validation, durations, ids, body
//! round trips, and URL parsing. Each test has a namespace of its own on the shared test
//! server, and a modest number of cases, so the file runs in a few seconds.

mod common;

use std::future::Future;
use std::time::Duration;

use percent_encoding::{utf8_percent_encode, NON_ALPHANUMERIC};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use rsmq_async::{Rsmq, RsmqConnection, RsmqError, RsmqOptions};

/// The largest vt or delay, in seconds.
const MAX_SECONDS: u64 = 9_999_999;

fn config(cases: u32) -> Config {
    Config {
        cases,
        // No regression files in the source tree; a failure prints its minimal input.
        failure_persistence: None,
        ..Config::default()
    }
}

/// Runs a property with `cases` cases; `check` is called once per case with the generated
/// value and may panic (proptest then shrinks the input and reports the smallest).
fn check<S, F>(cases: u32, strategy: S, check: F)
where
    S: Strategy,
    S::Value: std::fmt::Debug,
    F: FnMut(S::Value),
{
    let mut runner = TestRunner::new(config(cases));
    let check = std::cell::RefCell::new(check);
    if let Err(e) = runner.run(&strategy, |v| {
        (check.borrow_mut())(v);
        Ok(())
    }) {
        panic!("{e}");
    }
}

/// A runtime for one test, and the clients it uses on the shared server.
struct Fixture {
    rt: tokio::runtime::Runtime,
}

impl Fixture {
    fn new() -> Fixture {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        Fixture { rt }
    }

    fn run<F: Future>(&self, f: F) -> F::Output {
        self.rt.block_on(f)
    }

    /// A client in a fresh namespace, and the namespace.
    fn client(&self, test: &str) -> (Rsmq, String) {
        self.run(common::rsmq(test))
    }

    fn snapshot(&self, ns: &str) -> Vec<(String, String)> {
        self.run(common::snapshot(ns))
    }
}

// ---------------------------------------------------------------------------------------------
// Validation

/// The rule for queue names: `^[A-Za-z0-9_-]{1,160}$`, except `QUEUES`.
fn valid_qname(s: &str) -> bool {
    (1..=160).contains(&s.chars().count())
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        && s != "QUEUES"
}

/// The rule for message ids: `^[A-Za-z0-9:]{32}$`.
fn valid_id(s: &str) -> bool {
    s.chars().count() == 32 && s.chars().all(|c| c.is_ascii_alphanumeric() || c == ':')
}

/// A string near `valid`: one character replaced, inserted or removed, or the string cut or
/// doubled, so boundaries are hit far more often than by arbitrary strings.
fn near(valid: BoxedStrategy<String>) -> BoxedStrategy<String> {
    (valid, any::<char>(), any::<prop::sample::Index>(), 0..5u8)
        .prop_map(|(s, c, at, how)| {
            let mut chars: Vec<char> = s.chars().collect();
            let i = at.index(chars.len() + 1);
            match how {
                0 if i < chars.len() => chars[i] = c,
                0 | 1 => chars.insert(i, c),
                2 if !chars.is_empty() => {
                    chars.remove(i.min(chars.len() - 1));
                }
                3 => chars.truncate(i),
                _ => chars.extend(s.chars()),
            }
            chars.into_iter().collect()
        })
        .boxed()
}

fn qname_candidates() -> impl Strategy<Value = String> {
    let valid = "[A-Za-z0-9_-]{1,160}".boxed();
    prop_oneof![
        3 => valid.clone(),
        3 => near(valid),
        2 => any::<String>(),
        1 => Just(String::new()),
        1 => Just("QUEUES".to_string()),
        1 => "[A-Za-z0-9_-]{159,161}",
        1 => "[ -~]{1,8}",
    ]
}

fn id_candidates() -> impl Strategy<Value = String> {
    let valid = "[A-Za-z0-9:]{32}".boxed();
    prop_oneof![
        3 => valid.clone(),
        3 => near(valid),
        2 => any::<String>(),
        1 => Just(String::new()),
        1 => "[A-Za-z0-9:]{30,34}",
        1 => "[ -~]{32}",
    ]
}

#[test]
fn create_queue_accepts_exactly_the_valid_names_and_writes_nothing_otherwise() {
    let fx = Fixture::new();
    let (good, _) = fx.client("prop-qname-ok");
    // Names the rule rejects go to a namespace of their own, which must stay empty.
    let (bad, bad_ns) = fx.client("prop-qname-bad");
    let mut accepted = 0;
    check(96, qname_candidates(), |name| {
        fx.run(async {
            if valid_qname(&name) {
                good.create_queue(&name, None, None, None)
                    .await
                    .unwrap_or_else(|e| panic!("{name:?} rejected: {e:?}"));
                good.delete_queue(&name).await.unwrap();
                accepted += 1;
            } else {
                match bad.create_queue(&name, None, None, None).await {
                    Err(RsmqError::MissingParameter(p)) => {
                        assert!(name.is_empty(), "{name:?}");
                        assert_eq!(p, "qname");
                    }
                    Err(RsmqError::InvalidFormat(p)) => {
                        assert!(!name.is_empty());
                        assert_eq!(p, "qname");
                    }
                    other => panic!("{name:?}: {other:?}"),
                }
            }
        });
        if !valid_qname(&name) {
            assert_eq!(fx.snapshot(&bad_ns), vec![], "{name:?} wrote something");
        }
    });
    assert!(accepted > 10, "only {accepted} valid names generated");
}

#[test]
fn delete_message_accepts_exactly_the_valid_ids() {
    let fx = Fixture::new();
    let (rsmq, ns) = fx.client("prop-id");
    fx.run(rsmq.create_queue("q", None, None, None)).unwrap();
    let before = fx.snapshot(&ns);
    check(96, id_candidates(), |id| {
        let result = fx.run(rsmq.delete_message("q", &id));
        match result {
            Ok(false) => assert!(valid_id(&id), "{id:?} accepted"),
            Ok(true) => panic!("{id:?}: deleted a message that was never sent"),
            Err(RsmqError::MissingParameter(p)) => {
                assert!(id.is_empty(), "{id:?}");
                assert_eq!(p, "id");
            }
            Err(RsmqError::InvalidFormat(p)) => {
                assert!(!id.is_empty() && !valid_id(&id), "{id:?} rejected");
                assert_eq!(p, "id");
            }
            Err(e) => panic!("{id:?}: {e:?}"),
        }
        assert_eq!(fx.snapshot(&ns), before, "{id:?} changed the namespace");
    });
}

// ---------------------------------------------------------------------------------------------
// Durations and maxsize

/// (secs, nanos) pairs concentrated on the boundaries: whole and fractional, in and out of
/// range.
fn duration_parts() -> impl Strategy<Value = (u64, u32)> {
    let secs = prop_oneof![
        0..=100u64,
        MAX_SECONDS - 2..=MAX_SECONDS + 2,
        0..=2 * MAX_SECONDS,
        any::<u64>(),
    ];
    let nanos = prop_oneof![
        2 => Just(0u32),
        1 => 1..1_000_000_000u32,
        1 => prop::sample::select(vec![1u32, 999_999_999, 1_000_000, 500_000_000]),
    ];
    (secs, nanos)
}

fn maxsizes() -> impl Strategy<Value = i64> {
    prop_oneof![
        1024..=65536i64,
        prop::sample::select(vec![
            -1i64,
            -2,
            0,
            1,
            1023,
            1024,
            65536,
            65537,
            i64::MIN,
            i64::MAX
        ]),
        any::<i64>(),
    ]
}

/// What `create_queue` must say about a queue `vt` or `delay` named `name`.
fn expect_seconds(secs: u64, nanos: u32, name: &str, result: &Result<(), RsmqError>) {
    match result {
        Ok(()) => assert!(
            nanos == 0 && secs <= MAX_SECONDS,
            "{name} {secs}s {nanos}ns accepted"
        ),
        Err(RsmqError::InvalidValue(n, lo, hi)) => {
            assert!(
                secs > MAX_SECONDS,
                "{name} {secs}s {nanos}ns: out of range?"
            );
            assert_eq!(
                (n.as_str(), lo.as_str(), hi.as_str()),
                (name, "0", "9999999")
            );
        }
        Err(RsmqError::NotWholeSeconds(n)) => {
            assert!(
                nanos != 0 && secs <= MAX_SECONDS,
                "{name} {secs}s {nanos}ns"
            );
            assert_eq!(n, name);
        }
        Err(e) => panic!("{name} {secs}s {nanos}ns: {e:?}"),
    }
}

#[test]
fn queue_durations_are_whole_seconds_up_to_9999999_and_maxsize_is_in_range() {
    let fx = Fixture::new();
    let (good, _) = fx.client("prop-dur-ok");
    let (bad, bad_ns) = fx.client("prop-dur-bad");
    let mut n = 0u32;
    let cases = (duration_parts(), duration_parts(), maxsizes(), 0..4u8);
    check(96, cases, |((vs, vn), (ds, dn), maxsize, which)| {
        n += 1;
        let q = format!("q{n}");
        let vt = Duration::new(vs, vn);
        let delay = Duration::new(ds, dn);
        let vt_ok = vn == 0 && vs <= MAX_SECONDS;
        let delay_ok = dn == 0 && ds <= MAX_SECONDS;
        let maxsize_ok = maxsize == -1 || (1024..=65536).contains(&maxsize);
        // One parameter at a time (the others left at their defaults), or all three.
        let (args, ok) = match which {
            0 => ((Some(vt), None, None), vt_ok),
            1 => ((None, Some(delay), None), delay_ok),
            2 => ((None, None, Some(maxsize)), maxsize_ok),
            _ => (
                (Some(vt), Some(delay), Some(maxsize)),
                vt_ok && delay_ok && maxsize_ok,
            ),
        };
        let client = if ok { &good } else { &bad };
        let result = fx.run(client.create_queue(&q, args.0, args.1, args.2));
        match which {
            0 => expect_seconds(vs, vn, "vt", &result),
            1 => expect_seconds(ds, dn, "delay", &result),
            2 => match &result {
                Ok(()) => assert!(maxsize_ok, "maxsize {maxsize} accepted"),
                Err(RsmqError::InvalidValue(name, lo, hi)) => {
                    assert!(!maxsize_ok, "maxsize {maxsize} rejected");
                    assert_eq!(
                        (name.as_str(), lo.as_str(), hi.as_str()),
                        ("maxsize", "1024", "65536")
                    );
                }
                Err(e) => panic!("maxsize {maxsize}: {e:?}"),
            },
            _ => match &result {
                Ok(()) => assert!(ok),
                Err(RsmqError::InvalidValue(..) | RsmqError::NotWholeSeconds(_)) => assert!(!ok),
                Err(e) => panic!("{e:?}"),
            },
        }
        if ok {
            let attrs = fx.run(good.get_queue_attributes(&q)).unwrap();
            assert_eq!(attrs.vt, args.0.unwrap_or(Duration::from_secs(30)));
            assert_eq!(attrs.delay, args.1.unwrap_or(Duration::ZERO));
            assert_eq!(attrs.maxsize, args.2.unwrap_or(65536));
            fx.run(good.delete_queue(&q)).unwrap();
        } else {
            assert_eq!(
                fx.snapshot(&bad_ns),
                vec![],
                "a rejected queue wrote something"
            );
        }
    });
}

// ---------------------------------------------------------------------------------------------
// Ids

/// Redis' clock in microseconds.
async fn redis_now_us() -> u64 {
    let mut con = common::raw().await;
    let (s, us): (u64, u64) = redis::cmd("TIME").query_async(&mut con).await.unwrap();
    s * 1_000_000 + us
}

/// Checks the form of an id and returns the microseconds of its time part.
fn id_micros(id: &str) -> u64 {
    assert_eq!(id.len(), 32, "{id:?}");
    let (time, random) = id.split_at(10);
    assert!(
        time.bytes()
            .all(|b| b.is_ascii_digit() || b.is_ascii_lowercase()),
        "{id:?}: time part is not lowercase base 36"
    );
    assert!(random.bytes().all(|b| b.is_ascii_alphanumeric()), "{id:?}");
    u64::from_str_radix(time, 36).unwrap()
}

#[test]
fn ids_carry_the_redis_time_and_sent_is_derived_from_them() {
    let fx = Fixture::new();
    let (rsmq, _) = fx.client("prop-ids");
    fx.run(rsmq.create_queue("q", None, None, Some(-1)))
        .unwrap();
    let slack = 2_000_000; // µs: clocks may step, but not by seconds within one test
    let bodies = prop::collection::vec(any::<String>(), 1..20);
    check(48, bodies, |bodies| {
        fx.run(async {
            rsmq.purge_queue("q").await.unwrap(); // what a failed (shrinking) case left
            let before = redis_now_us().await;
            let one = rsmq
                .send_message("q", bodies[0].as_str(), None)
                .await
                .unwrap();
            let batch = rsmq
                .send_message_batch("q", bodies.clone(), None)
                .await
                .unwrap();
            let after = redis_now_us().await;
            assert_eq!(batch.len(), bodies.len());
            let mut ids = vec![one];
            ids.extend(batch);
            let mut last = 0;
            for id in &ids {
                let us = id_micros(id);
                assert!(
                    before - slack <= us && us <= after + slack,
                    "{id}: {us} µs is not within [{before}, {after}]"
                );
                // Ids sort in send order (a batch's time parts increase by 1 µs each).
                assert!(us > last, "{ids:?}");
                last = us;
            }
            for id in &ids {
                let m = rsmq
                    .receive_message::<Vec<u8>>("q", None)
                    .await
                    .unwrap()
                    .expect("a message");
                assert_eq!(&m.id, id, "received out of order");
                assert_eq!(m.sent, id_micros(id) / 1000);
                assert!(rsmq.delete_message("q", &m.id).await.unwrap());
            }
        });
    });
}

// ---------------------------------------------------------------------------------------------
// Bodies

#[test]
fn arbitrary_bytes_round_trip_exactly() {
    let fx = Fixture::new();
    let (rsmq, _) = fx.client("prop-bytes");
    fx.run(rsmq.create_queue("q", None, None, Some(-1)))
        .unwrap();
    let bodies = prop_oneof![
        prop::collection::vec(any::<u8>(), 0..64),
        prop::collection::vec(any::<u8>(), 0..70_000),
    ];
    check(64, bodies, |body| {
        fx.run(async {
            rsmq.purge_queue("q").await.unwrap(); // what a failed (shrinking) case left
            let id = rsmq.send_message("q", body.clone(), None).await.unwrap();
            let m = rsmq
                .receive_message::<Vec<u8>>("q", None)
                .await
                .unwrap()
                .expect("a message");
            assert_eq!(m.id, id);
            assert!(
                m.message == body,
                "{} bytes came back as {}",
                body.len(),
                m.message.len()
            );
            assert!(rsmq.delete_message("q", &id).await.unwrap());
        });
    });
}

#[test]
fn arbitrary_strings_round_trip_exactly() {
    let fx = Fixture::new();
    let (rsmq, _) = fx.client("prop-strings");
    fx.run(rsmq.create_queue("q", None, None, Some(-1)))
        .unwrap();
    let bodies = prop_oneof![
        any::<String>(),
        prop::collection::vec(any::<char>(), 0..20_000).prop_map(String::from_iter),
    ];
    check(64, bodies, |body| {
        fx.run(async {
            rsmq.purge_queue("q").await.unwrap(); // what a failed (shrinking) case left
            let id = rsmq.send_message("q", body.as_str(), None).await.unwrap();
            let m = rsmq
                .receive_message::<String>("q", None)
                .await
                .unwrap()
                .expect("a message");
            assert_eq!(m.id, id);
            assert_eq!(m.message, body);
            assert!(rsmq.delete_message("q", &id).await.unwrap());
        });
    });
}

// ---------------------------------------------------------------------------------------------
// URLs

#[test]
fn from_url_never_panics() {
    let inputs = prop_oneof![
        any::<String>(),
        "(redis|rediss|http)://[ -~]{0,60}",
        "redis://[%a-zA-Z0-9:@/?=&.\\[\\]_-]{0,60}",
        "redis://[a-z0-9:@]{0,20}(/[0-9]{0,4})?\\?(ns|realtime|protocol|response_timeout|connection_timeout|x)=[%a-z0-9]{0,8}",
        any::<String>().prop_map(|s| format!("redis://{s}")),
    ];
    check(512, inputs, |url| {
        let _ = RsmqOptions::from_url(&url);
        let _ = url.parse::<RsmqOptions>();
    });
}

/// The parts of a connection URL.
#[derive(Debug, Clone)]
struct UrlParts {
    tls: bool,
    user: Option<String>,
    password: Option<String>,
    host: Host,
    port: Option<u16>,
    db: Option<u8>,
    ns: Option<String>,
    realtime: Option<bool>,
    response_ms: Option<u64>,
}

#[derive(Debug, Clone)]
enum Host {
    Name(String),
    V4(std::net::Ipv4Addr),
    V6(std::net::Ipv6Addr),
}

fn hosts() -> impl Strategy<Value = Host> {
    let label = "[a-z][a-z0-9-]{0,15}".prop_filter("no punycode", |l| !l.starts_with("xn--"));
    prop_oneof![
        prop::collection::vec(label, 1..4).prop_map(|l| Host::Name(l.join("."))),
        any::<[u8; 4]>().prop_map(|o| Host::V4(o.into())),
        any::<[u16; 8]>().prop_map(|s| Host::V6(s.into())),
    ]
}

fn url_parts() -> impl Strategy<Value = UrlParts> {
    let secret = prop_oneof![any::<String>(), "[ -~]{1,30}"];
    (
        any::<bool>(),
        prop::option::of(secret.clone()),
        prop::option::of(secret),
        hosts(),
        prop::option::of(any::<u16>()),
        prop::option::of(any::<u8>()),
        prop::option::of(any::<String>()),
        prop::option::of(any::<bool>()),
        prop::option::of(any::<u64>()),
    )
        .prop_map(
            |(tls, user, password, host, port, db, ns, realtime, response_ms)| UrlParts {
                tls,
                user,
                password,
                host,
                port,
                db,
                ns,
                realtime,
                response_ms,
            },
        )
}

impl UrlParts {
    fn url(&self) -> String {
        let enc = |s: &str| utf8_percent_encode(s, NON_ALPHANUMERIC).to_string();
        let mut url = String::from(if self.tls { "rediss://" } else { "redis://" });
        if self.user.is_some() || self.password.is_some() {
            url += &enc(self.user.as_deref().unwrap_or(""));
            if let Some(pw) = &self.password {
                url += ":";
                url += &enc(pw);
            }
            url += "@";
        }
        url += &match &self.host {
            Host::Name(n) => n.clone(),
            Host::V4(a) => a.to_string(),
            Host::V6(a) => format!("[{a}]"),
        };
        if let Some(port) = self.port {
            url += &format!(":{port}");
        }
        if let Some(db) = self.db {
            url += &format!("/{db}");
        }
        let mut query = Vec::new();
        if let Some(ns) = &self.ns {
            query.push(format!("ns={}", enc(ns)));
        }
        if let Some(rt) = self.realtime {
            query.push(format!("realtime={rt}"));
        }
        if let Some(ms) = self.response_ms {
            query.push(format!("response_timeout={ms}"));
        }
        if !query.is_empty() {
            url += "?";
            url += &query.join("&");
        }
        url
    }
}

#[test]
fn from_url_reads_back_what_a_url_holds() {
    check(256, url_parts(), |p| {
        let url = p.url();
        let opts = RsmqOptions::from_url(&url).unwrap_or_else(|e| panic!("{url}: {e}"));
        let none_if_empty = |s: &Option<String>| s.clone().filter(|s| !s.is_empty());
        assert_eq!(opts.username, none_if_empty(&p.user), "{url}");
        assert_eq!(opts.password, none_if_empty(&p.password), "{url}");
        match &p.host {
            Host::Name(n) => assert_eq!(&opts.host, n, "{url}"),
            Host::V4(a) => assert_eq!(opts.host.parse::<std::net::Ipv4Addr>().ok(), Some(*a)),
            Host::V6(a) => assert_eq!(
                opts.host.parse::<std::net::Ipv6Addr>().ok(),
                Some(*a),
                "{url}: {}",
                opts.host
            ),
        }
        assert_eq!(opts.port, p.port.unwrap_or(6379), "{url}");
        assert_eq!(opts.db, p.db.unwrap_or(0), "{url}");
        assert_eq!(opts.tls, p.tls);
        assert_eq!(
            opts.ns,
            p.ns.clone().unwrap_or_else(|| "rsmq".into()),
            "{url}"
        );
        assert_eq!(opts.realtime, p.realtime.unwrap_or(false));
        assert_eq!(
            opts.response_timeout,
            p.response_ms
                .map(Duration::from_millis)
                .unwrap_or(rsmq_async::DEFAULT_RESPONSE_TIMEOUT)
        );
        // The password never shows, neither as it is nor escaped (checked when it is long
        // enough not to occur in the rest of the output by chance).
        if let Some(pw) = opts
            .password
            .as_deref()
            .filter(|pw| pw.chars().count() >= 12)
        {
            let debug = format!("{opts:?}");
            assert!(!debug.contains(pw), "{debug}");
            let escaped = format!("{pw:?}");
            assert!(!debug.contains(&escaped[1..escaped.len() - 1]), "{debug}");
        }
    });
}

#[test]
fn debug_and_url_errors_never_show_the_password() {
    // Long enough not to occur in the rest of the output by chance.
    let password = prop_oneof!["[ -~]{12,40}", "\\PC{12,40}"];
    let mistake = prop::sample::select(vec!["/x", "/256", "?bogus=1", "?realtime=maybe", ":99999"]);
    check(256, (password, mistake), |(pw, mistake)| {
        let enc = utf8_percent_encode(&pw, NON_ALPHANUMERIC).to_string();
        let escaped = format!("{pw:?}");
        let escaped = &escaped[1..escaped.len() - 1];
        let shows = |text: &str| {
            text.contains(pw.as_str()) || text.contains(&enc) || text.contains(escaped)
        };

        let opts = RsmqOptions {
            password: Some(pw.clone()),
            ..Default::default()
        };
        let debug = format!("{opts:?}");
        assert!(!shows(&debug), "{debug}");

        let url = format!("redis://user:{enc}@localhost{mistake}");
        let err = RsmqOptions::from_url(&url).expect_err(&url);
        for text in [err.to_string(), format!("{err:?}")] {
            assert!(!shows(&text), "{text}");
        }
        let ok = RsmqOptions::from_url(&format!("redis://user:{enc}@localhost/1")).unwrap();
        assert_eq!(ok.password.as_deref(), Some(pw.as_str()));
        assert!(!shows(&format!("{ok:?}")));
    });
}
