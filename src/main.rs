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
}

/// Exit status for a log that is intact.
const INTACT: u8 = 0;
/// Exit status when the command ran and found problems.
const FINDINGS: u8 = 1;
/// Exit status for usage and I/O errors (clap uses 2 for usage errors too).
const FAILED: u8 = 2;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Verify(args) => commands::verify::run(&args),
    };
    match result {
        Ok(true) => ExitCode::from(INTACT),
        Ok(false) => ExitCode::from(FINDINGS),
        Err(error) => {
            eprintln!("audit: {error}");
            ExitCode::from(FAILED)
        }
    }
}
