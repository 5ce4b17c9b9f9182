//! [`Shipper`]: copies a live file log into the store (`audit ship`).

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use postgres::NoTls;

use super::columns::Columns;
use super::sink::{PendingRow, copy_rows};
use super::store::{PgError, check_stream_name, lock_stream, require_schema, stream_head};
use crate::record::chain::{self, ChainHead, GENESIS, Hash};
use crate::store::follow::LogFollower;

/// What to ship, and how.
///
/// # Examples
///
/// ```
/// let options = audit_layer::ShipOptions::new("/var/log/blog-api/audit");
/// assert!(options.follow && options.stream.is_none());
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ShipOptions {
    /// The log directory.
    pub log: PathBuf,
    /// The stream to ship into; by default `service@host/ID`, from the
    /// log's first record, where ID is the first 12 hex digits of its hash
    /// (stable, and different for every log).
    pub stream: Option<String>,
    /// At most this many records per transaction.
    pub batch_records: usize,
    /// Keep following the log as it grows (until stopped); otherwise stop
    /// once every complete line is shipped.
    pub follow: bool,
    /// The longest wait between attempts while the store is unreachable.
    pub max_backoff: Duration,
}

impl ShipOptions {
    /// Ships the log at `log`, following it, 10,000 records per transaction.
    ///
    /// # Examples
    ///
    /// See [`ShipOptions`].
    pub fn new(log: impl Into<PathBuf>) -> Self {
        ShipOptions {
            log: log.into(),
            stream: None,
            batch_records: 10_000,
            follow: true,
            max_backoff: Duration::from_secs(5),
        }
    }
}

/// Counters of a [`Shipper`], handed to its progress callback.
///
/// # Examples
///
/// ```
/// let progress = audit_layer::ShipProgress::default();
/// assert_eq!(progress.shipped, 0);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
#[non_exhaustive]
pub struct ShipProgress {
    /// The stream shipped into.
    pub stream: String,
    /// Records stored by this run.
    pub shipped: u64,
    /// Transactions committed by this run.
    pub batches: u64,
    /// Attempts that failed because the store could not be reached.
    pub retries: u64,
    /// The seq the store's stream ends at, as last seen.
    pub stored_through: Option<u64>,
    /// Whether the store is unreachable right now (the log is the buffer).
    pub waiting_for_store: bool,
    /// The last error of the store, while it is unreachable.
    pub last_error: Option<String>,
}

