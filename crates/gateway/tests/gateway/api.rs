//! The JSON API: the authorisation matrix, answers and the error shape.

use reqwest::Method;
use serde_json::{Value, json};
use tsgate_session::{
    Actor, AuditEntry, AuditEntryKind, AuditKind, AuditLog as _, SessionKey, WorkstationId,
};

use crate::helpers::*;

/// A code Sistema TS answers "expired" about (see `session_answers`).
const EXPIRED_CODE: &str = "eeeeeeee-2cfc-4903-8cfc-609a7e232920";

#[derive(Clone, Copy, Debug)]
enum Who {
    Nobody,
    BadToken,
    Admin,
    Doctor,
    Staff,
    /// A doctor's workstation for another user.
    Other,
}

const ALL: [Who; 6] = [
    Who::Nobody,
    Who::BadToken,
    Who::Admin,
    Who::Doctor,
    Who::Staff,
    Who::Other,
];

fn token(app: &TestApp, who: Who) -> Option<String> {
    match who {
        Who::Nobody => None,
        Who::BadToken => Some("tsg_unknown".into()),
        Who::Admin => Some(app.tokens.admin.clone()),
        Who::Doctor => Some(app.tokens.doctor.clone()),
        Who::Staff => Some(app.tokens.staff.clone()),
        Who::Other => Some(app.tokens.other.clone()),
    }
}

