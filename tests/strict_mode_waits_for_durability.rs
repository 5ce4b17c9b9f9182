//! In strict mode an audited call returns only once its record is synced:
//! sync calls block, async calls await without blocking their thread, and
//! concurrent calls share one fsync. When the record cannot be written under
//! a policy that gives records up, the call fails, and says so.

mod common;

use std::io::ErrorKind;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Barrier};
use std::time::Duration;

use audit_layer::{AuditLayer, AuditUnrecorded, AuditWriter, FailurePolicy, audited};
use common::{FlakySink, GatedSink};
use tracing_subscriber::prelude::*;

#[derive(Debug)]
enum ApiError {
    Unrecorded(AuditUnrecorded),
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let ApiError::Unrecorded(inner) = self;
        inner.fmt(f)
    }
}

impl From<AuditUnrecorded> for ApiError {
    fn from(error: AuditUnrecorded) -> Self {
        ApiError::Unrecorded(error)
    }
}

#[audited(action = "transfer", actor = "alice", resource = n)]
fn transfer(n: u64) -> Result<u64, ApiError> {
    Ok(n)
}

#[audited(action = "transfer.async", actor = "alice", resource = n)]
async fn transfer_async(n: u64) -> Result<u64, ApiError> {
    Ok(n)
}

#[audited(action = "plain", actor = "alice")]
fn plain() -> u8 {
    7
}

fn strict_subscriber(handle: audit_layer::AuditHandle) -> impl tracing::Subscriber + Send + Sync {
    tracing_subscriber::registry().with(AuditLayer::new(handle).strict(true))
}

#[test]
fn a_strict_call_returns_only_once_its_record_is_synced() {
    let (sink, _log) = GatedSink::closed();
    let (handle, guard) = AuditWriter::builder().spawn(sink.clone()).unwrap();
    let subscriber = Arc::new(strict_subscriber(handle));
    let caller = {
        let (subscriber, sink) = (Arc::clone(&subscriber), sink.clone());
        std::thread::spawn(move || {
            tracing::subscriber::with_default(subscriber, || {
                transfer(1).unwrap();
                sink.synced()
            })
        })
    };
    sink.wait_for_blocked_sync();
    assert!(
        !caller.is_finished(),
        "the call returned while its record's sync was still blocked"
    );
    sink.open();
    let synced_when_it_returned = caller.join().unwrap();
    assert_eq!(synced_when_it_returned, 1);
    guard.shutdown(Duration::from_secs(5)).unwrap();
}

#[test]
fn async_strict_calls_wait_without_blocking_their_thread() {
    let (sink, log) = GatedSink::closed();
    let (handle, guard) = AuditWriter::builder().spawn(sink.clone()).unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let _default = tracing::subscriber::set_default(strict_subscriber(handle));
    runtime.block_on(async {
        // One thread only: if the call blocked it while waiting for its
        // sync, the task that opens the gate could never run.
        let call = tokio::spawn(transfer_async(2));
        let opener = tokio::task::spawn_blocking({
            let sink = sink.clone();
            move || {
                sink.wait_for_blocked_sync();
                sink
            }
        });
        let sink = tokio::time::timeout(Duration::from_secs(10), opener)
            .await
            .unwrap()
            .unwrap();
        tokio::task::yield_now().await;
        assert!(!call.is_finished());
        sink.open();
        let value = tokio::time::timeout(Duration::from_secs(10), call)
            .await
            .expect("no deadlock")
            .unwrap();
        assert_eq!(value.unwrap(), 2);
        assert_eq!(sink.synced(), 1);
    });
    guard.shutdown(Duration::from_secs(5)).unwrap();
    assert_eq!(log.records().unwrap().len(), 1);
}

