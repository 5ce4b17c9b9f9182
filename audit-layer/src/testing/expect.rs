//! [`Expect`]: what a test expects of a record, field by field.

use crate::{AuditRecord, Change, FailureKind};
use serde_json::Value;
use std::fmt;

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum ExpectOutcome {
    Success,
    Failure,
    Unknown,
}

/// What a record should hold; fields left unset are not checked.
///
/// # Examples
///
/// ```
/// use audit_layer::testing::Expect;
/// use audit_layer::FailureKind;
/// use serde_json::json;
///
/// let expected = Expect::action("user.role_change")
///     .actor("alice")
///     .resource("user:bob")
///     .success()
///     .change("/role", json!("editor"), json!("admin"))
///     .context("ticket", "SEC-1");
/// assert!(expected.to_string().contains("user.role_change"));
/// let denied = Expect::action("post.publish").failure_kind(FailureKind::Denied);
/// # let _ = denied;
/// ```
#[derive(Debug, Clone, Default)]
#[must_use]
pub struct Expect {
    action: String,
    actor: Option<Option<String>>,
    resource: Option<Option<String>>,
    outcome: Option<ExpectOutcome>,
    kind: Option<FailureKind>,
    reason: Option<String>,
    before: Option<Value>,
    after: Option<Value>,
    changes: Vec<Change>,
    context: Vec<(String, String)>,
}

impl Expect {
    /// A record of `action`.
    ///
    /// # Examples
    ///
    /// See [`Expect`].
    pub fn action(action: impl Into<String>) -> Self {
        Expect {
            action: action.into(),
            ..Expect::default()
        }
    }

    /// Made by `actor`.
    ///
    /// # Examples
    ///
    /// See [`Expect`].
    pub fn actor(mut self, actor: impl Into<String>) -> Self {
        self.actor = Some(Some(actor.into()));
        self
    }

    /// Made with no actor at all.
    ///
    /// # Examples
    ///
    /// ```
    /// let expected = audit_layer::testing::Expect::action("cron.cleanup").no_actor();
    /// # let _ = expected;
    /// ```
    pub fn no_actor(mut self) -> Self {
        self.actor = Some(None);
        self
    }

    /// On `resource`.
    ///
    /// # Examples
    ///
    /// See [`Expect`].
    pub fn resource(mut self, resource: impl Into<String>) -> Self {
        self.resource = Some(Some(resource.into()));
        self
    }

    /// With outcome success.
    ///
    /// # Examples
    ///
    /// See [`Expect`].
    pub fn success(mut self) -> Self {
        self.outcome = Some(ExpectOutcome::Success);
        self
    }

    /// With outcome failure (any kind).
    ///
    /// # Examples
    ///
    /// See the [module documentation](super).
    pub fn failure(mut self) -> Self {
        self.outcome = Some(ExpectOutcome::Failure);
        self
    }

    /// With outcome failure of this kind.
    ///
    /// # Examples
    ///
    /// See [`Expect`].
    pub fn failure_kind(mut self, kind: FailureKind) -> Self {
        self.outcome = Some(ExpectOutcome::Failure);
        self.kind = Some(kind);
        self
    }

    /// With outcome unknown.
    ///
    /// # Examples
    ///
    /// ```
    /// let expected = audit_layer::testing::Expect::action("a").unknown();
    /// # let _ = expected;
    /// ```
    pub fn unknown(mut self) -> Self {
        self.outcome = Some(ExpectOutcome::Unknown);
        self
    }

    /// With this reason (a failure's or an unknown outcome's).
    ///
    /// # Examples
    ///
    /// See the [module documentation](super).
    pub fn reason(mut self, reason: impl Into<String>) -> Self {
        self.reason = Some(reason.into());
        self
    }

    /// With this state before.
    ///
    /// # Examples
    ///
    /// ```
    /// let expected = audit_layer::testing::Expect::action("a").before(serde_json::json!({"n": 1}));
    /// # let _ = expected;
    /// ```
    pub fn before(mut self, state: Value) -> Self {
        self.before = Some(state);
        self
    }

