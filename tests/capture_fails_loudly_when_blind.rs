//! When a test process set its own global subscriber (without an audit
//! layer) before its first capture, an audited call on another thread is
//! seen by no capture: every assertion of the capture then fails, naming
//! the cause, rather than passing blind.

use audit_layer::audited;
use audit_layer::testing::{Expect, capture};

#[audited(action = "blind.forbidden")]
fn forbidden() {}

#[test]
fn assertions_fail_loudly_when_a_call_was_made_out_of_sight() {
    tracing::subscriber::set_global_default(tracing_subscriber::registry())
        .expect("this test process sets its global subscriber first");
    let audit = capture();
    std::thread::spawn(forbidden).join().unwrap();
    let failure = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        audit.assert_none(&Expect::action("blind.forbidden"));
    }))
    .expect_err("assert_none must not pass blind");
    let message = failure.downcast_ref::<String>().unwrap();
    assert!(
        message.contains("1 audited call(s) ran on a thread without an audit layer"),
        "{message}"
    );
}
