//! Timestamps as the service writes them: RFC 3339 in UTC with milliseconds, the form the
//! platforms' JSON uses, so that a time reads the same in a record, a reply and a marketplace
//! payload.

use chrono::{DateTime, Utc};

/// Formats `time` as RFC 3339, UTC, milliseconds (`2026-12-03T06:00:00.123Z`).
pub fn rfc3339(time: DateTime<Utc>) -> String {
    time.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
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
}
