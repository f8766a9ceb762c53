//! Working hours and automatic requests: the practice default (`/api/v1/practice/hours`) and
//! each user's choices (`/api/v1/users/{user}/schedule`).
//!
//! Reading is for every workstation (the practice) or for those acting for the user;
//! changing is for admin workstations, audited as `practice_hours_set` / `schedule_set`.
//! Hours arrive as people write them ([`HoursSpec`]: every value a text), so that a mistake
//! is answered 422 with the domain's Italian reason, never as a type error. After a change
//! the autopilot plans the users concerned again at once, so every card shows the new next
//! automatic action without waiting for the next pass.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::Method;
use serde::{Deserialize, Deserializer, Serialize};
use tsgate_session::auto::{AutoMode, AutoView, Autopilot, HoursSource, UserSchedule};
use tsgate_session::hours::{HoursSpec, SpecError, WorkingHours};
use tsgate_session::{AdminAction, StoreError, UserId};

use super::{ApiJson, RouteTable};
use crate::auth::{AdminAuthed, Authed, act_for};
use crate::error::ApiError;
use crate::state::AppState;

/// The routes of this module.
pub(crate) fn routes() -> RouteTable {
    RouteTable::new()
        .add(Method::GET, "/api/v1/practice/hours", practice)
        .add(Method::PUT, "/api/v1/practice/hours", set_practice)
        .add(Method::GET, "/api/v1/users/{user}/schedule", schedule)
        .add(Method::PUT, "/api/v1/users/{user}/schedule", set_schedule)
}

fn pilot(state: &AppState) -> Result<&Autopilot, ApiError> {
    state.autopilot().ok_or(ApiError::NotConfigured(
        "orari di lavoro e richieste automatiche",
    ))
}

fn invalid(e: SpecError) -> ApiError {
    ApiError::InvalidSchedule(format!("Orari non validi: {}", e.error))
}

/// Working hours as the API shows them.
#[derive(Debug, Serialize)]
pub(crate) struct HoursView {
    /// In the form `PUT` accepts (every day listed).
    hours: HoursSpec,
    /// The week in the compact form: `lun-ven 08:00-13:00 15:00-19:30`.
    text: String,
    /// Week, closures, holidays in one line.
    summary: String,
    /// `user`, `file`, `stored`, `built_in`.
    source: HoursSource,
    /// Where they come from, in Italian.
    note: &'static str,
}

impl HoursView {
    fn of(hours: &WorkingHours, source: HoursSource) -> Self {
        Self {
            hours: HoursSpec::from(hours),
            text: hours.week.to_string(),
            summary: hours.summary(),
            source,
            note: source.describe(),
        }
    }
}

/// `GET /api/v1/practice/hours`.
#[derive(Debug, Serialize)]
pub(crate) struct PracticeView {
    #[serde(flatten)]
    hours: HoursView,
    /// Set in the configuration file: `PUT` answers 409.
    read_only: bool,
}

async fn practice_view(pilot: &Autopilot) -> Result<PracticeView, ApiError> {
    let (hours, source) = pilot.practice().await?;
    Ok(PracticeView {
        hours: HoursView::of(&hours, source),
        read_only: source == HoursSource::File,
    })
}

pub(crate) async fn practice(
    State(state): State<AppState>,
    Authed(_caller): Authed,
) -> Result<Json<PracticeView>, ApiError> {
    Ok(Json(practice_view(pilot(&state)?).await?))
}

pub(crate) async fn set_practice(
    State(state): State<AppState>,
    AdminAuthed(caller): AdminAuthed,
    ApiJson(spec): ApiJson<HoursSpec>,
) -> Result<Json<PracticeView>, ApiError> {
    let pilot = pilot(&state)?;
    if pilot.hours_from_file() {
        return Err(ApiError::HoursFromFile);
    }
    // The default hours are one setting of the installation: an admin of another practice
    // may not change them for everybody (its doctors' own hours are per user).
    if caller
        .workstation
        .practice
        .as_ref()
        .is_some_and(|p| p.as_str() != tsgate_session::PracticeId::DEFAULT)
    {
        return Err(ApiError::OtherPractice);
    }
    let hours = spec.build().map_err(invalid)?;
    state.backends().store.set_practice_hours(&hours).await?;
    super::admin::audit(
        &state,
        &caller,
        AdminAction::PracticeHoursSet,
        None,
        hours.summary(),
    )
    .await?;
    // Every user who follows the practice now plans by the new hours.
    if let Err(e) = pilot.run_once().await {
        tracing::warn!(error = %sistemats::error::describe_chain(&e), "could not plan automatic requests again after the practice hours changed");
    }
    Ok(Json(practice_view(pilot).await?))
}

