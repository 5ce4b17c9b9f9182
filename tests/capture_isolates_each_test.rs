//! The test helpers capture exactly one test's records: on its thread, in
//! its current-thread runtime, and in the spawned tasks of its multi-thread
//! runtime; tests running at the same time never see each other's records.

use std::sync::{Arc, Barrier};

use audit_layer::audited;
use audit_layer::testing::{Expect, capture};

#[audited(action = "work", actor = who, resource = n)]
fn work(who: &str, n: u32) {}

#[audited(action = "task", actor = who, resource = n)]
async fn task(who: String, n: u32) {
    tokio::task::yield_now().await;
}

#[test]
fn concurrent_captures_on_two_threads_see_only_their_own_records() {
    let both_capturing = Arc::new(Barrier::new(2));
    let threads: Vec<_> = ["left", "right"]
        .into_iter()
        .map(|who| {
            let both_capturing = Arc::clone(&both_capturing);
            std::thread::spawn(move || {
                let audit = capture();
                both_capturing.wait();
                for n in 0..200 {
                    work(who, n);
                }
                both_capturing.wait();
                let records = audit.records();
                assert_eq!(records.len(), 200, "{who}");
                assert!(
                    records.iter().all(|r| r.actor.as_deref() == Some(who)),
                    "{who} saw another thread's records"
                );
            })
        })
        .collect();
    for thread in threads {
        thread.join().unwrap();
    }
}

#[tokio::test]
async fn current_thread_runtime_tasks_are_captured() {
    let audit = capture();
    tokio::spawn(task("spawned".into(), 1)).await.unwrap();
    task("inline".into(), 2).await;
    audit.assert_one(&Expect::action("task").actor("spawned"));
    audit.assert_one(&Expect::action("task").actor("inline"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn multi_thread_runtime_spawned_tasks_are_captured() {
    let audit = capture();
    let handles: Vec<_> = (0..50)
        .map(|n| tokio::spawn(task("worker".into(), n)))
        .collect();
    for handle in handles {
        handle.await.unwrap();
    }
    let records = audit.records();
    assert_eq!(records.len(), 50);
    let mut seen: Vec<String> = records
        .iter()
        .map(|r| r.resource.clone().unwrap())
        .collect();
    seen.sort_by_key(|n| n.parse::<u32>().unwrap());
    assert_eq!(seen, (0..50).map(|n| n.to_string()).collect::<Vec<_>>());
    audit.assert_chain_verifies();
}

#[test]
fn concurrent_multi_thread_runtimes_are_isolated() {
    let both_capturing = Arc::new(Barrier::new(2));
    let threads: Vec<_> = ["north", "south"]
        .into_iter()
        .map(|who| {
            let both_capturing = Arc::clone(&both_capturing);
            std::thread::spawn(move || {
                let runtime = tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(2)
                    .build()
                    .unwrap();
                runtime.block_on(async {
                    let audit = capture();
                    both_capturing.wait();
                    let handles: Vec<_> = (0..100)
                        .map(|n| tokio::spawn(task(who.to_owned(), n)))
                        .collect();
                    for handle in handles {
                        handle.await.unwrap();
                    }
                    let records = audit.records();
                    assert_eq!(records.len(), 100, "{who}");
                    assert!(records.iter().all(|r| r.actor.as_deref() == Some(who)));
                });
            })
        })
        .collect();
    for thread in threads {
        thread.join().unwrap();
    }
}

#[test]
fn a_failed_assertion_lists_what_was_recorded() {
    let audit = capture();
    work("alice", 7);
    let failure = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        audit.assert_one(&Expect::action("work").actor("bob"));
    }))
    .unwrap_err();
    let message = failure.downcast_ref::<String>().unwrap();
    assert!(
        message
            .contains("expected exactly one audit record matching action=work actor=bob, found 0"),
        "{message}"
    );
    assert!(
        message.contains("seq 0  work  actor=alice  resource=7  outcome=success"),
        "{message}"
    );
}
