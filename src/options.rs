//! Connection and queue-client options ([`RsmqOptions`]).

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use percent_encoding::percent_decode_str;

use crate::{RsmqError, RsmqResult, ScoreUnit};

/// How to reach Redis and which namespace to use.
///
/// Build it with struct syntax over [`Default`] (`..Default::default()`), or parse a URL.
/// Fields may be added in minor releases, always with a default, so a literal that names
/// every field without `..Default::default()` is the one use a release may break.
/// Constructors check the options before they connect (`InvalidOptions`).
///
/// ```
/// use rsmq_async::RsmqOptions;
///
/// let opts = RsmqOptions { realtime: true, ns: "app".into(), ..Default::default() };
/// assert_eq!(opts.port, 6379);
///
/// let opts: RsmqOptions = "redis://worker:s3cret@redis.internal:6380/2?ns=app".parse().unwrap();
/// assert_eq!((opts.host.as_str(), opts.port, opts.db), ("redis.internal", 6380, 2));
/// assert_eq!(opts.username.as_deref(), Some("worker"));
/// assert_eq!(opts.ns, "app");
/// // The password never shows in Debug output.
/// assert!(!format!("{opts:?}").contains("s3cret"));
/// ```
#[derive(Clone)]
pub struct RsmqOptions {
    /// Redis host name or address. Default `localhost`.
    pub host: String,
    /// Redis port. Default `6379`.
    pub port: u16,
    /// Redis database number. Default `0`.
    pub db: u8,
    /// Publish the queue size on `{ns}:rt:{qname}` after every send, as the JavaScript client
    /// does with `realtime: true`. Default `false`.
    pub realtime: bool,
    /// ACL user name. Default none.
    pub username: Option<String>,
    /// Password (for `requirepass` or the ACL user). Default none. Never printed by `Debug`.
    pub password: Option<String>,
    /// Namespace: every key starts with `{ns}:`. Default `rsmq`, as in the JavaScript client.
    pub ns: String,
    /// The RESP protocol version for the connection. Default RESP2.
    pub protocol: redis::ProtocolVersion,
    /// The longest wait for a connection (each attempt, and each reconnect attempt).
    /// Default 5 s; zero is refused (`InvalidOptions`).
    pub connection_timeout: Duration,
    /// The longest wait for a reply to one operation. Default 5 s; zero is refused.
    pub response_timeout: Duration,
    /// Connect with TLS (`rediss://`). Needs the feature `tls-rustls`. Default `false`.
    pub tls: bool,
    /// PEM certificate(s) of the authority that signed the server's certificate, for a
    /// private CA. `None` (default) trusts the system's roots.
    pub tls_root_cert: Option<Vec<u8>>,
    /// Coalesce concurrent calls: sends, receives (with the same vt) and deletes that tasks
    /// of this client make on one queue while another call of the kind is in flight leave
    /// together as one script call, each caller still getting its own result. A lone caller
    /// is never delayed. Default `true`; `false` sends every call on its own (URL parameter
    /// `coalesce=false`).
    pub coalesce: bool,
    /// The unit of the sorted-set scores this client writes and reads: milliseconds, as the
    /// JavaScript client writes them, or microseconds. Every client of a queue must use the
    /// same unit (see [`ScoreUnit`]). Default [`ScoreUnit::default()`]: milliseconds, or
    /// microseconds with the `break-js-comp` feature. URL parameter `score_unit=ms` or
    /// `score_unit=us`.
    pub score_unit: ScoreUnit,
    /// Durable sends: after each send (single, batch or coalesced), wait until this many
    /// replicas have the write, in the same round trip (`WAIT`). Fewer in time is
    /// [`RsmqError::NotDurable`], which carries the ids: the messages are queued all the
    /// same. Default `None` (no waiting). URL parameters `wait_replicas=N` and
    /// `wait_timeout=<milliseconds>` (default 1000). See
    /// [reliability](crate::guide::reliability#durable-sends).
    pub durable: Option<Durability>,
}

/// How many replicas a durable send waits for, and how long (see
/// [`RsmqOptions::durable`]).
///
/// ```
/// use rsmq_async::{Durability, RsmqOptions};
/// use std::time::Duration;
///
/// let opts = RsmqOptions {
///     durable: Some(Durability { replicas: 1, timeout: Duration::from_millis(500) }),
///     ..Default::default()
/// };
/// let from_url: RsmqOptions = "redis://localhost/?wait_replicas=1&wait_timeout=500".parse().unwrap();
/// assert_eq!(from_url.durable, opts.durable);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Durability {
    /// Replicas that must have each send. At least 1.
    pub replicas: u32,
    /// The longest wait for them, above zero and below the response timeout.
    pub timeout: Duration,
}

