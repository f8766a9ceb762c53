//! Administration of users and workstations (admin workstations only).
//!
//! Workstation tokens are generated here, shown once in the creation answer, and stored
//! only as their SHA-256.

use std::fmt;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use tsgate_session::{
    AdminAction, AuditEntry, Caller, Environment, Role as UserRole, UserId, UserProfile,
    Workstation, WorkstationId, WorkstationRole,
};

use super::ApiJson;
use crate::auth::AdminAuthed;
use crate::error::ApiError;
use crate::state::AppState;

/// A workstation to create (`POST /api/v1/workstations`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct NewWorkstation {
    /// Human name.
    pub name: String,
    /// Role.
    pub role: WorkstationRole,
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

impl From<UserProfile> for UserRecord {
    fn from(p: UserProfile) -> Self {
        Self {
            user_id: p.user_id.into(),
            display_name: p.display_name,
            region: p.region,
            asl: p.asl,
        }
    }
}

/// Records an administration change by `caller` in the audit (and the log).
pub(crate) async fn audit(
    state: &AppState,
    caller: &Caller,
    action: AdminAction,
    user: Option<UserId>,
    outcome: String,
) -> Result<(), ApiError> {
    tracing::info!(
        target: "audit",
        kind = %action,
        actor = %caller.actor(),
        user = user.as_ref().map_or("", UserId::as_str),
        %outcome,
        "administration"
    );
    let entry = AuditEntry::admin(
        time::OffsetDateTime::now_utc(),
        caller.actor(),
        action,
        user,
        outcome,
    );
    state.backends().store.append(&entry).await?;
    Ok(())
}

fn user_ids(users: &[String]) -> Result<Vec<UserId>, ApiError> {
    users
        .iter()
        .map(|u| UserId::new(u.as_str()).map_err(|e| ApiError::Invalid(format!("{u}: {e}"))))
        .collect()
}

/// Every user, for the admin listing (`GET /api/v1/users?all=true`).
pub(crate) async fn all_users(state: &AppState) -> Result<Vec<UserRecord>, ApiError> {
    let users = state.backends().store.list_users().await?;
    Ok(users.into_iter().map(UserRecord::from).collect())
}

/// Every live workstation, oldest first.
pub(crate) async fn live_workstations(state: &AppState) -> Result<Vec<Workstation>, ApiError> {
    let all = state.backends().store.list_workstations().await?;
    Ok(all.into_iter().filter(Workstation::is_live).collect())
}

pub(crate) async fn list_all_users(
    state: &AppState,
    caller: &Caller,
) -> Result<Response, ApiError> {
    if !caller.workstation.may_administer() {
        return Err(ApiError::AdminOnly);
    }
    Ok(Json(all_users(state).await?).into_response())
}

pub(crate) async fn add_user(
    State(state): State<AppState>,
    AdminAuthed(actor): AdminAuthed,
    ApiJson(user): ApiJson<NewUser>,
) -> Result<Response, ApiError> {
    if user.user_id.trim().is_empty() {
        return Err(ApiError::BadRequest(
            "manca l'utente Sistema TS (user_id).".into(),
        ));
    }
    let store = &state.backends().store;
    let id = UserId::new(user.user_id.as_str()).map_err(|e| ApiError::Invalid(e.to_string()))?;
    if store.user(&id).await?.is_some() {
        return Err(tsgate_session::StoreError::Conflict.into());
    }
    let profile = UserProfile {
        user_id: id.clone(),
        fiscal_code: user.cf,
        region: user.region,
        asl: user.asl,
        ssa: user.ssa.unwrap_or_else(|| "000000".into()),
        specialization: user.specialization,
        display_name: user.display_name,
        environment: user.environment,
        role: user.role,
        password_changed_at: None,
    };
    store.put_user(&profile).await?;
    store
        .set_credentials(&id, &user.password, &user.pin, None)
        .await?;
    audit(
        &state,
        &actor,
        AdminAction::UserAdded,
        Some(id),
        "ok".into(),
    )
    .await?;
    let record = UserRecord::from(profile);
    Ok((StatusCode::CREATED, Json(record)).into_response())
}

pub(crate) async fn remove_user(
    State(state): State<AppState>,
    AdminAuthed(actor): AdminAuthed,
    Path(user): Path<String>,
) -> Result<StatusCode, ApiError> {
    let id = UserId::new(user.as_str()).map_err(|_| ApiError::NotFound)?;
    let removed = state.backends().store.remove_user(&id).await?;
    state.workstations().forget_all();
    if !removed {
        return Err(ApiError::NotFound);
    }
    audit(
        &state,
        &actor,
        AdminAction::UserRemoved,
        Some(id),
        "ok".into(),
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

pub(crate) async fn list_workstations(
    State(state): State<AppState>,
    AdminAuthed(_actor): AdminAuthed,
) -> Result<Json<Vec<Workstation>>, ApiError> {
    Ok(Json(live_workstations(&state).await?))
}

#[derive(Serialize)]
struct CreatedWorkstation {
    workstation: Workstation,
    /// Shown once; only its hash is stored.
    token: String,
}

pub(crate) async fn add_workstation(
    State(state): State<AppState>,
    AdminAuthed(actor): AdminAuthed,
    ApiJson(new): ApiJson<NewWorkstation>,
) -> Result<Response, ApiError> {
    if new.name.trim().is_empty() {
        return Err(ApiError::BadRequest(
            "manca il nome della postazione (name).".into(),
        ));
    }
    let users = user_ids(&new.users)?;
    let (workstation, token) = state
        .backends()
        .store
        .create_workstation(new.name.trim(), new.role, &users)
        .await?;
    let token = token.expose_secret().to_owned();
    audit(
        &state,
        &actor,
        AdminAction::WorkstationAdded,
        None,
        format!(
            "workstation {} ({})",
            workstation.id,
            workstation.role.as_str()
        ),
    )
    .await?;
    let mut response = (
        StatusCode::CREATED,
        Json(CreatedWorkstation { workstation, token }),
    )
        .into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

pub(crate) async fn revoke_workstation(
    State(state): State<AppState>,
    AdminAuthed(actor): AdminAuthed,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let revoked = state
        .backends()
        .store
        .revoke_workstation(&WorkstationId(id.clone()))
        .await?;
    state.workstations().forget_all();
    if !revoked {
        return Err(ApiError::NotFound);
    }
    audit(
        &state,
        &actor,
        AdminAction::WorkstationRevoked,
        None,
        format!("workstation {id}"),
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}
