//! The indexed columns a stored line is given, derived from the line alone,
//! and the check that a row's columns still say what its line says.
//!
//! PostgreSQL text cannot hold U+0000, so a NUL in a value becomes U+FFFD in
//! its column (the line keeps the exact bytes), and `time` keeps
//! microseconds, as `timestamptz` does.

use std::borrow::Cow;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::record::AuditRecord;
use crate::record::chain::Hash;

/// The columns of one row of `audit.records` other than stream and line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Columns {
    pub(crate) seq: i64,
    pub(crate) hash: Hash,
    pub(crate) prev: Hash,
    pub(crate) time: SystemTime,
    pub(crate) kind: String,
    pub(crate) action: String,
    pub(crate) actor: Option<String>,
    pub(crate) resource: Option<String>,
    pub(crate) outcome: String,
    pub(crate) category: Option<String>,
    pub(crate) service: Option<String>,
    pub(crate) host: Option<String>,
}

/// A column that does not say what the line says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ColumnMismatch {
    pub(crate) column: &'static str,
}

fn column_text(value: &str) -> String {
    match value.contains('\0') {
        true => value.replace('\0', "\u{FFFD}"),
        false => value.to_owned(),
    }
}

fn to_micros(time: SystemTime) -> SystemTime {
    let since = time.duration_since(UNIX_EPOCH).unwrap_or_default();
    UNIX_EPOCH + Duration::from_micros(u64::try_from(since.as_micros()).unwrap_or(u64::MAX))
}

impl Columns {
    /// The columns of a record line (without its newline).
    pub(crate) fn of_line(line: &[u8]) -> Result<Columns, String> {
        let record = AuditRecord::from_line(line).map_err(|e| e.to_string())?;
        Columns::of_record(&record)
    }

    pub(crate) fn of_record(record: &AuditRecord) -> Result<Columns, String> {
        let seq = i64::try_from(record.seq).map_err(|_| {
            format!(
                "seq {} is beyond what the store holds (2^63 - 1)",
                record.seq
            )
        })?;
        let text = |value: &Option<String>| value.as_deref().map(column_text);
        Ok(Columns {
            seq,
            hash: record.hash,
            prev: record.prev,
            time: to_micros(record.time.as_system_time()),
            kind: record.kind.as_str().to_owned(),
            action: column_text(&record.action),
            actor: text(&record.actor),
            resource: text(&record.resource),
            outcome: record.outcome.status().to_owned(),
            category: record.outcome.kind().map(|kind| column_text(kind.as_str())),
            service: text(&record.service),
            host: text(&record.host),
        })
    }

    /// The first column of `stored` that differs from these, derived from the line.
    pub(crate) fn mismatch(&self, stored: &Columns) -> Option<ColumnMismatch> {
        let pairs: [(&'static str, bool); 12] = [
            ("seq", self.seq == stored.seq),
            ("hash", self.hash == stored.hash),
            ("prev", self.prev == stored.prev),
            ("time", self.time == stored.time),
            ("kind", self.kind == stored.kind),
            ("action", self.action == stored.action),
            ("actor", self.actor == stored.actor),
            ("resource", self.resource == stored.resource),
            ("outcome", self.outcome == stored.outcome),
            ("category", self.category == stored.category),
            ("service", self.service == stored.service),
            ("host", self.host == stored.host),
        ];
        pairs
            .into_iter()
            .find(|(_, same)| !same)
            .map(|(column, _)| ColumnMismatch { column })
    }
}

/// A value as a column holds it; for queries that compare with columns.
pub(crate) fn as_column(value: &str) -> Cow<'_, str> {
    match value.contains('\0') {
        true => Cow::Owned(column_text(value)),
        false => Cow::Borrowed(value),
    }
}
