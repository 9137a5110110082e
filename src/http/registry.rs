//! Registry imports (`/v1/imports`) and where an entity's facts came from.

use axum::extract::{Path, Request, State};
use serde::Deserialize;
use utoipa::IntoParams;

use super::entity_id;
use super::error::{ApiError, ApiResult, ErrorBody};
use super::extract::{Actor, Query};
use super::lists::read_files;
use crate::app::AppState;
use crate::db;
use crate::db::registry::RegistryImportSummary;
use crate::db::sources::EntitySources;
use crate::import::registry::{Input, RegistryFormat};

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RegistryImportParams {
    /// `bods` (BODS 0.4 JSON or JSON Lines), `gleif` (LEI-CDF, RR-CDF or reporting-exception
    /// XML) or `psc` (UK PSC snapshot JSON Lines).
    format: String,
}

/// Import a company-registry file. Parties are resolved to entities by record, LEI,
/// registration number and other identifiers (organisations without them are compared by
/// name and kept as possible matches, never merged); ownerships, interests declared indirect
/// and owners declared unknown are added or updated, each with its source. The same file
/// twice changes nothing. A bad record rejects the whole import (422, naming it) and nothing
/// changes. The body is the file; several GLEIF files go as `multipart/form-data` parts.
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
    let files = read_files(req, format.as_str()).await?;
    let inputs = files
        .into_parts()
        .into_iter()
        .map(|(name, bytes)| Input::Bytes { name, bytes })
        .collect();
    Ok(axum::Json(s.import_registry(&actor, format, inputs).await?))
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
