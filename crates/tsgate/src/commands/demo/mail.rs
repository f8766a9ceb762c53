//! The demo's mailbox: without an IMAP server (`--imap`), the titolare's mail is read the
//! moment the simulator sends it, so that the tour shows codes that arrive by themselves and
//! automatic renewals with one command.
//!
//! Only the transport is skipped: each mail is parsed by the watcher's own reader
//! ([`tsgate_mailbox::extract::analyze`], OCR for a code drawn as an image) and every
//! candidate goes through `submit_code` like a code found in a real mailbox (normalised,
//! verified with `checkToken`, audited as `mailbox`).

use std::time::Duration;

use sistemats::error::describe_chain;
use tokio::sync::broadcast::error::RecvError;
use tokio::task::JoinHandle;
use tsgate_mailbox::extract::{MailFilter, analyze};
use tsgate_mailbox::ocr::Ocr;
use tsgate_session::{Actor, SessionManager, UserId};
use tsgate_sim::mail::Delivered;

/// OCR of a code drawn as an image, as the watcher does it.
const OCR_TIMEOUT: Duration = Duration::from_secs(20);

/// Reads the simulator's mail to `users` (certified address, user) until aborted.
pub fn spawn_reader(
    mut mails: tokio::sync::broadcast::Receiver<Delivered>,
    manager: SessionManager,
    users: Vec<(String, UserId)>,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let filter = MailFilter::default();
        let ocr = Ocr::new("tesseract", OCR_TIMEOUT);
        let mut queues = std::collections::HashMap::new();
        loop {
            let mail = match mails.recv().await {
                Ok(mail) => mail,
                Err(RecvError::Lagged(n)) => {
                    tracing::warn!(missed = n, "demo mailbox fell behind the simulator");
                    continue;
                }
                Err(RecvError::Closed) => return,
            };
            let Some((_, user)) = users
                .iter()
                .find(|(address, _)| address.eq_ignore_ascii_case(&mail.to))
            else {
                continue;
            };
            // One queue per user: a slow verification of one user's code (Sistema TS slow to
            // answer `checkToken`) does not delay another user's mail, and each user's mails
            // are still read in the order they came.
            let queue = queues.entry(user.clone()).or_insert_with(|| {
                let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<std::sync::Arc<[u8]>>();
                let (manager, user, filter, ocr) =
                    (manager.clone(), user.clone(), filter.clone(), ocr.clone());
                tokio::spawn(async move {
                    while let Some(raw) = rx.recv().await {
                        read_one(&manager, &user, &raw, &filter, &ocr).await;
                    }
                });
                tx
            });
            let _ = queue.send(mail.raw);
        }
    })
}

async fn read_one(
    manager: &SessionManager,
    user: &UserId,
    raw: &[u8],
    filter: &MailFilter,
    ocr: &Ocr,
) {
    let Some(analysis) = analyze(raw, filter) else {
        return;
    };
    let (codes, _) = ocr.candidates(&analysis).await;
    for (code, _) in codes {
        match manager
            .submit_code(user, code.expose_secret(), Actor::Mailbox)
            .await
        {
            Ok(_) => return,
            Err(e) => {
                tracing::info!(%user, error = %describe_chain(&e), "demo mailbox: candidate refused")
            }
        }
    }
}
