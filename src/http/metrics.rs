//! `GET /metrics` for Prometheus, and the middleware that counts every answered request.
//!
//! Must not break: a scrape is cheap and answers while the graph loads. The graph's figures
//! are read from the published snapshot (kept, not counted), and the store is asked two small
//! questions with a short timeout; a store that does not answer leaves its figures out.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::{Request, State};
use axum::http::header::CONTENT_TYPE;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::error::ApiError;
use super::trace;
use crate::app::AppState;
use crate::db;
use crate::metrics::{Figures, Metrics, RequestLabels, StoreFigures};

/// The OpenMetrics text format, which Prometheus reads.
const OPENMETRICS: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// How long a scrape waits for the store.
const STORE_TIMEOUT: Duration = Duration::from_secs(2);

/// Counters of requests, screenings and reasons, and the figures read now: graph size and
/// version, change-log lag, jobs, readiness. Answers while the graph loads.
#[utoipa::path(get, path = "/metrics", tag = "operations",
    responses((status = 200, description = "Metrics in the OpenMetrics text format (README, Operations)",
        content_type = OPENMETRICS, body = String)))]
pub async fn metrics(State(s): State<AppState>) -> Result<Response, ApiError> {
    // The graph first: the store's version read after it can only be as new or newer, so the
    // lag is never negative.
    let snap = s.graph.load_full();
    let store = tokio::time::timeout(STORE_TIMEOUT, async {
        tokio::try_join!(db::latest_version(&s.db), db::jobs::open(&s.db))
    })
    .await;
    let store = match store {
        Ok(Ok((version, jobs))) => Some(StoreFigures { version, jobs }),
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "metrics: reading the store failed");
            None
        }
        Err(_) => {
            tracing::warn!("metrics: the store did not answer in time");
            None
        }
    };
    let figures = Figures {
        ready: s.is_ready(),
        entity_names_built: s.entity_names_built(),
        graph_version: snap.version(),
        graph_entities: snap.entity_count(),
        graph_links: snap.link_count(),
        graph_advanced_at: s.graph_advanced_at(),
        store,
    };
    let body = s.metrics.encode(&figures).map_err(ApiError::internal)?;
    Ok(([(CONTENT_TYPE, OPENMETRICS)], body).into_response())
}

/// Counts a request by method, matched route template and status, with its latency.
pub async fn track(State(metrics): State<Arc<Metrics>>, req: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = trace::method(req.method());
    let route = trace::route(&req).to_owned();
    let res = next.run(req).await;
    let labels = RequestLabels {
        method,
        route,
        status: res.status().as_u16(),
    };
    metrics.request(labels, started.elapsed());
    res
}
