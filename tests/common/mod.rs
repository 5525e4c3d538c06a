//! Test harness: one real `redis-server` per test binary, one namespace per test.
//!
//! Two environment variables choose the server:
//! - `RSMQ_TEST_REDIS_SERVER`: the `redis-server` binary the tests start, a path or a name
//!   looked up on `PATH` (default: `redis-server`). Every server the harness starts uses it:
//!   the shared one, [`start_server`] and [`OwnedServer`].
//! - `REDIS_URL` (`redis://host:port/` or `host:port`): the shared server is this running
//!   one instead of a private one. Tests that need a server of their own ([`start_server`],
//!   [`OwnedServer`]) still start it from `RSMQ_TEST_REDIS_SERVER`.
//!
//! `RSMQ_TEST_SERVER_VERSION` (for example `redis-6.2.5` or `valkey-9.1.2`), when set, is
//! the server the suite must find: `operations`' `runs_on_the_server_asked_for` fails on any
//! other (see [`server_version`]). CI's version matrix sets it, so a run that silently used
//! another server cannot pass. `RSMQ_TEST_PROTOCOL=resp3` makes the clients of
//! [`options`] (the behaviour suite's) speak RESP3 instead of RESP2.
//!
//! A started server listens on 127.0.0.1 with no persistence (unless a test asks for it).
//! Its port lies below the range the OS hands out to outgoing connections and `bind(0)`, and
//! a port is handed out once per test binary, so a server that a test kills and restarts
//! finds its port free. The harness waits for the server's own "Ready to accept
//! connections" log line (never a server of someone else that answers on the port). The
//! shared server dies with the test binary (a shell watchdog kills it when our stdin pipe
//! closes).
#![allow(dead_code)]

use std::collections::HashSet;
use std::io::{BufRead, BufReader, Read};
use std::net::TcpListener;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use rsmq_async::{Rsmq, RsmqOptions};

#[cfg(feature = "cluster")]
pub mod cluster;
#[cfg(feature = "sentinel")]
pub mod sentinel;

/// A running Redis server the tests may use.
pub struct Server {
    pub host: String,
    pub port: u16,
    /// Held open for the life of the test binary; closing it stops the server.
    _watchdog: Option<Mutex<(Child, ChildStdin)>>,
}

impl Server {
    pub fn url(&self) -> String {
        format!("redis://{}:{}/", self.host, self.port)
    }
}

static SERVER: OnceLock<Server> = OnceLock::new();

/// The shared server of this test binary.
pub fn server() -> &'static Server {
    SERVER.get_or_init(|| {
        if let Ok(url) = std::env::var("REDIS_URL") {
            let url = if url.contains("://") {
                url
            } else {
                format!("redis://{url}")
            };
            let opts = RsmqOptions::from_url(&url).expect("REDIS_URL is not a redis:// URL");
            return Server {
                host: opts.host,
                port: opts.port,
                _watchdog: None,
            };
        }
        start_server(&[]).unwrap_or_else(|e| panic!("{e}"))
    })
}

/// The `redis-server` binary: `RSMQ_TEST_REDIS_SERVER`, else `redis-server` on `PATH`.
pub fn redis_server_binary() -> String {
    std::env::var("RSMQ_TEST_REDIS_SERVER")
        .ok()
        .filter(|b| !b.is_empty())
        .unwrap_or_else(|| "redis-server".into())
}

/// Why [`redis_server_binary`] cannot run, if it cannot be found.
fn missing_redis() -> Option<String> {
    let bin = redis_server_binary();
    let found = if bin.contains('/') {
        std::path::Path::new(&bin).is_file()
    } else {
        std::env::var_os("PATH")
            .is_some_and(|path| std::env::split_paths(&path).any(|d| d.join(&bin).is_file()))
    };
    (!found).then(|| {
        format!(
            "`{bin}` was not found. Install Redis (Debian/Ubuntu: `apt-get install \
             redis-server`, macOS: `brew install redis`), or set \
             RSMQ_TEST_REDIS_SERVER=/path/to/redis-server, or REDIS_URL=redis://host:port to \
             use a running server for the shared tests."
        )
    })
}

