//! Reading new mail in a folder, routing it to the awaiting users, and processing the
//! mails whose code was accepted.

use std::collections::HashSet;

use futures::TryStreamExt as _;
use time::OffsetDateTime;

use super::ctx::{Ctx, Folder, SessionError};
use super::{Found, MessageRef, Outstanding, Pending, WatchEvent};
use crate::connect::ImapSession;
use crate::extract::{self, Analysis, is_recent};
use crate::ocr::OcrError;
use crate::settings::OnProcessed;
use crate::status::{Diagnostic, DiagnosticCode, text};

/// Mails larger than this are not downloaded (a code mail is a few kilobytes; a PEC
/// envelope with a picture some tens).
const MAX_MAIL_BYTES: u32 = 8 * 1024 * 1024;
/// IMAP `SINCE` date (day granularity, in the server's idea of the day: one day earlier
/// than needed to be safe; the exact check uses INTERNALDATE).
fn imap_date(t: OffsetDateTime) -> String {
    let d = (t - time::Duration::days(1)).date();
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    format!(
        "{}-{}-{}",
        d.day(),
        MONTHS[usize::from(u8::from(d.month())) - 1],
        d.year()
    )
}

pub(super) async fn scan_folder(
    ctx: &Ctx,
    session: &mut ImapSession,
    folder: &Folder,
) -> Result<(), SessionError> {
    let mailbox = match ctx.io(session.select(&folder.name)).await {
        Ok(m) => m,
        Err(SessionError::Imap(async_imap::error::Error::No(_))) => {
            tracing::warn!(folder = %folder.name, "folder cannot be selected, skipped");
            return Ok(());
        }
        Err(e) => return Err(e),
    };
    let validity = mailbox.uid_validity.unwrap_or(0);
    let margin = ctx.settings.max_age_margin_secs;
    let (last, earliest) = {
        let mut inner = ctx.shared.lock();
        let (last, changed) = inner.state.last_uid(&folder.name, validity);
        if changed {
            let state = inner.state.clone();
            drop(inner);
            ctx.shared.sink.event(WatchEvent::State(state));
            inner = ctx.shared.lock();
        }
        let earliest = inner.expectations.iter().map(|p| p.expectation.since).min();
        (last, earliest)
    };
    let Some(earliest) = earliest else {
        return Ok(());
    };
    let cutoff = earliest - time::Duration::seconds(i64::try_from(margin).unwrap_or(i64::MAX));
    let query = format!(
        "UID {}:* SINCE {}",
        last.saturating_add(1),
        imap_date(cutoff)
    );
    let mut uids: Vec<u32> = ctx
        .io(session.uid_search(&query))
        .await?
        .into_iter()
        .filter(|u| *u > last)
        .collect();
    uids.sort_unstable();
    if uids.is_empty() {
        return Ok(());
    }
    let set = uids
        .iter()
        .map(u32::to_string)
        .collect::<Vec<_>>()
        .join(",");
    let mut metas: Vec<(u32, Option<u32>, Option<OffsetDateTime>)> = ctx
        .io(async {
            let stream = session
                .uid_fetch(&set, "(UID RFC822.SIZE INTERNALDATE)")
                .await?;
            let fetched: Vec<_> = stream.try_collect().await?;
            Ok(fetched
                .iter()
                .filter_map(|f| {
                    let date = f
                        .internal_date()
                        .and_then(|d| OffsetDateTime::from_unix_timestamp(d.timestamp()).ok());
                    Some((f.uid?, f.size, date))
                })
                .collect())
        })
        .await?;
    metas.sort_unstable_by_key(|m| m.0);
    for (uid, size, date) in metas {
        if uid <= last {
            continue;
        }
        let fresh = date.is_none_or(|d| d >= cutoff);
        if fresh && size.is_none_or(|s| s <= MAX_MAIL_BYTES) {
            let body: Option<Vec<u8>> = ctx
                .io(async {
                    let stream = session.uid_fetch(uid.to_string(), "BODY.PEEK[]").await?;
                    let fetched: Vec<_> = stream.try_collect().await?;
                    Ok(fetched
                        .iter()
                        .find(|f| f.uid == Some(uid))
                        .and_then(|f| f.body().map(<[u8]>::to_vec)))
                })
                .await?;
            if let Some(body) = body {
                let message = MessageRef {
                    folder: folder.name.clone(),
                    uid_validity: validity,
                    uid,
                };
                handle_mail(ctx, folder, message, &body, date).await;
            }
        }
        let state = {
            let mut inner = ctx.shared.lock();
            inner
                .state
                .advance(&folder.name, validity, uid)
                .then(|| inner.state.clone())
        };
        if let Some(state) = state {
            ctx.shared.sink.event(WatchEvent::State(state));
        }
    }
    Ok(())
}

