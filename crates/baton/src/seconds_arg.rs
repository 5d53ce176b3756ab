//! Durations from flags that the API takes in whole seconds: TTLs, check intervals and timeouts, rate periods.

use std::time::Duration;

/// Parses a duration (`30s`, `5m`, `1h30m`) that must be a whole number of seconds, at least one. Such a value is
/// sent in seconds: `500ms` would otherwise reach the server as 0, and `1500ms` become 1s, without a word.
pub(crate) fn whole_seconds(text: &str) -> Result<Duration, String> {
    let duration = humantime::parse_duration(text).map_err(|error| error.to_string())?;
    if duration.is_zero() || duration.subsec_nanos() != 0 {
        return Err(format!("{text} is not a whole number of seconds (1s or more); this value is sent in seconds"));
    }
    if i64::try_from(duration.as_secs()).is_err() {
        return Err(format!("{text} is too long"));
    }
    Ok(duration)
}

/// A duration [`whole_seconds`] accepted, as the API's seconds.
pub(crate) fn as_seconds(duration: Duration) -> i64 {
    i64::try_from(duration.as_secs()).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_whole_seconds_pass() {
        assert_eq!(whole_seconds("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(whole_seconds("1m 30s"), Ok(Duration::from_secs(90)));
        assert_eq!(whole_seconds("2000ms"), Ok(Duration::from_secs(2)));
        for refused in ["500ms", "1500ms", "0s", "soon"] {
            assert!(whole_seconds(refused).is_err(), "{refused}");
        }
    }
}
