//! Working hours as people write them.
//!
//! - A compact week with Italian day names, shared by the command line and the web UI:
//!   `"lun-ven 08:00-13:00 15:00-19:30; sab 08:00-12:00"` ([`Week`]'s `FromStr` and
//!   `Display`, which print it back in the same form).
//! - [`HoursSpec`]: the shape of the configuration file's `[working_hours]` table and of the
//!   API's bodies, every value a text, so that a mistake is reported with its key and an
//!   Italian message ([`SpecError`]) instead of a type error.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use time::{Date, Month};

use super::{Closure, DAY_NAMES, HoursError, TimeRange, WEEKDAYS, Week, WorkingHours};

/// Short Italian day names, Monday first (what [`Week`]'s `Display` writes).
const DAY_SHORT: [&str; 7] = ["lun", "mar", "mer", "gio", "ven", "sab", "dom"];

/// The keys of the days in [`HoursSpec`] and in the JSON of [`Week`].
const DAY_KEYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

/// The index (Monday = 0) of an Italian day name: short (`lun`) or full, with or without
/// the accent (`lunedì`, `lunedi`), in any case.
fn day_index(word: &str) -> Option<usize> {
    let w: String = word
        .to_lowercase()
        .chars()
        .map(|c| if matches!(c, 'ì' | 'í') { 'i' } else { c })
        .collect();
    if let Some(i) = DAY_SHORT.iter().position(|d| *d == w) {
        return Some(i);
    }
    DAY_NAMES.iter().position(|full| {
        let full: String = full
            .chars()
            .map(|c| if c == 'ì' { 'i' } else { c })
            .collect();
        full == w
    })
}

/// The days of one token: `lun` or `lun-ven` (not wrapping around Sunday).
fn days_of(token: &str) -> Result<Vec<usize>, HoursError> {
    let bad = || HoursError::Day(token.to_owned());
    match token.split_once('-') {
        None => day_index(token).map(|i| vec![i]).ok_or_else(bad),
        Some((a, b)) => {
            let (a, b) = (day_index(a).ok_or_else(bad)?, day_index(b).ok_or_else(bad)?);
            if b < a {
                return Err(bad());
            }
            Ok((a..=b).collect())
        }
    }
}

/// Lower case, dashes unified and the spaces around them dropped (`08:00 – 13:00` is
/// `08:00-13:00`, `Lun - Ven` is `lun-ven`), then split into words at spaces, commas and
/// semicolons. The word `e` ("and") is skipped: `08:00-13:00 e 15:00-19:30`.
fn words(text: &str) -> Vec<String> {
    let mut joined = String::with_capacity(text.len());
    let mut after_dash = false;
    for c in text.chars() {
        let c = if matches!(c, '–' | '—' | '−') {
            '-'
        } else {
            c
        };
        if c == '-' {
            while joined.ends_with(char::is_whitespace) {
                joined.pop();
            }
            after_dash = true;
            joined.push('-');
        } else if after_dash && c.is_whitespace() {
            continue;
        } else {
            after_dash = false;
            joined.extend(c.to_lowercase());
        }
    }
    joined
        .split(|c: char| c.is_whitespace() || c == ',' || c == ';')
        .filter(|w| !w.is_empty() && *w != "e")
        .map(str::to_owned)
        .collect()
}

/// Whether a word is a time range rather than a day (`08:00-13:00`, `8:00-13:00`).
fn is_range(word: &str) -> bool {
    word.starts_with(|c: char| c.is_ascii_digit())
}

/// The ranges of one day as text: `"08:00-13:00 15:00-19:30"` (spaces, commas or `e`
/// between them). Empty text: no ranges (the day is closed).
fn ranges_of(text: &str) -> Result<Vec<TimeRange>, HoursError> {
    words(text).iter().map(|w| w.parse()).collect()
}

impl FromStr for Week {
    type Err = HoursError;