/// How long a server may take to say it is ready (an AOF reload included).
const READY_TIMEOUT: Duration = Duration::from_secs(10);

/// Starts a private `redis-server` with extra arguments (for tests that stop or reconfigure
/// it). It dies when the returned `Server` is dropped or the test binary exits.
pub fn start_server(extra: &[&str]) -> Result<Server, String> {
    if let Some(why) = missing_redis() {
        return Err(why);
    }
    let mut last_err = String::new();
    for _ in 0..5 {
        let port = free_port();
        let mut child = match Command::new("sh")
            .arg("-c")
            // Start redis; a watchdog kills it when our pipe closes (we exited). Say when
            // redis exits, so a failed start is seen at once.
            .arg(
                r#"exec 3<&0; "$0" "$@" 2>&1 & p=$!; (cat <&3 >/dev/null; kill $p 2>/dev/null) &
                wait $p; echo "rsmq-test: redis-server exited with status $?""#,
            )
            .arg(redis_server_binary())
            .args(server_args(port, &std::env::temp_dir()))
            // Never load or write a `dump.rdb` another server left in the shared directory.
            .args([
                "--dbfilename",
                &format!("rsmq-test-{port}-{}.rdb", fastrand::u64(..)),
            ])
            .args(["--appendonly", "no"])
            .args(extra)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
        {
            Ok(c) => c,
            Err(e) => return Err(format!("cannot run sh: {e}")),
        };
        let stdin = child.stdin.take().expect("piped stdin");
        let out = child.stdout.take().expect("piped stdout");
        match wait_ready(out, &mut child) {
            Ready::Yes => {
                return Ok(Server {
                    host: "127.0.0.1".into(),
                    port,
                    _watchdog: Some(Mutex::new((child, stdin))),
                })
            }
            // Another process took the port meanwhile: try another.
            Ready::PortTaken(log) => {
                let _ = child.kill();
                last_err = format!("redis-server did not start on port {port}:\n{log}");
            }
            Ready::No(log) => {
                let _ = child.kill();
                return Err(format!("redis-server did not start:\n{log}"));
            }
        }
    }
    Err(last_err)
}

/// The arguments every started server gets.
fn server_args(port: u16, dir: &std::path::Path) -> Vec<String> {
    let port = port.to_string();
    let dir = dir.to_string_lossy().into_owned();
    [
        "--port",
        &port,
        "--bind",
        "127.0.0.1",
        "--save",
        "",
        "--dir",
        &dir,
    ]
    .map(String::from)
    .to_vec()
}

/// How a server start went.
enum Ready {
    Yes,
    /// Another process listens on the port: try again, later or elsewhere.
    PortTaken(String),
    /// It exited or never got ready; its log so far.
    No(String),
}

/// Waits for the server writing its log to `out` to be ready. Drains `out` in the
/// background for the life of the server, so the server never blocks on a full pipe.
fn wait_ready(out: impl Read + Send + 'static, child: &mut Child) -> Ready {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines() {
            let Ok(line) = line else { break };
            let _ = tx.send(line);
        }
    });
    let deadline = Instant::now() + READY_TIMEOUT;
    let mut log = String::new();
    let mut port_taken = false;
    loop {
        match rx.recv_timeout(Duration::from_millis(20)) {
            Ok(line) => {
                if line.contains("Ready to accept connections") {
                    return Ready::Yes;
                }
                port_taken |= line.contains("Address already in use");
                let exited = line.starts_with("rsmq-test: redis-server exited");
                log.push_str(&line);
                log.push('\n');
                if exited {
                    break;
                }
            }
            Err(RecvTimeoutError::Timeout) => {
                if matches!(child.try_wait(), Ok(Some(_))) || Instant::now() > deadline {
                    break;
                }
            }
            Err(RecvTimeoutError::Disconnected) => break,
        }
    }
    // Whatever else it said before it went.
    while let Ok(line) = rx.recv_timeout(Duration::from_millis(50)) {
        port_taken |= line.contains("Address already in use");
        log.push_str(&line);
        log.push('\n');
    }
    if port_taken {
        Ready::PortTaken(log)
    } else {
        Ready::No(log)
    }
}

