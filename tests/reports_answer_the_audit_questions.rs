//! `audit report` answers the recurring questions of an audit from a
//! verified trail: who accessed what (with outliers), did every change have
//! a ticket, which privileges changed, and the whole signed history of one
//! document; a trail with problems says so first; a signed report can be
//! checked, and an edited one is caught.

mod common;
#[path = "common/watch.rs"]
mod watch;

use audit_layer::{DocumentHash, ESignature, FailureKind, Outcome, SignatureMeaning};
use serde_json::{Value, json};
use watch::{append, at, event};

fn report(dir: &std::path::Path, args: &[&str]) -> (std::process::Output, Value, String) {
    let prefix = dir.join(format!("report-{}", args[0]));
    let log = dir.join("log");
    let mut all = vec!["report"];
    all.extend_from_slice(args);
    all.extend([
        "--log",
        log.to_str().unwrap(),
        "--out",
        prefix.to_str().unwrap(),
    ]);
    let out = common::run_audit(&all);
    let json = std::fs::read_to_string(prefix.with_extension("json")).unwrap_or_default();
    let html = std::fs::read_to_string(prefix.with_extension("html")).unwrap_or_default();
    (
        out,
        serde_json::from_str(&json).unwrap_or(Value::Null),
        html,
    )
}

fn clinic(dir: &std::path::Path) {
    let mut events = Vec::new();
    // seq 0..=50: mallory opens 51 records in one shift; ann opens 3.
    for n in 0..51 {
        events.push(
            event("patient.read", "mallory", n)
                .resource(format!("patient:{n}"))
                .build(),
        );
    }
    for n in 0..3 {
        events.push(
            event("patient.read", "ann", 100 + n)
                .resource("patient:1")
                .build(),
        );
    }
    // seq 54..=56: changes, two with a ticket.
    events.push(
        event("config.update", "ops", 200)
            .resource("config:db")
            .before(json!({"pool": 10}))
            .after(json!({"pool": 20}))
            .context("ticket", "CHG-1")
            .build(),
    );
    events.push(
        event("config.update", "ops", 201)
            .resource("config:cache")
            .after(json!({"ttl": 5}))
            .context("ticket", "CHG-2")
            .build(),
    );
    events.push(
        event("config.update", "mallory", 202)
            .resource("config:auth")
            .before(json!({"mfa": true}))
            .after(json!({"mfa": false}))
            .build(),
    );
    // seq 57, 58: a role change and the audit trail read.
    events.push(
        event("user.role_change", "alice", 300)
            .resource("user:bob")
            .before(json!({"role": "editor"}))
            .after(json!({"role": "admin"}))
            .context("ticket", "SEC-9")
            .build(),
    );
    events.push(
        event("auditlog.export", "mallory", 301)
            .resource("audit-log")
            .build(),
    );
    // seq 59..: the document post:42, written, edited, signed twice.
    let v1 = b"post 42, version 1";
    let v2 = b"post 42, version 2";
    events.push(
        event("post.create", "alice", 400)
            .resource("post:42")
            .after(json!({"sha256": DocumentHash::of(v1).to_string()}))
            .build(),
    );
    events.push(
        event("post.update", "bob", 410)
            .resource("post:42")
            .after(json!({"sha256": DocumentHash::of(v2).to_string()}))
            .build(),
    );
    events.push(event("post.read", "carol", 420).resource("post:42").build());
    events.push(
        ESignature::new(
            "u-alice",
            "Alice Archer",
            SignatureMeaning::Review,
            "post:42",
            DocumentHash::of(v2),
        )
        .unwrap()
        .signed_at(at(430))
        .event("post.sign"),
    );
    events.push(
        ESignature::new(
            "u-dana",
            "Dana \u{202e}Scully",
            SignatureMeaning::Approval,
            "post:42",
            DocumentHash::of(v2),
        )
        .unwrap()
        .signed_at(at(440))
        .event("post.sign"),
    );
    events.push(
        event("post.publish", "mallory", 450)
            .resource("post:42")
            .outcome(Outcome::failure(FailureKind::Denied, "not an editor"))
            .build(),
    );
    append(&dir.join("log"), events);
}

