//! Planted secrets never leave the places they belong: not in the database files, not in
//! the server's output (at trace level), not in API answers or error answers.

use base64::Engine as _;

use crate::support::{Gateway, GatewayOptions, PATIENT_CF, Sim, basic, tempdir};

/// Fails naming `place` when one of `secrets` (named) is in `haystack`, in any letter case.
pub fn assert_clean(place: &str, haystack: &[u8], secrets: &[(&str, String)]) {
    for (name, secret) in secrets {
        let found = haystack
            .windows(secret.len())
            .any(|w| w.eq_ignore_ascii_case(secret.as_bytes()));
        assert!(!found, "{name} found in {place}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_never_written_logged_or_answered() {
    let dir = tempdir();
    let sim = Sim::start(dir.path()).await;
    let options = GatewayOptions {
        rust_log: Some("trace".into()),
        min_create_interval_seconds: Some(0),
        ..Default::default()
    };
    let gw = Gateway::start(dir.path(), &sim, options).await;
    let doctor = sim.doctor();
    let user = doctor.user_id.as_str();

    let code = gw.make_active(&sim, user).await;
    let mut answers = Vec::new();
    for _ in 0..2 {
        let (status, receipt) = gw.proxy_invio(&sim, &doctor).await;
        assert_eq!(status, 200, "{receipt}");
    }
    // Error paths: a pasted code with noise, a wrong code, a fault on the way up.
    let (_, v) = gw.insert(user, &format!("  \"Bearer {code}\" ")).await;
    answers.push(v.to_string());
    let (_, v) = gw
        .insert(user, "00000000-0000-4000-8000-000000000000")
        .await;
    answers.push(v.to_string());
    sim.fault("InvioPrescritto", "reset", None).await;
    let (_, body) = gw.proxy_invio(&sim, &doctor).await;
    answers.push(body);
    for path in [
        "/users",
        &format!("/users/{user}/session"),
        "/audit?limit=1000",
    ] {
        let (status, v) = gw.api(reqwest::Method::GET, path, None).await;
        assert_eq!(status, 200, "{path}: {v}");
        answers.push(v.to_string());
    }
    // Give the asynchronous audit writes time to land before reading the files.
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;

    let basic_value = basic(&doctor);
    let basic_encoded = basic_value.trim_start_matches("Basic ").to_owned();
    let secrets = [
        ("password", doctor.password.clone()),
        ("PIN", doctor.pin.clone()),
        ("ID-SESSIONE", code.clone()),
        ("Basic header", basic_encoded),
        ("patient CF", PATIENT_CF.to_owned()),
        ("workstation token", gw.token.clone()),
        // The password as the Basic header carries it, base64 of "user:password".
        (
            "Basic credentials",
            base64::engine::general_purpose::STANDARD.encode(format!(":{}", doctor.password)),
        ),
    ];

    for answer in &answers {
        assert_clean("an API answer", answer.as_bytes(), &secrets[..]);
    }
    let logs = gw.logs();
    assert!(
        logs.contains("TRACE") || logs.contains("trace"),
        "the server logged at trace level"
    );
    assert_clean("the server's output", logs.as_bytes(), &secrets);

    let mut files = 0;
    for entry in std::fs::read_dir(gw.data_dir()).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if name.starts_with("tsgate.db") {
            files += 1;
            let bytes = std::fs::read(&path).unwrap();
            assert_clean(&name, &bytes, &secrets);
        }
    }
    assert!(files >= 2, "database and WAL expected");
}
