//! A password refused by Sistema TS stops every automatic call until it is changed.

use crate::support::{Gateway, GatewayOptions, Sim, cli, tempdir};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_password_blocks_until_changed() {
    let dir = tempdir();
    let sim = Sim::start(dir.path()).await;
    let options = GatewayOptions {
        wrong_password: true,
        min_create_interval_seconds: Some(0),
        ..Default::default()
    };
    let gw = Gateway::start(dir.path(), &sim, options).await;
    let doctor = sim.doctor();
    let user = doctor.user_id.as_str();

    let (status, v) = gw.request(user, false).await;
    assert_eq!(status, 423, "{v}");
    assert_eq!(v["error"]["code"], "password_refused", "{v}");
    let message = v["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains("password"), "{message}");
    let creates = sim.operations("create").await;
    assert_eq!(creates, 1);

    let s = gw.session(user).await;
    assert_eq!(s["last_error"]["code"], "password_refused", "{s}");
    assert_eq!(s["level"], "red", "{s}");

    // Clicking again, from any workstation, does not try the same password again.
    for _ in 0..5 {
        let (status, v) = gw.request(user, true).await;
        assert_eq!(status, 423, "{v}");
    }
    assert_eq!(
        sim.operations("create").await,
        creates,
        "no create with refused credentials"
    );

    // New credentials (here the right ones) lift the block.
    let out = cli(
        &gw.config,
        &["user", "set-credentials", user],
        &format!("{}\n{}\n", doctor.password, doctor.pin),
    );
    assert!(out.status.success(), "{out:?}");
    let (status, v) = gw.request(user, true).await;
    assert_eq!(status, 202, "{v}");
    assert_eq!(sim.operations("create").await, creates + 1);
    assert_eq!(sim.creates(user).await, 1, "{}", sim.stats().await);
}
