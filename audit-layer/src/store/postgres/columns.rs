//! The indexed columns a stored line is given, derived from the line alone,
//! and the check that a row's columns still say what its line says.
//!
//! PostgreSQL text cannot hold U+0000, so a NUL in a value becomes U+FFFD in
//! its column (the line keeps the exact bytes), and `time` keeps
//! microseconds, as `timestamptz` does.

use std::borrow::Cow;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::record::chain::Hash;
use crate::record::line::{IndexedFields, indexed_fields};

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

/// A time as a `timestamptz` column keeps it: whole microseconds.
pub(crate) fn to_micros(time: SystemTime) -> SystemTime {
    let since = time.duration_since(UNIX_EPOCH).unwrap_or_default();
    UNIX_EPOCH + Duration::from_micros(u64::try_from(since.as_micros()).unwrap_or(u64::MAX))
}

impl Columns {
    /// The columns of a record line (without its newline).
    pub(crate) fn of_line(line: &[u8]) -> Result<Columns, String> {
        let fields = indexed_fields(line).map_err(|e| e.to_string())?;
        Columns::of_fields(&fields)
    }

    pub(crate) fn of_fields(fields: &IndexedFields<'_>) -> Result<Columns, String> {
        let seq = i64::try_from(fields.seq).map_err(|_| {
            format!(
                "seq {} is beyond what the store holds (2^63 - 1)",
                fields.seq
            )
        })?;
        let text = |value: &Option<Cow<'_, str>>| value.as_deref().map(column_text);
        Ok(Columns {
            seq,
            hash: fields.hash,
            prev: fields.prev,
            time: to_micros(fields.time.as_system_time()),
            kind: fields.kind.as_str().to_owned(),
            action: column_text(&fields.action),
            actor: text(&fields.actor),
            resource: text(&fields.resource),
            outcome: fields.outcome.clone().into_owned(),
            category: text(&fields.category),
            service: text(&fields.service),
            host: text(&fields.host),
        })
    }

    /// The first column of these (as stored) that differs from what the
    /// line's `fields` say, without copying them.
    pub(crate) fn mismatch_with(&self, fields: &IndexedFields<'_>) -> Option<ColumnMismatch> {
        fn same(stored: Option<&str>, line: Option<&str>) -> bool {
            match (stored, line) {
                (Some(stored), Some(line)) if line.contains('\0') => stored == column_text(line),
                (stored, line) => stored == line,
            }
        }
        let pairs: [(&'static str, bool); 12] = [
            (
                "seq",
                i64::try_from(fields.seq).is_ok_and(|seq| seq == self.seq),
            ),
            ("hash", fields.hash == self.hash),
            ("prev", fields.prev == self.prev),
            ("time", to_micros(fields.time.as_system_time()) == self.time),
            ("kind", fields.kind.as_str() == self.kind),
            ("action", same(Some(&self.action), Some(&fields.action))),
            (
                "actor",
                same(self.actor.as_deref(), fields.actor.as_deref()),
            ),
            (
                "resource",
                same(self.resource.as_deref(), fields.resource.as_deref()),
            ),
            ("outcome", fields.outcome == self.outcome),
            (
                "category",
                same(self.category.as_deref(), fields.category.as_deref()),
            ),
            (
                "service",
                same(self.service.as_deref(), fields.service.as_deref()),
            ),
            ("host", same(self.host.as_deref(), fields.host.as_deref())),
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
