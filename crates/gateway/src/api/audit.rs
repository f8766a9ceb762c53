//! `GET /api/v1/audit` (admin).

use axum::Json;
use axum::extract::State;

use super::ApiQuery;
use crate::auth::AdminAuthed;
use crate::error::ApiError;
use crate::ports::{AuditFilter, AuditRecord};
use crate::state::AppState;

const DEFAULT_LIMIT: u32 = 100;
const MAX_LIMIT: u32 = 1000;

pub(crate) async fn query(
    State(state): State<AppState>,
    AdminAuthed(_actor): AdminAuthed,
    ApiQuery(mut filter): ApiQuery<AuditFilter>,
) -> Result<Json<Vec<AuditRecord>>, ApiError> {
    filter.limit = Some(filter.limit.unwrap_or(DEFAULT_LIMIT).clamp(1, MAX_LIMIT));
    if let (Some(from), Some(to)) = (filter.from, filter.to)
        && from > to
    {
        return Err(ApiError::BadRequest(
            "la data iniziale (from) è successiva a quella finale (to).".into(),
        ));
    }
    Ok(Json(state.backends().audit.query(filter).await?))
}
