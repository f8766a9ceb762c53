//! `tsgate demo`: the simulator and the gateway on loopback, with an embedded SQLite
//! database in a local folder, seeded with the simulator's test doctors and one workstation.
//!
//! Without `--sim-maildir`/`--imap`, the titolare's mail is read as the simulator sends it
//! ([`mail`]) and his codes are requested automatically; the substitute pastes his. With
//! `--imap` both use the real IMAP server (and automatic requests follow their mailbox). `--play-week` plays a working week in a minute ([`week`]).

mod mail;
mod pharmacy;
mod week;

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, anyhow};
use serde::Serialize;
use sistemats::client::{ClientConfig, SistemaTsClient};
use sistemats::env::Environment;
use sistemats::sanitel::SanitelCertificate;
use sistemats::{Password, Pin};
use tsgate_mailbox::MailboxSettings;
use tsgate_session::Actor;
use tsgate_session::audit::AdminAction;
use tsgate_session::auto::{AutoMode, UserSchedule};
use tsgate_session::mailbox::UserMailbox;
use tsgate_session::{Role, UserId, UserProfile};
use tsgate_session::{
    ScheduleRepo as _, UserDirectory as _, WorkstationRepo as _, WorkstationRole, WorkstationToken,
};
use tsgate_sim::{SimConfig, TestUser};
use tsgate_store::AnyStore;

use super::secrets::{Secret, read_secret};
use super::user::audit_as;
use super::{Failure, Pace, run_gateway};
use crate::app;
use crate::cli::{DemoArgs, ImapSecurity};
use crate::config::{Config, UpstreamKind};
use crate::upstream::SistemaTsUpstream;
use tsgate_session::PracticeRepo as _;

/// The demo's clock can jump hours at a time: periodic work runs every second, so that a
/// moved clock shows on the cards at once.
const DEMO_TICK: Duration = Duration::from_secs(1);

/// The simulator's clock as the gateway's: real time plus the offset `/sim/control` moves.
#[derive(Debug)]
struct SimTime(Arc<tsgate_sim::state::Sim>);

impl tsgate_session::Clock for SimTime {
    fn now(&self) -> time::OffsetDateTime {
        self.0.clock.now().to_offset(time::UtcOffset::UTC)
    }
}

/// What `demo.json` contains (the contract of INTERFACES.md).
#[derive(Debug, Serialize, serde::Deserialize)]
pub struct DemoInfo {
    /// The web UI.
    pub ui_url: String,
    /// One-click sign-in for the browser.
    pub login_url: String,
    /// The simulator (its outbox is at `<sim_url>/sim/outbox`).
    pub sim_url: String,
    /// The simulator's outbox page.
    pub outbox_url: String,
    /// The demo workstation's token (admin, acting for both test doctors).
    pub workstation_token: String,
    /// The seeded Sistema TS users.
    pub users: Vec<DemoUser>,
    /// Base URL for practice software: `<proxy_url>/<path of the DEM service>`.
    pub proxy_url: String,
    /// The pharmacy next to the practice, with its two counters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pharmacy: Option<pharmacy::DemoPharmacy>,
}

/// One seeded user.
#[derive(Debug, Serialize, serde::Deserialize)]
pub struct DemoUser {
    /// Sistema TS user id.
    pub user_id: String,
    /// titolare or sostituto.
    pub role: String,
}

