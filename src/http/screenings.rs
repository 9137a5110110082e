//! `/v1/screenings`.

use axum::extract::{Path, State};

use super::error::{ApiResult, ErrorBody};
use super::extract::{Actor, Json};
use super::parse_id;
use crate::app::AppState;
use crate::db;
use crate::domain::{Screening, ScreeningId, ScreeningRequest};

/// Screen a known entity, or a signup candidate with its declared owners. The answer is
/// stored and can be fetched again.
#[utoipa::path(post, path = "/v1/screenings", tag = "screenings", request_body = ScreeningRequest,
    responses((status = 200, body = Screening), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn create(
    State(s): State<AppState>,
    Actor(actor): Actor,
    Json(req): Json<ScreeningRequest>,
) -> ApiResult<axum::Json<Screening>> {
    let screening = s.screen(actor, req).await?;
    Ok(axum::Json(screening))
}

/// Fetch a stored screening.
#[utoipa::path(get, path = "/v1/screenings/{id}", tag = "screenings", params(("id" = String, Path)),
    responses((status = 200, body = Screening), (status = 404, body = ErrorBody)))]
pub async fn get(
    State(s): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<axum::Json<Screening>> {
    let id: ScreeningId = parse_id(&id, "screening")?;
    Ok(axum::Json(db::screenings::get(&s.db, id.as_str()).await?))
}
