//! The fields of a record as rules see them: read from the line's indexed
//! fields when those suffice, and from the whole record, parsed once, only
//! when a rule asks for context, before or after.

use std::borrow::Cow;
use std::cell::OnceCell;

use serde_json::Value;

use crate::record::chain::Hash;
use crate::record::chain::LineView;
use crate::record::line::{LeadingFields, leading_fields_of};
use crate::record::time::Timestamp;
use crate::record::{AuditRecord, RecordParseError};

/// A field of a record a rule can name.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) enum Field {
    Action,
    Actor,
    Resource,
    Outcome,
    Category,
    Reason,
    Kind,
    Service,
    Host,
    Seq,
    Time,
    Context(String),
    Before(Vec<String>),
    After(Vec<String>),
}

/// The names [`Field::parse`] accepts, for errors and the schema.
pub(crate) const FIELD_NAMES: &str = "action, actor, resource, outcome, category, reason, kind, service, host, seq, time, context.KEY, before.PATH, after.PATH";

impl Field {
    /// `actor`, `context.ip`, `after.role`, `before.address.city`...
    pub(crate) fn parse(name: &str) -> Result<Field, String> {
        let path = |rest: &str| -> Result<Vec<String>, String> {
            if rest.is_empty() || rest.split('.').any(str::is_empty) {
                return Err(format!("`{name}` names no value inside the document"));
            }
            Ok(rest.split('.').map(str::to_owned).collect())
        };
        Ok(match name {
            "action" => Field::Action,
            "actor" => Field::Actor,
            "resource" => Field::Resource,
            "outcome" => Field::Outcome,
            "category" => Field::Category,
            "reason" => Field::Reason,
            "kind" => Field::Kind,
            "service" => Field::Service,
            "host" => Field::Host,
            "seq" => Field::Seq,
            "time" => Field::Time,
            _ => {
                if let Some(key) = name.strip_prefix("context.") {
                    if key.is_empty() {
                        return Err("`context.` names no key".into());
                    }
                    Field::Context(key.to_owned())
                } else if let Some(rest) = name.strip_prefix("before.") {
                    Field::Before(path(rest)?)
                } else if let Some(rest) = name.strip_prefix("after.") {
                    Field::After(path(rest)?)
                } else {
                    return Err(format!("`{name}` is not a field; fields are {FIELD_NAMES}"));
                }
            }
        })
    }

    /// The name as a rules file writes it.
    pub(crate) fn name(&self) -> String {
        match self {
            Field::Action => "action".into(),
            Field::Actor => "actor".into(),
            Field::Resource => "resource".into(),
            Field::Outcome => "outcome".into(),
            Field::Category => "category".into(),
            Field::Reason => "reason".into(),
            Field::Kind => "kind".into(),
            Field::Service => "service".into(),
            Field::Host => "host".into(),
            Field::Seq => "seq".into(),
            Field::Time => "time".into(),
            Field::Context(key) => format!("context.{key}"),
            Field::Before(path) => format!("before.{}", path.join(".")),
            Field::After(path) => format!("after.{}", path.join(".")),
        }
    }

    /// Whether reading it needs the whole record parsed.
    pub(crate) fn needs_full_record(&self) -> bool {
        matches!(
            self,
            Field::Reason
                | Field::Service
                | Field::Host
                | Field::Context(_)
                | Field::Before(_)
                | Field::After(_)
        )
    }
}

/// One record, as the engine evaluates it.
// Lives on the stack for one record; boxing the line's fields would cost an
// allocation per record.
#[allow(clippy::large_enum_variant)]
pub(crate) enum RecordView<'a> {
    /// A line of a log: the leading fields now, the rest when asked.
    Line {
        line: &'a [u8],
        fields: LeadingFields<'a>,
        full: OnceCell<Option<AuditRecord>>,
    },
    /// A record already parsed.
    Record(&'a AuditRecord),
    /// A line not laid out as the writer lays it out, parsed in full.
    Parsed(Box<AuditRecord>),
}

