//! The lossless writer: a bounded queue in front of a thread that gives each
//! record its seq, links and seals it, and writes batches to a [`Sink`].

use std::io;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvTimeoutError, Select, Sender};
use serde_json::json;

use crate::proof::checkpoint::{Checkpoint, Checkpoints, RetentionPolicy};
use crate::proof::forward_seal::ForwardSeals;
use crate::record::anchor::Anchor;
use crate::record::chain::ChainHead;
use crate::record::changes::Change;
use crate::record::encode::push_body;
use crate::record::encode::{encode_body, seal_line};
use crate::record::time::Timestamp;
use crate::record::{AuditEvent, RecordDefaults, duration_nanos};
use crate::store::sink::{Batch, BatchRecord, Recovery, Repair, Sink};
use crate::write::ack::{self, Ack, AckSender, WriteError};
use crate::write::privacy::Privacy;
use crate::{FailureKind, Outcome};

/// When written records reach stable storage.
///
/// Whatever the mode, a record submitted with
/// [`AuditHandle::submit_acked`] (as every call is in strict mode) is
/// acknowledged only once it is synced, and [`flush`](AuditHandle::flush)
/// and shutdown sync everything before them.
///
/// What can be lost, at most, by how the process ends ("queued" is what sits
/// in the queue, at most [`queue_capacity`](WriterBuilder::queue_capacity)
/// records, plus the one batch being written):
///
/// | the process... | `GroupCommit` (default) | `Interval(d)` | `Buffered` |
/// |---|---|---|---|
/// | returns from `main` with the guard dropped, or calls [`shutdown`](AuditHandle::shutdown) first | nothing | nothing | nothing |
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
    /// [`WriterBuilder::max_commit_hold`].
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
    /// callers waiting on an [`Ack`] get the error, and an `audit.outage`
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
/// See [`WriterGuard::shutdown`].
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

/// Entry point: `AuditWriter::builder()...spawn(sink)`.
///
/// # Examples
///
/// ```
/// use audit_layer::{AuditEvent, AuditWriter, Durability, FileSink};
///
/// let dir = tempfile::tempdir()?;
/// let (handle, guard) = AuditWriter::builder()
///     .durability(Durability::GroupCommit)
///     .service("blog-api")
///     .spawn(FileSink::open(dir.path())?)?;
/// handle.submit(AuditEvent::builder("session.login").actor("alice").build())?;
/// let report = guard.shutdown(std::time::Duration::from_secs(5))?;
/// assert_eq!(report.written, 1);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct AuditWriter {
    _private: (),
}

impl AuditWriter {
    /// A builder with default settings.
    ///
    /// # Examples
    ///
    /// See [`AuditWriter`].
    pub fn builder() -> WriterBuilder {
        WriterBuilder::default()
    }
}

/// Configures and starts a writer; see [`AuditWriter::builder`].
///
/// # Examples
///
/// ```
/// use audit_layer::{AuditWriter, FailurePolicy, MemorySink};
/// let (sink, _log) = MemorySink::new();
/// let (_handle, _guard) = AuditWriter::builder()
///     .queue_capacity(1024)
///     .failure_policy(FailurePolicy::BlockAndRetry)
///     .spawn(sink)?;
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug)]
#[must_use = "call .spawn(sink) to start the writer"]
pub struct WriterBuilder {
    queue_capacity: usize,
    max_batch_records: usize,
    max_commit_hold: Duration,
    durability: Durability,
    failure_policy: FailurePolicy,
    drop_timeout: Duration,
    defaults: RecordDefaults,
    checkpoints: Option<Checkpoints>,
    retention: Option<RetentionPolicy>,
    forward_seals: Option<ForwardSeals>,
    privacy: Option<Privacy>,
}

impl Default for WriterBuilder {
    fn default() -> Self {
        WriterBuilder {
            queue_capacity: 8192,
            max_batch_records: 4096,
            max_commit_hold: DEFAULT_MAX_COMMIT_HOLD,
            durability: Durability::default(),
            failure_policy: FailurePolicy::default(),
            drop_timeout: Duration::from_secs(10),
            defaults: RecordDefaults {
                service: None,
                host: gethostname::gethostname().into_string().ok(),
            },
            checkpoints: None,
            retention: None,
            forward_seals: None,
            privacy: None,
        }
    }
}

impl WriterBuilder {
    /// How many events may wait for the writer (8192 by default). A full
    /// queue blocks submitters: it never drops.
    ///
    /// # Examples
    ///
    /// See [`WriterBuilder`].
    pub fn queue_capacity(mut self, events: usize) -> Self {
        self.queue_capacity = events.max(1);
        self
    }

    /// The most records one batch (one write, one fsync) carries (4096 by default).
    ///
    /// # Examples
    ///
    /// ```
    /// let builder = audit_layer::AuditWriter::builder().max_batch_records(1);
    /// # let _ = builder;
    /// ```
    pub fn max_batch_records(mut self, records: usize) -> Self {
        self.max_batch_records = records.max(1);
        self
    }

    /// The longest a batch is held for strict callers on their way back
    /// (1 ms by default; `Duration::ZERO` never holds).
    ///
    /// Strict callers come back in waves: each sends its next record once
    /// its last one is acknowledged. When the last batch had several callers
    /// waiting on it and the writer is idle, a batch with fewer waiting is
    /// held until as many wait again, for as long as the last sync took but
    /// never longer than this, so the wave shares one sync instead of being
    /// split across two. A lone strict caller is never held, and records
    /// nobody waits for are never held. PostgreSQL's `commit_delay` and
    /// MySQL's `binlog_group_commit_sync_delay` make the same trade.
    ///
    /// # Examples
    ///
    /// ```
    /// let builder = audit_layer::AuditWriter::builder()
    ///     .max_commit_hold(std::time::Duration::from_micros(500));
    /// # let _ = builder;
    /// ```
    pub fn max_commit_hold(mut self, hold: Duration) -> Self {
        self.max_commit_hold = hold;
        self
    }

