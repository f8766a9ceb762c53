//! `GET`/`PUT /api/v1/users/{user}/mailbox`: certified-mailbox settings (admin) and state.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use serde_json::Value;
use tsgate_session::mailbox::{MailboxUpdate, MailboxView};
use tsgate_session::{AdminAction, MailboxService};

use super::ApiJson;
use crate::auth::{AdminAuthed, Authed, act_for};
use crate::error::ApiError;
use crate::state::AppState;

fn service(state: &AppState) -> Result<&Arc<dyn MailboxService>, ApiError> {
    state
        .mailboxes()
        .ok_or(ApiError::NotConfigured("casella di posta certificata"))
}

pub(crate) async fn status(
    State(state): State<AppState>,
    Authed(caller): Authed,
    Path(user): Path<String>,
) -> Result<Json<MailboxView>, ApiError> {
    let user = if caller.workstation.may_administer() {
        super::admin::administered_user(&state, &caller, &user).await?
    } else {
        act_for(&state, &caller, &user).await?
    };
    Ok(Json(service(&state)?.status(&user).await?))
}

pub(crate) async fn configure(
    State(state): State<AppState>,
    AdminAuthed(caller): AdminAuthed,
    Path(user): Path<String>,
    ApiJson(settings): ApiJson<Value>,
) -> Result<Json<MailboxView>, ApiError> {
    let user = super::admin::administered_user(&state, &caller, &user).await?;
    if !settings.is_object() {
        return Err(ApiError::BadRequest(
            "le impostazioni della casella vanno inviate come oggetto JSON.".into(),
        ));
    }
    let update = MailboxUpdate::from_json(settings).map_err(|e| ApiError::Invalid(e.0))?;
    let status = service(&state)?.configure(&user, update).await?;
    super::admin::audit(
        &state,
        &caller,
        AdminAction::MailboxSet,
        Some(user.clone()),
        "ok".into(),
    )
    .await?;
    Ok(Json(status))
}
