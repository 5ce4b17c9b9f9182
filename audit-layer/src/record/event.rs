//! What an audit record says: the event a caller hands over, and the record
//! a log line holds once the writer has given it a place in the chain.

use crate::record::code_location::CodeLocation;
use crate::record::code_location::CodeRef;
use crate::record::outcome::Outcome;
use std::borrow::Cow;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

/// Short text (up to 24 bytes) is stored inline: an event's actor, resource
/// and context values are usually that short, and every allocation saved is
/// a malloc on the caller's thread and a free on the writer's.
pub(crate) type Text = compact_str::CompactString;

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
