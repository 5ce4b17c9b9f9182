//! Opening a log for a query: verify it, then read the records that match.

use std::path::{Path, PathBuf};

use audit_layer::{AuditRecord, LogReader, RecordFilter, Report, Timestamp, Verifier};

/// Where the log is, for commands that query it.
#[derive(Debug, clap::Args)]
pub(crate) struct LogArgs {
    /// The log directory (or one segment file).
    #[arg(long, env = "AUDIT_LOG", default_value = "audit-log")]
    log: PathBuf,
    /// Skip checking the chain before showing records.
    #[arg(long)]
    no_verify: bool,
}

/// The records selected, and what verification said about the log.
pub(crate) struct Selection {
    pub(crate) records: Vec<AuditRecord>,
    pub(crate) verification: Option<Report>,
    pub(crate) unreadable: Vec<String>,
}

impl Selection {
    /// Whether the records come from a log that checks out.
    pub(crate) fn trustworthy(&self) -> bool {
        self.unreadable.is_empty() && self.verification.as_ref().is_none_or(Report::is_intact)
    }

    /// One line saying whether to trust what follows.
    pub(crate) fn verdict(&self) -> String {
        match &self.verification {
            None => "log not verified (--no-verify)".into(),
            Some(report) if report.is_intact() => "log verified: intact".into(),
            Some(report) => format!(
                "WARNING: the log has {} finding(s); run `audit verify` — these records may not be trustworthy",
                report.findings.len()
            ),
        }
    }
}

pub(crate) fn select(
    args: &LogArgs,
    filter: &RecordFilter,
) -> Result<Selection, Box<dyn std::error::Error>> {
    let verification = if args.no_verify {
        None
    } else {
        Some(Verifier::new().verify_path(&args.log)?)
    };
    let mut records = Vec::new();
    let mut unreadable = Vec::new();
    for record in LogReader::open(&args.log).map_err(|e| with_path(&args.log, e))? {
        match record {
            Ok(record) if filter.matches(&record) => records.push(record),
            Ok(_) => {}
            Err(error) => unreadable.push(error.to_string()),
        }
    }
    Ok(Selection {
        records,
        verification,
        unreadable,
    })
}

fn with_path(path: &Path, error: std::io::Error) -> String {
    format!("cannot read {}: {error}", path.display())
}

/// Parses `--since`/`--until`: an RFC 3339 time (`2026-11-23T09:00:00Z`), a
/// UTC date and time (`2026-11-23 09:00`), or an age (`2h`, `3days`).
pub(crate) fn parse_time(text: &str) -> Result<Timestamp, String> {
    if let Ok(time) = text.parse::<Timestamp>() {
        return Ok(time);
    }
    if let Ok(time) = humantime::parse_rfc3339_weak(text) {
        return Timestamp::from_system_time(time).map_err(|e| e.to_string());
    }
    if let Ok(age) = humantime::parse_duration(text) {
        let time = std::time::SystemTime::now()
            .checked_sub(age)
            .ok_or_else(|| format!("{text} ago is before 1970"))?;
        return Timestamp::from_system_time(time).map_err(|e| e.to_string());
    }
    Err(format!(
        "`{text}` is not a time: use 2026-11-23T09:00:00Z, \"2026-11-23 09:00:00\" or an age like 2h"
    ))
}
