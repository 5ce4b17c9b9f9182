//! What the verifier reports: the findings and their stable codes, the
//! report, the status of anchors and seals, and the errors that stop it.

use std::io;
use std::path::{Path, PathBuf};

use serde::Serialize;

use std::collections::BTreeMap;

use crate::proof::seal::SealVerifyingKey;
use crate::record::chain::Hash;

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
    /// Witnesses were asked for, and no checkpoint that matches the log
    /// carries cosignatures from enough of them (the quorum): nothing
    /// shows that the log's history is the one the witnesses saw.
    NoQuorum,
    /// A row of the PostgreSQL store whose indexed columns (actor, time,
    /// ...) do not say what its line says: the row was edited behind the
    /// line, so queries on the columns would mislead.
    ColumnMismatch,
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
            FindingCode::NoQuorum => "no-quorum",
            FindingCode::ColumnMismatch => "column-mismatch",
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
    pub const ALL: [FindingCode; 21] = [
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
        FindingCode::NoQuorum,
        FindingCode::ColumnMismatch,
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
                | FindingCode::NoQuorum
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
    /// The root of the RFC 6962 Merkle tree of the log's records, when the
    /// log runs from seq 0 and has no finding ([`merkle`](crate::merkle)).
    pub tree_root: Option<Hash>,
    /// Trusted checkpoints compared that carry a tree root.
    pub checkpoints_with_root: usize,
    /// Trusted checkpoints compared of the first kind (the chain's head on
    /// their third line, no tree root).
    pub checkpoints_of_first_kind: usize,
    /// With witnesses asked for: the size of the largest checkpoint that
    /// matches the log and carries the cosignatures of a quorum of them.
    pub witnessed_through: Option<u64>,
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
pub(crate) enum HeadAt {
    /// The hash (`None` if the record at that seq was unreadable).
    Known(Option<Hash>),
    /// Deleted by retention before the anchor: nothing left to compare.
    Deleted,
    /// The log is shorter; says what it has now.
    Beyond(String),
}

/// A seals file and the key to check it with.
pub(crate) struct SealsToCheck {
    pub(crate) key: SealVerifyingKey,
    pub(crate) source: PathBuf,
    pub(crate) text: String,
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
    /// the walk (see [`Verifier::verify_path_with`](crate::Verifier::verify_path_with)).
    #[error("{0}")]
    Output(#[source] io::Error),
    /// The store (PostgreSQL) could not be read.
    #[error("{0}")]
    Store(#[source] Box<dyn std::error::Error + Send + Sync>),
}

/// One line of a log, as [`Verifier::verify_path_with`](crate::Verifier::verify_path_with) hands it over.
///
/// # Examples
///
/// See [`Verifier::verify_path_with`](crate::Verifier::verify_path_with).
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
