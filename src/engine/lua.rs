//! The Lua scripts: how they are written, put together and called.
//!
//! Each script is a `.lua` file beside the Rust that calls it (`send/send_message.lua` for
//! `send.rs`), opening with a comment that names its `KEYS`, `ARGV` and replies. Pieces
//! that several scripts share are files in `lua/`: functions (`fmt`, `clock`, `transfer`,
//! ...) and a few inline blocks (`take_first`, `vt_from_argv`, ...) whose header says which
//! locals they define. A line `--@include name` stands for the piece `lua/name.lua`; a piece
//! includes the pieces it uses itself, and each piece goes into a script once, where it is
//! first included.
//!
//! A script is put together once per score unit, on first use ([`Script::get`]): the
//! prelude (the score unit as `UNITS`, and every reply code below as a constant, so the Lua
//! writes `return QUEUE_NOT_FOUND`, never `return -1`), then the file with its includes
//! spliced in. Comment-only and blank lines are left out: they are for readers, and a
//! script queued in `MULTI` travels with its source on every call.
//!
//! Invariants every script keeps:
//! - every key it touches arrives in `KEYS`; ids, durations and names arrive in `ARGV`;
//! - the only clock is Redis `TIME`, read inside the script (`send_stored` gets the reading
//!   its ids were made from, taken by the same call one round trip earlier);
//! - it checks what only the server can know (does the queue exist, is the body within
//!   `maxsize`) before its first write, and answers a reply code instead of writing;
//! - numbers are written with `fmt` (`string.format("%d")`), never `tostring`, which would
//!   turn a microsecond score into exponent notation, and every argument of `redis.call` is
//!   a string: Redis formats a Lua number argument with `%.17g`, and the C library's float
//!   formatting and parsing are the dearest steps of a short script (measured with
//!   callgrind: about 4,800 instructions for one `%.0f` against 2,100 for `%d`, and 24,000
//!   for a table-built base-36 id against 3,400 for `b36`);
//! - the hot scripts (send, receive, pop, delete) build no table they do not return;
//! - no `unpack` of more than [`UNPACK_LIMIT`] values.
//!
//! A call sends `EVALSHA`; when the server answers `NOSCRIPT` (after a restart or
//! `SCRIPT FLUSH`) it sends `EVAL` with the source, which runs and caches the script at once.

use std::sync::OnceLock;

use redis::aio::ConnectionLike;

use crate::units::ScoreUnit;

/// Lua 5.1 (as in Redis) returns at most about 8,000 values from one `unpack`
/// (`LUAI_MAXCSTACK`); scripts stay below this many.
pub(crate) const UNPACK_LIMIT: usize = 7900;

