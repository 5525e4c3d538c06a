//! The JavaScript `rsmq` 0.12.4 column: `js/rsmq_bench.js`, a child process that stays up
//! for all rounds of a cell (see the protocol at the top of the script).

use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::time::Duration;

use crate::redis_util::Target;
use crate::workload::Op;
use crate::Res;

/// The node script of this crate.
pub fn script() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("js/rsmq_bench.js")
}

/// Where the script loads rsmq from (installed by `tests/interop/setup.sh`).
pub fn module_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/interop/js/node_modules/rsmq")
}

/// Why the JS column cannot run, if it cannot.
pub fn unavailable() -> Option<String> {
    let node = Command::new("node").arg("--version").output();
    match node {
        Ok(o) if o.status.success() => {}
        _ => return Some("`node` is not on PATH".into()),
    }
    let pj = module_dir().join("package.json");
    match std::fs::read_to_string(&pj) {
        Ok(s) if s.contains("\"version\": \"0.12.4\"") => None,
        Ok(_) => Some(format!("{} is not rsmq 0.12.4", pj.display())),
        Err(_) => Some(format!(
            "rsmq is not installed at {} (run tests/interop/setup.sh)",
            module_dir().display()
        )),
    }
}

/// What one timed round reported.
#[derive(Debug, Default)]
pub struct JsRound {
    pub calls: u64,
    pub msgs: u64,
    pub empty: u64,
    pub errors: u64,
    pub first_error: Option<String>,
    pub elapsed_s: f64,
    /// CPU node used in the round, seconds.
    pub cpu_s: f64,
    /// Over every timed call of every round so far.
    pub p50_us: f64,
    pub p99_us: f64,
}

/// A running worker.
pub struct JsWorker {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
}

/// How to start a worker.
pub struct JsSpec<'a> {
    pub target: &'a Target,
    pub ns: &'a str,
    pub qname: &'a str,
    pub op: Op,
    pub size: usize,
    pub conc: usize,
    pub warmup: u64,
    pub duration: Duration,
}

impl JsWorker {
    /// Starts the worker and waits until it has warmed up (blocking).
    pub fn start(s: &JsSpec<'_>) -> Res<JsWorker> {
        let op = match s.op {
            Op::Send => "send",
            Op::RecvDel => "recvdel",
            Op::Pop => "pop",
            other => return Err(format!("the JS client has no {}", other.key()).into()),
        };
        let mut cmd = Command::new("node");
        cmd.arg(script())
            .args(["--host", s.target.host()])
            .args(["--port", &s.target.port().to_string()])
            .args(["--db", &s.target.db().to_string()])
            .args(["--ns", s.ns, "--qname", s.qname, "--op", op])
            .args(["--size", &s.size.to_string()])
            .args(["--conc", &s.conc.to_string()])
            .args(["--warmup", &s.warmup.to_string()])
            .args(["--duration-ms", &s.duration.as_millis().to_string()])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        if let Some(p) = s.target.password() {
            cmd.args(["--password", p]);
        }
        let mut child = cmd.spawn()?;
        let stdin = child.stdin.take().ok_or("no stdin")?;
        let stdout = BufReader::new(child.stdout.take().ok_or("no stdout")?);
        let mut w = JsWorker {
            child,
            stdin,
            stdout,
        };
        w.read()?;
        Ok(w)
    }

    /// The next result line.
    fn read(&mut self) -> Res<serde_json::Value> {
        let mut line = String::new();
        loop {
            line.clear();
            if self.stdout.read_line(&mut line)? == 0 {
                return Err("node exited without a result".into());
            }
            if line.starts_with('{') {
                break;
            }
        }
        let v: serde_json::Value = serde_json::from_str(&line)?;
        if v["ok"] != serde_json::Value::Bool(true) {
            return Err(format!("node: {}", v["error"].as_str().unwrap_or("failed")).into());
        }
        Ok(v)
    }

    /// One timed round of at most `max_calls` calls (blocking).
    pub fn round(&mut self, max_calls: u64) -> Res<JsRound> {
        writeln!(self.stdin, "run {max_calls}")?;
        self.stdin.flush()?;
        let v = self.read()?;
        let u = |k: &str| v[k].as_u64().unwrap_or(0);
        let f = |k: &str| v[k].as_f64().unwrap_or(0.0);
        Ok(JsRound {
            calls: u("calls"),
            msgs: u("msgs"),
            empty: u("empty"),
            errors: u("errors"),
            first_error: v["first_error"].as_str().map(str::to_string),
            elapsed_s: f("elapsed_s"),
            cpu_s: f("cpu_us") / 1e6,
            p50_us: f("p50_us"),
            p99_us: f("p99_us"),
        })
    }

    /// Stops the worker (blocking).
    pub fn quit(mut self) {
        let _ = writeln!(self.stdin, "quit");
        let _ = self.stdin.flush();
        let _ = self.child.wait();
    }
}

impl Drop for JsWorker {
    fn drop(&mut self) {
        // After `quit` this finds the child gone; on an error path it ends the child we
        // started (by its handle, never by name).
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
