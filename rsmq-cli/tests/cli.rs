//! The `rsmq` binary against a real `redis-server` (`common`: one server per test binary,
//! `RSMQ_TEST_REDIS_SERVER` and `REDIS_URL` honoured), one namespace per test. The interop tests drive the JavaScript rsmq 0.12.4 installed by
//! `tests/interop/setup.sh`.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command as StdCommand, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use assert_cmd::Command;
use serde_json::{json, Value};

const BIN: &str = env!("CARGO_BIN_EXE_rsmq");

/// A namespace on the shared server, and the commands run in it.
struct Ns {
    url: String,
    ns: String,
}

fn ns(test: &str) -> Ns {
    Ns {
        url: common::server().url(),
        ns: common::namespace(test),
    }
}

/// `rsmq` with no connection settings from the environment.
fn bare() -> Command {
    let mut cmd = Command::new(BIN);
    for var in ["RSMQ_URL", "RSMQ_NS", "RSMQ_PASSWORD"] {
        cmd.env_remove(var);
    }
    cmd
}

/// What a finished command left.
struct Outcome {
    status: i32,
    stdout: String,
    stderr: String,
}

fn finish(cmd: &mut Command) -> Outcome {
    let out = cmd.output().expect("run rsmq");
    Outcome {
        status: out.status.code().expect("exit status"),
        stdout: String::from_utf8(out.stdout).expect("UTF-8 stdout"),
        stderr: String::from_utf8(out.stderr).expect("UTF-8 stderr"),
    }
}

impl Ns {
    fn cmd(&self, args: &[&str]) -> Command {
        let mut cmd = bare();
        cmd.args(["-u", &self.url, "--ns", &self.ns]).args(args);
        cmd
    }

    /// The same command, to spawn.
    fn spawn(&self, args: &[&str]) -> StdCommand {
        let mut cmd = StdCommand::new(BIN);
        for var in ["RSMQ_URL", "RSMQ_NS", "RSMQ_PASSWORD"] {
            cmd.env_remove(var);
        }
        cmd.args(["-u", &self.url, "--ns", &self.ns]).args(args);
        cmd
    }

    /// Runs a command that must succeed; its stdout.
    fn ok(&self, args: &[&str]) -> String {
        self.ok_in(args, "")
    }

    /// Runs a command with `input` on stdin that must succeed; its stdout.
    fn ok_in(&self, args: &[&str], input: &str) -> String {
        let o = finish(self.cmd(args).write_stdin(input));
        assert_eq!(o.status, 0, "rsmq {args:?} failed: {}", o.stderr);
        o.stdout
    }

    /// Runs a command with `--json` that must succeed; its one line of JSON.
    fn json(&self, args: &[&str]) -> Value {
        let mut all = vec!["--json"];
        all.extend_from_slice(args);
        let out = self.ok(&all);
        assert_eq!(out.lines().count(), 1, "one line of JSON: {out:?}");
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out:?}"))
    }

    /// Runs a command that must fail with status 1 and one line on stderr; that line.
    fn fails(&self, args: &[&str]) -> String {
        one_error(finish(&mut self.cmd(args)), args)
    }
}

fn one_error(o: Outcome, args: &[&str]) -> String {
    assert_eq!(
        o.status,
        1,
        "rsmq {args:?}: {o:?}",
        o = (&o.stdout, &o.stderr)
    );
    assert_eq!(o.stderr.lines().count(), 1, "one line: {:?}", o.stderr);
    assert!(!o.stderr.contains("panicked"), "{}", o.stderr);
    assert!(
        !o.stderr.contains("RedisError(") && !o.stderr.contains("{ "),
        "no Debug dump: {}",
        o.stderr
    );
    o.stderr
}

fn keys(v: &Value) -> Vec<&str> {
    let mut k: Vec<&str> = v
        .as_object()
        .unwrap_or_else(|| panic!("an object: {v}"))
        .keys()
        .map(String::as_str)
        .collect();
    k.sort();
    k
}

const MESSAGE_KEYS: [&str; 5] = ["fr", "id", "message", "rc", "sent"];

fn ids(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap_or_else(|| panic!("an array: {v}"))
        .iter()
        .map(|m| m["id"].as_str().expect("id").to_string())
        .collect()
}

/// A port nothing listens on.
fn dead_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[test]
fn queue_commands_and_their_json() {
    let t = ns("queues");
    assert_eq!(t.json(&["queues"]), json!([]));
    let a = t.json(&[
        "create",
        "jobs",
        "--vt",
        "1m",
        "--delay",
        "2",
        "--maxsize",
        "2048",
    ]);
    assert_eq!(
        keys(&a),
        [
            "created",
            "delay",
            "hiddenmsgs",
            "maxsize",
            "modified",
            "msgs",
            "oldestmsgage",
            "totalrecv",
            "totalsent",
            "visiblemsgs",
            "vt"
        ]
    );
    assert_eq!(
        (&a["vt"], &a["delay"], &a["maxsize"]),
        (&json!(60), &json!(2), &json!(2048))
    );
    t.ok(&["create", "other", "--maxsize", "-1"]);
    assert_eq!(t.json(&["queues"]), json!(["jobs", "other"]));
    assert_eq!(t.ok(&["queues"]), "jobs\nother\n");

    let a = t.json(&["attrs", "jobs"]);
    assert_eq!(a["msgs"], json!(0));
    assert!(
        a["created"].as_u64().unwrap() > 1_600_000_000,
        "Unix seconds: {a}"
    );
    let human = t.ok(&["attrs", "jobs"]);
    assert!(human.contains("vt") && human.contains("1m00s"), "{human}");

    let a = t.json(&["set-attrs", "jobs", "--vt", "45s", "--delay", "0"]);
    assert_eq!((&a["vt"], &a["delay"]), (&json!(45), &json!(0)));
    assert_eq!(t.json(&["attrs", "jobs"])["vt"], json!(45));

    let e = t.fails(&["create", "jobs"]);
    assert!(e.contains("`jobs`") && e.contains("exists"), "{e}");
    // Whole seconds only for a queue's vt: the library says so, naming the queue.
    let e = t.fails(&["create", "q2", "--vt", "1.5s"]);
    assert!(e.contains("`q2`") && e.contains("whole"), "{e}");

    // Not on a terminal, deleting asks for --yes.
    let e = t.fails(&["delete-queue", "other"]);
    assert!(e.contains("--yes"), "{e}");
    assert_eq!(t.json(&["queues"]), json!(["jobs", "other"]));
    let d = t.json(&["delete-queue", "other", "--yes"]);
    assert_eq!(d["deleted"], json!(true));
    assert_eq!(t.json(&["queues"]), json!(["jobs"]));

    // Usage errors exit with 2.
    let o = finish(&mut t.cmd(&["set-attrs", "jobs"]));
    assert_eq!(o.status, 2, "{}", o.stderr);
}

