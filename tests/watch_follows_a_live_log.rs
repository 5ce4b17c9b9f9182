//! `audit watch` on a live file log: alerts arrive while the writer appends
//! across segment rotation; a line the writer is still writing is never
//! taken for tampering; a restart (clean, or after SIGKILL) neither misses
//! an alert nor, after a clean stop, repeats one; tampering and repairs
//! raise integrity alerts.

mod common;
#[path = "common/watch.rs"]
mod watch;

use std::fs::OpenOptions;
use std::io::Write;
use std::path::Path;
use std::time::Duration;

use audit_layer::{AuditWriter, FileSink};
use watch::{Watching, alerts, append, event, run_watch};

const RULES: &str = r#"
[defaults]
suppress = "0s"

[[rule]]
name = "exports"
kind = "match"
severity = "high"
message = "{actor} exported {resource}"
where = { action = "*.export" }

[[rule]]
name = "three-deletes"
kind = "threshold"
severity = "high"
message = "{key} deleted {count}"
where = { action = "*.delete" }
group_by = "actor"
at_least = 3
within = "10m"
"#;

fn rules(dir: &Path) -> String {
    let path = dir.join("rules.toml");
    std::fs::write(&path, RULES).unwrap();
    path.to_str().unwrap().to_owned()
}

fn s(path: &Path) -> &str {
    path.to_str().unwrap()
}

/// One `audit watch --once` over `log`, keeping its state in `state`.
fn watch_once(rules: &str, log: &Path, state: &Path) -> std::process::Output {
    run_watch(&[
        "--rules",
        rules,
        "--log",
        s(log),
        "--state",
        s(state),
        "--once",
    ])
}

#[test]
fn alerts_arrive_while_the_writer_appends_across_segments() {
    let dir = tempfile::tempdir().unwrap();
    let rules = rules(dir.path());
    let log = dir.path().join("log");
    let sink = FileSink::builder(&log)
        .max_segment_bytes(4096)
        .open()
        .unwrap();
    let (audit, guard) = AuditWriter::builder().spawn(sink).unwrap();
    audit
        .submit(event("session.login", "ann", 0).build())
        .unwrap();
    audit.flush().unwrap();
    let mut watching = Watching::start(&["--rules", &rules, "--log", s(&log), "--poll", "10ms"]);
    for round in 0..5u64 {
        for n in 0..40 {
            audit
                .submit(
                    event("post.read", "ann", round * 100 + n)
                        .resource(format!("post:{n}"))
                        .build(),
                )
                .unwrap();
        }
        audit
            .submit(
                event("ward.export", "ben", round * 100 + 50)
                    .resource(format!("ward:{round}"))
                    .build(),
            )
            .unwrap();
        audit.flush().unwrap();
        let seen = watching.wait_for(round as usize + 1);
        assert_eq!(
            seen[round as usize]["message"],
            format!("ben exported ward:{round}")
        );
    }
    guard.shutdown(Duration::from_secs(10)).unwrap();
    assert!(common::segments(&log).len() > 3, "the log rotated");
    let (code, stderr, seen) = watching.stop_with(libc::SIGTERM);
    assert_eq!(code, Some(1), "{stderr}");
    assert_eq!(seen.len(), 5, "no integrity alert: {seen:#?}");
    assert!(stderr.contains("206 record(s) evaluated"), "{stderr}");
}

