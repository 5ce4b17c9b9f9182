//! Retention deletes whole old segments by policy, leaves a signed anchor
//! and a record of the deletion in the chain, and what remains still
//! verifies, checkpoints included; a deletion beyond the policy is detected.

mod common;

use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use audit_layer::{
    AuditEvent, AuditWriter, CheckpointDir, Checkpoints, FileSink, FindingCode, LogReader,
    RetentionPolicy, SignerKey, Timestamp, Verifier,
};

use common::segments;

fn event(n: u64, time: Timestamp) -> AuditEvent {
    AuditEvent::builder("payment.capture")
        .actor("billing")
        .resource(format!("payment:{n}"))
        .context("note", "x".repeat(200))
        .time(time)
        .build()
}

struct Run {
    dir: tempfile::TempDir,
    key: SignerKey,
}

impl Run {
    fn log(&self) -> PathBuf {
        self.dir.path().join("log")
    }

    fn checkpoints(&self) -> PathBuf {
        self.dir.path().join("checkpoints")
    }

    fn write(&self, policy: RetentionPolicy, times: impl IntoIterator<Item = Timestamp>) {
        let sink = FileSink::builder(self.log())
            .max_segment_bytes(4 * 1024)
            .open()
            .unwrap();
        let (handle, guard) = AuditWriter::builder()
            .checkpoints(
                Checkpoints::new(self.key.clone(), CheckpointDir::new(self.checkpoints()))
                    .every_records(20),
            )
            .retention(policy)
            .spawn(sink)
            .unwrap();
        for (n, time) in times.into_iter().enumerate() {
            handle.submit(event(n as u64, time)).unwrap();
            if n % 10 == 9 {
                handle.flush().unwrap();
            }
        }
        guard.shutdown(Duration::from_secs(10)).unwrap();
    }

    fn verify(&self) -> audit_layer::Report {
        let mut verifier = Verifier::new().trust(self.key.verifier());
        for entry in std::fs::read_dir(self.checkpoints()).unwrap() {
            let path = entry.unwrap().path();
            if path
                .file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("checkpoint-")
            {
                let note = std::fs::read_to_string(&path).unwrap();
                verifier = verifier.checkpoint(path, note);
            }
        }
        verifier.verify_path(self.log()).unwrap()
    }
}

fn run() -> Run {
    Run {
        dir: tempfile::tempdir().unwrap(),
        key: SignerKey::generate("example.com/audit/retention").unwrap(),
    }
}

fn now() -> Timestamp {
    Timestamp::now()
}

#[test]
fn deletion_within_the_policy_leaves_a_verifiable_log() {
    let run = run();
    run.write(
        RetentionPolicy::new().max_segments(3),
        std::iter::repeat_n(now(), 200),
    );
    let kept = segments(&run.log());
    assert!(kept.len() <= 4, "{} segments kept", kept.len());
    let anchors: Vec<_> = std::fs::read_dir(run.log())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.starts_with("anchor-"))
        .collect();
    assert_eq!(anchors.len(), 1, "older anchors are replaced: {anchors:?}");

    let report = run.verify();
    assert!(report.is_intact(), "{:#?}", report.findings);
    let anchor = report.anchor.clone().expect("the log starts at its anchor");
    assert_eq!(
        anchor.signed_by.as_deref(),
        Some("example.com/audit/retention")
    );
    assert_eq!(report.first_seq, Some(anchor.first_seq));
    assert!(report.checkpoints_matched >= 1);

    let records: Vec<_> = LogReader::open(run.log())
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let deletions: Vec<_> = records
        .iter()
        .filter(|r| r.action == "audit.retention")
        .collect();
    assert!(
        !deletions.is_empty(),
        "each deletion is recorded in the chain"
    );
    let last = deletions.last().unwrap().after.as_ref().unwrap();
    assert_eq!(last["anchor_first_seq"], anchor.first_seq);
    assert_eq!(last["policy"]["max_segments"], 3);
    // The anchor was also sent where checkpoints go.
    assert!(std::fs::read_dir(run.checkpoints()).unwrap().any(|e| {
        e.unwrap()
            .file_name()
            .to_string_lossy()
            .starts_with("anchor-")
    }));

    // Without a key, the anchor is not trusted: it cannot say where the log
    // begins, so the deleted records are missing (an anchor only narrows trust).
    let unchecked = Verifier::new().verify_path(run.log()).unwrap();
    assert!(unchecked.anchor.is_none());
    assert_eq!(unchecked.findings.len(), 1, "{:?}", unchecked.findings);
    assert_eq!(unchecked.findings[0].code, FindingCode::Missing);
    assert_eq!(unchecked.findings[0].seq, Some(0));
    assert!(unchecked.findings[0].message.contains("no key was given"));
}

