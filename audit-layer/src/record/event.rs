//! What an audit record says: the event a caller hands over, and the record
//! a log line holds once the writer has given it a place in the chain.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use serde_json::value::RawValue;

/// Short text (up to 24 bytes) is stored inline: an event's actor, resource
/// and context values are usually that short, and every allocation saved is
/// a malloc on the caller's thread and a free on the writer's.
pub(crate) type Text = compact_str::CompactString;

#[cfg(test)]
use crate::record::chain::FORMAT_VERSION;
use crate::record::chain::{self, Hash};
use crate::record::changes::Change;
use crate::record::time::Timestamp;

/// Whether a record describes something the application did, or something the
/// audit machinery itself did (a crash repair, a recorded loss, a retention
/// deletion).
///
/// # Examples
///
/// ```
/// use audit_layer::RecordKind;
/// assert_eq!(RecordKind::System.as_str(), "system");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum RecordKind {
    /// An action of the application: a call of an `#[audited]` function, or an
    /// event built with [`AuditEvent::builder`].
    #[default]
    Event,
    /// A note written by audit-layer itself; its action starts with `audit.`.
    System,
}

impl RecordKind {
    /// The JSON spelling.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(audit_layer::RecordKind::Event.as_str(), "event");
    /// ```
    pub fn as_str(&self) -> &'static str {
        match self {
            RecordKind::Event => "event",
            RecordKind::System => "system",
        }
    }
}

/// Why an action failed, in a form tools can group by.
///
/// # Examples
///
/// ```
/// use audit_layer::FailureKind;
/// assert_eq!(FailureKind::Denied.as_str(), "denied");
/// assert_eq!(FailureKind::from("rate_limited").as_str(), "rate_limited");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum FailureKind {
    /// The action returned an error.
    Error,
    /// The actor was not allowed to do it (authorisation failed).
    Denied,
    /// The request was rejected as invalid.
    Invalid,
    /// The function panicked; the panic went on unwinding after the record.
    Panicked,
    /// An async call was dropped before it completed.
    Cancelled,
    /// Any other category, in snake_case.
    Other(Cow<'static, str>),
}

impl FailureKind {
    /// The JSON spelling.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(audit_layer::FailureKind::Cancelled.as_str(), "cancelled");
    /// ```
    pub fn as_str(&self) -> &str {
        match self {
            FailureKind::Error => "error",
            FailureKind::Denied => "denied",
            FailureKind::Invalid => "invalid",
            FailureKind::Panicked => "panicked",
            FailureKind::Cancelled => "cancelled",
            FailureKind::Other(other) => other,
        }
    }
}

impl From<&str> for FailureKind {
    fn from(text: &str) -> Self {
        match text {
            "error" => FailureKind::Error,
            "denied" => FailureKind::Denied,
            "invalid" => FailureKind::Invalid,
            "panicked" => FailureKind::Panicked,
            "cancelled" => FailureKind::Cancelled,
            other => FailureKind::Other(Cow::Owned(other.to_owned())),
        }
    }
}

impl fmt::Display for FailureKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How an action ended.
///
/// # Examples
///
/// ```
/// use audit_layer::{FailureKind, Outcome};
///
/// let denied = Outcome::failure(FailureKind::Denied, "not an editor");
/// assert_eq!(denied.status(), "failure");
/// assert!(!denied.is_success());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Outcome {
    /// The action did what was asked.
    Success,
    /// The action failed.
    Failure {
        /// The category of the failure.
        kind: FailureKind,
        /// Human-readable detail, such as the error's `Display`.
        reason: String,
    },
    /// Nobody knows whether the action took effect.
    Unknown {
        /// Why the outcome is not known.
        reason: String,
    },
}

impl Outcome {
    /// A failure of `kind` with `reason`.
    ///
    /// # Examples
    ///
    /// ```
    /// use audit_layer::{FailureKind, Outcome};
    /// let outcome = Outcome::failure(FailureKind::Error, "disk full");
    /// assert_eq!(outcome.reason(), Some("disk full"));
    /// ```
    pub fn failure(kind: FailureKind, reason: impl Into<String>) -> Self {
        Outcome::Failure {
            kind,
            reason: reason.into(),
        }
    }

