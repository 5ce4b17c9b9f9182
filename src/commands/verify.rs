//! `audit verify PATH`.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;

use audit_layer::{Report, SealVerifyingKey, Verifier, VerifierKey};
use indicatif::{ProgressBar, ProgressStyle};

/// Arguments of `audit verify`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// A log directory (segment-*.jsonl files) or a single segment file.
    path: PathBuf,
    /// Print the report as JSON on stdout.
    #[arg(long)]
    json: bool,
    /// A signed checkpoint kept outside the log, or a directory of them
    /// (checkpoint-*.note); repeat for several. Needs --key.
    #[arg(long)]
    checkpoint: Vec<PathBuf>,
    /// A trusted public key, or a file holding one (from `audit keygen`);
    /// repeat for several (key rotation).
    #[arg(long)]
    key: Vec<String>,
    /// The seal verifying key (PREFIX.seal-verify from `audit keygen --seal`):
    /// checks the log's forward-secure seals.
    #[arg(long)]
    seal_key: Option<PathBuf>,
    /// The seals file; by default seals.jsonl in the log directory. Needs --seal-key.
    #[arg(long, requires = "seal_key")]
    seals: Option<PathBuf>,
}

/// The file name seals go to, beside the segments, unless told otherwise.
pub(crate) const SEALS_FILE: &str = "seals.jsonl";

/// A key given as text, or as the path of a file holding it.
fn load_key(given: &str) -> Result<VerifierKey, Box<dyn std::error::Error>> {
    let text = match std::fs::read_to_string(given) {
        Ok(text) => text,
        Err(_) => given.to_owned(),
    };
    Ok(VerifierKey::parse(&text).map_err(|e| format!("--key {given}: {e}"))?)
}

/// Checkpoint notes from files, or from `checkpoint-*.note` in directories.
fn load_checkpoints(
    paths: &[PathBuf],
) -> Result<Vec<(PathBuf, String)>, Box<dyn std::error::Error>> {
    let mut notes = Vec::new();
    for path in paths {
        if path.is_dir() {
            let mut files: Vec<PathBuf> = std::fs::read_dir(path)?
                .filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| {
                    p.file_name()
                        .is_some_and(|n| n.to_string_lossy().starts_with("checkpoint-"))
                })
                .collect();
            files.sort();
            for file in files {
                notes.push((file.clone(), std::fs::read_to_string(&file)?));
            }
        } else {
            let note = std::fs::read_to_string(path)
                .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
            notes.push((path.clone(), note));
        }
    }
    Ok(notes)
}

/// Logs smaller than this verify too fast for a progress bar to help.
const PROGRESS_THRESHOLD: u64 = 64 * 1024 * 1024;

