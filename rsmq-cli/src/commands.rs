//! What each command does, over `rsmq_async`.

use std::collections::HashSet;
use std::io::{self, BufRead, IsTerminal, Read, Write};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use futures_util::StreamExt;
use rsmq_async::{
    BrowsedMessage, LiveWorker, Rsmq, RsmqConnection, RsmqError, RsmqMessage, RsmqOptions,
    RsmqQueueAttributes, MAX_BATCH,
};
use serde_json::{json, Value};

use rsmq_web::format::{browsed_json, message_json, seconds, worker_json};

use crate::util::{human_duration, one_line, out, out_json, utc, utc_ms, Failure, Res};
use crate::{Command, Global, BROWSE_LIMIT};

/// How a command ends when it does not succeed.
pub enum Exit {
    /// Status 1.
    Failure(Failure),
    /// Status 2: the command line is wrong.
    Usage(String),
}

impl From<Failure> for Exit {
    fn from(f: Failure) -> Self {
        Exit::Failure(f)
    }
}

/// Messages sent in one batch by `send --lines`.
const SEND_BATCH: usize = 500;

/// The connection and the output settings.
struct Ctx {
    rsmq: Rsmq,
    options: RsmqOptions,
    json: bool,
    quiet: bool,
}

impl Ctx {
    /// A message for people, on stderr (unless `--quiet`).
    fn say(&self, text: &str) {
        if !self.quiet {
            eprintln!("{text}");
        }
    }

    fn ns(&self) -> &str {
        &self.options.ns
    }

    /// Turns an error into one line; a Redis error names the server's address.
    fn fail(&self, e: RsmqError) -> Failure {
        match e {
            RsmqError::RedisError(e) => {
                let host = &self.options.host;
                let port = self.options.port;
                let addr = if host.contains(':') {
                    format!("[{host}]:{port}")
                } else {
                    format!("{host}:{port}")
                };
                Failure(one_line(&format!("Redis at {addr}: {e}")))
            }
            e => Failure::from(e),
        }
    }

    /// Turns an error of an operation on queue `q` into one line naming the queue.
    fn on<'a>(&'a self, q: &'a str) -> impl Fn(RsmqError) -> Failure + 'a {
        move |e| match e {
            RsmqError::QueueNotFound => {
                Failure(format!("queue `{q}` not found (namespace `{}`)", self.ns()))
            }
            RsmqError::QueueExists => Failure(format!(
                "queue `{q}` exists already (namespace `{}`)",
                self.ns()
            )),
            RsmqError::CannotConnect { .. } | RsmqError::RedisError(_) => self.fail(e),
            e => Failure(format!("queue `{q}`: {}", one_line(&e.to_string()))),
        }
    }

    /// Like [`on`](Self::on), and names message `id` when it is not a message id.
    fn on_id<'a>(&'a self, q: &'a str, id: &'a str) -> impl Fn(RsmqError) -> Failure + 'a {
        move |e| match e {
            RsmqError::InvalidFormat(ref what) if what == "id" => {
                Failure(format!("`{id}` is not a message id"))
            }
            e => self.on(q)(e),
        }
    }

    /// For an operation on two queues: names the one that does not exist.
    async fn on_two(&self, e: RsmqError, a: &str, b: &str) -> Failure {
        if !matches!(e, RsmqError::QueueNotFound) {
            return self.on(a)(e);
        }
        for q in [a, b] {
            if let Err(e) = self.rsmq.get_queue_attributes(q).await {
                return self.on(q)(e);
            }
        }
        self.on(a)(e)
    }

    /// Fails unless queue `q` exists; returns its attributes.
    async fn attributes(&self, q: &str) -> Res<RsmqQueueAttributes> {
        self.rsmq.get_queue_attributes(q).await.map_err(self.on(q))
    }

    /// Prints messages: `ID<TAB>BODY` lines, or a JSON array.
    fn messages(&self, q: &str, msgs: &[RsmqMessage<Vec<u8>>]) -> Res {
        if self.json {
            return out_json(&Value::Array(msgs.iter().map(message_json).collect()));
        }
        if msgs.is_empty() {
            self.say(&format!("no message in queue `{q}`"));
        }
        for m in msgs {
            out(&message_line(m))?;
        }
        Ok(())
    }
}

fn message_line(m: &RsmqMessage<Vec<u8>>) -> String {
    format!("{}\t{}", m.id, String::from_utf8_lossy(&m.message))
}

