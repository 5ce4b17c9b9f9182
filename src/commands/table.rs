//! Records rendered for people: one line each, aligned, every value
//! escaped for the terminal.

use std::io::{self, Write};

use audit_layer::{AuditRecord, Outcome, terminal_safe};

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

/// A value as a cell: escaped first, so the width counts what is shown.
fn cell(text: &str) -> String {
    let shown = terminal_safe(text);
    if shown.chars().count() <= MAX_CELL {
        shown.into_owned()
    } else {
        let cut: String = shown.chars().take(MAX_CELL - 1).collect();
        format!("{cut}…")
    }
}

const HEADER: [&str; 7] = [
    "",
    "SEQ",
    "TIME (UTC)",
    "ACTOR",
    "ACTION",
    "RESOURCE",
    "OUTCOME",
];

/// Rows held back to size the columns before the first is printed; after
/// them, rows are printed as they come (a longer value widens only its row).
const SIZING_ROWS: usize = 100;

/// A table that streams: SEQ, TIME, ACTOR, ACTION, RESOURCE, OUTCOME, with
/// `UNVERIFIED (code)` before a row the verifier did not vouch for.
pub(crate) struct TableWriter<W: Write> {
    out: W,
    pending: Vec<[String; 7]>,
    widths: Option<[usize; 7]>,
    pub(crate) rows: u64,
}

impl<W: Write> TableWriter<W> {
    pub(crate) fn new(out: W) -> Self {
        TableWriter {
            out,
            pending: Vec::new(),
            widths: None,
            rows: 0,
        }
    }

    pub(crate) fn row(&mut self, record: &AuditRecord, problem: Option<&str>) -> io::Result<()> {
        let row = [
            problem.map_or_else(String::new, |p| format!("UNVERIFIED ({p})")),
            record.seq.to_string(),
            short_time(record),
            cell(record.actor.as_deref().unwrap_or("(none)")),
            cell(&record.action),
            cell(record.resource.as_deref().unwrap_or("-")),
            cell(&outcome(&record.outcome)),
        ];
        self.rows += 1;
        match self.widths {
            Some(widths) => write_row(&mut self.out, &row, widths),
            None => {
                self.pending.push(row);
                if self.pending.len() >= SIZING_ROWS {
                    self.flush_pending()?;
                }
                Ok(())
            }
        }
    }

    fn flush_pending(&mut self) -> io::Result<()> {
        let header = HEADER.map(String::from);
        let mut widths = header.clone().map(|h| h.chars().count());
        for row in &self.pending {
            for (width, text) in widths.iter_mut().zip(row) {
                *width = (*width).max(text.chars().count());
            }
        }
        write_row(&mut self.out, &header, widths)?;
        for row in std::mem::take(&mut self.pending) {
            write_row(&mut self.out, &row, widths)?;
        }
        self.widths = Some(widths);
        Ok(())
    }

    /// Prints what is held back; returns the writer.
    pub(crate) fn finish(mut self) -> io::Result<W> {
        if self.widths.is_none() {
            self.flush_pending()?;
        }
        Ok(self.out)
    }
}

fn write_row(out: &mut impl Write, row: &[String; 7], widths: [usize; 7]) -> io::Result<()> {
    let mut line = String::new();
    for (column, (text, width)) in row.iter().zip(widths).enumerate() {
        if width == 0 {
            continue;
        }
        if !line.is_empty() {
            line.push_str("  ");
        }
        if column + 1 == row.len() {
            line.push_str(text);
        } else {
            line.push_str(&format!("{text:<width$}"));
        }
    }
    writeln!(out, "{}", line.trim_end())
}