#[test]
fn concurrent_strict_calls_share_one_fsync() {
    const CALLERS: u64 = 64;
    let (sink, log) = GatedSink::closed();
    let (handle, guard) = AuditWriter::builder().spawn(sink.clone()).unwrap();
    let subscriber = Arc::new(strict_subscriber(handle.clone()));
    let start = Arc::new(Barrier::new(CALLERS as usize));
    let returned = Arc::new(AtomicU64::new(0));
    let callers: Vec<_> = (0..CALLERS)
        .map(|n| {
            let (subscriber, start, returned) = (
                Arc::clone(&subscriber),
                Arc::clone(&start),
                Arc::clone(&returned),
            );
            std::thread::spawn(move || {
                tracing::subscriber::with_default(subscriber, || {
                    start.wait();
                    transfer(n).unwrap();
                    returned.fetch_add(1, Ordering::SeqCst);
                })
            })
        })
        .collect();
    // Hold the first sync until every call has handed over its record and
    // the writer has taken it off the queue.
    sink.wait_for_blocked_sync();
    while handle.stats().submitted < CALLERS || handle.stats().queue_depth > 0 {
        std::thread::yield_now();
    }
    assert_eq!(
        returned.load(Ordering::SeqCst),
        0,
        "no strict call may return before a sync"
    );
    sink.open();
    for caller in callers {
        caller.join().unwrap();
    }
    // The first record's sync, then one more for all the calls that arrived
    // while it was held: group commit puts them in one batch.
    let syncs = sink.syncs();
    assert_eq!(syncs, 2, "{CALLERS} strict calls took {syncs} syncs");
    guard.shutdown(Duration::from_secs(5)).unwrap();
    assert_eq!(log.records().unwrap().len() as u64, CALLERS);
}

#[test]
fn a_strict_call_fails_when_its_record_is_given_up() {
    let (sink, log) = FlakySink::new(ErrorKind::StorageFull);
    let (handle, guard) = AuditWriter::builder()
        .failure_policy(FailurePolicy::FailRecords)
        .spawn(sink.clone())
        .unwrap();
    tracing::subscriber::with_default(strict_subscriber(handle.clone()), || {
        sink.fail_appends.store(1, Ordering::SeqCst);
        match transfer(3) {
            Err(ApiError::Unrecorded(AuditUnrecorded(error))) => {
                assert!(error.to_string().contains("injected failure"), "{error}");
            }
            other => panic!("expected the call to fail, got {other:?}"),
        }
        sink.fail_appends.store(1, Ordering::SeqCst);
        let panicked = std::panic::catch_unwind(plain).unwrap_err();
        let message = panicked.downcast_ref::<String>().unwrap();
        assert!(
            message.contains("strict mode could not record this call"),
            "{message}"
        );
        // The sink works again: calls succeed, and the loss is in the chain.
        assert_eq!(transfer(4).unwrap(), 4);
    });
    guard.shutdown(Duration::from_secs(5)).unwrap();
    let records = log.records().unwrap();
    let actions: Vec<_> = records.iter().map(|r| r.action.as_str()).collect();
    assert_eq!(actions, ["audit.outage", "transfer"]);
    assert_eq!(records[0].after.as_ref().unwrap()["records_lost"], 2);
    assert_eq!(handle.stats().failed, 2);
}

#[test]
fn without_strict_mode_a_lost_record_never_fails_the_call() {
    let (sink, _log) = FlakySink::new(ErrorKind::StorageFull);
    let (handle, guard) = AuditWriter::builder()
        .failure_policy(FailurePolicy::FailRecords)
        .spawn(sink.clone())
        .unwrap();
    sink.fail_appends.store(1, Ordering::SeqCst);
    let subscriber = tracing_subscriber::registry().with(AuditLayer::new(handle.clone()));
    tracing::subscriber::with_default(subscriber, || assert_eq!(transfer(5).unwrap(), 5));
    // A flush that shares the failed batch reports its error; either way it
    // returns once the record has been dealt with.
    let _ = handle.flush();
    assert_eq!(handle.stats().failed, 1);
    guard.shutdown(Duration::from_secs(5)).unwrap();
}

