//! A panic anywhere in an audited call (its body, `before`, `after`, the
//! text of its actor, resource, action or context, the classification of its
//! error) leaves exactly one `panicked` record, and goes on unwinding. A
//! future dropped because a panic elsewhere unwound through its poller (a
//! sibling branch of `join!`) did not panic: it is recorded `cancelled`.

use std::fmt;
use std::panic::{AssertUnwindSafe, catch_unwind};

use audit_layer::testing::{Expect, capture};
use audit_layer::{ClassifyFailure, FailureKind, audited};

/// A value whose `Display` panics.
struct Exploding;

impl fmt::Display for Exploding {
    fn fmt(&self, _: &mut fmt::Formatter<'_>) -> fmt::Result {
        panic!("Display of Exploding")
    }
}

fn explode() -> u8 {
    panic!("state could not be read")
}

#[audited(action = "panic.after", after = |_| explode())]
fn panics_in_after() -> u8 {
    1
}

#[audited(action = "panic.before", before = explode())]
fn panics_in_before() -> u8 {
    1
}

#[audited(action = "panic.actor", actor = Exploding)]
fn panics_in_actor() -> u8 {
    1
}

#[audited(action = "panic.resource", resource = Exploding)]
fn panics_in_resource() -> u8 {
    1
}

#[audited(action = "panic.field", actor = "alice", fields(ticket = Exploding))]
fn panics_in_field() -> u8 {
    1
}

#[audited(action = format_args!("{}", Exploding))]
fn panics_in_action() -> u8 {
    1
}

#[derive(Debug)]
struct BadError;

impl fmt::Display for BadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("bad")
    }
}

impl ClassifyFailure for BadError {
    fn failure_reason(&self) -> String {
        panic!("classification failed")
    }
}

#[audited(action = "panic.classify")]
fn panics_in_classification() -> Result<(), BadError> {
    Err(BadError)
}

#[audited(action = "panic.async_after", after = |_| explode())]
async fn async_panics_in_after() -> u8 {
    tokio::task::yield_now().await;
    1
}

#[audited(action = "panic.async_before", before = explode())]
async fn async_panics_in_before() -> u8 {
    1
}

#[audited(action = "panic.async_actor", actor = Exploding)]
async fn async_panics_in_actor() -> u8 {
    1
}

fn panicked(action: &str) -> Expect {
    Expect::action(action).failure_kind(FailureKind::Panicked)
}

#[test]
fn a_panic_in_any_part_of_a_sync_call_is_recorded_once() {
    let audit = capture();
    type Call = fn() -> u8;
    let calls: [(&str, Call); 6] = [
        ("panic.after", panics_in_after),
        ("panic.before", panics_in_before),
        ("panic.actor", panics_in_actor),
        ("panic.resource", panics_in_resource),
        ("panic.field", panics_in_field),
        ("panic.action", panics_in_action),
    ];
    for (_, call) in calls {
        assert!(catch_unwind(call).is_err(), "the panic goes on unwinding");
    }
    assert!(catch_unwind(panics_in_classification).is_err());
    let records = audit.records();
    assert_eq!(records.len(), 7, "one record per call: {records:#?}");
    for (action, _) in calls.iter().filter(|(action, _)| *action != "panic.action") {
        audit.assert_one(&panicked(action));
    }
    audit.assert_one(&panicked("panic.classify"));
    // A field's panic stops the others from being evaluated, but what was
    // already known is kept.
    audit.assert_one(&panicked("panic.field").actor("alice"));
    // The action's own text panicked: the record names the function.
    audit.assert_one(&panicked(
        "panics_anywhere_in_a_call_are_recorded::panics_in_action",
    ));
    audit.assert_chain_verifies();
}

#[tokio::test]
async fn a_panic_in_any_part_of_an_async_call_is_recorded_once() {
    let audit = capture();
    assert!(
        tokio::spawn(async_panics_in_after())
            .await
            .unwrap_err()
            .is_panic()
    );
    assert!(
        tokio::spawn(async_panics_in_before())
            .await
            .unwrap_err()
            .is_panic()
    );
    assert!(
        tokio::spawn(async_panics_in_actor())
            .await
            .unwrap_err()
            .is_panic()
    );
    audit.assert_exactly(&[
        panicked("panic.async_after"),
        panicked("panic.async_before"),
        panicked("panic.async_actor"),
    ]);
}

#[audited(action = "join.waits")]
async fn waits_forever() -> Result<(), String> {
    std::future::pending::<()>().await;
    Ok(())
}

#[audited(action = "join.panics")]
async fn panics_after_a_yield() -> Result<(), String> {
    tokio::task::yield_now().await;
    panic!("sibling failed")
}

/// Decision: the call that was pending when its sibling panicked did not
/// panic; it was cancelled, and says so. The sibling that panicked is
/// `panicked`.
#[tokio::test]
async fn a_sibling_panic_in_join_cancels_the_pending_call() {
    let audit = capture();
    let task = tokio::spawn(async {
        let _ = tokio::join!(waits_forever(), panics_after_a_yield());
    });
    assert!(task.await.unwrap_err().is_panic());
    let cancelled =
        audit.assert_one(&Expect::action("join.waits").failure_kind(FailureKind::Cancelled));
    assert!(
        cancelled
            .outcome
            .reason()
            .unwrap_or("")
            .contains("panic elsewhere"),
        "{cancelled:?}"
    );
    audit.assert_one(&panicked("join.panics"));
    assert_eq!(audit.records().len(), 2);
}

#[test]
fn nothing_is_recorded_twice_when_the_unwinding_panic_is_caught_and_resumed() {
    let audit = capture();
    let caught = catch_unwind(AssertUnwindSafe(|| {
        let _ = catch_unwind(panics_in_after);
        panics_in_before()
    }));
    assert!(caught.is_err());
    audit.assert_exactly(&[panicked("panic.after"), panicked("panic.before")]);
}
