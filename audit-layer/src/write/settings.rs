//! The writer's settings and what it reports: durability, failure policy,
//! errors, the shutdown report and the counters.

use std::time::Duration;

use crate::record::AuditEvent;
use crate::write::ack::WriteError;

/// When written records reach stable storage.
///
/// Whatever the mode, a record submitted with
/// [`AuditHandle::submit_acked`](crate::AuditHandle::submit_acked) (as every call is in strict mode) is
/// acknowledged only once it is synced, and [`flush`](crate::AuditHandle::flush)
/// and shutdown sync everything before them.
///
/// What can be lost, at most, by how the process ends ("queued" is what sits
/// in the queue, at most [`queue_capacity`](crate::WriterBuilder::queue_capacity)
/// records, plus the one batch being written):
///
/// | the process... | `GroupCommit` (default) | `Interval(d)` | `Buffered` |
/// |---|---|---|---|
/// | returns from `main` with the guard dropped, or calls [`shutdown`](crate::AuditHandle::shutdown) first | nothing | nothing | nothing |
/// | calls `std::process::exit` without shutdown, or aborts | queued | queued | queued |
/// | is killed (SIGKILL, OOM) | queued; nothing acknowledged | queued; nothing acknowledged | queued; nothing acknowledged |
/// | loses power | queued; nothing acknowledged | queued, plus what was written in the last `d` | queued, plus whatever the OS had not written back (on Linux, up to `dirty_expire_centisecs`, 30 s by default) |
///
/// A killed process loses nothing already written, in any mode: the bytes are
/// in the OS page cache. A cut-short last line is repaired on the next start.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Durability {
    /// fsync after every batch, before acknowledging it. Many records share
    /// one fsync: the batch is everything queued while the last one ran.
    /// A batch that strict callers are coming back to may be held a
    /// moment so that they share its fsync; see
    /// [`WriterBuilder::max_commit_hold`](crate::WriterBuilder::max_commit_hold).
    #[default]
    GroupCommit,
    /// fsync at most once per interval.
    Interval(Duration),
    /// Leave write-back to the OS.
    Buffered,
}

/// What the writer does when the sink fails (disk full, EIO, permission denied).
///
/// # Examples
///
/// ```
/// use audit_layer::{AuditWriter, FailurePolicy};
/// let builder = AuditWriter::builder().failure_policy(FailurePolicy::FailRecords);
/// # let _ = builder;
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum FailurePolicy {
    /// Keep the records and retry, backing off up to one second between
    /// attempts, until the sink recovers. The queue absorbs the outage until
    /// it is full; then audited calls block. Nothing is lost; when the sink
    /// recovers, an `audit.outage` record notes when it began and ended.
    ///
    /// The default: an audit trail that silently misses actions is worse
    /// than a service that slows down while its disk is full.
    #[default]
    BlockAndRetry,
    /// Give up on the failing batch: its records are counted as failed,
    /// callers waiting on an [`Ack`](crate::Ack) get the error, and an `audit.outage`
    /// record with the number lost is written when the sink recovers.
    ///
    /// How an audited call learns of it: in strict mode the call fails, with
    /// `Err(E::from(`[`AuditUnrecorded`](crate::AuditUnrecorded)`))` when it
    /// returns `Result<T, E>` and `E: From<AuditUnrecorded>`, and with a
    /// panic otherwise. Without strict mode the call returns as usual and the
    /// loss is only counted and noted.
    FailRecords,
    /// Print the error and abort the process, as auditd's `halt` does.
    Abort,
}

/// A record refused because the writer has shut down. The event is handed back.
///
/// # Examples
///
/// ```
/// use audit_layer::{AuditEvent, AuditWriter, MemorySink};
/// let (sink, _log) = MemorySink::new();
/// let (handle, guard) = AuditWriter::builder().spawn(sink)?;
/// guard.shutdown(std::time::Duration::from_secs(5))?;
/// let refused = handle.submit(AuditEvent::builder("late").build()).unwrap_err();
/// assert_eq!(refused.event.action(), "late");
/// assert_eq!(handle.stats().rejected, 1);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, thiserror::Error)]
#[error("the audit writer has shut down; the record was not accepted")]
pub struct SubmitError {
    /// The event that was not accepted.
    pub event: Box<AuditEvent>,
}

/// What a writer did, as of its shutdown.
///
/// # Examples
///
/// See [`WriterGuard::shutdown`](crate::WriterGuard::shutdown).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ShutdownReport {
    /// Records written over the writer's life, system records included.
    pub written: u64,
    /// Records given up under [`FailurePolicy::FailRecords`].
    pub failed: u64,
    /// The seq the next record would get.
    pub next_seq: u64,
}

/// Why a shutdown did not end cleanly.
///
/// # Examples
///
/// ```
/// let error = audit_layer::ShutdownError::TimedOut { unwritten: 3 };
/// assert!(error.to_string().contains("3 records"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ShutdownError {
    /// The writer could not write everything before the timeout (the sink
    /// was failing); `unwritten` records were abandoned.
    #[error("the audit writer did not finish in time: {unwritten} records were not written")]
    TimedOut {
        /// Records accepted but not written.
        unwritten: u64,
    },
    /// Everything was written but the final sync failed.
    #[error("the final sync of the audit log failed: {0}")]
    Sync(WriteError),
}

/// A snapshot of a writer's counters.
///
/// # Examples
///
/// ```
/// use audit_layer::{AuditEvent, AuditWriter, MemorySink};
/// let (sink, _log) = MemorySink::new();
/// let (handle, _guard) = AuditWriter::builder().spawn(sink)?;
/// handle.submit(AuditEvent::builder("a").build())?;
/// handle.flush()?;
/// let stats = handle.stats();
/// assert_eq!((stats.submitted, stats.written, stats.failed), (1, 1, 0));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct WriterStats {
    /// Events accepted into the queue.
    pub submitted: u64,
    /// Records appended to the sink, system records included.
    pub written: u64,
    /// Records given up under [`FailurePolicy::FailRecords`].
    pub failed: u64,
    /// Events refused because the writer had shut down.
    pub rejected: u64,
    /// Failed sink operations (appends, syncs, recoveries), retries included.
    pub write_errors: u64,
    /// Events waiting in the queue.
    pub queue_depth: usize,
    /// The seq the next record gets.
    pub next_seq: u64,
    /// Whether the sink is failing right now.
    pub failing: bool,
    /// The text of the most recent sink error.
    pub last_error: Option<String>,
    /// Audited calls recorded with no actor: neither the call nor an
    /// enclosing span named one. The record says `"actor": null`.
    pub missing_actor: u64,
    /// Audited calls that an installed audit layer never saw, because a
    /// subscriber-wide filter or a `max_level_*` feature disabled their span.
    pub unaudited_calls: u64,
    /// Checkpoints signed and published.
    pub checkpoints: u64,
    /// Forward-secure seals written (one per epoch).
    pub seals: u64,
    /// Epochs whose seal could not be written, or whose evolved key could
    /// not replace the key file.
    pub seal_errors: u64,
    /// Checkpoints or anchors that could not be published, and retention
    /// runs that failed.
    pub checkpoint_errors: u64,
}
