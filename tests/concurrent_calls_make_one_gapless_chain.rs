//! Many threads and many async tasks making audited calls at once produce
//! exactly one record each, with gapless seqs and a chain that verifies.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use audit_layer::{AuditLayer, AuditWriter, FileSink, LogReader, Verifier, audited};
use tracing_subscriber::prelude::*;

#[audited(action = "thread.call", actor = "threads", resource = id)]
fn from_a_thread(id: String) {}

#[audited(action = "task.call", actor = "tasks", resource = id)]
async fn from_a_task(id: String) {
    tokio::task::yield_now().await;
}

const THREADS: usize = 8;
const CALLS_PER_THREAD: usize = 500;
const TASKS: usize = 2000;

#[test]
fn threads_and_tasks_at_once_make_one_gapless_chain() {
    let dir = tempfile::tempdir().unwrap();
    let sink = FileSink::builder(dir.path())
        .max_segment_bytes(128 * 1024)
        .open()
        .unwrap();
    let (handle, guard) = AuditWriter::builder()
        .queue_capacity(64)
        .spawn(sink)
        .unwrap();
    let dispatch = tracing::Dispatch::new(
        tracing_subscriber::registry().with(AuditLayer::new(handle.clone())),
    );
    let runtime = Arc::new(
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .build()
            .unwrap(),
    );

    std::thread::scope(|scope| {
        for thread in 0..THREADS {
            let dispatch = dispatch.clone();
            scope.spawn(move || {
                tracing::dispatcher::with_default(&dispatch, || {
                    for n in 0..CALLS_PER_THREAD {
                        from_a_thread(format!("t{thread}-{n}"));
                    }
                })
            });
        }
        let dispatch = dispatch.clone();
        let runtime = Arc::clone(&runtime);
        scope.spawn(move || {
            runtime.block_on(async {
                let tasks: Vec<_> = (0..TASKS)
                    .map(|n| {
                        let call = tracing::instrument::WithSubscriber::with_subscriber(
                            from_a_task(format!("k{n}")),
                            dispatch.clone(),
                        );
                        tokio::spawn(call)
                    })
                    .collect();
                for task in tasks {
                    task.await.unwrap();
                }
            })
        });
    });
    guard.shutdown(Duration::from_secs(30)).unwrap();

    let records: Vec<_> = LogReader::open(dir.path())
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let expected = THREADS * CALLS_PER_THREAD + TASKS;
    assert_eq!(records.len(), expected);
    assert!(
        records.iter().enumerate().all(|(i, r)| r.seq == i as u64),
        "seqs have a gap"
    );
    let distinct: BTreeSet<&str> = records
        .iter()
        .filter_map(|r| r.resource.as_deref())
        .collect();
    assert_eq!(
        distinct.len(),
        expected,
        "a call was recorded twice or not at all"
    );
    let report = Verifier::new().verify_path(dir.path()).unwrap();
    assert!(report.is_intact(), "{:#?}", report.findings);
    assert!(report.segments > 1);
    assert_eq!(handle.stats().written as usize, expected);
}
