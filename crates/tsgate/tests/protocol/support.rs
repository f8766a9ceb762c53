//! The test harness: one simulator per test, a `SistemaTsClient` pointed at it, the test
//! identities and certificate fetched over HTTP, typed helpers for every operation, and the
//! secret-leak ledger.

use std::fmt::{Debug, Display};
use std::sync::Mutex;
use std::time::Duration;

use serde_json::{Value, json};
use sistemats::a2f::{
    Application, CreateOutcome, CreateRequest, RevokeOutcome, TokenRequest, TokenStatus,
    UserIdentity, rome_offset,
};
use sistemats::client::{ClientConfig, Credentials, SistemaTsClient};
use sistemats::dem::{
    DemReceipt, DemRequest, DettaglioPrescrizione, EncryptedValue, InvioPrescrittoRequest,
    Sensitive, format_data_ora,
};
use sistemats::env::Environment;
use sistemats::erogatore::{Erogatore, ErogatoreReceipt, ErogatoreRequest, Testata};
use sistemats::error::Error;
use sistemats::sanitel::SanitelCertificate;
use sistemats::{Password, Pin, SessionCode};
use time::{OffsetDateTime, PrimitiveDateTime, UtcOffset};
use tsgate_sim::{Enforcement, Mode, RunningSim, SimConfig};

/// The patient of every test prescription (personal data: must never be printed).
pub const PATIENT_CF: &str = "RSSMRA80A01H501U";
/// The patient's name, sent in clear in `cognNome` (personal data as well).
pub const PATIENT_NAME: &str = "ROSSI MARIO";

/// One identity of `GET /sim/users`.
#[derive(Debug, Clone)]
pub struct SimUser {
    pub user_id: String,
    pub cf: String,
    pub password: Password,
    pub pin: Pin,
    pub region: String,
    pub asl: String,
    pub ssa: String,
    pub specialization: String,
    pub role: String,
    pub email: Option<String>,
}

impl SimUser {
    fn from_json(v: &Value) -> Self {
        let s = |k: &str| {
            v[k].as_str()
                .unwrap_or_else(|| panic!("/sim/users: field {k} missing"))
                .to_owned()
        };
        Self {
            user_id: s("user_id"),
            cf: s("cf"),
            password: Password::new(s("password")),
            pin: Pin::new(s("pin")),
            region: s("region"),
            asl: s("asl"),
            ssa: s("ssa"),
            specialization: s("specialization"),
            role: s("role"),
            email: v["email"].as_str().map(str::to_owned),
        }
    }

    /// Basic user, password and PIN.
    pub fn credentials(&self) -> Credentials {
        Credentials::new(&self.user_id, self.password.clone(), self.pin.clone())
    }

    /// The `applicazione` of this user's ID-SESSIONE: `EROGATORE` for a pharmacy.
    pub fn application(&self) -> Application {
        if self.role == "farmacia" {
            Application::Dispenser
        } else {
            Application::Prescriber
        }
    }

    /// A pharmacy's three codes, as the dispenser requests carry them.
    pub fn erogatore(&self) -> Erogatore {
        Erogatore::new(&self.region, &self.asl, &self.ssa)
    }

    /// The identity a doctor configures (user id, CF, region, ASL, SSA).
    pub fn identity(&self) -> UserIdentity {
        let mut identity = UserIdentity::new(&self.user_id, &self.cf, &self.region, &self.asl);
        identity.ssa = self.ssa.clone();
        identity
    }
}

/// Collects every formatted outcome and error of a test, and the secrets that must not
/// appear in them. One check for the whole suite: [`Ledger::assert_clean`].
#[derive(Debug, Default)]
struct Ledger {
    secrets: Vec<String>,
    texts: Vec<String>,
}

