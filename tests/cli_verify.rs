//! `audit verify`: exit status 0 intact / 1 findings / 2 errors, a readable
//! report with codes, seqs and offsets, and `--json` for machines.

mod common;

use std::fs;
use std::path::Path;
use std::process::Output;
use std::time::Duration;

use audit_layer::{AuditWriter, FileSink};
use serde_json::Value;

use common::{line_ranges, run_audit as audit, segments, varied_events};

fn text(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn write_log(dir: &Path, records: usize, max_segment_bytes: u64) {
    let sink = FileSink::builder(dir)
        .max_segment_bytes(max_segment_bytes)
        .open()
        .unwrap();
    let (handle, guard) = AuditWriter::builder().spawn(sink).unwrap();
    for event in varied_events(records) {
        handle.submit(event).unwrap();
    }
    guard.shutdown(Duration::from_secs(10)).unwrap();
}

fn only_segment(dir: &Path) -> std::path::PathBuf {
    segments(dir).into_iter().next().unwrap()
}

#[test]
fn an_intact_log_exits_zero_with_a_summary() {
    let dir = tempfile::tempdir().unwrap();
    write_log(dir.path(), 7, 1 << 30);
    let output = audit(&["verify", dir.path().to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    let stdout = text(&output);
    let summary = stdout.lines().next().unwrap();
    assert!(
        summary.starts_with("verified 7 records, seq 0..6, head "),
        "{summary}"
    );
    assert_eq!(summary.rsplit(' ').next().unwrap().len(), 64);
    assert!(stdout.contains("intact"));
}

#[test]
fn findings_exit_one_with_code_seq_and_offset() {
    let dir = tempfile::tempdir().unwrap();
    write_log(dir.path(), 5, 1 << 30);
    let segment = only_segment(dir.path());
    let mut bytes = fs::read(&segment).unwrap();
    let third = line_ranges(&bytes)[3].clone();
    bytes[third.start + 120] ^= 0x01;
    fs::write(&segment, &bytes).unwrap();

    let output = audit(&["verify", dir.path().to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(1));
    let stdout = text(&output);
    let first = stdout.lines().next().unwrap();
    assert!(first.starts_with("modified"), "{first}");
    assert!(first.contains("seq 3"), "{first}");
    let name = segment.file_name().unwrap().to_str().unwrap();
    assert!(
        first.contains(&format!("{name}:{}", third.start)),
        "{first}"
    );
    assert!(stdout.contains("1 finding: 1 modified"), "{stdout}");
    assert!(stdout.contains("changed after it was written"), "{stdout}");

    let output = audit(&["verify", "--json", dir.path().to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(1));
    let json: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(json["intact"], false);
    assert_eq!(json["tampering"], true);
    assert_eq!(json["records"], 5);
    assert_eq!(json["findings"][0]["code"], "modified");
    assert_eq!(json["findings"][0]["seq"], 3);
    assert_eq!(json["findings"][0]["offset"], third.start as u64);
}

#[test]
fn a_torn_tail_is_a_finding_but_not_tampering() {
    let dir = tempfile::tempdir().unwrap();
    write_log(dir.path(), 3, 1 << 30);
    let segment = only_segment(dir.path());
    let bytes = fs::read(&segment).unwrap();
    fs::write(&segment, &bytes[..bytes.len() - 10]).unwrap();
    let output = audit(&["verify", "--json", dir.path().to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(1));
    let json: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(json["tampering"], false);
    assert_eq!(json["findings"][0]["code"], "torn-tail");
    let human = text(&audit(&["verify", dir.path().to_str().unwrap()]));
    assert!(human.contains("no tampering"), "{human}");
}

#[test]
fn one_later_segment_verifies_on_its_own() {
    let dir = tempfile::tempdir().unwrap();
    write_log(dir.path(), 30, 2048);
    let segments = segments(dir.path());
    let later = segments.last().unwrap();
    let output = audit(&["verify", later.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    assert!(text(&output).contains("seq "));
}

#[test]
fn unreadable_paths_and_bad_usage_exit_two() {
    let output = audit(&["verify", "/definitely/not/here"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("/definitely/not/here"));

    let empty = tempfile::tempdir().unwrap();
    let output = audit(&["verify", empty.path().to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("no segment files"));

    assert_eq!(audit(&["verify"]).status.code(), Some(2));
    assert_eq!(audit(&["frobnicate"]).status.code(), Some(2));
}

/// Runs `audit ARGS` with its standard streams on a pseudo-terminal (through
/// util-linux `script`), returning everything it wrote there; `None` where
/// `script` is not installed.
fn audit_on_a_terminal(args: &[&str]) -> Option<(Option<i32>, String)> {
    let command = std::iter::once(env!("CARGO_BIN_EXE_audit"))
        .chain(args.iter().copied())
        .map(|arg| format!("'{}'", arg.replace('\'', r"'\''")))
        .collect::<Vec<_>>()
        .join(" ");
    let output = std::process::Command::new("script")
        .args(["--quiet", "--return", "--command", &command, "/dev/null"])
        .env_remove("AUDIT_LOG")
        .output()
        .ok()?;
    Some((
        output.status.code(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
    ))
}

#[test]
fn a_large_log_shows_progress_on_a_terminal_and_nowhere_else() {
    let dir = tempfile::tempdir().unwrap();
    // 80 records of 1 MiB: past the 64 MiB from which a bar is shown.
    let (handle, guard) = AuditWriter::builder()
        .spawn(FileSink::open(dir.path()).unwrap())
        .unwrap();
    let state = "x".repeat(1 << 20);
    for n in 0..80 {
        let event = audit_layer::AuditEvent::builder("export.run")
            .resource(format!("export:{n}"))
            .after(serde_json::json!({ "rows": state }))
            .build();
        handle.submit(event).unwrap();
    }
    guard.shutdown(Duration::from_secs(30)).unwrap();
    let log = dir.path().to_str().unwrap();

    let Some((status, terminal)) = audit_on_a_terminal(&["verify", log]) else {
        eprintln!("skipped: util-linux `script` is not installed, so no terminal can be faked");
        return;
    };
    assert_eq!(status, Some(0), "{terminal}");
    assert!(
        terminal.contains("verifying"),
        "no progress bar on a terminal:\n{terminal}"
    );
    assert!(terminal.contains("intact"), "{terminal}");

    // Piped, as in a script: no bar on stderr, the report unchanged on stdout.
    let piped = audit(&["verify", log]);
    assert_eq!(piped.status.code(), Some(0));
    assert!(!String::from_utf8_lossy(&piped.stderr).contains("verifying"));
    assert!(text(&piped).contains("verified 80 records"));

    // A small log verifies too fast for a bar to help: none even on a terminal.
    let small = tempfile::tempdir().unwrap();
    write_log(small.path(), 5, 1 << 30);
    let (_, terminal) = audit_on_a_terminal(&["verify", small.path().to_str().unwrap()]).unwrap();
    assert!(!terminal.contains("verifying"), "{terminal}");
}
