//! A directory of append-only JSON Lines segment files.

use std::fs::{self, DirBuilder, File};
use std::io::{self, Write};
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};

use std::collections::HashMap;

use super::tail::{self, SizedFile};
use super::{Batch, Recovery, Repair, Retired, SealedSegment, SegmentSummary, Sink};
use crate::record::anchor::Anchor;
use crate::record::chain::ChainHead;
use crate::store::safe_open::{self, OpenDir};
use crate::store::segment;

const RECOVERED_DIR: &str = "recovered";
const DEFAULT_MAX_SEGMENT_BYTES: u64 = 64 * 1024 * 1024;

/// Stores the log as a directory of segment files.
///
/// - The directory is created with mode 0700, every file in it with 0600.
/// - Segments are append-only JSON Lines, named for their first seq
///   (`segment-00000000000000000042.jsonl`); a new one starts when the current
///   one would grow past [`max_segment_bytes`](FileSinkBuilder::max_segment_bytes),
///   and its first record links to the last record of the one before.
/// - One writer at a time: the sink holds an exclusive `flock` on the
///   directory itself for as long as it lives. Deleting or replacing a file
///   cannot lift it.
/// - Nothing a stranger plants is followed: every file is opened with
///   `O_NOFOLLOW`, new ones are created exclusively, and a directory or
///   segment that others may read or write is made owner-only (when it is
///   ours) or refused (when it is not).
/// - On start, it continues the chain where the last segment ends. A last line
///   cut short by a crash is moved to `recovered/`, the segment is truncated to
///   its last complete record, and the writer notes the repair in the chain.
///
/// # Examples
///
/// ```
/// use audit_layer::{AuditEvent, AuditWriter, FileSink};
///
/// let dir = tempfile::tempdir()?;
/// let sink = FileSink::builder(dir.path().join("audit-log"))
///     .max_segment_bytes(16 * 1024 * 1024)
///     .open()?;
/// let (handle, guard) = AuditWriter::builder().spawn(sink)?;
/// handle.submit(AuditEvent::builder("session.login").actor("alice").build())?;
/// guard.shutdown(std::time::Duration::from_secs(5))?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct FileSink {
    dir: PathBuf,
    tree: bool,
    max_segment_bytes: u64,
    current: Option<Segment>,
    /// Summaries of sealed segments, which never change.
    sealed: HashMap<PathBuf, SealedSegment>,
    /// The directory, held open and locked.
    handle: OpenDir,
}

#[derive(Debug)]
struct Segment {
    file: File,
    path: PathBuf,
    len: u64,
}

/// Configures a [`FileSink`]; see [`FileSink::builder`].
///
/// # Examples
///
/// ```
/// let dir = tempfile::tempdir()?;
/// let sink = audit_layer::FileSink::builder(dir.path()).max_segment_bytes(1 << 20).open()?;
/// # drop(sink);
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug, Clone)]
#[must_use = "call .open() to open the sink"]
pub struct FileSinkBuilder {
    dir: PathBuf,
    max_segment_bytes: u64,
    tree: bool,
}

impl FileSinkBuilder {
    /// Starts a new segment before one would grow past `bytes` (64 MiB by
    /// default). A single record larger than that gets a segment of its own.
    ///
    /// # Examples
    ///
    /// See [`FileSinkBuilder`].
    pub fn max_segment_bytes(mut self, bytes: u64) -> Self {
        self.max_segment_bytes = bytes.max(1);
        self
    }

    /// Whether the writer keeps the log's Merkle tree as tiles beside the
    /// segments (`tile/`, C2SP tlog-tiles): on by default. Without it,
    /// checkpoints carry the chain's head alone (the first kind) and no
    /// inclusion or consistency proof can be made from the log.
    ///
    /// # Examples
    ///
    /// ```
    /// use audit_layer::sink::Sink;
    /// let dir = tempfile::tempdir()?;
    /// let sink = audit_layer::FileSink::builder(dir.path()).tree(false).open()?;
    /// assert!(sink.tree_dir().is_none());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn tree(mut self, keep: bool) -> Self {
        self.tree = keep;
        self
    }

    /// Creates the directory if needed and takes the writer lock.
    ///
    /// # Errors
    ///
    /// I/O errors creating the directory, [`io::ErrorKind::WouldBlock`]
    /// when another writer (in this or another process) holds the directory,
    /// and [`io::ErrorKind::PermissionDenied`] when the directory is open to
    /// others and not ours to tighten.
    ///
    /// # Examples
    ///
    /// ```
    /// let dir = tempfile::tempdir()?;
    /// let first = audit_layer::FileSink::open(dir.path())?;
    /// let second = audit_layer::FileSink::open(dir.path());
    /// assert_eq!(second.unwrap_err().kind(), std::io::ErrorKind::WouldBlock);
    /// # drop(first);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn open(self) -> io::Result<FileSink> {
        DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&self.dir)?;
        let handle = OpenDir::open(&self.dir)?;
        safe_open::owner_only(&self.dir, handle.as_file(), 0o700)?;
        acquire_writer_lock(handle.as_file(), &self.dir)?;
        Ok(FileSink {
            dir: self.dir,
            tree: self.tree,
            max_segment_bytes: self.max_segment_bytes,
            current: None,
            sealed: HashMap::new(),
            handle,
        })
    }
}

