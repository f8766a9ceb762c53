//! The `[limits]` table of the configuration file reaches the running server: a tiny proxy
//! rate is enforced with the rate-limit SOAP Fault, a rate of 0 lifts the API limit, and an
//! impossible value stops the program with a message that names the key.

use std::time::Duration;

use crate::support::{Gateway, GatewayOptions, Sim, cli, faultstring, nre_of, tempdir};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn limits_from_the_configuration_file_are_enforced() {
    let dir = tempdir();
    let sim = Sim::start(dir.path()).await;
    let mut gw = Gateway::start(dir.path(), &sim, GatewayOptions::default()).await;
    // The same data folder again, with one proxied call per second per workstation and no
    // limit on the API.
    gw.kill9();
    let mut toml = std::fs::read_to_string(&gw.config).unwrap();
    toml.push_str(
        "\n[limits]\nproxy_rate_per_second = 1\nproxy_rate_burst = 1\napi_rate_per_second = 0\n",
    );
    std::fs::write(&gw.config, toml).unwrap();
    gw.spawn().await;

    let doctor = sim.doctor();
    let user = doctor.user_id.as_str();
    gw.make_active(&sim, user).await;

    let (status, receipt) = gw.proxy_invio(&sim, &doctor).await;
    assert_eq!(status, 200, "{receipt}");
    assert!(nre_of(&receipt).is_some(), "no NRE in {receipt}");
    let sent = sim.operations("InvioPrescritto").await;

    // The second call within the second is refused by tsgate, before Sistema TS.
    let (status, body) = gw.proxy_invio(&sim, &doctor).await;
    assert_eq!(status, 429, "{body}");
    let fault = faultstring(&body).expect("SOAP Fault");
    assert!(fault.contains("troppe richieste"), "{fault}");
    assert_eq!(sim.operations("InvioPrescritto").await, sent);

    // A second later the workstation may send again.
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let (status, receipt) = gw.proxy_invio(&sim, &doctor).await;
    assert_eq!(status, 200, "{receipt}");

    // api_rate_per_second = 0: more API calls at once than the default burst (50), all served.
    let path = format!("/users/{user}/session");
    let calls = (0..120).map(|_| gw.api(reqwest::Method::GET, &path, None));
    let statuses: Vec<u16> = futures::future::join_all(calls)
        .await
        .into_iter()
        .map(|(status, _)| status)
        .collect();
    assert!(statuses.iter().all(|s| *s == 200), "{statuses:?}");
}

#[test]
fn an_impossible_limit_is_refused_naming_the_key() {
    let dir = tempdir();
    let config = dir.path().join("tsgate.toml");
    std::fs::write(
        &config,
        format!(
            "data_dir = \"{}\"\nsanitel_certificate = \"/nowhere/SanitelCF.cer\"\n\
             [limits]\napi_body_bytes = 0\n",
            dir.path().join("data").display()
        ),
    )
    .unwrap();
    let out = cli(&config, &["check"], "");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("limits.api_body_bytes must be between 1024 and 67108864 bytes"),
        "{stderr}"
    );
}
