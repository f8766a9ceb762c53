//! The simulated clock (real time plus an offset moved by `/sim/control`) and the date
//! formats Sistema TS uses.

use std::sync::atomic::{AtomicI64, Ordering};

use time::{Date, Duration, Month, OffsetDateTime, UtcOffset, Weekday};

/// Real time shifted by an adjustable number of seconds.
#[derive(Debug, Default)]
pub struct SimClock {
    offset_seconds: AtomicI64,
}

impl SimClock {
    /// Current simulated time, in Italian local time (CET/CEST offset).
    pub fn now(&self) -> OffsetDateTime {
        let utc = OffsetDateTime::now_utc()
            + Duration::seconds(self.offset_seconds.load(Ordering::Relaxed));
        to_rome(utc)
    }

    /// Moves the clock forward (or back, with a negative value).
    pub fn advance(&self, seconds: i64) {
        self.offset_seconds.fetch_add(seconds, Ordering::Relaxed);
    }

    /// Total shift from real time.
    pub fn offset_seconds(&self) -> i64 {
        self.offset_seconds.load(Ordering::Relaxed)
    }
}

fn last_sunday(year: i32, month: Month) -> Date {
    let next_first = match month {
        Month::December => Date::from_calendar_date(year + 1, Month::January, 1),
        m => Date::from_calendar_date(year, m.next(), 1),
    }
    .unwrap_or(Date::MIN);
    let mut day = next_first.previous_day().unwrap_or(Date::MIN);
    while day.weekday() != Weekday::Sunday {
        day = day.previous_day().unwrap_or(Date::MIN);
    }
    day
}

/// Converts to Europe/Rome time: +02:00 from the last Sunday of March 01:00 UTC to the last
/// Sunday of October 01:00 UTC, +01:00 otherwise (EU rule; no tz database needed).
pub fn to_rome(utc: OffsetDateTime) -> OffsetDateTime {
    let utc = utc.to_offset(UtcOffset::UTC);
    let year = utc.year();
    let start = last_sunday(year, Month::March)
        .with_hms(1, 0, 0)
        .map(|t| t.assume_utc());
    let end = last_sunday(year, Month::October)
        .with_hms(1, 0, 0)
        .map(|t| t.assume_utc());
    let summer = matches!((start, end), (Ok(s), Ok(e)) if utc >= s && utc < e);
    let hours = if summer { 2 } else { 1 };
    utc.to_offset(UtcOffset::from_hms(hours, 0, 0).unwrap_or(UtcOffset::UTC))
}

fn two(n: u8) -> String {
    format!("{n:02}")
}

/// `2025-05-30T19:51:31.000+02:00` (xs:dateTime with milliseconds and offset, as A2F sends).
pub fn xs_datetime(t: OffsetDateTime) -> String {
    let t = to_rome(t);
    let (h, m, _) = t.offset().as_hms();
    format!(
        "{:04}-{}-{}T{}:{}:{}.{:03}{}{}:{}",
        t.year(),
        two(t.month() as u8),
        two(t.day()),
        two(t.hour()),
        two(t.minute()),
        two(t.second()),
        t.millisecond(),
        if h < 0 || m < 0 { '-' } else { '+' },
        two(h.unsigned_abs()),
        two(m.unsigned_abs())
    )
}

/// `30/05/2025 20:51:07` (A2F `lastRevokePreviousDate`).
pub fn it_datetime(t: OffsetDateTime) -> String {
    let t = to_rome(t);
    format!(
        "{}/{}/{:04} {}:{}:{}",
        two(t.day()),
        two(t.month() as u8),
        t.year(),
        two(t.hour()),
        two(t.minute()),
        two(t.second())
    )
}

/// `2026-09-30 16:44:16` (DEM dates).
pub fn dem_datetime(t: OffsetDateTime) -> String {
    let t = to_rome(t);
    format!(
        "{:04}-{}-{} {}:{}:{}",
        t.year(),
        two(t.month() as u8),
        two(t.day()),
        two(t.hour()),
        two(t.minute()),
        two(t.second())
    )
}

/// `30092026164416` (the timestamp that starts a `codAutenticazione`).
pub fn compact_datetime(t: OffsetDateTime) -> String {
    let t = to_rome(t);
    format!(
        "{}{}{:04}{}{}{}",
        two(t.day()),
        two(t.month() as u8),
        t.year(),
        two(t.hour()),
        two(t.minute()),
        two(t.second())
    )
}

/// `2026-09` (the month in the test wildcard).
pub fn year_month(t: OffsetDateTime) -> String {
    let t = to_rome(t);
    format!("{:04}-{}", t.year(), two(t.month() as u8))
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn rome_offsets_and_formats() {
        let summer = datetime!(2025-05-30 17:51:31.000 UTC);
        assert_eq!(xs_datetime(summer), "2025-05-30T19:51:31.000+02:00");
        let winter = datetime!(2026-01-15 09:00:00 UTC);
        assert_eq!(xs_datetime(winter), "2026-01-15T10:00:00.000+01:00");
        assert_eq!(it_datetime(summer), "30/05/2025 19:51:31");
        assert_eq!(dem_datetime(summer), "2025-05-30 19:51:31");
        assert_eq!(compact_datetime(summer), "30052025195131");
        // The switch happens at 01:00 UTC on the last Sunday of October (2026-10-25).
        assert_eq!(
            to_rome(datetime!(2026-10-25 00:59:59 UTC))
                .offset()
                .whole_hours(),
            2
        );
        assert_eq!(
            to_rome(datetime!(2026-10-25 01:00:00 UTC))
                .offset()
                .whole_hours(),
            1
        );
    }
}
