//! Delivery of the ID-SESSIONE mail: in-memory outbox (always), Maildir and SMTP (optional).

mod image;

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use base64::Engine as _;
use lettre::message::{Attachment, Mailbox, MultiPart, header::ContentType};
use lettre::{AsyncSmtpTransport, AsyncTransport as _, Message, Tokio1Executor};
use serde::Serialize;
use sistemats::a2f::format_revoke_date;
use time::OffsetDateTime;

use crate::config::{CodeFormat, MailFolder, SimConfig};
use crate::sync::lock;

pub use image::{load_font, render_png};

/// Sender of the simulated mails.
pub const SENDER: &str = "Sistema TS - simulatore <noreply@sistemats.sim.tsgate.test>";
/// Subject of the simulated mails.
pub const SUBJECT: &str = "Sistema TS - ID-SESSIONE";
/// Mails kept in the outbox (oldest dropped first).
const OUTBOX_LIMIT: usize = 500;

/// One mail as `GET /sim/outbox.json` shows it.
#[derive(Debug, Clone, Serialize)]
pub struct OutboxMail {
    /// Recipient address.
    pub to: String,
    /// Subject.
    pub subject: String,
    /// When it was sent (simulated clock, RFC 3339).
    pub sent_at: String,
    /// Plain-text part.
    pub body_text: String,
    /// HTML part.
    pub body_html: String,
    /// Inline images, base64 PNG.
    pub images: Vec<String>,
}

/// What the mail is about.
#[derive(Debug)]
pub struct CodeMail<'a> {
    /// Recipient.
    pub to: &'a str,
    /// User the code is for.
    pub user_id: &'a str,
    /// `applicazione` of the code.
    pub applicazione: &'a str,
    /// The code itself.
    pub code: &'a str,
    /// Start of validity.
    pub from: OffsetDateTime,
    /// End of validity.
    pub until: OffsetDateTime,
    /// Text or image.
    pub format: CodeFormat,
    /// Maildir folder.
    pub folder: MailFolder,
}

/// A mail as it leaves the simulator (RFC 5322 bytes), for in-process readers such as the
/// demo's mailbox (see [`Mailer::subscribe`]).
#[derive(Debug, Clone)]
pub struct Delivered {
    /// Recipient address.
    pub to: String,
    /// The whole message, as a Maildir or SMTP server would receive it.
    pub raw: std::sync::Arc<[u8]>,
}

/// Renders and delivers mails.
pub struct Mailer {
    outbox: Mutex<Vec<OutboxMail>>,
    delivered: tokio::sync::broadcast::Sender<Delivered>,
    maildir: Option<PathBuf>,
    smtp: Option<AsyncSmtpTransport<Tokio1Executor>>,
    font: ab_glyph::FontArc,
    counter: AtomicU64,
}

impl std::fmt::Debug for Mailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mailer")
            .field("maildir", &self.maildir)
            .field("smtp", &self.smtp.is_some())
            .finish_non_exhaustive()
    }
}

