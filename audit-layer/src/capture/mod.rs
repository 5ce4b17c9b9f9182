//! Capture: from a function call to an [`AuditEvent`](crate::AuditEvent).
//!
//! Promises: each `#[audited]` call yields exactly one event, with the
//! outcome that really happened (returned, failed, panicked, cancelled), the
//! values the attribute names and the context of the enclosing spans; nothing
//! is captured that the developer did not name.
//!
//! - `layer`: [`AuditLayer`](crate::AuditLayer), the `tracing_subscriber`
//!   layer that picks audited calls out of tracing's traffic;
//! - `call`: the runtime side of one call, what the macro's code calls into;
//! - `hook`: what the call and the layer share (site, start values, state,
//!   completion, and the hook between them);
//! - `current_call`: the in-body API ([`record_before`](crate::record_before), ...);
//! - `classify`, `http_status`: how a return value becomes an outcome;
//! - `field_text`: how a named value becomes text;
//! - `returned_future`: boxing the future of a function that returns one;
//! - `calls_within`: how many calls a span saw;
//! - `live_captures`: the test captures alive, and the records routed to
//!   them from threads a test starts (feature `testing`).
//!
//! May use: `record` (the vocabulary) and `write` (to hand events over).

pub(crate) mod call;
pub(crate) mod calls_within;
pub(crate) mod classify;
pub(crate) mod current_call;
pub(crate) mod field_text;
pub(crate) mod hook;
#[cfg(feature = "http")]
pub mod http_status;
pub(crate) mod layer;
#[cfg(feature = "testing")]
pub(crate) mod live_captures;
pub(crate) mod returned_future;
