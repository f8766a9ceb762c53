//! `tsgate hours …` and `tsgate user set-auto`: working hours and automatic requests,
//! directly in the database, audited as the API's changes are (actor `cli`).
//!
//! A running server reads them at its next automatic-request pass (every 15 s).

use std::sync::Arc;

use anyhow::anyhow;
use tsgate_session::auto::{self, HoursSource, UserSchedule};
use tsgate_session::hours::{Closure, HoursSpec, Week, WorkingHours, parse_date};
use tsgate_session::{AdminAction, ScheduleRepo as _, StoreError, UserId};
use tsgate_store::AnyStore;

use super::Failure;
use super::user::{audit, user_id};
use crate::app;
use crate::cli::{
    ConfigArgs, HoursCloseArgs, HoursCommand, HoursReopenArgs, HoursResetArgs, HoursSetArgs,
    HoursShowArgs, SetAutoArgs,
};
use crate::config::Config;

/// Runs one `hours` subcommand.
pub async fn run(command: HoursCommand) -> Result<(), Failure> {
    match command {
        HoursCommand::Show(args) => show(args).await,
        HoursCommand::Set(args) => set(args).await,
        HoursCommand::Close(args) => close(args).await,
        HoursCommand::Reopen(args) => reopen(args).await,
        HoursCommand::Reset(args) => reset(args).await,
    }
}

/// The configuration's database and the practice hours of its file, if any.
struct Ctx {
    store: Arc<AnyStore>,
    file_hours: Option<WorkingHours>,
}

async fn open(args: &ConfigArgs) -> Result<Ctx, Failure> {
    let config = Config::load(args.config.as_deref()).map_err(Failure::Config)?;
    let file_hours = config.file_hours().map_err(Failure::Config)?;
    let store = app::open_store(&config).await.map_err(Failure::Config)?;
    Ok(Ctx { store, file_hours })
}

fn refused(e: impl Into<anyhow::Error>) -> Failure {
    Failure::Refused(e.into())
}

/// Whose hours a command is about.
enum Target {
    Practice,
    User(UserId),
}

impl Target {
    fn of(user: Option<&str>) -> Result<Self, Failure> {
        Ok(match user {
            Some(u) => Target::User(user_id(u)?),
            None => Target::Practice,
        })
    }
}

impl Ctx {
    async fn practice(&self) -> Result<(WorkingHours, HoursSource), Failure> {
        auto::practice_hours(&*self.store, self.file_hours.as_ref())
            .await
            .map_err(refused)
    }

    async fn schedule(&self, user: &UserId) -> Result<UserSchedule, Failure> {
        match self.store.schedule(user).await {
            Ok(s) => Ok(s),
            Err(StoreError::NotFound(_)) => Err(refused(anyhow!("no user {user}"))),
            Err(e) => Err(refused(e)),
        }
    }

    /// The hours `target` works by now: the base every change starts from.
    async fn current(&self, target: &Target) -> Result<(WorkingHours, HoursSource), Failure> {
        match target {
            Target::Practice => self.practice().await,
            Target::User(user) => {
                let schedule = self.schedule(user).await?;
                auto::effective_hours(&*self.store, self.file_hours.as_ref(), &schedule)
                    .await
                    .map_err(refused)
            }
        }
    }

    /// Saves `hours` as `target`'s, audits it and says so.
    async fn save(&self, target: &Target, hours: WorkingHours) -> Result<(), Failure> {
        let hours = hours
            .validate()
            .map_err(|e| Failure::Config(anyhow!("{e}")))?;
        match target {
            Target::Practice => {
                if self.file_hours.is_some() {
                    return Err(refused(anyhow!(
                        "the practice's working hours are set in the configuration file \
                         ([working_hours]): change them there (they apply at the next start)"
                    )));
                }
                self.store
                    .set_practice_hours(&hours)
                    .await
                    .map_err(refused)?;
                audit(
                    &self.store,
                    AdminAction::PracticeHoursSet,
                    None,
                    hours.summary(),
                )
                .await?;
                println!("practice working hours saved: {}", hours.summary());
            }
            Target::User(user) => {
                let mut schedule = self.schedule(user).await?;
                schedule.hours = Some(hours);
                self.save_schedule(user, &schedule).await?;
            }
        }
        println!("a running server plans automatic requests by them within 15 seconds");
        Ok(())
    }

    async fn save_schedule(&self, user: &UserId, schedule: &UserSchedule) -> Result<(), Failure> {
        self.store
            .set_schedule(user, schedule)
            .await
            .map_err(refused)?;
        audit(
            &self.store,
            AdminAction::ScheduleSet,
            Some(user),
            schedule.summary(),
        )
        .await?;
        println!("{user} saved: {}", schedule.summary());
        Ok(())
    }
}

