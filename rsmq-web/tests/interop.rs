//! Interop: what the HTTP API sends, the JavaScript client rsmq 0.12.4 receives, and the
//! other way round (through the repository's JSON-lines driver, `tests/interop/js`).
//! Skipped (and said so on stderr) when the driver's `node_modules` is missing, except on
//! CI (`CI=true`), where that fails.

mod support;

use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};

use axum::http::StatusCode;
use rsmq_async::Rsmq;
use rsmq_web::{router, WebConfig};
use serde_json::{json, Value};
use support::{common, req};

fn js_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/interop/js")
}

fn js_available() -> bool {
    if js_dir().join("node_modules/rsmq/package.json").exists() {
        return true;
    }
    let msg = "the JS interop peer is not installed: run tests/interop/setup.sh";
    if std::env::var("CI").is_ok_and(|v| v.eq_ignore_ascii_case("true") || v == "1") {
        panic!("{msg}");
    }
    let _ = writeln!(std::io::stderr(), "SKIPPED rsmq-web interop: {msg}");
    false
}

struct Js {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
    next: u64,
}

impl Js {
    fn start(ns: &str) -> Js {
        let server = common::server();
        let mut child = Command::new("node")
            .arg(js_dir().join("driver.js"))
            .args(["--host", &server.host, "--port", &server.port.to_string()])
            .args(["--ns", ns])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("run node");
        let stdin = child.stdin.take().unwrap();
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        stdout.read_line(&mut line).unwrap();
        assert_eq!(
            serde_json::from_str::<Value>(&line).unwrap(),
            json!({"ready": true})
        );
        Js {
            child,
            stdin,
            stdout,
            next: 0,
        }
    }

    fn call(&mut self, op: &str, mut params: Value) -> Value {
        self.next += 1;
        params["id"] = json!(self.next);
        params["op"] = json!(op);
        writeln!(self.stdin, "{params}").unwrap();
        self.stdin.flush().unwrap();
        let mut line = String::new();
        self.stdout.read_line(&mut line).unwrap();
        let v: Value = serde_json::from_str(&line).unwrap();
        assert_eq!(v["ok"], true, "{op}: {v}");
        v["result"].clone()
    }
}

impl Drop for Js {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn js_rsmq_receives_what_the_api_sends_and_back() {
    if !js_available() {
        return;
    }
    let ns = common::namespace("interop");
    let rsmq = Rsmq::new(support::options(common::server(), ns.clone()))
        .await
        .unwrap();
    let app = router(rsmq, WebConfig::default());
    let mut js = tokio::task::block_in_place(|| Js::start(&ns));

    let (s, _) = req(&app, "POST", "/queues/q", Some(json!({"vt": 30}))).await;
    assert_eq!(s, StatusCode::OK);
    let body = "Grüße from HTTP";
    let (s, v) = req(&app, "POST", "/messages/q", Some(json!({"message": body}))).await;
    assert_eq!(s, StatusCode::OK);
    let id = v["id"].as_str().unwrap().to_string();

    let got = tokio::task::block_in_place(|| js.call("receiveMessage", json!({"qname": "q"})));
    assert_eq!(got["id"], id.as_str());
    assert_eq!(got["message"], body);
    assert_eq!(got["rc"], 1);

    // A message JS sends, the API receives; the API sees the JS receive's count.
    let sent = tokio::task::block_in_place(|| {
        js.call("sendMessage", json!({"qname": "q", "message": "from JS"}))
    });
    let (s, v) = req(&app, "GET", "/messages/q?vt=5", None).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(
        (&v["id"], &v["message"], &v["rc"]),
        (&sent, &json!("from JS"), &json!(1))
    );
    let (_, v) = req(&app, "GET", "/queues/q", None).await;
    assert_eq!(
        (&v["totalsent"], &v["totalrecv"], &v["msgs"]),
        (&json!(2), &json!(2), &json!(2))
    );
}
