//! The writer writes only inside its log, only to files it made or checked:
//! a link planted at a segment's, a future segment's, `recovered/`'s, an
//! anchor's or the seals file's path is never followed; a directory open to
//! others is tightened or refused; and the lock cannot be lifted by
//! deleting a file.

mod common;

use std::os::unix::fs::{MetadataExt, PermissionsExt, symlink};
use std::path::Path;
use std::time::Duration;

use audit_layer::{
    AuditEvent, AuditWriter, FileSink, ForwardSeals, RetentionPolicy, SealingKey, Verifier,
};

fn event(n: usize) -> AuditEvent {
    AuditEvent::builder("post.edit")
        .actor("alice")
        .resource(format!("post:{n}"))
        .build()
}

/// Starts a writer on `log`, writes events `range` and shuts it down.
fn write_events(log: &Path, range: std::ops::Range<usize>) {
    let (handle, guard) = AuditWriter::builder()
        .spawn(FileSink::open(log).unwrap())
        .unwrap();
    for n in range {
        handle.submit(event(n)).unwrap();
    }
    guard.shutdown(Duration::from_secs(5)).unwrap();
}

/// A file outside the log that must stay exactly as it is.
fn bystander(dir: &Path) -> std::path::PathBuf {
    let path = dir.join("bystander");
    std::fs::write(&path, "precious\n").unwrap();
    path
}

fn unchanged(path: &Path) {
    assert_eq!(std::fs::read_to_string(path).unwrap(), "precious\n");
}

#[test]
fn a_link_at_a_future_segment_is_refused_not_followed() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("log");
    let target = bystander(dir.path());
    let sink = FileSink::builder(&log)
        .max_segment_bytes(600)
        .open()
        .unwrap();
    // The second segment will start at seq 1 (each record is ~300 bytes).
    for seq in 1..6 {
        symlink(&target, log.join(format!("segment-{seq:020}.jsonl"))).unwrap();
    }
    // The writer refuses to start on a log with planted links.
    let error = AuditWriter::builder().spawn(sink).unwrap_err();
    assert!(error.to_string().contains("symbolic link"), "{error}");
    unchanged(&target);
}

#[test]
fn a_link_planted_while_the_writer_runs_is_not_written_through() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("log");
    let target = bystander(dir.path());
    let sink = FileSink::builder(&log)
        .max_segment_bytes(400)
        .open()
        .unwrap();
    let (handle, guard) = AuditWriter::builder().spawn(sink).unwrap();
    handle.submit(event(0)).unwrap();
    handle.flush().unwrap();
    for seq in 1..50 {
        let _ = symlink(&target, log.join(format!("segment-{seq:020}.jsonl")));
    }
    for n in 1..5 {
        let _ = handle.submit(event(n));
    }
    let _ = guard.shutdown(Duration::from_secs(5));
    unchanged(&target);
    let stats = handle.stats();
    assert!(
        stats.write_errors > 0,
        "the refused write is counted: {stats:?}"
    );
}

#[test]
fn torn_bytes_are_never_saved_through_a_planted_recovered_link() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("log");
    let elsewhere = dir.path().join("elsewhere");
    std::fs::create_dir(&elsewhere).unwrap();
    write_events(&log, 0..1);
    let segment = common::segments(&log).remove(0);
    let mut bytes = std::fs::read(&segment).unwrap();
    bytes.extend_from_slice(b"{\"v\":1,\"seq\":1,\"pr");
    std::fs::write(&segment, &bytes).unwrap();
    symlink(&elsewhere, log.join("recovered")).unwrap();
    write_events(&log, 1..2);
    assert_eq!(std::fs::read_dir(&elsewhere).unwrap().count(), 0);
    // The repair is still noted in the chain, saying the bytes were not saved.
    let report = Verifier::new().verify_path(&log).unwrap();
    assert!(report.is_intact(), "{:?}", report.findings);
    let text = std::fs::read_to_string(common::segments(&log).remove(0)).unwrap();
    assert!(text.contains("\"saved_to\":null"), "{text}");
}

#[test]
fn repair_records_name_paths_inside_the_log_and_the_repair() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("log");
    write_events(&log, 0..1);
    let segment = common::segments(&log).remove(0);
    let mut bytes = std::fs::read(&segment).unwrap();
    bytes.extend_from_slice(b"{\"v\":1,\"seq\":1,\"pr");
    std::fs::write(&segment, &bytes).unwrap();
    let (handle, guard) = AuditWriter::builder()
        .spawn(FileSink::open(&log).unwrap())
        .unwrap();
    handle.flush().unwrap();
    guard.shutdown(Duration::from_secs(5)).unwrap();
    let text = std::fs::read_to_string(&segment).unwrap();
    let repair = text.lines().last().unwrap();
    assert!(repair.contains("\"repair\":\"torn_tail\""), "{repair}");
    assert!(
        repair.contains("\"segment\":\"segment-00000000000000000000.jsonl\""),
        "{repair}"
    );
    assert!(
        repair.contains("\"saved_to\":\"recovered/segment-00000000000000000000.jsonl.torn-at-"),
        "{repair}"
    );
    assert!(!repair.contains(dir.path().to_str().unwrap()), "{repair}");
}

