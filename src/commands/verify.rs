//! `audit verify PATH`.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};

use audit_layer::{FindingCode, Report, SealVerifyingKey, Verifier, VerifierKey};
use indicatif::{ProgressBar, ProgressStyle};

/// Arguments of `audit verify`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    #[command(flatten)]
    log: super::selection::LogArgs,
    #[command(flatten)]
    db: super::selection::DbArgs,
    /// Print the report as JSON on stdout.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    trust: TrustArgs,
}

/// What the verifier is given to trust: checkpoints and their keys,
/// witnesses, seals. `audit verify` and `audit watch` take the same flags.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct TrustArgs {
    /// A signed checkpoint kept outside the log, or a directory of them
    /// (every *.note in it); repeat for several. Needs --key. Matching none
    /// is a finding (no-checkpoint).
    #[arg(long)]
    pub(crate) checkpoint: Vec<PathBuf>,
    /// A trusted public key, or a file holding one (from `audit keygen`);
    /// repeat for several (key rotation).
    #[arg(long)]
    key: Vec<String>,
    /// A witness's cosigner key (text, or the PREFIX.pub of `audit keygen
    /// --witness`); repeat for several. A checkpoint matching the log must
    /// carry cosignatures from --quorum of them (a finding, no-quorum, otherwise).
    #[arg(long, requires = "checkpoint")]
    witness: Vec<String>,
    /// How many of the --witness keys must have cosigned (all of them by default).
    #[arg(long, requires = "witness")]
    quorum: Option<usize>,
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
pub(crate) fn load_key(given: &str) -> Result<VerifierKey, Box<dyn std::error::Error>> {
    match std::fs::read_to_string(given) {
        Ok(text) => Ok(VerifierKey::parse(&text)
            .map_err(|e| format!("--key {given}: the file holds no public key: {e}"))?),
        Err(read_error) => VerifierKey::parse(given).map_err(|_| {
            let looks_like_path = given.contains('/') || Path::new(given).extension().is_some();
            if looks_like_path || read_error.kind() != std::io::ErrorKind::NotFound {
                format!("--key {given}: cannot read the key file: {read_error}").into()
            } else {
                format!("--key {given}: no such key file, and not a key (NAME+ID+KEY) either")
                    .into()
            }
        }),
    }
}

/// A witness's cosigner key given as text, or as the path of a file holding it.
pub(crate) fn load_witness_key(given: &str) -> Result<audit_layer::CosignerVerifier, String> {
    let text = std::fs::read_to_string(given).unwrap_or_else(|_| given.to_owned());
    audit_layer::CosignerVerifier::parse(&text)
        .map_err(|e| format!("--witness {given}: not a witness's key: {e}"))
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
    if args.db.db.is_some() {
        return run_on_store(args);
    }
    let log = args.log.path()?;
    let verifier = verifier_for(&args.trust, Some(&log))?;
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
        .verify_path(&log)?;
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    let mut out = std::io::stdout().lock();
    if args.json {
        serde_json::to_writer_pretty(&mut out, &JsonReport::of(&report))?;
        writeln!(out)?;
    } else {
        print_human(&mut out, &report, !args.trust.checkpoint.is_empty())?;
    }
    Ok(report.is_intact())
}

/// The verifier the flags describe; `log` places the default seals file.
pub(crate) fn verifier_for(
    args: &TrustArgs,
    log: Option<&Path>,
) -> Result<Verifier<'static>, Box<dyn std::error::Error>> {
    let mut verifier = Verifier::new();
    for key in &args.key {
        verifier = verifier.trust(load_key(key)?);
    }
    if !args.checkpoint.is_empty() && args.key.is_empty() {
        return Err("--checkpoint needs --key: the public key(s) that sign the checkpoints".into());
    }
    for path in &args.checkpoint {
        verifier = verifier.checkpoints_from(path)?;
    }
    if !args.witness.is_empty() {
        let keys = args
            .witness
            .iter()
            .map(|given| load_witness_key(given))
            .collect::<Result<Vec<_>, _>>()?;
        let quorum = args.quorum.unwrap_or(keys.len());
        if quorum > keys.len() {
            return Err(format!(
                "--quorum {quorum} is more than the {} witness key(s) given",
                keys.len()
            )
            .into());
        }
        verifier = verifier.witnesses(keys, quorum);
    }
    if let Some(key_path) = &args.seal_key {
        let key = SealVerifyingKey::load(key_path)
            .map_err(|e| format!("--seal-key {}: {e}", key_path.display()))?;
        let seals_path = match (&args.seals, log) {
            (Some(path), _) => path.clone(),
            (None, Some(log)) if log.is_dir() => log.join(SEALS_FILE),
            (None, Some(_)) => {
                return Err("--seal-key on a single segment needs --seals FILE".into());
            }
            (None, None) => return Err("--seal-key with --db needs --seals FILE".into()),
        };
        // A missing seals file is a finding (no-seal), not a usage error.
        verifier = verifier.seals_file(key, seals_path)?;
    }
    Ok(verifier)
}

