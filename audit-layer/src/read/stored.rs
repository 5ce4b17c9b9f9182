//! Selecting records from the PostgreSQL store through its indexes (what
//! `audit show`, `timeline` and `export` do with `--db`), each record
//! checked on its own: its hash, its columns, and its link to the record
//! before it in its stream.

use postgres::types::ToSql;

use crate::proof::report::FindingCode;
use crate::read::query::RecordFilter;
use crate::record::AuditRecord;
use crate::record::chain::{self, GENESIS};
use crate::record::line::indexed_fields;
use crate::store::postgres::{PgError, PgStore, StoredRow, decode_row, for_each_row, to_micros};

/// A record selected from the store, and whether it checked out.
///
/// # Examples
///
/// See [`select_stored`].
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct StoredRecord {
    /// The stream it belongs to.
    pub stream: String,
    /// The record, parsed from its stored line.
    pub record: AuditRecord,
    /// `None` when its hash, columns and link check out; else the finding
    /// code of what does not.
    pub problem: Option<FindingCode>,
}

/// Selects the records of the store that `filter` keeps, in `stream` only
/// or in every stream, and hands each to `each`: in seq order within one
/// stream, in time order (then stream, then seq) across streams. The query
/// runs on the store's indexes, so it costs what the answer costs, not what
/// the store holds.
///
/// Each record is checked on its own: its line hashes to its hash, its
/// columns say what its line says, and its `prev` is the hash of the record
/// before it in its stream (or the stream begins, or a retention anchor the
/// store holds names it). The chain as a whole is not walked: that is
/// [`Verifier::verify_stream`](crate::Verifier::verify_stream).
///
/// # Errors
///
/// [`PgError`] when the store cannot be read; the first error `each`
/// returns, wrapped as [`PgError::Output`].
///
/// # Examples
///
/// ```no_run
/// use audit_layer::{PgStore, RecordFilter, select_stored};
///
/// let mut store = PgStore::connect("postgresql://auditor@db.internal/audit")?;
/// let filter = RecordFilter::new().resource("post:42");
/// select_stored(&mut store, None, &filter, |stored| {
///     println!("{} {} {:?}", stored.stream, stored.record.action, stored.problem);
///     Ok(())
/// })?;
/// # Ok::<(), audit_layer::PgError>(())
/// ```
pub fn select_stored(
    store: &mut PgStore,
    stream: Option<&str>,
    filter: &RecordFilter,
    mut each: impl FnMut(StoredRecord) -> std::io::Result<()>,
) -> Result<(), PgError> {
    store.require_schema()?;
    let conditions = filter.conditions();
    let mut clauses: Vec<String> = Vec::new();
    let mut params: Vec<Box<dyn ToSql + Sync>> = Vec::new();
    let param = |value: Box<dyn ToSql + Sync>, params: &mut Vec<Box<dyn ToSql + Sync>>| {
        params.push(value);
        format!("${}", params.len())
    };
    if let Some(stream) = stream {
        let p = param(Box::new(stream.to_owned()), &mut params);
        clauses.push(format!("r.stream = {p}"));
    }
    for (column, wanted) in [
        ("actor", conditions.actor),
        ("resource", conditions.resource),
    ] {
        if let Some(wanted) = wanted {
            let p = param(Box::new(as_column(wanted)), &mut params);
            clauses.push(format!(
                "left(r.{column}, 200) = left({p}, 200) AND r.{column} = {p}"
            ));
        }
    }
    if let Some(action) = conditions.action {
        match action.strip_suffix('*') {
            Some(prefix) => {
                let escaped = as_column(prefix)
                    .replace('\\', "\\\\")
                    .replace('%', "\\%")
                    .replace('_', "\\_");
                let p = param(Box::new(format!("{escaped}%")), &mut params);
                clauses.push(format!("r.action LIKE {p}"));
            }
            None => {
                let p = param(Box::new(as_column(action)), &mut params);
                clauses.push(format!("r.action = {p}"));
            }
        }
    }
    if let Some(outcome) = conditions.outcome {
        let p = param(Box::new(as_column(outcome)), &mut params);
        clauses.push(format!("(r.outcome = {p} OR r.category = {p})"));
    }
    // Columns keep microseconds: ask for a little more, then filter exactly.
    let micros = |time: crate::record::time::Timestamp| to_micros(time.as_system_time());
    if let Some(since) = conditions.since {
        let p = param(Box::new(micros(since)), &mut params);
        clauses.push(format!("r.time >= {p}"));
    }
    if let Some(until) = conditions.until {
        let p = param(Box::new(micros(until)), &mut params);
        clauses.push(format!("r.time <= {p}"));
    }
    if let Some(after) = conditions.after_seq {
        let after = i64::try_from(after).unwrap_or(i64::MAX);
        let p = param(Box::new(after), &mut params);
        clauses.push(format!("r.seq > {p}"));
    }
    if conditions.application_only {
        clauses.push("r.kind = 'event'".into());
    }
    let order = match stream {
        Some(_) => "r.seq",
        None => "r.time, r.stream, r.seq",
    };
    let columns: Vec<String> = crate::store::postgres::ROW_COLUMNS
        .split(", ")
        .map(|column| format!("r.{column}"))
        .collect();
    let query = format!(
        "SELECT {}, p.hash, EXISTS (SELECT 1 FROM audit.retirements t WHERE t.stream = r.stream AND t.first_seq = r.seq)
         FROM audit.records r LEFT JOIN audit.records p ON p.stream = r.stream AND p.seq = r.seq - 1
         {} ORDER BY {order}",
        columns.join(", "),
        if clauses.is_empty() { String::new() } else { format!("WHERE {}", clauses.join(" AND ")) },
    );
    let params: Vec<&(dyn ToSql + Sync)> = params.iter().map(|p| p.as_ref()).collect();
    for_each_row(&mut store.client, &query, &params, |row: &postgres::Row| {
        let stored = decode_row(row)?;
        let prev_stored: Option<Vec<u8>> = row.get(14);
        let anchored: bool = row.get(15);
        let problem = check_on_its_own(&stored, prev_stored.as_deref(), anchored);
        let Ok(record) = AuditRecord::from_line(&stored.line) else {
            // Not a record: nothing to present, and the verifier reports it.
            return Ok(());
        };
        // A row found by an edited column is shown, marked, so that the
        // edit does not pass unseen.
        if !filter.matches(&record) && problem != Some(FindingCode::ColumnMismatch) {
            return Ok(());
        }
        each(StoredRecord {
            stream: stored.stream,
            record,
            problem,
        })
        .map_err(PgError::Output)
    })
}

fn as_column(value: &str) -> String {
    crate::store::postgres::as_column(value).into_owned()
}

/// What is wrong with one stored record, judged without the rest of its stream.
fn check_on_its_own(
    stored: &StoredRow,
    prev_stored: Option<&[u8]>,
    anchored: bool,
) -> Option<FindingCode> {
    let Ok(view) = chain::frame(&stored.line) else {
        return Some(FindingCode::Malformed);
    };
    if view.computed_hash() != view.stored_hash {
        return Some(FindingCode::Modified);
    }
    match indexed_fields(&stored.line) {
        Err(_) => return Some(FindingCode::Malformed),
        Ok(fields) if stored.columns.mismatch_with(&fields).is_some() => {
            return Some(FindingCode::ColumnMismatch);
        }
        Ok(_) => {}
    }
    match prev_stored {
        Some(prev) if prev == view.prev.as_bytes() => None,
        Some(_) => Some(FindingCode::BrokenLink),
        None if view.seq == 0 && view.prev == GENESIS => None,
        None if view.seq == 0 => Some(FindingCode::BrokenLink),
        None if anchored => None,
        None => Some(FindingCode::Missing),
    }
}
