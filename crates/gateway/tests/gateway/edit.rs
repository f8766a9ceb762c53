//! Administration of what exists: a doctor's data, their credentials, the doctors of a
//! workstation; fields checked when entered, each problem naming its field.

use reqwest::Method;
use serde_json::{Value, json};
use tsgate_session::{AuditFilter, AuditLog as _, UserDirectory as _, WorkstationRepo as _};

use crate::helpers::*;

async fn admin(app: &TestApp, method: Method, path: &str, body: Value) -> (u16, Value) {
    let r = app
        .http
        .request(method, app.url(path))
        .bearer_auth(&app.tokens.admin)
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    let text = r.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

fn message(v: &Value) -> String {
    v["error"]["message"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

#[tokio::test]
async fn a_new_doctor_with_a_wrong_region_is_refused_naming_the_field() {
    let app = spawn_app().await;
    let (status, v) = admin(
        &app,
        Method::POST,
        "/api/v1/users",
        json!({"user_id": "NUOVO", "cf": "PROVAX00X00X000N", "region": "13", "asl": "2O2",
               "password": "Pw.2026", "pin": "12345678"}),
    )
    .await;
    assert_eq!(status, 400, "{v}");
    let text = message(&v);
    // Every problem at once, each naming its field, with the likely fix.
    assert!(
        text.contains("(region)") && text.contains("130 (Abruzzo)"),
        "{text}"
    );
    assert!(text.contains("ASL (asl)"), "{text}");
    assert!(!text.contains("Sistema TS ha risposto"), "{text}");
    assert!(
        app.domain
            .store
            .user(&tsgate_session::UserId::new("NUOVO").unwrap())
            .await
            .unwrap()
            .is_none(),
        "nothing saved"
    );
    // An empty PIN is refused too, before anything is written.
    let (status, v) = admin(
        &app,
        Method::POST,
        "/api/v1/users",
        json!({"user_id": "NUOVO", "cf": "PROVAX00X00X000N", "region": "130", "asl": "202",
               "password": "Pw.2026", "pin": " "}),
    )
    .await;
    assert_eq!(status, 400, "{v}");
    assert!(message(&v).contains("(pin)"), "{v}");
}

#[tokio::test]
async fn an_admin_edits_a_doctors_data_and_credentials() {
    let app = spawn_app().await;
    let path = format!("/api/v1/users/{U1}");
    let (status, v) = admin(
        &app,
        Method::PUT,
        &path,
        json!({"display_name": "Dott.ssa Prova", "region": "120", "asl": "201",
               "password_changed_on": "2026-11-30"}),
    )
    .await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["display_name"], "Dott.ssa Prova");
    assert_eq!(v["region"], "120");
    assert_eq!(v["password_changed_on"], "2026-11-30");
    let stored = app
        .domain
        .store
        .user(&tsgate_session::UserId::new(U1).unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.asl, "201");

    // A mistake leaves everything as it was.
    let (status, v) = admin(&app, Method::PUT, &path, json!({"region": "999"})).await;
    assert_eq!(status, 400, "{v}");
    assert!(message(&v).contains("(region)"), "{v}");
    let (status, v) = admin(
        &app,
        Method::PUT,
        &path,
        json!({"password_changed_on": "30/11/2026"}),
    )
    .await;
    assert_eq!(status, 400, "{v}");
    assert!(message(&v).contains("password_changed_on"), "{v}");
    let (status, _) = admin(&app, Method::PUT, &path, json!({"colour": "blue"})).await;
    assert_eq!(status, 400, "unknown fields are refused, not ignored");

    // New credentials: stored encrypted, never answered, audited without the secret.
    let secret = "Nuova.Password.2026!";
    let (status, v) = admin(
        &app,
        Method::PUT,
        &format!("{path}/credentials"),
        json!({"password": secret, "pin": "87654321"}),
    )
    .await;
    assert_eq!(status, 204, "{v}");
    let credentials = app
        .domain
        .store
        .credentials(&tsgate_session::UserId::new(U1).unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(credentials.password.expose_secret(), secret);
    let audit = app
        .domain
        .store
        .query(&AuditFilter::default())
        .await
        .unwrap();
    let line = audit
        .iter()
        .find(|a| a.kind.as_str() == "credentials_changed")
        .expect("audited");
    assert!(!format!("{line:?}").contains(secret));
}

#[tokio::test]
async fn an_admin_changes_the_doctors_of_a_workstation() {
    let app = spawn_app().await;
    let path = format!("/api/v1/workstations/{}/users", app.ids.doctor);
    let (status, v) = admin(&app, Method::PUT, &path, json!({"users": [U1, U2]})).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["users"], json!([U1, U2]));
    // The workstation acts for U2 at once (no cached list).
    let r = app
        .http
        .get(app.url(&format!("/api/v1/users/{U2}/session")))
        .bearer_auth(&app.tokens.doctor)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);

    let (status, v) = admin(&app, Method::PUT, &path, json!({"users": ["NESSUNO"]})).await;
    assert_eq!(status, 400, "{v}");
    assert!(message(&v).contains("NESSUNO"), "{v}");

    let (status, v) = admin(&app, Method::PUT, &path, json!({"users": []})).await;
    assert_eq!(status, 200, "{v}");
    let ws = app
        .domain
        .store
        .workstation(&tsgate_session::WorkstationId(app.ids.doctor.clone()))
        .await
        .unwrap()
        .unwrap();
    assert!(ws.users.is_empty());
    let audit = app
        .domain
        .store
        .query(&AuditFilter::default())
        .await
        .unwrap();
    assert_eq!(
        audit
            .iter()
            .filter(|a| a.kind.as_str() == "workstation_users_set")
            .count(),
        2
    );
}

#[tokio::test]
async fn a_new_workstation_comes_with_its_sign_in_link_and_qr_code() {
    let app = spawn_app().await;
    let r = app
        .http
        .post(app.url("/api/v1/workstations"))
        .bearer_auth(&app.tokens.admin)
        .header("Origin", "https://studio.example:8443")
        .json(&json!({"name": "Telefono", "role": "doctor", "users": [U1]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 201);
    let v: Value = r.json().await.unwrap();
    let token = v["token"].as_str().unwrap();
    let url = format!("https://studio.example:8443/login?token={token}");
    assert_eq!(v["login_url"], url.as_str());
    // The picture is exactly the QR code of that link.
    let expected = qrcode::QrCode::new(url.as_bytes())
        .unwrap()
        .render::<qrcode::render::svg::Color>()
        .min_dimensions(200, 200)
        .quiet_zone(true)
        .build();
    assert_eq!(v["login_qr_svg"], expected.as_str());

    // A forged Origin is not echoed into the link.
    let r = app
        .http
        .post(app.url("/api/v1/workstations"))
        .bearer_auth(&app.tokens.admin)
        .header("Origin", "javascript://x\"><script>")
        .json(&json!({"name": "Altro", "role": "doctor", "users": [U1]}))
        .send()
        .await
        .unwrap();
    let v: Value = r.json().await.unwrap();
    assert!(v.get("login_url").is_none(), "{v}");
}
