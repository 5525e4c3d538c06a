//! A worker: two routes, retries with backoff, a dead-letter queue, and a graceful shutdown
//! on Ctrl-C or once the sample messages are done.
//!
//! ```sh
//! REDIS_URL=redis://127.0.0.1:6379 cargo run --example worker
//! ```
//!
//! Without `REDIS_URL`, it uses Redis on 127.0.0.1:6379. It works in the namespace
//! `worker-example`.

use std::convert::Infallible;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use rsmq_async::{
    Backoff, Permanent, RouteOptions, Rsmq, RsmqConnection, RsmqError, RsmqMessage, RsmqOptions,
    Worker,
};

/// A payment's failure: worth retrying, or not (a [`Permanent`] in the `source()` chain).
#[derive(Debug)]
enum PaymentError {
    Unavailable,
    BadAmount(Permanent),
}

impl std::fmt::Display for PaymentError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PaymentError::Unavailable => f.write_str("the payment service did not answer"),
            PaymentError::BadAmount(_) => f.write_str("not an amount"),
        }
    }
}

impl std::error::Error for PaymentError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            PaymentError::Unavailable => None,
            PaymentError::BadAmount(p) => Some(p),
        }
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let url = std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
    let options = RsmqOptions {
        ns: "worker-example".into(),
        ..url.parse()?
    };
    let rsmq = Rsmq::new(options).await?;
    for q in ["emails", "payments", "dead"] {
        match rsmq.create_queue(q, None, None, None).await {
            Ok(()) | Err(RsmqError::QueueExists) => {}
            Err(e) => return Err(e.into()),
        }
    }
    rsmq.send_message_batch("emails", vec!["alice", "bob", "carol"], None)
        .await?;
    rsmq.send_message_batch("payments", vec!["12", "40", "oops"], None)
        .await?;

    // Each payment fails on its first attempt (a flaky service), and "oops" is no amount.
    let attempts = Arc::new(AtomicUsize::new(0));
    let a = attempts.clone();
    let worker = Worker::builder_with_client(rsmq.clone())
        .concurrency(8)
        .dlq("dead", 3)
        .backoff(
            Backoff::exponential(Duration::from_millis(200), Duration::from_secs(10)).jitter(0.2),
        )
        .shutdown_timeout(Duration::from_secs(5))
        .handle_signals(true)
        .route("emails", |msg: RsmqMessage<String>| async move {
            println!("email to {}", msg.message);
            Ok::<(), Infallible>(())
        })
        .route_with(
            "payments",
            RouteOptions {
                concurrency: Some(2),
                timeout: Some(Duration::from_secs(10)),
                ..Default::default()
            },
            move |msg: RsmqMessage<String>| {
                let a = a.clone();
                async move {
                    a.fetch_add(1, Ordering::SeqCst);
                    let cents: u64 = msg
                        .message
                        .parse()
                        .map_err(|e| PaymentError::BadAmount(Permanent::new(e)))?;
                    if msg.rc == 1 {
                        return Err(PaymentError::Unavailable); // retried after the backoff
                    }
                    println!("payment of {cents} cents (attempt {})", msg.rc);
                    Ok(())
                }
            },
        )
        .build()
        .await?;

    // Stop once both queues are empty (or on Ctrl-C).
    let r = rsmq.clone();
    worker
        .run_until(async move {
            loop {
                tokio::time::sleep(Duration::from_millis(200)).await;
                let emails = r.get_queue_attributes("emails").await.map(|a| a.msgs);
                let payments = r.get_queue_attributes("payments").await.map(|a| a.msgs);
                if matches!((emails, payments), (Ok(0), Ok(0))) {
                    break;
                }
            }
        })
        .await?;
    let dead = rsmq.get_queue_attributes("dead").await?.msgs;
    println!(
        "done: {} payment attempts, {dead} message(s) in the dead-letter queue",
        attempts.load(Ordering::SeqCst)
    );
    Ok(())
}
