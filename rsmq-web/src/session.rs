//! Signing in to the dashboard with the bearer token. A browser cannot attach
//! `Authorization: Bearer` by itself, so a server configured with a token (and no proxy in
//! front) answers a browser's page request without credentials with a sign-in form; the
//! token typed there (`POST /login`) opens a session: a random id in an `HttpOnly`,
//! `SameSite=Strict` cookie, valid for [`LIFETIME`], closed by `POST /logout` or a restart.
//!
//! A session counts as the token for reading; its changes need the page's CSRF token like
//! every change from a browser.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::extract::{OriginalUri, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;

use crate::dashboard::{self, escape, fill};
use crate::guard::{self, constant_time_eq};
use crate::{Ctx, Shared};

/// The cookie that carries a session's id.
pub(crate) const COOKIE: &str = "rsmq_session";

/// How long a session lasts from its sign-in.
pub(crate) const LIFETIME: Duration = Duration::from_secs(12 * 60 * 60);

/// The most sessions kept; past it, signing in ends the oldest.
const MAX_SESSIONS: usize = 1024;

/// How long a wrong token waits before its answer, to slow guessing.
const WRONG_TOKEN_DELAY: Duration = Duration::from_millis(300);

/// The longest form a sign-in takes (a token and where to go next).
const MAX_FORM: usize = 16 * 1024;

pub(crate) const LOGIN: &str = include_str!("../assets/login.html");

/// The open sessions: id to expiry.
#[derive(Default)]
pub(crate) struct Sessions(Mutex<HashMap<String, Instant>>);

impl Sessions {
    /// Opens a session; returns its id.
    fn open(&self) -> String {
        let id = guard::random_hex();
        let now = Instant::now();
        let mut map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        map.retain(|_, expiry| *expiry > now);
        if map.len() >= MAX_SESSIONS {
            if let Some(oldest) = map.iter().min_by_key(|(_, e)| **e).map(|(k, _)| k.clone()) {
                map.remove(&oldest);
            }
        }
        map.insert(id.clone(), now + LIFETIME);
        id
    }

    /// Whether `id` names an open session.
    pub(crate) fn is_open(&self, id: &str) -> bool {
        let map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        map.get(id).is_some_and(|expiry| *expiry > Instant::now())
    }

    pub(crate) fn close(&self, id: &str) {
        let mut map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        map.remove(id);
    }
}

/// The session id the request's cookies carry, if any.
pub(crate) fn cookie(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE)
        .map(|(_, value)| value)
}

/// `GET /login` shows the form; `POST /login` signs in; `POST /logout` signs out.
pub(crate) fn routes() -> Router<std::sync::Arc<Ctx>> {
    Router::new()
        .route("/login", get(login_page).post(login))
        .route("/logout", post(logout))
}

/// Whether an unauthenticated request should get the sign-in form instead of a JSON 401:
/// a token is configured and a browser asks for a page.
pub(crate) fn offers_sign_in(ctx: &Ctx, req: &Request) -> bool {
    let path = req.uri().path();
    ctx.config.token.is_some()
        && req.method() == axum::http::Method::GET
        && (path == "/" || path.starts_with("/ui/"))
        && req
            .headers()
            .get(header::ACCEPT)
            .and_then(|a| a.to_str().ok())
            .is_some_and(|a| a.contains("text/html"))
}

/// The sign-in form, answered in place of the page `req` asked for (which it returns to).
pub(crate) fn sign_in_instead(ctx: &Ctx, req: &Request) -> Response {
    let base = req
        .extensions()
        .get::<OriginalUri>()
        .map(|o| dashboard::base(o.path(), req.uri().path()))
        .unwrap_or_default();
    let next = req
        .uri()
        .path_and_query()
        .map(|p| p.as_str())
        .unwrap_or("/");
    form(ctx, &base, next, None, StatusCode::UNAUTHORIZED)
}

/// The page with the form; `error` says why the last try failed.
fn form(ctx: &Ctx, base: &str, next: &str, error: Option<&str>, status: StatusCode) -> Response {
    let main = fill(
        LOGIN,
        &[
            ("base", &escape(base)),
            ("next", &escape(next)),
            ("error", &escape(error.unwrap_or(""))),
            ("error_hidden", if error.is_some() { "" } else { "hidden" }),
        ],
    );
    let page = dashboard::Page {
        base,
        title: "Sign in · rsmq",
        kind: "login",
        queue: "",
        crumb: "Sign in".into(),
        main,
    };
    (status, Html(dashboard::render(ctx, page))).into_response()
}

/// `GET /login`: the form (404 when no token is configured: there is nothing to sign in
/// with).
async fn login_page(State(ctx): Shared, original: OriginalUri, req: Request) -> Response {
    if ctx.config.token.is_none() {
        return crate::error::not_found().await.into_response();
    }
    let base = dashboard::base(original.path(), req.uri().path());
    form(&ctx, &base, "/", None, StatusCode::OK)
}

