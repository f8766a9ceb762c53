//! Administration through the API lands in the store's audit table, next to the session
//! events, and reads back through `GET /api/v1/audit` (admin only) with every filter.

use serde_json::{Value, json};
use time::OffsetDateTime;
use tsgate_session::audit::AuditEntryKind;
use tsgate_session::testing::{FakeUpstream, TestDomain};
use tsgate_session::{
    Actor, Application, AuditDraft, AuditEntry, AuditKind, AuditLog as _, SessionKey,
    WorkstationId, WorkstationRepo as _, WorkstationRole,
};

use crate::helpers::*;

const NEW_USER: &str = "NUOVOX00X00X000A";
const NEW_PIN: &str = "8642097531";

/// A gateway over a domain with user U1 and three workstations, and nothing in the audit.
struct AuditApp {
    base: String,
    http: reqwest::Client,
    domain: TestDomain,
    admin: String,
    admin_id: String,
    doctor: String,
    staff: String,
    /// Dropping it stops the server: kept until the test ends.
    _shutdown: tokio::sync::oneshot::Sender<()>,
}

impl AuditApp {
    async fn start() -> Self {
        let domain = TestDomain::new(FakeUpstream::default());
        domain.add_user(U1);
        let store = &domain.store;
        let (admin_ws, admin) = store
            .create_workstation("segreteria admin", WorkstationRole::Admin, &[uid(U1)])
            .await
            .unwrap();
        let (_, doctor) = store
            .create_workstation("studio", WorkstationRole::Doctor, &[uid(U1)])
            .await
            .unwrap();
        let (_, staff) = store
            .create_workstation("reception", WorkstationRole::Staff, &[uid(U1)])
            .await
            .unwrap();
        let (upstream_base, _upstream) = spawn_upstream().await;
        let served = serve(&domain, test_config(&upstream_base), false).await;
        Self {
            base: served.base,
            http: reqwest::Client::builder().no_proxy().build().unwrap(),
            domain,
            admin: admin.expose_secret().to_owned(),
            admin_id: admin_ws.id.0,
            doctor: doctor.expose_secret().to_owned(),
            staff: staff.expose_secret().to_owned(),
            _shutdown: served.shutdown,
        }
    }

