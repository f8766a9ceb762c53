//! The HTML pages: sign-in and sign-out, the codes of the users, administration, help.

use std::collections::HashMap;
use std::sync::Arc;

use askama::Template;
use axum::Extension;
use axum::extract::{Form, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use tsgate_session::UserId;
use tsgate_session::WorkstationToken;

use super::session::{UiSessions, clear_cookie, is_https, set_cookie};
use super::{SignedIn, signed_in, text};
use crate::error::ApiError;
use crate::state::AppState;

/// What every page shows around its content.
pub(crate) struct Chrome {
    title: &'static str,
    /// Which navigation entry is current.
    page: &'static str,
    csrf: String,
    workstation: Option<String>,
    role: Option<&'static str>,
    is_admin: bool,
    /// "Postazione" or, at a pharmacy's counter, "Banco".
    place: text::Place,
}

impl Chrome {
    fn new(title: &'static str, page: &'static str, signed: Option<&SignedIn>) -> Self {
        Self {
            title,
            page,
            csrf: signed.map(|s| s.session.csrf.clone()).unwrap_or_default(),
            workstation: signed.map(|s| s.workstation.name.clone()),
            role: signed.map(|s| text::role_word(s.workstation.role)),
            is_admin: signed.is_some_and(|s| s.workstation.may_administer()),
            place: text::Place::Postazione,
        }
    }

    /// The same, in a pharmacy's words when `place` is a counter.
    fn at(mut self, place: text::Place, signed: &SignedIn) -> Self {
        self.place = place;
        self.role = Some(place.role_word(signed.workstation.role));
        self
    }
}

/// One user's card on the main page: what the page's script would render for the same view
/// (`assets/doctor.js` takes over at once and keeps the same words).
pub(crate) struct Card {
    idx: usize,
    user_id: String,
    name: String,
    /// `green`, `yellow`, `red` or `waiting`.
    look: &'static str,
    look_label: &'static str,
    state_text: String,
    detail: String,
    auto_line: String,
    /// The one message: `last_error` code (or `password_warning`), CSS kind, text.
    msg_code: String,
    msg_kind: &'static str,
    msg_text: String,
    /// Green with automatic requests: the paste field is folded away.
    calm: bool,
    request_label: &'static str,
    request_primary: bool,
    /// "Ultime richieste", newest first.
    history: Vec<String>,
    /// The session view as JSON, for the script's first render (escaped in the attribute).
    view_json: String,
}

impl Card {
    fn new(
        idx: usize,
        user_id: String,
        name: String,
        view: &tsgate_session::SessionView,
        now: time::OffsetDateTime,
        history: Vec<String>,
    ) -> Self {
        let look = text::Look::of(view);
        let (msg_code, msg_kind, msg_text) = text::message(view).unwrap_or_default();
        Self {
            idx,
            user_id,
            name,
            look: look.as_str(),
            look_label: look.label(),
            state_text: text::state_text(view),
            detail: text::detail(view, now),
            auto_line: text::auto_line(view),
            msg_code,
            msg_kind,
            msg_text,
            calm: text::calm(view),
            request_label: text::request_label(view),
            request_primary: text::request_is_primary(view),
            history,
            view_json: serde_json::to_string(view).unwrap_or_default(),
        }
    }
}

#[derive(Template)]
#[template(path = "doctor.html")]
struct DoctorPage {
    chrome: Chrome,
    cards: Vec<Card>,
    can_copy: bool,
    workstation_id: String,
    /// The domain's "now" (the simulator's clock in the demo), so that the script counts
    /// waiting times on the same clock as the requests it shows.
    server_now: String,
}

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage {
    chrome: Chrome,
    error: Option<&'static str>,
}

#[derive(Template)]
#[template(path = "admin.html")]
struct AdminPage {
    chrome: Chrome,
    workstation_id: String,
    limits: Vec<(&'static str, String)>,
    /// The official region codes, for the region fields.
    regions: &'static [(&'static str, &'static str)],
    /// The environment preselected for a new doctor: the installation's.
    user_environment: &'static str,
}

#[derive(Template)]
#[template(path = "help.html")]
struct HelpPage {
    chrome: Chrome,
    flow_svg: &'static str,
}

#[derive(Template)]
#[template(path = "message.html")]
struct MessagePage {
    chrome: Chrome,
    heading: &'static str,
    message: String,
}

/// Security headers of every page: no inline script, no framing, no referrer (the login
/// address may carry a token), never cached.
fn html(status: StatusCode, body: Result<String, askama::Error>) -> Response {
    let body = match body {
        Ok(body) => body,
        Err(e) => return ApiError::internal(format!("template: {e}")).into_response(),
    };
    let mut response = (status, body).into_response();
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
             connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        ),
    );
    // Referrers only towards tsgate itself (a sign-in address may carry a token); not
    // "no-referrer", which makes the browser send `Origin: null` on our own form posts.
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    response
}