    /// `"success"`, `"failure"` or `"unknown"`.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(audit_layer::Outcome::Success.status(), "success");
    /// ```
    pub fn status(&self) -> &'static str {
        match self {
            Outcome::Success => "success",
            Outcome::Failure { .. } => "failure",
            Outcome::Unknown { .. } => "unknown",
        }
    }

    /// Whether this is [`Outcome::Success`].
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(audit_layer::Outcome::Success.is_success());
    /// ```
    pub fn is_success(&self) -> bool {
        matches!(self, Outcome::Success)
    }

    /// The failure kind, for a failure.
    ///
    /// # Examples
    ///
    /// ```
    /// use audit_layer::{FailureKind, Outcome};
    /// assert_eq!(Outcome::failure(FailureKind::Denied, "no").kind(), Some(&FailureKind::Denied));
    /// assert_eq!(Outcome::Success.kind(), None);
    /// ```
    pub fn kind(&self) -> Option<&FailureKind> {
        match self {
            Outcome::Failure { kind, .. } => Some(kind),
            _ => None,
        }
    }

    /// The reason, for a failure or an unknown outcome.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(audit_layer::Outcome::Success.reason(), None);
    /// ```
    pub fn reason(&self) -> Option<&str> {
        match self {
            Outcome::Success => None,
            Outcome::Failure { reason, .. } | Outcome::Unknown { reason } => Some(reason),
        }
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Outcome::Success => f.write_str("success"),
            Outcome::Failure { kind, reason } => write!(f, "failure ({kind}): {reason}"),
            Outcome::Unknown { reason } => write!(f, "unknown: {reason}"),
        }
    }
}

/// Where in the code a record was made.
///
/// # Examples
///
/// ```
/// use audit_layer::CodeLocation;
/// let here = CodeLocation::new(module_path!(), "publish").with_file(file!(), line!());
/// assert_eq!(here.function.as_deref(), Some("publish"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct CodeLocation {
    /// The module path, such as `blog::posts`.
    pub module: Option<Cow<'static, str>>,
    /// The function name.
    pub function: Option<Cow<'static, str>>,
    /// The source file.
    pub file: Option<Cow<'static, str>>,
    /// The line in the source file.
    pub line: Option<u32>,
}

/// A static location, for `#[audited]` call sites.
#[doc(hidden)]
pub const fn static_code_location(
    module: &'static str,
    function: &'static str,
    file: &'static str,
    line: u32,
) -> CodeLocation {
    CodeLocation {
        module: Some(Cow::Borrowed(module)),
        function: Some(Cow::Borrowed(function)),
        file: Some(Cow::Borrowed(file)),
        line: Some(line),
    }
}

impl CodeLocation {
    /// A location naming a module and a function.
    ///
    /// # Examples
    ///
    /// ```
    /// let here = audit_layer::CodeLocation::new("blog::posts", "publish");
    /// assert_eq!(here.module.as_deref(), Some("blog::posts"));
    /// ```
    pub fn new(
        module: impl Into<Cow<'static, str>>,
        function: impl Into<Cow<'static, str>>,
    ) -> Self {
        CodeLocation {
            module: Some(module.into()),
            function: Some(function.into()),
            file: None,
            line: None,
        }
    }

    /// Adds the source file and line.
    ///
    /// # Examples
    ///
    /// ```
    /// let here = audit_layer::CodeLocation::new("m", "f").with_file("src/lib.rs", 7);
    /// assert_eq!(here.line, Some(7));
    /// ```
    pub fn with_file(mut self, file: impl Into<Cow<'static, str>>, line: u32) -> Self {
        self.file = Some(file.into());
        self.line = Some(line);
        self
    }
}

