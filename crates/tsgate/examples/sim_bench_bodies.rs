//! Writes InvioPrescritto requests for the simulator throughput benchmark
//! (`bench/sim-throughput.sh`): one file per request, each with a freshly encrypted PIN
//! and patient fiscal code (so the simulator really decrypts them), plus the headers
//! (Basic and a real ID-SESSIONE obtained from the simulator in test mode).
//!
//! Usage: `sim_bench_bodies <sim base URL> <output dir> <count>`.

use std::path::PathBuf;

use anyhow::{Context, bail};
use base64::Engine as _;
use sistemats::a2f::{Application, CreateOutcome, CreateRequest, UserIdentity};
use sistemats::client::{ClientConfig, Credentials, SistemaTsClient, install_crypto_provider};
use sistemats::dem::DemRequest;
use sistemats::env::Environment;
use sistemats::sanitel::SanitelCertificate;
use sistemats::{Password, Pin};

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    install_crypto_provider();
    let args: Vec<String> = std::env::args().collect();
    let [_, base, out, count] = args.as_slice() else {
        bail!("usage: sim_bench_bodies <sim base URL> <output dir> <count>");
    };
    let count: usize = count.parse().context("count")?;
    let out = PathBuf::from(out);
    std::fs::create_dir_all(&out)?;

    let http = reqwest::Client::new();
    let users: serde_json::Value = http
        .get(format!("{base}/sim/users"))
        .send()
        .await?
        .json()
        .await?;
    let doctor = users
        .as_array()
        .and_then(|a| a.iter().find(|u| u["role"] == "titolare"))
        .context("no titolare in /sim/users")?;
    let text = |k: &str| doctor[k].as_str().unwrap_or_default().to_owned();
    let sender: tsgate_sim::TestUser = serde_json::from_value(doctor.clone())?;
    let cert_pem = http
        .get(format!("{base}/sim/certificate"))
        .send()
        .await?
        .text()
        .await?;
    let cert = SanitelCertificate::from_pem(&cert_pem)?;

    let client = SistemaTsClient::new(ClientConfig::new(Environment::custom(
        base.as_str(),
        base.as_str(),
    )?))?;
    let pin = Pin::new(text("pin"));
    let creds = Credentials::new(
        text("user_id"),
        Password::new(text("password")),
        pin.clone(),
    );
    let identity = UserIdentity::new(text("user_id"), text("cf"), text("region"), text("asl"));
    let request = CreateRequest::new(&identity, &pin, Application::Prescriber, &cert)?;
    let code = match client.create(&creds, &request).await? {
        CreateOutcome::Issued { code, .. } => code,
        other => bail!("start the simulator with --mode test (create answered {other:?})"),
    };

    let basic = base64::engine::general_purpose::STANDARD.encode(format!(
        "{}:{}",
        text("user_id"),
        text("password")
    ));
    std::fs::write(
        out.join("headers.txt"),
        format!(
            "Authorization: Basic {basic}\nAuthorization2F: Bearer {}\n",
            code.expose_secret()
        ),
    )?;
    for i in 0..count {
        let patient = format!("RSSMRA80A01H501{}", (b'A' + (i % 26) as u8) as char);
        let invio = tsgate_sim::sample::invio_prescritto(
            &sender,
            &sender,
            &patient,
            "2026-11-26 09:30:00",
            |v| cert.encrypt(v),
        )?;
        invio.validate()?;
        std::fs::write(out.join(format!("body-{i}.xml")), invio.to_envelope())?;
    }
    println!("wrote {count} bodies and headers.txt to {}", out.display());
    Ok(())
}
