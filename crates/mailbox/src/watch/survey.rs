//! What a mailbox offers: capabilities, folders (INBOX, spam, named ones), quota; and the
//! one-shot [`check`].

use std::sync::Arc;
use std::time::Duration;

use async_imap::types::NameAttribute;
use futures::TryStreamExt as _;
use time::OffsetDateTime;

use super::ctx::{Ctx, Folder, SessionError};
use super::{Shared, WatchEvent};
use crate::connect::{self, ImapSession};
use crate::extract::MailFilter;
use crate::ocr::Ocr;
use crate::settings::{MailboxSettings, Tls};
use crate::status::{Diagnostic, DiagnosticCode, MailboxStatus, text};

/// Usual names of the spam folder when the server does not mark it `\Junk`.
const JUNK_NAMES: &[&str] = &[
    "junk",
    "spam",
    "posta indesiderata",
    "junk e-mail",
    "junk email",
    "bulk mail",
    "indesiderata",
];

/// Capabilities, folders and quota.
pub(super) async fn survey(
    ctx: &Ctx,
    session: &mut ImapSession,
) -> Result<(Vec<Folder>, bool, Option<u8>), SessionError> {
    let caps = ctx.io(session.capabilities()).await?;
    let idle = caps.has_str("IDLE");
    let has_quota = caps.has_str("QUOTA");
    let names: Vec<(String, bool)> = ctx
        .io(async {
            let list = session.list(Some(""), Some("*")).await?;
            let names: Vec<_> = list.try_collect().await?;
            Ok(names
                .iter()
                .filter(|n| !n.attributes().contains(&NameAttribute::NoSelect))
                .map(|n| {
                    (
                        n.name().to_owned(),
                        n.attributes().contains(&NameAttribute::Junk),
                    )
                })
                .collect())
        })
        .await?;
    let folders = choose_folders(&ctx.settings, &names);
    let quota = if has_quota {
        match ctx.io(session.get_quota_root("INBOX")).await {
            Ok((_, quotas)) => quotas
                .iter()
                .flat_map(|q| q.resources.iter())
                .map(|r| r.get_usage_percentage().min(100) as u8)
                .max(),
            Err(SessionError::Imap(_)) => None,
            Err(e) => return Err(e),
        }
    } else {
        None
    };
    Ok((folders, idle, quota))
}

fn choose_folders(settings: &MailboxSettings, names: &[(String, bool)]) -> Vec<Folder> {
    let mut folders = vec![Folder {
        name: "INBOX".to_owned(),
        junk: false,
    }];
    let junk = if settings.find_junk {
        names
            .iter()
            .find(|(_, junk)| *junk)
            .or_else(|| {
                names.iter().find(|(name, _)| {
                    let last = name
                        .rsplit(['.', '/'])
                        .next()
                        .unwrap_or(name)
                        .to_lowercase();
                    JUNK_NAMES.contains(&last.as_str())
                })
            })
            .map(|(name, _)| name.clone())
    } else {
        None
    };
    if let Some(name) = junk {
        folders.push(Folder { name, junk: true });
    }
    for name in &settings.folders {
        if !folders.iter().any(|f| f.name.eq_ignore_ascii_case(name)) {
            let junk = JUNK_NAMES.contains(&name.to_lowercase().as_str());
            folders.push(Folder {
                name: name.clone(),
                junk,
            });
        }
    }
    folders
}

/// One-shot check of a mailbox (for `tsgate check` and the settings page): connects, logs
/// in, finds the folders and the quota, logs out. Never returns the password.
pub async fn check(settings: &MailboxSettings) -> MailboxStatus {
    let mut status = MailboxStatus {
        configured: settings.validate().is_ok(),
        ..MailboxStatus::default()
    };
    let tls = match settings.security {
        Tls::Plain => None,
        _ => match connect::tls_config(settings) {
            Ok(c) => Some(c),
            Err(e) => {
                status.push(e.diagnostic(settings));
                return status;
            }
        },
    };
    let mut session = match connect::open(settings, tls).await {
        Ok(s) => s,
        Err(e) => {
            status.push(e.diagnostic(settings));
            return status;
        }
    };
    let (shared, _rx) = {
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel::<WatchEvent>();
        (
            Arc::new(Shared {
                inner: std::sync::Mutex::new(super::Inner::default()),
                wake: tokio::sync::Notify::new(),
                sink: Box::new(tx),
            }),
            rx,
        )
    };
    let ctx = Ctx {
        shared,
        filter: MailFilter::from_settings(settings),
        ocr: Ocr::new(settings.tesseract.clone(), Duration::from_secs(20)),
        limit: Duration::from_secs(settings.timeout_secs.max(1)),
        settings: settings.clone(),
    };
    match survey(&ctx, &mut session).await {
        Ok((folders, idle, quota)) => {
            status.connected = true;
            status.last_check = Some(OffsetDateTime::now_utc());
            status.folders = folders.into_iter().map(|f| f.name).collect();
            status.idle = idle;
            status.quota_percent = quota;
            if let Some(q) = quota.filter(|q| *q >= 90) {
                status.push(Diagnostic::new(DiagnosticCode::MailboxFull, text::quota(q)));
            }
            if let Err(e) = ctx.ocr.check().await {
                status.push(Diagnostic::new(
                    DiagnosticCode::OcrUnavailable,
                    e.to_string(),
                ));
            }
        }
        Err(e) => status.push(e.diagnostic(settings)),
    }
    let _ = tokio::time::timeout(ctx.limit, session.logout()).await;
    status.connected = false;
    status
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folder_choice() {
        let s = MailboxSettings::new(
            "h",
            Tls::Implicit,
            "u",
            sistemats::secret::Password::new(""),
        );
        let f = choose_folders(
            &s,
            &[
                ("INBOX".into(), false),
                ("Cestino".into(), false),
                ("Indesiderata".into(), true),
            ],
        );
        assert_eq!(f.len(), 2);
        assert_eq!(f[1].name, "Indesiderata");
        assert!(f[1].junk);
        let f = choose_folders(
            &s,
            &[
                ("INBOX".into(), false),
                ("INBOX.Posta indesiderata".into(), false),
            ],
        );
        assert_eq!(f[1].name, "INBOX.Posta indesiderata");
        let mut s2 = s.clone();
        s2.find_junk = false;
        s2.folders = vec!["PEC".into(), "inbox".into()];
        let f = choose_folders(&s2, &[("Spam".into(), false)]);
        assert_eq!(
            f.iter().map(|f| f.name.as_str()).collect::<Vec<_>>(),
            vec!["INBOX", "PEC"]
        );
    }
}
