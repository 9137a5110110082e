//! `/v1/entities`: entities, their owners, subsidiaries, UBOs and history.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::error::{ApiError, ApiResult, ErrorBody};
use super::extract::{Actor, Json, Query};
use super::{ListParams, entity_id, page_limit};
use crate::app::AppState;
use crate::db;
use crate::domain::{
    Entity, EntityId, EntityKind, EntityPatch, Holding, Jurisdiction, NewEntity, UboItem,
};
use crate::engine::{Local, NodeIx, Party, Snapshot, holdings};

#[derive(Serialize, ToSchema)]
pub struct EntityPage {
    items: Vec<Entity>,
    next_cursor: Option<String>,
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct EntityQuery {
    /// Matches names and aliases, case-insensitively.
    q: Option<String>,
    jurisdiction: Option<Jurisdiction>,
    kind: Option<EntityKind>,
    limit: Option<usize>,
    cursor: Option<String>,
}

/// Create an entity.
#[utoipa::path(post, path = "/v1/entities", tag = "entities", request_body = NewEntity,
    responses((status = 201, body = Entity), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn create(
    State(s): State<AppState>,
    Actor(actor): Actor,
    Json(new): Json<NewEntity>,
) -> ApiResult<(StatusCode, axum::Json<Entity>)> {
    let (entity, committed) = db::entities::create(&s.db, &actor, new).await?;
    s.publish(committed).await?;
    Ok((StatusCode::CREATED, axum::Json(entity)))
}

/// List and search entities.
#[utoipa::path(get, path = "/v1/entities", tag = "entities", params(EntityQuery),
    responses((status = 200, body = EntityPage), (status = 400, body = ErrorBody)))]
pub async fn list(
    State(s): State<AppState>,
    Query(q): Query<EntityQuery>,
) -> ApiResult<axum::Json<EntityPage>> {
    let limit = page_limit(q.limit)?;
    let q_text = q.q.map(|t| t.trim().to_owned()).filter(|t| !t.is_empty());
    let filter = db::entities::EntityFilter {
        q: q_text,
        jurisdiction: q.jurisdiction,
        kind: q.kind,
        cursor: q.cursor,
        limit,
    };
    let page = db::entities::list(&s.db, filter).await?;
    Ok(axum::Json(EntityPage {
        items: page.items,
        next_cursor: page.next_cursor,
    }))
}

/// Fetch an entity.
#[utoipa::path(get, path = "/v1/entities/{id}", tag = "entities", params(("id" = String, Path)),
    responses((status = 200, body = Entity), (status = 404, body = ErrorBody)))]
pub async fn get(
    State(s): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<axum::Json<Entity>> {
    let id = entity_id(&id)?;
    let e = db::entities::get(&s.db, &id).await?;
    if e.deleted_at.is_some() {
        return Err(ApiError::NotFound(
            format!("entity '{id}' was deleted; its history remains at /v1/entities/{id}/history"),
            None,
        ));
    }
    Ok(axum::Json(e))
}

/// Update some fields of an entity; `null` clears an optional field.
#[utoipa::path(patch, path = "/v1/entities/{id}", tag = "entities", params(("id" = String, Path)), request_body = EntityPatch,
    responses((status = 200, body = Entity), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn patch(
    State(s): State<AppState>,
    Actor(actor): Actor,
    Path(id): Path<String>,
    Json(p): Json<EntityPatch>,
) -> ApiResult<axum::Json<Entity>> {
    let id = entity_id(&id)?;
    let (entity, committed) = db::entities::patch(&s.db, &actor, &id, p).await?;
    s.publish(committed).await?;
    Ok(axum::Json(entity))
}

/// Delete an entity: it and its ownerships leave the graph; its history stays.
#[utoipa::path(delete, path = "/v1/entities/{id}", tag = "entities", params(("id" = String, Path)),
    responses((status = 204), (status = 404, body = ErrorBody)))]