/// An action to audit, as a caller hands it to the writer: everything a
/// record holds except its place in the chain (seq, prev, hash).
///
/// `#[audited]` builds these for you; build one by hand for actions that are
/// not a function call, such as a login seen at the edge or a data export.
///
/// # Examples
///
/// ```
/// use audit_layer::{AuditEvent, FailureKind, Outcome};
/// use serde_json::json;
///
/// let event = AuditEvent::builder("user.role_change")
///     .actor("alice")
///     .resource("user:bob")
///     .before(json!({"role": "editor"}))
///     .after(json!({"role": "admin"}))
///     .context("ticket", "SEC-1234")
///     .build();
/// assert_eq!(event.action(), "user.role_change");
/// assert_eq!(event.outcome(), &Outcome::Success);
///
/// let denied = AuditEvent::builder("post.publish")
///     .actor("mallory")
///     .outcome(Outcome::failure(FailureKind::Denied, "not an editor"))
///     .build();
/// assert!(!denied.outcome().is_success());
/// ```
#[derive(Debug, Clone)]
pub struct AuditEvent {
    pub(crate) time: Timestamp,
    pub(crate) kind: RecordKind,
    pub(crate) action: Cow<'static, str>,
    pub(crate) actor: Option<Text>,
    pub(crate) resource: Option<Text>,
    pub(crate) outcome: Outcome,
    // State is serialised once, on the caller's thread, into JSON text: one
    // allocation there, a copy on the writer's.
    pub(crate) before: Option<Box<RawValue>>,
    pub(crate) after: Option<Box<RawValue>>,
    // Few entries, keys mostly `'static` (named in code): a sorted vector
    // costs less to build, move and free than a map.
    pub(crate) context: Vec<(Cow<'static, str>, Text)>,
    pub(crate) code: Option<CodeRef>,
    pub(crate) duration: Option<Duration>,
    // Rarely set per event: boxed, so that every event moved through the
    // queue is smaller.
    pub(crate) origin: Option<Box<Origin>>,
}

/// A service or host named by the event itself, instead of the writer's.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Origin {
    pub(crate) service: Option<String>,
    pub(crate) host: Option<String>,
}

/// Where an event was made: a static location for `#[audited]` call sites,
/// an owned one for events built by hand.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum CodeRef {
    Static(&'static CodeLocation),
    Owned(Box<CodeLocation>),
}

impl std::ops::Deref for CodeRef {
    type Target = CodeLocation;

    fn deref(&self) -> &CodeLocation {
        match self {
            CodeRef::Static(code) => code,
            CodeRef::Owned(code) => code,
        }
    }
}

impl AuditEvent {
    /// Starts an event for `action`, timed now, with outcome success.
    ///
    /// # Examples
    ///
    /// ```
    /// let event = audit_layer::AuditEvent::builder("session.login").actor("alice").build();
    /// assert_eq!(event.actor(), Some("alice"));
    /// ```
    pub fn builder(action: impl Into<Cow<'static, str>>) -> AuditEventBuilder {
        AuditEventBuilder {
            event: AuditEvent {
                time: Timestamp::now(),
                kind: RecordKind::Event,
                action: action.into(),
                actor: None,
                resource: None,
                outcome: Outcome::Success,
                before: None,
                after: None,
                context: Vec::new(),
                code: None,
                duration: None,
                origin: None,
            },
        }
    }

    pub(crate) fn service_override(&self) -> Option<&str> {
        self.origin.as_ref()?.service.as_deref()
    }

    pub(crate) fn host_override(&self) -> Option<&str> {
        self.origin.as_ref()?.host.as_deref()
    }

    pub(crate) fn system(action: &'static str, outcome: Outcome, details: impl Serialize) -> Self {
        let mut event = AuditEvent::builder(action)
            .actor("audit-layer")
            .outcome(outcome)
            .after(details)
            .build();
        event.kind = RecordKind::System;
        event
    }

    /// The action, such as `post.publish`.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(audit_layer::AuditEvent::builder("a.b").build().action(), "a.b");
    /// ```
    pub fn action(&self) -> &str {
        &self.action
    }

    /// Who acted, if known.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(audit_layer::AuditEvent::builder("a").build().actor(), None);
    /// ```
    pub fn actor(&self) -> Option<&str> {
        self.actor.as_deref()
    }

    /// What was acted on, if named.
    ///
    /// # Examples
    ///
    /// ```
    /// let e = audit_layer::AuditEvent::builder("a").resource("post:1").build();
    /// assert_eq!(e.resource(), Some("post:1"));
    /// ```
    pub fn resource(&self) -> Option<&str> {
        self.resource.as_deref()
    }

    /// How it ended.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(audit_layer::AuditEvent::builder("a").build().outcome().is_success());
    /// ```
    pub fn outcome(&self) -> &Outcome {
        &self.outcome
    }

    /// The context entries, sorted by key.
    ///
    /// # Examples
    ///
    /// ```
    /// let e = audit_layer::AuditEvent::builder("a").context("b", "2").context("a", "1").build();
    /// let keys: Vec<_> = e.context().map(|(k, _)| k).collect();
    /// assert_eq!(keys, ["a", "b"]);
    /// ```
    pub fn context(&self) -> impl Iterator<Item = (&str, &str)> {
        self.context.iter().map(|(k, v)| (k.as_ref(), v.as_str()))
    }

