//! Forward-secure seals: every epoch is sealed with a key that evolves and
//! is erased behind it, so a thief of the writer's current key can neither
//! re-seal earlier records (journald's CVE-2023-31439) nor cut the log and
//! seal on from a later epoch unnoticed (CVE-2023-31438).

mod common;

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, UNIX_EPOCH};

use audit_layer::{
    AuditEvent, AuditHandle, AuditWriter, FileSink, FindingCode, ForwardSeals, Report,
    SealVerifyingKey, SealingKey, Verifier, WriterGuard,
};
use common::{run_audit, segments};

const START: u64 = 1_700_000_000;
const EPOCH: u64 = 60;

/// A log directory, its seal keys, and a clock the test moves by hand.
struct Sealed {
    _dir: tempfile::TempDir,
    log: PathBuf,
    key: PathBuf,
    seals: PathBuf,
    verifying: SealVerifyingKey,
    now: Arc<AtomicU64>,
}

impl Sealed {
    fn new() -> Sealed {
        let dir = tempfile::tempdir().unwrap();
        let (sealing, verifying) = SealingKey::from_key(
            [42; 32],
            UNIX_EPOCH + Duration::from_secs(START),
            Duration::from_secs(EPOCH),
        )
        .unwrap();
        let key = dir.path().join("writer.sealing");
        sealing.save(&key).unwrap();
        Sealed {
            log: dir.path().join("log"),
            seals: dir.path().join("log").join("seals.jsonl"),
            key,
            verifying,
            now: Arc::new(AtomicU64::new(START + 1)),
            _dir: dir,
        }
    }

    fn start(&self) -> (AuditHandle, WriterGuard) {
        let now = Arc::clone(&self.now);
        let seals = ForwardSeals::open(&self.key, &self.seals)
            .unwrap()
            .clock(move || UNIX_EPOCH + Duration::from_secs(now.load(Ordering::SeqCst)));
        AuditWriter::builder()
            .forward_seals(seals)
            .spawn(FileSink::open(&self.log).unwrap())
            .unwrap()
    }

    /// Moves the clock just past the end of `epoch`.
    fn end_epoch(&self, epoch: u64) {
        self.now
            .store(START + (epoch + 1) * EPOCH + 1, Ordering::SeqCst);
    }

    fn write(&self, handle: &AuditHandle, who: &str, count: usize) {
        for n in 0..count {
            handle
                .submit(
                    AuditEvent::builder("post.edit")
                        .actor(who)
                        .resource(format!("post:{n}"))
                        .build(),
                )
                .unwrap();
        }
        handle.flush().unwrap();
    }

    /// Three records in each of epochs 0..5, every epoch sealed; the key on
    /// disk is then epoch 5's.
    fn five_sealed_epochs() -> Sealed {
        let sealed = Sealed::new();
        let (handle, guard) = sealed.start();
        for epoch in 0..5 {
            sealed.write(&handle, "alice", 3);
            sealed.end_epoch(epoch);
            handle.flush().unwrap();
        }
        assert_eq!(handle.stats().seals, 5);
        guard.shutdown(Duration::from_secs(5)).unwrap();
        sealed
    }

    fn verify(&self) -> Report {
        Verifier::new()
            .seals(
                self.verifying.clone(),
                &self.seals,
                std::fs::read_to_string(&self.seals).unwrap_or_default(),
            )
            .verify_path(&self.log)
            .unwrap()
    }

    fn seal_lines(&self) -> Vec<String> {
        std::fs::read_to_string(&self.seals)
            .unwrap()
            .lines()
            .map(str::to_owned)
            .collect()
    }

    /// Keeps the first `records` lines of the log and the first `seals` seals.
    fn cut(&self, records: usize, seals: usize) {
        let segment = &segments(&self.log)[0];
        keep_lines(segment, records);
        keep_lines(&self.seals, seals);
    }

    /// Rewrites the key file's epoch, keeping its key: a stolen key passed
    /// off as an earlier epoch's.
    fn relabel_key(&self, epoch: u64) {
        let text = std::fs::read_to_string(&self.key).unwrap();
        let relabelled: String = text
            .lines()
            .map(|line| match line.strip_prefix("epoch ") {
                Some(_) => format!("epoch {epoch}\n"),
                None => format!("{line}\n"),
            })
            .collect();
        std::fs::write(&self.key, relabelled).unwrap();
    }
}

fn keep_lines(path: &Path, count: usize) {
    let text = std::fs::read_to_string(path).unwrap();
    let kept: String = text.split_inclusive('\n').take(count).collect();
    std::fs::write(path, kept).unwrap();
}

fn codes(report: &Report) -> BTreeMap<FindingCode, usize> {
    let mut counts = BTreeMap::new();
    for finding in &report.findings {
        *counts.entry(finding.code).or_insert(0) += 1;
    }
    counts
}