    /// The compact form: days (`lun`, `lun-ven`, `lun,mer`, full names too) followed by their
    /// ranges; groups separated by `;` or simply by the next day name. A day named twice
    /// gets the ranges of both groups. Days not named have no ranges.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut week = Week::default();
        let mut days: Vec<usize> = Vec::new();
        let mut days_text: Vec<String> = Vec::new();
        let mut ranges: Vec<TimeRange> = Vec::new();
        let mut any = false;
        let flush = |week: &mut Week, days: &mut Vec<usize>, ranges: &mut Vec<TimeRange>| {
            for &d in days.iter() {
                week.on_mut(WEEKDAYS[d]).extend(ranges.iter().copied());
            }
            days.clear();
            ranges.clear();
        };
        for word in words(s) {
            if is_range(&word) {
                if days.is_empty() {
                    return Err(HoursError::NoDays(word));
                }
                ranges.push(word.parse()?);
            } else {
                if !ranges.is_empty() {
                    flush(&mut week, &mut days, &mut ranges);
                    days_text.clear();
                }
                days.extend(days_of(&word)?);
                days_text.push(word);
                any = true;
            }
        }
        if !days.is_empty() && ranges.is_empty() {
            return Err(HoursError::NoRanges(days_text.join(" ")));
        }
        if !any {
            return Err(HoursError::Empty);
        }
        flush(&mut week, &mut days, &mut ranges);
        week.validate()
    }
}

impl fmt::Display for Week {
    /// The compact form [`Week::from_str`] reads: days with the same ranges together
    /// (`lun-ven 08:00-13:00 15:00-19:30; sab 08:00-12:00`). An empty week prints nothing.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut groups: Vec<(Vec<usize>, &[TimeRange])> = Vec::new();
        for (i, day) in WEEKDAYS.into_iter().enumerate() {
            let ranges = self.on(day);
            if ranges.is_empty() {
                continue;
            }
            match groups.iter_mut().find(|(_, r)| *r == ranges) {
                Some((days, _)) => days.push(i),
                None => groups.push((vec![i], ranges)),
            }
        }
        for (n, (days, ranges)) in groups.iter().enumerate() {
            if n > 0 {
                f.write_str("; ")?;
            }
            // Runs of consecutive days: lun-mer,ven.
            let mut runs: Vec<(usize, usize)> = Vec::new();
            for &d in days {
                match runs.last_mut() {
                    Some((_, end)) if *end + 1 == d => *end = d,
                    _ => runs.push((d, d)),
                }
            }
            for (k, (a, b)) in runs.iter().enumerate() {
                if k > 0 {
                    f.write_str(",")?;
                }
                f.write_str(DAY_SHORT[*a])?;
                if b > a {
                    write!(f, "-{}", DAY_SHORT[*b])?;
                }
            }
            for r in ranges.iter() {
                write!(f, " {r}")?;
            }
        }
        Ok(())
    }
}

impl WorkingHours {
    /// One line for the audit and the command line:
    /// `lun-ven 08:00-13:00 15:00-19:30; 1 chiusura; aperto nei festivi`.
    pub fn summary(&self) -> String {
        let mut text = if self.is_empty() {
            "nessun orario".to_owned()
        } else {
            self.week.to_string()
        };
        match self.closures.len() {
            0 => {}
            1 => text.push_str("; 1 chiusura"),
            n => text.push_str(&format!("; {n} chiusure")),
        }
        if !self.public_holidays {
            text.push_str("; aperto nei festivi");
        }
        text
    }
}

/// A date as `2026-12-24` (or, as Italians write it, `24/12/2026`).
pub fn parse_date(text: &str) -> Result<Date, HoursError> {
    let t = text.trim();
    let bad = || HoursError::Date(t.to_owned());
    let (y, m, d) = if let Some((y, rest)) = t.split_once('-') {
        let (m, d) = rest.split_once('-').ok_or_else(bad)?;
        (y, m, d)
    } else {
        let mut parts = t.split('/');
        let (d, m, y) = (
            parts.next().ok_or_else(bad)?,
            parts.next().ok_or_else(bad)?,
            parts.next().ok_or_else(bad)?,
        );
        if parts.next().is_some() {
            return Err(bad());
        }
        (y, m, d)
    };
    if y.len() != 4 || m.is_empty() || m.len() > 2 || d.is_empty() || d.len() > 2 {
        return Err(bad());
    }
    let year: i32 = y.parse().map_err(|_| bad())?;
    let month: u8 = m.parse().map_err(|_| bad())?;
    let day: u8 = d.parse().map_err(|_| bad())?;
    let month = Month::try_from(month).map_err(|_| bad())?;
    Date::from_calendar_date(year, month, day).map_err(|_| bad())
}

