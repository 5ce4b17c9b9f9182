//! Alerts go to a webhook (a real HTTP receiver, a separate process on
//! 127.0.0.1) while evaluation goes on: a receiver that is down, then up,
//! gets every alert exactly once; one that fails at first is retried; what
//! was not delivered when the watch stopped is delivered by the next run.

mod common;
#[path = "common/watch.rs"]
mod watch;

use std::time::Duration;

use watch::{Watching, append, event, free_port};

const RULES: &str = r#"
[[rule]]
name = "exports"
kind = "match"
severity = "high"
message = "{actor} exported {resource}"
where = { action = "*.export" }
group_by = "actor"
"#;

fn setup(exporters: &[&str]) -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("rules.toml"), RULES).unwrap();
    let events = exporters
        .iter()
        .enumerate()
        .map(|(n, actor)| {
            event("patient.export", actor, n as u64)
                .resource(format!("ward:{n}\u{202e}\",\"rule\":\"forged"))
                .build()
        })
        .collect();
    append(&dir.path().join("log"), events);
    let rules = dir.path().join("rules.toml").to_str().unwrap().to_owned();
    (dir, rules)
}

/// Runs the receiver until it served `requests`, (bounded) then returns the bodies it kept.
fn receive(
    port: u16,
    out: &std::path::Path,
    fail_first: u32,
    requests: u32,
) -> Vec<serde_json::Value> {
    let status = std::process::Command::new(common::example("webhook_receiver"))
        .args([
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--out",
            out.to_str().unwrap(),
        ])
        .args([
            "--fail-first",
            &fail_first.to_string(),
            "--max-requests",
            &requests.to_string(),
        ])
        .status()
        .expect("the receiver runs");
    assert!(status.success());
    std::fs::read_to_string(out)
        .unwrap()
        .lines()
        .map(|line| {
            assert!(line.is_ascii(), "{line}");
            serde_json::from_str(line).unwrap()
        })
        .collect()
}

fn ids(alerts: &[serde_json::Value]) -> Vec<String> {
    let mut ids: Vec<String> = alerts
        .iter()
        .map(|a| a["id"].as_str().unwrap().to_owned())
        .collect();
    ids.sort();
    ids
}

#[test]
fn a_webhook_down_then_up_gets_every_alert_once_and_evaluation_never_waits() {
    let (dir, rules) = setup(&["ann", "ben", "cat"]);
    let port = free_port();
    let log = dir.path().join("log");
    let state = dir.path().join("state");
    let mut watching = Watching::start(&[
        "--rules",
        &rules,
        "--log",
        log.to_str().unwrap(),
        "--state",
        state.to_str().unwrap(),
        "--webhook",
        &format!("http://127.0.0.1:{port}/hooks/audit"),
        "--poll",
        "20ms",
    ]);
    // Nothing listens yet: the alerts are printed all the same.
    let printed = watching.wait_for(3).to_vec();
    let received = receive(port, &dir.path().join("received.jsonl"), 0, 3);
    assert_eq!(ids(&received), ids(&printed));
    assert_eq!(
        received.iter().filter(|a| a["rule"] == "exports").count(),
        3
    );
    assert!(received.iter().all(|a| a["resource"].is_null() && a["message"].as_str().unwrap().contains('\u{202e}')));
    let (code, stderr, _) = watching.stop_with(libc::SIGTERM);
    assert_eq!(code, Some(1), "alerts were raised: {stderr}");
    assert!(
        stderr.contains("webhook: 3 delivered, 0 rejected, 0 pending"),
        "{stderr}"
    );
    assert!(
        !stderr.contains(", 0 failed attempt"),
        "the first attempts failed: {stderr}"
    );
}

#[test]
fn a_receiver_that_answers_500_is_retried_until_it_takes_the_alert() {
    let (dir, rules) = setup(&["ann", "ben"]);
    let port = free_port();
    let log = dir.path().join("log");
    let receiver = std::thread::spawn({
        let out = dir.path().join("received.jsonl");
        move || receive(port, &out, 2, 4)
    });
    let out = watch::run_watch(&[
        "--rules",
        &rules,
        "--log",
        log.to_str().unwrap(),
        "--once",
        "--webhook",
        &format!("http://127.0.0.1:{port}/"),
        "--webhook-grace",
        "60s",
    ]);
    let received = receiver.join().unwrap();
    assert_eq!(received.len(), 2, "{received:#?}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("2 delivered"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn what_a_stopped_watch_did_not_deliver_the_next_run_delivers() {
    let (dir, rules) = setup(&["ann", "ben"]);
    let port = free_port();
    let log = dir.path().join("log");
    let state = dir.path().join("state");
    let webhook = format!("http://127.0.0.1:{port}/");
    let args = |grace: &'static str| {
        vec![
            "--rules".to_owned(),
            rules.clone(),
            "--log".into(),
            log.to_str().unwrap().into(),
            "--state".into(),
            state.to_str().unwrap().into(),
            "--once".into(),
            "--webhook".into(),
            webhook.clone(),
            "--webhook-grace".into(),
            grace.into(),
        ]
    };
    let first = watch::run_watch(&args("200ms").iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(watch::alerts(&first.stdout).len(), 2);
    assert!(
        String::from_utf8_lossy(&first.stderr).contains("2 pending"),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );

    let receiver = std::thread::spawn({
        let out = dir.path().join("received.jsonl");
        move || receive(port, &out, 0, 2)
    });
    let second = watch::run_watch(&args("60s").iter().map(String::as_str).collect::<Vec<_>>());
    assert!(
        second.stdout.is_empty(),
        "printed already: {}",
        String::from_utf8_lossy(&second.stdout)
    );
    let received = receiver.join().unwrap();
    assert_eq!(ids(&received), ids(&watch::alerts(&first.stdout)));
    let _ = Duration::ZERO;
}
