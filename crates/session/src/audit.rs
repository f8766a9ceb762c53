//! Audit events: who did what to whose code, when, with which outcome. Never the code itself
//! (at most its [`SessionCode::hint`](sistemats::secret::SessionCode::hint)).
//!
//! One model, three shapes:
//! - [`AuditDraft`]: what a decision of the state machine produces (what, who, outcome);
//! - [`AuditEntry`]: one stored line, either a session event (a draft placed on a session
//!   key and a time, [`AuditEntry::session`]) or an administration change (users,
//!   credentials, mailboxes, workstations, working hours; [`AuditEntry::admin`]);
//! - [`AuditFilter`]: how lines are looked for.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::ids::{Actor, Application, SessionKey, UserId};
use crate::practice::PracticeId;

/// What happened.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AuditKind {
    /// A new code was requested (`create`), joined, refused, or its `create` answered.
    Requested,
    /// A code was typed, pasted or found in the mailbox.
    Inserted,
    /// `checkToken` confirmed a code.
    Verified,
    /// A code was refused (format, Sistema TS, wrong user, older than the current one).
    Rejected,
    /// A code was sent on a business call (proxy), with the outcome (`ok`, `9101`).
    Used,
    /// A code was revoked (here or found revoked).
    Revoked,
    /// A code reached its `dataFineValidita`.
    Expired,
    /// A doctor copied the code for software that does not use tsgate.
    Copied,
}

impl AuditKind {
    /// Every kind, for filters and tests.
    pub const ALL: [AuditKind; 8] = [
        Self::Requested,
        Self::Inserted,
        Self::Verified,
        Self::Rejected,
        Self::Used,
        Self::Revoked,
        Self::Expired,
        Self::Copied,
    ];

    /// Lowercase name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Requested => "requested",
            Self::Inserted => "inserted",
            Self::Verified => "verified",
            Self::Rejected => "rejected",
            Self::Used => "used",
            Self::Revoked => "revoked",
            Self::Expired => "expired",
            Self::Copied => "copied",
        }
    }
}

/// `Display` and `FromStr` of a closed set of names, from its `ALL` and `as_str`.
macro_rules! named_kinds {
    ($($kind:ty),*) => {$(
        impl fmt::Display for $kind {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $kind {
            type Err = UnknownAuditKind;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::ALL
                    .into_iter()
                    .find(|k| k.as_str() == s)
                    .ok_or(UnknownAuditKind)
            }
        }
    )*};
}

named_kinds!(AuditKind, AdminAction);

/// Not an audit kind.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown audit kind")]
pub struct UnknownAuditKind;

/// One audit line as a decision produces it, before the manager places it on a session key
/// and a time ([`AuditEntry::session`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditDraft {
    /// What.
    pub kind: AuditKind,
    /// Who.
    pub actor: Actor,
    /// Short outcome: `ok`, `sent`, `joined`, `mailed`, `issued`, `too_soon`, an error code…
    pub outcome: String,
    /// `…2920`: the last four characters of the code concerned, if any.
    pub code_hint: Option<String>,
}

/// An administration change recorded in the audit: users, credentials, mailboxes,
/// workstations and working hours, by the admin API/UI (`ws:<id>`) or the command line (`cli`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AdminAction {
    /// A Sistema TS user was added (with password and PIN).
    UserAdded,
    /// An existing user's profile was saved again (`tsgate user add` on a known id).
    UserUpdated,
    /// A user was removed with credentials, mailbox and session.
    UserRemoved,
    /// A user's Sistema TS password and PIN were replaced.
    CredentialsChanged,
    /// A user's certified-mailbox settings were saved.
    MailboxSet,
    /// A workstation was registered (the row names its id, never its token).
    WorkstationAdded,
    /// A workstation was revoked.
    WorkstationRevoked,
    /// The doctors a workstation acts for were changed.
    WorkstationUsersSet,
    /// The practice's working hours were set (the row has no user).
    PracticeHoursSet,
    /// A user's automatic requests or own working hours were set.
    ScheduleSet,
    /// A practice was created or renamed.
    PracticeSet,
    /// A doctor joined a practice.
    MemberAdded,
    /// A doctor left a practice.
    MemberRemoved,
    /// A bulk import ran (the row counts what it changed).
    Imported,
    /// A support bundle was downloaded (the row says how many doctors it describes).
    SupportBundle,
}

