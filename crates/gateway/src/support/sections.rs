//! The sections of a support bundle: every field is named here and copied one by one from
//! the domain's types. Nothing is serialized whole (a session record holds the code, a
//! mailbox's settings its password, a profile the doctor's fiscal code), so a field added
//! to a domain type never reaches a bundle until someone adds it here.

use serde::Serialize;
use time::OffsetDateTime;
use tsgate_session::auto::{AutoMode, UserSchedule};
use tsgate_session::mailbox::{Diagnostic, MailboxView, Tls};
use tsgate_session::{
    Application, AuditEntry, Environment, Level, Role, SessionRecord, SessionView, StateName,
    UserProfile, Workstation, WorkstationRole,
};

/// What was built and where it runs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct BuildInfo {
    /// tsgate's version (the workspace's).
    pub version: &'static str,
    /// `release` or `debug`.
    pub profile: &'static str,
    /// Operating system (`linux`, `windows`, `macos`).
    pub os: &'static str,
    /// CPU architecture (`x86_64`, `aarch64`).
    pub arch: &'static str,
    /// The kernel's release, where the system says it (Linux).
    pub kernel: Option<String>,
}

impl BuildInfo {
    /// This process.
    pub fn current() -> Self {
        let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
            .ok()
            .map(|k| k.trim().chars().take(64).collect::<String>())
            .filter(|k| !k.is_empty());
        Self {
            version: env!("CARGO_PKG_VERSION"),
            profile: if cfg!(debug_assertions) {
                "debug"
            } else {
                "release"
            },
            os: std::env::consts::OS,
            arch: std::env::consts::ARCH,
            kernel,
        }
    }
}

/// The serving process, when the bundle comes from one.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct NodeInfo {
    /// The node's name (the host name unless configured).
    pub name: String,
    /// When it started serving.
    #[serde(with = "time::serde::rfc3339")]
    pub serving_since: OffsetDateTime,
    /// Seconds since then.
    pub uptime_seconds: i64,
}

/// One practice of the installation and how big it is (installation-wide bundles).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PracticeLine {
    /// Identifier.
    pub id: String,
    /// Name.
    pub name: String,
    /// Member doctors.
    pub doctors: u64,
    /// Live workstations.
    pub workstations: u64,
    /// Doctors whose session holds a code now.
    pub active_sessions: u64,
}

/// A workstation of the practice: its id is what the history's actors (`ws:<id>`) name.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct WorkstationLine {
    /// Id (never the token).
    pub id: String,
    /// Name.
    pub name: String,
    /// Role.
    pub role: WorkstationRole,
    /// How many doctors it acts for (roles that list them).
    pub doctors: usize,
}

impl From<&Workstation> for WorkstationLine {
    fn from(w: &Workstation) -> Self {
        Self {
            id: w.id.0.clone(),
            name: w.name.clone(),
            role: w.role,
            doctors: w.users.len(),
        }
    }
}

/// One doctor (a Sistema TS user), named by the user id only: no name, no fiscal code.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Doctor {
    /// Sistema TS user id.
    pub user: String,
    /// titolare, sostituto, farmacia.
    pub role: Role,
    /// Which Sistema TS the credentials belong to.
    pub environment: Environment,
    /// Region code.
    pub region: String,
    /// ASL code.
    pub asl: String,
    /// The session, as every workstation sees it (`None` when it could not be read).
    pub session: Option<SessionLine>,
    /// Automatic requests.
    pub automatic: Automatic,
    /// The certified mailbox.
    pub mailbox: MailboxLine,
    /// The newest audit lines about this doctor, newest first.
    pub history: Vec<HistoryLine>,
}

