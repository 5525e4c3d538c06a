//! Redis servers for the tests of the command-line tool and of the HTTP API (`rsmq-web`
//! includes this file), as the root crate's harness does it:
//! - `RSMQ_TEST_REDIS_SERVER`: the `redis-server` binary to start (default: `redis-server`
//!   on `PATH`);
//! - `REDIS_URL` (`redis://host:port/` or `host:port`): the shared server is this running
//!   one instead of a private one. Tests that need a server of their own still start one.
//!
//! A started server listens on 127.0.0.1, on a free port, with no persistence, and dies with
//! the test binary (a shell watchdog kills it when our stdin pipe closes).
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{mpsc, Mutex, OnceLock};
use std::time::{Duration, Instant};

/// A running Redis server.
pub struct Server {
    pub host: String,
    pub port: u16,
    /// Held open for the life of the server; closing it (or our exit) stops the server.
    _watchdog: Option<Mutex<(Child, ChildStdin)>>,
}

impl Server {
    pub fn url(&self) -> String {
        format!("redis://{}:{}/", self.host, self.port)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(w) = self._watchdog.take() {
            let (mut child, stdin) = w.into_inner().unwrap_or_else(|e| e.into_inner());
            drop(stdin);
            let _ = child.wait();
        }
    }
}

static SERVER: OnceLock<Server> = OnceLock::new();

/// The shared server of this test binary.
pub fn server() -> &'static Server {
    SERVER.get_or_init(|| {
        if let Some(url) = std::env::var("REDIS_URL").ok().filter(|u| !u.is_empty()) {
            let rest = url.split_once("://").map_or(url.as_str(), |(_, r)| r);
            let hostport = rest.rsplit_once('@').map_or(rest, |(_, h)| h);
            let hostport = hostport.split(['/', '?']).next().unwrap_or_default();
            let (host, port) = match hostport.rsplit_once(':') {
                Some((h, p)) => (h, p.parse().expect("REDIS_URL: a port number")),
                None => (hostport, 6379),
            };
            return Server {
                host: if host.is_empty() { "127.0.0.1" } else { host }.to_string(),
                port,
                _watchdog: None,
            };
        }
        start_server(&[]).unwrap_or_else(|e| panic!("{e}"))
    })
}

/// A fresh namespace for one test.
pub fn namespace(test: &str) -> String {
    format!("t{}-{}-{}", std::process::id(), test, fastrand::u32(..))
}

fn redis_server_binary() -> String {
    std::env::var("RSMQ_TEST_REDIS_SERVER")
        .ok()
        .filter(|b| !b.is_empty())
        .unwrap_or_else(|| "redis-server".into())
}

/// A port that was free a moment ago.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// Starts a private `redis-server` with extra arguments; it stops when the `Server` is
/// dropped or the test binary exits.
pub fn start_server(extra: &[&str]) -> Result<Server, String> {
    let bin = redis_server_binary();
    let mut last = String::new();
    for _ in 0..5 {
        let port = free_port();
        let mut child = Command::new("sh")
            .arg("-c")
            .arg(
                r#"exec 3<&0; "$0" "$@" & p=$!; (cat <&3 >/dev/null; kill $p 2>/dev/null) &
                wait $p; echo "rsmq-test: redis-server exited with status $?""#,
            )
            .arg(&bin)
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .arg("--dir")
            .arg(std::env::temp_dir())
            .args(extra)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot run sh: {e}"))?;
        let stdin = child.stdin.take().expect("piped stdin");
        let out = child.stdout.take().expect("piped stdout");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines() {
                let Ok(line) = line else { break };
                let _ = tx.send(line);
            }
        });
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut log = String::new();
        let ready = loop {
            match rx.recv_timeout(Duration::from_millis(50)) {
                Ok(line) if line.contains("Ready to accept connections") => break true,
                Ok(line) => {
                    let exited = line.starts_with("rsmq-test: redis-server exited");
                    log.push_str(&line);
                    log.push('\n');
                    if exited {
                        break false;
                    }
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => break false,
                Err(mpsc::RecvTimeoutError::Timeout) => {}
            }
            if Instant::now() > deadline {
                break false;
            }
        };
        if ready {
            return Ok(Server {
                host: "127.0.0.1".into(),
                port,
                _watchdog: Some(Mutex::new((child, stdin))),
            });
        }
        drop(stdin);
        let _ = child.kill();
        let _ = child.wait();
        if !log.contains("Address already in use") {
            return Err(format!(
                "`{bin}` did not start (install Redis, or set RSMQ_TEST_REDIS_SERVER or \
                 REDIS_URL):\n{log}"
            ));
        }
        last = log;
    }
    Err(format!("redis-server found no free port:\n{last}"))
}
