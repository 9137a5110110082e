//! `/v1/audit`: the audit trail, and a check of its hash chain.

use axum::extract::State;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::error::{ApiResult, ErrorBody};
use super::extract::Query;
use super::page_limit;
use crate::app::AppState;
use crate::db;
use crate::db::audit::{Entry, Filter, VerifyReport};

#[derive(Serialize, ToSchema)]
pub struct AuditPage {
    items: Vec<Entry>,
    next_cursor: Option<String>,
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    /// Only entries by this actor.
    actor: Option<String>,
    /// Only entries of this action, such as `entity.update`, `policy.update`, `screening`.
    action: Option<String>,
    /// Only entries about this entity (or list id, or `policy`).
    subject: Option<String>,
    /// Only entries after this seq.
    since: Option<i64>,
    /// Page size, 1 to 1000 (default 50).
    limit: Option<usize>,
    /// The `next_cursor` of the previous page.
    cursor: Option<String>,
}

/// The audit trail, oldest entry first: who did what, when, and the values before and after.
#[utoipa::path(get, path = "/v1/audit", tag = "audit", params(AuditQuery),
    responses((status = 200, body = AuditPage), (status = 400, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn list(
    State(s): State<AppState>,
    Query(q): Query<AuditQuery>,
) -> ApiResult<axum::Json<AuditPage>> {
    let limit = page_limit(q.limit)?;
    let filter = Filter {
        actor: q.actor,
        action: q.action,
        subject: q.subject,
        since: q.since,
    };
    let page = db::audit::list(&s.db, &filter, limit, q.cursor.as_deref()).await?;
    Ok(axum::Json(AuditPage {
        items: page.items,
        next_cursor: page.next_cursor,
    }))
}

/// Check the whole hash chain: every entry unchanged, none missing, the head at the last one.
/// 200 whether or not it is intact; `broken` names the first broken link. Keep `head`
/// somewhere outside the database to detect a cut-off tail later.
#[utoipa::path(get, path = "/v1/audit/verify", tag = "audit",
    responses((status = 200, body = VerifyReport)))]
pub async fn verify(State(s): State<AppState>) -> ApiResult<axum::Json<VerifyReport>> {
    Ok(axum::Json(db::audit::verify(&s.db, |_| {}).await?))
}
