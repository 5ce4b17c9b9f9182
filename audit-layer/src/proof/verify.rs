//! Checking a log: every record's hash, every link, every seq.
//!
//! The verifier reads the bytes as written and never re-serialises a record,
//! so it runs close to the speed of SHA-256 itself. It reports every problem
//! it finds, each with a stable [`FindingCode`], the record's seq and its
//! byte offset, and carries on after each one.

use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use serde::Serialize;

use std::collections::BTreeMap;

use crate::proof::checkpoint::{Checkpoint, CheckpointError};
use crate::proof::forward_seal::{EpochKeys, Seal, SealVerifyingKey};
use crate::proof::note::{NoteError, VerifierKey};
use crate::record::anchor::Anchor;
use crate::record::chain::{self, FORMAT_VERSION, FramingError, GENESIS, Hash};
use crate::store::safe_open;
use crate::store::segment;

/// What kind of problem a [`Finding`] is. The codes are stable: scripts may
/// match on [`as_str`](FindingCode::as_str).
///
/// # Examples
///
/// ```
/// use audit_layer::FindingCode;
/// assert_eq!(FindingCode::BrokenLink.as_str(), "broken-link");
/// assert!(FindingCode::Modified.is_tampering());
/// assert!(!FindingCode::TornTail.is_tampering());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum FindingCode {
    /// A record's bytes do not hash to the hash it carries.
    Modified,
    /// Records are absent: the seq jumps, and no later record fills the gap.
    Missing,
    /// A seq appears twice.
    Duplicate,
    /// A record stands before one with a lower seq.
    OutOfOrder,
    /// A record's `prev` is not the hash of the record before it.
    BrokenLink,
    /// A line that is not a record.
    Malformed,
    /// The last line of the log is cut short, as a crash mid-write leaves it.
    /// Not tampering: recovery truncates it and notes the repair.
    TornTail,
    /// A record of a newer format version. Its hash and link were checked
    /// (framing is the same in every version) but its fields were not interpreted.
    UnsupportedVersion,
    /// The log is shorter than a trusted checkpoint says it was.
    Truncated,
    /// At a trusted checkpoint's size, the log's head is not the one signed:
    /// the history was re-written (and re-chained) since.
    Rechained,
    /// Two trusted checkpoints of one log and one size disagree.
    Equivocation,
    /// A checkpoint or anchor whose signature, by a trusted key, does not verify.
    BadSignature,
    /// A checkpoint or anchor signed by no trusted key.
    UnknownKey,
    /// A forward-secure seal that does not verify under its epoch's key:
    /// forged, or re-made with a key stolen later.
    BadSeal,
    /// Epochs with no seal between sealed ones (or before the first): the
    /// log was cut and sealed on from a later epoch, or sealing stopped.
    SealGap,
    /// Something with a segment's or an anchor's name that is not a regular
    /// file (a symbolic link, a FIFO, a device, a directory): planted, and
    /// never read.
    ForeignFile,
    /// A segment whose first record's seq is not the seq its name announces.
    MisnamedSegment,
    /// Checkpoints were asked for, and none could be compared with the log:
    /// the check asked for was not made.
    NoCheckpoint,
    /// Seals were asked for, and none verified: the seals file is missing or
    /// empty, so the check asked for was not made.
    NoSeal,
}

impl FindingCode {
    /// The stable code.
    ///
    /// # Examples
    ///
    /// See [`FindingCode`].
    pub fn as_str(&self) -> &'static str {
        match self {
            FindingCode::Modified => "modified",
            FindingCode::Missing => "missing",
            FindingCode::Duplicate => "duplicate",
            FindingCode::OutOfOrder => "out-of-order",
            FindingCode::BrokenLink => "broken-link",
            FindingCode::Malformed => "malformed",
            FindingCode::TornTail => "torn-tail",
            FindingCode::UnsupportedVersion => "unsupported-version",
            FindingCode::Truncated => "truncated",
            FindingCode::Rechained => "rechained",
            FindingCode::Equivocation => "equivocation",
            FindingCode::BadSignature => "bad-signature",
            FindingCode::UnknownKey => "unknown-key",
            FindingCode::BadSeal => "bad-seal",
            FindingCode::SealGap => "seal-gap",
            FindingCode::ForeignFile => "foreign-file",
            FindingCode::MisnamedSegment => "misnamed-segment",
            FindingCode::NoCheckpoint => "no-checkpoint",
            FindingCode::NoSeal => "no-seal",
        }
    }

    /// Every code, in the order of [`FindingCode`]'s variants.
    ///
    /// # Examples
    ///
    /// ```
    /// use audit_layer::FindingCode;
    /// assert!(FindingCode::ALL.iter().any(|c| c.as_str() == "no-seal"));
    /// ```
    pub const ALL: [FindingCode; 19] = [
        FindingCode::Modified,
        FindingCode::Missing,
        FindingCode::Duplicate,
        FindingCode::OutOfOrder,
        FindingCode::BrokenLink,
        FindingCode::Malformed,
        FindingCode::TornTail,
        FindingCode::UnsupportedVersion,
        FindingCode::Truncated,
        FindingCode::Rechained,
        FindingCode::Equivocation,
        FindingCode::BadSignature,
        FindingCode::UnknownKey,
        FindingCode::BadSeal,
        FindingCode::SealGap,
        FindingCode::ForeignFile,
        FindingCode::MisnamedSegment,
        FindingCode::NoCheckpoint,
        FindingCode::NoSeal,
    ];

    /// Whether the finding means the log was changed after it was written
    /// (as opposed to cut short by a crash, written by a newer version, or
    /// not checkable against what was asked for).
    ///
    /// # Examples
    ///
    /// See [`FindingCode`].
    pub fn is_tampering(&self) -> bool {
        !matches!(
            self,
            FindingCode::TornTail
                | FindingCode::UnsupportedVersion
                | FindingCode::UnknownKey
                | FindingCode::NoCheckpoint
                | FindingCode::NoSeal
        )
    }
}

impl std::fmt::Display for FindingCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One problem in a log.
///
/// # Examples
///
/// ```
/// use audit_layer::{FindingCode, Verifier};
///
/// let report = Verifier::new().verify_bytes(b"not a record\n");
/// let finding = &report.findings[0];
/// assert_eq!(finding.code, FindingCode::Malformed);
/// assert_eq!(finding.offset, 0);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Finding {
    /// What kind of problem.
    pub code: FindingCode,
    /// The seq concerned, when known (for `missing`, the first missing seq).
    pub seq: Option<u64>,
    /// The segment file, when verifying a directory or file.
    pub segment: Option<PathBuf>,
    /// Byte offset of the line in its segment.
    pub offset: u64,
    /// What exactly is wrong.
    pub message: String,
}

impl std::fmt::Display for Finding {
    /// One line for a terminal: file names and messages (which may quote
    /// what a log holds) are shown with control characters escaped.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:<19}", self.code.as_str())?;
        match self.seq {
            Some(seq) => write!(f, " seq {seq:<8}")?,
            None => write!(f, " seq {:<8}", "?")?,
        }
        match &self.segment {
            Some(segment) => write!(
                f,
                " {}:{}",
                crate::record::terminal_text::TerminalSafe(
                    &segment
                        .file_name()
                        .map_or(segment.as_os_str(), |n| n)
                        .to_string_lossy()
                ),
                self.offset
            )?,
            None => write!(f, " offset {}", self.offset)?,
        }
        write!(
            f,
            "  {}",
            crate::record::terminal_text::TerminalSafe(&self.message)
        )
    }
}

