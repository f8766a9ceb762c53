//! `GET`/`PUT /api/v1/users/{user}/mailbox`: certified-mailbox settings (admin) and state.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use serde_json::Value;

use super::ApiJson;
use crate::auth::{AdminAuthed, Authed, act_for};
use crate::error::ApiError;
use crate::ports::MailboxService;
use crate::state::AppState;
use tsgate_session::audit::AdminAction;

fn service(state: &AppState) -> Result<&Arc<dyn MailboxService>, ApiError> {
    state
        .mailboxes()
        .ok_or(ApiError::NotConfigured("casella di posta certificata"))
}

/// Second guard: whatever the implementation returns, no `password` leaves the server.
fn without_passwords(mut v: Value) -> Value {
    fn strip(v: &mut Value) {
        match v {
            Value::Object(map) => {
                map.retain(|k, _| !k.to_ascii_lowercase().contains("password"));
                map.values_mut().for_each(strip);
            }
            Value::Array(items) => items.iter_mut().for_each(strip),
            _ => {}
        }
    }
    strip(&mut v);
    v
}

/// The state: for the admin, or for a workstation acting for the user (the doctor must see
/// "casella piena" and similar diagnostics).
pub(crate) async fn status(
    State(state): State<AppState>,
    Authed(caller): Authed,
    Path(user): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let user = if caller.workstation.may_administer() {
        tsgate_session::UserId::new(user.as_str()).map_err(|_| ApiError::UnknownUser)?
    } else {
        act_for(&caller, &user)?
    };
    let status = service(&state)?.status(&user).await?;
    Ok(Json(without_passwords(status)))
}

pub(crate) async fn configure(
    State(state): State<AppState>,
    AdminAuthed(caller): AdminAuthed,
    Path(user): Path<String>,
    ApiJson(settings): ApiJson<Value>,
) -> Result<Json<Value>, ApiError> {
    let user = tsgate_session::UserId::new(user.as_str()).map_err(|_| ApiError::UnknownUser)?;
    if !settings.is_object() {
        return Err(ApiError::BadRequest(
            "le impostazioni della casella vanno inviate come oggetto JSON.".into(),
        ));
    }
    let status = service(&state)?.configure(&user, settings).await?;
    super::admin::audit(
        &state,
        &caller,
        AdminAction::MailboxSet,
        Some(user.clone()),
        "ok".into(),
    )
    .await?;
    Ok(Json(without_passwords(status)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_never_leave() {
        let v = serde_json::json!({"configured": true, "password": "x", "inner": [{"imap_password": "y", "host": "h"}]});
        let out = without_passwords(v).to_string();
        assert!(!out.contains("password") && out.contains("host"), "{out}");
    }
}