fn print_hours(hours: &WorkingHours, source: HoursSource) {
    let week = if hours.is_empty() {
        "no working hours: automatic requests never start".to_owned()
    } else {
        hours.week.to_string()
    };
    println!("week:      {week}");
    println!(
        "holidays:  {}",
        if hours.public_holidays {
            "closed on national public holidays"
        } else {
            "open on public holidays"
        }
    );
    if hours.closures.is_empty() {
        println!("closures:  none");
    }
    for (i, c) in hours.closures.iter().enumerate() {
        let label = if i == 0 { "closures:" } else { "" };
        let note = c.note.as_deref().unwrap_or("");
        println!("{label:<10} {} to {} {note}", c.from, c.to);
    }
    println!("source:    {} ({})", source.as_str(), source.describe());
}

async fn show(args: HoursShowArgs) -> Result<(), Failure> {
    let target = Target::of(args.user.as_deref())?;
    let ctx = open(&args.config).await?;
    let (hours, source) = ctx.current(&target).await?;
    let schedule = match &target {
        Target::User(user) => Some(ctx.schedule(user).await?),
        Target::Practice => None,
    };
    ctx.store.close().await;
    if args.json {
        let mut shown = serde_json::json!({
            "hours": HoursSpec::from(&hours),
            "text": hours.week.to_string(),
            "source": source,
        });
        if let Some(s) = &schedule {
            shown["auto"] = serde_json::json!(s.auto);
            shown["own_hours"] = serde_json::json!(s.hours.is_some());
        }
        println!("{}", serde_json::to_string_pretty(&shown).map_err(refused)?);
        return Ok(());
    }
    match (&target, &schedule) {
        (Target::User(user), Some(s)) => {
            println!("user:      {user}");
            println!(
                "automatic: {} ({})",
                s.auto.as_str(),
                match s.auto {
                    auto::AutoMode::Default => "on when the certified mailbox works",
                    auto::AutoMode::On => "always on",
                    auto::AutoMode::Off => "off: the doctor requests each code",
                }
            );
        }
        _ => println!("practice working hours"),
    }
    print_hours(&hours, source);
    Ok(())
}

async fn set(args: HoursSetArgs) -> Result<(), Failure> {
    let target = Target::of(args.user.as_deref())?;
    let week: Week = args
        .week
        .join("; ")
        .parse()
        .map_err(|e| Failure::Config(anyhow!("{e}")))?;
    let ctx = open(&args.config).await?;
    let (mut hours, _) = ctx.current(&target).await?;
    hours.week = week;
    if let Some(holidays) = args.public_holidays {
        hours.public_holidays = holidays;
    }
    let result = ctx.save(&target, hours).await;
    ctx.store.close().await;
    result
}

async fn close(args: HoursCloseArgs) -> Result<(), Failure> {
    let target = Target::of(args.user.as_deref())?;
    let date = |d: &str| parse_date(d).map_err(|e| Failure::Config(anyhow!("{e}")));
    let from = date(&args.from)?;
    let to = match &args.to {
        Some(t) => date(t)?,
        None => from,
    };
    let note = args
        .note
        .map(|n| n.trim().to_owned())
        .filter(|n| !n.is_empty());
    let ctx = open(&args.config).await?;
    let (mut hours, _) = ctx.current(&target).await?;
    hours.closures.push(Closure { from, to, note });
    let result = ctx.save(&target, hours).await;
    ctx.store.close().await;
    result
}

async fn reopen(args: HoursReopenArgs) -> Result<(), Failure> {
    let target = Target::of(args.user.as_deref())?;
    let from = parse_date(&args.from).map_err(|e| Failure::Config(anyhow!("{e}")))?;
    let ctx = open(&args.config).await?;
    let result = async {
        let (mut hours, source) = ctx.current(&target).await?;
        if let Target::User(user) = &target
            && source != HoursSource::User
        {
            return Err(refused(anyhow!(
                "{user} follows the practice's working hours: reopen the practice's closure \
                 (without --user)"
            )));
        }
        let before = hours.closures.len();
        hours.closures.retain(|c| c.from != from);
        if hours.closures.len() == before {
            return Err(refused(anyhow!("no closure starts on {from}")));
        }
        ctx.save(&target, hours).await
    }
    .await;
    ctx.store.close().await;
    result
}

async fn reset(args: HoursResetArgs) -> Result<(), Failure> {
    let user = user_id(args.user())?;
    let ctx = open(&args.config).await?;
    let result = async {
        let mut schedule = ctx.schedule(&user).await?;
        schedule.hours = None;
        ctx.save_schedule(&user, &schedule).await
    }
    .await;
    ctx.store.close().await;
    result
}

/// `tsgate user set-auto`.
pub async fn set_auto(args: SetAutoArgs) -> Result<(), Failure> {
    let user = user_id(&args.user)?;
    let ctx = open(&args.config).await?;
    let result = async {
        let mut schedule = ctx.schedule(&user).await?;
        schedule.auto = args.mode.mode();
        ctx.save_schedule(&user, &schedule).await?;
        println!("a running server applies it within 15 seconds");
        Ok(())
    }
    .await;
    ctx.store.close().await;
    result
}
