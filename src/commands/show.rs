//! `audit show`: the records that match, as a table or JSON.

use std::io::Write;

use super::selection::{FilterArgs, LogArgs, select};
use super::table;

/// Arguments of `audit show`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    #[command(flatten)]
    log: LogArgs,
    #[command(flatten)]
    filter: FilterArgs,
    /// Print the records as a JSON array.
    #[arg(long)]
    json: bool,
}

pub(crate) fn run(args: &Args) -> Result<bool, Box<dyn std::error::Error>> {
    let selection = select(&args.log, &args.filter.filter())?;
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
            selection.check.verdict()
        )?;
    }
    selection.check.report_unreadable();
    Ok(selection.check.warn_unless_trustworthy())
}
