//! A record as a line: its JSON schema, field by field in the order of the
//! bytes on disk, and [`AuditRecord`], a line read back and parsed strictly.

#[cfg(test)]
use crate::record::chain::FORMAT_VERSION;
use crate::record::chain::{self, Hash};
use crate::record::changes::Change;
use crate::record::code_location::CodeLocation;
#[cfg(test)]
use crate::record::event::AuditEvent;
use crate::record::event::RecordKind;
use crate::record::event::Text;
use crate::record::outcome::FailureKind;
use crate::record::outcome::Outcome;
use crate::record::time::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use serde_json::value::RawValue;
use std::borrow::Cow;
use std::collections::BTreeMap;
use std::time::Duration;

/// A record as it stands in the log: the event plus its place in the chain.
///
/// Parse one from a line with [`AuditRecord::from_line`]; the verifier checks
/// the chain without needing this type.
///
/// # Examples
///
/// ```
/// use audit_layer::AuditRecord;
///
/// let line = br#"{"v":1,"seq":0,"prev":"0000000000000000000000000000000000000000000000000000000000000000","time":"2026-01-01T00:00:00.000000000Z","kind":"event","action":"session.login","actor":"alice","resource":null,"outcome":"success","category":null,"reason":null,"before":null,"after":null,"changes":null,"context":{},"code":null,"duration_ns":null,"service":null,"host":null,"hash":"0000000000000000000000000000000000000000000000000000000000000000"}"#;
/// let record = AuditRecord::from_line(line).unwrap();
/// assert_eq!(record.actor.as_deref(), Some("alice"));
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct AuditRecord {
    /// Format version (`v`).
    pub version: u32,
    /// Position in the chain, from 0 with no gaps.
    pub seq: u64,
    /// Hash of the previous record ([`GENESIS`](crate::record::chain::GENESIS) for seq 0).
    pub prev: Hash,
    /// When the action happened (UTC).
    pub time: Timestamp,
    /// Application event or audit-layer's own note.
    pub kind: RecordKind,
    /// What was done, such as `post.publish`.
    pub action: String,
    /// Who did it; `None` when nobody was named (counted by the layer).
    pub actor: Option<String>,
    /// What it was done to.
    pub resource: Option<String>,
    /// How it ended.
    pub outcome: Outcome,
    /// State before the action.
    pub before: Option<Value>,
    /// State after the action.
    pub after: Option<Value>,
    /// `before` → `after`, see [`diff`](crate::diff); `None` unless both are present.
    pub changes: Option<Vec<Change>>,
    /// Context from enclosing spans: source IP, session, request id...
    pub context: BTreeMap<String, String>,
    /// Where in the code.
    pub code: Option<CodeLocation>,
    /// How long the action took.
    pub duration: Option<Duration>,
    /// Which service recorded it.
    pub service: Option<String>,
    /// Which host recorded it.
    pub host: Option<String>,
    /// SHA-256 of the line's bytes before `,"hash":"`.
    pub hash: Hash,
}

