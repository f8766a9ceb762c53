//! The UI's cookie session, CSRF, sign-out, revocation, role-dependent pages and escaping,
//! through the whole router (no sockets).

use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use futures::FutureExt as _;
use futures::future::BoxFuture;
use futures::stream::BoxStream;
use http_body_util::BodyExt as _;
use sistemats::SessionCode;
use tower::ServiceExt as _;
use tsgate_session::{
    Application, Level, RequestOutcome, SessionError, SessionView, StateName, UserId,
};
use tsgate_store::WorkstationToken;

use crate::ports::UserRecord;
use crate::{
    AdminDirectory, AdminError, AppState, AuditFilter, AuditLog, AuditRecord, BackendError,
    Backends, Caller, CodeProvider, GatewayConfig, NewUser, NewWorkstation, NoUsableCode,
    ProxyOutcome, Role, SessionService, Workstation, WorkstationDirectory,
};

const U1: &str = "PROVAX00X00X000Y";
const NASTY: &str = "<script>alert(1)</script>";

#[derive(Default)]
struct Directory {
    entries: Mutex<Vec<(String, Workstation)>>,
}

impl Directory {
    fn add(&self, name: &str, role: Role) -> String {
        let token = WorkstationToken::generate().expose_secret().to_owned();
        let ws = Workstation {
            id: format!("ws-{role:?}"),
            name: name.into(),
            role,
            users: vec![U1.into()],
        };
        self.entries.lock().unwrap().push((token.clone(), ws));
        token
    }

    fn revoke_token(&self, token: &str) {
        self.entries.lock().unwrap().retain(|(t, _)| t != token);
    }
}

impl WorkstationDirectory for Directory {
    fn authenticate<'a>(
        &'a self,
        token: &'a WorkstationToken,
    ) -> BoxFuture<'a, Result<Option<Workstation>, BackendError>> {
        let found = self
            .entries
            .lock()
            .unwrap()
            .iter()
            .find(|(t, _)| t == token.expose_secret())
            .map(|(_, w)| w.clone());
        async move { Ok(found) }.boxed()
    }

    fn ready(&self) -> BoxFuture<'_, Result<(), BackendError>> {
        async { Ok(()) }.boxed()
    }
}

impl AdminDirectory for Directory {
    fn list_users(&self) -> BoxFuture<'_, Result<Vec<UserRecord>, BackendError>> {
        async {
            Ok(vec![UserRecord {
                user_id: U1.into(),
                display_name: Some(format!("Dott. {NASTY}")),
                region: "130".into(),
                asl: "202".into(),
            }])
        }
        .boxed()
    }
    fn add_user(&self, _user: NewUser) -> BoxFuture<'_, Result<UserRecord, AdminError>> {
        async { Err(AdminError::Invalid("not in these tests".into())) }.boxed()
    }
    fn remove_user<'a>(&'a self, _user: &'a str) -> BoxFuture<'a, Result<(), AdminError>> {
        async { Ok(()) }.boxed()
    }
    fn list_workstations(&self) -> BoxFuture<'_, Result<Vec<Workstation>, BackendError>> {
        let all = self
            .entries
            .lock()
            .unwrap()
            .iter()
            .map(|(_, w)| w.clone())
            .collect();
        async move { Ok(all) }.boxed()
    }
    fn add_workstation(
        &self,
        _workstation: NewWorkstation,
    ) -> BoxFuture<'_, Result<(Workstation, WorkstationToken), AdminError>> {
        async { Err(AdminError::Invalid("not in these tests".into())) }.boxed()
    }
    fn revoke_workstation<'a>(&'a self, _id: &'a str) -> BoxFuture<'a, Result<(), AdminError>> {
        async { Ok(()) }.boxed()
    }
}

/// Sessions that are always red and accept every request.
struct Sessions;

fn view(user: &UserId) -> SessionView {
    SessionView {
        user: user.clone(),
        application: Application::Prescrittore,
        state: StateName::None,
        level: Level::Red,
        expires_at: None,
        remaining_seconds: None,
        yellow_from: None,
        pending: false,
        requested_at: None,
        requested_by: None,
        last_error: None,
        password_warning: None,
    }
}

