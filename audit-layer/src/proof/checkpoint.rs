//! Signed checkpoints and retention anchors: the state kept outside the log
//! that lets a verifier see a truncated tail or a re-written history.
//!
//! A **checkpoint** is a C2SP `tlog-checkpoint` signed note: origin, size
//! (records), the root of the RFC 6962 Merkle tree over the records (base64)
//! on the third line, and the chain's head (the hash of the record with seq
//! `size - 1`) on an extension line. Checkpoints of the first kind (format
//! 1, before the tree) carried the chain's head on the third line and have
//! no extension line; they are still read. An **anchor** says where a log
//! cut by retention now begins: its first seq and the hash that record
//! links to.
//!
//! ```text
//! example.com/audit/billing        example.com/audit/billing
//! 41273                            audit-layer anchor
//! CsUY...base64 tree root...=      41273
//! audit-layer-chain 7kT0...=       Qm9...base64 prev...=
//!
//! — example.com/audit/billing ...  — example.com/audit/billing ...
//! ```

use std::fs::DirBuilder;
use std::io;
use std::os::unix::fs::DirBuilderExt;
use std::path::PathBuf;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use crate::proof::note::{self, NoteError, OpenedNote, SignerKey, VerifierKey};
use crate::record::anchor::Anchor;
use crate::record::chain::Hash;

const ANCHOR_LINE: &str = "audit-layer anchor";
/// The extension line of a checkpoint with a tree root: the chain's head.
const CHAIN_LINE: &str = "audit-layer-chain ";
/// The extension line of an anchor with a tree root: the prev of the first
/// record kept.
const ANCHOR_EXTENSION: &str = "audit-layer-anchor ";

/// Why a checkpoint or anchor was refused.
///
/// # Examples
///
/// ```
/// let error = audit_layer::Checkpoint::open("junk", &[]).unwrap_err();
/// assert!(!error.to_string().is_empty());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CheckpointError {
    /// The signature could not be trusted.
    #[error(transparent)]
    Note(#[from] NoteError),
    /// The signed text is not a checkpoint (or not an anchor).
    #[error("the signed text is not {0}")]
    NotA(&'static str),
}

fn decode_hash(line: &str) -> Option<Hash> {
    let bytes: [u8; 32] = STANDARD.decode(line).ok()?.try_into().ok()?;
    Some(Hash::from_bytes(bytes))
}

/// A log's size and head at a point in time, signed.
///
/// # Examples
///
/// ```
/// use audit_layer::{Checkpoint, SignerKey};
/// use audit_layer::chain::GENESIS;
///
/// let key = SignerKey::generate("example.com/audit/billing")?;
/// let checkpoint = Checkpoint {
///     origin: "example.com/audit/billing".into(),
///     size: 0,
///     head: GENESIS,
///     root: Some(audit_layer::merkle::empty_root()),
/// };
/// let note = checkpoint.sign(&key);
/// let (opened, signed_by) = Checkpoint::open(&note, &[key.verifier()])?;
/// assert_eq!((opened, signed_by.as_str()), (checkpoint, "example.com/audit/billing"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    /// Which log (a schema-less URL, by convention the signing key's name).
    pub origin: String,
    /// How many records the log had (the last seq plus one).
    pub size: u64,
    /// The hash of the record with seq `size - 1` ([`GENESIS`](crate::record::chain::GENESIS) for size 0).
    pub head: Hash,
    /// The root of the Merkle tree of the first `size` records
    /// ([`merkle`](crate::merkle)); `None` in a checkpoint of the first
    /// kind, which named the chain's head alone.
    pub root: Option<Hash>,
}

