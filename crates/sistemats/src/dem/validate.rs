//! Validation of requests against the XSD facets and the cheap specification rules.

use std::fmt;

/// What is wrong with a field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    /// Required and empty or absent.
    Missing,
    /// Longer than the XSD allows.
    TooLong {
        /// Maximum number of characters.
        max: usize,
    },
    /// Shorter than the XSD allows.
    TooShort {
        /// Minimum number of characters.
        min: usize,
    },
    /// Not of the exact length the XSD requires.
    WrongLength {
        /// Required number of characters.
        length: usize,
    },
    /// Not one of the values the specification allows.
    NotOneOf(&'static [&'static str]),
    /// Does not have the required shape; the text describes it ("una sola cifra (0-9)").
    Format(&'static str),
    /// A rule of the specification, as an Italian sentence.
    Rule(&'static str),
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Problem::Missing => f.write_str("è obbligatorio: compilalo"),
            Problem::TooLong { max } => write!(f, "deve avere al massimo {max} caratteri"),
            Problem::TooShort { min } => write!(f, "deve avere almeno {min} caratteri"),
            Problem::WrongLength { length } => {
                write!(f, "deve avere esattamente {length} caratteri")
            }
            Problem::NotOneOf(allowed) => {
                write!(f, "valore non ammesso: usa uno tra {}", allowed.join(", "))
            }
            Problem::Format(shape) => write!(f, "deve essere {shape}"),
            Problem::Rule(rule) => f.write_str(rule),
        }
    }
}

/// A field of a request that breaks the XSD or a rule of the specification.
///
/// Displays as `campo cfMedico1: deve avere al massimo 16 caratteri`. The value itself is
/// never included (it may be a patient's data).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("campo {field}: {problem}")]
pub struct ValidationError {
    /// Element name as in the XSD; inside a detail line
    /// `DettaglioPrescrizione[2].quantita` (1-based, like `progPresc`).
    pub field: String,
    /// What is wrong.
    pub problem: Problem,
}

pub(crate) const DATA_ORA_SHAPE: &str = "una data e ora nel formato aaaa-mm-gg hh:mm:ss";
pub(crate) const DATA_SHAPE: &str = "una data nel formato aaaa-mm-gg oppure aaaa-mm-gg hh:mm:ss";

/// Collects problems field by field.
#[derive(Debug, Default)]
pub(crate) struct Checker {
    prefix: Option<String>,
    problems: Vec<ValidationError>,
}

impl Checker {
    pub(crate) fn new() -> Self {
        Self::default()
    }

    /// Problems reported next are inside `prefix` (`DettaglioPrescrizione[1]`).
    pub(crate) fn scope(&mut self, prefix: Option<String>) {
        self.prefix = prefix;
    }

    pub(crate) fn report(&mut self, field: &str, problem: Problem) {
        let field = match &self.prefix {
            Some(prefix) => format!("{prefix}.{field}"),
            None => field.to_owned(),
        };
        self.problems.push(ValidationError { field, problem });
    }

    /// Non-empty; returns whether it is.
    pub(crate) fn required(&mut self, field: &str, value: &str) -> bool {
        if value.trim().is_empty() {
            self.report(field, Problem::Missing);
            false
        } else {
            true
        }
    }

    pub(crate) fn max_len(&mut self, field: &str, value: &str, max: usize) {
        if value.chars().count() > max {
            self.report(field, Problem::TooLong { max });
        }
    }

    pub(crate) fn len_between(&mut self, field: &str, value: &str, min: usize, max: usize) {
        let n = value.chars().count();
        if min == max && n != min {
            self.report(field, Problem::WrongLength { length: min });
        } else if n < min {
            self.report(field, Problem::TooShort { min });
        } else if n > max {
            self.report(field, Problem::TooLong { max });
        }
    }

