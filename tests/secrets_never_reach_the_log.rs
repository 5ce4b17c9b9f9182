//! A privacy policy redacts or pseudonymises named values before a record
//! is hashed: the secrets are in no byte of the log, the chain verifies, the
//! same person keeps the same pseudonym, a changed pseudonymised field
//! still shows as changed, and an investigator with the key can look a
//! person up with `audit pseudonym`.

mod common;

use std::time::Duration;

use audit_layer::{
    AuditEvent, AuditLayer, AuditWriter, FileSink, MemorySink, PSEUDONYM_PREFIX, Privacy,
    PseudonymKey, REDACTED, audited,
};
use serde_json::json;
use tracing_subscriber::prelude::*;

use common::run_audit as audit;

const SECRETS: [&str; 6] = [
    "hunter2",
    "hunter3",
    "tok-9f8e",
    "s-8b2f1d94",
    "alice@example.com",
    "bob@example.com",
];

fn key() -> PseudonymKey {
    PseudonymKey::from_bytes([42; 32])
}

fn policy() -> Privacy {
    Privacy::new()
        .redact(["password", "Token", "session"])
        .pseudonymise(["email", "source_ip"])
        .pseudonymise_actor()
        .pseudonym_key(key())
}

fn account_update(actor: &str) -> AuditEvent {
    AuditEvent::builder("account.update")
        .actor(actor)
        .resource("account:17")
        .before(json!({
            "email": "bob@example.com",
            "password": "hunter2",
            "devices": [{"name": "laptop", "TOKEN": "tok-9f8e"}],
            "plan": "free",
        }))
        .after(json!({
            "email": "bob@example.org",
            "password": "hunter3",
            "devices": [{"name": "laptop", "TOKEN": "tok-9f8e"}],
            "plan": "pro",
        }))
        .context("session", "s-8b2f1d94")
        .context("source_ip", "198.51.100.7")
        .context("request_id", "r-1")
        .build()
}

/// A writer to memory applying [`policy`].
fn private_writer() -> (
    audit_layer::MemoryLog,
    audit_layer::AuditHandle,
    audit_layer::WriterGuard,
) {
    let (sink, log) = MemorySink::new();
    let (handle, guard) = AuditWriter::builder()
        .privacy(policy())
        .spawn(sink)
        .unwrap();
    (log, handle, guard)
}

#[test]
fn named_secrets_are_in_no_byte_of_the_log_and_the_chain_verifies() {
    let (log, handle, guard) = private_writer();
    handle.submit(account_update("alice@example.com")).unwrap();
    handle.submit(account_update("alice@example.com")).unwrap();
    handle.submit(account_update("carol")).unwrap();
    guard.shutdown(Duration::from_secs(5)).unwrap();

    let bytes = String::from_utf8(log.bytes()).unwrap();
    for secret in SECRETS {
        assert!(
            !bytes.contains(secret),
            "{secret} reached the log:\n{bytes}"
        );
    }
    assert!(log.verify().is_intact(), "{:?}", log.verify().findings);

    let records = log.records().unwrap();
    let alice = key().pseudonym("alice@example.com");
    assert!(alice.starts_with(PSEUDONYM_PREFIX));
    assert_eq!(records[0].actor.as_deref(), Some(alice.as_str()));
    assert_eq!(
        records[1].actor, records[0].actor,
        "one person, one pseudonym"
    );
    assert_eq!(
        records[2].actor.as_deref(),
        Some(key().pseudonym("carol").as_str())
    );
    // Not named: kept as it was.
    assert_eq!(records[0].resource.as_deref(), Some("account:17"));
    assert_eq!(records[0].context["request_id"], "r-1");

    let before = records[0].before.as_ref().unwrap();
    assert_eq!(before["password"], REDACTED);
    assert_eq!(
        before["devices"][0]["TOKEN"], REDACTED,
        "any depth, any case"
    );
    assert_eq!(before["devices"][0]["name"], "laptop");
    assert_eq!(before["email"], key().pseudonym("bob@example.com").as_str());
    assert_eq!(records[0].context["session"], REDACTED);
    assert_eq!(
        records[0].context["source_ip"],
        key().pseudonym("198.51.100.7").as_str()
    );

    // The email's change still shows (between pseudonyms); the password's,
    // redacted on both sides, does not; the plan's is untouched.
    let changed: Vec<&str> = records[0]
        .changes
        .as_ref()
        .unwrap()
        .iter()
        .map(|c| c.path.as_str())
        .collect();
    assert_eq!(changed, ["/email", "/plan"]);
}

