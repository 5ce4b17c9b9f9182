//! Finding where a stored log ends, reading backwards from its last byte.

use std::io;

use crate::record::chain::{self, Hash};

/// Random-access reads, so the tail of a large segment can be scanned
/// without reading the whole file.
pub(crate) trait ReadAt {
    fn size(&self) -> u64;
    fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> io::Result<()>;
}

impl ReadAt for [u8] {
    fn size(&self) -> u64 {
        self.len() as u64
    }

    fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> io::Result<()> {
        let start = usize::try_from(offset).map_err(|_| io::ErrorKind::InvalidInput)?;
        let source = self
            .get(start..start + buf.len())
            .ok_or(io::ErrorKind::UnexpectedEof)?;
        buf.copy_from_slice(source);
        Ok(())
    }
}

pub(crate) struct SizedFile<'a> {
    pub(crate) file: &'a std::fs::File,
    pub(crate) size: u64,
}

impl ReadAt for SizedFile<'_> {
    fn size(&self) -> u64 {
        self.size
    }

    fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> io::Result<()> {
        std::os::unix::fs::FileExt::read_exact_at(self.file, buf, offset)
    }
}

/// What the end of one stored segment looks like.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Tail {
    /// Bytes up to and including the last newline.
    pub(crate) complete_len: u64,
    /// Seq and hash of the last line that frames as a record.
    pub(crate) last_record: Option<(u64, Hash)>,
    /// Complete lines after `last_record` that do not frame: (offset of the
    /// first, how many).
    pub(crate) unreadable: Option<(u64, u64)>,
}

impl Tail {
    /// Bytes after the last newline: a line cut short.
    pub(crate) fn torn_len(&self, size: u64) -> u64 {
        size - self.complete_len
    }
}

const CHUNK: u64 = 64 * 1024;

/// Position of the last `\n` strictly before `before`.
fn rfind_newline(source: &(impl ReadAt + ?Sized), before: u64) -> io::Result<Option<u64>> {
    let mut end = before;
    let mut chunk = vec![0u8; CHUNK as usize];
    while end > 0 {
        let start = end.saturating_sub(CHUNK);
        let buf = &mut chunk[..(end - start) as usize];
        source.read_exact_at(buf, start)?;
        if let Some(at) = memchr::memrchr(b'\n', buf) {
            return Ok(Some(start + at as u64));
        }
        end = start;
    }
    Ok(None)
}

/// The seq and hash of `torn`, the bytes after a segment's last newline,
/// when they are one whole record lacking only its newline: it frames, its
/// hash is right, and it follows `before` (the last record of the segment).
pub(crate) fn complete_record(torn: &[u8], before: Option<(u64, Hash)>) -> Option<(u64, Hash)> {
    let view = chain::frame(torn).ok()?;
    let follows =
        before.is_none_or(|(seq, hash)| seq.checked_add(1) == Some(view.seq) && view.prev == hash);
    (follows && view.computed_hash() == view.stored_hash && crate::record::is_valid_line(torn))
        .then_some((view.seq, view.stored_hash))
}

pub(crate) fn scan(source: &(impl ReadAt + ?Sized)) -> io::Result<Tail> {
    let size = source.size();
    let Some(last_newline) = rfind_newline(source, size)? else {
        return Ok(Tail {
            complete_len: 0,
            last_record: None,
            unreadable: None,
        });
    };
    let complete_len = last_newline + 1;
    let mut line_end = last_newline;
    let mut unreadable = 0u64;
    loop {
        let line_start = rfind_newline(source, line_end)?.map_or(0, |at| at + 1);
        let mut line = vec![0u8; (line_end - line_start) as usize];
        source.read_exact_at(&mut line, line_start)?;
        if let Ok(view) = chain::frame(&line) {
            return Ok(Tail {
                complete_len,
                last_record: Some((view.seq, view.stored_hash)),
                unreadable: (unreadable > 0).then_some((line_end + 1, unreadable)),
            });
        }
        unreadable += 1;
        if line_start == 0 {
            return Ok(Tail {
                complete_len,
                last_record: None,
                unreadable: Some((0, unreadable)),
            });
        }
        line_end = line_start - 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::AuditEvent;
    use crate::record::RecordDefaults;
    use crate::record::chain::GENESIS;
    use crate::record::encode::encode_line;

    fn two_records() -> (Vec<u8>, Hash) {
        let mut buf = Vec::new();
        let defaults = RecordDefaults::default();
        let first = encode_line(
            &mut buf,
            &AuditEvent::builder("a").build(),
            0,
            GENESIS,
            &defaults,
        );
        let second = encode_line(
            &mut buf,
            &AuditEvent::builder("b").build(),
            1,
            first,
            &defaults,
        );
        (buf, second)
    }

    #[test]
    fn finds_last_record_and_torn_bytes() {
        let (mut log, last) = two_records();
        let complete = log.len() as u64;
        log.extend_from_slice(b"{\"v\":1,\"seq\":2,\"pr");
        let tail = scan(&log[..]).unwrap();
        assert_eq!(tail.complete_len, complete);
        assert_eq!(tail.last_record, Some((1, last)));
        assert_eq!(tail.torn_len(log.len() as u64), 18);
        assert_eq!(tail.unreadable, None);
    }

    #[test]
    fn skips_unreadable_complete_lines() {
        let (mut log, last) = two_records();
        let garbage_at = log.len() as u64;
        log.extend_from_slice(b"garbage\nmore garbage\n");
        let tail = scan(&log[..]).unwrap();
        assert_eq!(tail.last_record, Some((1, last)));
        assert_eq!(tail.unreadable, Some((garbage_at, 2)));
    }

    #[test]
    fn empty_and_newline_free_inputs() {
        let empty = scan(&b""[..]).unwrap();
        assert_eq!((empty.complete_len, empty.last_record), (0, None));
        let torn = scan(&b"{\"v\":1"[..]).unwrap();
        assert_eq!(torn.torn_len(6), 6);
    }
}
