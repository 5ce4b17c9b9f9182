//! How a call ended: [`Outcome`] and the [`FailureKind`] of a failure.

use std::borrow::Cow;
use std::fmt;

/// Why an action failed, in a form tools can group by.
///
/// # Examples
///
/// ```
/// use audit_layer::FailureKind;
/// assert_eq!(FailureKind::Denied.as_str(), "denied");
/// assert_eq!(FailureKind::from("rate_limited").as_str(), "rate_limited");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum FailureKind {
    /// The action returned an error.
    Error,
    /// The actor was not allowed to do it (authorisation failed).
    Denied,
    /// The request was rejected as invalid.
    Invalid,
    /// The function panicked; the panic went on unwinding after the record.
    Panicked,
    /// An async call was dropped before it completed.
    Cancelled,
    /// Any other category, in snake_case.
    Other(Cow<'static, str>),
}

impl FailureKind {
    /// The JSON spelling.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(audit_layer::FailureKind::Cancelled.as_str(), "cancelled");
    /// ```
    pub fn as_str(&self) -> &str {
        match self {
            FailureKind::Error => "error",
            FailureKind::Denied => "denied",
            FailureKind::Invalid => "invalid",
            FailureKind::Panicked => "panicked",
            FailureKind::Cancelled => "cancelled",
            FailureKind::Other(other) => other,
        }
    }
}

impl From<&str> for FailureKind {
    fn from(text: &str) -> Self {
        match text {
            "error" => FailureKind::Error,
            "denied" => FailureKind::Denied,
            "invalid" => FailureKind::Invalid,
            "panicked" => FailureKind::Panicked,
            "cancelled" => FailureKind::Cancelled,
            other => FailureKind::Other(Cow::Owned(other.to_owned())),
        }
    }
}

impl fmt::Display for FailureKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How an action ended.
///
/// # Examples
///
/// ```
/// use audit_layer::{FailureKind, Outcome};
///
/// let denied = Outcome::failure(FailureKind::Denied, "not an editor");
/// assert_eq!(denied.status(), "failure");
/// assert!(!denied.is_success());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Outcome {
    /// The action did what was asked.
    Success,
    /// The action failed.
    Failure {
        /// The category of the failure.
        kind: FailureKind,
        /// Human-readable detail, such as the error's `Display`.
        reason: String,
    },
    /// Nobody knows whether the action took effect.
    Unknown {
        /// Why the outcome is not known.
        reason: String,
    },
}

impl Outcome {
    /// A failure of `kind` with `reason`.
    ///
    /// # Examples
    ///
    /// ```
    /// use audit_layer::{FailureKind, Outcome};
    /// let outcome = Outcome::failure(FailureKind::Error, "disk full");
    /// assert_eq!(outcome.reason(), Some("disk full"));
    /// ```
    pub fn failure(kind: FailureKind, reason: impl Into<String>) -> Self {
        Outcome::Failure {
            kind,
            reason: reason.into(),
        }
    }

    /// `"success"`, `"failure"` or `"unknown"`.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(audit_layer::Outcome::Success.status(), "success");
    /// ```
    pub fn status(&self) -> &'static str {
        match self {
            Outcome::Success => "success",
            Outcome::Failure { .. } => "failure",
            Outcome::Unknown { .. } => "unknown",
        }
    }

    /// Whether this is [`Outcome::Success`].
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(audit_layer::Outcome::Success.is_success());
    /// ```
    pub fn is_success(&self) -> bool {
        matches!(self, Outcome::Success)
    }

    /// The failure kind, for a failure.
    ///
    /// # Examples
    ///
    /// ```
    /// use audit_layer::{FailureKind, Outcome};
    /// assert_eq!(Outcome::failure(FailureKind::Denied, "no").kind(), Some(&FailureKind::Denied));
    /// assert_eq!(Outcome::Success.kind(), None);
    /// ```
    pub fn kind(&self) -> Option<&FailureKind> {
        match self {
            Outcome::Failure { kind, .. } => Some(kind),
            _ => None,
        }
    }

    /// The reason, for a failure or an unknown outcome.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(audit_layer::Outcome::Success.reason(), None);
    /// ```
    pub fn reason(&self) -> Option<&str> {
        match self {
            Outcome::Success => None,
            Outcome::Failure { reason, .. } | Outcome::Unknown { reason } => Some(reason),
        }
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Outcome::Success => f.write_str("success"),
            Outcome::Failure { kind, reason } => write!(f, "failure ({kind}): {reason}"),
            Outcome::Unknown { reason } => write!(f, "unknown: {reason}"),
        }
    }
}
