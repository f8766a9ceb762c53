//! Working hours: when a doctor (or a pharmacy counter) needs a code.
//!
//! A week of time ranges in Italian civil time (Europe/Rome, daylight saving included),
//! closures (single dates or periods) and, unless turned off, the Italian national public
//! holidays. Automatic requests ([`crate::auto`]) are planned against it: a code green at
//! the start of each range, renewed within a range before it expires, nothing outside.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use time::{Date, Month, OffsetDateTime, Time, Weekday};

use crate::italy;

mod text;

pub use text::{ClosureSpec, DaySpec, HoursSpec, SpecError, parse_date};

time::serde::format_description!(iso_date, Date, "[year]-[month]-[day]");

/// How far ahead [`WorkingHours::next_range`] looks (a closure can last weeks).
const LOOKAHEAD_DAYS: u16 = 400;

/// A time range within one day, in Italian civil time: `start` inclusive, `end` exclusive.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct TimeRange {
    /// First minute.
    pub start: Time,
    /// End (after `start`, same day).
    pub end: Time,
}

impl TimeRange {
    /// A range from `start` to `end`; `None` unless `start < end`.
    pub fn new(start: Time, end: Time) -> Option<Self> {
        (start < end).then_some(Self { start, end })
    }
}

fn parse_hm(s: &str) -> Option<Time> {
    let (h, m) = s.trim().split_once(':')?;
    if h.is_empty() || h.len() > 2 || m.len() != 2 {
        return None;
    }
    let (h, m): (u8, u8) = (h.parse().ok()?, m.parse().ok()?);
    if h == 24 && m == 0 {
        // "24:00" closes a range at midnight: the last representable minute.
        return Time::from_hms(23, 59, 59).ok();
    }
    Time::from_hms(h, m, 0).ok()
}

fn write_hm(f: &mut fmt::Formatter<'_>, t: Time) -> fmt::Result {
    if t.hour() == 23 && t.minute() == 59 && t.second() == 59 {
        return f.write_str("24:00");
    }
    write!(f, "{:02}:{:02}", t.hour(), t.minute())
}

impl fmt::Display for TimeRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_hm(f, self.start)?;
        f.write_str("-")?;
        write_hm(f, self.end)
    }
}

/// Why a text is not a time range (Italian, for the doctor or the administrator).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum HoursError {
    /// Not `HH:MM-HH:MM`.
    #[error("orario «{0}» non valido: scrivilo come 08:00-13:00")]
    Range(String),
    /// Two ranges of the same day overlap.
    #[error("{day}: le fasce {a} e {b} si sovrappongono")]
    Overlap {
        /// Italian day name.
        day: &'static str,
        /// First range.
        a: TimeRange,
        /// Second range.
        b: TimeRange,
    },
    /// A closure ends before it starts.
    #[error("chiusura dal {from} al {to}: la fine viene prima dell'inizio")]
    Closure {
        /// Start as written.
        from: String,
        /// End as written.
        to: String,
    },
    /// Not a day name.
    #[error(
        "giorno «{0}» non valido: usa lun, mar, mer, gio, ven, sab, dom (o un intervallo come lun-ven)"
    )]
    Day(String),
    /// Nothing was written where a week was expected.
    #[error("nessun orario indicato: scrivilo ad esempio come «lun-ven 08:00-13:00 15:00-19:30»")]
    Empty,
    /// Time ranges written before any day.
    #[error("fascia «{0}» senza giorno: scrivi prima i giorni, ad esempio «lun-ven 08:00-13:00»")]
    NoDays(String),
    /// Days written without any time range after them.
    #[error("{0}: mancano le fasce orarie, ad esempio «{0} 08:00-13:00»")]
    NoRanges(String),
    /// Not a date.
    #[error("data «{0}» non valida: scrivila come 2026-12-24 (oppure 24/12/2026)")]
    Date(String),
    /// The week written both as one text and day by day.
    #[error(
        "la settimana va indicata in un solo modo: con «week» (es. «lun-ven 08:00-13:00») oppure giorno per giorno (mon … sun)"
    )]
    WeekTwice,
}

impl FromStr for TimeRange {
    type Err = HoursError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || HoursError::Range(s.trim().to_owned());
        let (a, b) = s.split_once('-').ok_or_else(bad)?;
        let (start, end) = (parse_hm(a).ok_or_else(bad)?, parse_hm(b).ok_or_else(bad)?);
        Self::new(start, end).ok_or_else(bad)
    }
}

