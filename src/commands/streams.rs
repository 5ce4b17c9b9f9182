//! `audit streams --db URL`: every stream of the store, and whether it verifies.

use std::io::Write;
use std::time::SystemTime;

use audit_layer::{TerminalSafe, Timestamp, Verifier};

/// Arguments of `audit streams`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The store (the reader role is enough).
    #[arg(long, env = "AUDIT_DB", value_name = "URL")]
    db: String,
    /// A trusted public key (or a file holding one): retention anchors it
    /// signed say where a stream begins. Repeat for several.
    #[arg(long)]
    key: Vec<String>,
    /// Print the list as JSON.
    #[arg(long)]
    json: bool,
}

fn time_text(time: Option<SystemTime>) -> String {
    time.and_then(|t| Timestamp::from_system_time(t).ok())
        .map_or("-".into(), |t| t.to_string())
}

pub(crate) fn run(args: &Args) -> Result<bool, Box<dyn std::error::Error>> {
    let mut store = audit_layer::PgStore::connect(&args.db)?;
    let streams = store.streams()?;
    let mut all_verify = true;
    let mut rows = Vec::new();
    for stream in &streams {
        let mut verifier = Verifier::new();
        for key in &args.key {
            verifier = verifier.trust(super::verify::load_key(key)?);
        }
        let report = verifier.verify_stream(&mut store, &stream.name)?;
        all_verify &= report.is_intact();
        rows.push(serde_json::json!({
            "stream": stream.name,
            "records": stream.records,
            "first_seq": stream.first_seq,
            "last_seq": stream.last_seq,
            "head": stream.head.to_string(),
            "first_time": time_text(stream.first_time),
            "last_time": time_text(stream.last_time),
            "last_checkpoint": stream.last_checkpoint.map(|(size, at)| serde_json::json!({"size": size, "published": time_text(Some(at))})),
            "retired_before": stream.first_seq.filter(|_| stream.anchor.is_some()),
            "last_stored": time_text(stream.last_stored),
            "last_stored_after_seconds": stream.last_stored.zip(stream.last_time).map(|(stored, time)| {
                stored.duration_since(time).unwrap_or_default().as_secs_f64()
            }),
            "verifies": report.is_intact(),
            "summary": report.summary(),
        }));
    }
    let mut out = std::io::stdout().lock();
    if args.json {
        serde_json::to_writer_pretty(&mut out, &rows)?;
        writeln!(out)?;
    } else {
        for row in &rows {
            let text = |key: &str| {
                row[key]
                    .as_str()
                    .map(str::to_owned)
                    .unwrap_or_else(|| row[key].to_string())
            };
            writeln!(
                out,
                "{}\n  records {}  seq {}..{}  head {}\n  first {}  last {}\n  last stored {} ({} s after its time)\n  last checkpoint {}\n  {}: {}",
                TerminalSafe(&text("stream")),
                text("records"),
                text("first_seq"),
                text("last_seq"),
                &text("head")[..16],
                text("first_time"),
                text("last_time"),
                text("last_stored"),
                row["last_stored_after_seconds"]
                    .as_f64()
                    .map_or("-".into(), |s| format!("{s:.1}")),
                row["last_checkpoint"]
                    .as_object()
                    .map_or("none published".into(), |c| format!(
                        "size {} at {}",
                        c["size"],
                        c["published"].as_str().unwrap_or("-")
                    )),
                if row["verifies"] == true {
                    "verifies"
                } else {
                    "DOES NOT VERIFY"
                },
                text("summary"),
            )?;
        }
        writeln!(out, "{} stream(s)", rows.len())?;
    }
    Ok(all_verify)
}