/// The outcome of verifying a log.
///
/// # Examples
///
/// ```
/// let report = audit_layer::Verifier::new().verify_bytes(b"");
/// assert!(report.is_intact());
/// assert_eq!(report.summary(), "verified 0 records");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Report {
    /// Lines that framed as records (modified ones included).
    pub records: u64,
    /// Lowest seq seen.
    pub first_seq: Option<u64>,
    /// Highest seq seen.
    pub last_seq: Option<u64>,
    /// Hash of the last record in chain order: the value a checkpoint signs.
    pub head: Option<Hash>,
    /// Bytes checked.
    pub bytes: u64,
    /// Segment files read.
    pub segments: usize,
    /// Whether a writer held the log while it was read.
    pub live: bool,
    /// Bytes at the end of a live log that a writer was still writing; not
    /// checked, not a finding.
    pub in_flight_bytes: u64,
    /// Every problem found, in log order; past [`MAX_LISTED_FINDINGS`],
    /// only counted (in [`finding_counts`](Report::finding_counts)).
    pub findings: Vec<Finding>,
    /// How many findings of each code there were, listed or not.
    pub finding_counts: BTreeMap<FindingCode, u64>,
    /// Findings counted but not listed, past [`MAX_LISTED_FINDINGS`].
    pub findings_unlisted: u64,
    /// The anchor the log starts from after retention, if it has one.
    pub anchor: Option<AnchorStatus>,
    /// Trusted checkpoints the log matched.
    pub checkpoints_matched: usize,
    /// The largest checkpoint size the log matched: records below it are
    /// anchored in state kept outside the log.
    pub anchored_through: Option<u64>,
    /// Records after the last matched checkpoint (first and last seq):
    /// verified, not yet anchored. Not a finding.
    pub unanchored: Option<(u64, u64)>,
    /// What the forward-secure seals showed, when they were checked.
    pub seals: Option<SealStatus>,
}

/// What checking a log's forward-secure seals showed, beside the findings.
///
/// # Examples
///
/// ```
/// // Seals are checked only when a verifying key is given.
/// let report = audit_layer::Verifier::new().verify_bytes(b"");
/// assert!(report.seals.is_none());
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct SealStatus {
    /// Seals that verified under their epoch's key.
    pub seals: usize,
    /// The last epoch sealed.
    pub last_epoch: Option<u64>,
    /// The largest size a seal vouches for and the log matches.
    pub sealed_through: Option<u64>,
    /// Records after the last seal (first and last seq): verified, not yet
    /// sealed. Not a finding.
    pub unsealed: Option<(u64, u64)>,
    /// Epochs that had ended by the verifier's clock after the last seal
    /// (or from epoch 0, with none): the writer was stopped, or the log and
    /// its seals were cut at the tail, which only a checkpoint can tell
    /// apart. Not a finding.
    pub epochs_ended_unsealed: u64,
}

/// The log's head at some size, as a verification walk saw it.
enum HeadAt {
    /// The hash (`None` if the record at that seq was unreadable).
    Known(Option<Hash>),
    /// Deleted by retention before the anchor: nothing left to compare.
    Deleted,
    /// The log is shorter; says what it has now.
    Beyond(String),
}

/// A seals file and the key to check it with.
struct SealsToCheck {
    key: SealVerifyingKey,
    source: PathBuf,
    text: String,
}

/// The retention anchor a verified log starts from.
///
/// # Examples
///
/// ```
/// // A log that retention never cut has no anchor.
/// let report = audit_layer::Verifier::new().verify_bytes(b"");
/// assert!(report.anchor.is_none());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct AnchorStatus {
    /// The first seq the log keeps.
    pub first_seq: u64,
    /// The trusted key that signed it; `None` when no key was given.
    pub signed_by: Option<String>,
}

/// How many findings a [`Report`] lists one by one; the rest are counted.
/// A log of random bytes would otherwise cost memory without end.
pub const MAX_LISTED_FINDINGS: usize = 10_000;

impl Report {
    /// Whether nothing at all was found.
    ///
    /// # Examples
    ///
    /// See [`Report`].
    pub fn is_intact(&self) -> bool {
        self.finding_counts.is_empty()
    }

    /// How many findings there were, listed or not.
    ///
    /// # Examples
    ///
    /// ```
    /// let report = audit_layer::Verifier::new().verify_bytes(b"junk\n");
    /// assert_eq!(report.finding_total(), 1);
    /// ```
    pub fn finding_total(&self) -> u64 {
        self.finding_counts.values().sum()
    }

    /// Whether any finding shows the log was changed after it was written.
    ///
    /// # Examples
    ///
    /// ```
    /// let report = audit_layer::Verifier::new().verify_bytes(b"{\"v\":1,\"seq\":0");
    /// assert!(!report.is_intact());
    /// assert!(!report.shows_tampering()); // a torn tail
    /// ```
    pub fn shows_tampering(&self) -> bool {
        self.finding_counts.keys().any(FindingCode::is_tampering)
    }

    /// `verified N records, seq A..B, head H`.
    ///
    /// # Examples
    ///
    /// See [`Report`].
    pub fn summary(&self) -> String {
        let mut text = format!(
            "verified {} record{}",
            self.records,
            if self.records == 1 { "" } else { "s" }
        );
        if let (Some(first), Some(last)) = (self.first_seq, self.last_seq) {
            text.push_str(&format!(", seq {first}..{last}"));
        }
        if let Some(head) = self.head {
            text.push_str(&format!(", head {head}"));
        }
        text
    }
}

/// The error of a verification that could not run at all (as opposed to
/// one that ran and found problems).
///
/// # Examples
///
/// ```
/// let error = audit_layer::Verifier::new().verify_path("/no/such/log").unwrap_err();
/// assert!(error.to_string().contains("/no/such/log"));
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum VerifyError {
    /// The log could not be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The I/O error.
        source: io::Error,
    },
    /// The directory holds no segment files.
    #[error("{0} holds no segment files (segment-<seq>.jsonl)")]
    NoSegments(PathBuf),
    /// A checkpoint was taken from the log being verified: whoever can
    /// rewrite the log could rewrite it too.
    #[error("{0} is inside the log being verified: checkpoints must come from elsewhere")]
    CheckpointInsideLog(PathBuf),
    /// Checkpoints were given but no key to check them.
    #[error("checkpoints need at least one trusted key to be checked (--key)")]
    NoKeys,
    /// The function handed each line returned this error, which stopped
    /// the walk (see [`Verifier::verify_path_with`]).
    #[error("{0}")]
    Output(#[source] io::Error),
}

/// One line of a log, as [`Verifier::verify_path_with`] hands it over.
///
/// # Examples
///
/// See [`Verifier::verify_path_with`].
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct CheckedLine<'l> {
    /// The line's bytes, without its newline.
    pub line: &'l [u8],
    /// Its seq, when it frames as a record.
    pub seq: Option<u64>,
    /// The segment file it is in (`None` for bytes in memory).
    pub segment: Option<&'l Path>,
    /// Its byte offset in that segment.
    pub offset: u64,
    /// Whether the verifier vouches for it so far: it is a valid record
    /// whose hash, link and seq check out. A finding about the log as a
    /// whole (a checkpoint or seal that does not match) can still come
    /// later; the final [`Report`] says.
    pub verified: bool,
    /// The first finding about this line, when it is not verified.
    pub problem: Option<FindingCode>,
}

type Visitor<'v> = &'v mut dyn FnMut(CheckedLine<'_>) -> io::Result<()>;

type Progress<'a> = Box<dyn FnMut(u64, u64) + 'a>;

/// Verifies logs; see [`verify_path`](Verifier::verify_path).
///
/// # Examples
///
/// ```
/// use audit_layer::{AuditEvent, AuditWriter, FileSink, Verifier};
///
/// let dir = tempfile::tempdir()?;
/// let (handle, guard) = AuditWriter::builder().spawn(FileSink::open(dir.path())?)?;
/// for n in 0..3 {
///     handle.submit(AuditEvent::builder("post.edit").resource(format!("post:{n}")).build())?;
/// }
/// guard.shutdown(std::time::Duration::from_secs(5))?;
///
/// let report = Verifier::new().verify_path(dir.path())?;
/// assert!(report.is_intact());
/// assert_eq!((report.records, report.last_seq), (3, Some(2)));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Default)]
pub struct Verifier<'a> {
    progress: Option<Progress<'a>>,
    threads: Option<usize>,
    keys: Vec<VerifierKey>,
    checkpoints: Vec<(PathBuf, String)>,
    checkpoints_expected: bool,
    seals: Option<SealsToCheck>,
}

/// A note file is a few hundred bytes; anything far larger is not one.
const NOTE_LIMIT: u64 = 64 * 1024;
/// A seals file gains one short line an epoch: 2^26 bytes is centuries of them.
const SEALS_LIMIT: u64 = 64 * 1024 * 1024;

impl std::fmt::Debug for Verifier<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Verifier").finish_non_exhaustive()
    }
}

const READ_CHUNK: usize = 8 * 1024 * 1024;

impl<'a> Verifier<'a> {
    /// A verifier with no progress reporting.
    ///
    /// # Examples
    ///
    /// See [`Verifier`].
    pub fn new() -> Self {
        Verifier {
            progress: None,
            threads: None,
            keys: Vec::new(),
            checkpoints: Vec::new(),
            checkpoints_expected: false,
            seals: None,
        }
    }

