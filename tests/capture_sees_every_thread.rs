//! `testing::capture()` sees the records of the work a test sends to other
//! threads (`spawn_blocking`, a `std::thread`, a runtime built after the
//! capture), so `assert_none` cannot pass because the capture looked away.

use audit_layer::audited;
use audit_layer::testing::{Expect, capture};

#[audited(action = "thread.forbidden", actor = who)]
fn forbidden(who: &str) {}

#[audited(action = "thread.task", actor = who)]
async fn task(who: String) {
    tokio::task::yield_now().await;
}

#[test]
fn a_std_thread_is_captured() {
    let audit = capture();
    std::thread::spawn(|| forbidden("std-thread"))
        .join()
        .unwrap();
    audit.assert_one(&Expect::action("thread.forbidden").actor("std-thread"));
}

#[test]
fn assert_none_fails_when_a_std_thread_did_the_forbidden_thing() {
    let audit = capture();
    std::thread::spawn(|| forbidden("sneaky")).join().unwrap();
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        audit.assert_none(&Expect::action("thread.forbidden").actor("sneaky"));
    }));
    assert!(
        outcome.is_err(),
        "assert_none passed although the call happened"
    );
}

#[tokio::test]
async fn spawn_blocking_is_captured() {
    let audit = capture();
    tokio::task::spawn_blocking(|| forbidden("blocking"))
        .await
        .unwrap();
    audit.assert_one(&Expect::action("thread.forbidden").actor("blocking"));
}

#[test]
fn a_runtime_built_after_the_capture_is_captured() {
    let audit = capture();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .unwrap();
    runtime.block_on(async {
        let handles: Vec<_> = (0..4)
            .map(|n| tokio::spawn(task(format!("late-runtime-{n}"))))
            .collect();
        for handle in handles {
            handle.await.unwrap();
        }
    });
    for n in 0..4 {
        audit.assert_one(&Expect::action("thread.task").actor(format!("late-runtime-{n}")));
    }
}

/// Another test running without a capture (on its own thread, named after
/// it by the test harness) stays invisible to this test's capture.
#[test]
fn a_test_thread_without_a_capture_is_not_seen_by_other_tests() {
    let audit = capture();
    std::thread::Builder::new()
        .name("some_other_test_without_a_capture".into())
        .spawn(|| forbidden("other-test"))
        .unwrap()
        .join()
        .unwrap();
    audit.assert_none(&Expect::action("thread.forbidden").actor("other-test"));
}
