//! `audit watch`: records evaluated per second with the example rules file
//! on one core, against the verifier on the same log in the same run; the
//! latency from a record being durable to its alert on stdout while a
//! writer is under load; the memory of windows held open for a million
//! actors.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use audit_layer::watch::{Engine, RuleSet};
use audit_layer::{AuditEvent, AuditWriter, Durability, FileSink, Verifier};
use serde_json::json;

use crate::reading::{audit_binary, run_measured};

const EXAMPLE_RULES: &str = include_str!("../watch/rules.toml");

/// A mix the example rules look at: reads of patient records by 100,000
/// people, logins, exports, deletions, downloads, role changes.
pub(crate) fn clinic_event(n: u64) -> AuditEvent {
    let actor = format!("user-{:06}", n % 100_000);
    let builder = match n % 20 {
        0..=11 => {
            AuditEvent::builder("patient.read").resource(format!("patient:{}", n % 1_000_000))
        }
        12..=14 => {
            AuditEvent::builder("session.login").context("ip", format!("198.51.100.{}", n % 250))
        }
        15 => AuditEvent::builder("patient.export")
            .after(json!({"rows": n % 2000}))
            .resource("ward:3"),
        16 => AuditEvent::builder("post.delete").resource(format!("post:{n}")),
        17 => AuditEvent::builder("document.download")
            .resource(format!("doc:{}", n % 500))
            .after(
                json!({"status": if n.is_multiple_of(3) { "approved" } else { "draft" }, "version": "2"}),
            ),
        18 => AuditEvent::builder("user.role_change")
            .resource(format!("user:{}", n % 1000))
            .after(json!({"role": if n.is_multiple_of(7) { "admin" } else { "editor" }})),
        _ => AuditEvent::builder("post.publish").resource(format!("post:{n}")),
    };
    builder
        .actor(actor)
        .context("request_id", format!("req-{n}"))
        .context("session", format!("s-{}", n % 50_000))
        .build()
}

fn lines_of(dir: &Path) -> Vec<u8> {
    let mut segments: Vec<_> = std::fs::read_dir(dir)
        .expect("read dir")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "jsonl"))
        .collect();
    segments.sort();
    segments
        .iter()
        .flat_map(|p| std::fs::read(p).expect("read"))
        .collect()
}

pub(crate) fn rows(scratch: &Path) {
    evaluation_rows(&scratch.join("evaluate"), 1_000_000);
    latency_rows(&scratch.join("latency"));
    memory_rows(1_000_000);
}

pub(crate) fn evaluation_only(dir: &Path) {
    crate::write_log_of(dir, 1_000_000, clinic_event);
    let bytes = lines_of(dir);
    let rules = RuleSet::from_toml(EXAMPLE_RULES).expect("the example rules");
    for _ in 0..3 {
        let mut engine = Engine::new(rules.clone());
        let start = Instant::now();
        for line in bytes.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
            engine.observe_line(line);
        }
        println!(
            "| evaluate | {:.2} M/s | | |",
            1e6 / start.elapsed().as_secs_f64() / 1e6
        );
    }
}