/// Ports handed out in this process; each only once.
static PORTS: Mutex<Option<HashSet<u16>>> = Mutex::new(None);

/// A port for a server: free now, never handed out before in this process, and below the
/// range the OS picks ports from for outgoing connections and `bind(0)`.
pub fn free_port() -> u16 {
    let ephemeral_low = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|r| r.split_whitespace().next()?.parse::<u16>().ok())
        .unwrap_or(32768)
        .min(32768);
    let mut ports = PORTS.lock().unwrap_or_else(|e| e.into_inner());
    let ports = ports.get_or_insert_with(HashSet::new);
    if ephemeral_low >= 12_000 {
        for _ in 0..1000 {
            let port = fastrand::u16(10_000..ephemeral_low);
            if ports.insert(port) && TcpListener::bind(("127.0.0.1", port)).is_ok() {
                return port;
            }
        }
    }
    // No room below the ephemeral range: let the OS pick.
    loop {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("no free port");
        if ports.insert(port) {
            return port;
        }
    }
}

/// A fresh namespace for one test.
pub fn namespace(test: &str) -> String {
    format!("t{}-{}-{}", std::process::id(), test, fastrand::u32(..))
}

/// Options for the shared server in a fresh namespace.
pub fn options(test: &str) -> RsmqOptions {
    let s = server();
    RsmqOptions {
        host: s.host.clone(),
        port: s.port,
        ns: namespace(test),
        protocol: protocol(),
        ..Default::default()
    }
}

/// The protocol of the suite's clients: `RSMQ_TEST_PROTOCOL=resp3` for RESP3, else RESP2
/// (the default of [`RsmqOptions`]).
pub fn protocol() -> redis::ProtocolVersion {
    match std::env::var("RSMQ_TEST_PROTOCOL").as_deref() {
        Ok("resp3") => redis::ProtocolVersion::RESP3,
        Ok("" | "resp2") | Err(_) => redis::ProtocolVersion::RESP2,
        Ok(other) => panic!("RSMQ_TEST_PROTOCOL=`{other}` is not resp2 or resp3"),
    }
}

/// A client on the shared server in a fresh namespace.
pub async fn rsmq(test: &str) -> (Rsmq, String) {
    let opts = options(test);
    let ns = opts.ns.clone();
    (
        Rsmq::new(opts).await.expect("connect to the test redis"),
        ns,
    )
}

/// A plain connection for inspecting and planting raw data: to the shared server, or, in a
/// test running on a cluster, to the master of its namespace.
pub async fn raw() -> redis::aio::MultiplexedConnection {
    #[cfg(feature = "cluster")]
    let url = cluster::NODE
        .try_with(String::clone)
        .unwrap_or_else(|_| server().url());
    #[cfg(not(feature = "cluster"))]
    let url = server().url();
    redis::Client::open(url)
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap()
}

/// Everything stored under a namespace, in a comparable form.
pub async fn snapshot(ns: &str) -> Vec<(String, String)> {
    let mut con = raw().await;
    let mut keys: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{ns}:*"))
        .query_async(&mut con)
        .await
        .unwrap();
    keys.sort();
    let mut out = Vec::new();
    for key in keys {
        let kind: String = redis::cmd("TYPE")
            .arg(&key)
            .query_async(&mut con)
            .await
            .unwrap();
        let contents = match kind.as_str() {
            "hash" => {
                let mut v: Vec<(String, Vec<u8>)> = redis::cmd("HGETALL")
                    .arg(&key)
                    .query_async(&mut con)
                    .await
                    .unwrap();
                v.sort();
                format!("{v:?}")
            }
            "zset" => {
                let v: Vec<(String, String)> = redis::cmd("ZRANGE")
                    .arg(&key)
                    .arg(0)
                    .arg(-1)
                    .arg("WITHSCORES")
                    .query_async(&mut con)
                    .await
                    .unwrap();
                format!("{v:?}")
            }
            "set" => {
                let mut v: Vec<String> = redis::cmd("SMEMBERS")
                    .arg(&key)
                    .query_async(&mut con)
                    .await
                    .unwrap();
                v.sort();
                format!("{v:?}")
            }
            other => other.to_string(),
        };
        out.push((key, contents));
    }
    out
}

