//! Liveness, readiness and the OpenAPI description.

use axum::extract::State;
use axum::http::StatusCode;
use serde::Serialize;
use utoipa::ToSchema;

use crate::app::AppState;

#[derive(Serialize, ToSchema)]
pub struct Health {
    status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    graph_version: Option<i64>,
}

/// 200 while the process runs.
#[utoipa::path(get, path = "/healthz", tag = "operations", responses((status = 200, body = Health)))]
pub async fn healthz() -> axum::Json<Health> {
    axum::Json(Health {
        status: "ok",
        graph_version: None,
    })
}

/// 200 once the graph is loaded and the database answers; 503 otherwise.
#[utoipa::path(get, path = "/readyz", tag = "operations",
    responses((status = 200, body = Health), (status = 503, body = Health)))]
pub async fn readyz(State(s): State<AppState>) -> (StatusCode, axum::Json<Health>) {
    let db_ok = tokio::time::timeout(
        std::time::Duration::from_secs(2),
        sqlx::query("SELECT 1").execute(&s.db),
    )
    .await
    .is_ok_and(|r| r.is_ok());
    if s.is_ready() && db_ok {
        (
            StatusCode::OK,
            axum::Json(Health {
                status: "ready",
                graph_version: Some(s.graph.load().version()),
            }),
        )
    } else {
        let status = if db_ok {
            "loading"
        } else {
            "database_unavailable"
        };
        (
            StatusCode::SERVICE_UNAVAILABLE,
            axum::Json(Health {
                status,
                graph_version: None,
            }),
        )
    }
}
