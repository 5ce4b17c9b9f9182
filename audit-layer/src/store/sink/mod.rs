//! Where sealed record lines are stored.
//!
//! The hash chain sits above this trait: a sink receives lines that are
//! already sealed and linked, so every sink gets tamper evidence without
//! knowing anything about hashing. A sink only has to store bytes in order,
//! say where the chain stands when it starts, and make writes durable on request.

use std::io;
use std::path::PathBuf;

use serde::Serialize;

use crate::record::anchor::Anchor;
use crate::record::chain::{ChainHead, Hash};
use crate::record::time::Timestamp;

mod file;
mod memory;
mod tail;

pub(crate) use file::anchors;
pub(crate) use file::last_stored_seq;
pub use file::{FileSink, FileSinkBuilder};
pub use memory::{MemoryLog, MemorySink};

/// Storage for sealed record lines.
///
/// The writer thread owns the sink and calls it from that thread only.
///
/// # Contract
///
/// - [`recover`](Sink::recover) is called before the first append, and again
///   after a failed append: it reports the head of the chain as stored and
///   repairs what a crash or a failed write left behind.
/// - [`append`](Sink::append) stores all records of a batch or none of them:
///   on error, no partial record may remain visible (the next `recover` may
///   also clean up).
/// - [`sync`](Sink::sync) returns once every appended byte is on stable storage.
///
/// # Examples
///
/// A sink that keeps lines in a vector (see [`MemorySink`] for a real one):
///
/// ```
/// use std::io;
/// use audit_layer::chain::ChainHead;
/// use audit_layer::sink::{Batch, Recovery, Sink};
///
/// struct Lines(Vec<Vec<u8>>, ChainHead);
///
/// impl Sink for Lines {
///     fn recover(&mut self) -> io::Result<Recovery> {
///         Ok(Recovery::clean(self.1))
///     }
///     fn append(&mut self, batch: &Batch<'_>) -> io::Result<()> {
///         for (record, line) in batch.lines() {
///             self.0.push(line.to_vec());
///             self.1 = ChainHead { next_seq: record.seq + 1, prev: record.hash };
///         }
///         Ok(())
///     }
///     fn sync(&mut self) -> io::Result<()> {
///         Ok(())
///     }
/// }
/// ```
pub trait Sink: Send + 'static {
    /// Finds where the stored chain ends, repairing a torn tail if there is one.
    ///
    /// # Errors
    ///
    /// Any I/O error that keeps the head from being known.
    fn recover(&mut self) -> io::Result<Recovery>;

    /// Stores the batch's lines after everything stored so far.
    ///
    /// # Errors
    ///
    /// Any I/O error; then no record of the batch may remain stored.
    fn append(&mut self, batch: &Batch<'_>) -> io::Result<()>;

    /// Makes every appended byte durable.
    ///
    /// # Errors
    ///
    /// Any I/O error of the flush.
    fn sync(&mut self) -> io::Result<()>;

    /// The segments of the stored log, oldest first, for retention. Sinks
    /// that do not store segments keep the default: none.
    ///
    /// # Errors
    ///
    /// Any I/O error reading them.
    fn segments(&mut self) -> io::Result<Vec<SegmentSummary>> {
        Ok(Vec::new())
    }

    /// The directory where the log's Merkle tree is kept as tiles beside
    /// the records (`tile/`), for sinks that store files; the writer keeps
    /// the tree there. The default, `None`, keeps no tree on disk.
    ///
    /// # Examples
    ///
    /// ```
    /// use audit_layer::sink::Sink;
    /// let dir = tempfile::tempdir()?;
    /// let sink = audit_layer::FileSink::open(dir.path())?;
    /// assert_eq!(sink.tree_dir(), Some(dir.path()));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    fn tree_dir(&self) -> Option<&std::path::Path> {
        None
    }

    /// Stores the signed `anchor` note, then deletes every sealed segment
    /// whose records all precede `anchor.first_seq`.
    ///
    /// # Errors
    ///
    /// [`io::ErrorKind::Unsupported`] by default; any I/O error.
    fn retire(&mut self, anchor: &Anchor, note: &str) -> io::Result<Retired> {
        let _ = (anchor, note);
        Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "this sink cannot delete old records",
        ))
    }
}

/// One segment of a stored log.
///
/// # Examples
///
/// ```
/// use audit_layer::sink::SegmentSummary;
/// let current = SegmentSummary { first_seq: 0, bytes: 512, sealed: None };
/// assert!(current.sealed.is_none());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SegmentSummary {
    /// The seq of its first record.
    pub first_seq: u64,
    /// Its size.
    pub bytes: u64,
    /// For a segment no longer written to: what its last record is.
    pub sealed: Option<SealedSegment>,
}

/// The last record of a sealed segment.
///
/// # Examples
///
/// ```
/// use audit_layer::sink::SealedSegment;
/// let s = SealedSegment { last_seq: 9, last_hash: audit_layer::chain::GENESIS, newest: audit_layer::Timestamp::now() };
/// assert_eq!(s.last_seq, 9);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SealedSegment {
    /// Its seq.
    pub last_seq: u64,
    /// Its hash.
    pub last_hash: Hash,
    /// Its time: the newest in the segment.
    pub newest: Timestamp,
}

/// What [`Sink::retire`] deleted.
///
/// # Examples
///
/// ```
/// let r = audit_layer::sink::Retired { segments: 2, bytes: 1024, first_seq: 0, last_seq: 99 };
/// assert_eq!(r.segments, 2);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Retired {
    /// How many segments.
    pub segments: usize,
    /// How many bytes.
    pub bytes: u64,
    /// The first seq deleted.
    pub first_seq: u64,
    /// The last seq deleted.
    pub last_seq: u64,
}

