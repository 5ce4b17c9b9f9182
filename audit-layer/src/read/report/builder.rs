//! One pass over the records, in chain order, keeping what the report's
//! kind needs and no more.

use std::collections::{BTreeMap, HashSet};

use serde_json::Value;

use crate::read::report::interned::{Interned, Unhashed};
use crate::read::report::model::{
    ActivityBucket, ActorAccess, ComplianceReport, IntegrityStatement, MAX_RESOURCES, MAX_ROWS,
    ReportRow, ResourceAccess, SignatureRow,
};
use crate::read::report::options::{ReportKind, ReportOptions};
use crate::record::esignature::ESignature;
use crate::record::event::RecordKind;
use crate::record::glob::Glob;
use crate::record::line::{AuditRecord, RecordParseError, leading_fields};
use crate::record::time::Timestamp;

/// The last word of an action that says it changes something.
const CHANGING_VERBS: [&str; 24] = [
    "create",
    "update",
    "delete",
    "remove",
    "publish",
    "unpublish",
    "edit",
    "change",
    "set",
    "approve",
    "sign",
    "grant",
    "revoke",
    "write",
    "upload",
    "import",
    "restore",
    "archive",
    "reset",
    "rotate",
    "disable",
    "enable",
    "assign",
    "transition",
];

/// The most exceptions (changes without a ticket) a report lists by seq.
const MAX_EXCEPTIONS: usize = 10_000;

#[derive(Default)]
struct ActorStats {
    reads: u64,
    changes: u64,
    failures: u64,
    resources: HashSet<u32, Unhashed>,
    shift: i64,
    in_shift: u64,
    most_in_shift: u64,
}

#[derive(Default)]
struct ResourceStats {
    reads: u64,
    changes: u64,
    first_actor: u32,
    /// Made when a second actor appears: most resources see one, and a
    /// boxed set keeps their entry small.
    #[allow(clippy::box_collection)]
    actors: Option<Box<HashSet<u32, Unhashed>>>,
}

/// Builds a [`ComplianceReport`] from records handed to it in chain order.
///
/// # Examples
///
/// ```
/// use audit_layer::{AuditEvent, AuditWriter, IntegrityStatement, MemorySink, ReportBuilder,
///     ReportKind, ReportOptions, Verifier};
///
/// let (sink, log) = MemorySink::new();
/// let (audit, guard) = AuditWriter::builder().spawn(sink)?;
/// audit.submit(AuditEvent::builder("patient.read").actor("dr-who").resource("patient:7").build())?;
/// guard.shutdown(std::time::Duration::from_secs(5))?;
///
/// let verification = Verifier::new().verify_bytes(&log.bytes());
/// let mut builder = ReportBuilder::new(ReportOptions::new(ReportKind::Access));
/// for record in log.records()? {
///     builder.add(&record, None);
/// }
/// let report = builder.finish(IntegrityStatement::from_report(&verification, "memory"));
/// assert_eq!(report.actors[0].actor, "dr-who");
/// assert_eq!(report.actors[0].reads, 1);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct ReportBuilder {
    options: ReportOptions,
    privileged: Vec<Glob>,
    trail: Vec<Glob>,
    considered: u64,
    not_vouched: u64,
    hours: BTreeMap<i64, u64>,
    actors: Interned<ActorStats>,
    resources: Interned<ResourceStats>,
    rows: Vec<ReportRow>,
    rows_unlisted: u64,
    trail_access: Vec<ReportRow>,
    changes_total: u64,
    changes_with_ticket: u64,
    exceptions: Vec<u64>,
}

impl std::fmt::Debug for ReportBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReportBuilder")
            .field("kind", &self.options.kind)
            .field("considered", &self.considered)
            .finish()
    }
}

/// Whether a record changes what it names (else it reads it).
pub(crate) fn is_change(record: &AuditRecord) -> bool {
    if record.before.is_some() || record.after.is_some() || record.changes.is_some() {
        return true;
    }
    is_changing_action(&record.action)
}

