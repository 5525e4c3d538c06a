//! Authentication, the CSRF check, read-only mode, the audit log and the security headers.
//!
//! [`guard`] runs before every route. It finds who is asking (bearer token, Basic user or
//! nobody), refuses what must be refused (401, 403 `csrf`), and runs the route inside a
//! task-local [`Who`] that [`Ctx::mutation`] reads for the audit event.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::Engine as _;

use crate::error::ApiError;
use crate::{session, Ctx, Shared, WebConfig};

/// The header that carries the CSRF token.
const CSRF_HEADER: HeaderName = HeaderName::from_static("x-csrf-token");

/// The challenge of HTTP Basic authentication, which makes a browser ask for a password.
const BASIC_CHALLENGE: &str = r#"Basic realm="rsmq", charset="UTF-8""#;

/// How a request authenticated.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Auth {
    /// No credentials are configured.
    None,
    /// The bearer token.
    Token,
    /// HTTP Basic, as this user.
    Basic(String),
    /// A session opened with the token on the sign-in form (`session.rs`): its id.
    Session(String),
}

/// Who made the request that a route is serving: what the audit log says.
#[derive(Clone)]
struct Who {
    /// `token`, `basic:<user>`, `session` or `none`.
    auth: String,
    /// The id of the session the request came with, when it authenticated with one.
    session: Option<String>,
    /// The peer's address, when the server records it (`ConnectInfo<SocketAddr>`).
    peer: Option<String>,
    /// Why the request fails the CSRF check, if it does (only a change is refused for it).
    csrf: Option<&'static str>,
}

tokio::task_local! {
    static WHO: Who;
}

/// Authentication, the CSRF check of changes and the security headers, on every route (the
/// fallback too).
pub(crate) async fn guard(State(ctx): Shared, req: Request, next: Next) -> Response {
    let mut res = match check(&ctx, &req) {
        Ok(who) => WHO.scope(who, next.run(req)).await,
        Err(Refusal::Unauthorized) if session::offers_sign_in(&ctx, &req) => {
            let mut res = session::sign_in_instead(&ctx, &req);
            challenge(&ctx.config, res.headers_mut());
            res
        }
        Err(Refusal::Unauthorized) => unauthorized(&ctx.config),
        Err(Refusal::Csrf(reason)) => {
            ApiError::new(StatusCode::FORBIDDEN, "csrf", reason).into_response()
        }
    };
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'self'"),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}

/// Why the guard refuses a request.
enum Refusal {
    /// No credentials that match (401).
    Unauthorized,
    /// A change that fails the CSRF check, and why (403).
    Csrf(&'static str),
}

/// Who is asking, or why the request is refused.
fn check(ctx: &Ctx, req: &Request) -> Result<Who, Refusal> {
    // Signing in and out are for browsers without the CSRF token: only cross-site requests
    // are refused there. Signing in, and the pages' script and style sheet (the same for
    // everyone), need no credentials.
    let path = req.uri().path();
    let signing = path == "/login" || path == "/logout";
    let public = path == "/login" || path.starts_with("/assets/");
    let auth = match authenticate(ctx, req.headers()) {
        Some(auth) => auth,
        None if public => Auth::None,
        None => return Err(Refusal::Unauthorized),
    };
    let peer = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(addr)| addr.to_string());
    let auth_name = match &auth {
        Auth::None => "none".to_string(),
        Auth::Token => "token".to_string(),
        Auth::Basic(user) => format!("basic:{user}"),
        Auth::Session(_) => "session".to_string(),
    };
    let csrf = if signing {
        cross_site(req.headers())
    } else {
        csrf_failure(req.headers(), &ctx.csrf, auth == Auth::Token)
    };
    if let Some(reason) = csrf.filter(|_| changes(req)) {
        tracing::info!(
            target: "rsmq_web::audit",
            method = req.method().as_str(),
            path = req.uri().path(),
            auth = auth_name.as_str(),
            peer = peer.as_deref(),
            reason,
            "refused: csrf"
        );
        return Err(Refusal::Csrf(reason));
    }
    let session = match auth {
        Auth::Session(id) => Some(id),
        _ => None,
    };
    Ok(Who {
        auth: auth_name,
        session,
        peer,
        csrf,
    })
}

/// How the request authenticates; `None` when credentials are required and it has none
/// that match. `Authorization` decides when present; otherwise a session cookie.
fn authenticate(ctx: &Ctx, headers: &HeaderMap) -> Option<Auth> {
    let config = &ctx.config;
    if !config.requires_auth() {
        return Some(Auth::None);
    }
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        let id = session::cookie(headers)?;
        return (config.token.is_some() && ctx.sessions.is_open(id))
            .then(|| Auth::Session(id.to_string()));
    };
    let value = value.as_bytes();
    let (scheme, credentials) = match value.iter().position(|&b| b == b' ') {
        Some(i) => (&value[..i], value[i + 1..].trim_ascii()),
        None => return None,
    };
    if scheme.eq_ignore_ascii_case(b"bearer") {
        let token = config.token.as_ref()?;
        constant_time_eq(credentials, token.as_bytes()).then_some(Auth::Token)
    } else if scheme.eq_ignore_ascii_case(b"basic") {
        let basic = config.basic.as_ref()?;
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(credentials)
            .ok()?;
        let colon = decoded.iter().position(|&b| b == b':')?;
        let (user, password) = (&decoded[..colon], &decoded[colon + 1..]);
        // Both compared, whatever the first says.
        let user_ok = constant_time_eq(user, basic.user.as_bytes());
        let password_ok = constant_time_eq(password, basic.password.as_bytes());
        (user_ok & password_ok).then(|| Auth::Basic(basic.user.clone()))
    } else {
        None
    }
}

