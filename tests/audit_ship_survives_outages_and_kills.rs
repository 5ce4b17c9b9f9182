//! `audit ship` copies a live file log into a real PostgreSQL store and
//! loses nothing, duplicates nothing: across segment rotation and a torn
//! tail in progress, a database killed and restarted mid-ship, the shipper
//! itself killed with SIGKILL again and again, and it stops cleanly on
//! SIGTERM. Two histories under one stream name are refused as equivocation.

mod common;
#[path = "common/pg.rs"]
mod pg;

use std::fs::OpenOptions;
use std::io::Write;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use audit_layer::{AuditWriter, FileSink, PgStore, Verifier};
use common::run_audit as audit;

fn write_log(dir: &Path, records: usize, max_segment_bytes: u64) {
    let sink = FileSink::builder(dir)
        .max_segment_bytes(max_segment_bytes)
        .open()
        .unwrap();
    let (handle, guard) = AuditWriter::builder().spawn(sink).unwrap();
    for event in common::varied_events(records) {
        handle.submit(event).unwrap();
    }
    guard.shutdown(Duration::from_secs(20)).unwrap();
}

fn start_shipper(log: &Path, url: &str, stream: &str, batch: &str) -> Child {
    Command::new(env!("CARGO_BIN_EXE_audit"))
        .args([
            "ship",
            "--log",
            log.to_str().unwrap(),
            "--db",
            url,
            "--stream",
            stream,
        ])
        .args(["--batch", batch, "--json"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("audit ship starts")
}

/// How many records the store holds for `stream`, or `None` while it is down.
fn stored(url: &str, stream: &str) -> Option<u64> {
    PgStore::connect(url)
        .ok()?
        .head(stream)
        .ok()
        .map(|head| head.next_seq)
}

/// Waits (bounded) until the store holds at least `count` records of `stream`.
fn wait_for_stored(url: &str, stream: &str, count: u64) {
    let deadline = Instant::now() + Duration::from_secs(120);
    while stored(url, stream).is_none_or(|n| n < count) {
        assert!(
            Instant::now() < deadline,
            "the store did not reach {count} records (it holds {:?})",
            stored(url, stream)
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn terminate(child: &mut Child) -> std::process::Output {
    // SAFETY: kill on the PID of a child we started and have not reaped.
    unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGTERM) };
    let output = std::mem::replace(child, Command::new("true").spawn().unwrap());
    output.wait_with_output().unwrap()
}

fn assert_stream_matches_log(url: &str, stream: &str, log: &Path, records: u64) {
    let mut store = PgStore::connect(url).unwrap();
    let report = Verifier::new().verify_stream(&mut store, stream).unwrap();
    assert!(report.is_intact(), "{:?}", report.findings);
    assert_eq!(report.records, records);
    let files = Verifier::new().verify_path(log).unwrap();
    assert_eq!(report.head, files.head, "the store's head is the log's");
}

#[test]
fn a_live_log_is_shipped_through_rotation_and_a_database_restart() {
    let server = pg::Server::own();
    let store = server.fresh_store("ship_live");
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("log");
    write_log(&log, 1, 1 << 20);
    let mut shipper = start_shipper(&log, &store.writer, "live", "64");

    let sink = FileSink::builder(&log)
        .max_segment_bytes(16 * 1024)
        .open()
        .unwrap();
    let (handle, guard) = AuditWriter::builder().spawn(sink).unwrap();
    let events = common::varied_events(3000);
    let mut events = events.into_iter();
    for event in events.by_ref().take(1000) {
        handle.submit(event).unwrap();
    }
    handle.flush().unwrap();
    wait_for_stored(&store.writer, "live", 500);
    server.kill();
    // The store is down: the service goes on, the log is the buffer.
    for event in events.by_ref().take(1000) {
        handle.submit(event).unwrap();
    }
    handle.flush().unwrap();
    server.restart();
    for event in events {
        handle.submit(event).unwrap();
    }
    guard.shutdown(Duration::from_secs(20)).unwrap();
    let total = Verifier::new().verify_path(&log).unwrap().records;
    assert!(common::segments(&log).len() > 5, "the log rotated");
    wait_for_stored(&store.writer, "live", total);
    let output = terminate(&mut shipper);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let counters: Vec<serde_json::Value> = String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    let last = counters.last().unwrap();
    assert_eq!(last["done"], true);
    assert_eq!(last["shipped"], total);
    assert!(
        counters.iter().any(|c| c["waiting_for_store"] == true),
        "the outage was seen and waited out"
    );
    assert!(last["retries"].as_u64().unwrap() > 0);
    assert_stream_matches_log(&store.reader, "live", &log, total);
}

#[test]
fn a_shipper_killed_again_and_again_neither_skips_nor_duplicates() {
    let store = pg::Server::shared().fresh_store("ship_killed");
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("log");
    write_log(&log, 4000, 64 * 1024);
    for round in 1..=6u64 {
        let mut shipper = start_shipper(&log, &store.writer, "killed", "37");
        // A different point of the work each time, mid-batch or between.
        wait_for_stored(&store.writer, "killed", round * 500 + round * 13);
        shipper.kill().unwrap();
        shipper.wait().unwrap();
    }
    let output = audit(&[
        "ship",
        "--log",
        log.to_str().unwrap(),
        "--db",
        &store.writer,
        "--stream",
        "killed",
        "--once",
    ]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_stream_matches_log(&store.reader, "killed", &log, 4000);
}

#[test]
fn a_torn_tail_in_progress_is_shipped_once_it_is_whole() {
    let store = pg::Server::shared().fresh_store("ship_torn");
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("log");
    write_log(&log, 11, 1 << 20);
    let segment = common::segments(&log).pop().unwrap();
    let torn_off = common::tear_last_line(&segment);
    let once = |expected: u64| {
        let output = audit(&[
            "ship",
            "--log",
            log.to_str().unwrap(),
            "--db",
            &store.writer,
            "--stream",
            "torn",
            "--once",
        ]);
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        assert_eq!(stored(&store.writer, "torn"), Some(expected));
    };
    once(10);
    OpenOptions::new()
        .append(true)
        .open(&segment)
        .unwrap()
        .write_all(&torn_off)
        .unwrap();
    once(11);
    assert_stream_matches_log(&store.reader, "torn", &log, 11);
}

#[test]
fn two_histories_under_one_stream_are_refused_as_equivocation() {
    let store = pg::Server::shared().fresh_store("ship_equivocation");
    let dir = tempfile::tempdir().unwrap();
    let (first, second) = (dir.path().join("first"), dir.path().join("second"));
    write_log(&first, 20, 1 << 20);
    write_log(&second, 30, 1 << 20);
    let ship = |log: &Path| {
        audit(&[
            "ship",
            "--log",
            log.to_str().unwrap(),
            "--db",
            &store.writer,
            "--stream",
            "one",
            "--once",
        ])
    };
    assert!(ship(&first).status.success());
    let refused = ship(&second);
    assert_eq!(refused.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        stderr.contains("equivocation") && stderr.contains("seq 19"),
        "{stderr}"
    );
    assert_stream_matches_log(&store.reader, "one", &first, 20);
    // A log shorter than what the store holds is not its log either.
    let short = dir.path().join("short");
    write_log(&short, 5, 1 << 20);
    let refused = ship(&short);
    assert_eq!(refused.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("beyond the log's last record"));
}

#[test]
fn a_tampered_log_is_not_shipped_past_the_damage() {
    let store = pg::Server::shared().fresh_store("ship_tampered");
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("log");
    write_log(&log, 10, 1 << 20);
    let segment = common::segments(&log).pop().unwrap();
    let text = std::fs::read_to_string(&segment).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let edited = lines[6].replacen("post:", "page:", 1);
    assert_ne!(edited, lines[6]);
    let mut forged = lines.clone();
    forged[6] = &edited;
    std::fs::write(&segment, forged.join("\n") + "\n").unwrap();
    let output = audit(&[
        "ship",
        "--log",
        log.to_str().unwrap(),
        "--db",
        &store.writer,
        "--stream",
        "t",
        "--once",
    ]);
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("does not verify at seq 6"), "{stderr}");
    assert_eq!(
        stored(&store.writer, "t"),
        Some(6),
        "everything before the damage was shipped"
    );
}
