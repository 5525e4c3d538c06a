//! The dashboard: two server-rendered HTML pages (the queue list at `/`, one queue at
//! `/ui/queues/{q}`) and their script and style sheet, all embedded in the binary
//! (`assets/`). The pages work with the JSON routes and the live updates (`events.rs`); they
//! carry the CSRF token in `<meta name="csrf-token">` and, in read-only mode, no control
//! that changes anything.
//!
//! Every name and body reaches the page as text: HTML-escaped here, `textContent` in the
//! script. There is no inline script or style, so the `default-src 'self'` policy holds.

use std::fmt::Write as _;
use std::sync::Arc;

use axum::extract::rejection::PathRejection;
use axum::extract::{OriginalUri, Path, Request, State};
use axum::http::{header, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use rsmq_async::{RsmqConnection, RsmqError};

use crate::stats::{overview, Overview};
use crate::{Ctx, Shared};

const LAYOUT: &str = include_str!("../assets/layout.html");
const LIST: &str = include_str!("../assets/list.html");
const QUEUE: &str = include_str!("../assets/queue.html");
const ACTIONS: &str = include_str!("../assets/actions.html");
const FAILED: &str = include_str!("../assets/failed.html");
const APP_JS: &str = include_str!("../assets/app.js");
const APP_CSS: &str = include_str!("../assets/app.css");

/// The pages and their assets, without state or middleware.
pub(crate) fn routes() -> Router<Arc<Ctx>> {
    Router::new()
        .route("/", get(list_page))
        .route("/ui/queues/{qname}", get(queue_page))
        .route("/assets/app.js", get(app_js))
        .route("/assets/app.css", get(app_css))
}

async fn app_js() -> Response {
    (
        [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
        APP_JS,
    )
        .into_response()
}

async fn app_css() -> Response {
    ([(header::CONTENT_TYPE, "text/css; charset=utf-8")], APP_CSS).into_response()
}

/// Where the router is mounted (`""` at the root, `"/rsmq"` when nested there): the full
/// path the client asked for (`full`), less the path the router saw (`inner`).
pub(crate) fn base(full: &str, inner: &str) -> String {
    let base = if inner == "/" {
        full.trim_end_matches('/')
    } else {
        full.strip_suffix(inner).unwrap_or("")
    };
    base.to_string()
}

/// The queue list's path under `base`: the router's `/`, which a router nested at
/// `/rsmq` serves at `/rsmq` (not `/rsmq/`).
pub(crate) fn home(base: &str) -> &str {
    if base.is_empty() {
        "/"
    } else {
        base
    }
}

/// What the layout needs besides the page's own content.
pub(crate) struct Page<'a> {
    pub(crate) base: &'a str,
    pub(crate) title: &'a str,
    /// `list`, `queue`, `login` or `error`: which part of the script runs.
    pub(crate) kind: &'a str,
    pub(crate) queue: &'a str,
    /// The breadcrumb after the brand, HTML.
    pub(crate) crumb: String,
    pub(crate) main: String,
}

/// The page in the layout. The sign-in page carries no CSRF token (its visitor has not
/// shown any credentials yet); a page seen through a session offers to sign out.
pub(crate) fn render(ctx: &Ctx, page: Page<'_>) -> String {
    let signed_in = page.kind != "login" && crate::guard::session().is_some();
    let sign_out = if signed_in {
        format!(
            r#"<form method="post" action="{}/logout" class="inline"><button type="submit" id="sign-out" class="ghost">Sign out</button></form>"#,
            escape(page.base)
        )
    } else {
        String::new()
    };
    let csrf = if page.kind == "login" { "" } else { &ctx.csrf };
    let read_only = if ctx.config.read_only {
        r#"<span class="badge" title="changes are turned off">read-only</span>"#
    } else {
        ""
    };
    fill(
        LAYOUT,
        &[
            ("base", &escape(page.base)),
            ("home", &escape(home(page.base))),
            ("title", &escape(page.title)),
            ("csrf", &escape(csrf)),
            ("page", page.kind),
            ("queue", &escape(page.queue)),
            (
                "read_only",
                if ctx.config.read_only {
                    "true"
                } else {
                    "false"
                },
            ),
            ("read_only_badge", read_only),
            ("sign_out", &sign_out),
            ("crumb", &page.crumb),
            ("main", &page.main),
        ],
    )
}

/// `GET /`: every queue with its counters, Redis's memory, live workers.
async fn list_page(State(ctx): Shared, original: OriginalUri, req: Request) -> Response {
    let base = base(original.path(), req.uri().path());
    let main = match overview(&ctx.rsmq).await {
        Ok(o) => list_main(&o, &base),
        Err(e) => failed(&e),
    };
    let page = Page {
        base: &base,
        title: "Queues · rsmq",
        kind: "list",
        queue: "",
        crumb: "Queues".into(),
        main,
    };
    Html(render(&ctx, page)).into_response()
}

fn list_main(o: &Overview, base: &str) -> String {
    let mut rows = String::new();
    for q in &o.queues {
        let a = &q.attrs;
        let _ = write!(
            rows,
            r#"<tr data-queue="{name}"><td><a href="{base}/ui/queues/{href}">{name}</a></td><td class="num">{}</td><td class="num">{}</td><td class="num">{}</td><td class="num">{}</td><td class="num">–</td><td class="num">–</td></tr>"#,
            a.msgs,
            a.visiblemsgs,
            a.msgs.saturating_sub(a.visiblemsgs),
            q.oldest_age.map(age).unwrap_or_else(|| "–".into()),
            name = escape(&q.name),
            base = escape(base),
            href = escape(&percent_encode(&q.name)),
        );
    }
    let evicting = o.memory.may_evict_messages();
    fill(
        LIST,
        &[
            ("evict_hidden", if evicting { "" } else { "hidden" }),
            ("policy", &escape(&o.memory.policy)),
            ("memory", &escape(&memory_line(o))),
            ("workers", &workers_line(o.workers)),
            ("no_workers", if o.workers == 0 { "warn" } else { "" }),
            ("rows", &rows),
            (
                "empty_hidden",
                if o.queues.is_empty() { "" } else { "hidden" },
            ),
        ],
    )
}

/// `GET /ui/queues/{q}`: one queue: attributes, messages, and (unless read-only) actions.
async fn queue_page(
    State(ctx): Shared,
    original: OriginalUri,
    qname: Result<Path<String>, PathRejection>,
    req: Request,
) -> Response {
    let base = base(original.path(), req.uri().path());
    let Ok(Path(qname)) = qname else {
        return not_found(&ctx, &base, "this address names no queue");
    };
    let attrs = match ctx.rsmq.get_queue_attributes(&qname).await {
        Ok(a) => a,
        Err(RsmqError::QueueNotFound) | Err(RsmqError::InvalidFormat(_)) => {
            return not_found(&ctx, &base, &format!("There is no queue named “{qname}”."));
        }
        Err(e) => {
            let page = Page {
                base: &base,
                title: "Error · rsmq",
                kind: "error",
                queue: "",
                crumb: String::new(),
                main: failed(&e),
            };
            return (StatusCode::SERVICE_UNAVAILABLE, Html(render(&ctx, page))).into_response();
        }
    };
    let q = escape(&qname);
    let actions = if ctx.config.read_only { "" } else { ACTIONS };
    let main = fill(
        QUEUE,
        &[
            ("queue", &q),
            ("msgs", &attrs.msgs.to_string()),
            ("visible", &attrs.visiblemsgs.to_string()),
            (
                "hidden",
                &attrs.msgs.saturating_sub(attrs.visiblemsgs).to_string(),
            ),
            ("totalsent", &attrs.totalsent.to_string()),
            ("totalrecv", &attrs.totalrecv.to_string()),
            ("vt", &duration(attrs.vt.as_secs_f64())),
            ("delay", &duration(attrs.delay.as_secs_f64())),
            ("maxsize", &maxsize(attrs.maxsize)),
            ("created", &crate::format::utc(attrs.created)),
            ("modified", &crate::format::utc(attrs.modified)),
            ("actions", actions),
        ],
    );
    let title = format!("{qname} · rsmq");
    let page = Page {
        base: &base,
        title: &title,
        kind: "queue",
        queue: &qname,
        crumb: format!(r#"<a href="{}">Queues</a> / {q}"#, escape(home(&base))),
        main,
    };
    Html(render(&ctx, page)).into_response()
}

fn not_found(ctx: &Ctx, base: &str, message: &str) -> Response {
    let main = format!(
        r#"<section class="card"><h1>Not found</h1><p>{}</p><p><a href="{}">All queues</a></p></section>"#,
        escape(message),
        escape(home(base))
    );
    let page = Page {
        base,
        title: "Not found · rsmq",
        kind: "error",
        queue: "",
        crumb: String::new(),
        main,
    };
    (StatusCode::NOT_FOUND, Html(render(ctx, page))).into_response()
}

fn failed(e: &RsmqError) -> String {
    fill(FAILED, &[("error", &escape(&e.to_string()))])
}

/// Fills `{{name}}` placeholders in one pass (a value is never searched for placeholders).
/// Values are inserted as they are: escape text before.
pub(crate) fn fill(template: &str, values: &[(&str, &str)]) -> String {
    let mut out = String::with_capacity(template.len() + 256);
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        match after.find("}}") {
            Some(end) => {
                let name = &after[..end];
                match values.iter().find(|(n, _)| *n == name) {
                    Some((_, v)) => out.push_str(v),
                    None => panic!("template placeholder {{{{{name}}}}} has no value"),
                }
                rest = &after[end + 2..];
            }
            None => {
                out.push_str(&rest[start..]);
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out
}

/// Text as HTML (element content or a quoted attribute value).
pub(crate) fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A queue name as one path segment (names are `[A-Za-z0-9_-]`, but the page must not
/// trust that).
fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

fn memory_line(o: &Overview) -> String {
    let m = &o.memory;
    let used = bytes(m.used);
    if m.max == 0 {
        format!("{used} used, no limit (policy {})", m.policy)
    } else {
        format!("{used} used of {} (policy {})", bytes(m.max), m.policy)
    }
}

fn workers_line(n: usize) -> String {
    match n {
        0 => "no live workers".into(),
        1 => "1 live worker".into(),
        n => format!("{n} live workers"),
    }
}

fn bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut unit = 0;
    while v >= 1024.0 && unit < UNITS.len() - 1 {
        v /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[unit])
    }
}

/// An age in seconds, short: `42 s`, `3 min 5 s`, `2 h 10 min`, `3 d 4 h`.
fn age(secs: f64) -> String {
    let s = secs.max(0.0).round() as u64;
    match s {
        0..60 => format!("{s} s"),
        60..3600 => format!("{} min {} s", s / 60, s % 60),
        3600..86400 => format!("{} h {} min", s / 3600, s % 3600 / 60),
        _ => format!("{} d {} h", s / 86400, s % 86400 / 3600),
    }
}

fn duration(secs: f64) -> String {
    if secs.fract() == 0.0 {
        format!("{secs} s")
    } else {
        format!("{secs:.3} s")
    }
}

fn maxsize(n: i64) -> String {
    if n < 0 {
        "unlimited".into()
    } else {
        bytes(n as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_leaves_no_markup() {
        assert_eq!(
            escape(r#"<script>alert("x")</script> & 'y'"#),
            "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;y&#39;"
        );
    }

    #[test]
    fn fill_inserts_values_once() {
        let out = fill("a {{x}} b {{y}}", &[("x", "{{y}}"), ("y", "2")]);
        assert_eq!(out, "a {{y}} b 2");
    }

    #[test]
    fn every_template_placeholder_is_filled() {
        // Rendering panics on a placeholder without a value; these name them all.
        for (t, names) in [
            (
                LAYOUT,
                &[
                    "base",
                    "home",
                    "title",
                    "csrf",
                    "page",
                    "queue",
                    "read_only",
                    "read_only_badge",
                    "sign_out",
                    "crumb",
                    "main",
                ][..],
            ),
            (
                LIST,
                &[
                    "evict_hidden",
                    "policy",
                    "memory",
                    "workers",
                    "no_workers",
                    "rows",
                    "empty_hidden",
                ][..],
            ),
            (
                QUEUE,
                &[
                    "queue",
                    "msgs",
                    "visible",
                    "hidden",
                    "totalsent",
                    "totalrecv",
                    "vt",
                    "delay",
                    "maxsize",
                    "created",
                    "modified",
                    "actions",
                ][..],
            ),
            (ACTIONS, &[][..]),
            (FAILED, &["error"][..]),
            (
                crate::session::LOGIN,
                &["base", "next", "error", "error_hidden"][..],
            ),
        ] {
            let values: Vec<(&str, &str)> = names.iter().map(|n| (*n, "")).collect();
            let out = fill(t, &values);
            assert!(!out.contains("{{"), "{out}");
        }
    }

    #[test]
    fn formats() {
        assert_eq!(crate::format::utc(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(crate::format::utc(1_709_251_199), "2024-02-29 23:59:59 UTC");
        assert_eq!(age(59.4), "59 s");
        assert_eq!(age(3725.0), "1 h 2 min");
        assert_eq!(bytes(1536), "1.5 KiB");
        assert_eq!(bytes(12), "12 B");
        assert_eq!(percent_encode("a b/é"), "a%20b%2F%C3%A9");
    }
}