    /// When records reach stable storage; see [`Durability`].
    ///
    /// # Examples
    ///
    /// See [`Durability`].
    pub fn durability(mut self, durability: Durability) -> Self {
        self.durability = durability;
        self
    }

    /// What to do when the sink fails; see [`FailurePolicy`].
    ///
    /// # Examples
    ///
    /// See [`FailurePolicy`].
    pub fn failure_policy(mut self, policy: FailurePolicy) -> Self {
        self.failure_policy = policy;
        self
    }

    /// The `service` field of records that do not name one.
    ///
    /// # Examples
    ///
    /// See [`AuditWriter`].
    pub fn service(mut self, service: impl Into<String>) -> Self {
        self.defaults.service = Some(service.into());
        self
    }

    /// The `host` field of records that do not name one (the hostname by default).
    ///
    /// # Examples
    ///
    /// ```
    /// let builder = audit_layer::AuditWriter::builder().host("web-1");
    /// # let _ = builder;
    /// ```
    pub fn host(mut self, host: impl Into<String>) -> Self {
        self.defaults.host = Some(host.into());
        self
    }

    /// How long dropping the [`WriterGuard`] waits for the queue to drain
    /// (10 s by default). [`WriterGuard::shutdown`] takes its own timeout.
    ///
    /// # Examples
    ///
    /// ```
    /// let builder = audit_layer::AuditWriter::builder().drop_timeout(std::time::Duration::from_secs(30));
    /// # let _ = builder;
    /// ```
    pub fn drop_timeout(mut self, timeout: Duration) -> Self {
        self.drop_timeout = timeout;
        self
    }

    /// Signs checkpoints of the log and sends them elsewhere; see [`Checkpoints`].
    ///
    /// # Examples
    ///
    /// See [`Checkpoints`].
    pub fn checkpoints(mut self, checkpoints: Checkpoints) -> Self {
        self.checkpoints = Some(checkpoints);
        self
    }

    /// Deletes old segments by `policy`, each time leaving an anchor signed
    /// with the checkpoint key and an `audit.retention` record. Needs
    /// [`checkpoints`](Self::checkpoints), for the key, and a sink that
    /// stores segments ([`FileSink`](crate::FileSink)).
    ///
    /// # Examples
    ///
    /// ```
    /// use audit_layer::{AuditWriter, CheckpointDir, Checkpoints, FileSink, RetentionPolicy, SignerKey};
    ///
    /// let dir = tempfile::tempdir()?;
    /// let key = SignerKey::generate("example.com/audit/billing")?;
    /// let (_handle, _guard) = AuditWriter::builder()
    ///     .checkpoints(Checkpoints::new(key, CheckpointDir::new(dir.path().join("checkpoints"))))
    ///     .retention(RetentionPolicy::new().max_segments(100))
    ///     .spawn(FileSink::open(dir.path().join("log"))?)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn retention(mut self, policy: RetentionPolicy) -> Self {
        self.retention = Some(policy);
        self
    }

    /// Redacts or pseudonymises named values before records are hashed and
    /// written; see [`Privacy`].
    ///
    /// # Examples
    ///
    /// See [`Privacy`].
    pub fn privacy(mut self, policy: Privacy) -> Self {
        self.privacy = Some(policy);
        self
    }

    /// Seals the chain's head at the end of every epoch with a key that
    /// evolves and is erased behind it, so that a thief of the writer's key
    /// cannot re-seal earlier records; see [`ForwardSeals`].
    ///
    /// # Examples
    ///
    /// See [`ForwardSeals`].
    pub fn forward_seals(mut self, seals: ForwardSeals) -> Self {
        self.forward_seals = Some(seals);
        self
    }

    /// Recovers the sink's chain and starts the writer thread.
    ///
    /// Repairs made during recovery (a torn tail, say) are the first records written.
    ///
    /// # Errors
    ///
    /// The sink's recovery error, the error of spawning the thread, or
    /// [`io::ErrorKind::InvalidInput`] for retention without checkpoints.
    ///
    /// # Examples
    ///
    /// See [`AuditWriter`].
    pub fn spawn<S: Sink>(self, mut sink: S) -> io::Result<(AuditHandle, WriterGuard)> {
        if self.retention.is_some() && self.checkpoints.is_none() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "retention needs checkpoints: their key signs the anchor that keeps the rest verifiable",
            ));
        }
        if let Some(privacy) = &self.privacy {
            privacy.check()?;
        }
        let recovery = sink.recover()?;
        let (sender, receiver) = crossbeam_channel::bounded(self.queue_capacity);
        let shared = Arc::new(Shared::new(recovery.head.next_seq));
        // A rendezvous between the stages: the encoder hands a batch over
        // only when the chainer is ready for it, so the batch holds
        // everything that arrived while the chainer wrote and synced the
        // last one. A waiting slot would take the first record to arrive
        // alone and make the rest wait one more fsync behind it.
        let (to_chainer, from_encoder) = crossbeam_channel::bounded(0);
        let encoder = Encoder {
            receiver,
            chainer: to_chainer,
            shared: Arc::clone(&shared),
            defaults: self.defaults.clone(),
            max_batch_records: self.max_batch_records,
            max_commit_hold: self.max_commit_hold,
            privacy: self.privacy,
        };
        let worker = Worker {
            sink,
            receiver: from_encoder,
            shared: Arc::clone(&shared),
            head: recovery.head,
            defaults: self.defaults,
            durability: self.durability,
            policy: self.failure_policy,
            buf: Vec::with_capacity(1 << 20),
            records: Vec::new(),
            unsynced: false,
            last_sync: Instant::now(),
            trouble: None,
            notes: Vec::new(),
            checkpoints: self.checkpoints,
            retention: self.retention,
            forward_seals: self.forward_seals,
            synced: recovery.head,
            checkpointed: (0, Instant::now()),
        };
        let repairs = recovery.repairs;
        let encoding = std::thread::Builder::new()
            .name("audit-encoder".into())
            .spawn(move || encoder.run())?;
        let chaining = std::thread::Builder::new()
            .name("audit-writer".into())
            .spawn(move || worker.run(repairs))?;
        let handle = AuditHandle { sender, shared };
        let guard = WriterGuard {
            handle: handle.clone(),
            threads: vec![encoding, chaining],
            drop_timeout: self.drop_timeout,
        };
        Ok((handle, guard))
    }
}

