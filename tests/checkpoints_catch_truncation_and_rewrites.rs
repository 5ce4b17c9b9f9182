//! Signed checkpoints held outside the log catch what a bare chain cannot:
//! a tail cut at a record boundary and a history re-written and re-chained;
//! and checkpoints themselves cannot be forged, signed by an unknown key, or
//! contradict each other unnoticed. Key rotation verifies across its boundary.

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use audit_layer::{
    AuditWriter, Checkpoint, CheckpointDir, Checkpoints, FileSink, FindingCode, Report, SignerKey,
    Verifier, VerifyError,
};
use sha2::{Digest, Sha256};

use common::varied_events;

struct Fixture {
    log: PathBuf,
    checkpoints: PathBuf,
    _dir: tempfile::TempDir,
}

fn write(log: &Path, checkpoints: &Path, key: &SignerKey, records: usize) {
    let (handle, guard) = AuditWriter::builder()
        .checkpoints(
            Checkpoints::new(key.clone(), CheckpointDir::new(checkpoints)).every_records(10),
        )
        .spawn(FileSink::open(log).unwrap())
        .unwrap();
    // Flushing every 5 records makes the batches, and so the checkpoints
    // (after each batch that takes the log 10 records further), predictable.
    for (n, event) in varied_events(records).into_iter().enumerate() {
        handle.submit(event).unwrap();
        if n % 5 == 4 {
            handle.flush().unwrap();
        }
    }
    guard.shutdown(Duration::from_secs(10)).unwrap();
}

fn fixture(key: &SignerKey, records: usize) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let fixture = Fixture {
        log: dir.path().join("log"),
        checkpoints: dir.path().join("checkpoints"),
        _dir: dir,
    };
    write(&fixture.log, &fixture.checkpoints, key, records);
    fixture
}

fn notes(dir: &Path) -> Vec<(PathBuf, String)> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    paths.sort();
    paths
        .into_iter()
        .map(|p| {
            let note = std::fs::read_to_string(&p).unwrap();
            (p, note)
        })
        .collect()
}

fn verify(fixture: &Fixture, keys: &[&SignerKey]) -> Report {
    let mut verifier = Verifier::new();
    for key in keys {
        verifier = verifier.trust(key.verifier());
    }
    for (path, note) in notes(&fixture.checkpoints) {
        verifier = verifier.checkpoint(path, note);
    }
    verifier.verify_path(&fixture.log).unwrap()
}

fn codes(report: &Report) -> Vec<FindingCode> {
    report.findings.iter().map(|f| f.code).collect()
}

fn segment(fixture: &Fixture) -> PathBuf {
    fixture.log.join("segment-00000000000000000000.jsonl")
}

/// Re-writes record `from` and re-chains everything after it, as someone
/// who can write the files and compute SHA-256 would.
fn rechain(path: &Path, from: usize) {
    let text = std::fs::read_to_string(path).unwrap();
    let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
    lines[from] = lines[from].replace("user-", "evil-");
    let mut prev: Option<String> = None;
    for line in lines.iter_mut().skip(from) {
        let mut body = line[..line.len() - 75].to_owned();
        if let Some(prev) = &prev {
            let at = body.find("\"prev\":\"").unwrap() + 8;
            body.replace_range(at..at + 64, prev);
        }
        let hash = hex::encode(Sha256::digest(body.as_bytes()));
        *line = format!("{body},\"hash\":\"{hash}\"}}");
        prev = Some(hash);
    }
    std::fs::write(path, lines.join("\n") + "\n").unwrap();
}

#[test]
fn an_untouched_log_matches_its_checkpoints() {
    let key = SignerKey::generate("example.com/audit/test").unwrap();
    let fixture = fixture(&key, 35);
    let files = notes(&fixture.checkpoints);
    assert_eq!(
        files.len(),
        4,
        "every 10 records and one at shutdown: {files:?}"
    );
    let report = verify(&fixture, &[&key]);
    assert!(report.is_intact(), "{:#?}", report.findings);
    assert_eq!(
        (
            report.checkpoints_matched,
            report.anchored_through,
            report.unanchored
        ),
        (4, Some(35), None)
    );
}