pub(crate) fn run(args: &Args) -> Result<bool, Box<dyn std::error::Error>> {
    let bar = std::io::stderr().is_terminal().then(|| {
        let bar = ProgressBar::hidden();
        bar.set_style(
            ProgressStyle::with_template(
                "verifying {bar:40} {binary_bytes}/{binary_total_bytes} ({binary_bytes_per_sec})",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        bar
    });
    let mut verifier = Verifier::new();
    for key in &args.key {
        verifier = verifier.trust(load_key(key)?);
    }
    let checkpoints_given = !args.checkpoint.is_empty();
    for (path, note) in load_checkpoints(&args.checkpoint)? {
        verifier = verifier.checkpoint(path, note);
    }
    if let Some(key_path) = &args.seal_key {
        let key = SealVerifyingKey::load(key_path)
            .map_err(|e| format!("--seal-key {}: {e}", key_path.display()))?;
        let seals_path = match &args.seals {
            Some(path) => path.clone(),
            None if args.path.is_dir() => args.path.join(SEALS_FILE),
            None => return Err("--seal-key on a single segment needs --seals FILE".into()),
        };
        let text = match std::fs::read_to_string(&seals_path) {
            Ok(text) => text,
            // No seals at all is a finding (epoch 0 has no seal), not a usage error.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
            Err(e) => return Err(format!("cannot read {}: {e}", seals_path.display()).into()),
        };
        verifier = verifier.seals(key, seals_path, text);
    }
    let report = verifier
        .on_progress(|done, total| {
            if let Some(bar) = &bar {
                if total >= PROGRESS_THRESHOLD && bar.is_hidden() {
                    bar.set_draw_target(indicatif::ProgressDrawTarget::stderr());
                    bar.set_length(total);
                }
                bar.set_position(done);
            }
        })
        .verify_path(&args.path)?;
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    let mut out = std::io::stdout().lock();
    if args.json {
        serde_json::to_writer_pretty(&mut out, &JsonReport::of(&report))?;
        writeln!(out)?;
    } else {
        print_human(&mut out, &report, checkpoints_given)?;
    }
    Ok(report.is_intact())
}

#[derive(serde::Serialize)]
struct JsonReport<'a> {
    intact: bool,
    tampering: bool,
    summary: String,
    #[serde(flatten)]
    report: &'a Report,
}

impl<'a> JsonReport<'a> {
    fn of(report: &'a Report) -> Self {
        JsonReport {
            intact: report.is_intact(),
            tampering: report.shows_tampering(),
            summary: report.summary(),
            report,
        }
    }
}

fn print_human(
    out: &mut impl Write,
    report: &Report,
    checkpoints_given: bool,
) -> std::io::Result<()> {
    for finding in &report.findings {
        writeln!(out, "{finding}")?;
    }
    writeln!(out, "{}", report.summary())?;
    if let Some(anchor) = &report.anchor {
        match &anchor.signed_by {
            Some(key) => writeln!(
                out,
                "starts at seq {} after retention (anchor signed by {key})",
                anchor.first_seq
            )?,
            None => writeln!(
                out,
                "starts at seq {} after retention (anchor not checked: give --key)",
                anchor.first_seq
            )?,
        }
    }
    if checkpoints_given {
        match report.anchored_through {
            Some(size) => writeln!(
                out,
                "{} signed checkpoint(s) matched: records up to seq {} are anchored outside the log",
                report.checkpoints_matched,
                size - 1
            )?,
            None => writeln!(out, "no signed checkpoint matched")?,
        }
        if let Some((first, last)) = report.unanchored {
            writeln!(
                out,
                "seq {first}..{last}: verified, not yet anchored by a checkpoint"
            )?;
        }
    } else if report.is_intact() {
        writeln!(
            out,
            "note: without --checkpoint, a tail cut at a record boundary or a history re-chained from its start cannot be seen"
        )?;
    }
    if let Some(seals) = &report.seals {
        match (seals.sealed_through, seals.last_epoch) {
            (Some(size), Some(epoch)) if size > 0 => writeln!(
                out,
                "{} forward-secure seal(s) verified, epochs 0..{epoch}: records up to seq {} are sealed",
                seals.seals,
                size - 1
            )?,
            (_, Some(epoch)) => writeln!(
                out,
                "{} forward-secure seal(s) verified, epochs 0..{epoch}: no record sealed yet",
                seals.seals
            )?,
            (_, None) => writeln!(out, "no forward-secure seal verified")?,
        }
        if let Some((first, last)) = seals.unsealed {
            writeln!(out, "seq {first}..{last}: verified, not yet sealed")?;
        }
        if seals.epochs_ended_unsealed > 0 {
            writeln!(
                out,
                "warning: {} epoch(s) have ended since the last seal: the writer is stopped, or the log and its seals were cut at the tail (a checkpoint tells which)",
                seals.epochs_ended_unsealed
            )?;
        }
    }
    if report.in_flight_bytes > 0 {
        writeln!(
            out,
            "a writer is appending: {} bytes of a record in progress were not checked",
            report.in_flight_bytes
        )?;
    }
    if report.is_intact() {
        writeln!(out, "intact: every hash, link and seq checks out")?;
    } else {
        let mut counts = std::collections::BTreeMap::new();
        for finding in &report.findings {
            *counts.entry(finding.code.as_str()).or_insert(0) += 1;
        }
        let listed: Vec<String> = counts
            .iter()
            .map(|(code, n)| format!("{n} {code}"))
            .collect();
        let torn = counts.contains_key("torn-tail");
        let verdict = if report.shows_tampering() {
            "the log was changed after it was written"
        } else if torn {
            "no tampering: a torn tail is what a crash leaves, and the writer repairs it when it starts"
        } else {
            "no tampering: some records are of a newer format whose fields this version cannot interpret"
        };
        writeln!(
            out,
            "{} finding{}: {}; {verdict}",
            report.findings.len(),
            if report.findings.len() == 1 { "" } else { "s" },
            listed.join(", ")
        )?;
    }
    Ok(())
}
