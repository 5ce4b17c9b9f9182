//! The PostgreSQL store: how fast records get in (`audit ship`, `PgSink`)
//! against a naive peer that inserts each record in its own transaction,
//! how fast `audit verify --db` reads them back against `audit verify` on
//! the same records in files, and (`store-queries`) how fast the indexed
//! queries answer on a large store against the same query over files. The
//! server is a throwaway cluster with PostgreSQL's default durability
//! (fsync on), started for the run.

use std::path::Path;
use std::time::{Duration, Instant};

use audit_layer::{AuditRecord, AuditWriter, Durability, PgSink};

use crate::median;
use crate::pg;
use crate::reading::{audit_binary, run_measured};
use crate::workload::sample_event;

/// Runs `audit ARGS` to completion and returns its wall time.
fn timed_audit(args: &[&str]) -> Duration {
    let (elapsed, _, _) = run_measured(&audit_binary(), args, false);
    elapsed
}

/// The naive peer: each record its own INSERT, in its own autocommit
/// transaction, over one connection, with a prepared statement.
fn naive_inserts(url: &str, lines: &[String]) -> f64 {
    let mut client = postgres::Client::connect(url, postgres::NoTls).expect("connect");
    let insert = client
        .prepare(
            "INSERT INTO audit.records (stream, seq, hash, prev, time, kind, action, actor, resource, outcome, category, service, host, line)
             VALUES ('naive', $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
        )
        .expect("prepare");
    let start = Instant::now();
    for line in lines {
        let record = AuditRecord::from_line(line.as_bytes()).expect("a record");
        let category = record.outcome.kind().map(|k| k.as_str().to_owned());
        client
            .execute(
                &insert,
                &[
                    &(record.seq as i64),
                    &record.hash.as_bytes().as_slice(),
                    &record.prev.as_bytes().as_slice(),
                    &record.time.as_system_time(),
                    &record.kind.as_str(),
                    &record.action,
                    &record.actor,
                    &record.resource,
                    &record.outcome.status(),
                    &category,
                    &record.service,
                    &record.host,
                    &line.as_bytes(),
                ],
            )
            .expect("insert");
    }
    lines.len() as f64 / start.elapsed().as_secs_f64()
}

fn first_lines(log: &Path, count: usize) -> Vec<String> {
    let mut segments: Vec<_> = std::fs::read_dir(log)
        .expect("read dir")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "jsonl"))
        .collect();
    segments.sort();
    let text = std::fs::read_to_string(&segments[0]).expect("read segment");
    text.lines().take(count).map(str::to_owned).collect()
}

/// Ingest and verify rows: `records` records through each way in.
pub(crate) fn rows(scratch: &Path, records: u64) {
    let server = pg::Server::own_durable();
    let store = server.fresh_store("bench_store");
    let log = scratch.join("store-log");
    crate::write_log_of(&log, records, sample_event);
    let log_arg = log.to_str().expect("utf-8 path");

    let naive_count = 20_000.min(records as usize);
    let naive = naive_inserts(&store.writer, &first_lines(&log, naive_count));

    let shipped = timed_audit(&[
        "ship",
        "--log",
        log_arg,
        "--db",
        &store.writer,
        "--stream",
        "shipped",
        "--once",
    ]);
    let ship_rate = records as f64 / shipped.as_secs_f64();
    println!(
        "| `audit ship` into PostgreSQL (fsync on), {records} records, batches of 10,000 | {:.0} k records/s | one INSERT per autocommit transaction ({naive_count} records): {:.1} k/s | {:.0} |",
        ship_rate / 1e3,
        naive / 1e3,
        ship_rate / naive
    );

    let mut rates = Vec::new();
    for round in 0..3 {
        let sink = PgSink::connect(&store.writer, &format!("sink-{round}")).expect("connect");
        let (handle, guard) = AuditWriter::builder()
            .durability(Durability::GroupCommit)
            .spawn(sink)
            .expect("spawn");
        let start = Instant::now();
        for n in 0..records {
            handle.submit(sample_event(n)).expect("submit");
        }
        guard.shutdown(Duration::from_secs(600)).expect("shutdown");
        rates.push(records as f64 / start.elapsed().as_secs_f64());
    }
    let sink_rate = median(rates);
    println!(
        "| `PgSink` (group commit: one COPY and commit per batch), {records} records, median of 3 | {:.0} k records/s | one INSERT per autocommit transaction: {:.1} k/s | {:.0} |",
        sink_rate / 1e3,
        naive / 1e3,
        sink_rate / naive
    );

    // As routine maintenance leaves it: hint bits set, statistics known,
    // and no autovacuum competing with the reader.
    let _ = postgres::Client::connect(&store.admin, postgres::NoTls)
        .and_then(|mut admin| admin.batch_execute("VACUUM ANALYZE audit.records"));
    let on_files = median(
        (0..3)
            .map(|_| timed_audit(&["verify", log_arg]).as_secs_f64())
            .collect(),
    );
    let on_store = median(
        (0..3)
            .map(|_| {
                timed_audit(&["verify", "--db", &store.reader, "--stream", "shipped"]).as_secs_f64()
            })
            .collect(),
    );
    println!(
        "| `audit verify --db`, {records} records, median of 3 | {:.0} k records/s | `audit verify` of the same records in files: {:.0} k/s | {:.2} |",
        records as f64 / on_store / 1e3,
        records as f64 / on_files / 1e3,
        on_files / on_store
    );
}

/// Query rows on a store of `records` records, against the same query over files.
pub(crate) fn query_rows(scratch: &Path, records: u64) {
    let server = pg::Server::own_durable();
    let store = server.fresh_store("bench_queries");
    let log = scratch.join("query-log");
    crate::write_log_of(&log, records, sample_event);
    let log_arg = log.to_str().expect("utf-8 path");
    let shipped = timed_audit(&[
        "ship",
        "--log",
        log_arg,
        "--db",
        &store.writer,
        "--stream",
        "big",
        "--once",
    ]);
    println!(
        "| `audit ship`, {records} records (building the store) | {:.0} k records/s | | |",
        records as f64 / shipped.as_secs_f64() / 1e3
    );
    let _ = postgres::Client::connect(&store.admin, postgres::NoTls)
        .and_then(|mut admin| admin.batch_execute("VACUUM ANALYZE audit.records"));
    let cases: [(&str, Vec<&str>, Vec<&str>); 2] = [
        (
            "`audit timeline post:42` (10 matches)",
            vec!["timeline", "post:42", "--db", &store.reader],
            vec!["timeline", "post:42", "--log", log_arg],
        ),
        (
            "`audit show --actor user-000042 --since 1h` (100 matches)",
            vec![
                "show",
                "--actor",
                "user-000042",
                "--since",
                "1h",
                "--db",
                &store.reader,
            ],
            vec![
                "show",
                "--actor",
                "user-000042",
                "--since",
                "1h",
                "--log",
                log_arg,
            ],
        ),
    ];
    for (name, on_store, on_files) in cases {
        let _ = timed_audit(&on_store);
        let store_time = median(
            (0..5)
                .map(|_| timed_audit(&on_store).as_secs_f64())
                .collect(),
        );
        let files_time = timed_audit(&on_files).as_secs_f64();
        println!(
            "| {name} on a store of {records} records, median of 5, whole process | {:.0} ms | the same over files (one run): {:.1} s | {:.0}× faster |",
            store_time * 1e3,
            files_time,
            files_time / store_time
        );
    }
}
