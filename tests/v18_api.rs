//! Code written for rsmq_async 18.0.0 (with its default features) compiles and runs here.
//!
//! Every public item of 18 is used the way 18's code, README and tests use it: `let mut`
//! bindings, `&mut` receivers, generic functions over the traits, struct literals over
//! `Default`, explicit type annotations where a signature matters. Where 19 differs on
//! purpose, the test shows the 18 code that still compiles and says what changed
//! (`docs/compatibility.md` lists every difference). The worker runtime (`Worker`,
//! `WorkerBuilder`, `DecodeError`, feature `worker`) is not here yet.
#![cfg(all(feature = "tokio-comp", feature = "sync", feature = "serde"))]
#![allow(unused_mut)]
// 18's methods took `&mut self`, so 18 code binds clients `mut`.
// Unit results are bound to `()` to check their type; `PoolOptions` is not `Copy` in 18.
#![allow(clippy::let_unit_value, clippy::clone_on_copy)]

mod common;

use std::convert::TryFrom;
use std::time::Duration;

use rsmq_async::{
    Json, PoolOptions, PooledRsmq, RedisBytes, RedisConnectionManager, Rsmq, RsmqConnection,
    RsmqConnectionSync, RsmqError, RsmqJsonExt, RsmqJsonExtSync, RsmqMessage, RsmqOptions,
    RsmqQueueAttributes, RsmqResult, RsmqSync,
};
use serde::{Deserialize, Serialize};