impl Checkpoint {
    /// The note text: origin, size, base64 tree root, and the extension
    /// line `audit-layer-chain <base64 head>`; for a checkpoint without a
    /// root, origin, size and base64 head.
    ///
    /// # Examples
    ///
    /// ```
    /// use audit_layer::Checkpoint;
    /// use audit_layer::chain::GENESIS;
    /// let old = Checkpoint { origin: "o".into(), size: 3, head: GENESIS, root: None };
    /// assert_eq!(old.text(), "o\n3\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n");
    /// let new = Checkpoint { root: Some(GENESIS), ..old };
    /// assert_eq!(
    ///     new.text(),
    ///     "o\n3\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\naudit-layer-chain AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n"
    /// );
    /// ```
    pub fn text(&self) -> String {
        match &self.root {
            Some(root) => format!(
                "{}\n{}\n{}\n{CHAIN_LINE}{}\n",
                self.origin,
                self.size,
                STANDARD.encode(root.as_bytes()),
                STANDARD.encode(self.head.as_bytes())
            ),
            None => format!(
                "{}\n{}\n{}\n",
                self.origin,
                self.size,
                STANDARD.encode(self.head.as_bytes())
            ),
        }
    }

    /// The signed note.
    ///
    /// # Examples
    ///
    /// See [`Checkpoint`].
    pub fn sign(&self, key: &SignerKey) -> String {
        key.sign(&self.text())
    }

    /// Checks a signed checkpoint against `trusted` keys and parses it;
    /// returns it with the name of the key that signed it.
    ///
    /// # Errors
    ///
    /// An untrusted or bad signature, or a text that is not a checkpoint.
    ///
    /// # Examples
    ///
    /// See [`Checkpoint`].
    pub fn open(
        note: &str,
        trusted: &[VerifierKey],
    ) -> Result<(Checkpoint, String), CheckpointError> {
        let OpenedNote { text, signed_by } = note::open(note, trusted)?;
        let mut lines = text.lines();
        let (Some(origin), Some(size), Some(head)) = (lines.next(), lines.next(), lines.next())
        else {
            return Err(CheckpointError::NotA("a checkpoint"));
        };
        let size: u64 = size
            .parse()
            .map_err(|_| CheckpointError::NotA("a checkpoint"))?;
        let third = decode_hash(head).ok_or(CheckpointError::NotA("a checkpoint"))?;
        if origin.is_empty() || (size.to_string() != lines_second(&text)) {
            return Err(CheckpointError::NotA("a checkpoint"));
        }
        // Extension lines other than ours are opaque (tlog-checkpoint); an
        // empty one is not allowed.
        let mut chain = None;
        for extension in lines {
            if extension.is_empty() {
                return Err(CheckpointError::NotA("a checkpoint"));
            }
            if extension.starts_with(ANCHOR_EXTENSION) {
                // An anchor is shaped like a checkpoint; it is not one.
                return Err(CheckpointError::NotA("a checkpoint"));
            }
            if let Some(value) = extension.strip_prefix(CHAIN_LINE) {
                if chain.is_some() {
                    return Err(CheckpointError::NotA("a checkpoint"));
                }
                chain = Some(decode_hash(value).ok_or(CheckpointError::NotA("a checkpoint"))?);
            }
        }
        let (head, root) = match chain {
            Some(head) => (head, Some(third)),
            None => (third, None),
        };
        Ok((
            Checkpoint {
                origin: origin.to_owned(),
                size,
                head,
                root,
            },
            signed_by,
        ))
    }
}

/// The second line, for the no-leading-zeroes rule of sizes.
fn lines_second(text: &str) -> &str {
    text.lines().nth(1).unwrap_or_default()
}

