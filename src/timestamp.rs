//! Time inside the service: every timestamp is a `DateTime<Utc>`, parsed once at the edge (a
//! stored record, a request body, a marketplace reply) and formatted only where it is written out
//! (a record, a reply, a marketplace query). Written, a time is RFC 3339 in UTC with milliseconds,
//! the form the platforms' JSON uses, so that a time reads the same in a record, a reply and a
//! marketplace payload; records and replies had exactly this form when the times were strings, so
//! neither changed shape.
//!
//! The service reads the time from one [`Clock`] (in `ServiceOptions`), so that a test can own it.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use chrono::{DateTime, NaiveDate, SubsecRound as _, TimeDelta, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Formats `time` as RFC 3339, UTC, milliseconds (`2026-12-03T06:00:00.123Z`).
pub fn rfc3339(time: DateTime<Utc>) -> String {
    time.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// The time of a Unix-milliseconds stamp (the engine's journal and channel stamps); a stamp past
/// what chrono holds is its largest time.
pub fn from_unix_ms(ms: u64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(i64::try_from(ms).unwrap_or(i64::MAX))
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}

/// [`rfc3339`] of a Unix-milliseconds stamp.
pub fn rfc3339_ms(ms: u64) -> String {
    rfc3339(from_unix_ms(ms))
}

/// Writes a `DateTime<Utc>` field as [`rfc3339`] (`#[serde(serialize_with = …)]`). Reading needs
/// nothing: chrono reads any RFC 3339 time, so records written before the times were typed (the
/// same form) still load.
pub fn serialize<S: Serializer>(time: &DateTime<Utc>, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&rfc3339(*time))
}

/// [`serialize`] for an optional time (`null` when absent).
pub fn serialize_option<S: Serializer>(
    time: &Option<DateTime<Utc>>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    match time {
        Some(time) => serialize(time, serializer),
        None => serializer.serialize_none(),
    }
}

/// Where the service reads the time. The system clock in production; a test fixes it, so that the
/// times in records and replies are known in advance.
#[derive(Clone)]
pub struct Clock(Arc<dyn Fn() -> DateTime<Utc> + Send + Sync>);

impl Clock {
    /// The system clock.
    pub fn system() -> Clock {
        Clock(Arc::new(Utc::now))
    }

    /// A clock that always reads `at`.
    pub fn fixed(at: DateTime<Utc>) -> Clock {
        Clock(Arc::new(move || at))
    }

    /// A clock that reads what the returned [`ManualTime`] says, starting at `start`: a test moves
    /// it forward (a simulated day) without waiting, and everything reading the service's clock
    /// (records, the ledger's journal stamps, replenishment's windows) sees the same time.
    pub fn manual(start: DateTime<Utc>) -> (Clock, ManualTime) {
        let time = ManualTime(Arc::new(Mutex::new(start)));
        let read = time.clone();
        (Clock(Arc::new(move || read.now())), time)
    }

    /// Milliseconds since the Unix epoch (0 before it, which no clock of the service reads): the
    /// form the ledger stamps its journal with.
    pub fn now_ms(&self) -> u64 {
        u64::try_from(self.now().timestamp_millis()).unwrap_or(0)
    }

    /// The time now, to the millisecond: what a record keeps is what its reply showed and what
    /// reading it back gives (times are written with milliseconds).
    pub fn now(&self) -> DateTime<Utc> {
        (self.0)().trunc_subsecs(3)
    }
}

impl Default for Clock {
    /// The system clock.
    fn default() -> Clock {
        Clock::system()
    }
}

impl std::fmt::Debug for Clock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Clock({})", rfc3339(self.now()))
    }
}

/// The hand of a [`Clock::manual`]: the time its clock reads until it is moved.
#[derive(Debug, Clone)]
pub struct ManualTime(Arc<Mutex<DateTime<Utc>>>);

impl ManualTime {
    /// The time the clock reads now.
    pub fn now(&self) -> DateTime<Utc> {
        *self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Moves the clock forward by `by` (saturating at the largest time chrono holds).
    pub fn advance(&self, by: Duration) {
        let mut time = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        let by = TimeDelta::from_std(by).unwrap_or(TimeDelta::MAX);
        *time = time
            .checked_add_signed(by)
            .unwrap_or(DateTime::<Utc>::MAX_UTC);
    }

    /// Sets the clock to `at`.
    pub fn set(&self, at: DateTime<Utc>) {
        *self.0.lock().unwrap_or_else(PoisonError::into_inner) = at;
    }
}

/// When something is due: a day (`2027-03-01`, due when that day begins anywhere the agency
/// works, which the service does not decide) or a time. A credential's `rotate_by` is one; the
/// agency may give either, and reads back what it gave (a time in UTC).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Due {
    /// A calendar day, `YYYY-MM-DD`.
    Day(NaiveDate),
    /// A time, RFC 3339.
    At(DateTime<Utc>),
}

