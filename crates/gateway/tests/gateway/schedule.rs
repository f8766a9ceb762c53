//! Working hours and automatic requests through the API: who may read and change them, the
//! 422 of hours that cannot be read, the 409 of hours set in the configuration file, the
//! audit of every change, and the cards seeing a change at once.

use std::sync::Arc;

use reqwest::Method;
use serde_json::{Value, json};
use tsgate_session::auto::Autopilot;
use tsgate_session::hours::{HoursSpec, WorkingHours};
use tsgate_session::{AdminAction, AuditEntry, AuditEntryKind};

use crate::helpers::*;

/// The usual app, with the autopilot the binary hands the gateway (`file`: the practice
/// hours of the configuration file).
async fn app_with(file: Option<WorkingHours>) -> TestApp {
    let app = spawn_app().await;
    let pilot = Autopilot::new(
        app.domain.manager.clone(),
        app.domain.store.clone(),
        app.domain.store.clone(),
        Some(Arc::new(StoredMailboxes {
            store: app.domain.store.clone(),
        })),
        file,
    );
    assert!(app.state.set_autopilot(pilot));
    app
}

async fn call(
    app: &TestApp,
    method: Method,
    path: &str,
    token: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let mut request = app.http.request(method, app.url(path)).bearer_auth(token);
    if let Some(b) = body {
        request = request.json(&b);
    }
    let r = request.send().await.unwrap();
    let status = r.status().as_u16();
    let text = r.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

/// The administration lines about working hours, oldest first.
fn hours_audit(app: &TestApp) -> Vec<AuditEntry> {
    app.domain
        .store
        .audit_entries()
        .into_iter()
        .filter(|e| {
            matches!(
                e.kind,
                AuditEntryKind::Admin(AdminAction::PracticeHoursSet | AdminAction::ScheduleSet)
            )
        })
        .collect()
}

const PRACTICE: &str = "/api/v1/practice/hours";

fn schedule_path(user: &str) -> String {
    format!("/api/v1/users/{user}/schedule")
}

#[tokio::test]
async fn practice_hours_are_read_by_every_workstation_and_set_by_the_admin() {
    let app = app_with(None).await;
    let t = &app.tokens;
    for token in [&t.staff, &t.doctor, &t.other, &t.admin] {
        let (status, v) = call(&app, Method::GET, PRACTICE, token, None).await;
        assert_eq!(status, 200, "{v}");
        assert_eq!(v["source"], "built_in");
        assert_eq!(v["read_only"], false);
        assert_eq!(v["text"], "lun-ven 08:00-19:30");
        assert_eq!(v["hours"]["mon"], json!(["08:00-19:30"]));
        assert_eq!(v["hours"]["sat"], json!([]));
    }
    let body = json!({
        "week": "lun-ven 08:00-13:00 15:00-19:30; sab 08:00-12:00",
        "closures": [{"from": "2026-12-24", "to": "2027-01-06", "note": "ferie"}]
    });
    for token in [&t.staff, &t.doctor] {
        let (status, v) = call(&app, Method::PUT, PRACTICE, token, Some(body.clone())).await;
        assert_eq!(status, 403, "{v}");
        assert_eq!(v["error"]["code"], "admin_only");
    }
    assert!(
        hours_audit(&app).is_empty(),
        "nothing changed, nothing audited"
    );

    let (status, v) = call(&app, Method::PUT, PRACTICE, &t.admin, Some(body)).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["source"], "stored");
    assert_eq!(
        v["text"],
        "lun-ven 08:00-13:00 15:00-19:30; sab 08:00-12:00"
    );
    assert_eq!(
        v["summary"],
        "lun-ven 08:00-13:00 15:00-19:30; sab 08:00-12:00; 1 chiusura"
    );
    assert_eq!(v["hours"]["closures"][0]["to"], "2027-01-06");

    // A doctor's workstation reads the same, and what it reads can be sent back as it is.
    let (status, read) = call(&app, Method::GET, PRACTICE, &t.doctor, None).await;
    assert_eq!(status, 200, "{read}");
    assert_eq!(read["text"], v["text"]);
    let (status, again) = call(
        &app,
        Method::PUT,
        PRACTICE,
        &t.admin,
        Some(read["hours"].clone()),
    )
    .await;
    assert_eq!(status, 200, "{again}");
    assert_eq!(again["hours"], read["hours"]);

    let audit = hours_audit(&app);
    assert_eq!(audit.len(), 2, "{audit:?}");
    let line = &audit[0];
    assert_eq!(
        line.kind,
        AuditEntryKind::Admin(AdminAction::PracticeHoursSet)
    );
    assert_eq!(line.actor.to_string(), format!("ws:{}", app.ids.admin));
    assert_eq!(line.user, None);
    assert_eq!(
        line.outcome,
        "lun-ven 08:00-13:00 15:00-19:30; sab 08:00-12:00; 1 chiusura"
    );
    // Stored through the port, for the autopilot of every node.
    let stored: WorkingHours = tsgate_session::ScheduleRepo::practice_hours(&*app.domain.store)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        stored.week.to_string(),
        "lun-ven 08:00-13:00 15:00-19:30; sab 08:00-12:00"
    );
}

