//! `GET /api/v1/events`: Server-Sent Events, one `session` event per change and one
//! `notice` event per [`Notice`].

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures::{Stream, StreamExt, stream};
use tokio::sync::broadcast;
use tokio::sync::broadcast::error::RecvError;
use tsgate_session::{SessionChanged, SessionView};

use crate::auth::Authed;
use crate::error::ApiError;
use crate::notices::Notice;
use crate::state::AppState;

/// What the stream carries.
/// Every change of any session, from now on (the caller filters by workstation).
pub(crate) fn changes(
    rx: broadcast::Receiver<SessionChanged>,
) -> impl Stream<Item = SessionView> + Send + 'static {
    stream::unfold(rx, |mut rx| async move {
        loop {
            match rx.recv().await {
                Ok(change) => return Some((change.view, rx)),
                // Missed changes: the next ones still arrive; the UI re-reads on reconnect.
                Err(RecvError::Lagged(n)) => {
                    tracing::warn!(missed = n, "event stream lagged");
                }
                Err(RecvError::Closed) => return None,
            }
        }
    })
}

enum Item {
    /// The state of a user's session (`session` event).
    Session(SessionView),
    /// Something the user's workstations should hear about (`notice` event).
    Notice(Notice),
}

/// On connect, the current state of every visible user; then every change and every
/// notice about them, until the client goes away or the server shuts down.
pub(crate) async fn stream(
    State(state): State<AppState>,
    Authed(actor): Authed,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    // Subscribe before reading the current states, so that no change falls in between.
    let live = changes(state.backends().sessions.subscribe());
    let notices = stream::unfold(state.notices().subscribe(), |mut rx| async move {
        loop {
            match rx.recv().await {
                Ok(notice) => return Some((notice, rx)),
                // A notice only prompts an action: missing a burst of them loses nothing.
                Err(RecvError::Lagged(_)) => continue,
                Err(RecvError::Closed) => return None,
            }
        }
    });
    let mut initial = Vec::with_capacity(actor.workstation.users.len());
    for user in &actor.workstation.users {
        if let Ok(view) = state.backends().sessions.status(user).await {
            initial.push(Item::Session(view));
        }
    }
    let workstation = actor.workstation.clone();
    let live =
        stream::select(live.map(Item::Session), notices.map(Item::Notice)).filter(move |item| {
            let user = match item {
                Item::Session(view) => &view.user,
                Item::Notice(notice) => &notice.user,
            };
            futures::future::ready(workstation.may_act_for(user))
        });
    let shutdown = state.shutdown_signal();
    let keep_alive = Duration::from_secs(state.config().sse_keep_alive_seconds.max(1));
    let events = stream::iter(initial)
        .chain(live)
        .map(move |item| {
            let event = match &item {
                Item::Session(view) => Event::default().event("session").json_data(view),
                Item::Notice(notice) => Event::default().event("notice").json_data(notice),
            };
            Ok(event.unwrap_or_else(|_| Event::default().comment("unserializable")))
        })
        .take_until(shutdown);
    Ok(Sse::new(events).keep_alive(KeepAlive::new().interval(keep_alive)))
}
