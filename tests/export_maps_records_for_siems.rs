//! `audit export` turns every selected record into one line a SIEM ingests
//! (ECS or CADF JSON, or CEF), keeps the chain fields so each event can be
//! traced back to the log, invents nothing a record lacks, and keeps
//! hostile values intact and on one line.

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use audit_layer::{AuditEvent, AuditWriter, FailureKind, FileSink, LogReader, Outcome};
use serde_json::{Value, json};

use common::run_audit as audit;

const HOSTILE: &str = "line\nbreak\r|pipe| back\\slash a=b \"quoted\" \u{0}nul \u{1b}[31m ünïcödé";

fn write_log(dir: &Path) {
    let (handle, guard) = AuditWriter::builder()
        .service("blog-api")
        .host("web-1")
        .spawn(FileSink::open(dir).unwrap())
        .unwrap();
    let events = [
        AuditEvent::builder("post.edit")
            .actor("carol")
            .resource("post:42")
            .before(json!({"title": "Q3"}))
            .after(json!({"title": "Q3 results"}))
            .context("source_ip", "198.51.100.7")
            .context("request_id", "r-1")
            .context("session", "s-9"),
        AuditEvent::builder("post.approve")
            .actor("mallory")
            .resource("post:42")
            .outcome(Outcome::failure(FailureKind::Denied, "not an editor"))
            .context("source_ip", "[2001:db8::1]:443"),
        // No actor, no resource, a source that is not an address.
        AuditEvent::builder("session.login").context("source_ip", "unknown, proxied"),
        AuditEvent::builder(HOSTILE)
            .actor(HOSTILE)
            .resource(HOSTILE)
            .outcome(Outcome::failure(FailureKind::Error, HOSTILE))
            .context("session", HOSTILE),
    ];
    for event in events {
        handle.submit(event.build()).unwrap();
    }
    guard.shutdown(Duration::from_secs(10)).unwrap();
}

