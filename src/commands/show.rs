//! `audit show`: the records that match, as a table or JSON, streamed.

use std::io::Write;

use super::selection::{FilterArgs, ReadArgs, Selected, for_each_selected};
use super::table::TableWriter;

/// Arguments of `audit show`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    #[command(flatten)]
    read: ReadArgs,
    #[command(flatten)]
    filter: FilterArgs,
    /// Print the records as a JSON array (each with `verified` and, when
    /// false, `problem`).
    #[arg(long)]
    json: bool,
}

pub(crate) fn run(args: &Args) -> Result<bool, Box<dyn std::error::Error>> {
    let filter = args.filter.filter()?;
    let raw = (args.filter.actor(), args.filter.resource());
    let stdout = std::io::stdout().lock();
    let (check, shown) = if args.json {
        let mut out = std::io::BufWriter::new(stdout);
        let mut shown = 0u64;
        write!(out, "[")?;
        let check = for_each_selected(&args.read, &filter, raw, |selected| {
            write!(out, "{}\n  ", if shown == 0 { "" } else { "," })?;
            serde_json::to_writer(&mut out, &with_verdict(&selected))?;
            shown += 1;
            Ok(())
        })?;
        writeln!(out, "{}]", if shown == 0 { "" } else { "\n" })?;
        out.flush()?;
        (check, shown)
    } else {
        let mut table = TableWriter::new(std::io::LineWriter::new(stdout));
        let check = for_each_selected(&args.read, &filter, raw, |selected| {
            table.row(&selected.record, selected.problem.as_deref())
        })?;
        let shown = table.rows;
        let mut out = table.finish()?;
        writeln!(out, "{shown} record(s); {}", check.verdict())?;
        (check, shown)
    };
    let _ = shown;
    if let Some(message) = super::selection::cursor_beyond_head(&check, args.filter.after_seq()) {
        eprintln!("audit: {message}");
        return Ok(false);
    }
    Ok(check.warn_unless_trustworthy())
}

/// The record as JSON, with whether the verifier vouched for it.
pub(crate) fn with_verdict(selected: &Selected) -> serde_json::Value {
    let mut value = serde_json::to_value(&selected.record).unwrap_or_default();
    if let Some(object) = value.as_object_mut() {
        object.insert("verified".into(), selected.problem.is_none().into());
        if let Some(problem) = &selected.problem {
            object.insert("problem".into(), problem.clone().into());
        }
    }
    value
}
