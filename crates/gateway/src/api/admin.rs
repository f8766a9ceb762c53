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
    AdminAction, AdminScope, AuditEntry, Caller, Environment, PracticeId, PracticeRule,
    Role as UserRole, UserId, UserProfile, Workstation, WorkstationId, WorkstationRole,
    WorkstationSpec,
};

use super::paging::{PageParams, paged};
use super::{ApiJson, ApiQuery};
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
    /// Users it may act for (roles that list them).
    #[serde(default)]
    pub users: Vec<String>,
    /// Its practice: an admin workstation's own; the vendor names it (absent: the default
    /// practice). A vendor workstation has none.
    #[serde(default)]
    pub practice: Option<String>,
    /// A backend acting for every practice (vendor only).
    #[serde(default)]
    pub all_practices: bool,
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
    /// `test` or `production` (default: the installation's, see
    /// [`crate::GatewayConfig::user_environment`]).
    #[serde(default)]
    pub environment: Option<Environment>,
    /// Sistema TS password.
    #[serde(deserialize_with = "de_password")]
    pub password: sistemats::Password,
    /// Sistema TS PIN.
    #[serde(deserialize_with = "de_pin")]
    pub pin: sistemats::Pin,
    /// The practice the doctor joins: an admin workstation's own when absent; the vendor
    /// names it (absent: the default practice).
    #[serde(default)]
    pub practice: Option<String>,
}

fn default_user_role() -> UserRole {
    UserRole::Titolare
}

pub(crate) fn de_password<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<sistemats::Password, D::Error> {
    String::deserialize(d).map(sistemats::Password::new)
}

pub(crate) fn de_pin<'de, D: serde::Deserializer<'de>>(d: D) -> Result<sistemats::Pin, D::Error> {
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
    /// The doctor's own fiscal code (never a patient's).
    #[serde(default)]
    pub cf: String,
    /// SSA code.
    #[serde(default)]
    pub ssa: String,
    /// Specialisation code.
    #[serde(default)]
    pub specialization: Option<String>,
    /// `test` or `production`.
    #[serde(default)]
    pub environment: Option<Environment>,
    /// `titolare`, `sostituto` or `farmacia`.
    #[serde(default)]
    pub role: Option<UserRole>,
    /// When the Sistema TS password was last changed, if known (`YYYY-MM-DD`).
    #[serde(default)]
    pub password_changed_on: Option<String>,
}

impl From<UserProfile> for UserRecord {
    fn from(p: UserProfile) -> Self {
        Self {
            user_id: p.user_id.into(),
            display_name: p.display_name,
            region: p.region,
            asl: p.asl,
            cf: p.fiscal_code,
            ssa: p.ssa,
            specialization: p.specialization,
            environment: Some(p.environment),
            role: Some(p.role),
            password_changed_on: p.password_changed_at.map(|d| d.to_string()),
        }
    }
}

/// The practice an administration request works in: an admin workstation's own (asking
/// for another is refused), or for the vendor the one it names (`None`: every practice).
pub(crate) fn practice_scope(
    caller: &Caller,
    requested: Option<&str>,
) -> Result<Option<PracticeId>, ApiError> {
    let requested = requested
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(|p| PracticeId::new(p).map_err(|e| ApiError::Invalid(e.to_string())))
        .transpose()?;
    match caller.workstation.admin_scope() {
        Some(AdminScope::Practice(own)) => match requested {
            Some(p) if &p != own => Err(ApiError::OtherPractice),
            _ => Ok(Some(own.clone())),
        },
        Some(AdminScope::Installation) => Ok(requested),
        None => Err(ApiError::AdminOnly),
    }
}

/// Like [`practice_scope`], for a change that must happen in one practice: the vendor's
/// default is the default practice.
pub(crate) fn one_practice(
    caller: &Caller,
    requested: Option<&str>,
) -> Result<PracticeId, ApiError> {
    Ok(practice_scope(caller, requested)?.unwrap_or_else(PracticeId::default_practice))
}