// Events travel by value: boxing them would cost an allocation per audited
// call on the caller's thread; the queue's slots are allocated once.
#[allow(clippy::large_enum_variant)]
enum Message {
    Record {
        event: AuditEvent,
        ack: Option<AckSender>,
    },
    Flush(AckSender),
    Shutdown,
}

struct Shared {
    submitted: AtomicU64,
    written: AtomicU64,
    failed: AtomicU64,
    rejected: AtomicU64,
    write_errors: AtomicU64,
    missing_actor: AtomicU64,
    unaudited_calls: AtomicU64,
    checkpoints: AtomicU64,
    checkpoint_errors: AtomicU64,
    seals: AtomicU64,
    seal_errors: AtomicU64,
    next_seq: AtomicU64,
    failing: AtomicBool,
    closed: AtomicBool,
    abandon: AtomicBool,
    /// How long the last sync took, in nanoseconds: how long the encoder may
    /// hold a batch for strict callers that are on their way back.
    last_sync_nanos: AtomicU64,
    last_error: Mutex<Option<String>>,
    finished: Mutex<Option<Finished>>,
    finished_signal: Condvar,
}

#[derive(Debug, Clone)]
struct Finished {
    report: ShutdownReport,
    unwritten: u64,
    sync_error: Option<WriteError>,
}

impl Shared {
    fn new(next_seq: u64) -> Self {
        Shared {
            submitted: AtomicU64::new(0),
            written: AtomicU64::new(0),
            failed: AtomicU64::new(0),
            rejected: AtomicU64::new(0),
            write_errors: AtomicU64::new(0),
            missing_actor: AtomicU64::new(0),
            unaudited_calls: AtomicU64::new(0),
            checkpoints: AtomicU64::new(0),
            checkpoint_errors: AtomicU64::new(0),
            seals: AtomicU64::new(0),
            seal_errors: AtomicU64::new(0),
            next_seq: AtomicU64::new(next_seq),
            failing: AtomicBool::new(false),
            closed: AtomicBool::new(false),
            last_sync_nanos: AtomicU64::new(0),
            abandon: AtomicBool::new(false),
            last_error: Mutex::new(None),
            finished: Mutex::new(None),
            finished_signal: Condvar::new(),
        }
    }

    fn note_error(&self, error: &dyn std::fmt::Display) {
        self.write_errors.fetch_add(1, Ordering::Relaxed);
        *self
            .last_error
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(error.to_string());
    }
}

/// Submits events to a writer and reads its counters. Cheap to clone; every
/// clone talks to the same writer.
///
/// # Examples
///
/// See [`AuditWriter`].
#[derive(Clone)]
pub struct AuditHandle {
    sender: Sender<Message>,
    shared: Arc<Shared>,
}

impl std::fmt::Debug for AuditHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuditHandle")
            .field("stats", &self.stats())
            .finish()
    }
}

impl AuditHandle {
    #[allow(clippy::result_large_err)]
    fn send(&self, message: Message) -> Result<(), Message> {
        if self.shared.closed.load(Ordering::Acquire) {
            return Err(message);
        }
        self.sender.send(message).map_err(|error| error.0)
    }

    fn refused(&self, message: Message) -> SubmitError {
        self.shared.rejected.fetch_add(1, Ordering::Relaxed);
        match message {
            Message::Record { event, .. } => SubmitError {
                event: Box::new(event),
            },
            Message::Flush(_) | Message::Shutdown => unreachable!("only records are refused"),
        }
    }

    /// Queues an event; blocks while the queue is full.
    ///
    /// # Errors
    ///
    /// [`SubmitError`] (with the event) once the writer has shut down.
    ///
    /// # Examples
    ///
    /// See [`AuditWriter`].
    pub fn submit(&self, event: AuditEvent) -> Result<(), SubmitError> {
        self.send(Message::Record { event, ack: None })
            .map_err(|message| self.refused(message))?;
        self.shared.submitted.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    /// Queues an event and returns an [`Ack`] that resolves once the record is
    /// synced to stable storage (whatever the [`Durability`]).
    ///
    /// # Errors
    ///
    /// [`SubmitError`] (with the event) once the writer has shut down.
    ///
    /// # Examples
    ///
    /// ```
    /// use audit_layer::{AuditEvent, AuditWriter, MemorySink};
    /// let (sink, log) = MemorySink::new();
    /// let (handle, _guard) = AuditWriter::builder().spawn(sink)?;
    /// handle.submit_acked(AuditEvent::builder("export").build())?.wait()?;
    /// assert_eq!(log.records()?.len(), 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn submit_acked(&self, event: AuditEvent) -> Result<Ack, SubmitError> {
        let (sender, ack) = ack::channel();
        self.send(Message::Record {
            event,
            ack: Some(sender),
        })
        .map_err(|message| self.refused(message))?;
        self.shared.submitted.fetch_add(1, Ordering::Relaxed);
        Ok(ack)
    }

