//! Changing what exists: a doctor's data, a doctor's Sistema TS credentials, the doctors a
//! workstation acts for (admin workstations of the doctor's or workstation's practice, and
//! the vendor's).

use std::fmt;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Deserialize;
use time::Date;
use tsgate_session::fields::check_profile;
use tsgate_session::{
    AdminAction, AdminScope, Environment, UserProfile, Workstation, WorkstationId,
};

use super::ApiJson;
use super::admin::{UserRecord, administered_user, audit_in, de_password, de_pin, user_ids};
use crate::auth::AdminAuthed;
use crate::error::ApiError;
use crate::state::AppState;

/// Refuses a profile whose fields Sistema TS would refuse: every problem at once, each
/// naming its field.
pub(crate) fn check_fields(profile: &UserProfile) -> Result<(), ApiError> {
    let problems = check_profile(profile);
    if problems.is_empty() {
        return Ok(());
    }
    let text: Vec<String> = problems.into_iter().map(|p| p.message).collect();
    Err(ApiError::Invalid(text.join(" ")))
}

/// Refuses an empty password or PIN (Sistema TS would refuse them at the first request).
pub(crate) fn require_credentials(
    password: &sistemats::Password,
    pin: &sistemats::Pin,
) -> Result<(), ApiError> {
    if password.expose_secret().trim().is_empty() {
        return Err(ApiError::Invalid(
            "Manca la password di Sistema TS (password).".into(),
        ));
    }
    if pin.expose_secret().trim().is_empty() {
        return Err(ApiError::Invalid(
            "Manca il PIN di Sistema TS (pin).".into(),
        ));
    }
    Ok(())
}

/// `YYYY-MM-DD`, naming the field when it is not a date.
fn parse_date(field: &str, text: &str) -> Result<Date, ApiError> {
    let format = time::macros::format_description!("[year]-[month]-[day]");
    Date::parse(text.trim(), format).map_err(|_| {
        ApiError::Invalid(format!(
            "Data non valida in {field}: «{text}». Scrivila come AAAA-MM-GG, per esempio \
             2026-12-01."
        ))
    })
}

/// `PUT /api/v1/users/{user}`: the fields to change; absent ones stay as they are.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserEdit {
    /// Name shown on the cards (empty: none).
    pub display_name: Option<String>,
    /// Fiscal code of the doctor.
    pub cf: Option<String>,
    /// Region code (3 digits, the official list).
    pub region: Option<String>,
    /// ASL code (3 digits).
    pub asl: Option<String>,
    /// SSA code.
    pub ssa: Option<String>,
    /// Specialisation code (empty: none).
    pub specialization: Option<String>,
    /// `test` or `production`.
    pub environment: Option<Environment>,
    /// When the Sistema TS password was last changed (`YYYY-MM-DD`; empty: unknown).
    pub password_changed_on: Option<String>,
}

/// `PUT /api/v1/users/{user}`.
pub(crate) async fn update_user(
    State(state): State<AppState>,
    AdminAuthed(actor): AdminAuthed,
    Path(user): Path<String>,
    ApiJson(edit): ApiJson<UserEdit>,
) -> Result<Json<UserRecord>, ApiError> {
    let id = administered_user(&state, &actor, &user).await?;
    let store = &state.backends().store;
    let mut profile = store.user(&id).await?.ok_or(ApiError::UnknownUser)?;
    let text = |v: String| v.trim().to_owned();
    let optional = |v: String| Some(v.trim().to_owned()).filter(|v| !v.is_empty());
    if let Some(v) = edit.display_name {
        profile.display_name = optional(v);
    }
    if let Some(v) = edit.cf {
        profile.fiscal_code = text(v).to_ascii_uppercase();
    }
    if let Some(v) = edit.region {
        profile.region = text(v);
    }
    if let Some(v) = edit.asl {
        profile.asl = text(v);
    }
    if let Some(v) = edit.ssa {
        profile.ssa = text(v);
    }
    if let Some(v) = edit.specialization {
        profile.specialization = optional(v);
    }
    if let Some(v) = edit.environment {
        profile.environment = v;
    }
    if let Some(v) = edit.password_changed_on {
        profile.password_changed_at = match optional(v) {
            Some(d) => Some(parse_date("password_changed_on", &d)?),
            None => None,
        };
    }
    check_fields(&profile)?;
    store.put_user(&profile).await?;
    audit_in(
        &state,
        &actor,
        actor.workstation.practice.clone(),
        AdminAction::UserUpdated,
        Some(id.clone()),
        "ok".into(),
    )
    .await?;
    // The cards show the new name and the password warning at once.
    let _ = state.backends().sessions.announce(&id).await;
    Ok(Json(UserRecord::from(profile)))
}