#[test]
fn send_peek_receive_pop_and_their_json() {
    let t = ns("messages");
    t.ok(&["create", "q"]);
    let one = t.ok(&["send", "q", "first"]);
    assert_eq!(one.lines().count(), 1);
    // Standard input, one trailing line break removed; `-` says the same.
    let two = t.ok_in(&["send", "q"], "second\n");
    let three = t.json(&["send", "q", "--delay", "0", "-"]);
    assert_eq!(three.as_array().unwrap().len(), 1);
    let lines = t.ok_in(&["send", "q", "--lines"], "l1\nl2\n\nl3\n");
    assert_eq!(lines.lines().count(), 3, "{lines}");

    let peeked = t.json(&["peek", "q", "-n", "100"]);
    let arr = peeked.as_array().unwrap();
    assert_eq!(arr.len(), 6);
    assert_eq!(keys(&arr[0]), MESSAGE_KEYS);
    assert_eq!(arr[0]["id"], json!(one.trim()));
    assert_eq!(arr[0]["message"], json!("first"));
    assert_eq!(arr[1]["id"], json!(two.trim()));
    assert_eq!(arr[1]["message"], json!("second"));
    assert_eq!(arr[2]["message"], json!(""));
    let bodies: Vec<&str> = arr[3..]
        .iter()
        .map(|m| m["message"].as_str().unwrap())
        .collect();
    assert_eq!(bodies, ["l1", "l2", "l3"]);
    assert_eq!((&arr[0]["rc"], &arr[0]["fr"]), (&json!(0), &json!(0)));
    assert!(arr[0]["sent"].as_u64().unwrap() > 1_600_000_000_000, "ms");
    // Peeking changed nothing.
    assert_eq!(t.json(&["attrs", "q"])["totalrecv"], json!(0));
    assert_eq!(t.json(&["peek", "q", "-n", "100"]), peeked);
    let human = t.ok(&["peek", "q", "-n", "2"]);
    assert_eq!(
        human,
        format!("{}\tfirst\n{}\tsecond\n", one.trim(), two.trim())
    );

    let got = t.json(&["receive", "q", "-n", "2", "--vt", "1m"]);
    assert_eq!(ids(&got), ids(&peeked)[..2]);
    assert_eq!(keys(&got[0]), MESSAGE_KEYS);
    assert_eq!(got[0]["rc"], json!(1));
    assert!(got[0]["fr"].as_u64().unwrap() > 0);
    let popped = t.json(&["pop", "q", "-n", "3"]);
    assert_eq!(ids(&popped), ids(&peeked)[2..5]);
    let human = t.ok(&["receive", "q"]);
    assert_eq!(human, format!("{}\tl3\n", ids(&peeked)[5]));
    let a = t.json(&["attrs", "q"]);
    assert_eq!((&a["msgs"], &a["totalrecv"]), (&json!(3), &json!(6)));

    // Nothing receivable: an empty array, status 0.
    assert_eq!(t.json(&["receive", "q"]), json!([]));
    assert_eq!(t.json(&["pop", "q"]), json!([]));
    let started = Instant::now();
    assert_eq!(t.json(&["receive", "q", "--wait", "0.3s"]), json!([]));
    assert!(started.elapsed() >= Duration::from_millis(300));
    // A message sent while it waits is received.
    let child = t
        .spawn(&["--json", "receive", "q", "--wait", "10s"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let id = t.ok(&["send", "q", "late"]);
    let out = child.wait_with_output().unwrap();
    let got: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(ids(&got), [id.trim()]);
}

#[test]
fn delete_visibility_move() {
    let t = ns("ids");
    t.ok(&["create", "q"]);
    t.ok(&["create", "dst"]);
    let a = t.ok(&["send", "q", "a"]).trim().to_string();
    let b = t.ok(&["send", "q", "b"]).trim().to_string();
    let c = t.ok(&["send", "q", "c"]).trim().to_string();

    let got = t.json(&["receive", "q", "--vt", "1h"]);
    assert_eq!(ids(&got), [a.as_str()]);
    assert_eq!(ids(&t.json(&["peek", "q"])), [b.clone(), c.clone()]);
    let v = t.json(&["visibility", "q", &a, "0"]);
    assert_eq!(v, json!({"id": a, "vt": 0}));
    // Receivable again at once: after the two that waited.
    assert_eq!(
        ids(&t.json(&["peek", "q"])),
        [b.clone(), c.clone(), a.clone()]
    );

    let d = t.json(&["delete", "q", &a, &b]);
    assert_eq!(d, json!({"deleted": [a, b], "missing": []}));
    let e = t.fails(&["delete", "q", &a]);
    assert!(e.contains(&a) && e.contains("`q`"), "{e}");
    let e = t.fails(&["visibility", "q", &a, "5"]);
    assert!(e.contains(&a), "{e}");
    let e = t.fails(&["delete", "q", "not-an-id"]);
    assert!(e.contains("not-an-id"), "{e}");

    let m = t.json(&["move", "q", &c, "dst"]);
    assert_eq!(m, json!({"id": c, "from": "q", "to": "dst"}));
    assert_eq!(ids(&t.json(&["peek", "dst"])), [c.as_str()]);
    let e = t.fails(&["move", "dst", &c, "nowhere"]);
    assert!(e.contains("`nowhere`") && e.contains("not found"), "{e}");
    let e = t.fails(&["move", "q", &c, "dst"]);
    assert!(e.contains(&c), "{e}");
    // Bad duration: a usage error.
    let o = finish(&mut t.cmd(&["visibility", "dst", &c, "soon"]));
    assert_eq!(o.status, 2, "{}", o.stderr);
}

#[test]
fn redrive_and_purge() {
    let t = ns("redrive");
    t.ok(&["create", "jobs"]);
    t.ok(&["create", "dead"]);
    t.ok_in(&["send", "dead", "--lines"], "1\n2\n3\n4\n5\n");
    let dry = t.json(&["redrive", "dead", "jobs", "--dry-run"]);
    assert_eq!(
        dry,
        json!({"from": "dead", "to": "jobs", "moved": 5, "dry_run": true})
    );
    assert_eq!(t.json(&["attrs", "dead"])["msgs"], json!(5));
    let some = t.json(&["redrive", "dead", "jobs", "--max", "2"]);
    assert_eq!(some["moved"], json!(2));
    let rest = t.json(&["redrive", "dead", "jobs"]);
    assert_eq!(rest["moved"], json!(3));
    let bodies: Vec<Value> = t
        .json(&["peek", "jobs"])
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["message"].clone())
        .collect();
    assert_eq!(
        bodies,
        [json!("1"), json!("2"), json!("3"), json!("4"), json!("5")]
    );
    let e = t.fails(&["redrive", "dead", "gone"]);
    assert!(e.contains("`gone`"), "{e}");
    let e = t.fails(&["redrive", "gone", "jobs", "--dry-run"]);
    assert!(e.contains("`gone`"), "{e}");

    let e = t.fails(&["purge", "jobs"]);
    assert!(e.contains("--yes"), "{e}");
    assert_eq!(t.json(&["attrs", "jobs"])["msgs"], json!(5));
    assert_eq!(
        t.json(&["purge", "jobs", "--yes"]),
        json!({"queue": "jobs", "purged": 5})
    );
    let a = t.json(&["attrs", "jobs"]);
    assert_eq!((&a["msgs"], &a["totalsent"]), (&json!(0), &json!(5)));
    let o = finish(&mut t.cmd(&["purge", "jobs", "-y"]));
    assert_eq!((o.status, o.stdout.as_str()), (0, ""));
    assert!(o.stderr.contains("removed 0"), "{}", o.stderr);
    assert_eq!(
        finish(&mut t.cmd(&["-q", "purge", "jobs", "-y"])).stderr,
        ""
    );
}

/// Reads lines of a child's stdout on a thread.
fn lines_of(child: &mut Child) -> mpsc::Receiver<String> {
    let out = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

/// Kills the child when dropped.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn stats_once_and_watching() {
    let t = ns("stats");
    t.ok(&["create", "a"]);
    t.ok(&["create", "b"]);
    t.ok_in(&["send", "a", "--lines"], "1\n2\n3\n");
    t.json(&["receive", "a", "--vt", "1h"]);
    let s = t.json(&["stats"]);
    let rows = s.as_array().unwrap();
    assert_eq!(rows.len(), 2);
    assert_eq!(
        keys(&rows[0]),
        [
            "hiddenmsgs",
            "msgs",
            "oldestmsgage",
            "queue",
            "totalrecv",
            "totalsent",
            "visiblemsgs"
        ]
    );
    assert_eq!(rows[0]["queue"], json!("a"));
    assert_eq!(
        (&rows[0]["msgs"], &rows[0]["visiblemsgs"]),
        (&json!(3), &json!(2))
    );
    assert_eq!(
        (&rows[0]["totalsent"], &rows[0]["totalrecv"]),
        (&json!(3), &json!(1))
    );
    assert_eq!(rows[1]["msgs"], json!(0));

    let table = t.ok(&["stats"]);
    let lines: Vec<Vec<&str>> = table
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(
        lines[0],
        ["QUEUE", "MSGS", "HIDDEN", "VISIBLE", "OLDEST", "SENT", "RECEIVED"]
    );
    assert_eq!(lines[1][..4], ["a", "3", "1", "2"]);
    assert_eq!(lines[1][5..], ["3", "1"]);
    assert_eq!(lines[2], ["b", "0", "0", "0", "-", "0", "0"]);

    // --watch: a fresh array a line, until killed.
    let mut child = t
        .spawn(&["--json", "stats", "--watch", "--interval", "0.2s"])
        .stdout(Stdio::piped())
        .stdin(Stdio::null())
        .spawn()
        .unwrap();
    let rx = lines_of(&mut child);
    let _running = Running(child);
    let first: Value =
        serde_json::from_str(&rx.recv_timeout(Duration::from_secs(10)).unwrap()).unwrap();
    assert_eq!(first.as_array().unwrap().len(), 2);
    t.ok(&["create", "c"]);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let line = rx.recv_timeout(Duration::from_secs(10)).expect("a refresh");
        let v: Value = serde_json::from_str(&line).unwrap();
        if v.as_array().unwrap().len() == 3 {
            break;
        }
        assert!(Instant::now() < deadline, "the new queue never showed");
    }
}

