//! Extractors that turn requests into domain types, with the contract's errors.
//!
//! Bodies are read whatever their content type and parsed with `serde_path_to_error`, so a
//! wrong or unknown field gets 422 with the field's path, not silence; text that is not JSON
//! at all gets 400; a body over the limit gets 413.

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use super::error::ApiError;
use crate::app::AppState;

pub struct Json<T>(pub T);

impl<T: DeserializeOwned> FromRequest<AppState> for Json<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, ApiError> {
        let bytes = Bytes::from_request(req, state).await.map_err(|r| {
            if r.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::TooLarge(state.gate.limits.body_bytes)
            } else {
                ApiError::Malformed {
                    message: r.body_text(),
                    field: None,
                }
            }
        })?;
        parse_json(&bytes).map(Json)
    }
}

/// Parses JSON into `T`: 400 for text that is not JSON, 422 naming the field for the rest.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    let result: Result<T, _> = serde_path_to_error::deserialize(de);
    let value = result.map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        let field = (path != ".").then_some(path);
        match inner.classify() {
            serde_json::error::Category::Syntax
            | serde_json::error::Category::Eof
            | serde_json::error::Category::Io => ApiError::Malformed {
                message: format!("the body is not valid JSON: {inner}"),
                field: None,
            },
            serde_json::error::Category::Data => ApiError::Invalid(crate::domain::Invalid {
                field,
                code: "invalid_field",
                message: strip_position(&inner.to_string()),
            }),
        }
    })?;
    Ok(value)
}

/// serde_json appends "at line 1 column 42"; the field path says more.
fn strip_position(msg: &str) -> String {
    match msg.rfind(" at line ") {
        Some(i) => msg[..i].to_owned(),
        None => msg.to_owned(),
    }
}

/// A query string parsed into `T`; a bad value gets 400 naming the parameter.
pub struct Query<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for Query<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        let q = parts.uri.query().unwrap_or("");
        let de = serde_urlencoded::Deserializer::new(form_urlencoded::parse(q.as_bytes()));
        serde_path_to_error::deserialize(de)
            .map(Query)
            .map_err(|e| {
                let path = e.path().to_string();
                ApiError::Malformed {
                    message: format!("query parameter '{path}': {}", e.into_inner()),
                    field: Some(path),
                }
            })
    }
}

/// The acting caller: the name of the API key the request was authenticated with, which the
/// audit trail records.
pub struct Actor(pub std::sync::Arc<str>);

impl<S: Send + Sync> FromRequestParts<S> for Actor {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        parts
            .extensions
            .get::<super::auth::Caller>()
            .map(|c| Actor(c.name.clone()))
            .ok_or_else(|| {
                ApiError::internal("a handler that records its actor ran unauthenticated")
            })
    }
}
