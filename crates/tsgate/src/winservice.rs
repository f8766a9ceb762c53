//! `tsgate service …` (Windows only): `tsgate serve` as a Windows service, started by the
//! service control manager at boot and stopped by it the way SIGTERM stops it elsewhere
//! (watchers, use counts, database closed).
//!
//! `install` registers the service to run `tsgate service run --config FILE`; `run` hands
//! this thread to the service control manager, which calls [`ffi_service_main`] on a thread
//! of its own; that one reports the service running, serves until a stop request, and
//! reports it stopped with the outcome as the service's exit code.

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use windows_service::service::{
    ServiceAccess, ServiceControl, ServiceControlAccept, ServiceErrorControl, ServiceExitCode,
    ServiceInfo, ServiceStartType, ServiceState, ServiceStatus, ServiceType,
};
use windows_service::service_control_handler::{self, ServiceControlHandlerResult};
use windows_service::service_dispatcher;
use windows_service::service_manager::{ServiceManager, ServiceManagerAccess};

use crate::cli::{ConfigArgs, ServeArgs, ServiceCommand};

/// The service's name for the service control manager (`sc start tsgate`).
const SERVICE_NAME: &str = "tsgate";
const SERVICE_TYPE: ServiceType = ServiceType::OWN_PROCESS;

/// What `service run` was given, for the service's own thread.
static RUN: OnceLock<PathBuf> = OnceLock::new();

/// Runs one `tsgate service` command; exit codes as elsewhere (1 refused, 2 usage).
pub fn main(command: ServiceCommand, verbose: bool) -> ExitCode {
    let outcome = match command {
        ServiceCommand::Install { config, account } => install(config, account),
        ServiceCommand::Uninstall => uninstall(),
        ServiceCommand::Run { config, log_file } => run(config, log_file, verbose),
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("tsgate: {e:#}");
            ExitCode::from(1)
        }
    }
}

fn install(config: PathBuf, account: String) -> anyhow::Result<()> {
    use anyhow::Context as _;
    let config = std::path::absolute(&config)
        .with_context(|| format!("cannot make {} absolute", config.display()))?;
    anyhow::ensure!(
        config.is_file(),
        "configuration file {} not found",
        config.display()
    );
    let manager = ServiceManager::local_computer(
        None::<&str>,
        ServiceManagerAccess::CONNECT | ServiceManagerAccess::CREATE_SERVICE,
    )
    .context("cannot open the service control manager (an administrator's prompt?)")?;
    let info = ServiceInfo {
        name: OsString::from(SERVICE_NAME),
        display_name: OsString::from("tsgate (Sistema TS, secondo fattore)"),
        service_type: SERVICE_TYPE,
        start_type: ServiceStartType::AutoStart,
        error_control: ServiceErrorControl::Normal,
        executable_path: std::env::current_exe().context("cannot find tsgate.exe itself")?,
        launch_arguments: vec![
            OsString::from("service"),
            OsString::from("run"),
            OsString::from("--config"),
            config.clone().into_os_string(),
        ],
        dependencies: vec![],
        account_name: Some(OsString::from(&account)),
        account_password: None,
    };
    let service = manager
        .create_service(&info, ServiceAccess::CHANGE_CONFIG)
        .context("cannot create the service tsgate")?;
    service.set_description(
        "Il secondo fattore (ID-SESSIONE) del Sistema TS per ogni medico e postazione.",
    )?;
    println!(
        "service tsgate installed (automatic start, account {account}, configuration {}).",
        config.display()
    );
    println!("Give that account write access to data_dir and to the folder of the configuration");
    println!(
        "(its log, tsgate.log), e.g. icacls DIR /grant \"{account}:(OI)(CI)M\"; then: sc start tsgate"
    );
    Ok(())
}

