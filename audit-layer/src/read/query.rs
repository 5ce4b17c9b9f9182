//! Selecting records: who, what, on what, how it ended, when.

use crate::record::time::Timestamp;
use crate::record::{AuditRecord, RecordKind};

/// Which records to keep; every condition left unset keeps everything.
///
/// # Examples
///
/// ```
/// use audit_layer::RecordFilter;
///
/// let filter = RecordFilter::new()
///     .actor("alice")
///     .action("post.*")
///     .outcome("denied")
///     .since("2026-11-23T00:00:00Z".parse()?);
/// # let _ = filter;
/// # Ok::<(), audit_layer::TimestampError>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[must_use]
pub struct RecordFilter {
    actor: Option<String>,
    action: Option<String>,
    resource: Option<String>,
    outcome: Option<String>,
    since: Option<Timestamp>,
    until: Option<Timestamp>,
    after_seq: Option<u64>,
    application_only: bool,
}

impl RecordFilter {
    /// A filter that keeps every record.
    ///
    /// # Examples
    ///
    /// See [`RecordFilter`].
    pub fn new() -> Self {
        RecordFilter::default()
    }

    /// Records by this actor.
    ///
    /// # Examples
    ///
    /// See [`RecordFilter`].
    pub fn actor(mut self, actor: impl Into<String>) -> Self {
        self.actor = Some(actor.into());
        self
    }

    /// Records of this action; a trailing `*` matches any suffix (`post.*`).
    ///
    /// # Examples
    ///
    /// See [`RecordFilter`].
    pub fn action(mut self, action: impl Into<String>) -> Self {
        self.action = Some(action.into());
        self
    }

    /// Records on this resource.
    ///
    /// # Examples
    ///
    /// ```
    /// let filter = audit_layer::RecordFilter::new().resource("post:42");
    /// # let _ = filter;
    /// ```
    pub fn resource(mut self, resource: impl Into<String>) -> Self {
        self.resource = Some(resource.into());
        self
    }

    /// Records with this outcome: `success`, `failure`, `unknown`, or a
    /// failure kind such as `denied` or `panicked`.
    ///
    /// # Examples
    ///
    /// See [`RecordFilter`].
    pub fn outcome(mut self, outcome: impl Into<String>) -> Self {
        self.outcome = Some(outcome.into());
        self
    }

    /// Records at or after this time.
    ///
    /// # Examples
    ///
    /// See [`RecordFilter`].
    pub fn since(mut self, time: Timestamp) -> Self {
        self.since = Some(time);
        self
    }

    /// Records before this time.
    ///
    /// # Examples
    ///
    /// ```
    /// let filter = audit_layer::RecordFilter::new().until(audit_layer::Timestamp::now());
    /// # let _ = filter;
    /// ```
    pub fn until(mut self, time: Timestamp) -> Self {
        self.until = Some(time);
        self
    }

    /// Records after this seq: the cursor of an incremental export, which
    /// hands over each record once however often it runs.
    ///
    /// # Examples
    ///
    /// ```
    /// // The last run exported up to seq 41272; this one starts after it.
    /// let filter = audit_layer::RecordFilter::new().after_seq(41272);
    /// # let _ = filter;
    /// ```
    pub fn after_seq(mut self, seq: u64) -> Self {
        self.after_seq = Some(seq);
        self
    }

    /// Leaves out audit-layer's own records (repairs, outages).
    ///
    /// # Examples
    ///
    /// ```
    /// let filter = audit_layer::RecordFilter::new().application_only();
    /// # let _ = filter;
    /// ```
    pub fn application_only(mut self) -> Self {
        self.application_only = true;
        self
    }