    pub(crate) fn one_of(&mut self, field: &str, value: &str, allowed: &'static [&'static str]) {
        if !allowed.contains(&value) {
            self.report(field, Problem::NotOneOf(allowed));
        }
    }

    pub(crate) fn opt_one_of(
        &mut self,
        field: &str,
        value: Option<&str>,
        allowed: &'static [&'static str],
    ) {
        if let Some(value) = value {
            self.one_of(field, value, allowed);
        }
    }

    pub(crate) fn opt_max_len(&mut self, field: &str, value: Option<&str>, max: usize) {
        if let Some(value) = value {
            self.max_len(field, value, max);
        }
    }

    /// The XSD `integerType`: exactly one digit.
    pub(crate) fn digit(&mut self, field: &str, value: &str) {
        if !(value.len() == 1 && value.bytes().all(|b| b.is_ascii_digit())) {
            self.report(field, Problem::Format("una sola cifra (0-9)"));
        }
    }

    /// A fiscal code: letters and digits only, at most 16.
    pub(crate) fn fiscal_code(&mut self, field: &str, value: &str) {
        if value.chars().count() > 16 {
            self.report(field, Problem::TooLong { max: 16 });
        } else if !value.chars().all(|c| c.is_ascii_alphanumeric()) {
            self.report(
                field,
                Problem::Format("un codice fiscale (solo lettere e cifre)"),
            );
        }
    }

    /// `yyyy-MM-dd HH:mm:ss`, a real date and time.
    pub(crate) fn data_ora(&mut self, field: &str, value: &str) {
        if !is_data_ora(value) {
            self.report(field, Problem::Format(DATA_ORA_SHAPE));
        }
    }

    /// `yyyy-MM-dd` or `yyyy-MM-dd HH:mm:ss`.
    pub(crate) fn data(&mut self, field: &str, value: &str) {
        if !(is_data(value) || is_data_ora(value)) {
            self.report(field, Problem::Format(DATA_SHAPE));
        }
    }

    pub(crate) fn finish(self) -> Vec<ValidationError> {
        self.problems
    }
}

fn digits(s: &str) -> Option<u32> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// `yyyy-MM-dd` naming a real calendar day.
pub(crate) fn is_data(value: &str) -> bool {
    let b = value.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return false;
    }
    let (Some(y), Some(m), Some(d)) = (
        digits(&value[0..4]),
        digits(&value[5..7]),
        digits(&value[8..10]),
    ) else {
        return false;
    };
    let Ok(month) = time::Month::try_from(m as u8) else {
        return false;
    };
    time::Date::from_calendar_date(y as i32, month, d as u8).is_ok()
}

/// `yyyy-MM-dd HH:mm:ss` naming a real instant.
pub(crate) fn is_data_ora(value: &str) -> bool {
    let b = value.as_bytes();
    if b.len() != 19
        || !value.is_char_boundary(10)
        || b[10] != b' '
        || b[13] != b':'
        || b[16] != b':'
    {
        return false;
    }
    if !is_data(&value[..10]) {
        return false;
    }
    let (Some(h), Some(mi), Some(s)) = (
        digits(&value[11..13]),
        digits(&value[14..16]),
        digits(&value[17..19]),
    ) else {
        return false;
    };
    h < 24 && mi < 60 && s < 60
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        assert!(is_data_ora("2026-09-30 16:44:16"));
        assert!(!is_data_ora("2026-02-30 16:44:16"));
        assert!(!is_data_ora("2026-09-30T16:44:16"));
        assert!(!is_data_ora("2026-09-30 24:00:00"));
        assert!(!is_data_ora("2026-09-30 16:44:1é"));
        assert!(is_data("2024-02-29"));
        assert!(!is_data("2023-02-29"));
        assert!(!is_data("+026-02-01"));
    }

    #[test]
    fn message_names_field() {
        let mut c = Checker::new();
        c.max_len("cfMedico1", "ABCDEFGHIJKLMNOPQ", 16);
        let e = c.finish().remove(0);
        assert_eq!(
            e.to_string(),
            "campo cfMedico1: deve avere al massimo 16 caratteri"
        );
    }
}
