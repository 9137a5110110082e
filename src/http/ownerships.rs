//! `/v1/ownerships`.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::error::{ApiResult, ErrorBody};
use super::extract::{Actor, Json, Query};
use super::{page_limit, parse_id};
use crate::app::AppState;
use crate::db;
use crate::domain::{EntityId, NewOwnership, Ownership, OwnershipId};

/// Create an ownership link.
#[utoipa::path(post, path = "/v1/ownerships", tag = "ownerships", request_body = NewOwnership,
    responses((status = 201, body = Ownership), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn create(
    State(s): State<AppState>,
    Actor(actor): Actor,
    Json(new): Json<NewOwnership>,
) -> ApiResult<(StatusCode, axum::Json<Ownership>)> {
    let (ownership, committed) = db::ownerships::create(&s.db, &actor, new).await?;
    s.publish(committed).await?;
    Ok((StatusCode::CREATED, axum::Json(ownership)))
}

/// Fetch an ownership (a deleted one too, with `deleted_at`).
#[utoipa::path(get, path = "/v1/ownerships/{id}", tag = "ownerships", params(("id" = String, Path)),
    responses((status = 200, body = Ownership), (status = 404, body = ErrorBody)))]
pub async fn get(
    State(s): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<axum::Json<Ownership>> {
    let id: OwnershipId = parse_id(&id, "ownership")?;
    Ok(axum::Json(db::ownerships::get(&s.db, &id).await?))
}

/// Delete an ownership: it leaves the graph; its history stays.
#[utoipa::path(delete, path = "/v1/ownerships/{id}", tag = "ownerships", params(("id" = String, Path)),
    responses((status = 204), (status = 404, body = ErrorBody)))]
pub async fn delete(
    State(s): State<AppState>,
    Actor(actor): Actor,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let id: OwnershipId = parse_id(&id, "ownership")?;
    let committed = db::ownerships::delete(&s.db, &actor, &id).await?;
    s.publish(committed).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct OwnershipQuery {
    owner: Option<EntityId>,
    owned: Option<EntityId>,
    limit: Option<usize>,
    cursor: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct OwnershipPage {
    items: Vec<Ownership>,
    next_cursor: Option<String>,
}

/// List live ownerships, optionally of one owner or one owned entity.
#[utoipa::path(get, path = "/v1/ownerships", tag = "ownerships", params(OwnershipQuery),
    responses((status = 200, body = OwnershipPage), (status = 400, body = ErrorBody)))]
pub async fn list(
    State(s): State<AppState>,
    Query(q): Query<OwnershipQuery>,
) -> ApiResult<axum::Json<OwnershipPage>> {
    let limit = page_limit(q.limit)?;
    let f = db::ownerships::OwnershipFilter {
        owner: q.owner,
        owned: q.owned,
        cursor: q.cursor,
        limit,
    };
    let page = db::ownerships::list(&s.db, f).await?;
    Ok(axum::Json(OwnershipPage {
        items: page.items,
        next_cursor: page.next_cursor,
    }))
}
