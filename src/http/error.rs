//! The one error type of the HTTP layer, and the contract's error body.
//!
//! Every failure leaves as `{"error": {"code", "message", "field"?}}` with the right status. A
//! 5xx never carries internals: the detail is logged and the client gets a generic message.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

use crate::db::DbError;
use crate::domain::Invalid;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 400: the body is not JSON, or a query string does not parse.
    #[error("{message}")]
    Malformed {
        message: String,
        field: Option<String>,
    },
    /// 401: no API key, or one that is not valid.
    #[error("{0}")]
    Unauthorized(String),
    /// 403: a valid key whose role does not allow the request.
    #[error("{0}")]
    Forbidden(String),
    /// 429: the key made more requests than its rate allows; try again after the seconds.
    #[error("too many requests for this key; try again in {0} s")]
    RateLimited(u64),
    /// 503 at once: as many requests are in flight as the service takes.
    #[error("the service is at capacity; try again shortly")]
    Overloaded,
    /// 404.
    #[error("{0}")]
    NotFound(String, Option<String>),
    /// 409.
    #[error("{message}")]
    Conflict { code: &'static str, message: String },
    /// 413.
    #[error("the request body is larger than {0} bytes")]
    TooLarge(usize),
    /// 422.
    #[error(transparent)]
    Invalid(#[from] Invalid),
    /// 503: not ready, or a dependency is down.
    #[error("{0}")]
    Unavailable(String),
    /// 500: logged, never shown.
    #[error("internal error: {0}")]
    Internal(String),
}

#[derive(Serialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Serialize, ToSchema)]
pub struct ErrorDetail {
    /// A stable, snake_case code to branch on.
    pub code: String,
    pub message: String,
    /// The path of the field at fault, where one field is.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

impl ApiError {
    pub fn internal(e: impl std::fmt::Display) -> Self {
        Self::Internal(e.to_string())
    }

    pub fn invalid(
        field: impl Into<String>,
        code: &'static str,
        message: impl Into<String>,
    ) -> Self {
        Self::Invalid(Invalid::new(field, code, message))
    }

    fn parts(&self) -> (StatusCode, &str, String, Option<String>) {
        match self {
            Self::Malformed { message, field } => (
                StatusCode::BAD_REQUEST,
                "malformed_request",
                message.clone(),
                field.clone(),
            ),
            Self::Unauthorized(m) => (StatusCode::UNAUTHORIZED, "unauthorized", m.clone(), None),
            Self::Forbidden(m) => (StatusCode::FORBIDDEN, "forbidden", m.clone(), None),
            Self::RateLimited(_) => (
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limited",
                self.to_string(),
                None,
            ),
            Self::Overloaded => (
                StatusCode::SERVICE_UNAVAILABLE,
                "overloaded",
                self.to_string(),
                None,
            ),
            Self::NotFound(m, field) => {
                (StatusCode::NOT_FOUND, "not_found", m.clone(), field.clone())
            }
            Self::Conflict { code, message } => (StatusCode::CONFLICT, code, message.clone(), None),
            Self::TooLarge(_) => (
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload_too_large",
                self.to_string(),
                None,
            ),
            Self::Invalid(i) => (
                StatusCode::UNPROCESSABLE_ENTITY,
                i.code,
                i.message.clone(),
                i.field.clone(),
            ),
            Self::Unavailable(m) => (
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                m.clone(),
                None,
            ),
            Self::Internal(_) => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal_error",
                "an internal error occurred; it has been logged".to_owned(),
                None,
            ),
        }
    }
}

impl From<DbError> for ApiError {
    fn from(e: DbError) -> Self {
        match e {
            DbError::NotFound { .. } => Self::NotFound(e.to_string(), None),
            DbError::Conflict { code, message } => Self::Conflict { code, message },
            DbError::Invalid(i) => Self::Invalid(i),
            DbError::Sqlx(
                sqlx::Error::PoolTimedOut | sqlx::Error::Io(_) | sqlx::Error::PoolClosed,
            ) => {
                tracing::error!(error = %e, "database unavailable");
                Self::Unavailable("the database is not answering; try again shortly".into())
            }
            other => Self::Internal(other.to_string()),
        }
    }
}

impl From<crate::import::ImportError> for ApiError {
    fn from(e: crate::import::ImportError) -> Self {
        match e {
            crate::import::ImportError::Format(f) => {
                Self::invalid("file", "invalid_file", f.to_string())
            }
            crate::import::ImportError::Db(d) => d.into(),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code, message, field) = self.parts();
        if status.is_server_error() {
            tracing::error!(error = %self, status = status.as_u16(), "request failed");
        }
        let body = ErrorBody {
            error: ErrorDetail {
                code: code.to_owned(),
                message,
                field,
            },
        };
        let mut response = (status, axum::Json(body)).into_response();
        let headers = response.headers_mut();
        match self {
            Self::Unauthorized(_) => {
                headers.insert(
                    axum::http::header::WWW_AUTHENTICATE,
                    axum::http::HeaderValue::from_static("Bearer"),
                );
            }
            Self::RateLimited(seconds) => {
                headers.insert(axum::http::header::RETRY_AFTER, seconds.into());
            }
            Self::Overloaded => {
                headers.insert(axum::http::header::RETRY_AFTER, 1.into());
            }
            _ => {}
        }
        response
    }
}

pub type ApiResult<T> = Result<T, ApiError>;
