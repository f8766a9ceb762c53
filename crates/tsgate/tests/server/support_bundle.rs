//! The support bundle of a real installation, from the command line and from the admin
//! API: every section with real content, and none of the secrets planted on the way.

use std::io::Read as _;

use base64::Engine as _;
use serde_json::{Value, json};

use crate::support::{
    Gateway, GatewayOptions, PATIENT_CF, Sim, basic, cli, free_port, http, tempdir,
};

const MAILBOX_PASSWORD: &str = "Pec-Planted-Pw.7731";

/// The two files of a bundle.
struct Unzipped {
    summary: String,
    raw_json: String,
    json: Value,
}

fn unzip(bytes: &[u8]) -> Unzipped {
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(bytes)).expect("a zip");
    let mut read = |name: &str| {
        let mut text = String::new();
        archive
            .by_name(name)
            .unwrap_or_else(|e| panic!("{name}: {e}"))
            .read_to_string(&mut text)
            .unwrap();
        text
    };
    let summary = read("LEGGIMI.txt");
    let raw_json = read("tsgate-support.json");
    assert_eq!(archive.len(), 2, "only the summary and the JSON");
    Unzipped {
        summary,
        json: serde_json::from_str(&raw_json).unwrap(),
        raw_json,
    }
}

/// `secret` as it could hide in a text: itself in any case, in hex, and in base64 (standard
/// and URL-safe) at each of the three alignments it can have inside a longer encoded text
/// (only the groups made of the secret's bytes alone).
fn disguises(secret: &str) -> Vec<String> {
    use base64::engine::general_purpose::STANDARD;
    let mut out = vec![
        secret.to_owned(),
        secret.bytes().map(|b| format!("{b:02x}")).collect(),
    ];
    for prefix in ["", "x", "xx"] {
        let encoded = STANDARD.encode(format!("{prefix}{secret}"));
        let start = if prefix.is_empty() { 0 } else { 4 };
        let end = encoded.len().saturating_sub(4);
        if end > start + 8 {
            let core = &encoded[start..end];
            out.push(core.to_owned());
            out.push(core.replace('+', "-").replace('/', "_"));
        }
    }
    out
}

/// The doctor `user` of a bundle.
fn doctor_of<'a>(json: &'a Value, user: &str) -> &'a Value {
    json["doctors"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["user"] == user)
        .unwrap_or_else(|| panic!("{user} not in {json}"))
}

/// The first disguise of `secret` found in `text` (case-insensitive).
fn leak(text: &str, secret: &str) -> Option<String> {
    let haystack = text.to_lowercase();
    disguises(secret)
        .into_iter()
        .find(|d| haystack.contains(&d.to_lowercase()))
}

fn assert_clean(place: &str, text: &str, secrets: &[(&str, String)]) {
    for (name, secret) in secrets {
        if let Some(disguise) = leak(text, secret) {
            panic!("{name} (as {disguise:?}) found in {place}");
        }
    }
}

#[test]
fn the_search_finds_a_secret_in_every_disguise() {
    use base64::engine::general_purpose::{STANDARD, URL_SAFE};
    let secret = "c0dec0de-1234-4abc-8def-0123456789ab";
    let hex: String = secret.bytes().map(|b| format!("{b:02X}")).collect();
    for text in [
        format!("{{\"x\": \"{}\"}}", secret.to_uppercase()),
        STANDARD.encode(format!("Bearer {secret}")),
        STANDARD.encode(format!("ab{secret}")),
        URL_SAFE.encode(format!("a{secret}")),
        format!("0x{hex}"),
    ] {
        assert!(leak(&text, secret).is_some(), "not found in {text}");
    }
    assert_eq!(leak("nothing here", secret), None);
}

/// `tsgate support-bundle` on the gateway's configuration, writing into `dir`; returns the
/// process output and the file.
fn cli_bundle(
    gw: &Gateway,
    out: &std::path::Path,
    extra: &[&str],
) -> (std::process::Output, Vec<u8>) {
    let mut args = vec!["support-bundle", "--out"];
    let out_text = out.to_str().unwrap().to_owned();
    args.push(&out_text);
    args.extend_from_slice(extra);
    let output = cli(&gw.config, &args, "");
    let bytes = std::fs::read(out).unwrap_or_default();
    (output, bytes)
}

async fn api_bundle(gw: &Gateway, token: &str) -> (u16, Vec<u8>) {
    let r = http()
        .get(format!("{}/api/v1/support-bundle", gw.base))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.bytes().await.unwrap().to_vec())
}