#[test]
fn tail_prints_new_messages_without_receiving_them() {
    let t = ns("tail");
    t.ok(&["create", "q"]);
    let old = t.ok(&["send", "q", "old"]).trim().to_string();
    let mut child = t
        .spawn(&["--json", "tail", "q", "--interval", "0.2s"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .stdin(Stdio::null())
        .spawn()
        .unwrap();
    // Started once it says it waits.
    let mut err = BufReader::new(child.stderr.take().unwrap());
    let mut said = String::new();
    err.read_line(&mut said).unwrap();
    assert!(said.contains("waiting"), "{said}");
    let rx = lines_of(&mut child);
    let _running = Running(child);
    let new: Vec<String> = t
        .ok_in(&["send", "q", "--lines"], "n1\nn2\n")
        .lines()
        .map(String::from)
        .collect();
    let mut seen = Vec::new();
    while seen.len() < 2 {
        let line = rx
            .recv_timeout(Duration::from_secs(10))
            .expect("a tailed message");
        let m: Value = serde_json::from_str(&line).unwrap();
        assert_eq!(keys(&m), MESSAGE_KEYS);
        assert_eq!(m["rc"], json!(0));
        seen.push(m["id"].as_str().unwrap().to_string());
    }
    assert_eq!(seen, new);
    assert!(!seen.contains(&old));
    // Not received: all three are still there, never received.
    assert_eq!(t.json(&["attrs", "q"])["totalrecv"], json!(0));
    assert_eq!(ids(&t.json(&["peek", "q"])).len(), 3);
}

// ---- browse, show, workers

const BROWSED_KEYS: [&str; 7] = ["fr", "hidden", "id", "message", "rc", "sent", "visible_at"];

/// The counters browsing and showing must leave as they were.
/// What a read must not change: the counts and the modification time. Not `hiddenmsgs`:
/// as in the JavaScript client, it counts the messages due from the start of the current
/// second, so it drops by itself when a second passes after a send.
fn counters(t: &Ns, q: &str) -> Value {
    let a = t.json(&["attrs", q]);
    json!([
        a["msgs"],
        a["visiblemsgs"],
        a["totalsent"],
        a["totalrecv"],
        a["modified"]
    ])
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

#[test]
fn browse_shows_visible_and_hidden_messages_in_order_changing_nothing() {
    let t = ns("browse");
    t.ok(&["create", "q"]);
    let a = t.ok(&["send", "q", "a"]).trim().to_string();
    let b = t.ok(&["send", "q", "b"]).trim().to_string();
    let c = t.ok(&["send", "q", "c"]).trim().to_string();
    // `a` received: hidden for an hour; `d` delayed ten minutes.
    assert_eq!(ids(&t.json(&["receive", "q", "--vt", "1h"])), [a.as_str()]);
    let d = t
        .ok(&["send", "q", "d", "--delay", "10m"])
        .trim()
        .to_string();
    let before = counters(&t, "q");

    // The order they become receivable: b, c now, d in 10 minutes, a in an hour.
    let human = t.ok(&["browse", "q"]);
    let rows: Vec<Vec<&str>> = human.lines().map(|l| l.split('\t').collect()).collect();
    assert_eq!(rows.len(), 4, "{human}");
    let expect = [
        (&b, "visible", "rc 0", "b"),
        (&c, "visible", "rc 0", "c"),
        (&d, "hidden", "rc 0", "d"),
        (&a, "hidden", "rc 1", "a"),
    ];
    for (row, (id, state, rc, body)) in rows.iter().zip(expect) {
        assert_eq!(row.len(), 5, "{row:?}");
        assert_eq!(
            (row[0], row[1], row[3], row[4]),
            (id.as_str(), state, rc, body)
        );
        assert!(
            row[2].ends_with(" UTC") && row[2].len() == 27,
            "a time: {row:?}"
        );
    }
    // One page held them all: no hint.
    let o = finish(&mut t.cmd(&["browse", "q"]));
    assert_eq!(o.stderr, "");

    let page = t.json(&["browse", "q"]);
    let arr = page.as_array().unwrap();
    assert_eq!(ids(&page), [b.as_str(), c.as_str(), d.as_str(), a.as_str()]);
    for m in arr {
        assert_eq!(keys(m), BROWSED_KEYS);
    }
    let hidden: Vec<bool> = arr.iter().map(|m| m["hidden"].as_bool().unwrap()).collect();
    assert_eq!(hidden, [false, false, true, true]);
    let now = now_ms();
    let at = |i: usize| arr[i]["visible_at"].as_u64().unwrap();
    assert!(at(0) <= now && at(1) <= now);
    assert!(
        at(2) > now + 9 * 60_000 && at(3) > now + 59 * 60_000,
        "{page}"
    );
    assert_eq!(
        (&arr[3]["rc"], &arr[3]["message"]),
        (&json!(1), &json!("a"))
    );
    assert!(arr[3]["fr"].as_u64().unwrap() > 0);
    assert_eq!(arr[0]["fr"], json!(0));
    assert!(arr[0]["sent"].as_u64().unwrap() > 1_600_000_000_000, "ms");
    // The fields of peek, for the same message.
    let peeked = t.json(&["peek", "q", "-n", "1"]);
    for k in MESSAGE_KEYS {
        assert_eq!(peeked[0][k], arr[0][k], "{k}");
    }

    // Pages: the hint on stderr names the next cursor (and the page size).
    let o = finish(&mut t.cmd(&["browse", "q", "--limit", "3"]));
    assert_eq!(o.status, 0, "{}", o.stderr);
    assert_eq!(o.stdout.lines().count(), 3);
    assert_eq!(o.stderr, "more: rsmq browse q --cursor 3 --limit 3\n");
    let o = finish(&mut t.cmd(&["browse", "q", "--cursor", "3", "--limit", "3"]));
    assert_eq!(o.status, 0, "{}", o.stderr);
    assert_eq!(o.stdout.lines().count(), 1);
    assert!(
        o.stdout.starts_with(&format!("{a}\thidden\t")),
        "{}",
        o.stdout
    );
    assert_eq!(o.stderr, "");
    let second = t.json(&["browse", "q", "--cursor", "2", "-n", "2"]);
    assert_eq!(ids(&second), [d.as_str(), a.as_str()]);
    // --quiet drops the hint, not the page.
    let o = finish(&mut t.cmd(&["-q", "browse", "q", "--limit", "1"]));
    assert_eq!((o.stdout.lines().count(), o.stderr.as_str()), (1, ""));
    // Past the end: nothing, said on stderr.
    let o = finish(&mut t.cmd(&["browse", "q", "--cursor", "10"]));
    assert_eq!((o.status, o.stdout.as_str()), (0, ""));
    assert!(o.stderr.contains("no message"), "{}", o.stderr);
    assert_eq!(t.json(&["browse", "q", "--cursor", "10"]), json!([]));

    // Nothing changed: counters, receive counts, what is receivable.
    assert_eq!(counters(&t, "q"), before);
    assert_eq!(t.json(&["browse", "q"])[3]["rc"], json!(1));
    assert_eq!(ids(&t.json(&["peek", "q"])), [b.as_str(), c.as_str()]);

    // An empty queue: nothing on stdout, a note on stderr.
    t.ok(&["create", "empty"]);
    let o = finish(&mut t.cmd(&["browse", "empty", "--all"]));
    assert_eq!((o.status, o.stdout.as_str()), (0, ""));
    assert!(
        o.stderr.contains("no message in queue `empty`"),
        "{}",
        o.stderr
    );
    assert_eq!(t.json(&["browse", "empty"]), json!([]));

    // A bad --limit is a usage error; a missing queue one line, status 1.
    for bad in ["0", "1001", "ten"] {
        let o = finish(&mut t.cmd(&["browse", "q", "--limit", bad]));
        assert_eq!(o.status, 2, "--limit {bad}: {}", o.stderr);
        assert!(o.stderr.contains("--limit"), "{}", o.stderr);
    }
    let e = t.fails(&["browse", "nope"]);
    assert!(e.contains("`nope`") && e.contains("not found"), "{e}");
}

#[test]
fn browse_all_covers_every_message_once() {
    let t = ns("browseall");
    t.ok(&["create", "q"]);
    let input: String = (0..2500).map(|i| format!("m{i}\n")).collect();
    let sent: Vec<String> = t
        .ok_in(&["send", "q", "--lines"], &input)
        .lines()
        .map(String::from)
        .collect();
    assert_eq!(sent.len(), 2500);
    let before = counters(&t, "q");

    // One page by default, and how to get the next.
    let o = finish(&mut t.cmd(&["browse", "q"]));
    assert_eq!(o.status, 0, "{}", o.stderr);
    assert_eq!(o.stdout.lines().count(), 50);
    assert_eq!(o.stderr, "more: rsmq browse q --cursor 50\n");

    let all = t.json(&["browse", "q", "--all"]);
    let got = ids(&all);
    assert_eq!(got.len(), 2500);
    let unique: std::collections::HashSet<&String> = got.iter().collect();
    assert_eq!(unique.len(), 2500, "each message once");
    let mut sorted_got = got.clone();
    sorted_got.sort();
    let mut sorted_sent = sent.clone();
    sorted_sent.sort();
    assert_eq!(sorted_got, sorted_sent);

    let o = finish(&mut t.cmd(&["browse", "q", "--all"]));
    assert_eq!(o.status, 0, "{}", o.stderr);
    assert_eq!(o.stderr, "", "no hint after the last page");
    let human: Vec<&str> = o
        .stdout
        .lines()
        .map(|l| l.split('\t').next().unwrap())
        .collect();
    assert_eq!(human, got, "the same order as --json");
    // From a cursor to the end.
    assert_eq!(
        ids(&t.json(&["browse", "q", "--all", "--cursor", "2400"])),
        got[2400..]
    );

    assert_eq!(counters(&t, "q"), before);
}

#[test]
fn show_one_message_visible_or_hidden() {
    let t = ns("show");
    t.ok(&["create", "q"]);
    let a = t.ok(&["send", "q", "first"]).trim().to_string();
    let b = t.ok(&["send", "q", "second"]).trim().to_string();
    assert_eq!(ids(&t.json(&["receive", "q", "--vt", "1h"])), [a.as_str()]);
    let before = counters(&t, "q");

    let fields = |id: &str| -> Vec<(String, String)> {
        t.ok(&["show", "q", id])
            .lines()
            .map(|l| {
                let (k, v) = l
                    .split_once(':')
                    .unwrap_or_else(|| panic!("key: value: {l}"));
                (k.to_string(), v.trim().to_string())
            })
            .collect()
    };
    let visible = fields(&b);
    let names: Vec<&str> = visible.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(
        names,
        [
            "id",
            "state",
            "visible at",
            "sent",
            "received count",
            "first received",
            "body"
        ]
    );
    let value = |f: &[(String, String)], k: &str| {
        f.iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.clone())
            .unwrap()
    };
    assert_eq!(value(&visible, "id"), b);
    assert_eq!(value(&visible, "state"), "visible");
    assert_eq!(value(&visible, "received count"), "0");
    assert_eq!(value(&visible, "first received"), "never");
    assert_eq!(value(&visible, "body"), "second");
    assert!(value(&visible, "sent").ends_with(" UTC"));

    let hidden = fields(&a);
    assert_eq!(value(&hidden, "state"), "hidden");
    assert_eq!(value(&hidden, "received count"), "1");
    assert!(value(&hidden, "first received").ends_with(" UTC"));
    assert_eq!(value(&hidden, "body"), "first");

    let m = t.json(&["show", "q", &a]);
    assert_eq!(keys(&m), BROWSED_KEYS);
    assert_eq!(
        (&m["id"], &m["hidden"], &m["rc"]),
        (&json!(a), &json!(true), &json!(1))
    );
    assert!(m["visible_at"].as_u64().unwrap() > now_ms() + 59 * 60_000);
    // What browse says of the same message.
    let page = t.json(&["browse", "q"]);
    assert_eq!(page[1], m);
    assert_eq!(t.json(&["show", "q", &b])["hidden"], json!(false));
    assert_eq!(counters(&t, "q"), before);

    // A body that is not UTF-8: U+FFFD in place of its bad bytes, as peek shows it.
    let raw = finish(t.cmd(&["send", "q"]).write_stdin(vec![b'x', 0xff, b'y']));
    let raw = raw.stdout.trim().to_string();
    let body = "x\u{FFFD}y";
    assert_eq!(value(&fields(&raw), "body"), body);
    assert_eq!(t.json(&["show", "q", &raw])["message"], json!(body));
    assert!(t
        .ok(&["peek", "q", "-n", "5"])
        .contains(&format!("{raw}\t{body}\n")));
    assert!(t
        .ok(&["browse", "q"])
        .contains(&format!("\trc 0\t{body}\n")));

    // Gone: one line naming the queue and the id, status 1.
    t.ok(&["delete", "q", &b]);
    let e = t.fails(&["show", "q", &b]);
    assert!(e.contains(&b) && e.contains("`q`"), "{e}");
    let e = t.fails(&["--json", "show", "q", &b]);
    assert!(e.contains(&b), "{e}");
    let e = t.fails(&["show", "q", "not-an-id"]);
    assert!(e.contains("not-an-id"), "{e}");
}

#[test]
fn workers_none_then_one_running() {
    use rsmq_async::{Rsmq, RsmqMessage, RsmqOptions, Worker};

    let t = ns("workers");
    t.ok(&["create", "q"]);
    let o = finish(&mut t.cmd(&["workers"]));
    assert_eq!((o.status, o.stdout.as_str()), (0, ""));
    assert!(o.stderr.contains("no live workers"), "{}", o.stderr);
    assert_eq!(o.stderr.lines().count(), 1);
    assert_eq!(t.json(&["workers"]), json!([]));

    // A worker of this process, on a runtime of its own.
    let mut options = RsmqOptions::from_url(&t.url).unwrap();
    options.ns = t.ns.clone();
    let (handles, handle) = mpsc::channel();
    let running = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let rsmq = Rsmq::new(options).await.unwrap();
            let worker = Worker::builder_with_client(rsmq)
                .concurrency(3)
                .poll_interval(Duration::from_millis(20))
                .heartbeat_interval(Duration::from_millis(200))
                .route("q", |_m: RsmqMessage<String>| async {
                    Ok::<(), std::convert::Infallible>(())
                })
                .build()
                .await
                .unwrap();
            handles
                .send((worker.handle(), worker.id().to_string()))
                .unwrap();
            worker.run().await.unwrap();
        });
    });
    let (handle, id) = handle.recv_timeout(Duration::from_secs(10)).unwrap();
    let until = |what: &str, done: &dyn Fn(&Value) -> bool| -> Value {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let v = t.json(&["workers"]);
            if done(&v) {
                return v;
            }
            assert!(Instant::now() < deadline, "{what}: {v}");
            std::thread::sleep(Duration::from_millis(50));
        }
    };
    let listed = until("the worker is listed", &|v| {
        v.as_array().unwrap().len() == 1
    });
    let w = &listed[0];
    assert_eq!(
        keys(w),
        [
            "concurrency",
            "expires",
            "failed",
            "handled",
            "host",
            "id",
            "in_flight",
            "pid",
            "queues",
            "seen",
            "started",
            "version"
        ]
    );
    assert_eq!(w["id"], json!(id));
    assert_eq!(w["pid"], json!(std::process::id()));
    assert_eq!(
        (&w["queues"], &w["concurrency"]),
        (&json!(["q"]), &json!(3))
    );

    t.ok(&["send", "q", "work"]);
    let w = until("the handled message is registered", &|v| {
        v[0]["handled"] == json!(1)
    })
    .as_array()
    .unwrap()[0]
        .clone();
    let o = finish(&mut t.cmd(&["workers"]));
    assert_eq!((o.status, o.stderr.as_str()), (0, ""));
    let line: Vec<&str> = o.stdout.trim_end().split('\t').collect();
    assert_eq!(o.stdout.lines().count(), 1, "{}", o.stdout);
    assert_eq!(line.len(), 8, "{line:?}");
    assert_eq!(line[0], id);
    assert_eq!(line[1], w["host"].as_str().unwrap());
    assert_eq!(line[2], format!("pid {}", std::process::id()));
    assert_eq!(line[3], "queues q");
    assert!(
        line[4].starts_with("in flight ") && line[4].ends_with("/3"),
        "{line:?}"
    );
    assert_eq!((line[5], line[6]), ("handled 1", "failed 0"));
    assert!(
        line[7].starts_with("started ") && line[7].ends_with(" UTC"),
        "{line:?}"
    );

    handle.shutdown();
    running.join().unwrap();
    until("the stopped worker is gone", &|v| v == &json!([]));
    assert_eq!(t.ok(&["workers"]), "");
}

