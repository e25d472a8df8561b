//! Credentials near or past their rotate-by date (issue 15: "a credential past or near its
//! rotate-by date is visible (list, metric, checklist item)").
//!
//! A `rotate_by` day is due when that day begins *anywhere* the agency might work
//! (`crate::timestamp::Due`): the service does not know the agency's time zone, so a day counts
//! from its start at UTC+14, the earliest on Earth. Warning early is the safe side of a rotation.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use crate::timestamp::Due;

/// How long before its date a credential shows as due soon.
pub const DUE_SOON: Duration = Duration::days(14);

/// Where a credential stands against its rotate-by date.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Rotation {
    /// No date set.
    NoDate,
    /// More than [`DUE_SOON`] away.
    Ok,
    /// Within [`DUE_SOON`].
    DueSoon,
    /// Past.
    Overdue,
}

/// The instant a rotate-by date falls due.
pub fn due_instant(due: Due) -> DateTime<Utc> {
    match due {
        Due::At(at) => at,
        Due::Day(day) => day.and_time(chrono::NaiveTime::MIN).and_utc() - Duration::hours(14),
    }
}

/// Where a credential with `rotate_by` stands at `now`.
pub fn rotation(rotate_by: Option<Due>, now: DateTime<Utc>) -> Rotation {
    let Some(due) = rotate_by else {
        return Rotation::NoDate;
    };
    let at = due_instant(due);
    if now >= at {
        Rotation::Overdue
    } else if now + DUE_SOON >= at {
        Rotation::DueSoon
    } else {
        Rotation::Ok
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_day_is_due_from_its_start_at_utc_plus_14_and_warns_two_weeks_before() {
        let day = Due::parse("2027-03-01").unwrap();
        let at = |text: &str| text.parse::<DateTime<Utc>>().unwrap();
        assert_eq!(rotation(None, at("2027-03-01T00:00:00Z")), Rotation::NoDate);
        assert_eq!(
            rotation(Some(day), at("2027-02-01T00:00:00Z")),
            Rotation::Ok
        );
        assert_eq!(
            rotation(Some(day), at("2027-02-14T10:00:00Z")),
            Rotation::DueSoon
        );
        assert_eq!(
            rotation(Some(day), at("2027-02-28T09:59:59Z")),
            Rotation::DueSoon
        );
        assert_eq!(
            rotation(Some(day), at("2027-02-28T10:00:00Z")),
            Rotation::Overdue
        );
        let instant = Due::parse("2027-03-01T12:00:00Z").unwrap();
        assert_eq!(
            rotation(Some(instant), at("2027-03-01T11:59:59Z")),
            Rotation::DueSoon
        );
        assert_eq!(
            rotation(Some(instant), at("2027-03-01T12:00:00Z")),
            Rotation::Overdue
        );
    }
}
