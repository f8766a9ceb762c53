//! `GET /api/v1/support-bundle`: one .zip with every section, and only what the caller
//! administers.

use std::io::Read as _;
use std::sync::Arc;

use serde_json::{Value, json};
use tsgate_gateway::support::{Check, CheckStatus, Installation, InstallationReport};
use tsgate_session::{
    PracticeId, PracticeRepo as _, UserDirectory as _, WorkstationRepo as _, WorkstationRole,
    WorkstationSpec,
};

use crate::helpers::*;

/// What the binary would give: a configuration and two checks.
struct FakeReport;

#[tsgate_session::async_trait]
impl InstallationReport for FakeReport {
    async fn report(&self) -> Installation {
        Installation {
            configuration: json!({"listen": "127.0.0.1:8080", "environment": "test"}),
            checks: vec![
                Check::new(CheckStatus::Ok, "master key and database tsgate.db"),
                Check::new(CheckStatus::Fail, "DEM service at https://x: timeout"),
            ],
        }
    }
}

/// The two files of a bundle: the summary and the JSON.
pub struct Unzipped {
    pub summary: String,
    pub json: Value,
    pub raw_json: String,
}

/// Opens a bundle; exactly `LEGGIMI.txt` and `tsgate-support.json`.
pub fn unzip(bytes: &[u8]) -> Unzipped {
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(bytes)).expect("a zip");
    let mut names: Vec<String> = archive
        .file_names()
        .map(|n| n.unwrap().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["LEGGIMI.txt", "tsgate-support.json"]);
    let mut read = |name: &str| {
        let mut text = String::new();
        archive
            .by_name(name)
            .unwrap()
            .read_to_string(&mut text)
            .unwrap();
        text
    };
    let summary = read("LEGGIMI.txt");
    let raw_json = read("tsgate-support.json");
    Unzipped {
        summary,
        json: serde_json::from_str(&raw_json).unwrap(),
        raw_json,
    }
}

async fn download(
    app: &TestApp,
    token: &str,
    query: &str,
) -> (u16, reqwest::header::HeaderMap, Vec<u8>) {
    let r = app
        .http
        .get(app.url(&format!("/api/v1/support-bundle{query}")))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    let headers = r.headers().clone();
    (status, headers, r.bytes().await.unwrap().to_vec())
}

