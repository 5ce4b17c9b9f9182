//! A PostgreSQL superuser can go behind the triggers; `audit verify --db`
//! still catches what they change, with the code it has on files: an
//! edited line (modified), an edited column under an untouched line
//! (column-mismatch), a deleted row (missing), an inserted row, a re-linked
//! row (broken-link); and the readers mark the record UNVERIFIED.

mod common;
#[path = "common/pg.rs"]
mod pg;

use std::time::Duration;

use audit_layer::{AuditWriter, FindingCode, PgSink, PgStore, Verifier};
use common::run_audit as audit;

const STREAM: &str = "blog-api@web-1";

/// A store holding 12 records in one stream, and a superuser connection
/// whose triggers are off (what a superuser can always do).
fn tampered(name: &str, sql: &str) -> (pg::Store, audit_layer::Report) {
    let store = pg::Server::shared().fresh_store(name);
    let sink = PgSink::connect(&store.writer, STREAM).unwrap();
    let (handle, guard) = AuditWriter::builder().spawn(sink).unwrap();
    for event in common::varied_events(12) {
        handle.submit(event).unwrap();
    }
    guard.shutdown(Duration::from_secs(10)).unwrap();
    let mut admin = store.superuser();
    admin
        .batch_execute(&format!(
            "SET session_replication_role = replica; {sql}; SET session_replication_role = DEFAULT"
        ))
        .unwrap();
    let mut reader = PgStore::connect(&store.reader).unwrap();
    let report = Verifier::new().verify_stream(&mut reader, STREAM).unwrap();
    (store, report)
}

fn codes(report: &audit_layer::Report) -> Vec<FindingCode> {
    report.finding_counts.keys().copied().collect()
}

#[test]
fn an_edited_column_under_an_untouched_line_is_a_finding() {
    let (store, report) = tampered(
        "tamper_column",
        "UPDATE audit.records SET actor = 'nobody' WHERE seq = 5",
    );
    assert_eq!(codes(&report), [FindingCode::ColumnMismatch]);
    assert!(report.shows_tampering());
    assert_eq!(report.findings[0].seq, Some(5));
    assert!(report.findings[0].message.contains("`actor`"));
    let output = audit(&["verify", "--db", &store.reader, "--stream", STREAM]);
    assert_eq!(output.status.code(), Some(1));
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(text.contains("column-mismatch"), "{text}");
    // A query on the edited column shows the record, marked.
    let shown = audit(&["show", "--actor", "nobody", "--db", &store.reader]);
    assert_eq!(shown.status.code(), Some(1));
    let text = String::from_utf8_lossy(&shown.stdout);
    assert!(
        text.contains("UNVERIFIED") || text.contains("column-mismatch"),
        "{text}"
    );
}

#[test]
fn an_edited_line_is_modified() {
    let (store, report) = tampered(
        "tamper_line",
        "UPDATE audit.records SET line = convert_to(replace(convert_from(line, 'UTF8'), 'post:', 'page:'), 'UTF8') WHERE seq = 3",
    );
    assert!(
        codes(&report).contains(&FindingCode::Modified),
        "{:?}",
        report.findings
    );
    let shown = audit(&["show", "--db", &store.reader, "--stream", STREAM, "--json"]);
    assert_eq!(shown.status.code(), Some(1));
    let records: serde_json::Value = serde_json::from_slice(&shown.stdout).unwrap();
    let third = &records[3];
    assert_eq!(third["verified"], false);
    assert_eq!(third["problem"], "modified");
    assert_eq!(records[4]["verified"], true);
}

#[test]
fn a_deleted_row_is_missing() {
    let (store, report) = tampered("tamper_delete", "DELETE FROM audit.records WHERE seq = 7");
    assert_eq!(
        codes(&report),
        [FindingCode::Missing],
        "{:?}",
        report.findings
    );
    let timeline = audit(&["show", "--db", &store.reader, "--json"]);
    let records: serde_json::Value = serde_json::from_slice(&timeline.stdout).unwrap();
    let after_gap = records
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["seq"] == 8)
        .unwrap();
    assert_eq!(after_gap["problem"], "missing");
}

#[test]
fn an_inserted_row_is_caught() {
    // A copy of record 2 stored again as seq 12: its line says seq 2.
    let (_store, report) = tampered(
        "tamper_insert",
        "INSERT INTO audit.records (stream, seq, hash, prev, time, kind, action, actor, resource, outcome, category, service, host, line)
         SELECT stream, 12, hash, prev, time, kind, action, actor, resource, outcome, category, service, host, line
         FROM audit.records WHERE seq = 2",
    );
    assert!(report.shows_tampering(), "{:?}", report.findings);
    assert!(codes(&report).contains(&FindingCode::ColumnMismatch));
}

#[test]
fn a_rewritten_history_is_caught_by_its_link() {
    // Record 6 replaced by record 6 of another history: whole and hashing,
    // but not linked to record 5.
    let (_store, report) = tampered(
        "tamper_relink",
        "UPDATE audit.records SET prev = hash, line = convert_to(replace(convert_from(line, 'UTF8'), '\"prev\":\"', '\"prev\":\"f'), 'UTF8') WHERE seq = 6",
    );
    assert!(report.shows_tampering(), "{:?}", report.findings);
}