/// `user` if the caller administers it: a member of the admin's practice, any user for the
/// vendor. Anything else is an unknown user, so that an admin learns nothing of other
/// practices.
pub(crate) async fn administered_user(
    state: &AppState,
    caller: &Caller,
    user: &str,
) -> Result<UserId, ApiError> {
    let id = UserId::new(user).map_err(|_| ApiError::UnknownUser)?;
    match caller.workstation.admin_scope() {
        Some(AdminScope::Installation) => Ok(id),
        Some(AdminScope::Practice(p)) => {
            if state.backends().store.is_member(p, &id).await? {
                Ok(id)
            } else {
                Err(ApiError::UnknownUser)
            }
        }
        None => Err(ApiError::AdminOnly),
    }
}

/// Records an administration change by `caller` in the audit (and the log), in the
/// caller's practice.
pub(crate) async fn audit(
    state: &AppState,
    caller: &Caller,
    action: AdminAction,
    user: Option<UserId>,
    outcome: String,
) -> Result<(), ApiError> {
    let practice = caller.workstation.practice.clone();
    audit_in(state, caller, practice, action, user, outcome).await
}

/// [`audit`] in a named practice (the vendor's changes).
pub(crate) async fn audit_in(
    state: &AppState,
    caller: &Caller,
    practice: Option<PracticeId>,
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
    )
    .in_practice(practice);
    state.backends().store.append(&entry).await?;
    Ok(())
}

pub(crate) fn user_ids(users: &[String]) -> Result<Vec<UserId>, ApiError> {
    users
        .iter()
        .map(|u| UserId::new(u.as_str()).map_err(|e| ApiError::Invalid(format!("{u}: {e}"))))
        .collect()
}

/// One page of the users the caller administers (`GET /api/v1/users?all=true`).
pub(crate) async fn list_all_users(
    state: &AppState,
    caller: &Caller,
    practice: Option<&str>,
    page: &PageParams,
) -> Result<Response, ApiError> {
    let practice = practice_scope(caller, practice)?;
    let users = state
        .backends()
        .store
        .users_page(&page.query(practice))
        .await?;
    Ok(paged(users.map(UserRecord::from)))
}

/// Whether `given` are the credentials already stored for `user`.
async fn same_credentials(
    state: &AppState,
    user: &UserId,
    given: &NewUser,
) -> Result<bool, ApiError> {
    Ok(state
        .backends()
        .store
        .credentials(user)
        .await?
        .is_some_and(|c| {
            c.password.expose_secret() == given.password.expose_secret()
                && c.pin.expose_secret() == given.pin.expose_secret()
        }))
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
    let practice = one_practice(&actor, user.practice.as_deref())?;
    let store = &state.backends().store;
    if store.practice(&practice).await?.is_none() {
        return Err(ApiError::Invalid(format!(
            "lo studio {practice} non esiste: crealo prima (tsgate practice add)."
        )));
    }
    let id = UserId::new(user.user_id.as_str()).map_err(|e| ApiError::Invalid(e.to_string()))?;
    super::edit::require_credentials(&user.password, &user.pin)?;
    let profile = UserProfile {
        user_id: id.clone(),
        fiscal_code: user.cf.clone(),
        region: user.region.clone(),
        asl: user.asl.clone(),
        ssa: user.ssa.clone().unwrap_or_else(|| "000000".into()),
        specialization: user.specialization.clone(),
        display_name: user.display_name.clone(),
        environment: user.environment.unwrap_or(state.config().user_environment),
        role: user.role,
        password_changed_at: None,
    };
    super::edit::check_fields(&profile)?;
    if let Some(existing) = store.user(&id).await? {
        if store.is_member(&practice, &id).await? {
            return Err(tsgate_session::StoreError::Conflict.into());
        }
        // A doctor of another practice (a sostituto here, titolare there) joins this one
        // with ONE session: only who already knows the credentials may add them, and
        // nothing of theirs is changed.
        let vendor = matches!(
            actor.workstation.admin_scope(),
            Some(AdminScope::Installation)
        );
        if !vendor && !same_credentials(&state, &id, &user).await? {
            return Err(ApiError::UserOfAnotherPractice {
                user: id.to_string(),
            });
        }
        store.add_member(&practice, &id).await?;
        audit_in(
            &state,
            &actor,
            Some(practice),
            AdminAction::UserAdded,
            Some(id),
            "ok (member)".into(),
        )
        .await?;
        return Ok((StatusCode::CREATED, Json(UserRecord::from(existing))).into_response());
    }
    store.put_user(&profile).await?;
    store
        .set_credentials(&id, &user.password, &user.pin, None)
        .await?;
    store.add_member(&practice, &id).await?;
    audit_in(
        &state,
        &actor,
        Some(practice),
        AdminAction::UserAdded,
        Some(id),
        "ok".into(),
    )
    .await?;
    let record = UserRecord::from(profile);
    Ok((StatusCode::CREATED, Json(record)).into_response())
}