#[test]
fn a_tail_cut_at_a_record_boundary_is_truncation() {
    let key = SignerKey::generate("example.com/audit/test").unwrap();
    let fixture = fixture(&key, 35);
    let text = std::fs::read_to_string(segment(&fixture)).unwrap();
    let kept: Vec<&str> = text.lines().take(30).collect();
    std::fs::write(segment(&fixture), kept.join("\n") + "\n").unwrap();
    assert!(
        Verifier::new()
            .verify_path(&fixture.log)
            .unwrap()
            .is_intact(),
        "a bare chain cannot see it"
    );
    let report = verify(&fixture, &[&key]);
    assert_eq!(codes(&report), vec![FindingCode::Truncated]);
    assert!(report.shows_tampering());
    assert_eq!(report.findings[0].seq, Some(34));
}

#[test]
fn a_history_rewritten_and_rechained_is_caught() {
    let key = SignerKey::generate("example.com/audit/test").unwrap();
    let fixture = fixture(&key, 35);
    rechain(&segment(&fixture), 12);
    assert!(
        Verifier::new()
            .verify_path(&fixture.log)
            .unwrap()
            .is_intact(),
        "a bare chain cannot see it"
    );
    let report = verify(&fixture, &[&key]);
    // The checkpoints at 20, 30 and 35 name heads the log no longer has; the one at 10 still matches.
    assert_eq!(codes(&report), vec![FindingCode::Rechained; 3]);
    assert_eq!(report.anchored_through, Some(10));
}

#[test]
fn two_checkpoints_that_disagree_are_equivocation() {
    let key = SignerKey::generate("example.com/audit/test").unwrap();
    let fixture = fixture(&key, 12);
    let forked = Checkpoint {
        origin: "example.com/audit/test".into(),
        size: 10,
        head: audit_layer::chain::Hash::of(b"fork"),
        root: None,
    };
    std::fs::write(fixture.checkpoints.join("fork.note"), forked.sign(&key)).unwrap();
    let report = verify(&fixture, &[&key]);
    let found = codes(&report);
    assert!(found.contains(&FindingCode::Equivocation), "{found:?}");
    assert!(
        found.contains(&FindingCode::Rechained),
        "the fork does not match the log either: {found:?}"
    );
}

#[test]
fn a_forged_checkpoint_is_a_bad_signature() {
    let key = SignerKey::generate("example.com/audit/test").unwrap();
    let fixture = fixture(&key, 12);
    let path = fixture
        .checkpoints
        .join("checkpoint-00000000000000000010.note");
    let note = std::fs::read_to_string(&path)
        .unwrap()
        .replacen("\n10\n", "\n11\n", 1);
    std::fs::write(&path, note).unwrap();
    assert_eq!(
        codes(&verify(&fixture, &[&key])),
        vec![FindingCode::BadSignature]
    );
}

#[test]
fn a_checkpoint_by_an_unknown_key_fails() {
    let key = SignerKey::generate("example.com/audit/test").unwrap();
    let stranger = SignerKey::generate("example.com/audit/test").unwrap();
    let fixture = fixture(&stranger, 12);
    let report = verify(&fixture, &[&key]);
    // Nothing trusted was compared: the check asked for was not made.
    assert_eq!(
        codes(&report),
        vec![
            FindingCode::NoCheckpoint,
            FindingCode::UnknownKey,
            FindingCode::UnknownKey
        ]
    );
    assert!(!report.is_intact());
    assert!(!report.shows_tampering());
}

#[test]
fn a_key_rotation_verifies_across_the_boundary() {
    let old = SignerKey::generate("example.com/audit/test").unwrap();
    let new = SignerKey::generate("example.com/audit/test").unwrap();
    let fixture = fixture(&old, 15);
    write(&fixture.log, &fixture.checkpoints, &new, 15);
    let report = verify(&fixture, &[&old, &new]);
    assert!(report.is_intact(), "{:#?}", report.findings);
    assert_eq!(report.anchored_through, Some(30));
    // Trusting only the new key, the old checkpoints are from an unknown key.
    let report = verify(&fixture, &[&new]);
    assert_eq!(codes(&report), vec![FindingCode::UnknownKey; 2]);
}