#[test]
fn a_clean_restart_mid_window_neither_repeats_nor_misses() {
    let dir = tempfile::tempdir().unwrap();
    let rules = rules(dir.path());
    let (log, state) = (dir.path().join("log"), dir.path().join("state"));
    let once = || watch_once(&rules, &log, &state);
    append(
        &log,
        vec![
            event("post.delete", "dan", 0).build(),
            event("post.delete", "dan", 60).build(),
        ],
    );
    let first = once();
    assert_eq!(
        first.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    assert!(first.stdout.is_empty());

    append(
        &log,
        vec![
            event("post.delete", "dan", 120).build(),
            event("ward.export", "eve", 130).build(),
        ],
    );
    let second = once();
    let raised = alerts(&second.stdout);
    assert_eq!(raised.len(), 2, "{raised:#?}");
    assert_eq!(raised[0]["rule"], "three-deletes");
    assert_eq!(
        watch::seqs(&raised[0]),
        [0, 1, 2],
        "the window spans the restart"
    );
    assert_eq!(raised[1]["rule"], "exports");

    let third = once();
    assert!(
        third.stdout.is_empty(),
        "nothing repeated: {}",
        String::from_utf8_lossy(&third.stdout)
    );
    assert_eq!(third.status.code(), Some(0));
}

#[test]
fn a_killed_watch_misses_nothing_and_repeats_only_with_the_same_ids() {
    let dir = tempfile::tempdir().unwrap();
    let rules = rules(dir.path());
    let (log, state) = (dir.path().join("log"), dir.path().join("state"));
    let exports = |from: u64| -> Vec<audit_layer::AuditEvent> {
        (from..from + 3)
            .map(|n| {
                event("ward.export", "fay", n)
                    .resource(format!("ward:{n}"))
                    .build()
            })
            .collect()
    };
    append(&log, exports(0));
    let mut watching = Watching::start(&[
        "--rules",
        &rules,
        "--log",
        s(&log),
        "--state",
        s(&state),
        "--poll",
        "10ms",
    ]);
    watching.wait_for(3);
    let (_, _, before_kill) = watching.stop_with(libc::SIGKILL);
    append(&log, exports(3));
    let after = watch_once(&rules, &log, &state);
    let replayed = run_watch(&["--rules", &rules, "--log", s(&log), "--replay"]);
    let mut got: Vec<String> = before_kill
        .iter()
        .chain(alerts(&after.stdout).iter())
        .map(|a| a["id"].as_str().unwrap().to_owned())
        .collect();
    got.sort();
    got.dedup();
    let mut all: Vec<String> = alerts(&replayed.stdout)
        .iter()
        .map(|a| a["id"].as_str().unwrap().to_owned())
        .collect();
    all.sort();
    assert_eq!(
        got, all,
        "every alert of the history, under the ids a replay gives"
    );
    assert_eq!(all.len(), 6);
}

#[test]
fn a_line_still_being_written_is_not_tampering_and_is_read_once_complete() {
    let dir = tempfile::tempdir().unwrap();
    let rules = rules(dir.path());
    let (log, state) = (dir.path().join("log"), dir.path().join("state"));
    append(
        &log,
        vec![
            event("post.read", "gil", 0).build(),
            event("ward.export", "gil", 1).build(),
        ],
    );
    let segment = common::segments(&log)[0].clone();
    let torn_off = common::tear_last_line(&segment);

    let partial = watch_once(&rules, &log, &state);
    assert!(
        partial.stdout.is_empty(),
        "{}",
        String::from_utf8_lossy(&partial.stdout)
    );
    assert_eq!(
        partial.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&partial.stderr)
    );

    OpenOptions::new()
        .append(true)
        .open(&segment)
        .unwrap()
        .write_all(&torn_off)
        .unwrap();
    let complete = watch_once(&rules, &log, &state);
    let raised = alerts(&complete.stdout);
    assert_eq!(raised.len(), 1, "{raised:#?}");
    assert_eq!(raised[0]["rule"], "exports");
}

#[test]
fn tampering_behind_the_position_and_a_repair_raise_integrity_alerts() {
    let dir = tempfile::tempdir().unwrap();
    let rules = rules(dir.path());
    let (log, state) = (dir.path().join("log"), dir.path().join("state"));
    append(
        &log,
        (0..4)
            .map(|n| event("post.read", "hal", n).build())
            .collect(),
    );
    let once = || watch_once(&rules, &log, &state);
    assert!(once().stdout.is_empty());

    // Edit a record the watch already passed: the verify run finds it.
    let segment = common::segments(&log)[0].clone();
    let text = std::fs::read_to_string(&segment).unwrap();
    std::fs::write(
        &segment,
        text.replacen("\"actor\":\"hal\"", "\"actor\":\"ian\"", 1),
    )
    .unwrap();
    let tampered = alerts(&once().stdout);
    assert_eq!(tampered.len(), 1, "{tampered:#?}");
    assert_eq!(tampered[0]["rule"], "integrity");
    assert_eq!(tampered[0]["key"], "modified");
    assert_eq!(tampered[0]["severity"], "critical");
    assert!(
        once().stdout.is_empty(),
        "the same finding is not alerted twice"
    );

    // A crash mid-write leaves a torn tail; the writer's repair is a record.
    std::fs::write(&segment, &text).unwrap();
    OpenOptions::new()
        .append(true)
        .open(&segment)
        .unwrap()
        .write_all(b"{\"v\":1,\"seq\":4,\"pr")
        .unwrap();
    append(&log, vec![event("post.read", "hal", 10).build()]);
    let repaired = alerts(&once().stdout);
    let keys: Vec<&str> = repaired
        .iter()
        .map(|a| a["key"].as_str().unwrap())
        .collect();
    assert!(keys.contains(&"repair"), "{repaired:#?}");
}

#[test]
fn a_live_watch_verifies_on_its_own_thread_and_alerts_tampering_behind_it() {
    let dir = tempfile::tempdir().unwrap();
    let rules = rules(dir.path());
    let log = dir.path().join("log");
    append(
        &log,
        (0..4)
            .map(|n| event("post.read", "ivy", n).build())
            .collect(),
    );
    let mut watching = Watching::start(&[
        "--rules",
        &rules,
        "--log",
        s(&log),
        "--poll",
        "10ms",
        "--verify-every",
        "50ms",
    ]);
    let segment = common::segments(&log)[0].clone();
    let text = std::fs::read_to_string(&segment).unwrap();
    std::fs::write(
        &segment,
        text.replacen("\"actor\":\"ivy\"", "\"actor\":\"joe\"", 1),
    )
    .unwrap();
    let seen = watching.wait_for(1).to_vec();
    assert_eq!(seen[0]["rule"], "integrity", "{seen:#?}");
    assert_eq!(seen[0]["key"], "modified");
    let (code, stderr, seen) = watching.stop_with(libc::SIGTERM);
    assert_eq!(code, Some(1), "{stderr}");
    assert_eq!(
        seen.len(),
        1,
        "alerted once, however many verify runs found it: {seen:#?}"
    );
}
