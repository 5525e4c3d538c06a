//! Durations, time stamps, errors and output shared by the commands.

use std::fmt;
use std::io::{self, Write};
use std::time::Duration;

use rsmq_async::RsmqError;

/// What ends a command with status 1: one line for stderr.
#[derive(Debug)]
pub struct Failure(pub String);

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<RsmqError> for Failure {
    fn from(e: RsmqError) -> Self {
        Failure(one_line(&e.to_string()))
    }
}

impl From<io::Error> for Failure {
    fn from(e: io::Error) -> Self {
        Failure(one_line(&e.to_string()))
    }
}

/// The result of a command.
pub type Res<T = ()> = Result<T, Failure>;

/// `text` on one line: line breaks (and the spaces around them) become one space.
pub fn one_line(text: &str) -> String {
    text.split(['\n', '\r'])
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Parses a duration: `45` (seconds), `45s`, `1.5s`, `250ms`, `5m`, `2h`, `1d`.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let t = text.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (number, unit) = t.split_at(split);
    let scale = match unit.trim() {
        "" | "s" | "sec" | "secs" => 1.0,
        "ms" => 0.001,
        "m" | "min" | "mins" => 60.0,
        "h" => 3600.0,
        "d" => 86400.0,
        _ => {
            return Err(format!(
                "`{text}` is not a duration: use a number of seconds or a number with a unit \
                 (ms, s, m, h, d), as in 45, 1.5s, 5m, 2h"
            ))
        }
    };
    let value: f64 = number
        .parse()
        .ok()
        .filter(|v: &f64| v.is_finite() && *v >= 0.0 && !number.is_empty())
        .ok_or_else(|| {
            format!("`{text}` is not a duration: use a number of seconds, as in 45, 1.5s, 5m, 2h")
        })?;
    Duration::try_from_secs_f64(value * scale).map_err(|_| format!("`{text}` is too long"))
}

/// A duration for people: `0s`, `1.5s`, `45s`, `3m12s`, `2h05m`, `3d04h`.
pub fn human_duration(d: Duration) -> String {
    let s = d.as_secs();
    if s < 60 {
        if d.subsec_millis() == 0 {
            format!("{s}s")
        } else {
            let tenths = d.as_millis() / 100;
            format!("{}.{}s", tenths / 10, tenths % 10)
        }
    } else if s < 3600 {
        format!("{}m{:02}s", s / 60, s % 60)
    } else if s < 86400 {
        format!("{}h{:02}m", s / 3600, (s % 3600) / 60)
    } else {
        format!("{}d{:02}h", s / 86400, (s % 86400) / 3600)
    }
}

pub use rsmq_web::format::utc;

/// A Unix time in milliseconds as `YYYY-MM-DD HH:MM:SS.mmm UTC`.
pub fn utc_ms(unix_ms: u64) -> String {
    let secs = utc(unix_ms / 1000);
    let day_and_time = secs.strip_suffix(" UTC").unwrap_or(&secs);
    format!("{day_and_time}.{:03} UTC", unix_ms % 1000)
}

/// Writes `text` and a line break to stdout. A closed pipe (`rsmq peek q | head -1`) ends
/// the program quietly with status 0.
pub fn out(text: &str) -> Res {
    let mut stdout = io::stdout().lock();
    match writeln!(stdout, "{text}").and_then(|_| stdout.flush()) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => std::process::exit(0),
        Err(e) => Err(Failure(format!("cannot write to standard output: {e}"))),
    }
}

/// Writes `value` as compact JSON on one line of stdout.
pub fn out_json(value: &serde_json::Value) -> Res {
    out(&value.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        let d = |s| parse_duration(s).unwrap();
        assert_eq!(d("45"), Duration::from_secs(45));
        assert_eq!(d("45s"), Duration::from_secs(45));
        assert_eq!(d("1.5s"), Duration::from_millis(1500));
        assert_eq!(d("250ms"), Duration::from_millis(250));
        assert_eq!(d("5m"), Duration::from_secs(300));
        assert_eq!(d("2h"), Duration::from_secs(7200));
        assert_eq!(d("0"), Duration::ZERO);
        for bad in ["", "s", "-1", "5x", "1.2.3", "abc", "nan", "inf"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn formats() {
        assert_eq!(human_duration(Duration::from_millis(1500)), "1.5s");
        assert_eq!(human_duration(Duration::from_secs(192)), "3m12s");
        assert_eq!(human_duration(Duration::from_secs(7500)), "2h05m");
        assert_eq!(utc(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(utc(1_700_000_000), "2023-11-14 22:13:20 UTC");
        assert_eq!(utc_ms(1_700_000_000_042), "2023-11-14 22:13:20.042 UTC");
        assert_eq!(one_line("a\n  b\r\nc"), "a b c");
    }
}