#[tokio::test]
async fn hours_that_cannot_be_read_are_refused_with_the_italian_reason() {
    let app = app_with(None).await;
    let admin = &app.tokens.admin;
    for (body, expected) in [
        (
            json!({"week": "lun-ven 9-13"}),
            "orario «9-13» non valido: scrivilo come 08:00-13:00",
        ),
        (
            json!({"week": "lun-ven 08:00-13:00 12:00-14:00"}),
            "lunedì: le fasce 08:00-13:00 e 12:00-14:00 si sovrappongono",
        ),
        (
            json!({"week": "lunes 08:00-13:00"}),
            "giorno «lunes» non valido",
        ),
        (
            json!({"week": "lun-ven"}),
            "lun-ven: mancano le fasce orarie",
        ),
        (json!({"week": ""}), "nessun orario indicato"),
        (json!({}), "nessun orario indicato"),
        (
            json!({"week": "lun 08:00-13:00", "mon": ["08:00-13:00"]}),
            "in un solo modo",
        ),
        (
            json!({"mon": ["08:00-13:00", "25:00-26:00"]}),
            "orario «25:00-26:00» non valido",
        ),
        (
            json!({"week": "lun 08:00-13:00", "closures": [{"from": "2026-02-30"}]}),
            "data «2026-02-30» non valida",
        ),
        (
            json!({"week": "lun 08:00-13:00", "closures": [{"from": "2026-12-24", "to": "2026-12-01"}]}),
            "la fine viene prima dell'inizio",
        ),
    ] {
        let (status, v) = call(&app, Method::PUT, PRACTICE, admin, Some(body.clone())).await;
        assert_eq!(status, 422, "{body}: {v}");
        assert_eq!(v["error"]["code"], "invalid_schedule", "{body}");
        let message = v["error"]["message"].as_str().unwrap();
        assert!(message.starts_with("Orari non validi: "), "{message}");
        assert!(message.contains(expected), "{body}: {message}");
        // The same hours as a user's own.
        let (status, v) = call(
            &app,
            Method::PUT,
            &schedule_path(U1),
            admin,
            Some(json!({"hours": body})),
        )
        .await;
        assert_eq!(status, 422, "{v}");
        assert!(
            v["error"]["message"].as_str().unwrap().contains(expected),
            "{v}"
        );
    }
    let (status, v) = call(
        &app,
        Method::PUT,
        &schedule_path(U1),
        admin,
        Some(json!({"auto": "sometimes"})),
    )
    .await;
    assert_eq!(status, 422, "{v}");
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("«sometimes» non valida"),
        "{v}"
    );
    // Not even JSON of the expected shape: the generic 400, never a 500.
    for body in [
        json!({"week": 5}),
        json!({"weekdays": "lun 08:00-13:00"}),
        json!([1]),
    ] {
        let (status, v) = call(&app, Method::PUT, PRACTICE, admin, Some(body.clone())).await;
        assert_eq!(status, 400, "{body}: {v}");
    }
    let (status, v) = call(
        &app,
        Method::PUT,
        &schedule_path(U1),
        admin,
        Some(json!({"auto": "on", "extra": 1})),
    )
    .await;
    assert_eq!(status, 400, "{v}");

    assert!(
        hours_audit(&app).is_empty(),
        "refused changes are not audited"
    );
    let (_, v) = call(&app, Method::GET, PRACTICE, admin, None).await;
    assert_eq!(v["source"], "built_in", "nothing was stored");
    let (_, v) = call(&app, Method::GET, &schedule_path(U1), admin, None).await;
    assert_eq!(v["auto"], "default");
    assert_eq!(v["hours"], Value::Null);
}