/// Runs the demo until Ctrl-C.
pub async fn run(args: DemoArgs) -> Result<(), Failure> {
    let started = Instant::now();
    if !(args.code_validity.is_finite() && args.code_validity > 0.0 && args.code_validity <= 720.0)
    {
        return Err(Failure::Config(anyhow!(
            "--code-validity must be a number of hours between 0 and 720, got {}",
            args.code_validity
        )));
    }
    std::fs::create_dir_all(&args.data_dir)
        .with_context(|| format!("cannot create {}", args.data_dir.display()))
        .map_err(Failure::Config)?;
    // The simulator on the next port when it is free (a stable address for bookmarks),
    // otherwise on any free port.
    let sim_config = |port: u16| SimConfig {
        listen: ([127, 0, 0, 1], port).into(),
        maildir: args.sim_maildir.clone(),
        data_dir: Some(args.data_dir.join("sim")),
        validity: Duration::from_secs_f64(args.code_validity * 3600.0),
        ..SimConfig::default()
    };
    let sim = match tsgate_sim::start(sim_config(args.port.wrapping_add(1))).await {
        Ok(sim) => sim,
        Err(_) => tsgate_sim::start(sim_config(0))
            .await
            .map_err(|e| Failure::Config(e.context("cannot start the simulator")))?,
    };

    let config = Config {
        listen: ([127, 0, 0, 1], args.port).into(),
        data_dir: args.data_dir.clone(),
        environment: UpstreamKind::Custom,
        a2f_base: Some(sim.base_url.clone()),
        dem_base: Some(sim.base_url.clone()),
        sanitel_certificate_url: Some(format!("{}/sim/certificate", sim.base_url)),
        // Demo users click quickly: a few seconds between two requests are enough to show
        // the rule without making the tour tedious.
        min_create_interval_seconds: args.min_create_interval,
        ..Config::default()
    };
    let store = app::open_store(&config).await.map_err(Failure::Config)?;
    let certificate = SanitelCertificate::from_pem(sim.sim.keys.certificate_pem())
        .context("simulator certificate")
        .map_err(Failure::Config)?;
    let client = SistemaTsClient::new(ClientConfig::new(
        Environment::custom(sim.base_url.as_str(), sim.base_url.as_str())
            .map_err(|e| Failure::Config(e.into()))?,
    ))
    .map_err(|e| Failure::Config(e.into()))?;
    let upstream = SistemaTsUpstream::new(client, Arc::new(certificate));
    // One clock for the simulator and the gateway: moving the simulated time
    // (`POST /sim/control`) moves the cards, expiry and automatic requests too.
    let manager = app::manager_with(
        store.clone(),
        Arc::new(upstream),
        app::policy(&config),
        &app::node_name(),
        Arc::new(SimTime(sim.sim.clone())),
        None,
    );

    // Without a real mail path (--sim-maildir for an IMAP server) the titolare's and the
    // pharmacy's codes come by themselves through the demo mailbox.
    let demo_mailbox = args.imap.is_none() && args.sim_maildir.is_none();
    let users = seed_users(&store, &sim.sim.users, demo_mailbox)
        .await
        .map_err(Failure::Config)?;
    let reader = demo_mailbox.then(|| {
        mail::spawn_reader(
            sim.sim.mailer.subscribe(),
            manager.clone(),
            read_by_the_demo(&sim.sim.users),
        )
    });
    let token = demo_token(&store, &args.data_dir, &users)
        .await
        .map_err(Failure::Config)?;
    if let Some(imap) = &args.imap {
        set_demo_mailboxes(&store, &sim.sim.users, imap, args.imap_security)
            .await
            .map_err(Failure::Config)?;
    }

    let gateway = app::gateway_config(&config).map_err(Failure::Config)?;
    let listener = gateway
        .bind()
        .await
        .with_context(|| {
            format!(
                "cannot listen on {} (another program uses it? try --port)",
                config.listen
            )
        })
        .map_err(Failure::Config)?;
    let ui_url = format!(
        "http://{}",
        listener
            .local_addr()
            .map_err(|e| Failure::Config(e.into()))?
    );
    let previous = std::fs::read(args.data_dir.join("demo.json"))
        .ok()
        .and_then(|bytes| serde_json::from_slice::<DemoInfo>(&bytes).ok());
    let pharmacy = pharmacy::seed(
        &store,
        &sim.sim.users,
        &ui_url,
        previous.as_ref().and_then(|p| p.pharmacy.as_ref()),
    )
    .await
    .map_err(Failure::Config)?;
    let info = DemoInfo {
        pharmacy,
        login_url: format!("{ui_url}/login?token={}", token.expose_secret()),
        proxy_url: format!("{ui_url}/ts/{}", token.expose_secret()),
        ui_url,
        outbox_url: format!("{}/sim/outbox", sim.base_url),
        sim_url: sim.base_url.clone(),
        workstation_token: token.expose_secret().to_owned(),
        users,
    };
    let json_path = args.data_dir.join("demo.json");
    write_private(
        &json_path,
        &serde_json::to_vec_pretty(&info).map_err(|e| Failure::Config(e.into()))?,
    )
    .map_err(Failure::Config)?;

    let pace = Pace {
        tick: DEMO_TICK,
        file_hours: None,
    };
    // The played week's outcome (`Some` once it is over, then `None` inside if it could not
    // be played); it also ends the demo. Without a week only Ctrl-C does.
    let (week_done, week_result) = tokio::sync::watch::channel(None::<Option<week::WeekReport>>);
    let stop = {
        let mut over = week_result.clone();
        async move {
            if over.wait_for(Option::is_some).await.is_err() {
                std::future::pending::<()>().await;
            }
        }
    };
    let served = run_gateway(
        gateway,
        listener,
        &store,
        &manager,
        pace,
        &config,
        |pilot| {
            print_banner(&info, &json_path, started.elapsed());
            if !args.no_browser {
                open_browser(&info.login_url);
            }
            if args.play_week {
                let player = week::Player::new(
                    sim.sim.clone(),
                    manager.clone(),
                    pilot.clone(),
                    info.proxy_url.clone(),
                    info.users
                        .iter()
                        .filter_map(|u| UserId::new(u.user_id.as_str()).ok())
                        .collect(),
                    Duration::from_millis(args.play_pace_ms),
                );
                let report_path = args.data_dir.join("week.json");
                tokio::spawn(async move {
                    let report = play_week(player, &report_path).await;
                    let _ = week_done.send(Some(report));
                });
            }
        },
        stop,
    )
    .await;
    if let Some(reader) = reader {
        reader.abort();
    }
    let _ = sim.stop().await;
    served?;
    if args.play_week {
        let report = week_result.borrow().clone().flatten();
        match report {
            Some(r) if r.clean() => {}
            Some(r) => {
                return Err(Failure::Refused(anyhow!(
                    "{} ricette rifiutate nella settimana simulata",
                    r.refused
                )));
            }
            None => {
                return Err(Failure::Refused(anyhow!(
                    "la settimana simulata non è finita"
                )));
            }
        }
    }
    Ok(())
}

