//! `/v1/jobs`: re-screening jobs, their progress, and their results.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

use super::error::{ApiResult, ErrorBody};
use super::extract::{Actor, Json, Query};
use super::{ListParams, page_limit, parse_id};
use crate::app::AppState;
use crate::db;
use crate::domain::{Decision, Job, JobId, JobResult, RescreenRequest};

/// Queue a re-screening of every entity, or of those a change since a graph version can
/// reach. The job runs on one snapshot of the graph; follow it with `GET /v1/jobs/{id}`.
#[utoipa::path(post, path = "/v1/jobs/rescreen", tag = "jobs", request_body = RescreenRequest,
    responses((status = 202, body = Job), (status = 422, body = ErrorBody)))]
pub async fn rescreen(
    State(s): State<AppState>,
    Actor(actor): Actor,
    Json(req): Json<RescreenRequest>,
) -> ApiResult<(StatusCode, axum::Json<Job>)> {
    let job = s.queue_job(&actor, "request", &req).await?;
    Ok((StatusCode::ACCEPTED, axum::Json(job)))
}

#[derive(serde::Serialize, ToSchema)]
pub struct JobPage {
    items: Vec<Job>,
    next_cursor: Option<String>,
}

/// Page through jobs, newest first.
#[utoipa::path(get, path = "/v1/jobs", tag = "jobs", params(ListParams), responses((status = 200, body = JobPage)))]
pub async fn list(
    State(s): State<AppState>,
    Query(p): Query<ListParams>,
) -> ApiResult<axum::Json<JobPage>> {
    let page = db::jobs::list(&s.db, p.limit()?, p.cursor.as_deref()).await?;
    Ok(axum::Json(JobPage {
        items: page.items,
        next_cursor: page.next_cursor,
    }))
}

/// A job's status, progress (done of total, rate, time left) and results per decision.
#[utoipa::path(get, path = "/v1/jobs/{id}", tag = "jobs", params(("id" = String, Path)),
    responses((status = 200, body = Job), (status = 404, body = ErrorBody)))]
pub async fn get(State(s): State<AppState>, Path(id): Path<String>) -> ApiResult<axum::Json<Job>> {
    let id: JobId = parse_id(&id, "job")?;
    Ok(axum::Json(db::jobs::get(&s.db, id.as_str()).await?.job))
}

/// Cancel a queued or running job. Results already stored stay; a finished job answers 409.
#[utoipa::path(delete, path = "/v1/jobs/{id}", tag = "jobs", params(("id" = String, Path)),
    responses((status = 200, body = Job), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn cancel(
    State(s): State<AppState>,
    Actor(actor): Actor,
    Path(id): Path<String>,
) -> ApiResult<axum::Json<Job>> {
    let id: JobId = parse_id(&id, "job")?;
    Ok(axum::Json(
        db::jobs::cancel(&s.db, &actor, id.as_str()).await?,
    ))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ResultParams {
    /// Only results of this decision.
    decision: Option<Decision>,
    /// Page size, 1 to 1000 (default 50).
    limit: Option<usize>,
    /// The `next_cursor` of the previous page.
    cursor: Option<String>,
}

#[derive(serde::Serialize, ToSchema)]
pub struct ResultPage {
    items: Vec<JobResult>,
    next_cursor: Option<String>,
}

/// Page through a job's results by entity id, with the reasons, paths and shares of every
/// flagged entity.
#[utoipa::path(get, path = "/v1/jobs/{id}/results", tag = "jobs", params(("id" = String, Path), ResultParams),
    responses((status = 200, body = ResultPage), (status = 404, body = ErrorBody)))]
pub async fn results(
    State(s): State<AppState>,
    Path(id): Path<String>,
    Query(p): Query<ResultParams>,
) -> ApiResult<axum::Json<ResultPage>> {
    let id: JobId = parse_id(&id, "job")?;
    let job = db::jobs::get(&s.db, id.as_str()).await?;
    let limit = page_limit(p.limit)?;
    let page = db::jobs::results(&s.db, job.pk, p.decision, limit, p.cursor.as_deref()).await?;
    Ok(axum::Json(ResultPage {
        items: page.items,
        next_cursor: page.next_cursor,
    }))
}