fn state(m: &BrowsedMessage<Vec<u8>>) -> &'static str {
    if m.hidden {
        "hidden"
    } else {
        "visible"
    }
}

/// `ID<TAB>STATE<TAB>VISIBLE AT<TAB>rc N<TAB>BODY`.
fn browsed_line(m: &BrowsedMessage<Vec<u8>>) -> String {
    format!(
        "{}\t{}\t{}\trc {}\t{}",
        m.id,
        state(m),
        utc_ms(m.visible_at),
        m.rc,
        String::from_utf8_lossy(&m.message)
    )
}

/// `ID<TAB>HOST<TAB>pid PID<TAB>queues Q,...<TAB>in flight N/C<TAB>handled N<TAB>failed N<TAB>started TIME`.
fn worker_line(w: &LiveWorker) -> String {
    format!(
        "{}\t{}\tpid {}\tqueues {}\tin flight {}/{}\thandled {}\tfailed {}\tstarted {}",
        w.id,
        w.host,
        w.pid,
        w.queues.join(","),
        w.in_flight,
        w.concurrency,
        w.handled,
        w.failed,
        utc(w.started / 1000)
    )
}

/// The attributes as the HTTP API writes them, with `visiblemsgs` and `oldestmsgage`.
fn attributes_json(a: &RsmqQueueAttributes) -> Value {
    let mut v = rsmq_web::format::attributes_json(a);
    v["visiblemsgs"] = json!(a.visiblemsgs);
    v["oldestmsgage"] = seconds(a.oldestmsgage);
    v
}

/// The connection options: the URL, then `--ns`, `RSMQ_PASSWORD` and `--cacert`.
fn options(g: &Global) -> Result<RsmqOptions, Exit> {
    let url = if g.url.contains("://") {
        g.url.clone()
    } else {
        format!("redis://{}", g.url)
    };
    let mut options = RsmqOptions::from_url(&url).map_err(|e| {
        // The library's message never repeats the URL (nor so its password).
        Exit::Usage(format!("--url / RSMQ_URL: {}", one_line(&e.to_string())))
    })?;
    if let Some(ns) = &g.ns {
        options.ns = ns.clone();
    }
    if options.password.is_none() {
        if let Some(pw) = std::env::var_os("RSMQ_PASSWORD").filter(|p| !p.is_empty()) {
            options.password = Some(
                pw.into_string()
                    .map_err(|_| Exit::Usage("RSMQ_PASSWORD is not valid UTF-8".to_string()))?,
            );
        }
    }
    if let Some(path) = &g.cacert {
        let pem = std::fs::read(path).map_err(|e| {
            Exit::Failure(Failure(format!(
                "cannot read the CA certificate {}: {e}",
                path.display()
            )))
        })?;
        options.tls_root_cert = Some(pem);
    }
    Ok(options)
}

/// The host and port of a cluster node given as `host:port` or `redis[s]://host:port`.
fn first_node(node: &str) -> Option<(String, u16)> {
    let rest = node.split_once("://").map_or(node, |(_, r)| r);
    let rest = rest.rsplit_once('@').map_or(rest, |(_, r)| r);
    let rest = rest.split('/').next()?;
    let (host, port) = rest.rsplit_once(':')?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    Some((host.to_string(), port.parse().ok()?))
}

