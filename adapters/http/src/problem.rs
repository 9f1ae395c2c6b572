//! [`Problem`]: every error the API gives, as `application/problem+json`
//! (RFC 9457), carrying a stable `code` and a sentence that says what was
//! wrong and what to do.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use grantflow_core::{EngineError, Rejection, StoreError};
use serde::Serialize;
use utoipa::ToSchema;

/// An RFC 9457 problem document.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ToSchema)]
pub struct Problem {
    /// `urn:grantflow:problem:<code>`.
    #[serde(rename = "type")]
    pub kind: String,
    /// A short summary of the kind of problem.
    pub title: String,
    /// The HTTP status.
    pub status: u16,
    /// What was wrong and what to do, for this request.
    pub detail: String,
    /// The stable code: a rejection code of the core (e.g.
    /// `command_id_reused`) or one of the API's own (`unauthorised`,
    /// `forbidden`, `not_found`, `bad_request`, `store_unavailable`, …).
    pub code: String,
    /// For 429: seconds until another attempt may be made (also sent as
    /// `Retry-After`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_after: Option<u64>,
}

impl Problem {
    /// A problem with the given status, code and sentence.
    pub fn new(status: StatusCode, code: &str, detail: impl Into<String>) -> Problem {
        Problem {
            kind: format!("urn:grantflow:problem:{code}"),
            title: status.canonical_reason().unwrap_or("Error").to_string(),
            status: status.as_u16(),
            detail: detail.into(),
            code: code.to_string(),
            retry_after: None,
        }
    }

    /// 400: the request could not be read.
    pub fn bad_request(detail: impl Into<String>) -> Problem {
        Problem::new(StatusCode::BAD_REQUEST, "bad_request", detail)
    }

    /// 401: no valid credentials.
    pub fn unauthorised() -> Problem {
        Problem::new(
            StatusCode::UNAUTHORIZED,
            "unauthorised",
            "this route needs you signed in: sign in (POST /sign-in/password for staff, /sign-in/code for applicants) or send `Authorization: Bearer <token>` with a token made by `grantflow token add`",
        )
    }

    /// 403: the caller's role may not do this.
    pub fn forbidden(detail: impl Into<String>) -> Problem {
        Problem::new(StatusCode::FORBIDDEN, "forbidden", detail)
    }

    /// 404: no such programme or application.
    pub fn not_found(detail: impl Into<String>) -> Problem {
        Problem::new(StatusCode::NOT_FOUND, "not_found", detail)
    }

    /// 422: the core refused the command; nothing was recorded.
    pub fn rejected(r: &Rejection) -> Problem {
        Problem::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            r.code.as_str(),
            format!("{}; nothing was recorded", r.message),
        )
    }

    /// The store failed: 503, try again.
    pub fn store(e: &StoreError) -> Problem {
        Problem::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "store_unavailable",
            format!("the programme's store failed ({e}); nothing was recorded: try again"),
        )
    }
}

impl From<EngineError> for Problem {
    fn from(e: EngineError) -> Problem {
        match e {
            EngineError::Rejected(r) => Problem::rejected(&r),
            EngineError::Store(s) => Problem::store(&s),
            EngineError::Contention { .. } => Problem::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "contention",
                format!("{e}; nothing was recorded: try again"),
            ),
            other => Problem::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "engine",
                format!("{other}: a defect to report with the programme's event log"),
            ),
        }
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let body = serde_json::to_vec(&self).unwrap_or_default();
        let mut response = (status, body).into_response();
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        if let Some(seconds) = self.retry_after {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        if status == StatusCode::UNAUTHORIZED {
            headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}
