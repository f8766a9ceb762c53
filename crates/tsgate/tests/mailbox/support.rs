//! A real Dovecot serving the simulator's Maildirs and the real `tsgate demo` binary,
//! driven through the public HTTP API only.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tsgate_mailbox::test_support::Dovecot;

/// The simulator's titolare and substitute (`GET /sim/users`).
pub const TITOLARE: &str = "PROVAX00X00X000Y";
pub const SOSTITUTO: &str = "PROVAX00X00X000Z";
pub const TITOLARE_MAIL: &str = "provax00x00x000y@medici.sim.tsgate.test";
pub const SOSTITUTO_MAIL: &str = "provax00x00x000z@medici.sim.tsgate.test";
pub const IMAP_PASSWORD: &str = "Imap.Prova.2026";

/// Longest wait for anything in these tests: a failure, never a speed assertion.
const PATIENCE: Duration = Duration::from_secs(90);

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

/// How the Dovecot accounts map to the simulator's addresses.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Accounts {
    /// One account per doctor.
    Separate,
    /// The substitute's mail lands in the titolare's account (one shared mailbox).
    Shared,
}

/// Dovecot + `tsgate demo --sim-maildir <Dovecot's mail root>`.
pub struct Env {
    pub dovecot: Dovecot,
    _demo: DemoProcess,
    _data: tempfile::TempDir,
    pub api: String,
    pub sim: String,
    token: String,
    pub http: reqwest::Client,
    log: PathBuf,
    /// Seconds the simulated clock was moved ahead by [`Env::advance`].
    offset: std::sync::atomic::AtomicI64,
    /// `…/ts/<workstation token>`.
    pub proxy: String,
}

impl Env {
    /// Starts Dovecot and the demo; `imap_flag` also passes `--imap` (the demo then sets
    /// every demo user's mailbox by itself).
    pub async fn start(accounts: Accounts, imap_flag: bool) -> Env {
        Self::start_with(accounts, imap_flag, &[]).await
    }

    /// [`Env::start`] with more arguments for `tsgate demo`.
    pub async fn start_with(accounts: Accounts, imap_flag: bool, extra: &[&str]) -> Env {
        Self::start_prepared(accounts, imap_flag, extra, |_| {}).await
    }

