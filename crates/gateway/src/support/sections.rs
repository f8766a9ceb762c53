//! The sections of a support bundle: every field is named here and copied one by one from
//! the domain's types. Nothing is serialized whole (a session record holds the code, a
//! mailbox's settings its password, a profile the doctor's fiscal code), so a field added
//! to a domain type never reaches a bundle until someone adds it here.

use serde::Serialize;
use time::OffsetDateTime;
use tsgate_session::auto::{AutoMode, UserSchedule};
use tsgate_session::mailbox::{Diagnostic, MailboxView, Tls};
use tsgate_session::{
    Application, Environment, Level, Role, SessionRecord, SessionView, StateName, UserProfile,
    Workstation, WorkstationRole,
};

use super::audit::HistoryLine;

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