/// Takes the directory's exclusive lock. `audit verify` probes the lock for
/// an instant to tell a live log from a crashed one, so a refusal is
/// retried for a moment before it is believed.
fn acquire_writer_lock(lock: &File, dir: &Path) -> io::Result<()> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(1);
    loop {
        match lock.try_lock() {
            Ok(()) => return Ok(()),
            Err(fs::TryLockError::WouldBlock) if std::time::Instant::now() < deadline => {
                std::thread::sleep(std::time::Duration::from_millis(5));
            }
            Err(fs::TryLockError::WouldBlock) => {
                return Err(io::Error::new(
                    io::ErrorKind::WouldBlock,
                    format!(
                        "another audit writer holds {}; two writers would fork the chain",
                        dir.display()
                    ),
                ));
            }
            Err(fs::TryLockError::Error(error)) => return Err(error),
        }
    }
}

impl FileSink {
    /// Configures a sink storing its segments in `dir`.
    ///
    /// # Examples
    ///
    /// See [`FileSinkBuilder`].
    pub fn builder(dir: impl Into<PathBuf>) -> FileSinkBuilder {
        FileSinkBuilder {
            dir: dir.into(),
            max_segment_bytes: DEFAULT_MAX_SEGMENT_BYTES,
            tree: true,
        }
    }

    /// Opens a sink in `dir` with default settings.
    ///
    /// # Errors
    ///
    /// See [`FileSinkBuilder::open`].
    ///
    /// # Examples
    ///
    /// ```
    /// let dir = tempfile::tempdir()?;
    /// let sink = audit_layer::FileSink::open(dir.path())?;
    /// assert_eq!(sink.dir(), dir.path());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn open(dir: impl Into<PathBuf>) -> io::Result<FileSink> {
        FileSink::builder(dir).open()
    }

    /// The directory holding the segments.
    ///
    /// # Examples
    ///
    /// See [`FileSink::open`].
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn open_segment(path: &Path, create: bool) -> io::Result<File> {
        safe_open::open_for_appending(path, create)
    }

    fn sync_dir(&self) -> io::Result<()> {
        self.handle.as_file().sync_all()
    }

    fn start_segment(&mut self, first_seq: u64) -> io::Result<PathBuf> {
        let path = self.dir.join(segment::file_name(first_seq));
        let file = match Self::open_segment(&path, true) {
            Ok(file) => file,
            // Left empty by a crash between creating and writing it.
            Err(error) if error.kind() == io::ErrorKind::AlreadyExists => {
                let file = Self::open_segment(&path, false)?;
                if file.metadata()?.len() != 0 {
                    return Err(io::Error::new(
                        io::ErrorKind::AlreadyExists,
                        format!("segment {} already holds records", path.display()),
                    ));
                }
                file
            }
            Err(error) => return Err(error),
        };
        // The new name must survive a crash as surely as the records in it.
        self.sync_dir()?;
        self.current = Some(Segment {
            file,
            path: path.clone(),
            len: 0,
        });
        Ok(path)
    }

    fn write_run(&mut self, bytes: &[u8]) -> io::Result<()> {
        if bytes.is_empty() {
            return Ok(());
        }
        let segment = self
            .current
            .as_mut()
            .ok_or_else(|| io::Error::other("no open segment"))?;
        segment.file.write_all(bytes)?;
        segment.len += bytes.len() as u64;
        Ok(())
    }

    fn append_all(&mut self, batch: &Batch<'_>, created: &mut Vec<PathBuf>) -> io::Result<()> {
        let bytes = batch.bytes();
        let (mut run_start, mut run_end) = (0usize, 0usize);
        for record in batch.records() {
            let line_len = (record.end - run_end) as u64;
            let full = match &self.current {
                None => true,
                Some(segment) => {
                    let pending = segment.len + (run_end - run_start) as u64;
                    pending > 0 && pending + line_len > self.max_segment_bytes
                }
            };
            if full {
                self.write_run(&bytes[run_start..run_end])?;
                if let Some(done) = self.current.take() {
                    done.file.sync_data()?;
                }
                created.push(self.start_segment(record.seq)?);
                run_start = run_end;
            }
            run_end = record.end;
        }
        self.write_run(&bytes[run_start..run_end])
    }

    /// Puts the directory back as it was before a failed append.
    fn roll_back(&mut self, before: Option<(PathBuf, u64)>, created: &[PathBuf]) -> io::Result<()> {
        for path in created.iter().rev() {
            match fs::remove_file(path) {
                Ok(()) => {}
                Err(error) if error.kind() == io::ErrorKind::NotFound => {}
                Err(error) => return Err(error),
            }
        }
        self.current = None;
        if let Some((path, len)) = before {
            let file = Self::open_segment(&path, false)?;
            file.set_len(len)?;
            self.current = Some(Segment { file, path, len });
        }
        Ok(())
    }

    /// Copies the torn bytes to `recovered/`; returns where, relative to the
    /// log directory. The file is new: an earlier copy is never overwritten.
    fn save_torn_bytes(&self, torn: &[u8], segment_name: &str, offset: u64) -> io::Result<String> {
        let recovered = self.handle.subdir(RECOVERED_DIR)?;
        let base = format!("{segment_name}.torn-at-{offset}");
        let mut attempt = 0u32;
        let (mut file, name) = loop {
            let name = match attempt {
                0 => base.clone(),
                n => format!("{base}.{n}"),
            };
            match recovered.create_new(&name) {
                Ok(file) => break (file, name),
                Err(error) if error.kind() == io::ErrorKind::AlreadyExists && attempt < 1000 => {
                    attempt += 1;
                }
                Err(error) => return Err(error),
            }
        };
        file.write_all(torn)?;
        file.sync_all()?;
        recovered.as_file().sync_all()?;
        Ok(format!("{RECOVERED_DIR}/{name}"))
    }
}