/// The wait of a durable send when a URL gives `wait_replicas` without `wait_timeout`.
const DEFAULT_WAIT_TIMEOUT: Duration = Duration::from_secs(1);

/// Default for [`RsmqOptions::connection_timeout`].
///
/// ```
/// use rsmq_async::{RsmqOptions, DEFAULT_CONNECTION_TIMEOUT};
///
/// assert_eq!(RsmqOptions::default().connection_timeout, DEFAULT_CONNECTION_TIMEOUT);
/// ```
pub const DEFAULT_CONNECTION_TIMEOUT: Duration = Duration::from_secs(5);
/// Default for [`RsmqOptions::response_timeout`].
///
/// ```
/// use std::time::Duration;
/// use rsmq_async::{RsmqOptions, DEFAULT_RESPONSE_TIMEOUT};
///
/// // A slow link: twice the default.
/// let options = RsmqOptions { response_timeout: DEFAULT_RESPONSE_TIMEOUT * 2, ..Default::default() };
/// assert_eq!(options.response_timeout, Duration::from_secs(10));
/// ```
pub const DEFAULT_RESPONSE_TIMEOUT: Duration = Duration::from_secs(5);

impl Default for RsmqOptions {
    fn default() -> Self {
        RsmqOptions {
            host: "localhost".to_string(),
            port: 6379,
            db: 0,
            realtime: false,
            username: None,
            password: None,
            ns: "rsmq".to_string(),
            protocol: redis::ProtocolVersion::RESP2,
            connection_timeout: DEFAULT_CONNECTION_TIMEOUT,
            response_timeout: DEFAULT_RESPONSE_TIMEOUT,
            tls: false,
            tls_root_cert: None,
            coalesce: true,
            score_unit: ScoreUnit::default(),
            durable: None,
        }
    }
}

impl fmt::Debug for RsmqOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RsmqOptions")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("db", &self.db)
            .field("realtime", &self.realtime)
            .field("coalesce", &self.coalesce)
            .field("score_unit", &self.score_unit)
            .field("durable", &self.durable)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .field("ns", &self.ns)
            .field("protocol", &self.protocol)
            .field("connection_timeout", &self.connection_timeout)
            .field("response_timeout", &self.response_timeout)
            .field("tls", &self.tls)
            .field(
                "tls_root_cert",
                &self
                    .tls_root_cert
                    .as_ref()
                    .map(|c| format!("<{} bytes>", c.len())),
            )
            .finish()
    }
}

