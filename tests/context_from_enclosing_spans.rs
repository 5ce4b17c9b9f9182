//! A record takes its context (source IP, session, request id, ticket...)
//! from the spans around the call, and its actor from them when the call
//! names none; a missing actor stays missing and is counted; ordinary spans
//! that look like audit spans never become records.

use audit_layer::audited;
use audit_layer::testing::{Expect, capture};
use tracing::field::Empty;

#[audited(action = "post.edit", resource = id)]
fn edit(id: u64) {}

#[audited(action = "post.publish", actor = "editor-bot", resource = id, fields(ticket = "PUB-1"))]
fn publish(id: u64) {
    edit(id);
}

#[test]
fn context_and_actor_come_from_the_request_span() {
    let audit = capture();
    let request = tracing::info_span!(
        "request",
        audit.source_ip = "203.0.113.9",
        audit.session = "s-1",
        audit.request_id = "r-1",
        audit.actor = "alice",
    );
    request.in_scope(|| edit(1));
    audit.assert_one(
        &Expect::action("post.edit")
            .actor("alice")
            .context("source_ip", "203.0.113.9")
            .context("session", "s-1")
            .context("request_id", "r-1"),
    );
}

#[test]
fn the_innermost_value_wins_and_late_fields_count() {
    let audit = capture();
    let tenant = tracing::info_span!("tenant", audit.tenant = "outer", audit.ticket = Empty);
    let _tenant = tenant.enter();
    tenant.record("audit.ticket", "T-9");
    let inner = tracing::info_span!("inner", audit.tenant = "inner");
    inner.in_scope(|| edit(2));
    audit.assert_one(
        &Expect::action("post.edit")
            .context("tenant", "inner")
            .context("ticket", "T-9"),
    );
}

#[test]
fn a_named_actor_beats_the_enclosing_one_and_nested_calls_inherit() {
    let audit = capture();
    tracing::info_span!("request", audit.actor = "alice", audit.request_id = "r-2")
        .in_scope(|| publish(3));
    audit.assert_exactly(&[
        // The inner call names no actor: it inherits the enclosing call's,
        // which beats the request's; it inherits the ticket too.
        Expect::action("post.edit")
            .actor("editor-bot")
            .context("ticket", "PUB-1")
            .context("request_id", "r-2"),
        Expect::action("post.publish")
            .actor("editor-bot")
            .context("ticket", "PUB-1"),
    ]);
}

#[test]
fn a_missing_actor_is_visible_and_counted_never_invented() {
    let audit = capture();
    edit(4);
    audit.assert_one(&Expect::action("post.edit").no_actor());
    assert_eq!(audit.handle().stats().missing_actor, 1);
}

#[test]
fn ordinary_spans_that_look_like_audit_spans_make_no_record() {
    let audit = capture();
    tracing::info_span!(target: "audit", "publish", audit.action = "post.delete", audit.actor = "mallory")
        .in_scope(|| {});
    tracing::info_span!(
        "imitation",
        audit.call = Empty,
        audit.action = "post.delete"
    )
    .in_scope(|| {});
    tracing::event!(target: "audit", tracing::Level::INFO, audit.action = "post.delete");
    assert!(audit.records().is_empty(), "{:?}", audit.records());
    // An impostor span around a real call lends it context, nothing more.
    tracing::info_span!(target: "audit", "outer", audit.action = "fake", audit.request_id = "r-3")
        .in_scope(|| edit(5));
    audit.assert_exactly(&[Expect::action("post.edit")
        .context("request_id", "r-3")
        .context("action", "fake")]);
}
