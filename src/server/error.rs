//! API errors as JSON: `{"error": "...", "parameter": "from"}` with the matching HTTP status. Internal details are
//! logged, never sent to the client.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;

/// An error answered to an API client.
#[derive(Debug, Clone, PartialEq)]
pub enum ApiError {
    /// 400: a parameter or body is invalid; `parameter` names it when there is one.
    BadRequest {
        parameter: Option<String>,
        message: String,
    },
    /// 401: no valid credentials (answered with `WWW-Authenticate: Bearer`).
    Unauthorized(String),
    /// 403: authenticated, but not allowed.
    Forbidden(String),
    /// 404: the thing asked for does not exist (for this tenant).
    NotFound(String),
    /// 413: the body is too large.
    TooLarge(String),
    /// 500: logged with its detail; the client gets a generic message.
    Internal(String),
    /// 503: not ready (data still loading).
    Unavailable(String),
    /// 503 with `Retry-After`: too much work at once ([`super::heavy`]).
    Busy { message: String, retry_after_s: u64 },
    /// 503: the computation was cancelled ([`crate::cancel`]); its client has gone or its time ran out, so this
    /// answer is rarely seen.
    Cancelled,
}

impl ApiError {
    pub fn param(parameter: &str, message: impl Into<String>) -> Self {
        ApiError::BadRequest {
            parameter: Some(parameter.to_string()),
            message: message.into(),
        }
    }
    pub fn bad(message: impl Into<String>) -> Self {
        ApiError::BadRequest {
            parameter: None,
            message: message.into(),
        }
    }
    pub fn internal(e: impl std::fmt::Display) -> Self {
        ApiError::Internal(e.to_string())
    }
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::BadRequest { .. } => StatusCode::BAD_REQUEST,
            ApiError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
            ApiError::Unavailable(_) | ApiError::Busy { .. } | ApiError::Cancelled => {
                StatusCode::SERVICE_UNAVAILABLE
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        let body = match &self {
            ApiError::BadRequest { parameter, message } => match parameter {
                Some(p) => serde_json::json!({ "error": message, "parameter": p }),
                None => serde_json::json!({ "error": message }),
            },
            ApiError::Unauthorized(m)
            | ApiError::Forbidden(m)
            | ApiError::NotFound(m)
            | ApiError::TooLarge(m)
            | ApiError::Unavailable(m)
            | ApiError::Busy { message: m, .. } => {
                serde_json::json!({ "error": m })
            }
            ApiError::Cancelled => {
                serde_json::json!({ "error": crate::cancel::Cancelled.to_string() })
            }
            ApiError::Internal(detail) => {
                tracing::error!(%detail, "internal error");
                serde_json::json!({ "error": "interne fout; zie het serverlog" })
            }
        };
        if let ApiError::Busy { retry_after_s, .. } = &self {
            return (
                status,
                [(axum::http::header::RETRY_AFTER, retry_after_s.to_string())],
                Json(body),
            )
                .into_response();
        }
        if status == StatusCode::UNAUTHORIZED {
            return (
                status,
                [(
                    axum::http::header::WWW_AUTHENTICATE,
                    "Bearer realm=\"brandpunt\"",
                )],
                Json(body),
            )
                .into_response();
        }
        (status, Json(body)).into_response()
    }
}

impl From<crate::store::StoreError> for ApiError {
    fn from(e: crate::store::StoreError) -> Self {
        ApiError::internal(e)
    }
}

impl From<crate::cancel::Cancelled> for ApiError {
    fn from(_: crate::cancel::Cancelled) -> Self {
        ApiError::Cancelled
    }
}
