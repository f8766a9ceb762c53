//! The UI's cookie session, CSRF, sign-out, revocation, role-dependent pages and escaping,
//! through the whole router (no sockets), over the real domain (`TestDomain`: the session
//! manager over the in-memory store, with a scripted A2F service).

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use http_body_util::BodyExt as _;
use tower::ServiceExt as _;
use tsgate_session::testing::{FakeUpstream, TestDomain, profile};
use tsgate_session::{
    Actor, Application, Clock as _, Level, Policy, SessionKey, SessionRecord, SessionView,
    StateName, UserId, UserProfile, WorkstationRepo as _, WorkstationRole,
};

use crate::{AppState, Backends, GatewayConfig};

const U1: &str = "PROVAX00X00X000Y";
const NASTY: &str = "<script>alert(1)</script>";
/// A code Sistema TS says is valid for U1 (nobody has entered it until a test does).
const CODE: &str = "9a7e2329-2cfc-4903-8cfc-609a7e232920";

struct App {
    router: axum::Router,
    domain: TestDomain,
    admin: String,
    doctor: String,
    staff: String,
    staff_id: String,
}

/// U1 (whose display name carries markup) without a code, and three workstations for it.
async fn app() -> App {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let domain = TestDomain::new(FakeUpstream::default());
    let user = domain.add_user(U1);
    domain.store.insert_user(UserProfile {
        display_name: Some(format!("Dott. {NASTY}")),
        ..profile(&user)
    });
    domain.upstream.valid(CODE, domain.clock.now());
    let store = domain.store.clone();
    let add = |name: String, role| {
        let (store, user) = (store.clone(), user.clone());
        async move {
            let (ws, token) = store
                .create_workstation(&name, role, &[user])
                .await
                .unwrap();
            (ws.id.0, token.expose_secret().to_owned())
        }
    };
    let (_, admin) = add(format!("Reception {NASTY}"), WorkstationRole::Admin).await;
    let (_, doctor) = add("Ambulatorio 1".into(), WorkstationRole::Doctor).await;
    let (staff_id, staff) = add("Segreteria".into(), WorkstationRole::Staff).await;
    let backends = Backends {
        sessions: domain.manager.clone(),
        store: domain.store.clone(),
    };
    let mut config = GatewayConfig::default();
    config.limits.api_rate = None;
    let state = AppState::new(config, backends).unwrap();
    App {
        router: crate::router(state),
        domain,
        admin,
        doctor,
        staff,
        staff_id,
    }
}

/// The session of a user without a code, as the domain shows it.
fn red_view(user: &UserId) -> SessionView {
    let record = SessionRecord::new(SessionKey::new(user.clone(), Application::Prescrittore));
    SessionView::build(
        &record,
        time::OffsetDateTime::now_utc(),
        &Policy::default(),
        None,
    )
}

struct Answer {
    status: StatusCode,
    headers: axum::http::HeaderMap,
    body: String,
}

impl App {
    /// Revokes the workstation `id` as the admin does (through the API: at once).
    async fn revoke(&self, id: &str) {
        let r = Request::delete(format!("/api/v1/workstations/{id}"))
            .header(header::AUTHORIZATION, format!("Bearer {}", self.admin))
            .body(Body::empty())
            .unwrap();
        let a = self.send(r).await;
        assert_eq!(a.status, StatusCode::NO_CONTENT, "{}", a.body);
    }

    async fn send(&self, request: Request<Body>) -> Answer {
        let response = self.router.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        Answer {
            status,
            headers,
            body: String::from_utf8_lossy(&bytes).into_owned(),
        }
    }

    async fn get(&self, path: &str, cookie: Option<&str>) -> Answer {
        let mut r = Request::get(path);
        if let Some(c) = cookie {
            r = r.header(header::COOKIE, c);
        }
        self.send(r.body(Body::empty()).unwrap()).await
    }

