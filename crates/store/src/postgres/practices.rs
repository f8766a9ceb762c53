//! Practices, their members, and the bulk import of doctors.

use async_trait::async_trait;
use sqlx::{AssertSqlSafe, PgConnection, Postgres, QueryBuilder};
use time::OffsetDateTime;
use tsgate_session::{
    ImportCounts, ImportedUser, ListQuery, Page, Password, Pin, Practice, PracticeCounts,
    PracticeId, PracticeRepo, StoreResult, UserId, UserProfile,
};

use super::PgStore;
use std::collections::{BTreeMap, HashMap};

use zeroize::Zeroizing;

use super::users::lock_user;
use crate::crypto::KeyRing;
use crate::error::{Error, Result};
use crate::stored::{
    PROFILE_COLUMNS, PracticeRow, ProfileRow, count, credentials_slot, date_text, ms,
};

/// Whether the practice `id` exists; when it does, its row stays (`FOR KEY SHARE`) until `tx`
/// ends, so that rows inserted next that refer to it cannot meet a concurrent delete.
pub(crate) async fn lock_practice(tx: &mut PgConnection, id: &str) -> Result<bool> {
    Ok(
        sqlx::query("SELECT 1 FROM practices WHERE id = $1 FOR KEY SHARE")
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?
            .is_some(),
    )
}

impl PgStore {
    async fn upsert_practice(&self, id: &PracticeId, name: &str) -> Result<Practice> {
        let row: PracticeRow = sqlx::query_as(
            "INSERT INTO practices (id, name, created_at_ms) VALUES ($1, $2, $3)
             ON CONFLICT (id) DO UPDATE SET name = excluded.name
             RETURNING id, name, created_at_ms",
        )
        .bind(id.as_str())
        .bind(name)
        .bind(ms(OffsetDateTime::now_utc()))
        .fetch_one(&self.pool)
        .await?;
        Practice::try_from(row)
    }

    async fn practice_by_id(&self, id: &PracticeId) -> Result<Option<Practice>> {
        let row: Option<PracticeRow> =
            sqlx::query_as("SELECT id, name, created_at_ms FROM practices WHERE id = $1")
                .bind(id.as_str())
                .fetch_optional(&self.pool)
                .await?;
        row.map(Practice::try_from).transpose()
    }

    async fn page_of_practices(&self, q: &ListQuery) -> Result<Page<Practice>> {
        let limit = q.effective_limit();
        let mut sql = QueryBuilder::<Postgres>::new(
            "SELECT id, name, created_at_ms FROM practices WHERE TRUE",
        );
        if let Some(after) = &q.after {
            sql.push(" AND id > ").push_bind(after.clone());
        }
        if let Some(needle) = q.needle() {
            sql.push(" AND (strpos(id, ")
                .push_bind(needle.clone())
                .push(") > 0 OR strpos(lower(name), ")
                .push_bind(needle)
                .push(") > 0)");
        }
        sql.push(" ORDER BY id LIMIT ")
            .push_bind(i64::from(limit) + 1);
        let rows: Vec<PracticeRow> = sql.build_query_as().fetch_all(&self.pool).await?;
        let rows = rows
            .into_iter()
            .map(Practice::try_from)
            .collect::<Result<Vec<_>>>()?;
        Ok(Page::from_rows(rows, limit, |p| p.id.to_string()))
    }

    async fn counts_of(&self, id: &PracticeId) -> Result<PracticeCounts> {
        let (users, workstations, active): (i64, i64, i64) = sqlx::query_as(
            "SELECT
               (SELECT count(*) FROM practice_members WHERE practice_id = $1),
               (SELECT count(*) FROM workstations
                 WHERE practice_id = $1 AND revoked_at_ms IS NULL),
               (SELECT count(*) FROM practice_members m JOIN sessions s ON s.user_id = m.user_id
                 WHERE m.practice_id = $1 AND s.code_enc IS NOT NULL)",
        )
        .bind(id.as_str())
        .fetch_one(&self.pool)
        .await?;
        Ok(PracticeCounts {
            users: count(users),
            workstations: count(workstations),
            active_sessions: count(active),
        })
    }