/// Another `Rsmq` client on the namespace `ns` of a suite's test: on the shared server, or on
/// the shared cluster in a test running on a cluster.
pub async fn another_client(ns: &str, realtime: bool) -> Rsmq {
    let options = RsmqOptions {
        realtime,
        ns: ns.into(),
        ..options("another")
    };
    #[cfg(feature = "cluster")]
    if cluster::NODE.try_with(|_| ()).is_ok() {
        return Rsmq::new_cluster(cluster::shared().urls(), options)
            .await
            .expect("connect to the test cluster");
    }
    Rsmq::new(options).await.expect("connect to the test redis")
}

/// Where the realtime subscriber of a suite's client listens: the shared server, or, in a
/// test running on a cluster, the first node (a cluster client subscribes there first; a
/// `PUBLISH` reaches every node).
pub fn subscriber_url() -> String {
    #[cfg(feature = "cluster")]
    if cluster::NODE.try_with(|_| ()).is_ok() {
        return cluster::shared().urls().remove(0);
    }
    server().url()
}

/// Redis' clock in milliseconds.
pub async fn redis_now_ms() -> u64 {
    let mut con = raw().await;
    let (s, us): (u64, u64) = redis::cmd("TIME").query_async(&mut con).await.unwrap();
    s * 1000 + us / 1000
}

/// The shared server's product and version from `INFO server`: `redis-6.2.5`,
/// `valkey-9.1.2`. Valkey reports `redis_version:7.2.4` for compatibility; its own version
/// is `valkey_version`.
pub async fn server_version() -> String {
    let mut con = raw().await;
    let info: String = redis::cmd("INFO")
        .arg("server")
        .query_async(&mut con)
        .await
        .unwrap();
    let field = |name: &str| {
        info.lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(':'))
            .map(|v| v.trim().to_string())
    };
    match field("valkey_version") {
        Some(v) => format!("valkey-{v}"),
        None => format!(
            "redis-{}",
            field("redis_version").expect("INFO has redis_version")
        ),
    }
}

/// Waits until a realtime subscriber of namespace `ns` listens on the server at `url` (a
/// client's long-polling subscriber, started by its first wait): a `PUBLISH` on one of the
/// namespace's channels reaches it. The channel is no queue's, so no waiter wakes.
pub async fn subscribed(url: &str, ns: &str) {
    let mut con = redis::Client::open(url)
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let receivers: u64 = redis::cmd("PUBLISH")
            .arg(format!("{ns}:rt:subscriber-probe"))
            .arg("probe")
            .query_async(&mut con)
            .await
            .unwrap();
        if receivers > 0 {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "no realtime subscriber for {ns}:rt:* after 10 s"
        );
        // Any runtime: the smol tests use this too.
        smol::Timer::after(Duration::from_millis(10)).await;
    }
}

/// Checks a timing claim whose failing path can never take less than `bound` (a fallback
/// poll, a whole wait): `attempt` measures one try; passes at the first try under `bound`,
/// fails after three. A stall of a loaded machine may spoil a try; a bug spoils every one.
pub async fn under(bound: Duration, what: &str, mut attempt: impl AsyncFnMut() -> Duration) {
    let mut tries = Vec::new();
    for _ in 0..3 {
        let took = attempt().await;
        if took < bound {
            return;
        }
        tries.push(took);
        // Past the test harness' capture: a spoiled try is worth seeing even on a pass.
        use std::io::Write;
        let _ = writeln!(
            std::io::stderr(),
            "{what}: a try took {took:?}, not under {bound:?}; trying again"
        );
    }
    panic!("{what}: no try took less than {bound:?}: {tries:?}");
}

/// What the behaviour suite needs of a client.
pub trait Client: rsmq_async::RsmqConnection + Clone + Send + Sync + 'static {}
impl<T: rsmq_async::RsmqConnection + Clone + Send + Sync + 'static> Client for T {}