#[test]
fn a_strict_call_after_the_writer_stopped_fails() {
    let (sink, _log) = GatedSink::closed();
    sink.open();
    let (handle, guard) = AuditWriter::builder().spawn(sink).unwrap();
    guard.shutdown(Duration::from_secs(5)).unwrap();
    tracing::subscriber::with_default(strict_subscriber(handle), || {
        assert!(matches!(
            transfer(6),
            Err(ApiError::Unrecorded(AuditUnrecorded(
                audit_layer::WriteError::WriterGone
            )))
        ));
    });
}

/// A memory sink whose syncs take 100 ms, as a slow disk's can, and that counts
/// appends and syncs.
#[derive(Clone)]
struct SlowDisk {
    inner: Arc<std::sync::Mutex<audit_layer::MemorySink>>,
    appends: Arc<AtomicU64>,
    syncs: Arc<AtomicU64>,
}

impl audit_layer::sink::Sink for SlowDisk {
    fn recover(&mut self) -> std::io::Result<audit_layer::sink::Recovery> {
        self.inner.lock().unwrap().recover()
    }

    fn append(&mut self, batch: &audit_layer::sink::Batch<'_>) -> std::io::Result<()> {
        self.appends.fetch_add(1, Ordering::SeqCst);
        self.inner.lock().unwrap().append(batch)
    }

    fn sync(&mut self) -> std::io::Result<()> {
        // The latency of the simulated disk, not a way of waiting for anything.
        std::thread::sleep(Duration::from_millis(100));
        self.syncs.fetch_add(1, Ordering::SeqCst);
        self.inner.lock().unwrap().sync()
    }
}

#[test]
fn a_returning_wave_of_strict_callers_shares_one_sync() {
    let (memory, log) = audit_layer::MemorySink::new();
    let disk = SlowDisk {
        inner: Arc::new(std::sync::Mutex::new(memory)),
        appends: Arc::new(AtomicU64::new(0)),
        syncs: Arc::new(AtomicU64::new(0)),
    };
    let (handle, guard) = AuditWriter::builder()
        .max_commit_hold(Duration::from_secs(1))
        .spawn(disk.clone())
        .unwrap();
    let event = |n: u64| {
        audit_layer::AuditEvent::builder("transfer")
            .resource(format!("transfer:{n}"))
            .build()
    };
    let spin_until = |done: &dyn Fn() -> bool| {
        while !done() {
            std::thread::yield_now();
        }
    };

    // A wave of three callers forms behind a lone first one: one sync for
    // the first, one for the three that waited while it ran.
    let first = handle.submit_acked(event(0)).unwrap();
    spin_until(&|| disk.appends.load(Ordering::SeqCst) == 1);
    let wave: Vec<_> = (1..4)
        .map(|n| handle.submit_acked(event(n)).unwrap())
        .collect();
    first.wait().unwrap();
    wave.into_iter().for_each(|ack| ack.wait().unwrap());
    assert_eq!(disk.syncs.load(Ordering::SeqCst), 2);

    // They come back spread out, as callers woken one after another do:
    // the first at once, the other two 5 ms later. The first must not take
    // a sync alone while the writer is idle; it waits for the other two,
    // for at most one sync's time (here 100 ms).
    let back = handle.submit_acked(event(4)).unwrap();
    // The spread of the returning callers, part of the scenario (not a wait
    // for the writer to do something).
    std::thread::sleep(Duration::from_millis(5));
    let rest: Vec<_> = (5..7)
        .map(|n| handle.submit_acked(event(n)).unwrap())
        .collect();
    back.wait().unwrap();
    rest.into_iter().for_each(|ack| ack.wait().unwrap());
    assert_eq!(
        disk.syncs.load(Ordering::SeqCst),
        3,
        "the returning wave was split across syncs"
    );
    guard.shutdown(Duration::from_secs(5)).unwrap();
    assert_eq!(log.records().unwrap().len(), 7);
}
