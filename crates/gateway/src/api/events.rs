//! `GET /api/v1/events`: Server-Sent Events, one `session` event per change.

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures::{Stream, StreamExt, stream};

use crate::auth::Authed;
use crate::error::ApiError;
use crate::state::AppState;

/// On connect, the current state of every visible user; then every change, until the
/// client goes away or the server shuts down.
pub(crate) async fn stream(
    State(state): State<AppState>,
    Authed(actor): Authed,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    // Subscribe before reading the current states, so that no change falls in between.
    let live = state.backends().sessions.subscribe();
    let mut initial = Vec::with_capacity(actor.workstation.users.len());
    for user in &actor.workstation.users {
        let Ok(id) = tsgate_session::UserId::new(user.as_str()) else {
            continue;
        };
        if let Ok(view) = state.backends().sessions.status(&id).await {
            initial.push(view);
        }
    }
    let workstation = actor.workstation.clone();
    let live =
        live.filter(move |s| futures::future::ready(workstation.may_act_for(s.user.as_str())));
    let shutdown = state.shutdown_signal();
    let keep_alive = Duration::from_secs(state.config().sse_keep_alive_seconds.max(1));
    let events = stream::iter(initial)
        .chain(live)
        .map(move |view| {
            let event = Event::default()
                .event("session")
                .json_data(&view)
                .unwrap_or_else(|_| Event::default().comment("unserializable"));
            Ok(event)
        })
        .take_until(shutdown);
    Ok(Sse::new(events).keep_alive(KeepAlive::new().interval(keep_alive)))
}