/// Runs one command (not `completions`).
pub async fn run(g: Global, command: Command) -> Result<(), Exit> {
    let mut options = options(&g)?;
    let rsmq = if let (false, Some(master)) = (g.sentinel.is_empty(), &g.master) {
        let rsmq = Rsmq::new_sentinel(&g.sentinel, master, options.clone())
            .await
            .map_err(Failure::from)?;
        // Messages and `tail` use the master the sentinels name now.
        if let Some((host, port)) = rsmq
            .sentinel_master()
            .await
            .ok()
            .and_then(|m| first_node(&m))
        {
            (options.host, options.port) = (host, port);
        }
        rsmq
    } else if g.cluster.is_empty() {
        Rsmq::new(options.clone()).await.map_err(Failure::from)?
    } else {
        let rsmq = Rsmq::new_cluster(&g.cluster, options.clone())
            .await
            .map_err(Failure::from)?;
        // Messages name the first node; `tail` listens there (a cluster forwards every
        // PUBLISH to every node).
        if let Some((host, port)) = first_node(&g.cluster[0]) {
            (options.host, options.port) = (host, port);
        }
        rsmq
    };
    let ctx = Ctx {
        rsmq,
        options,
        json: g.json,
        quiet: g.quiet,
    };
    match command {
        Command::Queues => queues(&ctx).await?,
        Command::Create { queue, attrs } => {
            create(&ctx, &queue, attrs.vt, attrs.delay, attrs.maxsize).await?
        }
        Command::Attrs { queue } => attrs(&ctx, &queue).await?,
        Command::SetAttrs { queue, attrs } => {
            set_attrs(&ctx, &queue, attrs.vt, attrs.delay, attrs.maxsize).await?
        }
        Command::DeleteQueue { queue, yes } => delete_queue(&ctx, &queue, yes).await?,
        Command::Send {
            queue,
            body,
            lines,
            delay,
        } => send(&ctx, &queue, body, lines, delay).await?,
        Command::Receive { queue, vt, wait, n } => receive(&ctx, &queue, vt, wait, n).await?,
        Command::Pop { queue, n } => pop(&ctx, &queue, n).await?,
        Command::Delete { queue, ids } => delete(&ctx, &queue, &ids).await?,
        Command::Visibility { queue, id, vt } => visibility(&ctx, &queue, &id, vt).await?,
        Command::Move { src, id, dst } => move_message(&ctx, &src, &id, &dst).await?,
        Command::Peek { queue, n } => {
            let msgs = ctx
                .rsmq
                .peek_messages::<Vec<u8>>(&queue, n)
                .await
                .map_err(ctx.on(&queue))?;
            ctx.messages(&queue, &msgs)?
        }
        Command::Browse {
            queue,
            limit,
            cursor,
            all,
        } => browse(&ctx, &queue, limit, cursor, all).await?,
        Command::Show { queue, id } => show(&ctx, &queue, &id).await?,
        Command::Redrive {
            dlq,
            dst,
            max,
            dry_run,
        } => redrive(&ctx, &dlq, &dst, max, dry_run).await?,
        Command::Purge { queue, yes } => purge(&ctx, &queue, yes).await?,
        Command::Stats { watch, interval } => stats(&ctx, watch, interval).await?,
        Command::Workers => workers(&ctx).await?,
        Command::Tail { queue, interval } => tail(&ctx, &queue, interval).await?,
        Command::Serve {
            bind,
            read_only,
            token,
            basic,
        } => serve(&ctx, bind, read_only, token, basic).await?,
        Command::Completions { .. } => unreachable!("handled before connecting"),
    }
    Ok(())
}

async fn queues(ctx: &Ctx) -> Res {
    let mut names = ctx.rsmq.list_queues().await.map_err(|e| ctx.fail(e))?;
    names.sort();
    if ctx.json {
        return out_json(&json!(names));
    }
    if names.is_empty() {
        ctx.say(&format!("no queue in namespace `{}`", ctx.ns()));
    }
    for name in names {
        out(&name)?;
    }
    Ok(())
}

async fn create(
    ctx: &Ctx,
    q: &str,
    vt: Option<Duration>,
    delay: Option<Duration>,
    maxsize: Option<i64>,
) -> Res {
    ctx.rsmq
        .create_queue(q, vt, delay, maxsize)
        .await
        .map_err(ctx.on(q))?;
    if ctx.json {
        out_json(&attributes_json(&ctx.attributes(q).await?))
    } else {
        ctx.say(&format!("created queue `{q}`"));
        Ok(())
    }
}

fn print_attributes(ctx: &Ctx, a: &RsmqQueueAttributes) -> Res {
    if ctx.json {
        return out_json(&attributes_json(a));
    }
    let maxsize = if a.maxsize < 0 {
        "unlimited".to_string()
    } else {
        format!("{} bytes", a.maxsize)
    };
    for (k, v) in [
        ("vt", human_duration(a.vt)),
        ("delay", human_duration(a.delay)),
        ("maxsize", maxsize),
        ("msgs", a.msgs.to_string()),
        ("hiddenmsgs", a.hiddenmsgs.to_string()),
        ("visiblemsgs", a.visiblemsgs.to_string()),
        ("oldestmsgage", human_duration(a.oldestmsgage)),
        ("totalsent", a.totalsent.to_string()),
        ("totalrecv", a.totalrecv.to_string()),
        ("created", utc(a.created)),
        ("modified", utc(a.modified)),
    ] {
        out(&format!("{k:<13} {v}"))?;
    }
    Ok(())
}

async fn attrs(ctx: &Ctx, q: &str) -> Res {
    let a = ctx.attributes(q).await?;
    print_attributes(ctx, &a)
}

