//! Redis Sentinel on loopback for the tests: one master, two replicas and three sentinels
//! (quorum 2, down after 1 s, failover timeout 3 s), all on free ports, all killed and their
//! directories removed when the [`Deployment`] is dropped, failed test or not.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::{free_port, redis_server_binary, OwnedServer};

/// The master name the sentinels monitor.
pub const MASTER: &str = "mymaster";

pub fn cli(port: u16, args: &[&str]) -> String {
    cli_as(port, None, args)
}

/// `redis-cli` with a password (given through the environment, so never on a command line).
/// Gives up after 3 s (a frozen server answers nothing) and returns what it got.
pub fn cli_as(port: u16, password: Option<&str>, args: &[&str]) -> String {
    let mut cmd = Command::new("redis-cli");
    if let Some(pw) = password {
        cmd.env("REDISCLI_AUTH", pw);
    }
    let mut child = cmd
        .args(["-p", &port.to_string()])
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("redis-cli (Debian: apt-get install redis-tools) runs");
    let mut out = child.stdout.take().expect("piped stdout");
    let reader = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = std::io::Read::read_to_string(&mut out, &mut text);
        text
    });
    let deadline = Instant::now() + Duration::from_secs(3);
    while matches!(child.try_wait(), Ok(None)) {
        if Instant::now() > deadline {
            let _ = child.kill();
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let _ = child.wait();
    reader.join().unwrap_or_default()
}

/// A sentinel process (`redis-server <conf> --sentinel`), killed and removed on drop.
pub struct SentinelServer {
    pub port: u16,
    dir: PathBuf,
    child: Child,
}

impl SentinelServer {
    /// A sentinel monitoring the master on `master_port` (none: monitoring nothing).
    pub fn start(master_port: Option<u16>) -> SentinelServer {
        SentinelServer::start_with(master_port, &Passwords::default())
    }

    /// A sentinel with passwords: its own (`sentinel`), and the data nodes' (`data`).
    pub fn start_with(master_port: Option<u16>, pw: &Passwords) -> SentinelServer {
        for _ in 0..5 {
            let port = free_port();
            let dir = std::env::temp_dir().join(format!(
                "rsmq-test-sentinel-{}-{}",
                std::process::id(),
                fastrand::u64(..)
            ));
            std::fs::create_dir_all(&dir).expect("temp dir");
            let mut conf = format!(
                "port {port}\nbind 127.0.0.1\ndir {}\nlogfile {}\n",
                dir.display(),
                dir.join("log").display()
            );
            if let Some(p) = &pw.sentinel {
                conf.push_str(&format!("requirepass {p}\nsentinel sentinel-pass {p}\n"));
            }
            if let Some(m) = master_port {
                conf.push_str(&format!(
                    "sentinel monitor {MASTER} 127.0.0.1 {m} 2\n\
                     sentinel down-after-milliseconds {MASTER} 1000\n\
                     sentinel failover-timeout {MASTER} 3000\n\
                     sentinel parallel-syncs {MASTER} 2\n"
                ));
                if let Some(p) = &pw.data {
                    conf.push_str(&format!("sentinel auth-pass {MASTER} {p}\n"));
                }
            }
            let file = dir.join("sentinel.conf");
            std::fs::write(&file, conf).expect("write sentinel.conf");
            let child = Command::new(redis_server_binary())
                .arg(&file)
                .arg("--sentinel")
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("redis-server runs");
            let mut s = SentinelServer { port, dir, child };
            let deadline = Instant::now() + Duration::from_secs(10);
            loop {
                if cli_as(port, pw.sentinel.as_deref(), &["ping"]).trim() == "PONG" && s.is_ours(pw)
                {
                    return s;
                }
                if matches!(s.child.try_wait(), Ok(Some(_))) || Instant::now() > deadline {
                    break; // the port was taken, most likely: try another
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        panic!("no sentinel could be started");
    }

    /// Whether the sentinel answering on the port is this one (not someone else's).
    fn is_ours(&self, pw: &Passwords) -> bool {
        std::fs::read_to_string(self.dir.join("log"))
            .is_ok_and(|log| log.contains(&format!("pid={}", self.child.id())))
            && cli_as(self.port, pw.sentinel.as_deref(), &["role"]).starts_with("sentinel")
    }

    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Stops the sentinel with SIGSTOP: it keeps its port (connections are accepted) but
    /// answers nothing, as a hung host would. It is still killed on drop.
    pub fn freeze(&self) {
        let status = Command::new("kill")
            .args(["-STOP", &self.child.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(status.success());
    }
}

impl Drop for SentinelServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The passwords of a deployment: of the data nodes, and of the sentinels.
#[derive(Default, Clone)]
pub struct Passwords {
    pub data: Option<String>,
    pub sentinel: Option<String>,
}

/// One master, two replicas, three sentinels.
pub struct Deployment {
    pub passwords: Passwords,
    /// The data nodes: the first started as the master.
    pub nodes: Vec<OwnedServer>,
    pub sentinels: Vec<SentinelServer>,
}

/// Arguments of every data node: an RDB file of its own (a replica writes what it syncs),
/// and a replica's first sync at once (not after the default 5 s wait for more replicas).
pub fn data_node_args() -> [String; 4] {
    [
        "--dbfilename".into(),
        format!(
            "rsmq-test-sentinel-{}-{}.rdb",
            std::process::id(),
            fastrand::u64(..)
        ),
        "--repl-diskless-sync-delay".into(),
        "0".into(),
    ]
}

impl Deployment {
    pub fn start() -> Deployment {
        Deployment::start_with(Passwords::default())
    }

    pub fn start_with(passwords: Passwords) -> Deployment {
        let mut args = data_node_args().to_vec();
        if let Some(p) = &passwords.data {
            args.extend([
                "--requirepass".into(),
                p.clone(),
                "--masterauth".into(),
                p.clone(),
            ]);
        }
        let data_args = args.clone();
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let master = OwnedServer::start(&args);
        let port = master.port.to_string();
        let mut nodes = vec![master];
        for _ in 0..2 {
            let mut args = data_args.clone();
            args.extend(["--replicaof".into(), "127.0.0.1".into(), port.clone()]);
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            nodes.push(OwnedServer::start(&args));
        }
        let sentinels: Vec<SentinelServer> = (0..3)
            .map(|_| SentinelServer::start_with(Some(nodes[0].port), &passwords))
            .collect();
        let d = Deployment {
            passwords,
            nodes,
            sentinels,
        };
        d.wait_ready();
        d
    }

    /// Waits until every sentinel knows both replicas and both other sentinels, and both
    /// replicas are in sync.
    fn wait_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let sentinels_ok = self.sentinels.iter().all(|s| {
                let info = self.sentinel_cli(s.port, &["sentinel", "master", MASTER]);
                let lines: Vec<&str> = info.lines().collect();
                let field = |name: &str| {
                    lines
                        .iter()
                        .position(|l| *l == name)
                        .and_then(|i| lines.get(i + 1))
                        .map(|v| v.to_string())
                };
                field("num-slaves").as_deref() == Some("2")
                    && field("num-other-sentinels").as_deref() == Some("2")
            });
            let replicas_ok = self.nodes[1..].iter().all(|n| {
                self.cli(n.port, &["info", "replication"])
                    .contains("master_link_status:up")
            });
            if sentinels_ok && replicas_ok {
                return;
            }
            assert!(Instant::now() < deadline, "the sentinels did not get ready");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// `redis-cli` on a data node.
    pub fn cli(&self, port: u16, args: &[&str]) -> String {
        cli_as(port, self.passwords.data.as_deref(), args)
    }

    /// `redis-cli` on a sentinel.
    pub fn sentinel_cli(&self, port: u16, args: &[&str]) -> String {
        cli_as(port, self.passwords.sentinel.as_deref(), args)
    }

    pub fn sentinel_addrs(&self) -> Vec<String> {
        self.sentinels.iter().map(SentinelServer::addr).collect()
    }

    /// The master's port as the first sentinel that answers says.
    pub fn master_port(&self) -> u16 {
        for s in &self.sentinels {
            let out = self.sentinel_cli(s.port, &["sentinel", "get-master-addr-by-name", MASTER]);
            if let Some(port) = out.lines().nth(1).and_then(|p| p.trim().parse().ok()) {
                return port;
            }
        }
        panic!("no sentinel names the master");
    }

    /// The data node on `port`.
    pub fn node(&mut self, port: u16) -> &mut OwnedServer {
        self.nodes
            .iter_mut()
            .find(|n| n.port == port)
            .expect("a data node")
    }

    /// Every message id in the queue `qname` of namespace `ns` on the node on `port`.
    pub fn ids(&self, port: u16, ns: &str, qname: &str) -> Vec<String> {
        self.cli(port, &["zrange", &format!("{ns}:{qname}"), "0", "-1"])
            .lines()
            .filter(|l| !l.is_empty())
            .map(String::from)
            .collect()
    }
}
