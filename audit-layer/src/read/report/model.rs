//! What a report says: its sections, and the integrity statement that
//! opens it, in words a person who is not an engineer can follow.

use serde::Serialize;

use crate::proof::report::Report;
use crate::read::report::options::ReportKind;
use crate::record::changes::Change;
use crate::record::time::Timestamp;

/// What was verified, stated first in every report.
///
/// # Examples
///
/// ```
/// use audit_layer::{IntegrityStatement, Verifier};
/// let report = Verifier::new().verify_bytes(b"");
/// let statement = IntegrityStatement::from_report(&report, "audit-log");
/// assert!(statement.intact);
/// assert!(statement.summary().contains("0 record(s)"));
/// ```
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct IntegrityStatement {
    /// The log or stream the report was made from.
    pub source: String,
    /// Whether the whole log was verified for this report.
    pub verified: bool,
    /// Whether the verification found nothing wrong.
    pub intact: bool,
    /// Records verified.
    pub records: u64,
    /// The first and last seq of the log.
    pub first_seq: Option<u64>,
    /// The last seq.
    pub last_seq: Option<u64>,
    /// The hash of the last record: ties the report to the trail.
    pub head: Option<String>,
    /// The Merkle tree root of the log, when it keeps one.
    pub tree_root: Option<String>,
    /// Signed checkpoints compared with the log and matched.
    pub checkpoints_matched: usize,
    /// Where the checkpoints compared came from (files or directories).
    pub checkpoint_sources: Vec<String>,
    /// Forward-secure seals verified, when checked.
    pub seals_verified: Option<usize>,
    /// Every finding (code, seq, message), as `audit verify` lists them.
    pub findings: Vec<FindingLine>,
    /// Findings not listed (beyond the listing limit).
    pub findings_unlisted: u64,
}

/// One finding of the verification.
///
/// # Examples
///
/// ```
/// let line = audit_layer::FindingLine { code: "modified".into(), seq: Some(3), message: "edited".into() };
/// assert_eq!(line.code, "modified");
/// ```
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FindingLine {
    /// The verifier's stable code.
    pub code: String,
    /// The seq concerned.
    pub seq: Option<u64>,
    /// What is wrong.
    pub message: String,
}

impl IntegrityStatement {
    /// The statement of a verifier's report on `source`.
    ///
    /// # Examples
    ///
    /// See [`IntegrityStatement`].
    pub fn from_report(report: &Report, source: impl Into<String>) -> IntegrityStatement {
        IntegrityStatement {
            source: source.into(),
            verified: true,
            intact: report.is_intact(),
            records: report.records,
            first_seq: report.first_seq,
            last_seq: report.last_seq,
            head: report.head.map(|h| h.to_string()),
            tree_root: report.tree_root.map(|h| h.to_string()),
            checkpoints_matched: report.checkpoints_matched,
            checkpoint_sources: Vec::new(),
            seals_verified: report.seals.as_ref().map(|s| s.seals),
            findings: report
                .findings
                .iter()
                .map(|f| FindingLine {
                    code: f.code.as_str().to_owned(),
                    seq: f.seq,
                    message: f.message.clone(),
                })
                .collect(),
            findings_unlisted: report.findings_unlisted,
        }
    }

    /// A statement that nothing was verified (the report says so first).
    ///
    /// # Examples
    ///
    /// ```
    /// let statement = audit_layer::IntegrityStatement::not_verified("audit-log");
    /// assert!(!statement.intact && !statement.verified);
    /// ```
    pub fn not_verified(source: impl Into<String>) -> IntegrityStatement {
        IntegrityStatement {
            source: source.into(),
            verified: false,
            intact: false,
            records: 0,
            first_seq: None,
            last_seq: None,
            head: None,
            tree_root: None,
            checkpoints_matched: 0,
            checkpoint_sources: Vec::new(),
            seals_verified: None,
            findings: Vec::new(),
            findings_unlisted: 0,
        }
    }

