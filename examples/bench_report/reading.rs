//! Reading a large log with the `audit` command: verify, a filtered show, a
//! timeline and an unfiltered show, each as a separate process timed from
//! the outside with its peak memory, beside `grep -c` and `jq` on the same
//! file in the same run.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::median;
use crate::workload::sample_event;

/// The `audit` binary beside this example (`cargo build --release` first).
pub(crate) fn audit_binary() -> PathBuf {
    let exe = std::env::current_exe().expect("current exe");
    exe.parent()
        .and_then(Path::parent)
        .expect("target/release")
        .join("audit")
}

/// Runs `program args` with output discarded (or to a pipe counted), and
/// returns its wall time and peak RSS in bytes, from wait4.
// The child is reaped by wait4 below, which also gives its peak memory.
#[allow(clippy::zombie_processes)]
pub(crate) fn run_measured(
    program: &Path,
    args: &[&str],
    shell: bool,
) -> (Duration, u64, Duration) {
    let start = Instant::now();
    let mut command = if shell {
        let mut sh = Command::new("sh");
        sh.arg("-c").arg(args.join(" "));
        sh
    } else {
        let mut c = Command::new(program);
        c.args(args);
        c
    };
    let child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    let pid = child.id() as i32;
    let mut stdout = child.stdout.expect("stdout");
    // Time to the first byte: whether the command streams.
    let mut first = [0u8; 1];
    let first_byte = match std::io::Read::read(&mut stdout, &mut first) {
        Ok(_) => start.elapsed(),
        Err(_) => start.elapsed(),
    };
    std::io::copy(&mut stdout, &mut std::io::sink()).expect("drain");
    let mut status = 0;
    // SAFETY: an all-zero rusage is a valid value for wait4 to fill.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: pid is our child, status and usage are valid for writes.
    let waited = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    assert_eq!(waited, pid, "wait4");
    let elapsed = start.elapsed();
    (elapsed, usage.ru_maxrss as u64 * 1024, first_byte)
}

pub(crate) fn rows(dir: &Path, records: u64) {
    // 100,000 actors and a million resources.
    let bytes = crate::write_log_of(dir, records, sample_event);
    let audit = audit_binary();
    let log = dir.to_str().expect("utf-8 path");
    let segment = crate_segment(dir);
    let segment = segment.to_str().expect("utf-8 path");
    // Warm the page cache.
    let _ = run_measured(&audit, &["verify", log], false);
    let cases: [(&str, Vec<&str>, bool); 6] = [
        ("audit verify", vec!["verify", log], false),
        (
            "audit show --actor (10 matches)",
            vec!["show", "--log", log, "--actor", "user-000042"],
            false,
        ),
        (
            "audit timeline (1 match)",
            vec!["timeline", "post:42", "--log", log],
            false,
        ),
        (
            "audit show, no filter (every record)",
            vec!["show", "--log", log],
            false,
        ),
        (
            "grep -c actor (peer)",
            vec!["grep", "-c", "'\"actor\":\"user-000042\"'", segment],
            true,
        ),
        (
            "jq select actor (peer)",
            vec!["jq", "-c", "'select(.actor==\"user-000042\")'", segment],
            true,
        ),
    ];
    let mb = bytes as f64 / 1e6;
    let mut verify_mbs = f64::NAN;
    for (name, args, shell) in cases {
        let mut times = Vec::new();
        let mut peak = 0;
        let mut first = Vec::new();
        for _ in 0..3 {
            let (elapsed, rss, first_byte) = run_measured(&audit, &args, shell);
            times.push(elapsed.as_secs_f64());
            first.push(first_byte.as_secs_f64());
            peak = peak.max(rss);
        }
        let seconds = median(times);
        let mbs = mb / seconds;
        if name == "audit verify" {
            verify_mbs = mbs;
        }
        println!(
            "| {name}, {records} records, {:.0} MB | {seconds:.2} s ({mbs:.0} MB/s), peak RSS {:.0} MB, first byte {:.2} s | audit verify {verify_mbs:.0} MB/s | {:.2} |",
            mb,
            peak as f64 / 1e6,
            median(first),
            mbs / verify_mbs
        );
    }
}

fn crate_segment(dir: &Path) -> PathBuf {
    let mut segments: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("read dir")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "jsonl"))
        .collect();
    segments.sort();
    segments.remove(0)
}
