//! Interop matrix: `rsmq_async` against the published JavaScript client (`rsmq` 0.12.4) and
//! the Python port (`PyRSMQ` 0.6.1), all three on the same Redis.
//!
//! Every scenario is written once, generic over the peer [`Kind`], and instantiated for both
//! peers by `matrix!`: the tests are named `js::<scenario>` and `python::<scenario>`. Realtime
//! (pub/sub) exists only in the JavaScript client, so its scenario runs for `js` only; float
//! seconds exist only in PyRSMQ, so that scenario runs for `python` only.
//! One more test, `js_and_python_producers_feed_a_rust_worker`, runs both peers at once as
//! producers for a Rust `Worker`.
//!
//! The peers run as child processes through the JSON-lines drivers in `tests/interop/` (see
//! its README for the protocol and the peer quirks the assertions below rely on). Install
//! them with `tests/interop/setup.sh`. Without them each test prints `SKIPPED <test>: ...` to
//! stderr and passes, except with `CI=true`, where they fail.
//!
//! Each test has its own namespace, so the tests run in parallel on the harness' Redis.
//! Per-call durations on the Rust side are in milliseconds; the JavaScript client only has
//! whole seconds. Every Rust client here writes millisecond scores, as the peers do, also in
//! a build with `break-js-comp` (whose default unit is microseconds).

mod common;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rsmq_async::{
    Rsmq, RsmqConnection, RsmqError, RsmqMessage, RsmqOptions, RsmqQueueAttributes, ScoreUnit,
};
use serde_json::{json, Value};

const MS: Duration = Duration::from_millis(1);

/// The options of a Rust client of these tests: the harness' server and a namespace of its
/// own, and millisecond scores, as the peers write them.
fn options(test: &str) -> RsmqOptions {
    RsmqOptions {
        score_unit: ScoreUnit::Millis,
        ..common::options(test)
    }
}

/// A client with [`options`], and its namespace.
async fn rsmq(test: &str) -> (Rsmq, String) {
    let opts = options(test);
    let ns = opts.ns.clone();
    (
        Rsmq::new(opts).await.expect("connect to the test redis"),
        ns,
    )
}

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

// ------------------------------------------------------------------------------------------
// Peers

/// Which published client a [`Peer`] runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Js,
    Python,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Js => "js",
            Kind::Python => "python",
        }
    }

    /// The program and the driver script.
    fn command(self) -> (PathBuf, PathBuf) {
        let interop = interop_dir();
        match self {
            Kind::Js => ("node".into(), interop.join("js/driver.js")),
            Kind::Python => (
                interop.join("python/.venv/bin/python"),
                interop.join("python/driver.py"),
            ),
        }
    }

    /// Why the peer cannot run, if it cannot.
    fn missing(self) -> Option<String> {
        let interop = interop_dir();
        let marker = match self {
            Kind::Js => interop.join("js/node_modules/rsmq/package.json"),
            Kind::Python => interop.join("python/.venv/bin/python"),
        };
        (!marker.is_file()).then(|| format!("{} is missing", marker.display()))
    }

    /// The maxsize of a queue the peer creates with its defaults.
    fn default_maxsize(self) -> i64 {
        match self {
            Kind::Js => 65536,
            Kind::Python => 65565, // PyRSMQ's own default (sic)
        }
    }

    /// The error name the peer reports for a missing queue.
    fn queue_not_found(self) -> &'static str {
        match self {
            Kind::Js => "queueNotFound",
            Kind::Python => "QueueDoesNotExist",
        }
    }
}

fn interop_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/interop")
}

fn on_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v.eq_ignore_ascii_case("true") || v == "1")
}

/// Whether the peer can run. A missing peer fails the test on CI; elsewhere the test says
/// that it is skipped (on stderr, past the test harness' capture) and passes.
fn available(kind: Kind) -> bool {
    let Some(why) = kind.missing() else {
        return true;
    };
    let msg = format!(
        "the {} interop peer is not installed ({why}): run tests/interop/setup.sh",
        kind.name()
    );
    if on_ci() {
        panic!("{msg}");
    }
    // libtest names each test's thread after the test.
    let current = std::thread::current();
    let test = current.name().unwrap_or("an interop test");
    let _ = writeln!(std::io::stderr(), "SKIPPED {test}: {msg}");
    false
}

/// A failure answered by a peer: `error` is the peer's error name.
#[derive(Debug)]
struct PeerError {
    error: String,
    message: String,
}

/// A message as a peer received it.
#[derive(Debug, Clone)]
struct PeerMsg {
    id: String,
    message: String,
    rc: u64,
    /// First receive time, epoch ms. Always an integer (checked).
    fr: u64,
    /// JS only: the send time in epoch ms, with a fraction. PyRSMQ reports none.
    sent: Option<f64>,
}

/// One driver process speaking the JSON-lines protocol of `tests/interop/README.md`.
/// Killed when dropped.
struct Peer {
    kind: Kind,
    child: Child,
    stdin: Option<ChildStdin>,
    lines: Receiver<String>,
    stderr: Arc<Mutex<String>>,
    next_id: u64,
}

const READY_TIMEOUT: Duration = Duration::from_secs(20);
const CALL_TIMEOUT: Duration = Duration::from_secs(35);

impl Drop for Peer {
    fn drop(&mut self) {
        drop(self.stdin.take());
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// At most `n` characters of `s`, for messages that might quote 64 KiB bodies.
fn short(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        let head: String = s.chars().take(n).collect();
        format!("{head}… ({} bytes)", s.len())
    }
}

impl Peer {
    /// Starts a driver on the harness' Redis in namespace `ns` and waits for it to be ready.
    /// Call [`available`] first.
    fn start(kind: Kind, ns: &str, realtime: bool) -> Peer {
        let server = common::server();
        let (program, script) = kind.command();
        let mut cmd = Command::new(&program);
        cmd.arg(&script)
            .args(["--host", &server.host])
            .args(["--port", &server.port.to_string()])
            .args(["--ns", ns]);
        if realtime {
            cmd.arg("--realtime");
        }
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "cannot run the {} peer ({} {}): {e}; run tests/interop/setup.sh",
                    kind.name(),
                    program.display(),
                    script.display()
                )
            });
        let stdin = child.stdin.take().expect("piped stdin");
        let stdout = child.stdout.take().expect("piped stdout");
        let mut err_pipe = child.stderr.take().expect("piped stderr");
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let stderr = Arc::new(Mutex::new(String::new()));
        let sink = Arc::clone(&stderr);
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = err_pipe.read(&mut buf) {
                if n == 0 {
                    break;
                }
                sink.lock()
                    .unwrap()
                    .push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        });
        let mut peer = Peer {
            kind,
            child,
            stdin: Some(stdin),
            lines,
            stderr,
            next_id: 0,
        };
        let first = peer.read_line(READY_TIMEOUT, "the ready line");
        let ready: Value = serde_json::from_str(&first)
            .unwrap_or_else(|e| peer.fail(&format!("the first line is not JSON ({e}): {first:?}")));
        if ready != json!({"ready": true}) {
            peer.fail(&format!("expected {{\"ready\":true}}, got {first}"));
        }
        peer
    }

    fn fail(&self, what: &str) -> ! {
        // Give the stderr reader a moment to collect the driver's last words.
        std::thread::sleep(Duration::from_millis(50));
        let err = self.stderr.lock().unwrap().clone();
        let tail: String = {
            let chars: Vec<char> = err.chars().collect();
            chars[chars.len().saturating_sub(4000)..].iter().collect()
        };
        panic!(
            "{} peer: {what}\n--- {} driver stderr ---\n{tail}",
            self.kind.name(),
            self.kind.name()
        );
    }

    fn read_line(&mut self, timeout: Duration, what: &str) -> String {
        match self.lines.recv_timeout(timeout) {
            Ok(line) => line,
            Err(RecvTimeoutError::Timeout) => self.fail(&format!(
                "no answer within {timeout:?} while waiting for {what}"
            )),
            Err(RecvTimeoutError::Disconnected) => {
                let status = self.child.wait().ok();
                self.fail(&format!(
                    "the driver exited ({status:?}) while waiting for {what}"
                ))
            }
        }
    }

    /// Sends one request and returns the peer's result or error.
    fn call(&mut self, op: &str, params: Value) -> Result<Value, PeerError> {
        self.next_id += 1;
        let id = self.next_id;
        let mut req = match params {
            Value::Object(m) => m,
            Value::Null => Default::default(),
            other => panic!("params must be an object, got {other}"),
        };
        req.insert("id".into(), json!(id));
        req.insert("op".into(), json!(op));
        let line = Value::Object(req).to_string();
        let what = format!("{op} {}", short(&line, 200));
        let stdin = self.stdin.as_mut().expect("stdin open");
        if let Err(e) = stdin
            .write_all(line.as_bytes())
            .and_then(|_| stdin.write_all(b"\n"))
            .and_then(|_| stdin.flush())
        {
            self.fail(&format!("cannot write {what}: {e}"));
        }
        let answer = self.read_line(CALL_TIMEOUT, &what);
        let resp: Value = serde_json::from_str(&answer).unwrap_or_else(|e| {
            self.fail(&format!(
                "answer to {what} is not JSON ({e}): {}",
                short(&answer, 300)
            ))
        });
        if resp["id"] != json!(id) {
            self.fail(&format!(
                "answer to {what} has the wrong id: {}",
                short(&answer, 300)
            ));
        }
        if resp["ok"] == json!(true) {
            Ok(resp["result"].clone())
        } else {
            Err(PeerError {
                error: resp["error"].as_str().unwrap_or_default().to_string(),
                message: resp["message"].as_str().unwrap_or_default().to_string(),
            })
        }
    }

    /// A request that must succeed.
    fn ok(&mut self, op: &str, params: Value) -> Value {
        let shown = short(&params.to_string(), 200);
        match self.call(op, params) {
            Ok(v) => v,
            Err(e) => self.fail(&format!("{op} {shown} failed: {}: {}", e.error, e.message)),
        }
    }

    /// A request that must fail.
    fn err(&mut self, op: &str, params: Value) -> PeerError {
        let shown = short(&params.to_string(), 200);
        match self.call(op, params) {
            Ok(v) => self.fail(&format!(
                "{op} {shown} should have failed, got {}",
                short(&v.to_string(), 200)
            )),
            Err(e) => e,
        }
    }

    fn create_queue(&mut self, q: &str, vt: Option<u64>, delay: Option<u64>, maxsize: Option<i64>) {
        let r = self.ok(
            "createQueue",
            json!({"qname": q, "vt": vt, "delay": delay, "maxsize": maxsize}),
        );
        assert_eq!(r, json!(true), "{} createQueue", self.kind.name());
    }

    fn delete_queue(&mut self, q: &str) {
        let r = self.ok("deleteQueue", json!({"qname": q}));
        assert_eq!(r, json!(true), "{} deleteQueue", self.kind.name());
    }

    fn list_queues(&mut self) -> Vec<String> {
        serde_json::from_value(self.ok("listQueues", Value::Null)).expect("listQueues: names")
    }

    fn attrs(&mut self, q: &str) -> Attrs {
        let v = self.ok("getQueueAttributes", json!({"qname": q}));
        Attrs::from_peer(&v)
    }

    fn set_attrs(
        &mut self,
        q: &str,
        vt: Option<u64>,
        delay: Option<u64>,
        maxsize: Option<i64>,
    ) -> Attrs {
        let v = self.ok(
            "setQueueAttributes",
            json!({"qname": q, "vt": vt, "delay": delay, "maxsize": maxsize}),
        );
        Attrs::from_peer(&v)
    }

    fn send(&mut self, q: &str, body: &str) -> String {
        self.send_delayed(q, body, None)
    }

    fn send_delayed(&mut self, q: &str, body: &str, delay: Option<u64>) -> String {
        let v = self.ok(
            "sendMessage",
            json!({"qname": q, "message": body, "delay": delay}),
        );
        v.as_str()
            .unwrap_or_else(|| panic!("sendMessage answered {v}, not an id"))
            .to_string()
    }

    fn receive(&mut self, q: &str, vt: Option<u64>) -> Option<PeerMsg> {
        let v = self.ok("receiveMessage", json!({"qname": q, "vt": vt}));
        self.message(v)
    }

    fn pop(&mut self, q: &str) -> Option<PeerMsg> {
        let v = self.ok("popMessage", json!({"qname": q}));
        self.message(v)
    }

    fn delete_message(&mut self, q: &str, id: &str) -> bool {
        let v = self.ok("deleteMessage", json!({"qname": q, "msgid": id}));
        v.as_bool().expect("deleteMessage: boolean")
    }

    fn change_visibility(&mut self, q: &str, id: &str, vt: u64) -> bool {
        let v = self.ok(
            "changeMessageVisibility",
            json!({"qname": q, "msgid": id, "vt": vt}),
        );
        v.as_bool().expect("changeMessageVisibility: boolean")
    }

    fn validate_id(&mut self, id: &str) -> bool {
        let v = self.ok("validateId", json!({"msgid": id}));
        v.as_bool().expect("validateId: boolean")
    }

    fn message(&self, v: Value) -> Option<PeerMsg> {
        if v.is_null() {
            return None;
        }
        let shown = short(&v.to_string(), 200);
        let text = |k: &str| {
            v[k].as_str()
                .unwrap_or_else(|| panic!("received message: `{k}` is not a string: {shown}"))
                .to_string()
        };
        let int = |k: &str| {
            v[k].as_u64().unwrap_or_else(|| {
                panic!("received message: `{k}` is not a non-negative integer: {shown}")
            })
        };
        let sent = match &v["sent"] {
            Value::Null => None,
            s => Some(
                s.as_f64()
                    .unwrap_or_else(|| panic!("received message: bad `sent`: {shown}")),
            ),
        };
        Some(PeerMsg {
            id: text("id"),
            message: text("message"),
            rc: int("rc"),
            fr: int("fr"),
            sent,
        })
    }
}