/// Options for the test server, built as 18 code builds them: a struct literal naming
/// every field 18 has, then `..Default::default()`.
fn options(test: &str) -> RsmqOptions {
    let s = common::server();
    RsmqOptions {
        host: s.host.clone(),
        port: s.port,
        db: 0,
        realtime: false,
        username: None,
        password: None,
        ns: common::namespace(test),
        protocol: redis::ProtocolVersion::RESP2,
        ..Default::default()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Job {
    id: u64,
    name: String,
}

/// 18's custom body type, as its README shows it.
#[derive(Debug, PartialEq)]
struct MyPayload(Vec<u8>);

impl From<MyPayload> for RedisBytes {
    fn from(p: MyPayload) -> RedisBytes {
        RedisBytes::from(p.0)
    }
}

impl TryFrom<RedisBytes> for MyPayload {
    type Error = Vec<u8>;
    fn try_from(b: RedisBytes) -> Result<Self, Vec<u8>> {
        Ok(MyPayload(b.into_bytes()))
    }
}

/// Every method of 18's `RsmqConnection`, through a `&mut C` as 18's generic code takes it,
/// with every result bound to the type 18 declares.
async fn every_async_method<C: RsmqConnection>(rsmq: &mut C) -> RsmqResult<()> {
    let hidden: Option<Duration> = Some(Duration::from_secs(30));
    let delay: Option<Duration> = Some(Duration::from_secs(0));
    let maxsize: Option<i64> = Some(65536);
    let created: () = rsmq.create_queue("q", hidden, delay, maxsize).await?;
    let _ = created;
    rsmq.create_queue("dlq", None, None, None).await?;
    rsmq.create_queue("other", None, None, None).await?;
    let mut queues: Vec<String> = rsmq.list_queues().await?;
    queues.sort();
    assert_eq!(queues, ["dlq", "other", "q"]);

    let attrs: RsmqQueueAttributes = rsmq
        .set_queue_attributes("q", Some(Duration::from_secs(60)), None, Some(2048))
        .await?;
    assert_eq!((attrs.vt, attrs.maxsize), (Duration::from_secs(60), 2048));
    let attrs: RsmqQueueAttributes = rsmq.get_queue_attributes("q").await?;
    let RsmqQueueAttributes {
        vt,
        delay,
        maxsize,
        totalrecv,
        totalsent,
        created,
        modified,
        msgs,
        hiddenmsgs,
        ..
    } = attrs.clone();
    let _: (Duration, Duration, i64) = (vt, delay, maxsize);
    let _: [u64; 6] = [totalrecv, totalsent, created, modified, msgs, hiddenmsgs];
    println!("{attrs:?}");

    // Bodies: &str, String, Vec<u8>, &[u8], and a custom type.
    let id: String = rsmq.send_message("q", "hello", None).await?;
    assert_eq!(id.len(), 32);
    rsmq.send_message("q", String::from("owned"), None).await?;
    rsmq.send_message("q", vec![0u8, 1, 2], None).await?;
    rsmq.send_message("q", &[3u8, 4][..], None).await?;
    rsmq.send_message("q", MyPayload(vec![5]), Some(Duration::ZERO))
        .await?;

    let msg: Option<RsmqMessage<String>> = rsmq.receive_message::<String>("q", None).await?;
    let msg = msg.expect("a message");
    let RsmqMessage {
        id: _,
        message,
        rc,
        fr,
        sent,
    } = msg.clone();
    let _: (String, u64, u64, u64) = (message, rc, fr, sent);
    assert_eq!(msg.message, "hello");
    let deleted: bool = rsmq.delete_message("q", &msg.id).await?;
    assert!(deleted);

    // 18 returned `()` here; 19 says whether the message existed. `?`, `.unwrap()` and
    // `let _ =` compile as before.
    rsmq.change_message_visibility("q", &msg.id, Duration::from_secs(1))
        .await?;

    let popped: Option<RsmqMessage> = rsmq.pop_message::<String>("q").await?;
    assert_eq!(popped.unwrap().message, "owned");
    let bytes: Option<RsmqMessage<Vec<u8>>> = rsmq.receive_message::<Vec<u8>>("q", None).await?;
    assert_eq!(bytes.unwrap().message, [0, 1, 2]);

    let ids: Vec<String> = rsmq
        .send_message_batch("q", vec!["a".to_string(), "b".to_string()], None)
        .await?;
    assert_eq!(ids.len(), 2);
    let batch: Vec<RsmqMessage<Vec<u8>>> = rsmq
        .receive_message_batch::<Vec<u8>>("q", Some(Duration::from_secs(5)), 10)
        .await?;
    let bodies: Vec<Vec<u8>> = batch.into_iter().map(|m| m.message).collect();
    assert_eq!(bodies, [vec![3, 4], vec![5], b"a".to_vec(), b"b".to_vec()]);

    let id = rsmq.send_message("other", "move me", None).await?;
    let moved: bool = rsmq.move_message("other", &id, "q").await?;
    assert!(moved);
    let m: Option<RsmqMessage<MyPayload>> = rsmq
        .receive_message_or_dlq::<MyPayload>("q", None, "dlq", 3)
        .await?;
    assert_eq!(m.unwrap().message, MyPayload(b"move me".to_vec()));

    let gone: () = rsmq.delete_queue("other").await?;
    let _ = gone;
    Ok(())
}

/// 18's README: `async fn process(rsmq: &mut impl RsmqConnection)`.
async fn process(rsmq: &mut impl RsmqConnection) -> Result<(), RsmqError> {
    rsmq.send_message("jobs", "anything", None).await?;
    Ok(())
}

#[tokio::test]
async fn rsmq_new_and_every_method() {
    let mut rsmq = Rsmq::new(options("v18new")).await.unwrap();
    every_async_method(&mut rsmq).await.unwrap();
    rsmq.create_queue("jobs", None, None, None).await.unwrap();
    process(&mut rsmq).await.unwrap();
    // `Rsmq` is `Clone + Debug`, and its futures are `Send` (18 code spawns them).
    let mut clone = rsmq.clone();
    println!("{clone:?}");
    tokio::spawn(async move { clone.send_message("jobs", "spawned", None).await })
        .await
        .unwrap()
        .unwrap();
    assert_eq!(rsmq.get_queue_attributes("jobs").await.unwrap().msgs, 2);
}

#[tokio::test]
async fn rsmq_new_with_connection_is_awaited() {
    let conn: redis::aio::MultiplexedConnection = common::raw().await;
    let ns = common::namespace("v18conn");
    let mut rsmq = Rsmq::new_with_connection(conn, false, Some(&ns))
        .await
        .unwrap();
    every_async_method(&mut rsmq).await.unwrap();
    // `ns` defaults to "rsmq"; `?` works in a function returning `RsmqResult`.
    async fn with_default_ns(conn: redis::aio::MultiplexedConnection) -> RsmqResult<Rsmq> {
        let rsmq = Rsmq::new_with_connection(conn, true, None).await?;
        Ok(rsmq)
    }
    with_default_ns(common::raw().await).await.unwrap();
}

#[tokio::test]
async fn pooled_rsmq_new_and_new_with_pool() {
    let pool_opts = PoolOptions {
        max_size: Some(20),
        min_idle: Some(5),
    };
    let mut rsmq = PooledRsmq::new(options("v18pool"), pool_opts.clone())
        .await
        .unwrap();
    every_async_method(&mut rsmq).await.unwrap();
    let mut clone: PooledRsmq = rsmq.clone();
    process(&mut clone).await.unwrap_err(); // no queue "jobs": QueueNotFound
    let defaults = PoolOptions::default();
    assert_eq!((defaults.max_size, defaults.min_idle), (None, None));
    println!("{pool_opts:?}");

    // A bb8 pool built by hand, as 18 allows.
    let client = redis::Client::open(common::server().url()).unwrap();
    let manager: RedisConnectionManager = RedisConnectionManager::from_client(client).unwrap();
    println!("{:?}", manager.clone());
    let pool: bb8::Pool<RedisConnectionManager> = bb8::Pool::builder()
        .max_size(4)
        .build(manager)
        .await
        .unwrap();
    {
        let mut conn = pool.get().await.unwrap();
        let conn: &mut redis::aio::MultiplexedConnection = &mut conn;
        let pong: String = redis::cmd("PING").query_async(conn).await.unwrap();
        assert_eq!(pong, "PONG");
    }
    let ns = common::namespace("v18withpool");
    let mut rsmq = PooledRsmq::new_with_pool(pool, false, Some(&ns))
        .await
        .unwrap();
    every_async_method(&mut rsmq).await.unwrap();
}

/// Every method of 18's `RsmqConnectionSync`, through a `&mut C`.
fn every_sync_method<C: RsmqConnectionSync>(rsmq: &mut C) -> RsmqResult<()> {
    let created: () = rsmq.create_queue("q", Some(Duration::from_secs(30)), None, None)?;
    let _ = created;
    rsmq.create_queue("dlq", None, None, None)?;
    let queues: Vec<String> = rsmq.list_queues()?;
    assert_eq!(queues.len(), 2);
    let _: RsmqQueueAttributes = rsmq.set_queue_attributes("q", None, None, Some(-1))?;
    let attrs: RsmqQueueAttributes = rsmq.get_queue_attributes("q")?;
    assert_eq!(attrs.maxsize, -1);
    let id: String = rsmq.send_message("q", "hello", None)?;
    let msg: Option<RsmqMessage<String>> = rsmq.receive_message::<String>("q", None)?;
    assert_eq!(msg.unwrap().id, id);
    rsmq.change_message_visibility("q", &id, Duration::ZERO)?;
    let popped: Option<RsmqMessage<Vec<u8>>> = rsmq.pop_message::<Vec<u8>>("q")?;
    assert_eq!(popped.unwrap().message, b"hello");
    let deleted: bool = rsmq.delete_message("q", &id)?;
    assert!(!deleted);
    let ids: Vec<String> = rsmq.send_message_batch("q", vec!["a", "b"], None)?;
    let got: Vec<RsmqMessage<String>> = rsmq.receive_message_batch::<String>("q", None, 5)?;
    assert_eq!(got.len(), ids.len());
    let moved: bool = rsmq.move_message("q", &ids[0], "dlq")?;
    assert!(moved);
    let m: Option<RsmqMessage<String>> =
        rsmq.receive_message_or_dlq::<String>("dlq", None, "q", 5)?;
    assert_eq!(m.unwrap().message, "a");
    rsmq.delete_queue("dlq")?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rsmq_sync_new_is_awaited() {
    // 18's README: `let mut rsmq = RsmqSync::new(Default::default()).await?;`
    let mut rsmq = RsmqSync::new(options("v18sync")).await.unwrap();
    let mut rsmq = tokio::task::spawn_blocking(move || {
        every_sync_method(&mut rsmq).unwrap();
        rsmq
    })
    .await
    .unwrap();
    let clone: RsmqSync = rsmq.clone();
    println!("{clone:?}");
    rsmq.delete_queue("q").unwrap();
}

#[tokio::test]
async fn json_wrapper_and_extension_trait() {
    let mut rsmq = Rsmq::new(options("v18json")).await.unwrap();
    rsmq.create_queue("jobs", None, None, None).await.unwrap();
    let job = Job {
        id: 1,
        name: "x".into(),
    };
    // Style 1: the `Json<T>` wrapper through the plain API.
    rsmq.send_message("jobs", Json(job.clone()), None)
        .await
        .unwrap();
    let msg = rsmq
        .receive_message::<Json<Job>>("jobs", None)
        .await
        .unwrap();
    assert_eq!(msg.unwrap().message.0, job);
    let wrapped: Json<Job> = Json(job.clone());
    assert_eq!(wrapped.clone(), Json(job.clone()));
    println!("{wrapped:?}");

    // Style 2: the extension trait, including unsized values (`T: ?Sized`).
    rsmq.send_json("jobs", &job, None).await.unwrap();
    let msg: Option<RsmqMessage<Job>> = rsmq.receive_json::<Job>("jobs", None).await.unwrap();
    assert_eq!(msg.unwrap().message, job);
    rsmq.send_json("jobs", "text", None).await.unwrap();
    rsmq.send_json("jobs", &[1, 2, 3][..], None).await.unwrap();
    let text: Option<RsmqMessage<String>> = rsmq.pop_json::<String>("jobs").await.unwrap();
    assert_eq!(text.unwrap().message, "text");
    assert_eq!(
        rsmq.pop_json::<Vec<u8>>("jobs")
            .await
            .unwrap()
            .unwrap()
            .message,
        [1, 2, 3]
    );

    // Generic over the extension trait, or over `RsmqConnection + Send` as 18's blanket impl
    // required.
    async fn ext<C: RsmqJsonExt>(c: &mut C) -> RsmqResult<String> {
        c.send_json(
            "jobs",
            &Job {
                id: 2,
                name: "y".into(),
            },
            None,
        )
        .await
    }
    async fn plain<C: RsmqConnection + Send>(c: &mut C) -> RsmqResult<Option<RsmqMessage<Job>>> {
        c.receive_json::<Job>("jobs", None).await
    }
    ext(&mut rsmq).await.unwrap();
    assert_eq!(plain(&mut rsmq).await.unwrap().unwrap().message.id, 2);

    // A value JSON cannot hold is `JsonError`, whose `.0` is the serde_json error.
    let mut bad = std::collections::HashMap::new();
    bad.insert((1, 2), "tuple keys are not JSON");
    match rsmq.send_json("jobs", &bad, None).await {
        Err(RsmqError::JsonError(e)) => assert!(!e.0.to_string().is_empty()),
        other => panic!("{other:?}"),
    }
    // `?` on a serde_json result converts into `RsmqError`, as in 18.
    fn parse(text: &str) -> RsmqResult<Job> {
        Ok(serde_json::from_str(text)?)
    }
    assert!(matches!(parse("{"), Err(RsmqError::JsonError(_))));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_extension_trait_for_the_blocking_client() {
    let mut rsmq = RsmqSync::new(options("v18jsonsync")).await.unwrap();
    tokio::task::spawn_blocking(move || {
        rsmq.create_queue("jobs", None, None, None).unwrap();
        let job = Job {
            id: 3,
            name: "z".into(),
        };
        rsmq.send_json("jobs", &job, None).unwrap();
        rsmq.send_json("jobs", &job, None).unwrap();
        let got: Option<RsmqMessage<Job>> = rsmq.receive_json::<Job>("jobs", None).unwrap();
        assert_eq!(got.unwrap().message, job);
        let got: Option<RsmqMessage<Job>> = rsmq.pop_json::<Job>("jobs").unwrap();
        assert_eq!(got.unwrap().message, job);
        fn generic<C: RsmqJsonExtSync>(c: &mut C) -> RsmqResult<String> {
            c.send_json("jobs", "s", None)
        }
        generic(&mut rsmq).unwrap();
    })
    .await
    .unwrap();
}

#[test]
fn options_defaults_and_traits() {
    let d = RsmqOptions::default();
    assert_eq!(
        (d.host.as_str(), d.port, d.db, d.realtime, d.ns.as_str()),
        ("localhost", 6379, 0, false, "rsmq")
    );
    assert_eq!((d.username, d.password), (None, None));
    assert_eq!(d.protocol, redis::ProtocolVersion::RESP2);
    let opts = RsmqOptions {
        realtime: true,
        ..Default::default()
    };
    let copy: RsmqOptions = opts.clone();
    println!("{copy:?}");
}

#[test]
fn redis_bytes_conversions() {
    let from_str: RedisBytes = RedisBytes::from("a");
    let from_string: RedisBytes = String::from("b").into();
    let from_vec: RedisBytes = vec![0xffu8].into();
    let from_slice: RedisBytes = (&b"d"[..]).into();
    println!("{from_slice:?}");
    assert_eq!(String::try_from(from_str), Ok("a".to_string()));
    assert_eq!(Vec::<u8>::try_from(from_string), Ok(b"b".to_vec()));
    // A body that is not UTF-8 comes back as the error, untouched.
    let err: Vec<u8> = String::try_from(from_vec).unwrap_err();
    assert_eq!(err, [0xff]);
    assert_eq!(from_slice.into_bytes(), b"d");
}

#[test]
#[allow(deprecated)] // Variants 18 had and 19 never returns.
fn error_variants_and_result() {
    fn classify(e: &RsmqError) -> &str {
        // 18 code matching its variants by name. (RsmqError is `#[non_exhaustive]` now, so a
        // match needs a wildcard arm.)
        match e {
            RsmqError::RedisError(_) => "redis",
            RsmqError::NoConnectionAcquired => "no connection",
            RsmqError::NoAttributeSupplied => "no attribute",
            RsmqError::MissingParameter(name) => name.as_str(),
            RsmqError::InvalidFormat(name) => name.as_str(),
            RsmqError::InvalidValue(_, _, _) => "value",
            RsmqError::MessageNotString => "not string",
            RsmqError::MessageTooLong => "too long",
            RsmqError::QueueNotFound => "not found",
            RsmqError::QueueExists => "exists",
            RsmqError::BugCreatingRandomValue => "random",
            RsmqError::CannotParseVT => "vt",
            RsmqError::CannotParseDelay => "delay",
            RsmqError::CannotParseMaxsize => "maxsize",
            RsmqError::CannotDecodeMessage(_) => "decode",
            RsmqError::TokioStart(_) => "tokio",
            RsmqError::JsonError(_) => "json",
            _ => "other",
        }
    }
    let redis_err: redis::RedisError = (redis::ErrorKind::Io, "down").into();
    let from: RsmqError = redis_err.into();
    assert_eq!(classify(&from), "redis");
    assert_eq!(
        classify(&RsmqError::MissingParameter("qname".into())),
        "qname"
    );
    assert_eq!(classify(&RsmqError::InvalidFormat("id".into())), "id");
    // Errors compare with `==`, as in 18.
    assert_eq!(RsmqError::QueueNotFound, RsmqError::QueueNotFound);
    assert_ne!(RsmqError::QueueNotFound, RsmqError::QueueExists);
    let as_result: RsmqResult<()> = Err(RsmqError::MessageTooLong);
    assert_eq!(as_result, Err(RsmqError::MessageTooLong));
    // Usable as `Box<dyn Error + Send + Sync>` and printable.
    let boxed: Box<dyn std::error::Error + Send + Sync> = Box::new(RsmqError::QueueExists);
    assert!(!boxed.to_string().is_empty());
    println!("{:?}", RsmqError::NoConnectionAcquired);
}

#[tokio::test]
async fn validation_errors_keep_their_18_variants() {
    let mut rsmq = Rsmq::new(options("v18errors")).await.unwrap();
    let long = "a".repeat(161);
    assert!(matches!(
        rsmq.create_queue(&long, None, None, None).await,
        Err(RsmqError::InvalidFormat(_))
    ));
    assert!(matches!(
        rsmq.create_queue("q", None, None, Some(1023)).await,
        Err(RsmqError::InvalidValue(_, _, _))
    ));
    rsmq.create_queue("q", None, None, None).await.unwrap();
    assert!(matches!(
        rsmq.create_queue("q", None, None, None).await,
        Err(RsmqError::QueueExists)
    ));
    assert!(matches!(
        rsmq.send_message("q", "x".repeat(65537), None).await,
        Err(RsmqError::MessageTooLong)
    ));
    assert!(matches!(
        rsmq.get_queue_attributes("ghost").await,
        Err(RsmqError::QueueNotFound)
    ));
    // Where 19 reports what the JavaScript client reports (18's suite asserted otherwise):
    // arguments are checked before the queue's existence.
    assert_eq!(
        rsmq.create_queue("", None, None, None).await,
        Err(RsmqError::MissingParameter("qname".into()))
    );
    assert_eq!(
        rsmq.set_queue_attributes("ghost", None, None, None).await,
        Err(RsmqError::NoAttributeSupplied)
    );
    assert_eq!(
        rsmq.change_message_visibility("ghost", "fakeid", Duration::from_secs(5))
            .await,
        Err(RsmqError::InvalidFormat("id".into()))
    );
    assert_eq!(
        rsmq.change_message_visibility("ghost", &"a".repeat(32), Duration::from_secs(5))
            .await,
        Err(RsmqError::QueueNotFound)
    );
    // 18 returned the bare bytes; 19 returns the whole message (with its id).
    rsmq.send_message("q", vec![0xffu8], None).await.unwrap();
    match rsmq.receive_message::<String>("q", None).await {
        Err(RsmqError::CannotDecodeMessage(m)) => assert_eq!(m.message, [0xff]),
        other => panic!("{other:?}"),
    }
}
