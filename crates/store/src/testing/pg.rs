//! A throwaway PostgreSQL cluster for tests: `initdb` into a temporary folder, a server on
//! 127.0.0.1 and a free port only (its socket in the same folder), trust authentication, and
//! a fresh database for each test ([`temp_database`], [`temp_store`]), so that tests of one
//! binary share one server and still run in parallel.
//!
//! The Debian `postgresql` package provides the server (`apt-get install postgresql`;
//! `scripts/test.sh` installs it). Its binaries are looked up in `TSGATE_PG_BINDIR`, then in
//! `/usr/lib/postgresql/<newest>/bin`, then on `PATH`; without them the tests FAIL, naming
//! the package, rather than skip. As root (CI), `initdb` and the server run as the `postgres`
//! user (`runuser -u postgres`), which PostgreSQL requires; the folder is given to it.
//!
//! One cluster per test binary ([`shared`]). A `static` is never dropped, so a watchdog
//! process stops that server (`pg_ctl stop -m immediate`) and removes its folder once the
//! test binary has exited, however it exits. A [`PgCluster`] held as a value stops and
//! removes itself when dropped.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

use sqlx::Connection as _;
use sqlx::postgres::PgConnection;

use crate::{KeyRing, MasterKey, PgStore};

/// Where to look for `initdb` and `pg_ctl` before the Debian folders and `PATH`.
pub const BINDIR_ENV: &str = "TSGATE_PG_BINDIR";

const MISSING: &str = "PostgreSQL server binaries (initdb, pg_ctl) not found: the PostgreSQL \
    tests need them. Install them with `apt-get install postgresql` (scripts/test.sh does), or \
    set TSGATE_PG_BINDIR to the folder that holds them.";

/// A running PostgreSQL server in a temporary folder.
#[derive(Debug)]
pub struct PgCluster {
    root: PathBuf,
    port: u16,
    bindir: PathBuf,
    as_postgres: bool,
}

impl PgCluster {
    /// Creates and starts a cluster. Panics, saying what to install or what went wrong, when
    /// it cannot.
    pub fn start() -> Self {
        let bindir = find_bindir().unwrap_or_else(|| panic!("{MISSING}"));
        let as_postgres = running_as_root();
        let root = tempfile::Builder::new()
            .prefix("tsgate-pg-")
            .tempdir()
            .expect("temporary folder for the PostgreSQL cluster")
            .keep();
        let mut cluster = Self {
            root,
            port: 0,
            bindir,
            as_postgres,
        };
        if as_postgres {
            // PostgreSQL refuses to run as root: the folder becomes the postgres user's.
            run(Command::new("chown")
                .arg("postgres:postgres")
                .arg(&cluster.root));
        }
        run(cluster
            .command("initdb")
            .arg("-D")
            .arg(cluster.data())
            .args([
                "-U",
                "postgres",
                "-A",
                "trust",
                "-E",
                "UTF8",
                "--locale=C",
                "--no-sync",
                "--no-instructions",
            ]));
        // A port found free may be taken before the server binds it: try a few.
        let mut last_error = String::new();
        for _ in 0..5 {
            cluster.port = free_port();
            match cluster.try_start() {
                Ok(()) => return cluster,
                Err(e) => last_error = e,
            }
        }
        panic!("the PostgreSQL test server did not start: {last_error}");
    }

    fn try_start(&self) -> Result<(), String> {
        let options = format!(
            "-c listen_addresses=127.0.0.1 -c port={} -k {} -c fsync=off \
             -c synchronous_commit=off -c full_page_writes=off -c max_connections=300",
            self.port,
            self.root.display()
        );
        let output = self
            .command("pg_ctl")
            .arg("-D")
            .arg(self.data())
            .arg("-l")
            .arg(self.log())
            .args(["-w", "-t", "60", "-o", &options, "start"])
            .stdin(Stdio::null())
            .output()
            .map_err(|e| format!("pg_ctl: {e}"))?;
        if output.status.success() {
            return Ok(());
        }
        Err(format!(
            "pg_ctl start: {}{}\nserver log:\n{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr),
            std::fs::read_to_string(self.log()).unwrap_or_default()
        ))
    }

    /// The server's port on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The URL of `database` on this server, as the superuser `postgres` (no password:
    /// trust authentication on loopback).
    pub fn url(&self, database: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{database}", self.port)
    }

    /// Creates a new, empty database and returns its URL.
    pub async fn create_database(&self) -> String {
        let name = format!("t_{}", uuid::Uuid::new_v4().simple());
        let mut last_error = None;
        for attempt in 0..5u64 {
            match self.try_create(&name).await {
                Ok(()) => return self.url(&name),
                Err(e) => last_error = Some(e),
            }
            tokio::time::sleep(Duration::from_millis(100 * (attempt + 1))).await;
        }
        panic!(
            "cannot create the test database {name}: {:?}",
            last_error.map(|e| e.to_string())
        );
    }

