//! The rule engine at the edges of its windows: exactly N and N−1 records,
//! records exactly on a window's boundary and one nanosecond past it,
//! record times out of order, working hours across midnight and a daylight
//! saving change, silence, suppression, a restart mid-window, and the chain
//! checked as lines arrive.

#[path = "common/watch.rs"]
mod watch;

use audit_layer::watch::{Alert, Engine, RuleSet, write_alert_json};
use audit_layer::{
    AuditEvent, AuditWriter, FailureKind, FindingCode, MemorySink, Outcome, Timestamp,
};
use std::time::{Duration, UNIX_EPOCH};
use watch::{at, at_nanos};

const MINUTE: u64 = 60_000_000_000;

/// The lines the real writer makes of `events`.
fn lines(events: Vec<AuditEvent>) -> Vec<Vec<u8>> {
    let (sink, log) = MemorySink::new();
    let (audit, guard) = AuditWriter::builder().spawn(sink).unwrap();
    for event in events {
        audit.submit(event).unwrap();
    }
    guard.shutdown(Duration::from_secs(5)).unwrap();
    log.bytes()
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .map(<[u8]>::to_vec)
        .collect()
}

fn run(rules: &str, events: Vec<AuditEvent>) -> Vec<Alert> {
    let mut engine = Engine::new(RuleSet::from_toml(rules).unwrap());
    lines(events)
        .iter()
        .flat_map(|line| engine.observe_line(line))
        .collect()
}

fn by(actor: &str, action: &'static str, nanos: u64) -> AuditEvent {
    AuditEvent::builder(action)
        .actor(actor)
        .time(at_nanos(nanos))
        .build()
}

const THREE_IN_TEN: &str = r#"
[defaults]
suppress = "0s"
[[rule]]
name = "three"
kind = "threshold"
severity = "high"
message = "{key}: {count}"
where = { action = "x" }
group_by = "actor"
at_least = 3
within = "10m"
"#;

#[test]
fn a_threshold_counts_both_ends_of_its_window_and_not_one_nanosecond_more() {
    let alerts = run(
        THREE_IN_TEN,
        vec![
            by("exact", "x", 0),
            by("exact", "x", 5 * MINUTE),
            by("exact", "x", 10 * MINUTE),
            by("past", "x", 0),
            by("past", "x", 5 * MINUTE),
            by("past", "x", 10 * MINUTE + 1),
            by("two", "x", 0),
            by("two", "x", MINUTE),
        ],
    );
    assert_eq!(alerts.len(), 1, "{alerts:#?}");
    assert_eq!(alerts[0].key.as_deref(), Some("exact"));
    assert_eq!(alerts[0].count, Some(3));
    assert_eq!(
        alerts[0].records.iter().map(|r| r.seq).collect::<Vec<_>>(),
        [0, 1, 2]
    );
}

#[test]
fn records_out_of_time_order_count_when_inside_the_window_only() {
    let alerts = run(
        THREE_IN_TEN,
        vec![
            by("late-inside", "x", 10 * MINUTE),
            by("late-inside", "x", 0),
            by("late-inside", "x", 5 * MINUTE),
            by("late-outside", "x", 20 * MINUTE),
            by("late-outside", "x", 9 * MINUTE),
            by("late-outside", "x", 15 * MINUTE),
        ],
    );
    assert_eq!(alerts.len(), 1, "{alerts:#?}");
    assert_eq!(alerts[0].key.as_deref(), Some("late-inside"));
}

#[test]
fn a_burst_is_one_alert_and_counting_starts_again_after_it() {
    let events = (0..7).map(|n| by("a", "x", n * MINUTE / 10)).collect();
    let alerts = run(THREE_IN_TEN, events);
    assert_eq!(alerts.len(), 2, "records 0-2 and 3-5: {alerts:#?}");
    assert_eq!(
        alerts[1].records.iter().map(|r| r.seq).collect::<Vec<_>>(),
        [3, 4, 5]
    );
}

