//! HTTP handlers (feature `http`): a call that answers with an HTTP status
//! is classified by it, without a `ClassifyFailure` impl per handler.
//!
//! | status | outcome |
//! |---|---|
//! | 1xx, 2xx, 3xx | `success` |
//! | 401, 403, 407, 429 | `failure`, kind `denied` |
//! | other 4xx (400, 404, 409, 422, ...) | `failure`, kind `invalid` |
//! | 5xx | `failure`, kind `error` |
//!
//! The reason is the status line: `HTTP 403 Forbidden`.
//!
//! It applies to a handler returning `http::Response<B>` (axum's
//! `Response`), `StatusCode`, `(StatusCode, T)` or `Result<T, StatusCode>`;
//! with the `axum` feature, also to `impl IntoResponse`, which `#[audited]`
//! turns into its response. `Result<T, E>` with another error type keeps the
//! rules of [`ClassifyFailure`](crate::ClassifyFailure).

use crate::capture::classify::{OutcomeOf, ViaHttpStatus};
use crate::{FailureKind, Outcome};

/// The outcome of a call answered with `status`; see the
/// [module documentation](self).
///
/// # Examples
///
/// ```
/// use audit_layer::{http_status::outcome_of_status, FailureKind, Outcome};
///
/// assert_eq!(outcome_of_status(http::StatusCode::OK), Outcome::Success);
/// assert_eq!(
///     outcome_of_status(http::StatusCode::FORBIDDEN),
///     Outcome::failure(FailureKind::Denied, "HTTP 403 Forbidden"),
/// );
/// assert_eq!(outcome_of_status(http::StatusCode::NOT_FOUND).kind(), Some(&FailureKind::Invalid));
/// assert_eq!(outcome_of_status(http::StatusCode::BAD_GATEWAY).kind(), Some(&FailureKind::Error));
/// ```
pub fn outcome_of_status(status: http::StatusCode) -> Outcome {
    let kind = match status.as_u16() {
        100..=399 => return Outcome::Success,
        401 | 403 | 407 | 429 => FailureKind::Denied,
        400..=499 => FailureKind::Invalid,
        _ => FailureKind::Error,
    };
    let reason = match status.canonical_reason() {
        Some(reason) => format!("HTTP {} {reason}", status.as_u16()),
        None => format!("HTTP {}", status.as_u16()),
    };
    Outcome::failure(kind, reason)
}

/// What `#[audited]` does with an `impl IntoResponse` (feature `axum`):
/// the response it becomes, whose status then classifies the call.
#[cfg(feature = "axum")]
#[doc(hidden)]
#[inline]
pub fn into_response(
    value: impl axum_core::response::IntoResponse,
) -> axum_core::response::Response {
    value.into_response()
}

impl<B> ViaHttpStatus for &&&&OutcomeOf<'_, http::Response<B>> {
    fn audit_outcome(&self) -> Outcome {
        outcome_of_status(self.0.status())
    }
}

impl ViaHttpStatus for &&&&OutcomeOf<'_, http::StatusCode> {
    fn audit_outcome(&self) -> Outcome {
        outcome_of_status(*self.0)
    }
}

impl<T> ViaHttpStatus for &&&&OutcomeOf<'_, (http::StatusCode, T)> {
    fn audit_outcome(&self) -> Outcome {
        outcome_of_status(self.0.0)
    }
}

impl<T> ViaHttpStatus for &&&&OutcomeOf<'_, Result<T, http::StatusCode>> {
    fn audit_outcome(&self) -> Outcome {
        match self.0 {
            Ok(_) => Outcome::Success,
            Err(status) => outcome_of_status(*status),
        }
    }
}

#[cfg(test)]
// The borrows are the point: each level of `&` selects one rule.
#[allow(clippy::needless_borrow)]
mod tests {
    use super::*;
    #[allow(unused_imports)]
    use crate::capture::classify::{
        ViaClassify as _, ViaDebug as _, ViaDisplay as _, ViaHttpStatus as _, ViaSuccess as _,
    };
    use http::StatusCode;

    #[test]
    fn statuses_are_classified_wherever_a_handler_returns_them() {
        let forbidden = Outcome::failure(FailureKind::Denied, "HTTP 403 Forbidden");
        let response = http::Response::builder().status(403).body(()).unwrap();
        assert_eq!((&&&&&OutcomeOf(&response)).audit_outcome(), forbidden);
        assert_eq!(
            (&&&&&OutcomeOf(&StatusCode::FORBIDDEN)).audit_outcome(),
            forbidden
        );
        assert_eq!(
            (&&&&&OutcomeOf(&(StatusCode::FORBIDDEN, "no"))).audit_outcome(),
            forbidden
        );
        let rejected: Result<u8, StatusCode> = Err(StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(
            (&&&&&OutcomeOf(&rejected)).audit_outcome(),
            Outcome::failure(FailureKind::Invalid, "HTTP 422 Unprocessable Entity")
        );
        let accepted: Result<u8, StatusCode> = Ok(1);
        assert_eq!(
            (&&&&&OutcomeOf(&accepted)).audit_outcome(),
            Outcome::Success
        );
        // Other types keep their rules.
        let failed: Result<u8, String> = Err("boom".into());
        assert_eq!(
            (&&&&&OutcomeOf(&failed)).audit_outcome(),
            Outcome::failure(FailureKind::Error, "boom")
        );
    }

    #[test]
    fn every_status_class_has_its_outcome() {
        for (code, kind) in [
            (401, Some(FailureKind::Denied)),
            (429, Some(FailureKind::Denied)),
            (400, Some(FailureKind::Invalid)),
            (404, Some(FailureKind::Invalid)),
            (409, Some(FailureKind::Invalid)),
            (500, Some(FailureKind::Error)),
            (503, Some(FailureKind::Error)),
            (204, None),
            (302, None),
        ] {
            let outcome = outcome_of_status(StatusCode::from_u16(code).unwrap());
            assert_eq!(outcome.kind(), kind.as_ref(), "{code}");
        }
    }
}
