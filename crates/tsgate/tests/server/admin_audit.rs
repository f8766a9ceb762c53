//! Administration made with the CLI on the server (actor `cli`) and through the admin API
//! (actor `ws:<id>`) is in the audit that `GET /api/v1/audit` shows, and no secret is.

use reqwest::Method;
use serde_json::{Value, json};

use crate::support::{Gateway, GatewayOptions, Sim, cli, tempdir};

const MAIL_PASSWORD: &str = "Casella.Planted-4711";

fn ok(out: &std::process::Output, what: &str) -> String {
    assert!(out.status.success(), "{what}: {out:?}");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The value after `marker` on the line that holds it, up to the end of the line.
fn printed(stdout: &str, marker: &str) -> String {
    stdout
        .lines()
        .find_map(|l| l.split_once(marker).map(|(_, v)| v))
        .and_then(|v| v.rsplit(' ').next())
        .unwrap_or_else(|| panic!("{marker} not printed: {stdout}"))
        .trim()
        .to_owned()
}

async fn audit(gw: &Gateway, query: &str) -> (String, Vec<Value>) {
    let (status, v) = gw.api(Method::GET, &format!("/audit?{query}"), None).await;
    assert_eq!(status, 200, "{v}");
    (v.to_string(), v.as_array().unwrap().clone())
}

fn count(entries: &[Value], actor: &str, kind: &str) -> usize {
    entries
        .iter()
        .filter(|e| e["actor"] == actor && e["kind"] == kind)
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_and_api_administration_are_audited_without_secrets() {
    let dir = tempdir();
    let sim = Sim::start(dir.path()).await;
    // `Gateway::start` adds every simulator user and the admin workstation with the CLI.
    let gw = Gateway::start(dir.path(), &sim, GatewayOptions::default()).await;
    assert!(sim.users.len() >= 2, "the simulator has several doctors");
    let doctor = sim.doctor();
    let user = doctor.user_id.as_str();
    let leaving = sim.users.last().unwrap().clone();
    let config = &gw.config;

    // More changes with the CLI while the server runs.
    let out = ok(
        &cli(
            config,
            &[
                "workstation",
                "add",
                "--name",
                "Reception",
                "--role",
                "staff",
                "--users",
                user,
            ],
            "",
        ),
        "workstation add",
    );
    let staff_id = printed(&out, "registered, id ");
    let staff_token = printed(&out, "token (shown only now");
    ok(
        &cli(config, &["workstation", "revoke", &staff_id], ""),
        "workstation revoke",
    );
    ok(
        &cli(
            config,
            &["user", "set-credentials", user],
            &format!("{}\n{}\n", doctor.password, doctor.pin),
        ),
        "set-credentials",
    );
    ok(
        &cli(
            config,
            &[
                "user",
                "set-mailbox",
                user,
                "--host",
                "imap.pec.example.invalid",
                "--username",
                "medico@pec.example.invalid",
            ],
            &format!("{MAIL_PASSWORD}\n"),
        ),
        "set-mailbox",
    );
    ok(
        &cli(
            config,
            &[
                "user",
                "add",
                "--id",
                user,
                "--cf",
                &doctor.cf,
                "--region",
                &doctor.region,
                "--asl",
                &doctor.asl,
                "--specialization",
                "F",
            ],
            &format!("{}\n{}\n", doctor.password, doctor.pin),
        ),
        "user add (again)",
    );
    ok(
        &cli(config, &["user", "remove", &leaving.user_id], ""),
        "user remove",
    );

    // And one through the API, by the admin workstation.
    let (status, v) = gw.api(Method::GET, "/workstations", None).await;
    assert_eq!(status, 200, "{v}");
    let admin_id = v
        .as_array()
        .unwrap()
        .iter()
        .find(|w| w["name"] == "Ambulatorio")
        .and_then(|w| w["id"].as_str())
        .expect("the admin workstation")
        .to_owned();
    let (status, v) = gw
        .api(
            Method::POST,
            "/workstations",
            Some(json!({"name": "Studio 2", "role": "doctor", "users": [user]})),
        )
        .await;
    assert_eq!(status, 201, "{v}");
    let api_token = v["token"].as_str().unwrap().to_owned();
    let api_ws = v["workstation"]["id"].as_str().unwrap().to_owned();

    let (all_text, all) = audit(&gw, "limit=1000").await;
    let users = sim.users.len();
    assert_eq!(count(&all, "cli", "user_added"), users, "{all:?}");
    assert_eq!(
        count(&all, "cli", "workstation_added"),
        2,
        "admin + reception"
    );
    assert_eq!(count(&all, "cli", "workstation_revoked"), 1);
    assert_eq!(count(&all, "cli", "credentials_changed"), 1);
    assert_eq!(count(&all, "cli", "mailbox_set"), 1);
    assert_eq!(count(&all, "cli", "user_updated"), 1);
    assert_eq!(count(&all, "cli", "user_removed"), 1);
    assert_eq!(
        all[0]["kind"], "workstation_added",
        "newest first: {}",
        all[0]
    );
    assert_eq!(all[0]["actor"], format!("ws:{admin_id}"));
    assert!(all[0]["outcome"].as_str().unwrap().contains(&api_ws));

    // Filters.
    let (_, mine) = audit(&gw, &format!("user={user}")).await;
    let kinds: Vec<&str> = mine.iter().map(|e| e["kind"].as_str().unwrap()).collect();
    assert_eq!(
        kinds,
        [
            "user_updated",
            "mailbox_set",
            "credentials_changed",
            "user_added"
        ],
        "{mine:?}"
    );
    assert!(
        mine.iter()
            .all(|e| e["actor"] == "cli" && e["application"].is_null())
    );
    let (_, revoked) = audit(&gw, "kind=workstation_revoked").await;
    assert_eq!(revoked.len(), 1, "{revoked:?}");
    assert_eq!(revoked[0]["outcome"], format!("workstation {staff_id}"));
    let (_, by_admin) = audit(&gw, &format!("workstation={admin_id}")).await;
    assert_eq!(by_admin.len(), 1, "{by_admin:?}");
    let (_, removed) = audit(&gw, &format!("user={}&kind=user_removed", leaving.user_id)).await;
    assert_eq!(removed.len(), 1, "the audit outlives the user: {removed:?}");

    // No secret in the audit.
    let mut secrets = vec![
        ("mailbox password", MAIL_PASSWORD.to_owned()),
        ("admin token", gw.token.clone()),
        ("staff token", staff_token),
        ("API token", api_token),
    ];
    for u in &sim.users {
        secrets.push(("password", u.password.clone()));
        secrets.push(("PIN", u.pin.clone()));
    }
    for (name, secret) in &secrets {
        assert!(
            !all_text.contains(secret.as_str()),
            "{name} in the audit: {all_text}"
        );
    }
}
