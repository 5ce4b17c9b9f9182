//! `audit watch --db` follows a stream of a real PostgreSQL store, as the
//! reader role: alerts for what the writers insert, state across restarts,
//! and an integrity alert for a row edited behind the store's back.

mod common;
#[path = "common/pg.rs"]
mod pg;
#[path = "common/watch.rs"]
mod watch;

use std::time::Duration;

use audit_layer::{AuditEvent, AuditWriter, PgSink};
use watch::{alerts, event, run_watch};

const STREAM: &str = "clinic-api@db-1/1";

const RULES: &str = r#"
[defaults]
suppress = "0s"
[[rule]]
name = "three-reads"
kind = "threshold"
severity = "high"
message = "{key} read {count} records"
where = { action = "patient.read" }
group_by = "actor"
distinct = "resource"
at_least = 3
within = "1h"
"#;

fn insert(url: &str, events: Vec<AuditEvent>) {
    let (audit, guard) = AuditWriter::builder()
        .spawn(PgSink::connect(url, STREAM).unwrap())
        .unwrap();
    for event in events {
        audit.submit(event).unwrap();
    }
    guard.shutdown(Duration::from_secs(20)).unwrap();
}

fn read(actor: &str, n: u64) -> AuditEvent {
    event("patient.read", actor, n)
        .resource(format!("patient:{n}"))
        .build()
}

#[test]
fn a_store_stream_is_watched_across_restarts_and_an_edited_row_is_alerted() {
    let store = pg::Server::shared().fresh_store("watch_stream");
    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("rules.toml");
    std::fs::write(&rules, RULES).unwrap();
    let state = dir.path().join("state");
    let once = || {
        run_watch(&[
            "--rules",
            rules.to_str().unwrap(),
            "--db",
            &store.reader,
            "--stream",
            STREAM,
            "--state",
            state.to_str().unwrap(),
            "--once",
        ])
    };
    insert(&store.writer, vec![read("amy", 0), read("amy", 1)]);
    let first = once();
    assert_eq!(
        first.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    assert!(first.stdout.is_empty());

    insert(&store.writer, vec![read("amy", 2)]);
    let second = once();
    let raised = alerts(&second.stdout);
    assert_eq!(raised.len(), 1, "{raised:#?}");
    assert_eq!(raised[0]["message"], "amy read 3 records");
    assert_eq!(raised[0]["source"], format!("db:{STREAM}"));
    assert_eq!(watch::seqs(&raised[0]), [0, 1, 2]);

    // A superuser switches the append-only triggers off and edits a row
    // the watch already read.
    let mut admin = store.superuser();
    admin
        .batch_execute(&format!(
            "SET session_replication_role = replica;
             UPDATE audit.records SET line = convert_to(replace(convert_from(line, 'UTF8'), 'patient:1', 'patient:9'), 'UTF8') WHERE stream = '{STREAM}' AND seq = 1;
             SET session_replication_role = DEFAULT"
        ))
        .unwrap();
    let third = once();
    let raised = alerts(&third.stdout);
    let keys: Vec<&str> = raised.iter().map(|a| a["key"].as_str().unwrap()).collect();
    assert_eq!(keys, ["modified", "column-mismatch"], "{raised:#?}");
    assert!(
        raised
            .iter()
            .all(|a| a["rule"] == "integrity" && watch::seqs(a).is_empty())
    );
    assert!(once().stdout.is_empty(), "each finding is alerted once");
}
