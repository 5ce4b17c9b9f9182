//! Resident memory under sustained load: 10 M audited calls through
//! `AuditLayer` into a file log with default settings, measured in a child
//! process so that earlier rows do not count towards its peak.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use audit_layer::{AuditLayer, AuditWriter, FileSink};
use tracing_subscriber::prelude::*;

use crate::{CALL_ARGS, audited_call};

/// Calls made by the child.
const CALLS: u64 = 10_000_000;
/// The child reports its resident set after every this many calls.
const EVERY: u64 = 1_000_000;

/// A field of `/proc/self/status`, in KiB.
fn status_kib(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    status
        .lines()
        .find_map(|line| line.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or_else(|| panic!("no {field} in /proc/self/status"))
}

/// The child's side: makes the calls, prints `rss CALLS KIB` lines and a
/// final `peak KIB`.
pub(crate) fn child(dir: &Path) {
    let _ = std::fs::remove_dir_all(dir);
    let (handle, guard) = AuditWriter::builder()
        .spawn(FileSink::open(dir).expect("open sink"))
        .expect("spawn");
    let (user, ip, request, session) = CALL_ARGS;
    tracing::subscriber::with_default(
        tracing_subscriber::registry().with(AuditLayer::new(handle.clone())),
        || {
            for n in 1..=CALLS {
                let _ = std::hint::black_box(audited_call(user, n, ip, request, session));
                if n % EVERY == 0 {
                    println!("rss {n} {}", status_kib("VmRSS"));
                }
            }
        },
    );
    guard.shutdown(Duration::from_secs(120)).expect("shutdown");
    let stats = handle.stats();
    assert_eq!(stats.written, CALLS, "every call written");
    println!("peak {}", status_kib("VmHWM"));
    let _ = std::fs::remove_dir_all(dir);
}

/// The parent's side: runs the child and prints the row.
pub(crate) fn rows(scratch: &Path) {
    let output = Command::new(std::env::current_exe().expect("own path"))
        .arg("memory-child")
        .arg(scratch.join("memory"))
        .output()
        .expect("run the memory child");
    assert!(
        output.status.success(),
        "memory child failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let text = String::from_utf8(output.stdout).expect("utf-8");
    let mut samples = Vec::new();
    let mut peak = 0_u64;
    for line in text.lines() {
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            ["rss", calls, kib] => samples.push((
                calls.parse::<u64>().expect("calls"),
                kib.parse::<u64>().expect("kib"),
            )),
            ["peak", kib] => peak = kib.parse().expect("kib"),
            _ => {}
        }
    }
    // The first million fills the queue and the allocator's pools; flat
    // means no growth after that, so the peer is the median of the rest.
    let mut settled: Vec<u64> = samples.iter().skip(1).map(|&(_, kib)| kib).collect();
    settled.sort_unstable();
    let typical = *settled.get(settled.len() / 2).expect("samples");
    let series = samples
        .iter()
        .filter(|(calls, _)| [1, 2, 5, 10].contains(&(calls / EVERY)))
        .map(|(calls, kib)| format!("{} M: {:.1}", calls / EVERY, *kib as f64 / 1024.0))
        .collect::<Vec<_>>()
        .join(", ");
    println!(
        "| peak RSS over 10 M audited calls (AuditLayer, file log, default settings) | {:.1} MiB (RSS MiB after {series}) | median RSS from 2 M to 10 M calls: {:.1} MiB | {:.2} |",
        peak as f64 / 1024.0,
        typical as f64 / 1024.0,
        peak as f64 / typical as f64
    );
}