fn export(args: &[&str]) -> (Option<i32>, String, String) {
    let mut all = vec!["export"];
    all.extend_from_slice(args);
    let output = audit(&all);
    (
        output.status.code(),
        String::from_utf8(output.stdout).expect("exports are UTF-8"),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// The day's log written to a new directory, exported in `format`: the
/// directory (kept alive for the test) and what the export printed,
/// once it has exited 0.
fn export_day(format: &str) -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().unwrap();
    write_log(dir.path());
    let (status, out, err) = export(&["--log", dir.path().to_str().unwrap(), "--format", format]);
    assert_eq!(status, Some(0), "{err}");
    (dir, out)
}

fn json_lines(text: &str) -> Vec<Value> {
    text.lines()
        .map(|line| serde_json::from_str(line).expect("one JSON object a line"))
        .collect()
}

#[test]
fn ecs_maps_each_record_and_keeps_its_chain_fields() {
    let (dir, out) = export_day("ecs");
    let events = json_lines(&out);
    let records: Vec<_> = LogReader::open(dir.path())
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(events.len(), records.len());
    for (event, record) in events.iter().zip(&records) {
        assert_eq!(event["audit_layer"]["seq"], record.seq);
        assert_eq!(event["audit_layer"]["hash"], record.hash.to_string());
        assert_eq!(event["audit_layer"]["prev"], record.prev.to_string());
        assert_eq!(event["@timestamp"], record.time.to_string());
        assert_eq!(event["event"]["action"], record.action.as_str());
        assert_eq!(event["service"]["name"], "blog-api");
        assert_eq!(event["host"]["name"], "web-1");
    }

    let edit = &events[0];
    assert_eq!(edit["event"]["outcome"], "success");
    assert_eq!(edit["user"]["id"], "carol");
    assert_eq!(edit["source"]["ip"], "198.51.100.7");
    assert_eq!(edit["http"]["request"]["id"], "r-1");
    assert_eq!(edit["labels"]["session"], "s-9");
    assert_eq!(edit["audit_layer"]["resource"], "post:42");
    assert_eq!(edit["audit_layer"]["before"], json!({"title": "Q3"}));
    assert_eq!(
        edit["audit_layer"]["changes"],
        json!([{"path": "/title", "old": "Q3", "new": "Q3 results"}])
    );

    let denied = &events[1];
    assert_eq!(denied["event"]["outcome"], "failure");
    assert_eq!(denied["event"]["reason"], "not an editor");
    assert_eq!(denied["error"]["type"], "denied");
    assert_eq!(denied["source"]["ip"], "2001:db8::1");

    // Nothing invented: no user, and a source that is no address stays a label.
    let anonymous = &events[2];
    assert!(anonymous.get("user").is_none(), "{anonymous}");
    assert!(anonymous.get("source").is_none(), "{anonymous}");
    assert_eq!(anonymous["labels"]["source_ip"], "unknown, proxied");

    let hostile = &events[3];
    assert_eq!(hostile["event"]["action"], HOSTILE);
    assert_eq!(hostile["user"]["id"], HOSTILE);
    assert_eq!(hostile["error"]["message"], HOSTILE);
    assert_eq!(hostile["labels"]["session"], HOSTILE);
}

#[test]
fn cadf_names_initiator_target_and_observer() {
    let (_dir, out) = export_day("cadf");
    let events = json_lines(&out);
    assert_eq!(events.len(), 4);
    for event in &events {
        assert_eq!(
            event["typeURI"],
            "http://schemas.dmtf.org/cloud/audit/1.0/event"
        );
        assert_eq!(event["eventType"], "activity");
        assert_eq!(event["observer"]["id"], "blog-api");
        for role in ["initiator", "target", "observer"] {
            assert!(event[role]["id"].is_string(), "{role} in {event}");
            assert!(event[role]["typeURI"].is_string(), "{role} in {event}");
        }
    }
    assert_eq!(events[0]["initiator"]["id"], "carol");
    assert_eq!(events[0]["initiator"]["host"]["address"], "198.51.100.7");
    assert_eq!(events[0]["target"]["id"], "post:42");
    let attachment_names: Vec<&str> = events[0]["attachments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["name"].as_str().unwrap())
        .collect();
    assert_eq!(attachment_names, ["before", "after", "changes", "context"]);
    assert_eq!(events[1]["outcome"], "failure");
    assert_eq!(events[1]["reason"]["reasonCode"], "denied");
    assert_eq!(events[1]["attachments"][0]["name"], "reason");
    assert_eq!(events[1]["attachments"][0]["typeURI"], "text/plain");
    assert_eq!(events[1]["attachments"][0]["content"], "not an editor");
    assert_eq!(events[2]["initiator"]["id"], "unknown");
    assert_eq!(events[2]["target"]["id"], "unknown");
    assert!(events[2]["initiator"].get("host").is_none());
    assert_eq!(events[3]["initiator"]["id"], HOSTILE);
}

/// Splits a CEF line into its seven header fields and its extension pairs,
/// undoing the format's escapes.
fn parse_cef(line: &str) -> (Vec<String>, BTreeMap<String, String>) {
    let mut header = Vec::new();
    let mut field = String::new();
    let mut chars = line.chars();
    while header.len() < 7 {
        match chars.next().expect("seven header fields") {
            '\\' => field.push(chars.next().expect("escaped character")),
            '|' => header.push(std::mem::take(&mut field)),
            c => field.push(c),
        }
    }
    // The extension: `key=value` pairs, a value running to the space before
    // the next unescaped `=`'s key.
    let extension: Vec<char> = chars.collect();
    let mut pairs: Vec<(String, String)> = Vec::new();
    let mut raw = String::new();
    let mut at = 0;
    while at < extension.len() {
        match extension[at] {
            '\\' => {
                raw.push('\\');
                raw.push(extension[at + 1]);
                at += 2;
                continue;
            }
            '=' => {
                let key_start = raw.rfind(' ').map_or(0, |s| s + 1);
                let key = raw[key_start..].to_owned();
                if let Some((_, value)) = pairs.last_mut() {
                    *value = raw[..key_start.saturating_sub(1)].to_owned();
                }
                pairs.push((key, String::new()));
                raw.clear();
            }
            c => raw.push(c),
        }
        at += 1;
    }
    if let Some((_, value)) = pairs.last_mut() {
        *value = raw;
    }
    let unescape = |value: &str| {
        let mut out = String::new();
        let mut chars = value.chars();
        while let Some(c) = chars.next() {
            match (c, c == '\\') {
                (_, true) => match chars.next().expect("escaped character") {
                    'n' => out.push('\n'),
                    'r' => out.push('\r'),
                    other => out.push(other),
                },
                (c, false) => out.push(c),
            }
        }
        out
    };
    let pairs = pairs.into_iter().map(|(k, v)| (k, unescape(&v))).collect();
    (header, pairs)
}

#[test]
fn cef_is_one_escaped_line_per_record() {
    let (_dir, out) = export_day("cef");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 4, "{out}");
    for line in &lines {
        assert!(line.starts_with("CEF:0|audit-layer|audit-layer|"), "{line}");
        assert!(!line.chars().any(|c| c.is_control()), "{line:?}");
    }

    let (header, edit) = parse_cef(lines[0]);
    assert_eq!(header[4], "post.edit");
    assert_eq!(header[6], "3");
    assert_eq!(edit["suser"], "carol");
    assert_eq!(edit["src"], "198.51.100.7");
    assert_eq!(edit["outcome"], "success");
    assert_eq!(edit["externalId"], "0");
    assert_eq!(edit["cs1Label"], "resource");
    assert_eq!(edit["cs1"], "post:42");
    assert_eq!(edit["cs2"], "r-1");
    assert_eq!(edit["cs3"], "s-9");
    assert_eq!(
        serde_json::from_str::<Value>(&edit["cs4"]).unwrap(),
        json!([{"path": "/title", "old": "Q3", "new": "Q3 results"}])
    );
    assert_eq!(edit["dproc"], "blog-api");
    assert_eq!(edit["dvchost"], "web-1");

    let (header, denied) = parse_cef(lines[1]);
    assert_eq!(header[6], "8", "a denial is the most severe");
    assert_eq!(denied["cat"], "denied");
    assert_eq!(denied["reason"], "not an editor");
    assert_eq!(denied["c6a2"], "2001:db8::1");

    let (_, anonymous) = parse_cef(lines[2]);
    assert!(!anonymous.contains_key("suser"));
    assert!(!anonymous.contains_key("src"));

    // Every hostile value comes back as written, but for the control
    // characters a line cannot hold, which read as \u00XX text.
    let shown = HOSTILE
        .replace('\u{0}', "\\u0000")
        .replace('\u{1b}', "\\u001B");
    let (header, hostile) = parse_cef(lines[3]);
    assert_eq!(hostile["suser"], shown);
    assert_eq!(hostile["reason"], shown);
    assert_eq!(hostile["act"], shown);
    assert_eq!(hostile["cs1"], shown);
    assert_eq!(hostile["cs3"], shown);
    // In the header a line break has no escape: it becomes a space.
    assert_eq!(header[4], HOSTILE.replace(|c: char| c.is_control(), " "));
}

#[test]
fn filters_select_and_an_out_file_is_owner_only() {
    let dir = tempfile::tempdir().unwrap();
    write_log(dir.path());
    let target = dir.path().join("export.ndjson");
    let (status, out, err) = export(&[
        "--log",
        dir.path().to_str().unwrap(),
        "--actor",
        "mallory",
        "--out",
        target.to_str().unwrap(),
    ]);
    assert_eq!(status, Some(0), "{err}");
    assert!(out.is_empty(), "the export went to the file: {out}");
    assert!(err.contains("exported 1 record(s)"), "{err}");
    let events = json_lines(&std::fs::read_to_string(&target).unwrap());
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["event"]["action"], "post.approve");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&target).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}