#[tokio::test]
async fn the_bundle_has_every_section() {
    let app = spawn_app().await;
    assert!(app.state.set_support(Arc::new(FakeReport)));
    // A mailbox, a refused request (an error), a paste of a wrong code (a failure).
    let (status, _) = put_mailbox(&app, U1).await;
    assert_eq!(status, 200);
    let _ = app
        .http
        .post(app.url(&format!("/api/v1/users/{U1}/session/request")))
        .bearer_auth(&app.tokens.admin)
        .json(&json!({"replace": false}))
        .send()
        .await
        .unwrap();

    let (status, headers, bytes) = download(&app, &app.tokens.admin, "").await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&bytes));
    assert_eq!(headers["content-type"], "application/zip");
    assert_eq!(headers["cache-control"], "no-store");
    let disposition = headers["content-disposition"].to_str().unwrap();
    assert!(
        disposition.starts_with("attachment; filename=\"tsgate-support-default-"),
        "{disposition}"
    );
    let b = unzip(&bytes);
    let j = &b.json;

    assert_eq!(j["format"], 1);
    assert_eq!(j["build"]["version"], env!("CARGO_PKG_VERSION"));
    assert!(j["build"]["os"].as_str().is_some_and(|o| !o.is_empty()));
    assert!(j["node"]["uptime_seconds"].as_i64().is_some(), "{j}");
    assert_eq!(j["produced_by"], format!("ws:{}", app.ids.admin));
    assert_eq!(j["practice"]["id"], "default");
    // The binary's part, for the admin of the installation's (default) practice.
    assert_eq!(
        j["installation"]["configuration"]["listen"],
        "127.0.0.1:8080"
    );
    assert_eq!(j["installation"]["checks"][1]["status"], "fail");

    let doctors = j["doctors"].as_array().unwrap();
    let users: Vec<&str> = doctors
        .iter()
        .map(|d| d["user"].as_str().unwrap())
        .collect();
    assert_eq!(users, [U1, U2]);
    let d1 = &doctors[0];
    assert_eq!(d1["session"]["state"], "active", "{d1}");
    assert_eq!(d1["session"]["level"], "green");
    assert!(d1["session"]["expires_at"].is_string());
    assert_eq!(d1["automatic"]["mode"], "default");
    assert_eq!(d1["mailbox"]["configured"], true);
    assert_eq!(d1["mailbox"]["host"], "imap.example.it");
    assert_eq!(d1["mailbox"]["port"], 993);
    assert_eq!(d1["mailbox"]["security"], "implicit");
    let history = d1["history"].as_array().unwrap();
    let verified = history
        .iter()
        .find(|h| h["kind"] == "verified")
        .unwrap_or_else(|| panic!("no verified line: {history:?}"));
    assert_eq!(verified["code_hint"], hint(CODE_U1));
    assert!(
        history
            .iter()
            .any(|h| h["kind"] == "requested" && h["outcome"] == "code_active"),
        "{history:?}"
    );
    // The refused request is a recent error and is counted.
    let errors = j["recent_errors"].as_array().unwrap();
    assert!(
        errors
            .iter()
            .any(|e| e["code"] == "code_active" && e["user"] == U1 && e["source"] == "audit"),
        "{errors:?}"
    );
    let summary = &j["audit_summary"];
    assert!(summary["lines"].as_u64().unwrap() >= 4, "{summary}");
    assert!(summary["failures"].as_u64().unwrap() >= 1, "{summary}");
    assert!(
        summary["counts"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["kind"] == "verified" && c["outcome"] == "ok"),
        "{summary}"
    );
    assert!(
        j["workstations"]
            .as_array()
            .unwrap()
            .iter()
            .any(|w| w["id"] == app.ids.admin && w["role"] == "admin"),
        "{j}"
    );

    // The summary a person reads.
    for part in [
        "Pacchetto di supporto tsgate",
        "== Controlli / Checks (tsgate check) ==",
        "FAIL  DEM service at https://x: timeout",
        "== Medici / Doctors ==",
        &format!("-- {U1} (titolare"),
        "Codice: active (green)",
        "Casella: imap.example.it:993 (implicit)",
        &format!("codice {}", hint(CODE_U1)),
        "code_active",
        "listen = 127.0.0.1:8080",
    ] {
        assert!(
            b.summary.contains(part),
            "{part} missing from:\n{}",
            b.summary
        );
    }

    // Codes, passwords, the doctor's fiscal code and the mailbox login are not fields of it.
    let profile = app.domain.store.user(&uid(U1)).await.unwrap().unwrap();
    for secret in [
        CODE_U1,
        CODE_U2,
        MAILBOX_PASSWORD,
        "rossi@pec.example.it",
        app.tokens.admin.as_str(),
        app.tokens.doctor.as_str(),
    ] {
        assert!(!b.raw_json.contains(secret), "{secret} in the JSON");
        assert!(!b.summary.contains(secret), "{secret} in the summary");
    }
    if profile.fiscal_code != U1 {
        assert!(!b.raw_json.contains(&profile.fiscal_code));
    }

    // The download is audited.
    let audited = app.domain.store.audit_entries();
    assert!(
        audited
            .iter()
            .any(|e| e.kind.as_str() == "support_bundle" && e.outcome == "2 doctors"),
        "{audited:?}"
    );
}

const MAILBOX_PASSWORD: &str = "Mailbox-Planted-Pw-1";

