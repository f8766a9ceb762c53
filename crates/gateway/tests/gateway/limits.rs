//! Rate limits per workstation, and timeouts (against backends that never answer).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use tsgate_gateway::RateQuota;
use tsgate_session::testing::TestDomain;
use tsgate_session::{
    AuditEntry, MemoryStore, Policy, Ports, SessionKey, SessionManager, SessionRecord,
    SessionStore, StoreResult, async_trait,
};

use crate::helpers::*;

#[tokio::test]
async fn api_rate_limit_is_per_workstation() {
    let app = spawn_app_with(|c| {
        c.limits.api_rate = Some(RateQuota {
            per_second: 1,
            burst: 2,
        })
    })
    .await;
    let get = |t: &str| {
        app.http
            .get(app.url("/api/v1/users"))
            .bearer_auth(t.to_owned())
            .send()
    };
    assert_eq!(get(&app.tokens.doctor).await.unwrap().status(), 200);
    assert_eq!(get(&app.tokens.doctor).await.unwrap().status(), 200);
    let r = get(&app.tokens.doctor).await.unwrap();
    assert_eq!(r.status(), 429);
    assert!(r.headers().contains_key("retry-after"));
    let v = body_json(r).await;
    assert_eq!(v["error"]["code"], "rate_limited");
    assert!(v["error"]["message"].as_str().unwrap().contains("Attendi"));
    assert_eq!(
        get(&app.tokens.staff).await.unwrap().status(),
        200,
        "another workstation is not limited"
    );
}

#[tokio::test]
async fn proxy_rate_limit_answers_a_fault() {
    let app = spawn_app_with(|c| {
        c.limits.proxy_rate = Some(RateQuota {
            per_second: 1,
            burst: 1,
        })
    })
    .await;
    let url = app.proxy_url(
        &app.tokens.doctor,
        "/DemRicettaPrescrittoServicesWeb/services/demVisualizzaPrescritto",
    );
    let send = || {
        app.http
            .post(&url)
            .header("content-type", "text/xml; charset=utf-8")
            .header("x-tsgate-user", U1)
            .body("<x/>")
            .send()
    };
    assert_eq!(send().await.unwrap().status(), 200);
    let r = send().await.unwrap();
    assert_eq!(r.status(), 429);
    assert_eq!(r.headers()["x-tsgate-error"], "rate_limited");
}

/// Session records that stop answering when told to; everything else is the memory store.
struct HangingRecords {
    inner: Arc<MemoryStore>,
    hang: AtomicBool,
}

#[async_trait]
impl SessionStore for HangingRecords {
    async fn load(&self, key: &SessionKey) -> StoreResult<Option<SessionRecord>> {
        if self.hang.load(Ordering::SeqCst) {
            std::future::pending::<()>().await;
        }
        self.inner.load(key).await
    }

    async fn commit(
        &self,
        record: &SessionRecord,
        expected_version: u64,
        audit: &[AuditEntry],
    ) -> StoreResult<()> {
        self.inner.commit(record, expected_version, audit).await
    }

    async fn keys(&self) -> StoreResult<Vec<SessionKey>> {
        self.inner.keys().await
    }

    async fn due(&self, now: time::OffsetDateTime) -> StoreResult<Vec<SessionKey>> {
        self.inner.due(now).await
    }
}

#[tokio::test]
async fn api_timeout_is_a_json_504() {
    let base = test_domain();
    let records = Arc::new(HangingRecords {
        inner: base.store.clone(),
        hang: AtomicBool::new(false),
    });
    let manager = SessionManager::new(
        Ports {
            store: records.clone(),
            audit: base.store.clone(),
            directory: base.store.clone(),
            upstream: base.upstream.clone(),
            clock: Arc::new(base.clock.clone()),
        },
        Policy::default(),
        None,
    );
    let domain = TestDomain { manager, ..base };
    let app = spawn_app_on(domain, |c| c.limits.api_timeout_seconds = 1, true).await;
    records.hang.store(true, Ordering::SeqCst);
    let r = within(
        "API timeout",
        app.http
            .get(app.url(&format!("/api/v1/users/{U1}/session")))
            .bearer_auth(&app.tokens.doctor)
            .send(),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 504);
    assert_eq!(body_json(r).await["error"]["code"], "timeout");
}

#[tokio::test]
async fn upstream_timeout_is_a_504_fault_and_reported() {
    let app = spawn_app_with(|c| c.limits.proxy_upstream_timeout_seconds = 1).await;
    let url = app.proxy_url(
        &app.tokens.doctor,
        "/DemRicettaPrescrittoServicesWeb/services/demInvioPrescritto",
    );
    let r = within(
        "proxy timeout",
        app.http
            .post(&url)
            .header("content-type", "text/xml; charset=utf-8")
            .header("x-tsgate-user", U1)
            .header("x-test-mode", "hang")
            .body("<x/>")
            .send(),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 504);
    assert_eq!(r.headers()["x-tsgate-error"], "upstream_timeout");
    assert!(
        r.text()
            .await
            .unwrap()
            .contains("controlla con la visualizzazione")
    );
    app.upstream_unavailable_reported(U1).await;
}