    /// Requires that at least one trusted checkpoint be compared with the
    /// log: without one, the report has a `no-checkpoint` finding. Giving
    /// any checkpoint implies it; this is for a caller that looked for
    /// checkpoints and may have found none.
    ///
    /// # Examples
    ///
    /// ```
    /// use audit_layer::{FindingCode, SignerKey, Verifier};
    /// let key = SignerKey::generate("example.com/log")?;
    /// let report = Verifier::new().trust(key.verifier()).expect_checkpoints().verify_bytes(b"");
    /// assert_eq!(report.findings[0].code, FindingCode::NoCheckpoint);
    /// # Ok::<(), audit_layer::NoteError>(())
    /// ```
    pub fn expect_checkpoints(mut self) -> Self {
        self.checkpoints_expected = true;
        self
    }

    /// Checks the log against the checkpoints at `path`: a note file, or a
    /// directory whose regular `*.note` files are each read. Implies
    /// [`expect_checkpoints`](Verifier::expect_checkpoints). Links and
    /// other non-regular files are not read.
    ///
    /// # Errors
    ///
    /// [`VerifyError::Io`] naming the path when it cannot be read, is not a
    /// regular file or directory, or a note in it is larger than 64 KiB.
    ///
    /// # Examples
    ///
    /// ```
    /// use audit_layer::{Checkpoint, SignerKey, Verifier};
    /// let key = SignerKey::generate("example.com/log")?;
    /// let kept = tempfile::tempdir()?;
    /// let note = Checkpoint { origin: "example.com/log".into(), size: 0, head: audit_layer::chain::GENESIS }.sign(&key);
    /// std::fs::write(kept.path().join("cp.note"), note)?;
    /// let report = Verifier::new().trust(key.verifier()).checkpoints_from(kept.path())?.verify_bytes(b"");
    /// assert_eq!(report.checkpoints_matched, 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn checkpoints_from(mut self, path: impl AsRef<Path>) -> Result<Self, VerifyError> {
        let path = path.as_ref();
        let io_error = |path: &Path, source| VerifyError::Io {
            path: path.to_owned(),
            source,
        };
        self.checkpoints_expected = true;
        let metadata = std::fs::metadata(path).map_err(|e| io_error(path, e))?;
        if !metadata.is_dir() {
            let note = safe_open::read_text(path, NOTE_LIMIT).map_err(|e| io_error(path, e))?;
            return Ok(self.checkpoint(path, note));
        }
        let mut notes = Vec::new();
        for entry in std::fs::read_dir(path).map_err(|e| io_error(path, e))? {
            let entry = entry.map_err(|e| io_error(path, e))?;
            let name = entry.path();
            let is_note = name.extension().is_some_and(|e| e == "note");
            if is_note && entry.file_type().is_ok_and(|t| t.is_file()) {
                notes.push(name);
            }
        }
        notes.sort();
        for note_path in notes {
            let note = safe_open::read_text(&note_path, NOTE_LIMIT)
                .map_err(|e| io_error(&note_path, e))?;
            self = self.checkpoint(note_path, note);
        }
        Ok(self)
    }

    /// Checks the log against the seals file at `path` with the auditor's
    /// `key`, as [`seals`](Verifier::seals) does. A missing file is read as
    /// empty, which is a `no-seal` finding: a check was asked for and there
    /// is nothing to check against. The file is not read through a link.
    ///
    /// # Errors
    ///
    /// [`VerifyError::Io`] naming the path when it exists but cannot be
    /// read, is not a regular file, or is larger than 64 MiB.
    ///
    /// # Examples
    ///
    /// ```
    /// use audit_layer::{FindingCode, SealingKey, Verifier, DEFAULT_EPOCH};
    /// let (_sealing, verifying) = SealingKey::generate(DEFAULT_EPOCH)?;
    /// let report = Verifier::new().seals_file(verifying, "/no/such/seals.jsonl")?.verify_bytes(b"");
    /// assert_eq!(report.findings[0].code, FindingCode::NoSeal);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn seals_file(
        self,
        key: SealVerifyingKey,
        path: impl AsRef<Path>,
    ) -> Result<Self, VerifyError> {
        let path = path.as_ref();
        let text = match safe_open::read_text(path, SEALS_LIMIT) {
            Ok(text) => text,
            Err(error) if error.kind() == io::ErrorKind::NotFound => String::new(),
            Err(source) => {
                return Err(VerifyError::Io {
                    path: path.to_owned(),
                    source,
                });
            }
        };
        Ok(self.seals(key, path, text))
    }

    /// Checks the log against its forward-secure seals: `text` is the seals
    /// file (named `source` in findings), `key` the auditor's verifying key.
    /// Unlike checkpoints, seals may live beside the log: what protects them
    /// is that no one on the writer's machine holds an earlier epoch's key.
    ///
    /// # Examples
    ///
    /// ```
    /// use audit_layer::{SealingKey, Verifier, DEFAULT_EPOCH};
    /// let (_sealing, verifying) = SealingKey::generate(DEFAULT_EPOCH)?;
    /// // No seal at all for a log: epoch 0 has none.
    /// let report = Verifier::new().seals(verifying, "seals.jsonl", "").verify_bytes(b"");
    /// assert_eq!(report.seals.unwrap().seals, 0);
    /// # Ok::<(), audit_layer::SealError>(())
    /// ```
    pub fn seals(
        mut self,
        key: SealVerifyingKey,
        source: impl Into<PathBuf>,
        text: impl Into<String>,
    ) -> Self {
        self.seals = Some(SealsToCheck {
            key,
            source: source.into(),
            text: text.into(),
        });
        self
    }

    /// Trusts `key` for checkpoints and anchors. Several keys may be trusted
    /// at once (key rotation).
    ///
    /// # Examples
    ///
    /// ```
    /// let key = audit_layer::SignerKey::generate("example.com/log")?;
    /// let verifier = audit_layer::Verifier::new().trust(key.verifier());
    /// # let _ = verifier;
    /// # Ok::<(), audit_layer::NoteError>(())
    /// ```
    pub fn trust(mut self, key: VerifierKey) -> Self {
        self.keys.push(key);
        self
    }

    /// Checks the log against a signed checkpoint (the note's text), read
    /// from `source` (named in findings). Checkpoints must come from outside
    /// the log.
    ///
    /// # Examples
    ///
    /// ```
    /// use audit_layer::{Checkpoint, SignerKey, Verifier};
    /// let key = SignerKey::generate("example.com/log")?;
    /// let note = Checkpoint { origin: "example.com/log".into(), size: 0, head: audit_layer::chain::GENESIS }.sign(&key);
    /// let report = Verifier::new().trust(key.verifier()).checkpoint("kept-elsewhere.note", note).verify_bytes(b"");
    /// assert!(report.is_intact());
    /// # Ok::<(), audit_layer::NoteError>(())
    /// ```
    pub fn checkpoint(mut self, source: impl Into<PathBuf>, note: impl Into<String>) -> Self {
        self.checkpoints.push((source.into(), note.into()));
        self
    }

    /// Hashes on `threads` threads (all available cores by default). The
    /// chain itself is checked in order on one thread either way.
    ///
    /// # Examples
    ///
    /// ```
    /// let report = audit_layer::Verifier::new().threads(1).verify_bytes(b"");
    /// assert!(report.is_intact());
    /// ```
    pub fn threads(mut self, threads: usize) -> Self {
        self.threads = Some(threads.max(1));
        self
    }

    fn thread_count(&self) -> usize {
        self.threads.unwrap_or_else(|| {
            std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)
        })
    }

    /// Calls `report(bytes_done, bytes_total)` as verification proceeds.
    ///
    /// # Examples
    ///
    /// ```
    /// let mut seen = 0;
    /// let report = audit_layer::Verifier::new()
    ///     .on_progress(|done, _total| seen = done)
    ///     .verify_bytes(b"");
    /// # let _ = report;
    /// ```
    pub fn on_progress(mut self, report: impl FnMut(u64, u64) + 'a) -> Self {
        self.progress = Some(Box::new(report));
        self
    }

    /// Verifies log bytes held in memory, as one segment.
    ///
    /// # Examples
    ///
    /// See [`MemorySink`](crate::MemorySink).
    pub fn verify_bytes(mut self, bytes: &[u8]) -> Report {
        let mut check = ChainCheck::new(self.thread_count(), None);
        check.segments = 1;
        check.watch(&self.checkpoints, &self.keys);
        check.watch_seals(self.seals.as_ref());
        let complete = memchr::memrchr(b'\n', bytes).map_or(0, |at| at + 1);
        check.lines(&bytes[..complete], 0, None);
        if let Some(progress) = &mut self.progress {
            progress(bytes.len() as u64, bytes.len() as u64);
        }
        check.tail(&bytes[complete..], complete as u64, None, true, false);
        self.compare_outside_state(&mut check, None);
        check.finish()
    }

    /// Verifies a segment file, or a directory of segments.
    ///
    /// The length of every segment is taken when verification starts, so a
    /// log that a writer is appending to is checked as it stood then; a
    /// record the writer was half-way through is reported in
    /// [`Report::in_flight_bytes`], not as a finding.
    ///
    /// Only regular files are read, and none through a symbolic link: a
    /// link, FIFO or device with a segment's name is a `foreign-file`
    /// finding, and a path that is not a directory or a regular file is an
    /// error.
    ///
    /// # Errors
    ///
    /// [`VerifyError`] when the log cannot be read at all. Problems *in* the
    /// log are findings in the [`Report`], not errors.
    ///
    /// # Examples
    ///
    /// See [`Verifier`].
    pub fn verify_path(self, path: impl AsRef<Path>) -> Result<Report, VerifyError> {
        self.walk(path.as_ref(), None)
    }

    /// Verifies as [`verify_path`](Verifier::verify_path) does and hands
    /// every line to `each` as it is checked, in log order, with what the
    /// check found about that line: one pass that reads, verifies and
    /// presents, in memory that does not grow with the log. Readers
    /// (`audit show`, `timeline`, `export`) present records this way, so
    /// they show only what the verifier read, and say which records it did
    /// not vouch for.
    ///
    /// Lines in segments that a trusted retention anchor put behind the log
    /// are not read and not handed over.
    ///
    /// # Errors
    ///
    /// As [`verify_path`](Verifier::verify_path), and
    /// [`VerifyError::Output`] with the first error `each` returns (which
    /// stops the walk).
    ///
    /// # Examples
    ///
    /// ```
    /// use audit_layer::{AuditEvent, AuditWriter, FileSink, Verifier};
    ///
    /// let dir = tempfile::tempdir()?;
    /// let (handle, guard) = AuditWriter::builder().spawn(FileSink::open(dir.path())?)?;
    /// handle.submit(AuditEvent::builder("post.edit").actor("alice").build())?;
    /// guard.shutdown(std::time::Duration::from_secs(5))?;
    ///
    /// let mut vouched = 0;
    /// let report = Verifier::new().verify_path_with(dir.path(), |line| {
    ///     if line.verified {
    ///         vouched += 1;
    ///     }
    ///     Ok(())
    /// })?;
    /// assert!(report.is_intact());
    /// assert_eq!(vouched, 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn verify_path_with(
        self,
        path: impl AsRef<Path>,
        mut each: impl FnMut(CheckedLine<'_>) -> io::Result<()>,
    ) -> Result<Report, VerifyError> {
        self.walk(path.as_ref(), Some(&mut each))
    }

    fn walk(mut self, path: &Path, visitor: Option<Visitor<'_>>) -> Result<Report, VerifyError> {
        let io_error = |source| VerifyError::Io {
            path: path.to_owned(),
            source,
        };
        let metadata = std::fs::metadata(path).map_err(io_error)?;
        if (!self.checkpoints.is_empty() || self.checkpoints_expected) && self.keys.is_empty() {
            return Err(VerifyError::NoKeys);
        }
        let log_dir = if metadata.is_dir() {
            path
        } else {
            path.parent()
                .filter(|p| !p.as_os_str().is_empty())
                .unwrap_or(Path::new("."))
        };
        if let Ok(log_dir) = log_dir.canonicalize() {
            for (source, _) in &self.checkpoints {
                if source.canonicalize().is_ok_and(|s| s.starts_with(&log_dir)) {
                    return Err(VerifyError::CheckpointInsideLog(source.clone()));
                }
            }
        }
        let mut check = ChainCheck::new(self.thread_count(), visitor);
        check.watch(&self.checkpoints, &self.keys);
        check.watch_seals(self.seals.as_ref());
        let segments = if metadata.is_dir() {
            let listing = segment::list(path).map_err(io_error)?;
            for (foreign, what) in &listing.foreign {
                check.report(
                    FindingCode::ForeignFile,
                    None,
                    Some(foreign),
                    0,
                    format!("{what} bears a segment's name: it was not read"),
                );
            }
            let mut segments = listing.segments;
            if segments.is_empty() && listing.foreign.is_empty() {
                return Err(VerifyError::NoSegments(path.to_owned()));
            }
            if let Some(anchor) = check.start_from_anchor(path, &self.keys) {
                // Segments an interrupted retention left behind the anchor.
                let firsts: Vec<u64> = segments.iter().map(|(first, _)| *first).collect();
                let mut index = 0;
                segments.retain(|_| {
                    index += 1;
                    firsts
                        .get(index)
                        .is_none_or(|next| *next > anchor.first_seq)
                });
            }
            segments
        } else {
            // One segment on its own: it starts where its name says (or, for
            // a file with another name, at its first record), and the link to
            // the segment before it cannot be checked.
            let named = path
                .file_name()
                .and_then(|n| n.to_str())
                .and_then(segment::first_seq_of);
            check.expected = named;
            check.link = Link::Any;
            vec![(named.unwrap_or(0), path.to_owned())]
        };
        // Snapshot every length first: whatever a live writer appends later is
        // simply not part of this verification.
        let mut files = Vec::with_capacity(segments.len());
        for (first_seq, segment_path) in segments {
            let opened = safe_open::open_for_reading(&segment_path).and_then(|file| {
                let len = file.metadata()?.len();
                Ok((file, len))
            });
            match opened {
                Ok((file, len)) => files.push((first_seq, segment_path, file, len)),
                // Replaced between listing and opening: planted, as above.
                Err(error) if error.kind() == io::ErrorKind::InvalidInput && metadata.is_dir() => {
                    check.report(
                        FindingCode::ForeignFile,
                        None,
                        Some(&segment_path),
                        0,
                        format!("not read: {error}"),
                    );
                }
                Err(source) => {
                    return Err(VerifyError::Io {
                        path: segment_path,
                        source,
                    });
                }
            }
        }
        let total: u64 = files.iter().map(|(_, _, _, len)| len).sum();
        let mut done = 0;
        let count = files.len();
        let mut buf = vec![0u8; READ_CHUNK];
        for (index, (first_seq, segment_path, file, len)) in files.into_iter().enumerate() {
            check.segments += 1;
            check.segment_first = metadata.is_dir().then_some(first_seq);
            let last = index + 1 == count;
            let tail = self
                .read_segment(
                    &mut check,
                    &segment_path,
                    &file,
                    len,
                    &mut buf,
                    &mut done,
                    total,
                )
                .map_err(|source| VerifyError::Io {
                    path: segment_path.clone(),
                    source,
                })?;
            if let Some(error) = check.output_error.take() {
                return Err(VerifyError::Output(error));
            }
            let live = last && writer_is_active(log_dir, &file, len);
            if len == 0 {
                check.empty_segment(&segment_path, last, live);
            }
            check.tail(
                &tail,
                len - tail.len() as u64,
                Some(&segment_path),
                last,
                live,
            );
        }
        let anchor = check.anchor.clone();
        self.compare_outside_state(&mut check, anchor.as_ref());
        Ok(check.finish())
    }

    /// Compares the walked log with what is kept outside it: checkpoints
    /// and seals.
    fn compare_outside_state(&self, check: &mut ChainCheck<'_>, anchor: Option<&Anchor>) {
        check.compare_checkpoints(&self.checkpoints, &self.keys, anchor);
        if check.checkpoints_compared == 0
            && (self.checkpoints_expected || !self.checkpoints.is_empty())
        {
            let message = if self.checkpoints.is_empty() {
                "checkpoints were asked for, and none was found".to_owned()
            } else {
                format!(
                    "none of the {} checkpoint(s) given could be compared with the log: nothing outside the log vouches for it",
                    self.checkpoints.len()
                )
            };
            check.report(FindingCode::NoCheckpoint, None, None, 0, message);
        }
        if let Some(seals) = &self.seals {
            check.compare_seals(seals, anchor);
        }
    }

    /// Checks the complete lines of one segment; returns the bytes after its last newline.
    #[allow(clippy::too_many_arguments)]
    fn read_segment(
        &mut self,
        check: &mut ChainCheck<'_>,
        path: &Path,
        file: &File,
        len: u64,
        buf: &mut Vec<u8>,
        done: &mut u64,
        total: u64,
    ) -> io::Result<Vec<u8>> {
        let mut reader = file.take(len);
        let mut filled = 0;
        let mut offset = 0u64; // segment offset of buf[0]
        loop {
            if filled == buf.len() {
                // A single line longer than the buffer.
                buf.resize(buf.len() * 2, 0);
            }
            let read = read_full(&mut reader, &mut buf[filled..])?;
            if read == 0 {
                return Ok(buf[..filled].to_vec());
            }
            filled += read;
            let complete = memchr::memrchr(b'\n', &buf[..filled]).map_or(0, |at| at + 1);
            check.lines(&buf[..complete], offset, Some(path));
            if check.output_error.is_some() {
                return Ok(Vec::new());
            }
            offset += complete as u64;
            *done += read as u64;
            if let Some(progress) = &mut self.progress {
                progress(*done, total);
            }
            buf.copy_within(complete..filled, 0);
            filled -= complete;
        }
    }
}

