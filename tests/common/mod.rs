//! Test harness: one real `redis-server` per test binary, one namespace per test.
//!
//! The server is started on a free port with no persistence, the first time a test asks for
//! it, and dies with the test binary (a shell watchdog kills it when our stdin pipe closes).
//! `REDIS_URL` points the tests at another server instead.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use rsmq_async::{Rsmq, RsmqOptions};

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

/// Starts a private `redis-server` with extra arguments (for tests that stop or reconfigure
/// it). It dies when the returned `Server` is dropped or the test binary exits.
pub fn start_server(extra: &[&str]) -> Result<Server, String> {
    let mut last_err = String::new();
    for _ in 0..5 {
        let port = free_port();
        let mut child = match Command::new("sh")
            .arg("-c")
            // Start redis, then wait for our pipe to close (we exited) and kill it.
            .arg(r#"redis-server "$@" & p=$!; echo started; cat >/dev/null; kill $p 2>/dev/null; wait $p"#)
            .arg("sh")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .args(["--dir", &std::env::temp_dir().to_string_lossy()])
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
        let mut out = BufReader::new(child.stdout.take().expect("piped stdout"));
        let mut line = String::new();
        let _ = out.read_line(&mut line);
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if ping(port) {
                // Keep draining redis' stdout so it never blocks on a full pipe.
                std::thread::spawn(move || {
                    let mut sink = Vec::new();
                    let _ = out.read_to_end(&mut sink);
                });
                return Ok(Server {
                    host: "127.0.0.1".into(),
                    port,
                    _watchdog: Some(Mutex::new((child, stdin))),
                });
            }
            if let Ok(Some(_)) = child.try_wait() {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = child.kill();
        let mut rest = String::new();
        let _ = out.read_to_string(&mut rest);
        last_err = if rest.contains("redis-server: not found")
            || rest.is_empty() && which_redis().is_none()
        {
            "redis-server is not on PATH. Install it (Debian/Ubuntu: `apt-get install redis-server`, \
             macOS: `brew install redis`) or set REDIS_URL=redis://host:port to use a running server."
                .into()
        } else {
            format!("redis-server did not start on port {port}: {rest}")
        };
        if which_redis().is_none() {
            break;
        }
    }
    Err(last_err)
}

fn which_redis() -> Option<()> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .any(|d| d.join("redis-server").is_file())
        .then_some(())
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("no free port")
}

fn ping(port: u16) -> bool {
    use std::io::Write;
    let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_millis(500)));
    if s.write_all(b"PING\r\n").is_err() {
        return false;
    }
    // A server with a password answers -NOAUTH: it is up all the same.
    let mut buf = [0u8; 7];
    s.read_exact(&mut buf).is_ok() && (&buf == b"+PONG\r\n" || buf.starts_with(b"-NOAUTH"))
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
        ..Default::default()
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

/// A plain connection for inspecting and planting raw data.
pub async fn raw() -> redis::aio::MultiplexedConnection {
    redis::Client::open(server().url())
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

/// Redis' clock in milliseconds.
pub async fn redis_now_ms() -> u64 {
    let mut con = raw().await;
    let (s, us): (u64, u64) = redis::cmd("TIME").query_async(&mut con).await.unwrap();
    s * 1000 + us / 1000
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
        let dir = std::env::temp_dir().join(format!(
            "rsmq-test-{}-{}",
            std::process::id(),
            fastrand::u64(..)
        ));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let mut server = OwnedServer {
            port: free_port(),
            dir,
            args: extra.iter().map(|s| s.to_string()).collect(),
            child: None,
        };
        server.restart();
        server
    }

    /// Starts the server again (after [`kill`](Self::kill)) and waits until it answers.
    pub fn restart(&mut self) {
        assert!(self.child.is_none(), "already running");
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let child = Command::new("redis-server")
                .args([
                    "--port",
                    &self.port.to_string(),
                    "--bind",
                    "127.0.0.1",
                    "--save",
                    "",
                ])
                .args(["--dir", &self.dir.to_string_lossy()])
                .args(&self.args)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("redis-server on PATH");
            self.child = Some(child);
            while Instant::now() < deadline {
                if ping(self.port) {
                    return;
                }
                if let Some(Ok(Some(_))) = self.child.as_mut().map(|c| c.try_wait()) {
                    break; // exited (port still held by the old process?): try again
                }
                std::thread::sleep(Duration::from_millis(10));
            }
            self.kill();
            assert!(
                Instant::now() < deadline,
                "redis-server did not restart on port {}",
                self.port
            );
            std::thread::sleep(Duration::from_millis(50));
        }
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