pub async fn delete(
    State(s): State<AppState>,
    Actor(actor): Actor,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let id = entity_id(&id)?;
    let committed = db::entities::delete(&s.db, &actor, &id).await?;
    s.publish(committed).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AsOf {
    /// The date to answer for; today (UTC) when absent.
    as_of: Option<NaiveDate>,
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UboQuery {
    as_of: Option<NaiveDate>,
    /// Minimum effective share, in percent (default 25, inclusive).
    threshold: Option<f64>,
}

#[derive(Serialize, ToSchema)]
pub struct HoldingList {
    items: Vec<Holding>,
    graph_version: i64,
}

#[derive(Serialize, ToSchema)]
pub struct UboList {
    items: Vec<UboItem>,
    graph_version: i64,
}

/// The graph node of a live entity, or 404.
fn live_node(snap: &Snapshot, id: &EntityId) -> ApiResult<NodeIx> {
    snap.lookup(id.as_str())
        .ok_or_else(|| ApiError::NotFound(format!("entity '{id}' not found"), None))
}

fn as_of(d: Option<NaiveDate>) -> NaiveDate {
    d.unwrap_or_else(crate::domain::today)
}

/// Every upstream owner, with direct and effective shares.
#[utoipa::path(get, path = "/v1/entities/{id}/owners", tag = "entities", params(("id" = String, Path), AsOf),
    responses((status = 200, body = HoldingList), (status = 404, body = ErrorBody)))]
pub async fn owners(
    State(s): State<AppState>,
    Path(id): Path<String>,
    Query(q): Query<AsOf>,
) -> ApiResult<axum::Json<HoldingList>> {
    let id = entity_id(&id)?;
    let snap = s.graph.load_full();
    let ix = live_node(&snap, &id)?;
    let local = Local::upstream(&snap, &Party::Known(ix), &[], as_of(q.as_of));
    Ok(axum::Json(HoldingList {
        items: holdings::owners(&local),
        graph_version: snap.version(),
    }))
}

/// Every downstream holding, with direct and effective shares.
#[utoipa::path(get, path = "/v1/entities/{id}/subsidiaries", tag = "entities", params(("id" = String, Path), AsOf),
    responses((status = 200, body = HoldingList), (status = 404, body = ErrorBody)))]
pub async fn subsidiaries(
    State(s): State<AppState>,
    Path(id): Path<String>,
    Query(q): Query<AsOf>,
) -> ApiResult<axum::Json<HoldingList>> {
    let id = entity_id(&id)?;
    let snap = s.graph.load_full();
    let ix = live_node(&snap, &id)?;
    let local = Local::downstream(&snap, ix, as_of(q.as_of));
    Ok(axum::Json(HoldingList {
        items: holdings::subsidiaries(&local),
        graph_version: snap.version(),
    }))
}

/// Ultimate beneficial owners: persons, and top entities with no known owner, whose effective
/// share reaches the threshold.
#[utoipa::path(get, path = "/v1/entities/{id}/ubo", tag = "entities", params(("id" = String, Path), UboQuery),
    responses((status = 200, body = UboList), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn ubo(
    State(s): State<AppState>,
    Path(id): Path<String>,
    Query(q): Query<UboQuery>,
) -> ApiResult<axum::Json<UboList>> {
    let id = entity_id(&id)?;
    let threshold = q.threshold.unwrap_or(25.0);
    if !(threshold.is_finite() && threshold > 0.0 && threshold <= 100.0) {
        return Err(ApiError::invalid(
            "threshold",
            "invalid_threshold",
            "threshold is a percentage in (0, 100]",
        ));
    }
    let snap = s.graph.load_full();
    let ix = live_node(&snap, &id)?;
    let local = Local::upstream(&snap, &Party::Known(ix), &[], as_of(q.as_of));
    Ok(axum::Json(UboList {
        items: holdings::ubo(&local, threshold, true, true),
        graph_version: snap.version(),
    }))
}

#[derive(Serialize, ToSchema)]
pub struct HistoryPage {
    items: Vec<db::entities::HistoryItem>,
    next_cursor: Option<String>,
}

/// Every recorded change that touched the entity, newest first, with who made it and the
/// values before and after.
#[utoipa::path(get, path = "/v1/entities/{id}/history", tag = "entities", params(("id" = String, Path), ListParams),
    responses((status = 200, body = HistoryPage), (status = 404, body = ErrorBody)))]
pub async fn history(
    State(s): State<AppState>,
    Path(id): Path<String>,
    Query(q): Query<ListParams>,
) -> ApiResult<axum::Json<HistoryPage>> {
    let id = entity_id(&id)?;
    db::entities::get(&s.db, &id).await?;
    let page = db::entities::history(&s.db, &id, q.cursor.as_deref(), q.limit()?).await?;
    Ok(axum::Json(HistoryPage {
        items: page.items,
        next_cursor: page.next_cursor,
    }))
}