// ------------------------------------------------------------------------------------------
// Attributes, as both sides report them

/// Queue attributes in one comparable form. vt/delay in seconds (PyRSMQ reports floats).
#[derive(Debug, Clone, PartialEq)]
struct Attrs {
    vt: f64,
    delay: f64,
    maxsize: i64,
    totalrecv: u64,
    totalsent: u64,
    created: u64,
    modified: u64,
    msgs: u64,
    hiddenmsgs: u64,
}

impl Attrs {
    fn from_rust(a: &RsmqQueueAttributes) -> Attrs {
        Attrs {
            vt: a.vt.as_secs_f64(),
            delay: a.delay.as_secs_f64(),
            maxsize: a.maxsize,
            totalrecv: a.totalrecv,
            totalsent: a.totalsent,
            created: a.created,
            modified: a.modified,
            msgs: a.msgs,
            hiddenmsgs: a.hiddenmsgs,
        }
    }

    fn from_peer(v: &Value) -> Attrs {
        let num = |k: &str| {
            v[k].as_f64()
                .unwrap_or_else(|| panic!("attributes: `{k}` is not a number: {v}"))
        };
        let int = |k: &str| {
            v[k].as_u64()
                .unwrap_or_else(|| panic!("attributes: `{k}` is not a non-negative integer: {v}"))
        };
        Attrs {
            vt: num("vt"),
            delay: num("delay"),
            maxsize: v["maxsize"]
                .as_i64()
                .unwrap_or_else(|| panic!("attributes: `maxsize` is not an integer: {v}")),
            totalrecv: int("totalrecv"),
            totalsent: int("totalsent"),
            created: int("created"),
            modified: int("modified"),
            msgs: int("msgs"),
            hiddenmsgs: int("hiddenmsgs"),
        }
    }

    /// The same without `hiddenmsgs`, whose definition differs between the peers (JS and
    /// Rust count from the start of the current second, PyRSMQ from now).
    fn settled(&self) -> Attrs {
        Attrs {
            hiddenmsgs: 0,
            ..self.clone()
        }
    }
}

async fn rust_attrs(rsmq: &Rsmq, q: &str) -> Attrs {
    Attrs::from_rust(&rsmq.get_queue_attributes(q).await.unwrap())
}

// ------------------------------------------------------------------------------------------
// Rust side and raw Redis

async fn recv(rsmq: &Rsmq, q: &str, vt: Option<Duration>) -> Option<RsmqMessage<String>> {
    rsmq.receive_message::<String>(q, vt).await.unwrap()
}

async fn pop(rsmq: &Rsmq, q: &str) -> Option<RsmqMessage<String>> {
    rsmq.pop_message::<String>(q).await.unwrap()
}

/// The send time the id encodes (base-36 microseconds in the first 10 characters), in ms.
fn sent_ms(id: &str) -> u64 {
    assert_eq!(id.len(), 32, "id {id:?} is not 32 characters");
    u64::from_str_radix(&id[..10], 36).expect("base-36 time prefix") / 1000
}

/// The JS client's id check, `^[a-zA-Z0-9:]{32}$`.
fn js_valid_id(id: &str) -> bool {
    id.len() == 32 && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b':')
}

/// The raw sorted-set score of a message; it must be an integer (epoch ms).
async fn score(ns: &str, q: &str, id: &str) -> u64 {
    let mut con = common::raw().await;
    let s: Option<String> = redis::cmd("ZSCORE")
        .arg(format!("{ns}:{q}"))
        .arg(id)
        .query_async(&mut con)
        .await
        .unwrap();
    let s = s.unwrap_or_else(|| panic!("{id} is not in {ns}:{q}"));
    s.parse()
        .unwrap_or_else(|_| panic!("score of {id} is {s:?}, not an integer (ms)"))
}

/// The `:Q` hash, bodies included (all test bodies are UTF-8).
async fn hash(ns: &str, q: &str) -> BTreeMap<String, String> {
    let mut con = common::raw().await;
    let v: Vec<(String, Vec<u8>)> = redis::cmd("HGETALL")
        .arg(format!("{ns}:{q}:Q"))
        .query_async(&mut con)
        .await
        .unwrap();
    v.into_iter()
        .map(|(k, b)| (k, String::from_utf8(b).expect("UTF-8 field")))
        .collect()
}

async fn keys(ns: &str) -> Vec<String> {
    common::snapshot(ns)
        .await
        .into_iter()
        .map(|(k, _)| k)
        .collect()
}

/// The form of a stored value: `uint/13` for a 13-digit integer, `int`, `float`, `text`.
fn shape(s: &str) -> String {
    if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
        format!("uint/{}", s.len())
    } else if s.parse::<i64>().is_ok() {
        "int".into()
    } else if s.parse::<f64>().is_ok() {
        format!("float {s}")
    } else {
        "text".into()
    }
}

/// The form of an id: its length, whether the first 10 characters are lowercase base 36 and
/// whether the other 22 are alphanumeric.
fn id_form(id: &str) -> (usize, bool, bool) {
    let (time, rand) = id.split_at(10.min(id.len()));
    (
        id.len(),
        time.bytes()
            .all(|b| b.is_ascii_digit() || b.is_ascii_lowercase()),
        rand.bytes().all(|b| b.is_ascii_alphanumeric()),
    )
}

/// Sleeps into the next second of the Redis clock (at most ~1.03 s), so that messages made
/// visible before are no longer counted as hidden by any client.
async fn wait_for_next_second() {
    let now = common::redis_now_ms().await;
    tokio::time::sleep(Duration::from_millis(1000 - now % 1000 + 30)).await;
}

/// A Rust client and a peer sharing a fresh namespace.
struct Pair {
    rsmq: Rsmq,
    peer: Peer,
    ns: String,
}

async fn pair(kind: Kind, test: &str) -> Option<Pair> {
    if !available(kind) {
        return None;
    }
    let (rsmq, ns) = rsmq(&format!("{}-{test}", kind.name())).await;
    let peer = Peer::start(kind, &ns, false);
    Some(Pair { rsmq, peer, ns })
}

/// Bodies both sides must carry byte for byte. All fit a default queue in bytes (Rust's
/// unit) and in UTF-16 units (JS's unit).
fn bodies() -> Vec<(&'static str, String)> {
    vec![
        ("ASCII", "hello from the other side".into()),
        (
            "multi-byte UTF-8",
            "héllo wörld — 日本語 かな 🎉 🇩🇪 Ωμέγα".into(),
        ),
        (
            "control characters",
            "tab\tline\nbreak\r\nnul\u{0}end".into(),
        ),
        (
            "JSON text (not decoded)",
            r#"{"a":[1,"two",null],"b":{}}"#.into(),
        ),
        ("empty", String::new()),
        ("64 KiB ASCII", "x".repeat(65536)),
        ("64 KiB two-byte UTF-8", "ü".repeat(32768)),
        ("64 KiB emoji", "😀".repeat(16384)),
    ]
}

// ------------------------------------------------------------------------------------------
// Scenarios, generic over the peer

/// A queue Rust creates is read by the peer with the same attributes (a default queue has
/// vt 30 seconds, not 30 000), and the peer's defaults (vt, delay) apply as Rust set them.
async fn peer_reads_the_attributes_of_a_rust_queue(kind: Kind) {
    let Some(Pair { rsmq, mut peer, ns }) = pair(kind, "rustattrs").await else {
        return;
    };
    rsmq.create_queue("dflt", None, None, None).await.unwrap();
    rsmq.create_queue("custom", Some(secs(5)), Some(secs(1)), Some(2048))
        .await
        .unwrap();

    let seen = peer.attrs("dflt");
    assert_eq!(
        (seen.vt, seen.delay, seen.maxsize),
        (30.0, 0.0, 65536),
        "{kind:?} reads a default Rust queue"
    );
    assert_eq!(seen, rust_attrs(&rsmq, "dflt").await);
    let seen = peer.attrs("custom");
    assert_eq!((seen.vt, seen.delay, seen.maxsize), (5.0, 1.0, 2048));
    assert_eq!(seen, rust_attrs(&rsmq, "custom").await);

    // The peer's receive uses the queue's default vt: hidden for exactly 30 s.
    let id = rsmq.send_message("dflt", "m", None).await.unwrap();
    let m = peer.receive("dflt", None).expect("the peer receives it");
    assert_eq!(
        (m.id.as_str(), m.message.as_str(), m.rc),
        (id.as_str(), "m", 1)
    );
    assert!(
        recv(&rsmq, "dflt", None).await.is_none(),
        "hidden for Rust after the peer's receive"
    );
    assert_eq!(
        score(&ns, "dflt", &id).await,
        m.fr + 30_000,
        "the peer hid the message for the queue's vt of 30 s"
    );

    // The peer's send uses the queue's default delay: 1 s.
    let id = peer.send("custom", "later");
    assert_eq!(score(&ns, "custom", &id).await, sent_ms(&id) + 1000);
    assert!(recv(&rsmq, "custom", None).await.is_none(), "delayed 1 s");
}

/// A queue the peer creates is read by Rust with the same attributes (vt 30 s), and Rust's
/// defaults (vt, delay) apply as the peer set them.
async fn rust_reads_the_attributes_of_a_peer_queue(kind: Kind) {
    let Some(Pair { rsmq, mut peer, ns }) = pair(kind, "peerattrs").await else {
        return;
    };
    peer.create_queue("dflt", None, None, None);
    peer.create_queue("custom", Some(5), Some(1), Some(2048));

    let now_s = common::redis_now_ms().await / 1000;
    let a = rsmq.get_queue_attributes("dflt").await.unwrap();
    assert_eq!(
        a.vt,
        Duration::from_secs(30),
        "Rust reads a default {kind:?} queue"
    );
    assert_eq!(a.delay, Duration::ZERO);
    assert_eq!(a.maxsize, kind.default_maxsize());
    assert_eq!(
        (a.totalsent, a.totalrecv, a.msgs, a.hiddenmsgs),
        (0, 0, 0, 0)
    );
    assert!(
        a.created.abs_diff(now_s) <= 2,
        "created {} is epoch seconds",
        a.created
    );
    assert_eq!(Attrs::from_rust(&a), peer.attrs("dflt"));
    let a = rsmq.get_queue_attributes("custom").await.unwrap();
    assert_eq!((a.vt, a.delay, a.maxsize), (secs(5), secs(1), 2048));
    assert_eq!(Attrs::from_rust(&a), peer.attrs("custom"));

    // Rust's receive uses the queue's default vt: hidden for exactly 30 s.
    let id = peer.send("dflt", "m");
    let m = recv(&rsmq, "dflt", None).await.expect("Rust receives it");
    assert_eq!(
        (m.id.as_str(), m.message.as_str(), m.rc),
        (id.as_str(), "m", 1)
    );
    assert!(peer.receive("dflt", None).is_none(), "hidden for the peer");
    assert_eq!(score(&ns, "dflt", &id).await, m.fr + 30_000);

    // Rust's send uses the queue's default delay: 1 s.
    let id = rsmq.send_message("custom", "later", None).await.unwrap();
    assert_eq!(score(&ns, "custom", &id).await, sent_ms(&id) + 1000);
    assert!(peer.receive("custom", None).is_none(), "delayed 1 s");
}