async fn set_attrs(
    ctx: &Ctx,
    q: &str,
    vt: Option<Duration>,
    delay: Option<Duration>,
    maxsize: Option<i64>,
) -> Res {
    let a = ctx
        .rsmq
        .set_queue_attributes(q, vt, delay, maxsize)
        .await
        .map_err(ctx.on(q))?;
    if ctx.json {
        out_json(&attributes_json(&a))
    } else {
        ctx.say(&format!("updated queue `{q}`"));
        print_attributes(ctx, &a)
    }
}

/// Asks on a terminal whether to go on; refuses without `--yes` elsewhere.
fn confirm(yes: bool, question: &str, action: &str) -> Res {
    if yes {
        return Ok(());
    }
    if !io::stdin().is_terminal() {
        return Err(Failure(format!(
            "refusing to {action} without --yes (standard input is not a terminal)"
        )));
    }
    eprint!("{question} [y/N] ");
    let _ = io::stderr().flush();
    let mut answer = String::new();
    io::stdin().read_line(&mut answer)?;
    match answer.trim().to_ascii_lowercase().as_str() {
        "y" | "yes" => Ok(()),
        _ => Err(Failure(format!("not confirmed: did not {action}"))),
    }
}

async fn delete_queue(ctx: &Ctx, q: &str, yes: bool) -> Res {
    let a = ctx.attributes(q).await?;
    confirm(
        yes,
        &format!(
            "Delete queue `{q}` (namespace `{}`) and its {} messages?",
            ctx.ns(),
            a.msgs
        ),
        &format!("delete queue `{q}`"),
    )?;
    ctx.rsmq.delete_queue(q).await.map_err(ctx.on(q))?;
    if ctx.json {
        out_json(&json!({ "queue": q, "deleted": true, "msgs": a.msgs }))
    } else {
        ctx.say(&format!("deleted queue `{q}` and its {} messages", a.msgs));
        Ok(())
    }
}

async fn purge(ctx: &Ctx, q: &str, yes: bool) -> Res {
    let a = ctx.attributes(q).await?;
    confirm(
        yes,
        &format!(
            "Remove all {} messages of queue `{q}` (namespace `{}`)?",
            a.msgs,
            ctx.ns()
        ),
        &format!("purge queue `{q}`"),
    )?;
    let removed = ctx.rsmq.purge_queue(q).await.map_err(ctx.on(q))?;
    if ctx.json {
        out_json(&json!({ "queue": q, "purged": removed }))
    } else {
        ctx.say(&format!("removed {removed} messages from queue `{q}`"));
        Ok(())
    }
}

async fn send(
    ctx: &Ctx,
    q: &str,
    body: Option<String>,
    lines: bool,
    delay: Option<Duration>,
) -> Res {
    if lines {
        return send_lines(ctx, q, delay).await;
    }
    let body = match body {
        Some(b) if b != "-" => b.into_bytes(),
        _ => {
            if io::stdin().is_terminal() {
                ctx.say("reading the message from standard input (end it with Ctrl-D)");
            }
            let mut buf = Vec::new();
            io::stdin().lock().read_to_end(&mut buf)?;
            if buf.ends_with(b"\n") {
                buf.pop();
                if buf.ends_with(b"\r") {
                    buf.pop();
                }
            }
            buf
        }
    };
    let id = ctx
        .rsmq
        .send_message(q, body, delay)
        .await
        .map_err(ctx.on(q))?;
    if ctx.json {
        out_json(&json!([id]))
    } else {
        out(&id)
    }
}

async fn send_lines(ctx: &Ctx, q: &str, delay: Option<Duration>) -> Res {
    // Fail before reading the input when the queue is not there.
    ctx.attributes(q).await?;
    let bar = if !ctx.quiet && io::stderr().is_terminal() {
        let bar = indicatif::ProgressBar::new_spinner();
        if let Ok(style) =
            indicatif::ProgressStyle::with_template("{spinner} {pos} messages sent ({per_sec})")
        {
            bar.set_style(style);
        }
        bar.enable_steady_tick(Duration::from_millis(120));
        bar
    } else {
        indicatif::ProgressBar::hidden()
    };
    let mut all_ids = Vec::new();
    let mut input = io::stdin().lock();
    let mut batch: Vec<Vec<u8>> = Vec::with_capacity(SEND_BATCH);
    let mut done = false;
    while !done {
        let mut line = Vec::new();
        done = input.read_until(b'\n', &mut line)? == 0;
        if line.ends_with(b"\n") {
            line.pop();
            if line.ends_with(b"\r") {
                line.pop();
            }
        }
        if !line.is_empty() {
            batch.push(line);
        }
        if batch.len() == SEND_BATCH || (done && !batch.is_empty()) {
            let ids = ctx
                .rsmq
                .send_message_batch(q, std::mem::take(&mut batch), delay)
                .await
                .map_err(ctx.on(q))?;
            bar.inc(ids.len() as u64);
            if ctx.json {
                all_ids.extend(ids);
            } else {
                bar.suspend(|| ids.iter().try_for_each(|id| out(id)))?;
            }
        }
    }
    let sent = bar.position();
    bar.finish_and_clear();
    if ctx.json {
        out_json(&json!(all_ids))?;
    }
    ctx.say(&format!("sent {sent} messages to queue `{q}`"));
    Ok(())
}

