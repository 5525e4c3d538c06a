//! Soak test: producers and consumers for a set time while Redis is killed and restarted.
//!
//! Starts its own `redis-server` (AOF, `appendfsync always`) on a free port, runs
//! `--producers` producers and `--consumers` consumers (receive, then delete) for
//! `--seconds`, and kills the server with SIGKILL every `--restart-every` seconds,
//! restarting it from its AOF. At the end it drains the queue and prints how many messages
//! were sent (send returned `Ok`), received, received more than once (allowed only because
//! of restarts: a receive or delete whose reply was lost), and lost (must be 0).
//!
//! ```sh
//! cargo run --release --example soak -- --seconds 60 --producers 4 --consumers 4 --restart-every 5
//! ```

use std::collections::HashMap;
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rsmq_async::{Rsmq, RsmqConnection, RsmqError, RsmqOptions};

struct Args {
    seconds: u64,
    producers: usize,
    consumers: usize,
    restart_every: u64,
}

fn args() -> Args {
    let mut a = Args {
        seconds: 30,
        producers: 4,
        consumers: 4,
        restart_every: 5,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value: u64 = it.next().and_then(|v| v.parse().ok()).unwrap_or_else(|| {
            eprintln!(
                "usage: soak [--seconds N] [--producers N] [--consumers N] [--restart-every N]"
            );
            std::process::exit(2)
        });
        match flag.as_str() {
            "--seconds" => a.seconds = value,
            "--producers" => a.producers = value as usize,
            "--consumers" => a.consumers = value as usize,
            "--restart-every" => a.restart_every = value.max(1),
            other => {
                eprintln!("unknown flag {other}");
                std::process::exit(2)
            }
        }
    }
    a
}

fn start_redis(port: u16, dir: &std::path::Path) -> Child {
    let child = Command::new("redis-server")
        .args([
            "--port",
            &port.to_string(),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
        ])
        .args(["--appendonly", "yes", "--appendfsync", "always"])
        .args(["--dir", &dir.to_string_lossy()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("redis-server must be on PATH");
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "redis-server did not start");
        std::thread::sleep(Duration::from_millis(10));
    }
    child
}

async fn retry<T>(mut op: impl AsyncFnMut() -> Result<T, RsmqError>) -> T {
    loop {
        match op().await {
            Ok(v) => return v,
            Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
}

#[tokio::main]
async fn main() {
    let args = args();
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let dir = std::env::temp_dir().join(format!("rsmq-soak-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let redis = Arc::new(Mutex::new(Some(start_redis(port, &dir))));
    let opts = RsmqOptions {
        host: "127.0.0.1".into(),
        port,
        connection_timeout: Duration::from_secs(1),
        response_timeout: Duration::from_secs(2),
        ..Default::default()
    };
    let admin = Rsmq::new(opts.clone()).await.unwrap();
    admin.create_queue("soak", None, None, None).await.unwrap();

    let stop = Arc::new(AtomicBool::new(false));
    let sent = Arc::new(Mutex::new(Vec::<String>::new()));
    let received = Arc::new(Mutex::new(HashMap::<String, u32>::new()));
    let mut tasks = Vec::new();
    for p in 0..args.producers {
        let (rsmq, stop, sent) = (
            Rsmq::new(opts.clone()).await.unwrap(),
            stop.clone(),
            sent.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let mut i = 0u64;
            while !stop.load(Ordering::Relaxed) {
                i += 1;
                match rsmq.send_message("soak", format!("p{p}-{i}"), None).await {
                    Ok(id) => sent.lock().unwrap().push(id),
                    Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
                }
            }
        }));
    }
    for _ in 0..args.consumers {
        let (rsmq, stop, received) = (
            Rsmq::new(opts.clone()).await.unwrap(),
            stop.clone(),
            received.clone(),
        );
        tasks.push(tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                match rsmq
                    .receive_message::<String>("soak", Some(Duration::from_secs(2)))
                    .await
                {
                    Ok(Some(m)) => {
                        *received.lock().unwrap().entry(m.id.clone()).or_default() += 1;
                        let _ = rsmq.delete_message("soak", &m.id).await;
                    }
                    Ok(None) => tokio::time::sleep(Duration::from_millis(5)).await,
                    Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
                }
            }
        }));
    }

    let started = Instant::now();
    let mut restarts = 0;
    while started.elapsed() < Duration::from_secs(args.seconds) {
        tokio::time::sleep(Duration::from_secs(args.restart_every)).await;
        if started.elapsed() >= Duration::from_secs(args.seconds) {
            break;
        }
        let mut guard = redis.lock().unwrap();
        if let Some(mut child) = guard.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        *guard = Some(start_redis(port, &dir));
        restarts += 1;
        eprintln!("restart {restarts} at {:?}", started.elapsed());
    }
    stop.store(true, Ordering::Relaxed);
    for t in tasks {
        let _ = t.await;
    }

    // Drain: everything not yet deleted comes back within its vt.
    let drain_deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let want: Vec<String> = {
            let rec = received.lock().unwrap();
            sent.lock()
                .unwrap()
                .iter()
                .filter(|id| !rec.contains_key(*id))
                .cloned()
                .collect()
        };
        if want.is_empty() || Instant::now() > drain_deadline {
            break;
        }
        let batch = retry(async || {
            admin
                .receive_message_batch::<String>("soak", None, 1000)
                .await
        })
        .await;
        if batch.is_empty() {
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        for m in batch {
            *received.lock().unwrap().entry(m.id.clone()).or_default() += 1;
            let _ = admin.delete_message("soak", &m.id).await;
        }
    }

    let sent = sent.lock().unwrap();
    let received = received.lock().unwrap();
    let lost = sent.iter().filter(|id| !received.contains_key(*id)).count();
    let duplicated = received.values().filter(|&&n| n > 1).count();
    println!(
        "seconds: {}  producers: {}  consumers: {}  restarts: {restarts}",
        args.seconds, args.producers, args.consumers
    );
    println!(
        "sent: {}  received: {}  duplicated: {duplicated}  lost: {lost}",
        sent.len(),
        received.len()
    );
    if let Some(mut child) = redis.lock().unwrap().take() {
        let _ = child.kill();
        let _ = child.wait();
    }
    let _ = std::fs::remove_dir_all(&dir);
    if lost > 0 {
        std::process::exit(1);
    }
}
