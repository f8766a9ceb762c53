//! Applying a bulk import ([`crate::import::ImportPlan`]) to a store: doctors in batches of
//! [`BATCH`] rows per transaction, then workstations by (practice, name). Idempotent:
//! importing the same file again changes nothing and creates no second workstation.

use serde::Serialize;

use crate::import::{ImportLine, ImportPlan, Refusal};
use crate::ports::{ImportCounts, ImportedUser, Store, StoreResult};
use crate::practice::PracticeId;
use crate::workstation::WorkstationSpec;

/// Doctors written per transaction.
pub const BATCH: usize = 1000;

/// Who imports: an admin workstation (its practice only) or the vendor and the command
/// line (any practice).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ImportScope {
    /// Rows of this practice only; a doctor of another practice is not touched.
    Practice(PracticeId),
    /// Any practice.
    Installation,
}

/// A workstation the import created: its token is shown here once.
#[derive(Clone, Serialize)]
pub struct CreatedWorkstation {
    /// Line of the file.
    pub line: usize,
    /// Workstation id.
    pub id: String,
    /// Name.
    pub name: String,
    /// Practice (`None`: installation-wide).
    pub practice: Option<PracticeId>,
    /// Role.
    pub role: String,
    /// The token, shown only in this report.
    pub token: String,
}

impl std::fmt::Debug for CreatedWorkstation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CreatedWorkstation")
            .field("line", &self.line)
            .field("id", &self.id)
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

/// What an import did, line by line for what it refused.
#[derive(Clone, Debug, Default, Serialize)]
pub struct ImportReport {
    /// Nothing was written (a check of the file).
    pub dry_run: bool,
    /// Doctors accepted (written, or that would be).
    pub users_accepted: u64,
    /// What the doctors changed.
    pub users: ImportCounts,
    /// Workstations created (with their tokens).
    pub workstations_created: Vec<CreatedWorkstation>,
    /// Existing workstations whose list of doctors changed.
    pub workstations_updated: u64,
    /// Existing workstations already as imported.
    pub workstations_unchanged: u64,
    /// Lines refused, with why (Italian).
    pub refused: Vec<Refusal>,
}

fn refuse(line: usize, id: impl Into<String>, reason: impl Into<String>) -> Refusal {
    Refusal {
        line,
        id: Some(id.into()),
        reason: reason.into(),
    }
}

/// Whether `practice` may be written under `scope`.
fn in_scope(scope: &ImportScope, practice: Option<&PracticeId>) -> bool {
    match scope {
        ImportScope::Installation => true,
        ImportScope::Practice(own) => practice == Some(own),
    }
}

/// Applies `plan` (or only checks it, with `dry_run`).
pub async fn apply(
    store: &dyn Store,
    plan: ImportPlan,
    scope: &ImportScope,
    dry_run: bool,
) -> StoreResult<ImportReport> {
    let mut report = ImportReport {
        dry_run,
        refused: plan.refused,
        ..ImportReport::default()
    };
    let mut accepted: Vec<ImportedUser> = Vec::with_capacity(plan.users.len());
    for ImportLine { line, item } in plan.users {
        let id = item.profile.user_id.to_string();
        if !in_scope(scope, Some(&item.practice)) {
            report.refused.push(refuse(
                line,
                id,
                format!(
                    "lo studio {} non è quello di questa postazione: togli la riga o importala dalla postazione del fornitore.",
                    item.practice
                ),
            ));
            continue;
        }
        // An admin may not change a doctor who belongs only to other practices.
        if let ImportScope::Practice(own) = scope {
            let theirs = store.practices_of(&item.profile.user_id).await?;
            if !theirs.is_empty() && !theirs.contains(own) {
                report.refused.push(refuse(
                    line,
                    id,
                    "l'utente è già configurato per un altro studio: chiedi al fornitore del gestionale di aggiungerlo anche a questo.",
                ));
                continue;
            }
        }
        accepted.push(item);
    }
    report.users_accepted = accepted.len() as u64;
    if !dry_run {
        for batch in accepted.chunks(BATCH) {
            report.users += store.import_users(batch).await?;
        }
    }
    for ImportLine { line, item } in plan.workstations {
        workstation(store, scope, dry_run, line, item, &mut report).await?;
    }
    report.refused.sort_by_key(|r| r.line);
    Ok(report)
}

