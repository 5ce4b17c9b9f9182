//! `audit keygen NAME`: a key pair for signing checkpoints; `audit keygen
//! --seal`: a key pair for forward-secure seals; `audit keygen --pseudonym`:
//! a key for pseudonyms.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use audit_layer::{DEFAULT_EPOCH, PseudonymKey, SealingKey, SignerKey};

/// Arguments of `audit keygen`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The key's name: a schema-less URL naming the log, such as example.com/audit/billing.
    #[arg(required_unless_present_any = ["seal", "pseudonym"])]
    name: Option<String>,
    /// Writes PREFIX.key (private, mode 0600) and PREFIX.pub; with --seal,
    /// PREFIX.sealing and PREFIX.seal-verify (both secret, mode 0600); with
    /// --pseudonym, PREFIX.pseudonym (secret, mode 0600).
    #[arg(long, default_value = "audit-key")]
    out: PathBuf,
    /// Make a forward-secure seal key pair instead of a checkpoint key.
    #[arg(long, conflicts_with = "name")]
    seal: bool,
    /// Make a witness's key pair: PREFIX.key (private) and PREFIX.pub, its
    /// cosigner public key (C2SP tlog-cosignature) for `audit verify --witness`.
    #[arg(long, conflicts_with_all = ["seal", "pseudonym"])]
    witness: bool,
    /// Make a key for pseudonyms (Privacy::pseudonym_key, `audit pseudonym`).
    #[arg(long, conflicts_with_all = ["name", "seal"])]
    pseudonym: bool,
    /// How long each seal epoch lasts (with --seal), e.g. 15m, 1h.
    #[arg(long, requires = "seal", value_parser = humantime::parse_duration)]
    epoch: Option<Duration>,
}

/// Creates `path` with mode 0600, refusing to replace a key already there.
fn create_secret(path: &Path, text: &str) -> Result<(), Box<dyn std::error::Error>> {
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| format!("cannot create {}: {e}", path.display()))?;
    file.write_all(text.as_bytes())?;
    file.sync_all()?;
    Ok(())
}

pub(crate) fn run(args: &Args) -> Result<bool, Box<dyn std::error::Error>> {
    if args.seal {
        return seal_keys(args);
    }
    if args.pseudonym {
        let path = args.out.with_extension("pseudonym");
        PseudonymKey::generate()?
            .save(&path)
            .map_err(|e| format!("cannot create {}: {e}", path.display()))?;
        println!(
            "pseudonym key: {} (for the writer: PseudonymKey::load; for investigators: audit pseudonym --key)",
            path.display()
        );
        return Ok(true);
    }
    let name = args.name.as_deref().unwrap_or_default();
    let key = SignerKey::generate(name)?;
    let private = args.out.with_extension("key");
    let public = args.out.with_extension("pub");
    create_secret(&private, &format!("{key}\n"))?;
    let public_text = match args.witness {
        true => audit_layer::CosignerKey::new(key.clone())
            .verifier()
            .to_string(),
        false => key.verifier().to_string(),
    };
    std::fs::write(&public, format!("{public_text}\n"))?;
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

fn seal_keys(args: &Args) -> Result<bool, Box<dyn std::error::Error>> {
    let epoch = args.epoch.unwrap_or(DEFAULT_EPOCH);
    let (sealing, verifying) = SealingKey::generate(epoch)?;
    let sealing_path = args.out.with_extension("sealing");
    let verifying_path = args.out.with_extension("seal-verify");
    create_secret(&verifying_path, &verifying.to_string())?;
    if let Err(error) = create_secret(&sealing_path, &sealing.to_string()) {
        // One half of a pair is no use: leave nothing behind.
        let _ = std::fs::remove_file(&verifying_path);
        return Err(error);
    }
    println!(
        "sealing key:   {} (for the writer: ForwardSeals::open; it evolves every {})",
        sealing_path.display(),
        humantime::format_duration(epoch)
    );
    println!(
        "verifying key: {} (secret too: move it off this machine, give it to whoever verifies)",
        verifying_path.display()
    );
    Ok(true)
}