/// The error of reading a record from a line.
///
/// # Examples
///
/// ```
/// let err = audit_layer::AuditRecord::from_line(b"{}").unwrap_err();
/// assert!(!err.to_string().is_empty());
/// ```
#[derive(Debug, thiserror::Error)]
#[error("not an audit record: {0}")]
pub struct RecordParseError(#[from] serde_json::Error);

impl AuditRecord {
    /// Parses one line of a log (with or without its newline).
    ///
    /// This reads the fields; it does not check the hash, which is the
    /// verifier's job.
    ///
    /// # Errors
    ///
    /// [`RecordParseError`] when the line is not a record of a known version.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(audit_layer::AuditRecord::from_line(b"not json").is_err());
    /// ```
    pub fn from_line(line: &[u8]) -> Result<Self, RecordParseError> {
        Ok(parse_line(line)?.into_record())
    }
}

/// Whether `line` (with or without its newline) is a valid record of format
/// version 1. This is the one definition of a record: the verifier calls it
/// on every line whose hash checks out, and every reader parses with it, so
/// a line is readable exactly when it verifies (FORMAT.md section 2).
pub(crate) fn is_valid_line(line: &[u8]) -> bool {
    parse_line(line).is_ok()
}

/// Why `line` is not a valid record, if it is not: the check of
/// [`AuditRecord::from_line`] without building the record, for the verifier,
/// which needs the verdict on every line and the record of none.
pub(crate) fn line_error(line: &[u8]) -> Option<RecordParseError> {
    parse_line(line).err()
}

/// The fields a store indexes, borrowed from a line that is a valid record:
/// what [`AuditRecord::from_line`] checks, without building the rest.
#[cfg_attr(not(feature = "postgres"), allow(dead_code))]
pub(crate) struct IndexedFields<'a> {
    pub(crate) seq: u64,
    pub(crate) prev: Hash,
    pub(crate) hash: Hash,
    pub(crate) time: Timestamp,
    pub(crate) kind: RecordKind,
    pub(crate) action: Cow<'a, str>,
    pub(crate) actor: Option<Cow<'a, str>>,
    pub(crate) resource: Option<Cow<'a, str>>,
    pub(crate) outcome: Cow<'a, str>,
    pub(crate) category: Option<Cow<'a, str>>,
    pub(crate) service: Option<Cow<'a, str>>,
    pub(crate) host: Option<Cow<'a, str>>,
}

/// The indexed fields of `line`, if it is a valid record.
#[cfg_attr(not(feature = "postgres"), allow(dead_code))]
pub(crate) fn indexed_fields(line: &[u8]) -> Result<IndexedFields<'_>, RecordParseError> {
    let parsed = parse_line(line)?;
    Ok(IndexedFields {
        seq: parsed.seq,
        prev: parsed.prev,
        hash: parsed.hash.unwrap_or(chain::GENESIS),
        time: parsed.time,
        kind: parsed.kind,
        action: parsed.action,
        actor: parsed.actor,
        resource: parsed.resource,
        outcome: parsed.outcome,
        category: parsed.category,
        service: parsed.service,
        host: parsed.host,
    })
}

/// The fields a line begins with (FORMAT.md section 2 fixes their order),
/// read straight from the bytes without parsing the rest: what a rule
/// engine looks at first, for every record, at the cost of a scan.
///
/// It vouches for nothing beyond these fields' text: the line's hash is
/// checked by the caller, and the rest of the record by a full parse when
/// asked for.
#[cfg_attr(not(feature = "watch"), allow(dead_code))]
pub(crate) struct LeadingFields<'a> {
    pub(crate) seq: u64,
    pub(crate) hash: Hash,
    pub(crate) time: Timestamp,
    pub(crate) kind: RecordKind,
    pub(crate) action: Cow<'a, str>,
    pub(crate) actor: Option<Cow<'a, str>>,
    pub(crate) resource: Option<Cow<'a, str>>,
    pub(crate) outcome: Cow<'a, str>,
    pub(crate) category: Option<Cow<'a, str>>,
    /// Whether the record carries a `before` or an `after` state.
    pub(crate) has_state: bool,
}

/// The leading fields of a canonical line; `None` when the line is not
/// laid out as the writer lays it out (a caller then parses it in full).
pub(crate) fn leading_fields(line: &[u8]) -> Option<LeadingFields<'_>> {
    leading_fields_of(&chain::frame(line).ok()?)
}

