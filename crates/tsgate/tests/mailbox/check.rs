//! `tsgate check` logs in to every configured certified mailbox (a real Dovecot) and says,
//! per user, whether the login works or why not, without ever printing the password. The
//! real binary runs against a data folder prepared with `tsgate user add` and
//! `tsgate user set-mailbox`, and an in-process simulator answers the upstream checks.

use std::path::Path;
use std::process::Stdio;

use tokio::io::AsyncWriteExt as _;
use tsgate_mailbox::test_support::Dovecot;

use crate::support::{IMAP_PASSWORD, SOSTITUTO, TITOLARE, TITOLARE_MAIL};

const WRONG_PASSWORD: &str = "Non.La.Password.77";

/// Runs `tsgate <args> --config <config>` feeding `stdin`; (exit code, stdout + stderr).
async fn tsgate(config: &Path, args: &[&str], stdin: &str) -> (Option<i32>, String) {
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_tsgate"))
        .args(args)
        .arg("--config")
        .arg(config)
        .env("RUST_LOG", "warn")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("tsgate starts");
    let mut input = child.stdin.take().expect("stdin");
    input.write_all(stdin.as_bytes()).await.expect("stdin");
    drop(input);
    let out = tokio::time::timeout(
        std::time::Duration::from_secs(120),
        child.wait_with_output(),
    )
    .await
    .expect("tsgate ends")
    .expect("tsgate output");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code(), text)
}

/// The line of `output` that starts with `prefix`.
fn line<'a>(output: &'a str, prefix: &str) -> &'a str {
    output
        .lines()
        .find(|l| l.starts_with(prefix))
        .unwrap_or_else(|| panic!("no line starting with {prefix:?} in:\n{output}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_logs_in_to_each_mailbox_and_explains_a_refusal() {
    sistemats::client::install_crypto_provider();
    let dovecot = Dovecot::start(&[(TITOLARE_MAIL, IMAP_PASSWORD)]);
    dovecot.prepare(TITOLARE_MAIL);
    let sim = tsgate_sim::start(tsgate_sim::SimConfig {
        listen: ([127, 0, 0, 1], 0).into(),
        ..tsgate_sim::SimConfig::default()
    })
    .await
    .expect("simulator");
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("tsgate.toml");
    std::fs::write(
        &config,
        format!(
            "data_dir = \"{}\"\nenvironment = \"custom\"\na2f_base = \"{b}\"\ndem_base = \"{b}\"\n\
             sanitel_certificate_url = \"{b}/sim/certificate\"\n",
            dir.path().join("data").display(),
            b = sim.base_url
        ),
    )
    .unwrap();

    // Two doctors, one shared mailbox (one account, one login).
    for id in [TITOLARE, SOSTITUTO] {
        let user = sim
            .sim
            .users
            .iter()
            .find(|u| u.user_id == id)
            .expect("simulator user");
        let (code, out) = tsgate(
            &config,
            &[
                "user",
                "add",
                "--id",
                id,
                "--cf",
                &user.cf,
                "--region",
                &user.region,
                "--asl",
                &user.asl,
            ],
            &format!("{}\n{}\n", user.password, user.pin),
        )
        .await;
        assert_eq!(code, Some(0), "{out}");
    }
    let plain_port = dovecot.plain_port.to_string();
    let set_mailbox = |user: &'static str, password: &'static str| {
        let config = config.clone();
        let port = plain_port.clone();
        async move {
            let (code, out) = tsgate(
                &config,
                &[
                    "user",
                    "set-mailbox",
                    user,
                    "--host",
                    "127.0.0.1",
                    "--port",
                    &port,
                    "--security",
                    "plain",
                    "--username",
                    TITOLARE_MAIL,
                ],
                &format!("{password}\n"),
            )
            .await;
            assert_eq!(code, Some(0), "{out}");
        }
    };
    set_mailbox(TITOLARE, IMAP_PASSWORD).await;
    set_mailbox(SOSTITUTO, IMAP_PASSWORD).await;

    let (code, out) = tsgate(&config, &["check"], "").await;
    assert_eq!(code, Some(0), "{out}");
    for user in [TITOLARE, SOSTITUTO] {
        let ok = line(&out, &format!("ok    mailbox of {user} "));
        assert!(ok.contains("login accepted"), "{ok}");
        assert!(
            ok.contains(&format!("{TITOLARE_MAIL} on 127.0.0.1:{plain_port}")),
            "{ok}"
        );
    }
    assert!(!out.contains(IMAP_PASSWORD), "{out}");

    // A wrong password (saved once, shared by both users of the mailbox).
    set_mailbox(TITOLARE, WRONG_PASSWORD).await;
    let (code, out) = tsgate(&config, &["check"], "").await;
    assert_eq!(code, Some(1), "a refused login fails the check:\n{out}");
    for user in [TITOLARE, SOSTITUTO] {
        let fail = line(&out, &format!("FAIL  mailbox of {user} "));
        assert!(
            fail.contains("refused the user name or the password"),
            "{fail}"
        );
        assert!(
            fail.contains(&format!("tsgate user set-mailbox {user}")),
            "the next step: {fail}"
        );
    }
    assert!(out.contains("2 check(s) failed"), "{out}");
    assert!(!out.contains(WRONG_PASSWORD), "{out}");
    assert!(!out.contains(IMAP_PASSWORD), "{out}");
    // Both users share one account: it was tried once per check, not once per user
    // (repeated refused logins can lock an account).
    let log = dovecot.log();
    assert_eq!(log.matches("Login: user=<").count(), 1, "{log}");
    assert_eq!(log.matches("(auth failed").count(), 1, "{log}");

    // Implicit TLS to a server whose certificate authority is not trusted.
    let tls_port = dovecot.tls_port.to_string();
    let (code, out) = tsgate(
        &config,
        &[
            "user",
            "set-mailbox",
            TITOLARE,
            "--host",
            "127.0.0.1",
            "--port",
            &tls_port,
            "--security",
            "implicit",
            "--username",
            TITOLARE_MAIL,
        ],
        &format!("{IMAP_PASSWORD}\n"),
    )
    .await;
    assert_eq!(code, Some(0), "{out}");
    let (code, out) = tsgate(&config, &["check"], "").await;
    assert_eq!(code, Some(1), "{out}");
    let fail = line(&out, &format!("FAIL  mailbox of {TITOLARE} "));
    assert!(fail.contains("secure connection failed"), "{fail}");
    assert!(fail.contains("--ca-file"), "{fail}");
    assert!(!out.contains(IMAP_PASSWORD), "{out}");
}