impl Ledger {
    fn assert_clean(&self) {
        assert!(!self.texts.is_empty(), "nothing was recorded");
        for secret in &self.secrets {
            for text in &self.texts {
                // Index only: the panic message must not print the secret either.
                if let Some(at) = text.find(secret.as_str()) {
                    panic!(
                        "a secret ({} characters) leaked at byte {at} of a formatted value of {} bytes",
                        secret.len(),
                        text.len()
                    );
                }
            }
        }
    }
}

/// The Italian local date and time now (what a doctor's software writes in
/// `dataCompilazione`, and how the simulator names the wildcard's month).
pub fn rome_now() -> PrimitiveDateTime {
    let utc = OffsetDateTime::now_utc();
    let guess = utc.to_offset(UtcOffset::from_hms(1, 0, 0).expect("offset"));
    let offset = rome_offset(PrimitiveDateTime::new(guess.date(), guess.time()));
    let local = utc.to_offset(offset);
    PrimitiveDateTime::new(local.date(), local.time())
}

/// A simulator, a client configured as a real deployment would be, and the ledger.
pub struct Harness {
    sim: Option<RunningSim>,
    pub base_url: String,
    http: reqwest::Client,
    pub cert: SanitelCertificate,
    pub users: Vec<SimUser>,
    pub client: SistemaTsClient,
    ledger: Mutex<Ledger>,
}

impl Harness {
    /// Starts a simulator with this mode and enforcement.
    pub async fn start(mode: Mode, enforcement: Enforcement) -> Self {
        Self::with_config(SimConfig {
            mode,
            enforcement,
            ..SimConfig::default()
        })
        .await
    }