async fn put_mailbox(app: &TestApp, user: &str) -> (u16, Value) {
    let r = app
        .http
        .put(app.url(&format!("/api/v1/users/{user}/mailbox")))
        .bearer_auth(&app.tokens.admin)
        .json(&json!({
            "host": "imap.example.it",
            "security": "implicit",
            "username": "rossi@pec.example.it",
            "password": MAILBOX_PASSWORD,
        }))
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

/// U1 in studio-a, U2 in studio-b, with an admin, a doctor, a staff and a backend
/// workstation each, and the vendor.
async fn two_practices(app: &TestApp) -> Vec<(&'static str, String)> {
    let store = &app.domain.store;
    let (a, b) = (
        PracticeId::new("studio-a").unwrap(),
        PracticeId::new("studio-b").unwrap(),
    );
    store.put_practice(&a, "Studio A").await.unwrap();
    store.put_practice(&b, "Studio B").await.unwrap();
    store.add_member(&a, &uid(U1)).await.unwrap();
    store.add_member(&b, &uid(U2)).await.unwrap();
    let mut tokens = Vec::new();
    for (name, role, practice, users) in [
        ("admin_a", WorkstationRole::Admin, Some(&a), vec![U1]),
        ("admin_b", WorkstationRole::Admin, Some(&b), vec![U2]),
        ("doctor_a", WorkstationRole::Doctor, Some(&a), vec![U1]),
        ("staff_a", WorkstationRole::Staff, Some(&a), vec![U1]),
        ("backend_a", WorkstationRole::Backend, Some(&a), vec![]),
        ("vendor", WorkstationRole::Vendor, None, vec![]),
    ] {
        let (_, token) = store
            .register_workstation(&WorkstationSpec {
                name: name.into(),
                role,
                practice: practice.cloned(),
                users: users.into_iter().map(uid).collect(),
            })
            .await
            .unwrap();
        tokens.push((name, token.expose_secret().to_owned()));
    }
    tokens
}

#[tokio::test]
async fn each_admin_gets_only_its_practice_and_workstations_get_nothing() {
    let app = spawn_app().await;
    app.state.set_support(Arc::new(FakeReport));
    let tokens = two_practices(&app).await;
    let token = |name: &str| tokens.iter().find(|(n, _)| *n == name).unwrap().1.clone();
    // Something of U2 in studio-b's audit that studio-a must not see.
    let (status, _) = put_mailbox(&app, U2).await;
    assert_eq!(status, 200);

    for (who, own, other, other_names) in [
        ("admin_a", U1, U2, ["studio-b", "Studio B"]),
        ("admin_b", U2, U1, ["studio-a", "Studio A"]),
    ] {
        let (status, _, bytes) = download(&app, &token(who), "").await;
        assert_eq!(status, 200, "{who}");
        let b = unzip(&bytes);
        let users: Vec<&str> = b.json["doctors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["user"].as_str().unwrap())
            .collect();
        assert_eq!(users, [own], "{who}");
        for secret in [other].into_iter().chain(other_names) {
            assert!(!b.raw_json.contains(secret), "{who}: {secret} in the JSON");
            assert!(
                !b.summary.contains(secret),
                "{who}: {secret} in the summary"
            );
        }
        // Another practice's admin shares an installation run by someone else.
        assert!(b.json["installation"].is_null(), "{who}");
        assert!(b.json["installation_note"].is_string(), "{who}");
        assert!(!b.raw_json.contains("127.0.0.1:8080"), "{who}");

        // Asking for the other practice is refused, not answered empty.
        let other_practice = if who == "admin_a" {
            "studio-b"
        } else {
            "studio-a"
        };
        let (status, _, body) =
            download(&app, &token(who), &format!("?practice={other_practice}")).await;
        assert_eq!(status, 403, "{who}: {}", String::from_utf8_lossy(&body));
    }

    // Workstations that do not administer get nothing, nor does a missing token.
    for who in ["doctor_a", "staff_a", "backend_a"] {
        let (status, _, body) = download(&app, &token(who), "").await;
        assert_eq!(status, 403, "{who}: {}", String::from_utf8_lossy(&body));
        assert!(
            String::from_utf8_lossy(&body).contains("admin_only"),
            "{who}"
        );
    }
    for t in [&app.tokens.doctor, &app.tokens.staff] {
        assert_eq!(download(&app, t, "").await.0, 403);
    }
    let r = app
        .http
        .get(app.url("/api/v1/support-bundle"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 401);

    // The vendor: the installation in numbers, no doctor named; or the practice it names.
    let (status, _, bytes) = download(&app, &token("vendor"), "").await;
    assert_eq!(status, 200);
    let b = unzip(&bytes);
    assert!(b.json["practice"].is_null());
    assert_eq!(b.json["doctors"].as_array().unwrap().len(), 0);
    let practices: Vec<&str> = b.json["practices"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_str().unwrap())
        .collect();
    assert_eq!(practices, ["default", "studio-a", "studio-b"]);
    for user in [U1, U2] {
        assert!(!b.raw_json.contains(user), "vendor overview names {user}");
    }
    assert_eq!(b.json["installation"]["checks"][0]["status"], "ok");
    let (status, _, bytes) = download(&app, &token("vendor"), "?practice=studio-b").await;
    assert_eq!(status, 200);
    let b = unzip(&bytes);
    assert_eq!(b.json["doctors"][0]["user"], U2);
    assert!(!b.raw_json.contains(U1));
    let (status, _, _) = download(&app, &token("vendor"), "?practice=nessuno").await;
    assert_eq!(status, 404);
}
