//! With the `axum` feature, an HTTP handler is classified by the status it
//! answers with (401/403 `denied`, other 4xx `invalid`, 5xx `error`), whether
//! it returns `impl IntoResponse`, `Response`, `StatusCode`,
//! `(StatusCode, T)` or `Result<T, StatusCode>`: no `ClassifyFailure` impl
//! per handler.

use audit_layer::testing::{Expect, capture};
use audit_layer::{FailureKind, audited};
use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

#[audited(action = "http.impl_into_response")]
async fn impl_into_response(status: StatusCode) -> impl IntoResponse {
    (
        status,
        Json(serde_json::json!({ "status": status.as_u16() })),
    )
}

#[audited(action = "http.response")]
async fn response(status: StatusCode) -> Response {
    (status, "body").into_response()
}

#[audited(action = "http.status")]
fn status_only(status: StatusCode) -> StatusCode {
    status
}

#[audited(action = "http.result")]
async fn result(found: bool) -> Result<Json<u8>, StatusCode> {
    if found {
        Ok(Json(1))
    } else {
        Err(StatusCode::NOT_FOUND)
    }
}

fn kind(action: &str, kind: FailureKind, reason: &str) -> Expect {
    Expect::action(action).failure_kind(kind).reason(reason)
}

#[tokio::test]
async fn every_handler_return_shape_is_classified_by_its_status() {
    let audit = capture();
    let forbidden = impl_into_response(StatusCode::FORBIDDEN)
        .await
        .into_response();
    assert_eq!(forbidden.status(), StatusCode::FORBIDDEN);
    let _ = impl_into_response(StatusCode::CREATED).await;
    assert_eq!(
        response(StatusCode::INTERNAL_SERVER_ERROR).await.status(),
        500
    );
    let _ = response(StatusCode::UNAUTHORIZED).await;
    assert_eq!(status_only(StatusCode::CONFLICT), StatusCode::CONFLICT);
    assert!(result(false).await.is_err());
    assert!(result(true).await.is_ok());
    let _ = impl_into_response(StatusCode::UNPROCESSABLE_ENTITY).await;
    audit.assert_exactly(&[
        kind(
            "http.impl_into_response",
            FailureKind::Denied,
            "HTTP 403 Forbidden",
        ),
        Expect::action("http.impl_into_response").success(),
        kind(
            "http.response",
            FailureKind::Error,
            "HTTP 500 Internal Server Error",
        ),
        kind(
            "http.response",
            FailureKind::Denied,
            "HTTP 401 Unauthorized",
        ),
        kind("http.status", FailureKind::Invalid, "HTTP 409 Conflict"),
        kind("http.result", FailureKind::Invalid, "HTTP 404 Not Found"),
        Expect::action("http.result").success(),
        kind(
            "http.impl_into_response",
            FailureKind::Invalid,
            "HTTP 422 Unprocessable Entity",
        ),
    ]);
}