    /// The verdict in one paragraph of plain words.
    ///
    /// # Examples
    ///
    /// See [`IntegrityStatement`].
    pub fn summary(&self) -> String {
        if !self.verified {
            return "The trail was NOT verified for this report: nothing here shows that the records are complete or unaltered.".into();
        }
        let range = match (self.first_seq, self.last_seq) {
            (Some(first), Some(last)) => format!(" (numbers {first} to {last})"),
            _ => String::new(),
        };
        let checks = {
            let mut parts = vec![
                "every record's fingerprint (SHA-256) and its link to the record before it"
                    .to_owned(),
            ];
            if self.checkpoints_matched > 0 {
                parts.push(format!(
                    "{} signed checkpoint(s), which show the trail was not cut short or rewritten since they were signed",
                    self.checkpoints_matched
                ));
            }
            if let Some(seals) = self.seals_verified {
                parts.push(format!("{seals} forward-secure seal(s)"));
            }
            parts.join("; ")
        };
        if self.intact {
            format!(
                "The trail is intact: {} record(s){range} were checked, and nothing was found missing, out of order or altered. Checked: {checks}.",
                self.records
            )
        } else {
            let count = self.findings.len() as u64 + self.findings_unlisted;
            format!(
                "PROBLEMS FOUND: {count} problem(s) in the trail of {} record(s){range}. Records involved may be missing, altered or out of order; the figures below may not be complete or true. Checked: {checks}.",
                self.records
            )
        }
    }
}

/// An activity count in one time bucket, for the activity chart.
///
/// # Examples
///
/// ```
/// # use audit_layer::{ActivityBucket, Timestamp};
/// let bucket = ActivityBucket { start: Timestamp::now(), records: 3 };
/// assert_eq!(bucket.records, 3);
/// ```
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ActivityBucket {
    /// When the bucket begins.
    pub start: Timestamp,
    /// Records in it.
    pub records: u64,
}

/// One actor in an access report.
///
/// # Examples
///
/// ```
/// let row = audit_layer::ActorAccess::default();
/// assert!(!row.outlier);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ActorAccess {
    /// Who.
    pub actor: String,
    /// Records reading (not changing) something.
    pub reads: u64,
    /// Records changing something.
    pub changes: u64,
    /// Records that failed (denied, errors...).
    pub failures: u64,
    /// Distinct resources touched.
    pub resources: u64,
    /// The most records in one shift.
    pub most_in_one_shift: u64,
    /// Above the outlier threshold in some shift.
    pub outlier: bool,
}

/// One resource in an access report.
///
/// # Examples
///
/// ```
/// let row = audit_layer::ResourceAccess::default();
/// assert_eq!(row.actors, 0);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ResourceAccess {
    /// What.
    pub resource: String,
    /// Records reading it.
    pub reads: u64,
    /// Records changing it.
    pub changes: u64,
    /// Distinct actors.
    pub actors: u64,
}

/// One record as a report lists it.
///
/// # Examples
///
/// ```
/// let row = audit_layer::ReportRow::default();
/// assert!(row.signature.is_none());
/// ```
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ReportRow {
    /// Its seq.
    pub seq: u64,
    /// Its hash.
    pub hash: String,
    /// When.
    pub time: Option<Timestamp>,
    /// Who.
    pub actor: Option<String>,
    /// What was done.
    pub action: String,
    /// To what.
    pub resource: Option<String>,
    /// How it ended: success, or the failure's category.
    pub outcome: String,
    /// The change ticket, for change reports.
    pub ticket: Option<String>,
    /// What changed.
    pub changes: Vec<Change>,
    /// The state before, as recorded (change and privileged reports).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub before: Option<serde_json::Value>,
    /// The state after, as recorded (change and privileged reports).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub after: Option<serde_json::Value>,
    /// The document version (SHA-256) the record names, when it names one.
    pub version_sha256: Option<String>,
    /// The electronic signature it carries.
    pub signature: Option<SignatureRow>,
    /// Why the verifier did not vouch for it, if it did not.
    pub problem: Option<String>,
}