/// `audit verify --db`: each stream as a log of its own, with the same
/// report; a header names the stream when there are several.
fn run_on_store(args: &Args) -> Result<bool, Box<dyn std::error::Error>> {
    let mut store = args.db.connect()?.ok_or("--db is needed")?;
    let names = match &args.db.stream {
        Some(stream) => vec![stream.clone()],
        None => store.streams()?.into_iter().map(|s| s.name).collect(),
    };
    if names.is_empty() {
        return Err("the store holds no stream yet".into());
    }
    let several = names.len() > 1;
    let mut intact = true;
    let mut reports = Vec::new();
    for name in &names {
        let report = verifier_for(&args.trust, None)?.verify_stream(&mut store, name)?;
        intact &= report.is_intact();
        reports.push((name, report));
    }
    let mut out = std::io::stdout().lock();
    if args.json {
        if several {
            let all: Vec<serde_json::Value> = reports
                .iter()
                .map(|(name, report)| {
                    let mut value =
                        serde_json::to_value(JsonReport::of(report)).unwrap_or_default();
                    if let Some(object) = value.as_object_mut() {
                        object.insert("stream".into(), name.as_str().into());
                    }
                    value
                })
                .collect();
            serde_json::to_writer_pretty(&mut out, &all)?;
        } else {
            serde_json::to_writer_pretty(&mut out, &JsonReport::of(&reports[0].1))?;
        }
        writeln!(out)?;
    } else {
        for (name, report) in &reports {
            if several {
                writeln!(out, "== stream {}", audit_layer::TerminalSafe(name))?;
            }
            print_human(&mut out, report, !args.trust.checkpoint.is_empty())?;
        }
    }
    Ok(intact)
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
    if report.findings_unlisted > 0 {
        writeln!(
            out,
            "... and {} more finding(s), counted below and not listed",
            report.findings_unlisted
        )?;
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
                "starts at seq {} after retention (anchor not checked)",
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
        let (with_root, first_kind) = (
            report.checkpoints_with_root,
            report.checkpoints_of_first_kind,
        );
        if with_root + first_kind > 0 {
            writeln!(
                out,
                "checkpoints read: {with_root} with a Merkle tree root, {first_kind} of the first kind (chain head only)"
            )?;
        }
        if let Some((first, last)) = report.unanchored {
            writeln!(
                out,
                "seq {first}..{last}: verified, not yet anchored by a checkpoint"
            )?;
        }
        if let Some(size) = report.witnessed_through {
            writeln!(
                out,
                "a quorum of witnesses cosigned a checkpoint of {size} records that the log matches"
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
        let counts = &report.finding_counts;
        let listed: Vec<String> = counts
            .iter()
            .map(|(code, n)| format!("{n} {code}"))
            .collect();
        let has = |code| counts.contains_key(&code);
        let verdict = if report.shows_tampering() {
            "NOT INTACT: the log was changed after it was written"
        } else if has(FindingCode::NoCheckpoint)
            || has(FindingCode::NoSeal)
            || has(FindingCode::NoQuorum)
            || has(FindingCode::UnknownKey)
        {
            "NOT VERIFIED: a check that was asked for could not be made"
        } else if has(FindingCode::TornTail) {
            "no tampering: a torn tail is what a crash leaves, and the writer repairs it when it starts"
        } else {
            "no tampering: some records are of a newer format whose fields this version cannot interpret"
        };
        let total = report.finding_total();
        writeln!(
            out,
            "{total} finding{}: {}; {verdict}",
            if total == 1 { "" } else { "s" },
            listed.join(", ")
        )?;
    }
    Ok(())
}
