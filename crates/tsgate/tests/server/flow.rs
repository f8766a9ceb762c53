//! The doctor's day through the real server: request, insert, prescribe, revoke.

use crate::support::{Gateway, GatewayOptions, Sim, faultstring, nre_of, tempdir};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_insert_prescribe_revoke() {
    let dir = tempdir();
    let sim = Sim::start(dir.path()).await;
    let gw = Gateway::start(dir.path(), &sim, GatewayOptions::default()).await;
    let doctor = sim.doctor();
    let user = doctor.user_id.as_str();

    let s = gw.session(user).await;
    assert_eq!(
        (s["state"].as_str(), s["level"].as_str()),
        (Some("none"), Some("red")),
        "{s}"
    );

    // Without a code the proxy answers at once, in Italian, and nothing reaches Sistema TS.
    let (status, body) = gw.proxy_invio(&sim, &doctor).await;
    assert_eq!(status, 500, "{body}");
    let fault = faultstring(&body).expect("SOAP Fault");
    assert!(
        fault.contains("Nessun ID-SESSIONE valido") && fault.contains("richiedi il codice"),
        "{fault}"
    );
    assert_eq!(sim.operations("InvioPrescritto").await, 0);

    let code = gw.make_active(&sim, user).await;
    let s = gw.session(user).await;
    assert_eq!(s["state"], "active", "{s}");
    assert!(s["remaining_seconds"].as_i64().unwrap_or(0) > 3600, "{s}");
    assert!(
        !s.to_string().contains(&code),
        "the session view never carries the code"
    );

    // The proxied prescription carries the code: with enforcement "block" the simulator
    // refuses a call without a valid Authorization2F, so an NRE proves the code was added.
    for _ in 0..3 {
        let (status, receipt) = gw.proxy_invio(&sim, &doctor).await;
        assert_eq!(status, 200, "{receipt}");
        assert!(nre_of(&receipt).is_some(), "no NRE in {receipt}");
    }
    assert_eq!(sim.stats().await["warnings_9101"], 0);

    let (status, v) = gw.revoke(user).await;
    assert_eq!(status, 200, "{v}");
    let s = gw.session(user).await;
    assert_eq!(s["level"], "red", "{s}");
    assert_eq!(s["state"], "revoked", "{s}");

    let sent = sim.operations("InvioPrescritto").await;
    let (status, body) = gw.proxy_invio(&sim, &doctor).await;
    assert_eq!(status, 500, "{body}");
    let fault = faultstring(&body).expect("SOAP Fault after revoke");
    assert!(
        fault.contains("ID-SESSIONE") || fault.contains("codice"),
        "{fault}"
    );
    assert!(
        fault.contains("richied"),
        "the fault says what to do: {fault}"
    );
    assert_eq!(
        sim.operations("InvioPrescritto").await,
        sent,
        "refused locally"
    );

    // The audit tells who did what.
    let (status, audit) = gw
        .api(reqwest::Method::GET, &format!("/audit?user={user}"), None)
        .await;
    assert_eq!(status, 200, "{audit}");
    let kinds: Vec<&str> = audit
        .as_array()
        .or_else(|| audit["events"].as_array())
        .expect("audit list")
        .iter()
        .filter_map(|e| e["kind"].as_str())
        .collect();
    for kind in ["requested", "inserted", "used", "revoked"] {
        assert!(kinds.contains(&kind), "{kind} missing from {kinds:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forty_concurrent_requests_make_one_create() {
    let dir = tempdir();
    let sim = Sim::start(dir.path()).await;
    let gw = Gateway::start(dir.path(), &sim, GatewayOptions::default()).await;
    let user = sim.doctor().user_id;

    // Sistema TS takes a second to answer `create`, so that the 40 clicks really overlap
    // the call in flight.
    sim.fault("create", "slow", Some(1000)).await;
    let calls = (0..40).map(|_| gw.request(&user, false));
    let answers = futures::future::join_all(calls).await;
    for (status, v) in &answers {
        assert_eq!(*status, 202, "{v}");
    }
    assert_eq!(sim.creates(&user).await, 1, "{}", sim.stats().await);
    // Clicks after Sistema TS answered, while the mail is on its way, join that request too.
    let late = (0..10).map(|_| gw.request(&user, false));
    for (status, v) in futures::future::join_all(late).await {
        assert_eq!(status, 202, "{v}");
    }
    assert_eq!(sim.creates(&user).await, 1, "{}", sim.stats().await);
    let s = gw.session(&user).await;
    assert_eq!(s["state"], "awaiting_code", "{s}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_workstation_is_refused_at_once() {
    let dir = tempdir();
    let sim = Sim::start(dir.path()).await;
    let gw = Gateway::start(dir.path(), &sim, GatewayOptions::default()).await;
    let doctor = sim.doctor();
    gw.make_active(&sim, &doctor.user_id).await;

    let (status, v) = gw
        .api(
            reqwest::Method::POST,
            "/workstations",
            Some(serde_json::json!({"name": "PC visite", "role": "doctor", "users": [doctor.user_id]})),
        )
        .await;
    assert_eq!(status, 201, "{v}");
    let id = v["workstation"]["id"].as_str().unwrap().to_owned();
    let mut other = gw.clone_client();
    other.token = v["token"].as_str().unwrap().to_owned();
    // Used (and so remembered by the server), then revoked: refused at the next call.
    for _ in 0..3 {
        let (status, receipt) = other.proxy_invio(&sim, &doctor).await;
        assert_eq!(status, 200, "{receipt}");
    }
    let (status, v) = gw
        .api(
            reqwest::Method::DELETE,
            &format!("/workstations/{id}"),
            None,
        )
        .await;
    assert!(status == 204 || status == 200, "{status} {v}");
    let (status, body) = other.proxy_invio(&sim, &doctor).await;
    assert_eq!(status, 403, "{body}");
    assert!(
        faultstring(&body).is_some_and(|f| f.contains("postazione non registrata")),
        "{body}"
    );
    let (status, _) = other.api(reqwest::Method::GET, "/users", None).await;
    assert_eq!(status, 401);
}