/// `POST /login` with `token` (and `next`, the page to go back to) as a form.
async fn login(State(ctx): Shared, original: OriginalUri, req: Request) -> Response {
    let Some(token) = ctx.config.token.clone() else {
        return crate::error::not_found().await.into_response();
    };
    let base = dashboard::base(original.path(), req.uri().path());
    let secure = served_over_https(req.headers());
    let body = match axum::body::to_bytes(req.into_body(), MAX_FORM).await {
        Ok(b) => b,
        Err(_) => {
            let e = "the form is too large";
            return form(&ctx, &base, "/", Some(e), StatusCode::BAD_REQUEST);
        }
    };
    let (mut typed, mut next) = (String::new(), String::from("/"));
    for (k, v) in form_urlencoded::parse(&body) {
        match &*k {
            "token" => typed = v.into_owned(),
            "next" => next = v.into_owned(),
            _ => {}
        }
    }
    let next = if safe_next(&next) { next } else { "/".into() };
    if !constant_time_eq(typed.as_bytes(), token.as_bytes()) {
        guard::audit_sign_in("refused: sign-in");
        tokio::time::sleep(WRONG_TOKEN_DELAY).await;
        let e = "That token is not the server's. Try again.";
        return form(&ctx, &base, &next, Some(e), StatusCode::UNAUTHORIZED);
    }
    let id = ctx.sessions.open();
    guard::audit_sign_in("signed in");
    let cookie = format!(
        "{COOKIE}={id}; Path={}; Max-Age={}; HttpOnly; SameSite=Strict{}",
        dashboard::home(&base),
        LIFETIME.as_secs(),
        if secure { "; Secure" } else { "" }
    );
    let to = if next == "/" {
        dashboard::home(&base).to_string()
    } else {
        format!("{base}{next}")
    };
    redirect(&to, &cookie)
}

/// `POST /logout`: ends the request's session, if it has one, and goes to the form.
async fn logout(State(ctx): Shared, original: OriginalUri, req: Request) -> Response {
    let base = dashboard::base(original.path(), req.uri().path());
    if let Some(id) = cookie(req.headers()) {
        ctx.sessions.close(id);
    }
    guard::audit_sign_in("signed out");
    let path = dashboard::home(&base);
    let cookie = format!("{COOKIE}=; Path={path}; Max-Age=0; HttpOnly; SameSite=Strict");
    let to = if ctx.config.token.is_some() {
        format!("{base}/login")
    } else {
        path.to_string()
    };
    redirect(&to, &cookie)
}

/// 303 to `location`, setting `cookie`.
fn redirect(location: &str, cookie: &str) -> Response {
    let mut res = StatusCode::SEE_OTHER.into_response();
    let h = res.headers_mut();
    if let Ok(v) = HeaderValue::from_str(location) {
        h.insert(header::LOCATION, v);
    }
    if let Ok(v) = HeaderValue::from_str(cookie) {
        h.insert(header::SET_COOKIE, v);
    }
    res
}

/// Whether the browser reached this server over HTTPS (directly, or through a proxy that
/// says so): the cookie is then marked `Secure`.
fn served_over_https(headers: &HeaderMap) -> bool {
    let is = |name: &str, prefix: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.to_ascii_lowercase().starts_with(prefix))
    };
    is("x-forwarded-proto", "https") || is("origin", "https://")
}

/// Whether `next` is a path on this server (never another host: no `//`, no backslash,
/// nothing before the first slash).
fn safe_next(next: &str) -> bool {
    next.starts_with('/')
        && !next.starts_with("//")
        && !next.contains('\\')
        && !next.chars().any(char::is_control)
}

#[cfg(test)]
mod tests {
    use super::{cookie, safe_next, Sessions};
    use axum::http::HeaderMap;

    #[test]
    fn next_stays_on_this_server() {
        assert!(safe_next("/"));
        assert!(safe_next("/ui/queues/a%20b?x=1"));
        for bad in [
            "",
            "//evil.example/",
            "/\\evil.example",
            "https://evil",
            "ui",
            "/a\nb",
        ] {
            assert!(!safe_next(bad), "{bad:?}");
        }
    }

    #[test]
    fn cookie_is_found_among_others() {
        let mut h = HeaderMap::new();
        h.append("cookie", "a=1; rsmq_session=abc; b=2".parse().unwrap());
        assert_eq!(cookie(&h), Some("abc"));
        let mut h = HeaderMap::new();
        h.append("cookie", "x=1".parse().unwrap());
        h.append("cookie", "rsmq_session=def".parse().unwrap());
        assert_eq!(cookie(&h), Some("def"));
        assert_eq!(cookie(&HeaderMap::new()), None);
    }

    #[test]
    fn sessions_open_and_close() {
        let s = Sessions::default();
        let a = s.open();
        assert_eq!(a.len(), 64);
        assert!(s.is_open(&a) && !s.is_open("nope"));
        let b = s.open();
        assert_ne!(a, b);
        s.close(&a);
        assert!(!s.is_open(&a) && s.is_open(&b));
    }
}