/// Every body Rust sends reaches the peer unchanged, in order, with a 32-character id the
/// peer accepts and a send time (JS) in epoch milliseconds.
async fn peer_receives_what_rust_sends(kind: Kind) {
    let Some(Pair { rsmq, mut peer, .. }) = pair(kind, "rust2peer").await else {
        return;
    };
    rsmq.create_queue("q", None, None, None).await.unwrap();
    let mut sent = Vec::new();
    for (what, body) in bodies() {
        let before = common::redis_now_ms().await;
        let id = rsmq.send_message("q", body.as_str(), None).await.unwrap();
        let after = common::redis_now_ms().await;
        sent.push((what, body, id, before, after));
    }
    for (what, body, id, before, after) in sent {
        assert!(js_valid_id(&id), "{what}: id {id:?}");
        assert!(peer.validate_id(&id), "{kind:?} rejects the Rust id {id:?}");
        let m = peer
            .receive("q", None)
            .unwrap_or_else(|| panic!("{kind:?} received nothing for the {what} body"));
        assert_eq!(m.id, id, "{what}: received in send order");
        assert!(
            m.message == body,
            "{what}: {kind:?} received {:?} for {:?}",
            short(&m.message, 60),
            short(&body, 60)
        );
        assert_eq!(m.rc, 1);
        match m.sent {
            Some(s) => {
                let s = s.floor() as u64;
                assert!(
                    before <= s && s <= after,
                    "{what}: sent {s} not in [{before}, {after}]"
                );
            }
            None => assert_eq!(kind, Kind::Python, "only PyRSMQ reports no `sent`"),
        }
        assert!(m.fr >= sent_ms(&id), "fr {} before sent", m.fr);
    }
    assert!(peer.receive("q", None).is_none());
}

/// Every body the peer sends reaches Rust unchanged, in order, with an id Rust accepts and
/// the send time in epoch milliseconds. PyRSMQ refuses to send an empty body.
async fn rust_receives_what_peer_sends(kind: Kind) {
    let Some(Pair { rsmq, mut peer, .. }) = pair(kind, "peer2rust").await else {
        return;
    };
    peer.create_queue("q", None, None, None);
    let mut sent = Vec::new();
    for (what, body) in bodies() {
        if body.is_empty() && kind == Kind::Python {
            let e = peer.err("sendMessage", json!({"qname": "q", "message": ""}));
            assert_eq!(e.error, "InvalidParameterValue", "{}", e.message);
            continue;
        }
        let before = common::redis_now_ms().await;
        let id = peer.send("q", &body);
        let after = common::redis_now_ms().await;
        sent.push((what, body, id, before, after));
    }
    for (what, body, id, before, after) in sent {
        assert!(js_valid_id(&id), "{what}: {kind:?} id {id:?}");
        let m = recv(&rsmq, "q", None)
            .await
            .unwrap_or_else(|| panic!("Rust received nothing for the {what} body"));
        assert_eq!(m.id, id, "{what}: received in send order");
        assert!(
            m.message == body,
            "{what}: Rust received {:?} for {:?}",
            short(&m.message, 60),
            short(&body, 60)
        );
        assert_eq!(m.rc, 1);
        assert!(
            before <= m.sent && m.sent <= after,
            "{what}: sent {} not in [{before}, {after}]",
            m.sent
        );
        assert_eq!(m.sent, sent_ms(&id));
        assert!(before <= m.fr, "fr {} is epoch ms", m.fr);
        assert!(
            rsmq.delete_message("q", &id).await.unwrap(),
            "Rust accepts and deletes the {kind:?} id {id:?}"
        );
    }
    assert!(recv(&rsmq, "q", None).await.is_none());
    assert_eq!(peer.attrs("q").msgs, 0);
}

/// An ASCII body of exactly maxsize passes both sides, one byte more is refused by Rust and
/// JS. Documented differences: JS counts UTF-16 units (Rust bytes), PyRSMQ checks nothing.
async fn maxsize_limits_both_sides_alike(kind: Kind) {
    let Some(Pair { rsmq, mut peer, .. }) = pair(kind, "maxsize").await else {
        return;
    };
    rsmq.create_queue("small", None, None, Some(1024))
        .await
        .unwrap();
    let fits = "a".repeat(1024);
    let over = "a".repeat(1025);
    let wide = "ü".repeat(1024); // 2048 bytes, 1024 UTF-16 units

    let rust_id = rsmq
        .send_message("small", fits.as_str(), None)
        .await
        .unwrap();
    let err = rsmq
        .send_message("small", over.as_str(), None)
        .await
        .unwrap_err();
    assert!(matches!(err, RsmqError::MessageTooLong), "{err:?}");
    let err = rsmq
        .send_message("small", wide.as_str(), None)
        .await
        .unwrap_err();
    assert!(
        matches!(err, RsmqError::MessageTooLong),
        "Rust counts bytes: {err:?}"
    );

    let peer_id = peer.send("small", &fits);
    let extra = match kind {
        Kind::Js => {
            let e = peer.err("sendMessage", json!({"qname": "small", "message": over}));
            assert_eq!(
                (e.error.as_str(), e.message.as_str()),
                ("messageTooLong", "Message too long")
            );
            // JS counts UTF-16 units: 1024 two-byte characters fit.
            (peer.send("small", &wide), wide)
        }
        // PyRSMQ has no size check.
        Kind::Python => (peer.send("small", &over), over),
    };

    let m = peer
        .receive("small", None)
        .expect("the peer receives Rust's body");
    assert_eq!((m.id, m.message), (rust_id, fits.clone()));
    let m = recv(&rsmq, "small", None)
        .await
        .expect("Rust receives the peer's body");
    assert_eq!((m.id, m.message), (peer_id, fits));
    let m = recv(&rsmq, "small", None)
        .await
        .expect("Rust receives the larger body");
    assert!(
        m.id == extra.0 && m.message == extra.1,
        "larger body intact"
    );
    let (a, p) = (rust_attrs(&rsmq, "small").await, peer.attrs("small"));
    assert_eq!(
        (a.totalsent, a.totalrecv, a.msgs),
        (3, 3, 3),
        "refused sends count nothing"
    );
    assert_eq!(a.settled(), p.settled());
}

/// Rust receives (rc 1, fr X) and makes the message visible again; the peer then sees rc 2
/// and the same fr and send time, and the other way round.
async fn receive_count_and_times_carry_over_from_rust_to_peer(kind: Kind) {
    let Some(Pair { rsmq, mut peer, ns }) = pair(kind, "rc-rust2peer").await else {
        return;
    };
    rsmq.create_queue("q", None, None, None).await.unwrap();
    let id = rsmq.send_message("q", "m", None).await.unwrap();
    let first = recv(&rsmq, "q", Some(secs(60))).await.unwrap();
    assert_eq!((first.rc, first.sent), (1, sent_ms(&id)));
    assert!(
        peer.receive("q", None).is_none(),
        "hidden by Rust's receive"
    );
    assert!(rsmq
        .change_message_visibility("q", &id, Duration::ZERO)
        .await
        .unwrap());

    let second = peer.receive("q", Some(60)).expect("visible again");
    assert_eq!(
        (second.id.as_str(), second.rc, second.fr),
        (id.as_str(), 2, first.fr)
    );
    if let Some(s) = second.sent {
        assert_eq!(
            s.floor() as u64,
            first.sent,
            "JS and Rust derive the same send time"
        );
    }
    let h = hash(&ns, "q").await;
    assert_eq!(h[&format!("{id}:rc")], "2");
    assert_eq!(h[&format!("{id}:fr")], first.fr.to_string());
    assert!(peer.change_visibility("q", &id, 0));

    let third = recv(&rsmq, "q", None).await.expect("visible again");
    assert_eq!((third.rc, third.fr, third.sent), (3, first.fr, first.sent));
    assert!(rsmq
        .change_message_visibility("q", &id, Duration::ZERO)
        .await
        .unwrap());
    let fourth = peer.pop("q").expect("popped");
    assert_eq!((fourth.rc, fourth.fr), (4, first.fr));
    let (a, p) = (rust_attrs(&rsmq, "q").await, peer.attrs("q"));
    assert_eq!((a.totalsent, a.totalrecv, a.msgs), (1, 4, 0));
    assert_eq!(a, p);
}

/// The peer receives (rc 1, fr X) and makes the message visible again; Rust then sees rc 2
/// and the same fr and send time, and the other way round.
async fn receive_count_and_times_carry_over_from_peer_to_rust(kind: Kind) {
    let Some(Pair { rsmq, mut peer, .. }) = pair(kind, "rc-peer2rust").await else {
        return;
    };
    peer.create_queue("q", None, None, None);
    let id = peer.send("q", "m");
    let first = peer.receive("q", Some(60)).expect("received");
    assert_eq!(first.rc, 1);
    assert!(
        recv(&rsmq, "q", None).await.is_none(),
        "hidden by the peer's receive"
    );
    assert!(peer.change_visibility("q", &id, 0));

    let second = recv(&rsmq, "q", Some(secs(60)))
        .await
        .expect("visible again");
    assert_eq!(
        (second.id.as_str(), second.rc, second.fr),
        (id.as_str(), 2, first.fr)
    );
    assert_eq!(second.sent, sent_ms(&id));
    if let Some(s) = first.sent {
        assert_eq!(
            s.floor() as u64,
            second.sent,
            "JS and Rust derive the same send time"
        );
    }
    assert!(rsmq
        .change_message_visibility("q", &id, Duration::ZERO)
        .await
        .unwrap());

    let third = peer.receive("q", None).expect("visible again");
    assert_eq!((third.rc, third.fr), (3, first.fr));
    assert!(peer.change_visibility("q", &id, 0));
    let fourth = pop(&rsmq, "q").await.expect("popped");
    assert_eq!(
        (fourth.rc, fourth.fr, fourth.sent),
        (4, first.fr, second.sent)
    );
    let (a, p) = (rust_attrs(&rsmq, "q").await, peer.attrs("q"));
    assert_eq!((a.totalsent, a.totalrecv, a.msgs), (1, 4, 0));
    assert_eq!(a, p);
}

/// Ten messages sent alternately by Rust and the peer are received in send order by Rust,
/// by the peer, and by both alternately.
async fn fifo_order_holds_when_both_sides_send_alternately(kind: Kind) {
    let Some(Pair { rsmq, mut peer, .. }) = pair(kind, "fifo").await else {
        return;
    };
    for q in ["byrust", "bypeer", "byboth"] {
        rsmq.create_queue(q, None, None, None).await.unwrap();
        let mut ids = Vec::new();
        for i in 0..10 {
            let body = format!("{q}-{i}");
            ids.push(if i % 2 == 0 {
                rsmq.send_message(q, body, None).await.unwrap()
            } else {
                peer.send(q, &body)
            });
        }
        let mut sorted = ids.clone();
        sorted.sort();
        assert_eq!(ids, sorted, "ids of both sides sort in send order");
        for (i, id) in ids.iter().enumerate() {
            let by_rust = match q {
                "byrust" => true,
                "bypeer" => false,
                _ => i % 2 == 1,
            };
            let (got_id, got_body) = if by_rust {
                let m = recv(&rsmq, q, None).await.expect("a message");
                (m.id, m.message)
            } else {
                let m = peer.receive(q, None).expect("a message");
                (m.id, m.message)
            };
            assert_eq!(
                (&got_id, got_body),
                (id, format!("{q}-{i}")),
                "{q}: message {i} out of order"
            );
        }
        assert!(recv(&rsmq, q, None).await.is_none());
    }
}