fn evaluation_rows(dir: &Path, records: u64) {
    crate::write_log_of(dir, records, clinic_event);
    let bytes = lines_of(dir);
    let rules = RuleSet::from_toml(EXAMPLE_RULES).expect("the example rules");
    let rule_count = rules.rules().len();
    let mut engine_rates = Vec::new();
    let mut verify_rates = Vec::new();
    let mut alerts = 0;
    for _ in 0..3 {
        let mut engine = Engine::new(rules.clone());
        let start = Instant::now();
        alerts = 0;
        for line in bytes.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
            alerts += engine.observe_line(line).len();
        }
        engine_rates.push(records as f64 / start.elapsed().as_secs_f64());
        assert_eq!(engine.stats().records, records);
        let start = Instant::now();
        let report = Verifier::new().threads(1).verify_path(dir).expect("verify");
        assert!(report.is_intact());
        verify_rates.push(records as f64 / start.elapsed().as_secs_f64());
    }
    drop(bytes);
    let (ours, verify) = (crate::median(engine_rates), crate::median(verify_rates));
    println!(
        "| records evaluated/s, one core, the example rules ({rule_count} rules + integrity), 1 M records, median of 3 ({alerts} alerts) | {:.2} M/s | `Verifier` on one core, same log: {:.2} M/s | {:.2} |",
        ours / 1e6,
        verify / 1e6,
        ours / verify
    );
    let audit = audit_binary();
    if audit.exists() {
        let log = dir.to_str().expect("utf-8 path");
        let rules_path = dir.with_extension("rules.toml");
        std::fs::write(&rules_path, EXAMPLE_RULES).expect("write rules");
        let rules_arg = rules_path.to_str().expect("utf-8 path");
        let _ = run_measured(&audit, &["verify", log], false);
        let mut watch = Vec::new();
        let mut verify = Vec::new();
        for _ in 0..3 {
            let replay = ["watch", "--rules", rules_arg, "--log", log, "--replay"];
            watch.push(run_measured(&audit, &replay, false).0.as_secs_f64());
            verify.push(
                run_measured(&audit, &["verify", log], false)
                    .0
                    .as_secs_f64(),
            );
        }
        // Peak RSS is not printed: a child spawned by this process (which
        // holds the log in memory) starts its wait4 peak from ours. Measure
        // it from a shell (BENCHMARKS.md says how).
        let (watch, verify) = (crate::median(watch), crate::median(verify));
        println!(
            "| `audit watch --replay` of the 1 M records (evaluation, then a full verify), whole process | {watch:.2} s | `audit verify`: {verify:.2} s | {:.2} |",
            watch / verify
        );
    }
}

/// Alert latency: a writer adds 100,000 filler records a second while a
/// marker record every 20 ms is written with an acknowledgement; the time
/// from the acknowledgement (durable) to the marker's alert on the watch's
/// stdout.
fn latency_rows(dir: &Path) {
    let audit = audit_binary();
    if !audit.exists() {
        println!("| alert latency | `cargo build --release` first | | |");
        return;
    }
    let _ = std::fs::remove_dir_all(dir);
    std::fs::create_dir_all(dir).expect("scratch");
    let log = dir.join("log");
    let rules_path = dir.join("rules.toml");
    std::fs::write(
        &rules_path,
        format!(
            "{EXAMPLE_RULES}\n[[rule]]\nname = \"bench-marker\"\nkind = \"match\"\nseverity = \"info\"\nmessage = \"{{resource}}\"\nwhere = {{ action = \"bench.marker\" }}\ngroup_by = \"resource\"\n"
        ),
    )
    .expect("rules");
    let sink = FileSink::open(&log).expect("sink");
    let (handle, guard) = AuditWriter::builder()
        .durability(Durability::GroupCommit)
        .spawn(sink)
        .expect("writer");
    handle.submit(clinic_event(0)).expect("first");
    handle.flush().expect("flush");
    let mut child = Command::new(&audit)
        .args([
            "watch",
            "--rules",
            rules_path.to_str().expect("utf-8"),
            "--log",
            log.to_str().expect("utf-8"),
            "--poll",
            "10ms",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("audit watch");
    let seen: Arc<Mutex<std::collections::HashMap<String, Instant>>> = Arc::default();
    let stdout = child.stdout.take().expect("stdout");
    let reader = std::thread::spawn({
        let seen = Arc::clone(&seen);
        move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { return };
                let at = Instant::now();
                let Ok(alert) = serde_json::from_str::<serde_json::Value>(&line) else {
                    continue;
                };
                if alert["rule"] == "bench-marker"
                    && let Some(key) = alert["key"].as_str()
                {
                    seen.lock().expect("lock").insert(key.to_owned(), at);
                }
            }
        }
    });
    let stop = Arc::new(AtomicBool::new(false));
    let filler = std::thread::spawn({
        let (handle, stop) = (handle.clone(), Arc::clone(&stop));
        move || {
            // 100,000 records/s, in bursts of 1,000 every 10 ms: a busy
            // service (the writer's own ceiling here is about 0.35 M/s).
            let mut n = 1;
            let start = Instant::now();
            while !stop.load(Ordering::Relaxed) {
                for _ in 0..1000 {
                    handle.submit(clinic_event(n)).expect("filler");
                    n += 1;
                }
                let due = start + Duration::from_micros(n * 10);
                std::thread::sleep(due.saturating_duration_since(Instant::now()));
            }
            n
        }
    });
    let markers = 500;
    let mut durable = Vec::new();
    let started = Instant::now();
    for n in 0..markers {
        let ack = handle
            .submit_acked(
                AuditEvent::builder("bench.marker")
                    .actor("bench")
                    .resource(format!("m{n}"))
                    .build(),
            )
            .expect("marker");
        ack.wait().expect("durable");
        durable.push((format!("m{n}"), Instant::now()));
        std::thread::sleep(Duration::from_millis(20));
    }
    stop.store(true, Ordering::Relaxed);
    let filled = filler.join().expect("filler");
    let rate = filled as f64 / started.elapsed().as_secs_f64();
    // Wait (bounded) for the last alerts.
    let deadline = Instant::now() + Duration::from_secs(30);
    while seen.lock().expect("lock").len() < markers && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    // SAFETY: kill(2) on our own child.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let _ = child.wait();
    let _ = reader.join();
    guard.shutdown(Duration::from_secs(60)).expect("shutdown");
    let seen = seen.lock().expect("lock");
    let mut latencies: Vec<f64> = durable
        .iter()
        .filter_map(|(key, at)| {
            seen.get(key)
                .map(|alerted| alerted.saturating_duration_since(*at).as_secs_f64() * 1e3)
        })
        .collect();
    latencies.sort_by(f64::total_cmp);
    let missing = markers - latencies.len();
    let p = |q: f64| latencies[((latencies.len() as f64 - 1.0) * q) as usize];
    println!(
        "| alert latency, record durable → alert on stdout, `--poll 10ms`, writer under load ({:.0} k records/s of filler), {} markers | p50 {:.0} ms, p99 {:.0} ms ({missing} missing) | target p99 ≤ 1,000 ms | {:.2} |",
        rate / 1e3,
        latencies.len(),
        p(0.5),
        p(0.99),
        p(0.99) / 1000.0
    );
}

