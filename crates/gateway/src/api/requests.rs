//! `GET /api/v1/users/{user}/session/requests`: the last requests of one user's code, for the
//! "Ultime richieste" of the card on every workstation (not only the admin's, which reads the
//! whole audit). Who asked, when, and what came of it; never a code.

use std::collections::HashMap;

use axum::Json;
use axum::extract::{Path, State};
use serde::Serialize;
use time::OffsetDateTime;
use tsgate_session::{Actor, AuditEntry, AuditFilter, AuditKind, UserId, WorkstationId};

use crate::auth::{Authed, act_for};
use crate::error::ApiError;
use crate::state::AppState;

/// Lines returned.
pub(crate) const SHOWN: usize = 5;
/// Audit lines read to find them (a request is up to two lines: its sending and its answer).
const READ: u32 = 40;

/// One line of "Ultime richieste".
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub(crate) struct RequestLine {
    /// When the request was made.
    #[serde(with = "time::serde::rfc3339")]
    pub(crate) at: OffsetDateTime,
    /// Who made it: `ws:<id>`, `auto` (automatic request), `mailbox`, `cli`, `system`.
    pub(crate) actor: String,
    /// The name of the workstation of a `ws:<id>` actor (revoked ones too), resolved here so
    /// that workstations that may not list the others can still say who asked.
    pub(crate) workstation_name: Option<String>,
    /// What came of it: the answer of Sistema TS when there was one (`mailed`, `issued`, an
    /// error code), else the outcome of the request itself (`sent`, `auto_limit`).
    pub(crate) outcome: String,
}

/// Outcomes that are not a request of their own: a click that joined the request in flight,
/// a click that stopped at "there is already a valid code" (the confirmation follows), a
/// click within the minimum interval (nothing was sent; the clicker was told when to retry).
fn is_noise(outcome: &str) -> bool {
    matches!(outcome, "joined" | "code_active" | "too_soon")
}

/// Outcomes (other than noise) that are the answer to an earlier `sent` of the same actor
/// rather than a new request: Sistema TS mailed or issued the code, or the `create` failed.
fn is_answer(outcome: &str) -> bool {
    !matches!(outcome, "sent" | "auto_limit")
}

/// The `requested` audit lines of one user (newest first) as requests, newest first: a
/// `sent` line and the answer that follows it become one line, at the time of the request,
/// with the answer as outcome. At most [`SHOWN`].
pub(crate) fn collapse(entries: &[AuditEntry]) -> Vec<(OffsetDateTime, Actor, String)> {
    // Newest first: an answer is seen before the `sent` it answers. `pending[actor]` is the
    // index in `out` of an answer still looking for its `sent`.
    let mut out: Vec<(OffsetDateTime, Actor, String)> = Vec::new();
    let mut pending: HashMap<String, usize> = HashMap::new();
    for e in entries {
        if e.session_kind() != Some(AuditKind::Requested) || is_noise(&e.outcome) {
            continue;
        }
        let actor = e.actor.to_string();
        if e.outcome == "sent"
            && let Some(i) = pending.remove(&actor)
        {
            out[i].0 = e.at;
            continue;
        }
        // An older line of this actor that is not its `sent`: the answer stays alone.
        pending.remove(&actor);
        if is_answer(&e.outcome) {
            pending.insert(actor, out.len());
        }
        out.push((e.at, e.actor.clone(), e.outcome.clone()));
    }
    out.truncate(SHOWN);
    out
}

/// The last requests of `user`, with workstation names.
pub(crate) async fn recent(state: &AppState, user: &UserId) -> Result<Vec<RequestLine>, ApiError> {
    let store = &state.backends().store;
    let filter = AuditFilter {
        user: Some(user.clone()),
        kind: Some(AuditKind::Requested.into()),
        limit: Some(READ),
        ..AuditFilter::default()
    };
    let entries = store.query(&filter).await?;
    let mut names: HashMap<String, Option<String>> = HashMap::new();
    let mut lines = Vec::new();
    for (at, actor, outcome) in collapse(&entries) {
        let workstation_name = match &actor {
            Actor::Workstation(WorkstationId(id)) => match names.get(id) {
                Some(name) => name.clone(),
                None => {
                    let name = store
                        .workstation(&WorkstationId(id.clone()))
                        .await?
                        .map(|w| w.name);
                    names.insert(id.clone(), name.clone());
                    name
                }
            },
            _ => None,
        };
        lines.push(RequestLine {
            at,
            actor: actor.to_string(),
            workstation_name,
            outcome,
        });
    }
    Ok(lines)
}