/// A receive with a per-call vt hides the message from the other side for that long:
/// 300 ms from Rust, 1 s (whole seconds) from the peer.
async fn a_receive_with_a_vt_hides_the_message_from_the_other_side(kind: Kind) {
    let Some(Pair { rsmq, mut peer, ns }) = pair(kind, "vt").await else {
        return;
    };
    rsmq.create_queue("q", None, None, None).await.unwrap();
    let id = rsmq.send_message("q", "m", None).await.unwrap();
    let first = recv(&rsmq, "q", Some(300 * MS)).await.unwrap();
    assert_eq!(score(&ns, "q", &id).await, first.fr + 300);
    assert!(peer.receive("q", None).is_none(), "hidden for 300 ms");
    tokio::time::sleep(400 * MS).await;

    let before = common::redis_now_ms().await;
    let second = peer.receive("q", Some(1)).expect("visible after 300 ms");
    let after = common::redis_now_ms().await;
    assert_eq!(
        (second.id.as_str(), second.rc, second.fr),
        (id.as_str(), 2, first.fr)
    );
    let s = score(&ns, "q", &id).await;
    assert!(
        before + 1000 <= s && s <= after + 1000,
        "the peer's vt 1 is 1000 ms: score {s}, receive in [{before}, {after}]"
    );
    assert!(recv(&rsmq, "q", None).await.is_none(), "hidden for 1 s");
    tokio::time::sleep(Duration::from_millis(
        s.saturating_sub(common::redis_now_ms().await) + 50,
    ))
    .await;
    let third = recv(&rsmq, "q", None).await.expect("visible after 1 s");
    assert_eq!((third.rc, third.fr), (3, first.fr));
}

/// Visibility changes, deletes and pops by one side are seen by the other.
async fn visibility_delete_and_pop_by_one_side_are_seen_by_the_other(kind: Kind) {
    let Some(Pair { rsmq, mut peer, ns }) = pair(kind, "ops").await else {
        return;
    };
    rsmq.create_queue("q", None, None, None).await.unwrap();

    // Change visibility, both ways.
    let m1 = rsmq.send_message("q", "m1", None).await.unwrap();
    recv(&rsmq, "q", Some(secs(60))).await.unwrap();
    assert!(peer.receive("q", None).is_none());
    assert!(
        peer.change_visibility("q", &m1, 0),
        "the peer finds Rust's message"
    );
    let m = recv(&rsmq, "q", Some(secs(60)))
        .await
        .expect("made visible by the peer");
    assert_eq!((m.id.as_str(), m.rc), (m1.as_str(), 2));
    assert!(rsmq
        .change_message_visibility("q", &m1, Duration::ZERO)
        .await
        .unwrap());
    let m = peer.receive("q", Some(60)).expect("made visible by Rust");
    assert_eq!((m.id.as_str(), m.rc), (m1.as_str(), 3));

    // Delete a received message: gone for the other side.
    assert!(peer.delete_message("q", &m1));
    assert!(!rsmq.delete_message("q", &m1).await.unwrap());
    assert!(!rsmq
        .change_message_visibility("q", &m1, Duration::ZERO)
        .await
        .unwrap());
    assert!(!peer.change_visibility("q", &m1, 0));
    assert!(
        !hash(&ns, "q").await.keys().any(|k| k.starts_with(&m1)),
        "fields of {m1} left"
    );

    // Delete messages that were never received.
    let m2 = rsmq.send_message("q", "m2", None).await.unwrap();
    let m3 = peer.send("q", "m3");
    assert!(rsmq.delete_message("q", &m3).await.unwrap());
    // PyRSMQ reports true only when it removed 3 hash fields (never-received: 1).
    assert_eq!(peer.delete_message("q", &m2), kind == Kind::Js);
    assert!(
        !rsmq.delete_message("q", &m2).await.unwrap(),
        "deleted by the peer"
    );
    assert!(recv(&rsmq, "q", None).await.is_none());
    assert!(peer.receive("q", None).is_none());

    // Pop by one side: gone for the other.
    let m4 = rsmq.send_message("q", "m4", None).await.unwrap();
    let m = peer.pop("q").expect("popped by the peer");
    assert_eq!(
        (m.id.as_str(), m.message.as_str(), m.rc),
        (m4.as_str(), "m4", 1)
    );
    assert!(recv(&rsmq, "q", None).await.is_none());
    let m5 = peer.send("q", "m5");
    let m = pop(&rsmq, "q").await.expect("popped by Rust");
    assert_eq!(
        (m.id.as_str(), m.message.as_str(), m.rc),
        (m5.as_str(), "m5", 1)
    );
    assert!(peer.receive("q", None).is_none());

    let h = hash(&ns, "q").await;
    let mut fields: Vec<&str> = h.keys().map(String::as_str).collect();
    fields.sort();
    assert_eq!(
        fields,
        [
            "created",
            "delay",
            "maxsize",
            "modified",
            "totalrecv",
            "totalsent",
            "vt"
        ],
        "no message fields left"
    );
    let (a, p) = (rust_attrs(&rsmq, "q").await, peer.attrs("q"));
    assert_eq!(
        (a.totalsent, a.totalrecv, a.msgs, a.hiddenmsgs),
        (5, 5, 0, 0)
    );
    assert_eq!(a, p);
}

/// Attributes set by one side are read, and applied, by the other.
async fn queue_attributes_set_by_one_side_are_seen_by_the_other(kind: Kind) {
    let Some(Pair { rsmq, mut peer, ns }) = pair(kind, "setattrs").await else {
        return;
    };
    rsmq.create_queue("q", None, None, None).await.unwrap();
    let created = rust_attrs(&rsmq, "q").await.created;

    let answered = peer.set_attrs("q", Some(7), Some(2), Some(4096));
    assert_eq!(
        (answered.vt, answered.delay, answered.maxsize),
        (7.0, 2.0, 4096)
    );
    let a = rsmq.get_queue_attributes("q").await.unwrap();
    assert_eq!((a.vt, a.delay, a.maxsize), (secs(7), secs(2), 4096));
    assert_eq!(a.created, created);
    assert!(a.modified >= a.created);
    assert_eq!(Attrs::from_rust(&a), answered);
    // Rust applies the peer's delay of 2 s.
    let id = rsmq.send_message("q", "delayed", None).await.unwrap();
    assert_eq!(score(&ns, "q", &id).await, sent_ms(&id) + 2000);
    assert!(peer.receive("q", None).is_none());

    let answered = rsmq
        .set_queue_attributes("q", Some(secs(11)), Some(Duration::ZERO), Some(-1))
        .await
        .unwrap();
    let seen = peer.attrs("q");
    assert_eq!((seen.vt, seen.delay, seen.maxsize), (11.0, 0.0, -1));
    assert_eq!(Attrs::from_rust(&answered).settled(), seen.settled());
    // The peer applies Rust's delay 0 and vt 11 s; Rust applies maxsize -1.
    let id = peer.send("q", "now");
    let m = peer.receive("q", None).expect("not delayed");
    assert_eq!(m.id, id);
    assert_eq!(score(&ns, "q", &id).await, m.fr + 11_000);
    let big = "b".repeat(70_000);
    rsmq.send_message("q", big.as_str(), None).await.unwrap();
    let m = peer.receive("q", None).expect("the unlimited body");
    assert!(m.message == big, "70 000-byte body intact");
}

/// totalsent, totalrecv, msgs and hiddenmsgs agree when both sides work one queue.
async fn counters_agree_when_both_sides_work_one_queue(kind: Kind) {
    let Some(Pair { rsmq, mut peer, .. }) = pair(kind, "counters").await else {
        return;
    };
    peer.create_queue("q", None, None, None);
    let mut r = Vec::new();
    for i in 0..3 {
        r.push(rsmq.send_message("q", format!("r{i}"), None).await.unwrap());
    }
    for i in 0..3 {
        peer.send("q", &format!("p{i}"));
    }
    assert_eq!(recv(&rsmq, "q", Some(secs(60))).await.unwrap().id, r[0]);
    assert_eq!(peer.receive("q", Some(60)).unwrap().id, r[1]);
    assert_eq!(recv(&rsmq, "q", None).await.unwrap().id, r[2]);
    assert_eq!(peer.pop("q").unwrap().message, "p0");
    assert_eq!(pop(&rsmq, "q").await.unwrap().message, "p1");
    assert!(rsmq
        .change_message_visibility("q", &r[0], Duration::ZERO)
        .await
        .unwrap());
    assert_eq!(
        peer.receive("q", Some(60)).unwrap().message,
        "p2",
        "p2 was visible first"
    );
    let again = recv(&rsmq, "q", Some(secs(60))).await.unwrap();
    assert_eq!((again.id.as_str(), again.rc), (r[0].as_str(), 2));
    rsmq.send_message("q", "r3", None).await.unwrap();

    // Counts now: 7 sent; 7 received (5 receives, 2 pops); 5 in the queue (r0, r1, r2, p2
    // hidden; r3 visible). Wait until r3's score is in a past second, so that every client
    // counts it as visible (JS and Rust count the current second as hidden, PyRSMQ does not).
    wait_for_next_second().await;
    let (a, p) = (rust_attrs(&rsmq, "q").await, peer.attrs("q"));
    assert_eq!(
        (a.totalsent, a.totalrecv, a.msgs, a.hiddenmsgs),
        (7, 7, 5, 4)
    );
    assert_eq!(a, p);

    assert!(peer.delete_message("q", &r[1]));
    assert!(rsmq.delete_message("q", &r[2]).await.unwrap());
    let (a, p) = (rust_attrs(&rsmq, "q").await, peer.attrs("q"));
    assert_eq!(
        (a.totalsent, a.totalrecv, a.msgs, a.hiddenmsgs),
        (7, 7, 3, 2)
    );
    assert_eq!(a, p);
}

/// Queues are listed by both sides, and deleted by either, with their messages.
async fn queues_are_listed_and_deleted_from_either_side(kind: Kind) {
    let Some(Pair { rsmq, mut peer, ns }) = pair(kind, "queues").await else {
        return;
    };
    let sorted = |mut v: Vec<String>| {
        v.sort();
        v
    };
    rsmq.create_queue("r1", None, None, None).await.unwrap();
    rsmq.create_queue("r2", None, None, None).await.unwrap();
    peer.create_queue("p1", None, None, None);
    peer.create_queue("p2", None, None, None);
    rsmq.send_message("r1", "x", None).await.unwrap();
    peer.send("p1", "y");
    assert_eq!(
        sorted(rsmq.list_queues().await.unwrap()),
        ["p1", "p2", "r1", "r2"]
    );
    assert_eq!(peer.list_queues(), ["p1", "p2", "r1", "r2"]);

    let e = peer.err("createQueue", json!({"qname": "r1"}));
    assert!(
        ["queueExists", "QueueAlreadyExists"].contains(&e.error.as_str()),
        "{e:?}"
    );
    assert!(matches!(
        rsmq.create_queue("p1", None, None, None).await,
        Err(RsmqError::QueueExists)
    ));

    peer.delete_queue("r1");
    assert_eq!(
        sorted(rsmq.list_queues().await.unwrap()),
        ["p1", "p2", "r2"]
    );
    assert!(matches!(
        rsmq.get_queue_attributes("r1").await,
        Err(RsmqError::QueueNotFound)
    ));
    assert!(matches!(
        rsmq.delete_queue("r1").await,
        Err(RsmqError::QueueNotFound)
    ));

    rsmq.delete_queue("p1").await.unwrap();
    assert_eq!(peer.list_queues(), ["p2", "r2"]);
    let e = peer.err("getQueueAttributes", json!({"qname": "p1"}));
    assert_eq!(e.error, kind.queue_not_found(), "{}", e.message);
    let e = peer.err("deleteQueue", json!({"qname": "p1"}));
    assert_eq!(e.error, kind.queue_not_found(), "{}", e.message);

    assert_eq!(
        keys(&ns).await,
        [
            format!("{ns}:QUEUES"),
            format!("{ns}:p2:Q"),
            format!("{ns}:r2:Q")
        ],
        "the deleted queues left nothing behind"
    );
}

