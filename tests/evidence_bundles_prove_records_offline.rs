//! Evidence bundles: `audit bundle` writes the records a selection names,
//! as stored, each with its inclusion proof into a signed (and cosigned)
//! checkpoint; `audit verify-bundle` checks the file with no access to the
//! log; a seq range is proved complete, a field selection says it cannot
//! be; any change to a record, a proof, a seq or the checkpoint is caught.

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use audit_layer::{
    AuditEvent, AuditWriter, CheckpointDir, Checkpoints, CosignerKey, EvidenceBundle, FileSink,
    RecordFilter, SignerKey,
};
use common::run_audit as audit;
use proptest::prelude::*;

struct Fixture {
    _dir: tempfile::TempDir,
    log: PathBuf,
    checkpoint: PathBuf,
    key: SignerKey,
    public: String,
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let key = SignerKey::generate("example.com/audit/docs").unwrap();
    let log = dir.path().join("log");
    let checkpoints = dir.path().join("checkpoints");
    let (handle, guard) = AuditWriter::builder()
        .checkpoints(Checkpoints::new(
            key.clone(),
            CheckpointDir::new(&checkpoints),
        ))
        .spawn(
            FileSink::builder(&log)
                .max_segment_bytes(16 * 1024)
                .open()
                .unwrap(),
        )
        .unwrap();
    for n in 0..700u64 {
        let event = AuditEvent::builder(["doc.view", "doc.edit", "doc.sign"][(n % 3) as usize])
            .actor(format!("user-{}", n % 5))
            .resource(format!("doc:{}", n % 11))
            .build();
        handle.submit(event).unwrap();
    }
    guard.shutdown(Duration::from_secs(20)).unwrap();
    let checkpoint = checkpoints.join("checkpoint-00000000000000000700.note");
    assert!(checkpoint.exists());
    Fixture {
        _dir: dir,
        log,
        checkpoint,
        public: key.verifier().to_string(),
        key,
    }
}

fn bundle(fixture: &Fixture, selection: &[&str], out: &Path) -> std::process::Output {
    let mut args = vec![
        "bundle",
        fixture.log.to_str().unwrap(),
        "--checkpoint",
        fixture.checkpoint.to_str().unwrap(),
        "--key",
        &fixture.public,
        "--out",
        out.to_str().unwrap(),
    ];
    args.extend_from_slice(selection);
    audit(&args)
}

fn verify_bundle(fixture: &Fixture, file: &Path, extra: &[&str]) -> (Option<i32>, String) {
    let mut args = vec![
        "verify-bundle",
        file.to_str().unwrap(),
        "--key",
        &fixture.public,
    ];
    args.extend_from_slice(extra);
    let output = audit(&args);
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
    )
}

#[test]
fn a_document_s_records_are_proved_offline_and_the_limit_is_said() {
    let fixture = fixture();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("doc-7.bundle");
    let made = bundle(&fixture, &["--resource", "doc:7"], &file);
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );
    // The log is gone: the inspector has the bundle and the public key.
    std::fs::remove_dir_all(&fixture.log).unwrap();
    let (code, text) = verify_bundle(&fixture, &file, &["--json"]);
    assert_eq!(code, Some(0), "{text}");
    assert!(text.contains("verified: 63 record(s)"), "{text}");
    assert!(
        text.contains("cannot prove that no record left out also matches"),
        "{text}"
    );
    let records: Vec<serde_json::Value> = text
        .lines()
        .filter(|l| l.starts_with('{'))
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(records.len(), 63);
    assert!(records.iter().all(|r| r["resource"] == "doc:7"));
    // Only what was selected is disclosed.
    let bundle_text = std::fs::read_to_string(&file).unwrap();
    assert!(!bundle_text.contains("doc:8"));
    // A bundle is never overwritten.
    assert!(
        !bundle(&fixture, &["--resource", "doc:7"], &file)
            .status
            .success()
    );
}

#[test]
fn a_seq_range_is_proved_complete_and_a_gap_is_caught() {
    let fixture = fixture();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("range.bundle");
    assert!(
        bundle(&fixture, &["--from-seq", "250", "--to-seq", "270"], &file)
            .status
            .success()
    );
    let (code, text) = verify_bundle(&fixture, &file, &[]);
    assert_eq!(code, Some(0), "{text}");
    assert!(
        text.contains("complete: every record from seq 250 to seq 270"),
        "{text}"
    );
    let mut value: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    value["records"].as_array_mut().unwrap().remove(5);
    let gap = dir.path().join("gap.bundle");
    std::fs::write(&gap, value.to_string()).unwrap();
    let (code, text) = verify_bundle(&fixture, &gap, &[]);
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains("does not"), "{text}");
    // One record by its seq.
    let one = dir.path().join("one.bundle");
    assert!(bundle(&fixture, &["--seq", "42"], &one).status.success());
    let (code, text) = verify_bundle(&fixture, &one, &["--json"]);
    assert_eq!(code, Some(0), "{text}");
    assert!(
        text.contains("verified: 1 record(s)") && text.contains(r#""seq":42"#),
        "{text}"
    );
}