impl Anchor {
    /// The note text. With a tree root it is shaped as a `tlog-checkpoint`
    /// of the records deleted (origin, their number, their tree's root) with
    /// the extension line `audit-layer-anchor <base64 prev>`; without one,
    /// as the first kind: origin, `audit-layer anchor`, first seq, prev.
    ///
    /// # Examples
    ///
    /// ```
    /// use audit_layer::{Anchor, chain::GENESIS};
    /// let old = Anchor { origin: "o".into(), first_seq: 5, prev: GENESIS, root: None };
    /// assert!(old.text().starts_with("o\naudit-layer anchor\n5\n"));
    /// let new = Anchor { root: Some(GENESIS), ..old };
    /// assert!(new.text().starts_with("o\n5\nAAAA"));
    /// assert!(new.text().contains("\naudit-layer-anchor AAAA"));
    /// ```
    pub fn text(&self) -> String {
        match &self.root {
            Some(root) => format!(
                "{}\n{}\n{}\n{ANCHOR_EXTENSION}{}\n",
                self.origin,
                self.first_seq,
                STANDARD.encode(root.as_bytes()),
                STANDARD.encode(self.prev.as_bytes())
            ),
            None => format!(
                "{}\n{ANCHOR_LINE}\n{}\n{}\n",
                self.origin,
                self.first_seq,
                STANDARD.encode(self.prev.as_bytes())
            ),
        }
    }

    /// The signed note.
    ///
    /// # Examples
    ///
    /// See [`Anchor`].
    pub fn sign(&self, key: &SignerKey) -> String {
        key.sign(&self.text())
    }

    /// Checks a signed anchor against `trusted` keys and parses it.
    ///
    /// # Errors
    ///
    /// An untrusted or bad signature, or a text that is not an anchor.
    ///
    /// # Examples
    ///
    /// See [`Anchor`].
    pub fn open(note: &str, trusted: &[VerifierKey]) -> Result<(Anchor, String), CheckpointError> {
        let OpenedNote { text, signed_by } = note::open(note, trusted)?;
        Ok((
            Anchor::parse(&text).ok_or(CheckpointError::NotA("an anchor"))?,
            signed_by,
        ))
    }

    fn parse(text: &str) -> Option<Anchor> {
        let mut lines = text.lines();
        let (origin, second, third) = (lines.next()?, lines.next()?, lines.next()?);
        if origin.is_empty() {
            return None;
        }
        if second == ANCHOR_LINE {
            let prev = lines.next()?;
            return Some(Anchor {
                origin: origin.to_owned(),
                first_seq: third.parse().ok()?,
                prev: decode_hash(prev)?,
                root: None,
            });
        }
        let first_seq: u64 = second.parse().ok()?;
        if first_seq.to_string() != second {
            return None;
        }
        let root = decode_hash(third)?;
        let mut prev = None;
        for extension in lines {
            if extension.is_empty() {
                return None;
            }
            if let Some(value) = extension.strip_prefix(ANCHOR_EXTENSION) {
                if prev.is_some() {
                    return None;
                }
                prev = Some(decode_hash(value)?);
            }
        }
        Some(Anchor {
            origin: origin.to_owned(),
            first_seq,
            prev: prev?,
            root: Some(root),
        })
    }
}

/// Where a writer sends its signed checkpoints and anchors: somewhere the
/// log's own writer cannot rewrite (another disk, another host, a
/// transparency log, a ticket).
///
/// A closure `FnMut(&str, &str) -> io::Result<()>` is one: it gets a file
/// name (`checkpoint-<size>.note` or `anchor-<first seq>.note`) and the note.
///
/// # Examples
///
/// ```
/// use std::sync::{Arc, Mutex};
/// use audit_layer::CheckpointSink;
///
/// let shipped = Arc::new(Mutex::new(Vec::new()));
/// let mut sink = {
///     let shipped = Arc::clone(&shipped);
///     move |name: &str, note: &str| {
///         shipped.lock().unwrap().push((name.to_owned(), note.to_owned()));
///         Ok(())
///     }
/// };
/// sink.publish("checkpoint-00000000000000000001.note", "...")?;
/// assert_eq!(shipped.lock().unwrap().len(), 1);
/// # Ok::<(), std::io::Error>(())
/// ```
pub trait CheckpointSink: Send + 'static {
    /// Stores or ships one signed note.
    ///
    /// # Errors
    ///
    /// Any I/O error; the writer counts it and tries again with the next checkpoint.
    fn publish(&mut self, name: &str, note: &str) -> io::Result<()>;
}

