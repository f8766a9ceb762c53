//! Command-line interface (the contract is in docs/INTERFACES.md).

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// tsgate — one shared Sistema TS second factor (ID-SESSIONE) for every doctor and workstation.
#[derive(Debug, Parser)]
#[command(name = "tsgate", version, about, propagate_version = true)]
pub struct Cli {
    /// More detailed logs (tsgate's own crates at debug level). `RUST_LOG` overrides.
    #[arg(short, long, global = true)]
    pub verbose: bool,
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// The one-command tour: simulator + gateway on loopback, SQLite in a local folder,
    /// seeded with the simulator's test doctors and one workstation.
    Demo(DemoArgs),
    /// The gateway: web UI, JSON API and SOAP proxy.
    Serve(ServeArgs),
    /// The Sistema TS simulator alone (A2F + DEM prescriber services, production semantics).
    Sim(SimArgs),
    /// Sistema TS users (doctors, substitutes, pharmacies), their credentials and mailbox.
    #[command(subcommand)]
    User(UserCommand),
    /// Workstations and their tokens.
    #[command(subcommand)]
    Workstation(WorkstationCommand),
    /// Practices (studi, AFT) of a vendor's installation and their doctors.
    #[command(subcommand)]
    Practice(PracticeCommand),
    /// Imports doctors (CSV or JSON) and workstations (JSON) in bulk: idempotent, checked
    /// line by line, with a report of what was refused and why.
    Import(ImportArgs),
    /// The same session actions as the API, for scripts and support.
    #[command(subcommand)]
    Session(SessionCommand),
    /// Working hours, the practice's and each doctor's: automatic requests follow them.
    #[command(subcommand)]
    Hours(HoursCommand),
    /// Validates configuration, master key, database, upstream reachability, the login to
    /// each certified mailbox, certificate expiry.
    Check(ConfigArgs),
    /// Copies the SQLite database to a file while tsgate runs, and checks the copy. The
    /// master key is never in it: save the key file once, apart from the backups.
    /// (PostgreSQL: prints the pg_dump command to use.)
    Backup(BackupArgs),
    /// Replaces the SQLite database by a backup, with tsgate stopped: checks that the backup
    /// is whole, of a schema this version reads, and that the master key in use opens it;
    /// keeps the replaced database as `<name>.before-restore-<time>`.
    Restore(RestoreArgs),
    /// Generates a new master key and re-encrypts every stored password, PIN, mailbox
    /// password and code under it, with tsgate stopped. The old key is kept as
    /// `master.key.retired-<id>` for the backups made before.
    RotateKey(ConfigArgs),
    /// Writes one file for the support desk (a .zip: LEGGIMI.txt and tsgate-support.json):
    /// version, configuration without secrets, the checks of `check`, recent errors, mailbox
    /// diagnostics, each doctor's session and history, the audit in numbers. No passwords,
    /// PINs, codes, tokens or patient data.
    SupportBundle(SupportBundleArgs),
    /// Windows: installs, removes or runs `tsgate serve` as a Windows service.
    #[cfg(windows)]
    #[command(subcommand)]
    Service(ServiceCommand),
}

/// `tsgate backup`.
#[derive(Debug, Args)]
pub struct BackupArgs {
    /// The file to write (a new file; see --force).
    #[arg(value_name = "OUT_FILE")]
    pub out: PathBuf,
    /// Replace OUT_FILE if it exists.
    #[arg(long)]
    pub force: bool,
    #[command(flatten)]
    pub config: ConfigArgs,
}

/// `tsgate restore`.
#[derive(Debug, Args)]
pub struct RestoreArgs {
    /// A file written by `tsgate backup`.
    #[arg(value_name = "BACKUP_FILE")]
    pub backup: PathBuf,
    #[command(flatten)]
    pub config: ConfigArgs,
}

/// `tsgate support-bundle`.
#[derive(Debug, Args)]
pub struct SupportBundleArgs {
    /// The file to write, or a folder for the default name
    /// (`tsgate-support-<practice>-<UTC time>.zip` in the current folder).
    #[arg(long, short, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// The practice whose doctors are described. Default: the only practice of an
    /// installation that has one; with several, the installation in numbers.
    #[arg(long)]
    pub practice: Option<String>,
    #[command(flatten)]
    pub config: ConfigArgs,
}