fn see_other(to: &'static str) -> Response {
    let mut r = StatusCode::SEE_OTHER.into_response();
    r.headers_mut()
        .insert(header::LOCATION, HeaderValue::from_static(to));
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r.headers_mut().insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    r
}

fn failure(e: ApiError) -> Response {
    let status = e.status();
    html(
        status,
        MessagePage {
            chrome: Chrome::new("Errore", "", None),
            heading: "Qualcosa non ha funzionato",
            message: e.message(),
        }
        .render(),
    )
}

/// The profiles of `users` that exist (a lookup failure is logged, not shown).
async fn profiles(state: &AppState, users: &[UserId]) -> Vec<tsgate_session::UserProfile> {
    let mut found = Vec::new();
    for user in users {
        match state.backends().store.user(user).await {
            Ok(Some(profile)) => found.push(profile),
            Ok(None) => {}
            Err(e) => {
                tracing::warn!(cause = %sistemats::error::describe_chain(&e), "ui: user names not available");
            }
        }
    }
    found
}

/// `GET /`: one card per user this workstation acts for.
pub(crate) async fn doctor(
    State(state): State<AppState>,
    Extension(sessions): Extension<Arc<UiSessions>>,
    headers: HeaderMap,
) -> Response {
    let signed = match signed_in(&state, &sessions, &headers).await {
        Ok(Some(s)) => s,
        Ok(None) => return see_other("/login"),
        Err(e) => return failure(e),
    };
    let profiles = profiles(&state, &signed.workstation.users).await;
    let place = text::Place::of(&profiles.iter().map(|p| p.role).collect::<Vec<_>>());
    let names: HashMap<UserId, String> = profiles
        .into_iter()
        .filter_map(|p| Some((p.user_id, p.display_name?)))
        .collect();
    let now = state.backends().sessions.now();
    let this_workstation = signed.workstation.id.to_string();
    let mut cards = Vec::new();
    for (idx, user) in signed.workstation.users.iter().enumerate() {
        let view = match state.backends().sessions.status(user).await {
            Ok(view) => view,
            Err(e) => {
                tracing::warn!(%user, cause = %e, "ui: state not available");
                continue;
            }
        };
        // The history is a courtesy of the first paint (the script loads it again).
        let history = match crate::api::requests::recent(&state, user).await {
            Ok(lines) => lines
                .iter()
                .map(|l| {
                    format!(
                        "{} · {} · {}",
                        tsgate_session::italy::at_time(l.at, now),
                        text::requester(
                            &l.actor,
                            l.workstation_name.as_deref(),
                            &this_workstation,
                            place,
                        ),
                        text::request_outcome(&l.outcome)
                    )
                })
                .collect(),
            Err(e) => {
                tracing::warn!(%user, cause = %e.message(), "ui: request history not available");
                Vec::new()
            }
        };
        cards.push(Card::new(
            idx,
            user.to_string(),
            names.get(user).cloned().unwrap_or_else(|| user.to_string()),
            &view,
            now,
            history,
        ));
    }
    let page = DoctorPage {
        chrome: Chrome::new("Codici ID-SESSIONE", "home", Some(&signed)).at(place, &signed),
        can_copy: signed.workstation.role_sees_codes() && !signed.workstation.users.is_empty(),
        workstation_id: this_workstation,
        server_now: now
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default(),
        cards,
    };
    html(StatusCode::OK, page.render())
}