/// The text of a [`Due`] is neither a `YYYY-MM-DD` day nor an RFC 3339 time.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{text:?} is neither a date (YYYY-MM-DD) nor an RFC 3339 time")]
pub struct DueError {
    /// The text.
    pub text: String,
}

impl Due {
    /// Parses a day (`YYYY-MM-DD`) or an RFC 3339 time (converted to UTC).
    pub fn parse(text: &str) -> Result<Due, DueError> {
        if let Ok(time) = DateTime::parse_from_rfc3339(text) {
            return Ok(Due::At(time.with_timezone(&Utc)));
        }
        NaiveDate::parse_from_str(text, DAY)
            .map(Due::Day)
            .map_err(|_| DueError {
                text: text.to_string(),
            })
    }
}

/// How a [`Due::Day`] is written and read.
const DAY: &str = "%Y-%m-%d";

impl std::fmt::Display for Due {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Due::Day(day) => write!(f, "{}", day.format(DAY)),
            Due::At(time) => f.write_str(&rfc3339(*time)),
        }
    }
}

impl Serialize for Due {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Due {
    /// Reads what [`Due::parse`] accepts: the rule `rotate_by` was checked by when it was stored
    /// as text, so every stored one loads.
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Due, D::Error> {
        let text = String::deserialize(deserializer)?;
        Due::parse(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_utc_with_milliseconds() {
        let time = DateTime::parse_from_rfc3339("2026-12-03T07:00:00.123456+01:00")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(rfc3339(time), "2026-12-03T06:00:00.123Z");
    }

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Record {
        #[serde(serialize_with = "serialize")]
        created_at: DateTime<Utc>,
        #[serde(serialize_with = "serialize_option")]
        rotated_at: Option<DateTime<Utc>>,
        rotate_by: Option<Due>,
    }

    #[test]
    fn a_time_is_written_with_milliseconds_even_on_a_whole_second_and_read_back_equal() {
        let record = Record {
            created_at: "2026-12-03T06:00:00Z".parse().unwrap(),
            rotated_at: None,
            rotate_by: Some(Due::parse("2027-03-01").unwrap()),
        };
        let json = serde_json::to_value(&record).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"created_at": "2026-12-03T06:00:00.000Z", "rotated_at": null,
                               "rotate_by": "2027-03-01"})
        );
        assert_eq!(serde_json::from_value::<Record>(json).unwrap(), record);
    }

    #[test]
    fn times_stored_as_text_before_they_were_typed_still_load() {
        // What the service wrote (`rfc3339`), and what a caller could give as `rotate_by`.
        let stored = serde_json::json!({"created_at": "2026-11-21T09:30:00.250Z",
                                        "rotated_at": "2026-11-22T10:00:00+01:00",
                                        "rotate_by": "2027-01-01T12:00:00-05:00"});
        let record: Record = serde_json::from_value(stored).unwrap();
        assert_eq!(rfc3339(record.created_at), "2026-11-21T09:30:00.250Z");
        assert_eq!(
            record.rotated_at.map(rfc3339).as_deref(),
            Some("2026-11-22T09:00:00.000Z")
        );
        assert_eq!(
            record.rotate_by.map(|due| due.to_string()).as_deref(),
            Some("2027-01-01T17:00:00.000Z")
        );
        let damaged =
            serde_json::json!({"created_at": "t0", "rotated_at": null, "rotate_by": null});
        assert!(serde_json::from_value::<Record>(damaged).is_err());
        assert!(Due::parse("soon").is_err());
    }

    #[test]
    fn a_manual_clock_reads_what_its_hand_says_and_moves_only_when_moved() {
        let start: DateTime<Utc> = "2026-12-01T09:00:00.250Z".parse().unwrap();
        let (clock, hand) = Clock::manual(start);
        assert_eq!(clock.now(), start);
        assert_eq!(clock.clone().now(), start, "a clone reads the same hand");
        hand.advance(Duration::from_secs(86_400));
        assert_eq!(rfc3339(clock.now()), "2026-12-02T09:00:00.250Z");
        assert_eq!(clock.now_ms(), 1_796_202_000_250);
        hand.set(start);
        assert_eq!(clock.now(), start);
    }

    #[test]
    fn a_fixed_clock_reads_its_time_to_the_millisecond() {
        let at: DateTime<Utc> = "2026-12-03T06:00:00.123456Z".parse().unwrap();
        assert_eq!(rfc3339(Clock::fixed(at).now()), "2026-12-03T06:00:00.123Z");
        assert_eq!(Clock::fixed(at).now().timestamp_subsec_nanos(), 123_000_000);
    }
}