impl<F> CheckpointSink for F
where
    F: FnMut(&str, &str) -> io::Result<()> + Send + 'static,
{
    fn publish(&mut self, name: &str, note: &str) -> io::Result<()> {
        self(name, note)
    }
}

/// Writes each note as a file (mode 0600) in a directory (mode 0700), synced.
///
/// # Examples
///
/// ```
/// use audit_layer::{CheckpointDir, CheckpointSink};
/// let dir = tempfile::tempdir()?;
/// let mut sink = CheckpointDir::new(dir.path().join("checkpoints"));
/// sink.publish("checkpoint-00000000000000000001.note", "note\n")?;
/// assert!(dir.path().join("checkpoints/checkpoint-00000000000000000001.note").exists());
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct CheckpointDir {
    dir: PathBuf,
}

impl CheckpointDir {
    /// Notes go into `dir`, created if needed.
    ///
    /// # Examples
    ///
    /// See [`CheckpointDir`].
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        CheckpointDir { dir: dir.into() }
    }
}

impl CheckpointSink for CheckpointDir {
    fn publish(&mut self, name: &str, note: &str) -> io::Result<()> {
        write_note(&self.dir.join(name), note)
    }
}

/// Writes a note file durably, owner-only, replacing whatever had its name
/// (a planted link included) without writing through it.
pub(crate) fn write_note(path: &std::path::Path, note: &str) -> io::Result<()> {
    let dir = path.parent().unwrap_or(std::path::Path::new("."));
    if !dir.as_os_str().is_empty() {
        DirBuilder::new().recursive(true).mode(0o700).create(dir)?;
    }
    crate::store::safe_open::replace(path, note.as_bytes())
}

/// When a writer signs checkpoints, with which key, and where they go.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use audit_layer::{AuditWriter, CheckpointDir, Checkpoints, MemorySink, SignerKey};
///
/// let dir = tempfile::tempdir()?;
/// let key = SignerKey::generate("example.com/audit/billing")?;
/// let (sink, _log) = MemorySink::new();
/// let (_handle, _guard) = AuditWriter::builder()
///     .checkpoints(
///         Checkpoints::new(key, CheckpointDir::new(dir.path()))
///             .every_records(10_000)
///             .every(Duration::from_secs(60)),
///     )
///     .spawn(sink)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct Checkpoints {
    pub(crate) key: SignerKey,
    pub(crate) origin: String,
    pub(crate) every_records: Option<u64>,
    pub(crate) every: Option<Duration>,
    pub(crate) destination: Box<dyn CheckpointSink>,
    /// Witnesses asked to cosign each checkpoint before it is published.
    pub(crate) witnesses: Vec<crate::proof::witness_client::WitnessClient>,
}

impl std::fmt::Debug for Checkpoints {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Checkpoints")
            .field("origin", &self.origin)
            .field("every_records", &self.every_records)
            .field("every", &self.every)
            .finish_non_exhaustive()
    }
}

impl Checkpoints {
    /// Checkpoints signed by `key`, sent to `destination`; by default every
    /// 10 000 records or 60 seconds, whichever comes first, and at shutdown.
    /// The origin is the key's name.
    ///
    /// # Examples
    ///
    /// See [`Checkpoints`].
    pub fn new(key: SignerKey, destination: impl CheckpointSink) -> Self {
        Checkpoints {
            origin: key.name().to_owned(),
            key,
            every_records: Some(10_000),
            every: Some(Duration::from_secs(60)),
            destination: Box::new(destination),
            witnesses: Vec::new(),
        }
    }

    /// A checkpoint after every `records` new records.
    ///
    /// # Examples
    ///
    /// See [`Checkpoints`].
    pub fn every_records(mut self, records: u64) -> Self {
        self.every_records = Some(records.max(1));
        self
    }