#[tokio::test]
async fn hours_of_the_configuration_file_are_read_only() {
    let file = serde_json::from_value::<HoursSpec>(json!({"week": "lun-gio 09:00-18:00"}))
        .unwrap()
        .build()
        .unwrap();
    let app = app_with(Some(file)).await;
    let (status, v) = call(&app, Method::GET, PRACTICE, &app.tokens.staff, None).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["source"], "file");
    assert_eq!(v["read_only"], true);
    assert_eq!(v["text"], "lun-gio 09:00-18:00");
    assert!(
        v["note"]
            .as_str()
            .unwrap()
            .contains("file di configurazione"),
        "{v}"
    );

    let (status, v) = call(
        &app,
        Method::PUT,
        PRACTICE,
        &app.tokens.admin,
        Some(json!({"week": "lun 08:00-13:00"})),
    )
    .await;
    assert_eq!(status, 409, "{v}");
    assert_eq!(v["error"]["code"], "hours_from_file");
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("[working_hours]"),
        "{v}"
    );
    assert!(hours_audit(&app).is_empty());

    // A doctor who follows the practice works by the file's hours; own hours still win.
    let (_, v) = call(
        &app,
        Method::GET,
        &schedule_path(U1),
        &app.tokens.doctor,
        None,
    )
    .await;
    assert_eq!(v["effective"]["source"], "file");
    assert_eq!(v["effective"]["text"], "lun-gio 09:00-18:00");
    let (status, v) = call(
        &app,
        Method::PUT,
        &schedule_path(U1),
        &app.tokens.admin,
        Some(json!({"hours": {"week": "ven 08:00-12:00"}})),
    )
    .await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["effective"]["source"], "user");
    assert_eq!(v["effective"]["text"], "ven 08:00-12:00");
}

#[tokio::test]
async fn a_user_schedule_is_read_by_its_workstations_and_set_by_the_admin() {
    let app = app_with(None).await;
    let t = &app.tokens;
    let (status, v) = call(&app, Method::GET, &schedule_path(U1), &t.doctor, None).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["user"], U1);
    assert_eq!(v["auto"], "default");
    assert_eq!(v["hours"], Value::Null);
    assert_eq!(v["effective"]["source"], "built_in");
    // `default` without a mailbox: off, and the reason says what to do.
    assert_eq!(v["auto_enabled"], false);
    assert!(
        v["auto_reason"].as_str().unwrap().contains("casella"),
        "{v}"
    );
    let (status, _) = call(&app, Method::GET, &schedule_path(U1), &t.staff, None).await;
    assert_eq!(status, 200, "staff sees states");

    // A workstation that does not act for the user is refused; the admin reads anyone.
    let (status, v) = call(&app, Method::GET, &schedule_path(U1), &t.other, None).await;
    assert_eq!(status, 403, "{v}");
    assert_eq!(v["error"]["code"], "not_allowed");
    let (status, v) = call(&app, Method::GET, &schedule_path(U2), &t.admin, None).await;
    assert_eq!(status, 200, "{v}");
    let (status, v) = call(&app, Method::GET, &schedule_path("NESSUNO"), &t.admin, None).await;
    assert_eq!(status, 404, "{v}");
    assert_eq!(v["error"]["code"], "unknown_user");

    // Only the admin changes it, even for the doctor's own workstation.
    let change = json!({"auto": "on", "hours": {"week": "lun-ven 07:00-12:00",
        "closures": [{"from": "2026-08-10", "to": "2026-08-21", "note": "ferie"}]}});
    for token in [&t.doctor, &t.staff, &t.other] {
        let (status, v) = call(
            &app,
            Method::PUT,
            &schedule_path(U1),
            token,
            Some(change.clone()),
        )
        .await;
        assert_eq!(status, 403, "{v}");
        assert_eq!(v["error"]["code"], "admin_only");
    }
    assert!(hours_audit(&app).is_empty());
    let (status, v) = call(
        &app,
        Method::PUT,
        &schedule_path(U1),
        &t.admin,
        Some(change),
    )
    .await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["auto"], "on");
    assert_eq!(v["auto_enabled"], true);
    assert_eq!(v["auto_reason"], Value::Null);
    assert_eq!(v["hours"]["mon"], json!(["07:00-12:00"]));
    assert_eq!(v["effective"]["source"], "user");
    assert_eq!(v["effective"]["summary"], "lun-ven 07:00-12:00; 1 chiusura");

    // Missing fields stay; `"hours": null` follows the practice again.
    let (status, v) = call(
        &app,
        Method::PUT,
        &schedule_path(U1),
        &t.admin,
        Some(json!({"hours": null})),
    )
    .await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["auto"], "on");
    assert_eq!(v["hours"], Value::Null);
    assert_eq!(v["effective"]["source"], "built_in");
    let (status, v) = call(
        &app,
        Method::PUT,
        &schedule_path(U1),
        &t.admin,
        Some(json!({"auto": "off"})),
    )
    .await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["auto_enabled"], false);
    assert!(v["auto_reason"].as_str().unwrap().contains("spente"), "{v}");

    let (status, v) = call(
        &app,
        Method::PUT,
        &schedule_path("NESSUNO"),
        &t.admin,
        Some(json!({"auto": "on"})),
    )
    .await;
    assert_eq!(status, 404, "{v}");

    let audit = hours_audit(&app);
    let outcomes: Vec<&str> = audit.iter().map(|e| e.outcome.as_str()).collect();
    assert_eq!(
        outcomes,
        [
            "automatiche: sempre; orari: lun-ven 07:00-12:00; 1 chiusura",
            "automatiche: sempre; orari: come lo studio",
            "automatiche: mai; orari: come lo studio",
        ]
    );
    assert!(audit.iter().all(
        |e| e.kind == AuditEntryKind::Admin(AdminAction::ScheduleSet)
            && e.user.as_ref().map(|u| u.as_str()) == Some(U1)
            && e.actor.to_string() == format!("ws:{}", app.ids.admin)
    ));
    // And the audit API shows them to the admin, filtered by kind.
    let (status, v) = call(
        &app,
        Method::GET,
        "/api/v1/audit?kind=schedule_set",
        &t.admin,
        None,
    )
    .await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v.as_array().unwrap().len(), 3, "{v}");
}

