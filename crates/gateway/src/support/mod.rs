//! The support bundle: one file that a practice sends to its support desk instead of a phone
//! call — version, the configuration without secrets, the results of `tsgate check`, recent
//! errors, the certified mailboxes' diagnostics, each doctor's session and history, and the
//! audit in numbers.
//!
//! One implementation for both ways of asking: `tsgate support-bundle` (the command line,
//! on the server's database) and `GET /api/v1/support-bundle` (the admin page's button).
//! [`collect`] reads the domain's ports; the binary adds what only it knows (the
//! configuration file and the checks) as an [`Installation`]; [`Bundle::to_zip`] writes the
//! file: `LEGGIMI.txt` for people and `tsgate-support.json` for programs.
//!
//! **Built from an allow-list.** Every field of the bundle is named in `sections.rs` or
//! `audit.rs` (and the binary's configuration summary) and
//! copied one by one from the domain's types; nothing is serialized whole and nothing is
//! masked after the fact. So no password, PIN, code (at most its `…2920` hint), workstation
//! token, mailbox password, certified address, doctor's name or fiscal code (doctors are
//! named by their Sistema TS user id), or patient data can be in it: there is no field for
//! them.

mod audit;
mod sections;
mod summary;

use std::sync::Arc;

use serde::Serialize;
use time::OffsetDateTime;
use tsgate_session::mailbox::{MailboxStatus, MailboxView};
use tsgate_session::{
    AuditFilter, ListQuery, MailboxService, PracticeId, SessionManager, Store, StoreError,
    UserProfile,
};

pub use audit::{AuditCount, AuditSummary, HistoryLine, RecentError};
pub use sections::{
    Automatic, BuildInfo, DiagnosticLine, Doctor, ErrorLine, MailboxLine, NodeInfo, PracticeLine,
    SessionLine, WorkstationLine,
};

/// The version of the bundle's JSON layout.
pub const FORMAT: u32 = 1;
/// Doctors described one by one, at most (the rest are counted).
pub const MAX_DOCTORS: u32 = 500;
/// Audit lines per doctor.
pub const HISTORY_LINES: u32 = 20;
/// Recent errors listed, at most.
pub const MAX_RECENT_ERRORS: usize = 100;
/// Days the audit summary and the recent errors cover.
pub const SUMMARY_DAYS: i64 = 7;

/// How one check of `tsgate check` ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum CheckStatus {
    /// Fine.
    Ok,
    /// Works, but needs attention soon (a certificate close to expiry, a full mailbox).
    Warn,
    /// Does not work.
    Fail,
}

impl CheckStatus {
    /// The word `tsgate check` prints in front of the line.
    pub fn label(self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::Warn => "WARN",
            Self::Fail => "FAIL",
        }
    }
}

/// One line of `tsgate check`: what was checked and what was found (never a secret: the
/// checks name files, addresses and users, and quote errors without their values).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Check {
    /// How it ended.
    pub status: CheckStatus,
    /// What was checked and what was found, with the next step when it failed.
    pub text: String,
}

impl Check {
    /// A check that ended with `status`.
    pub fn new(status: CheckStatus, text: impl Into<String>) -> Self {
        Self {
            status,
            text: text.into(),
        }
    }
}

/// What only the binary knows: the configuration (an allow-list of its non-secret keys,
/// built by the binary field by field) and the results of `tsgate check`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Installation {
    /// The configuration's non-secret keys.
    pub configuration: serde_json::Value,
    /// The checks, in the order `tsgate check` prints them.
    pub checks: Vec<Check>,
}

/// Gives a serving gateway the [`Installation`] part of its bundles
/// ([`crate::AppState::set_support`]).
#[tsgate_session::async_trait]
pub trait InstallationReport: Send + Sync + 'static {
    /// The configuration and the checks, run now (the mailbox logins excepted: the serving
    /// watchers' own state is in the bundle, and a login more per click could lock an
    /// account).
    async fn report(&self) -> Installation;
}

/// Whose data a bundle holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Scope {
    /// One practice: its doctors, workstations and audit.
    Practice(PracticeId),
    /// The whole installation in numbers: practices and their counts, the audit summary,
    /// no doctor named. An installation of one practice is that practice.
    Installation,
}

/// Where a bundle's data comes from.
#[derive(Clone, Copy)]
pub struct Sources<'a> {
    /// Sessions as workstations see them (with the automatic-request plan when serving).
    pub sessions: &'a SessionManager,
    /// Users, workstations, the audit, mailbox settings.
    pub store: &'a dyn Store,
    /// The mailboxes' live state (serving), or what `tsgate check` found (command line);
    /// `None`: the stored settings only.
    pub mailboxes: Option<&'a dyn MailboxService>,
}

impl std::fmt::Debug for Sources<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sources")
            .field("mailboxes", &self.mailboxes.is_some())
            .finish_non_exhaustive()
    }
}