#[audited(action = "account.login", actor = email, before = json!({"password": password}))]
fn login(email: &str, password: &str) -> bool {
    password == "hunter2"
}

#[test]
fn audited_calls_through_the_layer_are_hidden_too() {
    let (log, handle, guard) = private_writer();
    let subscriber = tracing_subscriber::registry().with(AuditLayer::new(handle));
    tracing::subscriber::with_default(subscriber, || {
        assert!(login("alice@example.com", "hunter2"));
    });
    guard.shutdown(Duration::from_secs(5)).unwrap();
    let bytes = String::from_utf8(log.bytes()).unwrap();
    assert!(!bytes.contains("hunter2") && !bytes.contains("alice@example.com"));
    let record = log.records().unwrap().remove(0);
    assert_eq!(
        record.actor.as_deref(),
        Some(key().pseudonym("alice@example.com").as_str())
    );
}

#[test]
fn pseudonymising_without_a_key_is_refused_at_start() {
    let (sink, _log) = MemorySink::new();
    let error = AuditWriter::builder()
        .privacy(Privacy::new().pseudonymise_actor())
        .spawn(sink)
        .unwrap_err();
    assert_eq!(error.kind(), std::io::ErrorKind::InvalidInput);
    assert!(error.to_string().contains("pseudonym_key"), "{error}");
}

#[test]
fn an_investigator_with_the_key_looks_a_person_up() {
    let dir = tempfile::tempdir().unwrap();
    let prefix = dir.path().join("billing");
    let made = audit(&["keygen", "--pseudonym", "--out", prefix.to_str().unwrap()]);
    assert_eq!(made.status.code(), Some(0), "{made:?}");
    let key_path = prefix.with_extension("pseudonym");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&key_path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    // A second keygen must not overwrite the key: old pseudonyms would be lost.
    let again = audit(&["keygen", "--pseudonym", "--out", prefix.to_str().unwrap()]);
    assert_eq!(again.status.code(), Some(2));

    let key = PseudonymKey::load(&key_path).unwrap();
    let log = dir.path().join("log");
    let (handle, guard) = AuditWriter::builder()
        .privacy(Privacy::new().pseudonymise_actor().pseudonym_key(key))
        .spawn(FileSink::open(&log).unwrap())
        .unwrap();
    for actor in ["alice@example.com", "carol", "alice@example.com"] {
        handle
            .submit(AuditEvent::builder("post.publish").actor(actor).build())
            .unwrap();
    }
    guard.shutdown(Duration::from_secs(5)).unwrap();

    let looked_up = audit(&[
        "pseudonym",
        "--key",
        key_path.to_str().unwrap(),
        "alice@example.com",
    ]);
    assert_eq!(looked_up.status.code(), Some(0));
    let pseudonym = String::from_utf8(looked_up.stdout).unwrap();
    let pseudonym = pseudonym.trim();
    assert!(pseudonym.starts_with(PSEUDONYM_PREFIX), "{pseudonym}");

    let shown = audit(&[
        "show",
        "--log",
        log.to_str().unwrap(),
        "--actor",
        pseudonym,
        "--json",
    ]);
    assert_eq!(shown.status.code(), Some(0));
    let records: Vec<serde_json::Value> = serde_json::from_slice(&shown.stdout).unwrap();
    assert_eq!(records.len(), 2, "alice's two records");
}

#[test]
fn format_md_pseudonym_vectors_are_what_the_key_computes() {
    let format = include_str!("../FORMAT.md");
    let block = format
        .split("```text pseudonym-vectors\n")
        .nth(1)
        .and_then(|rest| rest.split("```").next())
        .expect("FORMAT.md has a pseudonym-vectors block");
    let mut checked = 0;
    for line in block.lines() {
        let (value, pseudonym) = line.split_once(' ').expect("value and pseudonym");
        assert_eq!(key().pseudonym(value), pseudonym, "{value}");
        checked += 1;
    }
    assert_eq!(checked, 2);
}