/// `tsgate service …` (Windows only).
#[cfg(windows)]
#[derive(Debug, Subcommand)]
pub enum ServiceCommand {
    /// Registers the service "tsgate" (automatic start) that runs `tsgate service run` with
    /// this configuration. Needs an administrator's prompt.
    Install {
        /// The configuration file the service reads (made absolute).
        #[arg(short, long, value_name = "FILE")]
        config: PathBuf,
        /// The account the service runs as; it must be able to write `data_dir` and the log.
        #[arg(long, default_value = r"NT AUTHORITY\LocalService")]
        account: String,
    },
    /// Stops the service if it runs and removes it (the data folder stays).
    Uninstall,
    /// What the service control manager starts: `serve` until the service is stopped, its
    /// log in a file. Not for a console: use `tsgate serve` there.
    Run {
        /// The configuration file.
        #[arg(short, long, value_name = "FILE")]
        config: PathBuf,
        /// The log file (default: tsgate.log beside the configuration file).
        #[arg(long, value_name = "FILE")]
        log_file: Option<PathBuf>,
    },
}

/// Where the configuration comes from (shared by the commands that use the database).
#[derive(Debug, Clone, Args)]
pub struct ConfigArgs {
    /// TOML configuration file; every key can also be given as `TSGATE_<KEY>`.
    #[arg(short, long, env = "TSGATE_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
}

/// `tsgate serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    #[command(flatten)]
    pub config: ConfigArgs,
}

/// `tsgate demo`.
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Port of the gateway (UI, API, proxy) on 127.0.0.1.
    #[arg(long, default_value_t = 8080)]
    pub port: u16,
    /// Folder of the demo database, keys and demo.json.
    #[arg(long, default_value = "tsgate-demo")]
    pub data_dir: PathBuf,
    /// Do not try to open the web browser.
    #[arg(long)]
    pub no_browser: bool,
    /// Also deliver the simulator's mails into Maildirs under DIR (for a real IMAP server).
    #[arg(long, value_name = "DIR")]
    pub sim_maildir: Option<PathBuf>,
    /// IMAP server that serves the Maildirs of --sim-maildir (e.g. a local Dovecot, see
    /// docs/MAILBOX.md): every demo user's mailbox is set to it, with the user's simulator
    /// e-mail address as login. The password comes from TSGATE_DEMO_IMAP_PASSWORD, else it
    /// is asked (or read from standard input).
    #[arg(long, value_name = "HOST:PORT", requires = "sim_maildir")]
    pub imap: Option<String>,
    /// Transport security towards --imap (plain only on loopback).
    #[arg(long, value_enum, default_value = "plain")]
    pub imap_security: ImapSecurity,
    /// Seconds between two code requests for the same doctor (the rule stays: only the
    /// demo's interval is configurable, for tours and benchmarks).
    #[arg(long, default_value_t = 10)]
    pub min_create_interval: u64,
    /// Validity of the simulator's codes, in hours (16 like production; shorter ones show
    /// renewals within a working day).
    #[arg(long, value_name = "HOURS", default_value_t = 16.0)]
    pub code_validity: f64,
    /// Plays a simulated working week (Monday to Friday) in about a minute with no click:
    /// automatic requests and renewals, a prescription every half hour of working time
    /// through the proxy; prints a report, writes it to `<data-dir>/week.json` and stops
    /// (exit code 1 if a prescription was refused).
    #[arg(long)]
    pub play_week: bool,
    /// Real milliseconds between two moments of the played week (0: as fast as possible).
    #[arg(long, value_name = "MS", default_value_t = 250)]
    pub play_pace_ms: u64,
}

/// `tsgate user …`.
#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Adds (or updates) a user; asks for the Sistema TS password and PIN (or reads them
    /// from standard input, one per line).
    Add(UserAddArgs),
    /// Lists the users.
    List(ConfigArgs),
    /// Shows one user (never the password or PIN).
    Show(UserRefArgs),
    /// Removes a user and its session.
    Remove(UserRefArgs),
    /// Changes the Sistema TS password and PIN (asked, or read from standard input).
    SetCredentials(UserRefArgs),
    /// Sets the certified mailbox (IMAP) of a user; asks for its password.
    SetMailbox(SetMailboxArgs),
    /// Turns automatic code requests on or off for a user, or back to the default (on when
    /// the certified mailbox is configured and working).
    SetAuto(SetAutoArgs),
}

