//! A resource's history as people read it: who did what, in order, from
//! where, with what changed each time.

use std::fmt;

use serde_json::Value;

use crate::record::terminal_text::{TerminalSafe, terminal_safe};
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
    let text = terminal_safe(&value.to_string()).into_owned();
    if text.chars().count() > 60 {
        format!("{}…", text.chars().take(59).collect::<String>())
    } else {
        text
    }
}

impl fmt::Display for Timeline<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (Some(first), Some(last)) = (self.records.first(), self.records.last()) else {
            return writeln!(f, "No records about {}", TerminalSafe(self.resource));
        };
        writeln!(
            f,
            "Timeline of {}: {} event(s), seq {}..{}",
            TerminalSafe(self.resource),
            self.records.len(),
            first.seq,
            last.seq
        )?;
        let widths = (
            self.records
                .iter()
                .map(|r| actor(r).chars().count())
                .max()
                .unwrap_or(0),
            self.records
                .iter()
                .map(|r| action(r).chars().count())
                .max()
                .unwrap_or(0),
        );
        for record in self.records {
            write_entry(f, record, widths)?;
        }
        Ok(())
    }
}

/// The actor as shown: escaped for the terminal.
fn actor(record: &AuditRecord) -> std::borrow::Cow<'_, str> {
    terminal_safe(record.actor.as_deref().unwrap_or("(none)"))
}

fn action(record: &AuditRecord) -> std::borrow::Cow<'_, str> {
    terminal_safe(&record.action)
}

/// One entry of a timeline: the record's line, where it came from, and what
/// it changed; every value escaped for the terminal.
fn write_entry(
    f: &mut impl fmt::Write,
    record: &AuditRecord,
    (actor_width, action_width): (usize, usize),
) -> fmt::Result {
    writeln!(f)?;
    writeln!(
        f,
        "{}  {:<actor_width$}  {:<action_width$}  {}",
        short_time(record),
        actor(record),
        action(record),
        TerminalSafe(&outcome(&record.outcome))
    )?;
    let origin = origin(record);
    writeln!(
        f,
        "    seq {}{}{}",
        record.seq,
        if origin.is_empty() { "" } else { ", " },
        TerminalSafe(&origin)
    )?;
    match (&record.changes, &record.before, &record.after) {
        (Some(changes), _, _) => {
            for change in changes {
                let path = if change.path.is_empty() {
                    "(whole)"
                } else {
                    &change.path
                };
                let path = TerminalSafe(path);
                match (&change.old, &change.new) {
                    (Some(old), Some(new)) => {
                        writeln!(f, "    {path}: {} → {}", brief(old), brief(new))?
                    }
                    (None, Some(new)) => writeln!(f, "    {path}: added {}", brief(new))?,
                    (Some(old), None) => writeln!(f, "    {path}: removed (was {})", brief(old))?,
                    (None, None) => {}
                }
            }
        }
        (None, Some(before), None) => writeln!(f, "    before: {}", brief(before))?,
        (None, None, Some(after)) => writeln!(f, "    after: {}", brief(after))?,
        _ => {}
    }
    Ok(())
}

/// A timeline written entry by entry as records arrive, for logs too large
/// to hold: the same text as [`Timeline`], with a closing count instead of
/// an opening one.
///
/// # Examples
///
/// ```
/// use audit_layer::{AuditEvent, AuditWriter, MemorySink, TimelineWriter};
///
/// let (sink, log) = MemorySink::new();
/// let (audit, guard) = AuditWriter::builder().spawn(sink)?;
/// audit.submit(AuditEvent::builder("post.edit").actor("bob\r\x1b[2Kalice").resource("post:42").build())?;
/// guard.shutdown(std::time::Duration::from_secs(5))?;
///
/// let mut out = Vec::new();
/// let mut timeline = TimelineWriter::new("post:42");
/// for record in log.records()? {
///     timeline.entry(&mut out, &record)?;
/// }
/// timeline.finish(&mut out)?;
/// let text = String::from_utf8(out)?;
/// assert!(text.contains(r"bob\r\u{1b}[2Kalice"));
/// assert!(text.contains("1 event(s), seq 0..0"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct TimelineWriter<'a> {
    resource: &'a str,
    entries: u64,
    seqs: Option<(u64, u64)>,
}

impl<'a> TimelineWriter<'a> {
    /// A timeline of `resource`, written as entries are handed over.
    ///
    /// # Examples
    ///
    /// See [`TimelineWriter`].
    pub fn new(resource: &'a str) -> Self {
        TimelineWriter {
            resource,
            entries: 0,
            seqs: None,
        }
    }

    /// Writes one record's entry (the title first, before the first entry).
    ///
    /// # Errors
    ///
    /// Any error of `out`.
    ///
    /// # Examples
    ///
    /// See [`TimelineWriter`].
    pub fn entry(
        &mut self,
        out: &mut impl std::io::Write,
        record: &AuditRecord,
    ) -> std::io::Result<()> {
        if self.entries == 0 {
            writeln!(out, "Timeline of {}", TerminalSafe(self.resource))?;
        }
        self.entries += 1;
        self.seqs = Some(
            self.seqs
                .map_or((record.seq, record.seq), |(first, _)| (first, record.seq)),
        );
        let mut text = String::new();
        write_entry(&mut text, record, (ENTRY_ACTOR_WIDTH, ENTRY_ACTION_WIDTH))
            .map_err(std::io::Error::other)?;
        out.write_all(text.as_bytes())
    }

    /// Writes the closing line: how many events, which seqs.
    ///
    /// # Errors
    ///
    /// Any error of `out`.
    ///
    /// # Examples
    ///
    /// See [`TimelineWriter`].
    pub fn finish(self, out: &mut impl std::io::Write) -> std::io::Result<()> {
        match self.seqs {
            None => writeln!(out, "No records about {}", TerminalSafe(self.resource)),
            Some((first, last)) => writeln!(
                out,
                "\n{}: {} event(s), seq {first}..{last}",
                TerminalSafe(self.resource),
                self.entries
            ),
        }
    }
}

/// Column widths of a streamed timeline, which cannot see every row first.
const ENTRY_ACTOR_WIDTH: usize = 12;
const ENTRY_ACTION_WIDTH: usize = 16;