fn iso(date: Date) -> String {
    format!(
        "{:04}-{:02}-{:02}",
        date.year(),
        u8::from(date.month()),
        date.day()
    )
}

/// The ranges of one day in a [`HoursSpec`]: one text (`"08:00-13:00 15:00-19:30"`) or a
/// list (`["08:00-13:00", "15:00-19:30"]`); empty for a closed day.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum DaySpec {
    /// Ranges separated by spaces or commas.
    Text(String),
    /// One range per item.
    List(Vec<String>),
}

impl DaySpec {
    fn ranges(&self) -> Result<Vec<TimeRange>, HoursError> {
        match self {
            DaySpec::Text(t) => ranges_of(t),
            DaySpec::List(items) => items.iter().map(|r| r.parse()).collect(),
        }
    }
}

/// A date as text; a TOML date written without quotes (`from = 2026-12-24`) reaches serde
/// as the `toml` crate's datetime wrapper, and is taken as its text too.
#[derive(Deserialize)]
#[serde(untagged)]
enum DateText {
    Text(String),
    Toml {
        #[serde(rename = "$__toml_private_datetime")]
        text: String,
    },
}

impl From<DateText> for String {
    fn from(d: DateText) -> Self {
        match d {
            DateText::Text(text) | DateText::Toml { text } => text,
        }
    }
}

fn date_text<'de, D: serde::Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    DateText::deserialize(d).map(String::from)
}

fn date_text_opt<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Option::<DateText>::deserialize(d).map(|o| o.map(String::from))
}

/// A closed period as written: dates as text, `to` the same as `from` when missing.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClosureSpec {
    /// First closed day (`2026-12-24` or `24/12/2026`).
    #[serde(deserialize_with = "date_text")]
    pub from: String,
    /// Last closed day, included (default: `from`, one day).
    #[serde(
        default,
        deserialize_with = "date_text_opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub to: Option<String>,
    /// What it is ("ferie", "congresso").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// Working hours as people write them: the `[working_hours]` table of the configuration
/// file and the bodies of the API. The week is given either as one compact text (`week`)
/// or day by day (`mon` … `sun`, also `lun` … `dom`); days not given are closed.
/// [`HoursSpec::build`] checks everything; `From<&WorkingHours>` writes the day-by-day form
/// back (every day present, so that it reads back the same).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HoursSpec {
    /// The whole week: `"lun-ven 08:00-13:00 15:00-19:30; sab 08:00-12:00"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub week: Option<String>,
    /// Monday.
    #[serde(default, alias = "lun", skip_serializing_if = "Option::is_none")]
    pub mon: Option<DaySpec>,
    /// Tuesday.
    #[serde(default, alias = "mar", skip_serializing_if = "Option::is_none")]
    pub tue: Option<DaySpec>,
    /// Wednesday.
    #[serde(default, alias = "mer", skip_serializing_if = "Option::is_none")]
    pub wed: Option<DaySpec>,
    /// Thursday.
    #[serde(default, alias = "gio", skip_serializing_if = "Option::is_none")]
    pub thu: Option<DaySpec>,
    /// Friday.
    #[serde(default, alias = "ven", skip_serializing_if = "Option::is_none")]
    pub fri: Option<DaySpec>,
    /// Saturday.
    #[serde(default, alias = "sab", skip_serializing_if = "Option::is_none")]
    pub sat: Option<DaySpec>,
    /// Sunday.
    #[serde(default, alias = "dom", skip_serializing_if = "Option::is_none")]
    pub sun: Option<DaySpec>,
    /// Closed on the Italian national public holidays (default true).
    #[serde(default = "super::yes")]
    pub public_holidays: bool,
    /// Closed periods.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub closures: Vec<ClosureSpec>,
}