impl Sink for FileSink {
    fn recover(&mut self) -> io::Result<Recovery> {
        self.current = None;
        let mut repairs = Vec::new();
        let mut head = None;
        let listing = segment::list(&self.dir)?;
        if let Some((path, what)) = listing.foreign.first() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!(
                    "{} is {what}, not a regular file: refusing to write a log through it; remove it",
                    path.display()
                ),
            ));
        }
        for (_, path) in listing.segments.into_iter().rev() {
            let file = Self::open_segment(&path, false)?;
            let size = file.metadata()?.len();
            let sized = SizedFile { file: &file, size };
            let mut tail = tail::scan(&sized)?;
            let name = path
                .file_name()
                .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
            let torn = tail.torn_len(size);
            if torn > 0 {
                let mut bytes = vec![0u8; torn as usize];
                tail::ReadAt::read_exact_at(&sized, &mut bytes, tail.complete_len)?;
                if let Some(record) = tail::complete_record(&bytes, tail.last_record) {
                    // A whole record that lacks only its newline: keep it.
                    (&file).write_all(b"\n")?;
                    file.sync_all()?;
                    repairs.push(Repair::NewlineRestored {
                        segment: name.clone().into(),
                        offset: tail.complete_len,
                        seq: record.0,
                    });
                    tail.complete_len = size + 1;
                    tail.last_record = Some(record);
                } else {
                    let saved_to = self
                        .save_torn_bytes(&bytes, &name, tail.complete_len)
                        .ok()
                        .map(PathBuf::from);
                    file.set_len(tail.complete_len)?;
                    file.sync_all()?;
                    repairs.push(Repair::TornTail {
                        segment: name.clone().into(),
                        offset: tail.complete_len,
                        length: torn,
                        saved_to,
                    });
                }
            }
            if let Some((offset, lines)) = tail.unreadable {
                repairs.push(Repair::UnreadableTail {
                    segment: name.clone().into(),
                    offset,
                    lines,
                });
            }
            if tail.complete_len == 0 {
                // Nothing in it: created just before a crash, or emptied by the repair.
                drop(file);
                fs::remove_file(&path)?;
                self.sync_dir()?;
                continue;
            }
            if self.current.is_none() {
                self.current = Some(Segment {
                    file,
                    path: path.clone(),
                    len: tail.complete_len,
                });
            }
            if let Some((seq, hash)) = tail.last_record {
                head = Some(ChainHead {
                    next_seq: seq + 1,
                    prev: hash,
                });
                break;
            }
        }
        Ok(Recovery {
            head: head.unwrap_or_else(ChainHead::genesis),
            repairs,
        })
    }

    fn append(&mut self, batch: &Batch<'_>) -> io::Result<()> {
        let before = self.current.as_ref().map(|s| (s.path.clone(), s.len));
        let mut created = Vec::new();
        match self.append_all(batch, &mut created) {
            Ok(()) => Ok(()),
            Err(error) => {
                if let Err(rollback) = self.roll_back(before, &created) {
                    // The next recover() rebuilds the state from what is on disk.
                    self.current = None;
                    return Err(io::Error::new(
                        error.kind(),
                        format!("{error}; undoing the partial append also failed: {rollback}"),
                    ));
                }
                Err(error)
            }
        }
    }

    fn sync(&mut self) -> io::Result<()> {
        match &self.current {
            Some(segment) => segment.file.sync_data(),
            None => Ok(()),
        }
    }

    fn tree_dir(&self) -> Option<&Path> {
        self.tree.then_some(self.dir.as_path())
    }

    fn segments(&mut self) -> io::Result<Vec<SegmentSummary>> {
        let current = self.current.as_ref().map(|s| s.path.clone());
        let mut summaries = Vec::new();
        for (first_seq, path) in segment::list(&self.dir)?.segments {
            let bytes = fs::metadata(&path)?.len();
            let sealed = if Some(&path) == current.as_ref() {
                None
            } else if let Some(known) = self.sealed.get(&path) {
                Some(known.clone())
            } else {
                let summary = last_record(&path)?;
                if let Some(summary) = &summary {
                    self.sealed.insert(path.clone(), summary.clone());
                }
                summary
            };
            summaries.push(SegmentSummary {
                first_seq,
                bytes,
                sealed,
            });
        }
        Ok(summaries)
    }

    fn retire(&mut self, anchor: &Anchor, note: &str) -> io::Result<Retired> {
        // The anchor first: a crash part-way leaves old segments behind an
        // anchor (the verifier skips them), never a gap with no anchor.
        safe_open::replace(
            &self
                .dir
                .join(crate::store::segment::anchor_file_name(anchor.first_seq)),
            note.as_bytes(),
        )?;
        let current = self.current.as_ref().map(|s| s.path.clone());
        let mut retired = Retired {
            segments: 0,
            bytes: 0,
            first_seq: u64::MAX,
            last_seq: 0,
        };
        for summary in self.segments()? {
            let Some(sealed) = &summary.sealed else { break };
            if sealed.last_seq >= anchor.first_seq {
                break;
            }
            let path = self.dir.join(segment::file_name(summary.first_seq));
            if Some(&path) == current.as_ref() {
                break;
            }
            fs::remove_file(&path)?;
            self.sealed.remove(&path);
            retired.segments += 1;
            retired.bytes += summary.bytes;
            retired.first_seq = retired.first_seq.min(summary.first_seq);
            retired.last_seq = sealed.last_seq;
        }
        self.sync_dir()?;
        for (first_seq, path) in anchors(&self.dir)? {
            if first_seq < anchor.first_seq {
                fs::remove_file(path)?;
            }
        }
        self.sync_dir()?;
        Ok(retired)
    }
}