/// Users a mail may be for; empty when it is for nobody awaiting.
fn route(ctx: &Ctx, analysis: &Analysis, received: Option<OffsetDateTime>) -> Vec<String> {
    let inner = ctx.shared.lock();
    let margin = ctx.settings.max_age_margin_secs;
    let eligible: Vec<&Pending> = inner
        .expectations
        .iter()
        .filter(|p| received.is_none_or(|r| is_recent(r, p.expectation.since, margin)))
        .collect();
    let by_address: Vec<String> = eligible
        .iter()
        .filter(|p| {
            p.expectation
                .addresses
                .iter()
                .any(|a| analysis.recipients.contains(&a.trim().to_lowercase()))
        })
        .map(|p| p.expectation.user.clone())
        .collect();
    if !by_address.is_empty() {
        return by_address;
    }
    let for_someone_else = analysis.recipients.iter().any(|r| {
        inner
            .known_addresses
            .get(r)
            .is_some_and(|u| !eligible.iter().any(|p| p.expectation.user == *u))
    });
    if for_someone_else {
        return Vec::new();
    }
    let by_text: Vec<String> = eligible
        .iter()
        .filter(|p| {
            let user = p.expectation.user.to_lowercase();
            !user.is_empty() && analysis.text.contains(&user)
        })
        .map(|p| p.expectation.user.clone())
        .collect();
    if !by_text.is_empty() {
        return by_text;
    }
    eligible
        .iter()
        .map(|p| p.expectation.user.clone())
        .collect()
}

async fn handle_mail(
    ctx: &Ctx,
    folder: &Folder,
    message: MessageRef,
    raw: &[u8],
    internal_date: Option<OffsetDateTime>,
) {
    let Some(analysis) = extract::analyze(raw, &ctx.filter) else {
        return;
    };
    if !analysis.relevant {
        return;
    }
    let received = internal_date.or(analysis.date);
    let users = route(ctx, &analysis, received);
    if users.is_empty() {
        return;
    }
    let (candidates, ocr_problem) = ctx.ocr.candidates(&analysis).await;
    if candidates.is_empty() {
        for user in &users {
            let d = match &ocr_problem {
                Some(e @ OcrError::Missing) => {
                    Diagnostic::new(DiagnosticCode::OcrUnavailable, e.to_string())
                }
                Some(e) => Diagnostic::new(DiagnosticCode::CodeUnreadable, e.to_string()),
                None => Diagnostic::new(DiagnosticCode::CodeUnreadable, text::unreadable()),
            };
            ctx.shared.diagnose(d.for_user(user.clone()));
        }
        return;
    }
    if folder.junk {
        for user in &users {
            ctx.shared.diagnose(
                Diagnostic::new(DiagnosticCode::FoundInJunk, text::junk(&folder.name))
                    .for_user(user.clone()),
            );
        }
    }
    ctx.shared.lock().outstanding.insert(
        message.clone(),
        Outstanding {
            remaining: candidates.len(),
            accepted: false,
            users: users.clone(),
        },
    );
    tracing::info!(
        folder = %folder.name,
        uid = message.uid,
        candidates = candidates.len(),
        "ID-SESSIONE mail found"
    );
    for (code, via) in candidates {
        ctx.shared.sink.event(WatchEvent::Found(Found {
            code,
            users: users.clone(),
            folder: folder.name.clone(),
            junk: folder.junk,
            recipients: analysis.recipients.clone(),
            message: message.clone(),
            received_at: received,
            via,
        }));
    }
}

/// Flags, moves or deletes the mails whose code was accepted.
pub(super) async fn apply_actions(
    ctx: &Ctx,
    session: &mut ImapSession,
) -> Result<(), SessionError> {
    let actions = std::mem::take(&mut ctx.shared.lock().actions);
    let mut done = HashSet::new();
    for m in actions {
        if !done.insert(m.clone()) {
            continue;
        }
        let mailbox = match ctx.io(session.select(&m.folder)).await {
            Ok(mb) => mb,
            Err(SessionError::Imap(async_imap::error::Error::No(_))) => continue,
            Err(e) => return Err(e),
        };
        if mailbox.uid_validity.unwrap_or(0) != m.uid_validity {
            continue;
        }
        let uid = m.uid.to_string();
        let flags = match ctx.settings.on_processed {
            OnProcessed::Delete => "+FLAGS.SILENT (\\Seen \\Deleted)",
            _ => "+FLAGS.SILENT (\\Seen)",
        };
        ctx.io(async {
            let stream = session.uid_store(&uid, flags).await?;
            let _: Vec<_> = stream.try_collect().await?;
            Ok(())
        })
        .await?;
        match &ctx.settings.on_processed {
            OnProcessed::MarkSeen => {}
            OnProcessed::Move(target) => {
                if let Err(e) = ctx.io(session.uid_mv(&uid, target)).await {
                    tracing::warn!(error = %e, "moving the processed mail failed");
                    ctx.shared.diagnose(Diagnostic::new(
                        DiagnosticCode::Settings,
                        format!(
                            "Non è stato possibile spostare la mail del codice nella cartella «{target}»: \
                             crea la cartella nella casella o cambia l'impostazione."
                        ),
                    ));
                }
            }
            OnProcessed::Delete => {
                ctx.io(async {
                    let stream = session.uid_expunge(&uid).await?;
                    let _: Vec<_> = stream.try_collect().await?;
                    Ok(())
                })
                .await?;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn imap_dates() {
        assert_eq!(
            imap_date(time::macros::datetime!(2025-12-01 00:30 UTC)),
            "30-Nov-2025"
        );
        assert_eq!(
            imap_date(time::macros::datetime!(2026-01-01 10:00 UTC)),
            "31-Dec-2025"
        );
    }
}