#[tokio::test]
async fn a_changed_schedule_shows_on_the_cards_at_once() {
    let app = app_with(None).await;
    // No pass of the autopilot has run: the card says nothing about automatic requests.
    assert_eq!(app.session(U1).await.auto, None);
    let (status, v) = call(
        &app,
        Method::PUT,
        &schedule_path(U1),
        &app.tokens.admin,
        Some(json!({"auto": "off"})),
    )
    .await;
    assert_eq!(status, 200, "{v}");
    let auto = app.session(U1).await.auto.expect("planned at once");
    assert!(!auto.enabled);
    assert!(auto.reason.unwrap().contains("spente"));
    // The answer carries the same next action as the card.
    assert_eq!(v["next"]["enabled"], false);

    let (status, _) = call(
        &app,
        Method::PUT,
        &schedule_path(U1),
        &app.tokens.admin,
        Some(json!({"auto": "on"})),
    )
    .await;
    assert_eq!(status, 200);
    assert!(app.session(U1).await.auto.unwrap().enabled);
    // Hours of the practice changed: every user is planned again.
    assert_eq!(app.session(U2).await.auto, None);
    let (status, _) = call(
        &app,
        Method::PUT,
        PRACTICE,
        &app.tokens.admin,
        Some(json!({"week": "lun-dom 00:00-24:00"})),
    )
    .await;
    assert_eq!(status, 200);
    let auto = app
        .session(U2)
        .await
        .auto
        .expect("U2 planned by the new practice hours");
    assert!(!auto.enabled, "U2 has no mailbox: {auto:?}");
}

#[tokio::test]
async fn without_the_autopilot_the_endpoints_say_so() {
    let app = spawn_app().await;
    for (method, path) in [
        (Method::GET, PRACTICE.to_owned()),
        (Method::GET, schedule_path(U1)),
    ] {
        let (status, v) = call(&app, method, &path, &app.tokens.admin, None).await;
        assert_eq!(status, 501, "{v}");
        assert_eq!(v["error"]["code"], "not_configured");
    }
}