#[test]
fn distinct_values_are_counted_once_each() {
    let rules = r#"
[[rule]]
name = "spray"
kind = "threshold"
severity = "high"
message = "{count} accounts from {key}"
where = { action = "session.login", outcome = "failure" }
group_by = "context.ip"
distinct = "actor"
at_least = 3
within = "10m"
"#;
    let failed = |actor: &str, ip: &str, minute: u64| {
        AuditEvent::builder("session.login")
            .actor(actor)
            .context("ip", ip)
            .outcome(Outcome::failure(FailureKind::Denied, "bad password"))
            .time(at_nanos(minute * MINUTE))
            .build()
    };
    let alerts = run(
        rules,
        vec![
            failed("a", "192.0.2.1", 0),
            failed("a", "192.0.2.1", 1),
            failed("b", "192.0.2.1", 2),
            failed("b", "192.0.2.1", 3),
            failed("c", "192.0.2.2", 3),
            failed("c", "192.0.2.1", 4),
        ],
    );
    assert_eq!(alerts.len(), 1, "{alerts:#?}");
    assert_eq!(alerts[0].message, "3 accounts from 192.0.2.1");
    assert_eq!(
        alerts[0].records.iter().map(|r| r.seq).collect::<Vec<_>>(),
        [0, 2, 5]
    );
}

#[test]
fn a_sequence_needs_its_second_record_after_the_first_within_the_window() {
    let rules = r#"
[defaults]
suppress = "0s"
[[rule]]
name = "a-then-b"
kind = "sequence"
severity = "high"
message = "{first.actor} did a, then {then.actor} did b"
first = { action = "a" }
then = { action = "b" }
key = "actor"
within = "60m"
"#;
    let alerts = run(
        rules,
        vec![
            by("exact", "a", 0),
            by("exact", "b", 60 * MINUTE),
            by("past", "a", 0),
            by("past", "b", 60 * MINUTE + 1),
            by("reversed", "b", 0),
            by("reversed", "a", MINUTE),
            by("other", "a", 0),
            by("someone-else", "b", MINUTE),
        ],
    );
    assert_eq!(alerts.len(), 1, "{alerts:#?}");
    assert_eq!(alerts[0].message, "exact did a, then exact did b");
    assert_eq!(
        alerts[0].records.iter().map(|r| r.seq).collect::<Vec<_>>(),
        [0, 1]
    );
}

/// Record time at a UTC date and time.
fn utc(y: i16, m: i8, d: i8, h: i8, min: i8, s: i8) -> Timestamp {
    let zoned = jiff_free_utc(y, m, d, h, min, s);
    Timestamp::from_system_time(UNIX_EPOCH + Duration::from_secs(zoned)).unwrap()
}

/// Seconds since 1970 of a UTC civil time (days from civil, Howard Hinnant's algorithm).
fn jiff_free_utc(y: i16, m: i8, d: i8, h: i8, min: i8, s: i8) -> u64 {
    let (y, m, d) = (i64::from(y) - i64::from(m <= 2), i64::from(m), i64::from(d));
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    (days * 86_400 + i64::from(h) * 3600 + i64::from(min) * 60 + i64::from(s)) as u64
}

fn login(actor: &str, time: Timestamp) -> AuditEvent {
    AuditEvent::builder("session.login")
        .actor(actor)
        .time(time)
        .build()
}

