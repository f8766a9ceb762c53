//! The gateway over the real domain and store: `SessionManager` + `SqliteStore` (with a fake
//! A2F service and the fake DEM upstream). Tests the adapters, not the rules.

use std::sync::{Arc, Mutex};

use serde_json::{Value, json};
use sistemats::SessionCode;
use tsgate_gateway::{AppState, Backends, GatewayConfig};
use tsgate_session::{
    CreateResult, Environment, Identity, Policy, Ports, RevokeOutcome, SessionManager, SystemClock,
    TokenCheck, Upstream, UpstreamError, UserId, UserProfile, async_trait,
};
use tsgate_store::{KeyRing, MasterKey, SqliteStore, UserRepo, WorkstationRepo, WorkstationRole};

use crate::helpers::*;

const ISSUED: &str = "0a6a0702-2cfc-4903-8cfc-609a7e23abcd";

/// Test-environment A2F: `create` returns a code; `checkToken` knows only that code.
#[derive(Default)]
struct FakeA2f {
    issued: Mutex<Option<String>>,
}

#[async_trait]
impl Upstream for FakeA2f {
    async fn create(&self, _identity: &Identity) -> Result<CreateResult, UpstreamError> {
        *self.issued.lock().unwrap() = Some(ISSUED.into());
        Ok(CreateResult::Issued(SessionCode::new(ISSUED)))
    }
    async fn check_token(
        &self,
        _identity: &Identity,
        code: &SessionCode,
    ) -> Result<TokenCheck, UpstreamError> {
        let now = time::OffsetDateTime::now_utc();
        if self.issued.lock().unwrap().as_deref() == Some(code.expose_secret()) {
            Ok(TokenCheck::Valid {
                valid_from: now,
                valid_until: now + time::Duration::hours(16),
            })
        } else {
            Ok(TokenCheck::NotFound)
        }
    }
    async fn revoke(
        &self,
        _identity: &Identity,
        _code: &SessionCode,
    ) -> Result<RevokeOutcome, UpstreamError> {
        Ok(RevokeOutcome::Revoked)
    }
}

#[tokio::test]
async fn request_proxy_copy_and_audit_through_the_real_layers() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(
        SqliteStore::open(dir.path().join("t.db"), KeyRing::new(MasterKey::generate()))
            .await
            .unwrap(),
    );
    let user = UserId::new(U1).unwrap();
    store
        .put_user(&UserProfile {
            user_id: user.clone(),
            fiscal_code: "PROVAX00X00X000Y".into(),
            region: "120".into(),
            asl: "201".into(),
            ssa: "000000".into(),
            specialization: Some("F".into()),
            display_name: Some("Dr.ssa Prova".into()),
            environment: Environment::Test,
            role: tsgate_session::Role::Titolare,
            password_changed_at: None,
        })
        .await
        .unwrap();
    store
        .set_credentials(
            &user,
            &sistemats::Password::new(PASSWORD),
            &sistemats::Pin::new("1234567890"),
            None,
        )
        .await
        .unwrap();
    let (_, doctor) = store
        .create_workstation(
            "studio",
            WorkstationRole::Doctor,
            std::slice::from_ref(&user),
        )
        .await
        .unwrap();
    let (_, admin) = store
        .create_workstation("admin", WorkstationRole::Admin, &[])
        .await
        .unwrap();
    let manager = Arc::new(SessionManager::new(
        Ports {
            store: store.clone(),
            audit: store.clone(),
            directory: store.clone(),
            upstream: Arc::new(FakeA2f::default()),
            clock: Arc::new(SystemClock),
        },
        Policy::default(),
        None,
    ));
    let (upstream_base, upstream) = spawn_upstream().await;
    let config = GatewayConfig {
        upstream_dem_base: upstream_base.clone(),
        upstream_a2f_base: upstream_base,
        ..GatewayConfig::default()
    };
    let state = AppState::new(
        config,
        Backends {
            workstations: store.clone(),
            sessions: manager.clone(),
            codes: manager.clone(),
            audit: store.clone(),
            admin: Some(store.clone()),
        },
    )
    .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(tsgate_gateway::serve(
        listener,
        state,
        std::future::pending(),
    ));
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