/// [`leading_fields`] of a line already framed (its seq, prev and hash read).
#[cfg_attr(not(feature = "watch"), allow(dead_code))]
pub(crate) fn leading_fields_of<'a>(view: &chain::LineView<'a>) -> Option<LeadingFields<'a>> {
    if view.version != u64::from(chain::FORMAT_VERSION) {
        return None;
    }
    let at = memchr::memmem::find(view.hashed, b",\"time\":\"")?;
    let mut rest = &view.hashed[at + 9..];
    let end = memchr::memchr(b'"', rest)?;
    let time: Timestamp = std::str::from_utf8(&rest[..end]).ok()?.parse().ok()?;
    rest = &rest[end + 1..];
    rest = rest.strip_prefix(b",\"kind\":\"")?;
    let kind = if let Some(after) = rest.strip_prefix(b"event\"") {
        rest = after;
        RecordKind::Event
    } else {
        rest = rest.strip_prefix(b"system\"")?;
        RecordKind::System
    };
    let (action, rest) = json_text(rest.strip_prefix(b",\"action\":")?)?;
    let (actor, rest) = json_text_or_null(rest.strip_prefix(b",\"actor\":")?)?;
    let (resource, rest) = json_text_or_null(rest.strip_prefix(b",\"resource\":")?)?;
    let (outcome, rest) = json_text(rest.strip_prefix(b",\"outcome\":")?)?;
    let (category, rest) = json_text_or_null(rest.strip_prefix(b",\"category\":")?)?;
    let (_, rest) = json_text_or_null(rest.strip_prefix(b",\"reason\":")?)?;
    let rest = rest.strip_prefix(b",\"before\":")?;
    // `changes` is only ever present with both states, so these two say it all.
    let has_state = match rest.strip_prefix(b"null,\"after\":") {
        Some(after) => !after.starts_with(b"null,"),
        None => true,
    };
    Some(LeadingFields {
        seq: view.seq,
        hash: view.stored_hash,
        time,
        kind,
        action: action?,
        actor,
        resource,
        outcome: outcome?,
        category,
        has_state,
    })
}

/// A JSON string at the start of `bytes`, and what follows it.
fn json_text(bytes: &[u8]) -> Option<(Option<Cow<'_, str>>, &[u8])> {
    if bytes.first() != Some(&b'"') {
        return None;
    }
    let mut at = 1;
    let mut escaped = false;
    loop {
        let next = at + memchr::memchr2(b'"', b'\\', &bytes[at..])?;
        if bytes[next] == b'"' {
            let raw = &bytes[1..next];
            let text = if escaped {
                Cow::Owned(serde_json::from_slice::<String>(&bytes[..=next]).ok()?)
            } else {
                if raw.iter().any(|b| *b < 0x20) {
                    return None;
                }
                Cow::Borrowed(std::str::from_utf8(raw).ok()?)
            };
            return Some((Some(text), &bytes[next + 1..]));
        }
        escaped = true;
        at = next + 2;
    }
}

fn json_text_or_null(bytes: &[u8]) -> Option<(Option<Cow<'_, str>>, &[u8])> {
    match bytes.strip_prefix(b"null") {
        Some(rest) => Some((None, rest)),
        None => json_text(bytes),
    }
}

/// Why a valid record is not valid, in the words of FORMAT.md section 2.
fn invalid(why: &'static str) -> RecordParseError {
    RecordParseError(<serde_json::Error as serde::de::Error>::custom(why))
}

fn parse_line(line: &[u8]) -> Result<RecordLine<'_>, RecordParseError> {
    // serde_json refuses invalid UTF-8, raw control characters, duplicate
    // keys (derived structs refuse them), a missing key (see `present`) and
    // nesting deeper than 128.
    let parsed: RecordLine<'_> = serde_json::from_slice(line)?;
    if parsed.v != chain::FORMAT_VERSION {
        return Err(invalid("format version is not 1"));
    }
    if parsed.seq == u64::MAX {
        return Err(invalid(
            "seq 18446744073709551615 leaves no room for a size",
        ));
    }
    if parsed.hash.is_none() {
        return Err(invalid("missing field `hash`"));
    }
    match (&*parsed.outcome, parsed.category.is_some()) {
        ("success" | "unknown", false) | ("failure", true) => Ok(parsed),
        ("success" | "unknown", true) => Err(invalid("a category is only for a failure")),
        ("failure", false) => Err(invalid("a failure has a category")),
        _ => Err(invalid("outcome is not success, failure or unknown")),
    }
}

/// Deserialises a nullable field that must be present (`null`, not absent).
fn present<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(deserializer)
}

impl Serialize for AuditRecord {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        RecordLine::of_record(self).serialize(serializer)
    }
}

