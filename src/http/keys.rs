//! `/v1/keys`: API keys made, listed and revoked by an admin over HTTP, as `ownergraph keys`
//! does on the host.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::error::{ApiResult, ErrorBody};
use super::extract::{Actor, Json};
use crate::app::AppState;
use crate::db;
use crate::db::keys::KeyInfo;
use crate::domain::{KeyName, NewKey, Role};

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewKeyRequest {
    /// The actor the audit trail records for everything done with the key.
    pub name: KeyName,
    pub role: Role,
    /// When the key stops working; in the future. None: until revoked.
    pub expires_at: Option<DateTime<Utc>>,
}

/// A key just made: the only answer that ever holds its text.
#[derive(Serialize, ToSchema)]
pub struct MadeKey {
    /// `og_<prefix>_<secret>`: send it as `Authorization: Bearer <key>`. Shown this once.
    pub key: String,
    #[serde(flatten)]
    pub info: KeyInfo,
}

#[derive(Serialize, ToSchema)]
pub struct KeyPage {
    items: Vec<KeyInfo>,
    /// Always null: every key is in one page.
    next_cursor: Option<String>,
}

/// Make a key; its text is in this answer only.
#[utoipa::path(post, path = "/v1/keys", tag = "keys", request_body = NewKeyRequest,
    responses((status = 201, body = MadeKey), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn create(
    State(s): State<AppState>,
    Actor(actor): Actor,
    Json(req): Json<NewKeyRequest>,
) -> ApiResult<(StatusCode, axum::Json<MadeKey>)> {
    let key = NewKey::generate();
    let info = db::keys::create(&s.db, &req.name, req.role, req.expires_at, &key, &actor).await?;
    s.refresh_keys().await?;
    Ok((
        StatusCode::CREATED,
        axum::Json(MadeKey {
            key: key.text,
            info,
        }),
    ))
}

/// Every key, revoked and expired ones too, without secrets.
#[utoipa::path(get, path = "/v1/keys", tag = "keys", responses((status = 200, body = KeyPage)))]
pub async fn list(State(s): State<AppState>) -> ApiResult<axum::Json<KeyPage>> {
    Ok(axum::Json(KeyPage {
        items: db::keys::list(&s.db).await?,
        next_cursor: None,
    }))
}

/// Revoke a key, at once on every instance. Revoking the key the request is made with is
/// allowed: it is the last request that key makes.
#[utoipa::path(delete, path = "/v1/keys/{name}", tag = "keys", params(("name" = String, Path)),
    responses((status = 200, body = KeyInfo), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn revoke(
    State(s): State<AppState>,
    Actor(actor): Actor,
    Path(name): Path<String>,
) -> ApiResult<axum::Json<KeyInfo>> {
    let info = db::keys::revoke(&s.db, &name, &actor).await?;
    s.refresh_keys().await?;
    Ok(axum::Json(info))
}
