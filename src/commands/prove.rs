//! `audit prove`: an inclusion proof of a record, or a consistency proof
//! between two sizes of the log's Merkle tree, for tools that check them
//! without our code (hashes in standard base64, as tlog clients write them).

use std::io::Write;
use std::path::PathBuf;

use audit_layer::chain::Hash;
use audit_layer::merkle::{verify_consistency, verify_inclusion};
use audit_layer::{Checkpoint, LogTree};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

/// Arguments of `audit prove`.
#[derive(Debug, clap::Args)]
#[command(group(clap::ArgGroup::new("what").required(true).args(["seq", "from"])))]
pub(crate) struct Args {
    #[command(flatten)]
    log: super::selection::LogArgs,
    /// Prove that the record with this seq is in the log.
    #[arg(long, value_name = "N", conflicts_with_all = ["from", "to"])]
    seq: Option<u64>,
    /// Prove that the tree of this many records is a prefix of a larger one (--to, a --checkpoint, or the log now).
    #[arg(long, value_name = "SIZE1")]
    from: Option<u64>,
    /// The larger tree size of a consistency proof (the log's size by default with --from).
    #[arg(long, value_name = "SIZE2")]
    to: Option<u64>,
    /// Prove into the tree this signed checkpoint names (it needs --key);
    /// by default, into the log as it is now.
    #[arg(long, value_name = "FILE")]
    checkpoint: Option<PathBuf>,
    /// A trusted public key, or a file holding one; repeat for several.
    #[arg(long)]
    key: Vec<String>,
    /// Print one JSON object.
    #[arg(long)]
    json: bool,
}

fn b64(hash: &Hash) -> String {
    STANDARD.encode(hash.as_bytes())
}

fn b64_all(hashes: &[Hash]) -> Vec<String> {
    hashes.iter().map(b64).collect()
}

pub(crate) fn run(args: &Args) -> Result<bool, Box<dyn std::error::Error>> {
    let log = args.log.path()?;
    let tree = LogTree::open(&log).map_err(|e| format!("cannot read {}: {e}", log.display()))?;
    // The signed tree to prove into, if one was given: the log's tree at
    // its size must have its root.
    let signed = match &args.checkpoint {
        Some(path) => {
            if args.key.is_empty() {
                return Err("--checkpoint needs --key: the public key(s) that sign it".into());
            }
            let keys = args
                .key
                .iter()
                .map(|k| super::verify::load_key(k))
                .collect::<Result<Vec<_>, _>>()?;
            let note = std::fs::read_to_string(path)
                .map_err(|e| format!("--checkpoint {}: {e}", path.display()))?;
            let (checkpoint, _) = Checkpoint::open(&note, &keys)
                .map_err(|e| format!("--checkpoint {}: {e}", path.display()))?;
            let root = checkpoint.root.ok_or(
                "the checkpoint is of the first kind (chain head only): it names no tree root to prove into",
            )?;
            let ours = tree.root_at(checkpoint.size).map_err(|e| {
                format!(
                    "the log cannot show its tree at the checkpoint's size {}: {e}",
                    checkpoint.size
                )
            })?;
            if ours != root {
                eprintln!(
                    "audit: the log's tree at size {} has root {ours}, not the root {root} the checkpoint signs: the log is not the one that was signed",
                    checkpoint.size
                );
                return Ok(false);
            }
            Some((checkpoint.size, note))
        }
        None => None,
    };
    let mut out = std::io::stdout().lock();
    if let Some(index) = args.seq {
        let size = signed.as_ref().map_or(tree.size(), |(size, _)| *size);
        let root = tree.root_at(size)?;
        let leaf = tree.leaf(index)?;
        let proof = tree.inclusion_proof(index, size)?;
        // Never hand out a proof that does not check.
        verify_inclusion(&leaf, index, size, &proof, &root)?;
        let line = audit_layer::stored_line(&log, index)?
            .ok_or_else(|| format!("the log holds no record {index}"))?;
        // The proof is of the record's hash; the record must still have it.
        if let Err(problem) = audit_layer::chain::check_line(&line) {
            eprintln!(
                "audit: record {index} is {problem}: no proof is given for it; run `audit verify`"
            );
            return Ok(false);
        }
        let record = Some(String::from_utf8_lossy(&line).into_owned());
        if args.json {
            let value = serde_json::json!({
                "index": index,
                "size": size,
                "root": b64(&root),
                "leaf": b64(&leaf),
                "proof": b64_all(&proof),
                "checkpoint": signed.as_ref().map(|(_, note)| note.as_str()),
                "record": record,
            });
            writeln!(out, "{value}")?;
        } else {
            writeln!(
                out,
                "record {index} is leaf {index} of the tree of {size} records"
            )?;
            writeln!(out, "root  {}", b64(&root))?;
            writeln!(
                out,
                "leaf  {}  (SHA-256 of 0x00 and the record's hash)",
                b64(&leaf)
            )?;
            for (n, hash) in proof.iter().enumerate() {
                writeln!(out, "proof[{n}] {}", b64(hash))?;
            }
        }
    } else if let Some(old_size) = args.from {
        let new_size = match (&signed, args.to) {
            (Some((size, _)), _) => *size,
            (None, Some(to)) => to,
            (None, None) => tree.size(),
        };
        let (old_root, new_root) = (tree.root_at(old_size)?, tree.root_at(new_size)?);
        let proof = tree.consistency_proof(old_size, new_size)?;
        verify_consistency(old_size, new_size, &old_root, &new_root, &proof)?;
        if args.json {
            let value = serde_json::json!({
                "old_size": old_size,
                "new_size": new_size,
                "old_root": b64(&old_root),
                "new_root": b64(&new_root),
                "proof": b64_all(&proof),
            });
            writeln!(out, "{value}")?;
        } else {
            writeln!(
                out,
                "the tree of {new_size} records extends the tree of {old_size}"
            )?;
            writeln!(out, "old root {}", b64(&old_root))?;
            writeln!(out, "new root {}", b64(&new_root))?;
            for (n, hash) in proof.iter().enumerate() {
                writeln!(out, "proof[{n}] {}", b64(hash))?;
            }
        }
    }
    Ok(true)
}
