//! The API's error: Dataverse's `{"error": {"code": "0x...", "message": "..."}}` answer,
//! and the error codes used across the server. Every handler returns `ApiError`; the
//! router (`api.rs`) sits above the handlers and only assembles them.
//!
//! An unexpected failure (a database error, a failed background task) is answered with
//! a generic message and an incident number; the details go to the server's log under
//! that number, never to the client: SQLite's words name tables, columns and
//! constraints an attacker has no business learning.

use std::sync::atomic::{AtomicU64, Ordering};

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

use crate::store::StoreError;

/// Dataverse's error codes used here.
pub mod codes {
    /// Unauthorized: no or bad credentials.
    pub const UNAUTHORIZED: &str = "0x80040220";
    /// A request parameter or body is invalid.
    pub const INVALID_ARGUMENT: &str = "0x80040203";
    /// Resource not found for the segment.
    pub const NOT_FOUND: &str = "0x80060888";
    /// An unexpected error on the server.
    pub const UNEXPECTED: &str = "0x80040216";
    /// A text value is longer than its column's MaxLength.
    pub const TOO_LONG: &str = "0x80044331";
}

/// An error answered as `{"error": {"code": "0x...", "message": "..."}}`.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
        }
    }
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, codes::INVALID_ARGUMENT, message)
    }
    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, codes::UNAUTHORIZED, message)
    }
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, codes::NOT_FOUND, message)
    }
    pub fn forbidden(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, code, message)
    }

    /// A 500 whose details stay in the server's log: the client gets an incident
    /// number to quote, nothing of the cause.
    pub fn internal(detail: impl std::fmt::Display) -> Self {
        static INCIDENTS: AtomicU64 = AtomicU64::new(1);
        let n = INCIDENTS.fetch_add(1, Ordering::Relaxed);
        let stamp = crate::store::now().0;
        let incident = format!("{stamp:x}-{n}");
        eprintln!("mailsync serve: incident {incident}: {detail}");
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            codes::UNEXPECTED,
            format!(
                "An unexpected error occurred on the server (incident {incident}); its log \
                 has the details."
            ),
        )
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        ApiError::internal(e)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut resp = (
            self.status,
            Json(json!({"error": {"code": self.code, "message": self.message}})),
        )
            .into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            resp.headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        resp
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_errors_keep_their_cause_out_of_the_answer() {
        let e = ApiError::from(StoreError::Other(
            "no such column: secretcolumn in SELECT * FROM mailbox".into(),
        ));
        assert_eq!(e.status, 500);
        assert!(!e.message.contains("secretcolumn"), "{}", e.message);
        assert!(!e.message.contains("mailbox"), "{}", e.message);
        assert!(e.message.contains("incident"), "{}", e.message);
    }
}
