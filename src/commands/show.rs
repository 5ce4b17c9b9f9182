//! `audit show`: the records that match, as a table or JSON.

use std::io::Write;

use audit_layer::RecordFilter;

use super::selection::{LogArgs, parse_time, select};
use super::table;

/// Arguments of `audit show`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    #[command(flatten)]
    log: LogArgs,
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
    /// Leave out audit-layer's own records (repairs, outages).
    #[arg(long)]
    no_system: bool,
    /// Print the records as a JSON array.
    #[arg(long)]
    json: bool,
}

pub(crate) fn filter_of(args: &Args) -> RecordFilter {
    let mut filter = RecordFilter::new();
    if let Some(actor) = &args.actor {
        filter = filter.actor(actor);
    }
    if let Some(action) = &args.action {
        filter = filter.action(action);
    }
    if let Some(resource) = &args.resource {
        filter = filter.resource(resource);
    }
    if let Some(outcome) = &args.outcome {
        filter = filter.outcome(outcome);
    }
    if let Some(since) = args.since {
        filter = filter.since(since);
    }
    if let Some(until) = args.until {
        filter = filter.until(until);
    }
    if args.no_system {
        filter = filter.application_only();
    }
    filter
}

pub(crate) fn run(args: &Args) -> Result<bool, Box<dyn std::error::Error>> {
    let selection = select(&args.log, &filter_of(args))?;
    let mut out = std::io::stdout().lock();
    if args.json {
        serde_json::to_writer_pretty(&mut out, &selection.records)?;
        writeln!(out)?;
    } else {
        table::print(&mut out, &selection.records)?;
        writeln!(
            out,
            "{} record(s); {}",
            selection.records.len(),
            selection.verdict()
        )?;
    }
    for error in &selection.unreadable {
        eprintln!("audit: unreadable line {error}");
    }
    if !selection.trustworthy() {
        eprintln!("audit: {}", selection.verdict());
    }
    Ok(selection.trustworthy())
}