#[test]
fn a_deletion_beyond_the_policy_is_detected() {
    let run = run();
    run.write(
        RetentionPolicy::new().max_segments(3),
        std::iter::repeat_n(now(), 200),
    );
    std::fs::remove_file(&segments(&run.log())[0]).unwrap();
    let report = run.verify();
    let codes: Vec<_> = report.findings.iter().map(|f| f.code).collect();
    assert!(codes.contains(&FindingCode::Missing), "{codes:?}");
    let missing = report
        .findings
        .iter()
        .find(|f| f.code == FindingCode::Missing)
        .unwrap();
    assert_eq!(missing.seq, report.anchor.map(|a| a.first_seq));
}

#[test]
fn an_altered_anchor_is_a_bad_signature() {
    let run = run();
    run.write(
        RetentionPolicy::new().max_segments(3),
        std::iter::repeat_n(now(), 200),
    );
    let anchor = std::fs::read_dir(run.log())
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("anchor-")
        })
        .unwrap();
    let note = std::fs::read_to_string(&anchor).unwrap();
    let mut lines: Vec<String> = note.lines().map(str::to_owned).collect();
    // The seq the anchor names (its second line, as a checkpoint's size).
    lines[1] = (lines[1].parse::<u64>().unwrap() + 5).to_string();
    std::fs::write(&anchor, lines.join("\n") + "\n").unwrap();
    let codes: Vec<_> = run.verify().findings.iter().map(|f| f.code).collect();
    assert!(codes.contains(&FindingCode::BadSignature), "{codes:?}");
}

#[test]
fn max_age_deletes_only_old_segments() {
    let run = run();
    let old = Timestamp::from_system_time(SystemTime::now() - Duration::from_secs(400 * 24 * 3600))
        .unwrap();
    let times = std::iter::repeat_n(old, 100).chain(std::iter::repeat_n(now(), 100));
    run.write(
        RetentionPolicy::new().max_age(Duration::from_secs(365 * 24 * 3600)),
        times,
    );
    let records: Vec<_> = LogReader::open(run.log())
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let payments: Vec<_> = records
        .iter()
        .filter(|r| r.action == "payment.capture")
        .collect();
    assert!(payments.iter().all(|r| r.time >= old));
    assert!(
        payments.iter().filter(|r| r.time == old).count() < 100,
        "old segments went"
    );
    assert!(
        payments.iter().filter(|r| r.time > old).count() == 100,
        "recent ones stayed"
    );
    assert!(run.verify().is_intact());
}

#[test]
fn segments_left_behind_the_anchor_by_a_crash_are_skipped() {
    let run = run();
    run.write(
        RetentionPolicy::new().max_segments(3),
        std::iter::repeat_n(now(), 200),
    );
    // As if the writer died after writing the anchor, before deleting the
    // segments it covers: an older segment is still there.
    let first = segments(&run.log())[0].clone();
    let older = run.log().join("segment-00000000000000000000.jsonl");
    if first != older {
        std::fs::copy(&first, &older).unwrap();
    }
    let report = run.verify();
    assert!(report.is_intact(), "{:#?}", report.findings);
}

#[test]
fn retention_without_a_key_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let error = AuditWriter::builder()
        .retention(RetentionPolicy::new().max_segments(3))
        .spawn(FileSink::open(dir.path()).unwrap())
        .unwrap_err();
    assert_eq!(error.kind(), std::io::ErrorKind::InvalidInput);
}

#[test]
fn an_anchor_signs_the_tree_of_the_records_it_deleted() {
    let run = run();
    run.write(
        RetentionPolicy::new().max_segments(3),
        std::iter::repeat_n(now(), 200),
    );
    let (name, note) = std::fs::read_dir(run.log())
        .unwrap()
        .map(|e| e.unwrap())
        .filter(|e| e.file_name().to_string_lossy().starts_with("anchor-"))
        .map(|e| {
            (
                e.file_name().into_string().unwrap(),
                std::fs::read_to_string(e.path()).unwrap(),
            )
        })
        .next()
        .unwrap();
    let (anchor, _) = audit_layer::Anchor::open(&note, &[run.key.verifier()]).unwrap();
    assert!(name.contains(&format!("{:020}", anchor.first_seq)));
    // Its root is the tree of the records deleted, which the tiles still hold.
    let tree = audit_layer::LogTree::open(run.log()).unwrap();
    assert_eq!(anchor.root, Some(tree.root_at(anchor.first_seq).unwrap()));
    // Shaped like a checkpoint, it is not one.
    assert!(audit_layer::Checkpoint::open(&note, &[run.key.verifier()]).is_err());
    // And a record deleted by it can still be proved into a later checkpoint.
    let proof = tree.inclusion_proof(0, tree.size()).unwrap();
    audit_layer::merkle::verify_inclusion(
        &tree.leaf(0).unwrap(),
        0,
        tree.size(),
        &proof,
        &tree.root(),
    )
    .unwrap();
}