    /// Waits until everything submitted before this call is written and
    /// synced.
    ///
    /// Works the same whether the writer's guard is held by `main` or the
    /// subscriber is installed globally and never dropped.
    ///
    /// # Errors
    ///
    /// The [`WriteError`] of the write or sync, or
    /// [`WriteError::WriterGone`] after shutdown.
    ///
    /// # Examples
    ///
    /// See [`MemorySink`](crate::MemorySink).
    pub fn flush(&self) -> Result<(), WriteError> {
        let (sender, ack) = ack::channel();
        self.send(Message::Flush(sender))
            .map_err(|_| WriteError::WriterGone)?;
        ack.wait()
    }

    /// Stops accepting events, writes and syncs everything accepted, and stops
    /// the writer thread, waiting at most `timeout`.
    ///
    /// Calling it again (or dropping the guard afterwards) returns the same outcome.
    ///
    /// # Errors
    ///
    /// [`ShutdownError::TimedOut`] with the number of records abandoned when
    /// the sink kept failing past the timeout; [`ShutdownError::Sync`] when
    /// the last sync failed.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use audit_layer::{AuditEvent, AuditWriter, MemorySink};
    /// let (sink, _log) = MemorySink::new();
    /// let (handle, _guard) = AuditWriter::builder().spawn(sink)?;
    /// handle.submit(AuditEvent::builder("a").build())?;
    /// let report = handle.shutdown(Duration::from_secs(5))?;
    /// assert_eq!(report.next_seq, 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn shutdown(&self, timeout: Duration) -> Result<ShutdownReport, ShutdownError> {
        let deadline = Instant::now() + timeout;
        if !self.shared.closed.swap(true, Ordering::AcqRel) {
            // The queue may be full behind a failing sink; do not wait past the deadline.
            let _ = self.sender.send_deadline(Message::Shutdown, deadline);
        }
        let finished = self
            .shared
            .finished
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let (mut finished, _) = self
            .shared
            .finished_signal
            .wait_timeout_while(
                finished,
                deadline.saturating_duration_since(Instant::now()),
                |finished| finished.is_none(),
            )
            .unwrap_or_else(PoisonError::into_inner);
        if finished.is_none() {
            // Tell a worker stuck retrying a failing sink to give up, and wait
            // for it to account for what it abandons.
            self.shared.abandon.store(true, Ordering::Release);
            let _ = self.sender.try_send(Message::Shutdown);
            finished = self
                .shared
                .finished_signal
                .wait_timeout_while(finished, Duration::from_secs(5), |f| f.is_none())
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
        match finished.as_ref() {
            None => Err(ShutdownError::TimedOut {
                unwritten: self.sender.len() as u64,
            }),
            Some(done) if done.unwritten > 0 => Err(ShutdownError::TimedOut {
                unwritten: done.unwritten,
            }),
            Some(Finished {
                sync_error: Some(error),
                ..
            }) => Err(ShutdownError::Sync(error.clone())),
            Some(done) => Ok(done.report.clone()),
        }
    }

    /// A snapshot of the writer's counters.
    ///
    /// # Examples
    ///
    /// See [`WriterStats`].
    pub fn stats(&self) -> WriterStats {
        let shared = &self.shared;
        WriterStats {
            submitted: shared.submitted.load(Ordering::Relaxed),
            written: shared.written.load(Ordering::Relaxed),
            failed: shared.failed.load(Ordering::Relaxed),
            rejected: shared.rejected.load(Ordering::Relaxed),
            write_errors: shared.write_errors.load(Ordering::Relaxed),
            queue_depth: self.sender.len(),
            next_seq: shared.next_seq.load(Ordering::Relaxed),
            failing: shared.failing.load(Ordering::Relaxed),
            last_error: shared
                .last_error
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .clone(),
            missing_actor: shared.missing_actor.load(Ordering::Relaxed),
            unaudited_calls: shared.unaudited_calls.load(Ordering::Relaxed),
            checkpoints: shared.checkpoints.load(Ordering::Relaxed),
            checkpoint_errors: shared.checkpoint_errors.load(Ordering::Relaxed),
            seals: shared.seals.load(Ordering::Relaxed),
            seal_errors: shared.seal_errors.load(Ordering::Relaxed),
        }
    }

    pub(crate) fn note_missing_actor(&self) {
        self.shared.missing_actor.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn note_unaudited(&self) {
        self.shared.unaudited_calls.fetch_add(1, Ordering::Relaxed);
    }
}

/// Keeps the writer running; dropping it flushes and stops the writer.
///
/// Hold it in `main` for the life of the program. For an explicit result
/// (and a chosen timeout), call [`shutdown`](WriterGuard::shutdown) instead
/// of dropping it. When the guard cannot be kept (the subscriber is global
/// and outlives `main`'s scope, say), call [`AuditHandle::shutdown`] before
/// exiting.
///
/// # Examples
///
/// ```
/// use audit_layer::{AuditEvent, AuditWriter, MemorySink};
/// let (sink, log) = MemorySink::new();
/// let (handle, guard) = AuditWriter::builder().spawn(sink)?;
/// handle.submit(AuditEvent::builder("a").build())?;
/// drop(guard); // waits for the record to be written
/// assert_eq!(log.records()?.len(), 1);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[must_use = "dropping the guard stops the writer; keep it alive as long as records are made"]
pub struct WriterGuard {
    handle: AuditHandle,
    threads: Vec<JoinHandle<()>>,
    drop_timeout: Duration,
}

impl std::fmt::Debug for WriterGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WriterGuard")
            .field("handle", &self.handle)
            .finish_non_exhaustive()
    }
}