/// A [`HoursSpec`] that is not valid: the key it is about (`week`, `mon`,
/// `closures[0].from`; empty when it is about the whole) and the Italian reason.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub struct SpecError {
    /// The key, as written in the file or the JSON body.
    pub key: String,
    /// What is wrong with it.
    pub error: HoursError,
}

impl fmt::Display for SpecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.key.is_empty() {
            write!(f, "{}", self.error)
        } else {
            write!(f, "{}: {}", self.key, self.error)
        }
    }
}

fn at(key: impl Into<String>) -> impl FnOnce(HoursError) -> SpecError {
    let key = key.into();
    move |error| SpecError { key, error }
}

impl HoursSpec {
    fn days(&self) -> [&Option<DaySpec>; 7] {
        [
            &self.mon, &self.tue, &self.wed, &self.thu, &self.fri, &self.sat, &self.sun,
        ]
    }

    /// The working hours written here, checked: ranges, overlaps, dates, closures in order.
    pub fn build(&self) -> Result<WorkingHours, SpecError> {
        let days = self.days();
        let by_day = days.iter().any(|d| d.is_some());
        let week = match (&self.week, by_day) {
            (Some(_), true) => return Err(at("week")(HoursError::WeekTwice)),
            (Some(text), false) => text.parse::<Week>().map_err(at("week"))?,
            (None, true) => {
                let mut week = Week::default();
                for (i, day) in days.iter().enumerate() {
                    if let Some(day) = day {
                        *week.on_mut(WEEKDAYS[i]) = day.ranges().map_err(at(DAY_KEYS[i]))?;
                    }
                }
                week.validate().map_err(|e| {
                    let key = match &e {
                        HoursError::Overlap { day, .. } => DAY_NAMES
                            .iter()
                            .position(|n| n == day)
                            .map_or("", |i| DAY_KEYS[i]),
                        _ => "",
                    };
                    at(key)(e)
                })?
            }
            (None, false) => return Err(at("week")(HoursError::Empty)),
        };
        let mut closures = Vec::with_capacity(self.closures.len());
        for (i, c) in self.closures.iter().enumerate() {
            let from = parse_date(&c.from).map_err(at(format!("closures[{i}].from")))?;
            let to = match &c.to {
                Some(t) if !t.trim().is_empty() => {
                    parse_date(t).map_err(at(format!("closures[{i}].to")))?
                }
                _ => from,
            };
            if to < from {
                return Err(at(format!("closures[{i}]"))(HoursError::Closure {
                    from: c.from.trim().to_owned(),
                    to: c.to.clone().unwrap_or_default().trim().to_owned(),
                }));
            }
            let note = c
                .note
                .as_deref()
                .map(str::trim)
                .filter(|n| !n.is_empty())
                .map(str::to_owned);
            closures.push(Closure { from, to, note });
        }
        WorkingHours {
            week,
            closures,
            public_holidays: self.public_holidays,
        }
        .validate()
        .map_err(at(""))
    }
}

