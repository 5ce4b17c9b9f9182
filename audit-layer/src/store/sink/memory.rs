//! A sink that keeps the log in memory, for tests.

use std::io;
use std::sync::{Arc, Mutex, PoisonError};

use super::tail;
use super::{Batch, Recovery, Repair, Sink};
use crate::record::chain::ChainHead;
use crate::record::{AuditRecord, RecordParseError};

/// Keeps the log in memory; read it back through the [`MemoryLog`] handle.
///
/// # Examples
///
/// ```
/// use audit_layer::{AuditEvent, AuditWriter, MemorySink};
///
/// let (sink, log) = MemorySink::new();
/// let (handle, _guard) = AuditWriter::builder().spawn(sink)?;
/// handle.submit(AuditEvent::builder("session.login").actor("alice").build())?;
/// handle.flush()?;
///
/// let records = log.records()?;
/// assert_eq!(records[0].actor.as_deref(), Some("alice"));
/// assert!(log.verify().is_intact());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct MemorySink {
    log: MemoryLog,
}

/// A shared view of a [`MemorySink`]'s bytes.
///
/// # Examples
///
/// See [`MemorySink`].
#[derive(Debug, Clone, Default)]
pub struct MemoryLog {
    bytes: Arc<Mutex<Vec<u8>>>,
}

impl MemorySink {
    /// An empty log and a handle to read it.
    ///
    /// # Examples
    ///
    /// See [`MemorySink`].
    pub fn new() -> (MemorySink, MemoryLog) {
        let log = MemoryLog::default();
        (MemorySink { log: log.clone() }, log)
    }

    /// A sink that continues an existing log, as a restarted writer would.
    ///
    /// # Examples
    ///
    /// ```
    /// use audit_layer::{AuditEvent, AuditWriter, MemorySink};
    ///
    /// let (sink, log) = MemorySink::new();
    /// let (handle, guard) = AuditWriter::builder().spawn(sink)?;
    /// handle.submit(AuditEvent::builder("first").build())?;
    /// guard.shutdown(std::time::Duration::from_secs(5))?;
    ///
    /// let (handle, _guard) = AuditWriter::builder().spawn(MemorySink::continuing(log.clone()))?;
    /// handle.submit(AuditEvent::builder("second").build())?;
    /// handle.flush()?;
    /// assert_eq!(log.records()?[1].seq, 1);
    /// assert!(log.verify().is_intact());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn continuing(log: MemoryLog) -> MemorySink {
        MemorySink { log }
    }
}

impl MemoryLog {
    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<u8>> {
        self.bytes.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A copy of every byte written so far.
    ///
    /// # Examples
    ///
    /// ```
    /// let (_sink, log) = audit_layer::MemorySink::new();
    /// assert!(log.bytes().is_empty());
    /// ```
    pub fn bytes(&self) -> Vec<u8> {
        self.lock().clone()
    }

    /// Replaces the bytes (to simulate tampering or a crash in tests).
    ///
    /// # Examples
    ///
    /// ```
    /// let (_sink, log) = audit_layer::MemorySink::new();
    /// log.set_bytes(b"garbage\n".to_vec());
    /// assert!(!log.verify().is_intact());
    /// ```
    pub fn set_bytes(&self, bytes: Vec<u8>) {
        *self.lock() = bytes;
    }

    /// Parses every complete line as a record.
    ///
    /// # Errors
    ///
    /// The first line that is not a record.
    ///
    /// # Examples
    ///
    /// See [`MemorySink`].
    pub fn records(&self) -> Result<Vec<AuditRecord>, RecordParseError> {
        let bytes = self.bytes();
        bytes
            .split_inclusive(|&b| b == b'\n')
            .filter(|line| line.ends_with(b"\n"))
            .map(AuditRecord::from_line)
            .collect()
    }
}

impl Sink for MemorySink {
    fn recover(&mut self) -> io::Result<Recovery> {
        let mut bytes = self.log.lock();
        let tail = tail::scan(&bytes[..])?;
        let mut repairs = Vec::new();
        let torn = tail.torn_len(bytes.len() as u64);
        if torn > 0 {
            bytes.truncate(tail.complete_len as usize);
            repairs.push(Repair::TornTail {
                segment: "memory".into(),
                offset: tail.complete_len,
                length: torn,
                saved_to: None,
            });
        }
        if let Some((offset, lines)) = tail.unreadable {
            repairs.push(Repair::UnreadableTail {
                segment: "memory".into(),
                offset,
                lines,
            });
        }
        let head = tail
            .last_record
            .map_or_else(ChainHead::genesis, |(seq, hash)| ChainHead {
                next_seq: seq + 1,
                prev: hash,
            });
        Ok(Recovery { head, repairs })
    }

    fn append(&mut self, batch: &Batch<'_>) -> io::Result<()> {
        self.log.lock().extend_from_slice(batch.bytes());
        Ok(())
    }

    fn sync(&mut self) -> io::Result<()> {
        Ok(())
    }
}