impl Doctor {
    /// The doctor of `profile`, with the parts read elsewhere.
    pub(crate) fn new(
        profile: &UserProfile,
        session: Option<SessionLine>,
        automatic: Automatic,
        mailbox: MailboxLine,
        history: Vec<HistoryLine>,
    ) -> Self {
        Self {
            user: profile.user_id.as_str().to_owned(),
            role: profile.role,
            environment: profile.environment,
            region: profile.region.clone(),
            asl: profile.asl.clone(),
            session,
            automatic,
            mailbox,
            history,
        }
    }
}

/// An error with its stable code and Italian message.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ErrorLine {
    /// Stable code (`mail_late`, `upstream_unavailable`, `password_refused`…).
    pub code: String,
    /// Italian message with the next step.
    pub message: String,
    /// When it happened, when known.
    #[serde(with = "time::serde::rfc3339::option")]
    pub at: Option<OffsetDateTime>,
}

/// The session of one doctor: state and times, never the code.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SessionLine {
    /// PRESCRITTORE or EROGATORE.
    pub application: Application,
    /// State name.
    pub state: StateName,
    /// Colour.
    pub level: Level,
    /// Expiry of the code in use.
    #[serde(with = "time::serde::rfc3339::option")]
    pub expires_at: Option<OffsetDateTime>,
    /// Seconds until then.
    pub remaining_seconds: Option<i64>,
    /// A replacement is on its way.
    pub pending: bool,
    /// When the current request was made.
    #[serde(with = "time::serde::rfc3339::option")]
    pub requested_at: Option<OffsetDateTime>,
    /// Who made it (`ws:<id>`, `cli`, `auto`…).
    pub requested_by: Option<String>,
    /// When the last `create` was sent.
    #[serde(with = "time::serde::rfc3339::option")]
    pub last_create_at: Option<OffsetDateTime>,
    /// The last problem.
    pub last_error: Option<ErrorLine>,
    /// Sistema TS refused the credentials: which (`password`, `pin`, `user`), since when.
    pub credentials_refused: Option<String>,
    /// The password expiry warning.
    pub password_warning: Option<String>,
    /// Last call Sistema TS answered.
    #[serde(with = "time::serde::rfc3339::option")]
    pub upstream_last_success_at: Option<OffsetDateTime>,
    /// Sistema TS has not answered since.
    #[serde(with = "time::serde::rfc3339::option")]
    pub upstream_down_since: Option<OffsetDateTime>,
}

impl SessionLine {
    /// From the view every workstation gets and the record it was made of.
    pub(crate) fn new(view: &SessionView, record: &SessionRecord) -> Self {
        Self {
            application: view.application,
            state: view.state,
            level: view.level,
            expires_at: view.expires_at,
            remaining_seconds: view.remaining_seconds,
            pending: view.pending,
            requested_at: view.requested_at,
            requested_by: view.requested_by.as_ref().map(ToString::to_string),
            last_create_at: record.last_create_at,
            last_error: record.last_error.as_ref().map(|e| ErrorLine {
                code: e.code.clone(),
                message: e.message.clone(),
                at: Some(e.at),
            }),
            credentials_refused: record.blocked.as_ref().map(|b| {
                format!(
                    "{} ({})",
                    b.kind.as_str(),
                    b.at.format(&time::format_description::well_known::Rfc3339)
                        .unwrap_or_default()
                )
            }),
            password_warning: view.password_warning.clone(),
            upstream_last_success_at: record.upstream.last_success_at,
            upstream_down_since: record.upstream.down_since,
        }
    }
}

/// Automatic requests of one doctor.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Automatic {
    /// `default`, `on`, `off`.
    pub mode: AutoMode,
    /// The doctor has own working hours (else the practice's).
    pub own_hours: bool,
    /// On now (known to a serving process only).
    pub enabled: Option<bool>,
    /// The next automatic request.
    #[serde(with = "time::serde::rfc3339::option")]
    pub next_at: Option<OffsetDateTime>,
    /// The next action, in Italian.
    pub next: Option<String>,
    /// Why nothing is planned, in Italian.
    pub reason: Option<String>,
    /// Automatic `create`s sent on the day counted.
    pub creates_today: u32,
    /// Failures in a row.
    pub failures: u32,
    /// No automatic request before this (backoff).
    #[serde(with = "time::serde::rfc3339::option")]
    pub retry_at: Option<OffsetDateTime>,
}