async fn call(
    app: &TestApp,
    who: Who,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let mut req = app.http.request(method, app.url(path));
    if let Some(t) = token(app, who) {
        req = req.bearer_auth(t);
    }
    if let Some(b) = body {
        req = req.json(&b);
    }
    let r = req.send().await.unwrap();
    let status = r.status().as_u16();
    let text = r.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

fn assert_error_shape(v: &Value, code: &str) {
    let obj = v
        .as_object()
        .unwrap_or_else(|| panic!("not an object: {v}"));
    assert_eq!(obj.len(), 1, "{v}");
    let e = v["error"].as_object().unwrap();
    assert_eq!(e.len(), 2, "{v}");
    assert_eq!(v["error"]["code"], code, "{v}");
    assert!(!v["error"]["message"].as_str().unwrap().is_empty());
}

/// (method, path, body, expected status for [Nobody, BadToken, Admin, Doctor, Staff, Other])
fn matrix() -> Vec<(Method, String, Option<Value>, [u16; 6])> {
    let s = format!("/api/v1/users/{U1}/session");
    vec![
        (
            Method::GET,
            "/api/v1/users".into(),
            None,
            [401, 401, 200, 200, 200, 200],
        ),
        (Method::GET, s.clone(), None, [401, 401, 200, 200, 200, 403]),
        (
            Method::POST,
            format!("{s}/request"),
            Some(json!({"replace": true})),
            [401, 401, 202, 202, 202, 403],
        ),
        (
            Method::POST,
            format!("{s}/code"),
            Some(json!({"code": CODE_U1})),
            [401, 401, 200, 200, 200, 403],
        ),
        (
            Method::GET,
            format!("{s}/code"),
            None,
            [401, 401, 403, 200, 403, 403],
        ),
        (
            Method::DELETE,
            s.clone(),
            None,
            [401, 401, 200, 200, 200, 403],
        ),
        (
            Method::GET,
            format!("{s}/requests"),
            None,
            [401, 401, 200, 200, 200, 403],
        ),
        (
            Method::GET,
            "/api/v1/audit".into(),
            None,
            [401, 401, 200, 403, 403, 403],
        ),
        (
            Method::GET,
            "/api/v1/workstations".into(),
            None,
            [401, 401, 200, 403, 403, 403],
        ),
        (
            Method::POST,
            "/api/v1/workstations".into(),
            Some(json!({"name": "reception", "role": "staff", "users": [U1]})),
            [401, 401, 201, 403, 403, 403],
        ),
        (
            Method::DELETE,
            "/api/v1/workstations/ws-nonexistent".into(),
            None,
            [401, 401, 404, 403, 403, 403],
        ),
        (
            Method::POST,
            "/api/v1/users".into(),
            Some(
                json!({"user_id": "NEWUSER", "cf": "PROVAX00X00X000N", "region": "120", "asl": "201", "password": "p", "pin": "1"}),
            ),
            [401, 401, 201, 403, 403, 403],
        ),
        (
            Method::DELETE,
            "/api/v1/users/NOSUCHUSER".into(),
            None,
            [401, 401, 404, 403, 403, 403],
        ),
        (
            Method::PUT,
            format!("/api/v1/users/{U1}"),
            Some(json!({"display_name": "Dott. Uno"})),
            [401, 401, 200, 403, 403, 403],
        ),
        (
            Method::PUT,
            format!("/api/v1/users/{U1}/credentials"),
            Some(json!({"password": "Nuova.2026", "pin": "12345678"})),
            [401, 401, 204, 403, 403, 403],
        ),
        (
            Method::PUT,
            "/api/v1/workstations/ws-nonexistent/users".into(),
            Some(json!({"users": []})),
            [401, 401, 404, 403, 403, 403],
        ),
        (
            Method::GET,
            format!("/api/v1/users/{U1}/mailbox"),
            None,
            [401, 401, 200, 200, 200, 403],
        ),
        (
            Method::PUT,
            format!("/api/v1/users/{U1}/mailbox"),
            Some(json!({"host": "imap.pec.example", "username": "rossi", "password": "MailPwd"})),
            [401, 401, 200, 403, 403, 403],
        ),
        (
            Method::GET,
            "/api/v1/users?all=true".into(),
            None,
            [401, 401, 200, 403, 403, 403],
        ),
    ]
}

#[tokio::test]
async fn authorisation_matrix() {
    let app = spawn_app().await;
    for (method, path, body, expected) in matrix() {
        for (i, who) in ALL.into_iter().enumerate() {
            // Each call starts from a user that has a code, and may ask for a new one
            // (past the minimum interval between two `create`).
            app.domain
                .clock
                .advance(app.domain.manager.policy().min_create_interval);
            app.give_code(U1).await;
            let (status, v) = call(&app, who, method.clone(), &path, body.clone()).await;
            assert_eq!(status, expected[i], "{method} {path} as {who:?}: {v}");
            if status >= 400 {
                let code = v["error"]["code"]
                    .as_str()
                    .unwrap_or_else(|| panic!("{method} {path} as {who:?}: {v}"))
                    .to_owned();
                assert_error_shape(&v, &code);
                let expected_code = match (status, who) {
                    (401, Who::Nobody) => "missing_token",
                    (401, _) => "invalid_token",
                    (403, _) if method == Method::PUT => "admin_only",
                    (403, Who::Other) if path.contains(U1) => "not_allowed",
                    (403, Who::Admin | Who::Staff) if path.ends_with("/session/code") => {
                        "code_not_visible"
                    }
                    (403, _) => "admin_only",
                    (404, _) => "not_found",
                    _ => unreachable!("{status}"),
                };
                assert_eq!(code, expected_code, "{method} {path} as {who:?}");
            }
        }
    }
}

#[tokio::test]
async fn events_need_a_workstation() {
    let app = spawn_app().await;
    for who in [Who::Nobody, Who::BadToken] {
        let mut req = app.http.get(app.url("/api/v1/events"));
        if let Some(t) = token(&app, who) {
            req = req.bearer_auth(t);
        }
        let r = req.send().await.unwrap();
        assert_eq!(r.status(), 401);
        assert!(r.headers().contains_key("www-authenticate"));
    }
}

#[tokio::test]
async fn session_answers() {
    let app = spawn_app().await;
    let (s, users) = call(&app, Who::Doctor, Method::GET, "/api/v1/users", None).await;
    assert_eq!(s, 200);
    assert_eq!(users.as_array().unwrap().len(), 1);
    assert_eq!(users[0]["user"], U1);
    assert_eq!(users[0]["session"]["state"], "active");
    assert_eq!(users[0]["session"]["level"], "green");
    assert!(
        !users.to_string().contains(CODE_U1),
        "never the code in a state"
    );

    let path = format!("/api/v1/users/{U1}/session");
    let (s, v) = call(
        &app,
        Who::Staff,
        Method::POST,
        &format!("{path}/request"),
        Some(json!({})),
    )
    .await;
    assert_eq!(s, 409);
    assert_error_shape(&v, "code_active");
    let (s, v) = call(
        &app,
        Who::Staff,
        Method::POST,
        &format!("{path}/request"),
        None,
    )
    .await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (409, Some("code_active")),
        "no body means replace=false"
    );
    let (s, v) = call(
        &app,
        Who::Staff,
        Method::POST,
        &format!("{path}/request"),
        Some(json!({"replace": true})),
    )
    .await;
    assert_eq!(s, 202);
    assert_eq!(v["outcome"], "sent");
    // The domain keeps the code in use until its replacement arrives ("active+pending").
    assert_eq!(v["session"]["state"], "active", "{v}");
    assert_eq!(v["session"]["pending"], true, "{v}");

    // A code Sistema TS says is expired.
    app.domain.upstream.answer(
        EXPIRED_CODE,
        tsgate_session::TokenCheck::Expired { valid_until: None },
    );
    let (s, v) = call(
        &app,
        Who::Doctor,
        Method::POST,
        &format!("{path}/code"),
        Some(json!({"code": EXPIRED_CODE})),
    )
    .await;
    assert_eq!(s, 422);
    assert_error_shape(&v, "expired");
    // A code is active: an expired one pasted now is old mail, nothing to do.
    let message = v["error"]["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("il codice attivo resta valido")
            && message.contains("Non serve fare nulla"),
        "{v}"
    );

    let (s, v) = call(
        &app,
        Who::Doctor,
        Method::GET,
        &format!("{path}/code"),
        None,
    )
    .await;
    assert_eq!(s, 200);
    assert_eq!(v["code"], CODE_U1);
    let audit = app.domain.store.audit_entries();
    let doctor = Actor::Workstation(WorkstationId(app.ids.doctor.clone()));
    assert!(
        audit
            .iter()
            .any(|r| r.kind == AuditEntryKind::Session(AuditKind::Copied)
                && r.actor == doctor
                && r.code_hint.as_deref() == Some("…2920")),
        "{audit:?}"
    );

    let (s, v) = call(&app, Who::Doctor, Method::DELETE, &path, None).await;
    assert_eq!(s, 200);
    assert_eq!(v["state"], "revoked", "{v}");
    assert_eq!(v["level"], "red", "{v}");
    let (s, v) = call(
        &app,
        Who::Doctor,
        Method::GET,
        &format!("{path}/code"),
        None,
    )
    .await;
    assert_eq!(s, 404);
    assert_error_shape(&v, "no_code");
}

