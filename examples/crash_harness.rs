//! Kills a writer again and again and checks that nothing acknowledged is lost.
//!
//! ```sh
//! cargo run --release --example crash_harness -- --kills 500     # the long run
//! ```
//!
//! Each round starts a child process making strict-mode audited calls from
//! several threads; the child prints `ack <id>` once a call has returned,
//! that is once its record is synced. After a random number of
//! acknowledgements the parent kills the child with SIGKILL; every other
//! round it also cuts the log at a random point after the last acknowledged
//! record, as a power failure could (the bytes after it were never
//! acknowledged). Then it starts a writer on the same directory, as a
//! restarted service would, and checks: every acknowledged record is present,
//! the chain verifies, and every torn tail was repaired and noted.
//!
//! Other modes, for the test suite: `child DIR RUN`, `exit-normally DIR
//! COUNT`, `exit-after-shutdown DIR COUNT`, `abort-on-failure`.

use std::collections::{BTreeSet, HashSet};
use std::hash::{BuildHasher, RandomState};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use audit_layer::sink::{Batch, Recovery, Sink};
use audit_layer::{
    AuditEvent, AuditLayer, AuditWriter, FailurePolicy, FileSink, FindingCode, LogReader, Verifier,
    audited,
};
use tracing_subscriber::prelude::*;

const CALLERS: usize = 8;

#[audited(action = "payment.capture", actor = "crash-harness", resource = id)]
fn capture_payment(id: &str) -> Result<(), String> {
    Ok(())
}

/// `child DIR RUN`: strict audited calls until killed.
fn child(dir: &Path, run: u64) -> Result<(), Box<dyn std::error::Error>> {
    let sink = FileSink::builder(dir).max_segment_bytes(64 * 1024).open()?;
    let (audit, guard) = AuditWriter::builder().spawn(sink)?;
    tracing_subscriber::registry()
        .with(AuditLayer::new(audit).strict(true))
        .init();
    let next = Arc::new(AtomicU64::new(0));
    let threads: Vec<_> = (0..CALLERS)
        .map(|_| {
            let next = Arc::clone(&next);
            std::thread::spawn(move || {
                loop {
                    let id = format!("{run}-{}", next.fetch_add(1, Ordering::Relaxed));
                    capture_payment(&id).expect("recorded");
                    // Printed only once the call has returned: the record is durable.
                    let mut out = std::io::stdout().lock();
                    writeln!(out, "ack {id}")
                        .and_then(|()| out.flush())
                        .expect("the parent reads");
                }
            })
        })
        .collect();
    for thread in threads {
        let _ = thread.join();
    }
    drop(guard);
    Ok(())
}

/// `exit-normally DIR COUNT`: the default mode, then a normal return from main.
fn exit_normally(
    dir: &Path,
    count: u64,
    via_handle: bool,
) -> Result<(), Box<dyn std::error::Error>> {
    let (audit, guard) = AuditWriter::builder().spawn(FileSink::open(dir)?)?;
    tracing_subscriber::registry()
        .with(AuditLayer::new(audit.clone()))
        .init();
    for n in 0..count {
        capture_payment(&n.to_string())?;
    }
    if via_handle {
        // As a service with a global subscriber does it: no guard at hand.
        std::mem::forget(guard);
        audit.shutdown(Duration::from_secs(30))?;
        std::process::exit(0);
    }
    Ok(())
}

/// A sink on a disk that refuses every write.
struct BrokenDisk;