/// 401, with the challenges of the schemes configured.
fn unauthorized(config: &WebConfig) -> Response {
    let wanted = match (&config.token, &config.basic) {
        (Some(_), Some(_)) => "a valid Authorization: Bearer token or Basic user and password",
        (None, Some(_)) => "a valid Authorization: Basic user and password",
        _ => "a valid Authorization: Bearer token",
    };
    let mut res = ApiError::new(
        StatusCode::UNAUTHORIZED,
        "unauthorized",
        format!("{wanted} is required"),
    )
    .into_response();
    challenge(config, res.headers_mut());
    res
}

/// The `WWW-Authenticate` challenges of the schemes configured.
fn challenge(config: &WebConfig, h: &mut HeaderMap) {
    if config.token.is_some() {
        h.append(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    }
    if config.basic.is_some() {
        h.append(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static(BASIC_CHALLENGE),
        );
    }
}

/// Whether the request changes something: every method but `GET`, `HEAD` and `OPTIONS`,
/// and a receive (`GET` or `HEAD` on `/messages/{q}`, which hides the message).
fn changes(req: &Request) -> bool {
    let method = req.method();
    if method != Method::GET && method != Method::HEAD && method != Method::OPTIONS {
        return true;
    }
    if method == Method::OPTIONS {
        return false;
    }
    // The path as this router sees it (a prefix it is nested under is taken off).
    let mut segments = req.uri().path().trim_start_matches('/').split('/');
    segments.next() == Some("messages")
        && segments.next().is_some_and(|q| !q.is_empty())
        && segments.next().is_none()
}

/// Why a change with these headers would fail the CSRF check, or `None` when it passes.
/// `bearer` says the request authenticated with the bearer token.
fn csrf_failure(headers: &HeaderMap, csrf: &str, bearer: bool) -> Option<&'static str> {
    if let Some(reason) = cross_site(headers) {
        return Some(reason);
    }
    let from_browser = [
        header::ORIGIN,
        HeaderName::from_static("sec-fetch-site"),
        HeaderName::from_static("sec-fetch-mode"),
        header::REFERER,
        header::COOKIE,
    ]
    .iter()
    .any(|h| headers.contains_key(h));
    if from_browser && !bearer {
        let sent = headers.get(CSRF_HEADER).map(HeaderValue::as_bytes);
        if !sent.is_some_and(|t| constant_time_eq(t, csrf.as_bytes())) {
            return Some("a change from a browser must carry the page's X-CSRF-Token");
        }
    }
    None
}

