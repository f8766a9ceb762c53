//! Practices (tenants): the vendor creates them and moves doctors in and out; an admin
//! workstation sees its own. Counts only, never a code.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use tsgate_session::{AdminAction, AdminScope, Practice, PracticeCounts, PracticeId, UserId};

use super::paging::{PageParams, paged};
use super::{ApiJson, ApiQuery};
use crate::auth::AdminAuthed;
use crate::error::ApiError;
use crate::state::AppState;

/// A practice with its counts.
#[derive(Debug, Serialize)]
pub(crate) struct PracticeEntry {
    #[serde(flatten)]
    practice: Practice,
    counts: PracticeCounts,
}

async fn entry(state: &AppState, practice: Practice) -> Result<PracticeEntry, ApiError> {
    let counts = state.backends().store.practice_counts(&practice.id).await?;
    Ok(PracticeEntry { practice, counts })
}

/// The practice `id` if the caller administers it (else "not found").
fn scoped(actor: &tsgate_session::Caller, id: &str) -> Result<PracticeId, ApiError> {
    let id = PracticeId::new(id).map_err(|_| ApiError::NotFound)?;
    match actor.workstation.admin_scope() {
        Some(AdminScope::Installation) => Ok(id),
        Some(AdminScope::Practice(own)) if own == &id => Ok(id),
        Some(AdminScope::Practice(_)) => Err(ApiError::NotFound),
        None => Err(ApiError::AdminOnly),
    }
}

fn vendor_only(actor: &tsgate_session::Caller) -> Result<(), ApiError> {
    match actor.workstation.admin_scope() {
        Some(AdminScope::Installation) => Ok(()),
        Some(AdminScope::Practice(_)) => Err(ApiError::OtherPractice),
        None => Err(ApiError::AdminOnly),
    }
}

/// `GET /api/v1/practices`: the vendor's page of practices; an admin's own.
pub(crate) async fn list(
    State(state): State<AppState>,
    AdminAuthed(actor): AdminAuthed,
    ApiQuery(params): ApiQuery<PageParams>,
) -> Result<Response, ApiError> {
    let store = &state.backends().store;
    let page = match actor.workstation.admin_scope() {
        Some(AdminScope::Practice(own)) => tsgate_session::Page {
            items: store.practice(own).await?.into_iter().collect(),
            next: None,
        },
        _ => store.practices_page(&params.query(None)).await?,
    };
    let mut items = Vec::with_capacity(page.items.len());
    for practice in page.items {
        items.push(entry(&state, practice).await?);
    }
    Ok(paged(tsgate_session::Page {
        items,
        next: page.next,
    }))
}

/// `GET /api/v1/practices/{id}`.
pub(crate) async fn show(
    State(state): State<AppState>,
    AdminAuthed(actor): AdminAuthed,
    Path(id): Path<String>,
) -> Result<Json<PracticeEntry>, ApiError> {
    let id = scoped(&actor, &id)?;
    let practice = state
        .backends()
        .store
        .practice(&id)
        .await?
        .ok_or(ApiError::NotFound)?;
    Ok(Json(entry(&state, practice).await?))
}

/// A practice to create or rename (`POST /api/v1/practices`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewPractice {
    id: String,
    name: String,
}

/// `POST /api/v1/practices` (vendor): creates the practice, or renames it (idempotent).
pub(crate) async fn put(
    State(state): State<AppState>,
    AdminAuthed(actor): AdminAuthed,
    ApiJson(new): ApiJson<NewPractice>,
) -> Result<Response, ApiError> {
    vendor_only(&actor)?;
    let id = PracticeId::new(new.id.trim()).map_err(|e| ApiError::Invalid(e.to_string()))?;
    let name = new.name.trim();
    if name.is_empty() || name.chars().count() > 200 {
        return Err(ApiError::Invalid(
            "il nome dello studio (name) è obbligatorio, al massimo 200 caratteri.".into(),
        ));
    }
    let store = &state.backends().store;
    let existed = store.practice(&id).await?.is_some();
    let practice = store.put_practice(&id, name).await?;
    super::admin::audit_in(
        &state,
        &actor,
        Some(id.clone()),
        AdminAction::PracticeSet,
        None,
        format!("practice {id}"),
    )
    .await?;
    let status = if existed {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    Ok((status, Json(entry(&state, practice).await?)).into_response())
}

/// `PUT /api/v1/practices/{id}/members/{user}` (vendor): an existing doctor joins another
/// practice, keeping one session and one code.
pub(crate) async fn add_member(
    State(state): State<AppState>,
    AdminAuthed(actor): AdminAuthed,
    Path((id, user)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    vendor_only(&actor)?;
    let id = PracticeId::new(id).map_err(|_| ApiError::NotFound)?;
    let user = UserId::new(user).map_err(|_| ApiError::NotFound)?;
    state.backends().store.add_member(&id, &user).await?;
    super::admin::audit_in(
        &state,
        &actor,
        Some(id),
        AdminAction::MemberAdded,
        Some(user),
        "ok".into(),
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `DELETE /api/v1/practices/{id}/members/{user}`: the doctor leaves the practice (its
/// workstations stop acting for them); the doctor stays in tsgate.
pub(crate) async fn remove_member(
    State(state): State<AppState>,
    AdminAuthed(actor): AdminAuthed,
    Path((id, user)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let id = scoped(&actor, &id)?;
    let user = UserId::new(user).map_err(|_| ApiError::NotFound)?;
    if !state.backends().store.remove_member(&id, &user).await? {
        return Err(ApiError::NotFound);
    }
    state.workstations().forget_all();
    super::admin::audit_in(
        &state,
        &actor,
        Some(id),
        AdminAction::MemberRemoved,
        Some(user),
        "ok".into(),
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}