    async fn try_create(&self, name: &str) -> Result<(), sqlx::Error> {
        let mut conn = PgConnection::connect(&self.url("postgres")).await?;
        // Not in a transaction (CREATE DATABASE refuses one): the simple query protocol.
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut conn)
            .await?;
        conn.close().await
    }

    /// Stops the server at once (its data is thrown away) and removes its folder.
    fn stop(&self) {
        let _ = self
            .command("pg_ctl")
            .arg("-D")
            .arg(self.data())
            .args(["-m", "immediate", "stop"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        let _ = std::fs::remove_dir_all(&self.root);
    }

    /// Stops the server and removes its folder once the process `pid` has ended: a process of
    /// its own (started in the background of a shell that ends at once, so that it is nobody's
    /// child here), which outlives this one.
    fn stop_after(&self, pid: u32) {
        let stop = self.shell_command("pg_ctl", &["-D", &self.data().display().to_string()]);
        let script = format!(
            "( while kill -0 {pid} 2>/dev/null; do sleep 1; done; \
             {stop} -m immediate stop; rm -rf '{}' ) >/dev/null 2>&1 </dev/null &",
            self.root.display()
        );
        run(Command::new("sh").args(["-c", &script]));
    }

    fn data(&self) -> PathBuf {
        self.root.join("data")
    }

    fn log(&self) -> PathBuf {
        self.root.join("server.log")
    }

    /// `program` of the server's folder, as the postgres user when this process is root.
    fn command(&self, program: &str) -> Command {
        let path = self.bindir.join(program);
        if self.as_postgres {
            let mut command = Command::new("runuser");
            command.args(["-u", "postgres", "--"]).arg(path);
            command
        } else {
            Command::new(path)
        }
    }

    /// [`PgCluster::command`] as shell words.
    fn shell_command(&self, program: &str, args: &[&str]) -> String {
        let mut words = Vec::new();
        if self.as_postgres {
            words.extend(["runuser", "-u", "postgres", "--"].map(str::to_owned));
        }
        words.push(self.bindir.join(program).display().to_string());
        words.extend(args.iter().map(|a| (*a).to_owned()));
        words
            .iter()
            .map(|w| format!("'{}'", w.replace('\'', r"'\''")))
            .collect::<Vec<_>>()
            .join(" ")
    }
}

impl Drop for PgCluster {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The cluster of this test binary, started on first use; stopped and removed after the
/// binary exits.
pub fn shared() -> &'static PgCluster {
    static SHARED: OnceLock<PgCluster> = OnceLock::new();
    SHARED.get_or_init(|| {
        let cluster = PgCluster::start();
        cluster.stop_after(std::process::id());
        cluster
    })
}

/// The URL of a new, empty database on the [`shared`] cluster.
pub async fn temp_database() -> String {
    // Started on a blocking thread: a test's single-threaded runtime keeps running.
    let cluster = tokio::task::spawn_blocking(shared)
        .await
        .expect("start the PostgreSQL test server");
    cluster.create_database().await
}

/// A [`PgStore`] on a new database of the [`shared`] cluster, under a fresh master key; and
/// its URL, to open it again.
pub async fn temp_store() -> (PgStore, String) {
    let url = temp_database().await;
    let store = open(&url, &MasterKey::generate()).await;
    (store, url)
}

/// Opens the store at `url` under `key` (migrating a new database).
pub async fn open(url: &str, key: &MasterKey) -> PgStore {
    PgStore::connect(url, KeyRing::new(key.clone()))
        .await
        .expect("open the PostgreSQL test database")
}

/// Where `initdb` and `pg_ctl` are: `TSGATE_PG_BINDIR`, the newest
/// `/usr/lib/postgresql/<version>/bin`, or a folder of `PATH`.
fn find_bindir() -> Option<PathBuf> {
    let has_tools = |dir: &Path| dir.join("initdb").is_file() && dir.join("pg_ctl").is_file();
    if let Some(dir) = std::env::var_os(BINDIR_ENV).map(PathBuf::from) {
        return has_tools(&dir).then_some(dir);
    }
    let mut debian: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let version = entry.file_name().to_str()?.parse::<u32>().ok()?;
            Some((version, entry.path().join("bin")))
        })
        .filter(|(_, dir)| has_tools(dir))
        .collect();
    debian.sort();
    if let Some((_, dir)) = debian.pop() {
        return Some(dir);
    }
    std::env::split_paths(&std::env::var_os("PATH")?).find(|dir| has_tools(dir))
}

/// Whether this process runs as root (the owner of `/proc/self` is the effective user).
fn running_as_root() -> bool {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
}

/// A port of 127.0.0.1 that nobody listens on now.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port on 127.0.0.1")
}

/// Runs `command` to its end; panics with its output when it fails.
fn run(command: &mut Command) {
    let output = command
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {command:?}: {e}"));
    assert!(
        output.status.success(),
        "{command:?} failed: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}
