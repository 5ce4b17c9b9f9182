//! `audit show` lists the records that match its filters and `audit timeline`
//! tells one resource's story; both check the chain first and say whether the
//! records can be trusted (exit 1 when they cannot).

mod common;

use std::path::Path;
use std::process::Output;
use std::time::Duration;

use audit_layer::{AuditEvent, AuditWriter, FailureKind, FileSink, Outcome};
use serde_json::{Value, json};

use common::run_audit as audit;

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn write_day(dir: &Path) {
    let (handle, guard) = AuditWriter::builder()
        .spawn(FileSink::open(dir).unwrap())
        .unwrap();
    let at = |s: &str| s.parse().unwrap();
    let events = [
        AuditEvent::builder("post.create")
            .actor("carol")
            .resource("post:42")
            .after(json!({"title": "Q3"}))
            .time(at("2025-03-14T09:00:00Z")),
        AuditEvent::builder("post.edit")
            .actor("carol")
            .resource("post:42")
            .before(json!({"title": "Q3"}))
            .after(json!({"title": "Q3 results"}))
            .context("source_ip", "198.51.100.7")
            .context("request_id", "r-2")
            .time(at("2025-03-14T10:00:00Z")),
        AuditEvent::builder("post.approve")
            .actor("mallory")
            .resource("post:42")
            .outcome(Outcome::failure(FailureKind::Denied, "not an editor"))
            .time(at("2025-03-14T11:00:00Z")),
        AuditEvent::builder("post.publish")
            .actor("mallory")
            .resource("post:42")
            .time(at("2025-03-14T12:00:00Z")),
        AuditEvent::builder("user.role_change")
            .actor("alice")
            .resource("user:dave")
            .time(at("2025-03-14T13:00:00Z")),
    ];
    for event in events {
        handle.submit(event.build()).unwrap();
    }
    guard.shutdown(Duration::from_secs(10)).unwrap();
}

fn json_records(output: &Output) -> Vec<Value> {
    serde_json::from_slice::<Vec<Value>>(&output.stdout).expect("a JSON array")
}

#[test]
fn show_filters_by_actor_action_resource_outcome_and_time() {
    let dir = tempfile::tempdir().unwrap();
    write_day(dir.path());
    let log = dir.path().to_str().unwrap();
    let actions = |args: &[&str]| -> Vec<String> {
        let mut all = vec!["show", "--log", log, "--json"];
        all.extend_from_slice(args);
        let output = audit(&all);
        assert_eq!(
            output.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        json_records(&output)
            .iter()
            .map(|r| r["action"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(actions(&[]).len(), 5);
    assert_eq!(
        actions(&["--actor", "mallory"]),
        ["post.approve", "post.publish"]
    );
    assert_eq!(
        actions(&["--action", "post.*", "--actor", "carol"]),
        ["post.create", "post.edit"]
    );
    assert_eq!(actions(&["--resource", "user:dave"]), ["user.role_change"]);
    assert_eq!(actions(&["--outcome", "denied"]), ["post.approve"]);
    assert_eq!(actions(&["--outcome", "failure"]), ["post.approve"]);
    assert_eq!(
        actions(&[
            "--since",
            "2025-03-14T11:00:00Z",
            "--until",
            "2025-03-14 13:00:00"
        ]),
        ["post.approve", "post.publish"]
    );
    assert!(
        actions(&["--since", "1h"]).is_empty(),
        "the day is long past"
    );
}

#[test]
fn show_prints_a_table_and_says_the_log_is_intact() {
    let dir = tempfile::tempdir().unwrap();
    write_day(dir.path());
    let output = audit(&[
        "show",
        "--log",
        dir.path().to_str().unwrap(),
        "--outcome",
        "denied",
    ]);
    let text = stdout(&output);
    let lines: Vec<&str> = text.lines().collect();
    assert!(
        lines[0].starts_with("SEQ") && lines[0].contains("OUTCOME"),
        "{text}"
    );
    assert!(
        lines[1].contains("mallory") && lines[1].contains("failure (denied): not an editor"),
        "{text}"
    );
    assert_eq!(lines[2], "1 record(s); log verified: intact");
}

#[test]
fn timeline_tells_one_resource_in_order_with_changes() {
    let dir = tempfile::tempdir().unwrap();
    write_day(dir.path());
    let output = audit(&["timeline", "post:42", "--log", dir.path().to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(0));
    let text = stdout(&output);
    // Streamed: the title first, the count when the last record is known.
    assert!(text.starts_with("Timeline of post:42\n"), "{text}");
    assert!(text.contains("post:42: 4 event(s), seq 0..3"), "{text}");
    let order: Vec<usize> = ["post.create", "post.edit", "post.approve", "post.publish"]
        .iter()
        .map(|action| text.find(action).unwrap())
        .collect();
    assert!(order.windows(2).all(|w| w[0] < w[1]), "{text}");
    assert!(text.contains(r#"/title: "Q3" → "Q3 results""#), "{text}");
    assert!(text.contains("from 198.51.100.7, request r-2"), "{text}");
    assert!(text.contains("(log verified: intact)"), "{text}");
    assert!(!text.contains("user:dave"));
}

#[test]
fn a_tampered_log_is_still_shown_but_flagged_with_exit_one() {
    let dir = tempfile::tempdir().unwrap();
    write_day(dir.path());
    let segment = dir.path().join("segment-00000000000000000000.jsonl");
    let text = std::fs::read_to_string(&segment)
        .unwrap()
        .replace("\"actor\":\"mallory\"", "\"actor\":\"bob\"");
    std::fs::write(&segment, text).unwrap();
    let output = audit(&["timeline", "post:42", "--log", dir.path().to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&output.stderr).contains("WARNING"));
    assert!(stdout(&output).contains("WARNING"));
    // The edited record is shown marked, right where it stands.
    let text = stdout(&output);
    let marked = text
        .find("UNVERIFIED (modified)")
        .expect("the edited record is marked");
    assert!(text[marked..].contains("bob"), "{text}");
    // --no-verify skips the check, and says so.
    let output = audit(&[
        "timeline",
        "post:42",
        "--log",
        dir.path().to_str().unwrap(),
        "--no-verify",
    ]);
    assert_eq!(output.status.code(), Some(0));
    assert!(stdout(&output).contains("log not verified"));
}

#[test]
fn bad_times_and_missing_logs_are_errors() {
    let output = audit(&["show", "--log", "/no/such/log"]);
    assert_eq!(output.status.code(), Some(2));
    let output = audit(&["show", "--since", "yesterdayish"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("is not a time"));
}
