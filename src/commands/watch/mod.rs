//! `audit watch --rules FILE --log DIR`: detection rules and integrity
//! alerts on a live trail.
//!
//! - `source`: the file log followed, or the store's stream polled;
//! - `state`: the durable position, windows and undelivered alerts;
//! - `outputs`: stdout, the alert log, the webhook.

mod outputs;
mod source;
mod state;

use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use audit_layer::watch::{Alert, Engine, RuleSet, rules_schema};
use audit_layer::{TerminalSafe, Timestamp};

use super::stop_signal::{STOP, stop_on_signals};
use super::verify::TrustArgs;
use outputs::Outputs;
use source::Source;
use state::{Delivered, Header, Queued, StateDir};

/// Arguments of `audit watch`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The rules file (TOML; see docs/WATCH.md).
    #[arg(long, value_name = "FILE", required_unless_present = "print_schema")]
    rules: Option<PathBuf>,
    #[command(flatten)]
    log: super::selection::LogArgs,
    /// Watch a stream of the PostgreSQL store (with --stream) instead of a log directory.
    #[arg(long, env = "AUDIT_DB", value_name = "URL")]
    db: Option<String>,
    /// With --db: the stream to watch.
    #[arg(long, requires = "db", value_name = "NAME")]
    stream: Option<String>,
    /// Keep the position, open windows and undelivered alerts in this
    /// directory, so a restart neither repeats nor misses an alert.
    #[arg(long, value_name = "DIR")]
    state: Option<PathBuf>,
    /// Run the rules over the log's history, from its first record, then
    /// stop: windows use record time, so a replay is deterministic.
    #[arg(long, conflicts_with_all = ["state", "once"])]
    replay: bool,
    /// Evaluate what the log holds now, then stop (by default: follow it
    /// until SIGTERM or SIGINT).
    #[arg(long)]
    once: bool,
    /// POST each alert as JSON to this URL (http://HOST:PORT/PATH), retried
    /// with backoff until it answers 2xx.
    #[arg(long, value_name = "URL")]
    webhook: Option<String>,
    /// How long a webhook POST may take to connect and to be answered.
    #[arg(long, default_value = "5s", value_parser = humantime::parse_duration)]
    webhook_timeout: Duration,
    /// When the watch stops, how long the webhook gets to deliver what is
    /// queued (what it does not deliver is kept in --state for the next run).
    #[arg(long, default_value = "10s", value_parser = humantime::parse_duration)]
    webhook_grace: Duration,
    /// Write each alert as a record of this audit log (a directory of its own).
    #[arg(long, value_name = "DIR")]
    alert_log: Option<PathBuf>,
    /// How often the whole log is verified (checkpoints, seals, history
    /// behind the position); findings raise integrity alerts.
    #[arg(long, default_value = "5m", value_parser = humantime::parse_duration)]
    verify_every: Duration,
    /// How often a caught-up watch looks for new records.
    #[arg(long, default_value = "100ms", value_parser = humantime::parse_duration)]
    poll: Duration,
    /// Check the rules file, list its rules, and stop.
    #[arg(long)]
    check: bool,
    /// Print the rules file's JSON Schema and stop.
    #[arg(long)]
    print_schema: bool,
    #[command(flatten)]
    trust: TrustArgs,
}

/// Lines evaluated between two looks at the clock, the state and the outputs.
const BATCH: usize = 10_000;
/// The longest a watch with a state directory goes without saving it.
const SAVE_EVERY: Duration = Duration::from_secs(5);

