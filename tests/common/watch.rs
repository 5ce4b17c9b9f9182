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

/// A running `audit watch`, its stdout read line by line on a thread.
pub struct Watching {
    pub child: std::process::Child,
    lines: std::sync::mpsc::Receiver<String>,
    pub seen: Vec<serde_json::Value>,
}

impl Watching {
    /// Starts `audit watch` with `args`, stdout piped.
    pub fn start(args: &[&str]) -> Watching {
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_audit"))
            .arg("watch")
            .args(args)
            .env_remove("AUDIT_LOG")
            .env_remove("AUDIT_DB")
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("audit watch starts");
        let stdout = child.stdout.take().unwrap();
        let (send, lines) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            use std::io::BufRead;
            for line in std::io::BufReader::new(stdout).lines() {
                let Ok(line) = line else { return };
                if send.send(line).is_err() {
                    return;
                }
            }
        });
        Watching {
            child,
            lines,
            seen: Vec::new(),
        }
    }

    /// Waits (at most 60 s) until `count` alerts in all were printed.
    pub fn wait_for(&mut self, count: usize) -> &[serde_json::Value] {
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        while self.seen.len() < count {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    assert!(line.is_ascii(), "{line}");
                    self.seen.push(serde_json::from_str(&line).unwrap());
                }
                Err(_) => panic!(
                    "{} alert(s) of {count} after 60 s: {:#?}",
                    self.seen.len(),
                    self.seen
                ),
            }
        }
        &self.seen
    }

    /// Sends `signal`, waits for the exit, and returns the status code and
    /// stderr; alerts printed before the exit are added to `seen`.
    pub fn stop_with(mut self, signal: i32) -> (Option<i32>, String, Vec<serde_json::Value>) {
        // SAFETY: kill(2) on our own child's pid.
        unsafe { libc::kill(self.child.id() as i32, signal) };
        let status = self.child.wait().unwrap();
        let mut stderr = String::new();
        use std::io::Read;
        self.child
            .stderr
            .take()
            .unwrap()
            .read_to_string(&mut stderr)
            .unwrap();
        while let Ok(line) = self.lines.recv_timeout(Duration::from_secs(5)) {
            self.seen.push(serde_json::from_str(&line).unwrap());
        }
        (status.code(), stderr, self.seen)
    }
}

/// A port on 127.0.0.1 that nothing listens on (now).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Runs `audit watch` with `args` to its end.
pub fn run_watch(args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_audit"))
        .arg("watch")
        .args(args)
        .env_remove("AUDIT_LOG")
        .env_remove("AUDIT_DB")
        .output()
        .expect("audit watch runs")
}
