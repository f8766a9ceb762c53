//! `POST /api/v1/import`: doctors (CSV or JSON) and workstations (JSON) in bulk, for an
//! admin workstation (its practice) or the vendor (any practice). Idempotent; the answer
//! lists every refused line with why, and the tokens of the workstations it created (shown
//! only there).

use axum::Json;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use tsgate_session::import::{ImportFormat, parse_import_in};
use tsgate_session::provision::{ImportScope, apply};
use tsgate_session::{AdminAction, AdminScope};

use super::ApiQuery;
use crate::auth::AdminAuthed;
use crate::error::ApiError;
use crate::state::AppState;

/// The path: its body may be large and its work long (see [`IMPORT_BODY_BYTES`],
/// [`IMPORT_TIMEOUT`]).
pub(crate) const IMPORT_PATH: &str = "/api/v1/import";

/// Largest import file: 100,000 doctors in CSV are about 12 MiB.
pub(crate) const IMPORT_BODY_BYTES: usize = 64 * 1024 * 1024;

/// Time allowed to an import (the API's usual limit is for single changes).
pub(crate) const IMPORT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(600);

/// The query string.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct ImportParams {
    /// The practice of rows that name none (the vendor's; an admin's is its own).
    practice: Option<String>,
    /// Check only: nothing is written.
    #[serde(default, deserialize_with = "super::paging::flag")]
    dry_run: bool,
}

pub(crate) async fn import(
    State(state): State<AppState>,
    AdminAuthed(actor): AdminAuthed,
    ApiQuery(params): ApiQuery<ImportParams>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let default_practice = super::admin::practice_scope(&actor, params.practice.as_deref())?;
    let scope = match actor.workstation.admin_scope() {
        Some(AdminScope::Practice(own)) => ImportScope::Practice(own.clone()),
        _ => ImportScope::Installation,
    };
    let bytes = axum::body::to_bytes(body, IMPORT_BODY_BYTES)
        .await
        .map_err(|_| ApiError::PayloadTooLarge)?;
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let format = if content_type.contains("json") {
        ImportFormat::Json
    } else if content_type.contains("csv") {
        ImportFormat::Csv
    } else {
        ImportFormat::detect(&bytes, None)
    };
    let plan = parse_import_in(
        &bytes,
        format,
        default_practice.as_ref(),
        state.config().user_environment,
    )
    .map_err(|e| ApiError::Invalid(e.to_string()))?;
    let store = state.backends().store.as_ref();
    let report = apply(store, plan, &scope, params.dry_run).await?;
    if !params.dry_run {
        state.workstations().forget_all();
        super::admin::audit_in(
            &state,
            &actor,
            default_practice,
            AdminAction::Imported,
            None,
            format!(
                "{} doctors ({} new, {} changed), {} workstations created, {} lines refused",
                report.users_accepted,
                report.users.users_created,
                report.users.users_updated,
                report.workstations_created.len(),
                report.refused.len()
            ),
        )
        .await?;
    }
    let mut response = Json(report).into_response();
    // The answer may hold workstation tokens.
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}