/// The seq of the last whole record of the log in `dir`, if it has one.
pub(crate) fn last_stored_seq(dir: &Path) -> io::Result<Option<u64>> {
    for (_, path) in segment::list(dir)?.segments.into_iter().rev() {
        let file = safe_open::open_for_reading(&path)?;
        let size = file.metadata()?.len();
        if let Some((seq, _)) = tail::scan(&SizedFile { file: &file, size })?.last_record {
            return Ok(Some(seq));
        }
    }
    Ok(None)
}

/// The anchors in a log directory, oldest first.
pub(crate) fn anchors(dir: &Path) -> io::Result<Vec<(u64, PathBuf)>> {
    let mut found = Vec::new();
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name();
        let first = name
            .to_str()
            .and_then(|n| n.strip_prefix("anchor-"))
            .and_then(|n| n.strip_suffix(".note"))
            .and_then(|n| n.parse::<u64>().ok());
        if let Some(first) = first {
            found.push((first, entry.path()));
        }
    }
    found.sort();
    Ok(found)
}

/// The last record of a segment: its seq, hash and time.
fn last_record(path: &Path) -> io::Result<Option<SealedSegment>> {
    let file = safe_open::open_for_reading(path)?;
    let size = file.metadata()?.len();
    let tail = tail::scan(&SizedFile { file: &file, size })?;
    let Some((last_seq, last_hash)) = tail.last_record else {
        return Ok(None);
    };
    // The line itself, for its time: the bytes between the two last newlines.
    let end = tail.complete_len.saturating_sub(1);
    let mut start = end;
    let mut byte = [0u8; 1];
    while start > 0 {
        std::os::unix::fs::FileExt::read_exact_at(&file, &mut byte, start - 1)?;
        if byte[0] == b'\n' {
            break;
        }
        start -= 1;
    }
    let mut line = vec![0u8; (end - start) as usize];
    std::os::unix::fs::FileExt::read_exact_at(&file, &mut line, start)?;
    let newest = crate::AuditRecord::from_line(&line)
        .map(|r| r.time)
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
    Ok(Some(SealedSegment {
        last_seq,
        last_hash,
        newest,
    }))
}
