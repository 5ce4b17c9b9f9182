//! What callers hold: the queue's messages, the state shared with the
//! writer thread, [`AuditHandle`] and [`WriterGuard`].

use crate::write::settings::ShutdownError;
use crate::write::settings::ShutdownReport;
use crate::write::settings::SubmitError;
use crate::write::settings::WriterStats;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::Sender;

use crate::record::AuditEvent;
use crate::write::ack::{self, Ack, AckSender, WriteError};

// Events travel by value: boxing them would cost an allocation per audited
// call on the caller's thread; the queue's slots are allocated once.
#[allow(clippy::large_enum_variant)]
pub(crate) enum Message {
    Record {
        event: AuditEvent,
        ack: Option<AckSender>,
    },
    Flush(AckSender),
    Shutdown,
}

pub(crate) struct Shared {
    submitted: AtomicU64,
    pub(crate) written: AtomicU64,
    pub(crate) failed: AtomicU64,
    rejected: AtomicU64,
    write_errors: AtomicU64,
    missing_actor: AtomicU64,
    unaudited_calls: AtomicU64,
    pub(crate) checkpoints: AtomicU64,
    pub(crate) checkpoint_errors: AtomicU64,
    pub(crate) seals: AtomicU64,
    pub(crate) seal_errors: AtomicU64,
    pub(crate) next_seq: AtomicU64,
    pub(crate) failing: AtomicBool,
    pub(crate) closed: AtomicBool,
    pub(crate) abandon: AtomicBool,
    /// How long the last sync took, in nanoseconds: how long the encoder may
    /// hold a batch for strict callers that are on their way back.
    pub(crate) last_sync_nanos: AtomicU64,
    last_error: Mutex<Option<String>>,
    pub(crate) finished: Mutex<Option<Finished>>,
    pub(crate) finished_signal: Condvar,
}

#[derive(Debug, Clone)]
pub(crate) struct Finished {
    pub(crate) report: ShutdownReport,
    pub(crate) unwritten: u64,
    pub(crate) sync_error: Option<WriteError>,
}

impl Shared {
    pub(crate) fn new(next_seq: u64) -> Self {
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

    pub(crate) fn note_error(&self, error: &dyn std::fmt::Display) {
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
/// See [`AuditWriter`](crate::AuditWriter).
#[derive(Clone)]
pub struct AuditHandle {
    pub(crate) sender: Sender<Message>,
    pub(crate) shared: Arc<Shared>,
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
    /// See [`AuditWriter`](crate::AuditWriter).
    pub fn submit(&self, event: AuditEvent) -> Result<(), SubmitError> {
        self.send(Message::Record { event, ack: None })
            .map_err(|message| self.refused(message))?;
        self.shared.submitted.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    /// Queues an event and returns an [`Ack`] that resolves once the record is
    /// synced to stable storage (whatever the [`Durability`](crate::Durability)).
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
    pub(crate) handle: AuditHandle,
    pub(crate) threads: Vec<JoinHandle<()>>,
    pub(crate) drop_timeout: Duration,
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

    pub(crate) fn finish(&mut self, timeout: Duration) -> Result<ShutdownReport, ShutdownError> {
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