#[test]
fn working_hours_are_local_time_with_daylight_saving_and_inclusive_starts() {
    let rules = r#"
[defaults]
suppress = "0s"
[[rule]]
name = "after-hours"
kind = "time_of_day"
severity = "medium"
message = "{actor}"
where = { action = "session.login" }
hours = "07:00-19:00"
days = ["mon-fri"]
timezone = "Europe/Berlin"
"#;
    // November: Berlin is UTC+1. March 30th 2026, after the change: UTC+2.
    let alerts = run(
        rules,
        vec![
            login("before-seven", utc(2026, 11, 2, 5, 59, 59)),
            login("at-seven", utc(2026, 11, 2, 6, 0, 0)),
            login("before-nineteen", utc(2026, 11, 2, 17, 59, 59)),
            login("at-nineteen", utc(2026, 11, 2, 18, 0, 0)),
            login("saturday-noon", utc(2026, 11, 7, 11, 0, 0)),
            login("summer-0630", utc(2026, 3, 30, 4, 30, 0)),
            login("summer-0730", utc(2026, 3, 30, 5, 30, 0)),
        ],
    );
    let names: Vec<&str> = alerts.iter().map(|a| a.message.as_str()).collect();
    assert_eq!(
        names,
        [
            "before-seven",
            "at-nineteen",
            "saturday-noon",
            "summer-0630"
        ]
    );
}

#[test]
fn a_night_shift_spans_midnight_and_belongs_to_the_day_it_started() {
    let rules = r#"
[defaults]
suppress = "0s"
[[rule]]
name = "outside-night-shift"
kind = "time_of_day"
severity = "medium"
message = "{actor}"
where = { action = "session.login" }
hours = "22:00-06:00"
days = ["mon"]
timezone = "UTC"
"#;
    let alerts = run(
        rules,
        vec![
            login("monday-23", utc(2026, 11, 2, 23, 0, 0)),
            login("tuesday-03", utc(2026, 11, 3, 3, 0, 0)),
            login("tuesday-06", utc(2026, 11, 3, 6, 0, 0)),
            login("tuesday-23", utc(2026, 11, 3, 23, 0, 0)),
        ],
    );
    let names: Vec<&str> = alerts.iter().map(|a| a.message.as_str()).collect();
    assert_eq!(names, ["tuesday-06", "tuesday-23"]);
}

#[test]
fn silence_is_a_gap_of_record_time_as_long_as_the_quiet_time() {
    let rules = r#"
[defaults]
suppress = "0s"
[[rule]]
name = "quiet"
kind = "silence"
severity = "critical"
message = "nothing for {within}"
quiet_for = "15m"
"#;
    let alerts = run(
        rules,
        vec![
            by("a", "x", 0),
            by("a", "x", 15 * MINUTE - 1),
            by("a", "x", 30 * MINUTE - 1),
            by("a", "x", 31 * MINUTE),
        ],
    );
    assert_eq!(alerts.len(), 1, "{alerts:#?}");
    assert_eq!(
        alerts[0].records.iter().map(|r| r.seq).collect::<Vec<_>>(),
        [1, 2]
    );
}

#[test]
fn suppression_holds_back_repeats_per_key_and_counts_them() {
    let rules = r#"
[[rule]]
name = "deletes"
kind = "match"
severity = "low"
message = "{actor} deleted"
where = { action = "x.delete" }
group_by = "actor"
suppress = "10m"
"#;
    let mut engine = Engine::new(RuleSet::from_toml(rules).unwrap());
    let events = vec![
        by("a", "x.delete", 0),
        by("a", "x.delete", MINUTE),
        by("b", "x.delete", MINUTE),
        by("a", "x.delete", 2 * MINUTE),
        by("a", "x.delete", 10 * MINUTE),
    ];
    let alerts: Vec<Alert> = lines(events)
        .iter()
        .flat_map(|l| engine.observe_line(l))
        .collect();
    let summary: Vec<(&str, u64)> = alerts
        .iter()
        .map(|a| (a.key.as_deref().unwrap(), a.suppressed))
        .collect();
    assert_eq!(summary, [("a", 0), ("b", 0), ("a", 2)]);
    assert_eq!(engine.stats().suppressed, 2);
    assert_eq!(engine.stats().per_rule["deletes"].suppressed, 2);
    assert_eq!(engine.stats().alerts, 3);
}

