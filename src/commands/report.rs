//! `audit report KIND`: a compliance report as one HTML page and the same
//! content as JSON, from a verified trail, signed on request;
//! `audit verify-report REPORT SIG --key PUB` checks such a signature.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use audit_layer::{
    IntegrityStatement, RecordFilter, ReportBuilder, ReportKind, ReportOptions, ReportSignature,
    SignerKey, TerminalSafe, Verifier,
};

use super::private_file::open_private;
use super::selection::{ReadArgs, for_each_selected, parse_time};

fn parse_kind(text: &str) -> Result<ReportKind, String> {
    ReportKind::parse(text)
        .ok_or_else(|| format!("`{text}` is not a report: access, changes, privileged or document"))
}

/// Arguments of `audit report`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Which report: access, changes, privileged, or document (with --resource).
    #[arg(value_parser = parse_kind)]
    kind: ReportKind,
    #[command(flatten)]
    read: ReadArgs,
    /// Records from this time on (2026-11-01, 2026-11-01T00:00:00Z, 30days).
    #[arg(long, value_parser = parse_time)]
    since: Option<audit_layer::Timestamp>,
    /// Records before this time.
    #[arg(long, value_parser = parse_time)]
    until: Option<audit_layer::Timestamp>,
    /// The document a document report follows (its resource, such as post:42).
    #[arg(long)]
    resource: Option<String>,
    /// The context key of change tickets (changes and privileged reports).
    #[arg(long, default_value = "ticket")]
    ticket_key: String,
    /// Access outliers: more than this many records by one actor in one shift.
    #[arg(long, default_value_t = 50)]
    outlier: u64,
    /// The shift length for access outliers.
    #[arg(long, default_value = "8h", value_parser = humantime::parse_duration)]
    shift: Duration,
    /// Where to write: PREFIX.html and PREFIX.json (default: report-KIND).
    #[arg(long, value_name = "PREFIX")]
    out: Option<PathBuf>,
    /// A signed checkpoint kept outside the log, or a directory of them;
    /// repeat for several. Needs --key. The report names them and how many
    /// matched the trail.
    #[arg(long)]
    checkpoint: Vec<PathBuf>,
    /// Sign both files with this private key (from `audit keygen`): writes
    /// PREFIX.html.sig and PREFIX.json.sig beside them.
    #[arg(long, value_name = "KEY")]
    sign: Option<PathBuf>,
}

/// Arguments of `audit verify-report`.
#[derive(Debug, clap::Args)]
pub(crate) struct CheckArgs {
    /// The report file.
    report: PathBuf,
    /// Its detached signature (REPORT.sig).
    signature: PathBuf,
    /// A trusted public key, or a file holding one; repeat for several.
    #[arg(long, required = true)]
    key: Vec<String>,
}

/// Writes `bytes` to `path`, owner-only, refusing to follow a link there.
fn write_private(path: &Path, bytes: &[u8]) -> Result<(), String> {
    let mut file = open_private(path, true).map_err(|e| format!("{}: {e}", path.display()))?;
    file.write_all(bytes)
        .and_then(|()| file.sync_all())
        .map_err(|e| format!("{}: {e}", path.display()))
}

