//! Queue attributes ([`RsmqQueueAttributes`]) and how they are read from the `:Q` hash.

use std::time::Duration;

use redis::Value;

use crate::{id, reply, RsmqError, RsmqResult};

/// A queue's settings and counters, read in one atomic step.
///
/// ```no_run
/// # use rsmq_async::{Rsmq, RsmqConnection};
/// # async fn f(rsmq: Rsmq) -> rsmq_async::RsmqResult<()> {
/// let attrs = rsmq.get_queue_attributes("jobs").await?;
/// println!("{} messages, {} hidden, vt {:?}", attrs.msgs, attrs.hiddenmsgs, attrs.vt);
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RsmqQueueAttributes {
    /// Default visibility timeout (stored in whole seconds).
    pub vt: Duration,
    /// Default delivery delay (stored in whole seconds).
    pub delay: Duration,
    /// Largest body in bytes, or -1 for unlimited.
    pub maxsize: i64,
    /// Receives and pops so far (re-receives included).
    pub totalrecv: u64,
    /// Sends so far.
    pub totalsent: u64,
    /// Creation time, epoch **seconds** (Redis clock).
    pub created: u64,
    /// Last change of the attributes, epoch **seconds** (Redis clock).
    pub modified: u64,
    /// Messages in the queue, visible or not.
    pub msgs: u64,
    /// Messages not receivable now. As in the JavaScript client, this counts messages whose
    /// score is at or after the start of the current second, so a message that became
    /// visible earlier in the current second still counts as hidden.
    pub hiddenmsgs: u64,
    /// Messages receivable now (score at or before the current millisecond). Not in the
    /// JavaScript client.
    pub visiblemsgs: u64,
    /// Age of the message at the head of the queue (the next one to become receivable):
    /// Redis time now minus its send time. Zero for an empty queue, or when the head's id was
    /// not made by an RSMQ client. Not in the JavaScript client.
    pub oldestmsgage: Duration,
}

impl RsmqQueueAttributes {
    /// Decodes the array the attribute scripts return: vt, delay, maxsize, totalrecv,
    /// totalsent, created, modified, msgs, hiddenmsgs, visible count, head id, now (ms).
    pub(crate) fn from_reply(value: Value) -> RsmqResult<Self> {
        let fields = reply::array(value, 12, "queue attributes")?;
        let [vt, delay, maxsize, totalrecv, totalsent, created, modified, msgs, hidden, visible, head, now] =
            <[Value; 12]>::try_from(fields)
                .map_err(|_| RsmqError::InvalidReply("queue attributes: wrong length".into()))?;
        let now_ms = reply::counter(&now, "now")?;
        let head_sent = match head {
            Value::Nil => None,
            head => id::sent_millis(&reply::string(head, "head id")?),
        };
        Ok(RsmqQueueAttributes {
            vt: reply::seconds(&vt).ok_or(RsmqError::CannotParseVT)?,
            delay: reply::seconds(&delay).ok_or(RsmqError::CannotParseDelay)?,
            maxsize: reply::integer(&maxsize).ok_or(RsmqError::CannotParseMaxsize)?,
            totalrecv: reply::counter(&totalrecv, "totalrecv")?,
            totalsent: reply::counter(&totalsent, "totalsent")?,
            created: reply::counter(&created, "created")?,
            modified: reply::counter(&modified, "modified")?,
            msgs: reply::counter(&msgs, "msgs")?,
            hiddenmsgs: reply::counter(&hidden, "hiddenmsgs")?,
            visiblemsgs: reply::counter(&visible, "visible messages")?,
            oldestmsgage: Duration::from_millis(
                head_sent.map_or(0, |sent| now_ms.saturating_sub(sent)),
            ),
        })
    }
}
