//! Verifying a stream of the PostgreSQL store: the chain exactly as on
//! files, read from the stored lines, and each row's indexed columns
//! against its line.

use std::io;
use std::path::{Path, PathBuf};

use crate::proof::chain_walk::{ChainCheck, Visitor};
use crate::proof::report::{CheckedLine, FindingCode, Report, VerifyError};
use crate::proof::verify::{READ_CHUNK, Verifier};
use crate::store::postgres::{Columns, PgError, PgStore, StoredRow, decode_row, for_each_row};

/// What a finding about a stored stream names instead of a segment file.
fn stream_source(stream: &str) -> PathBuf {
    PathBuf::from(format!("stream:{stream}"))
}

fn store_error(error: PgError) -> VerifyError {
    VerifyError::Store(Box::new(error))
}

impl Verifier<'_> {
    /// Verifies one stream of the PostgreSQL store: the same checks, with
    /// the same findings, as [`verify_path`](Verifier::verify_path) on the
    /// same records in files, read a batch of rows at a time from one
    /// consistent snapshot. It also checks that each row's indexed columns
    /// (seq, hash, prev, time, kind, action, actor, resource, outcome,
    /// category, service, host) say what its line says: a row edited
    /// behind its line is a [`FindingCode::ColumnMismatch`].
    ///
    /// A retention anchor the store holds for the stream is used when a
    /// trusted key signed it, as the anchor beside file segments is.
    /// Checkpoints and seals are given as for files (they must come from
    /// outside the store).
    ///
    /// # Errors
    ///
    /// [`VerifyError::Store`] when the store cannot be read;
    /// [`VerifyError::NoKeys`] for checkpoints without keys.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// use audit_layer::{PgStore, Verifier};
    ///
    /// let mut store = PgStore::connect("postgresql://auditor@db.internal/audit")?;
    /// let report = Verifier::new().verify_stream(&mut store, "blog-api@web-1")?;
    /// assert!(report.is_intact(), "{}", report.summary());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn verify_stream(self, store: &mut PgStore, stream: &str) -> Result<Report, VerifyError> {
        self.walk_stream(store, stream, None)
    }

    /// Verifies as [`verify_stream`](Verifier::verify_stream) does and hands
    /// every line to `each`, as
    /// [`verify_path_with`](Verifier::verify_path_with) does for files.
    ///
    /// # Errors
    ///
    /// As [`verify_stream`](Verifier::verify_stream), and
    /// [`VerifyError::Output`] with the first error `each` returns.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// use audit_layer::{PgStore, Verifier};
    ///
    /// let mut store = PgStore::connect("postgresql://auditor@db.internal/audit")?;
    /// let mut lines = 0;
    /// Verifier::new().verify_stream_with(&mut store, "blog-api@web-1", |_| {
    ///     lines += 1;
    ///     Ok(())
    /// })?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn verify_stream_with(
        self,
        store: &mut PgStore,
        stream: &str,
        mut each: impl FnMut(CheckedLine<'_>) -> io::Result<()>,
    ) -> Result<Report, VerifyError> {
        self.walk_stream(store, stream, Some(&mut each))
    }

    fn walk_stream(
        mut self,
        store: &mut PgStore,
        stream: &str,
        visitor: Option<Visitor<'_>>,
    ) -> Result<Report, VerifyError> {
        if (!self.checkpoints.is_empty() || self.checkpoints_expected) && self.keys.is_empty() {
            return Err(VerifyError::NoKeys);
        }
        store.require_schema().map_err(store_error)?;
        let source = stream_source(stream);
        let mut check = ChainCheck::new(self.thread_count(), visitor);
        check.watch(&self.checkpoints, &self.keys);
        check.watch_seals(self.seals.as_ref());
        check.segments = 1;
        if let Some((first_seq, note)) = store.anchor(stream).map_err(store_error)? {
            check.start_from_anchor_note(first_seq, &note, &source, &self.keys);
        }
        let from_seq = check.anchor.as_ref().map_or(0, |anchor| anchor.first_seq);
        let from_seq = i64::try_from(from_seq).unwrap_or(i64::MAX);
        let mut walk = StreamWalk {
            buf: Vec::with_capacity(READ_CHUNK),
            offset: 0,
            done: 0,
        };
        let query = format!(
            "SELECT {} FROM audit.records WHERE stream = $1 AND seq >= $2 ORDER BY seq",
            crate::store::postgres::ROW_COLUMNS
        );
        let progress = &mut self.progress;
        let read = for_each_row(
            &mut store.client,
            &query,
            &[&stream, &from_seq],
            |row: &postgres::Row| {
                let row: StoredRow = decode_row(row)?;
                walk.row(&mut check, &source, &row);
                if walk.buf.len() >= READ_CHUNK {
                    walk.flush(&mut check);
                    if let Some(progress) = progress.as_mut() {
                        progress(walk.done, 0);
                    }
                }
                match check.output_error.take() {
                    Some(error) => Err(StreamStop::Output(error)),
                    None => Ok(()),
                }
            },
        );
        match read {
            Ok(()) => {}
            Err(StreamStop::Store(error)) => return Err(store_error(error)),
            Err(StreamStop::Output(error)) => return Err(VerifyError::Output(error)),
        }
        walk.flush(&mut check);
        if let Some(error) = check.output_error.take() {
            return Err(VerifyError::Output(error));
        }
        check.tail(&[], walk.offset, None, true, false);
        let anchor = check.anchor.clone();
        self.compare_outside_state(&mut check, anchor.as_ref());
        Ok(check.finish())
    }
}

enum StreamStop {
    Store(PgError),
    Output(io::Error),
}

impl From<PgError> for StreamStop {
    fn from(error: PgError) -> Self {
        StreamStop::Store(error)
    }
}

/// Rows gathered into the byte stream the chain walk reads, with offsets
/// counted as if the stream's lines were one file.
struct StreamWalk {
    buf: Vec<u8>,
    /// The offset of `buf[0]`.
    offset: u64,
    done: u64,
}

impl StreamWalk {
    fn row(&mut self, check: &mut ChainCheck<'_>, source: &Path, row: &StoredRow) {
        let offset = self.offset + self.buf.len() as u64;
        // A line that is not a record is the chain walk's finding (malformed).
        if let Ok(from_line) = Columns::of_line(&row.line)
            && let Some(mismatch) = from_line.mismatch(&row.columns)
        {
            check.report(
                FindingCode::ColumnMismatch,
                Some(from_line.seq.unsigned_abs()),
                Some(source),
                offset,
                format!(
                    "the row's `{}` column does not say what its line says: the row was edited behind the line",
                    mismatch.column
                ),
            );
        }
        if memchr::memchr(b'\n', &row.line).is_some() {
            check.report(
                FindingCode::Malformed,
                Some(row.columns.seq.unsigned_abs()),
                Some(source),
                offset,
                "the stored line holds a newline: it is not one record".into(),
            );
        }
        self.buf.extend_from_slice(&row.line);
        self.buf.push(b'\n');
        self.done += 1;
    }

    fn flush(&mut self, check: &mut ChainCheck<'_>) {
        check.lines(&self.buf, self.offset, None);
        self.offset += self.buf.len() as u64;
        self.buf.clear();
    }
}