/// Who asked, and the process that answers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Origin {
    /// `cli`, or the admin workstation's actor (`ws:<id>`).
    pub produced_by: String,
    /// The serving node, when a server builds the bundle.
    pub node: Option<NodeInfo>,
}

/// The practice a bundle is about.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PracticeInfo {
    /// Identifier.
    pub id: String,
    /// Name.
    pub name: String,
    /// Member doctors.
    pub doctors: u64,
}

/// A whole support bundle, as `tsgate-support.json` holds it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Bundle {
    /// Layout version ([`FORMAT`]).
    pub format: u32,
    /// When it was made.
    #[serde(with = "time::serde::rfc3339")]
    pub generated_at: OffsetDateTime,
    /// `cli` or `ws:<id>`.
    pub produced_by: String,
    /// Version, build, system.
    pub build: BuildInfo,
    /// The serving node, when a server made it.
    pub node: Option<NodeInfo>,
    /// The practice it describes (`None`: the installation in numbers).
    pub practice: Option<PracticeInfo>,
    /// The configuration and the checks, when the caller may see the installation's.
    pub installation: Option<Installation>,
    /// Why [`Bundle::installation`] is missing.
    pub installation_note: Option<String>,
    /// Why the practices, doctors and audit are missing (the database could not be read).
    pub data_note: Option<String>,
    /// Every practice in numbers (installation bundles).
    pub practices: Vec<PracticeLine>,
    /// The practice's workstations (ids and names: the history names them by id).
    pub workstations: Vec<WorkstationLine>,
    /// The practice's doctors, by user id.
    pub doctors: Vec<Doctor>,
    /// Doctors of the practice not described (over [`MAX_DOCTORS`]).
    pub doctors_omitted: u64,
    /// Recent failures, newest first.
    pub recent_errors: Vec<RecentError>,
    /// The audit of the last [`SUMMARY_DAYS`] days in numbers.
    pub audit_summary: AuditSummary,
}

/// Reads everything a bundle of `scope` holds. `installation` is the binary's part, or why
/// it is missing.
pub async fn collect(
    origin: Origin,
    installation: Result<Installation, String>,
    sources: Sources<'_>,
    scope: Scope,
) -> Result<Bundle, StoreError> {
    let store = sources.store;
    let now = sources.sessions.now();
    let practice = match scope {
        Scope::Practice(p) => Some(p),
        Scope::Installation => only_practice(store).await?,
    };
    let since = now - time::Duration::days(SUMMARY_DAYS);
    let filter = AuditFilter {
        practice: practice.clone(),
        since: Some(since),
        limit: Some(AuditFilter::MAX_LIMIT),
        ..AuditFilter::default()
    };
    let audit = store.query(&filter).await?;
    let truncated = audit.len() >= AuditFilter::MAX_LIMIT as usize;
    let named = practice.is_some();
    let mut recent_errors: Vec<RecentError> = audit
        .iter()
        .filter(|e| audit::is_failure(e))
        .map(|e| RecentError::audited(e, named))
        .collect();
    let (installation, installation_note) = match installation {
        Ok(i) => (Some(i), None),
        Err(note) => (None, Some(note)),
    };
    let mut bundle = Bundle {
        format: FORMAT,
        generated_at: OffsetDateTime::now_utc(),
        produced_by: origin.produced_by,
        build: BuildInfo::current(),
        node: origin.node,
        practice: None,
        installation,
        installation_note,
        data_note: None,
        practices: Vec::new(),
        workstations: Vec::new(),
        doctors: Vec::new(),
        doctors_omitted: 0,
        recent_errors: Vec::new(),
        audit_summary: AuditSummary::of(&audit, since, now, truncated),
    };
    match practice {
        Some(p) => {
            let found = store
                .practice(&p)
                .await?
                .ok_or_else(|| StoreError::NotFound(format!("practice {p}")))?;
            let counts = store.practice_counts(&p).await?;
            bundle.practice = Some(PracticeInfo {
                id: p.to_string(),
                name: found.name,
                doctors: counts.users,
            });
            let query = |limit| ListQuery {
                practice: Some(p.clone()),
                limit: Some(limit),
                ..ListQuery::default()
            };
            bundle.workstations = store
                .workstations_page(&query(ListQuery::MAX_LIMIT))
                .await?
                .items
                .iter()
                .map(WorkstationLine::from)
                .collect();
            let users = store.users_page(&query(MAX_DOCTORS)).await?.items;
            bundle.doctors_omitted = counts.users.saturating_sub(users.len() as u64);
            for profile in &users {
                let doctor = doctor(sources, &p, profile).await?;
                if let Some(e) = doctor.session.as_ref().and_then(|s| s.last_error.as_ref()) {
                    recent_errors.extend(RecentError::of_session(&doctor.user, e));
                }
                bundle.doctors.push(doctor);
            }
        }
        None => {
            let page = store
                .practices_page(&ListQuery {
                    limit: Some(ListQuery::MAX_LIMIT),
                    ..ListQuery::default()
                })
                .await?;
            for p in page.items {
                let counts = store.practice_counts(&p.id).await?;
                bundle.practices.push(PracticeLine {
                    id: p.id.to_string(),
                    name: p.name,
                    doctors: counts.users,
                    workstations: counts.workstations,
                    active_sessions: counts.active_sessions,
                });
            }
        }
    }
    recent_errors.sort_by_key(|e| std::cmp::Reverse(e.at));
    recent_errors.truncate(MAX_RECENT_ERRORS);
    bundle.recent_errors = recent_errors;
    Ok(bundle)
}