impl Serialize for TimeRange {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for TimeRange {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// The ranges of each day of the week, Monday first.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Week {
    /// Monday (lunedì).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub mon: Vec<TimeRange>,
    /// Tuesday.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tue: Vec<TimeRange>,
    /// Wednesday.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub wed: Vec<TimeRange>,
    /// Thursday.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub thu: Vec<TimeRange>,
    /// Friday.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fri: Vec<TimeRange>,
    /// Saturday.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sat: Vec<TimeRange>,
    /// Sunday.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sun: Vec<TimeRange>,
}

/// Italian day names, Monday first, as [`Week`] orders them.
pub const DAY_NAMES: [&str; 7] = [
    "lunedì",
    "martedì",
    "mercoledì",
    "giovedì",
    "venerdì",
    "sabato",
    "domenica",
];

/// The days of the week, Monday first, as [`Week`] and [`DAY_NAMES`] order them.
pub const WEEKDAYS: [Weekday; 7] = [
    Weekday::Monday,
    Weekday::Tuesday,
    Weekday::Wednesday,
    Weekday::Thursday,
    Weekday::Friday,
    Weekday::Saturday,
    Weekday::Sunday,
];

impl Week {
    /// Sorts every day's ranges, drops repeated ones and checks that none overlap.
    pub fn validate(mut self) -> Result<Self, HoursError> {
        for (i, day) in WEEKDAYS.into_iter().enumerate() {
            let ranges = self.on_mut(day);
            ranges.sort();
            ranges.dedup();
            for pair in ranges.windows(2) {
                if pair[1].start < pair[0].end {
                    return Err(HoursError::Overlap {
                        day: DAY_NAMES[i],
                        a: pair[0],
                        b: pair[1],
                    });
                }
            }
        }
        Ok(self)
    }

    /// The ranges of `day`.
    pub fn on(&self, day: Weekday) -> &[TimeRange] {
        match day {
            Weekday::Monday => &self.mon,
            Weekday::Tuesday => &self.tue,
            Weekday::Wednesday => &self.wed,
            Weekday::Thursday => &self.thu,
            Weekday::Friday => &self.fri,
            Weekday::Saturday => &self.sat,
            Weekday::Sunday => &self.sun,
        }
    }

    /// The ranges of `day`, to change them.
    pub fn on_mut(&mut self, day: Weekday) -> &mut Vec<TimeRange> {
        match day {
            Weekday::Monday => &mut self.mon,
            Weekday::Tuesday => &mut self.tue,
            Weekday::Wednesday => &mut self.wed,
            Weekday::Thursday => &mut self.thu,
            Weekday::Friday => &mut self.fri,
            Weekday::Saturday => &mut self.sat,
            Weekday::Sunday => &mut self.sun,
        }
    }
}

/// A period in which the practice is closed (holidays, a conference), both days included.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Closure {
    /// First closed day (`2026-12-24`).
    #[serde(with = "iso_date")]
    pub from: Date,
    /// Last closed day (the same as `from` for one day).
    #[serde(with = "iso_date")]
    pub to: Date,
    /// What it is ("ferie", "congresso").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// When codes are needed: a week of ranges, closures and the public holidays.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkingHours {
    /// The usual week.
    pub week: Week,
    /// Closed periods.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub closures: Vec<Closure>,
    /// Closed on the Italian national public holidays (default true).
    #[serde(default = "yes")]
    pub public_holidays: bool,
}

fn yes() -> bool {
    true
}

impl Default for WorkingHours {
    /// Monday to Friday, 08:00–19:30, closed on public holidays: a family practice's day
    /// including the afternoon surgery. Practices set their own.
    fn default() -> Self {
        let day = vec![
            TimeRange::new(
                Time::from_hms(8, 0, 0).expect("valid"),
                Time::from_hms(19, 30, 0).expect("valid"),
            )
            .expect("ordered"),
        ];
        Self {
            week: Week {
                mon: day.clone(),
                tue: day.clone(),
                wed: day.clone(),
                thu: day.clone(),
                fri: day,
                sat: Vec::new(),
                sun: Vec::new(),
            },
            closures: Vec::new(),
            public_holidays: true,
        }
    }
}

impl WorkingHours {
    /// Sorts every day's ranges and checks that none overlap and that closures are ordered.
    pub fn validate(mut self) -> Result<Self, HoursError> {
        self.week = self.week.validate()?;
        for c in &self.closures {
            if c.to < c.from {
                return Err(HoursError::Closure {
                    from: italy::date(c.from),
                    to: italy::date(c.to),
                });
            }
        }
        self.closures.sort_by_key(|c| c.from);
        Ok(self)
    }

    /// Why `day` is closed (a closure's note, a holiday's name), or `None` when it is a
    /// working day (it may still have no ranges).
    pub fn closed_on(&self, day: Date) -> Option<String> {
        if let Some(c) = self.closures.iter().find(|c| c.from <= day && day <= c.to) {
            return Some(c.note.clone().unwrap_or_else(|| "chiusura".into()));
        }
        if self.public_holidays {
            return public_holiday(day).map(str::to_owned);
        }
        None
    }

