//! `audit bundle`: the records a selection names, each with its inclusion
//! proof into a signed checkpoint, in one file; `audit verify-bundle`
//! checks such a file with no access to the log.

use std::io::Write;
use std::path::PathBuf;

use audit_layer::{EvidenceBundle, TerminalSafe};

use super::selection::FilterArgs;

/// Arguments of `audit bundle`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    #[command(flatten)]
    log: super::selection::LogArgs,
    /// The signed checkpoint to prove into (kept outside the log); it needs --key.
    #[arg(long, value_name = "FILE")]
    checkpoint: PathBuf,
    /// A trusted public key, or a file holding one; repeat for several.
    #[arg(long, required = true)]
    key: Vec<String>,
    #[command(flatten)]
    filter: FilterArgs,
    /// Instead of a filter: the one record with this seq.
    #[arg(long, value_name = "SEQ", conflicts_with_all = ["from_seq", "to_seq"])]
    seq: Option<u64>,
    /// Instead of a filter: every record from this seq (with --to-seq); the
    /// bundle then proves the range complete.
    #[arg(long, value_name = "SEQ", requires = "to_seq")]
    from_seq: Option<u64>,
    /// The last seq of the range.
    #[arg(long, value_name = "SEQ", requires = "from_seq")]
    to_seq: Option<u64>,
    /// Where to write the bundle (mode 0600); standard output by default.
    #[arg(long)]
    out: Option<PathBuf>,
}

/// Arguments of `audit verify-bundle`.
#[derive(Debug, clap::Args)]
pub(crate) struct CheckArgs {
    /// The bundle file.
    bundle: PathBuf,
    /// A trusted public key of the log, or a file holding one; repeat for several.
    #[arg(long, required = true)]
    key: Vec<String>,
    /// A witness's cosigner key (text or file); repeat for several.
    #[arg(long)]
    witness: Vec<String>,
    /// How many of the --witness keys must have cosigned (all of them by default).
    #[arg(long, requires = "witness")]
    quorum: Option<usize>,
    /// Print the records as JSON lines after the verdict.
    #[arg(long)]
    json: bool,
}

fn keys(given: &[String]) -> Result<Vec<audit_layer::VerifierKey>, Box<dyn std::error::Error>> {
    given.iter().map(|k| super::verify::load_key(k)).collect()
}

pub(crate) fn run(args: &Args) -> Result<bool, Box<dyn std::error::Error>> {
    let log = args.log.path()?;
    let note = std::fs::read_to_string(&args.checkpoint)
        .map_err(|e| format!("--checkpoint {}: {e}", args.checkpoint.display()))?;
    let range = args
        .seq
        .map(|seq| (seq, seq))
        .or(args.from_seq.zip(args.to_seq));
    let bundle = EvidenceBundle::build(
        &log,
        &args.filter.filter()?,
        range,
        &note,
        &keys(&args.key)?,
    )?;
    let json = bundle.to_json();
    match &args.out {
        Some(path) => {
            let mut options = std::fs::OpenOptions::new();
            options.write(true).create_new(true);
            std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
            let mut file = options.open(path).map_err(|e| {
                format!(
                    "--out {}: {e} (a bundle is never overwritten)",
                    path.display()
                )
            })?;
            file.write_all(json.as_bytes())?;
            file.write_all(b"\n")?;
            file.sync_all()?;
        }
        None => println!("{json}"),
    }
    eprintln!(
        "audit: {} record(s) ({}) proved into the checkpoint of {}",
        bundle.records.len(),
        TerminalSafe(&bundle.selection),
        TerminalSafe(&args.checkpoint.display().to_string())
    );
    Ok(true)
}

pub(crate) fn check(args: &CheckArgs) -> Result<bool, Box<dyn std::error::Error>> {
    let text = std::fs::read_to_string(&args.bundle)
        .map_err(|e| format!("{}: {e}", args.bundle.display()))?;
    let witnesses = args
        .witness
        .iter()
        .map(|given| super::verify::load_witness_key(given))
        .collect::<Result<Vec<_>, _>>()?;
    let quorum = args.quorum.unwrap_or(witnesses.len());
    let checked = match EvidenceBundle::check(&text, &keys(&args.key)?, &witnesses, quorum) {
        Ok(checked) => checked,
        Err(error) => {
            println!("NOT VERIFIED: {}", TerminalSafe(&error.to_string()));
            return Ok(false);
        }
    };
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "verified: {} record(s), each proved into the tree of {} records signed by {}{}",
        checked.records.len(),
        checked.checkpoint.size,
        TerminalSafe(&checked.signed_by),
        if checked.cosigned_by.is_empty() {
            String::new()
        } else {
            format!(
                " and cosigned by {}",
                TerminalSafe(&checked.cosigned_by.join(", "))
            )
        }
    )?;
    writeln!(out, "{}", TerminalSafe(&checked.completeness))?;
    if args.json {
        for record in &checked.records {
            serde_json::to_writer(&mut out, record)?;
            writeln!(out)?;
        }
    }
    Ok(true)
}
