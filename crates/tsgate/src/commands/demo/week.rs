//! `tsgate demo --play-week`: a simulated working week (Monday to Friday) in about a minute,
//! with no human action.
//!
//! The player moves the simulator's clock — which is the gateway's clock in the demo — from
//! one moment that matters to the next: the start of a working range, every half hour of
//! working time, and each automatic request the autopilot plans. At each stop it runs the
//! autopilot's pass, waits (in real time) for what it started to settle (the `create`, the
//! mail, `checkToken`), and during working hours sends a real prescription (InvioPrescritto)
//! for each doctor through tsgate's SOAP proxy, as practice software would. Sistema TS's side
//! is the simulator's: its counters tell how many `create`s each doctor made and when, and
//! its receipts whether each prescription went through.
//!
//! The report (printed, and written as JSON to `<data-dir>/week.json`) counts per day the
//! prescriptions accepted and refused, the automatic `create`s within and outside working
//! hours, and the held calls. The command fails (exit code 1) when any prescription sent in
//! working hours was refused.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use base64::Engine as _;
use serde::Serialize;
use sistemats::dem::{
    DemReceipt as _, DemRequest as _, InvioPrescrittoReceipt, InvioPrescrittoRequest,
    format_data_ora,
};
use sistemats::sanitel::SanitelCertificate;
use time::{Date, OffsetDateTime, Time, Weekday};
use tsgate_session::auto::Autopilot;
use tsgate_session::hours::WorkingHours;
use tsgate_session::{SessionManager, StateName, UserId, italy};
use tsgate_sim::TestUser;
use tsgate_sim::sample;
use tsgate_sim::state::Sim;

/// A prescription every this many minutes of working time, per doctor.
const PRESCRIPTION_EVERY_MINUTES: i64 = 30;
/// How long (real time) a stop waits for a request to settle: create, mail, checkToken.
const SETTLE_WITHIN: Duration = Duration::from_secs(20);

/// One doctor of the week.
struct Doctor {
    user: UserId,
    sim: TestUser,
}

/// Everything the player drives.
pub struct Player {
    sim: Arc<Sim>,
    manager: SessionManager,
    pilot: Autopilot,
    proxy_url: String,
    http: reqwest::Client,
    certificate: SanitelCertificate,
    candidates: Vec<UserId>,
    pace: Duration,
}

/// One day of the report.
#[derive(Debug, Default, Clone, Serialize)]
pub struct DayReport {
    /// Italian date, e.g. `lunedì 14/12/2026`.
    pub day: String,
    /// Prescriptions sent through the proxy during working hours.
    pub prescriptions: u32,
    /// Of those, accepted with `0000` (no 9101, no fault).
    pub accepted: u32,
    /// Of those, anything else (with the first reasons in `refusals`).
    pub refused: u32,
    /// `create`s the simulator answered during working hours (or within the lead time before).
    pub creates_in_hours: u32,
    /// `create`s the simulator answered outside working hours.
    pub creates_outside_hours: u32,
    /// Proxied calls that had to wait for a code (longer than one second).
    pub held: u32,
}

/// The whole week.
#[derive(Debug, Default, Clone, Serialize)]
pub struct WeekReport {
    /// Simulated start (RFC 3339).
    pub from: String,
    /// Simulated end (RFC 3339).
    pub to: String,
    /// Doctors played (Sistema TS user ids).
    pub users: Vec<String>,
    /// One entry per working day.
    pub days: Vec<DayReport>,
    /// Totals.
    pub prescriptions: u32,
    /// Accepted with `0000`.
    pub accepted: u32,
    /// Refused (anything but `0000`).
    pub refused: u32,
    /// `create`s in all, per doctor.
    pub creates_by_user: BTreeMap<String, u64>,
    /// Most `create`s of one doctor on one day.
    pub max_creates_per_day: u32,
    /// `create`s outside working hours.
    pub creates_outside_hours: u32,
    /// What the refusals said (first few).
    pub refusals: Vec<String>,
    /// Real seconds the week took.
    pub real_seconds: f64,
    /// Automatic requests whose mail did not settle within the stop's wait.
    pub unsettled: u32,
    /// What the simulator (Sistema TS) counted during the week.
    pub sistema_ts: SimCounts,
}

