//! `rsmq`: inspect and operate RSMQ queues from the command line.
//!
//! Every queue operation maps to one call (or a loop of calls) of the `rsmq_async` library;
//! see `commands.rs`. Data goes to stdout (`--json` for machines), messages to stderr, and
//! an error is one line on stderr with status 1 (2 for a usage error).

mod audit;
mod commands;
mod util;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, CommandFactory, Parser, Subcommand};

use util::parse_duration;

const ABOUT: &str = "Inspect and operate RSMQ queues (Redis Simple Message Queue)";

const LONG_ABOUT: &str = "Inspect and operate RSMQ queues (Redis Simple Message Queue).

Works with the queues of every RSMQ client: rsmq_async, the JavaScript rsmq and PyRSMQ.
Data goes to standard output (add --json for machines), messages to standard error. An
error is one line on standard error and exit status 1; a usage error exits with 2.

Durations are a number of seconds (45, 1.5) or a number with a unit: 250ms, 45s, 5m, 2h, 1d.";

const EXAMPLES: &str = "Examples:
  rsmq queues
  rsmq create jobs --vt 1m
  echo '{\"task\":1}' | rsmq send jobs
  rsmq receive jobs --wait 20s
  rsmq -u rediss://:secret@redis.example:6380/0 --ns prod stats --watch

Connection: the URL is redis://[user[:password]@]host[:port][/db][?ns=NS&realtime=true],
or rediss:// for TLS. A password not in the URL is read from RSMQ_PASSWORD; it is never
needed on the command line, and never printed.";

#[derive(Parser, Debug)]
#[command(
    name = "rsmq",
    version,
    about = ABOUT,
    long_about = LONG_ABOUT,
    after_help = EXAMPLES,
    propagate_version = true,
    max_term_width = 100
)]
struct Cli {
    #[command(flatten)]
    global: Global,

    #[command(subcommand)]
    command: Command,
}

/// The options every command takes.
/// A queue's attributes, as `create` and `set-attrs` take them.
#[derive(Args, Debug, Clone)]
struct QueueAttrs {
    /// How long a received message stays hidden (visibility timeout)
    #[arg(long, value_parser = duration)]
    vt: Option<Duration>,
    /// How long a sent message waits before it can be received
    #[arg(long, value_parser = duration)]
    delay: Option<Duration>,
    /// Largest body in bytes: 1024 to 65536, or -1 for unlimited
    #[arg(long, allow_negative_numbers = true)]
    maxsize: Option<i64>,
}

#[derive(Args, Debug, Clone)]
#[command(next_help_heading = "Global options")]
struct Global {
    /// Redis URL: redis://[user[:password]@]host[:port][/db], rediss:// for TLS, or host:port.
    /// A password not in the URL is read from RSMQ_PASSWORD
    #[arg(
        short = 'u',
        long,
        env = "RSMQ_URL",
        default_value = "redis://127.0.0.1:6379",
        hide_env_values = true,
        global = true
    )]
    url: String,

    /// Namespace of the queues (default: the URL's ns parameter, else rsmq)
    #[arg(long, env = "RSMQ_NS", global = true)]
    ns: Option<String>,

    /// Redis Cluster: connect through these nodes (host:port or redis://host:port, comma
    /// separated) instead of the URL's host; user, password, TLS and ns still come from the
    /// URL. The namespace must carry a hash tag, such as {app}
    #[arg(
        long,
        env = "RSMQ_CLUSTER",
        value_delimiter = ',',
        value_name = "NODE,...",
        global = true
    )]
    cluster: Vec<String>,

    /// Redis Sentinel: find the master through these sentinels (host:port or
    /// redis://[:password@]host:port, comma separated), with --master; user, password, TLS and
    /// ns for the data nodes come from the URL
    #[arg(
        long,
        env = "RSMQ_SENTINEL",
        value_delimiter = ',',
        value_name = "ADDR,...",
        global = true,
        conflicts_with = "cluster",
        requires = "master"
    )]
    sentinel: Vec<String>,

    /// The name of the master the sentinels watch (with --sentinel)
    #[arg(long, env = "RSMQ_MASTER", value_name = "NAME", global = true)]
    master: Option<String>,

    /// CA certificate (PEM) to trust for rediss:// besides the system's roots
    #[arg(long, value_name = "FILE", global = true)]
    cacert: Option<PathBuf>,

    /// Machine output: JSON on standard output
    #[arg(long, global = true)]
    json: bool,

    /// No messages on standard error, only data and errors
    #[arg(short, long, global = true)]
    quiet: bool,
}

