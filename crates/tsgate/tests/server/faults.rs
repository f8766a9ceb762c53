//! Faults injected by the simulator: clear Italian errors, no crash, recovery on the next call.

use serde_json::Value;

use crate::support::{Gateway, GatewayOptions, Sim, faultstring, nre_of, tempdir};

fn italian(v: &Value) -> String {
    let m = v["error"]["message"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(
        m.contains("Sistema TS") || m.contains("riprova") || m.contains("Riprova"),
        "not a clear message: {v}"
    );
    m
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upstream_faults_are_explained_and_recovered() {
    let dir = tempdir();
    let sim = Sim::start(dir.path()).await;
    let options = GatewayOptions {
        min_create_interval_seconds: Some(0),
        upstream_timeout_seconds: Some(1),
        ..Default::default()
    };
    let mut gw = Gateway::start(dir.path(), &sim, options).await;
    let doctor = sim.doctor();
    let user = doctor.user_id.clone();

    // create
    for (kind, delay) in [
        ("slow", Some(2500)),
        ("http500", None),
        ("reset", None),
        ("malformed", None),
        ("soap_fault", None),
    ] {
        sim.fault("create", kind, delay).await;
        let (status, v) = gw.request(&user, true).await;
        assert!(status >= 500, "create {kind}: {status} {v}");
        italian(&v);
        let s = gw.session(&user).await;
        assert_eq!(s["level"], "red", "{kind}: {s}");
        assert!(s["last_error"]["message"].is_string(), "{kind}: {s}");
        if kind == "soap_fault" {
            // It answered: the doctor is told what, not that it is silent.
            let message = v["error"]["message"].as_str().unwrap_or_default();
            assert!(!message.contains("non risponde"), "{message}");
            assert!(message.contains("Errore interno del servizio"), "{message}");
        }
        let (status, v) = gw.request(&user, true).await;
        assert_eq!(status, 202, "recovery after create {kind}: {v}");
    }
    assert!(gw.proc_.as_mut().unwrap().running());

    // checkToken (the verification of an inserted code)
    let code = sim.wait_code(&user, None).await;
    for (kind, delay) in [
        ("slow", Some(2500)),
        ("http500", None),
        ("reset", None),
        ("malformed", None),
    ] {
        sim.fault("checkToken", kind, delay).await;
        let (status, v) = gw.insert(&user, &code).await;
        assert!(status >= 500, "checkToken {kind}: {status} {v}");
        italian(&v);
        assert_ne!(
            gw.session(&user).await["level"],
            "green",
            "an unverified code is not used"
        );
    }
    let (status, v) = gw.insert(&user, &code).await;
    assert_eq!(status, 200, "recovery after checkToken faults: {v}");
    assert_eq!(gw.session(&user).await["level"], "green");

    // InvioPrescritto through the proxy
    let (status, receipt) = gw.proxy_invio(&sim, &doctor).await;
    assert_eq!(status, 200, "{receipt}");
    for (kind, delay) in [
        ("http500", None),
        ("reset", None),
        ("malformed", None),
        ("slow", Some(300)),
    ] {
        sim.fault("InvioPrescritto", kind, delay).await;
        let (status, body) = gw.proxy_invio(&sim, &doctor).await;
        match kind {
            "slow" => assert!(nre_of(&body).is_some(), "slow but answered: {body}"),
            // An HTML error page or a cut-off receipt never reaches the practice software
            // raw: an Italian fault says the prescription may already be registered.
            _ => {
                assert_eq!(status, 502, "{kind}: {body}");
                let f = faultstring(&body).expect("SOAP Fault");
                assert!(f.contains("Sistema TS"), "{f}");
                if kind != "reset" {
                    assert!(f.contains("potrebbe essere stata registrata"), "{f}");
                }
            }
        }
        if kind != "slow" {
            // Every workstation is told, with the time of the last success.
            let mut told = false;
            for _ in 0..40 {
                let s = gw.session(&user).await;
                if s["last_error"]["code"] == "upstream_unavailable" {
                    told = true;
                    break;
                }
                tokio::time::sleep(std::time::Duration::from_millis(25)).await;
            }
            assert!(told, "{kind}: {}", gw.session(&user).await);
        }
        let (status, receipt) = gw.proxy_invio(&sim, &doctor).await;
        assert_eq!(
            status, 200,
            "recovery after InvioPrescritto {kind}: {receipt}"
        );
        assert!(nre_of(&receipt).is_some(), "{receipt}");
    }
    // The success cleared the outage for every workstation.
    let mut cleared = false;
    for _ in 0..40 {
        if gw.session(&user).await["last_error"].is_null() {
            cleared = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    assert!(cleared, "{}", gw.session(&user).await);
    assert!(gw.proc_.as_mut().unwrap().running());
    assert!(!gw.logs().contains("panicked"));
}
