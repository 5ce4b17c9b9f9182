//! `audit`: verify, query and export audit-layer logs.
//!
//! Exit status: 0 when the log is intact, 1 when findings were reported,
//! 2 for usage and I/O errors.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod commands;

/// Verify, query and export audit-layer logs.
#[derive(Debug, Parser)]
#[command(name = "audit", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Check every hash, link and seq of a log; report every problem found.
    Verify(commands::verify::Args),
    /// List the records that match filters (actor, action, resource, outcome, time).
    Show(commands::show::Args),
    /// Who did what to one resource, in order, with what changed each time.
    Timeline(commands::timeline::Args),
    /// The records that match filters, for a SIEM: ECS or CADF JSON Lines, or CEF.
    Export(commands::export::Args),
    /// Make a key pair for signing checkpoints.
    Keygen(commands::keygen::Args),
    /// Sign the current head of a log that verifies (a checkpoint).
    Checkpoint(commands::checkpoint::Args),
    /// The pseudonyms of values, to look a person up in a pseudonymised log.
    Pseudonym(commands::pseudonym::Args),
    /// A Merkle proof: a record is in the log (--seq), or a smaller tree is a prefix of a larger (--from, --to).
    Prove(commands::prove::Args),
    /// An evidence bundle: the records a selection names, each proved into a signed checkpoint.
    Bundle(commands::bundle::Args),
    /// Check an evidence bundle offline, with no access to the log.
    VerifyBundle(commands::bundle::CheckArgs),
    /// A transparency-log witness (C2SP tlog-witness): cosigns consistent checkpoints over HTTP.
    Witness(commands::witness::Args),
    /// The PostgreSQL store: install it (`db init`), retire old records (`db retire`).
    Db(commands::db::Args),
    /// Copy a live file log into the PostgreSQL store, verifying as it goes.
    Ship(commands::ship::Args),
    /// The streams of the PostgreSQL store: size, head, times, checkpoint, verdict.
    Streams(commands::streams::Args),
    /// Detection rules and integrity alerts on a live trail (or its history, --replay).
    Watch(commands::watch::Args),
    /// A compliance report (access, changes, privileged, document) as HTML and JSON, signed on request.
    Report(commands::report::Args),
    /// Check a report's detached signature.
    VerifyReport(commands::report::CheckArgs),
}

/// Exit status for a log that is intact.
const INTACT: u8 = 0;
/// Exit status when the command ran and found problems.
const FINDINGS: u8 = 1;
/// Exit status for usage and I/O errors (clap uses 2 for usage errors too).
const FAILED: u8 = 2;

fn is_broken_pipe(error: &(dyn std::error::Error + 'static)) -> bool {
    let mut current = Some(error);
    while let Some(error) = current {
        if let Some(io) = error.downcast_ref::<std::io::Error>()
            && io.kind() == std::io::ErrorKind::BrokenPipe
        {
            return true;
        }
        if let Some(json) = error.downcast_ref::<serde_json::Error>()
            && json.io_error_kind() == Some(std::io::ErrorKind::BrokenPipe)
        {
            return true;
        }
        current = error.source();
    }
    false
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Verify(args) => commands::verify::run(&args),
        Command::Show(args) => commands::show::run(&args),
        Command::Timeline(args) => commands::timeline::run(&args),
        Command::Export(args) => commands::export::run(&args),
        Command::Keygen(args) => commands::keygen::run(&args),
        Command::Checkpoint(args) => commands::checkpoint::run(&args),
        Command::Pseudonym(args) => commands::pseudonym::run(&args),
        Command::Db(args) => commands::db::run(&args),
        Command::Prove(args) => commands::prove::run(&args),
        Command::Witness(args) => commands::witness::run(&args),
        Command::Bundle(args) => commands::bundle::run(&args),
        Command::VerifyBundle(args) => commands::bundle::check(&args),
        Command::Ship(args) => commands::ship::run(&args),
        Command::Streams(args) => commands::streams::run(&args),
        Command::Watch(args) => commands::watch::run(&args),
        Command::Report(args) => commands::report::run(&args),
        Command::VerifyReport(args) => commands::report::check(&args),
    };
    match result {
        Ok(true) => ExitCode::from(INTACT),
        Ok(false) => ExitCode::from(FINDINGS),
        // A reader that stopped early (`audit show | head`) is not an error.
        Err(error) if is_broken_pipe(error.as_ref()) => ExitCode::from(INTACT),
        Err(error) => {
            // Errors quote what they were given (paths, rule files, rows):
            // shown line by line, each escaped.
            let text = error.to_string();
            let shown: Vec<_> = text.lines().map(audit_layer::terminal_safe).collect();
            eprintln!("audit: {}", shown.join("\n"));
            ExitCode::from(FAILED)
        }
    }
}
