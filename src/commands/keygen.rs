//! `audit keygen NAME`: a key pair for signing checkpoints.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::PathBuf;

use audit_layer::SignerKey;

/// Arguments of `audit keygen`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The key's name: a schema-less URL naming the log, such as example.com/audit/billing.
    name: String,
    /// Writes PREFIX.key (private, mode 0600) and PREFIX.pub.
    #[arg(long, default_value = "audit-key")]
    out: PathBuf,
}

pub(crate) fn run(args: &Args) -> Result<bool, Box<dyn std::error::Error>> {
    let key = SignerKey::generate(&args.name)?;
    let private = args.out.with_extension("key");
    let public = args.out.with_extension("pub");
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&private)
        .map_err(|e| format!("cannot create {}: {e}", private.display()))?;
    writeln!(file, "{key}")?;
    file.sync_all()?;
    std::fs::write(&public, format!("{}\n", key.verifier()))?;
    println!(
        "private key: {} (keep it away from the log it signs for)",
        private.display()
    );
    println!(
        "public key:  {} (give it to whoever verifies)",
        public.display()
    );
    Ok(true)
}
