//! Careless input gets a clear error, never a silent empty answer: typed
//! values are checked against the list of valid ones, the time forms
//! `--help` shows are accepted, every command names its log the same way,
//! and errors name the path and the cause.

mod common;

use std::time::Duration;

use audit_layer::{AuditEvent, AuditWriter, FailureKind, FileSink, Outcome};
use common::run_audit;

fn small_log() -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().unwrap();
    let (handle, guard) = AuditWriter::builder()
        .spawn(FileSink::open(dir.path()).unwrap())
        .unwrap();
    handle
        .submit(
            AuditEvent::builder("post.publish")
                .actor("mallory")
                .outcome(Outcome::failure(FailureKind::Denied, "not an editor"))
                .build(),
        )
        .unwrap();
    handle
        .submit(AuditEvent::builder("post.edit").actor("alice").build())
        .unwrap();
    guard.shutdown(Duration::from_secs(5)).unwrap();
    let path = dir.path().to_str().unwrap().to_owned();
    (dir, path)
}

fn stderr(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn outcomes_are_checked_and_their_case_ignored() {
    let (_dir, log) = small_log();
    let output = run_audit(&["show", "--log", &log, "--outcome", "bogus"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("success, failure, unknown, error, denied"),
        "{}",
        stderr(&output)
    );
    let output = run_audit(&["show", "--log", &log, "--outcome", "DENIED", "--json"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let shown: Vec<serde_json::Value> = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(shown.len(), 1);
    assert_eq!(shown[0]["actor"], "mallory");
    assert_eq!(shown[0]["verified"], true);
}

#[test]
fn an_empty_time_window_and_a_cursor_past_the_head_are_said() {
    let (_dir, log) = small_log();
    let output = run_audit(&[
        "show",
        "--log",
        &log,
        "--since",
        "2026-11-24",
        "--until",
        "2026-11-23",
    ]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("is not before --until"),
        "{}",
        stderr(&output)
    );
    let output = run_audit(&["export", "--log", &log, "--after-seq", "500"]);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr(&output).contains("beyond the log's last record (seq 1)"),
        "{}",
        stderr(&output)
    );
    // The cursor at the head is the normal "nothing new".
    let output = run_audit(&["export", "--log", &log, "--after-seq", "1"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
}

#[test]
fn the_time_forms_help_shows_are_accepted() {
    let (_dir, log) = small_log();
    for since in [
        "2026-11-23 09:00",
        "2026-11-23",
        "2026-11-23T09:00:00Z",
        "2026-11-23T10:00:00+01:00",
        "2h",
    ] {
        let output = run_audit(&["show", "--log", &log, "--since", since]);
        assert_eq!(
            output.status.code(),
            Some(0),
            "{since}: {}",
            stderr(&output)
        );
    }
    let help = run_audit(&["show", "--help"]);
    let help = String::from_utf8_lossy(&help.stdout);
    assert!(help.contains("\"2026-11-23 09:00\""), "{help}");
}

#[test]
fn every_command_names_its_log_both_ways() {
    let (_dir, log) = small_log();
    for args in [
        vec!["verify", &log],
        vec!["verify", "--log", &log],
        vec!["show", &log],
        vec!["show", "--log", &log],
        vec!["export", &log],
        vec!["timeline", "post:1", &log],
        vec!["timeline", "post:1", "--log", &log],
    ] {
        let output = run_audit(&args);
        assert_eq!(
            output.status.code(),
            Some(0),
            "{args:?}: {}",
            stderr(&output)
        );
    }
    let output = run_audit(&["show", &log, "--log", "/elsewhere"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("named twice"));
}

#[test]
fn a_missing_key_file_is_called_missing() {
    let (_dir, log) = small_log();
    let output = run_audit(&[
        "verify",
        &log,
        "--checkpoint",
        "/tmp",
        "--key",
        "/no/such/billing.pub",
    ]);
    assert_eq!(output.status.code(), Some(2));
    let error = stderr(&output);
    assert!(
        error.contains("/no/such/billing.pub") && error.contains("No such file"),
        "{error}"
    );
    let output = run_audit(&["checkpoint", &log, "--key", "/no/such/billing.key"]);
    assert_eq!(output.status.code(), Some(2));
    let error = stderr(&output);
    assert!(
        error.contains("/no/such/billing.key") && error.contains("No such file"),
        "{error}"
    );
}