impl SessionService for Sessions {
    fn status<'a>(&'a self, user: &'a UserId) -> BoxFuture<'a, Result<SessionView, SessionError>> {
        async move { Ok(view(user)) }.boxed()
    }
    fn request<'a>(
        &'a self,
        user: &'a UserId,
        _caller: &'a Caller,
        _replace: bool,
    ) -> BoxFuture<'a, Result<RequestOutcome, SessionError>> {
        async move {
            Ok(RequestOutcome {
                view: view(user),
                joined: false,
            })
        }
        .boxed()
    }
    fn submit_code<'a>(
        &'a self,
        user: &'a UserId,
        _caller: &'a Caller,
        _code: SessionCode,
    ) -> BoxFuture<'a, Result<SessionView, SessionError>> {
        async move { Ok(view(user)) }.boxed()
    }
    fn revoke<'a>(
        &'a self,
        user: &'a UserId,
        _caller: &'a Caller,
    ) -> BoxFuture<'a, Result<SessionView, SessionError>> {
        async move { Ok(view(user)) }.boxed()
    }
    fn current_code<'a>(
        &'a self,
        _user: &'a UserId,
        _caller: &'a Caller,
    ) -> BoxFuture<'a, Result<SessionCode, SessionError>> {
        async { Ok(SessionCode::new("9a7e2329-2cfc-4903-8cfc-609a7e232920")) }.boxed()
    }
    fn subscribe(&self) -> BoxStream<'static, SessionView> {
        futures::StreamExt::boxed(futures::stream::pending())
    }
}

impl CodeProvider for Sessions {
    fn code_for_proxy<'a>(
        &'a self,
        _user: &'a UserId,
        _application: Application,
        _caller: &'a Caller,
    ) -> BoxFuture<'a, Result<SessionCode, NoUsableCode>> {
        async { Err(NoUsableCode { message_it: None }) }.boxed()
    }
    fn report<'a>(
        &'a self,
        _user: &'a UserId,
        _code: &'a SessionCode,
        _caller: &'a Caller,
        _outcome: ProxyOutcome,
    ) -> BoxFuture<'a, ()> {
        async {}.boxed()
    }
}

#[derive(Default)]
struct Audit;

impl AuditLog for Audit {
    fn record(&self, _event: AuditRecord) -> BoxFuture<'_, Result<(), BackendError>> {
        async { Ok(()) }.boxed()
    }
    fn query(&self, _filter: AuditFilter) -> BoxFuture<'_, Result<Vec<AuditRecord>, BackendError>> {
        async { Ok(vec![]) }.boxed()
    }
}

struct App {
    router: axum::Router,
    directory: Arc<Directory>,
    admin: String,
    doctor: String,
    staff: String,
}

fn app() -> App {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let directory = Arc::new(Directory::default());
    let admin = directory.add(&format!("Reception {NASTY}"), Role::Admin);
    let doctor = directory.add("Ambulatorio 1", Role::Doctor);
    let staff = directory.add("Segreteria", Role::Staff);
    let sessions = Arc::new(Sessions);
    let backends = Backends {
        workstations: directory.clone(),
        sessions: sessions.clone(),
        codes: sessions,
        audit: Arc::new(Audit),
        admin: Some(directory.clone()),
    };
    let mut config = GatewayConfig::default();
    config.limits.api_rate = None;
    let state = AppState::new(config, backends).unwrap();
    App {
        router: crate::router(state),
        directory,
        admin,
        doctor,
        staff,
    }
}

struct Answer {
    status: StatusCode,
    headers: axum::http::HeaderMap,
    body: String,
}

impl App {
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
    let app = app();
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
    let app = app();
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
    let app = app();
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
    let app = app();
    let (cookie, csrf) = app.sign_in(&app.staff).await;
    app.directory.revoke_token(&app.staff);
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
    let app = app();
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
    let app = app();
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
    let app = app();
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
    let app = app();
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
    app.directory.revoke_token(&app.staff);
    // The fake's live stream never ends by itself: only the revocation can end the body.
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
        yellow_from: Some(end - window),
        ..view(&user)
    };
    let text = |window| super::text::state_text(&yellow(window));
    assert!(text(time::Duration::hours(1)).contains("scade entro un'ora"));
    assert!(text(time::Duration::hours(2)).contains("scade entro 2 ore"));
    assert!(text(time::Duration::minutes(30)).contains("scade entro 30 minuti"));
}
