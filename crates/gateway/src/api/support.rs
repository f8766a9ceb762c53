//! `GET /api/v1/support-bundle`: the support bundle as a download (admin and vendor only).
//!
//! Who gets what follows the administration rules (`practice_scope`): an admin workstation
//! its own practice; the vendor the practice it names, or the installation in numbers. The
//! installation's configuration and checks go to the vendor and to the admin of the default
//! practice (on a practice's own server, the one practice there is); other practices' admins
//! share an installation run by someone else.

use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use tsgate_session::{AdminAction, AdminScope, Caller, PracticeId};

use super::ApiQuery;
use crate::auth::AdminAuthed;
use crate::error::ApiError;
use crate::state::AppState;
use crate::support::{self, NodeInfo, Origin, Scope, Sources};

/// The route.
pub(crate) const SUPPORT_BUNDLE_PATH: &str = "/api/v1/support-bundle";

/// The query string.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct Params {
    /// The vendor's: the practice to describe.
    practice: Option<String>,
}

/// Whether `caller` may see the installation's configuration and checks.
fn sees_installation(caller: &Caller) -> bool {
    match caller.workstation.admin_scope() {
        Some(AdminScope::Installation) => true,
        Some(AdminScope::Practice(p)) => *p == PracticeId::default_practice(),
        None => false,
    }
}

pub(crate) async fn download(
    State(state): State<AppState>,
    AdminAuthed(caller): AdminAuthed,
    ApiQuery(params): ApiQuery<Params>,
) -> Result<Response, ApiError> {
    let practice = super::admin::practice_scope(&caller, params.practice.as_deref())?;
    let installation =
        if !sees_installation(&caller) {
            Err("La configurazione e i controlli dell'installazione non sono inclusi nel pacchetto \
             di uno studio: li fornisce chi gestisce il server (il fornitore del gestionale)."
            .to_owned())
        } else {
            match state.support() {
                Some(report) => Ok(report.report().await),
                None => Err(
                    "Configurazione e controlli non disponibili da questo server: sul server usa \
                 «tsgate support-bundle»."
                        .to_owned(),
                ),
            }
        };
    let backends = state.backends();
    let now = time::OffsetDateTime::now_utc();
    let origin = Origin {
        produced_by: caller.actor().to_string(),
        node: Some(NodeInfo {
            name: backends.sessions.node_name().to_owned(),
            serving_since: state.started_at(),
            uptime_seconds: (now - state.started_at()).whole_seconds().max(0),
        }),
    };
    let sources = Sources {
        sessions: &backends.sessions,
        store: backends.store.as_ref(),
        mailboxes: state.mailboxes().map(|m| m.as_ref()),
    };
    let scope = match &practice {
        Some(p) => Scope::Practice(p.clone()),
        None => Scope::Installation,
    };
    let bundle = support::collect(origin, installation, sources, scope).await?;
    let bytes = bundle
        .to_zip()
        .map_err(|e| ApiError::internal(e.to_string()))?;
    super::admin::audit_in(
        &state,
        &caller,
        bundle
            .practice
            .as_ref()
            .and_then(|p| PracticeId::new(p.id.as_str()).ok())
            .or(practice),
        AdminAction::SupportBundle,
        None,
        format!("{} doctors", bundle.doctors.len()),
    )
    .await?;
    let disposition = format!("attachment; filename=\"{}\"", bundle.file_name());
    let mut response = (StatusCode::OK, bytes).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/zip"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if let Ok(value) = HeaderValue::from_str(&disposition) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    Ok(response)
}
