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
    let out = Command::new("redis-cli")
        .args(["-p", &port.to_string()])
        .args(args)
        .output()
        .expect("redis-cli (Debian: apt-get install redis-tools) runs");
    String::from_utf8_lossy(&out.stdout).into_owned()
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
            if let Some(m) = master_port {
                conf.push_str(&format!(
                    "sentinel monitor {MASTER} 127.0.0.1 {m} 2\n\
                     sentinel down-after-milliseconds {MASTER} 1000\n\
                     sentinel failover-timeout {MASTER} 3000\n\
                     sentinel parallel-syncs {MASTER} 2\n"
                ));
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
                if cli(port, &["ping"]).trim() == "PONG" && s.is_ours() {
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
    fn is_ours(&self) -> bool {
        std::fs::read_to_string(self.dir.join("log"))
            .is_ok_and(|log| log.contains(&format!("pid={}", self.child.id())))
            && cli(self.port, &["role"]).starts_with("sentinel")
    }

    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }
}

impl Drop for SentinelServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// One master, two replicas, three sentinels.
pub struct Deployment {
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
        let args = data_node_args();
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let master = OwnedServer::start(&args);
        let port = master.port.to_string();
        let mut nodes = vec![master];
        for _ in 0..2 {
            let mut args = data_node_args().to_vec();
            args.extend(["--replicaof".into(), "127.0.0.1".into(), port.clone()]);
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            nodes.push(OwnedServer::start(&args));
        }
        let sentinels: Vec<SentinelServer> = (0..3)
            .map(|_| SentinelServer::start(Some(nodes[0].port)))
            .collect();
        let d = Deployment { nodes, sentinels };
        d.wait_ready();
        d
    }

    /// Waits until every sentinel knows both replicas and both other sentinels, and both
    /// replicas are in sync.
    fn wait_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let sentinels_ok = self.sentinels.iter().all(|s| {
                let info = cli(s.port, &["sentinel", "master", MASTER]);
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
            let replicas_ok = self.nodes[1..]
                .iter()
                .all(|n| cli(n.port, &["info", "replication"]).contains("master_link_status:up"));
            if sentinels_ok && replicas_ok {
                return;
            }
            assert!(Instant::now() < deadline, "the sentinels did not get ready");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn sentinel_addrs(&self) -> Vec<String> {
        self.sentinels.iter().map(SentinelServer::addr).collect()
    }

    /// The master's port as the first sentinel that answers says.
    pub fn master_port(&self) -> u16 {
        for s in &self.sentinels {
            let out = cli(s.port, &["sentinel", "get-master-addr-by-name", MASTER]);
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
        cli(port, &["zrange", &format!("{ns}:{qname}"), "0", "-1"])
            .lines()
            .filter(|l| !l.is_empty())
            .map(String::from)
            .collect()
    }
}
