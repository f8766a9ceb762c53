//! What the audit says, as a bundle shows it: a doctor's last lines, the failures among
//! them, and everything counted by kind and outcome. Of a code, only the audit's own
//! `…1234` hint passes.

use serde::Serialize;
use time::OffsetDateTime;
use tsgate_session::AuditEntry;

use super::sections::ErrorLine;

/// One audit line: what, who, outcome; of the code at most its masked hint.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct HistoryLine {
    /// When.
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    /// Session kind or administration action.
    pub kind: String,
    /// Short outcome.
    pub outcome: String,
    /// Who (`ws:<id>`, `cli`, `mailbox`, `auto`, `system`).
    pub actor: String,
    /// `…2920`: the last four characters of the code, nothing more.
    pub code_hint: Option<String>,
}

impl From<&AuditEntry> for HistoryLine {
    fn from(e: &AuditEntry) -> Self {
        Self {
            at: e.at,
            kind: e.kind.as_str().to_owned(),
            outcome: e.outcome.clone(),
            actor: e.actor.to_string(),
            code_hint: e.code_hint.as_deref().and_then(masked_hint),
        }
    }
}

/// `hint` if it is what the audit writes of a code (an ellipsis and four characters), else
/// nothing: a longer value would be more of the code than a hint.
fn masked_hint(hint: &str) -> Option<String> {
    let mut chars = hint.chars();
    let masked = chars.next() == Some('…')
        && chars.clone().count() == 4
        && chars.all(|c| c.is_ascii_alphanumeric());
    masked.then(|| hint.to_owned())
}

/// Outcomes of session events that are not failures; every other outcome of a session
/// event is an error code (`too_soon`, `password_refused`, `9101`…).
const SUCCESS_OUTCOMES: [&str; 10] = [
    "ok",
    "sent",
    "joined",
    "mailed",
    "issued",
    "checking",
    "already_active",
    "already_gone",
    "local",
    "nothing",
];

/// Whether an audit line records a failure (only session events can).
pub(crate) fn is_failure(entry: &AuditEntry) -> bool {
    entry.session_kind().is_some() && !SUCCESS_OUTCOMES.contains(&outcome_word(&entry.outcome))
}

/// The outcome without its details (`ok: 5 calls from … to …` is `ok`).
pub(crate) fn outcome_word(outcome: &str) -> &str {
    outcome.split([':', ' ']).next().unwrap_or_default()
}

/// A recent failure: an audited one, or a doctor's current `last_error`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RecentError {
    /// When.
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    /// `audit` or `session`.
    pub source: &'static str,
    /// The doctor (practice bundles only).
    pub user: Option<String>,
    /// The audit kind (`requested`, `used`…), for audited failures.
    pub kind: Option<String>,
    /// Stable error code.
    pub code: String,
    /// Italian message, for a session's error.
    pub message: Option<String>,
    /// Who triggered it, for audited failures.
    pub actor: Option<String>,
}

impl RecentError {
    /// An audited failure; the doctor is named only when `with_user`.
    pub(crate) fn audited(e: &AuditEntry, with_user: bool) -> Self {
        Self {
            at: e.at,
            source: "audit",
            user: e
                .user
                .as_ref()
                .filter(|_| with_user)
                .map(|u| u.as_str().to_owned()),
            kind: Some(e.kind.as_str().to_owned()),
            code: outcome_word(&e.outcome).to_owned(),
            message: None,
            actor: Some(e.actor.to_string()),
        }
    }

    /// A doctor's current error.
    pub(crate) fn of_session(user: &str, e: &ErrorLine) -> Option<Self> {
        Some(Self {
            at: e.at?,
            source: "session",
            user: Some(user.to_owned()),
            kind: None,
            code: e.code.clone(),
            message: Some(e.message.clone()),
            actor: None,
        })
    }
}

/// Audit lines counted by kind and outcome.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct AuditCount {
    /// Session kind or administration action.
    pub kind: String,
    /// Outcome without details.
    pub outcome: String,
    /// Lines.
    pub count: u64,
}

/// The audit of the last days in numbers.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct AuditSummary {
    /// From.
    #[serde(with = "time::serde::rfc3339")]
    pub since: OffsetDateTime,
    /// To.
    #[serde(with = "time::serde::rfc3339")]
    pub until: OffsetDateTime,
    /// Lines counted.
    pub lines: u64,
    /// More lines than could be counted exist: the counts are a lower bound.
    pub truncated: bool,
    /// Lines that record a failure.
    pub failures: u64,
    /// By kind and outcome, most frequent first.
    pub counts: Vec<AuditCount>,
}

impl AuditSummary {
    /// The summary of `entries` (newest first) between `since` and `until`.
    pub(crate) fn of(
        entries: &[AuditEntry],
        since: OffsetDateTime,
        until: OffsetDateTime,
        truncated: bool,
    ) -> Self {
        let mut counts: std::collections::BTreeMap<(String, String), u64> = Default::default();
        for e in entries {
            *counts
                .entry((
                    e.kind.as_str().to_owned(),
                    outcome_word(&e.outcome).to_owned(),
                ))
                .or_default() += 1;
        }
        let mut counts: Vec<AuditCount> = counts
            .into_iter()
            .map(|((kind, outcome), count)| AuditCount {
                kind,
                outcome,
                count,
            })
            .collect();
        counts.sort_by_key(|c| std::cmp::Reverse(c.count));
        Self {
            since,
            until,
            lines: entries.len() as u64,
            truncated,
            failures: entries.iter().filter(|e| is_failure(e)).count() as u64,
            counts,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_masked_hint_passes() {
        assert_eq!(masked_hint("…2920").as_deref(), Some("…2920"));
        for other in [
            "2920",
            "…29201",
            "1f6a0702-2cfc-4903-8cfc-609a7e232920",
            "…29 0",
            "",
        ] {
            assert_eq!(masked_hint(other), None, "{other}");
        }
    }

    #[test]
    fn outcome_words() {
        assert_eq!(outcome_word("ok: 5 calls from a to b"), "ok");
        assert_eq!(outcome_word("too_soon"), "too_soon");
        assert_eq!(outcome_word("workstation x (staff)"), "workstation");
    }
}
