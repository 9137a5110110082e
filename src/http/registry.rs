//! Registry imports (`/v1/imports`), where an entity's facts came from, and the possible
//! matches that a person confirms or rejects.

use axum::extract::{Path, Request, State};
use axum::response::IntoResponse;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::error::{ApiError, ApiResult, ErrorBody};
use super::extract::{Actor, Json, Query};
use super::upload::{Spooled, read_upload};
use super::{entity_id, page_limit};
use crate::app::AppState;
use crate::db;
use crate::db::export::Scope;
use crate::db::matches::MatchDecision;
use crate::db::registry::RegistryImportSummary;
use crate::db::sources::{EntitySources, PossibleMatch};
use crate::formats::Publication;
use crate::import::registry::RegistryFormat;

/// The largest registry upload the import route takes (the files of a GLEIF golden copy
/// together are about 10 GB).
pub const IMPORT_LIMIT: usize = 32 * 1024 * 1024 * 1024;

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RegistryImportParams {
    /// `bods` (BODS 0.4 JSON or JSON Lines), `gleif` (LEI-CDF, RR-CDF or reporting-exception
    /// XML) or `psc` (UK PSC snapshot JSON Lines).
    format: String,
    /// Queue a re-screening job when the import changes anything: `affected` (what the
    /// import's changes reach) or `all`. Its id is the summary's `rescreen_job`.
    rescreen: Option<crate::domain::Scope>,
}

/// Import a company-registry file. Parties are resolved to entities by record, LEI,
/// registration number and other identifiers (organisations without them are compared by
/// name and kept as possible matches, never merged); ownerships, interests declared indirect
/// and owners declared unknown are added or updated, each with its source. The same file
/// twice changes nothing. A bad record rejects the whole import (422, naming it) and nothing
/// changes. The body is the file; several GLEIF files go as `multipart/form-data` parts. The
/// upload is spooled to disk, so its size is bounded by [`IMPORT_LIMIT`], not by memory.
#[utoipa::path(post, path = "/v1/imports", tag = "imports", params(RegistryImportParams),
    request_body(content = Vec<u8>, content_type = "application/octet-stream"),
    responses((status = 200, body = RegistryImportSummary), (status = 413, body = ErrorBody),
        (status = 422, body = ErrorBody)))]
pub async fn import(
    State(s): State<AppState>,
    Actor(actor): Actor,
    Query(q): Query<RegistryImportParams>,
    req: Request,
) -> ApiResult<axum::Json<RegistryImportSummary>> {
    let format: RegistryFormat = q
        .format
        .parse()
        .map_err(|e: String| ApiError::invalid("format", "unknown_format", e))?;
    // Spooled to disk first: a registry file may be larger than memory, and the import reads
    // it as it reads one given on the command line.
    let mut spool = Spooled::new()?;
    read_upload(req, format.as_str(), IMPORT_LIMIT, &mut spool).await?;
    let inputs = spool.finish()?;
    Ok(axum::Json(
        s.import_registry(&actor, format, inputs, q.rescreen)
            .await?,
    ))
}

/// Which source said what about an entity: each source record's statement, the ownerships in
/// and out with their sources, interests declared indirect, owners declared unknown, and
/// possible matches.
#[utoipa::path(get, path = "/v1/entities/{id}/sources", tag = "entities",
    params(("id" = String, Path)),
    responses((status = 200, body = EntitySources), (status = 404, body = ErrorBody)))]
pub async fn sources(
    State(s): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<axum::Json<EntitySources>> {
    let id = entity_id(&id)?;
    Ok(axum::Json(db::sources::sources(&s.db, id.as_str()).await?))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct MatchParams {
    /// `pending`, `confirmed` or `rejected`.
    status: Option<String>,
    limit: Option<usize>,
    cursor: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct MatchPage {
    items: Vec<PossibleMatch>,
    next_cursor: Option<String>,
}

/// Pairs of entities that may be one, oldest first: a record without identifiers whose name
/// matched an entity of its jurisdiction, or identifiers that name two entities.
#[utoipa::path(get, path = "/v1/possible-matches", tag = "imports", params(MatchParams),
    responses((status = 200, body = MatchPage), (status = 422, body = ErrorBody)))]
pub async fn matches(
    State(s): State<AppState>,
    Query(q): Query<MatchParams>,
) -> ApiResult<axum::Json<MatchPage>> {
    let limit = page_limit(q.limit)?;
    if let Some(st) = q.status.as_deref()
        && !["pending", "confirmed", "rejected"].contains(&st)
    {
        return Err(ApiError::invalid(
            "status",
            "invalid_status",
            "status is pending, confirmed or rejected",
        ));
    }
    let page = db::matches::list(&s.db, q.status.as_deref(), limit, q.cursor.as_deref()).await?;
    Ok(axum::Json(MatchPage {
        items: page.items,
        next_cursor: page.next_cursor,
    }))
}

/// Decide a possible match. `confirmed` merges the newer entity into the older: its sources,
/// ownerships, declared interests and unknowns, and list designations move; the newer one is
/// deleted (its history stays). `rejected` keeps both. 409 when already decided, or when the
/// merge would take the shares held in the survivor past 100%.
#[utoipa::path(post, path = "/v1/possible-matches/{id}/decisions", tag = "imports",
    params(("id" = i64, Path)), request_body = MatchDecision,
    responses((status = 200, body = PossibleMatch), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn decide(
    State(s): State<AppState>,
    Actor(actor): Actor,
    Path(id): Path<String>,
    Json(d): Json<MatchDecision>,
) -> ApiResult<axum::Json<PossibleMatch>> {
    let id: i64 = id
        .parse()
        .map_err(|_| ApiError::NotFound(format!("possible match '{id}' not found"), None))?;
    let (decided, committed) = db::matches::decide(&s.db, &actor, id, d).await?;
    s.publish(committed).await?;
    Ok(axum::Json(decided))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ExportParams {
    /// Only this entity, its owners and its holdings (default: the whole graph).
    entity: Option<String>,
    /// How many links away from `entity` to go, each way (default 3, at most 50).
    depth: Option<u32>,
}

/// Export the graph, or one entity's ownership neighbourhood, as BODS 0.4 statements (a JSON
/// array that validates against the BODS 0.4 schema). Record ids are the BODS records the
/// data was imported from where there are any, so importing an export changes nothing.
#[utoipa::path(get, path = "/v1/export/bods", tag = "imports", params(ExportParams),
    responses((status = 200, description = "BODS 0.4 statements", content_type = "application/json"),
        (status = 404, body = ErrorBody)))]
pub async fn export_bods(
    State(s): State<AppState>,
    Query(q): Query<ExportParams>,
) -> ApiResult<axum::response::Response> {
    let scope = match q.entity {
        Some(e) => {
            let depth = q.depth.unwrap_or(3);
            if depth > 50 {
                return Err(ApiError::invalid(
                    "depth",
                    "invalid_depth",
                    "depth is at most 50",
                ));
            }
            Scope::Around {
                entity: entity_id(&e)?.to_string(),
                depth,
            }
        }
        None => Scope::All,
    };
    let mut body = Vec::new();
    db::export::write(&s.db, &scope, &Publication::today("ownergraph"), &mut body)
        .await
        .map_err(|e| match e {
            db::export::ExportError::Db(e) => ApiError::from(e),
            db::export::ExportError::Io(e) => ApiError::internal(format!("the export failed: {e}")),
        })?;
    Ok((
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        body,
    )
        .into_response())
}
