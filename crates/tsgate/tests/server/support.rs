//! Processes and clients for the end-to-end tests: a `tsgate sim` process, a `tsgate serve`
//! process configured against it (users and workstation added with the CLI on the same data
//! folder), and helpers that speak the public API and the SOAP proxy as a workstation would.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine as _;
use serde_json::{Value, json};
use sistemats::dem::{
    DemRequest as _, DettaglioPrescrizione, EncryptedValue, InvioPrescrittoRequest,
};
use sistemats::sanitel::SanitelCertificate;

/// The binary under test (`TSGATE_E2E_BIN` overrides it, e.g. to test a release build).
pub fn bin() -> String {
    std::env::var("TSGATE_E2E_BIN").unwrap_or_else(|_| env!("CARGO_BIN_EXE_tsgate").to_owned())
}
/// The DEM path of InvioPrescritto.
pub const INVIO_PATH: &str = "/DemRicettaPrescrittoServicesWeb/services/demInvioPrescritto";
/// The SOAPAction of InvioPrescritto.
pub const INVIO_ACTION: &str =
    "\"http://invioprescritto.wsdl.dem.sanita.finanze.it/InvioPrescritto\"";
/// A patient fiscal code sent (encrypted) through the proxy: must never be seen in clear.
pub const PATIENT_CF: &str = "RSSMRA80A01H501U";

/// A free TCP port on loopback (bound and released: a tiny race, acceptable in tests).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("no free port")
}

/// A child process killed (SIGKILL) and reaped on drop.
pub struct Proc {
    child: Option<Child>,
    /// Where stdout and stderr go.
    pub log: PathBuf,
}

