//! The writer never drops a record: a full queue blocks, flush and shutdown
//! work through any handle (as with a global subscriber), refusals hand the
//! event back and are counted, and sink failures follow the chosen policy and
//! are recorded in the chain once the sink recovers.

mod common;

use std::io::ErrorKind;
use std::sync::atomic::Ordering;
use std::time::Duration;

use audit_layer::{
    AuditEvent, AuditWriter, Durability, FailurePolicy, MemorySink, RecordKind, ShutdownError,
    WriteError,
};

use common::FlakySink;

const WAIT: Duration = Duration::from_secs(10);

#[test]
fn many_threads_through_a_tiny_queue_lose_nothing() {
    let (sink, log) = MemorySink::new();
    let (handle, guard) = AuditWriter::builder()
        .queue_capacity(4)
        .max_batch_records(3)
        .spawn(sink)
        .unwrap();
    std::thread::scope(|scope| {
        for thread in 0..8 {
            let handle = handle.clone();
            scope.spawn(move || {
                for n in 0..500 {
                    handle
                        .submit(
                            AuditEvent::builder("load")
                                .actor(format!("t{thread}"))
                                .resource(n.to_string())
                                .build(),
                        )
                        .unwrap();
                }
            });
        }
    });
    let report = guard.shutdown(WAIT).unwrap();
    assert_eq!(report.written, 4000);
    let records = log.records().unwrap();
    assert_eq!(records.len(), 4000);
    assert!(records.iter().enumerate().all(|(i, r)| r.seq == i as u64));
    assert!(log.verify().is_intact());
    for thread in 0..8 {
        let mine: Vec<u64> = records
            .iter()
            .filter(|r| r.actor.as_deref() == Some(&format!("t{thread}")))
            .map(|r| r.resource.as_ref().unwrap().parse().unwrap())
            .collect();
        assert_eq!(
            mine,
            (0..500).collect::<Vec<_>>(),
            "thread {thread}'s records out of order"
        );
    }
    let stats = handle.stats();
    assert_eq!(
        (stats.submitted, stats.written, stats.failed, stats.rejected),
        (4000, 4000, 0, 0)
    );
}

#[test]
fn flush_and_shutdown_work_without_the_guard() {
    let (sink, log) = MemorySink::new();
    let (handle, guard) = AuditWriter::builder()
        .durability(Durability::Buffered)
        .spawn(sink)
        .unwrap();
    // A global subscriber never drops its layer, so the guard may be out of reach.
    std::mem::forget(guard);
    handle.submit(AuditEvent::builder("one").build()).unwrap();
    handle.flush().unwrap();
    assert_eq!(log.records().unwrap().len(), 1);
    handle.submit(AuditEvent::builder("two").build()).unwrap();
    let report = handle.shutdown(WAIT).unwrap();
    assert_eq!((report.written, report.next_seq), (2, 2));
    assert_eq!(log.records().unwrap().len(), 2);
    // Shutting down twice gives the same answer.
    assert_eq!(handle.shutdown(WAIT).unwrap(), report);
}

#[test]
fn after_shutdown_events_are_refused_handed_back_and_counted() {
    let (sink, _log) = MemorySink::new();
    let (handle, guard) = AuditWriter::builder().spawn(sink).unwrap();
    guard.shutdown(WAIT).unwrap();
    let refused = handle
        .submit(AuditEvent::builder("late").actor("bob").build())
        .unwrap_err();
    assert_eq!(refused.event.actor(), Some("bob"));
    assert!(
        handle
            .submit_acked(AuditEvent::builder("late").build())
            .is_err()
    );
    assert_eq!(handle.flush(), Err(WriteError::WriterGone));
    assert_eq!(handle.stats().rejected, 2);
}