/// `GET /admin`: users, mailboxes, workstations, roles, audit, settings.
pub(crate) async fn admin(
    State(state): State<AppState>,
    Extension(sessions): Extension<Arc<UiSessions>>,
    headers: HeaderMap,
) -> Response {
    let signed = match signed_in(&state, &sessions, &headers).await {
        Ok(Some(s)) => s,
        Ok(None) => return see_other("/login"),
        Err(e) => return failure(e),
    };
    if !signed.workstation.may_administer() {
        return html(
            StatusCode::FORBIDDEN,
            MessagePage {
                chrome: Chrome::new("Amministrazione", "admin", Some(&signed)),
                heading: "Pagina riservata all'amministratore",
                message: ApiError::AdminOnly.message(),
            }
            .render(),
        );
    }
    let c = state.config();
    let l = &c.limits;
    let rate = |r: Option<crate::config::RateQuota>| match r {
        Some(q) => format!("{} al secondo (picchi fino a {})", q.per_second, q.burst),
        None => "nessun limite".to_owned(),
    };
    let mut limits = vec![
        ("Indirizzo del server", c.listen.to_string()),
        (
            "Servizi ricetta (DEM) di Sistema TS",
            c.upstream_dem_base.clone(),
        ),
        (
            "Servizi ricetta bianca (RBE) di Sistema TS",
            c.upstream_rbe_base.clone(),
        ),
        ("Servizio A2F di Sistema TS", c.upstream_a2f_base.clone()),
        ("Richieste API per postazione", rate(l.api_rate)),
        ("Chiamate SOAP per postazione", rate(l.proxy_rate)),
        (
            "Tempo massimo di una richiesta API",
            format!("{} s", l.api_timeout_seconds),
        ),
        (
            "Tempo massimo di risposta di Sistema TS",
            format!("{} s", l.proxy_upstream_timeout_seconds),
        ),
        (
            "Dimensione massima di una ricetta inoltrata",
            format!("{} KiB", l.proxy_body_bytes / 1024),
        ),
    ];
    // The rules of automatic requests (`[automatic]` of the configuration file).
    let p = state.backends().sessions.policy();
    let minutes = |d: time::Duration| format!("{} min", d.whole_minutes());
    limits.extend([
        (
            "Richiesta automatica prima dell'inizio dell'orario",
            minutes(p.auto_lead),
        ),
        (
            "Rinnovo automatico prima della scadenza",
            minutes(p.auto_renew_before),
        ),
        (
            "Richieste automatiche al giorno per medico, al massimo",
            p.auto_daily_cap.to_string(),
        ),
        (
            "Attesa della mail prima di segnalare un problema",
            minutes(p.auto_mail_wait),
        ),
        (
            "Pausa dopo una richiesta automatica non riuscita",
            format!(
                "da {} a {} (raddoppia a ogni errore)",
                minutes(p.auto_backoff),
                minutes(p.auto_backoff_max)
            ),
        ),
    ]);
    let page = AdminPage {
        chrome: Chrome::new("Amministrazione", "admin", Some(&signed)),
        workstation_id: signed.workstation.id.to_string(),
        limits,
        regions: &tsgate_session::fields::REGIONS,
        user_environment: state.config().user_environment.as_str(),
    };
    html(StatusCode::OK, page.render())
}

/// `GET /aiuto`: the flow diagram and the troubleshooting guide (also before sign-in).
pub(crate) async fn help(
    State(state): State<AppState>,
    Extension(sessions): Extension<Arc<UiSessions>>,
    headers: HeaderMap,
) -> Response {
    let signed = signed_in(&state, &sessions, &headers).await.ok().flatten();
    let page = HelpPage {
        chrome: Chrome::new("Aiuto", "help", signed.as_ref()),
        flow_svg: super::assets::FLOW_SVG,
    };
    html(StatusCode::OK, page.render())
}