/// The query string of `DELETE /api/v1/users/{user}`.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct RemoveParams {
    /// The vendor's: remove from this practice only (absent: from tsgate altogether).
    practice: Option<String>,
}

/// Removes `user` from the caller's practice; a doctor left in no practice is removed from
/// tsgate with credentials, mailbox and session (the audit stays).
pub(crate) async fn remove_user(
    State(state): State<AppState>,
    AdminAuthed(actor): AdminAuthed,
    Path(user): Path<String>,
    ApiQuery(params): ApiQuery<RemoveParams>,
) -> Result<StatusCode, ApiError> {
    let id = match administered_user(&state, &actor, &user).await {
        Err(ApiError::UnknownUser) => return Err(ApiError::NotFound),
        other => other?,
    };
    let store = &state.backends().store;
    let practice = practice_scope(&actor, params.practice.as_deref())?;
    let removed = match &practice {
        Some(p) => {
            let left = store.remove_member(p, &id).await?;
            if left && store.practices_of(&id).await?.is_empty() {
                store.remove_user(&id).await?;
            }
            left
        }
        None => store.remove_user(&id).await?,
    };
    state.workstations().forget_all();
    if !removed {
        return Err(ApiError::NotFound);
    }
    audit_in(
        &state,
        &actor,
        practice,
        AdminAction::UserRemoved,
        Some(id),
        "ok".into(),
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The query string of `GET /api/v1/workstations`.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct WorkstationsParams {
    /// The vendor's: only this practice.
    practice: Option<String>,
    #[serde(flatten)]
    page: PageParams,
}

pub(crate) async fn list_workstations(
    State(state): State<AppState>,
    AdminAuthed(actor): AdminAuthed,
    ApiQuery(params): ApiQuery<WorkstationsParams>,
) -> Result<Response, ApiError> {
    let practice = practice_scope(&actor, params.practice.as_deref())?;
    let page = state
        .backends()
        .store
        .workstations_page(&params.page.query(practice))
        .await?;
    Ok(paged(page))
}

#[derive(Serialize)]
struct CreatedWorkstation {
    workstation: Workstation,
    /// Shown once; only its hash is stored.
    token: String,
    /// The sign-in link (`…/login?token=…`) on the address the caller used, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    login_url: Option<String>,
    /// That link as a QR code (SVG), for a phone's camera.
    #[serde(skip_serializing_if = "Option::is_none")]
    login_qr_svg: Option<String>,
}

/// The address the caller reached tsgate at: the browser's `Origin`, else `Host` with the
/// scheme this server speaks. `None` when neither is a plain `scheme://host[:port]`.
fn caller_origin(headers: &axum::http::HeaderMap, https: bool) -> Option<String> {
    let clean = |s: &str| {
        s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b".-:[]".contains(&b))
            && !s.is_empty()
    };
    if let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) {
        let (scheme, host) = origin.split_once("://")?;
        return (matches!(scheme, "http" | "https") && clean(host))
            .then(|| format!("{scheme}://{host}"));
    }
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok())?;
    clean(host).then(|| format!("{}://{host}", if https { "https" } else { "http" }))
}

