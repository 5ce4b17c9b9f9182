//! UTC timestamps with nanoseconds, as records carry them.

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The latest instant RFC 3339 can spell with a four-digit year.
const LATEST_SECS: u64 = 253_402_300_799;

/// A UTC instant between 1970-01-01 and 9999-12-31, written as
/// `2026-11-23T08:30:00.123456789Z` (always nine fractional digits, always `Z`).
///
/// # Examples
///
/// ```
/// use std::time::{Duration, UNIX_EPOCH};
/// use audit_layer::Timestamp;
///
/// let t = Timestamp::from_system_time(UNIX_EPOCH + Duration::new(1_700_000_000, 5)).unwrap();
/// assert_eq!(t.to_string(), "2023-11-14T22:13:20.000000005Z");
/// assert_eq!(t.to_string().parse::<Timestamp>().unwrap(), t);
/// ```
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(SystemTime);

/// The error for an instant a record cannot carry, or text that is not one.
///
/// # Examples
///
/// ```
/// use audit_layer::Timestamp;
/// assert!("yesterday".parse::<Timestamp>().is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TimestampError {
    /// Before 1970 or after the year 9999.
    #[error("time is outside 1970-01-01..=9999-12-31")]
    OutOfRange,
    /// Not an RFC 3339 UTC timestamp.
    #[error("not an RFC 3339 timestamp: {0}")]
    Invalid(String),
}

impl Timestamp {
    /// The current time of the system clock.
    ///
    /// A clock set before 1970 gives 1970-01-01T00:00:00Z rather than failing:
    /// a record with a visibly wrong time is better than no record.
    ///
    /// # Examples
    ///
    /// ```
    /// use audit_layer::Timestamp;
    /// assert!(Timestamp::now().to_string().ends_with('Z'));
    /// ```
    pub fn now() -> Self {
        Self::clamped(SystemTime::now())
    }

    /// Converts, refusing instants a record cannot carry.
    ///
    /// # Errors
    ///
    /// [`TimestampError::OutOfRange`] before 1970 or after 9999.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::{Duration, UNIX_EPOCH};
    /// use audit_layer::Timestamp;
    /// assert!(Timestamp::from_system_time(UNIX_EPOCH - Duration::from_secs(1)).is_err());
    /// ```
    pub fn from_system_time(time: SystemTime) -> Result<Self, TimestampError> {
        match time.duration_since(UNIX_EPOCH) {
            Ok(since) if since.as_secs() <= LATEST_SECS => Ok(Timestamp(time)),
            _ => Err(TimestampError::OutOfRange),
        }
    }

    pub(crate) fn clamped(time: SystemTime) -> Self {
        match time.duration_since(UNIX_EPOCH) {
            Err(_) => Timestamp(UNIX_EPOCH),
            Ok(since) if since.as_secs() > LATEST_SECS => {
                Timestamp(UNIX_EPOCH + Duration::new(LATEST_SECS, 999_999_999))
            }
            Ok(_) => Timestamp(time),
        }
    }

    /// The instant as a [`SystemTime`].
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::UNIX_EPOCH;
    /// use audit_layer::Timestamp;
    /// let t = Timestamp::from_system_time(UNIX_EPOCH).unwrap();
    /// assert_eq!(t.as_system_time(), UNIX_EPOCH);
    /// ```
    pub fn as_system_time(&self) -> SystemTime {
        self.0
    }

    /// Nanoseconds since 1970 (a timestamp is never earlier), saturating:
    /// the unit windows and buckets count in.
    pub(crate) fn unix_nanos(&self) -> i64 {
        let since = self.0.duration_since(UNIX_EPOCH).unwrap_or_default();
        i64::try_from(since.as_nanos()).unwrap_or(i64::MAX)
    }

    /// Whole seconds since 1970.
    pub(crate) fn unix_seconds(&self) -> i64 {
        self.unix_nanos().div_euclid(1_000_000_000)
    }

    /// The timestamp `nanos` after 1970, clamped to the range a record carries.
    pub(crate) fn from_unix_nanos(nanos: i64) -> Timestamp {
        Self::clamped(UNIX_EPOCH + Duration::from_nanos(u64::try_from(nanos).unwrap_or(0)))
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The range invariant keeps humantime's formatter from failing or panicking.
        fmt::Display::fmt(&humantime::format_rfc3339_nanos(self.0), f)
    }
}

impl fmt::Debug for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Timestamp({self})")
    }
}

impl std::str::FromStr for Timestamp {
    type Err = TimestampError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let time =
            humantime::parse_rfc3339(s).map_err(|e| TimestampError::Invalid(e.to_string()))?;
        Timestamp::from_system_time(time)
    }
}

impl serde::Serialize for Timestamp {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Timestamp {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clamping_keeps_broken_clocks_printable() {
        let early = Timestamp::clamped(UNIX_EPOCH - Duration::from_secs(10));
        assert_eq!(early.to_string(), "1970-01-01T00:00:00.000000000Z");
        let late = Timestamp::clamped(UNIX_EPOCH + Duration::from_secs(LATEST_SECS * 2));
        assert_eq!(late.to_string(), "9999-12-31T23:59:59.999999999Z");
    }
}