#[test]
fn an_intact_log_verifies_with_every_epoch_sealed() {
    let sealed = Sealed::five_sealed_epochs();
    let report = sealed.verify();
    assert!(report.is_intact(), "{:?}", report.findings);
    let status = report.seals.expect("seals were checked");
    assert_eq!(status.seals, 5);
    assert_eq!(status.last_epoch, Some(4));
    assert_eq!(status.sealed_through, Some(15));
    assert_eq!(status.unsealed, None);
    let sizes: Vec<u64> = sealed
        .seal_lines()
        .iter()
        .map(|line| audit_layer::Seal::parse(line).unwrap().size)
        .collect();
    assert_eq!(sizes, [3, 6, 9, 12, 15]);
}

#[test]
fn only_the_current_epochs_key_stays_on_disk_and_files_are_owner_only() {
    let sealed = Sealed::new();
    let first_key = std::fs::read_to_string(&sealed.key).unwrap();
    let (handle, guard) = sealed.start();
    sealed.write(&handle, "alice", 1);
    sealed.end_epoch(0);
    handle.flush().unwrap();
    guard.shutdown(Duration::from_secs(5)).unwrap();
    let key = SealingKey::load(&sealed.key).unwrap();
    assert_eq!(key.epoch(), 1);
    let now_key = std::fs::read_to_string(&sealed.key).unwrap();
    let key_line = |text: &str| text.lines().last().unwrap().to_owned();
    assert_ne!(key_line(&now_key), key_line(&first_key));
    for path in [&sealed.key, &sealed.seals] {
        let mode = std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{}", path.display());
    }
}

#[test]
fn truncating_then_sealing_on_with_a_stolen_key_leaves_a_seal_gap() {
    let sealed = Sealed::five_sealed_epochs();
    // The thief holds epoch 5's key. Cut back to the end of epoch 1 (six
    // records, two seals) and carry on as if nothing had happened.
    sealed.cut(6, 2);
    let (handle, guard) = sealed.start();
    sealed.write(&handle, "mallory", 2);
    sealed.end_epoch(5);
    handle.flush().unwrap();
    guard.shutdown(Duration::from_secs(5)).unwrap();

    let report = sealed.verify();
    assert_eq!(
        codes(&report),
        BTreeMap::from([(FindingCode::SealGap, 1)]),
        "{:?}",
        report.findings
    );
    assert!(
        report.findings[0]
            .message
            .contains("epochs 2..4 have no seal")
    );
    assert!(report.shows_tampering());
}

#[test]
fn resealing_old_epochs_with_a_stolen_key_is_caught() {
    let sealed = Sealed::five_sealed_epochs();
    // Re-write history from the end of epoch 0 and re-seal epochs 1..4 with
    // the stolen key, passed off as epoch 1's.
    sealed.cut(3, 1);
    sealed.relabel_key(1);
    sealed.now.store(START + EPOCH + 1, Ordering::SeqCst);
    let (handle, guard) = sealed.start();
    for epoch in 1..5 {
        sealed.write(&handle, "mallory", 3);
        sealed.end_epoch(epoch);
        handle.flush().unwrap();
    }
    guard.shutdown(Duration::from_secs(5)).unwrap();

    let report = sealed.verify();
    assert_eq!(
        codes(&report),
        BTreeMap::from([(FindingCode::BadSeal, 4)]),
        "{:?}",
        report.findings
    );
    let status = report.seals.unwrap();
    assert_eq!((status.seals, status.sealed_through), (1, Some(3)));
    assert_eq!(status.unsealed, Some((3, 14)));
}

#[test]
fn a_history_rewritten_under_old_seals_no_longer_matches_them() {
    let sealed = Sealed::five_sealed_epochs();
    let seals = std::fs::read_to_string(&sealed.seals).unwrap();
    // Whoever re-writes the log keeps the seals they cannot re-make.
    sealed.cut(3, 5);
    std::fs::remove_file(&sealed.key).unwrap();
    let (handle, guard) = AuditWriter::builder()
        .spawn(FileSink::open(&sealed.log).unwrap())
        .unwrap();
    sealed.write(&handle, "mallory", 12);
    guard.shutdown(Duration::from_secs(5)).unwrap();
    assert_eq!(std::fs::read_to_string(&sealed.seals).unwrap(), seals);

    let report = sealed.verify();
    assert_eq!(
        codes(&report),
        BTreeMap::from([(FindingCode::Rechained, 4)]),
        "{:?}",
        report.findings
    );
}

#[test]
fn a_log_cut_shorter_than_its_seals_is_truncated() {
    let sealed = Sealed::five_sealed_epochs();
    keep_lines(&segments(&sealed.log)[0], 10);
    let report = sealed.verify();
    assert_eq!(
        codes(&report),
        BTreeMap::from([(FindingCode::Truncated, 2)]),
        "{:?}",
        report.findings
    );
}

