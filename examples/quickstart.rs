//! The quick start: create a queue, send a message, receive it, delete it.
//!
//! Runs against Redis on localhost:6379, or the server in `REDIS_URL`:
//!
//! ```sh
//! cargo run --example quickstart
//! REDIS_URL=redis://127.0.0.1:6380 cargo run --example quickstart
//! ```

use rsmq_async::{Rsmq, RsmqConnection, RsmqError, RsmqOptions};

#[tokio::main]
async fn main() -> Result<(), RsmqError> {
    let options = match std::env::var("REDIS_URL") {
        Ok(url) => url.parse()?,
        Err(_) => RsmqOptions::default(),
    };
    let rsmq = Rsmq::new(options).await?;

    // Creating a queue that exists is an error; a second run of this example reuses it.
    match rsmq.create_queue("jobs", None, None, None).await {
        Ok(()) | Err(RsmqError::QueueExists) => {}
        Err(e) => return Err(e),
    }
    let id = rsmq.send_message("jobs", "hello from Rust", None).await?;
    println!("Sent: hello from Rust (id {id})");
    if let Some(msg) = rsmq.receive_message::<String>("jobs", None).await? {
        println!("Got: {}", msg.message);
        rsmq.delete_message("jobs", &msg.id).await?;
    }
    Ok(())
}