    async fn insert_member(&self, practice: &PracticeId, user: &UserId) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        if !lock_practice(&mut tx, practice.as_str()).await? {
            return Err(Error::NotFound(format!("practices {practice}")));
        }
        if !lock_user(&mut tx, user.as_str()).await? {
            return Err(Error::NotFound(format!("users {user}")));
        }
        sqlx::query(
            "INSERT INTO practice_members (practice_id, user_id) VALUES ($1, $2)
             ON CONFLICT DO NOTHING",
        )
        .bind(practice.as_str())
        .bind(user.as_str())
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn delete_member(&self, practice: &PracticeId, user: &UserId) -> Result<bool> {
        let mut tx = self.pool.begin().await?;
        let n = sqlx::query("DELETE FROM practice_members WHERE practice_id = $1 AND user_id = $2")
            .bind(practice.as_str())
            .bind(user.as_str())
            .execute(&mut *tx)
            .await?
            .rows_affected();
        // The practice's workstations stop acting for a doctor who left it.
        sqlx::query(
            "DELETE FROM workstation_users WHERE user_id = $1 AND workstation_id IN
               (SELECT id FROM workstations WHERE practice_id = $2)",
        )
        .bind(user.as_str())
        .bind(practice.as_str())
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(n > 0)
    }

    async fn member(&self, practice: &PracticeId, user: &UserId) -> Result<bool> {
        Ok(
            sqlx::query("SELECT 1 FROM practice_members WHERE practice_id = $1 AND user_id = $2")
                .bind(practice.as_str())
                .bind(user.as_str())
                .fetch_optional(&self.pool)
                .await?
                .is_some(),
        )
    }

    async fn memberships(&self, user: &UserId) -> Result<Vec<PracticeId>> {
        sqlx::query_scalar::<_, String>(
            "SELECT practice_id FROM practice_members WHERE user_id = $1 ORDER BY practice_id",
        )
        .bind(user.as_str())
        .fetch_all(&self.pool)
        .await?
        .into_iter()
        .map(|p| PracticeId::new(p).map_err(|e| Error::Corrupt(e.to_string())))
        .collect()
    }