    /// Signs in with `token`; returns the `Cookie` header value and the page's CSRF token.
    async fn sign_in(&self, token: &str) -> (String, String) {
        let a = self.get(&format!("/login?token={token}"), None).await;
        assert_eq!(a.status, StatusCode::SEE_OTHER);
        let set = a.headers[header::SET_COOKIE].to_str().unwrap().to_owned();
        let cookie = set.split(';').next().unwrap().to_owned();
        let page = self.get("/", Some(&cookie)).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.body);
        let csrf = page
            .body
            .split(r#"<meta name="csrf-token" content=""#)
            .nth(1)
            .and_then(|rest| rest.split('"').next())
            .unwrap()
            .to_owned();
        assert!(csrf.len() > 30);
        (cookie, csrf)
    }

    async fn post_request(&self, cookie: &str, csrf: Option<&str>) -> Answer {
        let mut r = Request::post(format!("/api/v1/users/{U1}/session/request"))
            .header(header::COOKIE, cookie)
            .header(header::CONTENT_TYPE, "application/json");
        if let Some(c) = csrf {
            r = r.header("x-csrf-token", c);
        }
        self.send(r.body(Body::from(r#"{"replace":false}"#)).unwrap())
            .await
    }
}

#[tokio::test]
async fn login_sets_a_strict_httponly_cookie_and_leaves_the_address_bar() {
    let app = app().await;
    let a = app.get(&format!("/login?token={}", app.doctor), None).await;
    assert_eq!(a.status, StatusCode::SEE_OTHER);
    assert_eq!(a.headers[header::LOCATION], "/");
    let cookie = a.headers[header::SET_COOKIE].to_str().unwrap();
    assert!(cookie.starts_with("tsgate_ui="), "{cookie}");
    for flag in ["HttpOnly", "SameSite=Strict", "Path=/"] {
        assert!(cookie.contains(flag), "{flag} missing: {cookie}");
    }
    assert!(!cookie.contains("Secure"), "plain http: {cookie}");
    assert!(
        !cookie.contains(&app.doctor),
        "the token stays on the server"
    );
    assert_eq!(a.headers[header::REFERRER_POLICY], "no-referrer");

    // Behind a TLS-terminating proxy the cookie is Secure.
    let r = Request::get(format!("/login?token={}", app.doctor))
        .header("x-forwarded-proto", "https")
        .body(Body::empty())
        .unwrap();
    let a = app.send(r).await;
    assert!(
        a.headers[header::SET_COOKIE]
            .to_str()
            .unwrap()
            .contains("; Secure")
    );

    // The form works too; a wrong token gets the form again with the reason, no cookie.
    let r = Request::post("/login")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from(format!("token={}", app.staff)))
        .unwrap();
    assert_eq!(app.send(r).await.status, StatusCode::SEE_OTHER);
    // A form posted from another site is refused.
    let r = Request::post("/login")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header(header::HOST, "tsgate.studio.lan")
        .header(header::ORIGIN, "https://evil.example")
        .body(Body::from(format!("token={}", app.staff)))
        .unwrap();
    let cross = app.send(r).await;
    assert_eq!(cross.status, StatusCode::FORBIDDEN);
    assert!(cross.headers.get(header::SET_COOKIE).is_none());
    let bad = app.get("/login?token=tsg_nope", None).await;
    assert_eq!(bad.status, StatusCode::UNAUTHORIZED);
    assert!(bad.headers.get(header::SET_COOKIE).is_none());
    assert!(bad.body.contains("non valido o revocato"), "{}", bad.body);

    // Without a session the pages send to sign-in.
    let home = app.get("/", None).await;
    assert_eq!(home.status, StatusCode::SEE_OTHER);
    assert_eq!(home.headers[header::LOCATION], "/login");
}

#[tokio::test]
async fn the_api_takes_the_cookie_but_refuses_changes_without_the_csrf_header() {
    let app = app().await;
    let (cookie, csrf) = app.sign_in(&app.doctor).await;
    let list = app.get("/api/v1/users", Some(&cookie)).await;
    assert_eq!(list.status, StatusCode::OK, "{}", list.body);
    assert!(list.body.contains(U1));

    let refused = app.post_request(&cookie, None).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert!(
        refused.body.contains(r#""code":"csrf""#),
        "{}",
        refused.body
    );
    let wrong = app.post_request(&cookie, Some("not-the-token")).await;
    assert_eq!(wrong.status, StatusCode::FORBIDDEN);
    let ok = app.post_request(&cookie, Some(&csrf)).await;
    assert_eq!(ok.status, StatusCode::ACCEPTED, "{}", ok.body);

    // Another session's CSRF token is not this one's.
    let (_, other_csrf) = app.sign_in(&app.doctor).await;
    assert_eq!(
        app.post_request(&cookie, Some(&other_csrf)).await.status,
        StatusCode::FORBIDDEN
    );
    // A made-up cookie is no session.
    let fake = app.get("/api/v1/users", Some("tsgate_ui=forged")).await;
    assert_eq!(fake.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn logout_ends_the_session() {
    let app = app().await;
    let (cookie, csrf) = app.sign_in(&app.doctor).await;
    // Without the CSRF token the logout is refused (no forced sign-out from other sites).
    let r = Request::post("/logout")
        .header(header::COOKIE, &cookie)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from("csrf=wrong"))
        .unwrap();
    assert_eq!(app.send(r).await.status, StatusCode::FORBIDDEN);
    let r = Request::post("/logout")
        .header(header::COOKIE, &cookie)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from(format!("csrf={csrf}")))
        .unwrap();
    let out = app.send(r).await;
    assert_eq!(out.status, StatusCode::SEE_OTHER);
    assert_eq!(out.headers[header::LOCATION], "/login");
    assert!(
        out.headers[header::SET_COOKIE]
            .to_str()
            .unwrap()
            .contains("Max-Age=0")
    );
    assert_eq!(
        app.get("/", Some(&cookie)).await.status,
        StatusCode::SEE_OTHER
    );
    assert_eq!(
        app.get("/api/v1/users", Some(&cookie)).await.status,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn a_revoked_workstation_is_signed_out() {
    let app = app().await;
    let (cookie, csrf) = app.sign_in(&app.staff).await;
    app.revoke(&app.staff_id).await;
    let home = app.get("/", Some(&cookie)).await;
    assert_eq!(home.status, StatusCode::SEE_OTHER);
    assert_eq!(home.headers[header::LOCATION], "/login");
    assert_eq!(
        app.post_request(&cookie, Some(&csrf)).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        app.get("/api/v1/events", Some(&cookie)).await.status,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn only_a_doctor_workstation_gets_the_copy_button() {
    let app = app().await;
    // U1 has a code in use, which staff must not see.
    app.domain
        .manager
        .submit_code(&UserId::new(U1).unwrap(), CODE, Actor::Cli)
        .await
        .unwrap();
    assert_eq!(
        app.domain
            .manager
            .status(&UserId::new(U1).unwrap())
            .await
            .unwrap()
            .state,
        StateName::Active
    );
    let (staff, _) = app.sign_in(&app.staff).await;
    let page = app.get("/", Some(&staff)).await.body;
    assert!(page.contains(r#"data-testid="session-card""#));
    assert!(page.contains(r#"data-testid="request-code""#));
    assert!(!page.contains("copy-code") && !page.contains("Copia codice"));
    // And the API refuses the code to staff even with a valid session.
    let code = app
        .get(&format!("/api/v1/users/{U1}/session/code"), Some(&staff))
        .await;
    assert_eq!(code.status, StatusCode::FORBIDDEN);

    let (doctor, _) = app.sign_in(&app.doctor).await;
    let page = app.get("/", Some(&doctor)).await.body;
    assert!(page.contains(r#"data-testid="copy-code""#));
    assert!(
        !page.contains("9a7e2329"),
        "the code is fetched on click, never in the page"
    );
    // Admin pages are for admins only.
    assert_eq!(
        app.get("/admin", Some(&doctor)).await.status,
        StatusCode::FORBIDDEN
    );
}

#[tokio::test]
async fn names_from_users_are_escaped() {
    let app = app().await;
    let (cookie, _) = app.sign_in(&app.admin).await;
    for path in ["/", "/admin"] {
        let page = app.get(path, Some(&cookie)).await;
        assert_eq!(page.status, StatusCode::OK, "{path}");
        assert!(!page.body.contains(NASTY), "{path} renders raw markup");
        assert!(
            page.body.contains("&lt;script&gt;alert(1)&lt;/script&gt;")
                || page
                    .body
                    .contains("&#60;script&#62;alert(1)&#60;/script&#62;"),
            "{path}: {}",
            page.body
        );
    }
    let home = app.get("/", Some(&cookie)).await;
    let csp = home.headers[header::CONTENT_SECURITY_POLICY]
        .to_str()
        .unwrap();
    assert!(csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"));
}

#[tokio::test]
async fn help_and_assets_are_public() {
    let app = app().await;
    let help = app.get("/aiuto", None).await;
    assert_eq!(help.status, StatusCode::OK);
    assert!(help.body.contains("<svg") && help.body.contains("Certifica mail"));
    let css = app.get("/assets/app.css", None).await;
    assert_eq!(css.status, StatusCode::OK);
    assert!(
        css.headers[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/css")
    );
    assert_eq!(
        app.get("/assets/nope.js", None).await.status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn the_event_stream_of_a_revoked_workstation_ends() {
    let app = app().await;
    let (cookie, _) = app.sign_in(&app.staff).await;
    let response = app
        .router
        .clone()
        .oneshot(
            Request::get("/api/v1/events")
                .header(header::COOKIE, &cookie)
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    app.revoke(&app.staff_id).await;
    // The domain's live stream never ends by itself: only the revocation can end the body.
    // (The timeout guards a hang; it measures nothing.)
    let body = tokio::time::timeout(
        std::time::Duration::from_secs(30),
        response.into_body().collect(),
    )
    .await
    .expect("the stream did not end after the revocation")
    .unwrap()
    .to_bytes();
    assert!(String::from_utf8_lossy(&body).contains("event: session"));
    assert_eq!(
        app.get("/", Some(&cookie)).await.status,
        StatusCode::SEE_OTHER
    );
}

#[test]
fn the_yellow_text_names_the_configured_window() {
    let user = UserId::new("PROVAX00X00X000Y").unwrap();
    let end = time::OffsetDateTime::now_utc() + time::Duration::minutes(20);
    let yellow = |window: time::Duration| SessionView {
        state: StateName::Active,
        level: Level::Yellow,
        expires_at: Some(end),
        remaining_seconds: Some(20 * 60),
        yellow_from: Some(end - window),
        ..red_view(&user)
    };
    let text = |window| super::text::state_text(&yellow(window));
    assert!(text(time::Duration::hours(1)).contains("scade entro un'ora"));
    assert!(text(time::Duration::hours(2)).contains("scade entro 2 ore"));
    assert!(text(time::Duration::minutes(30)).contains("scade entro 30 minuti"));
}

#[test]
fn durations_read_as_a_doctor_reads_them() {
    use super::text::duration;
    // (No-break spaces: a number never wraps away from its unit.)
    let read = |s: i64| duration(s).replace('\u{a0}', " ");
    assert_eq!(read(58 * 60 + 12), "58 min");
    assert_eq!(read(40), "40 s");
    assert_eq!(read(3600), "1 h 00 min");
    assert_eq!(read(15 * 3600 + 4 * 60 + 59), "15 h 04 min");
    assert_eq!(read(-5), "0 s");
    let user = UserId::new(U1).unwrap();
    let now = time::OffsetDateTime::now_utc();
    let view = SessionView {
        state: StateName::Active,
        level: Level::Yellow,
        expires_at: Some(now + time::Duration::minutes(58)),
        remaining_seconds: Some(58 * 60),
        ..red_view(&user)
    };
    let detail = super::text::detail(&view, now).replace('\u{a0}', " ");
    assert!(detail.starts_with("Scade tra 58 min ("), "{detail}");
    assert!(!detail.contains(" h "), "{detail}");
}

/// The card of `U1` in the page of `cookie`, cut at the next card.
async fn card_html(app: &App, cookie: &str) -> String {
    let page = app.get("/", Some(cookie)).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    let at = page
        .body
        .find(r#"data-testid="session-card""#)
        .expect("a card");
    let start = page.body[..at].rfind("<article").expect("the card's tag");
    let end = page.body[start..]
        .find("</article>")
        .map_or(page.body.len(), |e| start + e);
    page.body[start..end].to_owned()
}

/// The text of the element with `data-role="{role}"` in `html`, and whether it is hidden.
fn role(html: &str, role: &str) -> (String, bool) {
    let at = html
        .find(&format!(r#"data-role="{role}""#))
        .unwrap_or_else(|| panic!("no {role} in {html}"));
    let open_end = at + html[at..].find('>').unwrap();
    let hidden = html[at..open_end].contains(" hidden");
    let close = open_end + html[open_end..].find("</").unwrap();
    (html[open_end + 1..close].to_owned(), hidden)
}

#[tokio::test]
async fn a_code_refused_on_another_workstation_leaves_no_message_here() {
    let app = app().await;
    let user = UserId::new(U1).unwrap();
    // Another workstation pasted a code Sistema TS does not know.
    let refused = app
        .domain
        .manager
        .submit_code(
            &user,
            "11111111-2222-4333-8444-555555555555",
            Actor::Workstation(tsgate_session::WorkstationId("elsewhere".into())),
        )
        .await;
    assert!(refused.is_err());
    let view = app.domain.manager.status(&user).await.unwrap();
    assert!(view.last_error.is_some(), "the domain keeps it: {view:?}");
    let (cookie, _) = app.sign_in(&app.doctor).await;
    let card = card_html(&app, &cookie).await;
    let (state, _) = role(&card, "state");
    assert_eq!(state, "Nessun codice: premi «Richiedi il codice».");
    let (msg, hidden) = role(&card, "msg");
    assert!(hidden && msg.is_empty(), "message {msg:?} in {card}");
    // (The view given to the script keeps it, as the API does; nothing shows it.)
    let shown = match card.split_once(" data-view=\"") {
        Some((before, view)) => format!("{before}{}", view.split_once('"').map_or("", |v| v.1)),
        None => card.clone(),
    };
    assert!(!shown.contains("non riconosce"), "{shown}");
    assert!(!shown.contains("role=\"alert\""), "{shown}");
}

#[tokio::test]
async fn a_late_mail_is_the_one_message_and_waiting_has_its_own_look() {
    let app = app().await;
    let user = UserId::new(U1).unwrap();
    app.domain
        .manager
        .request(&user, false, Actor::Auto)
        .await
        .unwrap();
    let sent_at = app.domain.clock.now();
    app.domain.clock.advance(time::Duration::minutes(4));
    let late = "Il codice richiesto alle 08:00 non è arrivato nella casella entro 3 min. \
                Nuovo tentativo automatico alle 08:09, oppure inserisci il codice se lo ricevi.";
    app.domain
        .manager
        .mail_late(&user, sent_at, late.to_owned())
        .await
        .unwrap();
    let (cookie, _) = app.sign_in(&app.staff).await;
    let card = card_html(&app, &cookie).await;
    assert!(card.contains(r#"class="card look-waiting""#), "{card}");
    assert!(card.contains(r#"data-level="waiting""#), "{card}");
    let (state, _) = role(&card, "state");
    assert!(state.starts_with("In attesa della mail"), "{state}");
    let (detail, hidden) = role(&card, "countdown");
    assert!(!hidden);
    assert_eq!(
        detail.replace('\u{a0}', " "),
        "Richiesto automaticamente alle 08:00 · in attesa da 4 min"
    );
    let (msg, hidden) = role(&card, "msg");
    assert!(!hidden);
    assert_eq!(msg, late);
    assert!(card.contains(r#"data-code="mail_late""#), "{card}");
    // The auto request is in the history, named as such.
    let (history, _) = role(&card, "history");
    assert!(
        history.contains("alle 08:00 · rinnovo automatico · mail spedita da Sistema TS"),
        "{history}"
    );
}

#[tokio::test]
async fn green_and_automatic_folds_the_paste_field_and_shows_the_next_action() {
    let app = app().await;
    let user = UserId::new(U1).unwrap();
    app.domain
        .manager
        .submit_code(&user, CODE, Actor::Cli)
        .await
        .unwrap();
    let (cookie, _) = app.sign_in(&app.doctor).await;
    // Without automatic requests: the paste field is there, nothing is said about them.
    let manual = card_html(&app, &cookie).await;
    assert!(role(&manual, "auto").1, "{manual}");
    assert!(!role(&manual, "paste").1, "{manual}");

    app.domain.manager.set_auto_inputs(
        &user,
        tsgate_session::auto::AutoInputs {
            enabled: true,
            off_reason: None,
            hours: tsgate_session::hours::WorkingHours::default(),
        },
    );
    let view = app.domain.manager.status(&user).await.unwrap();
    let next = view
        .auto
        .as_ref()
        .and_then(|a| a.next.clone())
        .expect("a next automatic action");
    let card = card_html(&app, &cookie).await;
    let (auto, hidden) = role(&card, "auto");
    assert!(!hidden);
    assert_eq!(auto, next);
    assert!(role(&card, "paste").1, "paste field not folded: {card}");
    assert!(!role(&card, "paste-toggle").1, "{card}");
    assert!(
        card.contains(r#"class="btn" data-testid="request-code""#),
        "the request is not the main action: {card}"
    );
    let (state, _) = role(&card, "state");
    assert_eq!(state, "Codice attivo.");
    let (detail, _) = role(&card, "countdown");
    assert!(
        detail
            .replace('\u{a0}', " ")
            .starts_with("Scade tra 16 h 00 min ("),
        "{detail}"
    );
}

#[test]
fn a_pharmacy_counter_speaks_of_banchi() {
    use super::text::{Place, requester};
    use tsgate_session::Role as UserRole;
    let counter = Place::of(&[UserRole::Farmacia]);
    assert_eq!(counter, Place::Banco);
    assert_eq!(
        Place::of(&[UserRole::Farmacia, UserRole::Titolare]),
        Place::Postazione
    );
    assert_eq!(Place::of(&[]), Place::Postazione);
    assert_eq!(counter.before("Banco 2"), "");
    assert_eq!(counter.before("Cassa"), "Banco ");
    assert_eq!(Place::Postazione.before("Reception"), "Postazione ");
    assert_eq!(
        counter.role_word(tsgate_session::WorkstationRole::Doctor),
        "farmacista"
    );
    assert_eq!(requester("ws:a", None, "a", counter), "questo banco");
    assert_eq!(
        requester("ws:b", Some("Banco 1"), "a", counter),
        "banco «Banco 1»"
    );
    assert_eq!(requester("ws:b", None, "a", counter), "un altro banco");
    assert_eq!(
        requester("ws:b", Some("Reception"), "a", Place::Postazione),
        "postazione «Reception»"
    );
}
