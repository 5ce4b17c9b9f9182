//! An alert's message: text with `{placeholders}` filled from the rule and
//! the records that raised it. `{{` and `}}` are literal braces.
//!
//! A value from a record is cut to [`MAX_VALUE_CHARS`] characters; the
//! message travels as JSON, escaped, so no value can break out of it.

use std::time::Duration;

use crate::watch::record_view::{Field, RecordView};

/// The most characters of one record value a message carries.
pub const MAX_VALUE_CHARS: usize = 200;

/// What a placeholder names.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Placeholder {
    /// A field of the record that raised the alert (for a sequence, the second).
    Record(Field),
    /// A field of a sequence's first record.
    First(Field),
    Rule,
    Severity,
    Key,
    Count,
    Within,
    Finding,
    Detail,
}

impl Placeholder {
    /// The placeholder as a message writes it.
    pub(crate) fn written(&self) -> String {
        match self {
            Placeholder::Record(field) => format!("{{{}}}", field.name()),
            Placeholder::First(field) => format!("{{first.{}}}", field.name()),
            Placeholder::Rule => "{rule}".into(),
            Placeholder::Severity => "{severity}".into(),
            Placeholder::Key => "{key}".into(),
            Placeholder::Count => "{count}".into(),
            Placeholder::Within => "{within}".into(),
            Placeholder::Finding => "{finding}".into(),
            Placeholder::Detail => "{detail}".into(),
        }
    }
}

/// The placeholders every rule's message may use, for errors and docs.
pub(crate) const PLACEHOLDERS: &str = "{rule}, {severity}, {key}, {count}, {within}, any record field ({actor}, {resource}, {after.role}, {context.ip}...), for a sequence {first.FIELD} and {then.FIELD}, for integrity {finding} and {detail}";

#[derive(Debug, Clone, PartialEq)]
enum Piece {
    Text(String),
    Value(Placeholder),
}

/// A parsed message template.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Template {
    pieces: Vec<Piece>,
}

/// The values a message is filled from.
pub(crate) struct Filling<'r, 'v> {
    pub(crate) rule: &'r str,
    pub(crate) severity: &'r str,
    pub(crate) key: Option<&'r str>,
    pub(crate) count: Option<u64>,
    pub(crate) within: Option<Duration>,
    pub(crate) record: Option<&'r RecordView<'v>>,
    pub(crate) first: Option<&'r FirstRecord>,
    pub(crate) finding: Option<&'r str>,
    pub(crate) detail: Option<&'r str>,
    /// The seq an integrity alert is about, when it has no readable record.
    pub(crate) seq: Option<u64>,
}

/// What is kept of a sequence's first record until the second comes.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub(crate) struct FirstRecord {
    pub(crate) action: String,
    pub(crate) actor: Option<String>,
    pub(crate) resource: Option<String>,
    pub(crate) time: crate::record::time::Timestamp,
    pub(crate) seq: u64,
}

impl Template {
    /// Parses `text`.
    ///
    /// # Errors
    ///
    /// An unknown placeholder or an unclosed brace, in words.
    pub(crate) fn parse(text: &str) -> Result<Template, String> {
        let mut pieces = Vec::new();
        let mut literal = String::new();
        let mut chars = text.chars().peekable();
        while let Some(c) = chars.next() {
            match c {
                '{' if chars.peek() == Some(&'{') => {
                    chars.next();
                    literal.push('{');
                }
                '}' if chars.peek() == Some(&'}') => {
                    chars.next();
                    literal.push('}');
                }
                '{' => {
                    let mut name = String::new();
                    loop {
                        match chars.next() {
                            Some('}') => break,
                            Some(c) => name.push(c),
                            None => return Err(format!("`{{{name}` is not closed")),
                        }
                    }
                    if !literal.is_empty() {
                        pieces.push(Piece::Text(std::mem::take(&mut literal)));
                    }
                    pieces.push(Piece::Value(placeholder(name.trim())?));
                }
                '}' => return Err("a `}` with no `{` (write `}}` for a brace)".into()),
                other => literal.push(other),
            }
        }
        if !literal.is_empty() {
            pieces.push(Piece::Text(literal));
        }
        Ok(Template { pieces })
    }

    /// The placeholders it uses.
    pub(crate) fn placeholders(&self) -> impl Iterator<Item = &Placeholder> {
        self.pieces.iter().filter_map(|piece| match piece {
            Piece::Value(p) => Some(p),
            Piece::Text(_) => None,
        })
    }