#[derive(Deserialize)]
pub(crate) struct TokenForm {
    #[serde(default)]
    token: Option<String>,
}

/// `GET /login`: the form, or a one-click sign-in with `?token=`.
pub(crate) async fn login_get(
    State(state): State<AppState>,
    Extension(sessions): Extension<Arc<UiSessions>>,
    headers: HeaderMap,
    uri: Uri,
    Query(form): Query<TokenForm>,
) -> Response {
    match form.token {
        Some(token) if !token.trim().is_empty() => {
            sign_in(&state, &sessions, &headers, &uri, token).await
        }
        _ => login_form(StatusCode::OK, None),
    }
}

/// `POST /login`: the form.
pub(crate) async fn login_post(
    State(state): State<AppState>,
    Extension(sessions): Extension<Arc<UiSessions>>,
    headers: HeaderMap,
    uri: Uri,
    Form(form): Form<TokenForm>,
) -> Response {
    if !same_origin(&headers) {
        return login_form(StatusCode::FORBIDDEN, Some(CROSS_SITE));
    }
    let token = form.token.unwrap_or_default();
    sign_in(&state, &sessions, &headers, &uri, token).await
}

const CROSS_SITE: &str = "Richiesta rifiutata: l'accesso deve partire da una pagina di tsgate.";

/// A form post must come from our own pages: `Origin`, when the browser sends it, must name
/// the host the request was sent to.
fn same_origin(headers: &HeaderMap) -> bool {
    let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) else {
        return true;
    };
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    origin
        .split_once("://")
        .is_some_and(|(_, rest)| !host.is_empty() && rest.eq_ignore_ascii_case(host))
}

fn login_form(status: StatusCode, error: Option<&'static str>) -> Response {
    html(
        status,
        LoginPage {
            chrome: Chrome::new("Accesso", "login", None),
            error,
        }
        .render(),
    )
}

async fn sign_in(
    state: &AppState,
    sessions: &UiSessions,
    headers: &HeaderMap,
    uri: &Uri,
    token: String,
) -> Response {
    let token = WorkstationToken::new(token.trim());
    match state.workstations().authenticate(&token).await {
        Ok(Some(workstation)) => {
            let id = sessions.create(token);
            tracing::info!(workstation = %workstation.id, "ui: signed in");
            // Redirect so that the token leaves the address bar and the history.
            let mut r = see_other("/");
            r.headers_mut()
                .insert(header::SET_COOKIE, set_cookie(&id, is_https(headers, uri)));
            r
        }
        Ok(None) => login_form(
            StatusCode::UNAUTHORIZED,
            Some(
                "Token della postazione non valido o revocato: controlla di averlo copiato per intero, oppure chiedine uno nuovo all'amministratore.",
            ),
        ),
        Err(e) => failure(e.into()),
    }
}

#[derive(Deserialize)]
pub(crate) struct LogoutForm {
    #[serde(default)]
    csrf: String,
}

/// `POST /logout`: ends the session (the form carries the CSRF token).
pub(crate) async fn logout(
    Extension(sessions): Extension<Arc<UiSessions>>,
    headers: HeaderMap,
    uri: Uri,
    Form(form): Form<LogoutForm>,
) -> Response {
    if let Some(id) = super::session::cookie_id(&headers)
        && let Some(session) = sessions.get(&id)
    {
        let given = headers
            .get(super::session::CSRF_HEADER)
            .and_then(|v| v.to_str().ok())
            .unwrap_or(&form.csrf);
        if !session.csrf_matches(given) {
            return super::csrf_refused();
        }
        sessions.remove(&id);
    }
    let mut r = see_other("/login");
    r.headers_mut()
        .insert(header::SET_COOKIE, clear_cookie(is_https(&headers, &uri)));
    r
}