impl RsmqOptions {
    /// Parses `redis://[user[:password]@]host[:port][/db][?ns=..&realtime=true&protocol=resp3]`,
    /// or `rediss://` for TLS (feature `tls-rustls`). `connection_timeout` and
    /// `response_timeout` parameters take milliseconds; `score_unit` takes `ms` or `us`.
    ///
    /// User name and password may be percent-encoded. Unknown query parameters are an error,
    /// so a typo does not silently fall back to a default. Errors never contain the password.
    ///
    /// ```
    /// use rsmq_async::RsmqOptions;
    ///
    /// let opts = RsmqOptions::from_url("redis://:p%40ss@127.0.0.1/3?realtime=true").unwrap();
    /// assert_eq!(opts.password.as_deref(), Some("p@ss"));
    /// assert_eq!(opts.db, 3);
    /// assert!(opts.realtime);
    /// assert!(RsmqOptions::from_url("http://localhost").is_err());
    /// ```
    pub fn from_url(url: &str) -> RsmqResult<Self> {
        let bad = |what: &str| RsmqError::InvalidUrl(what.to_string());
        let parsed = url::Url::parse(url).map_err(|e| bad(&e.to_string()))?;
        let mut opts = RsmqOptions::default();
        match parsed.scheme() {
            "redis" => {}
            "rediss" => opts.tls = true,
            other => return Err(bad(&format!("unsupported scheme `{other}`"))),
        }
        if let Some(host) = parsed.host_str() {
            if !host.is_empty() {
                opts.host = host
                    .trim_start_matches('[')
                    .trim_end_matches(']')
                    .to_string();
            }
        }
        if let Some(port) = parsed.port() {
            opts.port = port;
        }
        let decode = |s: &str, what: &str| {
            percent_decode_str(s)
                .decode_utf8()
                .map(|c| c.into_owned())
                .map_err(|_| bad(&format!("{what} is not valid UTF-8 after percent-decoding")))
        };
        if !parsed.username().is_empty() {
            opts.username = Some(decode(parsed.username(), "user name")?);
        }
        if let Some(pw) = parsed.password() {
            opts.password = Some(decode(pw, "password")?);
        }
        let path = parsed.path().trim_matches('/');
        if !path.is_empty() {
            opts.db = path
                .parse()
                .map_err(|_| bad(&format!("database `{path}` is not a number from 0 to 255")))?;
        }
        for (key, value) in parsed.query_pairs() {
            match &*key {
                "ns" => opts.ns = value.into_owned(),
                "realtime" | "coalesce" => {
                    let on = match &*value {
                        "true" | "1" | "yes" => true,
                        "false" | "0" | "no" => false,
                        _ => return Err(bad(&format!("{key}=`{value}` is not a boolean"))),
                    };
                    if key == "realtime" {
                        opts.realtime = on;
                    } else {
                        opts.coalesce = on;
                    }
                }
                "protocol" => {
                    opts.protocol = match &*value.to_ascii_lowercase() {
                        "resp2" | "2" => redis::ProtocolVersion::RESP2,
                        "resp3" | "3" => redis::ProtocolVersion::RESP3,
                        _ => return Err(bad(&format!("protocol=`{value}` is not resp2 or resp3"))),
                    }
                }
                "connection_timeout" | "response_timeout" => {
                    let ms: u64 = value.parse().map_err(|_| {
                        bad(&format!("{key}=`{value}` is not a number of milliseconds"))
                    })?;
                    let d = Duration::from_millis(ms);
                    if key == "connection_timeout" {
                        opts.connection_timeout = d;
                    } else {
                        opts.response_timeout = d;
                    }
                }
                "wait_replicas" => {
                    let n: u32 = value.parse().map_err(|_| {
                        bad(&format!(
                            "wait_replicas=`{value}` is not a number of replicas"
                        ))
                    })?;
                    let timeout = opts.durable.map_or(DEFAULT_WAIT_TIMEOUT, |d| d.timeout);
                    opts.durable = Some(Durability {
                        replicas: n,
                        timeout,
                    });
                }
                "wait_timeout" => {
                    let ms: u64 = value.parse().map_err(|_| {
                        bad(&format!(
                            "wait_timeout=`{value}` is not a number of milliseconds"
                        ))
                    })?;
                    let replicas = opts.durable.map_or(0, |d| d.replicas);
                    opts.durable = Some(Durability {
                        replicas,
                        timeout: Duration::from_millis(ms),
                    });
                }
                "score_unit" => {
                    opts.score_unit = value
                        .parse()
                        .map_err(|_| bad(&format!("score_unit=`{value}` is not ms or us")))?;
                }
                other => return Err(bad(&format!("unknown parameter `{other}`"))),
            }
        }
        if opts.durable.is_some_and(|d| d.replicas == 0) {
            return Err(bad("wait_timeout needs wait_replicas of at least 1"));
        }
        Ok(opts)
    }

    /// The `redis` crate's connection description for these options.
    fn connection_info(&self) -> RsmqResult<redis::ConnectionInfo> {
        use redis::IntoConnectionInfo;
        let mut settings = redis::RedisConnectionInfo::default()
            .set_db(i64::from(self.db))
            .set_protocol(self.protocol);
        if let Some(user) = &self.username {
            settings = settings.set_username(user);
        }
        if let Some(pw) = &self.password {
            settings = settings.set_password(pw);
        }
        let addr = if self.tls {
            redis::ConnectionAddr::TcpTls {
                host: self.host.clone(),
                port: self.port,
                insecure: false,
                tls_params: None,
            }
        } else {
            redis::ConnectionAddr::Tcp(self.host.clone(), self.port)
        };
        Ok(addr.into_connection_info()?.set_redis_settings(settings))
    }

    /// A `redis` client for these options (TLS set up when asked for), once the options are
    /// checked. Every client constructor starts here, before anything is sent.
    pub(crate) fn client(&self) -> RsmqResult<redis::Client> {
        self.validate()?;
        let info = self.connection_info()?;
        if !self.tls {
            return Ok(redis::Client::open(info)?);
        }
        #[cfg(feature = "tls-rustls")]
        {
            // rustls needs a process-wide crypto provider; ours is ring. Installing fails
            // harmlessly when the application installed one already.
            let _ = rustls::crypto::ring::default_provider().install_default();
            let certs = redis::TlsCertificates {
                client_tls: None,
                root_cert: self.tls_root_cert.clone(),
            };
            Ok(redis::Client::build_with_tls(info, certs)?)
        }
        #[cfg(not(feature = "tls-rustls"))]
        {
            let _ = info;
            Err(RsmqError::InvalidOptions(
                "TLS (rediss://) needs the `tls-rustls` feature of rsmq_async".into(),
            ))
        }
    }