/// `GET /api/v1/users/{user}/session/requests`: any workstation that may act for the user.
pub(crate) async fn list(
    State(state): State<AppState>,
    Authed(actor): Authed,
    Path(user): Path<String>,
) -> Result<Json<Vec<RequestLine>>, ApiError> {
    let user = act_for(&state, &actor, &user).await?;
    Ok(Json(recent(&state, &user).await?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::Duration;
    use time::macros::datetime;
    use tsgate_session::{AdminAction, Application, SessionKey};

    fn line(minute: i64, actor: Actor, outcome: &str) -> AuditEntry {
        let key = SessionKey::new(
            UserId::new("PROVAX00X00X000Y").unwrap(),
            Application::Prescrittore,
        );
        AuditEntry::session(
            datetime!(2026-12-03 08:00 UTC) + Duration::minutes(minute),
            &key,
            tsgate_session::AuditDraft {
                kind: AuditKind::Requested,
                actor,
                outcome: outcome.into(),
                code_hint: None,
            },
        )
    }

    fn ws(id: &str) -> Actor {
        Actor::Workstation(WorkstationId(id.into()))
    }

    #[test]
    fn a_request_and_its_answer_are_one_line_at_the_time_of_the_request() {
        // Newest first, as the audit reads.
        let entries = vec![
            line(9, Actor::Auto, "mailed"),
            line(8, ws("b"), "joined"),
            line(7, Actor::Auto, "sent"),
            line(5, ws("a"), "upstream_unavailable"),
            line(4, ws("a"), "sent"),
            line(3, ws("a"), "code_active"),
            line(1, ws("b"), "too_soon"),
            line(0, ws("b"), "sent"),
        ];
        let got = collapse(&entries);
        let minute = |m: i64| datetime!(2026-12-03 08:00 UTC) + Duration::minutes(m);
        assert_eq!(
            got,
            vec![
                (minute(7), Actor::Auto, "mailed".to_owned()),
                (minute(4), ws("a"), "upstream_unavailable".to_owned()),
                // A `sent` whose answer never came (a lost create) stays as it is.
                (minute(0), ws("b"), "sent".to_owned()),
            ]
        );
    }

    #[test]
    fn answers_of_interleaved_actors_find_their_own_request() {
        let entries = vec![
            line(6, ws("a"), "mailed"),
            line(5, Actor::Auto, "mailed"),
            line(4, ws("a"), "sent"),
            line(3, Actor::Auto, "sent"),
        ];
        let got: Vec<_> = collapse(&entries)
            .into_iter()
            .map(|(at, a, o)| (at.minute(), a.to_string(), o))
            .collect();
        assert_eq!(
            got,
            vec![
                (4, "ws:a".to_owned(), "mailed".to_owned()),
                (3, "auto".to_owned(), "mailed".to_owned()),
            ]
        );
    }

    #[test]
    fn at_most_five_lines_and_only_requests() {
        // Twelve requests whose answers never came (lost creates), after an admin change.
        let mut entries: Vec<AuditEntry> =
            (0..12).rev().map(|m| line(m, ws("a"), "sent")).collect();
        entries.insert(
            0,
            AuditEntry::admin(
                datetime!(2026-12-03 09:00 UTC),
                Actor::Cli,
                AdminAction::UserUpdated,
                None,
                "ok",
            ),
        );
        let got = collapse(&entries);
        assert_eq!(got.len(), SHOWN);
        assert_eq!(got[0].0.minute(), 11);
    }
}