fn read_full(reader: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match reader.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

/// Whether a writer is appending to the log right now: it holds the
/// directory's lock, or the file has grown since its length was taken.
fn writer_is_active(dir: &Path, file: &File, snapshot_len: u64) -> bool {
    if file.metadata().is_ok_and(|m| m.len() > snapshot_len) {
        return true;
    }
    let Ok(lock) = crate::store::safe_open::OpenDir::open(dir) else {
        return false;
    };
    // The writer holds an exclusive lock on the directory itself; a shared
    // one is refused meanwhile. The probe is released at once; a writer
    // starting at this instant retries.
    matches!(
        lock.as_file().try_lock_shared(),
        Err(std::fs::TryLockError::WouldBlock)
    )
}

/// Tells a last line cut short by a crash (a prefix of a record) from bytes
/// someone changed or added.
fn classify_unterminated(bytes: &[u8]) -> (FindingCode, String) {
    let torn = || {
        (
            FindingCode::TornTail,
            format!(
                "the log ends in {} bytes of an unfinished line (a crash mid-write)",
                bytes.len()
            ),
        )
    };
    if !chain::is_line_prefix(bytes) {
        return (
            FindingCode::Malformed,
            "the bytes after the last record are not the start of a record".into(),
        );
    }
    if let Ok(view) = chain::frame(bytes) {
        if view.computed_hash() == view.stored_hash {
            return torn();
        }
        // A real line is one JSON object that closes only at its very end; a
        // prefix that happens to frame is not a closed object.
        let mut object = view.hashed.to_vec();
        object.push(b'}');
        if serde_json::from_slice::<serde::de::IgnoredAny>(&object).is_ok() {
            return (
                FindingCode::Modified,
                "the last record, missing its newline, does not hash to the hash it carries".into(),
            );
        }
        return torn();
    }
    let complete_then_junk = bytes.len() > 1
        && chain::frame(&bytes[..bytes.len() - 1])
            .is_ok_and(|view| view.computed_hash() == view.stored_hash);
    if complete_then_junk {
        return (
            FindingCode::Malformed,
            format!(
                "a complete record is followed by byte {:#04x} where its newline should be",
                bytes[bytes.len() - 1]
            ),
        );
    }
    torn()
}

/// How the next record must link back.
#[derive(Debug, Clone, Copy)]
enum Link {
    /// To this hash.
    To(Hash),
    /// The record before was modified: to the hash it carries or the one it has.
    Either(Hash, Hash),
    /// Lines before could not be framed: to the hash expected before them
    /// (they were inserted), or to the hash the last of them still carries
    /// (a record damaged in place). A history re-chained from the damaged
    /// line links to neither.
    AfterUnreadable {
        before: Option<Hash>,
        carried: Option<Hash>,
    },
    /// Anything: the first record of a single segment verified on its own.
    Any,
}

impl Link {
    fn accepts(&self, prev: Hash) -> bool {
        match *self {
            Link::To(hash) => prev == hash,
            Link::Either(a, b) => prev == a || prev == b,
            Link::AfterUnreadable { before, carried } => {
                Some(prev) == before || Some(prev) == carried
            }
            Link::Any => true,
        }
    }

    /// The hash the next record should name, as the record before it carries.
    fn expected(&self) -> Option<Hash> {
        match *self {
            Link::To(hash) | Link::Either(hash, _) => Some(hash),
            Link::AfterUnreadable { before, .. } => before,
            Link::Any => None,
        }
    }
}

/// A run of seqs skipped so far: missing unless later records fill it.
#[derive(Debug, Clone)]
struct Gap {
    end: u64,
    segment: Option<PathBuf>,
    offset: u64,
}

/// Hashes of the latest records, to tell an identical duplicate from a
/// different one in the message. The code (`duplicate`) does not depend on
/// it: every seq below the next expected one either fills a gap or was seen.
const RECENT: usize = 4096;

/// Open gaps kept to be filled by later records; past this many, the oldest
/// is reported as missing at once, so memory stays bounded on any input.
const MAX_OPEN_GAPS: usize = 100_000;

/// The state machine that reads lines in log order.
struct ChainCheck<'v> {
    /// The seq the next record must have; `None` until the first record when
    /// the log may start anywhere.
    expected: Option<u64>,
    link: Link,
    unreadable_since_record: u64,
    /// Open gaps by first missing seq.
    gaps: BTreeMap<u64, Gap>,
    recent: Vec<Option<(u64, Hash)>>,
    findings: Vec<Finding>,
    finding_counts: BTreeMap<FindingCode, u64>,
    findings_unlisted: u64,
    /// Findings so far, listed or not: tells whether a line raised one.
    raised: u64,
    last_raised: Option<FindingCode>,
    records: u64,
    first_seq: Option<u64>,
    last_seq: Option<u64>,
    head: Option<Hash>,
    bytes: u64,
    segments: usize,
    /// The first seq the current segment's name announces, until its first
    /// record has been compared with it.
    segment_first: Option<u64>,
    live: bool,
    in_flight_bytes: u64,
    threads: usize,
    /// The hash accepted at each seq a checkpoint vouches for.
    watched: BTreeMap<u64, Option<Hash>>,
    anchor: Option<Anchor>,
    anchor_status: Option<AnchorStatus>,
    /// An anchor that was found and not trusted: named in `missing`.
    untrusted_anchor: Option<(u64, String)>,
    checkpoints_matched: usize,
    /// Trusted checkpoints compared with the log, whether they matched or not.
    checkpoints_compared: usize,
    anchored_through: Option<u64>,
    seal_status: Option<SealStatus>,
    visitor: Option<Visitor<'v>>,
    output_error: Option<io::Error>,
}