#[test]
fn epochs_that_end_while_the_writer_is_stopped_are_sealed_when_it_starts() {
    let sealed = Sealed::new();
    let (handle, guard) = sealed.start();
    sealed.write(&handle, "alice", 2);
    guard.shutdown(Duration::from_secs(5)).unwrap();
    // Three epochs pass with no writer; the next start seals each of them,
    // empty ones too, before it writes anything.
    sealed.end_epoch(2);
    let (handle, guard) = sealed.start();
    sealed.write(&handle, "alice", 1);
    assert_eq!(handle.stats().seals, 3);
    guard.shutdown(Duration::from_secs(5)).unwrap();

    let epochs_and_sizes: Vec<(u64, u64)> = sealed
        .seal_lines()
        .iter()
        .map(|line| audit_layer::Seal::parse(line).unwrap())
        .map(|seal| (seal.epoch, seal.size))
        .collect();
    assert_eq!(epochs_and_sizes, [(0, 2), (1, 2), (2, 2)]);
    let report = sealed.verify();
    assert!(report.is_intact(), "{:?}", report.findings);
    assert_eq!(report.seals.unwrap().unsealed, Some((2, 2)));
}

#[test]
fn a_seal_written_just_before_a_crash_is_not_written_twice() {
    let sealed = Sealed::new();
    let (handle, guard) = sealed.start();
    sealed.write(&handle, "alice", 1);
    sealed.end_epoch(0);
    handle.flush().unwrap();
    guard.shutdown(Duration::from_secs(5)).unwrap();
    // The writer died after appending epoch 0's seal but before the evolved
    // key replaced the file: put epoch 0's key back.
    let (epoch0, _) = SealingKey::from_key(
        [42; 32],
        UNIX_EPOCH + Duration::from_secs(START),
        Duration::from_secs(EPOCH),
    )
    .unwrap();
    epoch0.save(&sealed.key).unwrap();
    let (_handle, guard) = sealed.start();
    guard.shutdown(Duration::from_secs(5)).unwrap();
    assert_eq!(sealed.seal_lines().len(), 1);
    assert_eq!(SealingKey::load(&sealed.key).unwrap().epoch(), 1);
    assert!(sealed.verify().is_intact());
}

#[test]
fn audit_verify_checks_seals_beside_the_log() {
    let sealed = Sealed::five_sealed_epochs();
    let key_file = sealed.log.parent().unwrap().join("auditor.seal-verify");
    std::fs::write(&key_file, sealed.verifying.to_string()).unwrap();
    let log = sealed.log.to_str().unwrap();
    let output = run_audit(&["verify", log, "--seal-key", key_file.to_str().unwrap()]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(0), "{stdout}");
    assert!(
        stdout.contains(
            "5 forward-secure seal(s) verified, epochs 0..4: records up to seq 14 are sealed"
        ),
        "{stdout}"
    );

    sealed.cut(6, 2);
    let output = run_audit(&[
        "verify",
        log,
        "--seal-key",
        key_file.to_str().unwrap(),
        "--json",
    ]);
    assert_eq!(output.status.code(), Some(0));
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(json["seals"]["sealed_through"], 6);
    let codes: Vec<&str> = json["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["code"].as_str().unwrap())
        .collect();
    assert!(
        codes.is_empty(),
        "a clean cut at a seal is invisible to seals alone: {codes:?}"
    );
    // ... but the epochs that ended since are reported.
    assert!(json["seals"]["epochs_ended_unsealed"].as_u64().unwrap() > 0);
}

#[test]
fn audit_keygen_makes_an_owner_only_seal_key_pair_a_writer_can_use() {
    let dir = tempfile::tempdir().unwrap();
    let prefix = dir.path().join("billing");
    let output = run_audit(&[
        "keygen",
        "--seal",
        "--epoch",
        "5m",
        "--out",
        prefix.to_str().unwrap(),
    ]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    for extension in ["sealing", "seal-verify"] {
        let path = prefix.with_extension(extension);
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{}", path.display());
    }
    let verifying = SealVerifyingKey::load(prefix.with_extension("seal-verify")).unwrap();
    let sealing = SealingKey::load(prefix.with_extension("sealing")).unwrap();
    assert_eq!(sealing.epoch(), 0);
    let epoch_length = verifying
        .epoch_end(1)
        .duration_since(verifying.epoch_end(0))
        .unwrap();
    assert_eq!(epoch_length, Duration::from_secs(300));
    // A second keygen refuses to replace the pair.
    let again = run_audit(&["keygen", "--seal", "--out", prefix.to_str().unwrap()]);
    assert_eq!(again.status.code(), Some(2));
}