#[test]
fn a_whole_record_missing_its_newline_is_kept_with_its_seq() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("log");
    write_events(&log, 0..2);
    let segment = common::segments(&log).remove(0);
    let mut bytes = std::fs::read(&segment).unwrap();
    assert_eq!(bytes.pop(), Some(b'\n'));
    std::fs::write(&segment, &bytes).unwrap();
    // The verifier checks the record and calls the missing newline a torn tail.
    let report = Verifier::new().verify_path(&log).unwrap();
    assert_eq!(report.records, 2);
    assert_eq!(report.findings.len(), 1);
    assert_eq!(report.findings[0].code, audit_layer::FindingCode::TornTail);
    // The writer restores the newline; the record stays, with its seq.
    write_events(&log, 2..3);
    let report = Verifier::new().verify_path(&log).unwrap();
    assert!(report.is_intact(), "{:?}", report.findings);
    let records: Vec<_> = audit_layer::LogReader::open(&log)
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(records[1].resource.as_deref(), Some("post:1"));
    assert_eq!(records[2].action, "audit.repair.newline_restored");
    assert!(!log.join("recovered").exists());
}

#[test]
fn anchors_and_seals_are_never_written_through_links() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("log");
    let target = bystander(dir.path());
    std::fs::create_dir(&log).unwrap();
    std::fs::set_permissions(&log, std::fs::Permissions::from_mode(0o700)).unwrap();
    symlink(&target, log.join("seals.jsonl")).unwrap();
    let (sealing, _) = SealingKey::from_key(
        [7; 32],
        std::time::UNIX_EPOCH + Duration::from_secs(1_700_000_000),
        Duration::from_secs(60),
    )
    .unwrap();
    let key_path = dir.path().join("writer.sealing");
    sealing.save(&key_path).unwrap();
    // Opening the seals reads them: through a link, that is refused.
    let error = ForwardSeals::open(&key_path, log.join("seals.jsonl")).unwrap_err();
    assert!(error.to_string().contains("symbolic link"), "{error}");
    unchanged(&target);

    // A key file replaced through a planted `.tmp`-style link elsewhere is
    // not followed either: saving renames a fresh file over the name.
    let key_link = dir.path().join("linked.sealing");
    symlink(&target, &key_link).unwrap();
    sealing.save(&key_link).unwrap();
    unchanged(&target);
    assert!(
        !std::fs::symlink_metadata(&key_link)
            .unwrap()
            .file_type()
            .is_symlink()
    );
    let _ = RetentionPolicy::default();
}

#[test]
fn a_log_directory_open_to_others_is_tightened_when_ours() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("log");
    write_events(&log, 0..1);
    let segment = common::segments(&log).remove(0);
    std::fs::set_permissions(&log, std::fs::Permissions::from_mode(0o777)).unwrap();
    std::fs::set_permissions(&segment, std::fs::Permissions::from_mode(0o666)).unwrap();
    write_events(&log, 1..2);
    assert_eq!(std::fs::metadata(&log).unwrap().mode() & 0o777, 0o700);
    assert_eq!(std::fs::metadata(&segment).unwrap().mode() & 0o777, 0o600);
}

#[test]
fn a_log_directory_open_to_others_and_not_ours_is_refused() {
    // SAFETY: geteuid cannot fail.
    if unsafe { libc::geteuid() } != 0 {
        // Only root can give a directory away to another owner; the
        // tightening case above covers a non-root run.
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("log");
    std::fs::create_dir(&log).unwrap();
    std::fs::set_permissions(&log, std::fs::Permissions::from_mode(0o777)).unwrap();
    std::os::unix::fs::chown(&log, Some(65534), Some(65534)).unwrap();
    let error = FileSink::open(&log).unwrap_err();
    assert_eq!(error.kind(), std::io::ErrorKind::PermissionDenied);
    assert!(error.to_string().contains("mode 777"), "{error}");
}

#[test]
fn deleting_a_lock_file_does_not_let_a_second_writer_in() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("log");
    let first = FileSink::open(&log).unwrap();
    for entry in std::fs::read_dir(&log).unwrap() {
        let path = entry.unwrap().path();
        if path.is_file() {
            std::fs::remove_file(path).unwrap();
        }
    }
    let second = FileSink::builder(&log).open();
    assert_eq!(second.unwrap_err().kind(), std::io::ErrorKind::WouldBlock);
    drop(first);
    assert!(FileSink::open(&log).is_ok());
}
