//! `GET /api/v1/events`: Server-Sent Events, one `session` event per change and one
//! `notice` event per [`Notice`].

use std::convert::Infallible;
use std::time::Duration;

use std::collections::HashSet;
use std::sync::Arc;

use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures::{Stream, StreamExt, stream};
use serde::Deserialize;
use tokio::sync::broadcast;
use tokio::sync::broadcast::error::RecvError;
use tsgate_session::{Reach, SessionChanged, SessionView, Store, UserId, Workstation};

use super::ApiQuery;
use crate::auth::{Authed, act_for};
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

/// At most this many users in `?users=`.
const MAX_FILTERED_USERS: usize = 1000;

/// The query string of `GET /api/v1/events`.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct EventParams {
    /// Only these users (comma-separated): what a backend acting for a whole practice asks
    /// for the doctors it serves at the moment.
    users: Option<String>,
}

/// Which changes a stream passes on.
enum Audience {
    /// The users asked for (each checked at connect).
    Only(HashSet<UserId>),
    /// Whomever the workstation acts for (its list, or its practice's members).
    Reach(Workstation, Arc<dyn Store>),
}

impl Audience {
    async fn hears(&self, user: &UserId) -> bool {
        match self {
            Self::Only(users) => users.contains(user),
            Self::Reach(ws, store) => match ws.acts_for_listed(user) {
                Some(decided) => decided,
                None => ws.acts_for(user, store.as_ref()).await.unwrap_or(false),
            },
        }
    }
}

/// On connect, the current state of every user asked for (or listed by the workstation);
/// then every change and every notice about them, until the client goes away or the server
/// shuts down.
pub(crate) async fn stream(
    State(state): State<AppState>,
    Authed(actor): Authed,
    ApiQuery(params): ApiQuery<EventParams>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let asked: Option<Vec<UserId>> = match params.users.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(list) => {
            let names: Vec<&str> = list
                .split(',')
                .map(str::trim)
                .filter(|u| !u.is_empty())
                .collect();
            if names.len() > MAX_FILTERED_USERS {
                return Err(ApiError::BadRequest(format!(
                    "troppi utenti in 'users' ({}): al massimo {MAX_FILTERED_USERS} per flusso; apri più flussi.",
                    names.len()
                )));
            }
            let mut ids = Vec::with_capacity(names.len());
            for name in names {
                ids.push(act_for(&state, &actor, name).await?);
            }
            Some(ids)
        }
    };
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
    let (first, audience) = match asked {
        Some(users) => (users.clone(), Audience::Only(users.into_iter().collect())),
        None => {
            // A backend's reach can be 100,000 doctors: it asks for the ones it wants.
            let listed = match actor.workstation.reach() {
                Reach::Listed(users) => users.to_vec(),
                _ => Vec::new(),
            };
            let store = Arc::clone(&state.backends().store);
            (listed, Audience::Reach(actor.workstation.clone(), store))
        }
    };
    let mut initial = Vec::with_capacity(first.len());
    for user in &first {
        if let Ok(view) = state.backends().sessions.status(user).await {
            initial.push(Item::Session(view));
        }
    }
    let audience = Arc::new(audience);
    let live =
        stream::select(live.map(Item::Session), notices.map(Item::Notice)).filter(move |item| {
            let user = match item {
                Item::Session(view) => view.user.clone(),
                Item::Notice(notice) => notice.user.clone(),
            };
            let audience = Arc::clone(&audience);
            async move { audience.hears(&user).await }
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
