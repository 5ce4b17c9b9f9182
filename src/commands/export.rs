//! `audit export`: the records that match, in a SIEM's format, one a line.

use std::fs::{File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use audit_layer::ExportFormat;

use super::selection::{FilterArgs, ReadArgs, for_each_selected};

/// Arguments of `audit export`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The format: ecs (Elastic Common Schema JSON), cadf (DMTF CADF JSON) or cef (ArcSight CEF).
    #[arg(long, default_value = "ecs")]
    format: ExportFormat,
    /// Write to this file (created readable by its owner only) instead of standard output.
    #[arg(long)]
    out: Option<PathBuf>,
    #[command(flatten)]
    read: ReadArgs,
    #[command(flatten)]
    filter: FilterArgs,
}

pub(crate) fn run(args: &Args) -> Result<bool, Box<dyn std::error::Error>> {
    let filter = args.filter.filter()?;
    let (mut out, path): (Box<dyn Write>, _) = match &args.out {
        Some(path) => (Box::new(owner_only(path)?), Some(path)),
        None => (Box::new(io::stdout().lock()), None),
    };
    let mut out = BufWriter::new(&mut out);
    let mut exported = 0u64;
    let mut withheld = 0u64;
    let mut seqs: Option<(u64, u64)> = None;
    let raw = (args.filter.actor(), args.filter.resource());
    let verifying = !args.read.no_verify();
    let check = for_each_selected(&args.read, &filter, raw, |selected| {
        // A SIEM keeps what it is given: only what the verifier vouched for goes.
        if verifying && selected.problem.is_some() {
            withheld += 1;
            return Ok(());
        }
        let record = selected.record;
        exported += 1;
        seqs = Some(seqs.map_or((record.seq, record.seq), |(first, _)| (first, record.seq)));
        args.format.write(&mut out, &record)
    })?;
    out.flush()?;
    // The last seq is what the next run's --after-seq takes.
    let range = seqs.map_or(String::new(), |(first, last)| {
        format!(", seq {first}..{last}")
    });
    let destination = path.map_or("standard output".into(), |p| p.display().to_string());
    eprintln!(
        "exported {exported} record(s){range} to {}; {}",
        audit_layer::TerminalSafe(&destination),
        check.verdict()
    );
    if withheld > 0 {
        eprintln!(
            "audit: {withheld} matching record(s) were not exported: the verifier does not vouch for them (see `audit verify`)"
        );
    }
    if let Some(message) = super::selection::cursor_beyond_head(&check, args.filter.after_seq()) {
        eprintln!("audit: {message}");
        return Ok(false);
    }
    Ok(check.warn_unless_trustworthy() && withheld == 0)
}

/// Creates (or truncates) `path` with mode 0600: an export is audit data.
fn owner_only(path: &Path) -> Result<File, String> {
    let mut options = OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options
        .open(path)
        .map_err(|e| format!("cannot create {}: {e}", path.display()))
}