    async fn call(
        &self,
        token: &str,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> (u16, String) {
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(token);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let r = req.send().await.unwrap();
        (r.status().as_u16(), r.text().await.unwrap())
    }

    /// `GET /api/v1/audit?{query}` as the admin: (raw text, entries).
    async fn audit(&self, query: &str) -> (String, Vec<Value>) {
        let (status, text) = self
            .call(
                &self.admin,
                reqwest::Method::GET,
                &format!("/api/v1/audit?{query}"),
                None,
            )
            .await;
        assert_eq!(status, 200, "{text}");
        let v: Value = serde_json::from_str(&text).unwrap();
        (text, v.as_array().unwrap().clone())
    }
}

fn kinds(entries: &[Value]) -> Vec<&str> {
    entries
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect()
}

#[tokio::test]
async fn api_administration_is_stored_and_read_back_with_session_events() {
    let app = AuditApp::start().await;
    let me = format!("ws:{}", app.admin_id);

    // A session event written by the domain, a minute before the administration.
    let start = OffsetDateTime::now_utc();
    app.domain
        .store
        .append(&AuditEntry::session(
            start - time::Duration::minutes(1),
            &SessionKey::new(uid(U1), Application::Prescrittore),
            AuditDraft {
                kind: AuditKind::Requested,
                actor: Actor::Workstation(WorkstationId("studio".into())),
                outcome: "sent".into(),
                code_hint: None,
            },
        ))
        .await
        .unwrap();

    let (status, text) = app
        .call(
            &app.admin,
            reqwest::Method::POST,
            "/api/v1/workstations",
            Some(json!({"name": "reception 2", "role": "staff", "users": [U1]})),
        )
        .await;
    assert_eq!(status, 201, "{text}");
    let created: Value = serde_json::from_str(&text).unwrap();
    let new_id = created["workstation"]["id"].as_str().unwrap().to_owned();
    let new_token = created["token"].as_str().unwrap().to_owned();

    let (_, added) = app.audit("kind=workstation_added").await;
    assert_eq!(added.len(), 1, "{added:?}");
    let e = &added[0];
    assert_eq!(e["actor"], me.as_str());
    assert_eq!(e["kind"], "workstation_added");
    assert!(
        e["user"].is_null() && e["application"].is_null() && e["code_hint"].is_null(),
        "{e}"
    );
    assert!(e["outcome"].as_str().unwrap().contains(&new_id), "{e}");

    let (status, text) = app
        .call(
            &app.admin,
            reqwest::Method::POST,
            "/api/v1/users",
            Some(
                json!({"user_id": NEW_USER, "cf": NEW_USER, "region": "120", "asl": "201",
                        "password": PASSWORD, "pin": NEW_PIN}),
            ),
        )
        .await;
    assert_eq!(status, 201, "{text}");
    let (status, text) = app
        .call(
            &app.admin,
            reqwest::Method::DELETE,
            &format!("/api/v1/workstations/{new_id}"),
            None,
        )
        .await;
    assert_eq!(status, 204, "{text}");
    let (status, text) = app
        .call(
            &app.admin,
            reqwest::Method::DELETE,
            &format!("/api/v1/users/{NEW_USER}"),
            None,
        )
        .await;
    assert_eq!(status, 204, "{text}");

    // Everything, newest first: administration and the session event together.
    let (all_text, all) = app.audit("").await;
    assert_eq!(
        kinds(&all),
        [
            "user_removed",
            "workstation_revoked",
            "user_added",
            "workstation_added",
            "requested"
        ],
        "{all:?}"
    );
    // Filters work on administration lines too.
    let (_, by_user) = app.audit(&format!("user={NEW_USER}")).await;
    assert_eq!(kinds(&by_user), ["user_removed", "user_added"]);
    let (_, by_ws) = app.audit(&format!("workstation={}", app.admin_id)).await;
    assert_eq!(
        kinds(&by_ws),
        [
            "user_removed",
            "workstation_revoked",
            "user_added",
            "workstation_added"
        ]
    );
    let (_, revoked) = app.audit("kind=workstation_revoked").await;
    assert_eq!(kinds(&revoked), ["workstation_revoked"]);
    assert!(revoked[0]["outcome"].as_str().unwrap().contains(&new_id));
    let (_, session) = app.audit("kind=requested").await;
    assert_eq!(kinds(&session), ["requested"]);
    assert_eq!(session[0]["application"], "PRESCRITTORE");
    let (_, limited) = app.audit("limit=2").await;
    assert_eq!(kinds(&limited), ["user_removed", "workstation_revoked"]);
    let from = start - time::Duration::seconds(1);
    let from = from
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    let (_, recent) = app
        .audit(&format!("from={}", from.replace('+', "%2B")))
        .await;
    assert_eq!(
        recent.len(),
        4,
        "the older session event is left out: {recent:?}"
    );
    let (_, none) = app.audit("kind=activated").await;
    assert!(none.is_empty(), "an unknown kind matches nothing");

    // No secret in the audit: not the new user's password or PIN, no token.
    for (name, secret) in [
        ("password", PASSWORD),
        ("PIN", NEW_PIN),
        ("new token", new_token.as_str()),
        ("admin token", app.admin.as_str()),
    ] {
        assert!(
            !all_text.contains(secret),
            "{name} in the audit: {all_text}"
        );
    }

    // Only the admin reads the audit.
    for token in [&app.doctor, &app.staff] {
        let (status, _) = app
            .call(token, reqwest::Method::GET, "/api/v1/audit", None)
            .await;
        assert_eq!(status, 403);
    }
}

#[test]
fn openapi_and_admin_page_list_every_audit_kind() {
    let doc: Value = serde_json::from_str(tsgate_gateway::OPENAPI_JSON).unwrap();
    let params = doc["paths"]["/api/v1/audit"]["get"]["parameters"]
        .as_array()
        .unwrap();
    let kind = params.iter().find(|p| p["name"] == "kind").unwrap();
    let documented: Vec<&str> = kind["schema"]["enum"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k.as_str().unwrap())
        .collect();
    let all: Vec<&str> = AuditEntryKind::all().map(AuditEntryKind::as_str).collect();
    assert_eq!(documented, all);

    let page = include_str!("../../templates/admin.html");
    for k in all {
        assert!(
            page.contains(&format!("<option value=\"{k}\">")),
            "{k} missing from the audit filter of the admin page"
        );
    }
}
