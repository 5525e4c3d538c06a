//! Redis key names of the RSMQ layout.
//!
//! | key | type | holds |
//! |---|---|---|
//! | `{ns}:QUEUES` | set | queue names |
//! | `{ns}:{q}` | sorted set | message ids scored by the time they become receivable |
//! | `{ns}:{q}:Q` | hash | attributes, counters, bodies |
//! | `{ns}:rt:{q}` | channel | realtime notifications |
//! | `{ns}:.workers` | hash | live workers (the worker runtime's own; no queue name has a `.`) |
//!
//! Key names are built here and only here, and passed to scripts in `KEYS`.

/// The keys of one queue. One allocation: the sorted-set key is a prefix of the hash key.
pub(crate) struct QueueKeys {
    hash: String,
}

impl QueueKeys {
    pub(crate) fn new(ns: &str, qname: &str) -> Self {
        let mut hash = String::with_capacity(ns.len() + qname.len() + 3);
        hash.push_str(ns);
        hash.push(':');
        hash.push_str(qname);
        hash.push_str(":Q");
        QueueKeys { hash }
    }

    /// `{ns}:{q}`: the sorted set of message ids.
    pub(crate) fn messages(&self) -> &str {
        &self.hash[..self.hash.len() - 2]
    }

    /// `{ns}:{q}:Q`: the hash of attributes and bodies.
    pub(crate) fn queue(&self) -> &str {
        &self.hash
    }
}

/// `{ns}:QUEUES`: the set of queue names.
pub(crate) fn queues_set(ns: &str) -> String {
    format!("{ns}:QUEUES")
}

/// `{ns}:rt:{q}`: the realtime channel.
pub(crate) fn realtime_channel(ns: &str, qname: &str) -> String {
    format!("{ns}:rt:{qname}")
}

/// `{ns}:.workers`: the liveness hash of running workers. JavaScript rsmq never reads it, and
/// no queue can have this key: queue names have no `.`.
pub(crate) fn workers(ns: &str) -> String {
    format!("{ns}:.workers")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_follow_the_js_layout() {
        let k = QueueKeys::new("rsmq", "jobs");
        assert_eq!(k.messages(), "rsmq:jobs");
        assert_eq!(k.queue(), "rsmq:jobs:Q");
        assert_eq!(queues_set("rsmq"), "rsmq:QUEUES");
        assert_eq!(realtime_channel("rsmq", "jobs"), "rsmq:rt:jobs");
        assert_eq!(workers("rsmq"), "rsmq:.workers");
    }
}