/// A queue the peer made, with messages in it, survives a Rust set_queue_attributes: its
/// settings, counters, bodies, rc and fr stay intact, and both sides apply the new vt.
async fn a_peer_queue_survives_a_rust_set_queue_attributes(kind: Kind) {
    let Some(Pair { rsmq, mut peer, ns }) = pair(kind, "survive-rust-set").await else {
        return;
    };
    peer.create_queue("q", None, Some(0), None);
    let ids: Vec<String> = (0..3).map(|i| peer.send("q", &format!("b{i}"))).collect();
    let first = peer.receive("q", Some(60)).expect("b0");
    assert_eq!(first.id, ids[0]);
    let before = peer.attrs("q");

    let after = rsmq
        .set_queue_attributes("q", Some(secs(45)), None, Some(2048))
        .await
        .unwrap();
    let seen = peer.attrs("q");
    assert_eq!(Attrs::from_rust(&after).settled(), seen.settled());
    assert_eq!(
        (seen.vt, seen.delay, seen.maxsize),
        (45.0, before.delay, 2048)
    );
    assert_eq!(
        (seen.created, seen.totalsent, seen.totalrecv, seen.msgs),
        (before.created, 3, 1, 3)
    );
    assert!(seen.modified >= before.modified);

    for (i, id) in ids.iter().enumerate().skip(1) {
        let m = recv(&rsmq, "q", None).await.expect("still receivable");
        assert_eq!(
            (&m.id, m.message.as_str(), m.rc),
            (id, format!("b{i}").as_str(), 1)
        );
        assert_eq!(
            score(&ns, "q", &m.id).await,
            m.fr + 45_000,
            "Rust applies vt 45 s"
        );
    }
    assert!(peer.change_visibility("q", &ids[0], 0));
    let m = recv(&rsmq, "q", Some(secs(60))).await.expect("b0 again");
    assert_eq!(
        (m.id.as_str(), m.message.as_str(), m.rc, m.fr),
        (ids[0].as_str(), "b0", 2, first.fr)
    );
    assert!(rsmq
        .change_message_visibility("q", &ids[1], Duration::ZERO)
        .await
        .unwrap());
    let before_ms = common::redis_now_ms().await;
    let m = peer.receive("q", None).expect("b1 again");
    let after_ms = common::redis_now_ms().await;
    assert_eq!((m.id.as_str(), m.rc), (ids[1].as_str(), 2));
    let s = score(&ns, "q", &m.id).await;
    assert!(
        before_ms + 45_000 <= s && s <= after_ms + 45_000,
        "the peer applies vt 45 s: score {s}, receive in [{before_ms}, {after_ms}]"
    );
    let (a, p) = (rust_attrs(&rsmq, "q").await, peer.attrs("q"));
    assert_eq!((a.totalsent, a.totalrecv, a.msgs), (3, 5, 3));
    assert_eq!(a.settled(), p.settled());
}

/// A queue Rust made, with messages in it, survives the peer's setQueueAttributes.
async fn a_rust_queue_survives_a_peer_set_queue_attributes(kind: Kind) {
    let Some(Pair { rsmq, mut peer, ns }) = pair(kind, "survive-peer-set").await else {
        return;
    };
    rsmq.create_queue("q", None, None, None).await.unwrap();
    let mut ids = Vec::new();
    for i in 0..3 {
        ids.push(rsmq.send_message("q", format!("b{i}"), None).await.unwrap());
    }
    let first = recv(&rsmq, "q", Some(secs(60))).await.expect("b0");
    assert_eq!(first.id, ids[0]);
    let before = rust_attrs(&rsmq, "q").await;

    let answered = peer.set_attrs("q", Some(45), None, Some(2048));
    let a = rsmq.get_queue_attributes("q").await.unwrap();
    assert_eq!(Attrs::from_rust(&a).settled(), answered.settled());
    assert_eq!(
        (a.vt, a.delay.as_secs_f64(), a.maxsize),
        (secs(45), before.delay, 2048)
    );
    assert_eq!(
        (a.created, a.totalsent, a.totalrecv, a.msgs),
        (before.created, 3, 1, 3)
    );
    assert!(a.modified >= before.modified);

    for (i, id) in ids.iter().enumerate().skip(1) {
        let m = peer.receive("q", None).expect("still receivable");
        assert_eq!(
            (&m.id, m.message.as_str(), m.rc),
            (id, format!("b{i}").as_str(), 1)
        );
        assert_eq!(
            score(&ns, "q", &m.id).await,
            m.fr + 45_000,
            "the peer applies vt 45 s"
        );
    }
    assert!(rsmq
        .change_message_visibility("q", &ids[0], Duration::ZERO)
        .await
        .unwrap());
    let m = peer.receive("q", Some(60)).expect("b0 again");
    assert_eq!(
        (m.id.as_str(), m.message.as_str(), m.rc, m.fr),
        (ids[0].as_str(), "b0", 2, first.fr)
    );
    assert!(peer.change_visibility("q", &ids[1], 0));
    let before_ms = common::redis_now_ms().await;
    let m = recv(&rsmq, "q", None).await.expect("b1 again");
    let after_ms = common::redis_now_ms().await;
    assert_eq!((m.id.as_str(), m.rc), (ids[1].as_str(), 2));
    let s = score(&ns, "q", &m.id).await;
    assert!(
        before_ms + 45_000 <= s && s <= after_ms + 45_000,
        "Rust applies vt 45 s: score {s}, receive in [{before_ms}, {after_ms}]"
    );
    let (a, p) = (rust_attrs(&rsmq, "q").await, peer.attrs("q"));
    assert_eq!((a.totalsent, a.totalrecv, a.msgs), (3, 5, 3));
    assert_eq!(a.settled(), p.settled());
}

/// After a Rust create/send/receive and a peer create/send/receive, the raw `:Q` fields and
/// sorted-set scores each wrote have the same form: vt/delay whole seconds, created/modified
/// epoch seconds, scores and `{id}:fr` integer epoch ms, `{id}:rc` integers.
async fn raw_fields_written_by_rust_and_the_peer_have_the_same_form(kind: Kind) {
    let Some(Pair { rsmq, mut peer, ns }) = pair(kind, "rawform").await else {
        return;
    };
    rsmq.create_queue("rq", None, None, None).await.unwrap();
    peer.create_queue("pq", None, None, None);
    let now_s = common::redis_now_ms().await / 1000;
    let (rh, ph) = (hash(&ns, "rq").await, hash(&ns, "pq").await);
    let names = |h: &BTreeMap<String, String>| h.keys().cloned().collect::<Vec<_>>();
    assert_eq!(
        names(&rh),
        ["created", "delay", "maxsize", "modified", "vt"]
    );
    assert_eq!(names(&rh), names(&ph), "both create the same fields");
    for (field, value) in &rh {
        assert_eq!(
            shape(value),
            shape(&ph[field]),
            "`{field}`: Rust {value:?}, {kind:?} {:?}",
            ph[field]
        );
    }
    assert_eq!(
        (rh["vt"].as_str(), rh["delay"].as_str()),
        ("30", "0"),
        "whole seconds"
    );
    assert_eq!((ph["vt"].as_str(), ph["delay"].as_str()), ("30", "0"));
    assert_eq!(rh["maxsize"], "65536");
    for h in [&rh, &ph] {
        let created: u64 = h["created"].parse().unwrap();
        assert!(
            created.abs_diff(now_s) <= 2,
            "created {created} is epoch seconds"
        );
        assert_eq!(h["created"], h["modified"]);
    }

    // One message from each side on the same queue, each received by its sender.
    let rid = rsmq.send_message("rq", "from rust", None).await.unwrap();
    let rm = recv(&rsmq, "rq", None).await.expect("Rust's message");
    assert_eq!(rm.id, rid);
    let pid = peer.send("rq", "from the peer");
    let pm = peer.receive("rq", None).expect("the peer's message");
    assert_eq!(pm.id, pid);
    let h = hash(&ns, "rq").await;
    assert_eq!(
        (h["totalsent"].as_str(), h["totalrecv"].as_str()),
        ("2", "2")
    );
    let mut forms = Vec::new();
    for (id, body, fr) in [(&rid, "from rust", rm.fr), (&pid, "from the peer", pm.fr)] {
        assert_eq!(h[id.as_str()], body);
        assert_eq!(h[&format!("{id}:rc")], "1");
        assert_eq!(
            h[&format!("{id}:fr")],
            fr.to_string(),
            "fr is stored as reported"
        );
        assert!(fr.abs_diff(now_s * 1000) < 10_000, "fr {fr} is epoch ms");
        let s = score(&ns, "rq", id).await;
        assert_eq!(s, fr + 30_000, "score is fr + vt (30 s) in ms");
        assert!(fr >= sent_ms(id), "fr after sent");
        forms.push((
            shape(&h[&format!("{id}:fr")]),
            shape(&h[&format!("{id}:rc")]),
            shape(&s.to_string()),
            id_form(id),
        ));
    }
    assert_eq!(forms[0], forms[1], "Rust and {kind:?} write the same forms");

    // Delayed sends: Rust per-call 1500 ms (finer than whole seconds), the peer 1 s.
    let rid = rsmq
        .send_message("rq", "later", Some(1500 * MS))
        .await
        .unwrap();
    assert_eq!(score(&ns, "rq", &rid).await, sent_ms(&rid) + 1500);
    let pid = peer.send_delayed("rq", "later", Some(1));
    assert_eq!(score(&ns, "rq", &pid).await, sent_ms(&pid) + 1000);

    assert_eq!(
        keys(&ns).await,
        [
            format!("{ns}:QUEUES"),
            format!("{ns}:pq:Q"),
            format!("{ns}:rq"),
            format!("{ns}:rq:Q")
        ],
        "nothing but the RSMQ keys"
    );
}

// ------------------------------------------------------------------------------------------
// Scenarios for the operations the peers do not have (batches, dead letters, peek, purge,
// long polling): Rust runs them, the peer checks the result with its ordinary operations.

/// Messages Rust sends in one batch reach the peer in input order with identical bodies
/// and ids it accepts, and the peer counts every one in `totalsent`. A batch delay (per call
/// or the queue's) holds the whole batch back for the peer too.
async fn peer_receives_a_rust_batch_in_input_order(kind: Kind) {
    let Some(Pair { rsmq, mut peer, ns }) = pair(kind, "batch2peer").await else {
        return;
    };
    rsmq.create_queue("q", None, None, None).await.unwrap();
    peer.create_queue("later", None, None, None);
    peer.create_queue("slow", None, Some(1), None);

    // 20 bodies: the shared set (empty and 64 KiB ones included) and 12 short ones.
    let mut bodies: Vec<String> = bodies().into_iter().map(|(_, b)| b).collect();
    bodies.extend((bodies.len()..20).map(|i| format!("batch body {i:02}")));
    assert_eq!(bodies.len(), 20);
    let before = common::redis_now_ms().await;
    let ids = rsmq
        .send_message_batch("q", bodies.clone(), None)
        .await
        .unwrap();
    let after = common::redis_now_ms().await;
    assert_eq!(ids.len(), 20);

    // Per-call delay 500 ms, into a queue the peer made: hidden from the peer until then.
    let delayed = rsmq
        .send_message_batch("later", vec!["d0", "d1"], Some(500 * MS))
        .await
        .unwrap();
    for id in &delayed {
        assert_eq!(
            score(&ns, "later", id).await,
            sent_ms(&delayed[0]) + 500,
            "the whole batch is due 500 ms after it was sent"
        );
    }
    assert!(peer.receive("later", None).is_none(), "delayed 500 ms");
    // The queue's delay (1 s, set by the peer) applies to a batch without a delay.
    let slow = rsmq
        .send_message_batch("slow", vec!["s0", "s1", "s2"], None)
        .await
        .unwrap();
    for id in &slow {
        assert_eq!(score(&ns, "slow", id).await, sent_ms(&slow[0]) + 1000);
    }
    assert!(peer.receive("slow", None).is_none(), "delayed 1 s");

    // The peer's counters agree with Rust's before anything is received.
    let (a, p) = (
        rsmq.get_queue_attributes("q").await.unwrap(),
        peer.attrs("q"),
    );
    assert_eq!((p.totalsent, p.totalrecv, p.msgs), (20, 0, 20));
    assert_eq!((a.visiblemsgs, a.msgs), (20, 20));
    assert_eq!(Attrs::from_rust(&a).settled(), p.settled());
    assert_eq!(
        (peer.attrs("later").totalsent, peer.attrs("slow").totalsent),
        (2, 3)
    );

    for (i, (id, body)) in ids.iter().zip(&bodies).enumerate() {
        assert!(
            js_valid_id(id) && peer.validate_id(id),
            "{kind:?} rejects the batch id {id:?}"
        );
        let m = peer
            .receive("q", None)
            .unwrap_or_else(|| panic!("{kind:?} received nothing for batch message {i}"));
        assert_eq!(&m.id, id, "batch message {i}: received in input order");
        assert!(
            &m.message == body,
            "batch message {i}: {kind:?} received {:?} for {:?}",
            short(&m.message, 60),
            short(body, 60)
        );
        assert_eq!(m.rc, 1);
        let s = sent_ms(id);
        assert!(
            before <= s && s <= after + 1,
            "sent {s} not in [{before}, {after}]"
        );
        if let Some(js_sent) = m.sent {
            assert_eq!(js_sent.floor() as u64, s, "JS derives the same send time");
        }
    }
    assert!(peer.receive("q", None).is_none());
    let (a, p) = (rust_attrs(&rsmq, "q").await, peer.attrs("q"));
    assert_eq!((p.totalsent, p.totalrecv, p.msgs), (20, 20, 20));
    assert_eq!(a.settled(), p.settled());

    // The delayed batch arrives, in order, once due.
    let due = score(&ns, "later", &delayed[0]).await;
    let now = common::redis_now_ms().await;
    tokio::time::sleep(Duration::from_millis(due.saturating_sub(now) + 30)).await;
    for (id, body) in delayed.iter().zip(["d0", "d1"]) {
        let m = peer.receive("later", None).expect("due now");
        assert_eq!(
            (m.id.as_str(), m.message.as_str(), m.rc),
            (id.as_str(), body, 1)
        );
    }
    assert!(peer.receive("later", None).is_none());
}