/// A duration argument.
fn duration(text: &str) -> Result<Duration, String> {
    parse_duration(text)
}

/// A message count for commands that fetch at most one batch.
fn batch_count(text: &str) -> Result<u32, String> {
    let n: u32 = text
        .parse()
        .map_err(|_| format!("`{text}` is not a number"))?;
    if n == 0 || n as usize > rsmq_async::MAX_BATCH {
        return Err(format!("must be from 1 to {}", rsmq_async::MAX_BATCH));
    }
    Ok(n)
}

/// The default page size of `browse`.
const BROWSE_LIMIT: u32 = 50;

/// A positive message count.
fn count(text: &str) -> Result<u64, String> {
    match text.parse::<u64>() {
        Ok(n) if n > 0 => Ok(n),
        _ => Err(format!("`{text}` is not a positive number")),
    }
}

#[derive(Subcommand, Debug)]
enum Command {
    /// List the queues of the namespace
    #[command(
        visible_alias = "ls",
        after_help = "Prints one name a line, sorted (--json: an array of names).\n\nExample:\n  rsmq queues --ns prod"
    )]
    Queues,

    /// Create a queue
    #[command(
        after_help = "Defaults: vt 30s, delay 0, maxsize 65536 (bytes; -1 for unlimited). A queue's vt and\ndelay are whole seconds. --json prints the new queue's attributes.\n\nExample:\n  rsmq create jobs --vt 5m --maxsize -1"
    )]
    Create {
        /// Queue name
        queue: String,
        #[command(flatten)]
        attrs: QueueAttrs,
    },

    /// Show a queue's attributes and counters
    #[command(
        visible_alias = "attributes",
        after_help = "--json prints an object with the fields vt, delay, maxsize, totalrecv, totalsent,\ncreated, modified, msgs, hiddenmsgs, visiblemsgs, oldestmsgage; durations in seconds,\ncreated and modified as Unix times in seconds.\n\nExample:\n  rsmq attrs jobs --json"
    )]
    Attrs {
        /// Queue name
        queue: String,
    },

    /// Change a queue's vt, delay or maxsize
    #[command(
        after_help = "Prints the new attributes (--json: as attrs does).\n\nExample:\n  rsmq set-attrs jobs --vt 2m --delay 0",
        group(clap::ArgGroup::new("attribute").required(true).multiple(true).args(["vt", "delay", "maxsize"]))
    )]
    SetAttrs {
        /// Queue name
        queue: String,
        #[command(flatten)]
        attrs: QueueAttrs,
    },

    /// Delete a queue and all its messages
    #[command(
        after_help = "Asks first on a terminal; refuses without --yes when standard input is not a terminal.\n\nExample:\n  rsmq delete-queue old-jobs --yes"
    )]
    DeleteQueue {
        /// Queue name
        queue: String,
        /// Do not ask
        #[arg(short, long)]
        yes: bool,
    },

    /// Send a message (or one message per line of standard input)
    #[command(
        after_help = "Prints the id of each message sent (--json: an array of ids). Without BODY, or with -,\nthe body is standard input (one trailing line break removed). With --lines each\nnon-empty line of standard input is a message, sent in batches.\n\nExamples:\n  rsmq send jobs 'hello'\n  rsmq send jobs < job.json\n  cat jobs.ndjson | rsmq send jobs --lines"
    )]
    Send {
        /// Queue name
        queue: String,
        /// The body; `-` or none: standard input
        #[arg(conflicts_with = "lines")]
        body: Option<String>,
        /// One message per line of standard input
        #[arg(long)]
        lines: bool,
        /// Receivable only after this delay (default: the queue's delay)
        #[arg(long, value_parser = duration)]
        delay: Option<Duration>,
    },

    /// Receive messages: they stay hidden for vt, then come back unless deleted
    #[command(
        visible_alias = "recv",
        after_help = "Prints each message as `ID<TAB>BODY` (--json: an array of objects with id, message, rc,\nfr, sent; fr and sent in Unix milliseconds). A body that is not UTF-8 is shown with U+FFFD\nin place of its bad bytes. Delete a message once handled, or it is received again after vt.\n\nExample:\n  rsmq receive jobs --vt 1m --wait 20s -n 10"
    )]
    Receive {
        /// Queue name
        queue: String,
        /// Hide the received messages this long (default: the queue's vt)
        #[arg(long, value_parser = duration)]
        vt: Option<Duration>,
        /// Wait this long for a message when none is receivable
        #[arg(long, value_parser = duration)]
        wait: Option<Duration>,
        /// At most this many messages
        #[arg(short = 'n', long = "count", default_value = "1", value_parser = count)]
        n: u64,
    },

    /// Receive and delete messages in one step
    #[command(
        after_help = "Prints each message as `ID<TAB>BODY` (--json: an array of objects with id, message,\nrc, fr, sent).\n\nExample:\n  rsmq pop jobs -n 5"
    )]
    Pop {
        /// Queue name
        queue: String,
        /// At most this many messages
        #[arg(short = 'n', long = "count", default_value = "1", value_parser = count)]
        n: u64,
    },

    /// Delete messages by id
    #[command(
        visible_alias = "rm",
        after_help = "Fails (status 1) naming the ids that were not in the queue.\n\nExample:\n  rsmq delete jobs f4k3x9...ID1 f4k3x9...ID2"
    )]
    Delete {
        /// Queue name
        queue: String,
        /// Message ids
        #[arg(required = true)]
        ids: Vec<String>,
    },

    /// Hide a message for vt from now (0 makes it receivable at once)
    #[command(after_help = "Example:\n  rsmq visibility jobs ID 5m")]
    Visibility {
        /// Queue name
        queue: String,
        /// Message id
        id: String,
        /// New visibility timeout from now
        #[arg(value_parser = duration)]
        vt: Duration,
    },

    /// Move a message to another queue, keeping its id, body and receive count
    #[command(
        name = "move",
        visible_alias = "mv",
        after_help = "Example:\n  rsmq move jobs ID jobs-dead"
    )]
    Move {
        /// Source queue
        src: String,
        /// Message id
        id: String,
        /// Destination queue
        dst: String,
    },

    /// Show the next receivable messages without receiving them
    #[command(
        after_help = "Changes nothing. Prints each message as `ID<TAB>BODY` (--json: an array of objects with\nid, message, rc, fr, sent).\n\nExample:\n  rsmq peek jobs-dead -n 20"
    )]
    Peek {
        /// Queue name
        queue: String,
        /// At most this many messages (up to 1000)
        #[arg(short = 'n', long = "count", default_value = "10", value_parser = batch_count)]
        n: u32,
    },

    /// List every message of a queue, hidden and delayed ones included, changing nothing
    #[command(
        after_help = "Lists the messages in the order they become receivable: one page of --limit (default\n50), or every page with --all. Prints each message as\n`ID<TAB>STATE<TAB>VISIBLE AT<TAB>rc N<TAB>BODY`, STATE being visible or hidden (delayed, or\nreceived and not yet due again); a body that is not UTF-8 is shown with U+FFFD in place of\nits bad bytes. --json prints an array of objects with id, message, rc, fr, sent,\nvisible_at, hidden (times in Unix milliseconds). When more messages follow, standard error\nsays how to get the next page. Messages sent, received or deleted between two pages move\nthe others, so one can then be seen twice or not at all.\n\nExamples:\n  rsmq browse jobs\n  rsmq browse jobs --cursor 50\n  rsmq browse jobs --all --json"
    )]
    Browse {
        /// Queue name
        queue: String,
        /// At most this many messages (1 to 1000)
        #[arg(short = 'n', long, default_value_t = BROWSE_LIMIT, value_parser = batch_count, conflicts_with = "all")]
        limit: u32,
        /// Start here: 0 (the first page) or the cursor given after the page before
        #[arg(long, default_value = "0")]
        cursor: u64,
        /// Every message, from --cursor to the end of the queue
        #[arg(long)]
        all: bool,
    },

    /// Show one message by id, hidden or not, changing nothing
    #[command(
        after_help = "Prints the message's id, state (visible or hidden), the time it becomes (or became)\nreceivable, its send time, receive count, first receive time and body (--json: an object\nwith id, message, rc, fr, sent, visible_at, hidden; times in Unix milliseconds). Fails\n(status 1) when the queue holds no such message.\n\nExample:\n  rsmq show jobs-dead ID"
    )]
    Show {
        /// Queue name
        queue: String,
        /// Message id
        id: String,
    },

    /// Move the messages of a dead-letter queue back to a queue, with a fresh receive count
    #[command(
        after_help = "Moves the receivable messages, oldest first; messages hidden in the dead-letter queue\nstay. --dry-run only counts.\n\nExample:\n  rsmq redrive jobs-dead jobs --max 100"
    )]
    Redrive {
        /// Dead-letter queue
        dlq: String,
        /// Destination queue
        dst: String,
        /// At most this many messages (default: all)
        #[arg(long, value_parser = count)]
        max: Option<u64>,
        /// Count what would move, move nothing
        #[arg(long)]
        dry_run: bool,
    },

    /// Remove every message of a queue, keeping the queue
    #[command(
        after_help = "Asks first on a terminal; refuses without --yes when standard input is not a terminal.\n\nExample:\n  rsmq purge jobs --yes"
    )]
    Purge {
        /// Queue name
        queue: String,
        /// Do not ask
        #[arg(short, long)]
        yes: bool,
    },

    /// One line per queue: messages, hidden, visible, age of the oldest, sent, received
    #[command(
        after_help = "HIDDEN counts the messages not receivable now (MSGS - VISIBLE). --json prints an array of\nobjects (queue, msgs, hiddenmsgs, visiblemsgs, oldestmsgage in seconds, totalsent,\ntotalrecv); with --watch one array a line.\n\nExample:\n  rsmq stats --watch --interval 1s"
    )]
    Stats {
        /// Refresh until interrupted (Ctrl-C)
        #[arg(short, long)]
        watch: bool,
        /// Time between refreshes with --watch
        #[arg(long, value_parser = duration, default_value = "2s")]
        interval: Duration,
    },

    /// List the live workers of the namespace
    #[command(
        after_help = "Lists the rsmq_async workers running on the namespace, sorted by id (a worker that died\ndrops out after three heartbeat intervals). Prints one line a worker, its fields separated\nby tabs: ID, HOST, `pid PID`, `queues Q,...`, `in flight N/CONCURRENCY`, `handled N`,\n`failed N`, `started TIME`. --json prints an array of objects with id, host, pid, queues,\nconcurrency, in_flight, handled, failed, started, seen, expires, version (times in Unix\nmilliseconds). With no worker, prints nothing (--json: []).\n\nExample:\n  rsmq workers --ns prod"
    )]
    Workers,

    /// Print messages as they become receivable, without receiving them
    #[command(
        after_help = "Runs until interrupted (Ctrl-C). Learns of new messages from the realtime notifications\nof producers that send them, and looks every --interval besides. It shows messages among\nthe next 1000 receivable; one that a worker receives before it looks is missed. A\nmessage that becomes receivable again (its vt ran out) is shown again. --json prints one\nobject a line.\n\nExample:\n  rsmq tail jobs"
    )]
    Tail {
        /// Queue name
        queue: String,
        /// Time between looks when no notification comes
        #[arg(long, value_parser = duration, default_value = "1s")]
        interval: Duration,
    },

    /// Serve the HTTP API and the web dashboard (rsmq-web)
    #[command(
        after_help = "Serves the routes of rest-rsmq, more routes under /api/, and the dashboard at /. Runs until\ninterrupted (Ctrl-C). A bind to an address other than loopback needs --token\n(or RSMQ_TOKEN) or --basic (or RSMQ_BASIC): every request must then carry\n`Authorization: Bearer <token>` or the Basic user and password (a browser asks for\nthem; with --token alone, the dashboard shows a sign-in form that takes the token); with