/// `tsgate user set-auto`.
#[derive(Debug, Args)]
pub struct SetAutoArgs {
    /// Sistema TS user id.
    pub user: String,
    /// `default`: on when the certified mailbox works; `on`: always; `off`: never.
    #[arg(value_enum)]
    pub mode: AutoModeArg,
    #[command(flatten)]
    pub config: ConfigArgs,
}

/// Automatic requests of one user.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum AutoModeArg {
    /// On when the certified mailbox is configured and working.
    Default,
    /// Always on.
    On,
    /// Never: the doctor requests each code.
    Off,
}

impl AutoModeArg {
    /// The domain's mode.
    pub fn mode(self) -> tsgate_session::auto::AutoMode {
        use tsgate_session::auto::AutoMode;
        match self {
            Self::Default => AutoMode::Default,
            Self::On => AutoMode::On,
            Self::Off => AutoMode::Off,
        }
    }
}

/// A user by id.
#[derive(Debug, Args)]
pub struct UserRefArgs {
    /// Sistema TS user id.
    pub user: String,
    #[command(flatten)]
    pub config: ConfigArgs,
}

/// `tsgate user add`.
#[derive(Debug, Args)]
pub struct UserAddArgs {
    /// Sistema TS user id (the doctor's fiscal code or nickname, at most 16 characters).
    #[arg(long = "id")]
    pub user: String,
    /// Fiscal code (16 characters).
    #[arg(long)]
    pub cf: String,
    /// Region code (3 digits, e.g. 130).
    #[arg(long)]
    pub region: String,
    /// ASL code (3 digits).
    #[arg(long)]
    pub asl: String,
    /// SSA code (000000 for doctors).
    #[arg(long, default_value = "000000")]
    pub ssa: String,
    /// Specialisation code (e.g. F).
    #[arg(long)]
    pub specialization: Option<String>,
    /// Name shown in the UI ("Dott.ssa Rossi").
    #[arg(long)]
    pub name: Option<String>,
    /// titolare, sostituto or farmacia.
    #[arg(long, default_value = "titolare")]
    pub role: String,
    /// test or production: which Sistema TS this user's credentials belong to (default:
    /// the installation's `environment`, production only on a production installation).
    #[arg(long)]
    pub environment: Option<String>,
    /// The practice the doctor joins (created beforehand with `tsgate practice add`).
    #[arg(long, default_value = tsgate_session::PracticeId::DEFAULT)]
    pub practice: String,
    /// Date of the last password change (YYYY-MM-DD), for the 90-day warning.
    #[arg(long, value_name = "DATE")]
    pub password_changed: Option<String>,
    #[command(flatten)]
    pub config: ConfigArgs,
}

/// Transport security of an IMAP connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ImapSecurity {
    /// TLS from the first byte (IMAPS, port 993).
    Implicit,
    /// STARTTLS on the plain port (143).
    StartTls,
    /// No encryption: only towards this computer (127.0.0.1), e.g. a local Dovecot.
    Plain,
}

impl ImapSecurity {
    /// The mailbox crate's equivalent.
    pub fn tls(self) -> tsgate_mailbox::Tls {
        match self {
            Self::Implicit => tsgate_mailbox::Tls::Implicit,
            Self::StartTls => tsgate_mailbox::Tls::StartTls,
            Self::Plain => tsgate_mailbox::Tls::Plain,
        }
    }
}