async fn receive(ctx: &Ctx, q: &str, vt: Option<Duration>, wait: Option<Duration>, n: u64) -> Res {
    let mut msgs: Vec<RsmqMessage<Vec<u8>>> = Vec::new();
    if let Some(wait) = wait {
        match ctx
            .rsmq
            .receive_message_wait::<Vec<u8>>(q, vt, wait)
            .await
            .map_err(ctx.on(q))?
        {
            Some(m) => msgs.push(m),
            None => return ctx.messages(q, &msgs),
        }
    }
    while (msgs.len() as u64) < n {
        let want = (n - msgs.len() as u64).min(MAX_BATCH as u64) as u32;
        let got = ctx
            .rsmq
            .receive_message_batch::<Vec<u8>>(q, vt, want)
            .await
            .map_err(ctx.on(q))?;
        let short = got.len() < want as usize;
        msgs.extend(got);
        if short {
            break;
        }
    }
    ctx.messages(q, &msgs)
}

async fn pop(ctx: &Ctx, q: &str, n: u64) -> Res {
    let mut msgs = Vec::new();
    while (msgs.len() as u64) < n {
        match ctx
            .rsmq
            .pop_message::<Vec<u8>>(q)
            .await
            .map_err(ctx.on(q))?
        {
            Some(m) => msgs.push(m),
            None => break,
        }
    }
    ctx.messages(q, &msgs)
}

async fn delete(ctx: &Ctx, q: &str, ids: &[String]) -> Res {
    ctx.attributes(q).await?;
    let (mut deleted, mut missing) = (Vec::new(), Vec::new());
    for id in ids {
        let found = ctx
            .rsmq
            .delete_message(q, id)
            .await
            .map_err(ctx.on_id(q, id))?;
        if found {
            deleted.push(id.as_str());
        } else {
            missing.push(id.as_str());
        }
    }
    if ctx.json {
        out_json(&json!({ "deleted": deleted, "missing": missing }))?;
    } else if !deleted.is_empty() {
        ctx.say(&format!(
            "deleted {} messages from queue `{q}`",
            deleted.len()
        ));
    }
    if missing.is_empty() {
        Ok(())
    } else {
        Err(Failure(format!(
            "not in queue `{q}`: {}",
            missing.join(", ")
        )))
    }
}

async fn visibility(ctx: &Ctx, q: &str, id: &str, vt: Duration) -> Res {
    let found = ctx
        .rsmq
        .change_message_visibility(q, id, vt)
        .await
        .map_err(ctx.on_id(q, id))?;
    if !found {
        return Err(Failure(format!("message {id} not in queue `{q}`")));
    }
    if ctx.json {
        out_json(&json!({ "id": id, "vt": seconds(vt) }))
    } else {
        ctx.say(&format!(
            "message {id} of queue `{q}` is hidden for {}",
            human_duration(vt)
        ));
        Ok(())
    }
}

async fn move_message(ctx: &Ctx, src: &str, id: &str, dst: &str) -> Res {
    let found = match ctx.rsmq.move_message(src, id, dst).await {
        Ok(found) => found,
        Err(RsmqError::InvalidFormat(what)) if what == "id" => {
            return Err(Failure(format!("`{id}` is not a message id")))
        }
        Err(e) => return Err(ctx.on_two(e, src, dst).await),
    };
    if !found {
        return Err(Failure(format!("message {id} not in queue `{src}`")));
    }
    if ctx.json {
        out_json(&json!({ "id": id, "from": src, "to": dst }))
    } else {
        ctx.say(&format!("moved message {id} from `{src}` to `{dst}`"));
        Ok(())
    }
}