/// Writer-level values for fields an event leaves empty.
#[derive(Debug, Clone, Default)]
pub(crate) struct RecordDefaults {
    pub(crate) service: Option<String>,
    pub(crate) host: Option<String>,
}

/// The JSON schema of a line. Field order here is the byte order on disk and
/// therefore part of the format: see FORMAT.md before touching it.
#[derive(Serialize, Deserialize)]
pub(crate) struct RecordLine<'a> {
    v: u32,
    seq: u64,
    prev: Hash,
    time: Timestamp,
    kind: RecordKind,
    #[serde(borrow)]
    action: Cow<'a, str>,
    #[serde(borrow, deserialize_with = "present")]
    actor: Option<Cow<'a, str>>,
    #[serde(borrow, deserialize_with = "present")]
    resource: Option<Cow<'a, str>>,
    outcome: Cow<'a, str>,
    #[serde(borrow, deserialize_with = "present")]
    category: Option<Cow<'a, str>>,
    #[serde(borrow, deserialize_with = "present")]
    reason: Option<Cow<'a, str>>,
    #[serde(deserialize_with = "present")]
    before: Option<Json<'a>>,
    #[serde(deserialize_with = "present")]
    after: Option<Json<'a>>,
    #[serde(deserialize_with = "present")]
    changes: Option<Cow<'a, [Change]>>,
    context: Context<'a>,
    #[serde(deserialize_with = "present")]
    code: Option<Cow<'a, CodeLocation>>,
    #[serde(deserialize_with = "present")]
    duration_ns: Option<u64>,
    #[serde(borrow, deserialize_with = "present")]
    service: Option<Cow<'a, str>>,
    #[serde(borrow, deserialize_with = "present")]
    host: Option<Cow<'a, str>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    hash: Option<Hash>,
}

/// Nanoseconds as records carry them (`duration_ns`), saturating.
pub(crate) fn duration_nanos(duration: Duration) -> u64 {
    u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX)
}

impl<'a> RecordLine<'a> {
    /// The serde reference for what `encode::push_record` writes by hand.
    #[cfg(test)]
    pub(crate) fn of_event(
        event: &'a AuditEvent,
        seq: u64,
        prev: Hash,
        changes: Option<&'a [Change]>,
        defaults: &'a RecordDefaults,
    ) -> Self {
        let (category, reason) = outcome_parts(&event.outcome);
        RecordLine {
            v: FORMAT_VERSION,
            seq,
            prev,
            time: event.time,
            kind: event.kind,
            action: Cow::Borrowed(&event.action),
            actor: event.actor.as_deref().map(Cow::Borrowed),
            resource: event.resource.as_deref().map(Cow::Borrowed),
            outcome: Cow::Borrowed(event.outcome.status()),
            category: category.map(Cow::Borrowed),
            reason: reason.map(Cow::Borrowed),
            before: event.before.as_deref().map(Json::Raw),
            after: event.after.as_deref().map(Json::Raw),
            changes: changes.map(Cow::Borrowed),
            context: Context::Event(&event.context),
            code: event.code.as_deref().map(Cow::Borrowed),
            duration_ns: event.duration.map(duration_nanos),
            service: event
                .service_override()
                .or(defaults.service.as_deref())
                .map(Cow::Borrowed),
            host: event
                .host_override()
                .or(defaults.host.as_deref())
                .map(Cow::Borrowed),
            hash: None,
        }
    }

    fn of_record(record: &'a AuditRecord) -> Self {
        let (category, reason) = outcome_parts(&record.outcome);
        RecordLine {
            v: record.version,
            seq: record.seq,
            prev: record.prev,
            time: record.time,
            kind: record.kind,
            action: Cow::Borrowed(&record.action),
            actor: record.actor.as_deref().map(Cow::Borrowed),
            resource: record.resource.as_deref().map(Cow::Borrowed),
            outcome: Cow::Borrowed(record.outcome.status()),
            category: category.map(Cow::Borrowed),
            reason: reason.map(Cow::Borrowed),
            before: record
                .before
                .as_ref()
                .map(|v| Json::Parsed(Cow::Borrowed(v))),
            after: record
                .after
                .as_ref()
                .map(|v| Json::Parsed(Cow::Borrowed(v))),
            changes: record.changes.as_deref().map(Cow::Borrowed),
            context: Context::Map(Cow::Borrowed(&record.context)),
            code: record.code.as_ref().map(Cow::Borrowed),
            duration_ns: record.duration.map(duration_nanos),
            service: record.service.as_deref().map(Cow::Borrowed),
            host: record.host.as_deref().map(Cow::Borrowed),
            hash: Some(record.hash),
        }
    }