/// Plays the week with the demo doctors whose automatic requests are on, prints the report
/// and writes it to `report_path`. `None` when it could not be played.
async fn play_week(
    player: anyhow::Result<week::Player>,
    report_path: &Path,
) -> Option<week::WeekReport> {
    let played = match player {
        Ok(player) => player.play().await,
        Err(e) => Err(e),
    };
    match played {
        Ok(report) => {
            week::print_report(&report);
            match serde_json::to_vec_pretty(&report) {
                Ok(json) => {
                    if let Err(e) = write_private(report_path, &json) {
                        eprintln!("{e:#}");
                    }
                }
                Err(e) => eprintln!("cannot write the week report: {e}"),
            }
            Some(report)
        }
        Err(e) => {
            eprintln!("the simulated week stopped: {e:#}");
            None
        }
    }
}

/// The users whose mail the demo mailbox reads: the simulator's titolari and its pharmacy
/// with a certified address (the substitute pastes his codes).
fn read_by_the_demo(sim_users: &[TestUser]) -> Vec<(String, UserId)> {
    sim_users
        .iter()
        .filter(|u| {
            matches!(
                u.role,
                tsgate_sim::Role::Titolare | tsgate_sim::Role::Farmacia
            )
        })
        .filter_map(|u| Some((u.email.clone()?, UserId::new(u.user_id.as_str()).ok()?)))
        .collect()
}

/// Adds the simulator's titolare and substitute (with their credentials) if missing.
async fn seed_users(
    store: &AnyStore,
    sim_users: &[TestUser],
    titolare_auto: bool,
) -> anyhow::Result<Vec<DemoUser>> {
    let mut seeded = Vec::new();
    for user in sim_users {
        let role = match user.role {
            tsgate_sim::Role::Titolare => Role::Titolare,
            tsgate_sim::Role::Sostituto => Role::Sostituto,
            _ => continue,
        };
        // Only users who can receive a code (the simulator also has one without e-mail).
        if user.email.is_none() {
            continue;
        }
        let id =
            UserId::new(user.user_id.as_str()).map_err(|_| anyhow!("bad simulator user id"))?;
        if store.user(&id).await?.is_none() {
            let profile = UserProfile {
                user_id: id.clone(),
                fiscal_code: user.cf.clone(),
                region: user.region.clone(),
                asl: user.asl.clone(),
                ssa: user.ssa.clone(),
                specialization: Some(user.specialization.clone()),
                display_name: Some(match role {
                    Role::Titolare => "Dott.ssa Prova (titolare)".to_owned(),
                    _ => "Dott. Prova (sostituto)".to_owned(),
                }),
                environment: tsgate_session::Environment::Test,
                role,
                password_changed_at: Some(time::OffsetDateTime::now_utc().date()),
            };
            store.put_user(&profile).await?;
            store
                .set_credentials(
                    &id,
                    &Password::new(user.password.as_str()),
                    &Pin::new(user.pin.as_str()),
                    None,
                )
                .await?;
            store
                .add_member(&tsgate_session::PracticeId::default_practice(), &id)
                .await?;
            audit_as(
                store,
                Actor::System,
                AdminAction::UserAdded,
                Some(&id),
                "demo",
            )
            .await?;
            // The demo mailbox reads the titolare's mail: his codes are requested for him.
            if titolare_auto && role == Role::Titolare {
                let schedule = UserSchedule {
                    auto: AutoMode::On,
                    hours: None,
                };
                store.set_schedule(&id, &schedule).await?;
            }
        }
        seeded.push(DemoUser {
            user_id: user.user_id.clone(),
            role: role.as_str().to_owned(),
        });
    }
    Ok(seeded)
}

