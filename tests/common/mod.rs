//! Helpers shared by the integration tests: building logs and cutting them up.
#![allow(dead_code, unreachable_pub)]

use std::io;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use audit_layer::sink::{Batch, Recovery, Sink};
use audit_layer::{AuditEvent, AuditWriter, FailureKind, MemorySink, Outcome};
use serde_json::json;

/// Events with a bit of everything: actors, resources, outcomes, state, context.
pub fn varied_events(count: usize) -> Vec<AuditEvent> {
    (0..count)
        .map(|n| {
            let builder = AuditEvent::builder(["post.create", "post.edit", "post.publish"][n % 3])
                .actor(format!("user-{}", n % 4))
                .resource(format!("post:{}", n % 5))
                .context("request_id", format!("req-{n}"));
            match n % 4 {
                0 => builder
                    .before(json!({"title": "draft", "n": n}))
                    .after(json!({"title": "final", "n": n})),
                1 => builder.outcome(Outcome::failure(FailureKind::Denied, "not an editor")),
                2 => builder.after(json!({"tags": ["a", n]})),
                _ => builder,
            }
            .build()
        })
        .collect()
}

/// The bytes of a log holding `events`, written by a real writer.
pub fn write_log(events: Vec<AuditEvent>) -> Vec<u8> {
    let (sink, log) = MemorySink::new();
    let (handle, guard) = AuditWriter::builder()
        .host("test-host")
        .spawn(sink)
        .expect("spawn writer");
    for event in events {
        handle.submit(event).expect("submit");
    }
    guard
        .shutdown(std::time::Duration::from_secs(10))
        .expect("shutdown");
    log.bytes()
}

/// Byte ranges of each line, newline included.
pub fn line_ranges(bytes: &[u8]) -> Vec<Range<usize>> {
    let mut ranges = Vec::new();
    let mut start = 0;
    for (at, byte) in bytes.iter().enumerate() {
        if *byte == b'\n' {
            ranges.push(start..at + 1);
            start = at + 1;
        }
    }
    ranges
}

/// The log with its lines put in `order` (indexes into the original lines).
pub fn reorder(bytes: &[u8], order: &[usize]) -> Vec<u8> {
    let lines = line_ranges(bytes);
    order
        .iter()
        .flat_map(|&i| bytes[lines[i].clone()].to_vec())
        .collect()
}

/// A memory sink that fails its next `fail_appends` appends (and the
/// recoveries in between when `fail_recover` is set), then works again.
#[derive(Clone)]
pub struct FlakySink {
    inner: Arc<Mutex<MemorySink>>,
    pub fail_appends: Arc<AtomicU64>,
    pub attempts: Arc<AtomicU64>,
    pub kind: io::ErrorKind,
}

impl FlakySink {
    pub fn new(kind: io::ErrorKind) -> (FlakySink, audit_layer::MemoryLog) {
        let (sink, log) = MemorySink::new();
        (
            FlakySink {
                inner: Arc::new(Mutex::new(sink)),
                fail_appends: Arc::new(AtomicU64::new(0)),
                attempts: Arc::new(AtomicU64::new(0)),
                kind,
            },
            log,
        )
    }
}

impl Sink for FlakySink {
    fn recover(&mut self) -> io::Result<Recovery> {
        self.inner.lock().unwrap().recover()
    }

    fn append(&mut self, batch: &Batch<'_>) -> io::Result<()> {
        self.attempts.fetch_add(1, Ordering::SeqCst);
        let failing = self
            .fail_appends
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok();
        if failing {
            return Err(io::Error::new(self.kind, "injected failure"));
        }
        self.inner.lock().unwrap().append(batch)
    }

    fn sync(&mut self) -> io::Result<()> {
        self.inner.lock().unwrap().sync()
    }
}

/// A memory sink whose syncs can be held until a test lets them through,
/// and that says how many records are synced and when a sync is waiting.
#[derive(Clone)]
pub struct GatedSink {
    inner: Arc<Mutex<MemorySink>>,
    state: Arc<(Mutex<GateState>, std::sync::Condvar)>,
}

#[derive(Default)]
pub struct GateState {
    pub open: bool,
    pub appended: u64,
    pub synced: u64,
    pub syncs: u64,
    pub waiting_syncs: u64,
}

impl GatedSink {
    /// A sink whose syncs wait until [`open`](Self::open) is called.
    pub fn closed() -> (GatedSink, audit_layer::MemoryLog) {
        let (sink, log) = MemorySink::new();
        (
            GatedSink {
                inner: Arc::new(Mutex::new(sink)),
                state: Arc::new((Mutex::new(GateState::default()), std::sync::Condvar::new())),
            },
            log,
        )
    }

    pub fn open(&self) {
        self.state.0.lock().unwrap().open = true;
        self.state.1.notify_all();
    }

    pub fn synced(&self) -> u64 {
        self.state.0.lock().unwrap().synced
    }

    pub fn syncs(&self) -> u64 {
        self.state.0.lock().unwrap().syncs
    }

    /// Blocks until a sync is waiting at the closed gate.
    pub fn wait_for_blocked_sync(&self) {
        let (state, changed) = &*self.state;
        let guard = state.lock().unwrap();
        drop(changed.wait_while(guard, |s| s.waiting_syncs == 0).unwrap());
    }

    pub fn blocked_syncs(&self) -> u64 {
        self.state.0.lock().unwrap().waiting_syncs
    }
}

impl Sink for GatedSink {
    fn recover(&mut self) -> io::Result<Recovery> {
        self.inner.lock().unwrap().recover()
    }

    fn append(&mut self, batch: &Batch<'_>) -> io::Result<()> {
        self.inner.lock().unwrap().append(batch)?;
        self.state.0.lock().unwrap().appended += batch.records().len() as u64;
        self.state.1.notify_all();
        Ok(())
    }

    fn sync(&mut self) -> io::Result<()> {
        let (state, changed) = &*self.state;
        let mut guard = state.lock().unwrap();
        guard.waiting_syncs += 1;
        changed.notify_all();
        let mut guard = changed.wait_while(guard, |s| !s.open).unwrap();
        guard.waiting_syncs -= 1;
        guard.syncs += 1;
        guard.synced = guard.appended;
        Ok(())
    }
}

/// The segment files of a log directory, in chain order (their names start
/// with the zero-padded first seq).
pub fn segments(dir: &Path) -> Vec<PathBuf> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.extension().is_some_and(|e| e == "jsonl")
                && p.file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with("segment-"))
        })
        .collect();
    paths.sort();
    paths
}

/// An example `cargo test` built beside the test binaries.
pub fn example(name: &str) -> PathBuf {
    let deps = std::env::current_exe()
        .unwrap()
        .parent()
        .unwrap()
        .to_owned();
    deps.parent().unwrap().join("examples").join(name)
}

/// Cuts `segment` in the middle of its last line, as a writer caught
/// mid-write leaves it; returns the bytes cut off.
pub fn tear_last_line(segment: &Path) -> Vec<u8> {
    let bytes = std::fs::read(segment).unwrap();
    let last_start = bytes[..bytes.len() - 1]
        .iter()
        .rposition(|b| *b == b'\n')
        .map_or(0, |at| at + 1);
    let cut = last_start + (bytes.len() - last_start) / 2;
    std::fs::write(segment, &bytes[..cut]).unwrap();
    bytes[cut..].to_vec()
}

/// Runs the `audit` command with `args`, ignoring any `AUDIT_LOG` the
/// environment of the test run happens to set.
pub fn run_audit(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_audit"))
        .args(args)
        .env_remove("AUDIT_LOG")
        .output()
        .expect("run audit")
}
