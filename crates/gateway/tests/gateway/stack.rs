//! The whole path through the real domain: `SessionManager` over the in-memory store, with
//! a test-environment A2F service (`create` returns the code) and the fake DEM upstream.
//! Request, proxied use, copy and audit, then the admin endpoints.

use serde_json::{Value, json};
use sistemats::SessionCode;
use tsgate_session::testing::{FakeUpstream, TestDomain};
use tsgate_session::{Clock as _, CreateResult, WorkstationRepo as _, WorkstationRole};

use crate::helpers::*;

const ISSUED: &str = "0a6a0702-2cfc-4903-8cfc-609a7e23abcd";

#[tokio::test]
async fn request_proxy_copy_and_audit_through_the_real_layers() {
    // Test-environment A2F: `create` returns a code, and `checkToken` knows only that code.
    let domain = TestDomain::new(FakeUpstream::default());
    domain
        .upstream
        .on_create(Ok(CreateResult::Issued(SessionCode::new(ISSUED))));
    domain.upstream.valid(ISSUED, domain.clock.now());
    let user = domain.add_user(U1);
    let (_, doctor) = domain
        .store
        .create_workstation(
            "studio",
            WorkstationRole::Doctor,
            std::slice::from_ref(&user),
        )
        .await
        .unwrap();
    let (_, admin) = domain
        .store
        .create_workstation("admin", WorkstationRole::Admin, &[])
        .await
        .unwrap();
    let (upstream_base, upstream) = spawn_upstream().await;
    let config = tsgate_gateway::GatewayConfig {
        upstream_dem_base: upstream_base.clone(),
        upstream_a2f_base: upstream_base,
        ..tsgate_gateway::GatewayConfig::default()
    };
    // Served until the test ends (dropping `served` would stop it).
    let served = serve(&domain, config, false).await;
    let base = served.base.clone();
    let http = reqwest::Client::builder().no_proxy().build().unwrap();
    let doctor = doctor.expose_secret().to_owned();
    let admin = admin.expose_secret().to_owned();
    let session = format!("{base}/api/v1/users/{U1}/session");

    let v: Value = http
        .get(&session)
        .bearer_auth(&doctor)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["state"], "none", "{v}");

    // No code yet: the proxy answers with the fault, without calling Sistema TS.
    let invio =
        format!("{base}/ts/{doctor}/DemRicettaPrescrittoServicesWeb/services/demInvioPrescritto");
    let r = http
        .post(&invio)
        .header("content-type", "text/xml; charset=utf-8")
        .header("authorization", basic(U1, PASSWORD))
        .body("<x/>")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 500);
    assert!(
        r.text()
            .await
            .unwrap()
            .contains("Nessun ID-SESSIONE valido")
    );

    let r = http
        .post(format!("{session}/request"))
        .bearer_auth(&doctor)
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["outcome"], "sent");
    assert_eq!(v["session"]["state"], "active", "{v}");

    let r = http
        .post(&invio)
        .header("content-type", "text/xml; charset=utf-8")
        .header("authorization", basic(U1, PASSWORD))
        .body("<x/>")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    r.text().await.unwrap();
    assert_eq!(
        upstream.seen.lock().unwrap()[0].headers["authorization2f"],
        format!("Bearer {ISSUED}").as_str()
    );

    let v: Value = http
        .get(format!("{session}/code"))
        .bearer_auth(&doctor)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["code"], ISSUED);

    // The audit shows the request, the proxied use and the copy (the use is recorded after
    // the answer, so wait for it).
    let mut kinds = Vec::new();
    // Bounded wait for an asynchronous effect (not a speed check).
    for _ in 0..1500 {
        let audit: Value = http
            .get(format!("{base}/api/v1/audit?user={U1}"))
            .bearer_auth(&admin)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        kinds = audit
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["kind"].as_str().unwrap().to_owned())
            .collect();
        if kinds.iter().any(|k| k == "used") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    for k in ["requested", "used", "copied"] {
        assert!(kinds.iter().any(|x| x == k), "{k} missing in {kinds:?}");
    }
    let audit_text = http
        .get(format!("{base}/api/v1/audit"))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        !audit_text.contains(ISSUED),
        "the audit never holds the code"
    );

    // Admin endpoints on the real store.
    let r = http
        .post(format!("{base}/api/v1/workstations"))
        .bearer_auth(&admin)
        .json(&json!({"name": "reception", "role": "staff", "users": [U1]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let created: Value = r.json().await.unwrap();
    let staff = created["token"].as_str().unwrap().to_owned();
    let r = http
        .get(format!("{session}/code"))
        .bearer_auth(&staff)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let id = created["workstation"]["id"].as_str().unwrap();
    assert_eq!(
        http.delete(format!("{base}/api/v1/workstations/{id}"))
            .bearer_auth(&admin)
            .send()
            .await
            .unwrap()
            .status(),
        204
    );
    assert_eq!(
        http.get(&session)
            .bearer_auth(&staff)
            .send()
            .await
            .unwrap()
            .status(),
        401
    );
    assert_eq!(
        http.get(format!("{base}/readyz"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
}