    /// Starts a simulator and configures everything from its public endpoints.
    pub async fn with_config(config: SimConfig) -> Self {
        sistemats::client::install_crypto_provider();
        let sim = tsgate_sim::start(config).await.expect("simulator starts");
        let base_url = sim.base_url.clone();
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(20))
            .build()
            .expect("reqwest client");
        let pem = http
            .get(format!("{base_url}/sim/certificate"))
            .send()
            .await
            .expect("GET /sim/certificate")
            .text()
            .await
            .expect("certificate body");
        let cert = SanitelCertificate::from_pem(&pem).expect("the simulator's certificate loads");
        let users: Value = http
            .get(format!("{base_url}/sim/users"))
            .send()
            .await
            .expect("GET /sim/users")
            .json()
            .await
            .expect("users JSON");
        let users: Vec<SimUser> = users
            .as_array()
            .expect("users array")
            .iter()
            .map(SimUser::from_json)
            .collect();
        let client = client(&base_url, sistemats::client::DEFAULT_TIMEOUT);
        let mut ledger = Ledger::default();
        for u in &users {
            ledger.secrets.push(u.password.expose_secret().to_owned());
            ledger.secrets.push(u.pin.expose_secret().to_owned());
        }
        ledger.secrets.push(PATIENT_CF.to_owned());
        ledger.secrets.push(PATIENT_NAME.to_owned());
        Self {
            sim: Some(sim),
            base_url,
            http,
            cert,
            users,
            client,
            ledger: Mutex::new(ledger),
        }
    }

    /// Another client on the same simulator with a different total timeout.
    pub fn client_with_timeout(&self, timeout: Duration) -> SistemaTsClient {
        client(&self.base_url, timeout)
    }

    fn user_where(&self, what: &str, pred: impl Fn(&SimUser) -> bool) -> &SimUser {
        self.users
            .iter()
            .find(|u| pred(u))
            .unwrap_or_else(|| panic!("/sim/users has no {what}"))
    }

    /// A titolare with a certified e-mail.
    pub fn titolare(&self) -> &SimUser {
        self.user_where("titolare with e-mail", |u| {
            u.role == "titolare" && u.email.is_some()
        })
    }

    /// The substitute doctor.
    pub fn sostituto(&self) -> &SimUser {
        self.user_where("sostituto", |u| u.role == "sostituto")
    }

    /// The first test pharmacy.
    pub fn farmacia(&self) -> &SimUser {
        self.user_where("pharmacy", |u| u.role == "farmacia")
    }

    /// A second pharmacy, different from [`Self::farmacia`].
    pub fn altra_farmacia(&self) -> &SimUser {
        let first = self.farmacia().user_id.clone();
        self.user_where("second pharmacy", |u| {
            u.role == "farmacia" && u.user_id != first
        })
    }

    /// The doctor without a certified e-mail.
    pub fn without_mail(&self) -> &SimUser {
        self.user_where("user without e-mail", |u| u.email.is_none())
    }

    // ----- ledger -------------------------------------------------------------------------

    /// Adds a value that must never appear in formatted output.
    pub fn secret(&self, value: &str) {
        self.ledger.lock().unwrap().secrets.push(value.to_owned());
    }

    /// Records `{:?}` and `{}` of a value.
    pub fn record<T: Debug + Display + ?Sized>(&self, value: &T) {
        let mut ledger = self.ledger.lock().unwrap();
        ledger.texts.push(format!("{value:?}"));
        ledger.texts.push(format!("{value}"));
    }

    /// Records `{:?}` of a value without `Display` (typed outcomes, receipts).
    pub fn record_debug<T: Debug + ?Sized>(&self, value: &T) {
        self.ledger.lock().unwrap().texts.push(format!("{value:?}"));
    }

    /// Records an operation's result: `{:?}` of all of it, and `{}` of an error.
    pub fn record_result<T: Debug>(&self, result: &Result<T, Error>) {
        self.record_debug(result);
        if let Err(e) = result {
            self.record(e);
        }
    }

    /// Checks the ledger and stops the simulator. Every test ends with this.
    pub async fn finish(mut self) {
        self.ledger.lock().unwrap().assert_clean();
        if let Some(sim) = self.sim.take() {
            sim.stop().await.expect("simulator stops");
        }
    }

    // ----- /sim endpoints ------------------------------------------------------------------

    pub async fn get_json(&self, path: &str) -> Value {
        let response = self
            .http
            .get(format!("{}{path}", self.base_url))
            .send()
            .await
            .unwrap_or_else(|e| panic!("GET {path}: {e}"));
        assert!(response.status().is_success(), "GET {path}");
        response.json().await.expect("JSON")
    }

    /// `POST /sim/control`; returns the settings after the change.
    pub async fn control(&self, body: Value) -> Value {
        let response = self
            .http
            .post(format!("{}/sim/control", self.base_url))
            .json(&body)
            .send()
            .await
            .expect("POST /sim/control");
        assert_eq!(response.status(), 200, "control {body} refused");
        response.json().await.expect("control JSON")
    }

    pub async fn stats(&self) -> Value {
        self.get_json("/sim/stats").await
    }

    /// Requests received by the simulator for an operation (`create`, `InvioPrescritto`…).
    pub async fn op_count(&self, op: &str) -> u64 {
        self.stats().await["operations"][op].as_u64().unwrap_or(0)
    }

    /// Mails sent, newest first.
    pub async fn outbox(&self) -> Vec<Value> {
        self.get_json("/sim/outbox.json")
            .await
            .as_array()
            .expect("outbox array")
            .clone()
    }

    /// The ID-SESSIONE of the newest mail to this user, as a doctor copies it.
    pub async fn code_from_outbox(&self, user: &SimUser) -> SessionCode {
        let to = user.email.as_deref().expect("user has an e-mail");
        let mails = self.outbox().await;
        let mail = mails
            .iter()
            .find(|m| m["to"] == to)
            .expect("a mail to the user");
        let text = mail["body_text"].as_str().expect("body_text");
        let code = text
            .lines()
            .find_map(|l| l.trim().strip_prefix("ID-SESSIONE:"))
            .expect("the mail shows the ID-SESSIONE")
            .trim();
        self.secret(code);
        SessionCode::new(code)
    }

    // ----- A2F -----------------------------------------------------------------------------

    pub fn create_request(&self, user: &SimUser) -> CreateRequest {
        CreateRequest::new(&user.identity(), &user.pin, user.application(), &self.cert)
            .expect("valid create request")
    }

    pub async fn create_with(
        &self,
        credentials: &Credentials,
        request: &CreateRequest,
    ) -> Result<CreateOutcome, Error> {
        let result = self.client.create(credentials, request).await;
        if let Ok(CreateOutcome::Issued { code, .. }) = &result {
            self.secret(code.expose_secret());
        }
        self.record_result(&result);
        result
    }

    pub async fn create(&self, user: &SimUser) -> Result<CreateOutcome, Error> {
        self.create_with(&user.credentials(), &self.create_request(user))
            .await
    }

    /// A new ID-SESSIONE: from the answer in test mode, from the mail in production.
    pub async fn new_code(&self, user: &SimUser) -> SessionCode {
        match self.create(user).await.expect("create succeeds") {
            CreateOutcome::Issued { code, .. } => code,
            CreateOutcome::Sent { .. } => self.code_from_outbox(user).await,
            CreateOutcome::Refused(e) => panic!("create refused: {e:?}"),
        }
    }

    pub fn token_request(&self, user: &SimUser, code: &SessionCode) -> TokenRequest {
        TokenRequest::new(
            &user.identity(),
            &user.pin,
            code,
            user.application(),
            &self.cert,
        )
        .expect("valid token request")
    }

    pub async fn check(&self, user: &SimUser, code: &SessionCode) -> TokenStatus {
        let result = self
            .client
            .check_token(&user.credentials(), &self.token_request(user, code))
            .await;
        self.record_result(&result);
        result.expect("checkToken answers")
    }

    pub async fn revoke(&self, user: &SimUser, code: &SessionCode) -> RevokeOutcome {
        let result = self
            .client
            .revoke(&user.credentials(), &self.token_request(user, code))
            .await;
        self.record_result(&result);
        result.expect("revoke answers")
    }

    // ----- DEM -----------------------------------------------------------------------------

    /// Encrypts with the simulator's certificate (PIN, patient CF).
    pub fn encrypt(&self, clear: &str) -> EncryptedValue {
        EncryptedValue::new(self.cert.encrypt(clear).expect("RSA encryption"))
    }

    /// A one-line pharmaceutical prescription for the patient, compiled now by `sender`
    /// for `titolare` (a substitute when they differ).
    pub fn invio_request(&self, sender: &SimUser, titolare: &SimUser) -> InvioPrescrittoRequest {
        InvioPrescrittoRequest {
            pin_code: self.encrypt(sender.pin.expose_secret()),
            cf_medico1: titolare.cf.clone(),
            cf_medico2: (sender.cf != titolare.cf).then(|| sender.cf.clone()),
            cod_regione: titolare.region.clone(),
            cod_asl_ao: titolare.asl.clone(),
            cod_specializzazione: titolare.specialization.clone(),
            codice_ass: Some(self.encrypt(PATIENT_CF)),
            cogn_nome: Some(Sensitive::new(PATIENT_NAME)),
            tipo_prescrizione: "F".into(),
            data_compilazione: format_data_ora(rome_now()),
            tipo_visita: "A".into(),
            dettagli: vec![DettaglioPrescrizione {
                cod_gruppo_equival: Some("G3B".into()),
                descr_gruppo_equival: Some("LEVETIRACETAM 500MG 60 UNITA' USO ORALE".into()),
                quantita: "1".into(),
                ..Default::default()
            }],
            ..Default::default()
        }
    }

    /// Validates, sends and reads a DEM call with the given ID-SESSIONE (if any).
    pub async fn dem_with<Q: DemRequest + Debug, R: DemReceipt + Debug>(
        &self,
        client: &SistemaTsClient,
        user: &SimUser,
        request: &Q,
        code: Option<&SessionCode>,
    ) -> Result<R, Error> {
        assert_eq!(Q::SERVICE, R::SERVICE, "request and receipt of one service");
        self.record_debug(request);
        if let Err(problem) = request.validate() {
            panic!("test request not valid: {problem:?}");
        }
        let result = client
            .call_dem(
                &user.credentials(),
                Q::SERVICE.path(),
                Q::SERVICE.soap_action(),
                request.to_envelope(),
                code,
            )
            .await
            .map(|payload| {
                R::from_payload(&payload)
                    .unwrap_or_else(|e| panic!("{} receipt unreadable: {e:?}", R::SERVICE.name()))
            });
        self.record_result(&result);
        if let Ok(receipt) = &result {
            self.record(&receipt.outcome());
        }
        result
    }

    pub async fn dem<Q: DemRequest + Debug, R: DemReceipt + Debug>(
        &self,
        user: &SimUser,
        request: &Q,
        code: Option<&SessionCode>,
    ) -> R {
        self.dem_with(&self.client, user, request, code)
            .await
            .unwrap_or_else(|e| panic!("{} failed: {e:?}", Q::SERVICE.name()))
    }
}

