//! Date formats of the A2F service.
//!
//! `infoToken` dates are `xs:dateTime`; the real server writes milliseconds and an offset
//! (`2025-05-30T19:51:31.000+02:00`). `lastRevokePreviousDate` is Italian local time
//! without offset (`30/05/2025 20:51:07`). Values without an offset are read as Italian time.

use time::format_description::well_known::Rfc3339;
use time::macros::format_description;
use time::{Date, Month, OffsetDateTime, PrimitiveDateTime, Time, UtcOffset};

const WITH_MILLIS: &[time::format_description::BorrowedFormatItem<'static>] = format_description!(
    "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3][offset_hour sign:mandatory]:[offset_minute]"
);
const LOCAL: &[time::format_description::BorrowedFormatItem<'static>] =
    format_description!("[year]-[month]-[day]T[hour]:[minute]:[second][optional [.[subsecond]]]");
const REVOKE: &[time::format_description::BorrowedFormatItem<'static>] =
    format_description!("[day]/[month]/[year] [hour]:[minute]:[second]");

/// Formats an instant as the production server does: `2025-05-30T19:51:31.000+02:00`.
pub fn format_date_time(value: OffsetDateTime) -> String {
    value
        .format(WITH_MILLIS)
        .unwrap_or_else(|_| value.unix_timestamp().to_string())
}

/// Parses an `xs:dateTime` with or without milliseconds, with an offset (`Z`, `+02:00`) or
/// without (read as Italian local time).
pub fn parse_date_time(value: &str) -> Option<OffsetDateTime> {
    let value = value.trim();
    if let Ok(parsed) = OffsetDateTime::parse(value, &Rfc3339) {
        return Some(parsed);
    }
    let local = PrimitiveDateTime::parse(value, LOCAL).ok()?;
    Some(local.assume_offset(rome_offset(local)))
}

/// Parses `lastRevokePreviousDate` (`dd/MM/yyyy HH:mm:ss`, Italian local time).
pub fn parse_revoke_date(value: &str) -> Option<OffsetDateTime> {
    let local = PrimitiveDateTime::parse(value.trim(), REVOKE).ok()?;
    Some(local.assume_offset(rome_offset(local)))
}

/// Formats an instant as `lastRevokePreviousDate` (`dd/MM/yyyy HH:mm:ss`, Italian local time).
pub fn format_revoke_date(value: OffsetDateTime) -> String {
    let local = to_rome(value);
    local
        .format(REVOKE)
        .unwrap_or_else(|_| value.unix_timestamp().to_string())
}

/// The same instant in Italian local time (CET/CEST offset).
pub fn to_rome(value: OffsetDateTime) -> OffsetDateTime {
    let summer = UtcOffset::from_hms(2, 0, 0).unwrap_or(UtcOffset::UTC);
    let winter = UtcOffset::from_hms(1, 0, 0).unwrap_or(UtcOffset::UTC);
    let as_summer = value.to_offset(summer);
    let local = PrimitiveDateTime::new(as_summer.date(), as_summer.time());
    if rome_offset(local) == summer {
        as_summer
    } else {
        value.to_offset(winter)
    }
}

/// The offset of Italian local time (CET/CEST, EU rule) at a local date and time.
///
/// Summer time runs from the last Sunday of March at 02:00 to the last Sunday of October at
/// 03:00; the repeated hour in October is read as summer time.
pub fn rome_offset(local: PrimitiveDateTime) -> UtcOffset {
    let year = local.year();
    let starts = last_sunday(year, Month::March)
        .map(|d| d.with_time(Time::from_hms(2, 0, 0).unwrap_or(Time::MIDNIGHT)));
    let ends = last_sunday(year, Month::October)
        .map(|d| d.with_time(Time::from_hms(3, 0, 0).unwrap_or(Time::MIDNIGHT)));
    let hours = match (starts, ends) {
        (Some(s), Some(e)) if local >= s && local < e => 2,
        _ => 1,
    };
    UtcOffset::from_hms(hours, 0, 0).unwrap_or(UtcOffset::UTC)
}

fn last_sunday(year: i32, month: Month) -> Option<Date> {
    let last = Date::from_calendar_date(year, month, 31).ok()?;
    let back = last.weekday().number_days_from_sunday();
    last.checked_sub(time::Duration::days(i64::from(back)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn production_format_round_trip() {
        let t = parse_date_time("2025-05-30T19:51:31.000+02:00").unwrap();
        assert_eq!(t, datetime!(2025-05-30 17:51:31 UTC));
        assert_eq!(
            format_date_time(t.to_offset(time::macros::offset!(+2))),
            "2025-05-30T19:51:31.000+02:00"
        );
        assert_eq!(parse_date_time("2025-05-30T19:51:31+02:00"), Some(t));
        assert_eq!(parse_date_time("2025-05-30T17:51:31Z"), Some(t));
        assert_eq!(parse_date_time(" 2025-05-30T19:51:31 "), Some(t));
        assert_eq!(
            parse_date_time("2025-01-30T19:51:31.5"),
            Some(datetime!(2025-01-30 18:51:31.5 UTC))
        );
        assert_eq!(parse_date_time("30/05/2025"), None);
    }

    #[test]
    fn revoke_dates_are_italian_time() {
        let t = parse_revoke_date("30/05/2025 20:51:07").unwrap();
        assert_eq!(t, datetime!(2025-05-30 18:51:07 UTC));
        assert_eq!(format_revoke_date(t), "30/05/2025 20:51:07");
        let w = parse_revoke_date("05/12/2025 08:00:00").unwrap();
        assert_eq!(w, datetime!(2025-12-05 07:00:00 UTC));
        assert_eq!(
            format_revoke_date(datetime!(2025-12-05 07:00:00 UTC)),
            "05/12/2025 08:00:00"
        );
        assert_eq!(parse_revoke_date("2025-05-30"), None);
    }

    #[test]
    fn dst_edges() {
        // 2025: summer time from 30 March 02:00 to 26 October 03:00.
        assert_eq!(rome_offset(datetime!(2025-03-30 01:59)).whole_hours(), 1);
        assert_eq!(rome_offset(datetime!(2025-03-30 03:00)).whole_hours(), 2);
        assert_eq!(rome_offset(datetime!(2025-10-26 02:30)).whole_hours(), 2);
        assert_eq!(rome_offset(datetime!(2025-10-26 03:00)).whole_hours(), 1);
    }
}
