//! The dashboard in a real headless Chromium, driven over WebDriver (chromedriver), against
//! the router served on a local port and a real redis-server.
//!
//! Needs `chromedriver` and `chromium` (or `chromium-browser`, `google-chrome`) on `PATH`,
//! or `CHROMEDRIVER` and `CHROME` naming them. Without them the test says SKIPPED and
//! passes, unless `RSMQ_REQUIRE_BROWSER=1`. Screenshots go to `target/screenshots/`.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use rsmq_async::{Rsmq, RsmqConnection};
use rsmq_web::{router, WebConfig};
use serde_json::{json, Value};
use support::client;
use support::common::{self, free_port};

/// The body that must stay text: were it ever parsed as HTML and run, it would change the
/// title and set `window.__xss`.
const XSS: &str =
    r#"<script>document.title='pwned';window.__xss=1</script><img src=x onerror="window.__xss=2">"#;

fn find_program(env: &str, names: &[&str]) -> Option<PathBuf> {
    if let Some(p) = std::env::var_os(env) {
        return Some(PathBuf::from(p));
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .flat_map(|dir| names.iter().map(move |n| dir.join(n)))
        .find(|p| p.is_file())
}

/// chromedriver, killed when dropped (a failing test too).
struct Driver(Child);

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn screenshots_dir() -> PathBuf {
    // target/debug/deps/browser-* -> target/
    let exe = std::env::current_exe().unwrap();
    let target = exe
        .ancestors()
        .nth(3)
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("target"));
    let dir = target.join("screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Serves the dashboard on a local port; returns its base URL.
async fn serve(rsmq: Rsmq, config: WebConfig) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = router(rsmq, config);
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dashboard_in_chromium() {
    let required = std::env::var("RSMQ_REQUIRE_BROWSER").is_ok_and(|v| v == "1");
    let driver_bin = find_program("CHROMEDRIVER", &["chromedriver"]);
    let chrome_bin = find_program("CHROME", &["chromium", "chromium-browser", "google-chrome"]);
    let (Some(driver_bin), Some(chrome_bin)) = (driver_bin, chrome_bin) else {
        assert!(
            !required,
            "RSMQ_REQUIRE_BROWSER=1 but chromedriver or chromium is not on PATH \
             (apt-get install chromium chromium-driver)"
        );
        eprintln!(
            "SKIPPED: the browser test needs chromedriver and chromium on PATH \
             (apt-get install chromium chromium-driver); set RSMQ_REQUIRE_BROWSER=1 to fail instead"
        );
        return;
    };

    let port = free_port();
    let _driver = Driver(
        Command::new(&driver_bin)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromedriver"),
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "chromedriver did not listen");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // The checks run in tasks of their own so that each session is closed (and chromium
    // quits) even when one fails.
    let browser = session(port, &chrome_bin, &[]).await;
    let outcome = tokio::spawn(checks(browser.clone())).await;
    let _ = browser.close().await;
    if let Err(e) = outcome {
        std::panic::resume_unwind(e.into_panic());
    }
    // A server with a token only: the browser signs in on the form.
    let browser = session(port, &chrome_bin, &[]).await;
    let outcome = tokio::spawn(sign_in(browser.clone())).await;
    let _ = browser.close().await;
    if let Err(e) = outcome {
        std::panic::resume_unwind(e.into_panic());
    }
    // A system in dark mode: the pages are dark without the toggle.
    let browser = session(port, &chrome_bin, &["--force-dark-mode"]).await;
    let outcome = tokio::spawn(system_dark(browser.clone())).await;
    let _ = browser.close().await;
    if let Err(e) = outcome {
        std::panic::resume_unwind(e.into_panic());
    }
}

/// A new headless Chromium session (a fresh profile) through the chromedriver on `port`.
async fn session(port: u16, chrome: &Path, extra: &[&str]) -> Client {
    let mut args = vec![
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--window-size=1280,1000",
        "--hide-scrollbars",
    ];
    args.extend_from_slice(extra);
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        json!({"binary": chrome, "args": args}),
    );
    ClientBuilder::new(HttpConnector::new())
        .capabilities(caps)
        .connect(&format!("http://127.0.0.1:{port}"))
        .await
        .expect("a chromium session")
}

async fn system_dark(b: Client) {
    let rsmq = client("browser-dark").await;
    rsmq.create_queue("night", None, None, None).await.unwrap();
    let url = serve(rsmq, WebConfig::default()).await;
    b.goto(&format!("{url}/")).await.unwrap();
    wait_css(&b, r#"#queues tr[data-queue="night"]"#).await;
    let look = "return [document.documentElement.dataset.theme || null, \
                getComputedStyle(document.body).backgroundColor, document.getElementById('theme').textContent]";
    let dark = b.execute(look, vec![]).await.unwrap();
    assert_eq!(dark, json!([null, "rgb(20, 23, 28)", "Light mode"]));
    save(&b, &screenshots_dir(), "list-system-dark.png").await;
    // The toggle overrides the system.
    click(&b, "#theme").await;
    let light = b.execute(look, vec![]).await.unwrap();
    assert_eq!(light, json!(["light", "rgb(246, 247, 249)", "Dark mode"]));
}

/// A token-only server: its pages ask for the token, a wrong one is refused, the right one
/// opens a session that reads and changes (with the CSRF token), and signing out ends it.
async fn sign_in(b: Client) {
    let rsmq = client("browser-token").await;
    rsmq.create_queue("tasks", None, None, None).await.unwrap();
    let config = WebConfig::default().token("browser-s3cret");
    let url = serve(rsmq.clone(), config).await;
    let shots = screenshots_dir();

    b.goto(&format!("{url}/ui/queues/tasks")).await.unwrap();
    wait_css(&b, "#login-token").await;
    assert_eq!(b.title().await.unwrap(), "Sign in · rsmq");
    type_into(&b, "login-token", "not-it").await;
    click(&b, "#login-button").await;
    wait_js(
        &b,
        "var e = document.getElementById('login-error'); return e !== null && !e.hidden",
    )
    .await;
    save(&b, &shots, "sign-in-wrong.png").await;
    type_into(&b, "login-token", "browser-s3cret").await;
    click(&b, "#login-button").await;
    // Back on the page first asked for, signed in.
    wait_css(&b, "#send-body").await;
    assert_eq!(b.title().await.unwrap(), "tasks · rsmq");
    let cookie_seen_by_script = b
        .execute(
            "return document.cookie.indexOf('rsmq_session') >= 0",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(
        cookie_seen_by_script,
        json!(false),
        "the cookie is HttpOnly"
    );
    type_into(&b, "send-body", "signed in").await;
    click(&b, "#send-button").await;
    wait_js(
        &b,
        "return Array.from(document.querySelectorAll('#messages td.body')).some(function (td) { return td.textContent === 'signed in'; })",
    )
    .await;
    let peeked = rsmq.peek_messages::<String>("tasks", 10).await.unwrap();
    assert!(peeked.iter().any(|m| m.message == "signed in"));
    save(&b, &shots, "signed-in.png").await;

    // The session ends elsewhere (another tab signs out): the open page notices through its
    // live updates and asks for the token again.
    b.execute(
        "fetch(document.querySelector('meta[name=\"rsmq-base\"]').content + '/logout', {method: 'POST'})",
        vec![],
    )
    .await
    .unwrap();
    // The stream ends at its next second; the browser reconnects after a second, is refused,
    // and the page reloads.
    wait_css_for(&b, "#login-token", Duration::from_secs(15)).await;
    assert_eq!(b.title().await.unwrap(), "Sign in · rsmq");
    // Signing in again, then out with the button.
    type_into(&b, "login-token", "browser-s3cret").await;
    click(&b, "#login-button").await;
    wait_css(&b, "#sign-out").await;
    click(&b, "#sign-out").await;
    wait_css(&b, "#login-token").await;
    b.goto(&format!("{url}/")).await.unwrap();
    wait_css(&b, "#login-token").await;
}

async fn checks(b: Client) {
    let rsmq = client("browser").await;
    rsmq.create_queue("jobs", None, None, None).await.unwrap();
    rsmq.create_queue("jobs-dlq", None, None, None)
        .await
        .unwrap();
    let hello = rsmq
        .send_message("jobs", "hello world", None)
        .await
        .unwrap();
    let url = serve(rsmq.clone(), WebConfig::default()).await;
    let shots = screenshots_dir();

    // The queue list shows the queues, and updates live.
    b.goto(&format!("{url}/")).await.unwrap();
    wait_css(&b, r#"#queues tr[data-queue="jobs"]"#).await;
    wait_css(&b, r#"#queues tr[data-queue="jobs-dlq"]"#).await;
    wait_js(
        &b,
        "return document.getElementById('live').className === 'live on'",
    )
    .await;
    rsmq.send_message("jobs", "second", None).await.unwrap();
    wait_js(
        &b,
        "var r = document.querySelector('#queues tr[data-queue=\"jobs\"]');\
         return r !== null && r.cells[1].textContent === '2'",
    )
    .await;
    assert!(b
        .find(Locator::Id("evict"))
        .await
        .unwrap()
        .attr("hidden")
        .await
        .unwrap()
        .is_some());
    save(&b, &shots, "list-light.png").await;

    // The filter shows the queues whose name holds its text, and keeps doing so live.
    type_into(&b, "queue-filter", "DLQ").await;
    let rows = "Array.from(document.querySelectorAll('#queues tbody tr'))\
                .filter(function (r) { return !r.hidden; })\
                .map(function (r) { return r.dataset.queue; }).join(',')";
    wait_js(&b, &format!("return {rows} === 'jobs-dlq'")).await;
    rsmq.create_queue("more-dlq", None, None, None)
        .await
        .unwrap();
    rsmq.create_queue("other", None, None, None).await.unwrap();
    wait_js(&b, &format!("return {rows} === 'jobs-dlq,more-dlq'")).await;
    save(&b, &shots, "list-filter.png").await;
    type_into(&b, "queue-filter", "-none").await;
    wait_js(&b, "return !document.getElementById('no-match').hidden").await;
    b.find(Locator::Id("queue-filter"))
        .await
        .unwrap()
        .clear()
        .await
        .unwrap();
    // clear() sends no input event: the next live update applies it.
    wait_js(
        &b,
        &format!("return {rows} === 'jobs,jobs-dlq,more-dlq,other'"),
    )
    .await;
    rsmq.delete_queue("more-dlq").await.unwrap();
    rsmq.delete_queue("other").await.unwrap();

    // A policy that can evict queue data raises the banner, live.
    let server = common::server();
    let raw = rsmq_async::redis::Client::open(server.url()).unwrap();
    let mut raw = raw.get_multiplexed_async_connection().await.unwrap();
    let policy = |p: &str| {
        let mut c = rsmq_async::redis::cmd("CONFIG");
        c.arg("SET").arg("maxmemory-policy").arg(p);
        c
    };
    let before: Vec<String> = rsmq_async::redis::cmd("CONFIG")
        .arg("GET")
        .arg("maxmemory-policy")
        .query_async(&mut raw)
        .await
        .unwrap();
    let () = policy("allkeys-lru").query_async(&mut raw).await.unwrap();
    wait_js(&b, "return !document.getElementById('evict').hidden").await;
    save(&b, &shots, "list-evict.png").await;
    let () = policy(&before[1]).query_async(&mut raw).await.unwrap();
    wait_js(&b, "return document.getElementById('evict').hidden").await;

    // Opening a queue shows its messages.
    click(&b, r#"#queues tr[data-queue="jobs"] a"#).await;
    let hello_row = format!(r#"#messages tr[data-id="{hello}"]"#);
    wait_js(
        &b,
        &format!(
            "var r = document.querySelector({}); return r !== null && r.cells[1].textContent === 'hello world'",
            json!(hello_row)
        ),
    )
    .await;
    assert_eq!(b.title().await.unwrap(), "jobs · rsmq");

    // Sending through the form: the message appears. Its body is markup, which must stay text.
    type_into(&b, "send-body", XSS).await;
    click(&b, "#send-button").await;
    wait_js(
        &b,
        &format!(
            "return Array.from(document.querySelectorAll('#messages td.body')).some(function (td) {{ return td.textContent === {}; }})",
            json!(XSS)
        ),
    )
    .await;
    let peeked = rsmq.peek_messages::<String>("jobs", 10).await.unwrap();
    assert!(peeked.iter().any(|m| m.message == XSS), "sent to Redis");
    let ran = b
        .execute(
            "return [document.title, typeof window.__xss, document.querySelectorAll('main script, main img').length]",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(
        ran,
        json!(["jobs · rsmq", "undefined", 0]),
        "the body ran as HTML"
    );
    save(&b, &shots, "queue-light.png").await;

    // A message's id opens its whole body: the markup stays text there too, JSON is
    // indented, and the open body stays open when the list redraws.
    let xss = peeked.iter().find(|m| m.message == XSS).unwrap().id.clone();
    let xss_row = format!(r#"#messages tr[data-id="{xss}"]"#);
    click(&b, &format!(r#"{xss_row} button[data-action="detail"]"#)).await;
    let detail = format!(r#"#messages tr[data-detail-for="{xss}"] pre"#);
    wait_css(&b, &detail).await;
    let shown = b
        .execute(
            "var p = document.querySelector(arguments[0]); return [p.textContent, p.children.length, typeof window.__xss]",
            vec![json!(detail)],
        )
        .await
        .unwrap();
    assert_eq!(shown, json!([XSS, 0, "undefined"]));
    let task = r#"{"task":"resize","size":[640,480],"note":"a body longer than the preview shows, ...................................................................................................................................................................."}"#;
    let task_id = rsmq.send_message("jobs", task, None).await.unwrap();
    let task_row = format!(r#"#messages tr[data-id="{task_id}"]"#);
    click(&b, &format!(r#"{task_row} button[data-action="detail"]"#)).await;
    let task_detail = format!(r#"#messages tr[data-detail-for="{task_id}"] pre"#);
    wait_css(&b, &task_detail).await;
    // As JSON.stringify indents: the keys in their order, one array item a line.
    let note = task
        .split(r#""note":""#)
        .nth(1)
        .unwrap()
        .trim_end_matches("\"}");
    let pretty = format!(
        "{{\n  \"task\": \"resize\",\n  \"size\": [\n    640,\n    480\n  ],\n  \"note\": \"{note}\"\n}}"
    );
    wait_js(
        &b,
        &format!(
            "var p = document.querySelector({}); return p !== null && p.textContent === {}",
            json!(task_detail),
            json!(pretty)
        ),
    )
    .await;
    // The list redraws (a new message): both stay open.
    rsmq.send_message("jobs", "redraw", None).await.unwrap();
    wait_css(&b, "#messages tr[data-id] td.body").await;
    wait_js(
        &b,
        "return Array.from(document.querySelectorAll('#messages td.body')).some(function (td) { return td.textContent === 'redraw'; })",
    )
    .await;
    wait_css(&b, &detail).await;
    wait_css(&b, &task_detail).await;
    b.execute(
        "document.querySelector(arguments[0]).scrollIntoView({block: 'center'})",
        vec![json!(task_detail)],
    )
    .await
    .unwrap();
    save(&b, &shots, "queue-detail.png").await;
    // Its id closes it again.
    click(&b, &format!(r#"{xss_row} button[data-action="detail"]"#)).await;
    wait_gone(&b, &detail).await;
    click(&b, &format!(r#"{task_row} button[data-action="detail"]"#)).await;
    wait_gone(&b, &task_detail).await;
    rsmq.delete_message("jobs", &task_id).await.unwrap();
    let redraw = rsmq.peek_messages::<String>("jobs", 10).await.unwrap();
    let redraw = redraw.iter().find(|m| m.message == "redraw").unwrap();
    rsmq.delete_message("jobs", &redraw.id).await.unwrap();

    // Deleting a message removes it from Redis.
    click(&b, &format!("{hello_row} button[data-action=\"delete\"]")).await;
    wait_gone(&b, &hello_row).await;
    let peeked = rsmq.peek_messages::<String>("jobs", 10).await.unwrap();
    assert!(!peeked.iter().any(|m| m.id == hello), "deleted in Redis");
    assert_eq!(peeked.len(), 2);

    // Changing a message's visibility hides it: the list marks it hidden.
    let second = peeked.iter().find(|m| m.message == "second").unwrap();
    let row = format!(r#"#messages tr[data-id="{}"]"#, second.id);
    let set = b
        .execute(
            "var i = document.querySelector(arguments[0] + ' input'); i.value = '100'; return i.value",
            vec![json!(row)],
        )
        .await
        .unwrap();
    assert_eq!(set, json!("100"));
    click(&b, &format!(r#"{row} button[data-action="vt"]"#)).await;
    wait_js(
        &b,
        &format!(
            "var r = document.querySelector({}); return !!r && r.textContent.includes('hidden')",
            json!(row)
        ),
    )
    .await;
    let attrs = rsmq.get_queue_attributes("jobs").await.unwrap();
    assert_eq!((attrs.msgs, attrs.visiblemsgs), (2, 1));

    // Purging asks first.
    click(&b, "#purge").await;
    assert_eq!(rsmq.get_queue_attributes("jobs").await.unwrap().msgs, 2);
    click(&b, "#purge-yes").await;
    wait_js(
        &b,
        "return document.querySelectorAll('#messages tbody tr').length === 0",
    )
    .await;
    assert_eq!(rsmq.get_queue_attributes("jobs").await.unwrap().msgs, 0);

    // Dark mode from the toggle, remembered across pages.
    rsmq.send_message("jobs", "in the dark", None)
        .await
        .unwrap();
    click(&b, "#theme").await;
    b.refresh().await.unwrap();
    wait_css(&b, "#messages tbody tr").await;
    let theme = b
        .execute("return document.documentElement.dataset.theme", vec![])
        .await
        .unwrap();
    assert_eq!(theme, json!("dark"));
    save(&b, &shots, "queue-dark.png").await;
    b.goto(&format!("{url}/")).await.unwrap();
    wait_css(&b, r#"#queues tr[data-queue="jobs"]"#).await;
    save(&b, &shots, "list-dark.png").await;
    click(&b, "#theme").await;

    // Read-only: no control that changes anything.
    let ro = serve(rsmq.clone(), WebConfig::default().read_only(true)).await;
    b.goto(&format!("{ro}/ui/queues/jobs")).await.unwrap();
    wait_css(&b, "#messages tbody tr").await;
    let controls = b
        .execute(
            "return Array.from(document.querySelectorAll('button, form, textarea, input, select'))\
             .filter(function (e) { return !e.closest('#search') && e.id !== 'theme' && e.id !== 'refresh' \
             && e.id !== 'prev' && e.id !== 'next' && e.dataset.action !== 'detail'; })\
             .map(function (e) { return e.outerHTML; })",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(controls, json!([]), "mutating controls in read-only mode");
    // Reading a whole message is no change: it works read-only too.
    click(
        &b,
        r#"#messages tbody tr[data-id] button[data-action="detail"]"#,
    )
    .await;
    wait_css(&b, "#messages tr.detail pre").await;
    save(&b, &shots, "queue-read-only.png").await;

    message_route_checks(&b, &shots).await;
}

/// The pages with the message-level routes: browse, search, move, redrive.
async fn message_route_checks(b: &Client, shots: &Path) {
    let rsmq = client("browser-dlq").await;
    rsmq.create_queue("dead", None, None, None).await.unwrap();
    rsmq.create_queue("work", None, None, None).await.unwrap();
    for body in ["alpha", "beta", "gamma"] {
        rsmq.send_message("dead", body, None).await.unwrap();
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let app = router(rsmq.clone(), WebConfig::default());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    b.goto(&format!("{url}/ui/queues/dead")).await.unwrap();
    wait_js(
        b,
        "return document.querySelectorAll('#messages tbody tr').length === 3",
    )
    .await;
    wait_js(b, "return !document.getElementById('search').hidden && !document.getElementById('redrive-box').hidden").await;
    let note = b
        .find(Locator::Id("msg-note"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(note.starts_with("All messages"), "{note}");

    // Search by body text, then back to the list.
    type_into(b, "search-text", "bet").await;
    click(b, "#search button[type=submit]").await;
    wait_js(b, "var r = document.querySelectorAll('#messages td.body'); return r.length === 1 && r[0].textContent === 'beta'").await;
    let note = b
        .find(Locator::Id("msg-note"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(note, "1 found (3 scanned).");
    click(b, "#search-clear").await;
    wait_js(
        b,
        "return document.querySelectorAll('#messages tbody tr').length === 3",
    )
    .await;

    // Move one message to the other queue.
    let alpha = rsmq
        .peek_messages::<String>("dead", 1)
        .await
        .unwrap()
        .remove(0);
    assert_eq!(alpha.message, "alpha");
    let row = format!(r#"#messages tr[data-id="{}"]"#, alpha.id);
    wait_js(
        b,
        &format!(
            "var s = document.querySelector({}); return s !== null && s.value === 'work'",
            json!(format!("{row} select"))
        ),
    )
    .await;
    save(b, shots, "queue-dlq.png").await;
    click(b, &format!(r#"{row} button[data-action="move"]"#)).await;
    wait_gone(b, &row).await;
    let work = rsmq.peek_messages::<String>("work", 10).await.unwrap();
    assert_eq!(
        work.iter().map(|m| m.message.as_str()).collect::<Vec<_>>(),
        ["alpha"]
    );

    // Redrive the rest: the count first, then the move.
    wait_js(
        b,
        "return document.getElementById('redrive-to').value === 'work'",
    )
    .await;
    click(b, "#redrive").await;
    wait_js(
        b,
        "return !document.getElementById('redrive-confirm').hidden",
    )
    .await;
    let count = b
        .find(Locator::Id("redrive-count"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(count, "2 messages would move to work.");
    assert_eq!(rsmq.get_queue_attributes("dead").await.unwrap().msgs, 2);
    click(b, "#redrive-yes").await;
    wait_js(
        b,
        "return document.querySelectorAll('#messages tbody tr').length === 0",
    )
    .await;
    assert_eq!(rsmq.get_queue_attributes("dead").await.unwrap().msgs, 0);
    assert_eq!(rsmq.get_queue_attributes("work").await.unwrap().msgs, 3);

    // Paging: 25 messages are 20 and then 5.
    rsmq.create_queue("many", None, None, None).await.unwrap();
    for n in 0..25 {
        rsmq.send_message("many", format!("m{n}"), None)
            .await
            .unwrap();
    }
    b.goto(&format!("{url}/ui/queues/many")).await.unwrap();
    let rows =
        |n: usize| format!("return document.querySelectorAll('#messages tbody tr').length === {n}");
    wait_js(b, &rows(20)).await;
    click(b, "#next").await;
    wait_js(b, &rows(5)).await;
    wait_js(
        b,
        "return document.getElementById('next').hidden && !document.getElementById('prev').hidden",
    )
    .await;
    click(b, "#prev").await;
    wait_js(b, &rows(20)).await;
}

/// Types `text` into the element with the id `id`.
async fn type_into(b: &Client, id: &str, text: &str) {
    b.find(Locator::Id(id))
        .await
        .unwrap()
        .send_keys(text)
        .await
        .unwrap();
}

async fn save(b: &Client, dir: &Path, name: &str) {
    let png = b.screenshot().await.unwrap();
    std::fs::write(dir.join(name), png).unwrap();
}

async fn wait_css(b: &Client, css: &str) -> fantoccini::elements::Element {
    wait_css_for(b, css, Duration::from_secs(5)).await
}

async fn wait_css_for(b: &Client, css: &str, limit: Duration) -> fantoccini::elements::Element {
    b.wait()
        .at_most(limit)
        .for_element(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("no {css}: {e}"))
}

async fn wait_gone(b: &Client, css: &str) {
    wait_js(
        b,
        &format!("return document.querySelector({}) === null", json!(css)),
    )
    .await;
}

/// Clicks the element `css` selects, once it is there, in one step (the pages redraw parts
/// of themselves, so an element found first may be gone at the click).
async fn click(b: &Client, css: &str) {
    wait_css(b, css).await;
    let clicked = b
        .execute(
            "var e = document.querySelector(arguments[0]); if (!e) return false; e.click(); return true",
            vec![json!(css)],
        )
        .await
        .unwrap();
    assert_eq!(clicked, json!(true), "no {css} to click");
}

/// Waits until the script returns true.
async fn wait_js(b: &Client, script: &str) {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        if b.execute(script, vec![]).await.unwrap() == Value::Bool(true) {
            return;
        }
        assert!(Instant::now() < deadline, "timed out waiting for: {script}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