/// What one line says on its own, without the state of the chain: this is
/// the expensive part (hashing, parsing), and it runs in parallel.
enum Examined {
    Record {
        version: u64,
        seq: u64,
        prev: Hash,
        stored: Hash,
        computed: Hash,
        /// For a version-1 line whose hash is right: why it is not a valid
        /// record, if it is not.
        invalid: Option<String>,
    },
    Malformed {
        why: &'static str,
        /// The hash the line still ends with, if it does.
        carried: Option<Hash>,
    },
}

fn examine(line: &[u8]) -> Examined {
    match chain::frame(line) {
        Ok(view) => {
            let computed = view.computed_hash();
            let invalid = (computed == view.stored_hash
                && view.version == u64::from(FORMAT_VERSION))
            .then(|| crate::AuditRecord::from_line(line).err())
            .flatten()
            .map(|error| error.to_string());
            Examined::Record {
                version: view.version,
                seq: view.seq,
                prev: view.prev,
                stored: view.stored_hash,
                computed,
                invalid,
            }
        }
        Err(FramingError(why)) => Examined::Malformed {
            why,
            carried: chain::carried_hash(line),
        },
    }
}

/// Examines the complete lines of `bytes`, returning each with its offset
/// and length (without the newline) in `bytes`.
fn examine_lines(bytes: &[u8]) -> Vec<(usize, usize, Examined)> {
    let mut out = Vec::with_capacity(bytes.len() / 256);
    let mut start = 0;
    for end in memchr::memchr_iter(b'\n', bytes) {
        out.push((start, end - start, examine(&bytes[start..end])));
        start = end + 1;
    }
    out
}

