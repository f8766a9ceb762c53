use reqwest::StatusCode;
use reqwest::header::HeaderMap;
use sistemats::sanitel::SanitelCertificate;
use sistemats::xml::Element;
use tsgate_sim::{RunningSim, SimConfig};

pub const AUT: &str = "http://authservice.xsd.wsdl.auth.a2f.sts.sanita.finanze.it";
pub const DAT: &str = "http://datatype.xsd.wsdl.auth.a2f.sts.sanita.finanze.it";
pub const A2F_PATH: &str = "/a2f-auth-ws/soap/v1/authentication-service";
pub const TITOLARE: &str = "PROVAX00X00X000Y";
pub const SOSTITUTO: &str = "PROVAX00X00X000Z";
pub const NO_MAIL: &str = "PROVAX00X00X000W";

pub struct Env {
    pub sim: RunningSim,
    pub http: reqwest::Client,
    pub cert: SanitelCertificate,
    pub users: Vec<serde_json::Value>,
}

pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub text: String,
}

impl Reply {
    pub fn payload(&self) -> Element {
        match sistemats::soap::parse(self.text.as_bytes()).expect("SOAP") {
            sistemats::soap::Body::Payload(p) => p,
            sistemats::soap::Body::Fault(f) => panic!("unexpected fault {f:?}"),
        }
    }
    pub fn fault(&self) -> sistemats::soap::Fault {
        match sistemats::soap::parse(self.text.as_bytes()).expect("SOAP") {
            sistemats::soap::Body::Fault(f) => f,
            other => panic!("expected a fault, got {other:?}"),
        }
    }
    /// Top-level text by local name.
    pub fn value(&self, name: &str) -> String {
        self.payload()
            .find_local(name)
            .map(|e| e.text.clone())
            .unwrap_or_default()
    }
    /// Codes of all error entries (A2F `errore` or DEM `ErroreRicetta`).
    pub fn error_codes(&self) -> Vec<String> {
        fn walk(e: &Element, out: &mut Vec<String>) {
            if e.name == "errore" || e.name == "ErroreRicetta" || e.name == "Errore" {
                out.push(
                    e.child_text_local("codEsito")
                        .unwrap_or_default()
                        .to_owned(),
                );
            }
            for c in &e.children {
                walk(c, out);
            }
        }
        let mut out = Vec::new();
        walk(&self.payload(), &mut out);
        out
    }
}

impl Env {
    pub async fn new(config: SimConfig) -> Env {
        let sim = tsgate_sim::start(config).await.expect("start");
        sistemats::client::install_crypto_provider();
        let http = reqwest::Client::new();
        let pem = get_text(&http, &format!("{}/sim/certificate", sim.base_url)).await;
        let cert = SanitelCertificate::from_pem(&pem).expect("certificate readable by sistemats");
        let users =
            serde_json::from_str(&get_text(&http, &format!("{}/sim/users", sim.base_url)).await)
                .unwrap();
        Env {
            sim,
            http,
            cert,
            users,
        }
    }

    pub async fn test_mode() -> Env {
        Env::new(SimConfig {
            mode: tsgate_sim::Mode::Test,
            ..SimConfig::default()
        })
        .await
    }

    pub fn user(&self, id: &str) -> &serde_json::Value {
        self.users
            .iter()
            .find(|u| u["user_id"] == id)
            .expect("user")
    }

    pub fn field(&self, id: &str, name: &str) -> String {
        self.user(id)[name].as_str().unwrap_or_default().to_owned()
    }

    pub fn enc(&self, clear: &str) -> String {
        self.cert.encrypt(clear).unwrap()
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.sim.base_url, path)
    }

    pub async fn get_text(&self, path: &str) -> String {
        get_text(&self.http, &self.url(path)).await
    }

    pub async fn get_json(&self, path: &str) -> serde_json::Value {
        serde_json::from_str(&self.get_text(path).await).unwrap()
    }

    pub async fn control(&self, body: serde_json::Value) -> serde_json::Value {
        let response = self
            .http
            .post(self.url("/sim/control"))
            .header("Content-Type", "application/json")
            .body(body.to_string())
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        serde_json::from_str(&response.text().await.unwrap()).unwrap()
    }

    /// Raw SOAP POST with the user's own password (or `password`), optional Authorization2F.
    pub async fn post_raw(
        &self,
        path: &str,
        action: &str,
        basic: Option<(&str, &str)>,
        auth2f: Option<&str>,
        body: String,
    ) -> Result<Reply, reqwest::Error> {
        let mut request = self
            .http
            .post(self.url(path))
            .header("Content-Type", "text/xml;charset=UTF-8")
            .header("SOAPAction", format!("\"{action}\""))
            .body(body);
        if let Some((user, password)) = basic {
            request = request.basic_auth(user, Some(password));
        }
        if let Some(code) = auth2f {
            request = request.header("Authorization2F", format!("Bearer {code}"));
        }
        let response = request.send().await?;
        let status = response.status();
        let headers = response.headers().clone();
        let text = response.text().await?;
        Ok(Reply {
            status,
            headers,
            text,
        })
    }

    pub async fn post(
        &self,
        user: &str,
        path: &str,
        action: &str,
        auth2f: Option<&str>,
        body: String,
    ) -> Reply {
        let password = self.field(user, "password");
        self.post_raw(path, action, Some((user, &password)), auth2f, body)
            .await
            .expect("HTTP")
    }
}

async fn get_text(http: &reqwest::Client, url: &str) -> String {
    http.get(url).send().await.unwrap().text().await.unwrap()
}

pub fn envelope(namespaces: &[(&str, &str)], payload: &str) -> String {
    sistemats::soap::envelope(namespaces, payload)
}

pub fn a2f_action(op: &str) -> String {
    format!("http://wsdl.auth.a2f.sts.sanita.finanze.it/{op}")
}