/// Concurrent Rust calls are coalesced into shared script calls; the peer cannot tell: it
/// receives coalesced sends in arrival order with their own ids and bodies, and messages it
/// sent are handed out once each to concurrent Rust receives and deleted by concurrent
/// Rust deletes, with the counters agreeing on both sides.
async fn coalesced_rust_calls_are_ordinary_messages_to_the_peer(kind: Kind) {
    let Some(Pair {
        rsmq,
        mut peer,
        ns: _,
    }) = pair(kind, "coalesced").await
    else {
        return;
    };
    rsmq.create_queue("q", None, None, None).await.unwrap();
    let bodies: Vec<String> = (0..30).map(|i| format!("coalesced {i:02}")).collect();
    let ids = futures_util::future::join_all(
        bodies
            .iter()
            .map(|b| rsmq.send_message("q", b.as_str(), None)),
    )
    .await
    .into_iter()
    .map(Result::unwrap)
    .collect::<Vec<String>>();
    for (i, (id, body)) in ids.iter().zip(&bodies).enumerate() {
        assert!(
            js_valid_id(id) && peer.validate_id(id),
            "{kind:?} rejects {id:?}"
        );
        let m = peer
            .receive("q", None)
            .unwrap_or_else(|| panic!("{kind:?} received nothing for message {i}"));
        assert_eq!(
            (&m.id, &m.message, m.rc),
            (id, body, 1),
            "message {i} in arrival order"
        );
    }
    assert!(peer.receive("q", None).is_none());

    for i in 0..10 {
        peer.send("q", &format!("from peer {i}"));
    }
    let got =
        futures_util::future::join_all((0..12).map(|_| recv(&rsmq, "q", Some(secs(60))))).await;
    let got: Vec<RsmqMessage<String>> = got.into_iter().flatten().collect();
    assert_eq!(got.len(), 10, "10 messages for 12 concurrent receives");
    let mut seen: Vec<&str> = got.iter().map(|m| m.message.as_str()).collect();
    seen.sort_unstable();
    seen.dedup();
    assert_eq!(seen.len(), 10, "each message handed out once");
    assert!(got.iter().all(|m| m.rc == 1 && m.fr > 0));
    let deleted =
        futures_util::future::join_all(got.iter().map(|m| rsmq.delete_message("q", &m.id))).await;
    assert!(deleted.into_iter().all(|d| d.unwrap()));
    let p = peer.attrs("q");
    assert_eq!((p.totalsent, p.totalrecv, p.msgs), (40, 40, 30));
    assert_eq!(rust_attrs(&rsmq, "q").await.settled(), p.settled());

    // Large concurrent sends store their bodies with a plain HSET (two round trips): the
    // peer reads the same messages, in order.
    let large: Vec<String> = (0..8)
        .map(|i| format!("large {i} ") + &"é".repeat(10_000))
        .collect();
    let ids = futures_util::future::join_all(
        large
            .iter()
            .map(|b| rsmq.send_message("q", b.as_str(), None)),
    )
    .await
    .into_iter()
    .map(Result::unwrap)
    .collect::<Vec<String>>();
    for (i, (id, body)) in ids.iter().zip(&large).enumerate() {
        assert!(
            js_valid_id(id) && peer.validate_id(id),
            "{kind:?} rejects {id:?}"
        );
        let m = peer
            .receive("q", None)
            .unwrap_or_else(|| panic!("{kind:?} received no large message {i}"));
        assert_eq!(
            (&m.id, &m.message, m.rc),
            (id, body, 1),
            "large message {i}"
        );
    }
    assert_eq!(peer.attrs("q").totalsent, 48);

    // Large bodies sent by the peer, received concurrently by Rust: after the first round the
    // client reads them with a plain HMGET; the peer sees the same receive counts.
    for round in 0..2 {
        let large: Vec<String> = (0..8)
            .map(|i| format!("{round}{i} from peer ") + &"ü".repeat(10_000))
            .collect();
        for b in &large {
            peer.send("q", b);
        }
        let got =
            futures_util::future::join_all((0..8).map(|_| recv(&rsmq, "q", Some(secs(60))))).await;
        let mut got: Vec<String> = got.into_iter().flatten().map(|m| m.message).collect();
        got.sort_unstable();
        assert_eq!(got, large, "{kind:?} round {round}");
    }
    let p = peer.attrs("q");
    assert_eq!((p.totalsent, p.totalrecv, p.msgs), (64, 64, 54));
}

/// Rust's batch receive takes the peer's messages in send order and hides them from the
/// peer; Rust's batch delete and batch visibility change are seen by the peer, with the
/// receive count and first-receive time carried on.
async fn rust_batch_receive_delete_and_visibility_are_seen_by_the_peer(kind: Kind) {
    let Some(Pair { rsmq, mut peer, ns }) = pair(kind, "batchops").await else {
        return;
    };
    peer.create_queue("q", None, None, None);
    let bodies = ["p0", "p1 — ü", "p2 🎉", "p3", "p4", "p5"];
    let ids: Vec<String> = bodies.iter().map(|b| peer.send("q", b)).collect();

    let got = rsmq
        .receive_message_batch::<String>("q", Some(secs(60)), 4)
        .await
        .unwrap();
    assert_eq!(got.len(), 4);
    for (i, m) in got.iter().enumerate() {
        assert_eq!(
            (m.id.as_str(), m.message.as_str(), m.rc, m.sent),
            (ids[i].as_str(), bodies[i], 1, sent_ms(&ids[i])),
            "batch position {i}: in send order"
        );
        assert_eq!(score(&ns, "q", &m.id).await, m.fr + 60_000, "hidden 60 s");
    }
    // The next message is still the peer's to receive; then Rust gets the rest.
    let p4 = peer.receive("q", Some(60)).expect("p4 is visible");
    assert_eq!((p4.id.as_str(), p4.rc), (ids[4].as_str(), 1));
    let rest = rsmq
        .receive_message_batch::<String>("q", None, 10)
        .await
        .unwrap();
    let rest: Vec<(&str, u64)> = rest.iter().map(|m| (m.id.as_str(), m.rc)).collect();
    assert_eq!(rest, [(ids[5].as_str(), 1)], "only p5 was left visible");
    assert!(peer.receive("q", None).is_none(), "all hidden for the peer");
    let p = peer.attrs("q");
    assert_eq!(
        (p.totalsent, p.totalrecv, p.msgs, p.hiddenmsgs),
        (6, 6, 6, 6),
        "the peer counts all six as hidden"
    );

    // Batch delete: gone for the peer. An id no longer there is not counted.
    let n = rsmq
        .delete_message_batch("q", &[&ids[0], &ids[1]])
        .await
        .unwrap();
    assert_eq!(n, 2);
    assert_eq!(rsmq.delete_message_batch("q", &[&ids[1]]).await.unwrap(), 0);
    assert!(
        !peer.delete_message("q", &ids[0]),
        "already deleted by Rust"
    );
    assert!(!peer.change_visibility("q", &ids[1], 0));
    let h = hash(&ns, "q").await;
    for id in &ids[..2] {
        assert!(
            !h.keys().any(|k| k.starts_with(id.as_str())),
            "fields of {id} left"
        );
    }
    assert_eq!(peer.attrs("q").msgs, 4);

    // Batch visibility change: visible again for the peer (p4 was received by the peer).
    let n = rsmq
        .change_message_visibility_batch("q", &[&ids[2], &ids[3], &ids[4], &ids[0]], Duration::ZERO)
        .await
        .unwrap();
    assert_eq!(n, 3, "the deleted p0 is not counted");
    for (i, fr) in [(2, got[2].fr), (3, got[3].fr), (4, p4.fr)] {
        let m = peer.receive("q", Some(60)).expect("visible again");
        assert_eq!(
            (m.id.as_str(), m.message.as_str(), m.rc, m.fr),
            (ids[i].as_str(), bodies[i], 2, fr),
            "message {i}: rc incremented, fr kept"
        );
    }
    assert!(peer.receive("q", None).is_none(), "p5 is still hidden");
    assert!(peer.delete_message("q", &ids[2]));
    let (a, p) = (rust_attrs(&rsmq, "q").await, peer.attrs("q"));
    assert_eq!((a.totalsent, a.totalrecv, a.msgs), (6, 9, 3));
    assert_eq!(a.settled(), p.settled());
}

/// Dead letters: a message the peer and Rust received up to the budget is moved by Rust's
/// `receive_message_or_dlq` to the DLQ, where the peer's ordinary receive finds it with its
/// body, id, rc and fr; `move_message` hands it on to a queue the peer reads; `redrive`
/// brings it back with a fresh receive count.
async fn dead_letters_moved_by_rust_are_read_by_the_peer(kind: Kind) {
    let Some(Pair { rsmq, mut peer, ns }) = pair(kind, "dlq").await else {
        return;
    };
    peer.create_queue("q", None, None, None);
    peer.create_queue("dlq", None, None, None);
    rsmq.create_queue("other", None, None, None).await.unwrap();

    // a: received once by the peer, once by Rust (budget 2), made visible each time.
    let a = peer.send("q", "a body — ü");
    let first = peer.receive("q", Some(60)).expect("a");
    assert!(peer.change_visibility("q", &a, 0));
    let m = rsmq
        .receive_message_or_dlq::<String>("q", Some(Duration::ZERO), "dlq", 2)
        .await
        .unwrap()
        .expect("a, second receive");
    assert_eq!((m.id.as_str(), m.rc, m.fr), (a.as_str(), 2, first.fr));
    let b = peer.send("q", "b");
    // a has had its 2 receives: moved to the DLQ, and b is received in the same call.
    let m = rsmq
        .receive_message_or_dlq::<String>("q", Some(secs(60)), "dlq", 2)
        .await
        .unwrap()
        .expect("b");
    assert_eq!(
        (m.id.as_str(), m.message.as_str(), m.rc),
        (b.as_str(), "b", 1)
    );

    let d = peer.attrs("dlq");
    assert_eq!((d.msgs, d.totalsent, d.totalrecv), (1, 1, 0));
    let p = peer.attrs("q");
    assert_eq!((p.msgs, p.totalsent, p.totalrecv), (1, 2, 3));
    let h = hash(&ns, "dlq").await;
    assert_eq!(
        (
            h[&format!("{a}:rc")].as_str(),
            h[&format!("{a}:fr")].clone()
        ),
        ("2", first.fr.to_string()),
        "rc and fr moved with the message"
    );
    assert!(!hash(&ns, "q").await.keys().any(|k| k.starts_with(&a)));
    assert!(peer.receive("q", None).is_none(), "b is hidden, a is gone");

    let m = peer.receive("dlq", None).expect("the dead letter");
    assert_eq!(
        (m.id.as_str(), m.message.as_str(), m.rc, m.fr),
        (a.as_str(), "a body — ü", 3, first.fr),
        "the peer's receive counts on from the moved rc"
    );
    if let Some(s) = m.sent {
        assert_eq!(s.floor() as u64, sent_ms(&a));
    }

    // move_message takes it, hidden or not, to a queue where it is receivable at once.
    assert!(rsmq.move_message("dlq", &a, "other").await.unwrap());
    assert!(
        !rsmq.move_message("dlq", &a, "other").await.unwrap(),
        "gone from the DLQ"
    );
    assert_eq!(peer.attrs("dlq").msgs, 0);
    let m = peer.receive("other", None).expect("moved to other");
    assert_eq!(
        (m.id.as_str(), m.message.as_str(), m.rc, m.fr),
        (a.as_str(), "a body — ü", 4, first.fr)
    );

    // Back to the DLQ, next to a dead letter the peer is inspecting (hidden): redrive
    // moves only the receivable one, with rc and fr reset.
    let c = peer.send("dlq", "c");
    assert_eq!(peer.receive("dlq", Some(60)).expect("c").id, c);
    assert!(rsmq.move_message("other", &a, "dlq").await.unwrap());
    // The DLQ now holds a (visible) and c (hidden by the peer).
    let before = common::redis_now_ms().await;
    assert_eq!(rsmq.redrive("dlq", "q", 10).await.unwrap(), 1);
    let m = peer.receive("q", None).expect("redriven");
    assert_eq!(
        (m.id.as_str(), m.message.as_str(), m.rc),
        (a.as_str(), "a body — ü", 1),
        "a fresh receive budget"
    );
    assert!(
        m.fr >= before,
        "a new first-receive time: {} < {before}",
        m.fr
    );
    assert!(
        peer.delete_message("q", &a),
        "the peer deletes it (3 fields)"
    );
    let d = peer.attrs("dlq");
    assert_eq!((d.msgs, d.totalsent, d.totalrecv), (1, 3, 2));
    assert_eq!(
        peer.receive("dlq", None).map(|m| m.id),
        None,
        "c stays hidden"
    );

    for q in ["q", "dlq", "other"] {
        let (a, p) = (rust_attrs(&rsmq, q).await, peer.attrs(q));
        assert_eq!(a.settled(), p.settled(), "{q}");
    }
}