#[test]
fn a_missing_queue_is_named() {
    let t = ns("missing");
    t.ok(&["create", "here"]);
    let cases: &[&[&str]] = &[
        &["attrs", "nope"],
        &["set-attrs", "nope", "--vt", "5"],
        &["delete-queue", "nope", "--yes"],
        &["send", "nope", "body"],
        &["send", "nope", "--lines"],
        &["receive", "nope"],
        &["receive", "nope", "--wait", "1s"],
        &["pop", "nope"],
        &["peek", "nope"],
        &["purge", "nope", "--yes"],
        &["delete", "nope", "hoo7s1ii2exBWffkS6Zttf1FigUIEyQD"],
        &[
            "visibility",
            "nope",
            "hoo7s1ii2exBWffkS6Zttf1FigUIEyQD",
            "5",
        ],
        &["move", "nope", "hoo7s1ii2exBWffkS6Zttf1FigUIEyQD", "here"],
        &["move", "here", "hoo7s1ii2exBWffkS6Zttf1FigUIEyQD", "nope"],
        &["redrive", "nope", "here"],
        &["redrive", "here", "nope"],
        &["tail", "nope"],
        &["browse", "nope"],
        &["browse", "nope", "--all"],
        &["show", "nope", "hoo7s1ii2exBWffkS6Zttf1FigUIEyQD"],
    ];
    for args in cases {
        let e = t.fails(args);
        assert!(
            e.contains("`nope`") && e.contains("not found"),
            "{args:?}: {e}"
        );
        assert!(e.contains(&t.ns), "names the namespace: {e}");
    }
}

