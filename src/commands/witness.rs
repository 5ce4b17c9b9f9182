//! `audit witness`: a C2SP tlog-witness on HTTP, cosigning the checkpoints
//! of the logs it is given keys for, only when they are consistent with
//! what it cosigned before.

use std::net::TcpListener;
use std::path::PathBuf;

use audit_layer::{SignerKey, Witness};

use super::stop_signal::{STOP, stop_on_signals};

/// Arguments of `audit witness`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Where to listen (plain HTTP; put a TLS proxy in front to expose it).
    #[arg(long, default_value = "127.0.0.1:7380")]
    listen: String,
    /// The witness's private key (from `audit keygen NAME --witness`).
    #[arg(long)]
    key: PathBuf,
    /// The directory where it keeps the last checkpoint it cosigned per log.
    #[arg(long)]
    state: PathBuf,
    /// The checkpoint key of a log to witness (text or file; its name is the
    /// log's origin); repeat for several logs.
    #[arg(long = "log-key", required = true)]
    log_key: Vec<String>,
    /// A path prefix before /add-checkpoint.
    #[arg(long, default_value = "")]
    prefix: String,
}

pub(crate) fn run(args: &Args) -> Result<bool, Box<dyn std::error::Error>> {
    stop_on_signals();
    let key_text = std::fs::read_to_string(&args.key)
        .map_err(|e| format!("--key {}: {e}", args.key.display()))?;
    let key = SignerKey::parse(&key_text)
        .map_err(|e| format!("--key {}: not a private key: {e}", args.key.display()))?;
    let logs = args
        .log_key
        .iter()
        .map(|k| super::verify::load_key(k))
        .collect::<Result<Vec<_>, _>>()?;
    let witness = Witness::new(key, logs, &args.state)
        .map_err(|e| format!("--state {}: {e}", args.state.display()))?;
    let listener =
        TcpListener::bind(&args.listen).map_err(|e| format!("--listen {}: {e}", args.listen))?;
    let address = listener.local_addr()?;
    println!(
        "witness listening on http://{address}{}/add-checkpoint\ncosigner key: {}",
        args.prefix,
        witness.verifier()
    );
    use std::io::Write as _;
    std::io::stdout().flush()?;
    witness.serve(listener, &args.prefix, &STOP)?;
    eprintln!("audit: witness stopped");
    Ok(true)
}
