//! API keys (`migrations/0009_api_keys.sql`): made, listed, revoked, and read for checking.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::PgPool;
use utoipa::ToSchema;

use super::DbError;
use crate::domain::{KeyName, NewKey, Role};

/// What may be shown of a key: everything but its secret, which is never stored.
#[derive(Clone, Debug, Serialize, ToSchema, sqlx::FromRow)]
pub struct KeyInfo {
    pub name: String,
    #[sqlx(try_from = "String")]
    pub role: Role,
    /// The key's public part: `og_<prefix>_…`.
    pub prefix: String,
    pub created_at: DateTime<Utc>,
    pub created_by: String,
    pub expires_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
    pub revoked_by: Option<String>,
}

/// A key as the service checks it, on every request: its name is shared, not copied, with
/// the caller each request is authenticated as.
#[derive(Clone, Debug)]
pub struct StoredKey {
    pub name: Arc<str>,
    pub role: Role,
    pub prefix: String,
    pub secret_sha256: [u8; 32],
    pub expires_at: Option<DateTime<Utc>>,
}

const INFO_COLUMNS: &str =
    "name, role, prefix, created_at, created_by, expires_at, revoked_at, revoked_by";

/// Stores `key` under `name`. A name or prefix in use is a conflict; an expiry that is not in
/// the future is refused.
pub async fn create(
    pool: &PgPool,
    name: &KeyName,
    role: Role,
    expires_at: Option<DateTime<Utc>>,
    key: &NewKey,
    by: &str,
) -> Result<KeyInfo, DbError> {
    if expires_at.is_some_and(|t| t <= Utc::now()) {
        return Err(crate::domain::Invalid::new(
            "expires_at",
            "invalid_expiry",
            "a key's expiry is in the future",
        )
        .into());
    }
    sqlx::query_as::<_, KeyInfo>(&format!(
        "INSERT INTO api_keys (name, role, prefix, secret_sha256, created_by, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6) RETURNING {INFO_COLUMNS}"
    ))
    .bind(name.as_str())
    .bind(role.as_str())
    .bind(&key.prefix)
    .bind(&key.secret_sha256[..])
    .bind(by)
    .bind(expires_at)
    .fetch_one(pool)
    .await
    .map_err(super::on_constraint)
}

/// Every key, revoked and expired ones included, oldest first.
pub async fn list(pool: &PgPool) -> Result<Vec<KeyInfo>, DbError> {
    Ok(
        sqlx::query_as(&format!("SELECT {INFO_COLUMNS} FROM api_keys ORDER BY pk"))
            .fetch_all(pool)
            .await?,
    )
}

/// Revokes the key named `name`. Revoking a revoked key changes nothing and says so.
pub async fn revoke(pool: &PgPool, name: &str, by: &str) -> Result<KeyInfo, DbError> {
    let row: Option<KeyInfo> = sqlx::query_as(&format!(
        "UPDATE api_keys SET revoked_at = now(), revoked_by = $2
         WHERE name = $1 AND revoked_at IS NULL RETURNING {INFO_COLUMNS}"
    ))
    .bind(name)
    .bind(by)
    .fetch_optional(pool)
    .await?;
    match row {
        Some(info) => Ok(info),
        None => {
            let exists: Option<(i64,)> = sqlx::query_as("SELECT pk FROM api_keys WHERE name = $1")
                .bind(name)
                .fetch_optional(pool)
                .await?;
            Err(match exists {
                Some(_) => DbError::Conflict {
                    code: "already_revoked",
                    message: format!("the key '{name}' is already revoked"),
                },
                None => DbError::not_found("key", name),
            })
        }
    }
}

/// The keys that may be used: not revoked, not expired now (expiry is checked again on use).
pub async fn usable(pool: &PgPool) -> Result<Vec<StoredKey>, DbError> {
    #[derive(sqlx::FromRow)]
    struct Row {
        #[sqlx(try_from = "String")]
        name: Arc<str>,
        #[sqlx(try_from = "String")]
        role: Role,
        prefix: String,
        secret_sha256: Vec<u8>,
        expires_at: Option<DateTime<Utc>>,
    }
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT name, role, prefix, secret_sha256, expires_at FROM api_keys
         WHERE revoked_at IS NULL AND (expires_at IS NULL OR expires_at > now())",
    )
    .fetch_all(pool)
    .await?;
    rows.into_iter()
        .map(|r| {
            let secret_sha256 = r
                .secret_sha256
                .try_into()
                .map_err(|_| DbError::Corrupt(format!("API key '{}' digest", r.name)))?;
            Ok(StoredKey {
                role: r.role,
                name: r.name,
                prefix: r.prefix,
                secret_sha256,
                expires_at: r.expires_at,
            })
        })
        .collect()
}

/// Stores the key given in `OWNERGRAPH_BOOTSTRAP_KEY` as an admin key named
/// `bootstrap-<prefix>`, unless it is stored already. A revoked bootstrap key stays revoked:
/// the variable never brings it back. Returns whether the key can be used.
pub async fn bootstrap(pool: &PgPool, key: &NewKey) -> Result<bool, DbError> {
    let name = format!("bootstrap-{}", key.prefix);
    sqlx::query(
        "INSERT INTO api_keys (name, role, prefix, secret_sha256, created_by)
         VALUES ($1, 'admin', $2, $3, 'OWNERGRAPH_BOOTSTRAP_KEY')
         ON CONFLICT (prefix) DO NOTHING",
    )
    .bind(&name)
    .bind(&key.prefix)
    .bind(&key.secret_sha256[..])
    .execute(pool)
    .await?;
    let usable: Option<(bool,)> = sqlx::query_as(
        "SELECT revoked_at IS NULL AND secret_sha256 = $2 FROM api_keys WHERE prefix = $1",
    )
    .bind(&key.prefix)
    .bind(&key.secret_sha256[..])
    .fetch_optional(pool)
    .await?;
    Ok(usable.is_some_and(|(u,)| u))
}