/// After Rust's batch, dead-letter and peek operations on a queue the peer made, the peer's
/// ordinary operations on it still work; after Rust purges it, the peer sees it empty with
/// its attributes and counters unchanged, and can use it again.
async fn the_peer_still_works_a_queue_after_rust_batches_and_a_purge(kind: Kind) {
    let Some(Pair { rsmq, mut peer, ns }) = pair(kind, "purge").await else {
        return;
    };
    peer.create_queue("q", Some(20), None, Some(2048));
    peer.create_queue("dlq", None, None, None);

    let ids = rsmq
        .send_message_batch("q", (0..6).map(|i| format!("m{i}")).collect(), None)
        .await
        .unwrap();
    let got = rsmq
        .receive_message_batch::<String>("q", Some(secs(60)), 10)
        .await
        .unwrap();
    assert_eq!(got.len(), 6);
    assert_eq!(
        rsmq.change_message_visibility_batch("q", &[&ids[0], &ids[2]], Duration::ZERO)
            .await
            .unwrap(),
        2
    );
    assert_eq!(rsmq.delete_message_batch("q", &[&ids[1]]).await.unwrap(), 1);
    let m6 = peer.send("q", "m6");
    // m0 and m2 have had their one receive: both go to the DLQ; m6 is received.
    let m = rsmq
        .receive_message_or_dlq::<String>("q", None, "dlq", 1)
        .await
        .unwrap()
        .expect("m6");
    assert_eq!((m.id.as_str(), m.rc), (m6.as_str(), 1));
    assert_eq!(
        score(&ns, "q", &m6).await,
        m.fr + 20_000,
        "Rust applies the peer's vt 20 s"
    );
    assert!(rsmq
        .peek_messages::<String>("q", 10)
        .await
        .unwrap()
        .is_empty());
    let peeked: Vec<(String, u64)> = rsmq
        .peek_messages::<String>("dlq", 10)
        .await
        .unwrap()
        .into_iter()
        .map(|m| (m.id, m.rc))
        .collect();
    assert_eq!(peeked, [(ids[0].clone(), 1), (ids[2].clone(), 1)]);

    // The peer's ordinary operations.
    let p = peer.attrs("q");
    assert_eq!((p.vt, p.maxsize), (20.0, 2048));
    assert_eq!((p.totalsent, p.totalrecv, p.msgs), (7, 7, 4));
    let pid = peer.send("q", "from the peer");
    let m = peer.receive("q", None).expect("the peer's own message");
    assert_eq!((m.id.as_str(), m.rc), (pid.as_str(), 1));
    assert_eq!(score(&ns, "q", &pid).await, m.fr + 20_000);
    assert!(peer.delete_message("q", &pid));
    assert!(peer.change_visibility("q", &ids[3], 0));
    let m = peer
        .receive("q", None)
        .expect("m3 made visible by the peer");
    assert_eq!(
        (m.id.as_str(), m.message.as_str(), m.rc, m.fr),
        (ids[3].as_str(), "m3", 2, got[3].fr)
    );
    assert!(peer.delete_message("q", &ids[3]));
    let set = peer.set_attrs("q", Some(25), None, None);
    assert_eq!(set.vt, 25.0);
    assert_eq!(rsmq.get_queue_attributes("q").await.unwrap().vt, secs(25));
    for (id, body) in [(&ids[0], "m0"), (&ids[2], "m2")] {
        let m = peer.receive("dlq", None).expect("dead letter");
        assert_eq!(
            (m.id.as_str(), m.message.as_str(), m.rc),
            (id.as_str(), body, 2)
        );
    }

    // Purge: m4, m5 (hidden by Rust) and m6 (hidden by Rust's DLQ receive).
    let before = peer.attrs("q");
    assert_eq!((before.totalsent, before.totalrecv, before.msgs), (8, 9, 3));
    assert_eq!(rsmq.purge_queue("q").await.unwrap(), 3);
    let after = peer.attrs("q");
    assert_eq!((after.msgs, after.hiddenmsgs), (0, 0));
    assert_eq!(
        after,
        Attrs {
            msgs: 0,
            hiddenmsgs: 0,
            ..before.clone()
        },
        "vt, delay, maxsize, created, modified and the counters stay"
    );
    let h = hash(&ns, "q").await;
    let fields: Vec<&str> = h.keys().map(String::as_str).collect();
    assert_eq!(
        fields,
        [
            "created",
            "delay",
            "maxsize",
            "modified",
            "totalrecv",
            "totalsent",
            "vt"
        ],
        "no message fields left"
    );
    assert!(peer.receive("q", None).is_none());
    for id in [&ids[4], &ids[5], &m6] {
        assert!(!peer.delete_message("q", id), "{id} was purged");
    }

    // The peer uses the purged queue again.
    let pid = peer.send("q", "after the purge");
    let m = peer.receive("q", None).expect("after the purge");
    assert_eq!(
        (m.id.as_str(), m.message.as_str(), m.rc),
        (pid.as_str(), "after the purge", 1)
    );
    assert!(peer.delete_message("q", &pid));
    let (a, p) = (rust_attrs(&rsmq, "q").await, peer.attrs("q"));
    assert_eq!((p.totalsent, p.totalrecv, p.msgs), (9, 10, 0));
    assert_eq!(a.settled(), p.settled());
    peer.delete_queue("q");
    assert_eq!(peer.list_queues(), ["dlq"]);
}

/// Rust's peek sees the peer's messages in receive order, with rc and fr as stored, and
/// changes nothing: the stored data and the peer's counters are the same after it, and the
/// peer still receives every message with the receive count it expects.
async fn rust_peek_changes_nothing_the_peer_sees(kind: Kind) {
    let Some(Pair { rsmq, mut peer, ns }) = pair(kind, "peek").await else {
        return;
    };
    peer.create_queue("q", None, None, None);
    let a = peer.send("q", "a");
    let b = peer.send("q", "b — ü");
    let c = peer.send("q", "c");
    let d = peer.send_delayed("q", "d", Some(1));
    // a: received by the peer and made visible again, so it now comes after b and c.
    let first = peer.receive("q", Some(60)).expect("a");
    assert_eq!(first.id, a);
    assert!(peer.change_visibility("q", &a, 0));

    let stored = common::snapshot(&ns).await;
    let counted = peer.attrs("q");
    let t0 = common::redis_now_ms().await;
    let attrs = rsmq.get_queue_attributes("q").await.unwrap();
    let t1 = common::redis_now_ms().await;
    let peeked = rsmq.peek_messages::<String>("q", 10).await.unwrap();
    let two = rsmq.peek_messages::<String>("q", 2).await.unwrap();

    let seen: Vec<(&str, &str, u64, u64, u64)> = peeked
        .iter()
        .map(|m| (m.id.as_str(), m.message.as_str(), m.rc, m.fr, m.sent))
        .collect();
    assert_eq!(
        seen,
        [
            (b.as_str(), "b — ü", 0, 0, sent_ms(&b)),
            (c.as_str(), "c", 0, 0, sent_ms(&c)),
            (a.as_str(), "a", 1, first.fr, sent_ms(&a)),
        ],
        "receive order, rc/fr as stored, the delayed d left out"
    );
    assert_eq!(two, peeked[..2]);
    assert_eq!((attrs.msgs, attrs.visiblemsgs), (4, 3));
    // The head is b (a was pushed back): its age comes from the send time in the peer's id.
    let age = attrs.oldestmsgage.as_millis() as u64;
    assert!(
        t0 - sent_ms(&b) <= age && age <= t1 - sent_ms(&b),
        "oldestmsgage {age} ms from the peer's id: not in [{}, {}]",
        t0 - sent_ms(&b),
        t1 - sent_ms(&b)
    );

    assert_eq!(common::snapshot(&ns).await, stored, "peek changed Redis");
    let p = peer.attrs("q");
    assert_eq!(p.settled(), counted.settled());
    assert_eq!((p.totalsent, p.totalrecv, p.msgs), (4, 1, 4));
    for (id, rc, fr) in [(&b, 1, None), (&c, 1, None), (&a, 2, Some(first.fr))] {
        let m = peer.receive("q", None).expect("still receivable");
        assert_eq!((&m.id, m.rc), (id, rc));
        if let Some(fr) = fr {
            assert_eq!(m.fr, fr);
        }
    }
    assert!(peer.receive("q", None).is_none(), "{d} is delayed 1 s");
    assert!(rsmq
        .peek_messages::<String>("q", 10)
        .await
        .unwrap()
        .is_empty());
}

/// Long polling: a Rust `receive_message_wait` of 5 s returns the message a peer sends
/// during the wait. A JS peer with `--realtime` publishes on `{ns}:rt:{q}`, which wakes Rust
/// at once (well before the 500 ms fallback poll); PyRSMQ publishes nothing, so Rust finds
/// the message at its fallback poll.
async fn rust_wait_returns_when_the_peer_sends(kind: Kind) {
    if !available(kind) {
        return;
    }
    // Rsmq::new, so that the client can open its subscriber connection.
    let (rsmq, ns) = rsmq(&format!("{}-wait", kind.name())).await;
    let mut peer = Some(Peer::start(kind, &ns, true));
    peer.as_mut().unwrap().create_queue("q", None, None, None);
    // The first wait starts the subscriber; the sends below come once it listens.
    rsmq.receive_message_wait::<String>("q", None, MS)
        .await
        .unwrap();
    common::subscribed(&common::server().url(), &ns).await;

    // One wait while the peer sends, 100 ms into it: how long the wait took, and when the
    // send was answered.
    let mut wait_for_a_send = async || {
        let sender = peer.take().unwrap();
        let start = Instant::now();
        let sending = tokio::task::spawn_blocking(move || {
            std::thread::sleep(100 * MS);
            let mut sender = sender;
            let id = sender.send("q", "wake up");
            (sender, id, start.elapsed())
        });
        let m = rsmq
            .receive_message_wait::<String>("q", None, secs(5))
            .await
            .unwrap();
        let waited = start.elapsed();
        let (sender, id, sent_at) = sending.await.unwrap();
        peer = Some(sender);
        let m = m.expect("the wait returns the peer's message");
        assert_eq!(
            (m.id.as_str(), m.message.as_str(), m.rc),
            (id.as_str(), "wake up", 1)
        );
        assert!(rsmq.delete_message("q", &m.id).await.unwrap());
        (waited, sent_at)
    };
    match kind {
        // Were the notification lost, the fallback poll would find the message no sooner
        // than FALLBACK_POLL after the wait began (its first look comes after `start`).
        Kind::Js => {
            common::under(
                rsmq_async::FALLBACK_POLL,
                "the JS realtime publish should wake the wait before the fallback poll",
                async || wait_for_a_send().await.0,
            )
            .await
        }
        // The fallback poll looks at least every FALLBACK_POLL: far sooner than the 5 s wait.
        Kind::Python => {
            let (waited, sent_at) = wait_for_a_send().await;
            assert!(
                waited < sent_at + rsmq_async::FALLBACK_POLL + secs(2),
                "the fallback poll should find PyRSMQ's message: sent at {sent_at:?}, \
                 received at {waited:?}"
            );
        }
    }
    let mut peer = peer.unwrap();
    let p = peer.attrs("q");
    assert_eq!((p.msgs, p.totalsent), (0, p.totalrecv));
    assert!(p.totalsent >= 1);
}

