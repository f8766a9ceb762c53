//! Automatic requests: the doctor never handles the code.
//!
//! Where a certified mailbox is configured and working, tsgate asks for each code itself:
//! before the start of every working range (so the card is green before the first patient)
//! and, within working hours, early enough before expiry that the replacement is mailed,
//! verified and switched to before the old code ends. Never outside working hours unless a
//! proxied call needs a code ([`crate::SessionManager::obtain_for_proxy`]), never after
//! Sistema TS refused password or PIN, at most [`crate::Policy::auto_daily_cap`] per day, with a
//! backoff after failures.
//!
//! - [`plan`] is the pure decision (what is due, when, or why nothing is);
//! - [`Autopilot`] runs it periodically over every user and performs what is due.

mod pilot;
mod plan;

use serde::{Deserialize, Serialize};
use time::{Date, OffsetDateTime};

pub use pilot::Autopilot;
pub(crate) use plan::cap_reached;
pub use plan::{AutoInputs, Plan, plan};

use crate::hours::WorkingHours;
use crate::ports::{ScheduleRepo, StoreResult};

/// Whether a user's codes are requested automatically.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AutoMode {
    /// On when the user's certified mailbox is configured and its last check succeeded.
    #[default]
    Default,
    /// Always on (the codes may have to be pasted if no mailbox is watched).
    On,
    /// Never: the doctor asks for each code.
    Off,
}

impl AutoMode {
    /// `default`, `on`, `off`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Default => "default",
            Self::On => "on",
            Self::Off => "off",
        }
    }

    /// Parses [`AutoMode::as_str`].
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "default" => Some(Self::Default),
            "on" => Some(Self::On),
            "off" => Some(Self::Off),
            _ => None,
        }
    }
}

/// One user's choices: automatic requests and own working hours (`None`: the practice's).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserSchedule {
    /// Automatic requests.
    #[serde(default)]
    pub auto: AutoMode,
    /// Own working hours, or `None` to follow the practice default.
    #[serde(default)]
    pub hours: Option<WorkingHours>,
}

/// Where working hours come from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HoursSource {
    /// The user's own hours.
    User,
    /// The practice's, from the configuration file (`[working_hours]`): read-only in the UI
    /// and the API.
    File,
    /// The practice's, set by an administrator (UI, API or command line).
    Stored,
    /// The practice's built-in default ([`WorkingHours::default`]): nobody set them yet.
    BuiltIn,
}

impl HoursSource {
    /// `user`, `file`, `stored`, `built_in`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::User => "user",
            Self::File => "file",
            Self::Stored => "stored",
            Self::BuiltIn => "built_in",
        }
    }

    /// Where they come from, in Italian, for the administrator.
    pub fn describe(self) -> &'static str {
        match self {
            Self::User => "orari propri del medico",
            Self::File => {
                "orari dello studio dal file di configurazione di tsgate (sezione \
                 [working_hours]): si cambiano lì e valgono al riavvio"
            }
            Self::Stored => "orari dello studio impostati dall'amministratore",
            Self::BuiltIn => {
                "orari predefiniti di tsgate (lunedì-venerdì 08:00-19:30, chiuso nei festivi): \
                 impostali per il tuo studio"
            }
        }
    }
}

/// The practice's working hours and where they come from: those of the configuration file
/// (`file`) when given, else the stored ones, else the built-in default. The one rule shared
/// by the autopilot, the API and the command line.
pub async fn practice_hours(
    schedules: &dyn ScheduleRepo,
    file: Option<&WorkingHours>,
) -> StoreResult<(WorkingHours, HoursSource)> {
    if let Some(h) = file {
        return Ok((h.clone(), HoursSource::File));
    }
    Ok(match schedules.practice_hours().await? {
        Some(h) => (h, HoursSource::Stored),
        None => (WorkingHours::default(), HoursSource::BuiltIn),
    })
}

/// The hours `user` works by, given `schedule` (theirs): their own, or the practice's.
pub async fn effective_hours(
    schedules: &dyn ScheduleRepo,
    file: Option<&WorkingHours>,
    schedule: &UserSchedule,
) -> StoreResult<(WorkingHours, HoursSource)> {
    match &schedule.hours {
        Some(h) => Ok((h.clone(), HoursSource::User)),
        None => practice_hours(schedules, file).await,
    }
}

impl UserSchedule {
    /// One line for the audit and the command line: `automatiche: predefinito; orari: come lo
    /// studio`.
    pub fn summary(&self) -> String {
        let auto = match self.auto {
            AutoMode::Default => "predefinito",
            AutoMode::On => "sempre",
            AutoMode::Off => "mai",
        };
        let hours = match &self.hours {
            Some(h) => h.summary(),
            None => "come lo studio".to_owned(),
        };
        format!("automatiche: {auto}; orari: {hours}")
    }
}

time::serde::format_description!(iso_day, Date, "[year]-[month]-[day]");

/// What automatic requests have done today for one key (part of the session record, so
/// that a restart or another node keeps the count). Serializable so that stores can keep it
/// as it is.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AutoState {
    /// The Italian day [`Self::creates`] counts.
    #[serde(default, with = "iso_day::option")]
    pub day: Option<Date>,
    /// Automatic `create`s sent that day.
    #[serde(default)]
    pub creates: u32,
    /// Failures in a row (a refused or unanswered `create`, a mail that never came).
    #[serde(default)]
    pub failures: u32,
    /// No automatic request before this (backoff after a failure).
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub retry_at: Option<OffsetDateTime>,
}

impl AutoState {
    /// Nothing recorded (for `skip_serializing_if`).
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}

impl AutoState {
    /// One more failure in a row at `now`: no automatic request before the backoff.
    pub fn record_failure(&mut self, now: OffsetDateTime, policy: &crate::policy::Policy) {
        self.failures += 1;
        self.retry_at = Some(now + policy.auto_backoff_after(self.failures));
    }

    /// Automatic `create`s sent on the Italian day `today`.
    pub fn creates_on(&self, today: Date) -> u32 {
        if self.day == Some(today) {
            self.creates
        } else {
            0
        }
    }
}

/// Why a request was made automatically (audited as the outcome's prefix).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AutoReason {
    /// Before a working range starts, no code would cover it.
    StartOfHours,
    /// The code in use expires within working hours.
    BeforeExpiry,
    /// A proxied call is waiting for a code.
    HeldCall,
}

/// What workstations see of the automatic requests of one user.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AutoView {
    /// Automatic requests are on for this user.
    pub enabled: bool,
    /// When the next automatic request is planned.
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub next_at: Option<OffsetDateTime>,
    /// The next automatic action in Italian ("Rinnovo automatico alle 12:40").
    pub next: Option<String>,
    /// Why nothing is planned, in Italian, with the next step.
    pub reason: Option<String>,
}