    /// The state before, as JSON text.
    ///
    /// # Examples
    ///
    /// ```
    /// let e = audit_layer::AuditEvent::builder("a").before(serde_json::json!({"n": 1})).build();
    /// assert_eq!(e.before_json(), Some(r#"{"n":1}"#));
    /// ```
    pub fn before_json(&self) -> Option<&str> {
        self.before.as_deref().map(RawValue::get)
    }

    /// The state after, as JSON text.
    ///
    /// # Examples
    ///
    /// ```
    /// let e = audit_layer::AuditEvent::builder("a").after("done").build();
    /// assert_eq!(e.after_json(), Some(r#""done""#));
    /// ```
    pub fn after_json(&self) -> Option<&str> {
        self.after.as_deref().map(RawValue::get)
    }

    /// When it happened.
    ///
    /// # Examples
    ///
    /// ```
    /// let t = audit_layer::Timestamp::now();
    /// assert_eq!(audit_layer::AuditEvent::builder("a").time(t).build().time(), t);
    /// ```
    pub fn time(&self) -> Timestamp {
        self.time
    }
}

/// Builds an [`AuditEvent`]; see [`AuditEvent::builder`].
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use audit_layer::{AuditEvent, CodeLocation};
///
/// let event = AuditEvent::builder("export.users")
///     .actor("dpo@example.com")
///     .resource("users")
///     .context("request_id", "r-17")
///     .code(CodeLocation::new(module_path!(), "export_users"))
///     .duration(Duration::from_millis(12))
///     .build();
/// assert_eq!(event.resource(), Some("users"));
/// ```
#[derive(Debug, Clone)]
#[must_use = "call .build() to get the event"]
pub struct AuditEventBuilder {
    event: AuditEvent,
}

impl AuditEventBuilder {
    /// Sets who acted.
    ///
    /// # Examples
    ///
    /// ```
    /// let e = audit_layer::AuditEvent::builder("a").actor("bob").build();
    /// assert_eq!(e.actor(), Some("bob"));
    /// ```
    pub fn actor(mut self, actor: impl Into<String>) -> Self {
        self.event.actor = Some(Text::from(actor.into()));
        self
    }

    /// Sets what was acted on.
    ///
    /// # Examples
    ///
    /// ```
    /// let e = audit_layer::AuditEvent::builder("a").resource("post:42").build();
    /// assert_eq!(e.resource(), Some("post:42"));
    /// ```
    pub fn resource(mut self, resource: impl Into<String>) -> Self {
        self.event.resource = Some(Text::from(resource.into()));
        self
    }

    /// Sets the outcome (success by default).
    ///
    /// # Examples
    ///
    /// ```
    /// use audit_layer::{AuditEvent, FailureKind, Outcome};
    /// let e = AuditEvent::builder("a").outcome(Outcome::failure(FailureKind::Error, "x")).build();
    /// assert_eq!(e.outcome().status(), "failure");
    /// ```
    pub fn outcome(mut self, outcome: Outcome) -> Self {
        self.event.outcome = outcome;
        self
    }

    /// Sets the state before the action.
    ///
    /// A value that cannot be represented as JSON (a map with non-string
    /// keys, say) is recorded as `{"audit.unserializable": "<why>"}`, so
    /// the gap is visible in the record instead of silently missing.
    ///
    /// # Examples
    ///
    /// ```
    /// let e = audit_layer::AuditEvent::builder("a").before(serde_json::json!({"n": 1})).build();
    /// # let _ = e;
    /// ```
    pub fn before(mut self, state: impl Serialize) -> Self {
        self.event.before = Some(to_json(&state));
        self
    }

    /// Sets the state before from JSON text that is already serialised.
    ///
    /// # Examples
    ///
    /// ```
    /// let raw = serde_json::value::to_raw_value(&42).unwrap();
    /// let e = audit_layer::AuditEvent::builder("a").before_raw(raw).build();
    /// assert_eq!(e.before_json(), Some("42"));
    /// ```
    pub fn before_raw(mut self, state: Box<RawValue>) -> Self {
        self.event.before = Some(state);
        self
    }

    /// Sets the state after from JSON text that is already serialised.
    ///
    /// # Examples
    ///
    /// ```
    /// let raw = serde_json::value::to_raw_value(&"x").unwrap();
    /// let e = audit_layer::AuditEvent::builder("a").after_raw(raw).build();
    /// assert_eq!(e.after_json(), Some(r#""x""#));
    /// ```
    pub fn after_raw(mut self, state: Box<RawValue>) -> Self {
        self.event.after = Some(state);
        self
    }

