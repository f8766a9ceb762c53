//! A private Dovecot for tests (feature `test-support`; used by this crate's tests and by
//! tsgate's end-to-end tests): started on loopback with free ports (implicit TLS and
//! plain/STARTTLS), a test CA and leaf certificate made with rcgen, passwd-file users,
//! Maildir++ mailboxes in a temporary folder, a `\Junk` folder and a quota. Stopped on Drop.
//!
//! Needs the Debian package `dovecot-imapd`; the tests fail (never skip) without it.

use std::io::Write as _;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::{MailboxSettings, Tls};
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
use sistemats::secret::Password;

const DOVECOT: &str = "/usr/sbin/dovecot";

/// Quota of every test user, in kilobytes.
pub const QUOTA_KB: u64 = 200;

/// A running Dovecot.
#[derive(Debug)]
pub struct Dovecot {
    dir: tempfile::TempDir,
    /// Plain IMAP port (STARTTLS offered).
    pub plain_port: u16,
    /// Implicit TLS port.
    pub tls_port: u16,
    /// PEM of the CA that signed the server certificate.
    pub ca_pem: String,
    child: Option<Child>,
    uid: u32,
    gid: u32,
    counter: AtomicU64,
    /// Whether the server offers IDLE (some providers' servers do not).
    idle: bool,
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

/// uid and gid of a system user, from /etc/passwd.
fn system_user(name: &str) -> (u32, u32) {
    let passwd = std::fs::read_to_string("/etc/passwd").expect("/etc/passwd");
    passwd
        .lines()
        .find_map(|line| {
            let f: Vec<&str> = line.split(':').collect();
            (f.len() > 3 && f[0] == name).then(|| (f[2].parse().ok(), f[3].parse().ok()))
        })
        .and_then(|(u, g)| Some((u?, g?)))
        .unwrap_or_else(|| panic!("system user {name} missing: install dovecot-imapd"))
}

/// A test CA and a leaf for `localhost` / 127.0.0.1: (ca_pem, leaf_pem, leaf_key_pem).
pub fn test_certificates(ca_name: &str) -> (String, String, String) {
    let ca_key = KeyPair::generate().expect("ca key");
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("ca params");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, ca_name);
    let ca_cert = ca_params.self_signed(&ca_key).expect("ca cert");
    let issuer = Issuer::new(ca_params, ca_key);
    let leaf_key = KeyPair::generate().expect("leaf key");
    let mut leaf_params =
        CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])
            .expect("leaf params");
    leaf_params
        .distinguished_name
        .push(DnType::CommonName, "localhost");
    let leaf = leaf_params
        .signed_by(&leaf_key, &issuer)
        .expect("leaf cert");
    (ca_cert.pem(), leaf.pem(), leaf_key.serialize_pem())
}

impl Dovecot {
    /// Starts Dovecot with these users (name, password).
    pub fn start(users: &[(&str, &str)]) -> Dovecot {
        Self::start_with(users, true)
    }

    /// Same, with a server that does not offer IDLE: the watcher must poll.
    pub fn start_without_idle(users: &[(&str, &str)]) -> Dovecot {
        Self::start_with(users, false)
    }

    fn start_with(users: &[(&str, &str)], idle: bool) -> Dovecot {
        assert!(
            Path::new(DOVECOT).exists(),
            "{DOVECOT} not found: the mailbox tests need a real Dovecot. \
             Install it with `apt-get install -y dovecot-imapd` (and `tesseract-ocr` for OCR)."
        );
        let (uid, gid) = system_user("dovecot");
        let dir = tempfile::Builder::new()
            .prefix("tsgate-dovecot-")
            .tempdir()
            .expect("tempdir");
        let root = dir.path();
        // Dovecot's unprivileged processes must traverse the folder.
        set_mode(root, 0o755);
        for sub in ["run", "state", "mail"] {
            std::fs::create_dir_all(root.join(sub)).expect("mkdir");
        }
        set_mode(&root.join("mail"), 0o755);
        std::os::unix::fs::chown(root.join("mail"), Some(uid), Some(gid)).expect("chown");
        let (ca_pem, cert, key) = test_certificates("tsgate test CA");
        std::fs::write(root.join("cert.pem"), cert).expect("cert");
        std::fs::write(root.join("key.pem"), key).expect("key");
        let mut passwd = String::new();
        for (name, password) in users {
            let home = root.join("mail").join(name);
            passwd.push_str(&format!(
                "{name}:{{PLAIN}}{password}:{uid}:{gid}::{}::\n",
                home.display()
            ));
        }
        std::fs::write(root.join("passwd"), passwd).expect("passwd");
        let mut d = Dovecot {
            plain_port: free_port(),
            tls_port: free_port(),
            ca_pem,
            child: None,
            uid,
            gid,
            counter: AtomicU64::new(0),
            dir,
            idle,
        };
        d.write_config();
        d.spawn();
        d
    }