/// Why shipping stopped.
///
/// # Examples
///
/// ```
/// let error = audit_layer::ShipError::Chain { seq: 7, why: "modified".into() };
/// assert!(error.to_string().contains("seq 7"));
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ShipError {
    /// The store holds a record at this seq whose hash differs from the
    /// log's: two different histories under one stream name.
    #[error(
        "equivocation: stream `{stream}` in the store holds a different record at seq {seq} (store {stored}, log {local}); nothing was shipped over it"
    )]
    Equivocation {
        /// The stream.
        stream: String,
        /// The seq.
        seq: u64,
        /// The hash stored.
        stored: Hash,
        /// The hash in the log.
        local: Hash,
    },
    /// The store holds more of the stream than the log does.
    #[error(
        "stream `{stream}` in the store ends at seq {stored_through}, beyond the log's last record ({log_last}): the log was cut or replaced, or this is not its stream"
    )]
    StoreAhead {
        /// The stream.
        stream: String,
        /// The store's last seq.
        stored_through: u64,
        /// The log's last seq, if it has one.
        log_last: String,
    },
    /// A line of the log does not verify: nothing from it on is shipped.
    #[error("the log does not verify at seq {seq}: {why}; run `audit verify`")]
    Chain {
        /// The seq expected there.
        seq: u64,
        /// What is wrong.
        why: String,
    },
    /// The log could not be read.
    #[error("cannot read the log: {0}")]
    Log(#[from] std::io::Error),
    /// The store refused, for a reason retrying will not fix.
    #[error(transparent)]
    Store(#[from] PgError),
}

/// Copies a live file log into the store, verifying as it goes.
///
/// It continues from the store's head of its stream (learnt through the
/// writer's narrow function), so it is idempotent and resumable: after any
/// crash or restart it neither skips nor duplicates. Each line is checked
/// (seq, link, hash, record) before it is stored; a record the store already
/// holds with another hash stops it with [`ShipError::Equivocation`]. While
/// the store is unreachable it retries with backoff; the log is the buffer.
///
/// # Examples
///
/// ```no_run
/// use std::sync::atomic::AtomicBool;
/// use audit_layer::{ShipOptions, Shipper};
///
/// let mut options = ShipOptions::new("/var/log/blog-api/audit");
/// options.follow = false; // ship what is there, then stop
/// let mut shipper = Shipper::new("postgresql://blog_shipper@db/audit", options)?;
/// let done = shipper.run(&AtomicBool::new(false), |progress| eprintln!("{progress:?}"))?;
/// println!("{} records shipped", done.shipped);
/// # Ok::<(), audit_layer::ShipError>(())
/// ```
#[derive(Debug)]
pub struct Shipper {
    config: postgres::Config,
    options: ShipOptions,
    progress: ShipProgress,
    /// The stream's next seq as this run last knew it, once connected.
    known_next: Option<u64>,
}

/// How a session with the store ended.
enum SessionEnd {
    /// Everything shipped (not following), or asked to stop.
    Done,
    /// The store went away or refused for now: retry later.
    Retry(String),
}

/// The first line of a log, framed: what its default stream name is made of.
fn default_stream(options: &ShipOptions) -> Result<String, ShipError> {
    let mut follower = LogFollower::open_at(&options.log, 0)?;
    let mut first = None;
    follower.read_available(|line| {
        first = Some(line.to_vec());
        false
    })?;
    let line = first.ok_or_else(|| {
        std::io::Error::new(
            std::io::ErrorKind::NotFound,
            "the log has no complete record yet, so its stream cannot be named: give --stream",
        )
    })?;
    let record =
        crate::record::AuditRecord::from_line(&line).map_err(|error| ShipError::Chain {
            seq: 0,
            why: error.to_string(),
        })?;
    let id = &record.hash.to_string()[..12];
    Ok(format!(
        "{}@{}/{id}",
        record.service.as_deref().unwrap_or("unknown"),
        record.host.as_deref().unwrap_or("unknown"),
    ))
}

impl Shipper {
    /// A shipper of `options.log` into the store at `url`.
    ///
    /// # Errors
    ///
    /// [`ShipError::Store`] for a bad URL or stream name;
    /// [`ShipError::Log`] when no stream is given and the log has no record
    /// to name one after.
    ///
    /// # Examples
    ///
    /// See [`Shipper`].
    pub fn new(url: &str, options: ShipOptions) -> Result<Self, ShipError> {
        let config: postgres::Config = url.parse().map_err(PgError::Url)?;
        let stream = match &options.stream {
            Some(stream) => stream.clone(),
            None => default_stream(&options)?,
        };
        check_stream_name(&stream)?;
        Ok(Shipper {
            config,
            options,
            progress: ShipProgress {
                stream,
                ..ShipProgress::default()
            },
            known_next: None,
        })
    }

    /// The stream it ships into.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// let shipper = audit_layer::Shipper::new("postgresql://db/audit", audit_layer::ShipOptions::new("log"))?;
    /// println!("{}", shipper.stream());
    /// # Ok::<(), audit_layer::ShipError>(())
    /// ```
    pub fn stream(&self) -> &str {
        &self.progress.stream
    }

    /// Ships until done (not following) or until `stop` is set, calling
    /// `progress` after each transaction and each failed attempt.
    ///
    /// # Errors
    ///
    /// [`ShipError`] for what retrying cannot fix: the log does not verify,
    /// equivocation, the store ahead of the log, a missing schema, a
    /// refused privilege.
    ///
    /// # Examples
    ///
    /// See [`Shipper`].
    pub fn run(
        &mut self,
        stop: &AtomicBool,
        mut progress: impl FnMut(&ShipProgress),
    ) -> Result<ShipProgress, ShipError> {
        let mut backoff = Duration::from_millis(100);
        loop {
            if stop.load(Ordering::Relaxed) {
                return Ok(self.progress.clone());
            }
            match self.session(stop, &mut progress)? {
                SessionEnd::Done => return Ok(self.progress.clone()),
                SessionEnd::Retry(error) => {
                    self.progress.retries += 1;
                    self.progress.waiting_for_store = true;
                    self.progress.last_error = Some(error);
                    progress(&self.progress);
                    wait(stop, backoff);
                    backoff = (backoff * 2).min(self.options.max_backoff);
                }
            }
        }
    }

    /// One connection's worth of shipping.
    fn session(
        &mut self,
        stop: &AtomicBool,
        progress: &mut impl FnMut(&ShipProgress),
    ) -> Result<SessionEnd, ShipError> {
        let stream = self.progress.stream.clone();
        let mut client = match self.config.connect(NoTls) {
            Ok(client) => client,
            Err(error) => return Ok(SessionEnd::Retry(error.to_string())),
        };
        let retry_or_fail = |error: PgError| -> Result<SessionEnd, ShipError> {
            if error.is_connection_lost() {
                Ok(SessionEnd::Retry(error.to_string()))
            } else {
                Err(error.into())
            }
        };
        if let Err(error) =
            require_schema(&mut client).and_then(|()| lock_stream(&mut client, &stream))
        {
            return retry_or_fail(error);
        }
        let head = match stream_head(&mut client, &stream) {
            Ok(head) => head,
            Err(error) => return retry_or_fail(error),
        };
        // A commit whose acknowledgement the connection lost: the rows are
        // stored, and they were this run's.
        if let Some(known_next) = self.known_next
            && let Some(unacknowledged) = head.next_seq.checked_sub(known_next)
        {
            self.progress.shipped += unacknowledged;
        }
        self.known_next = Some(head.next_seq);
        self.progress.stored_through = head.next_seq.checked_sub(1);
        self.progress.waiting_for_store = false;
        self.progress.last_error = None;
        let mut follower =
            LogFollower::open_at(&self.options.log, head.next_seq.saturating_sub(1))?;
        let position = self.position_at(&mut follower, head)?;
        let limit = self.options.batch_records.max(1);
        let follow = self.options.follow;
        // Reading and checking the log runs beside storing: the next batch
        // is made while the store takes the last one.
        let (sender, receiver) = std::sync::mpsc::sync_channel::<Chunk>(2);
        let session_over = AtomicBool::new(false);
        std::thread::scope(|scope| {
            let reader_stop = [stop, &session_over];
            scope.spawn(move || {
                read_batches(follower, position, limit, follow, reader_stop, sender)
            });
            // Dropped, and the reader told, however this loop ends: the
            // reader must not wait on a channel nobody reads.
            let batches = receiver;
            let _tell_reader = SetOnDrop(&session_over);
            let mut last_report = Instant::now();
            loop {
                let chunk = match batches.recv_timeout(Duration::from_millis(200)) {
                    Ok(chunk) => chunk,
                    Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
                        if client.is_closed() {
                            return Ok(SessionEnd::Retry("the connection closed".into()));
                        }
                        continue;
                    }
                    // The reader stopped: asked to, or done with a log it need not follow.
                    Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
                        progress(&self.progress);
                        return Ok(SessionEnd::Done);
                    }
                };
                let batch = match chunk {
                    Chunk::Rows(batch) => batch,
                    Chunk::Failed(error) => {
                        progress(&self.progress);
                        return Err(error);
                    }
                };
                let stored = client
                    .transaction()
                    .and_then(|mut transaction| {
                        copy_rows(&mut transaction, &stream, &batch)?;
                        transaction.commit()
                    })
                    .map_err(PgError::query("storing records"));
                if let Err(error) = stored {
                    return retry_or_fail(error);
                }
                self.progress.shipped += batch.len() as u64;
                self.progress.batches += 1;
                self.progress.stored_through =
                    batch.last().map(|row| row.columns.seq.unsigned_abs());
                self.known_next = self.progress.stored_through.map(|seq| seq + 1);
                if last_report.elapsed() >= Duration::from_millis(250) {
                    progress(&self.progress);
                    last_report = Instant::now();
                }
            }
        })
    }

    /// Reads up to the store's head, checking that the log's record there is
    /// the one stored; returns the chain position after it.
    fn position_at(
        &self,
        follower: &mut LogFollower,
        head: ChainHead,
    ) -> Result<ChainPosition, ShipError> {
        let stream = &self.progress.stream;
        let mut position = ChainPosition {
            expected: ChainHead {
                next_seq: 0,
                prev: GENESIS,
            },
            started: false,
        };
        if head.next_seq == 0 {
            return Ok(position);
        }
        let target = head.next_seq - 1;
        let mut found = None;
        let mut last_seen = None;
        let mut error = None;
        follower.read_available(|line| match chain::frame(line) {
            Ok(view) if view.seq < target => {
                last_seen = Some(view.seq);
                true
            }
            Ok(view) if view.seq == target => {
                last_seen = Some(view.seq);
                found = Some(view.stored_hash);
                false
            }
            Ok(view) => {
                error = Some(ShipError::Chain {
                    seq: target,
                    why: format!(
                        "the log jumps to seq {} and has no record {target}",
                        view.seq
                    ),
                });
                false
            }
            Err(why) => {
                error = Some(ShipError::Chain {
                    seq: target,
                    why: why.0.to_owned(),
                });
                false
            }
        })?;
        if let Some(error) = error {
            return Err(error);
        }
        let Some(local) = found else {
            return Err(ShipError::StoreAhead {
                stream: stream.clone(),
                stored_through: target,
                log_last: last_seen.map_or("it has none".into(), |seq| format!("seq {seq}")),
            });
        };
        if local != head.prev {
            return Err(ShipError::Equivocation {
                stream: stream.clone(),
                seq: target,
                stored: head.prev,
                local,
            });
        }
        position.expected = head;
        position.started = true;
        Ok(position)
    }
}