/// Whether an action's last word says it changes something.
fn is_changing_action(action: &str) -> bool {
    let verb = action.rsplit('.').next().unwrap_or("");
    CHANGING_VERBS.iter().any(|changing| {
        verb == *changing
            || verb
                .strip_prefix(changing)
                .is_some_and(|rest| rest.starts_with('_'))
            || verb
                .strip_suffix(changing)
                .is_some_and(|rest| rest.ends_with('_'))
    })
}

fn outcome_word(record: &AuditRecord) -> String {
    match record.outcome.kind() {
        Some(kind) => kind.as_str().to_owned(),
        None => record.outcome.status().to_owned(),
    }
}

/// The document version a record names: its signature's, or a SHA-256 in
/// its `after` state.
fn version_of(record: &AuditRecord) -> Option<String> {
    let after = record.after.as_ref()?;
    ["sha256", "version_sha256", "document_sha256"]
        .iter()
        .find_map(|key| after.get(key).and_then(Value::as_str))
        .map(str::to_owned)
}

impl ReportBuilder {
    /// A builder for the report `options` describe.
    ///
    /// # Examples
    ///
    /// See [`ReportBuilder`].
    pub fn new(options: ReportOptions) -> ReportBuilder {
        let globs = |patterns: &[String]| patterns.iter().map(|p| Glob::new(p)).collect();
        ReportBuilder {
            privileged: globs(&options.privileged_actions),
            trail: globs(&options.trail_actions),
            options,
            considered: 0,
            not_vouched: 0,
            hours: BTreeMap::new(),
            actors: Interned::new(),
            resources: Interned::new(),
            rows: Vec::new(),
            rows_unlisted: 0,
            trail_access: Vec::new(),
            changes_total: 0,
            changes_with_ticket: 0,
            exceptions: Vec::new(),
        }
    }

    /// Whether `record` is in the period (and, for a document report, is
    /// of the document): what [`add`](ReportBuilder::add) keeps.
    ///
    /// # Examples
    ///
    /// ```
    /// # use audit_layer::{ReportBuilder, ReportKind, ReportOptions};
    /// let builder = ReportBuilder::new(ReportOptions::new(ReportKind::Document).resource("doc:1"));
    /// # let _ = builder;
    /// ```
    pub fn wants(&self, record: &AuditRecord) -> bool {
        if self.options.since.is_some_and(|since| record.time < since)
            || self.options.until.is_some_and(|until| record.time >= until)
        {
            return false;
        }
        match (&self.options.kind, &self.options.resource) {
            (ReportKind::Document, Some(resource)) => {
                record.resource.as_deref() == Some(resource.as_str())
            }
            _ => true,
        }
    }

    /// Adds one record; `problem` says why the verifier did not vouch for
    /// it (`None` when it did).
    ///
    /// # Examples
    ///
    /// See [`ReportBuilder`].
    pub fn add(&mut self, record: &AuditRecord, problem: Option<&str>) {
        if !self.wants(record) {
            return;
        }
        self.considered += 1;
        if problem.is_some() {
            self.not_vouched += 1;
        }
        *self
            .hours
            .entry(record.time.unix_seconds().div_euclid(3600))
            .or_default() += 1;
        match self.options.kind {
            ReportKind::Access => self.access(record),
            ReportKind::Changes => {
                if record.kind == RecordKind::Event && is_change(record) {
                    self.changes_total += 1;
                    let ticket = record.context.get(&self.options.ticket_key).cloned();
                    if ticket.is_some() {
                        self.changes_with_ticket += 1;
                    } else if self.exceptions.len() < MAX_EXCEPTIONS {
                        self.exceptions.push(record.seq);
                    }
                    let row = self.row(record, problem, ticket);
                    self.push_row(row);
                }
            }
            ReportKind::Privileged => {
                if self.trail.iter().any(|g| g.matches(&record.action)) {
                    let row = self.row(record, problem, None);
                    if self.trail_access.len() < MAX_ROWS {
                        self.trail_access.push(row);
                    } else {
                        self.rows_unlisted += 1;
                    }
                } else if self.privileged.iter().any(|g| g.matches(&record.action)) {
                    let ticket = record.context.get(&self.options.ticket_key).cloned();
                    let row = self.row(record, problem, ticket);
                    self.push_row(row);
                }
            }
            ReportKind::Document => {
                let row = self.row(record, problem, None);
                self.push_row(row);
            }
        }
    }

