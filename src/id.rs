//! Message ids.
//!
//! An id is 32 characters: the Redis `TIME` in microseconds written in base 36 (10 characters
//! for any date from 1973 to 2085), then 22 characters drawn uniformly from `A-Za-z0-9`. The
//! time part is written by the send script (it reads `TIME`); the random part is made here and
//! passed to the script, so Lua needs no random source.

/// Length of the random part of an id.
pub(crate) const SUFFIX_LEN: usize = 22;

/// Length of a whole id.
pub(crate) const ID_LEN: usize = 32;

/// Length of the base-36 time prefix of ids made between 1973 and 2085.
const PREFIX_LEN: usize = 10;

/// 22 uniformly random characters from `A-Za-z0-9`.
pub(crate) fn random_suffix() -> String {
    std::iter::repeat_with(fastrand::alphanumeric)
        .take(SUFFIX_LEN)
        .collect()
}

/// The time part of an id made at `micros` (epoch microseconds): base 36, lowercase,
/// zero-padded to 10 digits, exactly as the send scripts' `b36` writes it (10 digits hold
/// any time from 1970 to 2085).
pub(crate) fn time_prefix(mut micros: u64) -> String {
    let mut digits = [b'0'; 13];
    let mut at = digits.len();
    while micros > 0 {
        at -= 1;
        let d = (micros % 36) as u8;
        digits[at] = if d < 10 { b'0' + d } else { b'a' + d - 10 };
        micros /= 36;
    }
    let start = at.min(digits.len() - PREFIX_LEN);
    digits[start..].iter().map(|&b| char::from(b)).collect()
}

/// The send time of an id in epoch milliseconds, as the JavaScript client derives it (the
/// first 10 characters in base 36 are microseconds), rounded down. `None` when the id does
/// not start with 10 base-36 digits.
pub(crate) fn sent_millis(id: &str) -> Option<u64> {
    let prefix = id.get(..PREFIX_LEN)?;
    u64::from_str_radix(prefix, 36).ok().map(|us| us / 1000)
}

/// Is `id` of the form the JavaScript client accepts (`^[a-zA-Z0-9:]{32}$`)?
pub(crate) fn is_valid(id: &str) -> bool {
    id.len() == ID_LEN && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b':')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suffix_is_22_alphanumerics() {
        for _ in 0..100 {
            let s = random_suffix();
            assert_eq!(s.len(), SUFFIX_LEN);
            assert!(s.bytes().all(|b| b.is_ascii_alphanumeric()));
        }
    }

    #[test]
    fn sent_is_decoded_from_the_base36_prefix() {
        // 1_700_000_000_123_456 µs in base 36.
        let prefix = "gqll7vdgzk";
        assert_eq!(
            u64::from_str_radix(prefix, 36).unwrap(),
            1_700_000_000_123_456
        );
        let id = format!("{prefix}{}", random_suffix());
        assert_eq!(sent_millis(&id), Some(1_700_000_000_123));
        assert_eq!(time_prefix(1_700_000_000_123_456), prefix);
        assert_eq!(time_prefix(0), "0000000000");
        assert_eq!(time_prefix(35), "000000000z");
        assert!(is_valid(&id));
    }

    #[test]
    fn foreign_ids_do_not_panic() {
        assert_eq!(sent_millis(""), None);
        assert_eq!(sent_millis("short"), None);
        assert_eq!(sent_millis("!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!"), None);
        assert_eq!(sent_millis("ééééééééééééééééé"), None);
        assert!(!is_valid("ééééééééééééééééé"));
        assert!(!is_valid("abc"));
    }
}