async fn redrive(ctx: &Ctx, dlq: &str, dst: &str, max: Option<u64>, dry_run: bool) -> Res {
    let limit = max.unwrap_or(u64::MAX);
    let moved = if dry_run {
        if dlq == dst {
            return Err(ctx.on(dlq)(RsmqError::SameQueue));
        }
        let a = ctx.attributes(dlq).await?;
        ctx.attributes(dst).await?;
        a.visiblemsgs.min(limit)
    } else {
        let mut moved = 0;
        while moved < limit {
            let want = (limit - moved).min(MAX_BATCH as u64) as u32;
            let n = match ctx.rsmq.redrive(dlq, dst, want).await {
                Ok(n) => n,
                Err(e) => return Err(ctx.on_two(e, dlq, dst).await),
            };
            moved += n;
            if n < u64::from(want) {
                break;
            }
        }
        moved
    };
    if ctx.json {
        out_json(&json!({ "from": dlq, "to": dst, "moved": moved, "dry_run": dry_run }))
    } else if dry_run {
        ctx.say(&format!(
            "would move {moved} messages from `{dlq}` to `{dst}` (dry run)"
        ));
        Ok(())
    } else {
        ctx.say(&format!("moved {moved} messages from `{dlq}` to `{dst}`"));
        Ok(())
    }
}

/// `browse`: a page of `limit` messages from `cursor`, or with `all` every page from there.
async fn browse(ctx: &Ctx, q: &str, limit: u32, cursor: u64, all: bool) -> Res {
    let per_call = if all { MAX_BATCH as u32 } else { limit };
    let mut at = cursor;
    let mut json_all = Vec::new();
    let mut count = 0usize;
    let next = loop {
        let page = ctx
            .rsmq
            .browse_messages::<Vec<u8>>(q, at, per_call)
            .await
            .map_err(ctx.on(q))?;
        count += page.messages.len();
        if ctx.json {
            json_all.extend(page.messages.iter().map(browsed_json));
        } else {
            for m in &page.messages {
                out(&browsed_line(m))?;
            }
        }
        match page.next {
            // A cursor that does not move on would loop: stop there.
            Some(n) if all && n > at => at = n,
            next => break next,
        }
    };
    if ctx.json {
        out_json(&Value::Array(json_all))?;
    } else if count == 0 && cursor == 0 {
        ctx.say(&format!("no message in queue `{q}`"));
    } else if count == 0 {
        ctx.say(&format!("no message in queue `{q}` from cursor {cursor}"));
    }
    if let Some(n) = next.filter(|_| !all) {
        let limit = if limit == BROWSE_LIMIT {
            String::new()
        } else {
            format!(" --limit {limit}")
        };
        ctx.say(&format!("more: rsmq browse {q} --cursor {n}{limit}"));
    }
    Ok(())
}

/// `show`: one message by id.
async fn show(ctx: &Ctx, q: &str, id: &str) -> Res {
    let m = ctx
        .rsmq
        .get_message::<Vec<u8>>(q, id)
        .await
        .map_err(ctx.on_id(q, id))?
        .ok_or_else(|| Failure(format!("message {id} not in queue `{q}`")))?;
    if ctx.json {
        return out_json(&browsed_json(&m));
    }
    let first = if m.fr == 0 {
        "never".to_string()
    } else {
        utc_ms(m.fr)
    };
    for (k, v) in [
        ("id", m.id.clone()),
        ("state", state(&m).to_string()),
        ("visible at", utc_ms(m.visible_at)),
        ("sent", utc_ms(m.sent)),
        ("received count", m.rc.to_string()),
        ("first received", first),
        ("body", String::from_utf8_lossy(&m.message).into_owned()),
    ] {
        out(&format!("{:<16}{v}", format!("{k}:")))?;
    }
    Ok(())
}

/// `workers`: the live workers of the namespace.
async fn workers(ctx: &Ctx) -> Res {
    let workers = ctx.rsmq.live_workers().await.map_err(|e| ctx.fail(e))?;
    if ctx.json {
        return out_json(&Value::Array(workers.iter().map(worker_json).collect()));
    }
    if workers.is_empty() {
        ctx.say(&format!("no live workers in namespace `{}`", ctx.ns()));
    }
    for w in &workers {
        out(&worker_line(w))?;
    }
    Ok(())
}

/// The attributes of every queue, by name (queues deleted meanwhile left out).
async fn all_attributes(ctx: &Ctx) -> Res<Vec<(String, RsmqQueueAttributes)>> {
    let mut names = ctx.rsmq.list_queues().await.map_err(|e| ctx.fail(e))?;
    names.sort();
    let mut rows = Vec::with_capacity(names.len());
    for name in names {
        match ctx.rsmq.get_queue_attributes(&name).await {
            Ok(a) => rows.push((name, a)),
            Err(RsmqError::QueueNotFound) => {}
            Err(e) => return Err(ctx.on(&name)(e)),
        }
    }
    Ok(rows)
}