/// `tsgate user set-mailbox`: the password is asked without echo (or read from standard
/// input), never taken from the command line.
#[derive(Debug, Args)]
pub struct SetMailboxArgs {
    /// Sistema TS user id.
    pub user: String,
    /// IMAP host.
    #[arg(long)]
    pub host: String,
    /// IMAP port (default: 993 for implicit TLS, 143 otherwise).
    #[arg(long)]
    pub port: Option<u16>,
    /// Transport security.
    #[arg(long, value_enum, default_value = "implicit")]
    pub security: ImapSecurity,
    /// IMAP login (often the mail address itself).
    #[arg(long)]
    pub username: String,
    /// Folders to watch besides INBOX and the spam folder (found automatically).
    #[arg(long, value_delimiter = ',')]
    pub folders: Vec<String>,
    /// The address certified on the Sistema TS portal (when it is not the login).
    #[arg(long)]
    pub address: Option<String>,
    /// PEM file of the certificate authority of a private IMAP server.
    #[arg(long, value_name = "FILE")]
    pub ca_file: Option<PathBuf>,
    /// Senders whose mails are read (addresses or domains), instead of the built-in list.
    #[arg(long, value_delimiter = ',')]
    pub accepted_senders: Vec<String>,
    /// Keep the stored password (change only the other settings).
    #[arg(long)]
    pub keep_password: bool,
    #[command(flatten)]
    pub config: ConfigArgs,
}

/// `tsgate workstation …`.
#[derive(Debug, Subcommand)]
pub enum WorkstationCommand {
    /// Registers a workstation and prints its token once.
    Add(WorkstationAddArgs),
    /// Lists the workstations.
    List(ConfigArgs),
    /// Revokes a workstation: its token stops working at once.
    Revoke(WorkstationRefArgs),
    /// Replaces the doctors a workstation acts for (admin, doctor, staff).
    SetUsers(WorkstationSetUsersArgs),
}

/// `tsgate workstation set-users`.
#[derive(Debug, Args)]
pub struct WorkstationSetUsersArgs {
    /// Workstation id (see `tsgate workstation list`).
    pub id: String,
    /// The doctors it acts for from now on (comma-separated Sistema TS user ids; empty:
    /// none).
    #[arg(long, value_delimiter = ',', num_args = 0..)]
    pub users: Vec<String>,
    #[command(flatten)]
    pub config: ConfigArgs,
}

/// `tsgate workstation add`.
#[derive(Debug, Args)]
pub struct WorkstationAddArgs {
    /// Name ("Ambulatorio 1", "Reception").
    #[arg(long)]
    pub name: String,
    /// admin, doctor, staff, backend (a vendor's server acting for every doctor of its
    /// practice) or vendor (provisioning of every practice, never a code).
    #[arg(long, default_value = "doctor")]
    pub role: String,
    /// Users it may act for (comma-separated Sistema TS user ids; admin, doctor, staff).
    #[arg(long, value_delimiter = ',')]
    pub users: Vec<String>,
    /// The practice it belongs to (not for a vendor workstation).
    #[arg(long, default_value = tsgate_session::PracticeId::DEFAULT)]
    pub practice: String,
    /// A backend acting for the doctors of every practice.
    #[arg(long)]
    pub all_practices: bool,
    #[command(flatten)]
    pub config: ConfigArgs,
}

/// `tsgate practice …`.
#[derive(Debug, Subcommand)]
pub enum PracticeCommand {
    /// Creates a practice, or renames it.
    Add(PracticeAddArgs),
    /// Lists the practices with their counts.
    List(ConfigArgs),
    /// A doctor already in tsgate joins a practice (one session, one code for all).
    AddMember(PracticeMemberArgs),
    /// A doctor leaves a practice (its workstations stop acting for them).
    RemoveMember(PracticeMemberArgs),
}

/// `tsgate practice add`.
#[derive(Debug, Args)]
pub struct PracticeAddArgs {
    /// Identifier: lower-case letters, digits, '-', '_', '.' (e.g. studio-rossi).
    pub id: String,
    /// Name shown to people ("Studio associato Rossi").
    #[arg(long)]
    pub name: String,
    #[command(flatten)]
    pub config: ConfigArgs,
}

/// `tsgate practice add-member|remove-member`.
#[derive(Debug, Args)]
pub struct PracticeMemberArgs {
    /// The practice.
    pub practice: String,
    /// The Sistema TS user.
    pub user: String,
    #[command(flatten)]
    pub config: ConfigArgs,
}

/// `tsgate import`.
#[derive(Debug, Args)]
pub struct ImportArgs {
    /// The file: CSV (doctors, one per line, with a header) or JSON (doctors and
    /// workstations). `-` reads standard input.
    pub file: PathBuf,
    /// The practice of rows that name none.
    #[arg(long)]
    pub practice: Option<String>,
    /// Checks the file and prints the report without writing anything.
    #[arg(long)]
    pub dry_run: bool,
    /// Writes the report as JSON to this file (workstation tokens included: keep it safe).
    #[arg(long, value_name = "FILE")]
    pub report: Option<PathBuf>,
    #[command(flatten)]
    pub config: ConfigArgs,
}

