//! `audit timeline RESOURCE`: who did what to one resource, in order, with
//! what changed each time.

use std::io::{self, Write};

use audit_layer::{RecordFilter, Timeline};

use super::selection::{LogArgs, select};

/// Arguments of `audit timeline`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The resource, as the records name it (`post:42`).
    resource: String,
    #[command(flatten)]
    log: LogArgs,
    /// Print the records as a JSON array.
    #[arg(long)]
    json: bool,
}

pub(crate) fn run(args: &Args) -> Result<bool, Box<dyn std::error::Error>> {
    let selection = select(&args.log, &RecordFilter::new().resource(&args.resource))?;
    let mut out = io::stdout().lock();
    if args.json {
        serde_json::to_writer_pretty(&mut out, &selection.records)?;
        writeln!(out)?;
    } else {
        write!(out, "{}", Timeline::new(&args.resource, &selection.records))?;
        writeln!(out, "\n({})", selection.check.verdict())?;
    }
    Ok(selection.check.warn_unless_trustworthy())
}
