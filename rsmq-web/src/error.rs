//! Errors as JSON answers, and the extractors' rejections turned into them.

use std::time::Duration;

use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{Path, Query};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use rsmq_async::RsmqError;
use serde_json::{json, Value};

/// A JSON error answer.
pub(crate) struct ApiError {
    status: StatusCode,
    name: &'static str,
    message: String,
}

impl ApiError {
    pub(crate) fn new(status: StatusCode, name: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            name,
            message: message.into(),
        }
    }

    pub(crate) fn bad(name: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, name, message)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = json!({"error": {"name": self.name, "message": self.message}});
        (self.status, Json(body)).into_response()
    }
}

impl From<RsmqError> for ApiError {
    fn from(e: RsmqError) -> Self {
        let message = e.to_string();
        let (status, name) = match e {
            RsmqError::QueueNotFound => (StatusCode::NOT_FOUND, "queueNotFound"),
            RsmqError::QueueExists => (StatusCode::CONFLICT, "queueExists"),
            RsmqError::InvalidFormat(_) => (StatusCode::BAD_REQUEST, "invalidFormat"),
            RsmqError::InvalidValue(..) | RsmqError::NotWholeSeconds(_) => {
                (StatusCode::BAD_REQUEST, "invalidValue")
            }
            RsmqError::BatchTooLarge(_) => (StatusCode::BAD_REQUEST, "invalidValue"),
            RsmqError::SameQueue => (StatusCode::BAD_REQUEST, "sameQueue"),
            RsmqError::MissingParameter(_) => (StatusCode::BAD_REQUEST, "missingParameter"),
            RsmqError::NoAttributeSupplied => (StatusCode::BAD_REQUEST, "noAttributeSupplied"),
            RsmqError::MessageTooLong => (StatusCode::BAD_REQUEST, "messageTooLong"),
            RsmqError::RedisError(_)
            | RsmqError::CannotConnect { .. }
            | RsmqError::PoolTimedOut
            | RsmqError::NotDurable { .. } => (StatusCode::SERVICE_UNAVAILABLE, "redisError"),
            _ => (StatusCode::INTERNAL_SERVER_ERROR, "serverError"),
        };
        ApiError::new(status, name, message)
    }
}

pub(crate) type ApiResult = Result<Json<Value>, ApiError>;

pub(crate) async fn not_found() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "notFound", "no such route")
}

pub(crate) async fn method_not_allowed() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "methodNotAllowed",
        "this route does not take this method",
    )
}

pub(crate) fn path<T>(p: Result<Path<T>, PathRejection>) -> Result<T, ApiError> {
    p.map(|Path(t)| t)
        .map_err(|e| ApiError::bad("invalidPath", e.body_text()))
}

pub(crate) fn query<T>(q: Result<Query<T>, QueryRejection>) -> Result<T, ApiError> {
    q.map(|Query(t)| t)
        .map_err(|e| ApiError::bad("invalidQuery", e.body_text()))
}

pub(crate) fn body<T>(b: Result<Json<T>, JsonRejection>) -> Result<T, ApiError> {
    b.map(|Json(t)| t)
        .map_err(|e| ApiError::bad("invalidBody", e.body_text()))
}

/// Seconds (a JSON or query number) as a `Duration`; `name` names it in the error.
pub(crate) fn seconds(name: &str, s: Option<f64>) -> Result<Option<Duration>, ApiError> {
    s.map(|s| {
        Duration::try_from_secs_f64(s).map_err(|_| {
            ApiError::bad(
                "invalidValue",
                format!("{name} must be a non-negative number of seconds"),
            )
        })
    })
    .transpose()
}