impl From<&WorkingHours> for HoursSpec {
    fn from(h: &WorkingHours) -> Self {
        let day = |d| {
            Some(DaySpec::List(
                h.week.on(d).iter().map(ToString::to_string).collect(),
            ))
        };
        Self {
            week: None,
            mon: day(WEEKDAYS[0]),
            tue: day(WEEKDAYS[1]),
            wed: day(WEEKDAYS[2]),
            thu: day(WEEKDAYS[3]),
            fri: day(WEEKDAYS[4]),
            sat: day(WEEKDAYS[5]),
            sun: day(WEEKDAYS[6]),
            public_holidays: h.public_holidays,
            closures: h
                .closures
                .iter()
                .map(|c| ClosureSpec {
                    from: iso(c.from),
                    to: Some(iso(c.to)),
                    note: c.note.clone(),
                })
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    fn week(s: &str) -> Week {
        s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    fn r(s: &str) -> TimeRange {
        s.parse().unwrap()
    }

    #[test]
    fn compact_week_reads_day_names_and_ranges() {
        let w = week("lun-ven 08:00-13:00 15:00-19:30; sab 08:00-12:00");
        for d in &WEEKDAYS[..5] {
            assert_eq!(w.on(*d), [r("08:00-13:00"), r("15:00-19:30")]);
        }
        assert_eq!(w.sat, [r("08:00-12:00")]);
        assert!(w.sun.is_empty());
        // The same week written loosely: full names, accents, capitals, dashes with spaces,
        // "e", commas, no semicolon between groups.
        let loose = week("Lunedì – Venerdì 08:00 - 13:00 e 15:00-19:30 SABATO 8:00-12:00");
        assert_eq!(loose, w);
        // A day named twice gets both groups' ranges, in order.
        let split = week("lun-ven 15:00-19:30, lun,mar,mer-ven 08:00-13:00 sab 08:00-12:00");
        assert_eq!(split, w);
    }

    #[test]
    fn compact_week_prints_what_it_reads() {
        for text in [
            "lun-ven 08:00-13:00 15:00-19:30; sab 08:00-12:00",
            "lun,mer,ven 09:00-12:00; mar,gio 15:00-19:00",
            "lun-mer,ven 08:00-14:00; dom 20:00-24:00",
            "sab-dom 10:00-11:00",
        ] {
            let w = week(text);
            assert_eq!(w.to_string(), text);
            assert_eq!(week(&w.to_string()), w);
        }
        assert_eq!(Week::default().to_string(), "");
        let default = WorkingHours::default().week;
        assert_eq!(default.to_string(), "lun-ven 08:00-19:30");
    }

    #[test]
    fn compact_week_errors_are_italian_and_precise() {
        let err = |s: &str| s.parse::<Week>().unwrap_err();
        assert_eq!(err(""), HoursError::Empty);
        assert_eq!(err("  ; "), HoursError::Empty);
        assert_eq!(err("08:00-13:00"), HoursError::NoDays("08:00-13:00".into()));
        assert_eq!(err("lun-ven"), HoursError::NoRanges("lun-ven".into()));
        assert_eq!(
            err("lun 08:00-13:00 sab"),
            HoursError::NoRanges("sab".into())
        );
        assert_eq!(err("lunes 08:00-13:00"), HoursError::Day("lunes".into()));
        assert_eq!(
            err("ven-lun 08:00-13:00"),
            HoursError::Day("ven-lun".into())
        );
        assert_eq!(err("lun 9-13"), HoursError::Range("9-13".into()));
        assert_eq!(
            err("lun 13:00-08:00"),
            HoursError::Range("13:00-08:00".into())
        );
        let overlap = err("lun-ven 08:00-13:00 12:00-14:00").to_string();
        assert!(
            overlap.contains("lunedì") && overlap.contains("si sovrappongono"),
            "{overlap}"
        );
        // Each message shows how to write it.
        assert_eq!(
            HoursError::NoRanges("sab".into()).to_string(),
            "sab: mancano le fasce orarie, ad esempio «sab 08:00-13:00»"
        );
        assert_eq!(
            HoursError::NoDays("08:00-13:00".into()).to_string(),
            "fascia «08:00-13:00» senza giorno: scrivi prima i giorni, ad esempio «lun-ven 08:00-13:00»"
        );
    }

    #[test]
    fn dates_iso_and_italian() {
        assert_eq!(parse_date("2026-12-24"), Ok(date!(2026 - 12 - 24)));
        assert_eq!(parse_date(" 24/12/2026 "), Ok(date!(2026 - 12 - 24)));
        assert_eq!(parse_date("6/1/2027"), Ok(date!(2027 - 01 - 06)));
        for bad in [
            "",
            "2026-13-01",
            "2026-02-30",
            "24/12",
            "24/12/26",
            "1/2/3/2026",
            "domani",
            "2026-1-1-1",
        ] {
            assert_eq!(parse_date(bad), Err(HoursError::Date(bad.trim().into())));
        }
        assert!(
            parse_date("x")
                .unwrap_err()
                .to_string()
                .contains("2026-12-24")
        );
    }

    fn spec(json: &str) -> HoursSpec {
        serde_json::from_str(json).unwrap_or_else(|e| panic!("{json}: {e}"))
    }

    #[test]
    fn spec_by_text_or_by_day_builds_the_same_hours() {
        let by_text = spec(
            r#"{"week": "lun-ven 08:00-13:00 15:00-19:30",
                "closures": [{"from": "2026-12-24", "to": "06/01/2027", "note": " ferie "},
                             {"from": "2026-08-14"}]}"#,
        )
        .build()
        .unwrap();
        let by_day = spec(
            r#"{"mon": ["08:00-13:00", "15:00-19:30"], "tue": "08:00-13:00 15:00-19:30",
                "wed": "08:00-13:00, 15:00-19:30", "gio": ["15:00-19:30", "08:00-13:00"],
                "fri": "08:00-13:00 e 15:00-19:30", "sat": [],
                "closures": [{"from": "2026-08-14", "to": ""},
                             {"from": "2026-12-24", "to": "2027-01-06", "note": "ferie"}]}"#,
        )
        .build()
        .unwrap();
        assert_eq!(by_text, by_day);
        assert!(by_text.public_holidays, "on unless said otherwise");
        assert_eq!(by_text.closures[0].from, date!(2026 - 08 - 14));
        assert_eq!(by_text.closures[0].to, date!(2026 - 08 - 14));
        assert_eq!(by_text.closures[1].note.as_deref(), Some("ferie"));
        assert_eq!(by_text.week.to_string(), "lun-ven 08:00-13:00 15:00-19:30");
    }

    #[test]
    fn spec_round_trips_through_its_canonical_form() {
        let hours = spec(
            r#"{"week": "lun-ven 08:00-13:00; sab 09:00-12:00", "public_holidays": false,
                "closures": [{"from": "2026-12-24", "to": "2027-01-06", "note": "ferie"}]}"#,
        )
        .build()
        .unwrap();
        let canonical = HoursSpec::from(&hours);
        let json = serde_json::to_value(&canonical).unwrap();
        assert_eq!(json["mon"], serde_json::json!(["08:00-13:00"]));
        assert_eq!(json["sun"], serde_json::json!([]));
        assert_eq!(json["closures"][0]["to"], "2027-01-06");
        assert!(json.get("week").is_none());
        let back: HoursSpec = serde_json::from_value(json).unwrap();
        assert_eq!(back.build().unwrap(), hours);
        // A week with no range at all still reads back as such.
        let closed = WorkingHours {
            week: Week::default(),
            closures: Vec::new(),
            public_holidays: true,
        };
        assert_eq!(HoursSpec::from(&closed).build().unwrap(), closed);
    }