both, either passes. Prefer the environment variables: a command line is\nvisible to other users of the machine. --read-only refuses every change (403).\n\nA change from a browser must come from the same origin and carry the page's CSRF token;\nscripts and SDKs (no browser headers) are not affected. GET /metrics serves Prometheus\nmetrics. Every change, made or refused, is logged on standard error with who made it\nand from which address.\n\nExamples:\n  rsmq serve\n  RSMQ_TOKEN=s3cret rsmq serve --bind 0.0.0.0:8080 --read-only\n  RSMQ_BASIC=admin:s3cret rsmq serve --bind 0.0.0.0:8080"
    )]
    Serve {
        /// Address to listen on
        #[arg(long, default_value = "127.0.0.1:8080")]
        bind: std::net::SocketAddr,
        /// Refuse every change (sends, receives, deletes, queue changes) with 403
        #[arg(long)]
        read_only: bool,
        /// Require `Authorization: Bearer <TOKEN>` on every request
        #[arg(long, env = "RSMQ_TOKEN", hide_env_values = true)]
        token: Option<String>,
        /// Require HTTP Basic authentication with this user and password (with --token,
        /// either passes)
        #[arg(
            long,
            env = "RSMQ_BASIC",
            hide_env_values = true,
            value_name = "USER:PASSWORD"
        )]
        basic: Option<String>,
    },

    /// Print a shell completion script
    #[command(
        after_help = "Example:\n  rsmq completions bash > ~/.local/share/bash-completion/completions/rsmq"
    )]
    Completions {
        /// The shell
        shell: clap_complete::Shell,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Command::Completions { shell } = cli.command {
        let mut script = Vec::new();
        clap_complete::generate(shell, &mut Cli::command(), "rsmq", &mut script);
        return match util::out(String::from_utf8_lossy(&script).trim_end()) {
            Ok(()) => ExitCode::SUCCESS,
            Err(f) => {
                eprintln!("rsmq: {f}");
                ExitCode::FAILURE
            }
        };
    }
    if let Command::Serve {
        bind, token, basic, ..
    } = &cli.command
    {
        if let Some(basic) = basic {
            if let Err(msg) = commands::split_basic(basic) {
                eprintln!("rsmq: {msg}");
                return ExitCode::from(2);
            }
        }
        if token.is_none() && basic.is_none() && !bind.ip().is_loopback() {
            eprintln!(
                "rsmq: refusing to serve on {bind} without authentication: anyone who can reach \
                 that address could read and change the queues; set --token (or RSMQ_TOKEN) or \
                 --basic (or RSMQ_BASIC), or bind to 127.0.0.1"
            );
            return ExitCode::from(2);
        }
    }
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("rsmq: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(commands::run(cli.global, cli.command)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(commands::Exit::Failure(f)) => {
            eprintln!("rsmq: {f}");
            ExitCode::FAILURE
        }
        Err(commands::Exit::Usage(msg)) => {
            eprintln!("rsmq: {msg}");
            ExitCode::from(2)
        }
    }
}