/// The simulator's own counters over the week: Sistema TS's side of the story.
#[derive(Debug, Default, Clone, Serialize)]
pub struct SimCounts {
    /// InvioPrescritto calls received.
    pub invio_prescritto: u64,
    /// DEM answers that carried 9101.
    pub warnings_9101: u64,
    /// `create` calls received (accepted or not).
    pub create_calls: u64,
}

impl SimCounts {
    fn now(sim: &Sim) -> Self {
        let stats = tsgate_sim::sync::lock(&sim.stats);
        let op = |name: &str| stats.operations.get(name).copied().unwrap_or(0);
        Self {
            invio_prescritto: op("InvioPrescritto"),
            warnings_9101: stats.warnings_9101,
            create_calls: op("create"),
        }
    }

    fn since(self, before: &Self) -> Self {
        Self {
            invio_prescritto: self.invio_prescritto - before.invio_prescritto,
            warnings_9101: self.warnings_9101 - before.warnings_9101,
            create_calls: self.create_calls - before.create_calls,
        }
    }
}

impl WeekReport {
    /// Nothing refused in working hours.
    pub fn clean(&self) -> bool {
        self.refused == 0
    }
}

impl Player {
    /// A player over the demo's simulator, manager and autopilot, sending prescriptions to
    /// `proxy_url` (`…/ts/<workstation token>`) for those of `users` whose automatic requests
    /// are on, pausing `pace` at each stop so that a browser shows the cards move.
    pub fn new(
        sim: Arc<Sim>,
        manager: SessionManager,
        pilot: Autopilot,
        proxy_url: String,
        users: Vec<UserId>,
        pace: Duration,
    ) -> anyhow::Result<Self> {
        let certificate = SanitelCertificate::from_pem(sim.keys.certificate_pem())
            .context("simulator certificate")?;
        Ok(Self {
            sim,
            manager,
            pilot,
            proxy_url,
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(60))
                .build()?,
            certificate,
            candidates: users,
            pace,
        })
    }

    /// The doctors whose codes are requested automatically (the others would only show
    /// refusals nobody is there to prevent).
    async fn doctors(&self) -> Vec<Doctor> {
        let mut doctors = Vec::new();
        for user in &self.candidates {
            let enabled = self.pilot.inputs(user).await.is_ok_and(|i| i.enabled);
            if let Some(sim_user) = self.sim.users.iter().find(|u| u.user_id == user.as_str())
                && enabled
            {
                doctors.push(Doctor {
                    user: user.clone(),
                    sim: sim_user.clone(),
                });
            }
        }
        doctors
    }

    /// Plays Monday 07:00 to Friday 24:00 of the next working week (Italian time).
    pub async fn play(&self) -> anyhow::Result<WeekReport> {
        let started = Instant::now();
        let doctors = self.doctors().await;
        if doctors.is_empty() {
            anyhow::bail!(
                "no demo doctor has automatic requests on (the demo mailbox or --imap makes them)"
            );
        }
        let start = next_monday_morning(self.manager.now());
        self.advance_to(start);
        let end = start + time::Duration::days(4) + time::Duration::hours(17);
        let mut report = WeekReport {
            from: rfc3339(start),
            to: rfc3339(end),
            users: doctors.iter().map(|d| d.user.as_str().to_owned()).collect(),
            ..WeekReport::default()
        };
        let mut days: BTreeMap<Date, DayReport> = BTreeMap::new();
        let mut per_user_day: BTreeMap<(String, Date), u32> = BTreeMap::new();
        let creates_before = self.creates();
        let mut counted = creates_before.clone();
        let counts_before = SimCounts::now(&self.sim);
        // The hours the autopilot plans the first doctor by (the practice's, in the demo).
        let hours = self
            .pilot
            .inputs(&doctors[0].user)
            .await
            .map_err(|e| anyhow::anyhow!("working hours: {e}"))?
            .hours;
        // A request made within the lead time before a range is for that range.
        let lead = self.manager.policy().auto_lead + time::Duration::minutes(1);
        println!(
            "Settimana simulata: dal {} al {}",
            italy::date(italy::to_rome(start).date()),
            italy::date(italy::to_rome(end).date())
        );
        loop {
            let now = self.manager.now();
            if now >= end {
                break;
            }
            let day = italy::to_rome(now).date();
            let entry = days.entry(day).or_insert_with(|| DayReport {
                day: format!("{} {}", day_name(day.weekday()), italy::date(day)),
                ..DayReport::default()
            });

            // What the autopilot plans at this moment, and what it starts. The count carries
            // on from the last stop: the autopilot's own ticks run during the pause too, and
            // the clock already showed this stop's time then.
            let before = std::mem::take(&mut counted);
            self.pilot
                .run_once()
                .await
                .map_err(|e| anyhow::anyhow!("automatic requests: {e}"))?;
            if !self.settle(&doctors).await {
                report.unsettled += 1;
            }
            // Prescriptions of this half hour, as the practice software sends them.
            let working = hours.contains(now);
            for doctor in doctors.iter().filter(|_| working) {
                entry.prescriptions += 1;
                let sent = Instant::now();
                match self.prescribe(doctor, now).await {
                    Ok(()) => entry.accepted += 1,
                    Err(why) => {
                        entry.refused += 1;
                        if report.refusals.len() < 10 {
                            report.refusals.push(format!(
                                "{} {} {}: {why}",
                                doctor.user,
                                italy::date(day),
                                italy::clock(now)
                            ));
                        }
                    }
                }
                if sent.elapsed() > Duration::from_secs(1) {
                    entry.held += 1;
                }
            }
            self.settle(&doctors).await;
            // Sistema TS's own count says when the creates happened.
            let after = self.creates();
            for (user, n) in &after {
                let delta = n - before.get(user).copied().unwrap_or(0);
                if delta == 0 {
                    continue;
                }
                let delta = u32::try_from(delta).unwrap_or(u32::MAX);
                if working || hours.contains(now + lead) {
                    entry.creates_in_hours += delta;
                } else {
                    entry.creates_outside_hours += delta;
                    println!(
                        "  ! {} {}: {delta} create fuori orario per {user}",
                        italy::date(day),
                        italy::clock(now)
                    );
                }
                *per_user_day.entry((user.clone(), day)).or_default() += delta;
            }
            self.print_stop(&doctors, now, &before, &after).await;
            counted = after;

            let next = self.next_stop(&doctors, now, &hours).await.min(end);
            self.advance_to(next);
            if !self.pace.is_zero() {
                tokio::time::sleep(self.pace).await;
            }
        }
        let after = self.creates();
        report.creates_by_user = after
            .iter()
            .map(|(u, n)| (u.clone(), n - creates_before.get(u).copied().unwrap_or(0)))
            .filter(|(u, _)| doctors.iter().any(|d| d.user.as_str() == u))
            .collect();
        report.max_creates_per_day = per_user_day.values().copied().max().unwrap_or(0);
        report.days = days
            .into_values()
            .filter(|d| d.prescriptions > 0 || d.creates_in_hours + d.creates_outside_hours > 0)
            .collect();
        for d in &report.days {
            report.prescriptions += d.prescriptions;
            report.accepted += d.accepted;
            report.refused += d.refused;
            report.creates_outside_hours += d.creates_outside_hours;
        }
        report.sistema_ts = SimCounts::now(&self.sim).since(&counts_before);
        report.real_seconds = started.elapsed().as_secs_f64();
        Ok(report)
    }

    /// The next moment that matters: the next half hour of working time, or an automatic
    /// request planned before it.
    async fn next_stop(
        &self,
        doctors: &[Doctor],
        now: OffsetDateTime,
        hours: &WorkingHours,
    ) -> OffsetDateTime {
        let mut next = next_slot(now, hours);
        for doctor in doctors {
            if let Ok(view) = self.manager.status(&doctor.user).await
                && let Some(at) = view.auto.and_then(|a| a.next_at)
                && at > now
            {
                next = next.min(at);
            }
        }
        next
    }

    /// Moves the simulated clock to `at` (or just past it: the clock has whole seconds).
    fn advance_to(&self, at: OffsetDateTime) {
        let nanos = (at - self.manager.now()).whole_nanoseconds();
        if nanos > 0 {
            let seconds = (nanos + 999_999_999) / 1_000_000_000;
            self.sim
                .clock
                .advance(i64::try_from(seconds).unwrap_or(i64::MAX));
        }
    }

    /// `create`s per user, as the simulator counted them.
    fn creates(&self) -> BTreeMap<String, u64> {
        tsgate_sim::sync::lock(&self.sim.stats)
            .creates_by_user
            .clone()
    }

    /// Waits until the autopilot has no request in flight and no doctor waits for a mail;
    /// `false` when something was still waiting after [`SETTLE_WITHIN`].
    async fn settle(&self, doctors: &[Doctor]) -> bool {
        let deadline = Instant::now() + SETTLE_WITHIN;
        loop {
            let mut busy = self.pilot.in_progress() > 0;
            for doctor in doctors {
                if let Ok(view) = self.manager.status(&doctor.user).await {
                    busy |= view.state == StateName::AwaitingCode || view.pending;
                }
            }
            if !busy {
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// One line per stop: each doctor's state, and a mark where Sistema TS issued a code.
    async fn print_stop(
        &self,
        doctors: &[Doctor],
        now: OffsetDateTime,
        creates_before: &BTreeMap<String, u64>,
        creates_after: &BTreeMap<String, u64>,
    ) {
        let mut line = format!(
            "{} {}",
            day_name(italy::to_rome(now).weekday()),
            italy::clock(now)
        );
        for doctor in doctors {
            if let Ok(view) = self.manager.status(&doctor.user).await {
                let until = view
                    .expires_at
                    .map(|t| format!(" fino {}", italy::until_time(t, now)))
                    .unwrap_or_default();
                let id = doctor.user.as_str();
                let issued = creates_after.get(id).copied().unwrap_or(0)
                    > creates_before.get(id).copied().unwrap_or(0);
                line.push_str(&format!(
                    "  {}: {}{}{}",
                    doctor.user,
                    view.state.as_str(),
                    until,
                    if issued {
                        " (nuovo codice richiesto)"
                    } else {
                        ""
                    }
                ));
            }
        }
        println!("{line}");
    }

    /// Sends one InvioPrescritto through the proxy; `Err` with what went wrong unless the
    /// receipt says `0000` without 9101.
    async fn prescribe(&self, doctor: &Doctor, now: OffsetDateTime) -> Result<(), String> {
        let local = italy::to_rome(now);
        let compiled = format_data_ora(time::PrimitiveDateTime::new(local.date(), local.time()));
        // A substitute prescribes for the titolare he stands in for, with his own session.
        let titolare = sample::titolare_of(&doctor.sim, &self.sim.users);
        let request = sample::invio_prescritto(
            &doctor.sim,
            titolare,
            sample::PATIENT_CF,
            &compiled,
            |clear| self.certificate.encrypt(clear),
        )
        .map_err(|e| format!("cifratura: {e}"))?;
        request
            .validate()
            .map_err(|e| format!("richiesta non valida: {e:?}"))?;
        let service = InvioPrescrittoRequest::SERVICE;
        let basic = base64::engine::general_purpose::STANDARD
            .encode(format!("{}:{}", doctor.sim.user_id, doctor.sim.password));
        let answer = self
            .http
            .post(format!("{}{}", self.proxy_url, service.path()))
            .header("Authorization", format!("Basic {basic}"))
            .header("Content-Type", "text/xml; charset=utf-8")
            .header("SOAPAction", format!("\"{}\"", service.soap_action()))
            .body(request.to_envelope())
            .send()
            .await
            .map_err(|e| format!("proxy non raggiungibile: {e}"))?;
        let status = answer.status();
        let tsgate_error = answer
            .headers()
            .get("X-Tsgate-Error")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let bytes = answer
            .bytes()
            .await
            .map_err(|e| format!("risposta interrotta: {e}"))?;
        let receipt = InvioPrescrittoReceipt::parse(&bytes).map_err(|e| {
            format!(
                "HTTP {status}{}: {e}",
                tsgate_error.map(|t| format!(" ({t})")).unwrap_or_default()
            )
        })?;
        if receipt.second_factor_problem() {
            return Err("9101: ID-SESSIONE non presente o non valido".into());
        }
        if receipt.cod_esito_inserimento != "0000" {
            return Err(format!(
                "codEsitoInserimento {}",
                receipt.cod_esito_inserimento
            ));
        }
        Ok(())
    }
}

/// Prints the report as a table.
pub fn print_report(report: &WeekReport) {
    println!();
    println!(
        "Giorno                 ricette  ok  rifiutate  create(orario)  create(fuori)  attese"
    );
    for d in &report.days {
        println!(
            "{:<22} {:>7} {:>3} {:>10} {:>15} {:>14} {:>7}",
            d.day,
            d.prescriptions,
            d.accepted,
            d.refused,
            d.creates_in_hours,
            d.creates_outside_hours,
            d.held
        );
    }
    println!(
        "Totale: {} ricette, {} accettate, {} rifiutate; create per medico {:?} (al massimo {} in un giorno), {} fuori orario; {:.1} s reali.",
        report.prescriptions,
        report.accepted,
        report.refused,
        report.creates_by_user,
        report.max_creates_per_day,
        report.creates_outside_hours,
        report.real_seconds
    );
    for r in &report.refusals {
        println!("  rifiutata: {r}");
    }
}

fn rfc3339(t: OffsetDateTime) -> String {
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

fn day_name(day: Weekday) -> &'static str {
    tsgate_session::hours::DAY_NAMES[usize::from(day.number_days_from_monday())]
}

/// 07:00 (Italian time) of the next Monday, or of today when today is a Monday before 07:00.
fn next_monday_morning(now: OffsetDateTime) -> OffsetDateTime {
    let local = italy::to_rome(now);
    let mut day = local.date();
    let seven = Time::from_hms(7, 0, 0).expect("valid time");
    if !(day.weekday() == Weekday::Monday && local.time() < seven) {
        day = day.next_occurrence(Weekday::Monday);
    }
    italy::from_rome(day, seven)
}

/// The next half hour (on the clock) after `now` that falls in working hours; the start of
/// a range that does not begin on a half hour.
fn next_slot(now: OffsetDateTime, hours: &WorkingHours) -> OffsetDateTime {
    let step = PRESCRIPTION_EVERY_MINUTES;
    let mut at = now;
    for _ in 0..8 {
        let local = italy::to_rome(at);
        let minutes = i64::from(local.hour()) * 60 + i64::from(local.minute());
        let next = (minutes / step + 1) * step;
        let candidate = if next >= 24 * 60 {
            match local.date().next_day() {
                Some(day) => italy::from_rome(day, Time::MIDNIGHT),
                None => return at,
            }
        } else {
            let time = Time::from_hms((next / 60) as u8, (next % 60) as u8, 0).expect("valid time");
            italy::from_rome(local.date(), time)
        };
        if hours.contains(candidate) {
            return candidate;
        }
        match hours.next_range(candidate) {
            Some((start, _)) if start > candidate => {
                if !italy::to_rome(start).minute().is_multiple_of(step as u8) {
                    return start;
                }
                // The half hour on which the range starts is the next slot.
                at = start - time::Duration::minutes(1);
            }
            _ => return candidate,
        }
    }
    at
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn the_week_starts_on_monday_morning() {
        // Monday 7 December 2026, 19:30 in Rome: next Monday.
        assert_eq!(
            next_monday_morning(datetime!(2026-12-07 18:30 UTC)),
            datetime!(2026-12-14 06:00 UTC)
        );
        // Monday at 05:00 in Rome: today.
        assert_eq!(
            next_monday_morning(datetime!(2026-12-14 04:00 UTC)),
            datetime!(2026-12-14 06:00 UTC)
        );
    }

    #[test]
    fn slots_are_half_hours_of_working_time() {
        let hours = WorkingHours::default(); // Mon–Fri 08:00–19:30
        // Monday 07:00 → 08:00 (Rome).
        assert_eq!(
            next_slot(datetime!(2026-12-14 06:00 UTC), &hours),
            datetime!(2026-12-14 07:00 UTC)
        );
        // 08:10 → 08:30.
        assert_eq!(
            next_slot(datetime!(2026-12-14 07:10 UTC), &hours),
            datetime!(2026-12-14 07:30 UTC)
        );
        // Monday 19:00 → Tuesday 08:00.
        assert_eq!(
            next_slot(datetime!(2026-12-14 18:00 UTC), &hours),
            datetime!(2026-12-15 07:00 UTC)
        );
    }
}