#[test]
fn a_tampered_record_is_withheld_from_export_and_the_run_exits_one() {
    let dir = tempfile::tempdir().unwrap();
    write_log(dir.path());
    let segment = common::segments(dir.path()).remove(0);
    let text = std::fs::read_to_string(&segment).unwrap();
    std::fs::write(&segment, text.replacen("\"carol\"", "\"eve\"", 1)).unwrap();
    let (status, out, err) = export(&["--log", dir.path().to_str().unwrap()]);
    assert_eq!(status, Some(1), "{err}");
    assert!(err.contains("WARNING"), "{err}");
    // A SIEM keeps what it is given: the edited record does not go.
    assert!(
        err.contains("1 matching record(s) were not exported"),
        "{err}"
    );
    assert_eq!(json_lines(&out).len(), 3);
    assert!(!out.contains("\"eve\""), "{out}");

    let (status, _, err) = export(&["--log", dir.path().to_str().unwrap(), "--format", "syslog"]);
    assert_eq!(status, Some(2));
    assert!(err.contains("use ecs, cadf or cef"), "{err}");
}

#[test]
fn an_incremental_export_hands_over_each_record_once() {
    let dir = tempfile::tempdir().unwrap();
    write_log(dir.path());
    let log = dir.path().to_str().unwrap();
    let last_seq = |stderr: &str| -> u64 {
        let range = stderr
            .split(", seq ")
            .nth(1)
            .unwrap_or_else(|| panic!("no seq range in {stderr}"));
        let last = range
            .split(" to ")
            .next()
            .unwrap()
            .split("..")
            .nth(1)
            .unwrap();
        last.parse().unwrap()
    };

    let (status, first, err) = export(&["--log", log]);
    assert_eq!(status, Some(0), "{err}");
    assert!(
        err.contains("exported 4 record(s), seq 0..3 to standard output"),
        "{err}"
    );
    let cursor = last_seq(&err);

    // The service runs on and writes three more records.
    let (handle, guard) = AuditWriter::builder()
        .spawn(FileSink::open(dir.path()).unwrap())
        .unwrap();
    for n in 0..3 {
        handle
            .submit(
                AuditEvent::builder("post.view")
                    .resource(format!("post:{n}"))
                    .build(),
            )
            .unwrap();
    }
    guard.shutdown(Duration::from_secs(10)).unwrap();

    let (status, second, err) = export(&["--log", log, "--after-seq", &cursor.to_string()]);
    assert_eq!(status, Some(0), "{err}");
    let seqs = |text: &str| -> Vec<u64> {
        json_lines(text)
            .iter()
            .map(|e| e["audit_layer"]["seq"].as_u64().unwrap())
            .collect()
    };
    assert_eq!(seqs(&second), [4, 5, 6]);
    let all: Vec<u64> = seqs(&first).into_iter().chain(seqs(&second)).collect();
    assert_eq!(all, (0..7).collect::<Vec<_>>());

    // Nothing new: nothing exported, and the report says so.
    let (status, third, err) = export(&["--log", log, "--after-seq", "6"]);
    assert_eq!(status, Some(0), "{err}");
    assert!(third.is_empty());
    assert!(
        err.contains("exported 0 record(s) to standard output"),
        "{err}"
    );
}