    fn root(&self) -> &Path {
        self.dir.path()
    }

    fn write_config(&self) {
        let r = self.root().display().to_string();
        let config = format!(
            r#"protocols = imap
listen = 127.0.0.1
base_dir = {r}/run
state_dir = {r}/state
log_path = {r}/dovecot.log
info_log_path = {r}/dovecot.log
default_internal_user = dovecot
default_internal_group = dovecot
default_login_user = dovenull
first_valid_uid = 1
first_valid_gid = 1
disable_plaintext_auth = no
auth_mechanisms = plain login
ssl = yes
ssl_cert = <{r}/cert.pem
ssl_key = <{r}/key.pem
ssl_min_protocol = TLSv1.2
mail_location = maildir:{r}/mail/%u
mail_plugins = quota
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {r}/passwd
}}
userdb {{
  driver = passwd-file
  args = username_format=%u {r}/passwd
}}
service imap-login {{
  chroot =
  inet_listener imap {{
    address = 127.0.0.1
    port = {plain}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {tls}
    ssl = yes
  }}
}}
service anvil {{
  chroot =
}}
namespace inbox {{
  inbox = yes
  separator = .
  mailbox Junk {{
    special_use = \Junk
    auto = subscribe
  }}
  mailbox Archivio {{
    auto = create
  }}
}}
protocol imap {{
  mail_plugins = $mail_plugins imap_quota
{capability}}}
plugin {{
  quota = count:User quota
  quota_vsizes = yes
  quota_rule = *:storage={quota}K
}}
"#,
            plain = self.plain_port,
            tls = self.tls_port,
            quota = QUOTA_KB,
            // The capabilities Dovecot announces after login, without IDLE.
            capability = if self.idle {
                ""
            } else {
                "  imap_capability = IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE LITERAL+ NAMESPACE UIDPLUS CHILDREN SPECIAL-USE QUOTA\n"
            },
        );
        std::fs::write(self.root().join("dovecot.conf"), config).expect("config");
    }

    fn spawn(&mut self) {
        use std::os::unix::process::CommandExt as _;
        let config = self.root().join("dovecot.conf");
        let child = Command::new(DOVECOT)
            .arg("-F")
            .arg("-c")
            .arg(&config)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .expect("dovecot starts");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if TcpStream::connect(("127.0.0.1", self.plain_port)).is_ok()
                && TcpStream::connect(("127.0.0.1", self.tls_port)).is_ok()
            {
                return;
            }
            if let Some(child) = self.child.as_mut()
                && let Ok(Some(status)) = child.try_wait()
            {
                panic!("dovecot exited ({status}); log:\n{}", self.log());
            }
            assert!(
                Instant::now() < deadline,
                "dovecot did not open its ports; log:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Stops Dovecot (SIGTERM to the master, which ends its children; then the group is
    /// killed for good measure) and waits for it.
    pub fn stop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        let pid = child.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = child.try_wait() {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let group = format!("-{pid}");
        let _ = Command::new("kill")
            .args(["-KILL", "--", &group])
            .stderr(Stdio::null())
            .status();
        let _ = child.wait();
        // Wait until the port is free again, so that a restart can bind it.
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", self.plain_port)).is_ok()
            && Instant::now() < deadline
        {
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Starts it again on the same ports with the same mail.
    pub fn restart(&mut self) {
        self.stop();
        self.spawn();
    }

    /// The server's log.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.root().join("dovecot.log")).unwrap_or_default()
    }

    /// Settings for `user` with this transport.
    pub fn settings(&self, user: &str, password: &str, security: Tls) -> MailboxSettings {
        let mut s = MailboxSettings::new("127.0.0.1", security, user, Password::new(password));
        s.port = Some(match security {
            Tls::Implicit => self.tls_port,
            Tls::StartTls | Tls::Plain => self.plain_port,
        });
        s.ca_pem = Some(self.ca_pem.clone());
        s.poll_interval_secs = 2;
        s.timeout_secs = 15;
        s.reconnect_max_secs = 2;
        s
    }

    /// The folder holding every user's Maildir (`mail_location = maildir:<root>/%u`): give
    /// it to a program that delivers by itself (the simulator's `--maildir`).
    pub fn mail_root(&self) -> PathBuf {
        self.root().join("mail")
    }

    /// Creates the INBOX and `Junk` Maildirs of `user`, owned by Dovecot, so that another
    /// program running as root can deliver into them and Dovecot can still flag and move
    /// what was delivered.
    pub fn prepare(&self, user: &str) {
        for folder in [None, Some("Junk")] {
            self.make_dirs(user, folder);
        }
    }

    fn make_dirs(&self, user: &str, folder: Option<&str>) {
        let user_dir = self.maildir(user, None);
        let dir = self.maildir(user, folder);
        for d in [&user_dir, &dir] {
            for sub in ["", "cur", "new", "tmp"] {
                let p = d.join(sub);
                if !p.exists() {
                    std::fs::create_dir_all(&p).expect("mkdir maildir");
                    std::os::unix::fs::chown(&p, Some(self.uid), Some(self.gid)).expect("chown");
                    set_mode(&p, 0o700);
                }
            }
        }
        if folder.is_some() {
            let marker = dir.join("maildirfolder");
            if !marker.exists() {
                std::fs::write(&marker, b"").expect("maildirfolder");
            }
        }
    }

    /// The Maildir of `user` (`folder` `None` for INBOX, else e.g. `Junk`).
    pub fn maildir(&self, user: &str, folder: Option<&str>) -> PathBuf {
        let mut dir = self.root().join("mail").join(user);
        if let Some(folder) = folder {
            dir = dir.join(format!(".{folder}"));
        }
        dir
    }

    /// Delivers a mail as a local delivery agent does (and as the simulator does): written
    /// into `tmp/`, renamed into `new/`.
    pub fn deliver(&self, user: &str, folder: Option<&str>, raw: &[u8]) -> PathBuf {
        self.make_dirs(user, folder);
        let dir = self.maildir(user, folder);
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        let name = format!(
            "{}.M{}P{}Q{n}.tsgate-test,S={}",
            now.as_secs(),
            now.subsec_micros(),
            std::process::id(),
            raw.len()
        );
        let tmp = dir.join("tmp").join(&name);
        let mut f = std::fs::File::create(&tmp).expect("tmp file");
        f.write_all(raw).expect("write mail");
        f.sync_all().ok();
        drop(f);
        std::os::unix::fs::chown(&tmp, Some(self.uid), Some(self.gid)).expect("chown mail");
        let target = dir.join("new").join(&name);
        std::fs::rename(&tmp, &target).expect("rename into new/");
        target
    }

    /// File names in `cur/` of a folder whose flags contain `flag` (e.g. 'S' for \Seen).
    pub fn flagged(&self, user: &str, folder: Option<&str>, flag: char) -> Vec<String> {
        let cur = self.maildir(user, folder).join("cur");
        std::fs::read_dir(cur)
            .map(|entries| {
                entries
                    .filter_map(|e| e.ok())
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .filter(|n| {
                        n.rsplit_once(":2,")
                            .is_some_and(|(_, flags)| flags.contains(flag))
                    })
                    .collect()
            })
            .unwrap_or_default()
    }
}

fn set_mode(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).expect("chmod");
}

impl Drop for Dovecot {
    fn drop(&mut self) {
        self.stop();
    }
}
