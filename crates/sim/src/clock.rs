//! The simulated clock: real time plus an offset moved by `/sim/control`, in Italian local
//! time. The wire formats of the dates are the codecs' (`sistemats::a2f::format_date_time`,
//! `format_revoke_date`, `sistemats::dem::format_data_ora`).

use std::sync::atomic::{AtomicI64, Ordering};

use time::{Duration, OffsetDateTime, PrimitiveDateTime};

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
        sistemats::a2f::to_rome(utc)
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

/// The Italian wall-clock time of an instant (DEM dates carry no offset).
pub fn local(t: OffsetDateTime) -> PrimitiveDateTime {
    let t = sistemats::a2f::to_rome(t);
    PrimitiveDateTime::new(t.date(), t.time())
}

/// `2026-09` (the month in the test wildcard ID-SESSIONE).
pub fn year_month(t: OffsetDateTime) -> String {
    let t = local(t);
    format!("{:04}-{:02}", t.year(), u8::from(t.month()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn italian_wall_clock() {
        let summer = datetime!(2025-05-30 17:51:31 UTC);
        assert_eq!(local(summer), datetime!(2025-05-30 19:51:31));
        assert_eq!(year_month(datetime!(2026-12-31 23:30:00 UTC)), "2027-01");
        let clock = SimClock::default();
        clock.advance(3600);
        assert_eq!(clock.offset_seconds(), 3600);
        assert!(matches!(clock.now().offset().whole_hours(), 1 | 2));
    }
}