fn stats_table(rows: &[(String, RsmqQueueAttributes)]) -> Vec<String> {
    let header = [
        "QUEUE", "MSGS", "HIDDEN", "VISIBLE", "OLDEST", "SENT", "RECEIVED",
    ];
    let cells: Vec<[String; 7]> = rows
        .iter()
        .map(|(name, a)| {
            [
                name.clone(),
                a.msgs.to_string(),
                a.msgs.saturating_sub(a.visiblemsgs).to_string(),
                a.visiblemsgs.to_string(),
                if a.msgs == 0 {
                    "-".to_string()
                } else {
                    human_duration(a.oldestmsgage)
                },
                a.totalsent.to_string(),
                a.totalrecv.to_string(),
            ]
        })
        .collect();
    let mut width = header.map(str::len);
    for row in &cells {
        for (w, c) in width.iter_mut().zip(row) {
            *w = (*w).max(c.chars().count());
        }
    }
    let line = |row: &[String]| {
        let mut s = format!("{:<w$}", row[0], w = width[0]);
        for (c, w) in row[1..].iter().zip(&width[1..]) {
            s.push_str(&format!("  {c:>w$}"));
        }
        s
    };
    let mut lines = vec![line(&header.map(String::from))];
    lines.extend(cells.iter().map(|r| line(r)));
    lines
}

fn stats_json(rows: &[(String, RsmqQueueAttributes)]) -> Value {
    Value::Array(
        rows.iter()
            .map(|(name, a)| {
                json!({
                    "queue": name,
                    "msgs": a.msgs,
                    "hiddenmsgs": a.hiddenmsgs,
                    "visiblemsgs": a.visiblemsgs,
                    "oldestmsgage": seconds(a.oldestmsgage),
                    "totalsent": a.totalsent,
                    "totalrecv": a.totalrecv,
                })
            })
            .collect(),
    )
}

async fn stats(ctx: &Ctx, watch: bool, interval: Duration) -> Res {
    let in_place = watch && !ctx.json && io::stdout().is_terminal();
    let ctrl_c = tokio::signal::ctrl_c();
    tokio::pin!(ctrl_c);
    loop {
        let rows = match all_attributes(ctx).await {
            Ok(rows) => rows,
            // Watching goes on through a lost connection (the client reconnects).
            Err(f) if watch => {
                if !ctx.quiet {
                    eprintln!("rsmq: {f} (retrying every {})", human_duration(interval));
                }
                tokio::select! {
                    _ = &mut ctrl_c => return Ok(()),
                    _ = tokio::time::sleep(interval) => continue,
                }
            }
            Err(f) => return Err(f),
        };
        if ctx.json {
            out_json(&stats_json(&rows))?;
        } else {
            let mut text = String::new();
            if in_place {
                // Home the cursor and clear the screen, then a title line.
                text.push_str("\x1b[H\x1b[2J");
                text.push_str(&format!(
                    "namespace `{}` at {}, every {} (Ctrl-C ends)\n\n",
                    ctx.ns(),
                    now_utc(),
                    human_duration(interval)
                ));
            }
            text.push_str(&stats_table(&rows).join("\n"));
            if watch && !in_place {
                text.push('\n');
            }
            out(&text)?;
            if rows.is_empty() && !watch {
                ctx.say(&format!("no queue in namespace `{}`", ctx.ns()));
            }
        }
        if !watch {
            return Ok(());
        }
        tokio::select! {
            _ = &mut ctrl_c => return Ok(()),
            _ = tokio::time::sleep(interval) => {}
        }
    }
}

fn now_utc() -> String {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    utc(secs)
}

/// A Redis client for the realtime notifications, from the same options as the queue client.
fn pubsub_client(o: &RsmqOptions) -> rsmq_async::redis::RedisResult<rsmq_async::redis::Client> {
    use rsmq_async::redis::{self, IntoConnectionInfo};
    let mut settings = redis::RedisConnectionInfo::default().set_db(i64::from(o.db));
    if let Some(user) = &o.username {
        settings = settings.set_username(user);
    }
    if let Some(pw) = &o.password {
        settings = settings.set_password(pw);
    }
    let addr = if o.tls {
        redis::ConnectionAddr::TcpTls {
            host: o.host.clone(),
            port: o.port,
            insecure: false,
            tls_params: None,
        }
    } else {
        redis::ConnectionAddr::Tcp(o.host.clone(), o.port)
    };
    let info = addr.into_connection_info()?.set_redis_settings(settings);
    if o.tls {
        let certs = redis::TlsCertificates {
            client_tls: None,
            root_cert: o.tls_root_cert.clone(),
        };
        redis::Client::build_with_tls(info, certs)
    } else {
        redis::Client::open(info)
    }
}

