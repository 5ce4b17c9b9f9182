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

/// Which records a query keeps (`audit show`, `audit export`).
#[derive(Debug, clap::Args)]
pub(crate) struct FilterArgs {
    /// Only records by this actor.
    #[arg(long)]
    actor: Option<String>,
    /// Only this action; a trailing `*` matches any suffix (`post.*`).
    #[arg(long)]
    action: Option<String>,
    /// Only records on this resource.
    #[arg(long)]
    resource: Option<String>,
    /// Only this outcome: success, failure, unknown, or a failure kind (denied, panicked...).
    #[arg(long)]
    outcome: Option<String>,
    /// Only records at or after this time (RFC 3339, "2026-11-23 09:00", or an age like 2h).
    #[arg(long, value_parser = parse_time)]
    since: Option<audit_layer::Timestamp>,
    /// Only records before this time.
    #[arg(long, value_parser = parse_time)]
    until: Option<audit_layer::Timestamp>,
    /// Only records after this seq (the last seq of an earlier export).
    #[arg(long, value_name = "SEQ")]
    after_seq: Option<u64>,
    /// Leave out audit-layer's own records (repairs, outages).
    #[arg(long)]
    no_system: bool,
}

impl FilterArgs {
    /// The filter these flags describe.
    pub(crate) fn filter(&self) -> RecordFilter {
        let mut filter = RecordFilter::new();
        if let Some(actor) = &self.actor {
            filter = filter.actor(actor);
        }
        if let Some(action) = &self.action {
            filter = filter.action(action);
        }
        if let Some(resource) = &self.resource {
            filter = filter.resource(resource);
        }
        if let Some(outcome) = &self.outcome {
            filter = filter.outcome(outcome);
        }
        if let Some(since) = self.since {
            filter = filter.since(since);
        }
        if let Some(until) = self.until {
            filter = filter.until(until);
        }
        if let Some(seq) = self.after_seq {
            filter = filter.after_seq(seq);
        }
        if self.no_system {
            filter = filter.application_only();
        }
        filter
    }
}

/// The records selected, and whether the log they come from checks out.
pub(crate) struct Selection {
    pub(crate) records: Vec<AuditRecord>,
    pub(crate) check: LogCheck,
}

/// What verification said about the log, and the lines it could not read.
pub(crate) struct LogCheck {
    pub(crate) verification: Option<Report>,
    pub(crate) unreadable: Vec<String>,
}

impl LogCheck {
    /// Says on stderr which lines could not be read.
    pub(crate) fn report_unreadable(&self) {
        for error in &self.unreadable {
            eprintln!("audit: unreadable line {error}");
        }
    }

    /// Warns on stderr when the log does not check out; returns whether it
    /// does, the command's verdict.
    pub(crate) fn warn_unless_trustworthy(&self) -> bool {
        let trustworthy = self.trustworthy();
        if !trustworthy {
            eprintln!("audit: {}", self.verdict());
        }
        trustworthy
    }

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
    let mut records = Vec::new();
    let check = for_each_selected(args, filter, |record| {
        records.push(record);
        Ok(())
    })?;
    Ok(Selection { records, check })
}

/// Verifies the log (unless `--no-verify`), then hands each record that
/// matches to `each`, in chain order, without holding them all.
pub(crate) fn for_each_selected(
    args: &LogArgs,
    filter: &RecordFilter,
    mut each: impl FnMut(AuditRecord) -> std::io::Result<()>,
) -> Result<LogCheck, Box<dyn std::error::Error>> {
    let verification = if args.no_verify {
        None
    } else {
        Some(Verifier::new().verify_path(&args.log)?)
    };
    let mut unreadable = Vec::new();
    for record in LogReader::open(&args.log).map_err(|e| with_path(&args.log, e))? {
        match record {
            Ok(record) if filter.matches(&record) => each(record)?,
            Ok(_) => {}
            Err(error) => unreadable.push(error.to_string()),
        }
    }
    Ok(LogCheck {
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