/// The QR code of `text` as an SVG image.
fn qr_svg(text: &str) -> Option<String> {
    let code = qrcode::QrCode::new(text.as_bytes()).ok()?;
    Some(
        code.render::<qrcode::render::svg::Color>()
            .min_dimensions(200, 200)
            .quiet_zone(true)
            .build(),
    )
}

/// Checks a workstation to create against the caller's rights and the practice's members;
/// returns what to register.
async fn workstation_spec(
    state: &AppState,
    caller: &Caller,
    new: &NewWorkstation,
) -> Result<WorkstationSpec, ApiError> {
    let name = new.name.trim();
    if name.is_empty() {
        return Err(ApiError::BadRequest(
            "manca il nome della postazione (name).".into(),
        ));
    }
    let vendor = matches!(
        caller.workstation.admin_scope(),
        Some(AdminScope::Installation)
    );
    if new.role == WorkstationRole::Vendor && !vendor {
        return Err(ApiError::Invalid(
            "solo il fornitore del gestionale può creare postazioni di tipo vendor.".into(),
        ));
    }
    let practice = match new.role.practice_rule() {
        PracticeRule::Forbidden => None,
        PracticeRule::Optional if new.all_practices => {
            if !vendor {
                return Err(ApiError::Invalid(
                    "solo il fornitore del gestionale può creare un server che agisce per tutti gli studi.".into(),
                ));
            }
            None
        }
        _ => Some(one_practice(caller, new.practice.as_deref())?),
    };
    let users = user_ids(&new.users)?;
    if !users.is_empty() && !new.role.lists_users() {
        return Err(ApiError::Invalid(format!(
            "una postazione di tipo {} non elenca i medici: agisce per tutti quelli del suo studio. Togli 'users'.",
            new.role
        )));
    }
    if let Some(p) = &practice {
        if state.backends().store.practice(p).await?.is_none() {
            return Err(ApiError::Invalid(format!("lo studio {p} non esiste.")));
        }
        for user in &users {
            if !state.backends().store.is_member(p, user).await? {
                return Err(ApiError::Invalid(format!(
                    "l'utente {user} non è un medico dello studio {p}: aggiungilo prima allo studio."
                )));
            }
        }
    }
    Ok(WorkstationSpec {
        name: name.to_owned(),
        role: new.role,
        practice,
        users,
    })
}

pub(crate) async fn add_workstation(
    State(state): State<AppState>,
    AdminAuthed(actor): AdminAuthed,
    headers: axum::http::HeaderMap,
    ApiJson(new): ApiJson<NewWorkstation>,
) -> Result<Response, ApiError> {
    let spec = workstation_spec(&state, &actor, &new).await?;
    let (workstation, token) = state.backends().store.register_workstation(&spec).await?;
    let token = token.expose_secret().to_owned();
    audit_in(
        &state,
        &actor,
        workstation.practice.clone(),
        AdminAction::WorkstationAdded,
        None,
        format!(
            "workstation {} ({})",
            workstation.id,
            workstation.role.as_str()
        ),
    )
    .await?;
    let login_url = caller_origin(&headers, state.config().tls.is_some())
        .map(|origin| format!("{origin}/login?token={token}"));
    let login_qr_svg = login_url.as_deref().and_then(qr_svg);
    let mut response = (
        StatusCode::CREATED,
        Json(CreatedWorkstation {
            workstation,
            token,
            login_url,
            login_qr_svg,
        }),
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
    let store = &state.backends().store;
    let id = WorkstationId(id);
    let found = store.workstation(&id).await?.ok_or(ApiError::NotFound)?;
    if let Some(AdminScope::Practice(own)) = actor.workstation.admin_scope()
        && found.practice.as_ref() != Some(own)
    {
        return Err(ApiError::NotFound);
    }
    let revoked = store.revoke_workstation(&id).await?;
    state.workstations().forget_all();
    if !revoked {
        return Err(ApiError::NotFound);
    }
    audit_in(
        &state,
        &actor,
        found.practice,
        AdminAction::WorkstationRevoked,
        None,
        format!("workstation {id}"),
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}
