//! On the PostgreSQL store, retention keeps what remains verifiable: whole
//! ranges below a signed anchor, through the one narrow path the owner may
//! call and the writer may not; signed checkpoints of a stream, kept
//! outside the store, catch a tail a superuser cut; so do the forward-secure
//! seals of a writer that stores through `PgSink`.

mod common;
#[path = "common/pg.rs"]
mod pg;

use std::path::Path;
use std::process::Output;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, UNIX_EPOCH};

use audit_layer::{
    AuditWriter, FindingCode, ForwardSeals, PgSink, PgStore, SealingKey, Verifier, VerifierKey,
};
use common::run_audit as audit;

const STREAM: &str = "billing@pay-1";

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn write(url: &str, count: usize) {
    let sink = PgSink::connect(url, STREAM).unwrap();
    let (handle, guard) = AuditWriter::builder().spawn(sink).unwrap();
    for event in common::varied_events(count) {
        handle.submit(event).unwrap();
    }
    guard.shutdown(Duration::from_secs(20)).unwrap();
}

fn keygen(dir: &Path) -> (String, String) {
    let prefix = dir.join("signer");
    let output = audit(&[
        "keygen",
        "example.com/audit/billing",
        "--out",
        prefix.to_str().unwrap(),
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    (
        prefix.with_extension("key").to_str().unwrap().to_owned(),
        prefix.with_extension("pub").to_str().unwrap().to_owned(),
    )
}

#[test]
fn retention_leaves_a_verifiable_stream_and_only_the_owner_may_retire() {
    let store = pg::Server::shared().fresh_store("retention_store");
    let dir = tempfile::tempdir().unwrap();
    let (private, public) = keygen(dir.path());
    write(&store.writer, 100);

    let as_writer = audit(&[
        "db",
        "retire",
        "--db",
        &store.writer,
        "--stream",
        STREAM,
        "--before-seq",
        "40",
        "--key",
        &private,
    ]);
    assert_eq!(as_writer.status.code(), Some(2));
    assert!(
        stderr(&as_writer).contains("permission denied"),
        "{}",
        stderr(&as_writer)
    );

    let retired = audit(&[
        "db",
        "retire",
        "--db",
        &store.admin,
        "--stream",
        STREAM,
        "--before-seq",
        "40",
        "--key",
        &private,
    ]);
    assert!(retired.status.success(), "{}", stderr(&retired));
    assert!(
        stdout(&retired).contains("retired 40 record(s)"),
        "{}",
        stdout(&retired)
    );

    let verified = audit(&[
        "verify",
        "--db",
        &store.reader,
        "--stream",
        STREAM,
        "--key",
        &public,
    ]);
    assert_eq!(verified.status.code(), Some(0), "{}", stdout(&verified));
    assert!(stdout(&verified).contains("starts at seq 40 after retention (anchor signed by"));
    assert!(stdout(&verified).contains("verified 60 records, seq 40..99"));

    // Without the key, the anchor cannot vouch for the missing start.
    let unchecked = audit(&["verify", "--db", &store.reader, "--stream", STREAM]);
    assert_eq!(unchecked.status.code(), Some(1), "{}", stdout(&unchecked));

    // The first record kept reads as verified: the anchor names it.
    let shown = audit(&["show", "--db", &store.reader, "--json"]);
    let records: serde_json::Value = serde_json::from_slice(&shown.stdout).unwrap();
    assert_eq!(records[0]["seq"], 40);
    assert_eq!(records[0]["verified"], true);

    // A deletion beyond the anchor, behind the triggers, is caught.
    let mut admin = store.superuser();
    admin
        .batch_execute(
            "SET session_replication_role = replica;
             DELETE FROM audit.records WHERE seq = 40;
             SET session_replication_role = DEFAULT",
        )
        .unwrap();
    let mut reader = PgStore::connect(&store.reader).unwrap();
    let key = VerifierKey::parse(&std::fs::read_to_string(&public).unwrap()).unwrap();
    let report = Verifier::new()
        .trust(key)
        .verify_stream(&mut reader, STREAM)
        .unwrap();
    assert!(
        report.finding_counts.contains_key(&FindingCode::Missing),
        "{:?}",
        report.findings
    );

    // An anchor must name a record that is kept.
    let beyond = audit(&[
        "db",
        "retire",
        "--db",
        &store.admin,
        "--stream",
        STREAM,
        "--before-seq",
        "500",
        "--key",
        &private,
    ]);
    assert_eq!(beyond.status.code(), Some(2));
}

#[test]
fn a_checkpoint_of_a_stream_catches_a_cut_tail() {
    let store = pg::Server::shared().fresh_store("checkpoint_store");
    let dir = tempfile::tempdir().unwrap();
    let (private, public) = keygen(dir.path());
    write(&store.writer, 30);
    let note = dir.path().join("billing-30.note");
    let signed = audit(&[
        // Signing reads the stream; publishing inserts: a role with both.
        "checkpoint",
        "--db",
        &store.admin,
        "--stream",
        STREAM,
        "--key",
        &private,
        "--publish",
        "--out",
        note.to_str().unwrap(),
    ]);
    assert!(signed.status.success(), "{}", stderr(&signed));
    let listed = audit(&["streams", "--db", &store.reader, "--json"]);
    let streams: serde_json::Value = serde_json::from_slice(&listed.stdout).unwrap();
    assert_eq!(streams[0]["last_checkpoint"]["size"], 30);

    let note = note.to_str().unwrap();
    let intact = audit(&[
        "verify",
        "--db",
        &store.reader,
        "--stream",
        STREAM,
        "--key",
        &public,
        "--checkpoint",
        note,
    ]);
    assert_eq!(intact.status.code(), Some(0), "{}", stdout(&intact));
    assert!(stdout(&intact).contains("1 signed checkpoint(s) matched"));

    let mut admin = store.superuser();
    admin
        .batch_execute(
            "SET session_replication_role = replica;
             DELETE FROM audit.records WHERE seq >= 25;
             SET session_replication_role = DEFAULT",
        )
        .unwrap();
    // Without a checkpoint a cut tail looks like a shorter stream...
    let alone = audit(&["verify", "--db", &store.reader, "--stream", STREAM]);
    assert_eq!(alone.status.code(), Some(0));
    // ...and the checkpoint kept outside the store says it was cut.
    let caught = audit(&[
        "verify",
        "--db",
        &store.reader,
        "--stream",
        STREAM,
        "--key",
        &public,
        "--checkpoint",
        note,
        "--json",
    ]);
    assert_eq!(caught.status.code(), Some(1));
    let report: serde_json::Value = serde_json::from_slice(&caught.stdout).unwrap();
    assert_eq!(report["tampering"], true);
    assert!(
        report["finding_counts"]["truncated"].as_u64().is_some(),
        "{report}"
    );
}

#[test]
fn forward_seals_of_a_stream_verify_and_catch_a_cut_tail() {
    const START: u64 = 1_700_000_000;
    const EPOCH: u64 = 60;
    let store = pg::Server::shared().fresh_store("seals_store");
    let dir = tempfile::tempdir().unwrap();
    let (sealing, verifying) = SealingKey::from_key(
        [7; 32],
        UNIX_EPOCH + Duration::from_secs(START),
        Duration::from_secs(EPOCH),
    )
    .unwrap();
    let key = dir.path().join("writer.sealing");
    sealing.save(&key).unwrap();
    let verify_key = dir.path().join("auditor.seal-verify");
    std::fs::write(&verify_key, verifying.to_string()).unwrap();
    // The service has no durable disk for its trail, only for its seals.
    let seals = dir.path().join("seals.jsonl");
    let now = Arc::new(AtomicU64::new(START + 1));
    let clock = Arc::clone(&now);
    let sealer = ForwardSeals::open(&key, &seals)
        .unwrap()
        .clock(move || UNIX_EPOCH + Duration::from_secs(clock.load(Ordering::SeqCst)));
    let sink = PgSink::connect(&store.writer, STREAM).unwrap();
    let (handle, guard) = AuditWriter::builder()
        .forward_seals(sealer)
        .spawn(sink)
        .unwrap();
    for event in common::varied_events(10) {
        handle.submit(event).unwrap();
    }
    handle.flush().unwrap();
    now.store(START + EPOCH + 1, Ordering::SeqCst);
    for event in common::varied_events(10) {
        handle.submit(event).unwrap();
    }
    handle.flush().unwrap();
    now.store(START + 2 * EPOCH + 1, Ordering::SeqCst);
    handle.flush().unwrap();
    guard.shutdown(Duration::from_secs(10)).unwrap();

    let (key_arg, seals_arg) = (verify_key.to_str().unwrap(), seals.to_str().unwrap());
    let verify = || {
        audit(&[
            "verify",
            "--db",
            &store.reader,
            "--stream",
            STREAM,
            "--seal-key",
            key_arg,
            "--seals",
            seals_arg,
        ])
    };
    let sealed = verify();
    assert_eq!(
        sealed.status.code(),
        Some(0),
        "{}{}",
        stdout(&sealed),
        stderr(&sealed)
    );
    assert!(
        stdout(&sealed).contains("records up to seq 19 are sealed"),
        "{}",
        stdout(&sealed)
    );
    let no_seals_file = audit(&["verify", "--db", &store.reader, "--seal-key", key_arg]);
    assert_eq!(no_seals_file.status.code(), Some(2));

    let mut admin = store.superuser();
    admin
        .batch_execute(
            "SET session_replication_role = replica;
             DELETE FROM audit.records WHERE seq >= 15;
             SET session_replication_role = DEFAULT",
        )
        .unwrap();
    let cut = verify();
    assert_eq!(cut.status.code(), Some(1), "{}", stdout(&cut));
}