impl AdminAction {
    /// Every action, for filters and tests.
    pub const ALL: [AdminAction; 15] = [
        Self::UserAdded,
        Self::UserUpdated,
        Self::UserRemoved,
        Self::CredentialsChanged,
        Self::MailboxSet,
        Self::WorkstationAdded,
        Self::WorkstationRevoked,
        Self::WorkstationUsersSet,
        Self::PracticeHoursSet,
        Self::ScheduleSet,
        Self::PracticeSet,
        Self::MemberAdded,
        Self::MemberRemoved,
        Self::Imported,
        Self::SupportBundle,
    ];

    /// Stable snake_case name, as stored and as the API shows it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::UserAdded => "user_added",
            Self::UserUpdated => "user_updated",
            Self::UserRemoved => "user_removed",
            Self::CredentialsChanged => "credentials_changed",
            Self::MailboxSet => "mailbox_set",
            Self::WorkstationAdded => "workstation_added",
            Self::WorkstationRevoked => "workstation_revoked",
            Self::WorkstationUsersSet => "workstation_users_set",
            Self::PracticeHoursSet => "practice_hours_set",
            Self::ScheduleSet => "schedule_set",
            Self::PracticeSet => "practice_set",
            Self::MemberAdded => "member_added",
            Self::MemberRemoved => "member_removed",
            Self::Imported => "imported",
            Self::SupportBundle => "support_bundle",
        }
    }
}

/// The kind of an audit line: a session event or an administration change. The two sets of
/// names are disjoint, so the name alone says which.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(untagged)]
pub enum AuditEntryKind {
    /// Something that happened to a session code.
    Session(AuditKind),
    /// An administration change.
    Admin(AdminAction),
}

impl AuditEntryKind {
    /// Every kind: session kinds, then administration actions.
    pub fn all() -> impl Iterator<Item = AuditEntryKind> {
        AuditKind::ALL
            .into_iter()
            .map(Self::Session)
            .chain(AdminAction::ALL.into_iter().map(Self::Admin))
    }

    /// The stored name ([`AuditKind::as_str`] or [`AdminAction::as_str`]).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Session(k) => k.as_str(),
            Self::Admin(a) => a.as_str(),
        }
    }
}

impl fmt::Display for AuditEntryKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for AuditEntryKind {
    type Err = UnknownAuditKind;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        s.parse()
            .map(Self::Session)
            .or_else(|_| s.parse().map(Self::Admin))
    }
}

impl From<AuditKind> for AuditEntryKind {
    fn from(k: AuditKind) -> Self {
        Self::Session(k)
    }
}

impl From<AdminAction> for AuditEntryKind {
    fn from(a: AdminAction) -> Self {
        Self::Admin(a)
    }
}

/// One line of the audit, as stored and read back: a session event or an administration
/// change (which has no application and may have no user). It never holds a secret: no
/// password, PIN, code or workstation token; at most a code's last four characters.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntry {
    /// When.
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    /// Which Sistema TS user, if any.
    pub user: Option<UserId>,
    /// Prescriber or dispenser, for session events.
    pub application: Option<Application>,
    /// Who did it.
    pub actor: Actor,
    /// What.
    pub kind: AuditEntryKind,
    /// Short outcome.
    pub outcome: String,
    /// The last four characters of the code concerned, for session events.
    pub code_hint: Option<String>,
    /// The practice an administration change happened in (`None`: installation-wide, or a
    /// session event, which belongs to the user's practices).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub practice: Option<PracticeId>,
}

impl AuditEntry {
    /// A session event: `draft` happened to the session `key` at `at`.
    pub fn session(at: OffsetDateTime, key: &SessionKey, draft: AuditDraft) -> Self {
        Self {
            at,
            user: Some(key.user.clone()),
            application: Some(key.application),
            actor: draft.actor,
            kind: AuditEntryKind::Session(draft.kind),
            outcome: draft.outcome,
            code_hint: draft.code_hint,
            practice: None,
        }
    }

