//! `/v1/alerts`: what screenings and jobs flagged, and the analysts' decisions on it.

use axum::extract::{Path, State};
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

use super::error::{ApiError, ApiResult, ErrorBody};
use super::extract::{Actor, Json, Query};
use super::page_limit;
use crate::app::AppState;
use crate::db;
use crate::domain::{Alert, AlertDecision, AlertDecisionRequest, AlertStatus, Decision};

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AlertParams {
    /// `open`, `escalated`, `awaiting_second_review` or `closed`.
    status: Option<AlertStatus>,
    /// Only alerts of this policy rule.
    rule: Option<String>,
    /// `review` or `block` for what the evidence decides; `confirmed` or `false_positive` for
    /// how a closed alert was decided.
    decision: Option<String>,
    /// Only alerts about this entity.
    entity: Option<String>,
    /// Page size, 1 to 1000 (default 50).
    limit: Option<usize>,
    /// The `next_cursor` of the previous page.
    cursor: Option<String>,
}

#[derive(serde::Serialize, ToSchema)]
pub struct AlertPage {
    items: Vec<Alert>,
    next_cursor: Option<String>,
}

/// Page through alerts, newest first.
#[utoipa::path(get, path = "/v1/alerts", tag = "alerts", params(AlertParams),
    responses((status = 200, body = AlertPage), (status = 400, body = ErrorBody)))]
pub async fn list(
    State(s): State<AppState>,
    Query(p): Query<AlertParams>,
) -> ApiResult<axum::Json<AlertPage>> {
    let mut filter = db::alerts::Filter {
        status: p.status,
        rule: p.rule,
        entity: p.entity,
        ..Default::default()
    };
    match p.decision.as_deref() {
        None => {}
        Some("review") => filter.severity = Some(Decision::Review),
        Some("block") => filter.severity = Some(Decision::Block),
        Some(d) => {
            filter.resolution =
                Some(AlertDecision::parse(d).ok_or_else(|| ApiError::Malformed {
                    message: "decision is review, block, confirmed or false_positive".into(),
                    field: Some("decision".into()),
                })?)
        }
    }
    let page = db::alerts::list(&s.db, &filter, page_limit(p.limit)?, p.cursor.as_deref()).await?;
    Ok(axum::Json(AlertPage {
        items: page.items,
        next_cursor: page.next_cursor,
    }))
}

/// One alert: the reason with its sources, ownership paths and shares, the graph and policy
/// versions it was computed on, what changed since the evidence last decided on, and every
/// decision.
#[utoipa::path(get, path = "/v1/alerts/{id}", tag = "alerts", params(("id" = String, Path)),
    responses((status = 200, body = Alert), (status = 404, body = ErrorBody)))]
pub async fn get(
    State(s): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<axum::Json<Alert>> {
    let mut conn = s.db.acquire().await.map_err(db::DbError::from)?;
    Ok(axum::Json(db::alerts::get(&mut conn, &id).await?.1))
}

/// Decide an alert: `confirmed` or `false_positive` close it, `escalated` keeps it open.
/// Closing a `block` alert as a false positive needs two different reviewers: the first
/// makes it wait (`awaiting_second_review`), the second closes it. A closed alert answers 409.
#[utoipa::path(post, path = "/v1/alerts/{id}/decisions", tag = "alerts", params(("id" = String, Path)),
    request_body = AlertDecisionRequest,
    responses((status = 200, body = Alert), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody),
        (status = 422, body = ErrorBody)))]
pub async fn decide(
    State(s): State<AppState>,
    Actor(actor): Actor,
    Path(id): Path<String>,
    Json(req): Json<AlertDecisionRequest>,
) -> ApiResult<axum::Json<Alert>> {
    Ok(axum::Json(
        db::alerts::decide(&s.db, &id, &actor, &req).await?,
    ))
}
