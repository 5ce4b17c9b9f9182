//! Every view meant for a person prints log values escaped: an actor that
//! carries `\r`, an escape sequence, a newline, NUL or a right-to-left
//! override cannot rewrite a row, forge one, or reorder what is read.

mod common;

use std::time::Duration;

use audit_layer::{AuditEvent, AuditWriter, FailureKind, FileSink, Outcome};
use common::run_audit;

const HOSTILE: [&str; 6] = [
    "mallory\x1b[2K\ralice",
    "eve\nSEQ 99  alice  user.delete",
    "nul\0byte",
    "doc\u{202e}fdp.exe",
    "bell\x07\x7f\u{85}",
    "iso\u{2066}late\u{2069}",
];

/// Characters that move the cursor or reorder text, which no view may print raw.
fn is_dangerous(c: char) -> bool {
    (c.is_control() && c != '\n')
        || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{200e}' | '\u{200f}' | '\u{061c}')
}

fn hostile_log() -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().unwrap();
    let (handle, guard) = AuditWriter::builder()
        .spawn(FileSink::open(dir.path()).unwrap())
        .unwrap();
    for (n, value) in HOSTILE.iter().enumerate() {
        handle
            .submit(
                AuditEvent::builder("post.edit")
                    .actor(*value)
                    .resource("post:1")
                    .outcome(if n % 2 == 0 {
                        Outcome::Success
                    } else {
                        Outcome::failure(FailureKind::Denied, *value)
                    })
                    .context("source_ip", *value)
                    .before(serde_json::json!({ "title": value }))
                    .after(serde_json::json!({ "title": format!("{value}!") }))
                    .build(),
            )
            .unwrap();
    }
    guard.shutdown(Duration::from_secs(5)).unwrap();
    let path = dir.path().to_str().unwrap().to_owned();
    (dir, path)
}

fn assert_clean(what: &str, bytes: &[u8]) {
    let text = String::from_utf8_lossy(bytes);
    if let Some(c) = text.chars().find(|&c| is_dangerous(c)) {
        panic!("{what} printed {c:?} raw:\n{text}");
    }
}

#[test]
fn show_timeline_and_verify_print_no_control_or_bidi_character() {
    let (_dir, log) = hostile_log();
    for args in [
        vec!["show", "--log", &log],
        vec!["timeline", "post:1", "--log", &log],
        vec!["verify", &log],
    ] {
        let output = run_audit(&args);
        assert_eq!(output.status.code(), Some(0), "{args:?}");
        assert_clean(&format!("{args:?} stdout"), &output.stdout);
        assert_clean(&format!("{args:?} stderr"), &output.stderr);
    }
    // Each record is still one row: the forged row in a value did not become one.
    let output = run_audit(&["show", "--log", &log]);
    let text = String::from_utf8_lossy(&output.stdout);
    assert_eq!(text.lines().count(), 1 + HOSTILE.len() + 1, "{text}");
    assert!(text.contains(r"mallory\u{1b}[2K\ralice"), "{text}");
    assert!(text.contains(r"doc\u{202e}fdp.exe"), "{text}");
}

#[test]
fn findings_quote_hostile_bytes_escaped() {
    let (dir, log) = hostile_log();
    let segment = common::segments(dir.path()).remove(0);
    let mut bytes = std::fs::read(&segment).unwrap();
    bytes.extend_from_slice(b"\x1b]0;owned\x07\r\n");
    std::fs::write(&segment, bytes).unwrap();
    let output = run_audit(&["verify", &log]);
    assert_eq!(output.status.code(), Some(1));
    assert_clean("verify of a log with junk", &output.stdout);
    let output = run_audit(&["show", "--log", &log]);
    assert_clean("show of a log with junk", &output.stdout);
    assert_clean("show of a log with junk (stderr)", &output.stderr);
}