/// Declares the reply codes once: Rust constants in `code`, and the same names as Lua
/// constants in every script's prelude.
macro_rules! reply_codes {
    ($($(#[$doc:meta])* $name:ident = $value:literal,)*) => {
        /// The codes a script answers instead of a result; negative, so they never collide
        /// with a count.
        pub(crate) mod code {
            $($(#[$doc])* pub(crate) const $name: i64 = $value;)*
        }

        /// Every reply code by its name in Lua.
        const CODES: &[(&str, i64)] = &[$((stringify!($name), $value),)*];
    };
}

reply_codes! {
    /// The queue's hash has no `vt` field: there is no such queue.
    QUEUE_NOT_FOUND = -1,
    /// The queue's stored `vt` is not a non-negative number.
    BAD_VT = -2,
    /// The queue's stored `delay` is not a non-negative number.
    BAD_DELAY = -3,
    /// The queue's stored `maxsize` is not a number.
    BAD_MAXSIZE = -4,
    /// The body is longer than the queue's `maxsize`.
    MESSAGE_TOO_LONG = -5,
    /// `create_queue` of a queue that exists.
    QUEUE_EXISTS = -6,
    /// The script stopped after a bounded amount of work that found nothing to answer, and
    /// more is left: call it again (every call makes progress).
    MORE = -7,
}

/// The shared pieces, by the name `--@include` gives them.
const PIECES: &[(&str, &str)] = &[
    ("attributes", include_str!("lua/attributes.lua")),
    ("b36", include_str!("lua/b36.lua")),
    ("clock", include_str!("lua/clock.lua")),
    ("clock_s", include_str!("lua/clock_s.lua")),
    ("count_receive", include_str!("lua/count_receive.lua")),
    ("deliver", include_str!("lua/deliver.lua")),
    ("drop_orphan", include_str!("lua/drop_orphan.lua")),
    ("fmt", include_str!("lua/fmt.lua")),
    ("message_id_of", include_str!("lua/message_id_of.lua")),
    ("next_due", include_str!("lua/next_due.lua")),
    ("notify", include_str!("lua/notify.lua")),
    ("receive_batch", include_str!("lua/receive_batch.lua")),
    ("send_each", include_str!("lua/send_each.lua")),
    ("stored_duration", include_str!("lua/stored_duration.lua")),
    ("take_first", include_str!("lua/take_first.lua")),
    ("transfer", include_str!("lua/transfer.lua")),
    ("vt_from_argv", include_str!("lua/vt_from_argv.lua")),
];

/// One script: its name and its file, put together on first use for each score unit.
pub(crate) struct Script {
    name: &'static str,
    file: &'static str,
    built: [OnceLock<Lua>; 2],
}

impl Script {
    /// A script from its file's text (`include_str!`).
    pub(crate) const fn new(name: &'static str, file: &'static str) -> Script {
        Script {
            name,
            file,
            built: [OnceLock::new(), OnceLock::new()],
        }
    }

    /// The script's name (its file's name without `.lua`).
    pub(crate) fn name(&self) -> &'static str {
        self.name
    }

    /// The script for scores in `unit`, put together on first use.
    pub(crate) fn get(&self, unit: ScoreUnit) -> &Lua {
        let slot = match unit {
            ScoreUnit::Millis => 0,
            ScoreUnit::Micros => 1,
        };
        self.built[slot].get_or_init(|| Lua::new(self.name, assemble(self.file, unit)))
    }
}

/// The constants of the prelude: the score unit and the reply codes.
fn constants(unit: ScoreUnit) -> impl Iterator<Item = (&'static str, i64)> {
    let units = i64::try_from(unit.per_second()).unwrap_or(i64::MAX);
    std::iter::once(("UNITS", units)).chain(CODES.iter().copied())
}

/// A script's source: the prelude (the constants the script uses: each one costs a little
/// on every call), then `file` with its includes spliced in.
fn assemble(file: &str, unit: ScoreUnit) -> String {
    let mut body = String::new();
    splice(file, &mut body, &mut Vec::new());
    let mut out = String::new();
    for (name, value) in constants(unit) {
        if mentions(&body, name) {
            out.push_str(&format!("local {name} = {value}\n"));
        }
    }
    out + &body
}

/// Does `code` use the name `word` (not only as part of a longer name)?
fn mentions(code: &str, word: &str) -> bool {
    let is_name = |c: char| c.is_ascii_alphanumeric() || c == '_';
    code.match_indices(word).any(|(at, _)| {
        let before = code[..at].chars().next_back();
        let after = code[at + word.len()..].chars().next();
        !before.is_some_and(is_name) && !after.is_some_and(is_name)
    })
}

fn splice<'a>(text: &'a str, out: &mut String, included: &mut Vec<&'a str>) {
    for line in text.lines() {
        let code = line.trim_start();
        if let Some(name) = code.strip_prefix("--@include ") {
            let name = name.trim();
            if included.contains(&name) {
                continue;
            }
            included.push(name);
            // A missing piece is a mistake in this crate, caught by the tests below, which
            // put every script together.
            let Some((_, piece)) = PIECES.iter().find(|(n, _)| *n == name) else {
                panic!("a script includes `{name}`, which is not a piece of src/engine/lua/");
            };
            splice(piece, out, included);
        } else if !code.is_empty() && !code.starts_with("--") {
            out.push_str(line);
            out.push('\n');
        }
    }
}

/// A script put together: its source and its SHA-1.
pub(crate) struct Lua {
    name: &'static str,
    source: String,
    script: redis::Script,
}

impl Lua {
    fn new(name: &'static str, source: String) -> Lua {
        Lua {
            name,
            script: redis::Script::new(&source),
            source,
        }
    }

    /// The source sent with `EVAL`.
    pub(crate) fn source(&self) -> &str {
        &self.source
    }

    /// `EVAL` with the source (not `EVALSHA`), for a script queued in `MULTI`: there a
    /// `NOSCRIPT` would come only after the commands before it had run.
    pub(crate) fn eval(&self, keys: &[&str]) -> redis::Cmd {
        let mut cmd = redis::cmd("EVAL");
        cmd.arg(self.source.as_str()).arg(keys.len()).arg(keys);
        cmd
    }

    /// Starts a call of this script with its `KEYS`; add `ARGV` with [`Invocation::arg`].
    pub(crate) fn call(&self, keys: &[&str]) -> Invocation<'_> {
        // Sized for the keys and a few short ARGV (a single send's fit), so building a call
        // does not reallocate its buffers arg by arg.
        let key_bytes: usize = keys.iter().map(|k| k.len()).sum();
        let mut cmd = redis::Cmd::with_capacity(keys.len() + 8, key_bytes + 320);
        cmd.arg("EVALSHA")
            .arg(self.script.get_hash())
            .arg(keys.len())
            .arg(keys);
        Invocation { lua: self, cmd }
    }
}

fn is_noscript(e: &redis::RedisError) -> bool {
    e.kind() == redis::ErrorKind::Server(redis::ServerErrorKind::NoScript)
}

/// One call of a script: `EVALSHA sha numkeys KEYS.. ARGV..`.
pub(crate) struct Invocation<'a> {
    lua: &'a Lua,
    cmd: redis::Cmd,
}

