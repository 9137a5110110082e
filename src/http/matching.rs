//! `POST /v1/match`: fuzzy name screening against the lists.

use axum::extract::State;

use super::error::{ApiResult, ErrorBody};
use super::extract::Json;
use crate::app::AppState;
use crate::domain::{MatchRequest, MatchResponse};

/// Match a name against list entries: the entries whose names or aliases score at or above
/// the threshold, best first, each with how its name matched.
#[utoipa::path(post, path = "/v1/match", tag = "screenings", request_body = MatchRequest,
    responses((status = 200, body = MatchResponse), (status = 422, body = ErrorBody)))]
pub async fn create(
    State(s): State<AppState>,
    Json(req): Json<MatchRequest>,
) -> ApiResult<axum::Json<MatchResponse>> {
    Ok(axum::Json(MatchResponse {
        candidates: s.match_lists(&req)?,
    }))
}