pub(crate) fn run(args: &Args) -> Result<bool, Box<dyn std::error::Error>> {
    if args.print_schema {
        println!("{}", serde_json::to_string_pretty(&rules_schema())?);
        return Ok(true);
    }
    let rules_path = args.rules.as_ref().ok_or("--rules is needed")?;
    let rules = RuleSet::load(rules_path)?;
    if args.check {
        for rule in rules.rules() {
            println!(
                "{}\t{}\t{}",
                rule.name(),
                rule.kind().as_str(),
                rule.severity().as_str()
            );
        }
        eprintln!(
            "audit watch: {} rule(s) in {}, and integrity (always on)",
            rules.rules().len(),
            rules_path.display()
        );
        return Ok(true);
    }
    stop_on_signals();
    let (mut source, name) = match (&args.db, &args.stream) {
        (Some(url), Some(stream)) => (Source::store(url, stream)?, format!("db:{stream}")),
        (Some(_), None) => return Err("--db needs --stream: the stream to watch".into()),
        _ => {
            let dir = args.log.path()?;
            if let Some(alert_log) = &args.alert_log
                && same_place(alert_log, &dir)
            {
                return Err(
                    "--alert-log must not be the watched log: alerts would raise alerts".into(),
                );
            }
            let name = std::fs::canonicalize(&dir)
                .unwrap_or_else(|_| dir.clone())
                .display()
                .to_string();
            (Source::file(&dir), name)
        }
    };
    let state_dir = args.state.as_deref().map(StateDir::open).transpose()?;
    let loaded = match &state_dir {
        Some(dir) => dir.load(rules.clone(), &name)?,
        None => None,
    };
    let (mut header, mut engine) = match loaded {
        Some(loaded) => loaded,
        None => {
            let mut engine = Engine::new(rules).source(name.clone());
            if source.first_seq()?.is_some_and(|first| first > 0) {
                engine = engine.starting_anywhere();
            }
            let header = Header {
                format: 1,
                source: name.clone(),
                next_number: 1,
                outbox: Vec::new(),
            };
            (header, engine)
        }
    };
    let mut delivered = match &state_dir {
        Some(dir) => dir.delivered()?,
        None => Delivered::default(),
    };
    let outputs = Outputs::open(
        args.alert_log.as_deref(),
        args.webhook.as_deref(),
        args.webhook_timeout,
    )?;
    if !outputs.has_webhook() {
        delivered.posted = delivered.printed.max(delivered.posted);
    }
    // What a stop left undelivered goes first.
    delivered.printed = outputs.print(&header.outbox, delivered.printed)?;
    let mut sent = outputs.post(&header.outbox, delivered.posted);
    let mut total_alerts = 0u64;
    let mut next_verify = if args.replay || args.once {
        None
    } else {
        Some(Instant::now())
    };
    let mut verifying: Option<std::thread::JoinHandle<Result<audit_layer::Report, String>>> = None;
    let mut last_save = Instant::now();
    let mut dirty = false;
    let live = !args.replay;
    loop {
        let mut alerts: Vec<Alert> = Vec::new();
        let read = match source.read(engine.next_seq(), BATCH, |line| {
            alerts.extend(engine.observe_line(line));
        }) {
            Ok(read) => read,
            Err(error) => {
                if !live || args.once {
                    return Err(error);
                }
                let code = if error.to_string().contains("planted") {
                    audit_layer::FindingCode::ForeignFile
                } else {
                    audit_layer::FindingCode::Malformed
                };
                alerts.extend(engine.finding(code, None, &error.to_string()));
                0
            }
        };
        dirty |= read > 0;
        if live {
            alerts.extend(engine.tick(Timestamp::now()));
        }
        // The periodic verify runs on a thread of its own: a large log
        // takes seconds, and evaluation does not wait for it.
        if verifying
            .as_ref()
            .is_some_and(std::thread::JoinHandle::is_finished)
        {
            let finished = verifying.take().expect("checked above");
            match finished.join() {
                Ok(Ok(report)) => alerts.extend(engine.report(&report)),
                Ok(Err(error)) => alerts.extend(engine.verify_failed(&error)),
                Err(_) => eprintln!("audit watch: the verify run panicked"),
            }
        }
        if verifying.is_none() && next_verify.is_some_and(|at| Instant::now() >= at) {
            let (target, trust) = (source.verify_target(), args.trust.clone());
            verifying = Some(
                std::thread::Builder::new()
                    .name("audit-watch-verify".into())
                    .spawn(move || target.verify(&trust))?,
            );
            next_verify = Some(Instant::now() + args.verify_every);
        }
        let caught_up = read < BATCH;
        let finishing = STOP.load(Ordering::Relaxed) || (caught_up && (!live || args.once));
        if finishing && (args.replay || args.once) {
            let report = source.verify_target().verify(&args.trust)?;
            alerts.extend(engine.report(&report));
        }
        total_alerts += alerts.len() as u64;
        if !alerts.is_empty() {
            for alert in alerts {
                header.outbox.push(Queued {
                    number: header.next_number,
                    alert,
                });
                header.next_number += 1;
            }
            // Kept before it is delivered: a crash can repeat an alert, never lose one.
            if let Some(dir) = &state_dir {
                dir.save(&header, &engine)?;
                last_save = Instant::now();
                dirty = false;
            }
            delivered.printed = outputs.print(&header.outbox, delivered.printed)?;
            sent = outputs.post(&header.outbox, sent);
            if !outputs.has_webhook() {
                delivered.posted = delivered.printed;
            }
            if let Some(dir) = &state_dir {
                dir.save_delivered(delivered)?;
            }
        }
        if let Some(through) = outputs.posted_through() {
            delivered.posted = delivered.posted.max(through);
        }
        let done = delivered.printed.min(delivered.posted);
        if header.outbox.iter().any(|q| q.number <= done) {
            header.outbox.retain(|q| q.number > done);
            dirty = true;
        }
        if let Some(dir) = &state_dir
            && dirty
            && last_save.elapsed() >= SAVE_EVERY
        {
            dir.save(&header, &engine)?;
            dir.save_delivered(delivered)?;
            last_save = Instant::now();
            dirty = false;
        }
        if finishing {
            break;
        }
        if caught_up {
            wait(args.poll);
        }
    }
    let webhook = outputs.finish(args.webhook_grace)?;
    if let Some(stats) = &webhook {
        delivered.posted = delivered.posted.max(stats.delivered_through);
        let done = delivered.printed.min(delivered.posted);
        header.outbox.retain(|q| q.number > done);
    }
    if let Some(dir) = &state_dir {
        dir.save(&header, &engine)?;
        dir.save_delivered(delivered)?;
    }
    let stats = engine.stats();
    eprintln!(
        "audit watch: {} record(s) evaluated, {} alert(s) raised, {} suppressed, {} unreadable line(s), {} late record(s){}",
        stats.records,
        stats.alerts,
        stats.suppressed,
        stats.unreadable,
        stats.late,
        webhook.map_or(String::new(), |w| format!(
            "; webhook: {} delivered, {} rejected, {} pending, {} failed attempt(s){}",
            w.delivered,
            w.rejected,
            w.pending,
            w.failures,
            w.last_error
                .map(|e| format!(" (last: {})", TerminalSafe(&e)))
                .unwrap_or_default()
        ))
    );
    Ok(total_alerts == 0)
}

fn same_place(a: &std::path::Path, b: &std::path::Path) -> bool {
    match (std::fs::canonicalize(a), std::fs::canonicalize(b)) {
        (Ok(a), Ok(b)) => a == b,
        _ => a == b,
    }
}

/// Waits up to `duration`, returning early on a stop signal.
fn wait(duration: Duration) {
    let deadline = Instant::now() + duration;
    while !STOP.load(Ordering::Relaxed) {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return;
        }
        std::thread::sleep(left.min(Duration::from_millis(20)));
    }
}