    /// [`Env::start_with`], running `before_demo` on the demo's data folder first (e.g. a
    /// CLI command on the database the demo will open).
    pub async fn start_prepared(
        accounts: Accounts,
        imap_flag: bool,
        extra: &[&str],
        before_demo: impl FnOnce(&std::path::Path),
    ) -> Env {
        sistemats::client::install_crypto_provider();
        let users: Vec<(&str, &str)> = match accounts {
            Accounts::Separate => vec![
                (TITOLARE_MAIL, IMAP_PASSWORD),
                (SOSTITUTO_MAIL, IMAP_PASSWORD),
            ],
            Accounts::Shared => vec![(TITOLARE_MAIL, IMAP_PASSWORD)],
        };
        let dovecot = Dovecot::start(&users);
        dovecot.prepare(TITOLARE_MAIL);
        match accounts {
            Accounts::Separate => dovecot.prepare(SOSTITUTO_MAIL),
            Accounts::Shared => std::os::unix::fs::symlink(
                dovecot.maildir(TITOLARE_MAIL, None),
                dovecot.maildir(SOSTITUTO_MAIL, None),
            )
            .expect("symlink the shared mailbox"),
        }
        let data = tempfile::tempdir().expect("tempdir");
        before_demo(&data.path().join("demo"));
        let port = free_port();
        let log = data.path().join("demo.log");
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_tsgate"));
        cmd.arg("demo")
            .args(["--port", &port.to_string()])
            .arg("--data-dir")
            .arg(data.path().join("demo"))
            .arg("--no-browser")
            .arg("--sim-maildir")
            .arg(dovecot.mail_root())
            // Every round requests at once: the demo's interval only, the rule stays.
            .args(["--min-create-interval", "0"])
            .args(extra)
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&log).expect("log"))
            .stderr(std::fs::File::create(data.path().join("demo.err")).expect("log"));
        if imap_flag {
            cmd.args(["--imap", &format!("127.0.0.1:{}", dovecot.plain_port)])
                .env("TSGATE_DEMO_IMAP_PASSWORD", IMAP_PASSWORD);
        }
        // Owned by a guard at once: a failing start must not leave the demo running.
        let demo = DemoProcess(Some(cmd.spawn().expect("tsgate demo starts")));
        let json_path = data.path().join("demo").join("demo.json");
        let deadline = Instant::now() + PATIENCE;
        let info: Value = loop {
            if let Ok(bytes) = std::fs::read(&json_path)
                && let Ok(v) = serde_json::from_slice::<Value>(&bytes)
            {
                break v;
            }
            assert!(Instant::now() < deadline, "demo.json never appeared");
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(60))
            .build()
            .expect("client");
        let env = Env {
            dovecot,
            _demo: demo,
            api: info["ui_url"].as_str().expect("ui_url").to_owned(),
            sim: info["sim_url"].as_str().expect("sim_url").to_owned(),
            token: info["workstation_token"]
                .as_str()
                .expect("token")
                .to_owned(),
            http,
            _data: data,
            log,
            offset: std::sync::atomic::AtomicI64::new(0),
            proxy: info["proxy_url"].as_str().expect("proxy_url").to_owned(),
        };
        // The banner is printed once the gateway listens.
        let deadline = Instant::now() + PATIENCE;
        while env
            .http
            .get(format!("{}/healthz", env.api))
            .send()
            .await
            .is_err()
        {
            assert!(Instant::now() < deadline, "gateway never answered");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        env
    }

    /// The demo workstation's token (admin).
    pub fn token(&self) -> &str {
        &self.token
    }

    /// The demo's standard output (for failure messages).
    pub fn log(&self) -> String {
        let err = self._data.path().join("demo.err");
        format!(
            "{}\n{}",
            std::fs::read_to_string(&self.log).unwrap_or_default(),
            std::fs::read_to_string(err).unwrap_or_default()
        )
    }

    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.api))
            .bearer_auth(&self.token);
        if let Some(body) = body {
            req = req.json(&body);
        }
        let res = req.send().await.expect("request");
        let status = res.status().as_u16();
        let text = res.text().await.unwrap_or_default();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    /// `PUT /api/v1/users/{user}/mailbox`.
    pub async fn put_mailbox(&self, user: &str, body: Value) -> (u16, Value) {
        self.call(
            reqwest::Method::PUT,
            &format!("/api/v1/users/{user}/mailbox"),
            Some(body),
        )
        .await
    }

    /// Settings for a Dovecot account over plain IMAP on loopback.
    pub fn settings(&self, login: &str, password: &str, address: &str) -> Value {
        json!({
            "host": "127.0.0.1",
            "port": self.dovecot.plain_port,
            "security": "plain",
            "username": login,
            "password": password,
            "address": address,
            "poll_interval_secs": 2,
            "reconnect_max_secs": 1,
            "timeout_secs": 10,
        })
    }

    /// `GET /api/v1/users/{user}/mailbox`.
    pub async fn mailbox(&self, user: &str) -> Value {
        let (status, body) = self
            .call(
                reqwest::Method::GET,
                &format!("/api/v1/users/{user}/mailbox"),
                None,
            )
            .await;
        assert_eq!(status, 200, "{body}");
        body
    }

    /// `GET /api/v1/users/{user}/session`.
    pub async fn session(&self, user: &str) -> Value {
        let (status, body) = self
            .call(
                reqwest::Method::GET,
                &format!("/api/v1/users/{user}/session"),
                None,
            )
            .await;
        assert_eq!(status, 200, "{body}");
        body
    }

    /// `POST …/session/request`: 202 expected.
    pub async fn request(&self, user: &str) {
        let (status, body) = self
            .call(
                reqwest::Method::POST,
                &format!("/api/v1/users/{user}/session/request"),
                Some(json!({"replace": true})),
            )
            .await;
        assert_eq!(status, 202, "{body}\n{}", self.log());
    }

    /// `POST /sim/control`.
    pub async fn sim_control(&self, body: Value) {
        let res = self
            .http
            .post(format!("{}/sim/control", self.sim))
            .json(&body)
            .send()
            .await
            .expect("sim control");
        assert!(res.status().is_success(), "{:?}", res.text().await);
    }

    /// Waits until the session is green with no request pending, and returns the view.
    pub async fn until_green(&self, user: &str) -> Value {
        self.until(
            || self.session(user),
            |v| v["state"] == "active" && v["level"] == "green" && v["pending"] == false,
        )
        .await
    }

    /// Polls `get` until `done` holds (fails after a generous deadline, with the last value).
    pub async fn until<F, Fut>(&self, get: F, done: impl Fn(&Value) -> bool) -> Value
    where
        F: Fn() -> Fut,
        Fut: std::future::Future<Output = Value>,
    {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let v = get().await;
            if done(&v) {
                return v;
            }
            assert!(
                Instant::now() < deadline,
                "condition never held; last value: {v}\ndemo log:\n{}\ndovecot log:\n{}",
                self.log(),
                self.dovecot.log()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Audit events of `user` (newest first).
    pub async fn audit(&self, user: &str) -> Vec<Value> {
        let (status, body) = self
            .call(
                reqwest::Method::GET,
                &format!("/api/v1/audit?user={user}"),
                None,
            )
            .await;
        assert_eq!(status, 200, "{body}");
        body.as_array().cloned().unwrap_or_default()
    }

    /// Asserts that the code in use was verified by the mailbox watcher, not typed.
    pub async fn assert_found_by_mailbox(&self, user: &str) {
        let audit = self.audit(user).await;
        let verified = |e: &&Value| e["kind"] == "verified" && e["outcome"] == "ok";
        assert!(
            audit
                .iter()
                .filter(verified)
                .any(|e| e["actor"] == "mailbox"),
            "no code verified by the mailbox in {audit:?}"
        );
        assert!(
            !audit
                .iter()
                .filter(verified)
                .any(|e| e["actor"] != "mailbox"),
            "a code was verified from elsewhere: {audit:?}"
        );
    }
}

impl Env {
    /// The demo's data folder.
    pub fn data_dir(&self) -> PathBuf {
        self._data.path().join("demo")
    }

    /// Waits for the demo to exit by itself (`--play-week`); its exit code.
    pub async fn exit_code(&mut self, within: Duration) -> Option<i32> {
        let deadline = Instant::now() + within;
        loop {
            if let Some(child) = self._demo.0.as_mut()
                && let Ok(Some(status)) = child.try_wait()
            {
                return status.code();
            }
            assert!(
                Instant::now() < deadline,
                "the demo did not stop by itself\n{}",
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// The simulated time (real time plus what [`Env::advance`] added).
    pub fn sim_now(&self) -> time::OffsetDateTime {
        time::OffsetDateTime::now_utc()
            + time::Duration::seconds(self.offset.load(std::sync::atomic::Ordering::SeqCst))
    }

    /// Moves the simulated clock (the gateway's too) `seconds` ahead.
    pub async fn advance(&self, seconds: i64) {
        self.sim_control(json!({"advance_clock_seconds": seconds}))
            .await;
        self.offset
            .fetch_add(seconds, std::sync::atomic::Ordering::SeqCst);
    }

    /// Moves the simulated clock to the next `day` at `hh:mm` Italian time.
    pub async fn advance_to(&self, day: time::Weekday, hh: u8, mm: u8) {
        let now = self.sim_now();
        let local = tsgate_session::italy::to_rome(now);
        let at_time = time::Time::from_hms(hh, mm, 0).expect("time");
        let mut date = local.date();
        if date.weekday() != day || local.time() >= at_time {
            date = date.next_occurrence(day);
        }
        let target = tsgate_session::italy::from_rome(date, at_time);
        self.advance((target - now).whole_seconds() + 1).await;
    }

    /// `GET /sim/stats`.
    pub async fn sim_stats(&self) -> Value {
        self.http
            .get(format!("{}/sim/stats", self.sim))
            .send()
            .await
            .expect("sim stats")
            .json()
            .await
            .expect("json")
    }

    /// Sends an InvioPrescritto of `user` through the proxy as practice software does:
    /// (HTTP status, `X-Tsgate-Error`, body).
    pub async fn prescribe(&self, user: &str) -> (u16, Option<String>, String) {
        use base64::Engine as _;
        use sistemats::dem::{DemRequest as _, InvioPrescrittoRequest};
        let users: Vec<tsgate_sim::TestUser> = self
            .http
            .get(format!("{}/sim/users", self.sim))
            .send()
            .await
            .expect("sim users")
            .json()
            .await
            .expect("json");
        let doctor = users
            .iter()
            .find(|u| u.user_id == user)
            .expect("sim user")
            .clone();
        let pem = self
            .http
            .get(format!("{}/sim/certificate", self.sim))
            .send()
            .await
            .expect("certificate")
            .text()
            .await
            .expect("pem");
        let cert = sistemats::sanitel::SanitelCertificate::from_pem(&pem).expect("certificate");
        let titolare = tsgate_sim::sample::titolare_of(&doctor, &users);
        let request = tsgate_sim::sample::invio_prescritto(
            &doctor,
            titolare,
            tsgate_sim::sample::PATIENT_CF,
            "2026-12-14 09:30:00",
            |v| cert.encrypt(v),
        )
        .expect("encrypt");
        request.validate().expect("valid request");
        let service = InvioPrescrittoRequest::SERVICE;
        let basic = base64::engine::general_purpose::STANDARD
            .encode(format!("{}:{}", doctor.user_id, doctor.password));
        let res = self
            .http
            .post(format!("{}{}", self.proxy, service.path()))
            .header("Authorization", format!("Basic {basic}"))
            .header("Content-Type", "text/xml; charset=utf-8")
            .header("SOAPAction", format!("\"{}\"", service.soap_action()))
            .body(request.to_envelope())
            .send()
            .await
            .expect("proxy answers");
        let status = res.status().as_u16();
        let error = res
            .headers()
            .get("X-Tsgate-Error")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        (status, error, res.text().await.unwrap_or_default())
    }

    /// Runs a `tsgate` command on the demo's database (a configuration file naming the demo's
    /// data folder), feeding `stdin`: (exit code, stdout + stderr).
    pub fn cli(&self, args: &[&str], stdin: &str) -> (Option<i32>, String) {
        cli_on(&self.data_dir(), args, stdin)
    }
}

/// Runs a `tsgate` command on the database in `data_dir`, feeding `stdin`.
pub fn cli_on(data_dir: &std::path::Path, args: &[&str], stdin: &str) -> (Option<i32>, String) {
    use std::io::Write as _;
    std::fs::create_dir_all(data_dir).expect("data dir");
    let config = data_dir.join("cli.toml");
    std::fs::write(
        &config,
        format!(
            // Commands that change the database only: the upstream is never called.
            "data_dir = {:?}\nenvironment = \"custom\"\na2f_base = \"http://127.0.0.1:9\"\n\
             dem_base = \"http://127.0.0.1:9\"\n\
             sanitel_certificate_url = \"http://127.0.0.1:9/sim/certificate\"\n",
            data_dir.display().to_string()
        ),
    )
    .expect("config");
    let mut child = Command::new(env!("CARGO_BIN_EXE_tsgate"))
        .args(args)
        .arg("--config")
        .arg(&config)
        .env("RUST_LOG", "warn")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("tsgate starts");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(stdin.as_bytes())
        .expect("stdin");
    let out = child.wait_with_output().expect("tsgate ends");
    (
        out.status.code(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

/// The `tsgate demo` child, stopped on drop.
struct DemoProcess(Option<Child>);

impl Drop for DemoProcess {
    fn drop(&mut self) {
        if let Some(mut demo) = self.0.take() {
            // SIGTERM for a clean shutdown (watchers log out), then make sure.
            let _ = Command::new("kill")
                .args(["-TERM", &demo.id().to_string()])
                .status();
            let deadline = Instant::now() + Duration::from_secs(10);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = demo.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = demo.kill();
            let _ = demo.wait();
        }
    }
}