/// `GET /api/v1/users/{user}/schedule`.
#[derive(Debug, Serialize)]
pub(crate) struct ScheduleView {
    /// Sistema TS user id.
    user: String,
    /// The chosen mode: `default` (on when the certified mailbox works), `on`, `off`.
    auto: AutoMode,
    /// Whether automatic requests are on now (the mode resolved against the mailbox).
    auto_enabled: bool,
    /// Why they are off, in Italian with the next step.
    auto_reason: Option<String>,
    /// The next automatic action, as the cards show it.
    next: Option<AutoView>,
    /// The user's own hours, or `null` when they follow the practice.
    hours: Option<HoursSpec>,
    /// The hours automatic requests follow, and where they come from.
    effective: HoursView,
}

async fn schedule_view(state: &AppState, user: &UserId) -> Result<ScheduleView, ApiError> {
    let pilot = pilot(state)?;
    let chosen = stored_schedule(state, user).await?;
    let (hours, source) = pilot.effective_hours(user, &chosen).await?;
    let inputs = pilot.inputs(user).await?;
    let next = state
        .backends()
        .sessions
        .status(user)
        .await
        .ok()
        .and_then(|v| v.auto);
    Ok(ScheduleView {
        user: user.to_string(),
        auto: chosen.auto,
        auto_enabled: inputs.enabled,
        auto_reason: inputs.off_reason,
        next,
        hours: chosen.hours.as_ref().map(HoursSpec::from),
        effective: HoursView::of(&hours, source),
    })
}

async fn stored_schedule(state: &AppState, user: &UserId) -> Result<UserSchedule, ApiError> {
    match state.backends().store.schedule(user).await {
        Ok(s) => Ok(s),
        Err(StoreError::NotFound(_)) => Err(ApiError::UnknownUser),
        Err(e) => Err(e.into()),
    }
}

pub(crate) async fn schedule(
    State(state): State<AppState>,
    Authed(caller): Authed,
    Path(user): Path<String>,
) -> Result<Json<ScheduleView>, ApiError> {
    let user = if caller.workstation.may_administer() {
        super::admin::administered_user(&state, &caller, &user).await?
    } else {
        act_for(&state, &caller, &user).await?
    };
    Ok(Json(schedule_view(&state, &user).await?))
}

/// `PUT /api/v1/users/{user}/schedule`: what is missing stays as it is; `"hours": null`
/// makes the user follow the practice's hours again.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ScheduleUpdate {
    /// `default`, `on` or `off`.
    #[serde(default)]
    auto: Option<String>,
    /// Own hours; `null`: the practice's.
    #[serde(default, deserialize_with = "present")]
    hours: Option<Option<HoursSpec>>,
}

/// A field that is present (even as `null`) is `Some`, so that `null` and missing differ.
fn present<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    T::deserialize(d).map(Some)
}

pub(crate) async fn set_schedule(
    State(state): State<AppState>,
    AdminAuthed(caller): AdminAuthed,
    Path(user): Path<String>,
    ApiJson(update): ApiJson<ScheduleUpdate>,
) -> Result<Json<ScheduleView>, ApiError> {
    let pilot = pilot(&state)?;
    let user = super::admin::administered_user(&state, &caller, &user).await?;
    let mut schedule = stored_schedule(&state, &user).await?;
    if let Some(mode) = &update.auto {
        schedule.auto = AutoMode::parse(mode.trim()).ok_or_else(|| {
            ApiError::InvalidSchedule(format!(
                "Modalità delle richieste automatiche «{}» non valida: usa default (attive se la casella funziona), on (sempre) oppure off (mai).",
                mode.trim()
            ))
        })?;
    }
    if let Some(hours) = &update.hours {
        schedule.hours = match hours {
            Some(spec) => Some(spec.build().map_err(invalid)?),
            None => None,
        };
    }
    match state.backends().store.set_schedule(&user, &schedule).await {
        Err(StoreError::NotFound(_)) => return Err(ApiError::UnknownUser),
        other => other?,
    }
    super::admin::audit(
        &state,
        &caller,
        AdminAction::ScheduleSet,
        Some(user.clone()),
        schedule.summary(),
    )
    .await?;
    if let Err(e) = pilot.replan(&user).await {
        tracing::warn!(%user, error = %sistemats::error::describe_chain(&e), "could not plan automatic requests again after the schedule changed");
    }
    Ok(Json(schedule_view(&state, &user).await?))
}