/// A pooled client on the shared server in a fresh namespace.
#[cfg(feature = "tokio-comp")]
pub async fn pooled(test: &str) -> (rsmq_async::PooledRsmq, String) {
    let opts = options(test);
    let ns = opts.ns.clone();
    let pool = rsmq_async::PoolOptions {
        max_size: Some(4),
        min_idle: Some(1),
    };
    (
        rsmq_async::PooledRsmq::new(opts, pool).await.expect("pool"),
        ns,
    )
}

/// A blocking client on the shared server in a fresh namespace, seen through the async trait.
#[cfg(feature = "sync")]
pub async fn sync_client(test: &str) -> (SyncAsAsync, String) {
    let opts = options(test);
    let ns = opts.ns.clone();
    (
        SyncAsAsync(rsmq_async::RsmqSync::new(opts).await.expect("sync client")),
        ns,
    )
}

/// Runs the behaviour suite against [`rsmq_async::RsmqSync`]: each async method calls the
/// blocking one directly. That blocks the test's runtime thread while the client's own
/// runtime does the work, which is exactly the "blocking client inside a Tokio program" case.
#[cfg(feature = "sync")]
#[derive(Clone)]
pub struct SyncAsAsync(pub rsmq_async::RsmqSync);

#[cfg(feature = "sync")]
mod sync_adapter {
    use std::time::Duration;

    use rsmq_async::{
        RedisBytes, RsmqConnection, RsmqConnectionSync, RsmqMessage, RsmqQueueAttributes,
        RsmqResult,
    };

    // The trait is sealed; implementing it here is this crate's own (unsupported) escape.
    impl rsmq_async::__private::Sealed for super::SyncAsAsync {}

