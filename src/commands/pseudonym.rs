//! `audit pseudonym --key FILE VALUE...`: the pseudonyms a log holds for
//! these values, to look a person up in a pseudonymised trail.

use std::path::PathBuf;

use audit_layer::PseudonymKey;

/// Arguments of `audit pseudonym`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The pseudonym key the writer used (PREFIX.pseudonym from `audit keygen --pseudonym`).
    #[arg(long)]
    key: PathBuf,
    /// The values (an actor, an email address...), one pseudonym printed per line.
    #[arg(required = true)]
    values: Vec<String>,
}

pub(crate) fn run(args: &Args) -> Result<bool, Box<dyn std::error::Error>> {
    let key = PseudonymKey::load(&args.key)
        .map_err(|e| format!("cannot read {}: {e}", args.key.display()))?;
    for value in &args.values {
        println!("{}", key.pseudonym(value));
    }
    Ok(true)
}
