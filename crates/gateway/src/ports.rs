//! What the gateway needs from the layers below it.
//!
//! The gateway knows HTTP; it does not know how sessions are kept or where workstations are
//! stored. These traits are the whole contract: the binary wires them to `tsgate-session`
//! and `tsgate-store`; tests wire them to in-memory fakes.
//!
//! The traits return boxed futures so that they can be used as `Arc<dyn …>` in the shared
//! application state without generic parameters spreading through every handler.

use std::fmt;
use std::net::IpAddr;

use futures::future::BoxFuture;
use futures::stream::BoxStream;
use serde::{Deserialize, Serialize};
use sistemats::SessionCode;
use time::OffsetDateTime;

use tsgate_session::audit::AuditEntry;
use tsgate_session::{
    Actor, Application, AuditEvent, RequestOutcome, SessionError, SessionView, WorkstationId,
};

use tsgate_session::{Environment, Role as UserRole};
use tsgate_store::WorkstationToken;

pub use tsgate_session::UserId;

/// What a workstation is allowed to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Manages users, workstations, the audit; acts only for the users it lists.
    Admin,
    /// A doctor's own workstation: may also see the code of the users it lists.
    Doctor,
    /// Reception/secretary: sees states, may request or insert for the users it lists,
    /// never sees a code.
    Staff,
}

impl Role {
    /// The lowercase name used in JSON and in the audit.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Doctor => "doctor",
            Role::Staff => "staff",
        }
    }
}

/// A registered workstation, as authenticated by its token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Workstation {
    /// Stable identifier (used for rate limits and the audit).
    pub id: String,
    /// Human name ("Ambulatorio 1").
    pub name: String,
    /// Role of the workstation.
    pub role: Role,
    /// The Sistema TS users this workstation may act for.
    pub users: Vec<String>,
}

impl Workstation {
    /// Whether this workstation may act for `user` (see its state, request, insert, use the
    /// code through the proxy).
    pub fn may_act_for(&self, user: &str) -> bool {
        self.users.iter().any(|u| u == user)
    }

    /// Whether this workstation may read the code of `user` in clear: only a doctor's
    /// workstation that acts for that user.
    pub fn may_see_code_of(&self, user: &str) -> bool {
        self.role == Role::Doctor && self.may_act_for(user)
    }
}

/// Who is asking: the workstation and the address it connects from (for the audit).
#[derive(Debug, Clone)]
pub struct Caller {
    /// The authenticated workstation.
    pub workstation: Workstation,
    /// Remote address of the TCP connection, when known.
    pub remote: Option<IpAddr>,
}

impl Caller {
    /// The domain's actor for this caller (`ws:<id>`).
    pub fn actor(&self) -> Actor {
        Actor::Workstation(WorkstationId(self.workstation.id.clone()))
    }
}

/// The domain's session operations, as used by the JSON API and the event stream.
///
/// Implemented for [`tsgate_session::SessionManager`] (module `adapters`); tests use fakes.
/// Implementations audit their operations, including [`SessionService::current_code`]
/// ("copied"): the gateway does not write a second audit line.
pub trait SessionService: Send + Sync + 'static {
    /// Current state of `user`.
    fn status<'a>(&'a self, user: &'a UserId) -> BoxFuture<'a, Result<SessionView, SessionError>>;

    /// Sends (or joins) a `create` for `user`.
    fn request<'a>(
        &'a self,
        user: &'a UserId,
        caller: &'a Caller,
        replace: bool,
    ) -> BoxFuture<'a, Result<RequestOutcome, SessionError>>;

    /// Normalises and verifies a typed code with `checkToken`; installs it when valid.
    fn submit_code<'a>(
        &'a self,
        user: &'a UserId,
        caller: &'a Caller,
        code: SessionCode,
    ) -> BoxFuture<'a, Result<SessionView, SessionError>>;

    /// Revokes the code at Sistema TS and locally.
    fn revoke<'a>(
        &'a self,
        user: &'a UserId,
        caller: &'a Caller,
    ) -> BoxFuture<'a, Result<SessionView, SessionError>>;

    /// The current code in clear, for "Copia codice" (audited by the implementation). The
    /// gateway has already checked that the caller is a doctor's workstation acting for `user`.
    fn current_code<'a>(
        &'a self,
        user: &'a UserId,
        caller: &'a Caller,
    ) -> BoxFuture<'a, Result<SessionCode, SessionError>>;

    /// Every change of any session, from now on. The gateway filters by workstation.
    fn subscribe(&self) -> BoxStream<'static, SessionView>;
}

/// Why the proxy cannot add a code for a user.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("no usable code")]
pub struct NoUsableCode {
    /// Italian text for the SOAP Fault, saying what to do. When `None` the gateway writes
    /// "Nessun ID-SESSIONE valido per l'utente …: richiedi il codice dalla pagina di tsgate …".
    pub message_it: Option<String>,
}

