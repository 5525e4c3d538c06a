//! Long polling: [`receive_message_wait`](crate::RsmqConnection::receive_message_wait)
//! without busy polling.
//!
//! A waiter tries to receive; when nothing is receivable, the script also says when the next
//! hidden message becomes due. The waiter then sleeps until the first of:
//! - a realtime notification on `{ns}:rt:{qname}` (published by producers with `realtime`);
//! - the next hidden message's due time;
//! - the fallback poll interval ([`FALLBACK_POLL`]), since a PUBLISH can be lost and
//!   producers without `realtime` publish nothing;
//! - the end of the wait.
//!
//! Notifications come from one subscriber connection per client (shared by its clones and
//! all their waiters), opened at the first wait with a pattern subscription to
//! `{ns}:rt:*`. The subscriber runs as a task on Tokio, or on a thread of its own driven by
//! `async-io` elsewhere (smol); it reconnects by itself and stops when the last clone of the
//! client is dropped.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use event_listener::Event;
use futures_util::future::{select, Either};
use futures_util::StreamExt;
use redis::aio::ConnectionLike;

use crate::engine::Engine;
use crate::reply::Received;
use crate::{RedisBytes, RsmqMessage, RsmqResult};

#[cfg(not(any(feature = "tokio-comp", feature = "smol-comp")))]
compile_error!("rsmq_async needs a runtime: enable the `tokio-comp` or `smol-comp` feature");

/// The longest a waiter sleeps without checking the queue again.
pub const FALLBACK_POLL: Duration = Duration::from_millis(500);

/// The notification side of long polling, shared by a client's clones.
pub(crate) struct Waiter {
    notifier: Option<Arc<Notifier>>,
}

impl Waiter {
    /// A waiter that subscribes through `client` (when given) to the namespace's channels.
    pub(crate) fn new(client: Option<redis::Client>, ns: &str) -> Self {
        Waiter {
            notifier: client.map(|c| Arc::new(Notifier::new(c, ns))),
        }
    }

    /// Receives from `qname`, waiting up to `wait` for a message to become receivable.
    pub(crate) async fn receive<C, Fut, E>(
        &self,
        engine: &Engine,
        mut connect: impl FnMut() -> Fut,
        qname: &str,
        vt: Option<Duration>,
        wait: Duration,
    ) -> RsmqResult<Option<RsmqMessage<E>>>
    where
        C: std::ops::DerefMut + Send,
        C::Target: ConnectionLike + Send + Sized,
        Fut: Future<Output = RsmqResult<C>> + Send,
        E: TryFrom<RedisBytes, Error = Vec<u8>>,
    {
        let deadline = Instant::now() + wait;
        let event = self.notifier.as_ref().map(|n| n.queue(qname));
        loop {
            // Listen before receiving, so a publish in between is not missed.
            let listener = event.as_ref().map(|e| e.listen());
            let due = {
                let mut con = connect().await?;
                match engine.receive_next(&mut *con, qname, vt).await? {
                    Received::Message(m) => return m.decode().map(Some),
                    Received::Nothing(due) => due,
                }
            };
            let now = Instant::now();
            if now >= deadline {
                return Ok(None);
            }
            let mut nap = (deadline - now).min(FALLBACK_POLL);
            if let Some(units) = due {
                // Wake just after the next hidden message becomes due.
                nap = nap.min(engine.score_unit().duration(units) + Duration::from_millis(1));
            }
            match listener {
                Some(l) => drop(select(l, Box::pin(sleep(nap))).await),
                None => sleep(nap).await,
            }
        }
    }
}