/// An electronic signature as a report shows it (§11.50): printed name,
/// date and time, meaning, and the version it is bound to.
///
/// # Examples
///
/// ```
/// let row = audit_layer::SignatureRow::default();
/// assert!(row.broken.is_none());
/// ```
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct SignatureRow {
    /// The signer's user id.
    pub signer: String,
    /// The printed name.
    pub printed_name: String,
    /// What it means.
    pub meaning: String,
    /// When it was signed.
    pub signed_at: String,
    /// The SHA-256 of the version signed.
    pub document_sha256: String,
    /// Why the record's signature is broken (a part missing), if it is.
    pub broken: Option<String>,
}

/// A report: what it covers, what was verified, and its sections.
///
/// # Examples
///
/// ```
/// use audit_layer::{IntegrityStatement, ReportBuilder, ReportKind, ReportOptions};
/// let report = ReportBuilder::new(ReportOptions::new(ReportKind::Access))
///     .finish(IntegrityStatement::not_verified("audit-log"));
/// assert!(report.to_html().contains("NOT verified"));
/// assert!(report.to_json().contains("\"kind\": \"access\""));
/// ```
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct ComplianceReport {
    /// Which report.
    pub kind: ReportKind,
    /// Its heading.
    pub title: String,
    /// When it was made.
    pub generated_at: Timestamp,
    /// The period asked for.
    pub since: Option<Timestamp>,
    /// The end of the period (exclusive).
    pub until: Option<Timestamp>,
    /// For a document report, the document.
    pub resource: Option<String>,
    /// What was verified.
    pub integrity: IntegrityStatement,
    /// Records in the period the report looked at.
    pub records_considered: u64,
    /// Of them, records the verifier did not vouch for.
    pub records_not_vouched_for: u64,
    /// Activity over time.
    pub activity: Vec<ActivityBucket>,
    /// Access: per actor, busiest first.
    pub actors: Vec<ActorAccess>,
    /// Access: per resource, busiest first (at most [`MAX_RESOURCES`]).
    pub resources: Vec<ResourceAccess>,
    /// Access: distinct resources in all.
    pub resources_total: u64,
    /// The outlier threshold: more than this many records in one shift.
    pub outlier_per_shift: u64,
    /// The shift length, in hours.
    pub shift_hours: f64,
    /// The records listed (changes, privileged actions, the document's trail).
    pub rows: Vec<ReportRow>,
    /// Records that belonged in `rows` beyond [`MAX_ROWS`].
    pub rows_unlisted: u64,
    /// Changes: how many changes carry a ticket.
    pub changes_with_ticket: u64,
    /// Changes: how many changes in all.
    pub changes_total: u64,
    /// Changes: the seqs of changes without a ticket (the exceptions).
    pub exceptions: Vec<u64>,
    /// The context key tickets are under.
    pub ticket_key: String,
    /// Privileged: records that accessed the audit trail itself.
    pub trail_access: Vec<ReportRow>,
}

/// The most resources an access report lists.
pub const MAX_RESOURCES: usize = 500;
/// The most records a report lists.
pub const MAX_ROWS: usize = 20_000;

impl ComplianceReport {
    /// The report as pretty JSON.
    ///
    /// # Examples
    ///
    /// See [`ComplianceReport`].
    pub fn to_json(&self) -> String {
        let mut out = serde_json::to_string_pretty(self).unwrap_or_default();
        out.push('\n');
        out
    }

    /// The share of changes carrying a ticket, from 0 to 1 (1 with no changes).
    ///
    /// # Examples
    ///
    /// See [`ComplianceReport`].
    pub fn ticket_coverage(&self) -> f64 {
        if self.changes_total == 0 {
            1.0
        } else {
            self.changes_with_ticket as f64 / self.changes_total as f64
        }
    }
}