    /// The ranges of the Italian day `day` as UTC instants; none when closed.
    pub fn ranges_on(&self, day: Date) -> Vec<(OffsetDateTime, OffsetDateTime)> {
        if self.closed_on(day).is_some() {
            return Vec::new();
        }
        self.week
            .on(day.weekday())
            .iter()
            .map(|r| (italy::from_rome(day, r.start), italy::from_rome(day, r.end)))
            .filter(|(s, e)| s < e)
            .collect()
    }

    /// The range that contains `t`, or else the next one to start, as UTC instants.
    /// `None` when there is none in the next [`LOOKAHEAD_DAYS`] days.
    pub fn next_range(&self, t: OffsetDateTime) -> Option<(OffsetDateTime, OffsetDateTime)> {
        let mut day = italy::to_rome(t).date();
        for _ in 0..LOOKAHEAD_DAYS {
            if let Some(r) = self.ranges_on(day).into_iter().find(|(_, end)| *end > t) {
                return Some(r);
            }
            day = day.next_day()?;
        }
        None
    }

    /// Whether `t` falls within a range.
    pub fn contains(&self, t: OffsetDateTime) -> bool {
        self.next_range(t).is_some_and(|(start, _)| start <= t)
    }

    /// Whether the week has no range at all (automatic requests never happen).
    pub fn is_empty(&self) -> bool {
        WEEKDAYS.into_iter().all(|d| self.week.on(d).is_empty())
    }
}

/// The Italian national public holiday on `day`, if any (law 260/1949 and later; 4 October
/// is a national holiday again from 2026, law 151/2025).
pub fn public_holiday(day: Date) -> Option<&'static str> {
    let (m, d) = (day.month(), day.day());
    let fixed = match (m, d) {
        (Month::January, 1) => Some("Capodanno"),
        (Month::January, 6) => Some("Epifania"),
        (Month::April, 25) => Some("Festa della Liberazione"),
        (Month::May, 1) => Some("Festa del lavoro"),
        (Month::June, 2) => Some("Festa della Repubblica"),
        (Month::August, 15) => Some("Ferragosto"),
        (Month::October, 4) if day.year() >= 2026 => Some("San Francesco d'Assisi"),
        (Month::November, 1) => Some("Ognissanti"),
        (Month::December, 8) => Some("Immacolata Concezione"),
        (Month::December, 25) => Some("Natale"),
        (Month::December, 26) => Some("Santo Stefano"),
        _ => None,
    };
    if fixed.is_some() {
        return fixed;
    }
    let easter = easter_sunday(day.year())?;
    if day == easter {
        Some("Pasqua")
    } else if easter.next_day() == Some(day) {
        Some("Lunedì dell'Angelo")
    } else {
        None
    }
}