/// A workstation by id.
#[derive(Debug, Args)]
pub struct WorkstationRefArgs {
    /// Workstation id (from `tsgate workstation list`).
    pub id: String,
    #[command(flatten)]
    pub config: ConfigArgs,
}

/// `tsgate session …`.
#[derive(Debug, Subcommand)]
pub enum SessionCommand {
    /// State of the user's code.
    Status(SessionArgs),
    /// Requests a code (Sistema TS e-mails it).
    Request(SessionRequestArgs),
    /// Inserts a code read from the mail (asked, or read from standard input).
    Insert(SessionArgs),
    /// Revokes the code at Sistema TS and locally.
    Revoke(SessionArgs),
}

/// `tsgate session status|insert|revoke`.
#[derive(Debug, Args)]
pub struct SessionArgs {
    /// Sistema TS user id (as in `tsgate user show USER`; `--user USER` is still accepted).
    #[arg(
        value_name = "USER",
        required_unless_present = "user_flag",
        conflicts_with = "user_flag"
    )]
    pub user: Option<String>,
    /// The former spelling of USER, kept for scripts.
    #[arg(long = "user", id = "user_flag", value_name = "USER", hide = true)]
    pub user_flag: Option<String>,
    #[command(flatten)]
    pub config: ConfigArgs,
}

impl SessionArgs {
    /// The user, given as USER or as `--user USER` (clap requires exactly one).
    pub fn user(&self) -> &str {
        self.user
            .as_deref()
            .or(self.user_flag.as_deref())
            .unwrap_or_default()
    }
}

/// `tsgate session request`.
#[derive(Debug, Args)]
pub struct SessionRequestArgs {
    #[command(flatten)]
    pub session: SessionArgs,
    /// Replace a code that is still valid.
    #[arg(long)]
    pub replace: bool,
}

/// `tsgate hours …`. Without `--user` they are about the practice's hours (the default of
/// every doctor who has no own hours); the practice's cannot be changed here when the
/// configuration file has a `[working_hours]` table.
#[derive(Debug, Subcommand)]
pub enum HoursCommand {
    /// Shows the working hours and where they come from.
    Show(HoursShowArgs),
    /// Sets the week, keeping closures and holidays, e.g.
    /// `tsgate hours set "lun-ven 08:00-13:00 15:00-19:30" "sab 08:00-12:00"`.
    /// With `--user`, the doctor gets own hours (starting from the ones they follow now).
    Set(HoursSetArgs),
    /// Adds a closure (holidays, a conference), both days included.
    Close(HoursCloseArgs),
    /// Removes the closures that start on `--from`.
    Reopen(HoursReopenArgs),
    /// The doctor follows the practice's hours again (their own are removed).
    Reset(HoursResetArgs),
}

/// `tsgate hours show`.
#[derive(Debug, Args)]
pub struct HoursShowArgs {
    /// A doctor's hours and automatic requests instead of the practice's.
    #[arg(long)]
    pub user: Option<String>,
    /// Print JSON (the API's form of the hours).
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub config: ConfigArgs,
}

/// `tsgate hours set`.
#[derive(Debug, Args)]
pub struct HoursSetArgs {
    /// A doctor's own hours instead of the practice's.
    #[arg(long)]
    pub user: Option<String>,
    /// The week with Italian day names (lun mar mer gio ven sab dom, ranges like lun-ven)
    /// followed by their time ranges; several arguments are joined. Days not named are
    /// closed.
    #[arg(required = true, value_name = "WEEK")]
    pub week: Vec<String>,
    /// Closed on the national public holidays (default: as before, initially true).
    #[arg(long, value_name = "BOOL")]
    pub public_holidays: Option<bool>,
    #[command(flatten)]
    pub config: ConfigArgs,
}