#[test]
fn acknowledgements_resolve_once_written_and_can_be_awaited() {
    let (sink, log) = MemorySink::new();
    let (handle, _guard) = AuditWriter::builder().spawn(sink).unwrap();
    let ack = handle
        .submit_acked(AuditEvent::builder("sync").build())
        .unwrap();
    ack.wait().unwrap();
    assert_eq!(log.records().unwrap().len(), 1);
    let ack = handle
        .submit_acked(AuditEvent::builder("async").build())
        .unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    runtime.block_on(ack).unwrap();
    assert_eq!(log.records().unwrap().len(), 2);
}

#[test]
fn block_and_retry_delays_but_loses_nothing_and_notes_the_outage() {
    let (sink, log) = FlakySink::new(ErrorKind::StorageFull);
    sink.fail_appends.store(3, Ordering::SeqCst);
    let (handle, guard) = AuditWriter::builder().spawn(sink.clone()).unwrap();
    let ack = handle
        .submit_acked(AuditEvent::builder("during.outage").build())
        .unwrap();
    ack.wait().expect("retried until the sink recovered");
    let report = guard.shutdown(WAIT).unwrap();
    assert_eq!(report.failed, 0);
    let records = log.records().unwrap();
    let actions: Vec<_> = records.iter().map(|r| r.action.as_str()).collect();
    assert_eq!(actions, ["audit.outage", "during.outage"]);
    let note = &records[0];
    assert_eq!(note.kind, RecordKind::System);
    assert!(note.outcome.is_success());
    let details = note.after.as_ref().unwrap();
    assert_eq!(details["failed_attempts"], 3);
    assert_eq!(details["records_lost"], 0);
    assert_eq!(details["records_delayed"], 1);
    assert!(
        details["last_error"]
            .as_str()
            .unwrap()
            .contains("injected failure")
    );
    assert!(details["since"].as_str().unwrap() <= details["until"].as_str().unwrap());
    assert!(log.verify().is_intact());
    assert_eq!(handle.stats().write_errors, 3);
}

#[test]
fn fail_records_reports_the_loss_to_the_caller_and_in_the_chain() {
    let (sink, log) = FlakySink::new(ErrorKind::PermissionDenied);
    sink.fail_appends.store(1, Ordering::SeqCst);
    let (handle, guard) = AuditWriter::builder()
        .failure_policy(FailurePolicy::FailRecords)
        .spawn(sink)
        .unwrap();
    let lost = handle
        .submit_acked(AuditEvent::builder("lost").build())
        .unwrap();
    match lost.wait() {
        Err(WriteError::Sink { kind, .. }) => assert_eq!(kind, ErrorKind::PermissionDenied),
        other => panic!("expected the sink error, got {other:?}"),
    }
    handle
        .submit_acked(AuditEvent::builder("kept").build())
        .unwrap()
        .wait()
        .unwrap();
    let stats = handle.stats();
    assert_eq!((stats.failed, stats.failing), (1, false));
    assert!(stats.last_error.unwrap().contains("injected failure"));
    guard.shutdown(WAIT).unwrap();
    let records = log.records().unwrap();
    let actions: Vec<_> = records.iter().map(|r| r.action.as_str()).collect();
    assert_eq!(actions, ["audit.outage", "kept"]);
    assert_eq!(records[0].outcome.status(), "failure");
    assert_eq!(records[0].after.as_ref().unwrap()["records_lost"], 1);
    assert!(log.verify().is_intact());
}

#[test]
fn a_shutdown_that_cannot_finish_says_how_much_it_abandons() {
    let (sink, log) = FlakySink::new(ErrorKind::Other);
    sink.fail_appends.store(u64::MAX, Ordering::SeqCst);
    let (handle, guard) = AuditWriter::builder().spawn(sink).unwrap();
    for _ in 0..3 {
        handle.submit(AuditEvent::builder("stuck").build()).unwrap();
    }
    let error = guard.shutdown(Duration::from_millis(300)).unwrap_err();
    assert_eq!(error, ShutdownError::TimedOut { unwritten: 3 });
    assert!(log.bytes().is_empty());
}