#[test]
fn a_restart_mid_window_goes_on_counting_and_a_changed_rule_starts_afresh() {
    let all = lines(vec![
        by("a", "x", 0),
        by("a", "x", MINUTE),
        by("a", "x", 2 * MINUTE),
    ]);
    let mut engine = Engine::new(RuleSet::from_toml(THREE_IN_TEN).unwrap());
    assert!(engine.observe_line(&all[0]).is_empty());
    assert!(engine.observe_line(&all[1]).is_empty());
    let mut saved = Vec::new();
    engine.write_state(&mut saved).unwrap();
    drop(engine);

    let mut restarted =
        Engine::with_state(RuleSet::from_toml(THREE_IN_TEN).unwrap(), &saved[..]).unwrap();
    assert_eq!(restarted.next_seq(), Some(2));
    let alerts = restarted.observe_line(&all[2]);
    assert_eq!(alerts.len(), 1, "{alerts:#?}");
    assert_eq!(alerts[0].records.len(), 3);

    let changed = THREE_IN_TEN.replace("at_least = 3", "at_least = 2");
    let mut fresh = Engine::with_state(RuleSet::from_toml(&changed).unwrap(), &saved[..]).unwrap();
    assert!(
        fresh.observe_line(&all[2]).is_empty(),
        "a changed rule keeps no old window"
    );
}

#[test]
fn a_broken_chain_raises_integrity_alerts_once_each() {
    let all = lines((0..5).map(|n| by("a", "y", n * MINUTE)).collect());
    let mut engine = Engine::new(RuleSet::from_toml("").unwrap());
    let mut alerts = engine.observe_line(&all[0]);
    // A modified record: its bytes no longer hash to its hash.
    let tampered = String::from_utf8(all[1].clone())
        .unwrap()
        .replace("\"actor\":\"a\"", "\"actor\":\"b\"");
    alerts.extend(engine.observe_line(tampered.as_bytes()));
    // Record 3 is deleted.
    alerts.extend(engine.observe_line(&all[2]));
    alerts.extend(engine.observe_line(&all[4]));
    let codes: Vec<(&str, Option<u64>)> = alerts
        .iter()
        .map(|a| (a.key.as_deref().unwrap(), a.records.first().map(|r| r.seq)))
        .collect();
    assert_eq!(codes, [("modified", Some(1)), ("missing", Some(3))]);
    assert!(
        alerts
            .iter()
            .all(|a| a.rule == "integrity" && a.kind == "integrity")
    );
    // The verifier's run finding the same problem later raises nothing new.
    assert!(
        engine
            .finding(FindingCode::Modified, Some(1), "again")
            .is_none()
    );
    assert_eq!(engine.stats().unreadable, 1);
}

#[test]
fn hostile_values_stay_inside_the_alert_json() {
    let rules = r#"
[[rule]]
name = "any"
kind = "match"
severity = "low"
message = "{actor} did {action} to {resource}"
where = { action = "*" }
"#;
    let hostile = format!(
        "eve\n\u{1b}[2J\u{202e}\"}},{{\"rule\":\"forged\"\u{0}{}",
        "x".repeat(1 << 20)
    );
    let alerts = run(
        rules,
        vec![
            AuditEvent::builder("post.read")
                .actor(hostile.clone())
                .resource("</script><script>alert(1)</script>")
                .time(at(0))
                .build(),
        ],
    );
    assert_eq!(alerts.len(), 1);
    assert!(
        alerts[0].message.len() < 1000,
        "{}",
        alerts[0].message.len()
    );
    let mut out = Vec::new();
    write_alert_json(&mut out, &alerts[0]).unwrap();
    assert!(out.is_ascii());
    assert_eq!(out.iter().filter(|b| **b == b'\n').count(), 1);
    assert!(!out.iter().any(|b| *b < 0x20 && *b != b'\n'));
    let back: serde_json::Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(back["rule"], "any");
    assert!(
        back["message"]
            .as_str()
            .unwrap()
            .starts_with("eve\n\u{1b}[2J\u{202e}\"},{\"rule\":\"forged\"\u{0}xxx")
    );
}
