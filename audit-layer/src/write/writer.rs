//! The lossless writer: a bounded queue in front of a thread that gives each
//! record its seq, links and seals it, and writes batches to a [`Sink`].
//!
//! This module has the entry point and the builder; `handle` has what
//! callers hold, `worker` the thread's stages, `settings` the knobs and
//! reports.

use crate::write::encoder::Encoder;
use crate::write::handle::AuditHandle;
use crate::write::handle::Shared;
use crate::write::handle::WriterGuard;
use crate::write::settings::Durability;
use crate::write::settings::FailurePolicy;
use crate::write::worker::DEFAULT_MAX_COMMIT_HOLD;
use crate::write::worker::Worker;
use std::io;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::proof::checkpoint::{Checkpoints, RetentionPolicy};
use crate::proof::forward_seal::ForwardSeals;
use crate::record::RecordDefaults;
use crate::store::sink::Sink;
use crate::write::privacy::Privacy;

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
        let tree = crate::write::worker::open_tree(&sink, recovery.head.next_seq);
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
            tree: match tree {
                Ok(tree) => Some(tree),
                Err(error) if error.kind() == io::ErrorKind::Unsupported => None,
                // Written again from the records when the writer next starts.
                Err(error) => {
                    shared.note_error(&error);
                    None
                }
            },
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
