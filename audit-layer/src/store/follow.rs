//! Following a live file log: complete lines in chain order, across segment
//! rotation, while a writer appends.
//!
//! Only lines ending in a newline are handed over: the bytes after the last
//! newline are a record the writer is still writing (or a torn tail it will
//! repair when it restarts), and the position stays before them.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use crate::store::safe_open;
use crate::store::segment;

/// Follows a live file log: hands over each complete line, in chain
/// order, across segment rotation, while a writer appends. A line the
/// writer is still writing is never handed over.
///
/// # Examples
///
/// ```
/// use audit_layer::{AuditEvent, AuditWriter, FileSink, LogFollower};
///
/// let dir = tempfile::tempdir()?;
/// let (audit, guard) = AuditWriter::builder().spawn(FileSink::open(dir.path())?)?;
/// audit.submit(AuditEvent::builder("session.login").actor("alice").build())?;
/// audit.flush()?;
///
/// let mut follower = LogFollower::open_at(dir.path(), 0)?;
/// let mut lines = 0;
/// follower.read_available(|_line| {
///     lines += 1;
///     true
/// })?;
/// assert_eq!(lines, 1);
/// guard.shutdown(std::time::Duration::from_secs(5))?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct LogFollower {
    dir: PathBuf,
    segment_first: u64,
    file: Option<File>,
    /// Bytes read from `file` and not yet handed over: the start of a line.
    partial: Vec<u8>,
    chunk: Vec<u8>,
}

const CHUNK: usize = 1024 * 1024;

impl LogFollower {
    /// A follower at the start of the segment that holds `seq` (the last
    /// segment whose first seq is at most `seq`, or the first segment):
    /// lines before `seq` in that segment are handed over too.
    ///
    /// # Errors
    ///
    /// The directory can not be listed, holds no segment, or holds
    /// something planted with a segment's name.
    ///
    /// # Examples
    ///
    /// See [`LogFollower`].
    pub fn open_at(dir: &Path, seq: u64) -> io::Result<LogFollower> {
        let listing = segment::list(dir)?;
        if let Some((path, what)) = listing.foreign.first() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!(
                    "{} is {what} with a segment's name: planted, not followed",
                    path.display()
                ),
            ));
        }
        let first = listing
            .segments
            .iter()
            .rev()
            .find(|(first, _)| *first <= seq)
            .or(listing.segments.first())
            .map(|(first, _)| *first)
            .ok_or_else(|| {
                io::Error::new(
                    io::ErrorKind::NotFound,
                    format!("{} holds no segment files", dir.display()),
                )
            })?;
        Ok(LogFollower {
            dir: dir.to_owned(),
            segment_first: first,
            file: None,
            partial: Vec::new(),
            chunk: vec![0; CHUNK],
        })
    }

    /// Reads what the writer has added; hands `each` every complete line
    /// (without its newline), in order, until `each` returns `false` or the
    /// available lines run out. Returns whether any line was handed over.
    ///
    /// # Errors
    ///
    /// A segment can not be read, or a finished segment ends in a partial
    /// line.
    ///
    /// # Examples
    ///
    /// See [`LogFollower`].
    pub fn read_available(&mut self, mut each: impl FnMut(&[u8]) -> bool) -> io::Result<bool> {
        let mut any = false;
        loop {
            if self.file.is_none() {
                let path = self.dir.join(segment::file_name(self.segment_first));
                self.file = Some(safe_open::open_for_reading(&path)?);
            }
            let file = self.file.as_mut().expect("opened above");
            let read = file.read(&mut self.chunk)?;
            if read > 0 {
                self.partial.extend_from_slice(&self.chunk[..read]);
                let mut start = 0;
                while let Some(at) = memchr::memchr(b'\n', &self.partial[start..]) {
                    let line_end = start + at;
                    any = true;
                    let wanted_more = each(&self.partial[start..line_end]);
                    start = line_end + 1;
                    if !wanted_more {
                        // Give back what was read past this line.
                        let unread = (self.partial.len() - start) as i64;
                        self.partial.truncate(0);
                        let file = self.file.as_mut().expect("opened above");
                        file.seek(SeekFrom::Current(-unread))?;
                        return Ok(any);
                    }
                }
                self.partial.drain(..start);
                continue;
            }
            // The end of this segment, for now: it is finished once a later one exists.
            match self.next_segment()? {
                Some(next) => {
                    // Lines the writer added before it moved on are read first.
                    let file = self.file.as_mut().expect("opened above");
                    if file.read(&mut self.chunk[..1])? > 0 {
                        file.seek(SeekFrom::Current(-1))?;
                        continue;
                    }
                    if !self.partial.is_empty() {
                        return Err(io::Error::new(
                            io::ErrorKind::InvalidData,
                            format!(
                                "{} ends in {} bytes that are not a complete line, and a later segment exists",
                                segment::file_name(self.segment_first),
                                self.partial.len()
                            ),
                        ));
                    }
                    self.segment_first = next;
                    self.file = None;
                }
                None => {
                    // A torn tail may be cut by a restarting writer: read it again next time.
                    if !self.partial.is_empty() {
                        let unread = self.partial.len() as i64;
                        self.partial.clear();
                        let file = self.file.as_mut().expect("opened above");
                        file.seek(SeekFrom::Current(-unread))?;
                    }
                    return Ok(any);
                }
            }
        }
    }

    fn next_segment(&self) -> io::Result<Option<u64>> {
        let listing = segment::list(&self.dir)?;
        Ok(listing
            .segments
            .iter()
            .map(|(first, _)| *first)
            .find(|first| *first > self.segment_first))
    }
}
