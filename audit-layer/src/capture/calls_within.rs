//! How many audited calls a span saw: lets a request middleware record the
//! requests no audited handler recorded (rejected before the handler ran).

use tracing::Span;

use crate::capture::hook::Hook;

/// How many audited calls have been recorded inside `span` so far (nested
/// spans included), or `None` when no audit layer keeps count for it: the
/// span has no `audit.*` field, or no audit layer sees it.
///
/// # Examples
///
/// ```
/// use audit_layer::{audited, audited_calls_within};
///
/// #[audited(action = "post.read")]
/// fn read() {}
///
/// let audit = audit_layer::testing::capture();
/// let request = tracing::info_span!("request", audit.request_id = "r-1");
/// assert_eq!(audited_calls_within(&request), Some(0));
/// request.in_scope(read);
/// assert_eq!(audited_calls_within(&request), Some(1));
/// assert_eq!(audited_calls_within(&tracing::info_span!("plain")), None);
/// # drop(audit);
/// ```
pub fn audited_calls_within(span: &Span) -> Option<u64> {
    span.with_subscriber(|(id, dispatch)| {
        let hook = dispatch.downcast_ref::<Hook>()?;
        (hook.calls_within)(dispatch, id)
    })
    .flatten()
}