/// Why a request with these headers comes from another site, or `None` when nothing says
/// it does.
fn cross_site(headers: &HeaderMap) -> Option<&'static str> {
    if let Some(origin) = headers.get(header::ORIGIN) {
        let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
        if !same_origin(origin.as_bytes(), host) {
            return Some("cross-origin request: its Origin is not this server");
        }
    }
    if let Some(site) = headers.get("sec-fetch-site") {
        if site == "cross-site" || site == "same-site" {
            return Some("cross-site request (Sec-Fetch-Site)");
        }
    }
    None
}

/// Whether `origin` (`scheme://host[:port]`) names `host` (`host[:port]`, the `Host`
/// header), a port left out being the scheme's default.
fn same_origin(origin: &[u8], host: Option<&str>) -> bool {
    let (Ok(origin), Some(host)) = (std::str::from_utf8(origin), host) else {
        return false;
    };
    let Some((scheme, authority)) = origin.split_once("://") else {
        return false; // `null`, among others
    };
    let default_port = match scheme.to_ascii_lowercase().as_str() {
        "http" => ":80",
        "https" => ":443",
        _ => "",
    };
    let normal = |a: &str| -> String {
        let a = a.to_ascii_lowercase();
        match a.strip_suffix(default_port) {
            Some(bare) if !default_port.is_empty() => bare.to_string(),
            _ => a,
        }
    };
    !authority.is_empty() && normal(authority) == normal(host)
}

/// Compares in time that depends on the lengths only, never on where the bytes differ.
pub(crate) fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    let mut diff = u8::from(a.len() != b.len());
    for i in 0..a.len().max(b.len()) {
        let x = a.get(i).copied().unwrap_or(0);
        let y = b.get(i).copied().unwrap_or(0);
        diff |= x ^ y;
    }
    std::hint::black_box(diff) == 0
}

/// A new CSRF token: 32 random bytes from the operating system, in hex.
pub(crate) fn new_csrf_token() -> String {
    random_hex()
}

/// 32 random bytes from the operating system, in hex.
pub(crate) fn random_hex() -> String {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).expect("the operating system's random source works");
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Logs what a change did, once it is done (the id a send made, the message a pop took),
/// with who asked, like the event [`Ctx::mutation`] logs before it.
pub(crate) fn audit_done(route: &'static str, qname: &str, id: Option<&str>, count: Option<usize>) {
    let (auth, peer) = WHO
        .try_with(|w| (w.auth.clone(), w.peer.clone()))
        .unwrap_or_else(|_| ("none".into(), None));
    let (auth, peer) = (auth.as_str(), peer.as_deref());
    tracing::info!(target: "rsmq_web::audit", route, queue = qname, id, count, auth, peer, "done");
}

/// The session the request being served authenticated with, if it did with one.
pub(crate) fn session() -> Option<String> {
    WHO.try_with(|w| w.session.clone()).unwrap_or(None)
}

/// Logs a sign-in, a refused one (a wrong token) or a sign-out, with who and from where.
pub(crate) fn audit_sign_in(event: &'static str) {
    let (auth, peer) = WHO
        .try_with(|w| (w.auth.clone(), w.peer.clone()))
        .unwrap_or_else(|_| ("none".into(), None));
    let (auth, peer) = (auth.as_str(), peer.as_deref());
    tracing::info!(target: "rsmq_web::audit", route = "session", auth, peer, "{event}");
}