/// One record of a [`Batch`].
///
/// # Examples
///
/// ```
/// use audit_layer::sink::BatchRecord;
/// use audit_layer::chain::GENESIS;
/// let record = BatchRecord { seq: 0, hash: GENESIS, end: 10 };
/// assert_eq!(record.end, 10);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchRecord {
    /// The record's seq.
    pub seq: u64,
    /// The record's hash.
    pub hash: Hash,
    /// Where the record's line (newline included) ends in [`Batch::bytes`].
    pub end: usize,
}

/// Consecutive sealed lines, handed to [`Sink::append`].
///
/// # Examples
///
/// ```
/// use audit_layer::sink::{Batch, BatchRecord};
/// use audit_layer::chain::GENESIS;
///
/// let records = [BatchRecord { seq: 0, hash: GENESIS, end: 4 }];
/// let batch = Batch::new(b"abc\n", &records);
/// let (record, line) = batch.lines().next().unwrap();
/// assert_eq!((record.seq, line), (0, &b"abc\n"[..]));
/// ```
#[derive(Debug, Clone, Copy)]
pub struct Batch<'a> {
    bytes: &'a [u8],
    records: &'a [BatchRecord],
}

impl<'a> Batch<'a> {
    /// A batch of `records` whose lines are laid end to end in `bytes`.
    ///
    /// # Examples
    ///
    /// See [`Batch`].
    pub fn new(bytes: &'a [u8], records: &'a [BatchRecord]) -> Self {
        debug_assert_eq!(records.last().map_or(0, |r| r.end), bytes.len());
        Batch { bytes, records }
    }

    /// All lines, end to end.
    ///
    /// # Examples
    ///
    /// ```
    /// # use audit_layer::sink::Batch;
    /// assert!(Batch::new(b"", &[]).bytes().is_empty());
    /// ```
    pub fn bytes(&self) -> &'a [u8] {
        self.bytes
    }

    /// The records, in seq order.
    ///
    /// # Examples
    ///
    /// ```
    /// # use audit_layer::sink::Batch;
    /// assert!(Batch::new(b"", &[]).records().is_empty());
    /// ```
    pub fn records(&self) -> &'a [BatchRecord] {
        self.records
    }

    /// Each record with its line (newline included).
    ///
    /// # Examples
    ///
    /// See [`Batch`].
    pub fn lines(&self) -> impl Iterator<Item = (&'a BatchRecord, &'a [u8])> + 'a {
        let bytes = self.bytes;
        let mut start = 0;
        self.records.iter().map(move |record| {
            let line = &bytes[start..record.end];
            start = record.end;
            (record, line)
        })
    }
}

/// Where the stored chain ends, and what had to be repaired to get there.
///
/// # Examples
///
/// ```
/// use audit_layer::chain::ChainHead;
/// use audit_layer::sink::Recovery;
/// assert!(Recovery::clean(ChainHead::genesis()).repairs.is_empty());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Recovery {
    /// The seq and prev hash the next record must have.
    pub head: ChainHead,
    /// Repairs made; the writer records each one in the chain.
    pub repairs: Vec<Repair>,
}

impl Recovery {
    /// A recovery that found nothing to repair.
    ///
    /// # Examples
    ///
    /// See [`Recovery`].
    pub fn clean(head: ChainHead) -> Self {
        Recovery {
            head,
            repairs: Vec::new(),
        }
    }
}

/// A repair a sink made while recovering. Each becomes a system record,
/// whose `after` holds these fields and, under the key `repair`, the
/// variant's name in snake case (FORMAT.md section 6). Paths are relative
/// to the log directory.
///
/// # Examples
///
/// ```
/// use audit_layer::sink::Repair;
/// let repair = Repair::TornTail {
///     segment: "segment-00000000000000000000.jsonl".into(),
///     offset: 512,
///     length: 17,
///     saved_to: None,
/// };
/// assert_eq!(repair.action(), "audit.repair.torn_tail");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "repair", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Repair {
    /// The last line was cut short (a crash or kill mid-write); its bytes were
    /// moved aside and the segment truncated to its last complete record.
    TornTail {
        /// The segment that ended in a partial line (its file name).
        segment: PathBuf,
        /// Where the partial line began.
        offset: u64,
        /// How many bytes it had.
        length: u64,
        /// Where its bytes were saved (`recovered/...`), if they could be.
        saved_to: Option<PathBuf>,
    },
    /// The last line was a whole record that lacked only its newline (a
    /// crash between the record's last byte and its newline); the newline
    /// was appended, and the record kept with its seq.
    NewlineRestored {
        /// The segment (its file name).
        segment: PathBuf,
        /// Where the record begins.
        offset: u64,
        /// The record's seq.
        seq: u64,
    },
    /// Complete lines at the end of the log did not frame as records; the
    /// chain continues from the last record before them, and the verifier
    /// reports them.
    UnreadableTail {
        /// The segment holding them.
        segment: PathBuf,
        /// Where the first of them begins.
        offset: u64,
        /// How many lines.
        lines: u64,
    },
}

impl Repair {
    /// The action of the system record that notes this repair.
    ///
    /// # Examples
    ///
    /// See [`Repair`].
    pub fn action(&self) -> &'static str {
        match self {
            Repair::TornTail { .. } => "audit.repair.torn_tail",
            Repair::UnreadableTail { .. } => "audit.repair.unreadable_tail",
            Repair::NewlineRestored { .. } => "audit.repair.newline_restored",
        }
    }
}