    fn into_record(self) -> AuditRecord {
        let outcome = match &*self.outcome {
            "success" => Outcome::Success,
            "failure" => Outcome::Failure {
                kind: self
                    .category
                    .as_deref()
                    .map_or(FailureKind::Error, FailureKind::from),
                reason: self.reason.map(Cow::into_owned).unwrap_or_default(),
            },
            _ => Outcome::Unknown {
                reason: self.reason.map(Cow::into_owned).unwrap_or_default(),
            },
        };
        AuditRecord {
            version: self.v,
            seq: self.seq,
            prev: self.prev,
            time: self.time,
            kind: self.kind,
            action: self.action.into_owned(),
            actor: self.actor.map(Cow::into_owned),
            resource: self.resource.map(Cow::into_owned),
            outcome,
            before: self.before.map(Json::into_value),
            after: self.after.map(Json::into_value),
            changes: self.changes.map(Cow::into_owned),
            context: self.context.into_map(),
            code: self.code.map(Cow::into_owned),
            duration: self.duration_ns.map(Duration::from_nanos),
            service: self.service.map(Cow::into_owned),
            host: self.host.map(Cow::into_owned),
            hash: self.hash.unwrap_or(chain::GENESIS),
        }
    }
}

/// A `before`/`after` value: JSON text when writing, parsed when reading.
enum Json<'a> {
    // Writing goes through `encode`; serde writes records only in the test
    // that holds `encode` to serde's bytes.
    #[cfg_attr(not(test), allow(dead_code))]
    Raw(&'a RawValue),
    Parsed(Cow<'a, Value>),
}

impl Json<'_> {
    fn into_value(self) -> Value {
        match self {
            Json::Raw(raw) => serde_json::from_str(raw.get()).unwrap_or(Value::Null),
            Json::Parsed(value) => value.into_owned(),
        }
    }
}

impl Serialize for Json<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Json::Raw(raw) => raw.serialize(serializer),
            Json::Parsed(value) => value.serialize(serializer),
        }
    }
}

impl<'de> Deserialize<'de> for Json<'_> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Value::deserialize(deserializer).map(|value| Json::Parsed(Cow::Owned(value)))
    }
}

/// The context map: a sorted vector when writing, a map when reading.
enum Context<'a> {
    #[cfg_attr(not(test), allow(dead_code))]
    Event(&'a [(Cow<'static, str>, Text)]),
    Map(Cow<'a, BTreeMap<String, String>>),
}

impl Context<'_> {
    fn into_map(self) -> BTreeMap<String, String> {
        match self {
            Context::Event(entries) => entries
                .iter()
                .map(|(k, v)| (k.as_ref().to_owned(), v.to_string()))
                .collect(),
            Context::Map(map) => map.into_owned(),
        }
    }
}

impl Serialize for Context<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Context::Event(entries) => {
                serializer.collect_map(entries.iter().map(|(k, v)| (k.as_ref(), v.as_str())))
            }
            Context::Map(map) => map.serialize(serializer),
        }
    }
}

impl<'de> Deserialize<'de> for Context<'_> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        BTreeMap::deserialize(deserializer).map(|map| Context::Map(Cow::Owned(map)))
    }
}

fn outcome_parts(outcome: &Outcome) -> (Option<&str>, Option<&str>) {
    match outcome {
        Outcome::Success => (None, None),
        Outcome::Failure { kind, reason } => (Some(kind.as_str()), Some(reason)),
        Outcome::Unknown { reason } => (None, Some(reason)),
    }
}
