//! The quick start: create a queue, send a message, receive it, delete it.
//!
//! ```sh
//! cargo run --example quickstart
//! ```
//!
//! The Redis it talks to, the first that applies:
//! - the server in `REDIS_URL`, when set (`redis://127.0.0.1:6380`, `redis://:password@host/0`);
//! - Redis on localhost:6379, when something answers there;
//! - a throwaway `redis-server` of its own, when one is on `PATH`: on a free port of
//!   127.0.0.1, without persistence, stopped when the example ends (also when it fails).
//!
//! Otherwise it says on stderr how to get Redis and exits with status 1; it does the same,
//! in one line naming the address, when the server cannot be reached.
//!
//! `QUICKSTART_LOCAL_PORT` replaces 6379 as the local port to look at. It exists for `.ci/run`,
//! which sets it to a free port to check the throwaway server on machines where 6379 is
//! taken.

use std::env;
use std::io::Read;
use std::net::{TcpListener, TcpStream, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use rsmq_async::{Rsmq, RsmqConnection, RsmqError, RsmqOptions, RsmqResult};

/// The quick start itself, as in the README.
async fn quickstart(rsmq: &Rsmq) -> RsmqResult<()> {
    // Creating a queue that exists is an error; a second run of this example reuses it.
    match rsmq.create_queue("jobs", None, None, None).await {
        Ok(()) | Err(RsmqError::QueueExists) => {}
        Err(e) => return Err(e),
    }
    let id = rsmq.send_message("jobs", "hello from Rust", None).await?;
    println!("Sent: hello from Rust (id {id})");
    if let Some(msg) = rsmq.receive_message::<String>("jobs", None).await? {
        println!("Got: {}", msg.message);
        // Deleting confirms delivery; otherwise the message comes back after its vt.
        rsmq.delete_message("jobs", &msg.id).await?;
    }
    Ok(())
}

#[tokio::main]
async fn main() -> ExitCode {
    // `redis` owns the throwaway server, if one was started; it stops when `redis` is
    // dropped, on every way out of `main`.
    let redis = match find_redis() {
        Ok(redis) => redis,
        Err(why) => return fail(&why),
    };
    let rsmq = match Rsmq::new(redis.options.clone()).await {
        Ok(rsmq) => rsmq,
        Err(e) => {
            let why = e.to_string().replace('\n', " ");
            return fail(&format!(
                "cannot connect to Redis at {}: {why}",
                redis.address
            ));
        }
    };
    match quickstart(&rsmq).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(&e.to_string()),
    }
}

/// Says on stderr what went wrong, and gives the failing exit status.
fn fail(why: &str) -> ExitCode {
    eprintln!("quickstart: {why}");
    ExitCode::FAILURE
}

/// Where the quick start runs.
struct Redis {
    options: RsmqOptions,
    /// `host:port`, for messages: never the password.
    address: String,
    _server: Option<Throwaway>,
}

fn find_redis() -> Result<Redis, String> {
    if let Some(url) = env::var("REDIS_URL").ok().filter(|u| !u.is_empty()) {
        // The URL error never contains the password.
        let options: RsmqOptions = url.parse().map_err(|e| format!("REDIS_URL: {e}"))?;
        let host = if options.host.contains(':') {
            format!("[{}]", options.host)
        } else {
            options.host.clone()
        };
        return Ok(Redis {
            address: format!("{host}:{} (from REDIS_URL)", options.port),
            options,
            _server: None,
        });
    }
    let port = match env::var("QUICKSTART_LOCAL_PORT") {
        Ok(p) => p
            .parse()
            .map_err(|_| format!("QUICKSTART_LOCAL_PORT=`{p}` is not a port number"))?,
        Err(_) => 6379,
    };
    if answers("localhost", port) {
        return Ok(Redis {
            options: RsmqOptions {
                port,
                ..Default::default()
            },
            address: format!("localhost:{port}"),
            _server: None,
        });
    }
    let Some(program) = on_path("redis-server") else {
        return Err(format!(
            "no Redis answers on localhost:{port}, REDIS_URL is not set, and redis-server is \
             not on PATH. Either\n  \
             - install Redis (Debian/Ubuntu: `sudo apt-get install redis-server`) and run \
             this again, or\n  \
             - point the example at a server: \
             REDIS_URL=redis://HOST:PORT cargo run --example quickstart"
        ));
    };
    let server = Throwaway::start(&program)?;
    eprintln!(
        "quickstart: no Redis answers on localhost:{port} and REDIS_URL is not set: started a \
         throwaway redis-server on 127.0.0.1:{} (no persistence; it stops when this example ends)",
        server.port
    );
    Ok(Redis {
        options: RsmqOptions {
            host: "127.0.0.1".into(),
            port: server.port,
            ..Default::default()
        },
        address: format!("127.0.0.1:{}", server.port),
        _server: Some(server),
    })
}

/// Whether something accepts TCP connections at `host:port`.
fn answers(host: &str, port: u16) -> bool {
    let Ok(addrs) = (host, port).to_socket_addrs() else {
        return false;
    };
    addrs
        .into_iter()
        .any(|a| TcpStream::connect_timeout(&a, Duration::from_secs(1)).is_ok())
}

/// The first executable file named `name` in a directory of `PATH`.
fn on_path(name: &str) -> Option<PathBuf> {
    env::split_paths(&env::var_os("PATH")?)
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
}

/// A `redis-server` of the example's own, killed when dropped.
struct Throwaway {
    child: Child,
    port: u16,
}

impl Throwaway {
    /// Starts `program` on a free port and waits until it accepts connections. Tries three
    /// ports, in case another program takes the free port first.
    fn start(program: &Path) -> Result<Throwaway, String> {
        let mut last_error = String::new();
        for _ in 0..3 {
            let port = TcpListener::bind("127.0.0.1:0")
                .and_then(|l| l.local_addr())
                .map_err(|e| format!("cannot find a free port: {e}"))?
                .port();
            let child = Command::new(program)
                .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
                .args(["--save", "", "--appendonly", "no", "--loglevel", "warning"])
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::null())
                .spawn()
                .map_err(|e| format!("cannot start {}: {e}", program.display()))?;
            let mut server = Throwaway { child, port };
            match server.wait_until_up() {
                Ok(()) => return Ok(server),
                Err(e) => last_error = e,
            }
        }
        Err(last_error)
    }

    fn wait_until_up(&mut self) -> Result<(), String> {
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                let mut log = String::new();
                if let Some(out) = self.child.stdout.as_mut() {
                    let _ = out.read_to_string(&mut log);
                }
                let last = log.lines().rev().find(|l| !l.trim().is_empty());
                return Err(format!(
                    "redis-server on port {} stopped at once ({status}): {}",
                    self.port,
                    last.unwrap_or("no output")
                ));
            }
            if TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Err(format!(
            "redis-server did not answer on port {} within 10 s",
            self.port
        ))
    }
}

impl Drop for Throwaway {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
