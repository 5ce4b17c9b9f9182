//! `audit db`: installing the PostgreSQL store, and retention on it.

use std::path::PathBuf;

use audit_layer::{Anchor, PgStore, SignerKey};

/// Arguments of `audit db`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    #[command(subcommand)]
    command: DbCommand,
}

#[derive(Debug, clap::Subcommand)]
enum DbCommand {
    /// Install (or check) the schema, roles, triggers and functions; as an
    /// administrator. Running it again changes nothing, and it refuses to
    /// continue over an install that grants more than it would.
    Init(InitArgs),
    /// Retention: sign an anchor and delete a stream's records before it,
    /// through the store's one narrow path (as the owner role).
    Retire(RetireArgs),
}

#[derive(Debug, clap::Args)]
struct InitArgs {
    /// The store (postgresql://ADMIN@HOST:PORT/DB).
    #[arg(long, env = "AUDIT_DB", value_name = "URL")]
    db: String,
}

#[derive(Debug, clap::Args)]
struct RetireArgs {
    /// The store, as a member of audit_owner.
    #[arg(long, env = "AUDIT_DB", value_name = "URL")]
    db: String,
    /// The stream.
    #[arg(long)]
    stream: String,
    /// Delete the records before this seq; it becomes the stream's first.
    #[arg(long, value_name = "SEQ")]
    before_seq: u64,
    /// The private key that signs the anchor (from `audit keygen`).
    #[arg(long)]
    key: PathBuf,
}

pub(crate) fn run(args: &Args) -> Result<bool, Box<dyn std::error::Error>> {
    match &args.command {
        DbCommand::Init(init) => {
            let mut store = PgStore::connect(&init.db)?;
            store.init()?;
            println!("the audit schema is installed, and no role holds more than it grants");
            Ok(true)
        }
        DbCommand::Retire(retire) => run_retire(retire),
    }
}

fn run_retire(args: &RetireArgs) -> Result<bool, Box<dyn std::error::Error>> {
    let key_text = std::fs::read_to_string(&args.key).map_err(|e| {
        format!(
            "--key {}: cannot read the key file: {e}",
            args.key.display()
        )
    })?;
    let key = SignerKey::parse(&key_text)
        .map_err(|e| format!("--key {}: not a private key: {e}", args.key.display()))?;
    if args.before_seq == 0 {
        return Err("--before-seq 0 retires nothing".into());
    }
    let mut store = PgStore::connect(&args.db)?;
    // Only a stream that verifies up to the anchor may be cut there.
    let report = audit_layer::Verifier::new()
        .trust(key.verifier())
        .verify_stream(&mut store, &args.stream)?;
    if report.shows_tampering() {
        for finding in &report.findings {
            eprintln!("{finding}");
        }
        return Err("the stream does not verify; refusing to sign an anchor in it".into());
    }
    let prev = store
        .hash_at(&args.stream, args.before_seq - 1)?
        .ok_or_else(|| {
            format!(
                "stream {} holds no record at seq {}",
                args.stream,
                args.before_seq - 1
            )
        })?;
    let anchor = Anchor {
        origin: key.name().to_owned(),
        first_seq: args.before_seq,
        prev,
        // The store keeps no tree: an anchor of the first kind.
        root: None,
    };
    let deleted = store.retire(&args.stream, &anchor, &anchor.sign(&key))?;
    println!(
        "retired {deleted} record(s) of {} before seq {}; the signed anchor is stored with the stream",
        audit_layer::TerminalSafe(&args.stream),
        args.before_seq
    );
    Ok(true)
}
