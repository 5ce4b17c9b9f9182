//! [`PgSink`]: the writer thread stores batches straight into the store.

use std::io;

use postgres::binary_copy::BinaryCopyInWriter;
use postgres::types::Type;
use postgres::{Client, NoTls};

use super::columns::Columns;
use super::store::{
    PgError, check_stream_name, lock_stream, off_runtime, require_schema, stream_head,
};
use crate::record::chain::ChainHead;
use crate::store::sink::{Batch, Recovery, Sink};

/// The statement every writer stores rows with.
pub(crate) const COPY_IN: &str = "COPY audit.records (stream, seq, hash, prev, time, kind, action, actor, resource, outcome, category, service, host, line) FROM STDIN (FORMAT binary)";

pub(crate) const COPY_TYPES: [Type; 14] = [
    Type::TEXT,
    Type::INT8,
    Type::BYTEA,
    Type::BYTEA,
    Type::TIMESTAMPTZ,
    Type::TEXT,
    Type::TEXT,
    Type::TEXT,
    Type::TEXT,
    Type::TEXT,
    Type::TEXT,
    Type::TEXT,
    Type::TEXT,
    Type::BYTEA,
];

/// A line ready to store: its columns and its bytes without the newline.
#[derive(Debug, Clone)]
pub(crate) struct PendingRow {
    pub(crate) columns: Columns,
    pub(crate) line: Vec<u8>,
}

impl PendingRow {
    pub(crate) fn of_line(line: &[u8]) -> Result<PendingRow, String> {
        let line = line.strip_suffix(b"\n").unwrap_or(line);
        Ok(PendingRow {
            columns: Columns::of_line(line)?,
            line: line.to_vec(),
        })
    }
}

/// Stores `rows` of `stream` with one COPY, inside whatever transaction is open.
pub(crate) fn copy_rows(
    client: &mut impl postgres::GenericClient,
    stream: &str,
    rows: &[PendingRow],
) -> Result<u64, postgres::Error> {
    let sink = client.copy_in(COPY_IN)?;
    let mut writer = BinaryCopyInWriter::new(sink, &COPY_TYPES);
    for row in rows {
        let c = &row.columns;
        writer.write(&[
            &stream,
            &c.seq,
            &c.hash.as_bytes().as_slice(),
            &c.prev.as_bytes().as_slice(),
            &c.time,
            &c.kind,
            &c.action,
            &c.actor,
            &c.resource,
            &c.outcome,
            &c.category,
            &c.service,
            &c.host,
            &row.line.as_slice(),
        ])?;
    }
    writer.finish()
}

/// Stores the log in PostgreSQL, as one stream (feature `postgres`).
///
/// For services without a durable local disk: the writer thread stores each
/// batch with one `COPY` into an open transaction, and [`sync`](Sink::sync)
/// commits it, so the writer's durability settings keep their meaning
/// (group commit commits once per batch; strict mode once per record; an
/// interval commits once per interval, and at least every second or 50,000
/// rows, since an open transaction hides its rows from readers).
///
/// - On start it learns its stream's head from the store through
///   `audit.stream_head`, so it needs only the writer role.
/// - One writer per stream: it holds an advisory lock on the stream's name
///   for as long as it is connected; a second sink on the same stream fails
///   with [`PgError::StreamBusy`].
/// - Lines appended but not yet committed are kept until the commit
///   succeeds: if the connection breaks, they are stored again after
///   reconnecting, before anything new, so a lost connection loses nothing
///   the writer was told was written.
///
/// # Examples
///
/// ```no_run
/// use audit_layer::{AuditEvent, AuditWriter, PgSink, default_stream_name};
///
/// let stream = default_stream_name("blog-api", "web-1");
/// let sink = PgSink::connect("postgresql://blog_service@db.internal/audit", &stream)?;
/// let (audit, guard) = AuditWriter::builder().service("blog-api").spawn(sink)?;
/// audit.submit(AuditEvent::builder("post.publish").actor("alice").build())?;
/// guard.shutdown(std::time::Duration::from_secs(5))?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct PgSink {
    config: postgres::Config,
    client: Option<Client>,
    stream: String,
    /// Rows appended since the last commit that succeeded.
    pending: Vec<PendingRow>,
    in_transaction: bool,
    /// When the open transaction began.
    opened_at: std::time::Instant,
}

/// A transaction left open longer than this, or holding more rows, is
/// committed by the next append, whatever the writer's durability: an open
/// transaction hides its rows from readers and holds its locks.
const MAX_OPEN: std::time::Duration = std::time::Duration::from_secs(1);
const MAX_PENDING_ROWS: usize = 50_000;

impl std::fmt::Debug for PgSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgSink")
            .field("stream", &self.stream)
            .field("pending", &self.pending.len())
            .finish_non_exhaustive()
    }
}

