//! Times as an Italian reader expects them (Europe/Rome), without a time-zone database.
//!
//! Messages say "alle 00:05", so UTC instants must be shown in Italian civil time. The EU rule
//! (summer time from the last Sunday of March to the last Sunday of October, switching at
//! 01:00 UTC) is fixed by directive 2000/84/EC, so it is computed here instead of pulling in
//! a tz database.

use time::{Date, Month, OffsetDateTime, Time, UtcOffset, Weekday};

fn last_sunday(year: i32, month: Month) -> Date {
    let mut day = Date::from_calendar_date(year, month, month.length(year))
        .expect("the last day of a month is a valid date");
    while day.weekday() != Weekday::Sunday {
        day = day.previous_day().expect("within the calendar range");
    }
    day
}

/// The offset of Italian civil time at `instant` (+01:00 or +02:00).
pub fn rome_offset(instant: OffsetDateTime) -> UtcOffset {
    let utc = instant.to_offset(UtcOffset::UTC);
    let year = utc.year();
    let start = last_sunday(year, Month::March)
        .with_hms(1, 0, 0)
        .expect("valid time")
        .assume_utc();
    let end = last_sunday(year, Month::October)
        .with_hms(1, 0, 0)
        .expect("valid time")
        .assume_utc();
    let hours = if utc >= start && utc < end { 2 } else { 1 };
    UtcOffset::from_hms(hours, 0, 0).expect("valid offset")
}

/// `instant` in Italian civil time.
pub fn to_rome(instant: OffsetDateTime) -> OffsetDateTime {
    instant.to_offset(rome_offset(instant))
}

/// The instant at which Italian civil time reads `date` `time`. In the hour skipped when
/// summer time starts the winter offset is used (02:30 then means 03:30); in the hour
/// repeated when it ends, the first one (summer time).
pub fn from_rome(date: Date, time: Time) -> OffsetDateTime {
    let local = date.with_time(time);
    let summer = local.assume_offset(UtcOffset::from_hms(2, 0, 0).expect("valid offset"));
    if rome_offset(summer) == summer.offset() {
        return summer.to_offset(UtcOffset::UTC);
    }
    local
        .assume_offset(UtcOffset::from_hms(1, 0, 0).expect("valid offset"))
        .to_offset(UtcOffset::UTC)
}

/// "12:40" in Italian time.
pub fn clock(instant: OffsetDateTime) -> String {
    let t = to_rome(instant);
    format!("{:02}:{:02}", t.hour(), t.minute())
}

/// "alle 00:05" when `instant` falls on the same Italian day as `now`, else "il 12/03 alle 00:05".
pub fn at_time(instant: OffsetDateTime, now: OffsetDateTime) -> String {
    let t = to_rome(instant);
    let n = to_rome(now);
    let clock = format!("{:02}:{:02}", t.hour(), t.minute());
    if t.date() == n.date() {
        format!("alle {clock}")
    } else {
        format!("il {:02}/{:02} alle {clock}", t.day(), u8::from(t.month()))
    }
}

/// "alle 00:05" on the same Italian day as `now`, else "al 28/11 alle 00:05" (after "fino").
pub fn until_time(instant: OffsetDateTime, now: OffsetDateTime) -> String {
    let t = to_rome(instant);
    let n = to_rome(now);
    let clock = format!("{:02}:{:02}", t.hour(), t.minute());
    if t.date() == n.date() {
        format!("alle {clock}")
    } else {
        format!("al {:02}/{:02} alle {clock}", t.day(), u8::from(t.month()))
    }
}

/// "alle 10:42:07" (seconds matter when the wait is about a minute).
pub fn at_time_seconds(instant: OffsetDateTime, now: OffsetDateTime) -> String {
    let t = to_rome(instant);
    let n = to_rome(now);
    let clock = format!("{:02}:{:02}:{:02}", t.hour(), t.minute(), t.second());
    if t.date() == n.date() {
        format!("alle {clock}")
    } else {
        format!("il {:02}/{:02} alle {clock}", t.day(), u8::from(t.month()))
    }
}

/// "12/03/2027".
pub fn date(day: Date) -> String {
    format!(
        "{:02}/{:02}/{}",
        day.day(),
        u8::from(day.month()),
        day.year()
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn summer_and_winter_offsets() {
        assert_eq!(
            rome_offset(datetime!(2026-01-15 12:00 UTC)).whole_hours(),
            1
        );
        assert_eq!(
            rome_offset(datetime!(2026-07-15 12:00 UTC)).whole_hours(),
            2
        );
        // 2026: summer time starts 29 March 01:00 UTC, ends 25 October 01:00 UTC.
        assert_eq!(
            rome_offset(datetime!(2026-03-29 00:59 UTC)).whole_hours(),
            1
        );
        assert_eq!(
            rome_offset(datetime!(2026-03-29 01:00 UTC)).whole_hours(),
            2
        );
        assert_eq!(
            rome_offset(datetime!(2026-10-25 00:59 UTC)).whole_hours(),
            2
        );
        assert_eq!(
            rome_offset(datetime!(2026-10-25 01:00 UTC)).whole_hours(),
            1
        );
    }

    #[test]
    fn from_rome_inverts_to_rome() {
        use time::macros::{date, time};
        assert_eq!(
            from_rome(date!(2026 - 01 - 15), time!(08:00)),
            datetime!(2026-01-15 07:00 UTC)
        );
        assert_eq!(
            from_rome(date!(2026 - 07 - 15), time!(08:00)),
            datetime!(2026-07-15 06:00 UTC)
        );
        // The day summer time starts: 08:00 is already summer time.
        assert_eq!(
            from_rome(date!(2026 - 03 - 29), time!(08:00)),
            datetime!(2026-03-29 06:00 UTC)
        );
        // The day it ends: 08:00 is winter time again.
        assert_eq!(
            from_rome(date!(2026 - 10 - 25), time!(08:00)),
            datetime!(2026-10-25 07:00 UTC)
        );
        // The repeated hour takes its first (summer) occurrence.
        assert_eq!(
            from_rome(date!(2026 - 10 - 25), time!(02:30)),
            datetime!(2026-10-25 00:30 UTC)
        );
        assert_eq!(clock(datetime!(2026-07-15 10:40 UTC)), "12:40");
    }

    #[test]
    fn formats_in_italian_time() {
        let expiry = datetime!(2026-11-26 23:05 UTC); // 00:05 on the 27th in Rome
        assert_eq!(
            at_time(expiry, datetime!(2026-11-27 08:00 UTC)),
            "alle 00:05"
        );
        assert_eq!(
            at_time(expiry, datetime!(2026-11-28 08:00 UTC)),
            "il 27/11 alle 00:05"
        );
        assert_eq!(date(expiry.date()), "26/11/2026");
    }
}