    impl RsmqConnection for super::SyncAsAsync {
        async fn change_message_visibility(
            &self,
            q: &str,
            id: &str,
            vt: Duration,
        ) -> RsmqResult<bool> {
            self.0.change_message_visibility(q, id, vt)
        }
        async fn create_queue(
            &self,
            q: &str,
            vt: Option<Duration>,
            delay: Option<Duration>,
            maxsize: Option<i64>,
        ) -> RsmqResult<()> {
            self.0.create_queue(q, vt, delay, maxsize)
        }
        async fn delete_message(&self, q: &str, id: &str) -> RsmqResult<bool> {
            self.0.delete_message(q, id)
        }
        async fn delete_queue(&self, q: &str) -> RsmqResult<()> {
            self.0.delete_queue(q)
        }
        async fn get_queue_attributes(&self, q: &str) -> RsmqResult<RsmqQueueAttributes> {
            self.0.get_queue_attributes(q)
        }
        async fn list_queues(&self) -> RsmqResult<Vec<String>> {
            self.0.list_queues()
        }
        async fn pop_message<E: TryFrom<RedisBytes, Error = Vec<u8>>>(
            &self,
            q: &str,
        ) -> RsmqResult<Option<RsmqMessage<E>>> {
            self.0.pop_message(q)
        }
        async fn receive_message<E: TryFrom<RedisBytes, Error = Vec<u8>>>(
            &self,
            q: &str,
            vt: Option<Duration>,
        ) -> RsmqResult<Option<RsmqMessage<E>>> {
            self.0.receive_message(q, vt)
        }
        async fn send_message<E: Into<RedisBytes> + Send>(
            &self,
            q: &str,
            message: E,
            delay: Option<Duration>,
        ) -> RsmqResult<String> {
            self.0.send_message(q, message, delay)
        }
        async fn set_queue_attributes(
            &self,
            q: &str,
            vt: Option<Duration>,
            delay: Option<Duration>,
            maxsize: Option<i64>,
        ) -> RsmqResult<RsmqQueueAttributes> {
            self.0.set_queue_attributes(q, vt, delay, maxsize)
        }
        async fn send_message_batch<E: Into<RedisBytes> + Send>(
            &self,
            q: &str,
            messages: Vec<E>,
            delay: Option<Duration>,
        ) -> RsmqResult<Vec<String>> {
            self.0.send_message_batch(q, messages, delay)
        }
        async fn receive_message_batch<E: TryFrom<RedisBytes, Error = Vec<u8>> + Send>(
            &self,
            q: &str,
            vt: Option<Duration>,
            max: u32,
        ) -> RsmqResult<Vec<RsmqMessage<E>>> {
            self.0.receive_message_batch(q, vt, max)
        }
        async fn delete_message_batch<S: AsRef<str> + Sync>(
            &self,
            q: &str,
            ids: &[S],
        ) -> RsmqResult<u64> {
            self.0.delete_message_batch(q, ids)
        }
        async fn change_message_visibility_batch<S: AsRef<str> + Sync>(
            &self,
            q: &str,
            ids: &[S],
            vt: Duration,
        ) -> RsmqResult<u64> {
            self.0.change_message_visibility_batch(q, ids, vt)
        }
        async fn move_message(&self, src: &str, id: &str, dst: &str) -> RsmqResult<bool> {
            self.0.move_message(src, id, dst)
        }
        async fn receive_message_or_dlq<E: TryFrom<RedisBytes, Error = Vec<u8>>>(
            &self,
            q: &str,
            vt: Option<Duration>,
            dlq: &str,
            max_receives: u64,
        ) -> RsmqResult<Option<RsmqMessage<E>>> {
            self.0.receive_message_or_dlq(q, vt, dlq, max_receives)
        }
        async fn redrive(&self, dlq: &str, dst: &str, max: u32) -> RsmqResult<u64> {
            self.0.redrive(dlq, dst, max)
        }
        async fn receive_message_wait<E: TryFrom<RedisBytes, Error = Vec<u8>>>(
            &self,
            q: &str,
            vt: Option<Duration>,
            wait: Duration,
        ) -> RsmqResult<Option<RsmqMessage<E>>> {
            self.0.receive_message_wait(q, vt, wait)
        }
        async fn peek_messages<E: TryFrom<RedisBytes, Error = Vec<u8>> + Send>(
            &self,
            q: &str,
            max: u32,
        ) -> RsmqResult<Vec<RsmqMessage<E>>> {
            self.0.peek_messages(q, max)
        }
        async fn purge_queue(&self, q: &str) -> RsmqResult<u64> {
            self.0.purge_queue(q)
        }
        async fn live_workers(&self) -> RsmqResult<Vec<rsmq_async::LiveWorker>> {
            self.0.live_workers()
        }
        async fn server_memory(&self) -> RsmqResult<rsmq_async::ServerMemory> {
            self.0.server_memory()
        }
        // The blocking client runs no worker: nothing to register.
        async fn register_worker(&self, _: &str, _: Duration, _: &str) -> RsmqResult<()> {
            Ok(())
        }
        async fn unregister_worker(&self, _: &str) -> RsmqResult<()> {
            Ok(())
        }
        async fn browse_messages<E: TryFrom<RedisBytes, Error = Vec<u8>> + Send>(
            &self,
            q: &str,
            cursor: u64,
            max: u32,
        ) -> RsmqResult<rsmq_async::MessagePage<E>> {
            self.0.browse_messages(q, cursor, max)
        }
        async fn get_message<E: TryFrom<RedisBytes, Error = Vec<u8>> + Send>(
            &self,
            q: &str,
            id: &str,
        ) -> RsmqResult<Option<rsmq_async::BrowsedMessage<E>>> {
            self.0.get_message(q, id)
        }
    }
}

/// Instantiates each generic `async fn name<C: Client>(client: C, ns: String)` of the calling
/// test file once per client: `Rsmq`, `PooledRsmq`, and `RsmqSync` (through [`SyncAsAsync`]).
#[allow(unused_macros)]
macro_rules! suite {
    ($($name:ident),* $(,)?) => {
        mod rsmq_client {
            $(
                #[tokio::test]
                async fn $name() {
                    let (c, ns) = crate::common::rsmq(stringify!($name)).await;
                    super::$name(c, ns).await;
                }
            )*
        }
        #[cfg(feature = "tokio-comp")]
        mod pooled_client {
            $(
                #[tokio::test]
                async fn $name() {
                    let (c, ns) = crate::common::pooled(stringify!($name)).await;
                    super::$name(c, ns).await;
                }
            )*
        }
        #[cfg(feature = "cluster")]
        mod cluster_client {
            $(
                #[tokio::test]
                async fn $name() {
                    let (c, ns, node) = crate::common::cluster::client(stringify!($name)).await;
                    crate::common::cluster::NODE.scope(node, super::$name(c, ns)).await;
                }
            )*
        }
        #[cfg(feature = "sync")]
        mod sync_client {
            $(
                // Two workers: the blocking client occupies one while a test's spawned
                // tasks run on the other.
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let (c, ns) = crate::common::sync_client(stringify!($name)).await;
                    super::$name(c, ns).await;
                }
            )*
        }
    };
}