impl Automatic {
    /// From the stored choices, the view's plan and the record's counters.
    pub(crate) fn new(
        schedule: Option<&UserSchedule>,
        view: Option<&SessionView>,
        record: Option<&SessionRecord>,
    ) -> Self {
        let auto = view.and_then(|v| v.auto.as_ref());
        let state = record.map(|r| &r.auto);
        Self {
            mode: schedule.map(|s| s.auto).unwrap_or_default(),
            own_hours: schedule.is_some_and(|s| s.hours.is_some()),
            enabled: auto.map(|a| a.enabled),
            next_at: auto.and_then(|a| a.next_at),
            next: auto.and_then(|a| a.next.clone()),
            reason: auto.and_then(|a| a.reason.clone()),
            creates_today: state.map_or(0, |s| s.creates),
            failures: state.map_or(0, |s| s.failures),
            retry_at: state.and_then(|s| s.retry_at),
        }
    }
}

/// One diagnostic of a mailbox.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct DiagnosticLine {
    /// Stable kind (`login_refused`, `mailbox_full`, `found_in_junk`…).
    pub code: String,
    /// Italian text with the next step.
    pub message: String,
    /// When it was raised.
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
}

impl From<&Diagnostic> for DiagnosticLine {
    fn from(d: &Diagnostic) -> Self {
        Self {
            code: serde_json::to_value(d.code)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default(),
            message: d.message.clone(),
            at: d.at,
        }
    }
}

/// The certified mailbox of one doctor: the server and what the watcher (or the login of
/// `tsgate check`) saw. Never the password (nor, here, the login or the certified address).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct MailboxLine {
    /// Settings exist.
    pub configured: bool,
    /// IMAP host.
    pub host: Option<String>,
    /// Port used.
    pub port: Option<u16>,
    /// Transport security.
    pub security: Option<Tls>,
    /// A private certificate authority is configured.
    pub private_ca: bool,
    /// Logged in now.
    pub connected: bool,
    /// Last successful look at the folders.
    #[serde(with = "time::serde::rfc3339::option")]
    pub last_check: Option<OffsetDateTime>,
    /// The mailbox's last failure.
    pub last_error: Option<DiagnosticLine>,
    /// Current diagnostics of the mailbox and of this doctor.
    pub diagnostics: Vec<DiagnosticLine>,
    /// How full the mailbox is (percent), when the server says.
    pub quota_percent: Option<u8>,
    /// The server supports IDLE.
    pub idle: bool,
    /// Folders watched.
    pub folders: Vec<String>,
    /// The spam folder is found by itself.
    pub find_junk: bool,
    /// A code of this doctor is awaited now.
    pub awaiting: bool,
    /// How many other doctors share this mailbox.
    pub shared_with_others: usize,
}

impl From<&MailboxView> for MailboxLine {
    fn from(v: &MailboxView) -> Self {
        let settings = v.settings.as_ref();
        Self {
            configured: v.configured,
            host: settings.map(|s| s.host.clone()),
            port: settings.map(|s| s.port),
            security: settings.map(|s| s.security),
            private_ca: settings.is_some_and(|s| s.ca_pem.is_some()),
            connected: v.connected,
            last_check: v.last_check,
            last_error: v.last_error.as_ref().map(DiagnosticLine::from),
            diagnostics: v.diagnostics.iter().map(DiagnosticLine::from).collect(),
            quota_percent: v.quota_percent,
            idle: v.idle,
            folders: v.folders.clone(),
            find_junk: settings.is_some_and(|s| s.find_junk),
            awaiting: v.awaiting,
            shared_with_others: v.shared_with.len(),
        }
    }
}

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