    async fn import_batch(&self, rows: &[ImportedUser]) -> Result<ImportCounts> {
        // Held until the commit: a key rotation waits for it.
        let keys = self.keys.read().await;
        let mut counts = ImportCounts::default();
        let now = ms(OffsetDateTime::now_utc());
        // Rows are taken in one order, practices first, then doctors, both by id (a stable
        // sort keeps repeated rows in their order): two imports lock the rows they share in
        // the same order, so they wait for each other but never deadlock.
        let mut by_practice: Vec<&ImportedUser> = rows.iter().collect();
        by_practice.sort_by(|a, b| a.practice.as_str().cmp(b.practice.as_str()));
        let mut by_user: Vec<&ImportedUser> = rows.iter().collect();
        by_user.sort_by(|a, b| a.profile.user_id.as_str().cmp(b.profile.user_id.as_str()));
        let mut tx = self.pool.begin().await?;
        // One statement per practice of the batch (usually one), not per row.
        let mut practices_seen = std::collections::BTreeSet::new();
        for row in by_practice {
            if practices_seen.insert((row.practice.as_str(), row.practice_name.as_deref())) {
                counts.practices_created += import_practice(&mut tx, row, now).await?;
            }
        }
        // The batch's doctors and credentials as stored, read with one statement each (the
        // doctors locked, in id order: two imports of the same doctor take turns).
        let mut ids: Vec<&str> = by_user.iter().map(|r| r.profile.user_id.as_str()).collect();
        ids.dedup();
        let stored: Vec<ProfileRow> = sqlx::query_as(AssertSqlSafe(format!(
            "SELECT {PROFILE_COLUMNS} FROM users u WHERE u.user_id = ANY($1)
             ORDER BY u.user_id FOR UPDATE"
        )))
        .bind(&ids)
        .fetch_all(&mut *tx)
        .await?;
        let mut profiles: HashMap<String, UserProfile> = HashMap::with_capacity(stored.len());
        for row in stored {
            let profile = UserProfile::try_from(row)?;
            profiles.insert(profile.user_id.to_string(), profile);
        }
        let sealed: Vec<(String, Vec<u8>, Vec<u8>)> = sqlx::query_as(
            "SELECT user_id, password_enc, pin_enc FROM credentials WHERE user_id = ANY($1)",
        )
        .bind(&ids)
        .fetch_all(&mut *tx)
        .await?;
        let mut secrets: HashMap<String, (Zeroizing<String>, Zeroizing<String>)> =
            HashMap::with_capacity(sealed.len());
        for (user, password, pin) in sealed {
            let password = keys.open_string(&password, credentials_slot(&user, "password_enc"))?;
            let pin = keys.open_string(&pin, credentials_slot(&user, "pin_enc"))?;
            secrets.insert(user, (password, pin));
        }
        // Decided row by row, as if written one at a time; written once per doctor below.
        let mut new_profiles: BTreeMap<&str, &UserProfile> = BTreeMap::new();
        let mut new_secrets: BTreeMap<&str, (&Password, &Pin)> = BTreeMap::new();
        for row in &by_user {
            let id = row.profile.user_id.as_str();
            let existed = profiles.contains_key(id);
            let mut changed = false;
            if profiles.get(id) != Some(&row.profile) {
                profiles.insert(id.to_owned(), row.profile.clone());
                new_profiles.insert(id, &row.profile);
                changed = existed;
            }
            if let Some((password, pin)) = &row.credentials {
                let same = secrets.get(id).is_some_and(|(p, n)| {
                    p.as_str() == password.expose_secret() && n.as_str() == pin.expose_secret()
                });
                if !same {
                    secrets.insert(
                        id.to_owned(),
                        (
                            Zeroizing::new(password.expose_secret().to_owned()),
                            Zeroizing::new(pin.expose_secret().to_owned()),
                        ),
                    );
                    new_secrets.insert(id, (password, pin));
                    changed = true;
                }
            }
            match (existed, changed) {
                (false, _) => counts.users_created += 1,
                (true, true) => counts.users_updated += 1,
                (true, false) => counts.users_unchanged += 1,
            }
        }
        write_profiles(&mut tx, new_profiles.values().copied(), now).await?;
        write_credentials(&mut tx, &keys, &new_secrets, now).await?;
        let (practices, users): (Vec<&str>, Vec<&str>) = by_user
            .iter()
            .map(|r| (r.practice.as_str(), r.profile.user_id.as_str()))
            .unzip();
        counts.memberships_added += sqlx::query(
            "INSERT INTO practice_members (practice_id, user_id)
             SELECT * FROM UNNEST($1::text[], $2::text[])
             ON CONFLICT DO NOTHING",
        )
        .bind(&practices)
        .bind(&users)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        tx.commit().await?;
        Ok(counts)
    }
}

/// Creates the practice of `row` when missing (1) or renames it when the row names it (0).
async fn import_practice(tx: &mut PgConnection, row: &ImportedUser, now: i64) -> Result<u64> {
    let name = row
        .practice_name
        .clone()
        .unwrap_or_else(|| row.practice.to_string());
    let created = sqlx::query(
        "INSERT INTO practices (id, name, created_at_ms) VALUES ($1, $2, $3)
         ON CONFLICT DO NOTHING",
    )
    .bind(row.practice.as_str())
    .bind(&name)
    .bind(now)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if created == 0 && row.practice_name.is_some() {
        sqlx::query("UPDATE practices SET name = $1 WHERE id = $2 AND name <> $1")
            .bind(&name)
            .bind(row.practice.as_str())
            .execute(&mut *tx)
            .await?;
    }
    Ok(created)
}