/// Sleeps on whichever runtime is running.
pub(crate) async fn sleep(d: Duration) {
    #[cfg(feature = "tokio-comp")]
    if tokio::runtime::Handle::try_current().is_ok() {
        tokio::time::sleep(d).await;
        return;
    }
    #[cfg(feature = "smol-comp")]
    {
        async_io::Timer::after(d).await;
    }
    #[cfg(not(feature = "smol-comp"))]
    {
        // Tokio is compiled in but not running: sleep on a helper thread.
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        std::thread::spawn(move || {
            std::thread::sleep(d);
            let _ = tx.send(());
        });
        let _ = rx.await;
    }
}

/// One pattern subscription per client, fanned out to an [`Event`] per queue.
struct Notifier {
    client: redis::Client,
    pattern: String,
    prefix: String,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    started: bool,
    queues: HashMap<String, Arc<Event>>,
}

impl Notifier {
    fn new(client: redis::Client, ns: &str) -> Self {
        let prefix = crate::keys::realtime_channel(ns, "");
        Notifier {
            client,
            pattern: format!("{}*", escape_glob(&prefix)),
            prefix,
            state: Mutex::default(),
        }
    }

    /// The notification of one queue; starts the subscriber on first use.
    fn queue(self: &Arc<Self>, qname: &str) -> Arc<Event> {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if !state.started {
            state.started = true;
            spawn(subscribe(Arc::downgrade(self)));
        }
        state.queues.entry(qname.to_string()).or_default().clone()
    }

    /// Wakes the waiters of one queue, or of all queues.
    fn wake(&self, qname: Option<&str>) {
        let state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        match qname {
            Some(q) => {
                if let Some(e) = state.queues.get(q) {
                    e.notify(usize::MAX);
                }
            }
            None => state.queues.values().for_each(|e| {
                e.notify(usize::MAX);
            }),
        }
    }
}

/// Runs the subscriber: a task on the current Tokio runtime, else a thread of its own.
fn spawn(fut: impl Future<Output = ()> + Send + 'static) {
    #[cfg(feature = "tokio-comp")]
    if let Ok(handle) = tokio::runtime::Handle::try_current() {
        handle.spawn(fut);
        return;
    }
    #[cfg(feature = "smol-comp")]
    {
        let _ = std::thread::Builder::new()
            .name("rsmq-subscriber".into())
            .spawn(move || async_io::block_on(fut));
    }
    #[cfg(not(feature = "smol-comp"))]
    drop(fut); // Tokio only, and no runtime running: waiters use their timers.
}

/// Escapes the glob characters of a PSUBSCRIBE pattern.
fn escape_glob(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '*' | '?' | '[' | ']' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// The subscriber: (re)subscribes, forwards notifications, stops when the client is gone.
async fn subscribe(notifier: Weak<Notifier>) {
    loop {
        let Some(n) = notifier.upgrade() else { return };
        let (client, pattern, prefix) = (n.client.clone(), n.pattern.clone(), n.prefix.clone());
        drop(n);
        if let Ok(mut pubsub) = client.get_async_pubsub().await {
            if pubsub.psubscribe(&pattern).await.is_ok() {
                // Anything published while we were away was missed: let waiters re-check.
                if let Some(n) = notifier.upgrade() {
                    n.wake(None);
                }
                let mut messages = pubsub.on_message();
                loop {
                    match select(messages.next(), Box::pin(sleep(Duration::from_secs(2)))).await {
                        Either::Left((Some(msg), _)) => {
                            let Some(n) = notifier.upgrade() else { return };
                            let channel = msg.get_channel_name();
                            n.wake(Some(channel.strip_prefix(&prefix).unwrap_or(channel)));
                        }
                        Either::Left((None, _)) => break,
                        Either::Right(_) if notifier.strong_count() == 0 => return,
                        Either::Right(_) => {}
                    }
                }
            }
        }
        if notifier.strong_count() == 0 {
            return;
        }
        sleep(Duration::from_millis(500)).await;
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn glob_characters_are_escaped() {
        assert_eq!(
            super::escape_glob("a*b?[c]\\:rt:"),
            "a\\*b\\?\\[c\\]\\\\:rt:"
        );
    }
}
