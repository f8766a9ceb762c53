//! The web UI: server-rendered pages (askama, auto-escaped), a little vanilla JavaScript
//! and CSS embedded in the binary, and the cookie session that lets the browser use the
//! JSON API without ever holding the workstation token in JavaScript.
//!
//! Pages: `/` (the state of each user's code), `/admin`, `/aiuto` (help and troubleshooting),
//! `/login`, `/logout`, `/assets/…`. The JSON API accepts the cookie through
//! [`Ui::layer`], which places the re-authenticated [`Caller`] in the request extensions
//! after checking the CSRF header of state-changing requests.

mod assets;
mod pages;
mod session;
mod text;

#[cfg(test)]
mod tests;

use std::sync::Arc;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};

use crate::auth::remote_ip_of;
use crate::error::ApiError;
use crate::state::AppState;
use session::{CSRF_HEADER, UiSession, UiSessions, cookie_id};
use tsgate_session::{Caller, Workstation};

/// The web UI: its routes and the cookie layer share one session sealer.
#[derive(Clone, Debug, Default)]
pub(crate) struct Ui {
    sessions: Arc<UiSessions>,
}

impl Ui {
    /// Sessions sealed with `key`, or with a random key for this process when `None`.
    pub(crate) fn new(key: Option<crate::UiSessionKey>) -> Self {
        match key {
            Some(key) => Self {
                sessions: Arc::new(UiSessions::with_key(key.0)),
            },
            None => Self::default(),
        }
    }

    /// The pages and the assets.
    pub(crate) fn routes(&self) -> Router<AppState> {
        Router::new()
            .route("/", get(pages::doctor))
            .route("/admin", get(pages::admin))
            .route("/aiuto", get(pages::help))
            .route("/login", get(pages::login_get).post(pages::login_post))
            .route("/logout", post(pages::logout))
            .route("/assets/{name}", get(assets::serve))
            .layer(axum::Extension(self.sessions.clone()))
    }

    /// The state of [`cookie_layer`]: `middleware::from_fn_with_state(ui.layer_state(&state),
    /// ui::cookie_layer)` turns the session cookie into a [`Caller`] for the JSON API.
    pub(crate) fn layer_state(&self, state: &AppState) -> (AppState, Arc<UiSessions>) {
        (state.clone(), self.sessions.clone())
    }
}

/// A signed-in browser: the session and the workstation as just re-authenticated.
pub(crate) struct SignedIn {
    pub(crate) session: UiSession,
    pub(crate) workstation: Workstation,
}

/// The session of the request's cookie, with its workstation re-authenticated; a session
/// whose workstation was revoked is ended here.
pub(crate) async fn signed_in(
    state: &AppState,
    sessions: &UiSessions,
    headers: &HeaderMap,
) -> Result<Option<SignedIn>, ApiError> {
    let Some(id) = cookie_id(headers) else {
        return Ok(None);
    };
    let Some(session) = sessions.get(&id) else {
        return Ok(None);
    };
    match state.workstations().authenticate(&session.token).await? {
        Some(workstation) => Ok(Some(SignedIn {
            session,
            workstation,
        })),
        None => {
            tracing::info!("ui session ended: workstation revoked");
            sessions.remove(&id);
            Ok(None)
        }
    }
}

fn is_safe(method: &Method) -> bool {
    matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// The 403 of a state-changing request whose CSRF header is missing or wrong.
pub(crate) fn csrf_refused() -> Response {
    (
        StatusCode::FORBIDDEN,
        axum::Json(serde_json::json!({"error": {
            "code": "csrf",
            "message": "Richiesta rifiutata: la pagina è scaduta o non viene da tsgate. Ricarica la pagina e riprova."
        }})),
    )
        .into_response()
}

/// Middleware: for `/api/…` requests without `Authorization`, a valid session cookie becomes
/// the request's [`Caller`]; state-changing requests must carry the CSRF header.
pub(crate) async fn cookie_layer(
    State((state, sessions)): State<(AppState, Arc<UiSessions>)>,
    mut request: Request,
    next: Next,
) -> Response {
    // Only the JSON API takes the cookie, and an explicit Bearer header always wins.
    if !request.uri().path().starts_with("/api/")
        || request.headers().contains_key(header::AUTHORIZATION)
    {
        return next.run(request).await;
    }
    let signed = match signed_in(&state, &sessions, request.headers()).await {
        Ok(s) => s,
        Err(e) => return e.into_response(),
    };
    let mut watch = None;
    if let Some(signed) = signed {
        if !is_safe(request.method()) {
            let given = request
                .headers()
                .get(CSRF_HEADER)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("");
            if !signed.session.csrf_matches(given) {
                return csrf_refused();
            }
        }
        if request.uri().path() == crate::api::EVENTS_PATH
            && let Some(id) = cookie_id(request.headers())
        {
            watch = Some((id, signed.session.token.clone()));
        }
        let remote = remote_ip_of(request.extensions());
        request.extensions_mut().insert(Caller {
            workstation: signed.workstation,
            remote,
        });
    }
    let response = next.run(request).await;
    match watch {
        // The event stream outlives the request: end it when the session ends (logout) or
        // the workstation is revoked, so that a revoked browser stops seeing the states.
        Some((id, token)) if response.status().is_success() => {
            let (parts, body) = response.into_parts();
            let ended = session_ended(state, sessions, id, token);
            let stream = futures::StreamExt::take_until(body.into_data_stream(), ended);
            Response::from_parts(parts, axum::body::Body::from_stream(stream))
        }
        _ => response,
    }
}

/// How often an open event stream re-checks its session and workstation.
#[cfg(not(test))]
const RECHECK: std::time::Duration = std::time::Duration::from_secs(30);
#[cfg(test)]
const RECHECK: std::time::Duration = std::time::Duration::from_millis(50);

/// Resolves when session `id` is gone or its workstation no longer authenticates.
async fn session_ended(
    state: AppState,
    sessions: Arc<UiSessions>,
    id: String,
    token: tsgate_session::WorkstationToken,
) {
    loop {
        tokio::time::sleep(RECHECK).await;
        if sessions.get(&id).is_none() {
            return;
        }
        // A failing store is not a revocation: keep the stream and ask again later.
        if let Ok(None) = state.workstations().authenticate(&token).await {
            tracing::info!("ui event stream ended: workstation revoked");
            sessions.remove(&id);
            return;
        }
    }
}
