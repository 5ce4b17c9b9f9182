//! Records rendered for people: one line each, aligned.

use std::io::{self, Write};

use audit_layer::{AuditRecord, Outcome};

/// `2026-11-23 09:02:11.203`: readable at a glance, milliseconds kept.
pub(crate) fn short_time(record: &AuditRecord) -> String {
    let full = record.time.to_string();
    format!("{} {}", &full[..10], &full[11..23])
}

pub(crate) fn outcome(outcome: &Outcome) -> String {
    match outcome {
        Outcome::Success => "success".into(),
        Outcome::Failure { kind, reason } => format!("failure ({kind}): {reason}"),
        Outcome::Unknown { reason } => format!("unknown: {reason}"),
        _ => outcome.to_string(),
    }
}

const MAX_CELL: usize = 48;

fn cell(text: &str) -> String {
    if text.chars().count() <= MAX_CELL {
        text.to_owned()
    } else {
        let cut: String = text.chars().take(MAX_CELL - 1).collect();
        format!("{cut}…")
    }
}

/// A table: SEQ, TIME, ACTOR, ACTION, RESOURCE, OUTCOME.
pub(crate) fn print(out: &mut impl Write, records: &[AuditRecord]) -> io::Result<()> {
    let rows: Vec<[String; 6]> = records
        .iter()
        .map(|r| {
            [
                r.seq.to_string(),
                short_time(r),
                cell(r.actor.as_deref().unwrap_or("(none)")),
                cell(&r.action),
                cell(r.resource.as_deref().unwrap_or("-")),
                cell(&outcome(&r.outcome)),
            ]
        })
        .collect();
    let header = [
        "SEQ",
        "TIME (UTC)",
        "ACTOR",
        "ACTION",
        "RESOURCE",
        "OUTCOME",
    ]
    .map(String::from);
    let mut widths = header.clone().map(|h| h.chars().count());
    for row in &rows {
        for (width, text) in widths.iter_mut().zip(row) {
            *width = (*width).max(text.chars().count());
        }
    }
    for row in std::iter::once(&header).chain(&rows) {
        let line: Vec<String> = row
            .iter()
            .zip(widths)
            .enumerate()
            .map(|(column, (text, width))| {
                if column + 1 == row.len() {
                    text.clone()
                } else {
                    format!("{text:<width$}")
                }
            })
            .collect();
        writeln!(out, "{}", line.join("  "))?;
    }
    Ok(())
}
