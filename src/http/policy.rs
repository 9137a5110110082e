//! `/v1/policy`.

use axum::extract::State;

use super::error::{ApiResult, ErrorBody};
use super::extract::{Actor, Json};
use crate::app::AppState;
use crate::db;
use crate::domain::{Policy, PolicySpec};

/// The policy in force.
#[utoipa::path(get, path = "/v1/policy", tag = "policy", responses((status = 200, body = Policy)))]
pub async fn get(State(s): State<AppState>) -> axum::Json<Policy> {
    axum::Json((**s.policy.load()).clone())
}

/// Store a new policy version; it is in force for the next screening.
#[utoipa::path(put, path = "/v1/policy", tag = "policy", request_body = PolicySpec,
    responses((status = 200, body = Policy), (status = 422, body = ErrorBody)))]
pub async fn put(
    State(s): State<AppState>,
    Actor(actor): Actor,
    Json(spec): Json<PolicySpec>,
) -> ApiResult<axum::Json<Policy>> {
    let policy = db::policy::put(&s.db, &actor, spec).await?;
    s.adopt_policy(policy.clone());
    Ok(axum::Json(policy))
}
