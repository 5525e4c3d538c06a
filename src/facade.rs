//! The [`RsmqConnection`](crate::RsmqConnection) implementation every async client shares.
//!
//! A client provides four things: an `engine: Engine` field, a `waiter: Waiter` field,
//! `async fn conn(&self) -> RsmqResult<impl DerefMut<Target: ConnectionLike>>` handing out a
//! connection for one operation, and `fn coalescing_conn(&self)` returning
//! `Option<impl ConnectionLike + Send + 'static>`: an owned connection when the client
//! coalesces sends, receives and deletes (see `coalesce`), else `None`.
//! [`impl_rsmq_connection!`] turns them into the trait, so every client forwards every
//! operation the same way, each in its `tracing` span (see `observe`).

use std::ops::{Deref, DerefMut};

/// A connection owned for the length of one operation (a clone of a multiplexed handle).
pub(crate) struct Owned<T>(pub(crate) T);

impl<T> Deref for Owned<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T> DerefMut for Owned<T> {
    fn deref_mut(&mut self) -> &mut T {
        &mut self.0
    }
}

/// Implements `RsmqConnection` for a client type (see the module docs).
///
/// Each operation runs in its debug span (see `observe`); the id of a message is recorded
/// on it once known.
macro_rules! impl_rsmq_connection {
    ($client:ty) => {
        impl $crate::RsmqConnection for $client {
            async fn change_message_visibility(
                &self,
                qname: &str,
                message_id: &str,
                vt: ::std::time::Duration,
            ) -> $crate::RsmqResult<bool> {
                let span =
                    $crate::observe::op_span!("change_message_visibility", qname, id = message_id);
                $crate::observe::traced(span, async {
                    let mut con = self.conn().await?;
                    self.engine
                        .change_message_visibility(&mut *con, qname, message_id, vt)
                        .await
                })
                .await
            }

            async fn create_queue(
                &self,
                qname: &str,
                vt: Option<::std::time::Duration>,
                delay: Option<::std::time::Duration>,
                maxsize: Option<i64>,
            ) -> $crate::RsmqResult<()> {
                let span = $crate::observe::op_span!("create_queue", qname);
                $crate::observe::traced(span, async {
                    let mut con = self.conn().await?;
                    self.engine
                        .create_queue(&mut *con, qname, vt, delay, maxsize)
                        .await
                })
                .await
            }

            async fn delete_message(
                &self,
                qname: &str,
                message_id: &str,
            ) -> $crate::RsmqResult<bool> {
                let span = $crate::observe::op_span!("delete_message", qname, id = message_id);
                $crate::observe::traced(span, async {
                    if let Some(con) = self.coalescing_conn() {
                        return self
                            .engine
                            .delete_message_coalesced(con, qname, message_id)
                            .await;
                    }
                    let mut con = self.conn().await?;
                    self.engine
                        .delete_message(&mut *con, qname, message_id)
                        .await
                })
                .await
            }

            async fn delete_queue(&self, qname: &str) -> $crate::RsmqResult<()> {
                let span = $crate::observe::op_span!("delete_queue", qname);
                $crate::observe::traced(span, async {
                    let mut con = self.conn().await?;
                    self.engine.delete_queue(&mut *con, qname).await
                })
                .await
            }

            async fn get_queue_attributes(
                &self,
                qname: &str,
            ) -> $crate::RsmqResult<$crate::RsmqQueueAttributes> {
                let span = $crate::observe::op_span!("get_queue_attributes", qname);
                $crate::observe::traced(span, async {
                    let mut con = self.conn().await?;
                    self.engine.get_queue_attributes(&mut *con, qname).await
                })
                .await
            }

            async fn list_queues(&self) -> $crate::RsmqResult<Vec<String>> {
                let span = $crate::observe::op_span!("list_queues", ::tracing::field::Empty);
                $crate::observe::traced(span, async {
                    let mut con = self.conn().await?;
                    self.engine.list_queues(&mut *con).await
                })
                .await
            }

            async fn pop_message<E: TryFrom<$crate::RedisBytes, Error = Vec<u8>>>(
                &self,
                qname: &str,
            ) -> $crate::RsmqResult<Option<$crate::RsmqMessage<E>>> {
                let span = $crate::observe::op_span!("pop_message", qname);
                $crate::observe::traced(span.clone(), async {
                    let mut con = self.conn().await?;
                    self.engine.pop_message(&mut *con, qname).await
                })
                .await
                .inspect(|m| {
                    if let Some(m) = m {
                        $crate::observe::record_id(&span, &m.id);
                    }
                })
            }

            async fn receive_message<E: TryFrom<$crate::RedisBytes, Error = Vec<u8>>>(
                &self,
                qname: &str,
                vt: Option<::std::time::Duration>,
            ) -> $crate::RsmqResult<Option<$crate::RsmqMessage<E>>> {
                let span = $crate::observe::op_span!("receive_message", qname);
                $crate::observe::traced(span.clone(), async {
                    if let Some(con) = self.coalescing_conn() {
                        return self.engine.receive_message_coalesced(con, qname, vt).await;
                    }
                    let mut con = self.conn().await?;
                    self.engine.receive_message(&mut *con, qname, vt).await
                })
                .await
                .inspect(|m| {
                    if let Some(m) = m {
                        $crate::observe::record_id(&span, &m.id);
                    }
                })
            }

            async fn send_message<E: Into<$crate::RedisBytes> + Send>(
                &self,
                qname: &str,
                message: E,
                delay: Option<::std::time::Duration>,
            ) -> $crate::RsmqResult<String> {
                let message = message.into();
                let span = $crate::observe::op_span!("send_message", qname);
                $crate::observe::traced(span.clone(), async {
                    if let Some(con) = self.coalescing_conn() {
                        return self
                            .engine
                            .send_message_coalesced(con, qname, message, delay)
                            .await;
                    }
                    let mut con = self.conn().await?;
                    self.engine
                        .send_message(&mut *con, qname, message, delay)
                        .await
                })
                .await
                .inspect(|id| $crate::observe::record_id(&span, id))
            }

            async fn set_queue_attributes(
                &self,
                qname: &str,
                vt: Option<::std::time::Duration>,
                delay: Option<::std::time::Duration>,
                maxsize: Option<i64>,
            ) -> $crate::RsmqResult<$crate::RsmqQueueAttributes> {
                let span = $crate::observe::op_span!("set_queue_attributes", qname);
                $crate::observe::traced(span, async {
                    let mut con = self.conn().await?;
                    self.engine
                        .set_queue_attributes(&mut *con, qname, vt, delay, maxsize)
                        .await
                })
                .await
            }

            async fn send_message_batch<E: Into<$crate::RedisBytes> + Send>(
                &self,
                qname: &str,
                messages: Vec<E>,
                delay: Option<::std::time::Duration>,
            ) -> $crate::RsmqResult<Vec<String>> {
                let span =
                    $crate::observe::op_span!("send_message_batch", qname, count = messages.len());
                let messages = messages.into_iter().map(Into::into).collect();
                $crate::observe::traced(span, async {
                    let mut con = self.conn().await?;
                    self.engine
                        .send_message_batch(&mut *con, qname, messages, delay)
                        .await
                })
                .await
            }

            async fn receive_message_batch<
                E: TryFrom<$crate::RedisBytes, Error = Vec<u8>> + Send,
            >(
                &self,
                qname: &str,
                vt: Option<::std::time::Duration>,
                max: u32,
            ) -> $crate::RsmqResult<Vec<$crate::RsmqMessage<E>>> {
                let span = $crate::observe::op_span!("receive_message_batch", qname, count = max);
                $crate::observe::traced(span, async {
                    let mut con = self.conn().await?;
                    self.engine
                        .receive_message_batch(&mut *con, qname, vt, max)
                        .await
                })
                .await
            }

            async fn delete_message_batch<S: AsRef<str> + Sync>(
                &self,
                qname: &str,
                ids: &[S],
            ) -> $crate::RsmqResult<u64> {
                let span =
                    $crate::observe::op_span!("delete_message_batch", qname, count = ids.len());
                $crate::observe::traced(span, async {
                    let mut con = self.conn().await?;
                    self.engine
                        .delete_message_batch(&mut *con, qname, ids)
                        .await
                })
                .await
            }

            async fn change_message_visibility_batch<S: AsRef<str> + Sync>(
                &self,
                qname: &str,
                ids: &[S],
                vt: ::std::time::Duration,
            ) -> $crate::RsmqResult<u64> {
                let span = $crate::observe::op_span!(
                    "change_message_visibility_batch",
                    qname,
                    count = ids.len()
                );
                $crate::observe::traced(span, async {
                    let mut con = self.conn().await?;
                    self.engine
                        .change_message_visibility_batch(&mut *con, qname, ids, vt)
                        .await
                })
                .await
            }

            async fn move_message(
                &self,
                src: &str,
                message_id: &str,
                dst: &str,
            ) -> $crate::RsmqResult<bool> {
                let span =
                    $crate::observe::op_span!("move_message", src, id = message_id, to = dst);
                $crate::observe::traced(span, async {
                    let mut con = self.conn().await?;
                    self.engine
                        .move_message(&mut *con, src, message_id, dst)
                        .await
                })
                .await
            }

            async fn receive_message_or_dlq<E: TryFrom<$crate::RedisBytes, Error = Vec<u8>>>(
                &self,
                qname: &str,
                vt: Option<::std::time::Duration>,
                dlq: &str,
                max_receives: u64,
            ) -> $crate::RsmqResult<Option<$crate::RsmqMessage<E>>> {
                let span = $crate::observe::op_span!("receive_message_or_dlq", qname, dlq = dlq);
                $crate::observe::traced(span.clone(), async {
                    let mut con = self.conn().await?;
                    self.engine
                        .receive_message_or_dlq(&mut *con, qname, vt, dlq, max_receives)
                        .await
                })
                .await
                .inspect(|m| {
                    if let Some(m) = m {
                        $crate::observe::record_id(&span, &m.id);
                    }
                })
            }

            async fn redrive(&self, dlq: &str, dst: &str, max: u32) -> $crate::RsmqResult<u64> {
                let span = $crate::observe::op_span!("redrive", dlq, to = dst, count = max);
                $crate::observe::traced(span, async {
                    let mut con = self.conn().await?;
                    self.engine.redrive(&mut *con, dlq, dst, max).await
                })
                .await
            }

            async fn receive_message_wait<E: TryFrom<$crate::RedisBytes, Error = Vec<u8>>>(
                &self,
                qname: &str,
                vt: Option<::std::time::Duration>,
                wait: ::std::time::Duration,
            ) -> $crate::RsmqResult<Option<$crate::RsmqMessage<E>>> {
                let span = $crate::observe::op_span!("receive_message_wait", qname);
                $crate::observe::traced(
                    span.clone(),
                    self.waiter
                        .receive(&self.engine, || self.conn(), qname, vt, wait),
                )
                .await
                .inspect(|m| {
                    if let Some(m) = m {
                        $crate::observe::record_id(&span, &m.id);
                    }
                })
            }

            async fn peek_messages<E: TryFrom<$crate::RedisBytes, Error = Vec<u8>> + Send>(
                &self,
                qname: &str,
                max: u32,
            ) -> $crate::RsmqResult<Vec<$crate::RsmqMessage<E>>> {
                let span = $crate::observe::op_span!("peek_messages", qname, count = max);
                $crate::observe::traced(span, async {
                    let mut con = self.conn().await?;
                    self.engine.peek_messages(&mut *con, qname, max).await
                })
                .await
            }

            async fn live_workers(&self) -> $crate::RsmqResult<Vec<$crate::LiveWorker>> {
                let span = $crate::observe::op_span!("live_workers", ::tracing::field::Empty);
                $crate::observe::traced(span, async {
                    let mut con = self.conn().await?;
                    self.engine.live_workers(&mut *con).await
                })
                .await
            }

            async fn server_memory(&self) -> $crate::RsmqResult<$crate::ServerMemory> {
                let span = $crate::observe::op_span!("server_memory", ::tracing::field::Empty);
                $crate::observe::traced(span, async {
                    let mut con = self.conn().await?;
                    self.engine.server_memory(&mut *con).await
                })
                .await
            }

            async fn register_worker(
                &self,
                id: &str,
                ttl: ::std::time::Duration,
                entry: &str,
            ) -> $crate::RsmqResult<()> {
                let mut con = self.conn().await?;
                self.engine.register_worker(&mut *con, id, ttl, entry).await
            }

            async fn unregister_worker(&self, id: &str) -> $crate::RsmqResult<()> {
                let mut con = self.conn().await?;
                self.engine.unregister_worker(&mut *con, id).await
            }

            async fn purge_queue(&self, qname: &str) -> $crate::RsmqResult<u64> {
                let span = $crate::observe::op_span!("purge_queue", qname);
                $crate::observe::traced(span, async {
                    let mut con = self.conn().await?;
                    self.engine.purge_queue(&mut *con, qname).await
                })
                .await
            }

            async fn browse_messages<E: TryFrom<$crate::RedisBytes, Error = Vec<u8>> + Send>(
                &self,
                qname: &str,
                cursor: u64,
                max: u32,
            ) -> $crate::RsmqResult<$crate::MessagePage<E>> {
                let span = $crate::observe::op_span!("browse_messages", qname, count = max);
                $crate::observe::traced(span, async {
                    let mut con = self.conn().await?;
                    self.engine
                        .browse_messages(&mut *con, qname, cursor, max)
                        .await
                })
                .await
            }

            async fn get_message<E: TryFrom<$crate::RedisBytes, Error = Vec<u8>> + Send>(
                &self,
                qname: &str,
                message_id: &str,
            ) -> $crate::RsmqResult<Option<$crate::BrowsedMessage<E>>> {
                let span = $crate::observe::op_span!("get_message", qname, id = message_id);
                $crate::observe::traced(span, async {
                    let mut con = self.conn().await?;
                    self.engine.get_message(&mut *con, qname, message_id).await
                })
                .await
            }
        }
    };
}

pub(crate) use impl_rsmq_connection;
