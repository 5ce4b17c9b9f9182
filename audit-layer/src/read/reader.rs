//! Reading the records of a log, in chain order, for queries and exports.
//!
//! Reading is not verifying: use [`Verifier`](crate::Verifier) to know
//! whether the records can be trusted. Lines that are not records are
//! reported as errors with their place, and reading goes on.

use std::fs::File;
use std::io::{self, BufRead, BufReader};
use std::path::{Path, PathBuf};

use crate::record::AuditRecord;
use crate::store::segment;

/// A line of a log that could not be read as a record.
///
/// # Examples
///
/// ```
/// let dir = tempfile::tempdir()?;
/// std::fs::write(dir.path().join("segment-00000000000000000000.jsonl"), "oops\n")?;
/// let first = audit_layer::LogReader::open(dir.path())?.next().unwrap();
/// let error = first.unwrap_err();
/// assert_eq!(error.offset, 0);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, thiserror::Error)]
#[error("{}:{offset}: {reason}", segment.display())]
#[non_exhaustive]
pub struct ReadError {
    /// The segment file.
    pub segment: PathBuf,
    /// Byte offset of the line.
    pub offset: u64,
    /// What went wrong.
    pub reason: String,
}

/// Iterates over the records of a log directory or segment file.
///
/// # Examples
///
/// ```
/// use audit_layer::{AuditEvent, AuditWriter, FileSink, LogReader};
///
/// let dir = tempfile::tempdir()?;
/// let (handle, guard) = AuditWriter::builder().spawn(FileSink::open(dir.path())?)?;
/// handle.submit(AuditEvent::builder("session.login").actor("alice").build())?;
/// guard.shutdown(std::time::Duration::from_secs(5))?;
///
/// let actors: Vec<_> = LogReader::open(dir.path())?
///     .filter_map(Result::ok)
///     .map(|record| record.actor)
///     .collect();
/// assert_eq!(actors, [Some("alice".to_string())]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct LogReader {
    segments: std::vec::IntoIter<PathBuf>,
    current: Option<(PathBuf, BufReader<File>, u64)>,
    line: Vec<u8>,
}

impl LogReader {
    /// Opens a log directory (its segments in order) or a single segment file.
    ///
    /// # Errors
    ///
    /// When the path cannot be read, or a directory holds no segments.
    ///
    /// # Examples
    ///
    /// See [`LogReader`].
    pub fn open(path: impl AsRef<Path>) -> io::Result<LogReader> {
        let path = path.as_ref();
        let segments = if std::fs::metadata(path)?.is_dir() {
            let segments: Vec<PathBuf> = segment::list(path)?
                .segments
                .into_iter()
                .map(|(_, p)| p)
                .collect();
            if segments.is_empty() {
                return Err(io::Error::new(
                    io::ErrorKind::NotFound,
                    format!(
                        "{} holds no segment files (segment-<seq>.jsonl)",
                        path.display()
                    ),
                ));
            }
            segments
        } else {
            vec![path.to_owned()]
        };
        Ok(LogReader {
            segments: segments.into_iter(),
            current: None,
            line: Vec::new(),
        })
    }
}

impl Iterator for LogReader {
    type Item = Result<AuditRecord, ReadError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if self.current.is_none() {
                let path = self.segments.next()?;
                match crate::store::safe_open::open_for_reading(&path) {
                    Ok(file) => self.current = Some((path, BufReader::new(file), 0)),
                    Err(error) => {
                        return Some(Err(ReadError {
                            segment: path,
                            offset: 0,
                            reason: error.to_string(),
                        }));
                    }
                }
            }
            let (path, reader, offset) = self.current.as_mut()?;
            self.line.clear();
            let read = match reader.read_until(b'\n', &mut self.line) {
                Ok(read) => read,
                Err(error) => {
                    let failed = ReadError {
                        segment: path.clone(),
                        offset: *offset,
                        reason: error.to_string(),
                    };
                    self.current = None;
                    return Some(Err(failed));
                }
            };
            if read == 0 {
                self.current = None;
                continue;
            }
            let at = *offset;
            *offset += read as u64;
            if !self.line.ends_with(b"\n") {
                // A torn tail: the verifier reports it; there is no record to read.
                continue;
            }
            return Some(
                AuditRecord::from_line(&self.line).map_err(|error| ReadError {
                    segment: path.clone(),
                    offset: at,
                    reason: error.to_string(),
                }),
            );
        }
    }
}

/// The line (without its newline) of the record with `seq` in the log
/// directory `dir`, as stored; `None` when the log holds no such record.
/// Reads from the segment that holds it, not from the start of the log.
///
/// # Errors
///
/// I/O errors reading the segments.
///
/// # Examples
///
/// ```
/// use audit_layer::{AuditEvent, AuditWriter, FileSink, stored_line};
///
/// let dir = tempfile::tempdir()?;
/// let (handle, guard) = AuditWriter::builder().spawn(FileSink::open(dir.path())?)?;
/// for actor in ["alice", "bob"] {
///     handle.submit(AuditEvent::builder("session.login").actor(actor).build())?;
/// }
/// guard.shutdown(std::time::Duration::from_secs(5))?;
/// let line = stored_line(dir.path(), 1)?.unwrap();
/// assert!(String::from_utf8(line)?.contains(r#""actor":"bob""#));
/// assert!(stored_line(dir.path(), 2)?.is_none());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn stored_line(dir: &Path, seq: u64) -> io::Result<Option<Vec<u8>>> {
    let mut follower = crate::store::follow::LogFollower::open_at(dir, seq)?;
    let mut found = None;
    follower.read_available(|line| match crate::record::chain::frame(line) {
        Ok(view) if view.seq == seq => {
            found = Some(line.to_vec());
            false
        }
        Ok(view) => view.seq < seq,
        Err(_) => true,
    })?;
    Ok(found)
}
