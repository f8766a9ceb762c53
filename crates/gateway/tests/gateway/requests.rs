//! `GET /api/v1/users/{user}/session/requests`: the "Ultime richieste" of the card, for every
//! workstation of the user (not only the admin's), with workstation names and never a code.

use serde_json::Value;
use tsgate_session::{Actor, Clock as _, CreateResult, SessionCode};

use crate::helpers::*;

async fn requests_as(app: &TestApp, token: &str, user: &str) -> (u16, String) {
    let r = app
        .http
        .get(app.url(&format!("/api/v1/users/{user}/session/requests")))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

/// Past the minimum interval between two `create`.
fn later(app: &TestApp) {
    app.domain
        .clock
        .advance(app.domain.manager.policy().min_create_interval);
}

#[tokio::test]
async fn every_workstation_of_the_user_reads_who_asked_with_names_and_outcomes() {
    let app = spawn_app().await;
    // The doctor's workstation replaces the code (a click, then the confirmation): Sistema
    // TS mails it.
    let r = app
        .http
        .post(app.url(&format!("/api/v1/users/{U1}/session/request")))
        .bearer_auth(&app.tokens.doctor)
        .json(&serde_json::json!({"replace": false}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 409, "a valid code asks for confirmation first");
    let r = app
        .http
        .post(app.url(&format!("/api/v1/users/{U1}/session/request")))
        .bearer_auth(&app.tokens.doctor)
        .json(&serde_json::json!({"replace": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    // Then an automatic request, whose answer carries the code itself (test environment).
    later(&app);
    const ISSUED: &str = "33333333-2cfc-4903-8cfc-609a7e232920";
    app.domain
        .upstream
        .on_create(Ok(CreateResult::Issued(SessionCode::new(
            ISSUED.to_owned(),
        ))));
    app.domain.upstream.valid(ISSUED, app.domain.clock.now());
    app.domain
        .manager
        .request(&uid(U1), true, Actor::Auto)
        .await
        .unwrap();

    // The staff workstation (not an admin, never sees codes) reads them all.
    let (status, text) = requests_as(&app, &app.tokens.staff, U1).await;
    assert_eq!(status, 200, "{text}");
    let lines: Vec<Value> = serde_json::from_str(&text).unwrap();
    let brief: Vec<(&str, Option<&str>, &str)> = lines
        .iter()
        .map(|l| {
            (
                l["actor"].as_str().unwrap(),
                l["workstation_name"].as_str(),
                l["outcome"].as_str().unwrap(),
            )
        })
        .collect();
    let doctor_actor = format!("ws:{}", app.ids.doctor);
    assert_eq!(
        brief,
        vec![
            ("auto", None, "issued"),
            (doctor_actor.as_str(), Some("doctor"), "mailed"),
        ],
        "newest first; each request with its answer; the confirmation click is not a request"
    );
    // The request's time, not its answer's: the automatic one came after the doctor's.
    let at = |i: usize| {
        time::OffsetDateTime::parse(
            lines[i]["at"].as_str().unwrap(),
            &time::format_description::well_known::Rfc3339,
        )
        .unwrap()
    };
    assert!(at(0) > at(1), "{text}");
    // Never a code, nor the four characters the audit keeps of one.
    for secret in [ISSUED, &hint(ISSUED), CODE_U1] {
        assert!(!text.contains(secret), "code material in {text}");
    }
    for l in &lines {
        let keys: Vec<&String> = l.as_object().unwrap().keys().collect();
        assert_eq!(
            keys,
            ["actor", "at", "outcome", "workstation_name"],
            "only these fields: {l}"
        );
    }

    // The doctor's own workstation too; a workstation of another doctor may not.
    assert_eq!(requests_as(&app, &app.tokens.doctor, U1).await.0, 200);
    let (status, text) = requests_as(&app, &app.tokens.other, U1).await;
    assert_eq!(status, 403, "{text}");
    assert!(text.contains("not_allowed"), "{text}");
    let (status, _) = requests_as(&app, &app.tokens.other, U2).await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn a_revoked_workstation_is_still_named_and_a_failed_request_says_why() {
    let app = spawn_app().await;
    app.take_code(U1).await;
    app.domain
        .upstream
        .on_create(Err(tsgate_session::UpstreamError::Unavailable {
            detail: "timeout".into(),
        }));
    let r = app
        .http
        .post(app.url(&format!("/api/v1/users/{U1}/session/request")))
        .bearer_auth(&app.tokens.doctor)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 503);
    // The admin revokes the doctor's workstation: its name stays in the history.
    let r = app
        .http
        .delete(app.url(&format!("/api/v1/workstations/{}", app.ids.doctor)))
        .bearer_auth(&app.tokens.admin)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    let (status, text) = requests_as(&app, &app.tokens.staff, U1).await;
    assert_eq!(status, 200, "{text}");
    let lines: Vec<Value> = serde_json::from_str(&text).unwrap();
    assert_eq!(lines.len(), 1, "{text}");
    assert_eq!(lines[0]["workstation_name"], "doctor", "{text}");
    assert_eq!(lines[0]["outcome"], "upstream_unavailable", "{text}");
    // And the revoked workstation itself reads nothing any more.
    assert_eq!(requests_as(&app, &app.tokens.doctor, U1).await.0, 401);
}

#[tokio::test]
async fn without_requests_the_list_is_empty() {
    let app = spawn_app().await;
    let (status, text) = requests_as(&app, &app.tokens.doctor, U1).await;
    assert_eq!(status, 200, "{text}");
    assert_eq!(text, "[]");
}