#[test]
fn the_tail_after_the_last_checkpoint_is_verified_not_yet_anchored() {
    let key = SignerKey::generate("example.com/audit/test").unwrap();
    let fixture = fixture(&key, 25);
    std::fs::remove_file(
        fixture
            .checkpoints
            .join("checkpoint-00000000000000000025.note"),
    )
    .unwrap();
    let report = verify(&fixture, &[&key]);
    assert!(report.is_intact(), "{:#?}", report.findings);
    assert_eq!(
        (report.anchored_through, report.unanchored),
        (Some(20), Some((20, 24)))
    );
}

#[test]
fn checkpoints_are_never_taken_from_the_log_itself() {
    let key = SignerKey::generate("example.com/audit/test").unwrap();
    let fixture = fixture(&key, 5);
    let inside = fixture.log.join("checkpoint.note");
    std::fs::copy(
        fixture
            .checkpoints
            .join("checkpoint-00000000000000000005.note"),
        &inside,
    )
    .unwrap();
    let error = Verifier::new()
        .trust(key.verifier())
        .checkpoint(&inside, std::fs::read_to_string(&inside).unwrap())
        .verify_path(&fixture.log)
        .unwrap_err();
    assert!(
        matches!(error, VerifyError::CheckpointInsideLog(_)),
        "{error}"
    );
}

#[test]
fn a_checkpoint_whose_tree_root_the_log_does_not_have_is_rechained() {
    let key = SignerKey::generate("example.com/audit/test").unwrap();
    let fixture = fixture(&key, 12);
    let report = verify(&fixture, &[&key]);
    assert!(report.is_intact(), "{:?}", report.findings);
    assert!(report.checkpoints_with_root > 0);
    assert_eq!(report.checkpoints_of_first_kind, 0);
    // Signed by the trusted key, the right head, another tree.
    let (_, note) = notes(&fixture.checkpoints).pop().unwrap();
    let (signed, _) = Checkpoint::open(&note, &[key.verifier()]).unwrap();
    let other_tree = Checkpoint {
        root: Some(audit_layer::chain::Hash::of(b"another tree")),
        ..signed.clone()
    };
    std::fs::write(
        fixture.checkpoints.join("other.note"),
        other_tree.sign(&key),
    )
    .unwrap();
    let found = codes(&verify(&fixture, &[&key]));
    assert!(found.contains(&FindingCode::Rechained), "{found:?}");
    assert!(found.contains(&FindingCode::Equivocation), "{found:?}");
}

#[test]
fn checkpoints_of_the_first_kind_are_still_read_and_counted() {
    let key = SignerKey::generate("example.com/audit/test").unwrap();
    let fixture = fixture(&key, 12);
    let (_, note) = notes(&fixture.checkpoints).pop().unwrap();
    let (signed, _) = Checkpoint::open(&note, &[key.verifier()]).unwrap();
    std::fs::remove_dir_all(&fixture.checkpoints).unwrap();
    std::fs::create_dir_all(&fixture.checkpoints).unwrap();
    let first_kind = Checkpoint {
        root: None,
        ..signed
    };
    let path = fixture.checkpoints.join("old.note");
    std::fs::write(&path, first_kind.sign(&key)).unwrap();
    let report = verify(&fixture, &[&key]);
    assert!(report.is_intact(), "{:?}", report.findings);
    assert_eq!(
        (
            report.checkpoints_with_root,
            report.checkpoints_of_first_kind
        ),
        (0, 1)
    );
    let output = common::run_audit(&[
        "verify",
        fixture.log.to_str().unwrap(),
        "--checkpoint",
        path.to_str().unwrap(),
        "--key",
        &key.verifier().to_string(),
    ]);
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(
        text.contains("checkpoints read: 0 with a Merkle tree root, 1 of the first kind"),
        "{text}"
    );
}