/// A `redis-server` of one test's own, that the test may kill (SIGKILL) and restart on the
/// same port and data directory. Killed and its directory removed on drop.
pub struct OwnedServer {
    pub port: u16,
    dir: std::path::PathBuf,
    args: Vec<String>,
    child: Option<Child>,
}

impl OwnedServer {
    /// Starts a server with extra arguments (for example `["--appendonly", "yes",
    /// "--appendfsync", "always"]`). Persistence is off unless the arguments turn it on.
    pub fn start(extra: &[&str]) -> OwnedServer {
        Self::try_start(extra).unwrap_or_else(|why| panic!("{why}"))
    }

    /// [`start`](Self::start), with the reason (the server's own words, such as a
    /// configuration error) when it does not start.
    pub fn try_start(extra: &[&str]) -> Result<OwnedServer, String> {
        if let Some(why) = missing_redis() {
            return Err(why);
        }
        let dir = std::env::temp_dir().join(format!(
            "rsmq-test-{}-{}",
            std::process::id(),
            fastrand::u64(..)
        ));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let mut server = OwnedServer {
            port: 0,
            dir,
            args: extra.iter().map(|s| s.to_string()).collect(),
            child: None,
        };
        for _ in 0..5 {
            server.port = free_port();
            match server.launch() {
                Ready::Yes => return Ok(server),
                Ready::PortTaken(_) => continue, // someone else's server: another port
                Ready::No(log) => return Err(format!("redis-server did not start:\n{log}")),
            }
        }
        Err("redis-server found no free port".into())
    }

    /// Starts the server again (after [`kill`](Self::kill)) on its port and waits until it
    /// is ready. Waits out another process holding the port for a while.
    pub fn restart(&mut self) {
        assert!(self.child.is_none(), "already running");
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            match self.launch() {
                Ready::Yes => return,
                Ready::PortTaken(log) if Instant::now() > deadline => {
                    panic!("port {} stayed taken; redis-server said:\n{log}", self.port)
                }
                Ready::PortTaken(_) => std::thread::sleep(Duration::from_millis(50)),
                Ready::No(log) => panic!("redis-server did not restart:\n{log}"),
            }
        }
    }

    /// Runs the server once and waits until it is ready; if it is not, kills it.
    fn launch(&mut self) -> Ready {
        // Through sh only to send stderr (where a configuration error goes) to the log;
        // `exec` keeps the server's pid the child's.
        let mut child = Command::new("sh")
            .arg("-c")
            .arg(r#"exec "$0" "$@" 2>&1"#)
            .arg(redis_server_binary())
            .args(server_args(self.port, &self.dir))
            .args(&self.args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", redis_server_binary()));
        let out = child.stdout.take().expect("piped stdout");
        let ready = wait_ready(out, &mut child);
        self.child = Some(child);
        if !matches!(ready, Ready::Yes) {
            self.kill();
        }
        ready
    }

    /// Kills the server with SIGKILL, as a crash would.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    /// Whether the server runs (it was not killed, or was restarted).
    pub fn running(&self) -> bool {
        self.child.is_some()
    }

    /// The server's process id, while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Options for this server in a fresh namespace.
    pub fn options(&self, test: &str) -> RsmqOptions {
        RsmqOptions {
            host: "127.0.0.1".into(),
            port: self.port,
            ns: namespace(test),
            ..Default::default()
        }
    }
}

impl Drop for OwnedServer {
    fn drop(&mut self) {
        self.kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