/// Notifications of new messages in `q` (`{ns}:rt:{q}`), if they can be had.
async fn notifications(
    ctx: &Ctx,
    q: &str,
) -> Option<impl futures_util::Stream<Item = rsmq_async::redis::Msg>> {
    let client = pubsub_client(&ctx.options).ok()?;
    let mut pubsub = client.get_async_pubsub().await.ok()?;
    pubsub
        .subscribe(format!("{}:rt:{q}", ctx.ns()))
        .await
        .ok()?;
    Some(pubsub.into_on_message())
}

/// The user and password of `--basic USER:PASSWORD`, split at the first colon; the error
/// never shows the value (it holds a password).
pub(crate) fn split_basic(value: &str) -> Result<(&str, &str), String> {
    match value.split_once(':') {
        Some((user, password)) if !user.is_empty() && !password.is_empty() => Ok((user, password)),
        _ => Err(
            "--basic (or RSMQ_BASIC) must be USER:PASSWORD, a user name and a \
                  password joined by a colon, neither empty"
                .into(),
        ),
    }
}

/// `serve`: the HTTP API of `rsmq-web` on `bind`, until Ctrl-C.
async fn serve(
    ctx: &Ctx,
    bind: std::net::SocketAddr,
    read_only: bool,
    token: Option<String>,
    basic: Option<String>,
) -> Res {
    let signs_in = token.is_some();
    let mut config = rsmq_web::WebConfig::default().read_only(read_only);
    if let Some(token) = token {
        config = config.token(token);
    }
    if let Some(basic) = &basic {
        // Checked before the runtime starts (a usage error); checked again here.
        let (user, password) = split_basic(basic).map_err(Failure)?;
        config = config.basic(user, password);
    }
    let app = rsmq_web::router(ctx.rsmq.clone(), config)
        .into_make_service_with_connect_info::<std::net::SocketAddr>();
    let listener = tokio::net::TcpListener::bind(bind)
        .await
        .map_err(|e| Failure(format!("cannot listen on {bind}: {e}")))?;
    let addr = listener.local_addr().unwrap_or(bind);
    ctx.say(&format!(
        "serving the HTTP API and the dashboard of namespace `{}` on http://{addr}/{}{} (Ctrl-C ends)",
        ctx.ns(),
        if read_only { ", read-only" } else { "" },
        if signs_in { ", sign in with the token" } else { "" }
    ));
    crate::audit::install();
    axum::serve(listener, app)
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await
        .map_err(|e| Failure(format!("serving on {addr}: {e}")))?;
    Ok(())
}

async fn tail(ctx: &Ctx, q: &str, interval: Duration) -> Res {
    let peek = || async {
        ctx.rsmq
            .peek_messages::<Vec<u8>>(q, MAX_BATCH as u32)
            .await
            .map_err(ctx.on(q))
    };
    let mut shown: HashSet<String> = peek().await?.into_iter().map(|m| m.id).collect();
    let mut notes = notifications(ctx, q).await.map(Box::pin);
    ctx.say(&format!(
        "waiting for messages in queue `{q}` (Ctrl-C ends)"
    ));
    let ctrl_c = tokio::signal::ctrl_c();
    tokio::pin!(ctrl_c);
    loop {
        let note = async {
            match notes.as_mut() {
                Some(n) => n.next().await.is_some(),
                None => std::future::pending().await,
            }
        };
        let subscribed = tokio::select! {
            _ = &mut ctrl_c => return Ok(()),
            alive = note => alive,
            _ = tokio::time::sleep(interval) => true,
        };
        if !subscribed {
            // The subscriber connection is gone: look every interval from now on.
            notes = None;
        }
        let msgs = peek().await?;
        for m in &msgs {
            if !shown.contains(&m.id) {
                if ctx.json {
                    out_json(&message_json(m))?;
                } else {
                    out(&message_line(m))?;
                }
            }
        }
        shown = msgs.into_iter().map(|m| m.id).collect();
    }
}