/// A certified mailbox on a closed local port: its login fails with a diagnostic.
async fn closed_mailbox(gw: &Gateway, user: &str) {
    let (status, v) = gw
        .api(
            reqwest::Method::PUT,
            &format!("/users/{user}/mailbox"),
            Some(json!({
                "host": "127.0.0.1",
                "port": free_port(),
                "security": "plain",
                "username": "rossi.pec",
                "password": MAILBOX_PASSWORD,
            })),
        )
        .await;
    assert_eq!(status, 200, "{v}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_planted_secret_reaches_a_bundle_from_the_cli_or_the_api() {
    let dir = tempdir();
    let sim = Sim::start(dir.path()).await;
    let options = GatewayOptions {
        min_create_interval_seconds: Some(0),
        ..Default::default()
    };
    let gw = Gateway::start(dir.path(), &sim, options).await;
    let doctor = sim.doctor();
    let user = doctor.user_id.as_str();

    // Codes (the current one and a replaced one), a prescription with the patient's fiscal
    // code through the proxy (Basic header = password), codes pasted with noise and wrong.
    let first = gw.make_active(&sim, user).await;
    let code = gw.make_active(&sim, user).await;
    let (status, receipt) = gw.proxy_invio(&sim, &doctor).await;
    assert_eq!(status, 200, "{receipt}");
    let (_, _) = gw.insert(user, &format!("  \"Bearer {code}\" ")).await;
    let (_, _) = gw
        .insert(user, "00000000-0000-4000-8000-000000000000")
        .await;
    // The patient's fiscal code in clear in a body the proxy forwards (software that got
    // the encryption wrong): refused upstream, never kept.
    let clear = crate::support::invio_body(&sim, &doctor).replacen(
        "codiceAss>",
        &format!("codiceAss>{PATIENT_CF}"),
        1,
    );
    assert!(clear.contains(PATIENT_CF));
    let _ = http()
        .post(format!(
            "{}/ts/{}{}",
            gw.base,
            gw.token,
            crate::support::INVIO_PATH
        ))
        .header("Authorization", basic(&doctor))
        .header("Content-Type", "text/xml; charset=UTF-8")
        .header("SOAPAction", crate::support::INVIO_ACTION)
        .body(clear)
        .send()
        .await
        .unwrap();
    // A doctor's workstation (its token), a mailbox with a password.
    let out = cli(
        &gw.config,
        &[
            "workstation",
            "add",
            "--name",
            "Studio medico",
            "--role",
            "doctor",
            "--users",
            user,
        ],
        "",
    );
    assert!(out.status.success(), "{out:?}");
    let doctor_token = String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|l| {
            l.split_once("token (shown only now")
                .map(|(_, t)| t.to_owned())
        })
        .and_then(|t| t.rsplit(' ').next().map(str::to_owned))
        .expect("token printed");
    closed_mailbox(&gw, user).await;

    let secrets = [
        ("password", doctor.password.clone()),
        ("PIN", doctor.pin.clone()),
        ("ID-SESSIONE", code.clone()),
        ("replaced ID-SESSIONE", first.clone()),
        (
            "Basic header",
            basic(&doctor).trim_start_matches("Basic ").to_owned(),
        ),
        ("patient CF", PATIENT_CF.to_owned()),
        ("admin workstation token", gw.token.clone()),
        ("doctor workstation token", doctor_token.clone()),
        ("mailbox password", MAILBOX_PASSWORD.to_owned()),
    ];
    // The audit's asynchronous writes (uses of a code) land first.
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;

    let (status, bytes) = api_bundle(&gw, &gw.token).await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&bytes));
    let api = unzip(&bytes);
    // It is really about this doctor: the planted values had a place to leak to.
    let d = doctor_of(&api.json, user);
    assert!(d["history"].as_array().unwrap().len() >= 5, "{d}");
    assert_clean("the API's LEGGIMI.txt", &api.summary, &secrets);
    assert_clean("the API's JSON", &api.raw_json, &secrets);

    let file = dir.path().join("bundle.zip");
    let (output, bytes) = cli_bundle(&gw, &file, &[]);
    assert!(output.status.success(), "{output:?}");
    let printed = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(printed.contains("Support bundle written to"), "{printed}");
    let from_cli = unzip(&bytes);
    // The command line logged in to the mailbox: its failure is in the bundle.
    assert_eq!(
        doctor_of(&from_cli.json, user)["mailbox"]["last_error"]["code"],
        "connection",
        "{}",
        from_cli.raw_json
    );
    assert_clean("the CLI's LEGGIMI.txt", &from_cli.summary, &secrets);
    assert_clean("the CLI's JSON", &from_cli.raw_json, &secrets);
    assert_clean("the CLI's output", &printed, &secrets);
    assert_clean("the server's output", &gw.logs(), &secrets[..7]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bundle_holds_checks_history_mailbox_and_audit() {
    let dir = tempdir();
    let sim = Sim::start(dir.path()).await;
    let gw = Gateway::start(dir.path(), &sim, GatewayOptions::default()).await;
    let doctor = sim.doctor();
    let user = doctor.user_id.as_str();
    let code = gw.make_active(&sim, user).await;
    // A refused request: a code is active and no replacement was asked for.
    let (status, _) = gw.request(user, false).await;
    assert_eq!(status, 409);
    let (status, receipt) = gw.proxy_invio(&sim, &doctor).await;
    assert_eq!(status, 200, "{receipt}");
    closed_mailbox(&gw, user).await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;

    let file = dir.path().join("b.zip");
    let (output, bytes) = cli_bundle(&gw, &file, &[]);
    assert!(output.status.success(), "{output:?}");
    let stdout = String::from_utf8_lossy(&output.stdout);
    for part in [
        &format!("Support bundle written to {}", file.display()),
        "practice default (3 doctors)",
        "checks: ",
        "3 doctors with session",
    ] {
        assert!(stdout.contains(part), "{part} missing from:\n{stdout}");
    }
    let b = unzip(&bytes);
    let j = &b.json;
    assert_eq!(j["produced_by"], "cli");
    assert!(j["node"].is_null());
    // The checks of `tsgate check`, and the configuration without secrets.
    let checks: Vec<String> = j["installation"]["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            format!(
                "{} {}",
                c["status"].as_str().unwrap(),
                c["text"].as_str().unwrap()
            )
        })
        .collect();
    for expected in [
        "ok configuration (Custom environment",
        "ok master key and database",
        "ok A2F service reachable at ",
        "ok DEM service reachable at ",
        &format!("fail mailbox of {user} (rossi.pec on 127.0.0.1:"),
    ] {
        assert!(
            checks.iter().any(|c| c.starts_with(expected)),
            "{expected} not in {checks:#?}"
        );
    }
    let configuration = &j["installation"]["configuration"];
    assert_eq!(configuration["environment"], "custom");
    assert_eq!(configuration["a2f_base"], sim.base);
    assert!(configuration["limits"]["api_body_bytes"].as_u64().is_some());
    // The doctor: session, history, automatic requests, mailbox.
    let d = doctor_of(j, user);
    assert_eq!(d["session"]["state"], "active", "{d}");
    assert_eq!(d["session"]["level"], "green");
    let history = d["history"].as_array().unwrap();
    let hint = format!("…{}", &code[code.len() - 4..]);
    assert!(
        history.iter().any(|h| h["kind"] == "used"
            && h["outcome"] == "ok"
            && h["code_hint"] == hint.as_str()),
        "{history:#?}"
    );
    assert!(
        history
            .iter()
            .any(|h| h["kind"] == "requested" && h["outcome"] == "code_active"),
        "{history:#?}"
    );
    assert_eq!(d["automatic"]["mode"], "default");
    let mailbox = &d["mailbox"];
    assert_eq!(mailbox["configured"], true);
    assert_eq!(mailbox["host"], "127.0.0.1");
    assert_eq!(mailbox["security"], "plain");
    assert_eq!(mailbox["connected"], false);
    assert_eq!(mailbox["last_error"]["code"], "connection", "{mailbox}");
    assert!(
        mailbox["last_error"]["message"]
            .as_str()
            .unwrap()
            .contains("Impossibile collegarsi alla casella 127.0.0.1"),
        "{mailbox}"
    );
    // Recent errors and the audit in numbers.
    assert!(
        j["recent_errors"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["code"] == "code_active" && e["user"] == user),
        "{}",
        j["recent_errors"]
    );
    let counts = j["audit_summary"]["counts"].as_array().unwrap();
    for (kind, outcome) in [
        ("verified", "ok"),
        ("used", "ok"),
        ("requested", "code_active"),
    ] {
        assert!(
            counts
                .iter()
                .any(|c| c["kind"] == kind && c["outcome"] == outcome),
            "{kind} {outcome} not counted: {counts:#?}"
        );
    }
    for part in [
        "== Controlli / Checks (tsgate check) ==",
        "ok    A2F service reachable at",
        &format!("-- {user} (titolare"),
        "Casella: 127.0.0.1:",
        "errore: [connection] Impossibile collegarsi",
        "== Registro, ultimi 7 giorni / Audit, last 7 days ==",
    ] {
        assert!(
            b.summary.contains(part),
            "{part} missing from:\n{}",
            b.summary
        );
    }

    // The admin page's way: the same doctor, and the serving node's uptime.
    let (status, bytes) = api_bundle(&gw, &gw.token).await;
    assert_eq!(status, 200);
    let api = unzip(&bytes);
    assert!(api.json["node"]["uptime_seconds"].as_i64().unwrap() >= 0);
    assert!(
        api.json["installation"]["checks"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["text"]
                .as_str()
                .unwrap()
                .starts_with("A2F service reachable")),
        "{}",
        api.raw_json
    );
    assert_eq!(doctor_of(&api.json, user)["session"]["state"], "active");
    // The download is in the audit.
    let (_, audit) = gw
        .api(reqwest::Method::GET, "/audit?kind=support_bundle", None)
        .await;
    let actors: Vec<&str> = audit
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["actor"].as_str().unwrap())
        .collect();
    assert!(
        actors.contains(&"cli") && actors.iter().any(|a| a.starts_with("ws:")),
        "{audit}"
    );

    // Bad input: exit code 2 and a clear message, no file.
    let missing = dir.path().join("nowhere").join("b.zip");
    let (output, _) = cli_bundle(&gw, &missing, &[]);
    assert_eq!(output.status.code(), Some(2), "{output:?}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("does not exist"), "{stderr}");
    let (output, _) = cli_bundle(&gw, &dir.path().join("c.zip"), &["--practice", "nessuno"]);
    assert_eq!(output.status.code(), Some(2), "{output:?}");
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("no such practice"),
        "{output:?}"
    );
}