/// Inserts or updates `profiles` with one statement.
async fn write_profiles<'a>(
    tx: &mut PgConnection,
    profiles: impl Iterator<Item = &'a UserProfile>,
    now: i64,
) -> Result<()> {
    let mut cols: [Vec<Option<String>>; 10] = Default::default();
    for p in profiles {
        let values = [
            Some(p.user_id.to_string()),
            Some(p.fiscal_code.clone()),
            Some(p.region.clone()),
            Some(p.asl.clone()),
            Some(p.ssa.clone()),
            p.specialization.clone(),
            p.display_name.clone(),
            Some(p.environment.as_str().to_owned()),
            Some(p.role.as_str().to_owned()),
            p.password_changed_at.map(date_text).transpose()?,
        ];
        for (col, value) in cols.iter_mut().zip(values) {
            col.push(value);
        }
    }
    if cols[0].is_empty() {
        return Ok(());
    }
    let mut query = sqlx::query(
        "INSERT INTO users (user_id, fiscal_code, region, asl, ssa, specialization, display_name,
             environment, role, password_changed_on, created_at_ms, updated_at_ms)
         SELECT t.*, $11, $11 FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[],
             $5::text[], $6::text[], $7::text[], $8::text[], $9::text[], $10::text[]) AS t
         ON CONFLICT (user_id) DO UPDATE SET fiscal_code = excluded.fiscal_code,
             region = excluded.region, asl = excluded.asl, ssa = excluded.ssa,
             specialization = excluded.specialization, display_name = excluded.display_name,
             environment = excluded.environment, role = excluded.role,
             password_changed_on = excluded.password_changed_on,
             updated_at_ms = excluded.updated_at_ms",
    );
    for col in cols {
        query = query.bind(col);
    }
    query.bind(now).execute(&mut *tx).await?;
    Ok(())
}

/// Seals and writes `secrets` (password and PIN by user) with one statement.
async fn write_credentials(
    tx: &mut PgConnection,
    keys: &KeyRing,
    secrets: &BTreeMap<&str, (&Password, &Pin)>,
    now: i64,
) -> Result<()> {
    if secrets.is_empty() {
        return Ok(());
    }
    let mut users = Vec::with_capacity(secrets.len());
    let mut passwords = Vec::with_capacity(secrets.len());
    let mut pins = Vec::with_capacity(secrets.len());
    for (user, (password, pin)) in secrets {
        users.push(*user);
        passwords.push(keys.seal(
            password.expose_secret().as_bytes(),
            credentials_slot(user, "password_enc"),
        ));
        pins.push(keys.seal(
            pin.expose_secret().as_bytes(),
            credentials_slot(user, "pin_enc"),
        ));
    }
    sqlx::query(
        "INSERT INTO credentials (user_id, password_enc, pin_enc, revision, updated_at_ms)
         SELECT t.u, t.p, t.n, 1, $4 FROM UNNEST($1::text[], $2::bytea[], $3::bytea[]) AS t(u, p, n)
         ON CONFLICT (user_id) DO UPDATE SET password_enc = excluded.password_enc,
             pin_enc = excluded.pin_enc, revision = credentials.revision + 1,
             updated_at_ms = excluded.updated_at_ms",
    )
    .bind(&users)
    .bind(&passwords)
    .bind(&pins)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

#[async_trait]
impl PracticeRepo for PgStore {
    async fn put_practice(&self, id: &PracticeId, name: &str) -> StoreResult<Practice> {
        Ok(self.upsert_practice(id, name).await?)
    }

    async fn practice(&self, id: &PracticeId) -> StoreResult<Option<Practice>> {
        Ok(self.practice_by_id(id).await?)
    }

    async fn practices_page(&self, query: &ListQuery) -> StoreResult<Page<Practice>> {
        Ok(self.page_of_practices(query).await?)
    }

    async fn practice_counts(&self, id: &PracticeId) -> StoreResult<PracticeCounts> {
        Ok(self.counts_of(id).await?)
    }

    async fn add_member(&self, practice: &PracticeId, user: &UserId) -> StoreResult<()> {
        Ok(self.insert_member(practice, user).await?)
    }

    async fn remove_member(&self, practice: &PracticeId, user: &UserId) -> StoreResult<bool> {
        Ok(self.delete_member(practice, user).await?)
    }

    async fn is_member(&self, practice: &PracticeId, user: &UserId) -> StoreResult<bool> {
        Ok(self.member(practice, user).await?)
    }

    async fn practices_of(&self, user: &UserId) -> StoreResult<Vec<PracticeId>> {
        Ok(self.memberships(user).await?)
    }

    async fn import_users(&self, rows: &[ImportedUser]) -> StoreResult<ImportCounts> {
        Ok(self.import_batch(rows).await?)
    }
}
