//! `audit verify PATH`.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;

use audit_layer::{Report, Verifier};
use indicatif::{ProgressBar, ProgressStyle};

/// Arguments of `audit verify`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// A log directory (segment-*.jsonl files) or a single segment file.
    path: PathBuf,
    /// Print the report as JSON on stdout.
    #[arg(long)]
    json: bool,
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
    let report = Verifier::new()
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
        print_human(&mut out, &report)?;
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

fn print_human(out: &mut impl Write, report: &Report) -> std::io::Result<()> {
    for finding in &report.findings {
        writeln!(out, "{finding}")?;
    }
    writeln!(out, "{}", report.summary())?;
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