impl Harness {
    // ----- DEM dispenser ---------------------------------------------------------------------

    /// The header of a dispenser request by `pharmacy` for `nre`, with the patient's fiscal
    /// code read from the health card (encrypted).
    pub fn testata(&self, pharmacy: &SimUser, nre: &sistemats::dem::Nre) -> Testata {
        let mut t = Testata::new(
            self.encrypt(pharmacy.pin.expose_secret()),
            pharmacy.erogatore(),
            nre,
        );
        t.cf_assistito = Some(self.encrypt(PATIENT_CF));
        t
    }

    /// Validates, sends and reads a dispenser call with the given ID-SESSIONE (if any).
    pub async fn erogatore<Q: ErogatoreRequest + Debug, R: ErogatoreReceipt + Debug>(
        &self,
        user: &SimUser,
        request: &Q,
        code: Option<&SessionCode>,
    ) -> R {
        assert_eq!(Q::SERVICE, R::SERVICE, "request and receipt of one service");
        self.record_debug(request);
        if let Err(problem) = request.validate() {
            panic!("test request not valid: {problem:?}");
        }
        let result = self
            .client
            .call_dem(
                &user.credentials(),
                Q::SERVICE.path(),
                Q::SERVICE.soap_action(),
                request.to_envelope(),
                code,
            )
            .await
            .map(|payload| {
                R::from_payload(&payload)
                    .unwrap_or_else(|e| panic!("{} receipt unreadable: {e:?}", R::SERVICE.name()))
            });
        self.record_result(&result);
        let receipt = result.unwrap_or_else(|e| panic!("{} failed: {e:?}", Q::SERVICE.name()));
        self.record(&receipt.outcome());
        receipt
    }
}

fn client(base_url: &str, timeout: Duration) -> SistemaTsClient {
    let environment =
        Environment::custom(base_url, base_url).expect("loopback is a valid custom environment");
    let mut config = ClientConfig::new(environment);
    config.timeout = timeout;
    config.connect_timeout = Duration::from_secs(5);
    SistemaTsClient::new(config).expect("client builds")
}

/// Switches the simulator's enforcement at run time.
pub async fn set_enforcement(h: &Harness, enforcement: &str) {
    let settings = h.control(json!({ "enforcement": enforcement })).await;
    assert_eq!(settings["enforcement"], enforcement);
}

#[test]
#[should_panic(expected = "a secret (13 characters) leaked")]
fn ledger_catches_a_leak() {
    let ledger = Ledger {
        secrets: vec!["Titolare.2026".into()],
        texts: vec!["harmless".into(), "Basic PROVA:Titolare.2026".into()],
    };
    ledger.assert_clean();
}

#[test]
fn ledger_accepts_masked_values() {
    let ledger = Ledger {
        secrets: vec!["Titolare.2026".into()],
        texts: vec![format!("{:?}", Password::new("Titolare.2026"))],
    };
    ledger.assert_clean();
}