#[test]
fn an_unreachable_server_is_one_line_without_the_password() {
    let port = dead_port();
    for (url, env_pw) in [
        (format!("redis://:hunter2@127.0.0.1:{port}"), None),
        (format!("redis://user:hunter2@127.0.0.1:{port}/3"), None),
        (format!("127.0.0.1:{port}"), Some("hunter2")),
    ] {
        for args in [&["queues"][..], &["--json", "stats"], &["send", "q", "x"]] {
            let mut cmd = bare();
            cmd.args(["-u", &url]).args(args);
            if let Some(pw) = env_pw {
                cmd.env("RSMQ_PASSWORD", pw);
            }
            let e = one_error(finish(&mut cmd), args);
            assert!(e.contains(&format!("127.0.0.1:{port}")), "{e}");
            assert!(!e.contains("hunter2"), "{e}");
        }
    }
    // The same from RSMQ_URL.
    let mut cmd = bare();
    cmd.env("RSMQ_URL", format!("redis://:hunter2@127.0.0.1:{port}"))
        .arg("queues");
    let e = one_error(finish(&mut cmd), &[]);
    assert!(
        e.contains(&format!("127.0.0.1:{port}")) && !e.contains("hunter2"),
        "{e}"
    );
    // A bad URL: a usage error that does not repeat it.
    let o = finish(bare().args(["-u", "redis://:hunter2@127.0.0.1:1/?bogus=1", "queues"]));
    assert_eq!(o.status, 2);
    assert!(!o.stderr.contains("hunter2"), "{}", o.stderr);
    // --help shows no value of RSMQ_URL.
    let o = finish(bare().env("RSMQ_URL", "redis://:hunter2@x:1").arg("--help"));
    assert_eq!(o.status, 0);
    assert!(!o.stdout.contains("hunter2"));
}

#[test]
fn password_from_the_environment_or_the_url() {
    let server =
        common::start_server(&["--requirepass", "s3cret"]).unwrap_or_else(|e| panic!("{e}"));
    let host = format!("127.0.0.1:{}", server.port);
    let ns = common::namespace("auth");
    let run = |url: String, pw: Option<&str>| {
        let mut cmd = bare();
        cmd.args(["-u", &url, "--ns", &ns, "--json", "queues"]);
        if let Some(pw) = pw {
            cmd.env("RSMQ_PASSWORD", pw);
        }
        finish(&mut cmd)
    };
    let o = run(format!("redis://{host}"), Some("s3cret"));
    assert_eq!((o.status, o.stdout.as_str()), (0, "[]\n"), "{}", o.stderr);
    let o = run(format!("redis://:s3cret@{host}"), None);
    assert_eq!(o.status, 0, "{}", o.stderr);
    // The URL's password wins over RSMQ_PASSWORD.
    let o = run(format!("redis://:s3cret@{host}"), Some("wrong"));
    assert_eq!(o.status, 0, "{}", o.stderr);
    for (url, pw) in [
        (format!("redis://{host}"), Some("wrong-pw")),
        (format!("redis://{host}"), None),
    ] {
        let e = one_error(run(url, pw), &[]);
        assert!(e.contains(&host) && !e.contains("wrong-pw"), "{e}");
    }
}

#[test]
fn namespace_from_the_flag_the_environment_or_the_url() {
    let t = ns("nsflag");
    t.ok(&["create", "q"]);
    let url = common::server().url();
    let o = finish(bare().env("RSMQ_NS", &t.ns).args(["-u", &url, "queues"]));
    assert_eq!(o.stdout, "q\n", "{}", o.stderr);
    let o = finish(bare().args(["-u", &format!("{url}?ns={}", t.ns), "queues"]));
    assert_eq!(o.stdout, "q\n", "{}", o.stderr);
    let o = finish(bare().args([
        "-u",
        &url,
        "--ns",
        &format!("{}-other", t.ns),
        "--json",
        "queues",
    ]));
    assert_eq!(o.stdout, "[]\n", "{}", o.stderr);
}

