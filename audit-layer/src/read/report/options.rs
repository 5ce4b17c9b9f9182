//! Which report, over which period, with which thresholds.

use std::time::Duration;

use crate::record::time::Timestamp;

/// The kinds of report.
///
/// # Examples
///
/// ```
/// use audit_layer::ReportKind;
/// assert_eq!(ReportKind::parse("document"), Some(ReportKind::Document));
/// assert_eq!(ReportKind::Access.as_str(), "access");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ReportKind {
    /// Who read or changed which resources, per actor and per resource,
    /// with the outliers (more accesses in one shift than allowed).
    Access,
    /// Every change with its before/after, and change-control coverage: the
    /// share of changes carrying a ticket, and the exceptions.
    Changes,
    /// Role, permission and credential changes, and access to the audit
    /// trail itself.
    Privileged,
    /// The complete ordered trail of one resource (21 CFR Part 11), with
    /// every signature and the version it is bound to.
    Document,
}

impl ReportKind {
    /// The word, as the command line and the JSON spell it.
    ///
    /// # Examples
    ///
    /// See [`ReportKind`].
    pub fn as_str(&self) -> &'static str {
        match self {
            ReportKind::Access => "access",
            ReportKind::Changes => "changes",
            ReportKind::Privileged => "privileged",
            ReportKind::Document => "document",
        }
    }

    /// Reads the word.
    ///
    /// # Examples
    ///
    /// See [`ReportKind`].
    pub fn parse(word: &str) -> Option<ReportKind> {
        [
            ReportKind::Access,
            ReportKind::Changes,
            ReportKind::Privileged,
            ReportKind::Document,
        ]
        .into_iter()
        .find(|kind| kind.as_str() == word)
    }

    /// The report's heading.
    pub(crate) fn title(&self) -> &'static str {
        match self {
            ReportKind::Access => "Access report",
            ReportKind::Changes => "Change report",
            ReportKind::Privileged => "Privileged activity report",
            ReportKind::Document => "Document trail",
        }
    }
}

/// What a report covers and how it judges.
///
/// # Examples
///
/// ```
/// use audit_layer::{ReportKind, ReportOptions};
/// let options = ReportOptions::new(ReportKind::Changes).ticket_key("jira");
/// assert_eq!(options.ticket_key, "jira");
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ReportOptions {
    /// Which report.
    pub kind: ReportKind,
    /// Records from this time on (inclusive).
    pub since: Option<Timestamp>,
    /// Records before this time.
    pub until: Option<Timestamp>,
    /// For a document report: the resource.
    pub resource: Option<String>,
    /// The context key a change's ticket is under (default `ticket`).
    pub ticket_key: String,
    /// The length of a shift, for access outliers (default 8 hours).
    pub shift: Duration,
    /// More accesses than this by one actor in one shift is an outlier
    /// (default 50).
    pub outlier_per_shift: u64,
    /// Actions that are privileged (globs; defaults cover roles,
    /// permissions, credentials, keys).
    pub privileged_actions: Vec<String>,
    /// Actions that access the audit trail itself (globs).
    pub trail_actions: Vec<String>,
}

/// The privileged actions by default.
pub const DEFAULT_PRIVILEGED_ACTIONS: [&str; 9] = [
    "*role*",
    "*permission*",
    "*grant*",
    "*revoke*",
    "*credential*",
    "*password*",
    "*mfa*",
    "apikey.*",
    "*.impersonate",
];

/// The actions on the audit trail itself, by default.
pub const DEFAULT_TRAIL_ACTIONS: [&str; 3] = ["auditlog.*", "audit.retention*", "audit.export*"];

impl ReportOptions {
    /// A report of `kind` over the whole log, with the default thresholds.
    ///
    /// # Examples
    ///
    /// See [`ReportOptions`].
    pub fn new(kind: ReportKind) -> ReportOptions {
        ReportOptions {
            kind,
            since: None,
            until: None,
            resource: None,
            ticket_key: "ticket".into(),
            shift: Duration::from_secs(8 * 3600),
            outlier_per_shift: 50,
            privileged_actions: DEFAULT_PRIVILEGED_ACTIONS
                .iter()
                .map(|s| (*s).to_owned())
                .collect(),
            trail_actions: DEFAULT_TRAIL_ACTIONS
                .iter()
                .map(|s| (*s).to_owned())
                .collect(),
        }
    }

    /// Records from `since` (inclusive) until `until` (exclusive).
    ///
    /// # Examples
    ///
    /// ```
    /// use audit_layer::{ReportKind, ReportOptions, Timestamp};
    /// let from: Timestamp = "2026-11-01T00:00:00Z".parse()?;
    /// let to: Timestamp = "2026-12-01T00:00:00Z".parse()?;
    /// let options = ReportOptions::new(ReportKind::Access).period(Some(from), Some(to));
    /// assert_eq!(options.since, Some(from));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn period(mut self, since: Option<Timestamp>, until: Option<Timestamp>) -> ReportOptions {
        self.since = since;
        self.until = until;
        self
    }

    /// The resource a document report follows.
    ///
    /// # Examples
    ///
    /// ```
    /// let options = audit_layer::ReportOptions::new(audit_layer::ReportKind::Document).resource("post:42");
    /// assert_eq!(options.resource.as_deref(), Some("post:42"));
    /// ```
    #[must_use]
    pub fn resource(mut self, resource: impl Into<String>) -> ReportOptions {
        self.resource = Some(resource.into());
        self
    }

    /// The context key of change tickets.
    ///
    /// # Examples
    ///
    /// See [`ReportOptions`].
    #[must_use]
    pub fn ticket_key(mut self, key: impl Into<String>) -> ReportOptions {
        self.ticket_key = key.into();
        self
    }

    /// The outlier threshold: more than `accesses` in one `shift`.
    ///
    /// # Examples
    ///
    /// ```
    /// let options = audit_layer::ReportOptions::new(audit_layer::ReportKind::Access)
    ///     .outliers(100, std::time::Duration::from_secs(12 * 3600));
    /// assert_eq!(options.outlier_per_shift, 100);
    /// ```
    #[must_use]
    pub fn outliers(mut self, accesses: u64, shift: Duration) -> ReportOptions {
        self.outlier_per_shift = accesses;
        self.shift = shift;
        self
    }
}
