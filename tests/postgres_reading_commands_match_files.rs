//! `audit verify|show|timeline|export --db` say what they say on files: the
//! same records, the same findings and the same exit codes, from a log
//! shipped into a real PostgreSQL store by `audit ship`.

mod common;
#[path = "common/pg.rs"]
mod pg;

use std::path::Path;
use std::process::Output;
use std::time::Duration;

use audit_layer::{AuditWriter, FileSink};
use common::run_audit as audit;

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn write_log(dir: &Path, records: usize) {
    let sink = FileSink::builder(dir)
        .max_segment_bytes(8 * 1024)
        .open()
        .unwrap();
    let (handle, guard) = AuditWriter::builder()
        .service("blog-api")
        .spawn(sink)
        .unwrap();
    for event in common::varied_events(records) {
        handle.submit(event).unwrap();
    }
    guard.shutdown(Duration::from_secs(10)).unwrap();
}

fn ship(log: &Path, url: &str, stream: &str) -> Output {
    let output = audit(&[
        "ship",
        "--log",
        log.to_str().unwrap(),
        "--db",
        url,
        "--stream",
        stream,
        "--once",
        "--json",
    ]);
    assert!(
        output.status.success(),
        "ship failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

/// Every line but the last (the verdict, which says where records came from).
fn records_part(text: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[..lines.len().saturating_sub(1)].join("\n")
}

#[test]
fn every_reading_command_agrees_with_files() {
    let store = pg::Server::shared().fresh_store("commands_agree");
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("log");
    write_log(&log, 120);
    let log = log.to_str().unwrap();
    let shipped = ship(Path::new(log), &store.writer, "blog-api@web-1");
    let last: serde_json::Value =
        serde_json::from_str(stdout(&shipped).lines().last().unwrap()).unwrap();
    assert_eq!(last["shipped"], 120);
    assert_eq!(last["stored_through"], 119);
    assert_eq!(last["done"], true);

    let db = ["--db", &store.reader, "--stream", "blog-api@web-1"];
    let on_files = audit(&["verify", log]);
    let on_store = audit(&[&["verify"][..], &db].concat());
    assert_eq!(on_files.status.code(), Some(0));
    assert_eq!(on_store.status.code(), Some(0));
    assert_eq!(stdout(&on_store), stdout(&on_files));

    for query in [
        &["show", "--actor", "user-1"][..],
        &["show", "--action", "post.*", "--outcome", "denied"][..],
        &["show", "--resource", "post:3", "--json"][..],
        &["timeline", "post:2"][..],
    ] {
        let on_files = audit(&[query, &["--log", log]].concat());
        let on_store = audit(&[query, &db].concat());
        assert_eq!(on_files.status.code(), Some(0), "{query:?}");
        assert_eq!(on_store.status.code(), Some(0), "{query:?}");
        let (files_text, store_text) = (stdout(&on_files), stdout(&on_store));
        if query.contains(&"--json") {
            assert_eq!(store_text, files_text, "{query:?}");
        } else {
            assert_eq!(
                records_part(&store_text),
                records_part(&files_text),
                "{query:?}"
            );
        }
        assert!(
            files_text.lines().count() > 3,
            "{query:?} selected records: {files_text}"
        );
    }
    let on_files = audit(&["export", "--format", "ecs", "--log", log]);
    let on_store = audit(&[&["export", "--format", "ecs"][..], &db].concat());
    assert_eq!(on_store.status.code(), Some(0));
    assert_eq!(stdout(&on_store), stdout(&on_files));
    assert_eq!(stdout(&on_store).lines().count(), 120);

    // Shipping again adds nothing and loses nothing.
    let again = ship(Path::new(log), &store.writer, "blog-api@web-1");
    let last: serde_json::Value =
        serde_json::from_str(stdout(&again).lines().last().unwrap()).unwrap();
    assert_eq!(last["shipped"], 0);
    assert_eq!(last["stored_through"], 119);
}

#[test]
fn streams_lists_each_stream_with_its_verdict() {
    let store = pg::Server::shared().fresh_store("streams_listed");
    let dir = tempfile::tempdir().unwrap();
    for (name, records) in [("a", 5), ("b", 9)] {
        let log = dir.path().join(name);
        write_log(&log, records);
        ship(&log, &store.writer, &format!("svc@{name}"));
    }
    let output = audit(&["streams", "--db", &store.reader, "--json"]);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let streams: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let streams = streams.as_array().unwrap();
    assert_eq!(streams.len(), 2);
    assert_eq!(streams[0]["stream"], "svc@a");
    assert_eq!(streams[0]["records"], 5);
    assert_eq!(streams[1]["records"], 9);
    assert_eq!(streams[1]["last_seq"], 8);
    assert!(streams.iter().all(|s| s["verifies"] == true));
    // When each stream's last record was stored, and how long after its time.
    assert!(
        streams[0]["last_stored"]
            .as_str()
            .unwrap()
            .starts_with("20")
    );
    assert!(streams[0]["last_stored_after_seconds"].as_f64().unwrap() >= 0.0);
    let human = audit(&["streams", "--db", &store.reader]);
    assert!(stdout(&human).contains("svc@b"), "{}", stdout(&human));
    // Verify without --stream checks every stream, each under its name.
    let all = audit(&["verify", "--db", &store.reader]);
    assert_eq!(all.status.code(), Some(0));
    assert!(stdout(&all).contains("== stream svc@a"), "{}", stdout(&all));
}
