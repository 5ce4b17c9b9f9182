//! Verifying a stream of the PostgreSQL store: the chain exactly as on
//! files, read from the stored lines, and each row's indexed columns
//! against its line.

use std::io;
use std::path::{Path, PathBuf};

use crate::proof::chain_walk::{ChainCheck, Visitor};
use crate::proof::examine::{Examined, examine_with};
use crate::proof::report::{CheckedLine, FindingCode, Report, VerifyError};
use crate::proof::verify::{READ_CHUNK, Verifier};
use crate::record::line::indexed_fields;
use crate::store::postgres::{PgError, PgStore, StoredRow, decode_row, for_each_row};

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
        let threads = self.thread_count();
        let mut walk = StreamWalk {
            rows: Vec::new(),
            bytes: 0,
            buf: Vec::with_capacity(READ_CHUNK),
            offset: 0,
            done: 0,
            threads,
        };
        let query = format!(
            "SELECT {} FROM audit.records WHERE stream = $1 AND seq >= $2 ORDER BY seq",
            crate::store::postgres::ROW_COLUMNS
        );
        let progress = &mut self.progress;
        // One thread fetches and decodes rows while this one checks them.
        let (sender, receiver) = std::sync::mpsc::sync_channel::<Vec<StoredRow>>(4);
        let client = &mut store.client;
        let read = std::thread::scope(|scope| {
            let fetcher = scope.spawn(move || {
                let mut rows = Vec::with_capacity(FETCH_BATCH);
                let fetched = for_each_row(
                    client,
                    &query,
                    &[&stream, &from_seq],
                    |row: &postgres::Row| {
                        rows.push(decode_row(row)?);
                        if rows.len() == FETCH_BATCH {
                            let full =
                                std::mem::replace(&mut rows, Vec::with_capacity(FETCH_BATCH));
                            // The checker stopped: stop fetching.
                            sender.send(full).map_err(|_| StreamStop::Abandoned)?;
                        }
                        Ok(())
                    },
                );
                if !rows.is_empty() {
                    let _ = sender.send(rows);
                }
                fetched
            });
            for batch in receiver.iter() {
                for row in batch {
                    walk.push(row);
                    if walk.bytes >= READ_CHUNK {
                        walk.flush(&mut check, &source);
                        if let Some(progress) = progress.as_mut() {
                            progress(walk.done, 0);
                        }
                        if let Some(error) = check.output_error.take() {
                            drop(receiver);
                            let _ = fetcher.join();
                            return Err(StreamStop::Output(error));
                        }
                    }
                }
            }
            fetcher.join().unwrap_or(Err(StreamStop::Abandoned))
        });
        match read {
            Ok(()) => {}
            Err(StreamStop::Store(error)) => return Err(store_error(error)),
            Err(StreamStop::Output(error)) => return Err(VerifyError::Output(error)),
            Err(StreamStop::Abandoned) => {
                return Err(VerifyError::Output(io::Error::other(
                    "reading the stream stopped",
                )));
            }
        }
        walk.flush(&mut check, &source);
        if let Some(error) = check.output_error.take() {
            return Err(VerifyError::Output(error));
        }
        check.tail(&[], walk.offset, None, true, false);
        let anchor = check.anchor.clone();
        self.compare_outside_state(&mut check, anchor.as_ref());
        Ok(check.finish())
    }
}

/// Rows per message from the fetching thread.
const FETCH_BATCH: usize = 1000;

enum StreamStop {
    Store(PgError),
    Output(io::Error),
    /// The other side of the channel went away.
    Abandoned,
}

impl From<PgError> for StreamStop {
    fn from(error: PgError) -> Self {
        StreamStop::Store(error)
    }
}

/// Rows gathered into the byte stream the chain walk reads, with offsets
/// counted as if the stream's lines were one file.
struct StreamWalk {
    rows: Vec<StoredRow>,
    /// Bytes of line in `rows`.
    bytes: usize,
    buf: Vec<u8>,
    /// The offset of the first row's line.
    offset: u64,
    done: u64,
    threads: usize,
}

impl StreamWalk {
    fn push(&mut self, row: StoredRow) {
        self.bytes += row.line.len() + 1;
        self.rows.push(row);
    }

    /// Examines the gathered rows on every thread, each line parsed once
    /// for both its validity and its columns, then walks them along the
    /// chain.
    fn flush(&mut self, check: &mut ChainCheck<'_>, source: &Path) {
        let rows = std::mem::take(&mut self.rows);
        self.buf.clear();
        let mut starts = Vec::with_capacity(rows.len());
        for row in &rows {
            starts.push(self.buf.len());
            self.buf.extend_from_slice(&row.line);
            self.buf.push(b'\n');
        }
        let per_thread = rows.len().div_ceil(self.threads.max(1)).max(1);
        let examined: Vec<RowVerdict> = std::thread::scope(|scope| {
            let workers: Vec<_> = rows
                .chunks(per_thread)
                .map(|chunk| scope.spawn(move || chunk.iter().map(examine_row).collect::<Vec<_>>()))
                .collect();
            workers
                .into_iter()
                .flat_map(|worker| worker.join().expect("an examining thread panicked"))
                .collect()
        });
        let mut lines = Vec::with_capacity(rows.len());
        let mut any_newline = false;
        for ((row, start), verdict) in rows.iter().zip(&starts).zip(examined) {
            let offset = self.offset + *start as u64;
            any_newline |= verdict.holds_newline;
            if verdict.holds_newline {
                check.report(
                    FindingCode::Malformed,
                    Some(row.columns.seq.unsigned_abs()),
                    Some(source),
                    offset,
                    "the stored line holds a newline: it is not one record".into(),
                );
            }
            if let Some((seq, column)) = verdict.mismatch {
                check.report(
                    FindingCode::ColumnMismatch,
                    Some(seq),
                    Some(source),
                    offset,
                    format!(
                        "the row's `{column}` column does not say what its line says: the row was edited behind the line"
                    ),
                );
            }
            lines.push((*start, row.line.len(), verdict.examined));
        }
        if !any_newline {
            check.examined_lines(&self.buf, self.offset, None, lines);
        } else {
            // A line with a newline in it is several lines to the walk.
            check.lines(&self.buf, self.offset, None);
        }
        self.offset += self.buf.len() as u64;
        self.done += rows.len() as u64;
        self.bytes = 0;
    }
}

/// What one row says on its own.
struct RowVerdict {
    examined: Examined,
    /// The seq and the first column that does not say what the line says.
    mismatch: Option<(u64, &'static str)>,
    holds_newline: bool,
}

fn examine_row(row: &StoredRow) -> RowVerdict {
    let parsed = indexed_fields(&row.line);
    // A line that is not a record is the chain walk's finding.
    let mismatch = parsed.as_ref().ok().and_then(|fields| {
        row.columns
            .mismatch_with(fields)
            .map(|mismatch| (fields.seq, mismatch.column))
    });
    RowVerdict {
        examined: examine_with(&row.line, |_| {
            parsed.as_ref().err().map(ToString::to_string)
        }),
        mismatch,
        holds_newline: memchr::memchr(b'\n', &row.line).is_some(),
    }
}