impl Proc {
    fn spawn(cmd: &mut Command, log: PathBuf) -> Self {
        let out = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)
            .expect("log file");
        let err = out.try_clone().expect("log file");
        let child = cmd
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .expect("cannot start tsgate");
        Self {
            child: Some(child),
            log,
        }
    }

    /// SIGKILL: no shutdown code runs.
    pub fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// SIGTERM, then waits for the process to end (its shutdown code runs).
    pub fn terminate(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = Command::new("kill")
                .args(["-TERM", &c.id().to_string()])
                .status();
            let deadline = Instant::now() + Duration::from_secs(20);
            while matches!(c.try_wait(), Ok(None)) && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Whether it is still running.
    pub fn running(&mut self) -> bool {
        self.child
            .as_mut()
            .is_some_and(|c| matches!(c.try_wait(), Ok(None)))
    }

    /// Everything it wrote so far.
    pub fn output(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// A plain HTTP client (no TLS in these tests).
pub fn http() -> reqwest::Client {
    sistemats::client::install_crypto_provider();
    reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .build()
        .expect("client")
}

async fn wait_ok(client: &reqwest::Client, url: &str, proc_: &mut Proc) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(r) = client.get(url).send().await
            && r.status().is_success()
        {
            return;
        }
        assert!(proc_.running(), "process exited:\n{}", proc_.output());
        assert!(
            Instant::now() < deadline,
            "{url} not ready:\n{}",
            proc_.output()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A simulator test identity from `/sim/users`.
#[derive(Clone, Debug)]
pub struct SimUser {
    pub user_id: String,
    pub cf: String,
    pub password: String,
    pub pin: String,
    pub region: String,
    pub asl: String,
}

/// A running `tsgate sim`.
pub struct Sim {
    /// Kept for its `Drop`: the simulator lives as long as the test's `Sim`.
    _proc: Proc,
    pub base: String,
    pub http: reqwest::Client,
    pub users: Vec<SimUser>,
    pub certificate: SanitelCertificate,
}

impl Sim {
    /// Starts a simulator in production mode with enforcement `block` (its defaults).
    pub async fn start(dir: &Path) -> Self {
        Self::start_with(dir, &[]).await
    }

    /// [`Sim::start`] with more arguments for `tsgate sim` (e.g. `--maildir`).
    pub async fn start_with(dir: &Path, extra: &[&str]) -> Self {
        let port = free_port();
        let mut proc_ = Proc::spawn(
            Command::new(bin())
                .args(["sim", "--listen", &format!("127.0.0.1:{port}")])
                .args(extra)
                .env("RUST_LOG", "warn"),
            dir.join("sim.log"),
        );
        let base = format!("http://127.0.0.1:{port}");
        let http = http();
        wait_ok(&http, &format!("{base}/sim/users"), &mut proc_).await;
        let list: Value = http
            .get(format!("{base}/sim/users"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let s = |u: &Value, k: &str| u[k].as_str().unwrap_or_default().to_owned();
        let users = list
            .as_array()
            .unwrap()
            .iter()
            .filter(|u| u["role"] != "farmacia")
            .map(|u| SimUser {
                user_id: s(u, "user_id"),
                cf: s(u, "cf"),
                password: s(u, "password"),
                pin: s(u, "pin"),
                region: s(u, "region"),
                asl: s(u, "asl"),
            })
            .collect();
        let pem = http
            .get(format!("{base}/sim/certificate"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let certificate = SanitelCertificate::from_pem(&pem).expect("sim certificate");
        Self {
            _proc: proc_,
            base,
            http,
            users,
            certificate,
        }
    }

    /// The titolare with a mailbox.
    pub fn doctor(&self) -> SimUser {
        self.users[0].clone()
    }

    /// `GET /sim/stats`.
    pub async fn stats(&self) -> Value {
        self.http
            .get(format!("{}/sim/stats", self.base))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    /// Upstream `create` calls that reached the simulator for `user`.
    pub async fn creates(&self, user: &str) -> u64 {
        self.stats().await["creates_by_user"][user]
            .as_u64()
            .unwrap_or(0)
    }

    /// Requests received for one operation (`create`, `checkToken`, `InvioPrescritto`, …).
    pub async fn operations(&self, op: &str) -> u64 {
        self.stats().await["operations"][op].as_u64().unwrap_or(0)
    }

    /// `POST /sim/control`.
    pub async fn control(&self, body: Value) {
        let r = self
            .http
            .post(format!("{}/sim/control", self.base))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert!(
            r.status().is_success(),
            "sim control {body}: {}",
            r.status()
        );
    }

    /// Injects one fault on `operation`.
    pub async fn fault(&self, operation: &str, kind: &str, delay_ms: Option<u64>) {
        let mut fault = json!({"operation": operation, "kind": kind, "count": 1});
        if let Some(ms) = delay_ms {
            fault["delay_ms"] = json!(ms);
        }
        self.control(json!({ "fault": fault })).await;
    }

    /// The newest ID-SESSIONE mailed to `user` (from `/sim/outbox.json`), if any.
    pub async fn latest_code(&self, user: &str) -> Option<String> {
        let mails: Value = self
            .http
            .get(format!("{}/sim/outbox.json", self.base))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let mut found: Vec<(String, String)> = mails
            .as_array()?
            .iter()
            .filter(|m| {
                m["body_text"]
                    .as_str()
                    .is_some_and(|b| b.contains(&format!("utente {user},")))
            })
            .filter_map(|m| {
                let body = m["body_text"].as_str()?;
                let code = body
                    .lines()
                    .find_map(|l| l.strip_prefix("ID-SESSIONE: "))?
                    .trim()
                    .to_owned();
                Some((m["sent_at"].as_str()?.to_owned(), code))
            })
            .collect();
        found.sort();
        found.pop().map(|(_, c)| c)
    }

    /// Waits for a code mailed to `user` different from `previous`.
    pub async fn wait_code(&self, user: &str, previous: Option<&str>) -> String {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(c) = self.latest_code(user).await
                && Some(c.as_str()) != previous
            {
                return c;
            }
            assert!(Instant::now() < deadline, "no code mailed to {user}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// Options of a gateway under test.
#[derive(Clone, Debug, Default)]
pub struct GatewayOptions {
    /// `RUST_LOG` of the server (default `info`).
    pub rust_log: Option<String>,
    /// Password stored for each user instead of the simulator's (to provoke a refusal).
    pub wrong_password: bool,
    /// `min_create_interval_seconds` (default: the product's default).
    pub min_create_interval_seconds: Option<u64>,
    /// `upstream_timeout_seconds`.
    pub upstream_timeout_seconds: Option<u64>,
    /// More of the configuration file, after the keys above (tables such as
    /// `[working_hours]`).
    pub extra_toml: Option<String>,
}

/// A `tsgate serve` process with its data folder, one admin workstation acting for the
/// simulator's doctors.
pub struct Gateway {
    pub proc_: Option<Proc>,
    pub dir: PathBuf,
    pub config: PathBuf,
    pub base: String,
    pub token: String,
    pub http: reqwest::Client,
    options: GatewayOptions,
    starts: usize,
}

impl Gateway {
    /// Configures a data folder under `dir` against `sim`, adds the doctors and a workstation
    /// with the CLI, and starts the server.
    pub async fn start(dir: &Path, sim: &Sim, options: GatewayOptions) -> Self {
        let port = free_port();
        let data = dir.join("data");
        let config = dir.join("tsgate.toml");
        let mut toml = format!(
            "listen = \"127.0.0.1:{port}\"\ndata_dir = \"{}\"\nenvironment = \"custom\"\n\
             a2f_base = \"{b}\"\ndem_base = \"{b}\"\nsanitel_certificate_url = \"{b}/sim/certificate\"\n",
            data.display(),
            b = sim.base
        );
        if let Some(s) = options.min_create_interval_seconds {
            toml.push_str(&format!("min_create_interval_seconds = {s}\n"));
        }
        if let Some(s) = options.upstream_timeout_seconds {
            toml.push_str(&format!("upstream_timeout_seconds = {s}\n"));
        }
        if let Some(extra) = &options.extra_toml {
            toml.push_str(extra);
            toml.push('\n');
        }
        std::fs::write(&config, toml).unwrap();
        for u in &sim.users {
            let password = if options.wrong_password {
                "Sbagliata.2026".to_owned()
            } else {
                u.password.clone()
            };
            let out = cli(
                &config,
                &[
                    "user",
                    "add",
                    "--id",
                    &u.user_id,
                    "--cf",
                    &u.cf,
                    "--region",
                    &u.region,
                    "--asl",
                    &u.asl,
                    "--specialization",
                    "F",
                ],
                &format!("{password}\n{}\n", u.pin),
            );
            assert!(out.status.success(), "user add: {out:?}");
        }
        let users: Vec<&str> = sim.users.iter().map(|u| u.user_id.as_str()).collect();
        let out = cli(
            &config,
            &[
                "workstation",
                "add",
                "--name",
                "Ambulatorio",
                "--role",
                "admin",
                "--users",
                &users.join(","),
            ],
            "",
        );
        assert!(out.status.success(), "workstation add: {out:?}");
        let stdout = String::from_utf8_lossy(&out.stdout);
        let token = stdout
            .lines()
            .find_map(|l| l.split_once("token (shown only now").map(|(_, t)| t))
            .and_then(|t| t.rsplit(' ').next())
            .expect("token printed")
            .trim()
            .to_owned();
        let mut gw = Self {
            proc_: None,
            dir: dir.to_owned(),
            config,
            base: format!("http://127.0.0.1:{port}"),
            token,
            http: http(),
            options,
            starts: 0,
        };
        gw.spawn().await;
        gw
    }

    /// Node `a` of several on one PostgreSQL `database`: its folder `dir/a`, the master key
    /// every node shares in `dir`. More nodes come from [`Gateway::another_node`].
    pub async fn first_node(
        dir: &Path,
        database: &str,
        sim: &Sim,
        mut options: GatewayOptions,
    ) -> Self {
        let shared = format!(
            "database_url = \"{database}\"\nmaster_key_file = \"{}\"\nnode_name = \"a\"",
            dir.join("master.key").display()
        );
        options.extra_toml = Some(match options.extra_toml.take() {
            Some(extra) => format!("{shared}\n{extra}"),
            None => shared,
        });
        let node = dir.join("a");
        std::fs::create_dir_all(&node).unwrap();
        Self::start(&node, sim, options).await
    }

    /// Another `tsgate serve` on the same database (a `database_url` in `extra_toml`): the
    /// same configuration with its own folder `dir` and port, so the same users, workstation
    /// and token. The process starts before this returns.
    pub async fn another_node(&self, dir: &Path) -> Self {
        std::fs::create_dir_all(dir).unwrap();
        let port = free_port();
        let toml: String = std::fs::read_to_string(&self.config)
            .unwrap()
            .lines()
            .map(|line| {
                if line.starts_with("listen = ") {
                    format!("listen = \"127.0.0.1:{port}\"\n")
                } else if line.starts_with("data_dir = ") {
                    format!("data_dir = \"{}\"\n", dir.join("data").display())
                } else if line.starts_with("node_name = ") {
                    // Each node its own name: it owns its leases and its requests.
                    let name = dir.file_name().and_then(|n| n.to_str()).unwrap_or("node");
                    format!("node_name = \"{name}\"\n")
                } else {
                    format!("{line}\n")
                }
            })
            .collect();
        let config = dir.join("tsgate.toml");
        std::fs::write(&config, toml).unwrap();
        let mut node = Self {
            proc_: None,
            dir: dir.to_owned(),
            config,
            base: format!("http://127.0.0.1:{port}"),
            token: self.token.clone(),
            http: http(),
            options: self.options.clone(),
            starts: 0,
        };
        node.spawn().await;
        node
    }

    /// A second client of the same server (no process of its own), e.g. with another token.
    pub fn clone_client(&self) -> Self {
        Self {
            proc_: None,
            dir: self.dir.clone(),
            config: self.config.clone(),
            base: self.base.clone(),
            token: self.token.clone(),
            http: self.http.clone(),
            options: self.options.clone(),
            starts: 0,
        }
    }

    /// Starts (again) `tsgate serve` on the same configuration and data folder.
    pub async fn spawn(&mut self) {
        self.starts += 1;
        let mut proc_ = Proc::spawn(
            Command::new(bin())
                .args(["serve", "--config"])
                .arg(&self.config)
                .env(
                    "RUST_LOG",
                    self.options.rust_log.as_deref().unwrap_or("info"),
                ),
            self.dir.join(format!("serve-{}.log", self.starts)),
        );
        wait_ok(&self.http, &format!("{}/readyz", self.base), &mut proc_).await;
        self.proc_ = Some(proc_);
    }

    /// Stops the server as systemd would (SIGTERM) and waits until it has ended.
    pub fn stop(&mut self) {
        if let Some(p) = &mut self.proc_ {
            p.terminate();
        }
    }

    /// SIGKILL of the server.
    pub fn kill9(&mut self) {
        if let Some(p) = &mut self.proc_ {
            p.kill9();
        }
    }

    /// Every log the server processes wrote.
    pub fn logs(&self) -> String {
        (1..=self.starts)
            .map(|i| {
                std::fs::read_to_string(self.dir.join(format!("serve-{i}.log"))).unwrap_or_default()
            })
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// The data folder.
    pub fn data_dir(&self) -> PathBuf {
        self.dir.join("data")
    }

    fn url(&self, path: &str) -> String {
        format!("{}/api/v1{path}", self.base)
    }

    /// An API call with the workstation token; returns (status, JSON or Null).
    pub async fn api(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut req = self
            .http
            .request(method, self.url(path))
            .bearer_auth(&self.token);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let r = req.send().await.expect("API call");
        let status = r.status().as_u16();
        let text = r.text().await.unwrap_or_default();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    /// `GET …/session`.
    pub async fn session(&self, user: &str) -> Value {
        let (status, v) = self
            .api(
                reqwest::Method::GET,
                &format!("/users/{user}/session"),
                None,
            )
            .await;
        assert_eq!(status, 200, "{v}");
        v
    }

    /// `POST …/session/request`.
    pub async fn request(&self, user: &str, replace: bool) -> (u16, Value) {
        self.api(
            reqwest::Method::POST,
            &format!("/users/{user}/session/request"),
            Some(json!({ "replace": replace })),
        )
        .await
    }

    /// `POST …/session/code`.
    pub async fn insert(&self, user: &str, code: &str) -> (u16, Value) {
        self.api(
            reqwest::Method::POST,
            &format!("/users/{user}/session/code"),
            Some(json!({ "code": code })),
        )
        .await
    }

    /// `DELETE …/session`.
    pub async fn revoke(&self, user: &str) -> (u16, Value) {
        self.api(
            reqwest::Method::DELETE,
            &format!("/users/{user}/session"),
            None,
        )
        .await
    }

    /// Request → code from the outbox → insert; asserts green.
    pub async fn make_active(&self, sim: &Sim, user: &str) -> String {
        let before = sim.latest_code(user).await;
        let (status, v) = self.request(user, true).await;
        assert_eq!(status, 202, "{v}");
        let code = sim.wait_code(user, before.as_deref()).await;
        let (status, v) = self.insert(user, &code).await;
        assert_eq!(status, 200, "{v}");
        let s = self.session(user).await;
        assert_eq!(s["level"], "green", "{s}");
        code
    }

    /// An InvioPrescritto for `doctor` through the proxy (Basic = the doctor's credentials).
    /// Returns (HTTP status, body).
    pub async fn proxy_invio(&self, sim: &Sim, doctor: &SimUser) -> (u16, String) {
        let body = invio_body(sim, doctor);
        let r = self
            .http
            .post(format!("{}/ts/{}{INVIO_PATH}", self.base, self.token))
            .header("Authorization", basic(doctor))
            .header("Content-Type", "text/xml; charset=UTF-8")
            .header("SOAPAction", INVIO_ACTION)
            .body(body)
            .send()
            .await
            .expect("proxy call");
        let status = r.status().as_u16();
        (status, r.text().await.unwrap_or_default())
    }
}

/// `Authorization: Basic …` of a doctor.
pub fn basic(doctor: &SimUser) -> String {
    let encoded = base64::engine::general_purpose::STANDARD
        .encode(format!("{}:{}", doctor.user_id, doctor.password));
    format!("Basic {encoded}")
}

/// A valid InvioPrescritto envelope (PIN and patient CF encrypted with the sim certificate).
pub fn invio_body(sim: &Sim, doctor: &SimUser) -> String {
    let cert = &sim.certificate;
    let invio = InvioPrescrittoRequest {
        pin_code: EncryptedValue::new(cert.encrypt(&doctor.pin).unwrap()),
        cf_medico1: doctor.cf.clone(),
        cod_regione: doctor.region.clone(),
        cod_asl_ao: doctor.asl.clone(),
        cod_specializzazione: "F".into(),
        codice_ass: Some(EncryptedValue::new(cert.encrypt(PATIENT_CF).unwrap())),
        tipo_prescrizione: "F".into(),
        data_compilazione: "2026-11-26 09:30:00".into(),
        tipo_visita: "A".into(),
        dettagli: vec![DettaglioPrescrizione {
            cod_gruppo_equival: Some("G3B".into()),
            descr_gruppo_equival: Some("PARACETAMOLO 500MG 20 UNITA' USO ORALE".into()),
            ..DettaglioPrescrizione::with_quantita(1)
        }],
        ..Default::default()
    };
    invio.validate().unwrap();
    invio.to_envelope()
}

/// The NRE of an accepted InvioPrescritto receipt.
pub fn nre_of(receipt: &str) -> Option<String> {
    let root = sistemats::xml::parse(receipt.as_bytes()).ok()?;
    let esito = root
        .find_local("codEsitoInserimento")?
        .text
        .trim()
        .to_owned();
    if esito != "0000" {
        return None;
    }
    root.find_local("nre")
        .map(|e| e.text.trim().to_owned())
        .filter(|n| !n.is_empty())
}

/// The `faultstring` of a SOAP Fault answer.
pub fn faultstring(body: &str) -> Option<String> {
    let root = sistemats::xml::parse(body.as_bytes()).ok()?;
    root.find_local("faultstring")
        .map(|e| e.text.trim().to_owned())
}

/// Runs a CLI command on `config`, feeding `stdin`.
pub fn cli(config: &Path, args: &[&str], stdin: &str) -> std::process::Output {
    cli_env(config, args, stdin, &[])
}

/// [`cli`] with more environment variables.
pub fn cli_env(
    config: &Path,
    args: &[&str],
    stdin: &str,
    env: &[(&str, &str)],
) -> std::process::Output {
    use std::io::Write as _;
    let mut child = Command::new(bin())
        .args(args)
        .arg("--config")
        .arg(config)
        .env("RUST_LOG", "warn")
        .envs(env.iter().copied())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("cli");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

/// A fresh temporary folder kept until the returned guard drops.
pub fn tempdir() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("tsgate-e2e-")
        .tempdir()
        .unwrap()
}