    /// The message for `filling`.
    pub(crate) fn render(&self, filling: &Filling<'_, '_>) -> String {
        let mut out = String::new();
        for piece in &self.pieces {
            match piece {
                Piece::Text(text) => out.push_str(text),
                Piece::Value(placeholder) => push_cut(&mut out, &value_of(placeholder, filling)),
            }
        }
        out
    }
}

fn placeholder(name: &str) -> Result<Placeholder, String> {
    Ok(match name {
        "rule" => Placeholder::Rule,
        "severity" => Placeholder::Severity,
        "key" => Placeholder::Key,
        "count" => Placeholder::Count,
        "within" => Placeholder::Within,
        "finding" => Placeholder::Finding,
        "detail" => Placeholder::Detail,
        _ => {
            if let Some(field) = name.strip_prefix("first.") {
                let field = Field::parse(field)?;
                if !matches!(
                    field,
                    Field::Action | Field::Actor | Field::Resource | Field::Time | Field::Seq
                ) {
                    return Err(format!(
                        "`{{{name}}}`: a sequence keeps only action, actor, resource, time and seq of its first record"
                    ));
                }
                Placeholder::First(field)
            } else if let Some(field) = name.strip_prefix("then.") {
                Placeholder::Record(Field::parse(field)?)
            } else {
                Placeholder::Record(Field::parse(name).map_err(|_| {
                    format!("`{{{name}}}` is not a placeholder; placeholders are {PLACEHOLDERS}")
                })?)
            }
        }
    })
}

fn value_of(placeholder: &Placeholder, filling: &Filling<'_, '_>) -> String {
    let missing = || "-".to_owned();
    match placeholder {
        Placeholder::Rule => filling.rule.to_owned(),
        Placeholder::Severity => filling.severity.to_owned(),
        Placeholder::Key => filling.key.map_or_else(missing, str::to_owned),
        Placeholder::Count => filling.count.map_or_else(missing, |n| n.to_string()),
        Placeholder::Within => filling
            .within
            .map_or_else(missing, |d| humantime::format_duration(d).to_string()),
        Placeholder::Finding => filling.finding.map_or_else(missing, str::to_owned),
        Placeholder::Detail => filling.detail.map_or_else(missing, str::to_owned),
        Placeholder::Record(Field::Seq) if filling.record.is_none() => {
            filling.seq.map_or_else(missing, |seq| seq.to_string())
        }
        Placeholder::Record(field) => filling
            .record
            .and_then(|record| record.text(field).map(|t| t.into_owned()))
            .unwrap_or_else(missing),
        Placeholder::First(field) => {
            let Some(first) = filling.first else {
                return missing();
            };
            match field {
                Field::Action => first.action.clone(),
                Field::Actor => first.actor.clone().unwrap_or_else(missing),
                Field::Resource => first.resource.clone().unwrap_or_else(missing),
                Field::Time => first.time.to_string(),
                Field::Seq => first.seq.to_string(),
                _ => missing(),
            }
        }
    }
}

fn push_cut(out: &mut String, value: &str) {
    match value.char_indices().nth(MAX_VALUE_CHARS) {
        None => out.push_str(value),
        Some((cut, _)) => {
            out.push_str(&value[..cut]);
            out.push_str(&format!("…(+{} bytes)", value.len() - cut));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn filling<'a>(key: Option<&'a str>) -> Filling<'a, 'a> {
        Filling {
            rule: "r",
            severity: "high",
            key,
            count: Some(3),
            within: Some(Duration::from_secs(3600)),
            record: None,
            first: None,
            finding: None,
            detail: None,
            seq: None,
        }
    }

    #[test]
    fn templates_fill_cut_and_refuse_unknown_names() {
        let t = Template::parse("{{{rule}}} {key} made {count} in {within}").unwrap();
        assert_eq!(t.render(&filling(Some("bob"))), "{r} bob made 3 in 1h");
        let long = "x".repeat(1 << 20);
        let out = t.render(&filling(Some(&long)));
        assert!(out.len() < 400, "{}", out.len());
        assert!(out.contains("bytes)"));
        assert!(
            Template::parse("{colour}")
                .unwrap_err()
                .contains("not a placeholder")
        );
        assert!(Template::parse("{actor").is_err());
        assert!(Template::parse("a } b").is_err());
        assert!(Template::parse("{first.context.ip}").is_err());
    }
}