impl WriterGuard {
    /// The handle of the writer this guard keeps.
    ///
    /// # Examples
    ///
    /// ```
    /// # let (sink, _log) = audit_layer::MemorySink::new();
    /// let (_handle, guard) = audit_layer::AuditWriter::builder().spawn(sink)?;
    /// assert_eq!(guard.handle().stats().written, 0);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn handle(&self) -> &AuditHandle {
        &self.handle
    }

    /// Like [`AuditHandle::shutdown`], and also joins the writer thread.
    ///
    /// # Errors
    ///
    /// See [`AuditHandle::shutdown`].
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// # let (sink, _log) = audit_layer::MemorySink::new();
    /// let (handle, guard) = audit_layer::AuditWriter::builder().spawn(sink)?;
    /// handle.submit(audit_layer::AuditEvent::builder("a").build())?;
    /// let report = guard.shutdown(Duration::from_secs(5))?;
    /// assert_eq!((report.written, report.failed), (1, 0));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn shutdown(mut self, timeout: Duration) -> Result<ShutdownReport, ShutdownError> {
        self.finish(timeout)
    }

    fn finish(&mut self, timeout: Duration) -> Result<ShutdownReport, ShutdownError> {
        let result = self.handle.shutdown(timeout);
        let finished = self
            .handle
            .shared
            .finished
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .is_some();
        if finished {
            for thread in self.threads.drain(..) {
                let _ = thread.join();
            }
        }
        result
    }
}

impl Drop for WriterGuard {
    fn drop(&mut self) {
        if !self.threads.is_empty()
            && let Err(error) = self.finish(self.drop_timeout)
        {
            // Drop cannot return the error; an audit loss must not be silent.
            eprintln!("audit-layer: {error}");
        }
    }
}

/// What went wrong with the sink since the last successful write.
struct Trouble {
    since: Timestamp,
    error: String,
    attempts: u64,
    lost: u64,
}

/// Records encoded by the first stage, waiting for their place in the chain.
#[derive(Default)]
struct Bodies {
    /// The bodies, end to end.
    bytes: Vec<u8>,
    /// Where each body ends in `bytes`.
    ends: Vec<usize>,
    /// The acknowledgement each record's caller waits for, if any.
    acks: Vec<Option<AckSender>>,
    /// How many of `acks` are some: callers waiting for this batch.
    waiting: usize,
    flushes: Vec<AckSender>,
    shutdown: bool,
}

impl Bodies {
    fn len(&self) -> usize {
        self.ends.len()
    }

    fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    fn push(&mut self, event: &AuditEvent, ack: Option<AckSender>, defaults: &RecordDefaults) {
        encode_body(&mut self.bytes, event, defaults);
        self.pushed(ack);
    }

    /// Like [`push`](Bodies::push), with `changes` already worked out.
    fn push_with_changes(
        &mut self,
        event: &AuditEvent,
        ack: Option<AckSender>,
        changes: &[Change],
        defaults: &RecordDefaults,
    ) {
        push_body(&mut self.bytes, event, Some(changes), defaults);
        self.pushed(ack);
    }

    fn pushed(&mut self, ack: Option<AckSender>) {
        self.ends.push(self.bytes.len());
        self.waiting += usize::from(ack.is_some());
        self.acks.push(ack);
    }

    fn take(&mut self, message: Message, defaults: &RecordDefaults) {
        match message {
            // The event is freed here, on the encoder's thread.
            Message::Record { event, ack } => self.push(&event, ack, defaults),
            Message::Flush(ack) => self.flushes.push(ack),
            Message::Shutdown => self.shutdown = true,
        }
    }

    fn bodies(&self) -> impl Iterator<Item = &[u8]> {
        let mut start = 0;
        self.ends.iter().map(move |&end| {
            let body = &self.bytes[start..end];
            start = end;
            body
        })
    }

    fn wants_sync(&self) -> bool {
        !self.flushes.is_empty() || self.shutdown || self.acks.iter().any(Option::is_some)
    }
}

/// The first stage: takes events off the queue and encodes their bodies,
/// which do not depend on their place in the chain. It runs beside the
/// second stage, so encoding one batch overlaps hashing and writing the last.
struct Encoder {
    receiver: Receiver<Message>,
    chainer: Sender<Bodies>,
    shared: Arc<Shared>,
    defaults: RecordDefaults,
    max_batch_records: usize,
    max_commit_hold: Duration,
    privacy: Option<Privacy>,
}

impl Encoder {
    fn run(self) {
        let mut pending = Bodies::default();
        // Callers that waited for the last batch handed over, and until
        // when the current one may be held for them (see below).
        let mut last_waiting = 0;
        let mut hold_until: Option<Instant> = None;
        loop {
            if pending.is_empty() && !pending.shutdown {
                // Once closed, a full queue may have kept the shutdown message
                // out: stop when the queue is drained rather than wait for it.
                if self.shared.closed.load(Ordering::Acquire) && self.receiver.is_empty() {
                    pending.shutdown = true;
                } else {
                    // Blocking is safe: the queue is empty, so a shutdown message fits in it.
                    match self.receiver.recv() {
                        Ok(message) => self.accept(&mut pending, message),
                        Err(_) => pending.shutdown = true,
                    }
                }
            }
            while pending.len() < self.max_batch_records && !pending.shutdown {
                match self.receiver.try_recv() {
                    Ok(message) => self.accept(&mut pending, message),
                    Err(_) => break,
                }
            }
            if pending.shutdown {
                // Events accepted just before the shutdown message are written too.
                while let Ok(message) = self.receiver.try_recv() {
                    self.accept(&mut pending, message);
                }
                let _ = self.chainer.send(pending);
                return;
            }
            if pending.len() >= self.max_batch_records {
                (last_waiting, hold_until) = (pending.waiting, None);
                if self.chainer.send(std::mem::take(&mut pending)).is_err() {
                    return;
                }
                continue;
            }
            // Strict callers come back in waves: each caller of the last
            // batch sends its next record once that batch is acknowledged.
            // Handing the first of them over alone would split the wave
            // across two syncs. So while fewer callers wait than did last
            // time, hold the batch for them, at most as long as one sync
            // takes; a lone strict caller is never held.
            if pending.waiting > 0
                && pending.waiting < last_waiting
                && !self.max_commit_hold.is_zero()
            {
                let until = *hold_until.get_or_insert_with(|| Instant::now() + self.hold_limit());
                match self.receiver.recv_deadline(until) {
                    Ok(message) => {
                        self.accept(&mut pending, message);
                        continue;
                    }
                    Err(RecvTimeoutError::Disconnected) => {
                        pending.shutdown = true;
                        continue;
                    }
                    Err(RecvTimeoutError::Timeout) => {}
                }
            }
            // Group commit: hand the batch over as soon as the chainer can
            // take it; while it is busy (writing, syncing), keep gathering.
            let mut select = Select::new();
            let send = select.send(&self.chainer);
            let receive = select.recv(&self.receiver);
            let operation = select.select();
            if operation.index() == send {
                (last_waiting, hold_until) = (pending.waiting, None);
                if operation
                    .send(&self.chainer, std::mem::take(&mut pending))
                    .is_err()
                {
                    return;
                }
            } else {
                debug_assert_eq!(operation.index(), receive);
                match operation.recv(&self.receiver) {
                    Ok(message) => self.accept(&mut pending, message),
                    Err(_) => pending.shutdown = true,
                }
            }
        }
    }

