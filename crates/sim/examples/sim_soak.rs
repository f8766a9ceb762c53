//! The simulator alone, for `bench/sim-soak.sh`: starts it in test mode with a limit on
//! stored prescriptions, writes `count` InvioPrescritto requests for its titolare (each with
//! its own RSA-encrypted PIN and patient fiscal code, empty NRE) and `headers.txt` (Basic
//! and a real ID-SESSIONE issued by the simulator's own store) into `dir`, prints
//! `ready <base URL>`, and serves until it is killed.
//!
//! Building only this crate keeps the benchmark's release build small; `tsgate sim
//! --max-prescriptions N` runs the same simulator.
//!
//! Usage: `sim_soak <listen address> <max prescriptions> <dir> <count>`.

use std::path::PathBuf;

use anyhow::{Context, bail};
use base64::Engine as _;
use sistemats::dem::DemRequest;
use tsgate_sim::sync::lock;
use tsgate_sim::{Mode, Role, SimConfig};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let [_, listen, max, dir, count] = args.as_slice() else {
        bail!("usage: sim_soak <listen address> <max prescriptions> <dir> <count>");
    };
    let count: usize = count.parse().context("count")?;
    let dir = PathBuf::from(dir);
    std::fs::create_dir_all(&dir)?;
    let running = tsgate_sim::start(SimConfig {
        listen: listen.parse().context("listen address")?,
        mode: Mode::Test,
        max_prescriptions: max.parse().context("max prescriptions")?,
        ..SimConfig::default()
    })
    .await?;
    let sim = &running.sim;
    let doctor = sim
        .users
        .iter()
        .find(|u| u.role == Role::Titolare)
        .context("no titolare")?;
    let (code, _) = lock(&sim.tokens).create(
        &doctor.user_id,
        "RICETTA-DEM",
        "PRESCRITTORE",
        sim.clock.now(),
        time::Duration::hours(16),
    );
    let basic = base64::engine::general_purpose::STANDARD
        .encode(format!("{}:{}", doctor.user_id, doctor.password));
    std::fs::write(
        dir.join("headers.txt"),
        format!("Authorization: Basic {basic}\nAuthorization2F: Bearer {code}\n"),
    )?;
    for i in 0..count {
        let patient = format!("RSSMRA80A01H501{}", (b'A' + (i % 26) as u8) as char);
        let invio = tsgate_sim::sample::invio_prescritto(
            doctor,
            doctor,
            &patient,
            "2026-11-26 09:30:00",
            |v| sim.keys.encrypt_b64(v),
        )?;
        invio.validate()?;
        std::fs::write(dir.join(format!("body-{i}.xml")), invio.to_envelope())?;
    }
    println!("ready {}", running.base_url);
    std::future::pending::<()>().await;
    Ok(())
}