#[test]
fn the_access_report_counts_per_actor_and_resource_and_highlights_outliers() {
    let dir = tempfile::tempdir().unwrap();
    clinic(dir.path());
    let (out, json, html) = report(dir.path(), &["access"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let actors = json["actors"].as_array().unwrap();
    assert_eq!(actors[0]["actor"], "mallory");
    assert_eq!(actors[0]["outlier"], true);
    assert_eq!(
        actors[0]["most_in_one_shift"], 54,
        "51 reads, a change, the trail read, a denied publish"
    );
    let ann = actors.iter().find(|a| a["actor"] == "ann").unwrap();
    assert_eq!(
        (
            ann["reads"].as_u64(),
            ann["resources"].as_u64(),
            ann["outlier"].as_bool()
        ),
        (Some(3), Some(1), Some(false))
    );
    let patient_1 = json["resources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["resource"] == "patient:1")
        .unwrap();
    assert_eq!(
        (patient_1["reads"].as_u64(), patient_1["actors"].as_u64()),
        (Some(4), Some(2))
    );
    assert!(
        html.contains("<tr class=\"outlier\"><td>mallory</td>"),
        "outliers are highlighted"
    );
    assert!(
        html.contains("<svg class=\"chart\""),
        "charts are inline SVG"
    );
    assert_eq!(json["integrity"]["intact"], true);
    assert_eq!(json["integrity"]["records"], 65);
}

#[test]
fn the_changes_report_gives_ticket_coverage_and_its_exceptions() {
    let dir = tempfile::tempdir().unwrap();
    clinic(dir.path());
    let (out, json, html) = report(dir.path(), &["changes"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        json["changes_with_ticket"], 3,
        "two config changes and the role change"
    );
    assert_eq!(json["exceptions"][0], 56);
    let rows = json["rows"].as_array().unwrap();
    let exception = rows.iter().find(|r| r["seq"] == 56).unwrap();
    assert_eq!(exception["changes"][0]["path"], "/mfa");
    assert_eq!(
        exception["before"]["mfa"], true,
        "each change with its before and after"
    );
    let created = rows.iter().find(|r| r["seq"] == 55).unwrap();
    assert_eq!(created["after"]["ttl"], 5);
    assert!(
        html.contains("before (none) → after {&quot;ttl&quot;:5}"),
        "a change with no diff shows its states"
    );
    assert!(html.contains("id=\"coverage-share\""));
    assert!(html.contains("NONE"), "a change without a ticket says so");
}

#[test]
fn the_privileged_report_lists_role_changes_and_access_to_the_trail() {
    let dir = tempfile::tempdir().unwrap();
    clinic(dir.path());
    let (out, json, _) = report(dir.path(), &["privileged"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rows: Vec<u64> = json["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["seq"].as_u64().unwrap())
        .collect();
    assert_eq!(rows, [57]);
    assert_eq!(json["trail_access"][0]["actor"], "mallory");
    assert_eq!(json["trail_access"][0]["action"], "auditlog.export");
}

#[test]
fn the_document_report_shows_every_step_and_each_signature_bound_to_its_version() {
    let dir = tempfile::tempdir().unwrap();
    clinic(dir.path());
    let (out, json, html) = report(dir.path(), &["document", "--resource", "post:42"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rows = json["rows"].as_array().unwrap();
    let actions: Vec<&str> = rows.iter().map(|r| r["action"].as_str().unwrap()).collect();
    assert_eq!(
        actions,
        [
            "post.create",
            "post.update",
            "post.read",
            "post.sign",
            "post.sign",
            "post.publish"
        ]
    );
    let v2 = DocumentHash::of(b"post 42, version 2").to_string();
    assert_eq!(rows[1]["version_sha256"], v2.as_str());
    assert_eq!(rows[3]["signature"]["printed_name"], "Alice Archer");
    assert_eq!(rows[3]["signature"]["meaning"], "review");
    assert_eq!(
        rows[3]["signature"]["signed_at"],
        "2026-11-02T09:07:10.000000000Z"
    );
    assert_eq!(rows[4]["signature"]["document_sha256"], v2.as_str());
    assert!(html.contains("<strong class=\"signer-name\">Alice Archer</strong>"));
    assert!(
        html.contains("Dana \\u{202e}Scully"),
        "a bidi override is shown, not obeyed"
    );
    assert_eq!(rows[5]["outcome"], "denied");
}

#[test]
fn a_report_over_a_damaged_trail_says_so_first() {
    let dir = tempfile::tempdir().unwrap();
    clinic(dir.path());
    let segment = common::segments(&dir.path().join("log"))[0].clone();
    let text = std::fs::read_to_string(&segment).unwrap();
    std::fs::write(
        &segment,
        text.replacen("\"actor\":\"ann\"", "\"actor\":\"eve\"", 1),
    )
    .unwrap();
    let (out, json, html) = report(dir.path(), &["access"]);
    assert_eq!(out.status.code(), Some(1), "findings: exit 1");
    assert_eq!(json["integrity"]["intact"], false);
    assert_eq!(json["integrity"]["findings"][0]["code"], "modified");
    let verdict_at = html.find("id=\"verdict\"").unwrap();
    assert!(
        html[verdict_at..].starts_with("id=\"verdict\" class=\"verdict problems\">PROBLEMS FOUND"),
        "{}",
        &html[verdict_at..verdict_at + 200]
    );
    assert!(
        verdict_at < html.find("id=\"per-actor\"").unwrap(),
        "on the first screen, before the figures"
    );
}

#[test]
fn a_signed_report_verifies_and_an_edited_one_does_not() {
    let dir = tempfile::tempdir().unwrap();
    clinic(dir.path());
    let key = dir.path().join("reports");
    let made = common::run_audit(&[
        "keygen",
        "compliance.example/reports",
        "--out",
        key.to_str().unwrap(),
    ]);
    assert!(made.status.success(), "{made:?}");
    let private = key.with_extension("key");
    let public = key.with_extension("pub");
    let (out, _, _) = report(dir.path(), &["access", "--sign", private.to_str().unwrap()]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let listed = String::from_utf8(out.stdout).unwrap();
    assert_eq!(listed.lines().count(), 4, "{listed}");
    let html = dir.path().join("report-access.html");
    let signature = dir.path().join("report-access.html.sig");
    let check = |file: &std::path::Path| {
        common::run_audit(&[
            "verify-report",
            file.to_str().unwrap(),
            signature.to_str().unwrap(),
            "--key",
            public.to_str().unwrap(),
        ])
    };
    let good = check(&html);
    assert_eq!(good.status.code(), Some(0), "{good:?}");
    assert!(String::from_utf8_lossy(&good.stdout).starts_with("verified: report-access.html"));
    let page = std::fs::read_to_string(&html).unwrap();
    std::fs::write(&html, page.replacen("mallory", "nobody!", 1)).unwrap();
    let edited = check(&html);
    assert_eq!(edited.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&edited.stdout).contains("altered"));
    // The report names the trail it was made from.
    assert!(page.contains("whose last record is number 64 with hash"));
}

#[path = "common/pg.rs"]
mod pg;

#[test]
fn a_report_from_a_store_stream_is_verified_as_the_stream() {
    use audit_layer::{AuditWriter, PgSink};
    let store = pg::Server::shared().fresh_store("report_stream");
    let stream = "clinic-api@db-2/1";
    let (audit, guard) = AuditWriter::builder()
        .spawn(PgSink::connect(&store.writer, stream).unwrap())
        .unwrap();
    for n in 0..3 {
        audit
            .submit(
                event("patient.read", "amy", n)
                    .resource(format!("patient:{n}"))
                    .build(),
            )
            .unwrap();
    }
    guard.shutdown(std::time::Duration::from_secs(20)).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let prefix = dir.path().join("stream");
    let out = common::run_audit(&[
        "report",
        "access",
        "--db",
        &store.reader,
        "--stream",
        stream,
        "--out",
        prefix.to_str().unwrap(),
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json: Value =
        serde_json::from_str(&std::fs::read_to_string(prefix.with_extension("json")).unwrap())
            .unwrap();
    assert_eq!(json["integrity"]["source"], format!("db:{stream}"));
    assert_eq!(json["integrity"]["verified"], true);
    assert_eq!(json["integrity"]["records"], 3);
    assert_eq!(json["actors"][0]["actor"], "amy");
    assert_eq!(json["actors"][0]["reads"], 3);
}