    /// Adds a message to the batch being gathered, hiding what the privacy
    /// policy names first: before the record is encoded, so before it is hashed.
    fn accept(&self, pending: &mut Bodies, message: Message) {
        match (&self.privacy, message) {
            (Some(privacy), Message::Record { mut event, ack }) => {
                // The policy parses before and after to hide what it names;
                // the changes between them come from that parse, not a second.
                match privacy.apply(&mut event) {
                    Some(changes) => {
                        pending.push_with_changes(&event, ack, &changes, &self.defaults);
                    }
                    None => pending.push(&event, ack, &self.defaults),
                }
            }
            (_, message) => pending.take(message, &self.defaults),
        }
    }

    /// The longest a batch is held for strict callers on their way back:
    /// the last sync's duration, so a held record waits at most one sync
    /// more, and never over [`WriterBuilder::max_commit_hold`].
    fn hold_limit(&self) -> Duration {
        Duration::from_nanos(self.shared.last_sync_nanos.load(Ordering::Relaxed))
            .min(self.max_commit_hold)
    }
}

/// The default of [`WriterBuilder::max_commit_hold`].
const DEFAULT_MAX_COMMIT_HOLD: Duration = Duration::from_millis(1);

/// The second stage: gives each body its seq and prev, hashes, writes,
/// syncs, acknowledges, checkpoints.
struct Worker<S: Sink> {
    sink: S,
    receiver: Receiver<Bodies>,
    shared: Arc<Shared>,
    head: ChainHead,
    defaults: RecordDefaults,
    durability: Durability,
    policy: FailurePolicy,
    buf: Vec<u8>,
    records: Vec<BatchRecord>,
    unsynced: bool,
    last_sync: Instant,
    trouble: Option<Trouble>,
    /// System records to write before the next events (retention).
    notes: Vec<AuditEvent>,
    checkpoints: Option<Checkpoints>,
    retention: Option<RetentionPolicy>,
    /// Size of the last checkpoint, and when it was signed.
    checkpointed: (u64, Instant),
    forward_seals: Option<ForwardSeals>,
    /// The head as of the last successful sync: what a seal may vouch for.
    synced: ChainHead,
}

enum Committed {
    Written,
    Abandoned(u64),
}

impl<S: Sink> Worker<S> {
    fn run(mut self, repairs: Vec<Repair>) {
        // Epochs that ended while no writer ran are sealed as the log stood.
        self.seal_if_due();
        let mut repaired = Bodies::default();
        for repair in repairs {
            let details = serde_json::to_value(&repair).unwrap_or_default();
            let event = AuditEvent::system(repair.action(), Outcome::Success, details);
            repaired.push(&event, None, &self.defaults);
        }
        let mut unwritten = 0;
        if !repaired.is_empty()
            && let Committed::Abandoned(count) = self.commit(repaired)
        {
            unwritten += count;
        }
        loop {
            let Some(batch) = self.next_batch() else {
                continue;
            };
            let shutdown = batch.shutdown;
            if let Committed::Abandoned(count) = self.commit(batch) {
                unwritten += count;
            }
            self.checkpoint_if_due(false);
            if !self.notes.is_empty() {
                // Retention just ran: its record goes in now.
                let _ = self.commit(Bodies::default());
            }
            if shutdown {
                break;
            }
        }
        let sync_error = match self.sink.sync() {
            Ok(()) => {
                self.unsynced = false;
                self.synced = self.head;
                self.seal_if_due();
                self.checkpoint_if_due(true);
                None
            }
            Err(error) => {
                self.shared.note_error(&error);
                Some(WriteError::sync(&error))
            }
        };
        let report = ShutdownReport {
            written: self.shared.written.load(Ordering::Relaxed),
            failed: self.shared.failed.load(Ordering::Relaxed),
            next_seq: self.head.next_seq,
        };
        *self
            .shared
            .finished
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(Finished {
            report,
            unwritten,
            sync_error,
        });
        self.shared.finished_signal.notify_all();
    }

    /// The next batch from the encoder; `None` when a timer (interval sync,
    /// checkpoint) woke the worker first.
    fn next_batch(&mut self) -> Option<Bodies> {
        let received = match self.next_deadline() {
            Some(deadline) => match self.receiver.recv_deadline(deadline) {
                Err(RecvTimeoutError::Timeout) => {
                    if self.interval_due() {
                        self.sync_now();
                    }
                    self.seal_if_due();
                    self.checkpoint_if_due(false);
                    if !self.notes.is_empty() {
                        let _ = self.commit(Bodies::default());
                    }
                    return None;
                }
                other => other.ok(),
            },
            None => self.receiver.recv().ok(),
        };
        // The encoder is gone without a word (it cannot panic, but be safe): stop.
        Some(received.unwrap_or_else(|| Bodies {
            shutdown: true,
            ..Bodies::default()
        }))
    }

