//! A file log continues its chain across restarts and segments, repairs a
//! torn tail left by a crash (keeping the bytes and noting the repair), keeps
//! other users out, and never lets two writers fork the chain.

mod common;

use std::fs;
use std::io::{ErrorKind, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::Duration;

use audit_layer::{
    AuditEvent, AuditRecord, AuditWriter, FileSink, FindingCode, MemorySink, RecordKind, Verifier,
};

use common::{line_ranges, segments, varied_events};

const WAIT: Duration = Duration::from_secs(10);

fn write(dir: &Path, events: Vec<AuditEvent>, max_segment_bytes: u64) {
    let sink = FileSink::builder(dir)
        .max_segment_bytes(max_segment_bytes)
        .open()
        .unwrap();
    let (handle, guard) = AuditWriter::builder().spawn(sink).unwrap();
    for event in events {
        handle.submit(event).unwrap();
    }
    guard.shutdown(WAIT).unwrap();
}

fn records(dir: &Path) -> Vec<AuditRecord> {
    segments(dir)
        .iter()
        .flat_map(|path| {
            let bytes = fs::read(path).unwrap();
            line_ranges(&bytes)
                .into_iter()
                .map(move |r| AuditRecord::from_line(&bytes[r]).unwrap())
        })
        .collect()
}

#[test]
fn a_restart_continues_seq_and_chain() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), varied_events(5), 1 << 30);
    write(dir.path(), varied_events(5), 1 << 30);
    let report = Verifier::new().verify_path(dir.path()).unwrap();
    assert!(report.is_intact(), "{:#?}", report.findings);
    let seqs: Vec<u64> = records(dir.path()).iter().map(|r| r.seq).collect();
    assert_eq!(seqs, (0..10).collect::<Vec<_>>());
}

#[test]
fn segments_rotate_by_size_and_link_to_each_other() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), varied_events(40), 2048);
    let paths = segments(dir.path());
    assert!(paths.len() >= 5, "only {} segments", paths.len());
    for path in &paths {
        let size = fs::metadata(path).unwrap().len();
        let lines = line_ranges(&fs::read(path).unwrap()).len();
        assert!(
            size <= 2048 || lines == 1,
            "{} is {size} bytes",
            path.display()
        );
    }
    // Each segment is named for its first record, which links to the last record of the one before.
    let all = records(dir.path());
    for path in &paths[1..] {
        let bytes = fs::read(path).unwrap();
        let first = AuditRecord::from_line(&bytes[line_ranges(&bytes)[0].clone()]).unwrap();
        let name = path.file_name().unwrap().to_str().unwrap();
        assert_eq!(name, format!("segment-{:020}.jsonl", first.seq));
        assert_eq!(first.prev, all[first.seq as usize - 1].hash);
    }
    let report = Verifier::new().verify_path(dir.path()).unwrap();
    assert!(report.is_intact(), "{:#?}", report.findings);
    assert_eq!((report.records, report.segments), (40, paths.len()));

    // A whole segment deleted from the middle is a run of missing records.
    fs::remove_file(&paths[2]).unwrap();
    let report = Verifier::new().verify_path(dir.path()).unwrap();
    let codes: Vec<_> = report.findings.iter().map(|f| f.code).collect();
    assert_eq!(codes, vec![FindingCode::Missing]);
}

#[test]
fn a_torn_tail_is_repaired_and_noted_at_every_cut() {
    let original = common::write_log(varied_events(3));
    let last = line_ranges(&original).pop().unwrap();
    for cut in last.start + 1..last.end {
        let (_, log) = MemorySink::new();
        log.set_bytes(original[..cut].to_vec());
        let (handle, guard) = AuditWriter::builder()
            .spawn(MemorySink::continuing(log.clone()))
            .unwrap();
        handle
            .submit(AuditEvent::builder("after.restart").build())
            .unwrap();
        guard.shutdown(WAIT).unwrap();
        assert!(
            log.verify().is_intact(),
            "cut at {cut}: {:#?}",
            log.verify().findings
        );
        let records = log.records().unwrap();
        let actions: Vec<_> = records.iter().map(|r| r.action.as_str()).collect();
        assert_eq!(
            &actions[2..],
            ["audit.repair.torn_tail", "after.restart"],
            "cut at {cut}"
        );
        assert_eq!(
            records[2].after.as_ref().unwrap()["length"],
            (cut - last.start) as u64
        );
    }
}