fn uninstall() -> anyhow::Result<()> {
    use anyhow::Context as _;
    let manager = ServiceManager::local_computer(None::<&str>, ServiceManagerAccess::CONNECT)
        .context("cannot open the service control manager (an administrator's prompt?)")?;
    let service = manager
        .open_service(
            SERVICE_NAME,
            ServiceAccess::QUERY_STATUS | ServiceAccess::STOP | ServiceAccess::DELETE,
        )
        .context("cannot open the service tsgate")?;
    if service.query_status()?.current_state != ServiceState::Stopped {
        // A service whose process is gone cannot be told to stop; it is removed all the same.
        if let Err(e) = service.stop() {
            eprintln!("tsgate: the service tsgate did not take the stop request: {e}");
        }
        for _ in 0..60 {
            if service.query_status()?.current_state == ServiceState::Stopped {
                break;
            }
            std::thread::sleep(Duration::from_millis(500));
        }
    }
    service
        .delete()
        .context("cannot remove the service tsgate")?;
    println!("service tsgate removed; its data folder is left as it is.");
    Ok(())
}

fn run(config: PathBuf, log_file: Option<PathBuf>, verbose: bool) -> anyhow::Result<()> {
    use anyhow::Context as _;
    let log_file = log_file.unwrap_or_else(|| config.with_file_name("tsgate.log"));
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log_file)
        .with_context(|| format!("cannot open the log file {}", log_file.display()))?;
    crate::logging::init_file(verbose, file);
    let _ = RUN.set(config);
    service_dispatcher::start(SERVICE_NAME, ffi_service_main).context(
        "not started by the service control manager: \
         `sc start tsgate` starts the service, `tsgate serve` runs in a console",
    )
}

/// Called by the service control manager on its own thread. The start parameters of
/// `sc start tsgate …` are not used: the configuration is the one of `service run`.
/// A panic must not unwind into the service control manager (that aborts the process):
/// it is logged by the panic hook and ends the service like an error.
extern "system" fn ffi_service_main(_argc: u32, _argv: *mut *mut u16) {
    match std::panic::catch_unwind(service_main) {
        Ok(Ok(())) => {}
        Ok(Err(e)) => tracing::error!("the Windows service failed: {e:#}"),
        Err(_) => tracing::error!("the Windows service stopped on a panic"),
    }
}

fn service_main() -> anyhow::Result<()> {
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let stop_tx = Mutex::new(Some(stop_tx));
    let handler = move |control| match control {
        ServiceControl::Stop | ServiceControl::Shutdown => {
            if let Some(tx) = stop_tx.lock().ok().and_then(|mut tx| tx.take()) {
                let _ = tx.send(());
            }
            ServiceControlHandlerResult::NoError
        }
        ServiceControl::Interrogate => ServiceControlHandlerResult::NoError,
        _ => ServiceControlHandlerResult::NotImplemented,
    };
    let status = service_control_handler::register(SERVICE_NAME, handler)?;
    let report = |state, accept, exit_code| {
        status.set_service_status(ServiceStatus {
            service_type: SERVICE_TYPE,
            current_state: state,
            controls_accepted: accept,
            exit_code,
            checkpoint: 0,
            wait_hint: Duration::from_secs(30),
            process_id: None,
        })
    };
    report(
        ServiceState::Running,
        ServiceControlAccept::STOP | ServiceControlAccept::SHUTDOWN,
        ServiceExitCode::Win32(0),
    )?;
    let config = RUN.get().cloned().unwrap_or_default();
    tracing::info!(config = %config.display(), "Windows service starting");
    let outcome = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| crate::commands::Failure::Config(e.into()))
        .and_then(|runtime| {
            runtime.block_on(crate::commands::serve_until(
                ServeArgs {
                    config: ConfigArgs {
                        config: Some(config),
                    },
                },
                async {
                    let _ = stop_rx.await;
                },
            ))
        });
    let exit_code = match &outcome {
        Ok(()) => ServiceExitCode::Win32(0),
        Err(failure) => {
            tracing::error!("{failure:#}");
            ServiceExitCode::ServiceSpecific(u32::from(failure.exit_code()))
        }
    };
    report(
        ServiceState::Stopped,
        ServiceControlAccept::empty(),
        exit_code,
    )?;
    Ok(())
}