impl<'a> RecordView<'a> {
    /// The view of a line, if it is a valid record.
    /// The view of a line already framed by the chain check.
    pub(crate) fn of_framed(
        line: &'a [u8],
        framed: &LineView<'a>,
    ) -> Result<RecordView<'a>, RecordParseError> {
        Ok(match leading_fields_of(framed) {
            Some(fields) => RecordView::Line {
                line,
                fields,
                full: OnceCell::new(),
            },
            None => RecordView::Parsed(Box::new(AuditRecord::from_line(line)?)),
        })
    }

    pub(crate) fn seq(&self) -> u64 {
        match self {
            RecordView::Line { fields, .. } => fields.seq,
            RecordView::Record(record) => record.seq,
            RecordView::Parsed(record) => record.seq,
        }
    }

    pub(crate) fn hash(&self) -> Hash {
        match self {
            RecordView::Line { fields, .. } => fields.hash,
            RecordView::Record(record) => record.hash,
            RecordView::Parsed(record) => record.hash,
        }
    }

    pub(crate) fn time(&self) -> Timestamp {
        match self {
            RecordView::Line { fields, .. } => fields.time,
            RecordView::Record(record) => record.time,
            RecordView::Parsed(record) => record.time,
        }
    }

    pub(crate) fn action(&self) -> &str {
        match self {
            RecordView::Line { fields, .. } => &fields.action,
            RecordView::Record(record) => &record.action,
            RecordView::Parsed(record) => &record.action,
        }
    }

    fn full(&self) -> Option<&AuditRecord> {
        match self {
            RecordView::Line { line, full, .. } => full
                .get_or_init(|| AuditRecord::from_line(line).ok())
                .as_ref(),
            RecordView::Record(record) => Some(record),
            RecordView::Parsed(record) => Some(record),
        }
    }

    /// The text of `field`, or `None` when the record has no such value.
    /// JSON values inside before/after read as their text: a string as
    /// itself, anything else as compact JSON.
    pub(crate) fn text(&self, field: &Field) -> Option<Cow<'_, str>> {
        let borrowed = |text: &'a str| Some(Cow::Borrowed(text));
        match (self, field) {
            (_, Field::Seq) => Some(Cow::Owned(self.seq().to_string())),
            (_, Field::Time) => Some(Cow::Owned(self.time().to_string())),
            (RecordView::Line { fields, .. }, indexed) if !indexed.needs_full_record() => {
                match indexed {
                    Field::Action => Some(Cow::Borrowed(&*fields.action)),
                    Field::Actor => fields.actor.as_deref().map(Cow::Borrowed),
                    Field::Resource => fields.resource.as_deref().map(Cow::Borrowed),
                    Field::Outcome => Some(Cow::Borrowed(&*fields.outcome)),
                    Field::Category => fields.category.as_deref().map(Cow::Borrowed),
                    Field::Kind => borrowed(fields.kind.as_str()),
                    _ => None,
                }
            }
            _ => {
                let record = self.full()?;
                match field {
                    Field::Action => Some(Cow::Borrowed(&record.action)),
                    Field::Actor => record.actor.as_deref().map(Cow::Borrowed),
                    Field::Resource => record.resource.as_deref().map(Cow::Borrowed),
                    Field::Outcome => Some(Cow::Borrowed(record.outcome.status())),
                    Field::Category => record
                        .outcome
                        .kind()
                        .map(|kind| Cow::Borrowed(kind.as_str())),
                    Field::Reason => record.outcome.reason().map(Cow::Borrowed),
                    Field::Kind => Some(Cow::Borrowed(record.kind.as_str())),
                    Field::Service => record.service.as_deref().map(Cow::Borrowed),
                    Field::Host => record.host.as_deref().map(Cow::Borrowed),
                    Field::Context(key) => {
                        record.context.get(key).map(|v| Cow::Borrowed(v.as_str()))
                    }
                    Field::Before(path) => value_at(record.before.as_ref()?, path).map(value_text),
                    Field::After(path) => value_at(record.after.as_ref()?, path).map(value_text),
                    Field::Seq | Field::Time => None,
                }
            }
        }
    }

    /// The JSON value at `field` for before/after, for numeric comparisons.
    pub(crate) fn number(&self, field: &Field) -> Option<f64> {
        match field {
            Field::Before(path) => value_at(self.full()?.before.as_ref()?, path)?.as_f64(),
            Field::After(path) => value_at(self.full()?.after.as_ref()?, path)?.as_f64(),
            Field::Seq => Some(self.seq() as f64),
            _ => self.text(field)?.trim().parse().ok(),
        }
    }
}

fn value_at<'v>(mut value: &'v Value, path: &[String]) -> Option<&'v Value> {
    for step in path {
        value = match value {
            Value::Object(map) => map.get(step)?,
            Value::Array(items) => items.get(step.parse::<usize>().ok()?)?,
            _ => return None,
        };
    }
    Some(value)
}

fn value_text(value: &Value) -> Cow<'_, str> {
    match value {
        Value::String(text) => Cow::Borrowed(text),
        other => Cow::Owned(other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_parse_and_refuse_what_is_not_a_field() {
        assert_eq!(
            Field::parse("after.role").unwrap(),
            Field::After(vec!["role".into()])
        );
        assert_eq!(
            Field::parse("context.ip").unwrap(),
            Field::Context("ip".into())
        );
        assert!(Field::parse("after.").is_err());
        assert!(Field::parse("after..x").is_err());
        assert!(Field::parse("colour").unwrap_err().contains("not a field"));
    }
}