    /// Rejects options no client can work with, saying what to change.
    fn validate(&self) -> RsmqResult<()> {
        for (name, value) in [
            ("connection_timeout", self.connection_timeout),
            ("response_timeout", self.response_timeout),
        ] {
            if value.is_zero() {
                return Err(RsmqError::InvalidOptions(format!(
                    "{name} is zero, so every call would time out at once: set a positive \
                     duration (in a URL, {name}=<milliseconds> above 0), or leave the default \
                     of 5 s"
                )));
            }
        }
        if let Some(d) = self.durable {
            if d.replicas == 0 {
                return Err(RsmqError::InvalidOptions(
                    "durable.replicas is 0: ask for at least 1 replica, or set durable to None"
                        .into(),
                ));
            }
            if d.timeout.is_zero() || d.timeout >= self.response_timeout {
                return Err(RsmqError::InvalidOptions(format!(
                    "durable.timeout ({:?}) must be above zero (Redis would wait forever) and \
                     below the response timeout ({:?}), so that a send reports too few replicas \
                     instead of timing out",
                    d.timeout, self.response_timeout
                )));
            }
        }
        Ok(())
    }

    /// The address connections go to, `host:port`, for error messages (never the password).
    pub(crate) fn address(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }

    /// Timeouts for plain multiplexed connections (the pool's, the probe's).
    pub(crate) fn async_config(&self) -> redis::AsyncConnectionConfig {
        redis::AsyncConnectionConfig::new()
            .set_connection_timeout(Some(self.connection_timeout))
            .set_response_timeout(Some(self.response_timeout))
    }
}

impl FromStr for RsmqOptions {
    type Err = RsmqError;

    fn from_str(s: &str) -> RsmqResult<Self> {
        RsmqOptions::from_url(s)
    }
}

/// A server address as the cluster and Sentinel constructors take it:
/// `redis://[user[:password]@]host[:port]`, `rediss://...`, or `host[:port]`.
#[cfg(any(feature = "cluster", feature = "sentinel"))]
pub(crate) struct NodeAddr {
    pub(crate) host: String,
    pub(crate) port: Option<u16>,
    pub(crate) tls: bool,
    /// (A cluster client takes its credentials from the options, a Sentinel client those of
    /// each sentinel from its address.)
    #[cfg_attr(not(feature = "sentinel"), allow(dead_code))]
    pub(crate) username: Option<String>,
    #[cfg_attr(not(feature = "sentinel"), allow(dead_code))]
    pub(crate) password: Option<String>,
}

/// Parses a node address; `what` names it in the error (`cluster node`, `sentinel`), which
/// never holds the credentials.
#[cfg(any(feature = "cluster", feature = "sentinel"))]
pub(crate) fn node_addr(addr: &str, what: &str) -> RsmqResult<NodeAddr> {
    let bad = |why: &str| {
        RsmqError::InvalidOptions(format!(
            "{what} {:?}: {why}; expected redis://host:port, rediss://host:port or host:port",
            without_credentials(addr)
        ))
    };
    let with_scheme = if addr.contains("://") {
        addr.to_string()
    } else {
        format!("redis://{addr}")
    };
    let url = url::Url::parse(&with_scheme).map_err(|_| bad("not an address"))?;
    let tls = match url.scheme() {
        "redis" => false,
        "rediss" => true,
        _ => return Err(bad("the scheme is not redis or rediss")),
    };
    let host = url
        .host_str()
        .ok_or_else(|| bad("no host"))?
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_string();
    let decode = |s: &str| percent_decode_str(s).decode_utf8_lossy().into_owned();
    Ok(NodeAddr {
        host,
        port: url.port(),
        tls,
        username: (!url.username().is_empty()).then(|| decode(url.username())),
        password: url.password().map(decode),
    })
}

/// An address for an error message: without anything before an `@`.
#[cfg(any(feature = "cluster", feature = "sentinel"))]
pub(crate) fn without_credentials(addr: &str) -> String {
    match (addr.find("://"), addr.rfind('@')) {
        (Some(s), Some(at)) if at > s => format!("{}{}", &addr[..s + 3], &addr[at + 1..]),
        (None, Some(at)) => addr[at + 1..].to_string(),
        _ => addr.to_string(),
    }
}