    /// The conditions, for a reader that asks a database first.
    #[cfg_attr(not(feature = "postgres"), allow(dead_code))]
    pub(crate) fn conditions(&self) -> FilterConditions<'_> {
        FilterConditions {
            actor: self.actor.as_deref(),
            action: self.action.as_deref(),
            resource: self.resource.as_deref(),
            outcome: self.outcome.as_deref(),
            since: self.since,
            until: self.until,
            after_seq: self.after_seq,
            application_only: self.application_only,
        }
    }

    /// The conditions in words (`resource doc:42, since 2026-11-01T...`),
    /// for a person reading what was selected.
    ///
    /// # Examples
    ///
    /// ```
    /// let filter = audit_layer::RecordFilter::new().resource("doc:42").actor("alice");
    /// assert_eq!(filter.describe(), "actor alice, resource doc:42");
    /// assert_eq!(audit_layer::RecordFilter::new().describe(), "every record");
    /// ```
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        let quoted = |value: &str| crate::record::terminal_text::terminal_safe(value).into_owned();
        if let Some(actor) = &self.actor {
            parts.push(format!("actor {}", quoted(actor)));
        }
        if let Some(action) = &self.action {
            parts.push(format!("action {}", quoted(action)));
        }
        if let Some(resource) = &self.resource {
            parts.push(format!("resource {}", quoted(resource)));
        }
        if let Some(outcome) = &self.outcome {
            parts.push(format!("outcome {}", quoted(outcome)));
        }
        if let Some(since) = self.since {
            parts.push(format!("since {since}"));
        }
        if let Some(until) = self.until {
            parts.push(format!("until {until}"));
        }
        if let Some(after) = self.after_seq {
            parts.push(format!("after seq {after}"));
        }
        if self.application_only {
            parts.push("application records only".into());
        }
        if parts.is_empty() {
            "every record".into()
        } else {
            parts.join(", ")
        }
    }

    /// Whether `record` passes every condition.
    ///
    /// # Examples
    ///
    /// ```
    /// use audit_layer::{AuditRecord, RecordFilter};
    /// # let line = br#"{"v":1,"seq":0,"prev":"0000000000000000000000000000000000000000000000000000000000000000","time":"2026-01-01T00:00:00.000000000Z","kind":"event","action":"post.publish","actor":"alice","resource":"post:42","outcome":"failure","category":"denied","reason":"no","before":null,"after":null,"changes":null,"context":{},"code":null,"duration_ns":null,"service":null,"host":null,"hash":"0000000000000000000000000000000000000000000000000000000000000000"}"#;
    /// let record = AuditRecord::from_line(line).unwrap();
    /// assert!(RecordFilter::new().action("post.*").outcome("denied").matches(&record));
    /// assert!(!RecordFilter::new().outcome("success").matches(&record));
    /// ```
    pub fn matches(&self, record: &AuditRecord) -> bool {
        let text_matches = |wanted: &Option<String>, actual: Option<&str>| {
            wanted
                .as_deref()
                .is_none_or(|wanted| actual == Some(wanted))
        };
        let action_matches =
            self.action
                .as_deref()
                .is_none_or(|wanted| match wanted.strip_suffix('*') {
                    Some(prefix) => record.action.starts_with(prefix),
                    None => record.action == wanted,
                });
        let outcome_matches = self.outcome.as_deref().is_none_or(|wanted| {
            record.outcome.status() == wanted
                || record
                    .outcome
                    .kind()
                    .is_some_and(|kind| kind.as_str() == wanted)
        });
        !(self.application_only && record.kind == RecordKind::System)
            && action_matches
            && outcome_matches
            && text_matches(&self.actor, record.actor.as_deref())
            && text_matches(&self.resource, record.resource.as_deref())
            && self.since.is_none_or(|since| record.time >= since)
            && self.until.is_none_or(|until| record.time < until)
            && self.after_seq.is_none_or(|after| record.seq > after)
    }
}

/// A [`RecordFilter`]'s conditions, borrowed.
#[cfg_attr(not(feature = "postgres"), allow(dead_code))]
pub(crate) struct FilterConditions<'a> {
    pub(crate) actor: Option<&'a str>,
    pub(crate) action: Option<&'a str>,
    pub(crate) resource: Option<&'a str>,
    pub(crate) outcome: Option<&'a str>,
    pub(crate) since: Option<Timestamp>,
    pub(crate) until: Option<Timestamp>,
    pub(crate) after_seq: Option<u64>,
    pub(crate) application_only: bool,
}