    fn push_row(&mut self, row: ReportRow) {
        if self.rows.len() < MAX_ROWS {
            self.rows.push(row);
        } else {
            self.rows_unlisted += 1;
        }
    }

    fn row(
        &self,
        record: &AuditRecord,
        problem: Option<&str>,
        ticket: Option<String>,
    ) -> ReportRow {
        let with_states = matches!(
            self.options.kind,
            ReportKind::Changes | ReportKind::Privileged
        );
        let signature = ESignature::from_record(record).map(|read| match read {
            Ok(signature) => SignatureRow {
                signer: signature.signer().to_owned(),
                printed_name: signature.printed_name().to_owned(),
                meaning: signature.meaning().as_str().to_owned(),
                signed_at: signature.time().to_string(),
                document_sha256: signature.document().to_string(),
                broken: None,
            },
            Err(error) => SignatureRow {
                broken: Some(error.to_string()),
                ..SignatureRow::default()
            },
        });
        let version_sha256 = version_of(record).or_else(|| {
            signature
                .as_ref()
                .filter(|s| s.broken.is_none())
                .map(|s| s.document_sha256.clone())
        });
        ReportRow {
            seq: record.seq,
            hash: record.hash.to_string(),
            time: Some(record.time),
            actor: record.actor.clone(),
            action: record.action.clone(),
            resource: record.resource.clone(),
            outcome: outcome_word(record),
            ticket,
            changes: record.changes.clone().unwrap_or_default(),
            before: with_states.then(|| record.before.clone()).flatten(),
            after: with_states.then(|| record.after.clone()).flatten(),
            version_sha256,
            signature,
            problem: problem.map(str::to_owned),
        }
    }

    fn access(&mut self, record: &AuditRecord) {
        if record.kind != RecordKind::Event {
            return;
        }
        self.count_access(
            record.actor.as_deref(),
            record.resource.as_deref(),
            is_change(record),
            !record.outcome.is_success(),
            record.time,
        );
    }

    fn count_access(
        &mut self,
        actor: Option<&str>,
        resource: Option<&str>,
        change: bool,
        failed: bool,
        time: Timestamp,
    ) {
        let actor_slot = self.actors.slot(actor.unwrap_or("(no actor named)"));
        let resource_slot = resource.map(|name| self.resources.slot(name));
        let shift = time
            .unix_seconds()
            .div_euclid(self.options.shift.as_secs().max(1) as i64);
        let actor = self.actors.value(actor_slot);
        if change {
            actor.changes += 1;
        } else {
            actor.reads += 1;
        }
        if failed {
            actor.failures += 1;
        }
        if actor.shift != shift || actor.in_shift == 0 {
            actor.shift = shift;
            actor.in_shift = 0;
        }
        actor.in_shift += 1;
        actor.most_in_shift = actor.most_in_shift.max(actor.in_shift);
        let Some(resource_slot) = resource_slot else {
            return;
        };
        actor.resources.insert(resource_slot);
        let fresh = self.resources.value(resource_slot);
        let resource = fresh;
        if resource.reads + resource.changes == 0 {
            resource.first_actor = actor_slot;
        }
        if change {
            resource.changes += 1;
        } else {
            resource.reads += 1;
        }
        if actor_slot != resource.first_actor {
            let first = resource.first_actor;
            resource
                .actors
                .get_or_insert_with(|| Box::new(HashSet::from_iter([first])))
                .insert(actor_slot);
        }
    }

