//! The writer keeps the log's Merkle tree as C2SP tlog-tiles beside the
//! segments: full tiles are the records' leaves and the roots of the tiles
//! below, partial tiles exist for every checkpointed size, checkpoints
//! carry the tree's root; tiles lost, cut short, damaged or planted beyond
//! the log by a crash are put right when the writer starts again; `audit
//! prove` gives proofs that check.

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use audit_layer::chain::Hash;
use audit_layer::merkle::{
    MemoryTree, leaf_hash, record_leaf, root, verify_consistency, verify_inclusion,
};
use audit_layer::{
    AuditWriter, CheckpointDir, Checkpoints, FileSink, LogReader, LogTree, SignerKey, Verifier,
};
use base64::Engine;
use common::run_audit as audit;

struct Log {
    _dir: tempfile::TempDir,
    log: PathBuf,
    checkpoints: PathBuf,
    key: SignerKey,
}

fn write(log: &Log, records: usize) {
    let sink = FileSink::builder(&log.log)
        .max_segment_bytes(64 * 1024)
        .open()
        .unwrap();
    let (handle, guard) = AuditWriter::builder()
        .checkpoints(
            Checkpoints::new(log.key.clone(), CheckpointDir::new(&log.checkpoints))
                .every_records(100),
        )
        .spawn(sink)
        .unwrap();
    for event in common::varied_events(records) {
        handle.submit(event).unwrap();
    }
    guard.shutdown(Duration::from_secs(20)).unwrap();
}

fn new_log(records: usize) -> Log {
    let dir = tempfile::tempdir().unwrap();
    let log = Log {
        log: dir.path().join("log"),
        checkpoints: dir.path().join("checkpoints"),
        key: SignerKey::generate("example.com/audit/tiles").unwrap(),
        _dir: dir,
    };
    write(&log, records);
    log
}

/// Every record's leaf, in order, from the records themselves.
fn leaves(log: &Path) -> Vec<Hash> {
    LogReader::open(log)
        .unwrap()
        .map(|record| record_leaf(&record.unwrap().hash))
        .collect()
}

fn tile(log: &Path, parts: &[&str]) -> PathBuf {
    parts
        .iter()
        .fold(log.join("tile"), |path, part| path.join(part))
}

fn hashes_of(bytes: &[u8]) -> Vec<Hash> {
    bytes
        .chunks(32)
        .map(|c| Hash::from_bytes(c.try_into().unwrap()))
        .collect()
}

#[test]
fn tiles_are_the_records_leaves_and_the_roots_of_the_tiles_below() {
    let log = new_log(700);
    let leaves = leaves(&log.log);
    let size = leaves.len();
    assert!(size >= 700);
    // Level 0: full tiles of 256 leaves (8,192 bytes), then a partial one.
    for n in 0..size / 256 {
        let bytes = std::fs::read(tile(&log.log, &["0", &format!("{n:03}")])).unwrap();
        assert_eq!(bytes.len(), 8192);
        assert_eq!(hashes_of(&bytes), leaves[n * 256..(n + 1) * 256]);
    }
    let width = size % 256;
    let partial = std::fs::read(tile(
        &log.log,
        &["0", &format!("{:03}.p", size / 256), &width.to_string()],
    ))
    .unwrap();
    assert_eq!(hashes_of(&partial), leaves[size / 256 * 256..]);
    // Level 1: the roots of the full level-0 tiles, as a partial tile.
    let level1 = std::fs::read(tile(&log.log, &["1", "000.p", &(size / 256).to_string()])).unwrap();
    let mut tree = MemoryTree::new();
    for leaf in &leaves {
        tree.push(*leaf);
    }
    for (n, hash) in hashes_of(&level1).iter().enumerate() {
        let mut tile_tree = MemoryTree::new();
        for leaf in &leaves[n * 256..(n + 1) * 256] {
            tile_tree.push(*leaf);
        }
        assert_eq!(*hash, root(&tile_tree, 256).unwrap());
    }
    // The last checkpoint signs the tree's root, and the chain's head beside it.
    let report = Verifier::new()
        .trust(log.key.verifier())
        .checkpoints_from(&log.checkpoints)
        .unwrap()
        .verify_path(&log.log)
        .unwrap();
    assert!(report.is_intact(), "{:?}", report.findings);
    assert_eq!(report.checkpoints_of_first_kind, 0);
    assert!(report.checkpoints_with_root >= 1);
    assert_eq!(report.tree_root, Some(root(&tree, size as u64).unwrap()));
    assert_eq!(
        LogTree::open(&log.log).unwrap().root(),
        report.tree_root.unwrap()
    );
}

#[test]
fn tiles_damaged_by_a_crash_are_put_right_when_the_writer_starts() {
    let log = new_log(1100);
    let expected: Vec<(PathBuf, Vec<u8>)> = (0..4)
        .map(|n| {
            let path = tile(&log.log, &["0", &format!("{n:03}")]);
            let bytes = std::fs::read(&path).unwrap();
            (path, bytes)
        })
        .collect();
    // What a crash can leave: the flush marker behind, a tile missing, one
    // cut short, one zeroed, and a tile beyond the records.
    std::fs::write(log.log.join("tile/synced"), "0\n").unwrap();
    std::fs::remove_file(&expected[3].0).unwrap();
    std::fs::write(&expected[2].0, &expected[2].1[..100]).unwrap();
    std::fs::write(&expected[1].0, vec![0u8; 8192]).unwrap();
    let beyond = tile(&log.log, &["0", "009"]);
    std::fs::write(&beyond, vec![7u8; 8192]).unwrap();
    write(&log, 1);
    for (path, bytes) in &expected {
        assert_eq!(&std::fs::read(path).unwrap(), bytes, "{}", path.display());
    }
    assert!(!beyond.exists(), "a tile beyond the records is removed");
    let report = Verifier::new()
        .trust(log.key.verifier())
        .checkpoints_from(&log.checkpoints)
        .unwrap()
        .verify_path(&log.log)
        .unwrap();
    assert!(report.is_intact(), "{:?}", report.findings);
}

