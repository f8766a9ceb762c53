//! The session endpoints of one user.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use sistemats::SessionCode;

use tsgate_session::{Page, Reach, SessionError, SessionView, UserId};

use super::paging::{PageParams, paged};
use super::{ApiJson, ApiQuery};
use crate::auth::{Authed, act_for};
use crate::error::ApiError;
use crate::state::AppState;

/// One entry of `GET /api/v1/users`.
#[derive(Debug, Serialize)]
struct UserEntry {
    user: String,
    session: SessionView,
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct UsersQuery {
    /// Admin only: the configured users (without session), from the admin directory.
    #[serde(default, deserialize_with = "super::paging::flag")]
    all: bool,
    /// The vendor's `all=true`: only this practice.
    practice: Option<String>,
    #[serde(flatten)]
    page: PageParams,
}

/// `GET /api/v1/users`: one page of the users this workstation acts for, with their
/// sessions (a backend's are its practice's members, read a page at a time).
pub(crate) async fn list_users(
    State(state): State<AppState>,
    Authed(actor): Authed,
    ApiQuery(query): ApiQuery<UsersQuery>,
) -> Result<Response, ApiError> {
    if query.all {
        return super::admin::list_all_users(
            &state,
            &actor,
            query.practice.as_deref(),
            &query.page,
        )
        .await;
    }
    let ws = &actor.workstation;
    let users: Page<UserId> = match ws.reach() {
        Reach::Listed(users) => {
            let q = query.page.query(None);
            let needle = q.needle();
            let rows = users
                .iter()
                .filter(|u| q.after.as_deref().is_none_or(|a| u.as_str() > a))
                .filter(|u| {
                    needle
                        .as_deref()
                        .is_none_or(|n| u.as_str().to_lowercase().contains(n))
                })
                .take(q.effective_limit() as usize + 1)
                .cloned()
                .collect();
            Page::from_rows(rows, q.effective_limit(), UserId::to_string)
        }
        Reach::Practice(practice) => state
            .backends()
            .store
            .users_page(&query.page.query(Some(practice.clone())))
            .await?
            .map(|p| p.user_id),
        Reach::Everyone => state
            .backends()
            .store
            .users_page(&query.page.query(None))
            .await?
            .map(|p| p.user_id),
        Reach::Nobody => Page {
            items: Vec::new(),
            next: None,
        },
    };
    let mut out = Vec::with_capacity(users.items.len());
    for user in &users.items {
        match state.backends().sessions.status(user).await {
            Ok(session) => out.push(UserEntry {
                user: user.to_string(),
                session,
            }),
            // A user removed after the workstation was configured: not listed.
            Err(SessionError::UnknownUser(_)) => {
                tracing::warn!(%user, workstation = %ws.id, "workstation lists an unknown user");
            }
            Err(e) => return Err(e.into()),
        }
    }
    Ok(paged(Page {
        items: out,
        next: users.next,
    }))
}

pub(crate) async fn status(
    State(state): State<AppState>,
    Authed(actor): Authed,
    Path(user): Path<String>,
) -> Result<Json<SessionView>, ApiError> {
    let user = act_for(&state, &actor, &user).await?;
    Ok(Json(state.backends().sessions.status(&user).await?))
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RequestBody {
    #[serde(default)]
    replace: bool,
}

#[derive(Debug, Serialize)]
struct RequestAnswer {
    /// `sent` (a `create` went out) or `joined` (one was already in flight).
    outcome: &'static str,
    session: SessionView,
}

pub(crate) async fn request(
    State(state): State<AppState>,
    Authed(actor): Authed,
    Path(user): Path<String>,
    body: axum::body::Bytes,
) -> Result<Response, ApiError> {
    let user = act_for(&state, &actor, &user).await?;
    // The body is optional: no body means `{"replace": false}`.
    let replace = if body.iter().all(u8::is_ascii_whitespace) {
        false
    } else {
        serde_json::from_slice::<RequestBody>(&body)
            .map_err(|_| {
                ApiError::BadRequest(
                    "il corpo deve essere {\"replace\": true} oppure {\"replace\": false}.".into(),
                )
            })?
            .replace
    };
    let outcome = state
        .backends()
        .sessions
        .request(&user, replace, actor.actor())
        .await?;
    let answer = RequestAnswer {
        outcome: if outcome.joined { "joined" } else { "sent" },
        session: outcome.view,
    };
    Ok((StatusCode::ACCEPTED, Json(answer)).into_response())
}

/// The typed code. Deliberately without `Debug` derive: it holds the code.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct CodeBody {
    #[serde(deserialize_with = "de_code")]
    code: SessionCode,
}

impl std::fmt::Debug for CodeBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CodeBody(***)")
    }
}

fn de_code<'de, D: serde::Deserializer<'de>>(d: D) -> Result<SessionCode, D::Error> {
    String::deserialize(d).map(SessionCode::new)
}

pub(crate) async fn submit_code(
    State(state): State<AppState>,
    Authed(actor): Authed,
    Path(user): Path<String>,
    ApiJson(body): ApiJson<CodeBody>,
) -> Result<Json<SessionView>, ApiError> {
    let user = act_for(&state, &actor, &user).await?;
    let session = state
        .backends()
        .sessions
        .submit_code(&user, body.code.expose_secret(), actor.actor())
        .await?;
    Ok(Json(session))
}

pub(crate) async fn revoke(
    State(state): State<AppState>,
    Authed(actor): Authed,
    Path(user): Path<String>,
) -> Result<Json<SessionView>, ApiError> {
    let user = act_for(&state, &actor, &user).await?;
    Ok(Json(
        state
            .backends()
            .sessions
            .revoke(&user, actor.actor())
            .await?,
    ))
}

#[derive(Serialize)]
struct CodeAnswer<'a> {
    user: &'a str,
    code: &'a str,
}

/// "Copia codice": the code in clear, for a doctor's own workstation only. The session
/// layer audits it ("copied").
pub(crate) async fn reveal_code(
    State(state): State<AppState>,
    Authed(actor): Authed,
    Path(user): Path<String>,
) -> Result<Response, ApiError> {
    let user = act_for(&state, &actor, &user).await?;
    // `act_for` has decided the reach (one lookup at most): what is left is the role.
    if !actor.workstation.role_sees_codes() {
        return Err(ApiError::CodeNotVisible);
    }
    let code = state
        .backends()
        .sessions
        .copy_code(&user, actor.actor())
        .await?;
    tracing::info!(%user, workstation = %actor.workstation.id, code = %code.hint(), "code revealed");
    let mut response = Json(CodeAnswer {
        user: user.as_str(),
        code: code.expose_secret(),
    })
    .into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}