impl Sink for BrokenDisk {
    fn recover(&mut self) -> std::io::Result<Recovery> {
        Ok(Recovery::clean(audit_layer::chain::ChainHead::genesis()))
    }
    fn append(&mut self, _: &Batch<'_>) -> std::io::Result<()> {
        Err(std::io::Error::new(
            std::io::ErrorKind::StorageFull,
            "no space left on device",
        ))
    }
    fn sync(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// `abort-on-failure`: the Abort policy meets a failing disk.
fn abort_on_failure() -> Result<(), Box<dyn std::error::Error>> {
    let (audit, guard) = AuditWriter::builder()
        .failure_policy(FailurePolicy::Abort)
        .spawn(BrokenDisk)?;
    audit
        .submit_acked(AuditEvent::builder("doomed").build())?
        .wait()?;
    drop(guard);
    Err("the process should have aborted".into())
}

struct Random(RandomState, u64);

impl Random {
    fn below(&mut self, bound: u64) -> u64 {
        self.1 += 1;
        self.0.hash_one(self.1) % bound.max(1)
    }
}

#[derive(Default)]
struct Tally {
    /// Rounds whose tiles were checked against the records.
    trees_checked: u64,
    kills: u64,
    acknowledged: u64,
    power_cuts: u64,
    torn_tails: u64,
    repairs_noted: u64,
    missing: Vec<String>,
    chain_failures: Vec<String>,
}

fn segments(dir: &Path) -> Vec<PathBuf> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|entries| entries.filter_map(Result::ok).map(|e| e.path()).collect())
        .unwrap_or_default();
    paths.retain(|p| p.extension().is_some_and(|e| e == "jsonl"));
    paths.sort();
    paths
}

/// Cuts the last segment somewhere after the last acknowledged record.
fn cut_like_a_power_failure(
    dir: &Path,
    acked: &HashSet<String>,
    random: &mut Random,
) -> std::io::Result<bool> {
    let Some(last) = segments(dir).pop() else {
        return Ok(false);
    };
    let bytes = std::fs::read(&last)?;
    let mut keep_from = 0;
    let mut offset = 0;
    for line in bytes.split_inclusive(|&b| b == b'\n') {
        offset += line.len();
        let text = String::from_utf8_lossy(line);
        if acked
            .iter()
            .any(|id| text.contains(&format!("\"resource\":\"{id}\"")))
        {
            keep_from = offset;
        }
    }
    if keep_from >= bytes.len() {
        return Ok(false);
    }
    let cut = keep_from as u64 + random.below((bytes.len() - keep_from) as u64) + 1;
    std::fs::OpenOptions::new()
        .write(true)
        .open(&last)?
        .set_len(cut)?;
    Ok(true)
}

