//! Practices (tenants) and pages of long lists.
//!
//! A practice (a studio, or an AFT group) owns its doctors' memberships, its workstations and
//! its administration. Users stay global: a doctor who is titolare in one practice and
//! sostituto in another is ONE Sistema TS user with one session and one code, and a member of
//! both. A single-practice install never names a practice: everything lives in
//! [`PracticeId::default_practice`].
//!
//! Lists that can hold 100,000 rows are read a page at a time ([`ListQuery`] → [`Page`]),
//! ordered by a stable key, with an opaque cursor to the next page.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

/// Identifier of a practice: 1 to 64 characters among `a-z`, `0-9`, `-`, `_`, `.`, starting
/// with a letter or a digit (it appears in URLs, file names and logs as it is).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct PracticeId(String);

/// A practice identifier that does not follow [`PracticeId`]'s rule.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "Identificativo dello studio non valido: da 1 a 64 caratteri tra lettere minuscole, cifre, '-', '_' e '.', che inizi con una lettera o una cifra (es. studio-rossi)."
)]
pub struct InvalidPracticeId;

impl PracticeId {
    /// The identifier of the practice a single-practice install uses without naming it.
    pub const DEFAULT: &'static str = "default";

    /// Checks the rule.
    pub fn new(value: impl Into<String>) -> Result<Self, InvalidPracticeId> {
        let value = value.into();
        let ok_char = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || "-_.".contains(c);
        let starts_well = value
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
        if !starts_well || value.len() > 64 || !value.chars().all(ok_char) {
            return Err(InvalidPracticeId);
        }
        Ok(Self(value))
    }

    /// [`PracticeId::DEFAULT`].
    pub fn default_practice() -> Self {
        Self(Self::DEFAULT.to_owned())
    }

    /// The identifier as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for PracticeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for PracticeId {
    type Error = InvalidPracticeId;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::new(value)
    }
}

impl From<PracticeId> for String {
    fn from(value: PracticeId) -> Self {
        value.0
    }
}

impl FromStr for PracticeId {
    type Err = InvalidPracticeId;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::new(s)
    }
}

/// A practice.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Practice {
    /// Identifier.
    pub id: PracticeId,
    /// Human name ("Studio associato Rossi", "AFT Torino 3").
    pub name: String,
    /// Creation time.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

/// What a vendor sees of a practice: counts, never a code.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PracticeCounts {
    /// Member doctors.
    pub users: u64,
    /// Live workstations.
    pub workstations: u64,
    /// Member doctors whose session holds a code now.
    pub active_sessions: u64,
}

/// Which rows of a long list to read.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ListQuery {
    /// Only rows of this practice (members, its workstations).
    pub practice: Option<PracticeId>,
    /// Only rows whose identifier or name contains this text (case-insensitive).
    pub search: Option<String>,
    /// The cursor of the previous page's [`Page::next`].
    pub after: Option<String>,
    /// At most this many (default [`ListQuery::DEFAULT_LIMIT`], at most
    /// [`ListQuery::MAX_LIMIT`]).
    pub limit: Option<u32>,
}

impl ListQuery {
    /// Rows per page when no limit is given.
    pub const DEFAULT_LIMIT: u32 = 100;
    /// The largest page.
    pub const MAX_LIMIT: u32 = 1000;

    /// The first page of everything.
    pub fn all() -> Self {
        Self::default()
    }

    /// The first page of the members of `practice`.
    pub fn practice(practice: PracticeId) -> Self {
        Self {
            practice: Some(practice),
            ..Self::default()
        }
    }

    /// The page size to apply.
    pub fn effective_limit(&self) -> u32 {
        self.limit
            .unwrap_or(Self::DEFAULT_LIMIT)
            .clamp(1, Self::MAX_LIMIT)
    }

    /// The search text, trimmed and lower-cased, when there is one.
    pub fn needle(&self) -> Option<String> {
        self.search
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_lowercase)
    }
}

/// One page of a list, and the cursor of the next one (`None`: this was the last).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Page<T> {
    /// The rows.
    pub items: Vec<T>,
    /// Pass as [`ListQuery::after`] for the next page.
    pub next: Option<String>,
}

impl<T> Page<T> {
    /// Builds a page from up to `limit + 1` rows read in order: the extra row only tells that
    /// there is a next page, whose cursor is `cursor` of the last row kept.
    pub fn from_rows(mut rows: Vec<T>, limit: u32, cursor: impl Fn(&T) -> String) -> Self {
        let limit = limit as usize;
        let next = if rows.len() > limit {
            rows.truncate(limit);
            rows.last().map(cursor)
        } else {
            None
        };
        Self { items: rows, next }
    }

    /// The same page with each row mapped.
    pub fn map<U>(self, f: impl FnMut(T) -> U) -> Page<U> {
        Page {
            items: self.items.into_iter().map(f).collect(),
            next: self.next,
        }
    }
}

/// Reads every page of a paged list (for small lists and the command line).
pub async fn all_pages<T, F, Fut, E>(mut query: ListQuery, mut read: F) -> Result<Vec<T>, E>
where
    F: FnMut(ListQuery) -> Fut,
    Fut: Future<Output = Result<Page<T>, E>>,
{
    query.limit = Some(ListQuery::MAX_LIMIT);
    let mut out = Vec::new();
    loop {
        let page = read(query.clone()).await?;
        out.extend(page.items);
        match page.next {
            Some(next) => query.after = Some(next),
            None => return Ok(out),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn practice_ids() {
        for ok in [
            "default",
            "studio-rossi",
            "aft.to3",
            "0a_b",
            &"a".repeat(64),
        ] {
            assert_eq!(PracticeId::new(ok).unwrap().as_str(), ok);
        }
        for bad in ["", "Studio", "-a", "a b", "a/b", "à", &"a".repeat(65)] {
            assert!(PracticeId::new(bad).is_err(), "{bad:?}");
        }
        assert_eq!(PracticeId::default_practice().as_str(), PracticeId::DEFAULT);
    }

    #[test]
    fn pages_know_whether_there_is_more() {
        let p = Page::from_rows(vec![1, 2, 3], 2, |n| n.to_string());
        assert_eq!((p.items, p.next), (vec![1, 2], Some("2".to_owned())));
        let p = Page::from_rows(vec![1, 2], 2, |n| n.to_string());
        assert_eq!((p.items, p.next), (vec![1, 2], None));
        let q = ListQuery {
            limit: Some(0),
            search: Some("  Ros ".into()),
            ..ListQuery::default()
        };
        assert_eq!(q.effective_limit(), 1);
        assert_eq!(q.needle().as_deref(), Some("ros"));
        assert_eq!(ListQuery::all().effective_limit(), 100);
    }
}
