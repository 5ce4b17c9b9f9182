//! `audit checkpoint LOG --key KEY`: signs the current head of a log (or,
//! with `--db URL --stream S`, of a stream of the store).

use std::path::PathBuf;

use audit_layer::{Checkpoint, CheckpointDir, CheckpointSink, SignerKey, Verifier};

/// Arguments of `audit checkpoint`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    #[command(flatten)]
    log: super::selection::LogArgs,
    #[command(flatten)]
    db: super::selection::DbArgs,
    /// With --db: also publish the checkpoint to the store (audit.checkpoints),
    /// where `audit streams` shows it; needs the writer role besides the
    /// reader role that signing needs.
    #[arg(long, requires = "db")]
    publish: bool,
    /// The private key file (from `audit keygen`).
    #[arg(long)]
    key: PathBuf,
    /// The origin line (the key's name by default).
    #[arg(long)]
    origin: Option<String>,
    /// Write the checkpoint here (mode 0600) instead of to stdout; an
    /// existing file is never replaced.
    #[arg(long)]
    out: Option<PathBuf>,
}

pub(crate) fn run(args: &Args) -> Result<bool, Box<dyn std::error::Error>> {
    let key_text = std::fs::read_to_string(&args.key).map_err(|e| {
        format!(
            "--key {}: cannot read the key file: {e}",
            args.key.display()
        )
    })?;
    let key = SignerKey::parse(&key_text)
        .map_err(|e| format!("--key {}: not a private key: {e}", args.key.display()))?;
    if let Some(path) = &args.out
        && std::fs::symlink_metadata(path).is_ok()
    {
        return Err(format!(
            "{} already exists: a checkpoint is never overwritten; choose another name",
            path.display()
        )
        .into());
    }
    // A signature vouches for the log: never sign one that does not verify.
    let mut store = args.db.connect()?;
    let report = match (&mut store, &args.db.stream) {
        (Some(store), Some(stream)) => Verifier::new()
            .trust(key.verifier())
            .verify_stream(store, stream)?,
        (Some(_), None) => return Err("--db needs --stream: a checkpoint signs one stream".into()),
        (None, _) => Verifier::new()
            .trust(key.verifier())
            .verify_path(args.log.path()?)?,
    };
    if !report.is_intact() {
        for finding in &report.findings {
            eprintln!("{finding}");
        }
        return Err("the log does not verify; refusing to sign its head".into());
    }
    let checkpoint = Checkpoint {
        origin: args.origin.clone().unwrap_or_else(|| key.name().to_owned()),
        size: report.last_seq.map_or(0, |last| last + 1),
        head: report.head.unwrap_or(audit_layer::chain::GENESIS),
        // The tree's root when the log runs from seq 0; a log cut by
        // retention gets a checkpoint of the first kind (its head alone).
        root: report.tree_root,
    };
    let note = checkpoint.sign(&key);
    if let (true, Some(store), Some(stream)) = (args.publish, &mut store, &args.db.stream) {
        store.publish_checkpoint(stream, checkpoint.size, &note)?;
    }
    match &args.out {
        Some(path) => {
            // Owner-only and synced, as the writer stores its own.
            let name = path
                .file_name()
                .ok_or("--out names a file")?
                .to_string_lossy();
            let dir = path
                .parent()
                .filter(|p| !p.as_os_str().is_empty())
                .unwrap_or(std::path::Path::new("."));
            CheckpointDir::new(dir).publish(&name, &note)?;
            eprintln!(
                "checkpoint of {} records written to {}",
                checkpoint.size,
                path.display()
            );
        }
        None => print!("{note}"),
    }
    Ok(true)
}
