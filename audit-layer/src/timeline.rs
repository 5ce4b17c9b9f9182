//! A resource's history as people read it: who did what, in order, from
//! where, with what changed each time.

use std::fmt;

use serde_json::Value;

use crate::{AuditRecord, Outcome};

/// Renders the records about one resource as a readable timeline.
///
/// # Examples
///
/// ```
/// use audit_layer::{AuditEvent, AuditWriter, MemorySink, RecordFilter, Timeline};
/// use serde_json::json;
///
/// let (sink, log) = MemorySink::new();
/// let (audit, guard) = AuditWriter::builder().spawn(sink)?;
/// audit.submit(AuditEvent::builder("post.edit").actor("bob").resource("post:42")
///     .before(json!({"title": "Draft"})).after(json!({"title": "Final"})).build())?;
/// guard.shutdown(std::time::Duration::from_secs(5))?;
///
/// let filter = RecordFilter::new().resource("post:42");
/// let records: Vec<_> = log.records()?.into_iter().filter(|r| filter.matches(r)).collect();
/// let text = Timeline::new("post:42", &records).to_string();
/// assert!(text.contains("bob"));
/// assert!(text.contains(r#"/title: "Draft" → "Final""#));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy)]
pub struct Timeline<'a> {
    resource: &'a str,
    records: &'a [AuditRecord],
}

impl<'a> Timeline<'a> {
    /// The timeline of `resource`, made of `records` (already selected, in order).
    ///
    /// # Examples
    ///
    /// See [`Timeline`].
    pub fn new(resource: &'a str, records: &'a [AuditRecord]) -> Self {
        Timeline { resource, records }
    }
}

/// `2026-11-23 09:02:11.203`: readable at a glance, milliseconds kept.
fn short_time(record: &AuditRecord) -> String {
    let full = record.time.to_string();
    format!("{} {}", &full[..10], &full[11..23])
}

fn outcome(outcome: &Outcome) -> String {
    match outcome {
        Outcome::Failure { kind, reason } => format!("failure ({kind}): {reason}"),
        other => other.to_string(),
    }
}

fn origin(record: &AuditRecord) -> String {
    [
        ("source_ip", "from "),
        ("request_id", "request "),
        ("session", "session "),
    ]
    .iter()
    .filter_map(|(key, label)| record.context.get(*key).map(|v| format!("{label}{v}")))
    .collect::<Vec<_>>()
    .join(", ")
}

/// Compact JSON, cut short when long.
fn brief(value: &Value) -> String {
    let text = value.to_string();
    if text.chars().count() > 60 {
        format!("{}…", text.chars().take(59).collect::<String>())
    } else {
        text
    }
}

impl fmt::Display for Timeline<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (Some(first), Some(last)) = (self.records.first(), self.records.last()) else {
            return writeln!(f, "No records about {}", self.resource);
        };
        writeln!(
            f,
            "Timeline of {}: {} event(s), seq {}..{}",
            self.resource,
            self.records.len(),
            first.seq,
            last.seq
        )?;
        fn actor(record: &AuditRecord) -> &str {
            record.actor.as_deref().unwrap_or("(none)")
        }
        let actor_width = self
            .records
            .iter()
            .map(|r| actor(r).chars().count())
            .max()
            .unwrap_or(0);
        let action_width = self
            .records
            .iter()
            .map(|r| r.action.chars().count())
            .max()
            .unwrap_or(0);
        for record in self.records {
            writeln!(f)?;
            writeln!(
                f,
                "{}  {:<actor_width$}  {:<action_width$}  {}",
                short_time(record),
                actor(record),
                record.action,
                outcome(&record.outcome)
            )?;
            let origin = origin(record);
            writeln!(
                f,
                "    seq {}{}{}",
                record.seq,
                if origin.is_empty() { "" } else { ", " },
                origin
            )?;
            match (&record.changes, &record.before, &record.after) {
                (Some(changes), _, _) => {
                    for change in changes {
                        let path = if change.path.is_empty() {
                            "(whole)"
                        } else {
                            &change.path
                        };
                        match (&change.old, &change.new) {
                            (Some(old), Some(new)) => {
                                writeln!(f, "    {path}: {} → {}", brief(old), brief(new))?
                            }
                            (None, Some(new)) => writeln!(f, "    {path}: added {}", brief(new))?,
                            (Some(old), None) => {
                                writeln!(f, "    {path}: removed (was {})", brief(old))?
                            }
                            (None, None) => {}
                        }
                    }
                }
                (None, Some(before), None) => writeln!(f, "    before: {}", brief(before))?,
                (None, None, Some(after)) => writeln!(f, "    after: {}", brief(after))?,
                _ => {}
            }
        }
        Ok(())
    }
}