/// What happened to one proxied call, for the session layer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProxyOutcome {
    /// Sistema TS answered and the receipt had no 9101.
    Ok,
    /// The receipt carried ErroreRicetta 9101: the code is missing or not valid.
    Dem9101,
    /// Sistema TS refused the Basic credentials (HTTP 401).
    Unauthorized,
    /// Sistema TS did not answer, or answered 5xx without SOAP.
    UpstreamFailure {
        /// Cause, for the log (no secrets).
        detail: String,
    },
}

/// The proxy's view of the session layer (hot path: keep these cheap).
pub trait CodeProvider: Send + Sync + 'static {
    /// The code to put in `Authorization2F` for `user`, called for `actor` (already checked to
    /// act for `user`). Implementations may record the use for the audit.
    fn code_for_proxy<'a>(
        &'a self,
        user: &'a UserId,
        application: Application,
        caller: &'a Caller,
    ) -> BoxFuture<'a, Result<SessionCode, NoUsableCode>>;

    /// Reports what happened to a proxied call made with `code` (the gateway spawns this
    /// after the answer started; it may be slow). The code matters: a 9101 on a code that
    /// was already replaced must not condemn the new one.
    fn report<'a>(
        &'a self,
        user: &'a UserId,
        code: &'a SessionCode,
        caller: &'a Caller,
        outcome: ProxyOutcome,
    ) -> BoxFuture<'a, ()>;
}

/// Failure of a backend that is not a domain refusal (database down, …).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct BackendError(pub String);

/// Looks workstations up by their token (the store implements it by the token's SHA-256;
/// see [`crate::TokenHash`] for a constant-time comparison of hashes held in memory).
pub trait WorkstationDirectory: Send + Sync + 'static {
    /// The live (not revoked) workstation holding `token`, if any.
    fn authenticate<'a>(
        &'a self,
        token: &'a WorkstationToken,
    ) -> BoxFuture<'a, Result<Option<Workstation>, BackendError>>;

    /// Whether the store answers (for `/readyz`).
    fn ready(&self) -> BoxFuture<'_, Result<(), BackendError>>;
}

/// One audit event as shown by `GET /api/v1/audit`.
///
/// The store's [`tsgate_session::audit::AuditEntry`] (and the domain's
/// [`tsgate_session::AuditEvent`]) convert into it. The gateway records its own
/// administration events with the same shape: `kind` is then a
/// [`tsgate_session::audit::AdminAction`] name (`user_added`, `workstation_added`, …), there
/// is no application nor code hint, and nothing secret (workstations by id, never token).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditRecord {
    /// When.
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    /// What: a session kind (`requested`, `inserted`, `used`, `copied`, …) or an
    /// administration action (`user_added`, `credentials_changed`, `workstation_added`, …).
    pub kind: String,
    /// For which Sistema TS user, if any (administration of workstations has none).
    pub user: Option<String>,
    /// `PRESCRITTORE` or `EROGATORE`, for session events.
    pub application: Option<String>,
    /// Who: `ws:<id>`, `mailbox`, `cli`, `system`.
    pub actor: String,
    /// Short outcome (`ok`, `sent`, `9101`, an error code…).
    pub outcome: String,
    /// `…2920`: the last four characters of the code concerned, if any.
    pub code_hint: Option<String>,
}

impl From<AuditEvent> for AuditRecord {
    fn from(e: AuditEvent) -> Self {
        AuditEntry::from(e).into()
    }
}

impl From<AuditEntry> for AuditRecord {
    fn from(e: AuditEntry) -> Self {
        Self {
            at: e.at,
            kind: e.kind.as_str().to_owned(),
            user: e.user.map(String::from),
            application: e.application.map(|a| a.as_str().to_owned()),
            actor: e.actor.to_string(),
            outcome: e.outcome,
            code_hint: e.code_hint,
        }
    }
}

/// Filters of `GET /api/v1/audit`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct AuditFilter {
    /// Only this user.
    pub user: Option<String>,
    /// Only this workstation id (actor `ws:<id>`).
    pub workstation: Option<String>,
    /// Only this kind (session kind or administration action).
    pub kind: Option<String>,
    /// From this instant (inclusive).
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub from: Option<OffsetDateTime>,
    /// Up to this instant (exclusive).
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub to: Option<OffsetDateTime>,
    /// At most this many, newest first.
    pub limit: Option<u32>,
}

/// The audit trail (the store implements it): session events and administration changes.
pub trait AuditLog: Send + Sync + 'static {
    /// Appends an administration event (session events are recorded by the domain).
    fn record(&self, event: AuditRecord) -> BoxFuture<'_, Result<(), BackendError>>;
    /// Events matching `filter`, newest first.
    fn query(&self, filter: AuditFilter) -> BoxFuture<'_, Result<Vec<AuditRecord>, BackendError>>;
}