fn with_suffix(prefix: &Path, suffix: &str) -> PathBuf {
    let mut name = prefix.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

pub(crate) fn run(args: &Args) -> Result<bool, Box<dyn std::error::Error>> {
    if args.kind == ReportKind::Document && args.resource.is_none() {
        return Err("a document report needs --resource: the document to follow".into());
    }
    let signer = match &args.sign {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .map_err(|e| format!("--sign {}: {e}", path.display()))?;
            Some(
                SignerKey::parse(&text)
                    .map_err(|e| format!("--sign {}: not a private key: {e}", path.display()))?,
            )
        }
        None => None,
    };
    let mut options = ReportOptions::new(args.kind)
        .period(args.since, args.until)
        .ticket_key(args.ticket_key.clone())
        .outliers(args.outlier, args.shift);
    if let Some(resource) = &args.resource {
        options = options.resource(resource.clone());
    }
    let mut builder = ReportBuilder::new(options);
    let integrity =
        if args.read.db.db.is_none() && !args.read.no_verify() {
            // A file log: one verifying pass hands every line to the builder,
            // which reads an access report's fields straight from the line.
            let log = args.read.log.path()?;
            let mut verifier = Verifier::new();
            for key in &args.read.key {
                verifier = verifier.trust(super::verify::load_key(key)?);
            }
            if !args.checkpoint.is_empty() && args.read.key.is_empty() {
                return Err(
                    "--checkpoint needs --key: the public key(s) that sign the checkpoints".into(),
                );
            }
            for path in &args.checkpoint {
                verifier = verifier.checkpoints_from(path)?;
            }
            let report = verifier.verify_path_with(&log, |line| {
                let problem = (!line.verified).then(|| {
                    line.problem.map_or_else(
                        || "not verified".to_owned(),
                        |code| code.as_str().to_owned(),
                    )
                });
                // A line that is not a record is the verifier's finding already.
                let _ = builder.add_line(line.line, problem.as_deref());
                Ok(())
            })?;
            let mut statement = IntegrityStatement::from_report(&report, log.display().to_string());
            statement.checkpoint_sources = args
                .checkpoint
                .iter()
                .map(|path| path.display().to_string())
                .collect();
            statement
        } else {
            if !args.checkpoint.is_empty() {
                return Err("--checkpoint is compared with a file log; give --log".into());
            }
            let mut filter = RecordFilter::new();
            if let Some(since) = args.since {
                filter = filter.since(since);
            }
            let document = args
                .resource
                .as_deref()
                .filter(|_| args.kind == ReportKind::Document);
            if let Some(resource) = document {
                filter = filter.resource(resource);
            }
            let check = for_each_selected(&args.read, &filter, (None, document), |selected| {
                builder.add(&selected.record, selected.problem.as_deref());
                Ok(())
            })?;
            match (&check.verification, &args.read.db.db) {
                (Some(report), _) => {
                    IntegrityStatement::from_report(report, check.log.display().to_string())
                }
                (None, Some(_)) if !args.read.no_verify() => {
                    let mut store = args.read.db.connect()?.ok_or("--db is needed")?;
                    let stream =
                        args.read.db.stream.clone().ok_or(
                            "a report from the store needs --stream: the stream it covers",
                        )?;
                    let report = Verifier::new().verify_stream(&mut store, &stream)?;
                    IntegrityStatement::from_report(&report, format!("db:{stream}"))
                }
                (None, Some(_)) => IntegrityStatement::not_verified(format!(
                    "db:{}",
                    args.read.db.stream.as_deref().unwrap_or("every stream")
                )),
                (None, None) => IntegrityStatement::not_verified(check.log.display().to_string()),
            }
        };
    let intact = integrity.verified && integrity.intact;
    let report = builder.finish(integrity);
    let prefix = args
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from(format!("report-{}", args.kind.as_str())));
    let mut written = Vec::new();
    for (suffix, bytes) in [
        (".html", report.to_html().into_bytes()),
        (".json", report.to_json().into_bytes()),
    ] {
        let path = with_suffix(&prefix, suffix);
        write_private(&path, &bytes)?;
        written.push(path.clone());
        if let Some(key) = &signer {
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let note = ReportSignature::of(&bytes, &name)?.sign(key);
            let signature_path = with_suffix(&path, ".sig");
            write_private(&signature_path, note.as_bytes())?;
            written.push(signature_path);
        }
    }
    let mut out = std::io::stdout().lock();
    for path in &written {
        writeln!(out, "{}", TerminalSafe(&path.display().to_string()))?;
    }
    eprintln!(
        "audit report: {} record(s) in the report; {}",
        report.records_considered,
        report.integrity.summary()
    );
    Ok(intact)
}

pub(crate) fn check(args: &CheckArgs) -> Result<bool, Box<dyn std::error::Error>> {
    let report =
        std::fs::read(&args.report).map_err(|e| format!("{}: {e}", args.report.display()))?;
    let note = std::fs::read_to_string(&args.signature)
        .map_err(|e| format!("{}: {e}", args.signature.display()))?;
    let keys = args
        .key
        .iter()
        .map(|key| super::verify::load_key(key))
        .collect::<Result<Vec<_>, _>>()?;
    match ReportSignature::check(&report, &note, &keys) {
        Ok(signed) => {
            println!(
                "verified: {} ({} bytes, SHA-256 {}), signed by {}",
                TerminalSafe(&signed.name),
                signed.size,
                signed.sha256,
                TerminalSafe(signed.signed_by.as_deref().unwrap_or("?"))
            );
            let actual = args
                .report
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            if actual != signed.name {
                eprintln!(
                    "audit verify-report: note: the file is named {}, the signature names {}",
                    TerminalSafe(&actual),
                    TerminalSafe(&signed.name)
                );
            }
            Ok(true)
        }
        Err(error) => {
            println!("NOT verified: {}", TerminalSafe(&error.to_string()));
            Ok(false)
        }
    }
}