#[test]
fn cosignatures_on_the_checkpoint_are_checked() {
    let fixture = fixture();
    let dir = tempfile::tempdir().unwrap();
    let witness = CosignerKey::new(SignerKey::generate("witness.example/w1").unwrap());
    let note = std::fs::read_to_string(&fixture.checkpoint).unwrap();
    let text_part = &note[..note.rfind("\n\n").unwrap() + 1];
    let cosigned = format!("{note}{}", witness.cosign(text_part, 1_760_000_000));
    let bundle = EvidenceBundle::build(
        &fixture.log,
        &RecordFilter::new().actor("user-3"),
        None,
        &cosigned,
        &[fixture.key.verifier()],
    )
    .unwrap();
    let file = dir.path().join("cosigned.bundle");
    std::fs::write(&file, bundle.to_json()).unwrap();
    let public = witness.verifier().to_string();
    let (code, text) = verify_bundle(&fixture, &file, &["--witness", &public]);
    assert_eq!(code, Some(0), "{text}");
    assert!(text.contains("cosigned by witness.example/w1"), "{text}");
    let other = CosignerKey::new(SignerKey::generate("witness.example/w2").unwrap());
    let (code, text) = verify_bundle(
        &fixture,
        &file,
        &["--witness", &other.verifier().to_string()],
    );
    assert_eq!(code, Some(1), "{text}");
}

#[test]
fn a_log_that_is_not_the_signed_one_gives_no_bundle() {
    let fixture = fixture();
    let segment = common::segments(&fixture.log).remove(0);
    let text = std::fs::read_to_string(&segment).unwrap();
    std::fs::write(&segment, text.replacen("doc:0", "doc:X", 1)).unwrap();
    std::fs::remove_dir_all(fixture.log.join("tile")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let made = bundle(&fixture, &["--resource", "doc:0"], &dir.path().join("b"));
    assert_eq!(
        made.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn any_change_to_a_bundle_is_caught(which in 0usize..6, at in any::<usize>(), bit in 0u8..7) {
        static FIXTURE: std::sync::OnceLock<(Fixture, String)> = std::sync::OnceLock::new();
        let (fixture, json) = FIXTURE.get_or_init(|| {
            let fixture = fixture();
            let note = std::fs::read_to_string(&fixture.checkpoint).unwrap();
            let bundle = EvidenceBundle::build(&fixture.log, &RecordFilter::new().resource("doc:4"), None, &note, &[fixture.key.verifier()]).unwrap();
            let json = bundle.to_json();
            (fixture, json)
        });
        let keys = [fixture.key.verifier()];
        prop_assert!(EvidenceBundle::check(json, &keys, &[], 0).is_ok());
        let mut value: serde_json::Value = serde_json::from_str(json).unwrap();
        let records = value["records"].as_array().unwrap().len();
        let r = at % records;
        let flip = |text: &str| -> String {
            let mut bytes = text.as_bytes().to_vec();
            let i = at % bytes.len();
            bytes[i] ^= 1 << bit;
            String::from_utf8_lossy(&bytes).into_owned()
        };
        match which {
            0 => { let line = value["records"][r]["line"].as_str().unwrap().to_owned(); value["records"][r]["line"] = flip(&line).into(); }
            1 => { let proof = value["records"][r]["proof"][0].as_str().unwrap().to_owned(); value["records"][r]["proof"][0] = flip(&proof).into(); }
            2 => { let seq = value["records"][r]["seq"].as_u64().unwrap(); value["records"][r]["seq"] = (seq ^ (1 << bit)).into(); }
            3 => { let note = value["checkpoint"].as_str().unwrap().to_owned(); let cut = note.rfind("\n\n").unwrap(); let text = flip(&note[..cut]); value["checkpoint"] = format!("{text}{}", &note[cut..]).into(); }
            4 => { value["records"][r]["proof"].as_array_mut().unwrap().pop(); }
            _ => { let a = value["records"][r].clone(); let b = value["records"][(r + 1) % records].clone(); prop_assume!(a != b); value["records"][r] = b; value["records"][(r + 1) % records] = a; }
        }
        let changed = value.to_string();
        prop_assume!(changed != serde_json::to_string(&serde_json::from_str::<serde_json::Value>(json).unwrap()).unwrap());
        prop_assert!(EvidenceBundle::check(&changed, &keys, &[], 0).is_err(), "accepted: change {which}");
    }
}
