//! Every call makes exactly one record, whichever way it ends: a value, an
//! `Ok`, an `Err` (classified by the error type when it says how), a panic
//! (which then goes on unwinding) or an async call dropped half-way.

use std::future::Future;
use std::pin::pin;
use std::task::{Context, Waker};

use audit_layer::testing::{Expect, capture};
use audit_layer::{ClassifyFailure, FailureKind, audited};

#[derive(Debug)]
enum AccessError {
    Forbidden { who: String },
    Broken,
}

impl std::fmt::Display for AccessError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AccessError::Forbidden { who } => write!(f, "{who} may not do that"),
            AccessError::Broken => f.write_str("storage broken"),
        }
    }
}

impl ClassifyFailure for AccessError {
    fn failure_kind(&self) -> FailureKind {
        match self {
            AccessError::Forbidden { .. } => FailureKind::Denied,
            AccessError::Broken => FailureKind::Error,
        }
    }
}

#[derive(Debug)]
struct OpaqueError;

#[audited(action = "value")]
fn returns_value() -> Option<u8> {
    None
}

#[audited(action = "classified", actor = who)]
fn classified(who: &str, broken: bool) -> Result<(), AccessError> {
    if broken {
        Err(AccessError::Broken)
    } else {
        Err(AccessError::Forbidden { who: who.into() })
    }
}

#[audited(action = "debug_only")]
fn debug_only() -> Result<(), OpaqueError> {
    Err(OpaqueError)
}

#[audited(action = "panics")]
fn panics(message: &str) -> u8 {
    panic!("{message}");
}

#[audited(action = "slow")]
async fn slow(gate: tokio::sync::oneshot::Receiver<()>) -> u8 {
    let _ = gate.await;
    1
}

#[audited(action = "async_panics")]
async fn async_panics() {
    tokio::task::yield_now().await;
    panic!("boom");
}

#[test]
fn a_plain_value_is_success() {
    let audit = capture();
    assert_eq!(returns_value(), None);
    audit.assert_exactly(&[Expect::action("value").success()]);
}

#[test]
fn errors_classify_themselves() {
    let audit = capture();
    classified("mallory", false).unwrap_err();
    classified("mallory", true).unwrap_err();
    debug_only().unwrap_err();
    audit.assert_exactly(&[
        Expect::action("classified")
            .failure_kind(FailureKind::Denied)
            .reason("mallory may not do that"),
        Expect::action("classified")
            .failure_kind(FailureKind::Error)
            .reason("storage broken"),
        Expect::action("debug_only")
            .failure_kind(FailureKind::Error)
            .reason("OpaqueError"),
    ]);
}

#[test]
fn a_panic_is_recorded_and_keeps_unwinding() {
    let audit = capture();
    let result = std::panic::catch_unwind(|| panics("kaboom"));
    let payload = result.expect_err("the panic must reach the caller");
    assert_eq!(
        payload.downcast_ref::<String>().map(String::as_str),
        Some("kaboom")
    );
    audit.assert_exactly(&[Expect::action("panics")
        .failure_kind(FailureKind::Panicked)
        .reason("panicked")]);
}

#[test]
fn a_future_dropped_before_completion_is_cancelled() {
    let audit = capture();
    let (_keep_gate_shut, gate) = tokio::sync::oneshot::channel();
    {
        let mut future = pin!(slow(gate));
        let mut cx = Context::from_waker(Waker::noop());
        assert!(future.as_mut().poll(&mut cx).is_pending());
    }
    audit.assert_exactly(&[Expect::action("slow").failure_kind(FailureKind::Cancelled)]);
}

#[test]
fn a_future_never_polled_makes_no_record() {
    let audit = capture();
    let (_tx, gate) = tokio::sync::oneshot::channel();
    drop(slow(gate));
    assert!(
        audit.records().is_empty(),
        "a call that never started is not an action"
    );
}

#[tokio::test]
async fn a_timed_out_call_is_cancelled() {
    let audit = capture();
    let (_keep_gate_shut, gate) = tokio::sync::oneshot::channel();
    let timed_out = tokio::time::timeout(std::time::Duration::from_millis(1), slow(gate)).await;
    assert!(timed_out.is_err());
    audit.assert_one(&Expect::action("slow").failure_kind(FailureKind::Cancelled));
}

#[tokio::test]
async fn a_panicking_task_is_recorded_as_panicked() {
    let audit = capture();
    let joined = tokio::spawn(async_panics()).await;
    assert!(joined.unwrap_err().is_panic());
    audit.assert_one(&Expect::action("async_panics").failure_kind(FailureKind::Panicked));
}

#[test]
fn many_calls_make_exactly_as_many_records() {
    let audit = capture();
    for _ in 0..100 {
        let _ = returns_value();
        let _ = classified("x", false);
    }
    let records = audit.records();
    assert_eq!(records.iter().filter(|r| r.action == "value").count(), 100);
    assert_eq!(
        records.iter().filter(|r| r.action == "classified").count(),
        100
    );
    audit.assert_chain_verifies();
}