/// What the reading thread hands the storing loop.
enum Chunk {
    /// Checked rows, in seq order, at most a batch of them.
    Rows(Vec<PendingRow>),
    /// The log does not verify here: stop after what came before.
    Failed(ShipError),
}

/// Reads, checks and batches the log's lines until the log is shipped (not
/// following), `stop` is set, the storing loop goes away, or a line fails.
fn read_batches(
    mut follower: LogFollower,
    mut position: ChainPosition,
    limit: usize,
    follow: bool,
    stops: [&AtomicBool; 2],
    batches: std::sync::mpsc::SyncSender<Chunk>,
) {
    let stopped = || stops.iter().any(|stop| stop.load(Ordering::Relaxed));
    while !stopped() {
        let mut batch = Vec::new();
        let mut failure = None;
        let read = follower.read_available(|line| {
            match position.check(line) {
                Ok(row) => batch.push(row),
                Err(error) => {
                    failure = Some(error);
                    return false;
                }
            }
            batch.len() < limit
        });
        let caught_up = batch.len() < limit;
        if !batch.is_empty() && batches.send(Chunk::Rows(batch)).is_err() {
            return;
        }
        if let Some(error) = failure.or(read.err().map(ShipError::Log)) {
            let _ = batches.send(Chunk::Failed(error));
            return;
        }
        if caught_up {
            if !follow {
                return;
            }
            wait(stops[0], Duration::from_millis(50));
        }
    }
}

