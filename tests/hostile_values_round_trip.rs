//! Whatever a field holds (newlines, quotes, NUL and control characters,
//! text that looks like JSON, a megabyte, any script), it comes back exactly
//! and the log still verifies; and no two different records feed the same
//! bytes to the hash.

mod common;

use std::collections::BTreeSet;

use audit_layer::{AuditEvent, AuditRecord, FailureKind, Outcome, Verifier};
use proptest::prelude::*;
use serde_json::json;

use common::{line_ranges, write_log};

fn hostile_strings() -> Vec<String> {
    vec![
        "line one\nline two\r\n".into(),
        "\"quoted\" and 'single' and \\backslash\\".into(),
        "nul \0 bell \x07 escape \x1b[31m red \x7f del".into(),
        "{\"v\":1,\"seq\":0,\"hash\":\"00\"}\n{\"injected\":true}".into(),
        ",\"hash\":\"".to_string() + &"a".repeat(64) + "\"}",
        "unit\x1fseparator\x1erecord\x1dgroup".into(),
        "émoji 🦀, 日本語, עברית, \u{202e}override".into(),
        "x".repeat(1024 * 1024),
        String::new(),
    ]
}

fn event_with_everywhere(value: &str) -> AuditEvent {
    AuditEvent::builder(format!("action.{value}"))
        .actor(value)
        .resource(value)
        .outcome(Outcome::failure(
            FailureKind::Other(value.to_owned().into()),
            value,
        ))
        .before(json!({ "text": value, value: [value] }))
        .after(json!({ "text": format!("{value}!") }))
        .context(value.to_owned(), value)
        .context("ticket", value)
        .service(value)
        .host(value)
        .build()
}

#[test]
fn hostile_values_come_back_exactly_and_verify() {
    let values = hostile_strings();
    let bytes = write_log(values.iter().map(|v| event_with_everywhere(v)).collect());
    let report = Verifier::new().verify_bytes(&bytes);
    assert!(report.is_intact(), "{:#?}", report.findings);
    let lines = line_ranges(&bytes);
    assert_eq!(
        lines.len(),
        values.len(),
        "a value split a record across lines"
    );
    for (value, range) in values.iter().zip(lines) {
        let record = AuditRecord::from_line(&bytes[range]).unwrap();
        assert_eq!(record.action, format!("action.{value}"));
        assert_eq!(record.actor.as_deref(), Some(value.as_str()));
        assert_eq!(record.resource.as_deref(), Some(value.as_str()));
        assert_eq!(record.outcome.reason(), Some(value.as_str()));
        assert_eq!(
            record.context.get(value.as_str()).map(String::as_str),
            Some(value.as_str())
        );
        assert_eq!(record.before.as_ref().unwrap()["text"], json!(value));
        assert_eq!(record.service.as_deref(), Some(value.as_str()));
    }
}

#[test]
fn separator_tricks_do_not_collide() {
    // A log joining fields with 0x1f hashes these two the same; here each
    // record is its own JSON text, so they differ wherever they differ.
    let time = "2026-11-23T08:00:00Z".parse().unwrap();
    let one = AuditEvent::builder("read")
        .actor("alice\x1fadmin")
        .time(time)
        .build();
    let two = AuditEvent::builder("admin\x1fread")
        .actor("alice")
        .time(time)
        .build();
    let first = write_log(vec![one]);
    let second = write_log(vec![two]);
    let hash = |bytes: &[u8]| AuditRecord::from_line(bytes).unwrap().hash;
    assert_ne!(first, second);
    assert_ne!(hash(&first), hash(&second));
}

#[test]
fn field_boundaries_cannot_be_shifted() {
    // Moving text from one field to the next changes the hashed bytes.
    let time = "2026-11-23T08:00:00Z".parse().unwrap();
    let mut hashes = BTreeSet::new();
    for split in 0..=6 {
        let text = "abcdef";
        let event = AuditEvent::builder("x")
            .actor(&text[..split])
            .resource(&text[split..])
            .time(time)
            .build();
        let bytes = write_log(vec![event]);
        hashes.insert(AuditRecord::from_line(&bytes).unwrap().hash);
    }
    assert_eq!(hashes.len(), 7);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn any_text_round_trips(actor in any::<String>(), reason in any::<String>(), key in any::<String>()) {
        let event = AuditEvent::builder("fuzz")
            .actor(actor.clone())
            .outcome(Outcome::failure(FailureKind::Error, reason.clone()))
            .context(key.clone(), actor.clone())
            .build();
        let bytes = write_log(vec![event]);
        prop_assert!(Verifier::new().verify_bytes(&bytes).is_intact());
        let record = AuditRecord::from_line(&bytes).unwrap();
        prop_assert_eq!(record.actor, Some(actor.clone()));
        prop_assert_eq!(record.outcome.reason(), Some(reason.as_str()));
        prop_assert_eq!(record.context.get(&key), Some(&actor));
    }
}