#[tokio::test]
async fn malformed_requests_get_json_errors() {
    let app = spawn_app().await;
    let path = format!("/api/v1/users/{U1}/session/code");
    let r = app
        .http
        .post(app.url(&path))
        .bearer_auth(&app.tokens.doctor)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert_error_shape(&body_json(r).await, "bad_request");
    let r = app
        .http
        .post(app.url(&path))
        .bearer_auth(&app.tokens.doctor)
        .json(&json!({"code": "x", "extra": 1}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let big = "x".repeat(100 * 1024);
    let r = app
        .http
        .post(app.url(&path))
        .bearer_auth(&app.tokens.doctor)
        .json(&json!({"code": big}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 413);
    assert_error_shape(&body_json(r).await, "payload_too_large");
    let r = app
        .http
        .get(app.url("/api/v1/nothing-here"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    assert_error_shape(&body_json(r).await, "not_found");
    let r = app
        .http
        .get(app.url("/api/v1/audit?from=yesterday"))
        .bearer_auth(&app.tokens.admin)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert_error_shape(&body_json(r).await, "bad_request");
}

#[tokio::test]
async fn audit_filters_reach_the_store() {
    let app = spawn_app().await;
    let doctor = Actor::Workstation(WorkstationId(app.ids.doctor.clone()));
    let admin = Actor::Workstation(WorkstationId(app.ids.admin.clone()));
    let line = |user: &str, actor: &Actor, kind: AuditKind, at: time::OffsetDateTime| {
        AuditEntry::session(
            at,
            &SessionKey::new(uid(user), tsgate_session::Application::Prescrittore),
            tsgate_session::AuditDraft {
                kind,
                actor: actor.clone(),
                outcome: "ok".into(),
                code_hint: Some(hint(code_of(user))),
            },
        )
    };
    let inside = time::macros::datetime!(2026-06-01 08:00 UTC);
    let store = &app.domain.store;
    // More matching lines than the largest limit the API honours…
    for i in 0..1001 {
        let at = inside + time::Duration::seconds(i);
        store
            .append(&line(U1, &doctor, AuditKind::Copied, at))
            .await
            .unwrap();
    }
    // …and lines that each miss one filter: user, workstation, kind, from, to.
    let misses = [
        line(U2, &doctor, AuditKind::Copied, inside),
        line(U1, &admin, AuditKind::Copied, inside),
        line(U1, &doctor, AuditKind::Used, inside),
        line(
            U1,
            &doctor,
            AuditKind::Copied,
            time::macros::datetime!(2025-12-31 23:59 UTC),
        ),
        line(
            U1,
            &doctor,
            AuditKind::Copied,
            time::macros::datetime!(2026-12-31 00:00 UTC),
        ),
    ];
    for miss in &misses {
        store.append(miss).await.unwrap();
    }
    let r = app
        .http
        .get(app.url(&format!("/api/v1/audit?user={U1}&workstation={}&kind=copied&from=2026-01-01T00:00:00Z&to=2026-12-31T00:00:00Z&limit=5000", app.ids.doctor)))
        .bearer_auth(&app.tokens.admin)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let found: Vec<AuditEntry> = r.json().await.unwrap();
    assert_eq!(found.len(), 1000, "limit is capped");
    for e in &found {
        assert_eq!(e.user.as_ref().map(|u| u.as_str()), Some(U1), "{e:?}");
        assert_eq!(e.actor, doctor, "{e:?}");
        assert_eq!(e.kind, AuditEntryKind::Session(AuditKind::Copied), "{e:?}");
        assert!(
            e.at >= time::macros::datetime!(2026-01-01 00:00 UTC)
                && e.at < time::macros::datetime!(2026-12-31 00:00 UTC),
            "{e:?}"
        );
    }
    // Newest first: the oldest matching line is the one left out.
    assert_eq!(found[0].at, inside + time::Duration::seconds(1000));
}

#[tokio::test]
async fn workstation_token_is_shown_once_and_works() {
    let app = spawn_app().await;
    let (s, v) = call(
        &app,
        Who::Admin,
        Method::POST,
        "/api/v1/workstations",
        Some(json!({"name": "studio2", "role": "doctor", "users": [U1]})),
    )
    .await;
    assert_eq!(s, 201);
    let token = v["token"].as_str().unwrap().to_owned();
    let id = v["workstation"]["id"].as_str().unwrap().to_owned();
    assert!(token.starts_with("tsg_"));
    let r = app
        .http
        .get(app.url("/api/v1/users"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let (_, list) = call(&app, Who::Admin, Method::GET, "/api/v1/workstations", None).await;
    assert!(
        !list.to_string().contains(&token),
        "the token is never listed"
    );
    let (s, _) = call(
        &app,
        Who::Admin,
        Method::DELETE,
        &format!("/api/v1/workstations/{id}"),
        None,
    )
    .await;
    assert_eq!(s, 204);
    let r = app
        .http
        .get(app.url("/api/v1/users"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401, "revoked at once");
}

#[tokio::test]
async fn health_readiness_metrics() {
    let app = spawn_app().await;
    let r = app.http.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let r = app.http.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(body_json(r).await["status"], "ready");
    let r = app.http.get(app.url("/metrics")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
}

#[tokio::test]
async fn mailbox_state_never_shows_the_password() {
    let app = spawn_app().await;
    let path = format!("/api/v1/users/{U1}/mailbox");
    let (s, v) = call(
        &app,
        Who::Admin,
        Method::PUT,
        &path,
        Some(json!({"host": "imap.pec.example", "username": "rossi", "password": "MailPwd"})),
    )
    .await;
    assert_eq!(s, 200);
    assert_eq!(v["configured"], true);
    let (s, v) = call(&app, Who::Doctor, Method::GET, &path, None).await;
    assert_eq!(s, 200);
    assert_eq!(v["settings"]["host"], "imap.pec.example", "{v}");
    assert!(!v.to_string().contains("MailPwd"), "{v}");
    {
        let records = app.domain.store.audit_entries();
        let set: Vec<_> = records
            .iter()
            .filter(|r| r.kind.as_str() == "mailbox_set")
            .collect();
        assert_eq!(set.len(), 1, "the change is audited once");
        assert_eq!(set[0].user.as_ref().map(|u| u.as_str()), Some(U1));
        assert!(!format!("{records:?}").contains("MailPwd"));
    }
    let (s, v) = call(
        &app,
        Who::Admin,
        Method::PUT,
        &path,
        Some(json!(["not", "an", "object"])),
    )
    .await;
    assert_eq!(s, 400);
    assert_error_shape(&v, "bad_request");
}

#[tokio::test]
async fn mailbox_endpoints_without_a_mailbox_service() {
    let app = spawn_app_with_mailboxes(|_| {}, false).await;
    let (s, v) = call(
        &app,
        Who::Doctor,
        Method::GET,
        &format!("/api/v1/users/{U1}/mailbox"),
        None,
    )
    .await;
    assert_eq!(s, 501);
    assert_error_shape(&v, "not_configured");
}

#[tokio::test]
async fn a_caller_set_by_a_server_layer_is_accepted() {
    // What the web UI's cookie layer does: authenticate by its own means, then hand the
    // caller to the API through the request extensions.
    let app = spawn_app().await;
    let caller = tsgate_session::Caller {
        workstation: tsgate_session::Workstation {
            id: WorkstationId("ws-ui".into()),
            name: "browser".into(),
            role: tsgate_session::WorkstationRole::Staff,
            practice: Some(tsgate_session::PracticeId::default_practice()),
            users: vec![uid(U1)],
            created_at: time::OffsetDateTime::now_utc(),
            revoked_at: None,
        },
        remote: None,
    };
    let router = tsgate_gateway::router(app.state.clone()).layer(axum::middleware::from_fn(
        move |mut req: axum::extract::Request, next: axum::middleware::Next| {
            let caller = caller.clone();
            async move {
                req.extensions_mut().insert(caller);
                next.run(req).await
            }
        },
    ));
    use tower::ServiceExt as _;
    let r = router
        .oneshot(
            axum::http::Request::get(format!("/api/v1/users/{U1}/session"))
                .body(axum::body::Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}