#[test]
fn usage_help_and_completions() {
    let o = finish(bare().arg("--help"));
    assert_eq!(o.status, 0);
    for command in [
        "queues",
        "create",
        "attrs",
        "set-attrs",
        "delete-queue",
        "send",
        "receive",
        "pop",
        "delete",
        "visibility",
        "move",
        "peek",
        "redrive",
        "purge",
        "stats",
        "tail",
        "browse",
        "show",
        "workers",
        "completions",
    ] {
        assert!(
            o.stdout.contains(&format!("\n  {command} ")),
            "{command} in --help"
        );
        let h = finish(bare().args([command, "--help"]));
        assert_eq!(h.status, 0, "{command} --help");
        assert!(
            h.stdout.contains("Example"),
            "{command} --help has an example"
        );
    }
    let o = finish(bare().args(["completions", "bash"]));
    assert_eq!(o.status, 0);
    assert!(o.stdout.contains("rsmq") && o.stdout.contains("redrive"));
    for bad in [
        &["receive", "q", "--wait", "5x"][..],
        &["create", "q", "--vt", "-3"],
        &["peek", "q", "-n", "0"],
        &["browse", "q", "--limit", "0"],
        &["browse", "q", "--limit", "1001"],
        &["browse", "q", "--cursor", "-1"],
        &["browse", "q", "--all", "--limit", "5"],
        &["show", "q"],
        &["set-attrs", "q"],
        &["frobnicate"],
        &[],
    ] {
        let o = finish(bare().args(["-u", "redis://127.0.0.1:1"]).args(bad));
        assert_eq!(o.status, 2, "{bad:?}: {}", o.stderr);
        assert!(!o.stderr.contains("panicked"));
    }
}

// ---- interop with the JavaScript rsmq 0.12.4

fn js_modules() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/interop/js/node_modules")
}

/// Whether the JS peer is installed. On CI a missing peer fails; elsewhere the test says
/// that it is skipped and passes.
fn js_available() -> bool {
    if rsmq_async::RsmqOptions::default().score_unit != rsmq_async::ScoreUnit::Millis {
        // Built with the library's `break-js-comp` (as under --all-features): the JS client
        // cannot read what this build writes.
        return false;
    }
    if js_modules().join("rsmq/package.json").is_file() {
        return true;
    }
    let msg = "the JavaScript interop peer is not installed: run tests/interop/setup.sh";
    if std::env::var("CI").is_ok_and(|v| v.eq_ignore_ascii_case("true") || v == "1") {
        panic!("{msg}");
    }
    let current = std::thread::current();
    let _ = writeln!(
        std::io::stderr(),
        "SKIPPED {}: {msg}",
        current.name().unwrap_or("an interop test")
    );
    false
}

