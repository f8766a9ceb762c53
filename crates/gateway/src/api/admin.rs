//! Administration of users and workstations (admin workstations only).
//!
//! Workstation tokens are generated here, shown once in the creation answer, and stored
//! only as their SHA-256.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use tsgate_session::audit::AdminAction;

use super::ApiJson;
use crate::auth::AdminAuthed;
use crate::error::ApiError;
use crate::ports::{
    AdminDirectory, AuditRecord, Caller, NewUser, NewWorkstation, Role, Workstation,
};
use crate::state::AppState;

fn directory(state: &AppState) -> Result<&Arc<dyn AdminDirectory>, ApiError> {
    state
        .backends()
        .admin
        .as_ref()
        .ok_or(ApiError::NotConfigured("amministrazione"))
}

/// Records an administration change in the audit table. `outcome` names what changed (ids,
/// roles), never a secret: no password, PIN or token.
pub(crate) async fn audit(
    state: &AppState,
    caller: &Caller,
    action: AdminAction,
    user: Option<String>,
    outcome: String,
) -> Result<(), ApiError> {
    state
        .backends()
        .audit
        .record(AuditRecord {
            at: time::OffsetDateTime::now_utc(),
            kind: action.as_str().into(),
            user,
            application: None,
            actor: caller.actor().to_string(),
            outcome,
            code_hint: None,
        })
        .await?;
    Ok(())
}

/// `GET /api/v1/users?all=true`: every configured user (admin).
pub(crate) async fn list_all_users(
    state: &AppState,
    caller: &Caller,
) -> Result<Response, ApiError> {
    if caller.workstation.role != Role::Admin {
        return Err(ApiError::AdminOnly);
    }
    Ok(Json(directory(state)?.list_users().await?).into_response())
}

pub(crate) async fn add_user(
    State(state): State<AppState>,
    AdminAuthed(actor): AdminAuthed,
    ApiJson(user): ApiJson<NewUser>,
) -> Result<Response, ApiError> {
    let dir = directory(&state)?;
    if user.user_id.trim().is_empty() {
        return Err(ApiError::BadRequest(
            "manca l'utente Sistema TS (user_id).".into(),
        ));
    }
    let record = dir.add_user(user).await?;
    audit(
        &state,
        &actor,
        AdminAction::UserAdded,
        Some(record.user_id.clone()),
        "ok".into(),
    )
    .await?;
    Ok((StatusCode::CREATED, Json(record)).into_response())
}

pub(crate) async fn remove_user(
    State(state): State<AppState>,
    AdminAuthed(actor): AdminAuthed,
    Path(user): Path<String>,
) -> Result<StatusCode, ApiError> {
    directory(&state)?.remove_user(&user).await?;
    audit(
        &state,
        &actor,
        AdminAction::UserRemoved,
        Some(user),
        "ok".into(),
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

pub(crate) async fn list_workstations(
    State(state): State<AppState>,
    AdminAuthed(_actor): AdminAuthed,
) -> Result<Json<Vec<Workstation>>, ApiError> {
    Ok(Json(directory(&state)?.list_workstations().await?))
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
    let dir = directory(&state)?;
    if new.name.trim().is_empty() {
        return Err(ApiError::BadRequest(
            "manca il nome della postazione (name).".into(),
        ));
    }
    let (workstation, token) = dir.add_workstation(new).await?;
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
    directory(&state)?.revoke_workstation(&id).await?;
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