/// Parts smaller than this are not worth a thread.
const MIN_PARALLEL_PART: usize = 1 << 20;

/// [`examine_lines`] on up to `threads` threads, split at line boundaries.
fn examine_parallel(bytes: &[u8], threads: usize) -> Vec<(usize, usize, Examined)> {
    let parts = threads.min(bytes.len() / MIN_PARALLEL_PART).max(1);
    if parts == 1 {
        return examine_lines(bytes);
    }
    let mut bounds = vec![0];
    for part in 1..parts {
        let target = bytes.len() * part / parts;
        let cut = memchr::memchr(b'\n', &bytes[target..]).map_or(bytes.len(), |at| target + at + 1);
        bounds.push(cut.max(*bounds.last().unwrap_or(&0)));
    }
    bounds.push(bytes.len());
    std::thread::scope(|scope| {
        let handles: Vec<_> = bounds
            .windows(2)
            .skip(1)
            .map(|w| {
                let (start, end) = (w[0], w[1]);
                scope.spawn(move || {
                    let mut lines = examine_lines(&bytes[start..end]);
                    lines.iter_mut().for_each(|(offset, _, _)| *offset += start);
                    lines
                })
            })
            .collect();
        let mut all = examine_lines(&bytes[..bounds[1]]);
        for handle in handles {
            all.extend(handle.join().expect("a hashing thread panicked"));
        }
        all
    })
}

impl<'v> ChainCheck<'v> {
    fn new(threads: usize, visitor: Option<Visitor<'v>>) -> Self {
        ChainCheck {
            expected: Some(0),
            link: Link::To(GENESIS),
            unreadable_since_record: 0,
            gaps: BTreeMap::new(),
            recent: vec![None; RECENT],
            findings: Vec::new(),
            finding_counts: BTreeMap::new(),
            findings_unlisted: 0,
            raised: 0,
            last_raised: None,
            records: 0,
            first_seq: None,
            last_seq: None,
            head: None,
            bytes: 0,
            segments: 0,
            segment_first: None,
            live: false,
            in_flight_bytes: 0,
            threads,
            watched: BTreeMap::new(),
            anchor: None,
            anchor_status: None,
            untrusted_anchor: None,
            checkpoints_matched: 0,
            checkpoints_compared: 0,
            anchored_through: None,
            seal_status: None,
            visitor,
            output_error: None,
        }
    }

    /// Notes the seqs the checkpoints vouch for, so their hashes are kept
    /// during the walk.
    fn watch(&mut self, checkpoints: &[(PathBuf, String)], keys: &[VerifierKey]) {
        for (_, note) in checkpoints {
            if let Ok((checkpoint, _)) = Checkpoint::open(note, keys)
                && checkpoint.size > 0
            {
                self.watched.insert(checkpoint.size - 1, None);
            }
        }
    }

    /// Notes the seqs the seals vouch for.
    fn watch_seals(&mut self, seals: Option<&SealsToCheck>) {
        let Some(seals) = seals else { return };
        for line in seals.text.lines() {
            if let Ok(seal) = Seal::parse(line)
                && seal.size > 0
            {
                self.watched.insert(seal.size - 1, None);
            }
        }
    }

    /// Starts the chain at the log's latest retention anchor, if it has one
    /// that a trusted key signed. An anchor only narrows what is trusted:
    /// one that is unsigned, signed by no trusted key, not a note, or not a
    /// regular file is a finding and is not used, so the log must then
    /// start at seq 0.
    fn start_from_anchor(&mut self, dir: &Path, keys: &[VerifierKey]) -> Option<Anchor> {
        let found = match crate::store::sink::anchors(dir) {
            Ok(mut found) => found.pop(),
            Err(error) => {
                self.report(
                    FindingCode::Malformed,
                    None,
                    Some(dir),
                    0,
                    format!("the anchors could not be listed: {error}"),
                );
                None
            }
        };
        let (first_seq, path) = found?;
        let note = match safe_open::read_text(&path, NOTE_LIMIT) {
            Ok(note) => note,
            Err(error) => {
                let code = if error.kind() == io::ErrorKind::InvalidInput {
                    FindingCode::ForeignFile
                } else {
                    FindingCode::Malformed
                };
                self.report(
                    code,
                    None,
                    Some(&path),
                    0,
                    format!("anchor not read: {error}"),
                );
                return None;
            }
        };
        if keys.is_empty() {
            self.untrusted_anchor = Some((
                first_seq,
                "an anchor says the log starts there, but no key was given to check it (--key)"
                    .into(),
            ));
            return None;
        }
        let (anchor, signer) = match Anchor::open(&note, keys) {
            Ok(opened) => opened,
            Err(error) => {
                self.note_error(&error, &path, "anchor");
                self.untrusted_anchor = Some((
                    first_seq,
                    format!("the anchor that says so was refused: {error}"),
                ));
                return None;
            }
        };
        if anchor.first_seq != first_seq {
            self.report(
                FindingCode::Malformed,
                None,
                Some(&path),
                0,
                format!(
                    "the anchor's name says seq {first_seq} and its text says seq {}",
                    anchor.first_seq
                ),
            );
            return None;
        }
        self.expected = Some(anchor.first_seq);
        self.link = Link::To(anchor.prev);
        self.anchor_status = Some(AnchorStatus {
            first_seq: anchor.first_seq,
            signed_by: Some(signer),
        });
        self.anchor = Some(anchor.clone());
        Some(anchor)
    }

    fn note_error(&mut self, error: &CheckpointError, source: &Path, what: &str) {
        let code = match error {
            CheckpointError::Note(NoteError::UnknownKey(_)) => FindingCode::UnknownKey,
            CheckpointError::Note(NoteError::BadSignature(_)) => FindingCode::BadSignature,
            _ => FindingCode::Malformed,
        };
        self.report(
            code,
            None,
            Some(source),
            0,
            format!("{what} refused: {error}"),
        );
    }

    /// Compares the log with every trusted checkpoint.
    fn compare_checkpoints(
        &mut self,
        checkpoints: &[(PathBuf, String)],
        keys: &[VerifierKey],
        anchor: Option<&Anchor>,
    ) {
        let mut trusted: Vec<(&Path, Checkpoint)> = Vec::new();
        for (source, note) in checkpoints {
            match Checkpoint::open(note, keys) {
                Ok((checkpoint, _)) => trusted.push((source, checkpoint)),
                Err(error) => self.note_error(&error, source, "checkpoint"),
            }
        }
        for (index, (source, checkpoint)) in trusted.iter().enumerate() {
            let disagrees = trusted[..index].iter().any(|(_, earlier)| {
                earlier.origin == checkpoint.origin
                    && earlier.size == checkpoint.size
                    && earlier.head != checkpoint.head
            });
            if disagrees {
                self.report(
                    FindingCode::Equivocation,
                    checkpoint.size.checked_sub(1),
                    Some(source),
                    0,
                    format!(
                        "two signed checkpoints of {} at size {} name different heads",
                        checkpoint.origin, checkpoint.size
                    ),
                );
            }
        }
        for (source, checkpoint) in trusted {
            let size = checkpoint.size;
            let vouched = match self.head_at(size, anchor) {
                HeadAt::Known(hash) => Some(hash == Some(checkpoint.head)),
                HeadAt::Deleted => None,
                HeadAt::Beyond(now) => {
                    self.checkpoints_compared += 1;
                    self.report(
                        FindingCode::Truncated,
                        size.checked_sub(1),
                        Some(source),
                        0,
                        format!(
                            "a signed checkpoint says the log had {size} records; it now {now}"
                        ),
                    );
                    continue;
                }
            };
            if vouched.is_some() {
                self.checkpoints_compared += 1;
            }
            match vouched {
                Some(true) => {
                    self.checkpoints_matched += 1;
                    self.anchored_through = Some(self.anchored_through.map_or(size, |s| s.max(size)));
                }
                Some(false) => self.report(
                    FindingCode::Rechained,
                    size.checked_sub(1),
                    Some(source),
                    0,
                    format!(
                        "a signed checkpoint at size {size} names head {}, which the log no longer has there: its history was re-written",
                        checkpoint.head
                    ),
                ),
                // Deleted by retention before the anchor: nothing left to compare.
                None => {}
            }
        }
    }

