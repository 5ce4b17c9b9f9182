//! The `audit-trail` crate, the nearest Rust peer, against us on the same
//! records: append and verify throughput, measured in one run.
//!
//! `audit-trail` chains on the caller's thread into a buffered binary file;
//! we chain on a writer thread into JSON Lines. Its record has no context,
//! code location or duration, so the three context values of our benchmark
//! record ride in its target string: both logs carry the same facts.

use std::path::Path;
use std::time::{Duration, Instant};

use audit_layer::{AuditWriter, Durability, FileSink, Verifier};
use audit_trail::{
    Action, Actor, Chain, FileReader, MonotonicClock, Outcome, Sha256Hasher, SystemClock, Target,
};

use crate::{median_of_three, sample_event, write_log};

/// How many records each contestant appends and verifies.
const RECORDS: u64 = 1_000_000;

/// Records/s of `audit-trail` appending `RECORDS` records to a fresh file,
/// with `sync_every` records between `fdatasync`s (`None`: never, only a
/// final flush), and the file's size.
fn their_append(path: &Path, sync_every: Option<u64>) -> (f64, u64) {
    let _ = std::fs::remove_file(path);
    let sink = audit_trail::FileSink::open_or_create_private(path).expect("open peer log");
    // Its chain refuses two records in the same nanosecond; a monotonic
    // clock is what a service appending this fast would use.
    let mut chain = Chain::new(
        Sha256Hasher::new(),
        sink,
        MonotonicClock::new(SystemClock::new()),
    );
    let event = sample_event(7);
    let actor = event.actor().expect("actor").to_owned();
    let mut target = event.resource().expect("resource").to_owned();
    for (key, value) in event.context() {
        target.push_str(&format!(" {key}={value}"));
    }
    let start = Instant::now();
    for n in 1..=RECORDS {
        chain
            .append(
                Actor::new(&actor),
                Action::new(event.action()),
                Target::new(&target),
                Outcome::Success,
            )
            .expect("peer append");
        if sync_every.is_some_and(|every| n % every == 0) {
            chain.sink_mut().sync().expect("peer sync");
        }
    }
    chain.sink_mut().sync().expect("peer final sync");
    let rate = RECORDS as f64 / start.elapsed().as_secs_f64();
    (rate, std::fs::metadata(path).expect("peer log").len())
}

/// Records/s of `audit-trail` reading and verifying the whole file.
fn their_verify(path: &Path) -> f64 {
    let start = Instant::now();
    let mut verifier = audit_trail::Verifier::new(Sha256Hasher::new());
    let mut records = 0_u64;
    for record in FileReader::open(path).expect("open peer log") {
        let record = record.expect("peer record");
        verifier.verify(&record.as_record()).expect("peer chain");
        records += 1;
    }
    assert_eq!(records, RECORDS);
    RECORDS as f64 / start.elapsed().as_secs_f64()
}

/// Records/s of our writer appending `RECORDS` records to a fresh log.
fn our_append(dir: &Path, durability: Durability, max_batch: usize) -> f64 {
    let _ = std::fs::remove_dir_all(dir);
    let sink = FileSink::open(dir).expect("open sink");
    let (handle, guard) = AuditWriter::builder()
        .durability(durability)
        .max_batch_records(max_batch)
        .spawn(sink)
        .expect("spawn");
    let template = sample_event(7);
    let start = Instant::now();
    for _ in 0..RECORDS {
        handle.submit(template.clone()).expect("submit");
    }
    handle.flush().expect("flush");
    let rate = RECORDS as f64 / start.elapsed().as_secs_f64();
    guard.shutdown(Duration::from_secs(60)).expect("shutdown");
    rate
}

/// Records/s of `Verifier` over our log, and its size.
fn our_verify(dir: &Path, threads: Option<usize>) -> (f64, u64) {
    let verifier = match threads {
        Some(threads) => Verifier::new().threads(threads),
        None => Verifier::new(),
    };
    let start = Instant::now();
    let report = verifier.verify_path(dir).expect("verify");
    assert!(report.is_intact());
    assert_eq!(report.records, RECORDS);
    (RECORDS as f64 / start.elapsed().as_secs_f64(), report.bytes)
}

/// Prints the rows against `audit-trail`, medians of three runs each.
pub(crate) fn rows(scratch: &Path) {
    std::fs::create_dir_all(scratch).expect("scratch dir");
    let theirs = scratch.join("audit-trail.log");
    let ours = scratch.join("ours");

    let their_buffered = median_of_three(|| their_append(&theirs, None).0);
    let our_buffered = median_of_three(|| our_append(&ours, Durability::Buffered, 4096));
    println!(
        "| appends/s vs `audit-trail` 1.x, OS-buffered | {:.2} M/s | `audit-trail`: {:.2} M/s | {:.2} |",
        our_buffered / 1e6,
        their_buffered / 1e6,
        our_buffered / their_buffered
    );
    let their_synced = median_of_three(|| their_append(&theirs, Some(100)).0);
    let our_synced = median_of_three(|| our_append(&ours, Durability::GroupCommit, 100));
    println!(
        "| appends/s vs `audit-trail` 1.x, `fdatasync` at least every 100 records (ours: group commit, batches ≤ 100) | {:.2} M/s | `audit-trail`, `sync()` every 100: {:.2} M/s | {:.2} |",
        our_synced / 1e6,
        their_synced / 1e6,
        our_synced / their_synced
    );
    let our_group = median_of_three(|| our_append(&ours, Durability::GroupCommit, 4096));
    println!(
        "| appends/s vs `audit-trail` 1.x, every record synced before it is acknowledged (ours: group commit) | {:.2} M/s | `audit-trail`, `sync()` every 100: {:.2} M/s | {:.2} |",
        our_group / 1e6,
        their_synced / 1e6,
        our_group / their_synced
    );

    let (_, their_bytes) = their_append(&theirs, None);
    let _ = std::fs::read(&theirs);
    let their_verified = median_of_three(|| their_verify(&theirs));
    write_log(&ours, RECORDS);
    let (_, our_bytes) = our_verify(&ours, None);
    let our_all = median_of_three(|| our_verify(&ours, None).0);
    let our_one = median_of_three(|| our_verify(&ours, Some(1)).0);
    for (cores, ours) in [("all cores", our_all), ("one core", our_one)] {
        println!(
            "| records verified/s vs `audit-trail` 1.x, {cores} ({:.0} vs {:.0} bytes a record) | {:.2} M/s ({:.0} MB/s) | `audit-trail`: {:.2} M/s ({:.0} MB/s) | {:.2} |",
            our_bytes as f64 / RECORDS as f64,
            their_bytes as f64 / RECORDS as f64,
            ours / 1e6,
            ours * our_bytes as f64 / RECORDS as f64 / 1e6,
            their_verified / 1e6,
            their_verified * their_bytes as f64 / RECORDS as f64 / 1e6,
            ours / their_verified
        );
    }
    let _ = std::fs::remove_file(&theirs);
    let _ = std::fs::remove_dir_all(&ours);
}
