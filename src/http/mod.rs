//! The HTTP API: routes, extractors, errors and the OpenAPI description.
//!
//! Handlers are thin: parse into domain types, call the store or the engine, publish the
//! committed change, answer. Every route is registered through `utoipa_axum`, so
//! `/openapi.json` describes exactly the routes that exist.

pub mod alerts;
pub mod audit;
pub mod auth;
pub mod entities;
pub mod error;
pub mod extract;
pub mod health;
pub mod jobs;
pub mod keys;
pub mod limits;
pub mod lists;
pub mod matching;
pub mod metrics;
mod openapi;
pub mod ownerships;
pub mod policy;
pub mod registry;
pub mod screenings;
pub mod server;
pub mod trace;
mod upload;

use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::response::IntoResponse;
use serde::Deserialize;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::timeout::TimeoutLayer;
use utoipa::{IntoParams, OpenApi};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::app::AppState;
use crate::domain::EntityId;
use error::ApiError;

#[derive(OpenApi)]
#[openapi(
    info(title = "ownergraph", description = "Ownership-graph screening: does this entity's ownership chain reach a sanctions-listed owner or a restricted jurisdiction, and why?"),
    tags((name = "entities"), (name = "ownerships"), (name = "lists"), (name = "imports"), (name = "policy"), (name = "screenings"), (name = "jobs"), (name = "alerts"), (name = "audit"), (name = "keys"), (name = "operations"))
)]
struct ApiDoc;

/// How long an import (or a check of the whole audit trail) may take: a registry file of
/// millions of records takes many minutes.
const IMPORT_TIMEOUT: Duration = Duration::from_secs(4 * 3600);

fn timeout(limit: Duration) -> TimeoutLayer {
    TimeoutLayer::with_status_code(axum::http::StatusCode::SERVICE_UNAVAILABLE, limit)
}

/// The router with every route, and the OpenAPI description of them.
pub fn router(state: AppState) -> Router {
    let limits = state.gate.limits;
    let state_for_gate = state.clone();
    let counters = state.metrics.clone();
    let (router, api) = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(health::healthz))
        .routes(routes!(health::readyz))
        .routes(routes!(metrics::metrics))
        .routes(routes!(entities::create, entities::list))
        .routes(routes!(entities::get, entities::patch, entities::delete))
        .routes(routes!(entities::owners))
        .routes(routes!(entities::subsidiaries))
        .routes(routes!(entities::ubo))
        .routes(routes!(entities::history))
        .routes(routes!(registry::sources))
        .routes(routes!(registry::matches))
        .routes(routes!(registry::decide))
        .routes(routes!(registry::export_bods))
        .routes(routes!(ownerships::create, ownerships::list))
        .routes(routes!(ownerships::get, ownerships::delete))
        .routes(routes!(lists::create, lists::list))
        .routes(routes!(lists::get, lists::patch))
        .routes(routes!(lists::create_entry, lists::entries))
        .routes(routes!(lists::get_entry, lists::delete_entry))
        .routes(routes!(policy::get, policy::put))
        .routes(routes!(screenings::create))
        .routes(routes!(screenings::get))
        .routes(routes!(matching::create))
        .routes(routes!(jobs::rescreen))
        .routes(routes!(jobs::list))
        .routes(routes!(jobs::get, jobs::cancel))
        .routes(routes!(jobs::results))
        .routes(routes!(alerts::list))
        .routes(routes!(alerts::get))
        .routes(routes!(alerts::decide))
        .routes(routes!(audit::list))
        .routes(routes!(keys::create, keys::list))
        .routes(routes!(keys::revoke))
        .layer(timeout(limits.request_timeout))
        // Checking the chain reads every entry: millions take longer than a request may.
        .merge(
            OpenApiRouter::new()
                .routes(routes!(audit::verify))
                .layer(timeout(IMPORT_TIMEOUT)),
        )
        // Imports read large files: their own body limits, and time to apply them.
        .merge(
            OpenApiRouter::new()
                .routes(routes!(lists::import))
                .layer(DefaultBodyLimit::max(lists::IMPORT_LIMIT))
                .layer(timeout(IMPORT_TIMEOUT)),
        )
        .merge(
            OpenApiRouter::new()
                .routes(routes!(registry::import))
                .layer(DefaultBodyLimit::max(registry::IMPORT_LIMIT))
                .layer(timeout(IMPORT_TIMEOUT)),
        )
        .with_state(state)
        .split_for_parts();
    let spec = openapi::render(api);
    let router = router
        .route(
            "/openapi.json",
            axum::routing::get(move || async move { ([(axum::http::header::CONTENT_TYPE, "application/json")], spec) }),
        )
        .fallback(|| async { ApiError::NotFound("no such route".into(), None) })
        .method_not_allowed_fallback(|| async {
            (axum::http::StatusCode::METHOD_NOT_ALLOWED, axum::Json(serde_json::json!(
                {"error": {"code": "method_not_allowed", "message": "this route does not take that method"}}
            )))
        })
        .layer(axum::middleware::from_fn_with_state(state_for_gate.clone(), auth::authorize))
        .layer(axum::middleware::from_fn_with_state(state_for_gate, ready_gate))
        .layer(DefaultBodyLimit::max(limits.body_bytes))
        .layer(CatchPanicLayer::custom(|_| ApiError::internal("a request handler panicked").into_response()))
        // Outside the panic catcher, so that a panic counts as the 500 it is answered with.
        .layer(axum::middleware::from_fn_with_state(counters, metrics::track));
    trace::traced(router)
}

/// Until the graph is loaded, the API answers 503; health, readiness, metrics and the OpenAPI
/// description answer at once.
async fn ready_gate(
    axum::extract::State(state): axum::extract::State<AppState>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    if state.is_ready() || !req.uri().path().starts_with("/v1/") {
        next.run(req).await
    } else {
        ApiError::Unavailable("the graph is still loading; try again shortly".into())
            .into_response()
    }
}

/// `?limit=&cursor=` for lists.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListParams {
    /// Page size, 1 to 1000 (default 50).
    pub limit: Option<usize>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

impl ListParams {
    pub fn limit(&self) -> Result<usize, ApiError> {
        page_limit(self.limit)
    }
}

/// A page size: 50 when absent, else 1 to 1000.
pub fn page_limit(limit: Option<usize>) -> Result<usize, ApiError> {
    match limit {
        None => Ok(50),
        Some(n @ 1..=1000) => Ok(n),
        Some(_) => Err(ApiError::invalid(
            "limit",
            "invalid_limit",
            "limit is between 1 and 1000",
        )),
    }
}

/// An id from the path. One that breaks the id grammar names nothing that could exist.
pub fn parse_id<T: std::str::FromStr>(raw: &str, what: &str) -> Result<T, ApiError> {
    raw.parse()
        .map_err(|_| ApiError::NotFound(format!("{what} '{raw}' not found (not a valid id)"), None))
}

pub fn entity_id(raw: &str) -> Result<EntityId, ApiError> {
    parse_id(raw, "entity")
}