    /// A checkpoint at most `interval` after a record, however few.
    ///
    /// # Examples
    ///
    /// See [`Checkpoints`].
    pub fn every(mut self, interval: Duration) -> Self {
        self.every = Some(interval);
        self
    }

    /// Asks `witness` (C2SP tlog-witness) to cosign every checkpoint, with
    /// a consistency proof from the last one it cosigned, before the
    /// checkpoint is published; its cosignature is added to the published
    /// note. A witness that cannot be reached or refuses is counted in
    /// [`WriterStats::checkpoint_errors`](crate::WriterStats) and the
    /// checkpoint is published without its cosignature. Needs the Merkle
    /// tree (a [`FileSink`](crate::FileSink) keeps it).
    ///
    /// # Examples
    ///
    /// ```no_run
    /// use audit_layer::{CheckpointDir, Checkpoints, CosignerVerifier, SignerKey, WitnessClient};
    /// let key = SignerKey::generate("example.com/audit/billing")?;
    /// let witness_key = CosignerVerifier::parse(&std::fs::read_to_string("w1.pub")?)?;
    /// let checkpoints = Checkpoints::new(key, CheckpointDir::new("/mnt/elsewhere"))
    ///     .witness(WitnessClient::new("http://127.0.0.1:7380", witness_key)?);
    /// # let _ = checkpoints;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn witness(mut self, witness: crate::proof::witness_client::WitnessClient) -> Self {
        self.witnesses.push(witness);
        self
    }

    /// The origin line (the key's name by default).
    ///
    /// # Examples
    ///
    /// ```
    /// # let key = audit_layer::SignerKey::generate("k")?;
    /// let c = audit_layer::Checkpoints::new(key, audit_layer::CheckpointDir::new("/tmp/c")).origin("example.com/log");
    /// # let _ = c;
    /// # Ok::<(), audit_layer::NoteError>(())
    /// ```
    pub fn origin(mut self, origin: impl Into<String>) -> Self {
        self.origin = origin.into();
        self
    }
}

/// Which old segments a writer deletes. Deletion is of whole segments, never
/// the one being written, and each leaves a signed [`Anchor`] and an
/// `audit.retention` record, so that what remains still verifies and any
/// further deletion is detected.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// let policy = audit_layer::RetentionPolicy::new()
///     .max_age(Duration::from_secs(6 * 365 * 24 * 3600)) // HIPAA: six years
///     .max_bytes(50 << 30);
/// # let _ = policy;
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[must_use]
pub struct RetentionPolicy {
    pub(crate) max_age: Option<Duration>,
    pub(crate) max_bytes: Option<u64>,
    pub(crate) max_segments: Option<usize>,
}

impl RetentionPolicy {
    /// Keeps everything (until a limit is set).
    ///
    /// # Examples
    ///
    /// See [`RetentionPolicy`].
    pub fn new() -> Self {
        RetentionPolicy::default()
    }

    /// Deletes segments whose newest record is older than `age`.
    ///
    /// # Examples
    ///
    /// See [`RetentionPolicy`].
    pub fn max_age(mut self, age: Duration) -> Self {
        self.max_age = Some(age);
        self
    }

    /// Deletes the oldest segments while the log is larger than `bytes`.
    ///
    /// # Examples
    ///
    /// See [`RetentionPolicy`].
    pub fn max_bytes(mut self, bytes: u64) -> Self {
        self.max_bytes = Some(bytes);
        self
    }

    /// Deletes the oldest segments while there are more than `segments`.
    ///
    /// # Examples
    ///
    /// ```
    /// let policy = audit_layer::RetentionPolicy::new().max_segments(100);
    /// # let _ = policy;
    /// ```
    pub fn max_segments(mut self, segments: usize) -> Self {
        self.max_segments = Some(segments.max(1));
        self
    }
}
