//! Checking a log: every record's hash, every link, every seq.
//!
//! The verifier reads the bytes as written and never re-serialises a record,
//! so it runs close to the speed of SHA-256 itself. It reports every problem
//! it finds, each with a stable [`FindingCode`], the record's seq and its
//! byte offset, and carries on after each one.

//!
//! This module has the [`Verifier`] and how it reads a log; `chain_walk`
//! checks the lines, `report` says what was found.

use crate::proof::chain_walk::ChainCheck;
use crate::proof::chain_walk::Link;
use crate::proof::chain_walk::{NOTE_LIMIT, Visitor};
use crate::proof::report::CheckedLine;
use crate::proof::report::FindingCode;
use crate::proof::report::Report;
use crate::proof::report::SealsToCheck;
use crate::proof::report::VerifyError;
use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use crate::proof::cosignature::CosignerVerifier;
use crate::proof::note::VerifierKey;
use crate::proof::seal::SealVerifyingKey;
use crate::record::anchor::Anchor;
use crate::store::safe_open;
use crate::store::segment;

pub(crate) type Progress<'a> = Box<dyn FnMut(u64, u64) + 'a>;

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
    pub(crate) progress: Option<Progress<'a>>,
    pub(crate) threads: Option<usize>,
    pub(crate) keys: Vec<VerifierKey>,
    pub(crate) checkpoints: Vec<(PathBuf, String)>,
    pub(crate) checkpoints_expected: bool,
    pub(crate) seals: Option<SealsToCheck>,
    pub(crate) witnesses: Option<(Vec<CosignerVerifier>, usize)>,
}

/// A seals file gains one short line an epoch: 2^26 bytes is centuries of them.
pub(crate) const SEALS_LIMIT: u64 = 64 * 1024 * 1024;

impl std::fmt::Debug for Verifier<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Verifier").finish_non_exhaustive()
    }
}

pub(crate) const READ_CHUNK: usize = 8 * 1024 * 1024;

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
            witnesses: None,
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
    /// let note = Checkpoint { origin: "example.com/log".into(), size: 0, head: audit_layer::chain::GENESIS, root: Some(audit_layer::merkle::empty_root()) }.sign(&key);
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
    /// let note = Checkpoint { origin: "example.com/log".into(), size: 0, head: audit_layer::chain::GENESIS, root: Some(audit_layer::merkle::empty_root()) }.sign(&key);
    /// let report = Verifier::new().trust(key.verifier()).checkpoint("kept-elsewhere.note", note).verify_bytes(b"");
    /// assert!(report.is_intact());
    /// # Ok::<(), audit_layer::NoteError>(())
    /// ```
    pub fn checkpoint(mut self, source: impl Into<PathBuf>, note: impl Into<String>) -> Self {
        self.checkpoints.push((source.into(), note.into()));
        self
    }

    /// Trusts every key of `keys` (see [`trust`](Verifier::trust)).
    ///
    /// # Examples
    ///
    /// ```
    /// let key = audit_layer::SignerKey::generate("example.com/log")?;
    /// let verifier = audit_layer::Verifier::new().trust_all(&[key.verifier()]);
    /// # let _ = verifier;
    /// # Ok::<(), audit_layer::NoteError>(())
    /// ```
    pub fn trust_all(mut self, keys: &[VerifierKey]) -> Self {
        for key in keys {
            self = self.trust(key.clone());
        }
        self
    }

    /// Requires that a checkpoint which matches the log carry valid
    /// cosignatures (C2SP tlog-cosignature) from at least `quorum` of the
    /// `witnesses`: without one, the report has a `no-quorum` finding. A
    /// witness cosigns only checkpoints consistent with what it saw, so a
    /// log rolled back or forked since cannot collect a quorum.
    ///
    /// # Examples
    ///
    /// ```
    /// use audit_layer::{Checkpoint, CosignerKey, FindingCode, SignerKey, Verifier, merkle};
    /// let log = SignerKey::generate("example.com/log")?;
    /// let witness = CosignerKey::new(SignerKey::generate("witness.example/w1")?);
    /// let checkpoint = Checkpoint { origin: "example.com/log".into(), size: 0, head: audit_layer::chain::GENESIS, root: Some(merkle::empty_root()) };
    /// let note = checkpoint.sign(&log);
    /// let cosigned = format!("{note}{}", witness.cosign(&checkpoint.text(), 1_700_000_000));
    /// let verify = |note: &str| Verifier::new().trust(log.verifier()).checkpoint("cp.note", note)
    ///     .witnesses(vec![witness.verifier()], 1).verify_bytes(b"");
    /// assert_eq!(verify(&cosigned).witnessed_through, Some(0));
    /// assert!(verify(&note).finding_counts.contains_key(&FindingCode::NoQuorum));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn witnesses(mut self, witnesses: Vec<CosignerVerifier>, quorum: usize) -> Self {
        self.checkpoints_expected = true;
        self.witnesses = Some((witnesses, quorum.max(1)));
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

    pub(crate) fn thread_count(&self) -> usize {
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
    pub(crate) fn compare_outside_state(
        &self,
        check: &mut ChainCheck<'_>,
        anchor: Option<&Anchor>,
    ) {
        let witnesses = self
            .witnesses
            .as_ref()
            .map(|(keys, quorum)| (keys.as_slice(), *quorum));
        check.compare_checkpoints(&self.checkpoints, &self.keys, anchor, witnesses);
        if let Some((keys, quorum)) = &self.witnesses
            && check.witnessed_through.is_none()
        {
            check.report(
                FindingCode::NoQuorum,
                None,
                None,
                0,
                format!(
                    "no checkpoint that matches the log carries cosignatures from {quorum} of the {} witness(es) given",
                    keys.len()
                ),
            );
        }
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

pub(crate) fn read_full(reader: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
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
pub(crate) fn writer_is_active(dir: &Path, file: &File, snapshot_len: u64) -> bool {
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
