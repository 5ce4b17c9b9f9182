//! Verifying a log that a writer is appending to never reports a problem:
//! lengths are snapshotted first, and a record being written is in flight,
//! not a torn tail.

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use audit_layer::{AuditWriter, Durability, FileSink, Verifier};

use common::varied_events;

/// 64 × 400 records of ~400 bytes: ~10 MB, several segments.
const BATCHES: usize = 400;

#[test]
fn a_live_log_always_verifies() {
    let dir = tempfile::tempdir().unwrap();
    let sink = FileSink::builder(dir.path())
        .max_segment_bytes(256 * 1024)
        .open()
        .unwrap();
    let (handle, guard) = AuditWriter::builder()
        .durability(Durability::Buffered)
        .max_batch_records(64)
        .spawn(sink)
        .unwrap();
    handle
        .submit_acked(varied_events(1).remove(0))
        .unwrap()
        .wait()
        .unwrap();
    let done = AtomicBool::new(false);
    let mut rounds = 0;
    std::thread::scope(|scope| {
        scope.spawn(|| {
            for _ in 0..BATCHES {
                for event in varied_events(64) {
                    handle.submit(event).unwrap();
                }
            }
            done.store(true, Ordering::Release);
        });
        let mut last_count = 0;
        // At least a few rounds, and as many as fit while the writer is busy.
        while rounds < 3 || !done.load(Ordering::Acquire) {
            let report = Verifier::new().verify_path(dir.path()).unwrap();
            assert!(report.is_intact(), "round {rounds}: {:#?}", report.findings);
            assert!(report.records >= last_count, "the log shrank");
            last_count = report.records;
            rounds += 1;
        }
    });
    guard.shutdown(Duration::from_secs(30)).unwrap();
    let report = Verifier::new().verify_path(dir.path()).unwrap();
    assert!(report.is_intact(), "{:#?}", report.findings);
    assert!(!report.live);
    assert_eq!(report.records, 1 + 64 * BATCHES as u64);
    assert!(
        report.segments > 1,
        "the test should cross segment rotations"
    );
    assert!(rounds >= 3);
}