async fn workstation(
    store: &dyn Store,
    scope: &ImportScope,
    dry_run: bool,
    line: usize,
    spec: WorkstationSpec,
    report: &mut ImportReport,
) -> StoreResult<()> {
    if !in_scope(scope, spec.practice.as_ref())
        || (matches!(scope, ImportScope::Practice(_))
            && spec.role == crate::WorkstationRole::Vendor)
    {
        report.refused.push(refuse(
            line,
            &spec.name,
            "questa postazione non può creare postazioni per un altro studio o per il fornitore.",
        ));
        return Ok(());
    }
    if let Some(practice) = &spec.practice {
        if store.practice(practice).await?.is_none() && !dry_run {
            report.refused.push(refuse(
                line,
                &spec.name,
                format!("lo studio {practice} non esiste: aggiungi almeno un medico di quello studio nel file o crealo prima."),
            ));
            return Ok(());
        }
        for user in &spec.users {
            if !dry_run && !store.is_member(practice, user).await? {
                report.refused.push(refuse(
                    line,
                    &spec.name,
                    format!("l'utente {user} non è un medico dello studio {practice}."),
                ));
                return Ok(());
            }
        }
    }
    let existing = store
        .workstation_named(spec.practice.as_ref(), &spec.name)
        .await?;
    match existing {
        Some(ws) if ws.role != spec.role => {
            report.refused.push(refuse(
                line,
                &spec.name,
                format!(
                    "esiste già una postazione «{}» di tipo {}: cambia il nome o revocala prima.",
                    spec.name, ws.role
                ),
            ));
        }
        Some(ws) => {
            let mut wanted = spec.users.clone();
            wanted.sort();
            wanted.dedup();
            if ws.users == wanted {
                report.workstations_unchanged += 1;
            } else {
                if !dry_run {
                    store.set_workstation_users(&ws.id, &wanted).await?;
                }
                report.workstations_updated += 1;
            }
        }
        None if dry_run => report.workstations_created.push(CreatedWorkstation {
            line,
            id: String::new(),
            name: spec.name.clone(),
            practice: spec.practice.clone(),
            role: spec.role.to_string(),
            token: String::new(),
        }),
        None => {
            let (ws, token) = store.register_workstation(&spec).await?;
            report.workstations_created.push(CreatedWorkstation {
                line,
                id: ws.id.to_string(),
                name: ws.name,
                practice: ws.practice,
                role: ws.role.to_string(),
                token: token.expose_secret().to_owned(),
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::MemoryStore;
    use crate::import::{ImportFormat, parse_import};
    use crate::ports::{PracticeRepo, UserDirectory, WorkstationRepo};

    const CSV: &str = "practice;user_id;cf;region;asl;display_name;password;pin\n\
        studio-a;ROSSI;RSSMRA80A01H501U;130;201;Dott. Rossi;pw-rossi;1234\n\
        studio-b;BIANCHI;BNCLRA80A41H501X;130;201;Dott.ssa Bianchi;pw-bianchi;5678\n";

    fn plan(text: &str) -> ImportPlan {
        parse_import(
            text.as_bytes(),
            ImportFormat::detect(text.as_bytes(), None),
            None,
        )
        .unwrap()
    }

    #[tokio::test]
    async fn an_admin_imports_into_its_practice_only_and_twice_is_once() {
        let store = MemoryStore::new();
        let report = apply(&store, plan(CSV), &ImportScope::Installation, false)
            .await
            .unwrap();
        assert_eq!(report.users.users_created, 2);
        assert!(report.refused.is_empty());
        let again = apply(&store, plan(CSV), &ImportScope::Installation, false)
            .await
            .unwrap();
        assert_eq!(again.users.users_unchanged, 2);

        // The admin of studio-a: BIANCHI's line is another practice's.
        let a = PracticeId::new("studio-a").unwrap();
        let report = apply(&store, plan(CSV), &ImportScope::Practice(a.clone()), false)
            .await
            .unwrap();
        assert_eq!(report.users_accepted, 1);
        assert_eq!(report.refused.len(), 1);
        assert_eq!(report.refused[0].line, 3);
        // ...and may not pull another practice's doctor into its own.
        let theft = "practice;user_id;cf;region;asl;password;pin\n\
            studio-a;BIANCHI;BNCLRA80A41H501X;130;201;other;0000\n";
        let report = apply(
            &store,
            plan(theft),
            &ImportScope::Practice(a.clone()),
            false,
        )
        .await
        .unwrap();
        assert_eq!((report.users_accepted, report.refused.len()), (0, 1));
        let bianchi = crate::UserId::new("BIANCHI").unwrap();
        assert_eq!(
            store
                .credentials(&bianchi)
                .await
                .unwrap()
                .unwrap()
                .password
                .expose_secret(),
            "pw-bianchi"
        );
        assert!(!store.is_member(&a, &bianchi).await.unwrap());
    }

    #[tokio::test]
    async fn workstations_are_created_once_with_a_token_and_updated_after() {
        let store = MemoryStore::new();
        apply(&store, plan(CSV), &ImportScope::Installation, false)
            .await
            .unwrap();
        let json = r#"{"workstations": [
            {"name": "Gestionale A", "role": "backend", "practice": "studio-a"},
            {"name": "Ambulatorio", "role": "doctor", "practice": "studio-a", "users": ["ROSSI"]},
            {"name": "Intruso", "role": "doctor", "practice": "studio-a", "users": ["BIANCHI"]}
        ]}"#;
        let first = apply(&store, plan(json), &ImportScope::Installation, false)
            .await
            .unwrap();
        assert_eq!(first.workstations_created.len(), 2);
        assert!(
            first
                .workstations_created
                .iter()
                .all(|w| w.token.starts_with("tsg_"))
        );
        assert_eq!(
            first.refused.len(),
            1,
            "BIANCHI is not a doctor of studio-a"
        );
        let second = apply(&store, plan(json), &ImportScope::Installation, false)
            .await
            .unwrap();
        assert!(second.workstations_created.is_empty());
        assert_eq!(second.workstations_unchanged, 2);
        let a = PracticeId::new("studio-a").unwrap();
        let page = store
            .workstations_page(&crate::ListQuery::practice(a))
            .await
            .unwrap();
        assert_eq!(page.items.len(), 2);
        // A dry run writes nothing.
        let fresh = MemoryStore::new();
        let dry = apply(&fresh, plan(CSV), &ImportScope::Installation, true)
            .await
            .unwrap();
        assert_eq!(dry.users_accepted, 2);
        assert!(fresh.list_users().await.unwrap().is_empty());
    }
}
