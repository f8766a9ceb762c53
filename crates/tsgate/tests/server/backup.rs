//! `tsgate backup`, `tsgate restore` and `tsgate rotate-key` on the real binary, next to a
//! real `tsgate serve`: a backup taken while the server answers, a wiped data folder brought
//! back, refusals (a running server, an existing file, a backup under another key), and
//! `rotate-key` killed with SIGKILL before and after its commit. Every secret is read back
//! from the files with the key file alone, and none appears in any output.

use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use base64::Engine as _;
use serde_json::Value;
use tsgate_session::{Application, MailboxRepo as _, SessionKey, SessionStore, UserDirectory as _};
use tsgate_store::testing::user_id;
use tsgate_store::{Error, KeyFile, KeyRing, MasterKey, SqliteStore};

use crate::secrets::assert_clean;
use crate::support::{
    Gateway, GatewayOptions, INVIO_ACTION, INVIO_PATH, Sim, basic, bin, cli, invio_body, tempdir,
};

const MAIL_PASSWORD: &str = "Pec-Planted-4b7e19";

/// (password, PIN, mailbox password, code) of a user.
type Secrets = (String, String, String, String);

/// Every secret of `user`, read from the data folder's database with the key file alone.
async fn stored_secrets(data: &Path, user: &str) -> Result<Secrets, Error> {
    let key = KeyFile::new(data.join("master.key")).load()?;
    let store = SqliteStore::open(data.join("tsgate.db"), KeyRing::new(key)).await?;
    let uid = user_id(user);
    let c = store.credentials(&uid).await.unwrap().expect("credentials");
    let mailbox = store.mailbox(&uid).await.unwrap().expect("mailbox");
    let record = SessionStore::load(&store, &SessionKey::new(uid, Application::Prescrittore))
        .await
        .unwrap()
        .expect("session");
    let secrets = (
        c.password.expose_secret().to_owned(),
        c.pin.expose_secret().to_owned(),
        mailbox.settings.password.expose_secret().to_owned(),
        record
            .usable_code()
            .expect("a usable code")
            .code
            .expose_secret()
            .to_owned(),
    );
    store.close().await;
    Ok(secrets)
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[track_caller]
fn ok(out: &Output, what: &str) -> String {
    assert!(out.status.success(), "{what}: {}", text(out));
    text(out)
}

#[track_caller]
fn refused(out: &Output, what: &str) -> String {
    assert_eq!(out.status.code(), Some(1), "{what}: {}", text(out));
    text(out)
}

/// A served doctor with every kind of secret: credentials (added by `Gateway::start`), a
/// certified mailbox (automatic requests off, so nothing changes behind the test's back) and
/// an active code. Returns the doctor's user id and secrets.
async fn seeded(gw: &Gateway, sim: &Sim, outputs: &mut Vec<String>) -> (String, Secrets) {
    let doctor = sim.doctor();
    let user = doctor.user_id.clone();
    outputs.push(ok(
        &cli(&gw.config, &["user", "set-auto", &user, "off"], ""),
        "set-auto",
    ));
    outputs.push(ok(
        &cli(
            &gw.config,
            &[
                "user",
                "set-mailbox",
                &user,
                "--host",
                "imap.pec.example.invalid",
                "--username",
                "medico@pec.example.invalid",
            ],
            &format!("{MAIL_PASSWORD}\n"),
        ),
        "set-mailbox",
    ));
    let code = gw.make_active(sim, &user).await;
    let (status, receipt) = gw.proxy_invio(sim, &doctor).await;
    assert_eq!(status, 200, "{receipt}");
    let secrets = (doctor.password, doctor.pin, MAIL_PASSWORD.to_owned(), code);
    (user, secrets)
}

/// The secrets no output may show: the doctor's, and the master key in its written forms.
fn forbidden(secrets: &Secrets, key: &[u8]) -> Vec<(&'static str, String)> {
    let hex: String = key.iter().map(|b| format!("{b:02x}")).collect();
    vec![
        ("password", secrets.0.clone()),
        ("PIN", secrets.1.clone()),
        ("mailbox password", secrets.2.clone()),
        ("ID-SESSIONE", secrets.3.clone()),
        (
            "master key (base64)",
            base64::engine::general_purpose::STANDARD.encode(key),
        ),
        ("master key (hex)", hex),
    ]
}

async fn audit(gw: &Gateway) -> Vec<(String, String, String)> {
    let (status, v) = gw
        .api(reqwest::Method::GET, "/audit?limit=5000", None)
        .await;
    assert_eq!(status, 200, "{v}");
    v.as_array()
        .or_else(|| v["events"].as_array())
        .expect("audit list")
        .iter()
        .map(|e| {
            let s = |k: &str| e[k].as_str().unwrap_or_default().to_owned();
            (s("at"), s("kind"), s("outcome"))
        })
        .collect()
}

fn remove_database(data: &Path) {
    for name in ["tsgate.db", "tsgate.db-wal", "tsgate.db-shm"] {
        match std::fs::remove_file(data.join(name)) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => panic!("{name}: {e}"),
        }
    }
}

