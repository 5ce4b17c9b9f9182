//! `audit timeline RESOURCE`: who did what to one resource, in order, with
//! what changed each time; streamed.

use std::io::{self, Write};

use audit_layer::{RecordFilter, TimelineWriter};

use super::selection::{ReadArgs, for_each_selected};

/// Arguments of `audit timeline`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The resource, as the records name it (`post:42`).
    resource: String,
    #[command(flatten)]
    read: ReadArgs,
    /// Print the records as a JSON array.
    #[arg(long)]
    json: bool,
}

pub(crate) fn run(args: &Args) -> Result<bool, Box<dyn std::error::Error>> {
    let resource = args.resource.as_str();
    let filter = RecordFilter::new().resource(resource);
    let mut out = io::BufWriter::new(io::stdout().lock());
    let check = if args.json {
        let mut shown = 0u64;
        write!(out, "[")?;
        let check = for_each_selected(&args.read, &filter, (None, Some(resource)), |selected| {
            write!(out, "{}\n  ", if shown == 0 { "" } else { "," })?;
            serde_json::to_writer(&mut out, &super::show::with_verdict(&selected))?;
            shown += 1;
            Ok(())
        })?;
        writeln!(out, "{}]", if shown == 0 { "" } else { "\n" })?;
        check
    } else {
        let mut timeline = TimelineWriter::new(resource);
        let check = for_each_selected(&args.read, &filter, (None, Some(resource)), |selected| {
            if let Some(problem) = &selected.problem {
                writeln!(
                    out,
                    "\nUNVERIFIED ({problem}): the verifier does not vouch for this record"
                )?;
            }
            timeline.entry(&mut out, &selected.record)?;
            out.flush()
        })?;
        timeline.finish(&mut out)?;
        writeln!(out, "\n({})", check.verdict())?;
        check
    };
    out.flush()?;
    Ok(check.warn_unless_trustworthy())
}