/// `tsgate hours close`.
#[derive(Debug, Args)]
pub struct HoursCloseArgs {
    /// A doctor's closure (they get own hours, starting from the ones they follow now).
    #[arg(long)]
    pub user: Option<String>,
    /// First closed day (2026-12-24 or 24/12/2026).
    #[arg(long, value_name = "DATE")]
    pub from: String,
    /// Last closed day, included (default: the same day).
    #[arg(long, value_name = "DATE")]
    pub to: Option<String>,
    /// What it is ("ferie", "congresso").
    #[arg(long)]
    pub note: Option<String>,
    #[command(flatten)]
    pub config: ConfigArgs,
}

/// `tsgate hours reopen`.
#[derive(Debug, Args)]
pub struct HoursReopenArgs {
    /// A doctor's own hours instead of the practice's.
    #[arg(long)]
    pub user: Option<String>,
    /// First day of the closure to remove.
    #[arg(long, value_name = "DATE")]
    pub from: String,
    #[command(flatten)]
    pub config: ConfigArgs,
}

/// `tsgate hours reset`.
#[derive(Debug, Args)]
pub struct HoursResetArgs {
    /// The doctor who follows the practice's hours again (`--user USER` is still accepted).
    #[arg(
        value_name = "USER",
        required_unless_present = "user_flag",
        conflicts_with = "user_flag"
    )]
    pub user: Option<String>,
    /// The former spelling of USER, kept for scripts.
    #[arg(long = "user", id = "user_flag", value_name = "USER", hide = true)]
    pub user_flag: Option<String>,
    #[command(flatten)]
    pub config: ConfigArgs,
}

impl HoursResetArgs {
    /// The user, given as USER or as `--user USER` (clap requires exactly one).
    pub fn user(&self) -> &str {
        self.user
            .as_deref()
            .or(self.user_flag.as_deref())
            .unwrap_or_default()
    }
}

/// `tsgate sim`.
#[derive(Debug, Args)]
pub struct SimArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8089", env = "TSGATE_SIM_LISTEN")]
    pub listen: SocketAddr,
    /// `production`: the code is only e-mailed; `test`: `create` also returns it and the
    /// monthly wildcard is accepted.
    #[arg(long, value_enum, default_value_t = SimMode::Production)]
    pub mode: SimMode,
    /// How DEM services treat a missing or invalid `Authorization2F`.
    #[arg(long = "a2f-enforcement", value_enum, default_value_t = SimEnforcement::Block)]
    pub enforcement: SimEnforcement,
    /// Serve the outbox of sent mails at /sim/outbox (HTML) and /sim/outbox.json.
    /// The outbox is always kept; the flag is accepted for compatibility with the contract.
    #[arg(long = "mail-outbox", default_value_t = true)]
    pub mail_outbox: bool,
    /// Also deliver mails into Maildirs under DIR (one per recipient address, as Dovecot
    /// serves `maildir:DIR/%u`).
    #[arg(long, value_name = "DIR")]
    pub maildir: Option<PathBuf>,
    /// Also deliver mails to this SMTP server (plain SMTP, for a local test server).
    #[arg(long, value_name = "HOST:PORT")]
    pub smtp: Option<String>,
    /// Code in the mail as text or as a PNG image (as SSN mails do).
    #[arg(long = "code-format", value_enum, default_value_t = SimCodeFormat::Text)]
    pub code_format: SimCodeFormat,
    /// Validity of a new ID-SESSIONE, in hours.
    #[arg(long = "validity", value_name = "HOURS", default_value_t = 16.0)]
    pub validity_hours: f64,
    /// Keep the simulator's RSA key pair and certificate here across restarts.
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Prescriptions kept in memory; beyond this the oldest are forgotten (their NRE: 5005).
    #[arg(long, value_name = "N", default_value_t = tsgate_sim::dem::store::DEFAULT_MAX_PRESCRIPTIONS)]
    pub max_prescriptions: usize,
}

/// Simulated environment.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum SimMode {
    /// Code only by e-mail, no wildcard.
    Production,
    /// Code also in the `create` response, monthly wildcard accepted.
    Test,
}

/// `Authorization2F` enforcement of the simulated DEM services.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum SimEnforcement {
    /// Not checked.
    Off,
    /// Accepted with warning 9101.
    Warn,
    /// Refused with 9999 + 9101.
    Block,
}

/// How the simulator draws the code in its mails.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum SimCodeFormat {
    /// Plain text and HTML.
    Text,
    /// A PNG image of the code.
    Image,
}