impl Invocation<'_> {
    /// Appends an `ARGV` value.
    pub(crate) fn arg<T: redis::ToRedisArgs>(&mut self, arg: T) -> &mut Self {
        self.cmd.arg(arg);
        self
    }

    /// Runs the script: `EVALSHA`, and when Redis has forgotten the script (a restart, a
    /// `SCRIPT FLUSH`), `EVAL` with the source, which runs it and caches it again in the same
    /// step. Unlike load-then-retry, this cannot lose a race with another flush.
    pub(crate) async fn invoke<C>(&self, con: &mut C) -> redis::RedisResult<redis::Value>
    where
        C: ConnectionLike + Send,
    {
        match self.cmd.query_async(con).await {
            Err(e) if is_noscript(&e) => self.with_source().query_async(con).await,
            other => other,
        }
    }

    /// Runs the script, then `WAIT replicas timeout_ms`, in one pipeline: one round trip on
    /// one connection (on a cluster, to the node of the script's first key, so the `WAIT`
    /// counts the replicas of the write). Returns the script's reply and the number of
    /// replicas that acknowledged. `NOSCRIPT` is handled as by [`invoke`](Self::invoke).
    pub(crate) async fn invoke_and_wait<C>(
        &self,
        con: &mut C,
        replicas: u32,
        timeout_ms: u64,
    ) -> redis::RedisResult<(redis::Value, u64)>
    where
        C: ConnectionLike + Send,
    {
        let waited = |cmd: redis::Cmd| {
            let mut pipe = redis::pipe();
            pipe.add_command(cmd)
                .cmd("WAIT")
                .arg(replicas)
                .arg(timeout_ms);
            pipe
        };
        match waited(self.cmd.clone()).query_async(con).await {
            Err(e) if is_noscript(&e) => waited(self.with_source()).query_async(con).await,
            other => other,
        }
    }

    /// This call as `EVAL` with the script's source, after a `NOSCRIPT`.
    fn with_source(&self) -> redis::Cmd {
        tracing::warn!(
            script = self.lua.name,
            "Redis does not have the script (restarted or flushed): sending its source"
        );
        let mut eval = redis::cmd("EVAL");
        eval.arg(self.lua.source.as_str());
        // Skip the command name and the hash.
        for arg in self.cmd.args_iter().skip(2) {
            if let redis::Arg::Simple(bytes) = arg {
                eval.arg(bytes);
            }
        }
        eval
    }

    /// The packed command, for tests of the bytes on the wire.
    #[cfg(test)]
    pub(crate) fn packed(&self) -> Vec<u8> {
        self.cmd.get_packed_command()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every `.lua` file in `dir` (under `src/engine`), by name without `.lua`.
    fn lua_files(dir: &str) -> Vec<(String, String)> {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("src/engine")
            .join(dir);
        let mut files: Vec<(String, String)> = std::fs::read_dir(&path)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|x| x == "lua"))
            .map(|p| {
                let name = p.file_stem().unwrap().to_string_lossy().into_owned();
                (name, std::fs::read_to_string(&p).unwrap())
            })
            .collect();
        files.sort();
        files
    }

    #[test]
    fn every_piece_file_is_listed_under_its_name() {
        let listed: Vec<(String, String)> = PIECES
            .iter()
            .map(|(n, t)| (n.to_string(), t.to_string()))
            .collect();
        assert_eq!(listed, lua_files("lua"));
    }

    #[test]
    fn every_script_file_is_a_script_under_its_name() {
        let mut files = Vec::new();
        for dir in [
            "queue",
            "send",
            "stored",
            "receive",
            "visibility",
            "delete",
            "dlq",
            "inspect",
            "liveness",
        ] {
            files.extend(lua_files(dir));
        }
        files.sort();
        let mut scripts: Vec<(String, String)> = super::super::SCRIPTS
            .iter()
            .map(|s| (s.name.to_string(), s.file.to_string()))
            .collect();
        scripts.sort();
        assert_eq!(scripts, files);
    }

    #[test]
    fn every_file_opens_with_a_header_naming_keys_argv_and_replies() {
        for script in super::super::SCRIPTS {
            let header: String = script
                .file
                .lines()
                .take_while(|l| l.starts_with("--"))
                .collect();
            assert!(
                header.starts_with(&format!("-- {}: ", script.name))
                    && header.contains("KEYS (")
                    && header.contains("ARGV")
                    && header.contains("Returns"),
                "{}",
                script.name
            );
        }
        for (name, text) in PIECES {
            assert!(text.starts_with("-- "), "{name}");
        }
    }

    /// Each helper function a script defines is called by it, and each one it calls is
    /// defined (before the call); no script returns a bare negative number.
    #[test]
    fn scripts_define_exactly_the_helpers_they_call_and_name_their_codes() {
        for unit in [ScoreUnit::Millis, ScoreUnit::Micros] {
            for script in super::super::SCRIPTS {
                let source = script.get(unit).source();
                for (name, _) in PIECES {
                    let definition = format!("local function {name}(");
                    let defined = source.find(&definition);
                    let called = source
                        .match_indices(&format!("{name}("))
                        .any(|(at, _)| !source[..at].ends_with("local function "));
                    assert_eq!(defined.is_some(), called, "{} and {name}", script.name);
                }
                assert!(
                    !source.contains("return -") && !source.contains("--"),
                    "{}",
                    script.name
                );
            }
        }
    }

    #[test]
    fn units_differ_only_in_the_prelude() {
        for script in super::super::SCRIPTS {
            let ms = script.get(ScoreUnit::Millis).source();
            let us = script.get(ScoreUnit::Micros).source();
            if mentions(ms, "UNITS") {
                assert!(ms.starts_with("local UNITS = 1000\n"), "{}", script.name);
                assert!(us.starts_with("local UNITS = 1000000\n"), "{}", script.name);
                let rest = |s: &str| s.lines().skip(1).collect::<Vec<_>>().join("\n");
                assert_eq!(rest(ms), rest(us), "{}", script.name);
            } else {
                assert_eq!(ms, us, "{}", script.name);
            }
        }
    }

    #[test]
    fn the_prelude_defines_the_constants_a_script_uses_and_no_others() {
        let file = "-- x\nif a then return QUEUE_NOT_FOUND end\nreturn MORE_X\n";
        assert_eq!(
            assemble(file, ScoreUnit::Millis),
            "local QUEUE_NOT_FOUND = -1\nif a then return QUEUE_NOT_FOUND end\nreturn MORE_X\n"
        );
        assert!(mentions("a = UNITS", "UNITS") && !mentions("a = UNITS_2", "UNITS"));
        for script in super::super::SCRIPTS {
            let source = script.get(ScoreUnit::Micros).source();
            let mut body = String::new();
            splice(script.file, &mut body, &mut Vec::new());
            assert!(source.ends_with(&body));
            for (name, value) in constants(ScoreUnit::Micros) {
                let defined = source.contains(&format!("local {name} = {value}\n"));
                assert_eq!(defined, mentions(&body, name), "{} {name}", script.name);
            }
        }
    }

    #[test]
    fn codes_are_distinct_and_negative() {
        for (i, (name, value)) in CODES.iter().enumerate() {
            assert!(*value < 0, "{name}");
            assert!(CODES[..i].iter().all(|(_, v)| v != value), "{name}");
        }
    }
}