fn io_error(error: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> io::Error {
    io::Error::other(error)
}

impl PgSink {
    /// Connects to the store at `url` and takes `stream`.
    ///
    /// # Errors
    ///
    /// [`PgError::Url`], [`PgError::Connect`]; [`PgError::StreamName`] for
    /// an empty or over-long name or one with control characters;
    /// [`PgError::StreamBusy`] when another sink holds the stream;
    /// [`PgError::NotInstalled`] when `audit db init` has not been run.
    ///
    /// # Examples
    ///
    /// See [`PgSink`].
    pub fn connect(url: &str, stream: &str) -> Result<Self, PgError> {
        check_stream_name(stream)?;
        let config: postgres::Config = url.parse().map_err(PgError::Url)?;
        let mut sink = PgSink {
            config,
            client: None,
            stream: stream.to_owned(),
            pending: Vec::new(),
            in_transaction: false,
            opened_at: std::time::Instant::now(),
        };
        off_runtime(|| sink.connection().map(|_| ()))?;
        Ok(sink)
    }

    /// The stream this sink appends to.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// let sink = audit_layer::PgSink::connect("postgresql://blog@db/audit", "blog-api@web-1")?;
    /// assert_eq!(sink.stream(), "blog-api@web-1");
    /// # Ok::<(), audit_layer::PgError>(())
    /// ```
    pub fn stream(&self) -> &str {
        &self.stream
    }

    /// The open connection, reconnecting (and taking the stream's lock
    /// again) when there is none or it broke.
    fn connection(&mut self) -> Result<&mut Client, PgError> {
        if self.client.as_ref().is_some_and(Client::is_closed) {
            self.client = None;
            self.in_transaction = false;
        }
        if self.client.is_none() {
            let mut client = self.config.connect(NoTls).map_err(PgError::Connect)?;
            require_schema(&mut client)?;
            lock_stream(&mut client, &self.stream)?;
            self.client = Some(client);
        }
        Ok(self.client.as_mut().expect("connected above"))
    }

    /// Stores again, and commits, the rows of a transaction that was lost;
    /// returns the head after them.
    fn restore_pending(&mut self) -> Result<ChainHead, io::Error> {
        let stream = self.stream.clone();
        let head = stream_head(self.connection().map_err(io_error)?, &stream).map_err(io_error)?;
        let missing: Vec<PendingRow> = self
            .pending
            .iter()
            .filter(|row| row.columns.seq.unsigned_abs() >= head.next_seq)
            .cloned()
            .collect();
        if let Some(first) = missing.first() {
            if first.columns.seq.unsigned_abs() != head.next_seq || first.columns.prev != head.prev
            {
                return Err(io_error(format!(
                    "stream `{stream}` changed under this writer: the store's head is seq {}, and the lines waiting to be stored start at seq {}",
                    head.next_seq, first.columns.seq
                )));
            }
            let client = self.connection().map_err(io_error)?;
            let mut transaction = client.transaction().map_err(io_error)?;
            copy_rows(&mut transaction, &stream, &missing).map_err(io_error)?;
            transaction.commit().map_err(io_error)?;
        }
        self.pending.clear();
        let client = self.connection().map_err(io_error)?;
        stream_head(client, &stream).map_err(io_error)
    }

    fn abandon_transaction(&mut self) {
        if let Some(client) = &mut self.client
            && client.batch_execute("ROLLBACK").is_err()
        {
            self.client = None;
        }
        self.in_transaction = false;
    }
}

impl Sink for PgSink {
    fn recover(&mut self) -> io::Result<Recovery> {
        if self.in_transaction {
            self.abandon_transaction();
        }
        let head = off_runtime(|| self.restore_pending())?;
        Ok(Recovery::clean(head))
    }

    fn append(&mut self, batch: &Batch<'_>) -> io::Result<()> {
        // A broken connection ends the transaction; reconnect first, so
        // that what it held is seen to be pending.
        self.connection().map_err(io_error)?;
        if !self.in_transaction && !self.pending.is_empty() {
            // A commit failed: what it held goes first.
            self.restore_pending()?;
        }
        let mut rows = Vec::with_capacity(batch.records().len());
        for (_, line) in batch.lines() {
            rows.push(PendingRow::of_line(line).map_err(io_error)?);
        }
        let stream = self.stream.clone();
        let opened = !self.in_transaction;
        let client = self.client.as_mut().expect("connected by restore or above");
        let stored = (|| {
            if opened {
                client.batch_execute("BEGIN")?;
            }
            copy_rows(client, &stream, &rows)
        })();
        match stored {
            Ok(_) => {
                if opened {
                    self.opened_at = std::time::Instant::now();
                }
                self.in_transaction = true;
                self.pending.extend(rows);
                if self.pending.len() >= MAX_PENDING_ROWS || self.opened_at.elapsed() >= MAX_OPEN {
                    self.sync()?;
                }
                Ok(())
            }
            Err(error) => {
                self.in_transaction = true;
                self.abandon_transaction();
                Err(io_error(error))
            }
        }
    }

    fn sync(&mut self) -> io::Result<()> {
        if !self.in_transaction {
            if self.pending.is_empty() {
                return Ok(());
            }
            return self.restore_pending().map(|_| ());
        }
        self.in_transaction = false;
        let client = self.connection().map_err(io_error)?;
        match client.batch_execute("COMMIT") {
            Ok(()) => {
                self.pending.clear();
                Ok(())
            }
            Err(error) => {
                if client.is_closed() {
                    self.client = None;
                }
                Err(io_error(error))
            }
        }
    }
}