impl Mailer {
    /// Loads the font and prepares the SMTP transport.
    pub fn new(config: &SimConfig) -> anyhow::Result<Self> {
        let smtp = match &config.smtp {
            Some(address) => {
                let (host, port) = address
                    .rsplit_once(':')
                    .ok_or_else(|| anyhow::anyhow!("SMTP address must be host:port: {address}"))?;
                let port: u16 = port.parse()?;
                Some(
                    AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host)
                        .port(port)
                        .build(),
                )
            }
            None => None,
        };
        Ok(Self {
            outbox: Mutex::new(Vec::new()),
            delivered: tokio::sync::broadcast::channel(64).0,
            maildir: config.maildir.clone(),
            smtp,
            font: load_font(config.font_path.as_deref())?,
            counter: AtomicU64::new(0),
        })
    }

    /// Every mail sent from now on, as raw bytes (a reader that falls behind by more than 64
    /// mails loses the oldest).
    pub fn subscribe(&self) -> tokio::sync::broadcast::Receiver<Delivered> {
        self.delivered.subscribe()
    }

    /// The outbox, newest first.
    pub fn outbox(&self) -> Vec<OutboxMail> {
        lock(&self.outbox).iter().rev().cloned().collect()
    }

    /// Builds and delivers the mail carrying an ID-SESSIONE. The outbox always receives it;
    /// a Maildir or SMTP failure is returned (A2F answers error 100).
    pub async fn send_code(&self, mail: CodeMail<'_>) -> Result<(), String> {
        let validity = format!(
            "dal {} al {}",
            format_revoke_date(mail.from),
            format_revoke_date(mail.until)
        );
        let image = match mail.format {
            CodeFormat::Image => {
                Some(render_png(&self.font, mail.code).map_err(|e| e.to_string())?)
            }
            CodeFormat::Text => None,
        };
        let code_line = match image {
            Some(_) => "L'ID-SESSIONE è riportato nell'immagine contenuta in questo messaggio: \
                        copialo a mano nel software di studio."
                .to_owned(),
            None => format!("ID-SESSIONE: {}", mail.code),
        };
        let body_text = format!(
            "Gentile utente {user},\n\n\
             è stato generato un nuovo ID-SESSIONE per il contesto RICETTA-DEM, applicazione {app}.\n\n\
             {code_line}\n\
             Validità: {validity}\n\n\
             Inseriscilo nel software di studio (o in tsgate) per continuare a inviare le ricette.\n\
             Se non l'hai richiesto tu, revocalo dal portale del Sistema TS e cambia la password.\n\n\
             Messaggio generato automaticamente dal simulatore del Sistema TS (tsgate): non rispondere.\n",
            user = mail.user_id,
            app = mail.applicazione,
        );
        let code_html = match image {
            Some(_) => "<p>L'ID-SESSIONE è riportato nell'immagine:</p>\
                        <p><img src=\"cid:idsessione\" alt=\"ID-SESSIONE\"></p>"
                .to_owned(),
            None => format!(
                "<p>ID-SESSIONE: <b style=\"font-family:monospace;font-size:16px\">{}</b></p>",
                mail.code
            ),
        };
        let body_html = format!(
            "<html><body><p>Gentile utente {user},</p>\
             <p>è stato generato un nuovo ID-SESSIONE per il contesto RICETTA-DEM, applicazione {app}.</p>\
             {code_html}<p>Validità: {validity}</p>\
             <p>Inseriscilo nel software di studio (o in tsgate) per continuare a inviare le ricette.</p>\
             <p><small>Messaggio generato automaticamente dal simulatore del Sistema TS (tsgate): non rispondere.</small></p>\
             </body></html>",
            user = mail.user_id,
            app = mail.applicazione,
        );
        let alternative = MultiPart::alternative_plain_html(body_text.clone(), body_html.clone());
        let body = match &image {
            Some(png) => MultiPart::related().multipart(alternative).singlepart(
                Attachment::new_inline_with_name("idsessione".into(), "id-sessione.png".into())
                    .body(
                        png.clone(),
                        ContentType::parse("image/png").map_err(|e| e.to_string())?,
                    ),
            ),
            None => alternative,
        };
        let to: Mailbox = mail
            .to
            .parse()
            .map_err(|e| format!("indirizzo non valido: {e}"))?;
        let message = Message::builder()
            .from(SENDER.parse().map_err(|e| format!("{e}"))?)
            .to(to)
            .subject(SUBJECT)
            .date(std::time::SystemTime::from(mail.from))
            .multipart(body)
            .map_err(|e| e.to_string())?;

        {
            let mut outbox = lock(&self.outbox);
            if outbox.len() >= OUTBOX_LIMIT {
                outbox.remove(0);
            }
            outbox.push(OutboxMail {
                to: mail.to.to_owned(),
                subject: SUBJECT.to_owned(),
                sent_at: mail
                    .from
                    .format(&time::format_description::well_known::Rfc3339)
                    .unwrap_or_default(),
                body_text,
                body_html,
                images: image
                    .iter()
                    .map(|png| base64::engine::general_purpose::STANDARD.encode(png))
                    .collect(),
            });
        }
        let bytes = message.formatted();
        // Nobody listening is the usual case.
        let _ = self.delivered.send(Delivered {
            to: mail.to.to_owned(),
            raw: bytes.clone().into(),
        });
        if let Some(root) = &self.maildir {
            let n = self.counter.fetch_add(1, Ordering::Relaxed);
            deliver_maildir(root, mail.to, mail.folder, &bytes, n)
                .map_err(|e| format!("consegna Maildir fallita: {e}"))?;
        }
        if let Some(smtp) = &self.smtp {
            smtp.send(message)
                .await
                .map_err(|e| format!("invio SMTP fallito: {e}"))?;
        }
        Ok(())
    }
}

/// Writes one message into `root/<address>/` (INBOX) or `root/<address>/.Junk/` as a
/// Maildir++ folder: written in `tmp/`, then renamed into `new/`.
fn deliver_maildir(
    root: &Path,
    address: &str,
    folder: MailFolder,
    bytes: &[u8],
    n: u64,
) -> std::io::Result<PathBuf> {
    let safe: String = address
        .chars()
        .map(|c| if c == '/' || c == '\\' { '_' } else { c })
        .collect();
    let mailbox = root.join(safe);
    for sub in ["cur", "new", "tmp"] {
        std::fs::create_dir_all(mailbox.join(sub))?;
    }
    let dir = match folder {
        MailFolder::Inbox => mailbox,
        MailFolder::Junk => {
            let junk = mailbox.join(".Junk");
            for sub in ["cur", "new", "tmp"] {
                std::fs::create_dir_all(junk.join(sub))?;
            }
            std::fs::write(junk.join("maildirfolder"), b"")?;
            junk
        }
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let name = format!(
        "{}.M{}P{}Q{}.tsgate-sim,S={}",
        now.as_secs(),
        now.subsec_micros(),
        std::process::id(),
        n,
        bytes.len()
    );
    let tmp = dir.join("tmp").join(&name);
    std::fs::write(&tmp, bytes)?;
    let target = dir.join("new").join(&name);
    std::fs::rename(&tmp, &target)?;
    Ok(target)
}