impl Ctx {
    /// Refuses a change in read-only mode or from a request that fails the CSRF check, and
    /// logs the change otherwise, with who asked.
    pub(crate) fn mutation(
        &self,
        route: &'static str,
        qname: &str,
        id: Option<&str>,
    ) -> Result<(), ApiError> {
        let who = WHO.try_with(Who::clone).unwrap_or(Who {
            auth: "none".into(),
            session: None,
            peer: None,
            csrf: None,
        });
        let (auth, peer) = (who.auth.as_str(), who.peer.as_deref());
        // The guard refuses such requests already when it knows them for changes; this
        // covers any other route that changes something.
        if let Some(reason) = who.csrf {
            tracing::info!(target: "rsmq_web::audit", route, queue = qname, id, auth, peer, reason, "refused: csrf");
            return Err(ApiError::new(StatusCode::FORBIDDEN, "csrf", reason));
        }
        if self.config.read_only {
            tracing::info!(target: "rsmq_web::audit", route, queue = qname, id, auth, peer, "refused: read-only");
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "readOnly",
                "this API is read-only",
            ));
        }
        tracing::info!(target: "rsmq_web::audit", route, queue = qname, id, auth, peer, "change");
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::{constant_time_eq, csrf_failure, same_origin};
    use axum::http::HeaderMap;

    #[test]
    fn constant_time_eq_compares() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"abcd"));
        assert!(!constant_time_eq(b"", b"a"));
        assert!(constant_time_eq(b"", b""));
    }

    #[test]
    fn same_origin_compares_host_and_port() {
        let host = Some("127.0.0.1:8080");
        assert!(same_origin(b"http://127.0.0.1:8080", host));
        assert!(same_origin(b"https://127.0.0.1:8080", host));
        assert!(!same_origin(b"http://127.0.0.1:8081", host));
        assert!(!same_origin(b"http://evil.example", host));
        assert!(!same_origin(b"null", host));
        assert!(!same_origin(b"http://127.0.0.1:8080", None));
        assert!(same_origin(b"https://Example.com", Some("example.com")));
        assert!(same_origin(b"https://example.com", Some("example.com:443")));
        assert!(!same_origin(b"http://example.com", Some("example.com:443")));
        assert!(same_origin(b"http://[::1]:8080", Some("[::1]:8080")));
        assert!(!same_origin(b"http://", Some("")));
    }

    #[test]
    fn csrf_rules() {
        let headers = |pairs: &[(&'static str, &str)]| {
            let mut h = HeaderMap::new();
            for (k, v) in pairs {
                h.insert(*k, v.parse().unwrap());
            }
            h
        };
        let host = ("host", "h:1");
        // Not a browser: passes.
        assert_eq!(csrf_failure(&headers(&[host]), "t", false), None);
        // A browser without the token, with it, with the bearer token instead.
        let browser = headers(&[host, ("sec-fetch-site", "same-origin")]);
        assert!(csrf_failure(&browser, "t", false).is_some());
        assert_eq!(csrf_failure(&browser, "t", true), None);
        let with = headers(&[host, ("cookie", "a=b"), ("x-csrf-token", "t")]);
        assert_eq!(csrf_failure(&with, "t", false), None);
        assert!(csrf_failure(&with, "u", false).is_some());
        // Cross-site: refused even with the tokens.
        for h in [
            headers(&[host, ("origin", "http://other:1"), ("x-csrf-token", "t")]),
            headers(&[
                host,
                ("sec-fetch-site", "cross-site"),
                ("x-csrf-token", "t"),
            ]),
            headers(&[host, ("sec-fetch-site", "same-site"), ("x-csrf-token", "t")]),
        ] {
            assert!(csrf_failure(&h, "t", true).is_some());
        }
        let same = headers(&[host, ("origin", "http://h:1"), ("x-csrf-token", "t")]);
        assert_eq!(csrf_failure(&same, "t", false), None);
    }
}
