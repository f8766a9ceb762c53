//! Practices: two practices and every role against every route, a vendor's backend acting
//! for a whole practice without listing it, pages, and the bulk import.

use reqwest::Method;
use serde_json::{Value, json};
use tsgate_session::{
    PracticeId, PracticeRepo as _, WorkstationRepo as _, WorkstationRole, WorkstationSpec,
};

use crate::helpers::*;

struct Two {
    app: TestApp,
    /// Tokens by name.
    tokens: Vec<(&'static str, String)>,
    /// A workstation of practice A (for routes with `{id}`).
    ws_a: String,
}

impl Two {
    fn token(&self, name: &str) -> &str {
        &self.tokens.iter().find(|(n, _)| *n == name).unwrap().1
    }
}

/// U1 is a doctor of studio-a, U2 of studio-b; each practice has an admin, a doctor, a
/// staff and a backend workstation; one vendor and one all-practices backend.
async fn two_practices() -> Two {
    let app = spawn_app().await;
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
    let mut ws_a = String::new();
    for (name, role, practice, users) in [
        ("admin_a", WorkstationRole::Admin, Some(&a), vec![U1]),
        ("doctor_a", WorkstationRole::Doctor, Some(&a), vec![U1]),
        ("backend_a", WorkstationRole::Backend, Some(&a), vec![]),
        ("admin_b", WorkstationRole::Admin, Some(&b), vec![U2]),
        ("doctor_b", WorkstationRole::Doctor, Some(&b), vec![U2]),
        ("staff_b", WorkstationRole::Staff, Some(&b), vec![U2]),
        ("backend_b", WorkstationRole::Backend, Some(&b), vec![]),
        ("vendor", WorkstationRole::Vendor, None, vec![]),
        ("backend_all", WorkstationRole::Backend, None, vec![]),
    ] {
        let (ws, token) = store
            .register_workstation(&WorkstationSpec {
                name: name.into(),
                role,
                practice: practice.cloned(),
                users: users.into_iter().map(uid).collect(),
            })
            .await
            .unwrap();
        if name == "doctor_a" {
            ws_a = ws.id.0.clone();
        }
        tokens.push((name, token.expose_secret().to_owned()));
    }
    Two { app, tokens, ws_a }
}

async fn call(
    t: &Two,
    who: &str,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> (u16, String, Option<String>) {
    let mut req = t
        .app
        .http
        .request(method, t.app.url(path))
        .bearer_auth(t.token(who));
    if let Some(b) = body {
        req = req.json(&b);
    }
    let r = req.send().await.unwrap();
    let status = r.status().as_u16();
    let next = r
        .headers()
        .get("x-next-cursor")
        .map(|v| v.to_str().unwrap().to_owned());
    let text = if path.starts_with("/api/v1/events") {
        String::new()
    } else {
        r.text().await.unwrap()
    };
    (status, text, next)
}

/// Every route, as practice B's workstations call it about practice A's doctor, workstation
/// and practice: nothing of A is ever answered.
#[tokio::test]
async fn no_answer_ever_crosses_practices() {
    let t = two_practices().await;
    let mut checked = 0;
    for (method, template) in tsgate_gateway::routes() {
        if template.starts_with("/ts/") {
            continue; // the proxy: see `the_proxy_refuses_another_practices_doctor`
        }
        let path = template.replace("{user}", U1).replace(
            "{id}",
            if template.starts_with("/api/v1/practices") {
                "studio-a"
            } else {
                &t.ws_a
            },
        );
        let body = match method {
            Method::POST | Method::PUT => Some(json!({})),
            _ => None,
        };
        for who in ["admin_b", "doctor_b", "staff_b", "backend_b"] {
            let (status, text, _) = call(&t, who, method.clone(), &path, body.clone()).await;
            let own_scope = matches!(
                template,
                "/api/v1/users"
                    | "/api/v1/workstations"
                    | "/api/v1/practices"
                    | "/api/v1/audit"
                    | "/api/v1/events"
                    | "/api/v1/openapi.json"
                    | "/healthz"
                    | "/readyz"
                    | "/metrics"
                    | "/api/v1/practice/hours"
                    | "/api/v1/import"
                    | "/api/v1/support-bundle"
            );
            if !own_scope {
                assert!(
                    !(200..300).contains(&status),
                    "{method} {path} as {who}: {status} {text}"
                );
            }
            if template != "/api/v1/openapi.json" && template != "/metrics" {
                for secret in [U1, "studio-a", "Studio A"] {
                    assert!(
                        !(200..300).contains(&status) || !text.contains(secret),
                        "{method} {path} as {who} answered {secret}: {text}"
                    );
                }
            }
            checked += 1;
        }
    }
    assert!(checked > 60, "{checked} calls");
}

#[tokio::test]
async fn the_proxy_refuses_another_practices_doctor() {
    let t = two_practices().await;
    let r = t
        .app
        .http
        .post(t.app.proxy_url(
            t.token("backend_b"),
            "/DemRicettaPrescrittoServicesWeb/services/demInvioPrescritto",
        ))
        .header("Authorization", basic(U1, PASSWORD))
        .header("Content-Type", "text/xml; charset=utf-8")
        .header(
            "SOAPAction",
            "\"http://invioprescritto.wsdl.dem.sanita.finanze.it/InvioPrescritto\"",
        )
        .body("<x/>")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 403, "{}", r.text().await.unwrap());
}

#[tokio::test]
async fn a_backend_acts_for_its_practice_without_listing_it() {
    let t = two_practices().await;
    assert_eq!(
        call(
            &t,
            "backend_a",
            Method::GET,
            &format!("/api/v1/users/{U1}/session"),
            None
        )
        .await
        .0,
        200
    );
    assert_eq!(
        call(
            &t,
            "backend_a",
            Method::GET,
            &format!("/api/v1/users/{U2}/session"),
            None
        )
        .await
        .0,
        403
    );
    // It sees codes, as the doctor's workstation does.
    assert_eq!(
        call(
            &t,
            "backend_a",
            Method::GET,
            &format!("/api/v1/users/{U1}/session/code"),
            None
        )
        .await
        .0,
        200
    );
    // The all-practices backend reaches both; the vendor reaches nobody and sees no code.
    for user in [U1, U2] {
        assert_eq!(
            call(
                &t,
                "backend_all",
                Method::GET,
                &format!("/api/v1/users/{user}/session"),
                None
            )
            .await
            .0,
            200
        );
        assert_eq!(
            call(
                &t,
                "vendor",
                Method::GET,
                &format!("/api/v1/users/{user}/session"),
                None
            )
            .await
            .0,
            403
        );
        assert_eq!(
            call(
                &t,
                "vendor",
                Method::GET,
                &format!("/api/v1/users/{user}/session/code"),
                None
            )
            .await
            .0,
            403
        );
    }
    // Its list is its practice's members, a page at a time.
    let store = &t.app.domain.store;
    let a = PracticeId::new("studio-a").unwrap();
    store.add_member(&a, &uid(U2)).await.unwrap();
    let (status, text, next) =
        call(&t, "backend_a", Method::GET, "/api/v1/users?limit=1", None).await;
    assert_eq!(status, 200);
    let first: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(first.as_array().unwrap().len(), 1);
    let next = next.expect("a second page");
    let (_, text, last) = call(
        &t,
        "backend_a",
        Method::GET,
        &format!("/api/v1/users?limit=1&after={next}"),
        None,
    )
    .await;
    let second: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(second.as_array().unwrap().len(), 1);
    assert_ne!(first[0]["user"], second[0]["user"]);
    assert_eq!(last, None);
    // The event stream is filtered to the doctors it asks for, each checked.
    assert_eq!(
        call(
            &t,
            "backend_b",
            Method::GET,
            &format!("/api/v1/events?users={U1}"),
            None
        )
        .await
        .0,
        403
    );
    assert_eq!(
        call(
            &t,
            "backend_a",
            Method::GET,
            &format!("/api/v1/events?users={U1},{U2}"),
            None
        )
        .await
        .0,
        200
    );
}

#[tokio::test]
async fn the_vendor_provisions_and_admins_import_into_their_practice() {
    let t = two_practices().await;
    // The vendor creates a practice and sees its counts.
    let (status, text, _) = call(
        &t,
        "vendor",
        Method::POST,
        "/api/v1/practices",
        Some(json!({"id": "studio-c", "name": "Studio C"})),
    )
    .await;
    assert_eq!(status, 201, "{text}");
    let (status, text, _) = call(
        &t,
        "vendor",
        Method::GET,
        "/api/v1/practices/studio-a",
        None,
    )
    .await;
    assert_eq!(status, 200);
    let a: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(a["counts"]["users"], 1);
    // An admin may not create practices, nor see another one.
    assert_eq!(
        call(
            &t,
            "admin_a",
            Method::POST,
            "/api/v1/practices",
            Some(json!({"id": "x", "name": "X"}))
        )
        .await
        .0,
        403
    );
    assert_eq!(
        call(
            &t,
            "admin_a",
            Method::GET,
            "/api/v1/practices/studio-b",
            None
        )
        .await
        .0,
        404
    );

    // The admin of A imports: its line is written, practice B's is refused with its line.
    let csv = "practice;user_id;cf;region;asl;display_name;password;pin\n\
               studio-a;NUOVO01;RSSMRA80A01H501U;130;201;Dott. Nuovo;pw-nuovo;1234\n\
               studio-b;NUOVO02;RSSMRA80A01H501U;130;201;Dott. Altro;pw-altro;1234\n";
    let post = |who: &str| {
        t.app
            .http
            .post(t.app.url("/api/v1/import"))
            .bearer_auth(t.token(who))
            .header("Content-Type", "text/csv")
            .body(csv)
    };
    let r = post("admin_a").send().await.unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(r.headers()["cache-control"], "no-store");
    let report: Value = r.json().await.unwrap();
    assert_eq!(report["users"]["users_created"], 1, "{report}");
    assert_eq!(report["refused"][0]["line"], 3, "{report}");
    assert!(
        !report.to_string().contains("pw-"),
        "no secret in the report"
    );
    // Twice is once.
    let again: Value = post("admin_a").send().await.unwrap().json().await.unwrap();
    assert_eq!(again["users"]["users_unchanged"], 1, "{again}");
    // A file that cannot be read is refused whole, in Italian.
    let r = t
        .app
        .http
        .post(t.app.url("/api/v1/import"))
        .bearer_auth(t.token("admin_a"))
        .header("Content-Type", "text/csv")
        .body("utente;colonna_strana\nx;y\n")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 400);
    // The new doctor is A's: A's backend acts for it, B's does not.
    assert_eq!(
        call(
            &t,
            "backend_a",
            Method::GET,
            "/api/v1/users/NUOVO01/session",
            None
        )
        .await
        .0,
        200
    );
    assert_eq!(
        call(
            &t,
            "backend_b",
            Method::GET,
            "/api/v1/users/NUOVO01/session",
            None
        )
        .await
        .0,
        403
    );
}