    #[test]
    fn spec_errors_name_the_key() {
        let error = |json: &str| spec(json).build().unwrap_err();
        let e = error(r#"{"week": "lun-ven 9-13"}"#);
        assert_eq!(e.key, "week");
        assert_eq!(e.error, HoursError::Range("9-13".into()));
        assert_eq!(
            e.to_string(),
            "week: orario «9-13» non valido: scrivilo come 08:00-13:00"
        );
        let e = error(r#"{"mon": "08:00-13:00", "tue": ["08:00-13:00", "8-12"]}"#);
        assert_eq!(e.key, "tue");
        let e = error(r#"{"wed": ["08:00-13:00", "12:00-14:00"]}"#);
        assert_eq!(e.key, "wed");
        assert!(e.to_string().contains("mercoledì"), "{e}");
        assert_eq!(
            error(r#"{"week": "lun 08:00-13:00", "mon": []}"#).error,
            HoursError::WeekTwice
        );
        assert_eq!(
            error(r#"{"public_holidays": true}"#).error,
            HoursError::Empty
        );
        let e = error(r#"{"week": "lun 08:00-13:00", "closures": [{"from": "x"}]}"#);
        assert_eq!(e.key, "closures[0].from");
        let e = error(
            r#"{"week": "lun 08:00-13:00", "closures": [{"from": "2026-01-01"},
                {"from": "2026-12-24", "to": "2026-12-01"}]}"#,
        );
        assert_eq!(e.key, "closures[1]");
        assert!(e.to_string().contains("la fine viene prima"), "{e}");
        // Unknown keys are refused by serde (deny_unknown_fields), a typo never ignored.
        assert!(
            serde_json::from_str::<HoursSpec>(r#"{"week": "lun 08:00-13:00", "mon_": []}"#)
                .is_err()
        );
    }
}
