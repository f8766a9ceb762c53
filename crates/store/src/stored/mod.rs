//! What both backends store, independent of the SQL dialect: the same columns hold the same
//! text, numbers and sealed bytes in SQLite and in PostgreSQL (times in Unix milliseconds,
//! dates as `YYYY-MM-DD`, JSON as text, secrets sealed per [`Slot`]), so that a database
//! moves from one backend to the other by copying rows.
//!
//! The row types derive [`sqlx::FromRow`] for any backend's row; each converts into the
//! domain's type, refusing stored data that does not parse ([`Error::Corrupt`]).

pub(crate) mod session;

use time::macros::format_description;
use time::{Date, OffsetDateTime};
use tsgate_session::mailbox::{MailboxSettings, UserMailbox};
use tsgate_session::{
    Application, AuditEntry, Environment, Password, Practice, PracticeId, Role, UserId,
    UserProfile, Workstation, WorkstationId, WorkstationRole,
};

use crate::crypto::Slot;
use crate::error::{Error, Result};

/// Unix milliseconds of `t` (the stored form of every time outside JSON).
pub(crate) fn ms(t: OffsetDateTime) -> i64 {
    i64::try_from(t.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX)
}

/// The time of stored Unix milliseconds.
pub(crate) fn from_ms(v: i64) -> Result<OffsetDateTime> {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(v) * 1_000_000)
        .map_err(|e| Error::Corrupt(format!("timestamp {v}: {e}")))
}

const DATE: &[time::format_description::BorrowedFormatItem<'static>] =
    format_description!("[year]-[month]-[day]");

/// The stored form of a date: `YYYY-MM-DD`.
pub(crate) fn date_text(d: Date) -> Result<String> {
    d.format(DATE).map_err(|e| Error::Corrupt(e.to_string()))
}

/// The slot of a user's password (`password_enc`) or PIN (`pin_enc`).
pub(crate) fn credentials_slot<'a>(user: &'a str, column: &'a str) -> Slot<'a> {
    Slot {
        table: "credentials",
        column,
        row: user,
    }
}

/// The slot of a user's mailbox password.
pub(crate) fn mailbox_slot(user: &str) -> Slot<'_> {
    Slot {
        table: "mailboxes",
        column: "password_enc",
        row: user,
    }
}

/// Every sealed column besides the key check, as `(table, column, query)`: the query gives
/// each value's row key (the slot's `row`) and the sealed bytes, in the same SQL for both
/// backends. A new sealed column goes here, so that verifying a backup or a restore opens it.
pub(crate) const SEALED: [(&str, &str, &str); 4] = [
    (
        "credentials",
        "password_enc",
        "SELECT user_id, password_enc FROM credentials",
    ),
    (
        "credentials",
        "pin_enc",
        "SELECT user_id, pin_enc FROM credentials",
    ),
    (
        "mailboxes",
        "password_enc",
        "SELECT user_id, password_enc FROM mailboxes",
    ),
    (
        "sessions",
        "code_enc",
        "SELECT user_id || '/' || application, code_enc FROM sessions WHERE code_enc IS NOT NULL",
    ),
];

/// The columns [`ProfileRow`] reads, prefixed by the `users` table's alias `u`.
pub(crate) const PROFILE_COLUMNS: &str = "u.user_id, u.fiscal_code, u.region, u.asl, u.ssa,
    u.specialization, u.display_name, u.environment, u.role, u.password_changed_on";

/// A row of `users`.
#[derive(sqlx::FromRow)]
pub(crate) struct ProfileRow {
    user_id: String,
    fiscal_code: String,
    region: String,
    asl: String,
    ssa: String,
    specialization: Option<String>,
    display_name: Option<String>,
    environment: String,
    role: String,
    password_changed_on: Option<String>,
}

impl TryFrom<ProfileRow> for UserProfile {
    type Error = Error;

    fn try_from(row: ProfileRow) -> Result<Self> {
        let corrupt = |what: &str| Error::Corrupt(format!("user: {what}"));
        Ok(UserProfile {
            user_id: UserId::new(row.user_id).map_err(|_| corrupt("user id"))?,
            fiscal_code: row.fiscal_code,
            region: row.region,
            asl: row.asl,
            ssa: row.ssa,
            specialization: row.specialization,
            display_name: row.display_name,
            environment: Environment::parse(&row.environment)
                .ok_or_else(|| corrupt("environment"))?,
            role: Role::parse(&row.role).ok_or_else(|| corrupt("role"))?,
            password_changed_at: row
                .password_changed_on
                .map(|d| Date::parse(&d, DATE).map_err(|_| corrupt("password_changed_on")))
                .transpose()?,
        })
    }
}

/// A row of `practices`.
#[derive(sqlx::FromRow)]
pub(crate) struct PracticeRow {
    id: String,
    name: String,
    created_at_ms: i64,
}

impl TryFrom<PracticeRow> for Practice {
    type Error = Error;

    fn try_from(row: PracticeRow) -> Result<Self> {
        Ok(Practice {
            id: PracticeId::new(row.id).map_err(|e| Error::Corrupt(e.to_string()))?,
            name: row.name,
            created_at: from_ms(row.created_at_ms)?,
        })
    }
}

