//! The demo's pharmacy: the simulator's test pharmacy (application `EROGATORE`) in a
//! practice of its own, next to the doctors' one, with two counters ("banchi") that act
//! for it. Both counters share the pharmacy's one code, as every workstation of a practice
//! shares its doctor's.

use anyhow::anyhow;
use serde::{Deserialize, Serialize};
use sistemats::{Password, Pin};
use tsgate_session::audit::AdminAction;
use tsgate_session::{
    Actor, PracticeId, PracticeRepo as _, Role, UserDirectory as _, UserId, UserProfile,
    WorkstationRepo as _, WorkstationRole, WorkstationSpec, WorkstationToken,
};
use tsgate_sim::TestUser;
use tsgate_store::AnyStore;

use super::super::user::audit_as;

/// The pharmacy's practice.
const PRACTICE: &str = "farmacia-prova";
const PRACTICE_NAME: &str = "Farmacia Prova (demo)";
/// The counters, in the order `demo.json` lists them.
const COUNTERS: [&str; 2] = ["Banco 1", "Banco 2"];

/// The seeded pharmacy, as `demo.json` shows it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DemoPharmacy {
    /// Its Sistema TS user (application `EROGATORE`).
    pub user_id: String,
    /// Its practice.
    pub practice: String,
    /// Its counters.
    pub counters: Vec<DemoCounter>,
}

/// One counter (a workstation of the pharmacy's practice, acting for the pharmacy).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DemoCounter {
    /// Its name ("Banco 1").
    pub name: String,
    /// Its workstation token.
    pub workstation_token: String,
    /// One-click sign-in for the counter's browser.
    pub login_url: String,
    /// Base URL for the pharmacy software of this counter.
    pub proxy_url: String,
}

/// Adds the simulator's pharmacy, its practice and its two counters when missing; the
/// counters of an earlier `previous` demo are kept while their tokens still work.
pub async fn seed(
    store: &AnyStore,
    sim_users: &[TestUser],
    ui_url: &str,
    previous: Option<&DemoPharmacy>,
) -> anyhow::Result<Option<DemoPharmacy>> {
    let Some(user) = sim_users
        .iter()
        .find(|u| u.role == tsgate_sim::Role::Farmacia)
    else {
        return Ok(None);
    };
    let id = UserId::new(user.user_id.as_str()).map_err(|_| anyhow!("bad simulator user id"))?;
    let practice = PracticeId::new(PRACTICE).map_err(|_| anyhow!("bad practice id"))?;
    if store.practice(&practice).await?.is_none() {
        store.put_practice(&practice, PRACTICE_NAME).await?;
    }
    if store.user(&id).await?.is_none() {
        let profile = UserProfile {
            user_id: id.clone(),
            fiscal_code: user.cf.clone(),
            region: user.region.clone(),
            asl: user.asl.clone(),
            ssa: user.ssa.clone(),
            specialization: None,
            display_name: Some("Farmacia Prova".to_owned()),
            environment: tsgate_session::Environment::Test,
            role: Role::Farmacia,
            password_changed_at: Some(time::OffsetDateTime::now_utc().date()),
        };
        store.put_user(&profile).await?;
        store
            .set_credentials(
                &id,
                &Password::new(user.password.as_str()),
                &Pin::new(user.pin.as_str()),
                None,
            )
            .await?;
        audit_as(
            store,
            Actor::System,
            AdminAction::UserAdded,
            Some(&id),
            "demo",
        )
        .await?;
    }
    store.add_member(&practice, &id).await?;
    let mut counters = Vec::new();
    for name in COUNTERS {
        let kept = previous
            .and_then(|p| p.counters.iter().find(|c| c.name == name))
            .map(|c| WorkstationToken::new(c.workstation_token.clone()));
        let token = match kept {
            Some(token) if store.authenticate(&token).await?.is_some() => token,
            _ => {
                let (workstation, token) = store
                    .register_workstation(&WorkstationSpec {
                        name: name.to_owned(),
                        role: WorkstationRole::Doctor,
                        practice: Some(practice.clone()),
                        users: vec![id.clone()],
                    })
                    .await?;
                audit_as(
                    store,
                    Actor::System,
                    AdminAction::WorkstationAdded,
                    None,
                    format!("workstation {} ({name}), demo", workstation.id),
                )
                .await?;
                token
            }
        };
        let secret = token.expose_secret();
        counters.push(DemoCounter {
            name: name.to_owned(),
            login_url: format!("{ui_url}/login?token={secret}"),
            proxy_url: format!("{ui_url}/ts/{secret}"),
            workstation_token: secret.to_owned(),
        });
    }
    Ok(Some(DemoPharmacy {
        user_id: user.user_id.clone(),
        practice: PRACTICE.to_owned(),
        counters,
    }))
}
