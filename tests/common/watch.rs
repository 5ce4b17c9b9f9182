//! Scripted trails for the `audit watch` tests: events at chosen record
//! times, written by the real writer, and the alerts `audit watch` prints.

#![allow(dead_code)]

use std::path::Path;
use std::time::{Duration, UNIX_EPOCH};

use audit_layer::{AuditEvent, AuditEventBuilder, AuditWriter, FileSink, Timestamp};

/// Monday 2 November 2026, 09:00 UTC (10:00 in Berlin): a working morning.
pub const MONDAY_9_UTC: u64 = 1_793_610_000;

/// The record time `seconds` after Monday 09:00 UTC.
pub fn at(seconds: u64) -> Timestamp {
    Timestamp::from_system_time(UNIX_EPOCH + Duration::from_secs(MONDAY_9_UTC + seconds)).unwrap()
}

/// The record time `nanos` nanoseconds after Monday 09:00 UTC.
pub fn at_nanos(nanos: u64) -> Timestamp {
    Timestamp::from_system_time(
        UNIX_EPOCH + Duration::from_secs(MONDAY_9_UTC) + Duration::from_nanos(nanos),
    )
    .unwrap()
}

/// An event `action` by `actor` at `seconds` after Monday 09:00 UTC.
pub fn event(action: &'static str, actor: &str, seconds: u64) -> AuditEventBuilder {
    AuditEvent::builder(action).actor(actor).time(at(seconds))
}

/// Appends `events` to the log in `dir` (made if missing), in order.
pub fn append(dir: &Path, events: Vec<AuditEvent>) {
    let (audit, guard) = AuditWriter::builder()
        .service("clinic-api")
        .spawn(FileSink::open(dir).unwrap())
        .unwrap();
    for event in events {
        audit.submit(event).unwrap();
    }
    guard.shutdown(Duration::from_secs(10)).unwrap();
}

/// The alerts of an `audit watch` run's stdout, one JSON object per line.
pub fn alerts(stdout: &[u8]) -> Vec<serde_json::Value> {
    let text = std::str::from_utf8(stdout).expect("alerts are UTF-8");
    assert!(text.is_ascii(), "alerts are ASCII: {text}");
    text.lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}")))
        .collect()
}

/// The alerts of `rule`.
pub fn of_rule<'a>(alerts: &'a [serde_json::Value], rule: &str) -> Vec<&'a serde_json::Value> {
    alerts.iter().filter(|a| a["rule"] == rule).collect()
}

/// The seqs an alert names.
pub fn seqs(alert: &serde_json::Value) -> Vec<u64> {
    alert["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["seq"].as_u64().unwrap())
        .collect()
}