fn parent(dir: &Path, kills: u64) -> Result<Tally, Box<dyn std::error::Error>> {
    let exe = std::env::current_exe()?;
    let mut random = Random(RandomState::new(), 0);
    let mut tally = Tally::default();
    let mut all_acked: Vec<String> = Vec::new();
    for round in 0..kills {
        let mut child = Command::new(&exe)
            .arg("child")
            .arg(dir)
            .arg(round.to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()?;
        let lines = BufReader::new(child.stdout.take().ok_or("no stdout")?).lines();
        let kill_after = 1 + random.below(300);
        let mut acked = HashSet::new();
        for line in lines {
            let line = line?;
            if let Some(id) = line.strip_prefix("ack ") {
                acked.insert(id.to_owned());
                if acked.len() as u64 == kill_after {
                    child.kill()?; // SIGKILL; acks already in the pipe still count
                }
            }
        }
        child.wait()?;
        tally.kills += 1;
        tally.acknowledged += acked.len() as u64;
        if round % 2 == 1 && cut_like_a_power_failure(dir, &acked, &mut random)? {
            tally.power_cuts += 1;
        }
        let before = Verifier::new().verify_path(dir)?;
        let torn = before
            .findings
            .iter()
            .any(|f| f.code == FindingCode::TornTail);
        if before.shows_tampering() {
            tally.chain_failures.push(format!(
                "round {round}, before restart: {:?}",
                before.findings
            ));
        }
        // Restart, as the service would.
        let (_, guard) = AuditWriter::builder()
            .spawn(FileSink::builder(dir).max_segment_bytes(64 * 1024).open()?)?;
        guard.shutdown(Duration::from_secs(30))?;
        let after = Verifier::new().verify_path(dir)?;
        if !after.is_intact() {
            tally.chain_failures.push(format!(
                "round {round}, after restart: {:?}",
                after.findings
            ));
        }
        // The tiles the restart repaired hold the records' tree: the root a
        // reader computes from them is the root of the records themselves,
        // and every full tile on disk is whole.
        let tree = audit_layer::LogTree::open(dir)?;
        if Some(tree.root()) != after.tree_root || tree.size() != after.records {
            tally.chain_failures.push(format!(
                "round {round}: the tiles say root {} of {} records; the records, {:?} of {}",
                tree.root(),
                tree.size(),
                after.tree_root,
                after.records
            ));
        }
        tally.trees_checked += 1;
        let records: Vec<_> = LogReader::open(dir)?.collect::<Result<_, _>>()?;
        let repairs = records
            .iter()
            // A cut that left a whole record without its newline is repaired
            // by restoring the newline (FORMAT.md section 5).
            .filter(|r| {
                r.action == "audit.repair.torn_tail" || r.action == "audit.repair.newline_restored"
            })
            .count() as u64;
        if torn {
            tally.torn_tails += 1;
            if repairs <= tally.repairs_noted {
                tally
                    .chain_failures
                    .push(format!("round {round}: a torn tail was not noted"));
            }
        }
        tally.repairs_noted = repairs;
        all_acked.extend(acked);
        let present: BTreeSet<&str> = records
            .iter()
            .filter_map(|r| r.resource.as_deref())
            .collect();
        tally.missing = all_acked
            .iter()
            .filter(|id| !present.contains(id.as_str()))
            .cloned()
            .collect();
        if !tally.missing.is_empty() || !tally.chain_failures.is_empty() {
            break;
        }
    }
    Ok(tally)
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let arg = |i: usize| args.get(i).cloned().unwrap_or_default();
    let result = match arg(0).as_str() {
        "child" => {
            child(Path::new(&arg(1)), arg(2).parse().unwrap_or(0)).map(|()| ExitCode::SUCCESS)
        }
        "exit-normally" => exit_normally(Path::new(&arg(1)), arg(2).parse().unwrap_or(1000), false)
            .map(|()| ExitCode::SUCCESS),
        "exit-after-shutdown" => {
            exit_normally(Path::new(&arg(1)), arg(2).parse().unwrap_or(1000), true)
                .map(|()| ExitCode::SUCCESS)
        }
        "abort-on-failure" => abort_on_failure().map(|()| ExitCode::SUCCESS),
        _ => {
            let kills = args
                .iter()
                .position(|a| a == "--kills")
                .and_then(|i| args.get(i + 1))
                .and_then(|k| k.parse().ok())
                .unwrap_or(100);
            let given = args
                .iter()
                .position(|a| a == "--dir")
                .and_then(|i| args.get(i + 1))
                .map(PathBuf::from);
            let scratch = std::env::temp_dir().join(format!("audit-crash-{}", std::process::id()));
            let dir = given.unwrap_or(scratch.clone());
            let started = Instant::now();
            let tally = parent(&dir, kills);
            let _ = std::fs::remove_dir_all(&scratch);
            tally.map(|tally| {
                println!("| kills | acknowledged calls | power cuts | torn tails | repairs noted | trees checked | missing acknowledged | chain failures | time |");
                println!("|---|---|---|---|---|---|---|---|---|");
                println!(
                    "| {} | {} | {} | {} | {} | {} | {} | {} | {:.1} s |",
                    tally.kills,
                    tally.acknowledged,
                    tally.power_cuts,
                    tally.torn_tails,
                    tally.repairs_noted,
                    tally.trees_checked,
                    tally.missing.len(),
                    tally.chain_failures.len(),
                    started.elapsed().as_secs_f64()
                );
                for failure in &tally.chain_failures {
                    println!("chain failure: {failure}");
                }
                for id in tally.missing.iter().take(10) {
                    println!("missing acknowledged record: {id}");
                }
                if tally.missing.is_empty() && tally.chain_failures.is_empty() {
                    ExitCode::SUCCESS
                } else {
                    ExitCode::FAILURE
                }
            })
        }
    };
    result.unwrap_or_else(|error| {
        eprintln!("crash_harness: {error}");
        ExitCode::from(2)
    })
}
