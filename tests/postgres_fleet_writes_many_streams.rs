//! Many writers, one store: two services writing through `PgSink` and two
//! file logs shipped by `audit ship`, all at once, give four streams that
//! each verify; a `PgSink` loses nothing when the database is killed and
//! restarted under it; a hostile record (megabyte strings, control
//! characters, NUL, bidi overrides) is stored and verified byte for byte.

mod common;
#[path = "common/pg.rs"]
mod pg;

use std::time::Duration;

use audit_layer::{
    AuditEvent, AuditWriter, Durability, FileSink, PgError, PgSink, PgStore, Verifier,
};
use common::run_audit as audit;

#[test]
fn four_writers_at_once_make_four_verifying_streams() {
    let store = pg::Server::shared().fresh_store("fleet_four");
    let dir = tempfile::tempdir().unwrap();
    std::thread::scope(|scope| {
        for name in ["pg-a", "pg-b"] {
            let url = store.writer.clone();
            scope.spawn(move || {
                let sink = PgSink::connect(&url, name).unwrap();
                let (handle, guard) = AuditWriter::builder().service(name).spawn(sink).unwrap();
                for event in common::varied_events(1500) {
                    handle.submit(event).unwrap();
                }
                guard.shutdown(Duration::from_secs(30)).unwrap();
            });
        }
        for name in ["file-a", "file-b"] {
            let log = dir.path().join(name);
            let url = store.writer.clone();
            scope.spawn(move || {
                let sink = FileSink::builder(&log)
                    .max_segment_bytes(32 * 1024)
                    .open()
                    .unwrap();
                let (handle, guard) = AuditWriter::builder().service(name).spawn(sink).unwrap();
                for (n, event) in common::varied_events(1500).into_iter().enumerate() {
                    handle.submit(event).unwrap();
                    if n % 500 == 499 {
                        handle.flush().unwrap();
                        let output = audit(&[
                            "ship",
                            "--log",
                            log.to_str().unwrap(),
                            "--db",
                            &url,
                            "--stream",
                            name,
                            "--once",
                        ]);
                        assert!(
                            output.status.success(),
                            "{}",
                            String::from_utf8_lossy(&output.stderr)
                        );
                    }
                }
                guard.shutdown(Duration::from_secs(30)).unwrap();
                let output = audit(&[
                    "ship",
                    "--log",
                    log.to_str().unwrap(),
                    "--db",
                    &url,
                    "--stream",
                    name,
                    "--once",
                ]);
                assert!(
                    output.status.success(),
                    "{}",
                    String::from_utf8_lossy(&output.stderr)
                );
            });
        }
    });
    let mut reader = PgStore::connect(&store.reader).unwrap();
    let streams = reader.streams().unwrap();
    let names: Vec<&str> = streams.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["file-a", "file-b", "pg-a", "pg-b"]);
    for stream in &streams {
        let report = Verifier::new()
            .verify_stream(&mut reader, &stream.name)
            .unwrap();
        assert!(report.is_intact(), "{}: {:?}", stream.name, report.findings);
        assert!(
            report.records >= 1500,
            "{}: {}",
            stream.name,
            report.records
        );
        assert_eq!(Some(stream.records - 1), stream.last_seq);
    }
    for name in ["file-a", "file-b"] {
        let files = Verifier::new().verify_path(dir.path().join(name)).unwrap();
        let stored = Verifier::new().verify_stream(&mut reader, name).unwrap();
        assert_eq!((stored.records, stored.head), (files.records, files.head));
    }
}

#[test]
fn one_stream_has_one_writer() {
    let store = pg::Server::shared().fresh_store("fleet_one_writer");
    let _first = PgSink::connect(&store.writer, "svc@host").unwrap();
    let second = PgSink::connect(&store.writer, "svc@host");
    assert!(matches!(second, Err(PgError::StreamBusy(_))), "{second:?}");
    let stream_error = PgSink::connect(&store.writer, "bad\nname");
    assert!(matches!(stream_error, Err(PgError::StreamName(_))));
}

#[test]
fn a_sink_loses_nothing_when_the_database_restarts_under_it() {
    let server = pg::Server::own();
    let store = server.fresh_store("sink_restart");
    let sink = PgSink::connect(&store.writer, "svc@host").unwrap();
    // Commits once an hour (or a second, the sink's bound): rows wait in an
    // open transaction when the server dies.
    let (handle, guard) = AuditWriter::builder()
        .durability(Durability::Interval(Duration::from_secs(3600)))
        .spawn(sink)
        .unwrap();
    let mut events = common::varied_events(600).into_iter();
    for event in events.by_ref().take(200) {
        handle.submit(event).unwrap();
    }
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while handle.stats().written < 200 {
        assert!(
            std::time::Instant::now() < deadline,
            "the writer stores the first rows"
        );
        std::thread::yield_now();
    }
    server.kill();
    for event in events.by_ref().take(200) {
        handle.submit(event).unwrap();
    }
    server.restart();
    for event in events {
        handle.submit(event).unwrap();
    }
    guard.shutdown(Duration::from_secs(60)).unwrap();
    let mut reader = PgStore::connect(&store.reader).unwrap();
    let report = Verifier::new()
        .verify_stream(&mut reader, "svc@host")
        .unwrap();
    assert!(report.is_intact(), "{:?}", report.findings);
    let shown = audit(&["show", "--db", &store.reader, "--json", "--no-system"]);
    let records: serde_json::Value = serde_json::from_slice(&shown.stdout).unwrap();
    assert_eq!(
        records.as_array().unwrap().len(),
        600,
        "every record is stored once"
    );
}

#[test]
fn a_hostile_record_is_stored_and_verified_byte_for_byte() {
    let store = pg::Server::shared().fresh_store("hostile_record");
    let megabyte = "x".repeat(1 << 20);
    let hostile = format!("a\0b\n\r\u{1b}[31m\u{202e}evil\u{7f}\"'\\{megabyte}");
    let sink = PgSink::connect(&store.writer, "svc@host").unwrap();
    let (handle, guard) = AuditWriter::builder().spawn(sink).unwrap();
    handle
        .submit(
            AuditEvent::builder("post.edit")
                .actor(hostile.clone())
                .resource(hostile.clone())
                .context("note", hostile.clone())
                .after(serde_json::json!({ "body": hostile }))
                .build(),
        )
        .unwrap();
    handle
        .submit(AuditEvent::builder("post.view").actor("bob").build())
        .unwrap();
    guard.shutdown(Duration::from_secs(30)).unwrap();

    let mut reader = PgStore::connect(&store.reader).unwrap();
    let report = Verifier::new()
        .verify_stream(&mut reader, "svc@host")
        .unwrap();
    assert!(report.is_intact(), "{:?}", report.findings);
    // The line is kept exactly; the record read back is the one written.
    let filter = audit_layer::RecordFilter::new().resource(hostile.clone());
    let mut found = Vec::new();
    audit_layer::select_stored(&mut reader, None, &filter, |stored| {
        found.push(stored);
        Ok(())
    })
    .unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].problem, None);
    assert_eq!(found[0].record.actor.as_deref(), Some(hostile.as_str()));
    assert_eq!(
        found[0].record.after.as_ref().unwrap()["body"],
        hostile.as_str()
    );
    // The person's view escapes it.
    let table = audit(&["show", "--db", &store.reader]);
    let text = String::from_utf8_lossy(&table.stdout);
    assert!(!text.contains('\u{1b}') && !text.contains('\u{202e}') && !text.contains('\0'));
}
