//! `audit keygen`, `audit checkpoint` and `audit verify --checkpoint --key`:
//! keys with owner-only private halves, checkpoints only of logs that
//! verify, and verification from state kept outside the log.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Output;
use std::time::Duration;

use audit_layer::{AuditWriter, FileSink};

use common::{run_audit as audit, varied_events};

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

fn write_log(dir: &Path, records: usize) {
    let (handle, guard) = AuditWriter::builder()
        .spawn(FileSink::open(dir).unwrap())
        .unwrap();
    for event in varied_events(records) {
        handle.submit(event).unwrap();
    }
    guard.shutdown(Duration::from_secs(10)).unwrap();
}

#[test]
fn keys_checkpoints_and_verification_work_together() {
    let dir = tempfile::tempdir().unwrap();
    let (log, keys, checkpoints) = (
        dir.path().join("log"),
        dir.path().join("keys"),
        dir.path().join("elsewhere"),
    );
    std::fs::create_dir_all(&keys).unwrap();
    std::fs::create_dir_all(&checkpoints).unwrap();
    let prefix = keys.join("billing");
    let output = audit(&[
        "keygen",
        "example.com/audit/billing",
        "--out",
        prefix.to_str().unwrap(),
    ]);
    assert!(output.status.success(), "{}", text(&output));
    let private = keys.join("billing.key");
    assert_eq!(
        std::fs::metadata(&private).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let public = keys.join("billing.pub");
    assert!(
        std::fs::read_to_string(&public)
            .unwrap()
            .starts_with("example.com/audit/billing+")
    );
    // keygen never overwrites a key.
    assert_eq!(
        audit(&["keygen", "x", "--out", prefix.to_str().unwrap()])
            .status
            .code(),
        Some(2)
    );

    write_log(&log, 10);
    let checkpoint = checkpoints.join("checkpoint-10.note");
    let output = audit(&[
        "checkpoint",
        log.to_str().unwrap(),
        "--key",
        private.to_str().unwrap(),
        "--out",
        checkpoint.to_str().unwrap(),
    ]);
    assert!(output.status.success(), "{}", text(&output));
    assert!(
        std::fs::read_to_string(&checkpoint)
            .unwrap()
            .starts_with("example.com/audit/billing\n10\n")
    );

    let verify = |extra: &[&str]| {
        let mut args = vec![
            "verify",
            log.to_str().unwrap(),
            "--key",
            public.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        audit(&args)
    };
    let output = verify(&["--checkpoint", checkpoints.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    assert!(
        text(&output).contains("1 signed checkpoint(s) matched: records up to seq 9 are anchored"),
        "{}",
        text(&output)
    );

    // More records: the tail is verified, not yet anchored, and not a failure.
    write_log(&log, 3);
    let output = verify(&["--checkpoint", checkpoint.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    assert!(
        text(&output).contains("seq 10..12: verified, not yet anchored"),
        "{}",
        text(&output)
    );

    // Cut back below the checkpoint, at a record boundary.
    let segment = log.join("segment-00000000000000000000.jsonl");
    let lines: Vec<String> = std::fs::read_to_string(&segment)
        .unwrap()
        .lines()
        .take(8)
        .map(String::from)
        .collect();
    std::fs::write(&segment, lines.join("\n") + "\n").unwrap();
    assert_eq!(
        audit(&["verify", log.to_str().unwrap()]).status.code(),
        Some(0),
        "a bare chain cannot see it"
    );
    let output = verify(&["--checkpoint", checkpoint.to_str().unwrap(), "--json"]);
    assert_eq!(output.status.code(), Some(1));
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(json["findings"][0]["code"], "truncated");
    assert_eq!(json["tampering"], true);

    // The key given as text works as well as a file.
    let key_text = std::fs::read_to_string(&public).unwrap();
    let output = audit(&[
        "verify",
        log.to_str().unwrap(),
        "--key",
        key_text.trim(),
        "--checkpoint",
        checkpoint.to_str().unwrap(),
    ]);
    assert_eq!(output.status.code(), Some(1));
}

/// A log of five records and a key pair `k.key`/`k.pub` beside it.
fn log_and_key() -> (tempfile::TempDir, std::path::PathBuf, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("log");
    write_log(&log, 5);
    let prefix = dir.path().join("k");
    assert!(
        audit(&["keygen", "example.com/l", "--out", prefix.to_str().unwrap()])
            .status
            .success()
    );
    (dir, log, prefix)
}

#[test]
fn a_log_with_findings_is_never_signed() {
    let (_dir, log, prefix) = log_and_key();
    let segment = log.join("segment-00000000000000000000.jsonl");
    let tampered = std::fs::read_to_string(&segment)
        .unwrap()
        .replacen("user-", "evil-", 1);
    std::fs::write(&segment, tampered).unwrap();
    let output = audit(&[
        "checkpoint",
        log.to_str().unwrap(),
        "--key",
        prefix.with_extension("key").to_str().unwrap(),
    ]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        text(&output).contains("refusing to sign"),
        "{}",
        text(&output)
    );
}

#[test]
fn checkpoints_from_inside_the_log_or_without_a_key_are_refused() {
    let (dir, log, prefix) = log_and_key();
    let inside = log.join("checkpoint.note");
    let output = audit(&[
        "checkpoint",
        log.to_str().unwrap(),
        "--key",
        prefix.with_extension("key").to_str().unwrap(),
        "--out",
        inside.to_str().unwrap(),
    ]);
    assert!(output.status.success());
    let output = audit(&[
        "verify",
        log.to_str().unwrap(),
        "--checkpoint",
        inside.to_str().unwrap(),
        "--key",
        prefix.with_extension("pub").to_str().unwrap(),
    ]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        text(&output).contains("checkpoints must come from elsewhere"),
        "{}",
        text(&output)
    );
    let outside = dir.path().join("c.note");
    std::fs::rename(&inside, &outside).unwrap();
    let output = audit(&[
        "verify",
        log.to_str().unwrap(),
        "--checkpoint",
        outside.to_str().unwrap(),
    ]);
    assert_eq!(output.status.code(), Some(2));
}
