//! The example rules file (examples/watch/rules.toml) against a scripted
//! trail: each named case raises its alert, pointing at the records that
//! make it, and the near misses beside each case raise nothing.

mod common;
#[path = "common/watch.rs"]
mod watch;

use audit_layer::{FailureKind, Outcome};
use serde_json::json;
use watch::{alerts, append, event, of_rule, seqs};

const RULES: &str = "examples/watch/rules.toml";
const MINUTE: u64 = 60;

fn replay(dir: &std::path::Path) -> Vec<serde_json::Value> {
    let out = common::run_audit(&[
        "watch",
        "--rules",
        RULES,
        "--log",
        dir.to_str().unwrap(),
        "--replay",
    ]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    alerts(&out.stdout)
}

#[test]
fn the_example_rules_file_has_twenty_rules_or_more() {
    let rules = audit_layer::watch::RuleSet::load(RULES).unwrap();
    assert!(rules.rules().len() >= 20, "{}", rules.rules().len());
}

#[test]
fn each_named_case_raises_its_alert_and_near_misses_do_not() {
    let dir = tempfile::tempdir().unwrap();
    let mut events = Vec::new();
    let mut push = |e| events.push(e);
    // seq 0: privilege escalation: alice makes bob an admin (with a ticket)...
    push(
        event("user.role_change", "alice", 0)
            .resource("user:bob")
            .before(json!({"role": "editor"}))
            .after(json!({"role": "admin"}))
            .context("ticket", "SEC-1")
            .build(),
    );
    // seq 1: ...and bob exports within the hour.
    push(
        event("patient.export", "bob", 5 * MINUTE)
            .resource("ward:3")
            .after(json!({"rows": 40}))
            .build(),
    );
    // seq 2: near miss: carol is made an admin, and exports 61 minutes later (seq 3).
    push(
        event("user.role_change", "alice", 6 * MINUTE)
            .resource("user:carol")
            .after(json!({"role": "admin"}))
            .context("ticket", "SEC-2")
            .build(),
    );
    // seq 3..=52: mallory opens 51 different patient records within the shift.
    for n in 0..51 {
        push(
            event("patient.read", "mallory", 7 * MINUTE + n)
                .resource(format!("patient:{n}"))
                .build(),
        );
    }
    // seq 58: near miss: nina opens 50 different records, some twice (seq 59..=108).
    for n in 0..50 {
        push(
            event("patient.read", "nina", 8 * MINUTE + n)
                .resource(format!("patient:{}", n % 50))
                .build(),
        );
    }
    for n in 0..10 {
        push(
            event("patient.read", "nina", 9 * MINUTE + n)
                .resource(format!("patient:{n}"))
                .build(),
        );
    }
    push(
        event("patient.export", "carol", 67 * MINUTE)
            .resource("ward:4")
            .after(json!({"rows": 10}))
            .build(),
    );
    // A bulk export (1,000 rows or more) and a near miss of 999 rows.
    push(
        event("billing.export", "frank", 68 * MINUTE)
            .resource("invoices")
            .after(json!({"rows": 5000}))
            .build(),
    );
    push(
        event("billing.export", "frank", 69 * MINUTE)
            .resource("invoices")
            .after(json!({"rows": 999}))
            .build(),
    );
    // Mass deletion: 20 deletes within 10 minutes; a near miss of 19.
    for n in 0..20 {
        push(
            event("post.delete", "grace", 70 * MINUTE + n * 30)
                .resource(format!("post:{n}"))
                .build(),
        );
    }
    for n in 0..19 {
        push(
            event("post.delete", "hank", 70 * MINUTE + n * 30)
                .resource(format!("post:{n}"))
                .build(),
        );
    }
    // Download of an approved document, and of a draft.
    push(
        event("document.download", "ivy", 80 * MINUTE)
            .resource("doc:7")
            .after(json!({"status": "approved", "version": "3"}))
            .build(),
    );
    push(
        event("document.download", "ivy", 81 * MINUTE)
            .resource("doc:8")
            .after(json!({"status": "draft"}))
            .build(),
    );
    // A role change with no ticket (a near miss of the admin rule: editor).
    push(
        event("user.role_change", "alice", 82 * MINUTE)
            .resource("user:dan")
            .after(json!({"role": "editor"}))
            .build(),
    );
    // Logins: Monday 18:59 Berlin is inside working hours, 19:00 is not.
    push(
        event("session.login", "judy", 8 * 3600 + 59 * MINUTE)
            .context("ip", "192.0.2.10")
            .build(),
    );
    push(
        event("session.login", "karl", 9 * 3600)
            .context("ip", "192.0.2.11")
            .build(),
    );
    // A denied login and a panicked handler.
    push(
        event("session.login", "leo", 9 * 3600 + MINUTE)
            .outcome(Outcome::failure(FailureKind::Denied, "bad password"))
            .build(),
    );
    let dir_path = dir.path();
    append(dir_path, events);

    let alerts = replay(dir_path);
    let names: std::collections::BTreeSet<&str> =
        alerts.iter().map(|a| a["rule"].as_str().unwrap()).collect();

    let escalation = of_rule(&alerts, "privilege-escalation-then-export");
    assert_eq!(escalation.len(), 1, "{escalation:?}");
    assert_eq!(seqs(escalation[0]), [0, 1]);
    assert_eq!(escalation[0]["key"], "bob");
    assert!(
        escalation[0]["message"]
            .as_str()
            .unwrap()
            .starts_with("alice made user:bob an admin; bob exported ward:3")
    );

    let reads = of_rule(&alerts, "patient-records-per-shift");
    assert_eq!(reads.len(), 1, "{reads:?}");
    assert_eq!(reads[0]["key"], "mallory");
    assert_eq!(reads[0]["count"], 51);
    assert_eq!(seqs(reads[0]), (3..=53).collect::<Vec<u64>>());

    let bulk = of_rule(&alerts, "bulk-export");
    assert_eq!(bulk.len(), 1, "{bulk:?}");
    assert_eq!(bulk[0]["message"], "frank exported 5000 rows of invoices");

    let deletion = of_rule(&alerts, "mass-deletion");
    assert_eq!(deletion.len(), 1, "{deletion:?}");
    assert_eq!(deletion[0]["key"], "grace");
    assert_eq!(deletion[0]["records"].as_array().unwrap().len(), 20);

    let download = of_rule(&alerts, "approved-document-downloaded");
    assert_eq!(download.len(), 1);
    assert_eq!(
        download[0]["message"],
        "ivy downloaded approved document doc:7 (version 3)"
    );

    let after_hours = of_rule(&alerts, "after-hours-login");
    assert_eq!(after_hours.len(), 1, "{after_hours:?}");
    assert!(
        after_hours[0]["message"]
            .as_str()
            .unwrap()
            .starts_with("karl logged in")
    );

    let admin = of_rule(&alerts, "admin-role-granted");
    assert_eq!(admin.len(), 2, "bob and carol: {admin:?}");
    let no_ticket = of_rule(&alerts, "role-change-without-ticket");
    assert_eq!(no_ticket.len(), 1);
    assert_eq!(
        no_ticket[0]["message"],
        "alice changed the role of user:dan with no change ticket"
    );

    // Record time gaps of 15 minutes or more: the trail was quiet.
    assert!(!of_rule(&alerts, "logging-stopped").is_empty());

    let expected: std::collections::BTreeSet<&str> = [
        "privilege-escalation-then-export",
        "patient-records-per-shift",
        "bulk-export",
        "mass-deletion",
        "approved-document-downloaded",
        "after-hours-login",
        "admin-role-granted",
        "role-change-without-ticket",
        "logging-stopped",
    ]
    .into();
    assert_eq!(names, expected, "{alerts:#?}");
    for alert in &alerts {
        assert_eq!(alert["id"].as_str().unwrap().len(), 32);
        for record in alert["records"].as_array().unwrap() {
            assert_eq!(record["hash"].as_str().unwrap().len(), 64);
        }
    }

    // A replay is deterministic: the same alerts, with the same ids.
    assert_eq!(replay(dir_path), alerts);
}