/// The columns of `audit` that [`AuditRow`] reads.
pub(crate) const AUDIT_COLUMNS: &str =
    "at_ms, user_id, application, actor, kind, outcome, code_hint, practice_id";

/// A row of `audit`.
#[derive(sqlx::FromRow)]
pub(crate) struct AuditRow {
    at_ms: i64,
    user_id: Option<String>,
    application: Option<String>,
    actor: String,
    kind: String,
    outcome: String,
    code_hint: Option<String>,
    practice_id: Option<String>,
}

impl TryFrom<AuditRow> for AuditEntry {
    type Error = Error;

    fn try_from(row: AuditRow) -> Result<Self> {
        let corrupt = |e: &dyn std::fmt::Display| Error::Corrupt(format!("audit: {e}"));
        Ok(AuditEntry {
            at: from_ms(row.at_ms)?,
            user: row
                .user_id
                .map(UserId::new)
                .transpose()
                .map_err(|e| corrupt(&e))?,
            application: row
                .application
                .map(|a| a.parse::<Application>())
                .transpose()
                .map_err(|e| corrupt(&e))?,
            actor: row.actor.parse().map_err(|e| corrupt(&e))?,
            kind: row.kind.parse().map_err(|e| corrupt(&e))?,
            outcome: row.outcome,
            code_hint: row.code_hint,
            practice: row
                .practice_id
                .map(PracticeId::new)
                .transpose()
                .map_err(|e| corrupt(&e))?,
        })
    }
}

/// The columns of `workstations` that [`WorkstationRow`] reads.
pub(crate) const WORKSTATION_COLUMNS: &str =
    "id, name, role, practice_id, created_at_ms, revoked_at_ms";

/// A row of `workstations` (its users are in `workstation_users`).
#[derive(sqlx::FromRow)]
pub(crate) struct WorkstationRow {
    pub(crate) id: String,
    name: String,
    role: String,
    practice_id: Option<String>,
    created_at_ms: i64,
    revoked_at_ms: Option<i64>,
}

impl WorkstationRow {
    /// Its role.
    pub(crate) fn role(&self) -> Result<WorkstationRole> {
        WorkstationRole::parse(&self.role).ok_or_else(|| Error::Corrupt("workstation role".into()))
    }

    /// The workstation, acting for `users` (read from `workstation_users`; only roles that
    /// list users have any).
    pub(crate) fn into_workstation(self, users: Vec<String>) -> Result<Workstation> {
        let corrupt = |e: &dyn std::fmt::Display| Error::Corrupt(e.to_string());
        Ok(Workstation {
            role: self.role()?,
            id: WorkstationId(self.id),
            name: self.name,
            practice: self
                .practice_id
                .map(PracticeId::new)
                .transpose()
                .map_err(|e| corrupt(&e))?,
            users: users
                .into_iter()
                .map(|u| UserId::new(u).map_err(|e| corrupt(&e)))
                .collect::<Result<_>>()?,
            created_at: from_ms(self.created_at_ms)?,
            revoked_at: self.revoked_at_ms.map(from_ms).transpose()?,
        })
    }
}

/// The non-secret settings of a mailbox as stored (`mailboxes.settings`): the watcher's
/// settings (its serializer never writes the password) plus the certified address.
pub(crate) fn mailbox_settings_json(m: &UserMailbox) -> Result<String> {
    let mut value = serde_json::to_value(&m.settings).map_err(|e| Error::Corrupt(e.to_string()))?;
    if let serde_json::Value::Object(map) = &mut value {
        map.remove("password");
        map.insert(
            "address".into(),
            m.address
                .clone()
                .map_or(serde_json::Value::Null, Into::into),
        );
    }
    Ok(value.to_string())
}

/// A mailbox from its stored settings and its opened password.
pub(crate) fn mailbox_from_stored(settings: &str, password: &str) -> Result<UserMailbox> {
    let corrupt = |e: serde_json::Error| Error::Corrupt(format!("mailbox settings: {e}"));
    let mut value: serde_json::Value = serde_json::from_str(settings).map_err(corrupt)?;
    let address = value
        .as_object_mut()
        .and_then(|map| map.remove("address"))
        .and_then(|a| a.as_str().map(str::to_owned));
    let mut settings: MailboxSettings = serde_json::from_value(value).map_err(corrupt)?;
    settings.password = Password::new(password);
    Ok(UserMailbox { settings, address })
}

/// The JSON of a schedule or of working hours (nothing secret in them).
pub(crate) fn to_json(value: &impl serde::Serialize) -> Result<String> {
    serde_json::to_string(value).map_err(|e| Error::Corrupt(e.to_string()))
}

/// A schedule or working hours from their JSON.
pub(crate) fn from_json<T: serde::de::DeserializeOwned>(what: &str, json: &str) -> Result<T> {
    serde_json::from_str(json).map_err(|e| Error::Corrupt(format!("{what}: {e}")))
}

/// The key of the practice's working hours in `practice_settings`.
pub(crate) const PRACTICE_HOURS: &str = "working_hours";

/// A count from the database (never negative).
pub(crate) fn count(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}
