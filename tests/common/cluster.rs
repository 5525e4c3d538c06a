//! Redis Cluster on loopback for the tests: three masters with a replica each, on free
//! ports, made with `redis-cli --cluster create`. [`Cluster::start`] gives a test a cluster
//! of its own whose nodes it may kill (all killed and removed on drop, failed test or not);
//! [`shared`] is one per test binary, for the behaviour suites (its nodes die with the
//! binary, like the shared server's).

use std::process::Command;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use super::{free_port, start_server, OwnedServer, Server};

/// The arguments that make a node of a test cluster: the bus on a free port of its own, and
/// a cluster state file and an RDB file (where a replica writes what it syncs) of its own,
/// so that nodes may share a directory.
fn new_node_args() -> [String; 14] {
    let bus = free_port().to_string();
    let name = format!(
        "rsmq-test-node-{}-{}",
        std::process::id(),
        fastrand::u64(..)
    );
    [
        "--cluster-enabled",
        "yes",
        "--cluster-port",
        &bus,
        "--cluster-config-file",
        &format!("{name}.conf"),
        "--dbfilename",
        &format!("{name}.rdb"),
        "--cluster-node-timeout",
        "1000",
        "--appendonly",
        "no",
        // Replicas sync at once (Redis waits 5 s by default for more replicas to join).
        "--repl-diskless-sync-delay",
        "0",
    ]
    .map(String::from)
}

fn cli(port: u16, args: &[&str]) -> String {
    let out = Command::new("redis-cli")
        .args(["-p", &port.to_string()])
        .args(args)
        .output()
        .expect("redis-cli runs");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Joins six fresh nodes into a cluster and waits until it is ok.
fn create(ports: &[u16]) {
    let addrs: Vec<String> = ports.iter().map(|p| format!("127.0.0.1:{p}")).collect();
    let out = Command::new("redis-cli")
        .args(["--cluster", "create"])
        .args(&addrs)
        .args(["--cluster-replicas", "1", "--cluster-yes"])
        .output()
        .expect("redis-cli (Debian: apt-get install redis-tools) runs");
    assert!(
        out.status.success(),
        "redis-cli --cluster create failed:\n{}",
        String::from_utf8_lossy(&out.stdout)
    );
    wait_ok(ports);
}

/// Waits until every node says the cluster is ok and knows three working masters, and
/// every master has its replica online.
fn wait_ok(ports: &[u16]) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let ok = ports.iter().all(|&p| {
            let info = cli(p, &["cluster", "info"]);
            let nodes = cli(p, &["cluster", "nodes"]);
            let replication = cli(p, &["info", "replication"]);
            let synced = replication.contains("role:slave")
                || (replication.contains("connected_slaves:1")
                    && replication.contains("state=online"));
            info.contains("cluster_state:ok")
                && synced
                && nodes
                    .lines()
                    .filter(|l| l.contains("master") && !l.contains("fail"))
                    .count()
                    == 3
        });
        if ok {
            return;
        }
        assert!(Instant::now() < deadline, "the cluster did not become ok");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn port_of(addr: &str) -> u16 {
    addr.trim_end_matches('/')
        .rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .expect("host:port")
}

/// The cluster of this test binary's behaviour suites.
pub struct Shared {
    nodes: Vec<Server>,
}

impl Shared {
    pub fn urls(&self) -> Vec<String> {
        self.nodes.iter().map(Server::url).collect()
    }
}

static SHARED: OnceLock<Shared> = OnceLock::new();

/// The shared cluster, started on first use.
pub fn shared() -> &'static Shared {
    SHARED.get_or_init(|| {
        let nodes: Vec<Server> = (0..6)
            .map(|_| {
                let args = new_node_args();
                let args: Vec<&str> = args.iter().map(String::as_str).collect();
                start_server(&args).unwrap_or_else(|e| panic!("{e}"))
            })
            .collect();
        create(&nodes.iter().map(|n| n.port).collect::<Vec<_>>());
        Shared { nodes }
    })
}

/// A cluster of a test's own.
pub struct Cluster {
    nodes: Vec<OwnedServer>,
}

impl Cluster {
    pub fn start() -> Cluster {
        let nodes: Vec<OwnedServer> = (0..6)
            .map(|_| {
                let args = new_node_args();
                let args: Vec<&str> = args.iter().map(String::as_str).collect();
                OwnedServer::start(&args)
            })
            .collect();
        create(&nodes.iter().map(|n| n.port).collect::<Vec<_>>());
        Cluster { nodes }
    }

    pub fn urls(&self) -> Vec<String> {
        self.nodes.iter().map(|n| n.url()).collect()
    }

    pub fn cli(&self, port: u16, args: &[&str]) -> String {
        cli(port, args)
    }

    /// The node listening on `addr` (`host:port`).
    pub fn node(&mut self, addr: &str) -> &mut OwnedServer {
        let port = port_of(addr);
        self.nodes
            .iter_mut()
            .find(|n| n.port == port)
            .expect("a node of the cluster")
    }

    /// The port of the replica of the master at `addr`.
    pub fn replica_of(&self, addr: &str) -> u16 {
        let nodes = cli(port_of(addr), &["cluster", "nodes"]);
        let id = nodes
            .lines()
            .find(|l| l.contains("myself"))
            .and_then(|l| l.split(' ').next())
            .expect("a myself line")
            .to_string();
        let replica = nodes
            .lines()
            .find(|l| l.split(' ').nth(3) == Some(id.as_str()) && l.contains("slave"))
            .expect("the master has a replica");
        let addr = replica.split(' ').nth(1).expect("an address");
        port_of(addr.split('@').next().expect("host:port"))
    }

    /// Every key of the namespace on every running master, with the master's port.
    pub fn keys(&self, ns: &str) -> Vec<(u16, String)> {
        let mut out = Vec::new();
        for n in self.nodes.iter().filter(|n| n.running()) {
            if !cli(n.port, &["role"]).starts_with("master") {
                continue;
            }
            for k in cli(n.port, &["--raw", "keys", &format!("{ns}*")]).lines() {
                if !k.is_empty() {
                    out.push((n.port, k.to_string()));
                }
            }
        }
        out.sort();
        out
    }
}

tokio::task_local! {
    /// The URL of the master that serves the namespace of the test running on a cluster:
    /// where [`raw`](super::raw) connects, so that snapshots and planted data go there.
    pub static NODE: String;
}

/// A cluster client of the shared cluster in a fresh tagged namespace, and the URL of the
/// master that serves it.
pub async fn client(test: &str) -> (rsmq_async::Rsmq, String, String) {
    let ns = format!("{{{}}}", super::namespace(test));
    let options = rsmq_async::RsmqOptions {
        ns: ns.clone(),
        ..Default::default()
    };
    let rsmq = rsmq_async::Rsmq::new_cluster(shared().urls(), options)
        .await
        .expect("connect to the test cluster");
    let master = rsmq.cluster_master().await.expect("the namespace's master");
    (rsmq, ns, format!("redis://{master}/"))
}