#[test]
fn a_log_without_tiles_gets_them_and_its_checkpoints_a_root() {
    let log = new_log(600);
    std::fs::remove_dir_all(log.log.join("tile")).unwrap();
    write(&log, 10);
    let leaves = leaves(&log.log);
    let bytes = std::fs::read(tile(&log.log, &["0", "001"])).unwrap();
    assert_eq!(hashes_of(&bytes), leaves[256..512]);
    let tree = LogTree::open(&log.log).unwrap();
    assert_eq!(tree.size(), leaves.len() as u64);
}

#[test]
fn audit_prove_gives_proofs_that_check() {
    let log = new_log(900);
    let dir = log.log.to_str().unwrap();
    let decode = |value: &serde_json::Value| {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(value.as_str().unwrap())
            .unwrap();
        Hash::from_bytes(bytes.try_into().unwrap())
    };
    let proved = audit(&["prove", dir, "--seq", "417", "--json"]);
    assert!(
        proved.status.success(),
        "{}",
        String::from_utf8_lossy(&proved.stderr)
    );
    let inclusion: serde_json::Value = serde_json::from_slice(&proved.stdout).unwrap();
    let size = inclusion["size"].as_u64().unwrap();
    let proof: Vec<Hash> = inclusion["proof"]
        .as_array()
        .unwrap()
        .iter()
        .map(decode)
        .collect();
    let record = inclusion["record"].as_str().unwrap();
    let hash = audit_layer::AuditRecord::from_line(record.as_bytes())
        .unwrap()
        .hash;
    // The leaf is the record's: anyone holding the line can recompute it.
    assert_eq!(decode(&inclusion["leaf"]), leaf_hash(hash.as_bytes()));
    verify_inclusion(
        &decode(&inclusion["leaf"]),
        417,
        size,
        &proof,
        &decode(&inclusion["root"]),
    )
    .unwrap();
    assert!(proof.len() <= 10, "about log2(n) hashes: {}", proof.len());

    let grown = audit(&["prove", dir, "--from", "300", "--to", "800", "--json"]);
    assert!(grown.status.success());
    let consistency: serde_json::Value = serde_json::from_slice(&grown.stdout).unwrap();
    let proof: Vec<Hash> = consistency["proof"]
        .as_array()
        .unwrap()
        .iter()
        .map(decode)
        .collect();
    verify_consistency(
        300,
        800,
        &decode(&consistency["old_root"]),
        &decode(&consistency["new_root"]),
        &proof,
    )
    .unwrap();

    // Into a signed checkpoint: the proof names it, and a forged log is refused.
    let mut notes: Vec<PathBuf> = std::fs::read_dir(&log.checkpoints)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    notes.sort();
    let note = notes.last().unwrap().to_str().unwrap();
    let public = log.key.verifier().to_string();
    let signed = audit(&[
        "prove",
        dir,
        "--seq",
        "5",
        "--checkpoint",
        note,
        "--key",
        &public,
        "--json",
    ]);
    assert!(
        signed.status.success(),
        "{}",
        String::from_utf8_lossy(&signed.stderr)
    );
    let value: serde_json::Value = serde_json::from_slice(&signed.stdout).unwrap();
    assert!(
        value["checkpoint"]
            .as_str()
            .unwrap()
            .contains("audit-layer-chain ")
    );
    // A record edited in place (its hash field left alone) is not proved.
    let segment = common::segments(&log.log).remove(0);
    let text = std::fs::read_to_string(&segment).unwrap();
    let edited: Vec<String> = text
        .lines()
        .map(|line| match line.contains(r#""seq":5,"#) {
            true => line.replacen("post:", "page:", 1),
            false => line.to_owned(),
        })
        .collect();
    std::fs::write(&segment, edited.join("\n") + "\n").unwrap();
    let refused = audit(&[
        "prove",
        dir,
        "--seq",
        "5",
        "--checkpoint",
        note,
        "--key",
        &public,
    ]);
    assert_eq!(
        refused.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );
    assert!(String::from_utf8_lossy(&refused.stderr).contains("modified"));
    // A history re-chained from record 5 on no longer has the signed root.
    std::fs::remove_dir_all(log.log.join("tile")).unwrap();
    let rechained: Vec<String> = text
        .lines()
        .map(|line| match line.contains(r#""seq":5,"#) {
            true => {
                let at = line.rfind("\"hash\":\"").unwrap() + 8;
                format!("{}{}\"}}", &line[..at], "0".repeat(64))
            }
            false => line.to_owned(),
        })
        .collect();
    std::fs::write(&segment, rechained.join("\n") + "\n").unwrap();
    let refused = audit(&[
        "prove",
        dir,
        "--seq",
        "7",
        "--checkpoint",
        note,
        "--key",
        &public,
    ]);
    assert_eq!(
        refused.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );
    assert!(String::from_utf8_lossy(&refused.stderr).contains("not the one that was signed"));
}
