//! `audit ship --log DIR --db URL`: copy a live file log into the store.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;

use audit_layer::{ShipOptions, ShipProgress, Shipper, TerminalSafe};

use super::stop_signal::{STOP, stop_on_signals};

/// Arguments of `audit ship`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The log directory to follow.
    #[arg(long, env = "AUDIT_LOG", value_name = "DIR")]
    log: PathBuf,
    /// The store, as a member of audit_writer.
    #[arg(long, env = "AUDIT_DB", value_name = "URL")]
    db: String,
    /// The stream to ship into (by default service@host/ID from the log's
    /// first record).
    #[arg(long)]
    stream: Option<String>,
    /// Ship what the log holds now, then stop (by default: follow it until
    /// SIGTERM or SIGINT).
    #[arg(long)]
    once: bool,
    /// Records per transaction.
    #[arg(long, default_value_t = 10_000)]
    batch: usize,
    /// Print counters as JSON lines on stdout (as it goes, and once at the end).
    #[arg(long)]
    json: bool,
}

fn counters(progress: &ShipProgress, done: bool) -> serde_json::Value {
    let mut value = serde_json::to_value(progress).unwrap_or_default();
    if let Some(object) = value.as_object_mut() {
        object.insert("done".into(), done.into());
    }
    value
}

pub(crate) fn run(args: &Args) -> Result<bool, Box<dyn std::error::Error>> {
    stop_on_signals();
    let mut options = ShipOptions::new(&args.log);
    options.stream = args.stream.clone();
    options.follow = !args.once;
    options.batch_records = args.batch;
    let mut shipper = Shipper::new(&args.db, options)?;
    let terminal = std::io::stderr().is_terminal();
    eprintln!(
        "audit: shipping {} into stream {}",
        args.log.display(),
        TerminalSafe(shipper.stream())
    );
    let json = args.json;
    let result = shipper.run(&STOP, |progress| {
        if json {
            let mut out = std::io::stdout().lock();
            let _ = writeln!(out, "{}", counters(progress, false));
            let _ = out.flush();
        }
        if terminal {
            let state = match (&progress.waiting_for_store, &progress.last_error) {
                (true, Some(error)) => {
                    format!("store unreachable, retrying ({})", TerminalSafe(error))
                }
                _ => "shipping".into(),
            };
            eprint!(
                "\r\x1b[2K{state}: {} record(s) in {} batch(es), stored through seq {}",
                progress.shipped,
                progress.batches,
                progress
                    .stored_through
                    .map_or("-".into(), |seq| seq.to_string())
            );
        }
    });
    if terminal {
        eprintln!();
    }
    let progress = result?;
    if json {
        println!("{}", counters(&progress, true));
    }
    eprintln!(
        "audit: shipped {} record(s) in {} batch(es); stream {} is stored through seq {}",
        progress.shipped,
        progress.batches,
        TerminalSafe(&progress.stream),
        progress
            .stored_through
            .map_or("- (empty)".into(), |seq| seq.to_string())
    );
    Ok(true)
}