/// Points every demo user's mailbox at the IMAP server `imap` (`HOST:PORT`) that serves the
/// simulator's Maildirs: login = the user's simulator address, one password for all.
async fn set_demo_mailboxes(
    store: &AnyStore,
    sim_users: &[TestUser],
    imap: &str,
    security: ImapSecurity,
) -> anyhow::Result<()> {
    let (host, port) = imap
        .rsplit_once(':')
        .and_then(|(h, p)| {
            Some((
                h.trim_start_matches('[').trim_end_matches(']'),
                p.parse::<u16>().ok()?,
            ))
        })
        .ok_or_else(|| anyhow!("--imap must be HOST:PORT, e.g. 127.0.0.1:10143"))?;
    let password = match std::env::var(DEMO_IMAP_PASSWORD_ENV) {
        Ok(p) if !p.is_empty() => p,
        _ => read_secret(Secret::only("IMAP password of the demo users"))?,
    };
    for user in sim_users {
        let (Some(email), Ok(id)) = (&user.email, UserId::new(user.user_id.as_str())) else {
            continue;
        };
        if store.user(&id).await?.is_none() {
            continue;
        }
        let mut settings = MailboxSettings::new(
            host,
            security.tls(),
            email.as_str(),
            Password::new(password.as_str()),
        );
        settings.port = Some(port);
        settings.validate().map_err(|e| anyhow!("--imap: {e}"))?;
        let mailbox = UserMailbox {
            settings,
            address: Some(email.clone()),
        };
        tsgate_mailbox::bridge::save(store, &id, &mailbox).await?;
    }
    Ok(())
}

/// Environment variable with the IMAP password of the demo users (`--imap`).
pub const DEMO_IMAP_PASSWORD_ENV: &str = "TSGATE_DEMO_IMAP_PASSWORD";

/// The demo workstation's token: the one in an earlier `demo.json` if it still works,
/// otherwise a new admin workstation acting for the seeded users.
async fn demo_token(
    store: &AnyStore,
    data_dir: &Path,
    users: &[DemoUser],
) -> anyhow::Result<WorkstationToken> {
    if let Ok(bytes) = std::fs::read(data_dir.join("demo.json"))
        && let Ok(previous) = serde_json::from_slice::<DemoInfo>(&bytes)
    {
        let token = WorkstationToken::new(previous.workstation_token);
        if store.authenticate(&token).await?.is_some() {
            return Ok(token);
        }
    }
    let ids = users
        .iter()
        .map(|u| UserId::new(u.user_id.as_str()).map_err(|_| anyhow!("bad user id")))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let (workstation, token) = store
        .create_workstation("Demo (ambulatorio)", WorkstationRole::Admin, &ids)
        .await?;
    // What the demo sets up is in the audit too, by `system`.
    audit_as(
        store,
        Actor::System,
        AdminAction::WorkstationAdded,
        None,
        format!("workstation {} (admin), demo", workstation.id),
    )
    .await?;
    Ok(token)
}

/// Writes a file readable by its owner only (it holds a workstation token).
fn write_private(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    std::fs::write(path, bytes).with_context(|| format!("cannot write {}", path.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
    }
    Ok(())
}

fn print_banner(info: &DemoInfo, json_path: &Path, elapsed: Duration) {
    println!();
    println!("tsgate demo ready in {} ms", elapsed.as_millis());
    println!();
    println!("  Web UI (sign-in link):  {}", info.login_url);
    println!("  Simulator outbox:       {}", info.outbox_url);
    println!("  SOAP proxy base URL:    {}", info.proxy_url);
    println!("  Workstation token:      {}", info.workstation_token);
    for user in &info.users {
        println!("  Test user:              {} ({})", user.user_id, user.role);
    }
    if let Some(pharmacy) = &info.pharmacy {
        println!("  Pharmacy:               {} (farmacia)", pharmacy.user_id);
        for counter in &pharmacy.counters {
            println!(
                "    {:<21} {}",
                format!("{}:", counter.name),
                counter.login_url
            );
        }
    }
    println!("  Same data as JSON:      {}", json_path.display());
    println!();
    println!("Press Ctrl-C to stop.");
}

/// Best effort: only where a graphical session exists.
fn open_browser(url: &str) {
    let graphical =
        std::env::var_os("DISPLAY").is_some() || std::env::var_os("WAYLAND_DISPLAY").is_some();
    if !graphical && !cfg!(target_os = "macos") {
        return;
    }
    let opener = if cfg!(target_os = "macos") {
        "open"
    } else {
        "xdg-open"
    };
    let _ = std::process::Command::new(opener)
        .arg(url)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn();
}
