//! Policy versions. Each PUT stores a new version; the newest is in force.

use chrono::{DateTime, Utc};
use sqlx::PgPool;

use super::DbError;
use crate::domain::{Policy, PolicySpec, Rule};

pub async fn current(pool: &PgPool) -> Result<Policy, DbError> {
    let row: Option<(i64, sqlx::types::Json<Vec<Rule>>, DateTime<Utc>)> = sqlx::query_as(
        "SELECT version, rules, created_at FROM policy_versions ORDER BY version DESC LIMIT 1",
    )
    .fetch_optional(pool)
    .await?;
    Ok(match row {
        Some((version, rules, created_at)) => Policy {
            version,
            rules: rules.0,
            created_at: Some(created_at),
        },
        None => Policy::empty(),
    })
}

/// Stores a checked policy as the next version. Rules are stored with every default filled in.
pub async fn put(pool: &PgPool, actor: &str, spec: PolicySpec) -> Result<Policy, DbError> {
    let lists: Vec<String> = super::lists::existing_lists(pool).await?;
    spec.check(|id| lists.iter().any(|l| l == id.as_str()))?;
    let mut tx = pool.begin().await?;
    // Serialise policy writers so versions grow by exactly one.
    sqlx::query("LOCK TABLE policy_versions IN EXCLUSIVE MODE")
        .execute(&mut *tx)
        .await?;
    let (version, created_at): (i64, DateTime<Utc>) = sqlx::query_as(
        "INSERT INTO policy_versions (version, rules, actor)
         SELECT coalesce(max(version), 0) + 1, $1, $2 FROM policy_versions
         RETURNING version, created_at",
    )
    .bind(sqlx::types::Json(&spec.rules))
    .bind(actor)
    .fetch_one(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(Policy {
        version,
        rules: spec.rules,
        created_at: Some(created_at),
    })
}