/// A workstation to create (`POST /api/v1/workstations`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct NewWorkstation {
    /// Human name.
    pub name: String,
    /// Role.
    pub role: Role,
    /// Users it may act for.
    #[serde(default)]
    pub users: Vec<String>,
}

/// A Sistema TS user to create (`POST /api/v1/users`). Secrets stay masked in `Debug`.
#[derive(Clone, Deserialize)]
pub struct NewUser {
    /// Sistema TS user id.
    pub user_id: String,
    /// Display name.
    pub display_name: Option<String>,
    /// Fiscal code of the doctor (the user's own, not a patient's).
    pub cf: String,
    /// Region code (3 chars).
    pub region: String,
    /// ASL code.
    pub asl: String,
    /// SSA code (`000000` for doctors).
    #[serde(default)]
    pub ssa: Option<String>,
    /// Specialisation code.
    #[serde(default)]
    pub specialization: Option<String>,
    /// `titolare` (default), `sostituto` or `farmacia`.
    #[serde(default = "default_user_role")]
    pub role: UserRole,
    /// `production` (default) or `test`.
    #[serde(default = "default_environment")]
    pub environment: Environment,
    /// Sistema TS password.
    #[serde(deserialize_with = "de_password")]
    pub password: sistemats::Password,
    /// Sistema TS PIN.
    #[serde(deserialize_with = "de_pin")]
    pub pin: sistemats::Pin,
}

fn default_user_role() -> UserRole {
    UserRole::Titolare
}

fn default_environment() -> Environment {
    Environment::Production
}

fn de_password<'de, D: serde::Deserializer<'de>>(d: D) -> Result<sistemats::Password, D::Error> {
    String::deserialize(d).map(sistemats::Password::new)
}

fn de_pin<'de, D: serde::Deserializer<'de>>(d: D) -> Result<sistemats::Pin, D::Error> {
    String::deserialize(d).map(sistemats::Pin::new)
}

impl fmt::Debug for NewUser {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NewUser")
            .field("user_id", &self.user_id)
            .field("region", &self.region)
            .field("asl", &self.asl)
            .finish_non_exhaustive()
    }
}

/// A user as listed by the admin endpoints (no secrets).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserRecord {
    /// Sistema TS user id.
    pub user_id: String,
    /// Display name.
    pub display_name: Option<String>,
    /// Region code.
    pub region: String,
    /// ASL code.
    pub asl: String,
}

/// Administration of users and workstations (the store implements it; optional).
pub trait AdminDirectory: Send + Sync + 'static {
    /// Every configured user.
    fn list_users(&self) -> BoxFuture<'_, Result<Vec<UserRecord>, BackendError>>;
    /// Creates a user with its credentials (stored encrypted).
    fn add_user(&self, user: NewUser) -> BoxFuture<'_, Result<UserRecord, AdminError>>;
    /// Removes a user.
    fn remove_user<'a>(&'a self, user: &'a str) -> BoxFuture<'a, Result<(), AdminError>>;
    /// Every workstation.
    fn list_workstations(&self) -> BoxFuture<'_, Result<Vec<Workstation>, BackendError>>;
    /// Creates a workstation and its token (shown once by the API; only its hash is kept).
    fn add_workstation(
        &self,
        workstation: NewWorkstation,
    ) -> BoxFuture<'_, Result<(Workstation, WorkstationToken), AdminError>>;
    /// Revokes a workstation: its token stops working at once.
    fn revoke_workstation<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<(), AdminError>>;
}

/// Why an admin operation was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AdminError {
    /// No such user or workstation (404).
    #[error("not found")]
    NotFound,
    /// It exists already (409).
    #[error("already exists")]
    AlreadyExists,
    /// The input is not acceptable (400), with an Italian message.
    #[error("invalid: {0}")]
    Invalid(String),
    /// Backend failure (500).
    #[error(transparent)]
    Backend(#[from] BackendError),
}

/// Certified-mailbox settings and live state of each user. The binary implements it over
/// the store and the mailbox watcher; the JSON shapes are those of `tsgate-mailbox`
/// (`MailboxSettings` in, `MailboxStatus` out), passed through unchanged.
pub trait MailboxService: Send + Sync + 'static {
    /// State: `configured`, `connected`, `last_check`, `diagnostics`, … Never the password
    /// (the gateway also removes any `password` field, as a second guard).
    fn status<'a>(
        &'a self,
        user: &'a UserId,
    ) -> BoxFuture<'a, Result<serde_json::Value, AdminError>>;

    /// Replaces the settings (password included, stored encrypted) and returns the new state.
    /// [`AdminError::Invalid`] carries an Italian explanation of what is wrong.
    fn configure<'a>(
        &'a self,
        user: &'a UserId,
        settings: serde_json::Value,
    ) -> BoxFuture<'a, Result<serde_json::Value, AdminError>>;
}