    /// Adds one line of a log: for an access report, read from the line's
    /// leading fields without parsing the rest; for the other kinds (and a
    /// line not laid out as the writer lays it out), parsed in full.
    ///
    /// # Errors
    ///
    /// [`RecordParseError`] when the line is not a record.
    ///
    /// # Examples
    ///
    /// ```
    /// use audit_layer::{IntegrityStatement, ReportBuilder, ReportKind, ReportOptions};
    /// let mut builder = ReportBuilder::new(ReportOptions::new(ReportKind::Access));
    /// assert!(builder.add_line(b"not a record", None).is_err());
    /// ```
    pub fn add_line(&mut self, line: &[u8], problem: Option<&str>) -> Result<(), RecordParseError> {
        if self.options.kind == ReportKind::Access
            && let Some(fields) = leading_fields(line)
        {
            let in_period = !(self.options.since.is_some_and(|since| fields.time < since)
                || self.options.until.is_some_and(|until| fields.time >= until));
            if !in_period {
                return Ok(());
            }
            self.considered += 1;
            if problem.is_some() {
                self.not_vouched += 1;
            }
            *self
                .hours
                .entry(fields.time.unix_seconds().div_euclid(3600))
                .or_default() += 1;
            if fields.kind == RecordKind::Event {
                let change = fields.has_state || is_changing_action(&fields.action);
                self.count_access(
                    fields.actor.as_deref(),
                    fields.resource.as_deref(),
                    change,
                    fields.outcome != "success",
                    fields.time,
                );
            }
            return Ok(());
        }
        let record = AuditRecord::from_line(line)?;
        self.add(&record, problem);
        Ok(())
    }

    /// The report, with `integrity` stated first.
    ///
    /// # Examples
    ///
    /// See [`ReportBuilder`].
    pub fn finish(self, integrity: IntegrityStatement) -> ComplianceReport {
        let outlier = self.options.outlier_per_shift;
        let mut actors: Vec<ActorAccess> = self
            .actors
            .into_entries()
            .map(|(actor, stats)| ActorAccess {
                actor,
                reads: stats.reads,
                changes: stats.changes,
                failures: stats.failures,
                resources: stats.resources.len() as u64,
                most_in_one_shift: stats.most_in_shift,
                outlier: stats.most_in_shift > outlier,
            })
            .collect();
        actors.sort_by(|a, b| {
            (b.outlier, b.reads + b.changes, &a.actor).cmp(&(
                a.outlier,
                a.reads + a.changes,
                &b.actor,
            ))
        });
        let resources_total = self.resources.len() as u64;
        let mut resources: Vec<ResourceAccess> = self
            .resources
            .into_entries()
            .map(|(resource, stats)| ResourceAccess {
                resource,
                reads: stats.reads,
                changes: stats.changes,
                actors: stats.actors.as_ref().map_or(1, |set| set.len() as u64),
            })
            .collect();
        resources.sort_by(|a, b| {
            (b.reads + b.changes, &a.resource).cmp(&(a.reads + a.changes, &b.resource))
        });
        resources.truncate(MAX_RESOURCES);
        ComplianceReport {
            kind: self.options.kind,
            title: match (&self.options.kind, &self.options.resource) {
                (ReportKind::Document, Some(resource)) => format!("Document trail: {resource}"),
                (kind, _) => kind.title().to_owned(),
            },
            generated_at: Timestamp::now(),
            since: self.options.since,
            until: self.options.until,
            resource: self.options.resource.clone(),
            integrity,
            records_considered: self.considered,
            records_not_vouched_for: self.not_vouched,
            activity: activity(&self.hours),
            actors,
            resources,
            resources_total,
            outlier_per_shift: outlier,
            shift_hours: self.options.shift.as_secs_f64() / 3600.0,
            rows: self.rows,
            rows_unlisted: self.rows_unlisted,
            changes_with_ticket: self.changes_with_ticket,
            changes_total: self.changes_total,
            exceptions: self.exceptions,
            ticket_key: self.options.ticket_key.clone(),
            trail_access: self.trail_access,
        }
    }
}

/// Hourly counts, merged into days when the period is longer than three
/// days (a chart of at most a few dozen bars).
fn activity(hours: &BTreeMap<i64, u64>) -> Vec<ActivityBucket> {
    let (Some(first), Some(last)) = (hours.keys().next(), hours.keys().next_back()) else {
        return Vec::new();
    };
    let width = if last - first > 72 { 24 } else { 1 };
    let mut merged: BTreeMap<i64, u64> = BTreeMap::new();
    for (hour, count) in hours {
        *merged.entry(hour.div_euclid(width) * width).or_default() += count;
    }
    merged
        .into_iter()
        .map(|(hour, records)| ActivityBucket {
            start: Timestamp::from_unix_nanos(hour.saturating_mul(3_600_000_000_000)),
            records,
        })
        .collect()
}
