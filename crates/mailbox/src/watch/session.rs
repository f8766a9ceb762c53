//! The watcher task: connection lifecycle, reconnection with backoff, IDLE.

use std::sync::Arc;
use std::time::Duration;

use async_imap::extensions::idle::IdleResponse;
use time::OffsetDateTime;

use super::Shared;
use super::ctx::{Ctx, SessionError};
use super::scan::{apply_actions, scan_folder};
use super::survey::survey;
use crate::connect::{self, ConnectError, ImapSession};
use crate::extract::MailFilter;
use crate::ocr::Ocr;
use crate::settings::{MailboxSettings, Tls};
use crate::status::{Diagnostic, DiagnosticCode, text};

/// The watcher task.
pub(crate) async fn run(shared: Arc<Shared>, settings: MailboxSettings) {
    let tls = match settings.security {
        Tls::Plain => None,
        _ => connect::tls_config(&settings).ok(),
    };
    let ctx = Ctx {
        filter: MailFilter::from_settings(&settings),
        ocr: Ocr::new(settings.tesseract.clone(), Duration::from_secs(20)),
        limit: Duration::from_secs(settings.timeout_secs.max(1)),
        shared,
        settings,
    };
    let max_backoff = Duration::from_secs(ctx.settings.reconnect_max_secs.max(1));
    let first_backoff = Duration::from_millis(500).min(max_backoff);
    let mut backoff = first_backoff;
    // After a refused login, retry only when asked (new request, check): repeated wrong
    // passwords can lock the mail account.
    let mut hold = false;
    loop {
        let next = ctx.shared.housekeeping(&ctx.settings);
        let (stop, needed) = ctx.wanted();
        if stop {
            break;
        }
        if !needed || hold {
            set_connected(&ctx.shared, false);
            match next {
                Some(d) if needed => ctx.nap(d).await,
                _ => ctx.shared.wake.notified().await,
            }
            hold = false;
            continue;
        }
        match connect::open(&ctx.settings, tls.clone()).await {
            Err(e) => {
                let d = e.diagnostic(&ctx.settings);
                tracing::warn!(host = %ctx.settings.host, error = %e, "mailbox connection failed");
                ctx.shared.diagnose(d);
                ctx.shared.lock().check_now = false;
                if matches!(e, ConnectError::Login | ConnectError::Settings(_)) {
                    hold = true;
                    continue;
                }
                ctx.nap(backoff.min(next.unwrap_or(backoff))).await;
                backoff = (backoff * 2).min(max_backoff);
            }
            Ok(session) => {
                backoff = first_backoff;
                let result = watch(&ctx, session).await;
                set_connected(&ctx.shared, false);
                if let Err(e) = result {
                    tracing::info!(host = %ctx.settings.host, error = %e, "mailbox session ended");
                    ctx.shared.diagnose(e.diagnostic(&ctx.settings));
                    ctx.nap(backoff).await;
                    backoff = (backoff * 2).min(max_backoff);
                }
            }
        }
    }
    set_connected(&ctx.shared, false);
}

fn set_connected(shared: &Shared, connected: bool) {
    shared.lock().status.connected = connected;
}

/// One logged-in session: discover, then scan and wait until nothing is awaited.
async fn watch(ctx: &Ctx, mut session: ImapSession) -> Result<(), SessionError> {
    let (folders, idle, quota) = survey(ctx, &mut session).await?;
    {
        let mut inner = ctx.shared.lock();
        inner.status.connected = true;
        inner.status.last_error = None;
        inner.status.clear(
            &[
                DiagnosticCode::LoginRefused,
                DiagnosticCode::Tls,
                DiagnosticCode::Connection,
                DiagnosticCode::Protocol,
                DiagnosticCode::Settings,
            ],
            None,
        );
        inner.status.folders = folders.iter().map(|f| f.name.clone()).collect();
        inner.status.idle = idle;
        inner.status.quota_percent = quota;
        if quota.is_none_or(|q| q < 90) {
            inner.status.clear(&[DiagnosticCode::MailboxFull], None);
        }
    }
    if let Some(q) = quota.filter(|q| *q >= 90) {
        ctx.shared
            .diagnose(Diagnostic::new(DiagnosticCode::MailboxFull, text::quota(q)));
    }
    loop {
        let next = ctx.shared.housekeeping(&ctx.settings);
        let (stop, needed) = ctx.wanted();
        if stop || !needed {
            let _ = tokio::time::timeout(ctx.limit, session.logout()).await;
            return Ok(());
        }
        apply_actions(ctx, &mut session).await?;
        for folder in &folders {
            scan_folder(ctx, &mut session, folder).await?;
        }
        {
            let mut inner = ctx.shared.lock();
            inner.status.last_check = Some(OffsetDateTime::now_utc());
            inner.check_now = false;
        }
        while session.unsolicited_responses.try_recv().is_ok() {}
        let (stop, needed) = ctx.wanted();
        if stop || !needed {
            continue;
        }
        let poll = Duration::from_secs(ctx.settings.poll_interval_secs.max(1));
        let wait = next
            .map_or(poll, |n| n.min(poll))
            .max(Duration::from_millis(200));
        if idle {
            session = idle_wait(ctx, session, wait).await?;
        } else {
            ctx.nap(wait).await;
        }
    }
}

/// IDLE on INBOX until new mail, `wait`, or a wake-up from the handle.
async fn idle_wait(
    ctx: &Ctx,
    mut session: ImapSession,
    wait: Duration,
) -> Result<ImapSession, SessionError> {
    ctx.io(session.select("INBOX")).await?;
    let mut idle = session.idle();
    ctx.io(idle.init()).await?;
    let outcome = {
        let (fut, _interrupt) = idle.wait_with_timeout(wait);
        tokio::select! {
            r = fut => Some(r),
            _ = ctx.shared.wake.notified() => None,
        }
    };
    match outcome {
        // The library reports the end of the stream as an interrupt; the interrupt itself
        // is never used here (the future is dropped instead).
        Some(Ok(IdleResponse::ManualInterrupt)) => return Err(SessionError::Closed),
        Some(Err(e)) => return Err(e.into()),
        Some(Ok(IdleResponse::Timeout | IdleResponse::NewData(_))) | None => {}
    }
    ctx.io(idle.done()).await
}