/// Sets its flag when dropped.
struct SetOnDrop<'a>(&'a AtomicBool);

impl Drop for SetOnDrop<'_> {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

/// Where the chain stands in the log: what the next line must be.
struct ChainPosition {
    expected: ChainHead,
    started: bool,
}

impl ChainPosition {
    /// Checks the next line, and makes it a row.
    fn check(&mut self, line: &[u8]) -> Result<PendingRow, ShipError> {
        let seq = self.expected.next_seq;
        let fail = |why: String| ShipError::Chain { seq, why };
        let view = chain::frame(line).map_err(|e| fail(format!("not a record: {}", e.0)))?;
        if !self.started && view.seq != 0 {
            return Err(fail(format!(
                "the log starts at seq {} (records before it were retired); ship it into a store that holds them, or start a new stream from a log that begins at seq 0",
                view.seq
            )));
        }
        if view.seq != seq {
            return Err(fail(format!(
                "found seq {} where seq {seq} belongs",
                view.seq
            )));
        }
        if view.prev != self.expected.prev {
            return Err(fail(
                "its prev is not the hash of the record before it".into(),
            ));
        }
        if view.computed_hash() != view.stored_hash {
            return Err(fail(
                "its bytes do not hash to the hash it carries (modified)".into(),
            ));
        }
        // Parsing the columns is the record's validation (section 2).
        let columns = Columns::of_line(line).map_err(fail)?;
        self.expected = ChainHead {
            next_seq: seq + 1,
            prev: view.stored_hash,
        };
        self.started = true;
        Ok(PendingRow {
            columns,
            line: line.to_vec(),
        })
    }
}

/// Waits up to `duration`, returning early when `stop` is set.
fn wait(stop: &AtomicBool, duration: Duration) {
    let deadline = Instant::now() + duration;
    while !stop.load(Ordering::Relaxed) {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return;
        }
        std::thread::sleep(left.min(Duration::from_millis(20)));
    }
}