/// The practice of an installation that has exactly one.
async fn only_practice(store: &dyn Store) -> Result<Option<PracticeId>, StoreError> {
    let page = store
        .practices_page(&ListQuery {
            limit: Some(2),
            ..ListQuery::default()
        })
        .await?;
    Ok(match page.items.as_slice() {
        [only] => Some(only.id.clone()),
        _ => None,
    })
}

/// One doctor's sections.
async fn doctor(
    sources: Sources<'_>,
    practice: &PracticeId,
    profile: &UserProfile,
) -> Result<Doctor, StoreError> {
    let user = &profile.user_id;
    let store = sources.store;
    // A session that cannot be read is reported as missing, not as a failed bundle.
    let view = sources.sessions.status(user).await.ok();
    let record = sources.sessions.record(user).await.ok();
    let session = view
        .as_ref()
        .zip(record.as_ref())
        .map(|(v, r)| SessionLine::new(v, r));
    let schedule = store.schedule(user).await.ok();
    let automatic = Automatic::new(schedule.as_ref(), view.as_ref(), record.as_ref());
    let mailbox = match sources.mailboxes {
        Some(service) => service
            .status(user)
            .await
            .map(|v| MailboxLine::from(&v))
            .unwrap_or_default(),
        None => match store.mailbox(user).await? {
            Some(m) => MailboxLine::from(&MailboxView::of(
                user,
                &m,
                MailboxStatus {
                    configured: true,
                    ..MailboxStatus::default()
                },
                Vec::new(),
                Vec::new(),
            )),
            None => MailboxLine::default(),
        },
    };
    let history = store
        .query(&AuditFilter {
            user: Some(user.clone()),
            practice: Some(practice.clone()),
            limit: Some(HISTORY_LINES),
            ..AuditFilter::default()
        })
        .await?
        .iter()
        .map(HistoryLine::from)
        .collect();
    Ok(Doctor::new(profile, session, automatic, mailbox, history))
}

/// Why building or writing a bundle failed.
#[derive(Debug, thiserror::Error)]
pub enum BundleError {
    /// Reading the data failed.
    #[error("cannot read the data of the bundle")]
    Store(#[from] StoreError),
    /// Writing the archive failed.
    #[error("cannot write the bundle: {0}")]
    Write(String),
}

impl Bundle {
    /// A bundle without the database's part (it could not be opened: `data_note` says why):
    /// version, configuration and checks, which tell what is wrong.
    pub fn without_data(origin: Origin, installation: Installation, data_note: String) -> Self {
        let now = OffsetDateTime::now_utc();
        Self {
            format: FORMAT,
            generated_at: now,
            produced_by: origin.produced_by,
            build: BuildInfo::current(),
            node: origin.node,
            practice: None,
            installation: Some(installation),
            installation_note: None,
            data_note: Some(data_note),
            practices: Vec::new(),
            workstations: Vec::new(),
            doctors: Vec::new(),
            doctors_omitted: 0,
            recent_errors: Vec::new(),
            audit_summary: AuditSummary::of(
                &[],
                now - time::Duration::days(SUMMARY_DAYS),
                now,
                false,
            ),
        }
    }

    /// The bundle as JSON (the content of `tsgate-support.json`).
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default()
    }

    /// The file: a `.zip` with `LEGGIMI.txt` (the summary, Italian with English headings) and
    /// `tsgate-support.json`.
    pub fn to_zip(&self) -> Result<Vec<u8>, BundleError> {
        summary::zip(self).map_err(|e| BundleError::Write(e.to_string()))
    }

    /// The human-readable summary (`LEGGIMI.txt`).
    pub fn summary(&self) -> String {
        summary::text(self)
    }

    /// `tsgate-support-<practice>-YYYYMMDD-HHMMSS.zip` (UTC).
    pub fn file_name(&self) -> String {
        let t = self.generated_at;
        let scope = self
            .practice
            .as_ref()
            .map_or_else(|| "installazione".to_owned(), |p| p.id.clone());
        format!(
            "tsgate-support-{scope}-{:04}{:02}{:02}-{:02}{:02}{:02}.zip",
            t.year(),
            u8::from(t.month()),
            t.day(),
            t.hour(),
            t.minute(),
            t.second()
        )
    }
}

/// A shared [`InstallationReport`].
pub type SharedReport = Arc<dyn InstallationReport>;