fn kept_databases(data: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(data)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .contains("before-restore")
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backup_while_serving_then_wipe_and_restore_every_secret() {
    let dir = tempdir();
    let sim = Sim::start(dir.path()).await;
    let options = GatewayOptions {
        min_create_interval_seconds: Some(0),
        extra_toml: Some("[limits]\napi_rate_per_second = 0\nproxy_rate_per_second = 0".into()),
        ..Default::default()
    };
    let mut gw = Gateway::start(dir.path(), &sim, options).await;
    let data = gw.data_dir();
    let mut outputs = Vec::new();
    let (user, secrets) = seeded(&gw, &sim, &mut outputs).await;
    assert_eq!(stored_secrets(&data, &user).await.unwrap(), secrets);
    let audit_before = audit(&gw).await;

    // Prescriptions through the proxy and state reads while the backup runs: four clients
    // without pause (the per-workstation rates are off for this server).
    let stop = Arc::new(AtomicBool::new(false));
    let served = Arc::new(AtomicUsize::new(0));
    let mut load = Vec::new();
    for _ in 0..4 {
        let (stop, served) = (stop.clone(), served.clone());
        let client = gw.clone_client();
        let (body, authorization) = (invio_body(&sim, &sim.doctor()), basic(&sim.doctor()));
        let user = user.clone();
        load.push(tokio::spawn(async move {
            let url = format!("{}/ts/{}{INVIO_PATH}", client.base, client.token);
            while !stop.load(Ordering::Relaxed) {
                let r = client
                    .http
                    .post(&url)
                    .header("Authorization", &authorization)
                    .header("Content-Type", "text/xml; charset=UTF-8")
                    .header("SOAPAction", INVIO_ACTION)
                    .body(body.clone())
                    .send()
                    .await
                    .expect("proxy call");
                assert_eq!(r.status(), 200, "{}", r.text().await.unwrap_or_default());
                let s = client.session(&user).await;
                assert_eq!(s["state"], "active", "{s}");
                served.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    while served.load(Ordering::Relaxed) < 3 {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let backups = dir.path().join("backups");
    std::fs::create_dir(&backups).unwrap();
    let out_file = backups.join("tsgate-1.db");
    let during = served.load(Ordering::Relaxed);
    let (config, out) = (gw.config.clone(), out_file.clone());
    let taken =
        tokio::task::spawn_blocking(move || cli(&config, &["backup", out.to_str().unwrap()], ""))
            .await
            .unwrap();
    let after_backup = served.load(Ordering::Relaxed);
    tokio::time::sleep(Duration::from_millis(100)).await;
    stop.store(true, Ordering::Relaxed);
    for task in load {
        task.await.expect("every call around the backup answered");
    }
    assert!(
        after_backup > during && served.load(Ordering::Relaxed) > after_backup,
        "the server served during the backup ({during} calls before, {after_backup} at its end)"
    );
    let said = ok(&taken, "backup");
    let key_file = data.join("master.key");
    assert!(said.contains("Backup written"), "{said}");
    assert!(
        said.contains(&format!("master key file {}", key_file.display()))
            && said.contains("apart from the backups")
            && said.contains("does not contain the master key"),
        "says where the key is and that it is saved apart: {said}"
    );
    outputs.push(said);
    let key_bytes = std::fs::read(&key_file).unwrap();
    let secret_list = forbidden(&secrets, &key_bytes);
    let backup_bytes = std::fs::read(&out_file).unwrap();
    assert_clean("the backup file", &backup_bytes, &secret_list);
    assert!(
        !backup_bytes.windows(32).any(|w| w == key_bytes.as_slice()),
        "the raw master key is in the backup"
    );

    // An existing file is not replaced, unless --force.
    let again = cli(&gw.config, &["backup", out_file.to_str().unwrap()], "");
    let said = refused(&again, "backup onto an existing file");
    assert!(
        said.contains("already exists") && said.contains("--force"),
        "{said}"
    );
    outputs.push(said);
    assert_eq!(std::fs::read(&out_file).unwrap(), backup_bytes, "untouched");
    let forced = cli(
        &gw.config,
        &["backup", "--force", out_file.to_str().unwrap()],
        "",
    );
    outputs.push(ok(&forced, "backup --force"));
    let newer_backup = backups.join("tsgate-2.db");
    std::fs::copy(&out_file, &newer_backup).unwrap();
    std::fs::write(&out_file, &backup_bytes).unwrap();

    // No restore under a running server.
    let under = cli(&gw.config, &["restore", out_file.to_str().unwrap()], "");
    let said = refused(&under, "restore while serving");
    assert!(
        said.contains("in use") && said.contains("stop tsgate"),
        "names the problem and the next step: {said}"
    );
    outputs.push(said);
    assert_eq!(stored_secrets(&data, &user).await.unwrap(), secrets);

    // The data folder loses its database; the key file stays (it is saved apart).
    gw.stop();
    remove_database(&data);
    let restored = cli(&gw.config, &["restore", out_file.to_str().unwrap()], "");
    let said = ok(&restored, "restore");
    assert!(
        said.contains("Restored") && said.contains("There was no database to replace"),
        "{said}"
    );
    outputs.push(said);
    assert_eq!(stored_secrets(&data, &user).await.unwrap(), secrets);

    gw.spawn().await;
    let s = gw.session(&user).await;
    assert_eq!(
        (&s["state"], &s["level"]),
        (&Value::from("active"), &Value::from("green")),
        "{s}"
    );
    let (status, receipt) = gw.proxy_invio(&sim, &sim.doctor()).await;
    assert_eq!(status, 200, "the restored code still works: {receipt}");
    let audit_after = audit(&gw).await;
    for line in &audit_before {
        assert!(audit_after.contains(line), "audit line lost: {line:?}");
    }

    // A restore over a database keeps the one it replaces.
    gw.stop();
    let other = sim.users[1].user_id.clone();
    outputs.push(ok(
        &cli(&gw.config, &["user", "remove", &other], ""),
        "user remove",
    ));
    let restored = cli(&gw.config, &["restore", newer_backup.to_str().unwrap()], "");
    let said = ok(&restored, "restore over a database");
    let kept = kept_databases(&data);
    assert_eq!(kept.len(), 1, "{kept:?}");
    assert!(said.contains(&kept[0].display().to_string()), "{said}");
    outputs.push(said);
    let listed = ok(&cli(&gw.config, &["user", "list"], ""), "user list");
    assert!(listed.contains(&other), "{listed}");
    let kept_store = SqliteStore::open(
        &kept[0],
        KeyRing::new(KeyFile::new(&key_file).load().unwrap()),
    )
    .await
    .unwrap();
    assert!(
        kept_store.user(&user_id(&other)).await.unwrap().is_none(),
        "the kept database is the replaced one"
    );
    kept_store.close().await;
    drop(kept_store);
    assert_eq!(stored_secrets(&data, &user).await.unwrap(), secrets);

    for (i, output) in outputs.iter().enumerate() {
        assert_clean(
            &format!("command output {i}"),
            output.as_bytes(),
            &secret_list,
        );
    }
    assert_clean("the server's output", gw.logs().as_bytes(), &secret_list);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restore_refuses_a_backup_under_another_key_and_names_the_key_needed() {
    let dir = tempdir();
    let sim = Sim::start(dir.path()).await;
    let mut gw = Gateway::start(dir.path(), &sim, GatewayOptions::default()).await;
    let data = gw.data_dir();
    let out_file = dir.path().join("tsgate-backup.db");
    ok(
        &cli(&gw.config, &["backup", out_file.to_str().unwrap()], ""),
        "backup",
    );
    gw.stop();

    // The machine's key file was replaced by another one (say, a reinstall).
    let key_file = data.join("master.key");
    let saved = dir.path().join("saved.key");
    std::fs::rename(&key_file, &saved).unwrap();
    let other = MasterKey::create_file(&key_file).unwrap();
    let original = MasterKey::load(&saved).unwrap();
    let database = std::fs::read(data.join("tsgate.db")).unwrap();

    let out = cli(&gw.config, &["restore", out_file.to_str().unwrap()], "");
    let said = refused(&out, "restore under another key");
    assert!(
        said.contains(&format!("master key with id {}", original.id()))
            && said.contains(&other.id().to_string())
            && said.contains(&key_file.display().to_string())
            && said.contains("nothing was changed"),
        "names the key needed and where it goes: {said}"
    );
    for key in [
        std::fs::read(&saved).unwrap(),
        std::fs::read(&key_file).unwrap(),
    ] {
        assert_clean(
            "the refusal",
            said.as_bytes(),
            &forbidden(&Default::default(), &key)[4..],
        );
    }
    assert_eq!(std::fs::read(data.join("tsgate.db")).unwrap(), database);
    assert!(kept_databases(&data).is_empty());

    // With the key saved with the backup back in place, it goes through.
    std::fs::rename(&saved, &key_file).unwrap();
    ok(
        &cli(&gw.config, &["restore", out_file.to_str().unwrap()], ""),
        "restore with the right key",
    );
    gw.spawn().await;
}

/// Starts `tsgate rotate-key` on `config` so that it stops at `step`, waits until it says so,
/// and kills it with SIGKILL. Returns what it wrote.
fn rotate_killed_at(config: &Path, step: &str) -> String {
    let mut child = Command::new(bin())
        .args(["rotate-key", "--config"])
        .arg(config)
        .env("RUST_LOG", "warn")
        .env("TSGATE_TEST_STOP_AT", step)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("rotate-key");
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut said = String::new();
    let marker = format!("stopped at {step}");
    loop {
        match rx.recv_timeout(Duration::from_secs(60)) {
            Ok(line) => {
                said.push_str(&line);
                said.push('\n');
                if line.contains(&marker) {
                    break;
                }
            }
            Err(_) => {
                let _ = child.kill();
                panic!("rotate-key never reached {step}: {said}");
            }
        }
    }
    child.kill().expect("SIGKILL");
    child.wait().unwrap();
    said
}

/// The server reads every secret: the code (a prescription through the proxy) and the
/// password and PIN (a `create` that Sistema TS accepts).
async fn server_reads_the_secrets(gw: &Gateway, sim: &Sim, user: &str) {
    let (status, receipt) = gw.proxy_invio(sim, &sim.doctor()).await;
    assert_eq!(status, 200, "{receipt}");
    let creates = sim.creates(user).await;
    let (status, v) = gw.request(user, true).await;
    assert_eq!(status, 202, "{v}");
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while sim.creates(user).await == creates {
        assert!(
            std::time::Instant::now() < deadline,
            "no create reached Sistema TS"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let s = gw.session(user).await;
    assert!(s["last_error"].is_null(), "{s}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotate_key_killed_before_its_commit_leaves_everything_readable() {
    let dir = tempdir();
    let sim = Sim::start(dir.path()).await;
    let options = GatewayOptions {
        min_create_interval_seconds: Some(0),
        ..Default::default()
    };
    let mut gw = Gateway::start(dir.path(), &sim, options).await;
    let data = gw.data_dir();
    let key_file = KeyFile::new(data.join("master.key"));
    let mut outputs = Vec::new();
    let (user, secrets) = seeded(&gw, &sim, &mut outputs).await;
    let first = std::fs::read(key_file.path()).unwrap();

    let said = refused(
        &cli(&gw.config, &["rotate-key"], ""),
        "rotate-key while serving",
    );
    assert!(
        said.contains("in use") && said.contains("stop tsgate"),
        "{said}"
    );
    outputs.push(said);
    gw.stop();

    outputs.push(rotate_killed_at(&gw.config, "before-commit"));
    assert!(
        key_file.pending().unwrap().is_some(),
        "the new key was staged"
    );
    assert_eq!(std::fs::read(key_file.path()).unwrap(), first);
    // The data is still under the key file's key.
    assert_eq!(stored_secrets(&data, &user).await.unwrap(), secrets);

    // The server starts, drops the staged key, and uses every secret.
    gw.spawn().await;
    assert!(
        key_file.pending().unwrap().is_none(),
        "rolled back at start"
    );
    server_reads_the_secrets(&gw, &sim, &user).await;
    gw.stop();
    let (password, pin, mail, _) = secrets.clone();
    let current = stored_secrets(&data, &user).await.unwrap();
    assert_eq!(
        (&current.0, &current.1, &current.2),
        (&password, &pin, &mail)
    );

    // rotate-key run again does the whole rotation.
    let said = ok(&cli(&gw.config, &["rotate-key"], ""), "rotate-key again");
    assert!(said.contains("Master key rotated"), "{said}");
    outputs.push(said);
    let second = std::fs::read(key_file.path()).unwrap();
    assert_ne!(second, first);
    let first_key = MasterKey::load(
        &key_file.retired_path(MasterKey::from_bytes(first.clone().try_into().unwrap()).id()),
    )
    .unwrap();
    assert_eq!(
        first_key.id(),
        MasterKey::from_bytes(first.clone().try_into().unwrap()).id()
    );
    assert_eq!(stored_secrets(&data, &user).await.unwrap(), current);
    gw.spawn().await;
    let (status, receipt) = gw.proxy_invio(&sim, &sim.doctor()).await;
    assert_eq!(status, 200, "{receipt}");

    let mut secret_list = forbidden(&current, &first);
    secret_list.extend(forbidden(&secrets, &second));
    for (i, output) in outputs.iter().enumerate() {
        assert_clean(
            &format!("command output {i}"),
            output.as_bytes(),
            &secret_list,
        );
    }
    assert_clean("the server's output", gw.logs().as_bytes(), &secret_list);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotate_key_killed_after_its_commit_is_completed_by_the_next_run() {
    let dir = tempdir();
    let sim = Sim::start(dir.path()).await;
    let options = GatewayOptions {
        min_create_interval_seconds: Some(0),
        ..Default::default()
    };
    let mut gw = Gateway::start(dir.path(), &sim, options).await;
    let data = gw.data_dir();
    let key_file = KeyFile::new(data.join("master.key"));
    let mut outputs = Vec::new();
    let (user, secrets) = seeded(&gw, &sim, &mut outputs).await;
    let first = std::fs::read(key_file.path()).unwrap();
    gw.stop();

    outputs.push(rotate_killed_at(&gw.config, "committed"));
    let staged = key_file.pending().unwrap().expect("the new key is staged");
    assert_eq!(std::fs::read(key_file.path()).unwrap(), first);
    // The data is under the staged key now: the key file alone no longer opens it, but
    // nothing is lost.
    assert!(matches!(
        stored_secrets(&data, &user).await,
        Err(Error::WrongMasterKey)
    ));

    let said = ok(&cli(&gw.config, &["rotate-key"], ""), "rotate-key again");
    assert!(
        said.contains("interrupted earlier has been completed")
            && said.contains(&staged.id().to_string()),
        "{said}"
    );
    outputs.push(said);
    assert!(key_file.pending().unwrap().is_none());
    assert_eq!(key_file.load().unwrap().id(), staged.id());
    let first_id = MasterKey::from_bytes(first.clone().try_into().unwrap()).id();
    assert_eq!(
        MasterKey::load(&key_file.retired_path(first_id))
            .unwrap()
            .id(),
        first_id,
        "the old key is kept for the older backups"
    );
    assert_eq!(stored_secrets(&data, &user).await.unwrap(), secrets);

    gw.spawn().await;
    server_reads_the_secrets(&gw, &sim, &user).await;

    let second = std::fs::read(key_file.path()).unwrap();
    let mut secret_list = forbidden(&secrets, &first);
    secret_list.extend(forbidden(&secrets, &second)[4..].iter().cloned());
    for (i, output) in outputs.iter().enumerate() {
        assert_clean(
            &format!("command output {i}"),
            output.as_bytes(),
            &secret_list,
        );
    }
    assert_clean("the server's output", gw.logs().as_bytes(), &secret_list);
}

#[test]
fn backup_on_postgresql_explains_pg_dump_without_the_password() {
    let dir = tempdir();
    let config = dir.path().join("tsgate.toml");
    std::fs::write(
        &config,
        format!(
            "data_dir = \"{}\"\nenvironment = \"custom\"\na2f_base = \"http://127.0.0.1:9\"\n\
             dem_base = \"http://127.0.0.1:9\"\n\
             sanitel_certificate_url = \"http://127.0.0.1:9/sim/certificate\"\n\
             database_url = \"postgres://tsgate:S3gretissima@db.example.invalid:5432/tsgate\"\n",
            dir.path().join("data").display()
        ),
    )
    .unwrap();
    let out = cli(&config, &["backup", "/tmp/never-written.dump"], "");
    let said = refused(&out, "backup on PostgreSQL");
    assert!(
        said.contains("pg_dump --format=custom")
            && said.contains("postgres://tsgate@db.example.invalid:5432/tsgate"),
        "{said}"
    );
    assert!(!said.contains("S3gretissima"), "{said}");
    assert!(!Path::new("/tmp/never-written.dump").exists());
    let said = refused(
        &cli(&config, &["restore", "/tmp/never-written.dump"], ""),
        "restore on PostgreSQL",
    );
    assert!(
        said.contains("pg_restore") && !said.contains("S3gretissima"),
        "{said}"
    );
}