/// Runs `body` in node with `rsmq` (a RedisSMQ on the test's namespace) defined; `body`
/// prints its answer with `done(value)`.
fn js(t: &Ns, body: &str) -> Value {
    let server = common::server();
    let script = format!(
        r#"const RedisSMQ = require("rsmq");
const rsmq = new RedisSMQ({{ host: {host:?}, port: {port}, ns: {ns:?} }});
const done = (v) => {{ process.stdout.write(JSON.stringify(v === undefined ? null : v) + "\n", () => process.exit(0)); }};
const fail = (e) => {{ process.stderr.write(String(e && e.message || e) + "\n"); process.exit(1); }};
(async () => {{ {body} }})().catch(fail);"#,
        host = server.host,
        port = server.port,
        ns = t.ns,
    );
    let out = StdCommand::new("node")
        .arg("-e")
        .arg(script)
        .env("NODE_PATH", js_modules())
        .output()
        .expect("run node");
    assert!(
        out.status.success(),
        "node failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("JSON from node")
}

#[test]
fn js_receives_what_rsmq_sends() {
    if !js_available() {
        return;
    }
    let t = ns("js-recv");
    t.ok(&["create", "q"]);
    let body = "héllo ✓ {\"n\":1}";
    let id = t.ok(&["send", "q", body]).trim().to_string();
    let ids_sent: Vec<String> = t
        .ok_in(&["send", "q", "--lines"], "two\nthree\n")
        .lines()
        .map(String::from)
        .collect();
    let got = js(
        &t,
        r#"const out = [];
        for (let i = 0; i < 3; i++) out.push(await rsmq.receiveMessageAsync({ qname: "q" }));
        done(out);"#,
    );
    let got = got.as_array().unwrap();
    assert_eq!(got[0]["id"], json!(id));
    assert_eq!(got[0]["message"], json!(body));
    assert_eq!(got[0]["rc"], json!(1));
    assert_eq!(got[1]["id"], json!(ids_sent[0]));
    assert_eq!(got[1]["message"], json!("two"));
    assert_eq!(got[2]["message"], json!("three"));
    // And JS sees the queue the CLI made as the CLI set it.
    t.ok(&["set-attrs", "q", "--vt", "2m", "--maxsize", "2048"]);
    let a = js(
        &t,
        r#"done(await rsmq.getQueueAttributesAsync({ qname: "q" }));"#,
    );
    assert_eq!(
        (&a["vt"], &a["maxsize"], &a["totalrecv"]),
        (&json!(120), &json!(2048), &json!(3))
    );
}

#[test]
fn rsmq_receives_what_js_sends() {
    if !js_available() {
        return;
    }
    let t = ns("js-send");
    js(
        &t,
        r#"done(await rsmq.createQueueAsync({ qname: "q", vt: 90 }));"#,
    );
    assert_eq!(t.json(&["queues"]), json!(["q"]));
    assert_eq!(t.json(&["attrs", "q"])["vt"], json!(90));
    let body = "from JS: héllo ✓";
    let sent = js(
        &t,
        &format!(
            r#"const a = await rsmq.sendMessageAsync({{ qname: "q", message: {body:?} }});
            const b = await rsmq.sendMessageAsync({{ qname: "q", message: "second" }});
            done([a, b]);"#
        ),
    );
    let peeked = t.json(&["peek", "q"]);
    assert_eq!(
        ids(&peeked),
        [sent[0].as_str().unwrap(), sent[1].as_str().unwrap()]
    );
    let got = t.json(&["receive", "q"]);
    assert_eq!(got[0]["id"], sent[0]);
    assert_eq!(got[0]["message"], json!(body));
    assert_eq!(got[0]["rc"], json!(1));
    let human = t.ok(&["pop", "q"]);
    assert_eq!(human, format!("{}\tsecond\n", sent[1].as_str().unwrap()));
    // JS sees the receive the CLI made.
    let a = js(
        &t,
        r#"done(await rsmq.getQueueAttributesAsync({ qname: "q" }));"#,
    );
    assert_eq!((&a["totalrecv"], &a["msgs"]), (&json!(2), &json!(1)));
}

#[test]
fn tail_wakes_on_realtime_notifications() {
    let t = ns("tail-rt");
    t.ok(&["create", "q"]);
    // Looks only once an hour by itself: what it prints, a notification woke it for.
    let mut child = t
        .spawn(&["tail", "q", "--interval", "1h"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .stdin(Stdio::null())
        .spawn()
        .unwrap();
    let mut err = BufReader::new(child.stderr.take().unwrap());
    let mut said = String::new();
    err.read_line(&mut said).unwrap();
    assert!(said.contains("waiting"), "{said}");
    let rx = lines_of(&mut child);
    let _running = Running(child);
    let realtime = format!("{}?realtime=true", t.url);
    let o = finish(bare().args(["-u", &realtime, "--ns", &t.ns, "send", "q", "ping"]));
    assert_eq!(o.status, 0, "{}", o.stderr);
    let line = rx
        .recv_timeout(Duration::from_secs(10))
        .expect("tail printed the notified message");
    assert_eq!(line, format!("{}\tping", o.stdout.trim()));
}

#[test]
fn tls_with_a_private_ca() {
    use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair};
    let dir = std::env::temp_dir().join(format!("rsmq-cli-tls-{}", common::namespace("tls")));
    std::fs::create_dir_all(&dir).unwrap();
    let ca_key = KeyPair::generate().unwrap();
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name
        .push(DnType::CommonName, "rsmq-cli test CA");
    let ca_cert = ca.self_signed(&ca_key).unwrap();
    let key = KeyPair::generate().unwrap();
    let mut leaf = CertificateParams::new(vec!["localhost".to_string()]).unwrap();
    leaf.distinguished_name
        .push(DnType::CommonName, "localhost");
    let cert = leaf.signed_by(&key, &ca_cert, &ca_key).unwrap();
    let file = |name: &str, text: String| {
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        path.to_string_lossy().into_owned()
    };
    let ca_pem = file("ca.pem", ca_cert.pem());
    let tls_port = common::free_port();
    let server = common::start_server(&[
        "--tls-port",
        &tls_port.to_string(),
        "--tls-cert-file",
        &file("server.pem", cert.pem()),
        "--tls-key-file",
        &file("server.key", key.serialize_pem()),
        "--tls-ca-cert-file",
        &ca_pem,
        "--tls-auth-clients",
        "no",
        "--requirepass",
        "tls-pw",
    ])
    .unwrap_or_else(|e| panic!("{e}"));
    let url = format!("rediss://localhost:{tls_port}");
    let ns = common::namespace("tls");
    let run = |args: &[&str]| {
        let mut cmd = bare();
        cmd.env("RSMQ_PASSWORD", "tls-pw")
            .args(["-u", &url, "--ns", &ns])
            .args(args);
        finish(&mut cmd)
    };
    let o = run(&["--cacert", &ca_pem, "create", "q"]);
    assert_eq!(o.status, 0, "{}", o.stderr);
    let o = run(&["--cacert", &ca_pem, "--json", "queues"]);
    assert_eq!(o.stdout, "[\"q\"]\n", "{}", o.stderr);
    // Messages go round over TLS.
    let o = run(&["--cacert", &ca_pem, "send", "q", "over tls"]);
    assert_eq!(o.status, 0, "{}", o.stderr);
    let o = run(&["--cacert", &ca_pem, "pop", "q"]);
    assert!(
        o.stdout.ends_with("\tover tls\n"),
        "{:?} {}",
        o.stdout,
        o.stderr
    );
    // Without the CA, the server is not trusted: one line naming the address.
    let e = one_error(run(&["queues"]), &["queues"]);
    assert!(
        e.contains(&format!("localhost:{tls_port}")) && !e.contains("tls-pw"),
        "{e}"
    );
    let e = one_error(run(&["--cacert", "/nonexistent/ca.pem", "queues"]), &[]);
    assert!(e.contains("/nonexistent/ca.pem"), "{e}");
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn stats_watch_goes_on_when_the_server_goes_away() {
    let server = common::start_server(&[]).unwrap_or_else(|e| panic!("{e}"));
    let url = server.url();
    let addr = format!("127.0.0.1:{}", server.port);
    let mut child = StdCommand::new(BIN)
        .args(["-u", &url, "--ns", &common::namespace("watch-lost")])
        .args(["--json", "stats", "--watch", "--interval", "0.2s"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .stdin(Stdio::null())
        .spawn()
        .unwrap();
    let err = child.stderr.take().unwrap();
    let rx = lines_of(&mut child);
    let mut running = Running(child);
    assert_eq!(rx.recv_timeout(Duration::from_secs(10)).unwrap(), "[]");
    drop(server);
    let mut err = BufReader::new(err);
    let mut line = String::new();
    err.read_line(&mut line).unwrap();
    assert!(line.contains("retrying") && line.contains(&addr), "{line}");
    assert!(!line.contains("panicked"), "{line}");
    assert!(running.0.try_wait().unwrap().is_none(), "still watching");
}

// ---------------------------------------------------------------------------------------
// Redis Cluster (--cluster)
// ---------------------------------------------------------------------------------------

#[test]
fn cluster_needs_a_hash_tagged_namespace() {
    let o = finish(bare().args([
        "--cluster",
        "127.0.0.1:1,127.0.0.1:2",
        "--ns",
        "plain",
        "queues",
    ]));
    let line = one_error(o, &["--cluster"]);
    assert!(
        line.contains("hash tag") && line.contains("{plain}"),
        "{line}"
    );
}

/// Three masters with a replica each, on free ports; the servers die with the test binary.
fn cluster() -> Vec<common::Server> {
    let nodes: Vec<common::Server> = (0..6)
        .map(|i| {
            let name = format!(
                "rsmq-cli-test-{}-{i}-{}",
                std::process::id(),
                fastrand::u64(..)
            );
            let (conf, rdb, bus) = (
                format!("{name}.conf"),
                format!("{name}.rdb"),
                common::free_port().to_string(),
            );
            common::start_server(&[
                "--cluster-enabled",
                "yes",
                "--cluster-port",
                &bus,
                "--cluster-config-file",
                &conf,
                "--dbfilename",
                &rdb,
                "--cluster-node-timeout",
                "1000",
            ])
            .unwrap_or_else(|e| panic!("{e}"))
        })
        .collect();
    let addrs: Vec<String> = nodes
        .iter()
        .map(|n| format!("127.0.0.1:{}", n.port))
        .collect();
    let out = StdCommand::new("redis-cli")
        .args(["--cluster", "create"])
        .args(&addrs)
        .args(["--cluster-replicas", "1", "--cluster-yes"])
        .output()
        .expect("redis-cli runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    while !nodes.iter().all(|n| {
        let out = StdCommand::new("redis-cli")
            .args(["-p", &n.port.to_string(), "cluster", "info"])
            .output()
            .expect("redis-cli runs");
        String::from_utf8_lossy(&out.stdout).contains("cluster_state:ok")
    }) {
        assert!(Instant::now() < deadline, "the cluster did not become ok");
        std::thread::sleep(Duration::from_millis(100));
    }
    nodes
}

#[test]
fn every_command_reaches_a_cluster_through_its_nodes() {
    let nodes = cluster();
    let list: Vec<String> = nodes
        .iter()
        .map(|n| format!("127.0.0.1:{}", n.port))
        .collect();
    let list = list.join(",");
    let space = format!("{{{}}}", common::namespace("cluster"));
    let run = |args: &[&str]| {
        let mut cmd = bare();
        cmd.args(["--cluster", &list, "--ns", &space]).args(args);
        let o = finish(&mut cmd);
        assert_eq!(o.status, 0, "rsmq {args:?}: {}", o.stderr);
        o.stdout
    };
    run(&["create", "jobs"]);
    assert_eq!(run(&["queues"]).trim(), "jobs");
    let id = run(&["send", "jobs", "on a cluster"]).trim().to_string();
    let got: Value = serde_json::from_str(run(&["--json", "receive", "jobs"]).trim()).unwrap();
    assert_eq!(got[0]["id"], json!(id));
    assert_eq!(got[0]["message"], json!("on a cluster"));
    run(&["delete", "jobs", &id]);
    assert!(run(&["stats"]).contains("jobs"));
    run(&["delete-queue", "jobs", "--yes"]);
}

#[test]
fn sentinel_needs_a_master_name_and_names_the_sentinels_it_cannot_reach() {
    let o = finish(bare().args(["--sentinel", "127.0.0.1:1", "queues"]));
    assert_eq!(o.status, 2, "{}", o.stderr);
    assert!(o.stderr.contains("--master"), "{}", o.stderr);
    let o = finish(bare().args([
        "-u",
        "redis://:hunter2@127.0.0.1:6379",
        "--sentinel",
        "127.0.0.1:1",
        "--master",
        "mymaster",
        "queues",
    ]));
    let line = one_error(o, &["--sentinel"]);
    assert!(
        line.contains("127.0.0.1:1") && !line.contains("hunter2"),
        "{line}"
    );
}

// ---------------------------------------------------------------------------------------
// serve: the HTTP API
// ---------------------------------------------------------------------------------------

#[test]
fn serve_refuses_an_open_address_without_a_token() {
    let o = finish(
        bare()
            .args(["serve", "--bind", "0.0.0.0:0"])
            .env_remove("RSMQ_TOKEN")
            .env_remove("RSMQ_BASIC"),
    );
    assert_eq!(o.status, 2, "{}", o.stderr);
    assert_eq!(o.stderr.lines().count(), 1, "{}", o.stderr);
    assert!(
        o.stderr.contains("0.0.0.0:0") && o.stderr.contains("--token"),
        "{}",
        o.stderr
    );
}

/// One HTTP/1.1 request to `port`; the whole answer.
fn http_answer(port: u16, request: &str) -> String {
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect");
    stream.write_all(request.as_bytes()).expect("send");
    let mut answer = String::new();
    std::io::Read::read_to_string(&mut stream, &mut answer).expect("read");
    answer
}

/// One HTTP/1.1 request to `port`; the status code and the body.
fn http(port: u16, request: &str) -> (u16, String) {
    let answer = http_answer(port, request);
    let status = answer
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("an HTTP answer: {answer:?}"));
    let body = answer.split("\r\n\r\n").nth(1).unwrap_or("").to_string();
    (status, body)
}

/// `rsmq serve` on a free port, with `args`; killed on drop.
struct Serving(Child, u16);

impl Drop for Serving {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn serving(t: &Ns, args: &[&str]) -> Serving {
    serving_on(t, "127.0.0.1", args)
}

/// `rsmq serve` on a free port of `host`, with `args`.
fn serving_on(t: &Ns, host: &str, args: &[&str]) -> Serving {
    let port = common::free_port();
    let bind = format!("{host}:{port}");
    let mut all = vec!["serve", "--bind", bind.as_str()];
    all.extend_from_slice(args);
    let mut child = t
        .spawn(&all)
        .env_remove("RSMQ_TOKEN")
        .env_remove("RSMQ_BASIC")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn rsmq serve");
    let mut lines = BufReader::new(child.stderr.take().expect("stderr")).lines();
    let first = lines.next().expect("a line").expect("UTF-8");
    assert!(first.contains(&format!("http://{bind}")), "{first}");
    Serving(child, port)
}

#[test]
fn serve_answers_http_requests_with_the_api() {
    let t = ns("serve");
    t.ok(&["create", "jobs"]);
    let s = serving(&t, &[]);
    let (status, body) = http(
        s.1,
        "GET /queues HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(status, 200, "{body}");
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["queues"], json!(["jobs"]));
    let json_body = r#"{"message":"web"}"#;
    let post = format!(
        "POST /messages/jobs HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{json_body}",
        json_body.len()
    );
    let (status, body) = http(s.1, &post);
    assert_eq!(status, 200, "{body}");
    let id = serde_json::from_str::<Value>(&body).unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let got = t.json(&["receive", "jobs"]);
    assert_eq!(got[0]["id"], json!(id));
    assert_eq!(got[0]["message"], json!("web"));
}

#[test]
fn serve_read_only_with_a_token() {
    let t = ns("serve-ro");
    t.ok(&["create", "jobs"]);
    let s = serving(&t, &["--read-only", "--token", "s3cret"]);
    let (status, _) = http(
        s.1,
        "GET /queues HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(status, 401);
    let (status, body) = http(
        s.1,
        "GET /queues HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer s3cret\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(status, 200, "{body}");
    let (status, _) = http(
        s.1,
        "DELETE /queues/jobs HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer s3cret\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(status, 403);
    assert_eq!(t.ok(&["queues"]).trim(), "jobs");
    // A browser gets the sign-in form, and the token opens a session that reads.
    let (status, body) = http(
        s.1,
        "GET / HTTP/1.1\r\nHost: x\r\nAccept: text/html\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(status, 401);
    assert!(body.contains(r#"name="token""#), "{body}");
    let answer = http_answer(
        s.1,
        "POST /login HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n\
         Content-Length: 12\r\nConnection: close\r\n\r\ntoken=s3cret",
    );
    assert!(answer.starts_with("HTTP/1.1 303"), "{answer}");
    let cookie = answer
        .lines()
        .find_map(|l| l.strip_prefix("set-cookie: "))
        .and_then(|c| c.split(';').next())
        .unwrap_or_else(|| panic!("a cookie: {answer}"));
    let (status, body) = http(
        s.1,
        &format!("GET / HTTP/1.1\r\nHost: x\r\nCookie: {cookie}\r\nConnection: close\r\n\r\n"),
    );
    assert_eq!(status, 200);
    assert!(body.contains("data-queue=\"jobs\""), "{body}");
}

#[test]
fn serve_with_basic_auth_on_an_open_address() {
    let t = ns("serve-basic");
    t.ok(&["create", "jobs"]);
    let s = serving_on(&t, "0.0.0.0", &["--basic", "admin:s3cret"]);
    let answer = http_answer(
        s.1,
        "GET /queues HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    assert!(answer.starts_with("HTTP/1.1 401"), "{answer}");
    assert!(
        answer
            .to_ascii_lowercase()
            .contains("www-authenticate: basic realm=\"rsmq\", charset=\"utf-8\""),
        "{answer}"
    );
    // base64 of admin:s3cret
    let (status, body) = http(
        s.1,
        "GET /queues HTTP/1.1\r\nHost: x\r\nAuthorization: Basic YWRtaW46czNjcmV0\r\n\
         Connection: close\r\n\r\n",
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap()["queues"],
        json!(["jobs"])
    );
    // A change from a browser without the page's CSRF token is refused.
    let (status, body) = http(
        s.1,
        "DELETE /queues/jobs HTTP/1.1\r\nHost: x\r\nAuthorization: Basic YWRtaW46czNjcmV0\r\n\
         Sec-Fetch-Site: same-origin\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(status, 403, "{body}");
    assert_eq!(t.ok(&["queues"]).trim(), "jobs");
    // From the environment too.
    drop(s);
    let port = common::free_port();
    let bind = format!("0.0.0.0:{port}");
    let mut child = t
        .spawn(&["serve", "--bind", &bind])
        .env_remove("RSMQ_TOKEN")
        .env("RSMQ_BASIC", "admin:s3cret")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn rsmq serve");
    let mut lines = BufReader::new(child.stderr.take().expect("stderr")).lines();
    let first = lines.next().expect("a line").expect("UTF-8");
    let s = Serving(child, port);
    assert!(first.contains(&bind), "{first}");
    let (status, _) = http(
        s.1,
        "GET /queues HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(status, 401);
    // Every change goes into the audit log on standard error: who, and from where.
    let (status, body) = http(
        s.1,
        "POST /queues/made HTTP/1.1\r\nHost: x\r\nAuthorization: Basic YWRtaW46czNjcmV0\r\n\
         Connection: close\r\n\r\n",
    );
    assert_eq!(status, 200, "{body}");
    let audit = lines.next().expect("an audit line").expect("UTF-8");
    assert!(
        audit.contains(
            "audit: change route=createQueue queue=made auth=basic:admin peer=127.0.0.1:"
        ),
        "{audit}"
    );
    assert!(!audit.contains("s3cret"), "{audit}");
}

#[test]
fn serve_refuses_a_malformed_basic_without_showing_it() {
    for (args, env) in [
        (vec!["--basic", "nocolonsecret"], None),
        (vec!["--basic", ":secretpass"], None),
        (vec!["--basic", "admin:"], None),
        (vec![], Some("nocolonsecret")),
    ] {
        let mut cmd = bare();
        cmd.args(["serve", "--bind", "0.0.0.0:0"])
            .args(&args)
            .env_remove("RSMQ_TOKEN")
            .env_remove("RSMQ_BASIC");
        if let Some(v) = env {
            cmd.env("RSMQ_BASIC", v);
        }
        let o = finish(&mut cmd);
        assert_eq!(o.status, 2, "{args:?}: {}", o.stderr);
        assert_eq!(o.stderr.lines().count(), 1, "{}", o.stderr);
        assert!(o.stderr.contains("--basic"), "{}", o.stderr);
        assert!(
            !o.stderr.contains("secret") && !o.stderr.contains("admin"),
            "{}",
            o.stderr
        );
    }
}