    /// The log's head when it had `size` records, as this walk saw it.
    fn head_at(&self, size: u64, anchor: Option<&Anchor>) -> HeadAt {
        match (size.checked_sub(1), anchor) {
            (None, _) => HeadAt::Known(Some(GENESIS)),
            (Some(_), Some(anchor)) if size < anchor.first_seq => HeadAt::Deleted,
            (Some(_), Some(anchor)) if size == anchor.first_seq => HeadAt::Known(Some(anchor.prev)),
            (Some(last), _) => match self.last_seq {
                Some(log_last) if last > log_last => {
                    HeadAt::Beyond(format!("ends at seq {log_last}"))
                }
                None => HeadAt::Beyond("has none".into()),
                Some(_) => HeadAt::Known(self.watched.get(&last).copied().flatten()),
            },
        }
    }

    /// Checks the seals file against the log: every epoch from 0 on sealed
    /// once, in order, each under its own epoch's key, each naming the head
    /// the log has at that size. Keys only evolve forward, and never past
    /// the epochs that have ended by this machine's clock, so the work is
    /// bounded whatever epoch numbers the file holds.
    fn compare_seals(&mut self, seals: &SealsToCheck, anchor: Option<&Anchor>) {
        let source = Some(seals.source.as_path());
        let mut keys = EpochKeys::new(&seals.key);
        let mut status = SealStatus::default();
        let mut next_epoch = 0u64;
        let mut last_size = 0u64;
        let mut offset = 0u64;
        let ended = seals.key.epochs_ended_by(std::time::SystemTime::now());
        for line in seals.text.split_inclusive('\n') {
            let at = offset;
            offset += line.len() as u64;
            if !line.ends_with('\n') {
                // The writer syncs each seal whole; an unfinished last line is a crash mid-write.
                self.report(
                    FindingCode::TornTail,
                    None,
                    source,
                    at,
                    format!(
                        "the seals file ends in {} bytes of an unfinished seal",
                        line.len()
                    ),
                );
                continue;
            }
            let seal = match Seal::parse(line.trim_end_matches('\n')) {
                Ok(seal) => seal,
                Err(error) => {
                    self.report(FindingCode::Malformed, None, source, at, error.to_string());
                    continue;
                }
            };
            let seq = seal.size.checked_sub(1);
            if seal.epoch < next_epoch {
                self.report(FindingCode::OutOfOrder, seq, source, at, format!("a seal of epoch {} (size {}) comes after the seal of epoch {} (size {last_size})", seal.epoch, seal.size, next_epoch - 1));
                continue;
            }
            if seal.epoch >= ended {
                self.report(FindingCode::BadSeal, seq, source, at, format!("a seal of epoch {}, which has not ended by this machine's clock ({ended} epochs have): no writer could have made it", seal.epoch));
                continue;
            }
            if !keys.verifies(&seal) {
                self.report(FindingCode::BadSeal, seq, source, at, format!("the seal of epoch {} does not verify under that epoch's key: it was forged, or made with a later epoch's key", seal.epoch));
                continue;
            }
            status.seals += 1;
            if seal.epoch > next_epoch {
                let missing = if seal.epoch - next_epoch == 1 {
                    format!("epoch {next_epoch} has")
                } else {
                    format!("epochs {next_epoch}..{} have", seal.epoch - 1)
                };
                self.report(FindingCode::SealGap, seq, source, at, format!("{missing} no seal: the log was cut and sealed on with a later key, or sealing stopped"));
            } else if seal.size < last_size {
                self.report(FindingCode::OutOfOrder, seq, source, at, format!("the seal of epoch {} has size {}, below the size {last_size} sealed before", seal.epoch, seal.size));
                continue;
            }
            next_epoch = seal.epoch + 1;
            last_size = seal.size;
            status.last_epoch = Some(seal.epoch);
            match self.head_at(seal.size, anchor) {
                HeadAt::Known(hash) if hash == Some(seal.head) => {
                    status.sealed_through = Some(status.sealed_through.map_or(seal.size, |s| s.max(seal.size)));
                }
                HeadAt::Known(_) => self.report(FindingCode::Rechained, seq, source, at, format!("the seal of epoch {} at size {} names head {}, which the log no longer has there: its history was re-written", seal.epoch, seal.size, seal.head)),
                HeadAt::Deleted => {}
                HeadAt::Beyond(now) => self.report(FindingCode::Truncated, seq, source, at, format!("the seal of epoch {} says the log had {} records; it now {now}", seal.epoch, seal.size)),
            }
        }
        if status.seals == 0 {
            self.report(
                FindingCode::NoSeal,
                None,
                source,
                0,
                "no seal verified: the seals file is missing or holds none, so nothing vouches for the log's past".into(),
            );
        }
        status.epochs_ended_unsealed = ended.saturating_sub(next_epoch);
        status.unsealed = match (self.last_seq, status.sealed_through) {
            (Some(last), Some(through)) if last >= through => Some((through, last)),
            (Some(last), None) => Some((self.first_seq.unwrap_or(0), last)),
            _ => None,
        };
        self.seal_status = Some(status);
    }

    fn report(
        &mut self,
        code: FindingCode,
        seq: Option<u64>,
        segment: Option<&Path>,
        offset: u64,
        message: String,
    ) {
        self.raised += 1;
        self.last_raised = Some(code);
        *self.finding_counts.entry(code).or_insert(0) += 1;
        if self.findings.len() < MAX_LISTED_FINDINGS {
            self.findings.push(Finding {
                code,
                seq,
                segment: segment.map(Path::to_owned),
                offset,
                message,
            });
        } else {
            self.findings_unlisted += 1;
        }
    }

    /// Checks complete lines (each ending in `\n`) that start at `base` in their segment.
    fn lines(&mut self, bytes: &[u8], base: u64, segment: Option<&Path>) {
        self.bytes += bytes.len() as u64;
        for (offset, len, examined) in examine_parallel(bytes, self.threads) {
            let line = &bytes[offset..offset + len];
            self.accept(examined, line, base + offset as u64, segment);
            if self.output_error.is_some() {
                return;
            }
        }
    }

    /// Hands a checked line to the visitor, if there is one.
    fn visit(
        &mut self,
        line: &[u8],
        seq: Option<u64>,
        segment: Option<&Path>,
        offset: u64,
        raised_before: u64,
    ) {
        let Some(visitor) = self.visitor.as_mut() else {
            return;
        };
        let verified = self.raised == raised_before;
        let problem = if verified { None } else { self.last_raised };
        if let Err(error) = visitor(CheckedLine {
            line,
            seq,
            segment,
            offset,
            verified,
            problem,
        }) {
            self.output_error = Some(error);
        }
    }

    fn accept(&mut self, examined: Examined, line: &[u8], offset: u64, segment: Option<&Path>) {
        let raised_before = self.raised;
        let (version, seq, prev, stored_hash, computed, invalid) = match examined {
            Examined::Record {
                version,
                seq,
                prev,
                stored,
                computed,
                invalid,
            } => (version, seq, prev, stored, computed, invalid),
            Examined::Malformed { why, carried } => {
                self.unreadable(carried);
                self.report(
                    FindingCode::Malformed,
                    None,
                    segment,
                    offset,
                    format!("not a record: {why}"),
                );
                self.visit(line, None, segment, offset, raised_before);
                return;
            }
        };
        self.records += 1;
        if let Some(named) = self.segment_first.take()
            && named != seq
        {
            self.report(
                FindingCode::MisnamedSegment,
                Some(seq),
                segment,
                offset,
                format!("the segment's name says it starts at seq {named}, and its first record is seq {seq}"),
            );
        }
        let modified = computed != stored_hash;
        if modified {
            self.report(
                FindingCode::Modified,
                Some(seq),
                segment,
                offset,
                format!("record hashes to {computed}, but carries {}", stored_hash),
            );
        } else if let Some(why) = invalid {
            self.report(
                FindingCode::Malformed,
                Some(seq),
                segment,
                offset,
                format!("its hash is right, but it is not a valid version-1 record: {why}"),
            );
        } else if version != u64::from(FORMAT_VERSION) {
            self.report(
                FindingCode::UnsupportedVersion,
                Some(seq),
                segment,
                offset,
                format!(
                    "format version {} is newer than this verifier's {FORMAT_VERSION}: its hash and link check out, its fields were not interpreted",
                    version
                ),
            );
        }
        self.first_seq = Some(self.first_seq.map_or(seq, |s| s.min(seq)));
        self.last_seq = Some(self.last_seq.map_or(seq, |s| s.max(seq)));

        let expected = *self.expected.get_or_insert(seq);
        if seq < expected {
            self.earlier_seq(seq, stored_hash, segment, offset);
            self.visit(line, Some(seq), segment, offset, raised_before);
            return;
        }
        if seq > expected {
            // Unreadable lines just before may be the records that seem absent.
            let skipped = seq - expected;
            let unexplained = skipped.saturating_sub(self.unreadable_since_record);
            if unexplained > 0 {
                self.open_gap(seq - unexplained, seq, segment, offset);
            }
        }
        // A jump that unreadable lines explain still has a link to check.
        let comparable = seq == expected
            || (seq - expected <= self.unreadable_since_record
                && matches!(self.link, Link::AfterUnreadable { .. }));
        if comparable && !modified && !self.link.accepts(prev) {
            let expected_prev = self
                .link
                .expected()
                .map_or_else(|| "?".to_owned(), |h| h.to_string());
            let message = if matches!(self.link, Link::AfterUnreadable { .. }) {
                format!(
                    "prev is {prev}, which is neither the hash of the last record before the unreadable line(s) ({expected_prev}) nor the hash the unreadable line carries: the log was re-chained from there"
                )
            } else {
                format!("prev is {prev}, but the record before hashes to {expected_prev}")
            };
            self.report(FindingCode::BrokenLink, Some(seq), segment, offset, message);
        }
        // Seq 2^64 - 1 does not frame, so this cannot overflow.
        self.expected = Some(seq + 1);
        self.link = if modified {
            Link::Either(stored_hash, computed)
        } else {
            Link::To(stored_hash)
        };
        self.head = Some(stored_hash);
        self.unreadable_since_record = 0;
        if let Some(slot @ None) = self.watched.get_mut(&seq) {
            *slot = Some(stored_hash);
        }
        self.recent[(seq % RECENT as u64) as usize] = Some((seq, stored_hash));
        self.visit(line, Some(seq), segment, offset, raised_before);
    }