    /// With this state after.
    ///
    /// # Examples
    ///
    /// ```
    /// let expected = audit_layer::testing::Expect::action("a").after(serde_json::json!({"n": 2}));
    /// # let _ = expected;
    /// ```
    pub fn after(mut self, state: Value) -> Self {
        self.after = Some(state);
        self
    }

    /// Whose changes include `path` going from `old` to `new`.
    ///
    /// # Examples
    ///
    /// See [`Expect`].
    pub fn change(mut self, path: impl Into<String>, old: Value, new: Value) -> Self {
        self.changes.push(Change::new(path, Some(old), Some(new)));
        self
    }

    /// Whose context has `key` = `value`.
    ///
    /// # Examples
    ///
    /// See [`Expect`].
    pub fn context(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.context.push((key.into(), value.into()));
        self
    }

    /// Whether `record` is what this describes.
    ///
    /// # Examples
    ///
    /// ```
    /// use audit_layer::testing::Expect;
    /// # let line = br#"{"v":1,"seq":0,"prev":"0000000000000000000000000000000000000000000000000000000000000000","time":"2026-01-01T00:00:00.000000000Z","kind":"event","action":"session.login","actor":"alice","resource":null,"outcome":"success","category":null,"reason":null,"before":null,"after":null,"changes":null,"context":{},"code":null,"duration_ns":null,"service":null,"host":null,"hash":"0000000000000000000000000000000000000000000000000000000000000000"}"#;
    /// let record = audit_layer::AuditRecord::from_line(line).unwrap();
    /// assert!(Expect::action("session.login").actor("alice").matches(&record));
    /// assert!(!Expect::action("session.login").actor("bob").matches(&record));
    /// ```
    pub fn matches(&self, record: &AuditRecord) -> bool {
        let outcome_matches = match (&self.outcome, &record.outcome) {
            (None, _) => true,
            (Some(ExpectOutcome::Success), crate::Outcome::Success) => true,
            (Some(ExpectOutcome::Failure), crate::Outcome::Failure { kind, .. }) => {
                self.kind.as_ref().is_none_or(|wanted| wanted == kind)
            }
            (Some(ExpectOutcome::Unknown), crate::Outcome::Unknown { .. }) => true,
            _ => false,
        };
        record.action == self.action
            && self
                .actor
                .as_ref()
                .is_none_or(|actor| *actor == record.actor)
            && self.resource.as_ref().is_none_or(|r| *r == record.resource)
            && outcome_matches
            && self
                .reason
                .as_deref()
                .is_none_or(|reason| record.outcome.reason() == Some(reason))
            && self
                .before
                .as_ref()
                .is_none_or(|b| record.before.as_ref() == Some(b))
            && self
                .after
                .as_ref()
                .is_none_or(|a| record.after.as_ref() == Some(a))
            && self.changes.iter().all(|change| {
                record
                    .changes
                    .as_ref()
                    .is_some_and(|changes| changes.contains(change))
            })
            && self
                .context
                .iter()
                .all(|(k, v)| record.context.get(k) == Some(v))
    }
}

impl fmt::Display for Expect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "action={}", self.action)?;
        match &self.actor {
            Some(Some(actor)) => write!(f, " actor={actor}")?,
            Some(None) => write!(f, " actor=(none)")?,
            None => {}
        }
        if let Some(Some(resource)) = &self.resource {
            write!(f, " resource={resource}")?;
        }
        if let Some(outcome) = &self.outcome {
            write!(f, " outcome={}", format!("{outcome:?}").to_lowercase())?;
        }
        if let Some(kind) = &self.kind {
            write!(f, "({kind})")?;
        }
        if let Some(reason) = &self.reason {
            write!(f, " reason={reason:?}")?;
        }
        if let Some(before) = &self.before {
            write!(f, " before={before}")?;
        }
        if let Some(after) = &self.after {
            write!(f, " after={after}")?;
        }
        for change in &self.changes {
            write!(f, " change={}", change.path)?;
        }
        for (key, value) in &self.context {
            write!(f, " context.{key}={value}")?;
        }
        Ok(())
    }
}
