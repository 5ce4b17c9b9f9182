//! Reading a stream back, in seq order, a batch of rows at a time.

use postgres::Client;
use postgres::types::ToSql;

use super::columns::Columns;
use super::store::{PgError, hash_column};

/// One stored record: its line as stored and its columns as stored.
#[derive(Debug, Clone)]
pub(crate) struct StoredRow {
    pub(crate) stream: String,
    pub(crate) line: Vec<u8>,
    pub(crate) columns: Columns,
}

/// The columns every reader selects, in `StoredRow` order.
pub(crate) const ROW_COLUMNS: &str = "stream, seq, hash, prev, time, kind, action, actor, resource, outcome, category, service, host, line";

/// Rows fetched per round trip: enough to keep the server busy, few enough
/// that a stream of megabyte records still fits in memory.
const ROWS_PER_FETCH: i32 = 2000;

pub(crate) fn decode(row: &postgres::Row) -> Result<StoredRow, PgError> {
    let stream: String = row.get(0);
    let seq: i64 = row.get(1);
    Ok(StoredRow {
        columns: Columns {
            seq,
            hash: hash_column(&stream, seq, row.get(2))?,
            prev: hash_column(&stream, seq, row.get(3))?,
            time: row.get(4),
            kind: row.get(5),
            action: row.get(6),
            actor: row.get(7),
            resource: row.get(8),
            outcome: row.get(9),
            category: row.get(10),
            service: row.get(11),
            host: row.get(12),
        },
        line: row.get(13),
        stream,
    })
}

/// Hands `each` the rows `query` selects (decoded by [`decode`] when they
/// start with [`ROW_COLUMNS`]), in its order, fetching a batch at a time inside one
/// read-only, repeatable-read transaction: one consistent snapshot, in
/// memory that does not grow with the stream.
pub(crate) fn for_each_row<E: From<PgError>>(
    client: &mut Client,
    query: &str,
    params: &[&(dyn ToSql + Sync)],
    mut each: impl FnMut(&postgres::Row) -> Result<(), E>,
) -> Result<(), E> {
    let mut transaction = client
        .build_transaction()
        .read_only(true)
        .isolation_level(postgres::IsolationLevel::RepeatableRead)
        .start()
        .map_err(PgError::query("starting a read"))?;
    let portal = transaction
        .bind(query, params)
        .map_err(PgError::query("reading records"))?;
    loop {
        let rows = transaction
            .query_portal(&portal, ROWS_PER_FETCH)
            .map_err(PgError::query("reading records"))?;
        let done = rows.len() < ROWS_PER_FETCH as usize;
        for row in &rows {
            each(row)?;
        }
        if done {
            break;
        }
    }
    transaction
        .commit()
        .map_err(PgError::query("finishing a read"))?;
    Ok(())
}