#[test]
fn a_torn_file_tail_is_repaired_and_its_bytes_kept() {
    let template = tempfile::tempdir().unwrap();
    write(template.path(), varied_events(3), 1 << 30);
    let segment = segments(template.path()).remove(0);
    let original = fs::read(&segment).unwrap();
    let last = line_ranges(&original).pop().unwrap();
    let middle = (last.start + last.end) / 2;

    for cut in [
        last.start + 1,
        last.start + 12,
        last.start + 90,
        middle,
        last.end - 3,
        // (Cut at last.end - 1, the record lacks only its newline: the writer
        // keeps it; tests/writer_never_follows_planted_links.rs covers that.)
    ] {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(segment.file_name().unwrap());
        fs::write(&path, &original[..cut]).unwrap();

        let before = Verifier::new().verify_path(dir.path()).unwrap();
        let codes: Vec<_> = before.findings.iter().map(|f| f.code).collect();
        assert_eq!(codes, vec![FindingCode::TornTail], "cut at {cut}");

        write(
            dir.path(),
            vec![AuditEvent::builder("after.restart").build()],
            1 << 30,
        );
        let after = Verifier::new().verify_path(dir.path()).unwrap();
        assert!(after.is_intact(), "cut at {cut}: {:#?}", after.findings);

        let records = records(dir.path());
        let repair = &records[2];
        assert_eq!(
            (repair.kind, repair.action.as_str()),
            (RecordKind::System, "audit.repair.torn_tail")
        );
        let details = repair.after.as_ref().unwrap();
        assert_eq!(details["offset"], last.start as u64);
        assert_eq!(details["length"], (cut - last.start) as u64);
        // Named relative to the log directory, inside it.
        let saved = details["saved_to"].as_str().unwrap();
        assert!(saved.starts_with("recovered/"), "{saved}");
        let saved = dir.path().join(saved);
        assert_eq!(fs::read(&saved).unwrap(), &original[last.start..cut]);
        assert_eq!(
            fs::metadata(&saved).unwrap().permissions().mode() & 0o777,
            0o600
        );
        assert_eq!(records[3].action, "after.restart");
        assert_eq!(records[3].seq, 3);
    }
}

#[test]
fn files_are_owner_only_whatever_the_umask() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("nested").join("audit-log");
    write(&log, varied_events(3), 1 << 30);
    assert_eq!(
        fs::metadata(&log).unwrap().permissions().mode() & 0o777,
        0o700
    );
    // Every file 0600 and every directory (the tiles') 0700, all the way down.
    let mut pending = vec![log.clone()];
    let mut files = 0;
    while let Some(dir) = pending.pop() {
        for entry in fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let metadata = fs::symlink_metadata(&path).unwrap();
            let expected = if metadata.is_dir() {
                pending.push(path.clone());
                0o700
            } else {
                files += 1;
                0o600
            };
            assert_eq!(
                metadata.permissions().mode() & 0o777,
                expected,
                "{}",
                path.display()
            );
        }
    }
    assert!(files >= 2, "the segment and the tiles' marker");
}

#[test]
fn a_second_writer_on_the_same_directory_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let first = FileSink::open(dir.path()).unwrap();
    let error = FileSink::open(dir.path()).unwrap_err();
    assert_eq!(error.kind(), ErrorKind::WouldBlock);
    assert!(error.to_string().contains("fork the chain"), "{error}");
    drop(first);
    FileSink::open(dir.path()).expect("the lock is released with the sink");
}

#[test]
fn junk_appended_without_a_newline_is_not_mistaken_for_a_crash() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), varied_events(2), 1 << 30);
    let path = segments(dir.path()).remove(0);
    fs::OpenOptions::new()
        .append(true)
        .open(&path)
        .unwrap()
        .write_all(b"hello")
        .unwrap();
    let report = Verifier::new().verify_path(dir.path()).unwrap();
    let codes: Vec<_> = report.findings.iter().map(|f| f.code).collect();
    assert_eq!(codes, vec![FindingCode::Malformed]);
    assert!(report.shows_tampering());
}