    /// Sets the state after the action (see [`before`](Self::before)).
    ///
    /// # Examples
    ///
    /// ```
    /// let e = audit_layer::AuditEvent::builder("a").after("published").build();
    /// # let _ = e;
    /// ```
    pub fn after(mut self, state: impl Serialize) -> Self {
        self.event.after = Some(to_json(&state));
        self
    }

    /// Adds a context entry (source IP, session, request id, tenant, ticket...).
    ///
    /// # Examples
    ///
    /// ```
    /// let e = audit_layer::AuditEvent::builder("a").context("source_ip", "10.0.0.7").build();
    /// # let _ = e;
    /// ```
    pub fn context(mut self, key: impl Into<Cow<'static, str>>, value: impl Into<String>) -> Self {
        set_context(
            &mut self.event.context,
            key.into(),
            Text::from(value.into()),
        );
        self
    }

    /// Sets where in the code the action happened.
    ///
    /// # Examples
    ///
    /// ```
    /// use audit_layer::{AuditEvent, CodeLocation};
    /// let e = AuditEvent::builder("a").code(CodeLocation::new(module_path!(), "main")).build();
    /// # let _ = e;
    /// ```
    pub fn code(mut self, code: CodeLocation) -> Self {
        self.event.code = Some(CodeRef::Owned(Box::new(code)));
        self
    }

    /// Sets how long the action took.
    ///
    /// # Examples
    ///
    /// ```
    /// let e = audit_layer::AuditEvent::builder("a")
    ///     .duration(std::time::Duration::from_micros(5))
    ///     .build();
    /// # let _ = e;
    /// ```
    pub fn duration(mut self, duration: Duration) -> Self {
        self.event.duration = Some(duration);
        self
    }

    /// Sets when the action happened (now, by default).
    ///
    /// # Examples
    ///
    /// ```
    /// let t: audit_layer::Timestamp = "2026-01-02T03:04:05Z".parse().unwrap();
    /// let e = audit_layer::AuditEvent::builder("a").time(t).build();
    /// assert_eq!(e.time(), t);
    /// ```
    pub fn time(mut self, time: Timestamp) -> Self {
        self.event.time = time;
        self
    }

    /// Names the service, instead of the writer's default.
    ///
    /// # Examples
    ///
    /// ```
    /// let e = audit_layer::AuditEvent::builder("a").service("billing").build();
    /// # let _ = e;
    /// ```
    pub fn service(mut self, service: impl Into<String>) -> Self {
        self.event.origin.get_or_insert_default().service = Some(service.into());
        self
    }

    /// Names the host, instead of the writer's default.
    ///
    /// # Examples
    ///
    /// ```
    /// let e = audit_layer::AuditEvent::builder("a").host("web-3").build();
    /// # let _ = e;
    /// ```
    pub fn host(mut self, host: impl Into<String>) -> Self {
        self.event.origin.get_or_insert_default().host = Some(host.into());
        self
    }

    /// Finishes the event.
    ///
    /// # Examples
    ///
    /// ```
    /// let event = audit_layer::AuditEvent::builder("a").build();
    /// # let _ = event;
    /// ```
    pub fn build(self) -> AuditEvent {
        self.event
    }
}

/// Sets `key` in a context kept sorted by key, replacing an earlier value.
pub(crate) fn set_context(
    context: &mut Vec<(Cow<'static, str>, Text)>,
    key: Cow<'static, str>,
    value: Text,
) {
    match context.binary_search_by(|(k, _)| k.as_ref().cmp(key.as_ref())) {
        Ok(at) => context[at].1 = value,
        Err(at) => context.insert(at, (key, value)),
    }
}

pub(crate) fn to_json(state: &impl Serialize) -> Box<RawValue> {
    serde_json::value::to_raw_value(state).unwrap_or_else(|error| {
        let marker = serde_json::json!({ "audit.unserializable": error.to_string() });
        serde_json::value::to_raw_value(&marker).expect("a map of strings serialises")
    })
}

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

#[cfg(test)]
mod event_size {
    /// Events are moved through the queue by value: keep them small.
    #[test]
    fn an_event_stays_small() {
        assert!(
            std::mem::size_of::<super::AuditEvent>() <= 256,
            "{}",
            std::mem::size_of::<super::AuditEvent>()
        );
    }
}