// ------------------------------------------------------------------------------------------
// JS only: realtime

/// A JS subscriber on `{ns}:rt:{q}` gets the same payload (the queue size after the add,
/// as a decimal string) from a Rust send with `realtime: true` as from a JS send with
/// `realtime`; a Rust client without `realtime` publishes nothing.
async fn js_subscriber_gets_the_same_realtime_payloads_from_rust_and_js() {
    if !available(Kind::Js) {
        return;
    }
    let opts = RsmqOptions {
        realtime: true,
        ..options("js-realtime")
    };
    let ns = opts.ns.clone();
    let quiet = Rsmq::new(RsmqOptions {
        realtime: false,
        ..opts.clone()
    })
    .await
    .unwrap();
    let loud = Rsmq::new(opts).await.unwrap();
    let mut sub = Peer::start(Kind::Js, &ns, false);
    let mut js = Peer::start(Kind::Js, &ns, true);
    let channel = format!("{ns}:rt:q");
    assert_eq!(
        sub.ok("subscribe", json!({"channel": channel})),
        json!(true)
    );
    loud.create_queue("q", None, None, None).await.unwrap();
    loud.create_queue("other", None, None, None).await.unwrap();

    let mut expected: Vec<&str> = Vec::new();
    let check = |sub: &mut Peer, expected: &[&str], after: &str| {
        let deadline = Instant::now() + Duration::from_secs(3);
        loop {
            let got: Vec<String> =
                serde_json::from_value(sub.ok("messages", json!({"channel": channel}))).unwrap();
            if got.len() >= expected.len() || Instant::now() > deadline {
                assert_eq!(got, expected, "payloads after {after}");
                return;
            }
            std::thread::sleep(5 * MS);
        }
    };
    loud.send_message("q", "a", None).await.unwrap();
    expected.push("1");
    check(&mut sub, &expected, "a Rust send");
    js.send("q", "b");
    expected.push("2");
    check(&mut sub, &expected, "a JS send");
    loud.send_message("q", "c", Some(secs(5))).await.unwrap();
    expected.push("3");
    check(&mut sub, &expected, "a delayed Rust send");
    assert!(js.pop("q").is_some());
    loud.send_message("q", "d", None).await.unwrap();
    expected.push("3");
    check(&mut sub, &expected, "a pop, then a Rust send");
    js.send("q", "e");
    expected.push("4");
    check(&mut sub, &expected, "a JS send");
    // Not published: a client without realtime, and sends to another queue.
    quiet.send_message("q", "f", None).await.unwrap();
    loud.send_message("other", "g", None).await.unwrap();
    js.send("other", "h");
    js.send("q", "i");
    expected.push("6");
    check(&mut sub, &expected, "a quiet Rust send, then a JS send");
}

// ------------------------------------------------------------------------------------------
// Python only: fractional seconds

/// PyRSMQ stores float seconds verbatim (`vt "1.5"`, `delay "0.25"`). Rust reads them and
/// applies them in milliseconds exactly as PyRSMQ does (`round(x * 1000)`).
async fn rust_applies_fractional_seconds_written_by_pyrsmq() {
    let Some(Pair { rsmq, mut peer, ns }) = pair(Kind::Python, "fractional").await else {
        return;
    };
    peer.ok(
        "createQueue",
        json!({"qname": "q", "vt": 1.5, "delay": 0.25}),
    );
    let h = hash(&ns, "q").await;
    assert_eq!((h["vt"].as_str(), h["delay"].as_str()), ("1.5", "0.25"));
    let a = rsmq.get_queue_attributes("q").await.unwrap();
    assert_eq!((a.vt, a.delay), (1500 * MS, 250 * MS));
    assert_eq!(Attrs::from_rust(&a), peer.attrs("q"));

    let rid = rsmq.send_message("q", "r", None).await.unwrap();
    assert_eq!(score(&ns, "q", &rid).await, sent_ms(&rid) + 250);
    let pid = peer.send("q", "p");
    assert_eq!(score(&ns, "q", &pid).await, sent_ms(&pid) + 250);
    tokio::time::sleep(300 * MS).await;
    let m = recv(&rsmq, "q", None).await.expect("r after 250 ms");
    assert_eq!(m.id, rid);
    assert_eq!(
        score(&ns, "q", &rid).await,
        m.fr + 1500,
        "Rust applies vt 1.5 s"
    );
    let m = peer.receive("q", None).expect("p after 250 ms");
    assert_eq!(m.id, pid);
    assert_eq!(
        score(&ns, "q", &pid).await,
        m.fr + 1500,
        "PyRSMQ applies vt 1.5 s"
    );
}

// ------------------------------------------------------------------------------------------
// Both peers at once

/// Both peers produce, a Rust [`Worker`](rsmq_async::Worker) consumes: the JavaScript peer
/// sends with realtime on (so the worker's long poll is woken by its publishes), PyRSMQ
/// without (so the worker finds those messages by polling). Every body is handled exactly
/// once, and every message is deleted: the peers see an empty queue at the end.
#[cfg(feature = "worker")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn js_and_python_producers_feed_a_rust_worker() {
    use std::convert::Infallible;

    const EACH: usize = 200;
    let js_ok = available(Kind::Js);
    let py_ok = available(Kind::Python);
    if !(js_ok && py_ok) {
        return;
    }
    let opts = RsmqOptions {
        realtime: true,
        ..options("producers")
    };
    let ns = opts.ns.clone();
    let rsmq = Rsmq::new(opts).await.unwrap();
    let mut js = Peer::start(Kind::Js, &ns, true);
    let py = Peer::start(Kind::Python, &ns, false);
    js.create_queue("jobs", None, None, None);

    let seen: Arc<Mutex<BTreeMap<String, usize>>> = Arc::default();
    let s = Arc::clone(&seen);
    let worker = rsmq_async::Worker::builder_with_client(rsmq.clone())
        .concurrency(8)
        .use_realtime(true)
        .poll_interval(Duration::from_millis(100))
        .route("jobs", move |msg: RsmqMessage<String>| {
            let s = Arc::clone(&s);
            async move {
                tokio::task::yield_now().await;
                *s.lock().unwrap().entry(msg.message).or_default() += 1;
                Ok::<(), Infallible>(())
            }
        })
        .build()
        .await
        .unwrap();
    let handle = worker.handle();
    let task = tokio::spawn(worker.run());

    // The peers' calls block, so each peer sends from a thread of its own while the worker
    // runs. Bodies carry the sender, the index and some multi-byte text.
    let produce = |mut peer: Peer, tag: &'static str| {
        std::thread::spawn(move || {
            let mut sent = Vec::with_capacity(EACH);
            for i in 0..EACH {
                let body = format!("{tag}-{i} héllo 日本 🎉");
                peer.send("jobs", &body);
                sent.push(body);
            }
            (peer, sent)
        })
    };
    let js_thread = produce(js, "js");
    let py_thread = produce(py, "py");
    let join = |t: std::thread::JoinHandle<(Peer, Vec<String>)>| async move {
        tokio::task::spawn_blocking(move || t.join().expect("producer thread"))
            .await
            .unwrap()
    };
    let (mut js, js_sent) = join(js_thread).await;
    let (mut py, py_sent) = join(py_thread).await;
    let mut expected: Vec<String> = js_sent.into_iter().chain(py_sent).collect();
    expected.sort();

    let deadline = Instant::now() + secs(60);
    loop {
        let handled = seen.lock().unwrap().len();
        if handled == 2 * EACH && rsmq.get_queue_attributes("jobs").await.unwrap().msgs == 0 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "timed out: {handled} of {} bodies handled",
            2 * EACH
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    handle.shutdown();
    task.await.expect("worker task").expect("worker result");

    let seen = seen.lock().unwrap().clone();
    let twice: Vec<_> = seen.iter().filter(|(_, &n)| n != 1).collect();
    assert!(twice.is_empty(), "handled more than once: {twice:?}");
    let handled: Vec<String> = seen.into_keys().collect();
    assert_eq!(handled, expected, "the handled bodies are the sent ones");

    // Both peers see the queue worked off: everything sent, received once, deleted.
    for peer in [&mut js, &mut py] {
        let a = peer.attrs("jobs");
        assert_eq!(
            (a.msgs, a.hiddenmsgs, a.totalsent, a.totalrecv),
            (0, 0, 2 * EACH as u64, 2 * EACH as u64),
            "{} getQueueAttributes",
            peer.kind.name()
        );
    }
    assert_eq!(
        rust_attrs(&rsmq, "jobs").await.settled(),
        js.attrs("jobs").settled()
    );
}

// ------------------------------------------------------------------------------------------
// The matrix

macro_rules! matrix {
    (
        both: [$($both:ident),* $(,)?],
        js_only: [$($js:ident => $js_fn:ident),* $(,)?],
        python_only: [$($py:ident => $py_fn:ident),* $(,)?] $(,)?
    ) => {
        /// The scenarios against the JavaScript client `rsmq` 0.12.4.
        mod js {
            $(
                #[tokio::test]
                async fn $both() {
                    super::$both(super::Kind::Js).await
                }
            )*
            $(
                #[tokio::test]
                async fn $js() {
                    super::$js_fn().await
                }
            )*
        }

        /// The scenarios against the Python port PyRSMQ 0.6.1.
        mod python {
            $(
                #[tokio::test]
                async fn $both() {
                    super::$both(super::Kind::Python).await
                }
            )*
            $(
                #[tokio::test]
                async fn $py() {
                    super::$py_fn().await
                }
            )*
        }
    };
}

matrix! {
    both: [
        peer_reads_the_attributes_of_a_rust_queue,
        rust_reads_the_attributes_of_a_peer_queue,
        peer_receives_what_rust_sends,
        rust_receives_what_peer_sends,
        maxsize_limits_both_sides_alike,
        receive_count_and_times_carry_over_from_rust_to_peer,
        receive_count_and_times_carry_over_from_peer_to_rust,
        fifo_order_holds_when_both_sides_send_alternately,
        a_receive_with_a_vt_hides_the_message_from_the_other_side,
        visibility_delete_and_pop_by_one_side_are_seen_by_the_other,
        queue_attributes_set_by_one_side_are_seen_by_the_other,
        counters_agree_when_both_sides_work_one_queue,
        queues_are_listed_and_deleted_from_either_side,
        a_peer_queue_survives_a_rust_set_queue_attributes,
        a_rust_queue_survives_a_peer_set_queue_attributes,
        raw_fields_written_by_rust_and_the_peer_have_the_same_form,
        peer_receives_a_rust_batch_in_input_order,
        coalesced_rust_calls_are_ordinary_messages_to_the_peer,
        rust_batch_receive_delete_and_visibility_are_seen_by_the_peer,
        dead_letters_moved_by_rust_are_read_by_the_peer,
        the_peer_still_works_a_queue_after_rust_batches_and_a_purge,
        rust_peek_changes_nothing_the_peer_sees,
        rust_wait_returns_when_the_peer_sends,
    ],
    js_only: [
        subscriber_gets_the_same_realtime_payloads_from_rust_and_js
            => js_subscriber_gets_the_same_realtime_payloads_from_rust_and_js,
    ],
    python_only: [
        rust_applies_fractional_seconds_written_by_pyrsmq
            => rust_applies_fractional_seconds_written_by_pyrsmq,
    ],
}