/// The engine's memory with a window open for each of `actors` actors.
fn memory_rows(actors: u64) {
    let rules = RuleSet::from_toml(
        "[[rule]]\nname = \"reads\"\nkind = \"threshold\"\nseverity = \"low\"\nmessage = \"{key}\"\nwhere = { action = \"patient.read\" }\ngroup_by = \"actor\"\nat_least = 1000\nwithin = \"8h\"\n",
    )
    .expect("rules");
    let (sink, log) = audit_layer::MemorySink::new();
    let (handle, guard) = AuditWriter::builder().spawn(sink).expect("writer");
    for n in 0..actors {
        handle
            .submit(
                AuditEvent::builder("patient.read")
                    .actor(format!("user-{n:07}"))
                    .resource(format!("patient:{n}"))
                    .build(),
            )
            .expect("submit");
    }
    guard.shutdown(Duration::from_secs(60)).expect("shutdown");
    let bytes = log.bytes();
    let before = rss_bytes();
    let mut engine = Engine::new(rules);
    let start = Instant::now();
    for line in bytes.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
        engine.observe_line(line);
    }
    let elapsed = start.elapsed();
    let after = rss_bytes();
    let mut state = CountingSink(0);
    let saved = Instant::now();
    engine.write_state(&mut state).expect("state");
    let saved = saved.elapsed();
    println!(
        "| memory with {} M actors in open windows (one threshold rule) | {} MB ({} bytes an actor); state file {} MB, written in {:.2} s | evaluating them: {:.2} s | |",
        actors / 1_000_000,
        (after.saturating_sub(before)) / 1_000_000,
        after.saturating_sub(before) / actors,
        state.0 / 1_000_000,
        saved.as_secs_f64(),
        elapsed.as_secs_f64()
    );
}

struct CountingSink(u64);

impl std::io::Write for CountingSink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0 += buf.len() as u64;
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn rss_bytes() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").expect("statm");
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .expect("resident pages");
    pages * 4096
}
