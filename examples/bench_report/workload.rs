//! What is measured: the benchmark record, and the handler that makes it,
//! both as `#[audited]` and as `#[instrument]` users write it today.
//! Shared with `benches/audit.rs`, so that the report and criterion measure
//! the same thing.

use std::time::Duration;

use audit_layer::{AuditEvent, AuditEventBuilder, CodeLocation, audited};
use serde_json::json;

/// The arguments of every benchmark call: user, source IP, request id,
/// session.
pub(crate) const CALL_ARGS: (&str, &str, &str, &str) = (
    "user-000042",
    "203.0.113.42",
    "5f0c2a8e-3b1d-4c55-9a3e-2f6d1c9b7e41",
    "s-8b2f1d94c0e64a7f",
);

fn sample_builder(n: u64) -> AuditEventBuilder {
    AuditEvent::builder("post.publish")
        .actor(format!("user-{:06}", n % 100_000))
        .resource(format!("post:{}", n % 1_000_000))
        .context("request_id", CALL_ARGS.2)
        .context("session", CALL_ARGS.3)
        .context("source_ip", CALL_ARGS.1)
        .code(CodeLocation::new("blog::posts", "publish").with_file("src/posts.rs", 120))
        .duration(Duration::from_micros(830))
}

/// The benchmark record: six named fields (action, actor, resource, source
/// IP, request id, session), code location and duration; a line of about
/// 500 bytes.
pub(crate) fn sample_event(n: u64) -> AuditEvent {
    sample_builder(n).build()
}

/// The same with before/after state, so the writer also computes `changes`.
pub(crate) fn sample_event_with_state(n: u64) -> AuditEvent {
    sample_builder(n)
        .before(json!({"status": "draft", "title": "Quarterly results"}))
        .after(json!({"status": "published", "title": "Quarterly results"}))
        .build()
}

/// The audited handler of the caller-cost rows: six named values.
#[audited(
    action = "post.publish",
    actor = user,
    resource = post,
    fields(source_ip = ip, request_id = request, session = session)
)]
#[inline(never)]
pub(crate) fn audited_call(
    user: &str,
    post: u64,
    ip: &str,
    request: &str,
    session: &str,
) -> Result<u64, String> {
    Ok(std::hint::black_box(post))
}

/// The same handler as `tracing::instrument` users write it today.
#[tracing::instrument(
    skip_all,
    fields(action = "post.publish", actor = user, resource = post, source_ip = ip, request_id = request, session = session)
)]
#[inline(never)]
pub(crate) fn instrumented_call(
    user: &str,
    post: u64,
    ip: &str,
    request: &str,
    session: &str,
) -> Result<u64, String> {
    Ok(std::hint::black_box(post))
}