/// `PUT /api/v1/users/{user}/credentials`. Secrets stay masked in `Debug`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewCredentials {
    /// The new Sistema TS password.
    #[serde(deserialize_with = "de_password")]
    pub password: sistemats::Password,
    /// The Sistema TS PIN.
    #[serde(deserialize_with = "de_pin")]
    pub pin: sistemats::Pin,
    /// When the password was changed on the Sistema TS portal (`YYYY-MM-DD`; default today).
    #[serde(default)]
    pub password_changed_on: Option<String>,
}

impl fmt::Debug for NewCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NewCredentials")
            .field("password_changed_on", &self.password_changed_on)
            .finish_non_exhaustive()
    }
}

/// `PUT /api/v1/users/{user}/credentials`: replaces password and PIN (encrypted at rest) and
/// lifts a block Sistema TS put on the old ones.
pub(crate) async fn set_credentials(
    State(state): State<AppState>,
    AdminAuthed(actor): AdminAuthed,
    Path(user): Path<String>,
    ApiJson(new): ApiJson<NewCredentials>,
) -> Result<StatusCode, ApiError> {
    let id = administered_user(&state, &actor, &user).await?;
    require_credentials(&new.password, &new.pin)?;
    let changed_on = match new.password_changed_on.as_deref().map(str::trim) {
        Some(d) if !d.is_empty() => parse_date("password_changed_on", d)?,
        _ => time::OffsetDateTime::now_utc().date(),
    };
    let store = &state.backends().store;
    if store.user(&id).await?.is_none() {
        return Err(ApiError::UnknownUser);
    }
    store
        .set_credentials(&id, &new.password, &new.pin, Some(changed_on))
        .await?;
    audit_in(
        &state,
        &actor,
        actor.workstation.practice.clone(),
        AdminAction::CredentialsChanged,
        Some(id.clone()),
        "ok".into(),
    )
    .await?;
    if let Err(e) = state.backends().sessions.credentials_changed(&id).await {
        tracing::warn!(user = %id, error = %sistemats::error::describe_chain(&e), "session not told of the new credentials");
    }
    Ok(StatusCode::NO_CONTENT)
}

/// `PUT /api/v1/workstations/{id}/users`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkstationUsers {
    /// The doctors it acts for from now on (replaces the list).
    pub users: Vec<String>,
}

/// `PUT /api/v1/workstations/{id}/users`: the doctors a workstation acts for.
pub(crate) async fn set_workstation_users(
    State(state): State<AppState>,
    AdminAuthed(actor): AdminAuthed,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<WorkstationUsers>,
) -> Result<Json<Workstation>, ApiError> {
    let store = &state.backends().store;
    let id = WorkstationId(id);
    let found = store.workstation(&id).await?.ok_or(ApiError::NotFound)?;
    if let Some(AdminScope::Practice(own)) = actor.workstation.admin_scope()
        && found.practice.as_ref() != Some(own)
    {
        return Err(ApiError::NotFound);
    }
    if !found.role.lists_users() {
        return Err(ApiError::Invalid(format!(
            "Una postazione di tipo {} non elenca i medici: agisce per tutti quelli del suo \
             studio.",
            found.role
        )));
    }
    let users = user_ids(&body.users)?;
    for user in &users {
        let known = match &found.practice {
            Some(p) => store.is_member(p, user).await?,
            None => store.user(user).await?.is_some(),
        };
        if !known {
            return Err(ApiError::Invalid(format!(
                "{user} non è un medico di questo studio: aggiungilo prima tra i medici."
            )));
        }
    }
    store.set_workstation_users(&id, &users).await?;
    state.workstations().forget_all();
    let names: Vec<&str> = users.iter().map(|u| u.as_str()).collect();
    audit_in(
        &state,
        &actor,
        found.practice.clone(),
        AdminAction::WorkstationUsersSet,
        None,
        format!("workstation {id}: {}", names.join(", ")),
    )
    .await?;
    let updated = store.workstation(&id).await?.ok_or(ApiError::NotFound)?;
    Ok(Json(updated))
}
