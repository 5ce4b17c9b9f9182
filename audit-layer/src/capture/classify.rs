//! How a function's return value becomes the outcome of its audit record.
//!
//! - `Err(e)` where `e: ClassifyFailure`: a failure of the kind `e` chooses;
//! - `Err(e)` where `e: Display`: a failure of kind `error`, reason `e.to_string()`;
//! - `Err(e)` where `e: Debug` only: the same with `{:?}`;
//! - `Ok(_)`, and any return type that is not a `Result`: success.
//!
//! `#[audited]` picks the first rule that applies at compile time (autoref
//! specialisation), so an error type opts in by implementing one trait.

use std::fmt;

use crate::{FailureKind, Outcome};

/// Lets an error type say what kind of failure it is, for the `category` of
/// the record (`denied`, `invalid`, ...). Without it, every `Err` is an
/// [`FailureKind::Error`] whose reason is the error's `Display`.
///
/// # Examples
///
/// ```
/// use audit_layer::{ClassifyFailure, FailureKind};
///
/// #[derive(Debug)]
/// enum PostError { NotAnEditor, Missing }
///
/// impl std::fmt::Display for PostError {
///     fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
///         f.write_str(match self { PostError::NotAnEditor => "not an editor", PostError::Missing => "no such post" })
///     }
/// }
///
/// impl ClassifyFailure for PostError {
///     fn failure_kind(&self) -> FailureKind {
///         match self {
///             PostError::NotAnEditor => FailureKind::Denied,
///             PostError::Missing => FailureKind::Invalid,
///         }
///     }
/// }
///
/// assert_eq!(PostError::NotAnEditor.failure_kind(), FailureKind::Denied);
/// ```
pub trait ClassifyFailure: fmt::Display {
    /// The kind of failure this error is.
    fn failure_kind(&self) -> FailureKind {
        FailureKind::Error
    }

    /// The reason recorded; the error's `Display` by default. Override it to
    /// keep details (a customer's data in an error text, say) out of the trail.
    ///
    /// # Examples
    ///
    /// ```
    /// use audit_layer::ClassifyFailure;
    /// struct Leaky(String);
    /// impl std::fmt::Display for Leaky {
    ///     fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result { f.write_str(&self.0) }
    /// }
    /// impl ClassifyFailure for Leaky {
    ///     fn failure_reason(&self) -> String { "invalid card".into() }
    /// }
    /// assert_eq!(Leaky("4111 1111 1111 1111 rejected".into()).failure_reason(), "invalid card");
    /// ```
    fn failure_reason(&self) -> String {
        self.to_string()
    }
}

/// The return value of an audited call, wrapped for outcome selection.
#[doc(hidden)]
pub struct OutcomeOf<'a, R: ?Sized>(pub &'a R);

/// The most specific rule: an HTTP status (impls in `http_status`, feature
/// `http`); without the feature the trait has no impls and never applies.
#[doc(hidden)]
pub trait ViaHttpStatus {
    fn audit_outcome(&self) -> Outcome;
}

#[doc(hidden)]
pub trait ViaClassify {
    fn audit_outcome(&self) -> Outcome;
}

impl<T, E: ClassifyFailure> ViaClassify for &&&OutcomeOf<'_, Result<T, E>> {
    fn audit_outcome(&self) -> Outcome {
        match self.0 {
            Ok(_) => Outcome::Success,
            Err(error) => Outcome::failure(error.failure_kind(), error.failure_reason()),
        }
    }
}

#[doc(hidden)]
pub trait ViaDisplay {
    fn audit_outcome(&self) -> Outcome;
}

impl<T, E: fmt::Display> ViaDisplay for &&OutcomeOf<'_, Result<T, E>> {
    fn audit_outcome(&self) -> Outcome {
        match self.0 {
            Ok(_) => Outcome::Success,
            Err(error) => Outcome::failure(FailureKind::Error, error.to_string()),
        }
    }
}

#[doc(hidden)]
pub trait ViaDebug {
    fn audit_outcome(&self) -> Outcome;
}

impl<T, E: fmt::Debug> ViaDebug for &OutcomeOf<'_, Result<T, E>> {
    fn audit_outcome(&self) -> Outcome {
        match self.0 {
            Ok(_) => Outcome::Success,
            Err(error) => Outcome::failure(FailureKind::Error, format!("{error:?}")),
        }
    }
}

#[doc(hidden)]
pub trait ViaSuccess {
    fn audit_outcome(&self) -> Outcome;
}

impl<R: ?Sized> ViaSuccess for OutcomeOf<'_, R> {
    fn audit_outcome(&self) -> Outcome {
        Outcome::Success
    }
}

#[cfg(test)]
// The borrows are the point: each level of `&` selects one rule.
#[allow(clippy::needless_borrow)]
mod tests {
    use super::*;
    #[allow(unused_imports)]
    use super::{OutcomeOf, ViaClassify as _, ViaDebug as _, ViaDisplay as _, ViaSuccess as _};

    struct Denied;
    impl fmt::Display for Denied {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("no")
        }
    }
    impl ClassifyFailure for Denied {
        fn failure_kind(&self) -> FailureKind {
            FailureKind::Denied
        }
    }
    #[derive(Debug)]
    struct DebugOnly;

    #[test]
    fn the_most_specific_rule_applies() {
        let classified: Result<(), Denied> = Err(Denied);
        assert_eq!(
            (&&&&OutcomeOf(&classified)).audit_outcome(),
            Outcome::failure(FailureKind::Denied, "no")
        );
        let displayed: Result<(), std::io::Error> = Err(std::io::Error::other("disk"));
        assert_eq!(
            (&&&&OutcomeOf(&displayed)).audit_outcome(),
            Outcome::failure(FailureKind::Error, "disk")
        );
        let debugged: Result<u8, DebugOnly> = Err(DebugOnly);
        assert_eq!(
            (&&&&OutcomeOf(&debugged)).audit_outcome(),
            Outcome::failure(FailureKind::Error, "DebugOnly")
        );
        let ok: Result<u8, DebugOnly> = Ok(1);
        assert_eq!((&&&&OutcomeOf(&ok)).audit_outcome(), Outcome::Success);
        assert_eq!((&&&&OutcomeOf(&Some(3))).audit_outcome(), Outcome::Success);
        assert_eq!((&&&&OutcomeOf(&())).audit_outcome(), Outcome::Success);
    }
}