/// Easter Sunday of `year` (Gregorian calendar; the anonymous algorithm of Meeus).
fn easter_sunday(year: i32) -> Option<Date> {
    let a = year % 19;
    let b = year / 100;
    let c = year % 100;
    let d = b / 4;
    let e = b % 4;
    let f = (b + 8) / 25;
    let g = (b - f + 1) / 3;
    let h = (19 * a + b - d - g + 15) % 30;
    let i = c / 4;
    let k = c % 4;
    let l = (32 + 2 * e + 2 * i - h - k) % 7;
    let m = (a + 11 * h + 22 * l) / 451;
    let month = (h + l - 7 * m + 114) / 31;
    let day = (h + l - 7 * m + 114) % 31 + 1;
    Date::from_calendar_date(year, Month::try_from(month as u8).ok()?, day as u8).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::{date, datetime, time};

    fn practice() -> WorkingHours {
        let morning: TimeRange = "08:00-13:00".parse().unwrap();
        let afternoon: TimeRange = "15:00-19:30".parse().unwrap();
        let mut h = WorkingHours {
            week: Week::default(),
            closures: vec![Closure {
                from: date!(2026 - 12 - 28),
                to: date!(2026 - 12 - 31),
                note: Some("ferie".into()),
            }],
            public_holidays: true,
        };
        for d in [
            Weekday::Monday,
            Weekday::Tuesday,
            Weekday::Wednesday,
            Weekday::Thursday,
            Weekday::Friday,
        ] {
            *h.week.on_mut(d) = vec![afternoon, morning];
        }
        h.validate().unwrap()
    }

    #[test]
    fn ranges_parse_and_print() {
        let r: TimeRange = " 8:05-24:00".parse().unwrap();
        assert_eq!(r.to_string(), "08:05-24:00");
        for bad in [
            "8-13",
            "13:00-08:00",
            "08:00",
            "25:00-26:00",
            "08:00-08:00",
            "08:0-09:00",
        ] {
            assert!(bad.parse::<TimeRange>().is_err(), "{bad}");
        }
        let e = "9-13".parse::<TimeRange>().unwrap_err().to_string();
        assert!(e.contains("08:00-13:00"), "{e}");
    }

    #[test]
    fn overlaps_and_reversed_closures_are_refused() {
        let mut h = practice();
        h.week.mon.push("12:00-14:00".parse().unwrap());
        let e = h.validate().unwrap_err().to_string();
        assert!(
            e.contains("lunedì") && e.contains("si sovrappongono"),
            "{e}"
        );
        let mut h = practice();
        h.closures[0].to = date!(2026 - 12 - 01);
        assert!(h.validate().is_err());
    }

    #[test]
    fn json_round_trip() {
        let h = practice();
        let json = serde_json::to_string(&h).unwrap();
        assert!(
            json.contains(r#""mon":["08:00-13:00","15:00-19:30"]"#),
            "{json}"
        );
        let back: WorkingHours = serde_json::from_str(&json).unwrap();
        assert_eq!(back, h);
        assert!(serde_json::from_str::<WorkingHours>(r#"{"week":{"lun":[]}}"#).is_err());
    }

    #[test]
    fn next_range_in_winter_and_summer() {
        let h = practice();
        // Friday 4 December 2026, 10:00 in Rome (09:00 UTC): inside the morning.
        let t = datetime!(2026-12-04 09:00 UTC);
        assert!(h.contains(t));
        assert_eq!(
            h.next_range(t),
            Some((
                datetime!(2026-12-04 07:00 UTC),
                datetime!(2026-12-04 12:00 UTC)
            ))
        );
        // 13:30: the afternoon is next.
        let lunch = datetime!(2026-12-04 12:30 UTC);
        assert!(!h.contains(lunch));
        assert_eq!(
            h.next_range(lunch).unwrap().0,
            datetime!(2026-12-04 14:00 UTC)
        );
        // Friday evening: Monday 7 December... is a working day; 8 December is a holiday.
        let evening = datetime!(2026-12-04 19:00 UTC);
        assert_eq!(
            h.next_range(evening).unwrap().0,
            datetime!(2026-12-07 07:00 UTC)
        );
        let monday_evening = datetime!(2026-12-07 19:00 UTC);
        assert_eq!(
            h.next_range(monday_evening).unwrap().0,
            datetime!(2026-12-09 07:00 UTC)
        );
        // Summer time: 08:00 in Rome is 06:00 UTC.
        assert_eq!(
            h.next_range(datetime!(2026-07-14 00:00 UTC)).unwrap().0,
            datetime!(2026-07-14 06:00 UTC)
        );
    }

    #[test]
    fn closures_and_holidays() {
        let h = practice();
        assert_eq!(h.closed_on(date!(2026 - 12 - 29)).as_deref(), Some("ferie"));
        assert_eq!(
            h.closed_on(date!(2026 - 12 - 25)).as_deref(),
            Some("Natale")
        );
        // From Christmas Eve evening, the next range is after the holidays and the closure.
        let t = datetime!(2026-12-24 19:00 UTC);
        assert_eq!(h.next_range(t).unwrap().0, datetime!(2027-01-04 07:00 UTC));
        let mut open = practice();
        open.public_holidays = false;
        assert_eq!(open.closed_on(date!(2026 - 12 - 08)), None);
    }

    #[test]
    fn easter_and_its_monday() {
        assert_eq!(easter_sunday(2026), Some(date!(2026 - 04 - 05)));
        assert_eq!(easter_sunday(2027), Some(date!(2027 - 03 - 28)));
        assert_eq!(
            public_holiday(date!(2026 - 04 - 06)),
            Some("Lunedì dell'Angelo")
        );
        assert_eq!(public_holiday(date!(2025 - 10 - 04)), None);
        assert_eq!(
            public_holiday(date!(2026 - 10 - 04)),
            Some("San Francesco d'Assisi")
        );
    }

    #[test]
    fn midnight_end_and_empty_week() {
        let mut h = WorkingHours {
            week: Week::default(),
            closures: Vec::new(),
            public_holidays: false,
        };
        assert!(h.is_empty());
        assert_eq!(h.next_range(datetime!(2026-12-04 09:00 UTC)), None);
        h.week.sat = vec!["20:00-24:00".parse().unwrap()];
        let (start, end) = h.next_range(datetime!(2026-12-04 09:00 UTC)).unwrap();
        assert_eq!(start, datetime!(2026-12-05 19:00 UTC));
        assert_eq!(end.time(), time!(22:59:59));
        assert!(!WorkingHours::default().is_empty());
    }
}