    /// Records the seqs `start..end` as absent, until a later record fills them.
    fn open_gap(&mut self, start: u64, end: u64, segment: Option<&Path>, offset: u64) {
        self.gaps.insert(
            start,
            Gap {
                end,
                segment: segment.map(Path::to_owned),
                offset,
            },
        );
        if self.gaps.len() > MAX_OPEN_GAPS
            && let Some((start, gap)) = self.gaps.pop_first()
        {
            self.report_missing(start, gap);
        }
    }

    fn report_missing(&mut self, start: u64, gap: Gap) {
        let count = gap.end - start;
        let mut message = if count == 1 {
            format!("seq {start} is missing")
        } else {
            format!("{count} records are missing: seq {start}..{}", gap.end - 1)
        };
        if let Some((anchor_seq, why)) = &self.untrusted_anchor
            && start == 0
            && gap.end == *anchor_seq
        {
            message.push_str(&format!(" ({why})"));
        }
        self.report(
            FindingCode::Missing,
            Some(start),
            gap.segment.as_deref(),
            gap.offset,
            message,
        );
    }

    /// A line that does not frame: the next record must link to what came
    /// before it, or to the hash it still carries.
    fn unreadable(&mut self, carried: Option<Hash>) {
        self.unreadable_since_record += 1;
        let before = match self.link {
            Link::AfterUnreadable { before, .. } => before,
            other => other.expected(),
        };
        self.link = match self.link {
            Link::Any => Link::Any,
            _ => Link::AfterUnreadable { before, carried },
        };
    }

    /// A record whose seq is below the one expected next: it fills a gap
    /// (`out-of-order`), or its seq was seen already (`duplicate`).
    fn earlier_seq(&mut self, seq: u64, hash: Hash, segment: Option<&Path>, offset: u64) {
        let containing = self
            .gaps
            .range(..=seq)
            .next_back()
            .filter(|(_, gap)| seq < gap.end)
            .map(|(start, _)| *start);
        let previous = self.expected.unwrap_or(1) - 1;
        if let Some(start) = containing {
            let gap = self.gaps.remove(&start).expect("found above");
            if start < seq {
                self.gaps.insert(
                    start,
                    Gap {
                        end: seq,
                        ..gap.clone()
                    },
                );
            }
            if seq + 1 < gap.end {
                self.gaps.insert(seq + 1, gap);
            }
            self.report(
                FindingCode::OutOfOrder,
                Some(seq),
                segment,
                offset,
                format!("seq {seq} comes after seq {previous}"),
            );
            return;
        }
        let message = match self.recent[(seq % RECENT as u64) as usize] {
            Some((seen_seq, seen_hash)) if seen_seq == seq && seen_hash == hash => {
                format!("seq {seq} appears again, identical")
            }
            Some((seen_seq, _)) if seen_seq == seq => {
                format!("seq {seq} appears again, with different content")
            }
            _ => format!("seq {seq} appears again, after seq {previous}"),
        };
        self.report(FindingCode::Duplicate, Some(seq), segment, offset, message);
    }

    /// A segment file with no byte in it.
    fn empty_segment(&mut self, segment: &Path, last: bool, live: bool) {
        if last && live {
            return;
        }
        if last {
            self.report(
                FindingCode::TornTail,
                None,
                Some(segment),
                0,
                "the last segment is empty: a writer stopped between creating it and writing to it (the next writer removes it)".into(),
            );
        } else {
            self.report(
                FindingCode::Malformed,
                None,
                Some(segment),
                0,
                "the segment is empty: a segment holds at least one record".into(),
            );
        }
    }

    /// Handles the bytes after the last newline of a segment.
    fn tail(&mut self, bytes: &[u8], offset: u64, segment: Option<&Path>, last: bool, live: bool) {
        if bytes.is_empty() {
            return;
        }
        let seq = chain::frame_prefix_seq(bytes);
        // In flight: the beginning of the very record the chain expects next.
        let in_flight = live
            && last
            && chain::is_line_prefix(bytes)
            && seq.is_none_or(|seq| self.expected.is_none_or(|e| e == seq));
        if in_flight {
            self.live = true;
            self.in_flight_bytes += bytes.len() as u64;
            return;
        }
        if !last {
            self.bytes += bytes.len() as u64;
            self.unreadable(chain::carried_hash(bytes));
            self.report(
                FindingCode::Malformed,
                seq,
                segment,
                offset,
                "segment does not end with a complete line".into(),
            );
            return;
        }
        if let Ok(view) = chain::frame(bytes)
            && view.computed_hash() == view.stored_hash
        {
            // A whole record lacking only its newline: checked like any
            // other; the writer restores the newline when it starts.
            self.lines(&[bytes, b"\n"].concat(), offset, segment);
            self.bytes -= 1;
            self.report(
                FindingCode::TornTail,
                Some(view.seq),
                segment,
                offset,
                "the last record lacks its newline (a crash before its last byte); it was checked like any other, and the writer restores the newline when it starts".into(),
            );
            return;
        }
        self.bytes += bytes.len() as u64;
        let (code, message) = classify_unterminated(bytes);
        self.report(code, seq, segment, offset, message);
    }

    fn finish(mut self) -> Report {
        for (start, gap) in std::mem::take(&mut self.gaps) {
            self.report_missing(start, gap);
        }
        self.findings
            .sort_by(|a, b| (&a.segment, a.offset).cmp(&(&b.segment, b.offset)));
        let unanchored = match (self.last_seq, self.anchored_through) {
            (Some(last), Some(through)) if last >= through => Some((through, last)),
            (Some(last), None) => Some((self.first_seq.unwrap_or(0), last)),
            _ => None,
        };
        Report {
            records: self.records,
            first_seq: self.first_seq,
            last_seq: self.last_seq,
            head: self.head,
            bytes: self.bytes,
            segments: self.segments,
            live: self.live,
            in_flight_bytes: self.in_flight_bytes,
            findings: self.findings,
            finding_counts: self.finding_counts,
            findings_unlisted: self.findings_unlisted,
            anchor: self.anchor_status,
            checkpoints_matched: self.checkpoints_matched,
            anchored_through: self.anchored_through,
            unanchored,
            seals: self.seal_status,
        }
    }
}
/// The verifier's view of a memory log (it lives here, not in the store:
/// the store never depends on the proof).
impl crate::store::sink::MemoryLog {
    /// Verifies the chain as `audit verify` would.
    ///
    /// # Examples
    ///
    /// See [`MemorySink`](crate::MemorySink).
    pub fn verify(&self) -> Report {
        Verifier::new().verify_bytes(&self.bytes())
    }
}
