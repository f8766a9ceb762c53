//! `GET /api/v1/audit` (admin).

use axum::Json;
use axum::extract::State;
use serde::Deserialize;
use time::OffsetDateTime;
use tsgate_session::{Actor, AuditEntry, AuditEntryKind, AuditFilter, UserId, WorkstationId};

use super::ApiQuery;
use crate::auth::AdminAuthed;
use crate::error::ApiError;
use crate::state::AppState;

/// The API returns at most this many lines per query (the store allows more, for exports).
const MAX_LIMIT: u32 = 1000;

/// The query string of `GET /api/v1/audit`, turned into the domain's [`AuditFilter`].
#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct AuditParams {
    /// Only this user.
    user: Option<String>,
    /// Only this workstation id (actor `ws:<id>`).
    workstation: Option<String>,
    /// Only this kind (session kind or administration action).
    kind: Option<String>,
    /// From this instant (inclusive).
    #[serde(default, with = "time::serde::rfc3339::option")]
    from: Option<OffsetDateTime>,
    /// Up to this instant (exclusive).
    #[serde(default, with = "time::serde::rfc3339::option")]
    to: Option<OffsetDateTime>,
    /// At most this many, newest first.
    limit: Option<u32>,
    /// The vendor's: only this practice (an admin workstation always sees its own).
    practice: Option<String>,
}

impl AuditParams {
    /// The filter, or `None` when a user id or kind that cannot exist makes it match nothing.
    fn filter(self) -> Option<AuditFilter> {
        let user = match self.user.as_deref().map(UserId::new) {
            Some(Err(_)) => return None,
            Some(Ok(u)) => Some(u),
            None => None,
        };
        let kind = match self.kind.as_deref().map(str::parse::<AuditEntryKind>) {
            Some(Err(_)) => return None,
            Some(Ok(k)) => Some(k),
            None => None,
        };
        Some(AuditFilter {
            user,
            practice: None,
            actor: self
                .workstation
                .map(|w| Actor::Workstation(WorkstationId(w))),
            kind,
            since: self.from,
            until: self.to,
            limit: Some(
                self.limit
                    .unwrap_or(AuditFilter::DEFAULT_LIMIT)
                    .clamp(1, MAX_LIMIT),
            ),
        })
    }
}

pub(crate) async fn query(
    State(state): State<AppState>,
    AdminAuthed(actor): AdminAuthed,
    ApiQuery(params): ApiQuery<AuditParams>,
) -> Result<Json<Vec<AuditEntry>>, ApiError> {
    let practice = super::admin::practice_scope(&actor, params.practice.as_deref())?;
    if let (Some(from), Some(to)) = (params.from, params.to)
        && from > to
    {
        return Err(ApiError::BadRequest(
            "la data iniziale (from) è successiva a quella finale (to).".into(),
        ));
    }
    let Some(mut filter) = params.filter() else {
        return Ok(Json(Vec::new()));
    };
    filter.practice = practice;
    Ok(Json(state.backends().store.query(&filter).await?))
}