    /// When the worker must wake up even if nothing arrives: an interval
    /// sync, or a checkpoint due by time.
    fn next_deadline(&self) -> Option<Instant> {
        let sync = match self.durability {
            Durability::Interval(interval) if self.unsynced => Some(self.last_sync + interval),
            _ => None,
        };
        let checkpoint = self.checkpoints.as_ref().and_then(|c| {
            let (size, at) = self.checkpointed;
            c.every
                .filter(|_| self.head.next_seq > size)
                .map(|every| at + every)
        });
        let seal = self
            .forward_seals
            .as_ref()
            .map(|seals| Instant::now() + seals.until_due());
        [sync, checkpoint, seal].into_iter().flatten().min()
    }

    /// Seals every epoch that has ended, with the durable head.
    fn seal_if_due(&mut self) {
        let Some(seals) = &self.forward_seals else {
            return;
        };
        if seals.until_due() > Duration::ZERO {
            return;
        }
        // A seal vouches for stable records only; if the sync fails, the
        // head of the last one that succeeded is sealed.
        if self.unsynced && self.trouble.is_none() {
            self.sync_now();
        }
        let head = self.synced;
        let seals = self.forward_seals.as_mut().expect("checked above");
        let (written, error) = seals.seal_ended_epochs(head.next_seq, head.prev);
        self.shared.seals.fetch_add(written, Ordering::Relaxed);
        if let Some(error) = error {
            self.shared.note_error(&error);
            self.shared.seal_errors.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Signs and publishes a checkpoint of the synced head when one is due
    /// (or `finally`, at shutdown), then applies the retention policy.
    fn checkpoint_if_due(&mut self, finally: bool) {
        let Some(checkpoints) = &self.checkpoints else {
            return;
        };
        let (size, at) = self.checkpointed;
        let grown = self.head.next_seq.saturating_sub(size);
        let due = grown > 0
            && (finally
                || checkpoints.every_records.is_some_and(|n| grown >= n)
                || checkpoints.every.is_some_and(|every| at.elapsed() >= every));
        if !due || self.trouble.is_some() {
            return;
        }
        // A checkpoint vouches for stable records only.
        if self.unsynced && self.sync_now().is_some() {
            return;
        }
        let checkpoints = self.checkpoints.as_mut().expect("checked above");
        let checkpoint = Checkpoint {
            origin: checkpoints.origin.clone(),
            size: self.head.next_seq,
            head: self.head.prev,
        };
        let note = checkpoint.sign(&checkpoints.key);
        match checkpoints.destination.publish(
            &crate::store::segment::checkpoint_file_name(checkpoint.size),
            &note,
        ) {
            Ok(()) => {
                self.shared.checkpoints.fetch_add(1, Ordering::Relaxed);
                self.checkpointed = (checkpoint.size, Instant::now());
            }
            Err(error) => {
                self.shared.note_error(&error);
                self.shared
                    .checkpoint_errors
                    .fetch_add(1, Ordering::Relaxed);
                // Try again at the next due time, not in a tight loop.
                self.checkpointed.1 = Instant::now();
            }
        }
        if let Err(error) = self.apply_retention() {
            self.shared.note_error(&error);
            self.shared
                .checkpoint_errors
                .fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Deletes the oldest sealed segments the policy no longer keeps.
    fn apply_retention(&mut self) -> io::Result<()> {
        let (Some(policy), Some(checkpoints)) = (self.retention, &mut self.checkpoints) else {
            return Ok(());
        };
        let segments = self.sink.segments()?;
        let mut count = segments.len();
        let mut total: u64 = segments.iter().map(|s| s.bytes).sum();
        let oldest_kept = policy
            .max_age
            .and_then(|age| std::time::SystemTime::now().checked_sub(age))
            .map(Timestamp::clamped);
        let mut cut = None;
        for segment in &segments {
            let Some(sealed) = &segment.sealed else { break };
            let over = policy.max_segments.is_some_and(|max| count > max)
                || policy.max_bytes.is_some_and(|max| total > max)
                || oldest_kept.is_some_and(|oldest| sealed.newest < oldest);
            if !over {
                break;
            }
            count -= 1;
            total -= segment.bytes;
            cut = Some(sealed.clone());
        }
        let Some(last) = cut else { return Ok(()) };
        let anchor = Anchor {
            origin: checkpoints.origin.clone(),
            first_seq: last.last_seq + 1,
            prev: last.last_hash,
        };
        let note = anchor.sign(&checkpoints.key);
        let retired = self.sink.retire(&anchor, &note)?;
        checkpoints.destination.publish(
            &crate::store::segment::anchor_file_name(anchor.first_seq),
            &note,
        )?;
        let details = json!({
            "segments_deleted": retired.segments,
            "bytes_deleted": retired.bytes,
            "seq_from": retired.first_seq,
            "seq_to": retired.last_seq,
            "anchor_first_seq": anchor.first_seq,
            "policy": {
                "max_age_secs": policy.max_age.map(|a| a.as_secs()),
                "max_bytes": policy.max_bytes,
                "max_segments": policy.max_segments,
            },
        });
        self.notes.push(AuditEvent::system(
            "audit.retention",
            Outcome::Success,
            details,
        ));
        Ok(())
    }

    fn sync_now(&mut self) -> Option<WriteError> {
        let started = Instant::now();
        let synced = self.sink.sync();
        let finished = Instant::now();
        self.shared
            .last_sync_nanos
            .store(duration_nanos(finished - started), Ordering::Relaxed);
        match synced {
            Ok(()) => {
                self.unsynced = false;
                self.synced = self.head;
                self.last_sync = finished;
                None
            }
            Err(error) => {
                self.shared.note_error(&error);
                Some(WriteError::sync(&error))
            }
        }
    }

    /// Chains the bodies after the current head (after an outage note if the
    /// sink had been failing, and any retention notes) into the batch buffer.
    fn encode(&mut self, batch: &Bodies) -> (ChainHead, usize) {
        self.buf.clear();
        self.records.clear();
        let mut head = self.head;
        let mut notes: Vec<AuditEvent> = Vec::new();
        if let Some(trouble) = &self.trouble {
            notes.push(outage_note(trouble, batch.len()));
        }
        notes.extend(self.notes.iter().cloned());
        let mut body = Vec::new();
        for note in &notes {
            body.clear();
            encode_body(&mut body, note, &self.defaults);
            head = self.chain_one(&body, head);
        }
        for body in batch.bodies() {
            head = self.chain_one(body, head);
        }
        (head, notes.len())
    }

    fn chain_one(&mut self, body: &[u8], head: ChainHead) -> ChainHead {
        let hash = seal_line(&mut self.buf, head.next_seq, head.prev, body);
        self.records.push(BatchRecord {
            seq: head.next_seq,
            hash,
            end: self.buf.len(),
        });
        ChainHead {
            next_seq: head.next_seq + 1,
            prev: hash,
        }
    }

    fn commit(&mut self, mut batch: Bodies) -> Committed {
        let wants_sync = batch.wants_sync();
        let mut backoff = Duration::from_millis(10);
        let outcome = loop {
            if batch.is_empty() && self.trouble.is_none() && self.notes.is_empty() {
                break Ok(());
            }
            let (head, notes) = self.encode(&batch);
            let error = match self.sink.append(&Batch::new(&self.buf, &self.records)) {
                Ok(()) => {
                    self.head = head;
                    self.unsynced = true;
                    self.trouble = None;
                    self.notes.clear();
                    self.shared.failing.store(false, Ordering::Relaxed);
                    self.shared
                        .written
                        .fetch_add((batch.len() + notes) as u64, Ordering::Relaxed);
                    self.shared.next_seq.store(head.next_seq, Ordering::Relaxed);
                    break Ok(());
                }
                Err(error) => error,
            };
            self.shared.note_error(&error);
            self.shared.failing.store(true, Ordering::Relaxed);
            let trouble = self.trouble.get_or_insert_with(|| Trouble {
                since: Timestamp::now(),
                error: String::new(),
                attempts: 0,
                lost: 0,
            });
            trouble.attempts += 1;
            trouble.error = error.to_string();
            let failure = WriteError::sink(&error);
            match self.policy {
                FailurePolicy::Abort => {
                    eprintln!(
                        "audit-layer: the audit sink failed ({error}); aborting as the failure policy requires"
                    );
                    std::process::abort();
                }
                FailurePolicy::FailRecords => {
                    trouble.lost += batch.len() as u64;
                    self.shared
                        .failed
                        .fetch_add(batch.len() as u64, Ordering::Relaxed);
                    for ack in batch.acks.drain(..).flatten() {
                        ack.send(Err(failure.clone()));
                    }
                    batch.ends.clear();
                    self.resync_head();
                    break Err(failure);
                }
                FailurePolicy::BlockAndRetry => {
                    if self.shared.abandon.load(Ordering::Acquire) {
                        let abandoned = batch.len() as u64;
                        for ack in batch.acks.drain(..).flatten() {
                            ack.send(Err(failure.clone()));
                        }
                        for flush in batch.flushes.drain(..) {
                            flush.send(Err(failure.clone()));
                        }
                        return Committed::Abandoned(abandoned);
                    }
                    std::thread::sleep(backoff);
                    backoff = (backoff * 2).min(Duration::from_secs(1));
                    // The bodies do not depend on the head: after recovery
                    // they are simply chained again from where the sink stands.
                    self.resync_head();
                }
            }
        };
        let sync_error = if outcome.is_ok()
            && self.unsynced
            && (wants_sync || self.durability == Durability::GroupCommit || self.interval_due())
        {
            self.sync_now()
        } else {
            None
        };
        let result = match (outcome, sync_error) {
            (Err(error), _) => Err(error),
            (Ok(()), Some(error)) => Err(error),
            (Ok(()), None) => Ok(()),
        };
        // Before answering, so that a flush returns with every ended epoch sealed.
        self.seal_if_due();
        for ack in batch.acks.into_iter().flatten() {
            ack.send(result.clone());
        }
        for flush in batch.flushes {
            flush.send(result.clone());
        }
        Committed::Written
    }

    fn interval_due(&self) -> bool {
        matches!(self.durability, Durability::Interval(interval) if self.last_sync.elapsed() >= interval)
    }

    /// After a failed append, learns from the sink where its chain really ends.
    fn resync_head(&mut self) {
        match self.sink.recover() {
            Ok(Recovery { head, .. }) => self.head = head,
            Err(error) => self.shared.note_error(&error),
        }
    }
}

fn outage_note(trouble: &Trouble, delayed: usize) -> AuditEvent {
    let details = json!({
        "since": trouble.since,
        "until": Timestamp::now(),
        "failed_attempts": trouble.attempts,
        "last_error": trouble.error,
        "records_lost": trouble.lost,
        "records_delayed": if trouble.lost == 0 { delayed } else { 0 },
    });
    let outcome = if trouble.lost == 0 {
        Outcome::Success
    } else {
        Outcome::failure(
            FailureKind::Other("records_lost".into()),
            format!(
                "{} audit records were lost while the sink failed",
                trouble.lost
            ),
        )
    };
    AuditEvent::system("audit.outage", outcome, details)
}