    /// An administration change by `actor` (`ws:<id>` of an admin workstation, `cli`,
    /// `system`), about `user` when it concerns one. `outcome` is `ok` or what was changed
    /// (`workstation <id> (staff)`), never a secret.
    pub fn admin(
        at: OffsetDateTime,
        actor: Actor,
        action: AdminAction,
        user: Option<UserId>,
        outcome: impl Into<String>,
    ) -> Self {
        Self {
            at,
            user,
            application: None,
            actor,
            kind: AuditEntryKind::Admin(action),
            outcome: outcome.into(),
            code_hint: None,
            practice: None,
        }
    }

    /// The same line, as happened in `practice`.
    pub fn in_practice(mut self, practice: Option<PracticeId>) -> Self {
        self.practice = practice;
        self
    }

    /// The session kind, for session events.
    pub fn session_kind(&self) -> Option<AuditKind> {
        match self.kind {
            AuditEntryKind::Session(k) => Some(k),
            AuditEntryKind::Admin(_) => None,
        }
    }
}

/// Filters for audit queries; `None` means "any". Results are newest first, session events
/// and administration changes together.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AuditFilter {
    /// Only this user.
    pub user: Option<UserId>,
    /// Only lines of this practice: its administration and its members' session events
    /// (the default practice also sees the installation's own lines: no practice, no user,
    /// such as the command line's working hours).
    pub practice: Option<PracticeId>,
    /// Only this actor.
    pub actor: Option<Actor>,
    /// Only this kind: a session kind or an administration action.
    pub kind: Option<AuditEntryKind>,
    /// At or after.
    pub since: Option<OffsetDateTime>,
    /// Strictly before.
    pub until: Option<OffsetDateTime>,
    /// At most this many (default [`AuditFilter::DEFAULT_LIMIT`], at most
    /// [`AuditFilter::MAX_LIMIT`]).
    pub limit: Option<u32>,
}

impl AuditFilter {
    /// Lines returned when no limit is given.
    pub const DEFAULT_LIMIT: u32 = 100;
    /// The largest limit honoured.
    pub const MAX_LIMIT: u32 = 10_000;

    /// The limit to apply.
    pub fn effective_limit(&self) -> u32 {
        self.limit
            .unwrap_or(Self::DEFAULT_LIMIT)
            .clamp(1, Self::MAX_LIMIT)
    }

    /// Whether `entry` passes this filter (the limit and the practice aside: membership is
    /// the store's to check).
    pub fn matches(&self, entry: &AuditEntry) -> bool {
        self.user
            .as_ref()
            .is_none_or(|u| entry.user.as_ref() == Some(u))
            && self.actor.as_ref().is_none_or(|a| &entry.actor == a)
            && self.kind.is_none_or(|k| entry.kind == k)
            && self.since.is_none_or(|t| entry.at >= t)
            && self.until.is_none_or(|t| entry.at < t)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_name_is_unique_and_parses_back() {
        let names: Vec<&str> = AuditEntryKind::all().map(AuditEntryKind::as_str).collect();
        let mut unique = names.clone();
        unique.sort_unstable();
        unique.dedup();
        assert_eq!(unique.len(), names.len(), "{names:?}");
        for kind in AuditEntryKind::all() {
            assert_eq!(kind.as_str().parse::<AuditEntryKind>(), Ok(kind));
            let json = serde_json::to_string(&kind).unwrap();
            assert_eq!(json, format!("\"{kind}\""));
            assert_eq!(serde_json::from_str::<AuditEntryKind>(&json).unwrap(), kind);
        }
        assert_eq!(
            "workstation_added".parse::<AuditEntryKind>(),
            Ok(AuditEntryKind::Admin(AdminAction::WorkstationAdded))
        );
        assert_eq!(
            "revoked".parse::<AuditEntryKind>(),
            Ok(AuditEntryKind::Session(AuditKind::Revoked))
        );
        assert!("activated".parse::<AuditEntryKind>().is_err());
        assert!("".parse::<AdminAction>().is_err());
    }
}
