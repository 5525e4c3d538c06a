//! [`ScoreUnit`]: the unit of the sorted-set scores, per client.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use crate::RsmqError;

/// The unit of the scores a client writes in a queue's sorted set: the time each message
/// becomes receivable, in epoch milliseconds or microseconds.
///
/// The JavaScript client writes milliseconds, so a queue it shares must use
/// [`Millis`](ScoreUnit::Millis). [`Micros`](ScoreUnit::Micros) also orders messages sent
/// (or made visible) within the same millisecond by time, but only clients that use
/// microseconds can share such a queue: every client of a queue must use the same unit. A
/// millisecond client reads microsecond scores as times far in the future, so it receives
/// nothing, and a microsecond client reads millisecond scores as long past.
///
/// Everything else in Redis (ids, `vt`, `delay`, `fr`, the counters) is the same in either
/// unit. The default is `Millis`, or `Micros` when the `break-js-comp` feature is on. Set it
/// per client with [`RsmqOptions::score_unit`](crate::RsmqOptions::score_unit) or the URL
/// parameter `score_unit=ms` / `score_unit=us`.
///
/// ```
/// use rsmq_async::{RsmqOptions, ScoreUnit};
///
/// let opts: RsmqOptions = "redis://localhost/?score_unit=us".parse().unwrap();
/// assert_eq!(opts.score_unit, ScoreUnit::Micros);
/// assert_eq!("ms".parse::<ScoreUnit>().unwrap(), ScoreUnit::Millis);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ScoreUnit {
    /// Epoch milliseconds, as the JavaScript client writes them (URL value `ms`).
    Millis,
    /// Epoch microseconds (URL value `us`). Not readable by the JavaScript client.
    Micros,
}

impl Default for ScoreUnit {
    /// `Millis`, or `Micros` with the `break-js-comp` feature.
    fn default() -> Self {
        if cfg!(feature = "break-js-comp") {
            ScoreUnit::Micros
        } else {
            ScoreUnit::Millis
        }
    }
}

impl ScoreUnit {
    /// Score units in a second.
    pub(crate) const fn per_second(self) -> u64 {
        match self {
            ScoreUnit::Millis => 1000,
            ScoreUnit::Micros => 1_000_000,
        }
    }

    /// A duration in score units, rounded down (`u64::MAX` if it does not fit).
    pub(crate) fn of(self, d: Duration) -> u64 {
        let units = match self {
            ScoreUnit::Millis => d.as_millis(),
            ScoreUnit::Micros => d.as_micros(),
        };
        u64::try_from(units).unwrap_or(u64::MAX)
    }

    /// A time in epoch microseconds as a score, rounded down.
    pub(crate) const fn at_micros(self, micros: u64) -> u64 {
        match self {
            ScoreUnit::Millis => micros / 1000,
            ScoreUnit::Micros => micros,
        }
    }

    /// A score (a time in score units) as epoch milliseconds, rounded down.
    pub(crate) const fn millis(self, score: u64) -> u64 {
        match self {
            ScoreUnit::Millis => score,
            ScoreUnit::Micros => score / 1000,
        }
    }

    /// A number of score units as a duration.
    pub(crate) const fn duration(self, units: u64) -> Duration {
        match self {
            ScoreUnit::Millis => Duration::from_millis(units),
            ScoreUnit::Micros => Duration::from_micros(units),
        }
    }
}

impl fmt::Display for ScoreUnit {
    /// The URL value: `ms` or `us`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ScoreUnit::Millis => "ms",
            ScoreUnit::Micros => "us",
        })
    }
}

impl FromStr for ScoreUnit {
    type Err = RsmqError;

    /// `ms` (or `millis`) and `us` (or `micros`).
    fn from_str(s: &str) -> Result<Self, RsmqError> {
        match s {
            "ms" | "millis" => Ok(ScoreUnit::Millis),
            "us" | "micros" => Ok(ScoreUnit::Micros),
            _ => Err(RsmqError::InvalidOptions(format!(
                "score unit `{s}` is not ms or us"
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_convert_both_ways_and_round_down() {
        let d = Duration::from_micros(1_234_567);
        assert_eq!(ScoreUnit::Millis.of(d), 1234);
        assert_eq!(ScoreUnit::Micros.of(d), 1_234_567);
        assert_eq!(
            ScoreUnit::Millis.at_micros(1_700_000_000_123_456),
            1_700_000_000_123
        );
        assert_eq!(ScoreUnit::Micros.at_micros(7), 7);
        assert_eq!(ScoreUnit::Millis.duration(5), Duration::from_millis(5));
        assert_eq!(ScoreUnit::Micros.duration(5), Duration::from_micros(5));
        assert_eq!(ScoreUnit::Millis.of(Duration::MAX), u64::MAX);
        for unit in [ScoreUnit::Millis, ScoreUnit::Micros] {
            assert_eq!(unit.to_string().parse::<ScoreUnit>().unwrap(), unit);
            assert_eq!(unit.of(Duration::from_secs(1)), unit.per_second());
        }
        assert!("s".parse::<ScoreUnit>().is_err());
    }
}
