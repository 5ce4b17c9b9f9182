//! FORMAT.md's test vectors are what the writer produces, and hash as stated.
//!
//! An independent verifier is written from FORMAT.md alone; if the writer
//! drifted from it, this test fails and prints the lines it now produces.

mod common;

use std::time::Duration;

use audit_layer::{AuditEvent, CodeLocation, FailureKind, Outcome, Verifier};
use serde_json::json;
use sha2::{Digest, Sha256};

fn vector_events() -> Vec<AuditEvent> {
    let at = |s: &str| s.parse().unwrap();
    vec![
        AuditEvent::builder("session.login")
            .actor("alice")
            .context("request_id", "req-7")
            .context("source_ip", "203.0.113.9")
            .code(CodeLocation::new("blog::auth", "login").with_file("src/auth.rs", 42))
            .duration(Duration::from_micros(1500))
            .time(at("2026-01-01T09:00:00.000000001Z"))
            .build(),
        AuditEvent::builder("post.publish")
            .actor("mallory")
            .resource("post:42")
            .outcome(Outcome::failure(FailureKind::Denied, "not an editor"))
            .time(at("2026-01-01T09:00:01Z"))
            .build(),
        AuditEvent::builder("user.role_change")
            .actor("alice")
            .resource("user:bob")
            .before(json!({"role": "editor", "teams": ["news"]}))
            .after(json!({"role": "admin", "teams": ["news", "ops"]}))
            .context("ticket", "SEC-1234")
            .time(at("2026-01-01T09:00:02.5Z"))
            .build(),
        AuditEvent::builder("note")
            .actor("o'neil \"the\nadmin\" ü")
            .outcome(Outcome::Unknown {
                reason: "timeout".into(),
            })
            .time(at("2026-01-01T09:00:03Z"))
            .build(),
    ]
}

fn section<'a>(doc: &'a str, fence: &str) -> &'a str {
    let start = doc
        .find(fence)
        .unwrap_or_else(|| panic!("FORMAT.md has no {fence} block"))
        + fence.len();
    let end = doc[start..].find("```").unwrap() + start;
    doc[start..end].trim_start_matches('\n')
}

#[test]
fn format_md_vectors_are_what_the_writer_writes() {
    let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/FORMAT.md")).unwrap();
    let (sink, log) = audit_layer::MemorySink::new();
    let (handle, guard) = audit_layer::AuditWriter::builder()
        .service("blog-api")
        .host("web-1")
        .spawn(sink)
        .unwrap();
    for event in vector_events() {
        handle.submit(event).unwrap();
    }
    guard.shutdown(Duration::from_secs(10)).unwrap();
    let written = String::from_utf8(log.bytes()).unwrap();
    let documented = section(&doc, "```jsonl test-vectors");
    assert_eq!(
        documented, written,
        "FORMAT.md's vectors differ from what the writer writes now:\n{written}"
    );
}

#[test]
fn format_md_hashes_follow_the_documented_rule() {
    let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/FORMAT.md")).unwrap();
    let lines: Vec<&str> = section(&doc, "```jsonl test-vectors").lines().collect();
    let table = section(&doc, "```text test-vector-hashes");
    let mut prev = "0".repeat(64);
    for (line, row) in lines.iter().zip(table.lines()) {
        let (seq, hash) = row.split_once(' ').unwrap();
        // The documented rule, implemented from the text: drop the last 75
        // bytes (`,"hash":"` + 64 hex + `"}`), SHA-256 the rest.
        let hashed = &line.as_bytes()[..line.len() - 75];
        assert_eq!(
            hex::encode(Sha256::digest(hashed)),
            hash.trim(),
            "seq {seq}"
        );
        assert!(line.ends_with(&format!(",\"hash\":\"{}\"}}", hash.trim())));
        assert!(
            line.contains(&format!("\"prev\":\"{prev}\"")),
            "seq {seq} does not link"
        );
        prev = hash.trim().to_owned();
    }
    assert_eq!(lines.len(), table.lines().count());
    let mut bytes = lines.join("\n").into_bytes();
    bytes.push(b'\n');
    assert!(Verifier::new().verify_bytes(&bytes).is_intact());
}

/// The checkpoint and anchor vectors: the key is the one from the seed
/// 0x01 0x02 ... 0x20, the log is the record vectors above.
fn signed_vectors() -> (audit_layer::SignerKey, String, String) {
    let seed: [u8; 32] = std::array::from_fn(|i| i as u8 + 1);
    let key = audit_layer::SignerKey::from_seed("example.com/audit/vectors", seed).unwrap();
    let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/FORMAT.md")).unwrap();
    let lines: Vec<&str> = section(&doc, "```jsonl test-vectors").lines().collect();
    let hash_of = |line: &str| {
        audit_layer::AuditRecord::from_line(line.as_bytes())
            .unwrap()
            .hash
    };
    let mut tree = audit_layer::merkle::MemoryTree::new();
    for line in &lines {
        tree.push(audit_layer::merkle::record_leaf(&hash_of(line)));
    }
    let checkpoint = audit_layer::Checkpoint {
        origin: "example.com/audit/vectors".into(),
        size: 4,
        head: hash_of(lines[3]),
        root: Some(audit_layer::merkle::root(&tree, 4).unwrap()),
    };
    let first_kind = audit_layer::Checkpoint {
        root: None,
        ..checkpoint.clone()
    };
    let anchor = audit_layer::Anchor {
        origin: "example.com/audit/vectors".into(),
        first_seq: 2,
        prev: hash_of(lines[1]),
        root: Some(audit_layer::merkle::root(&tree, 2).unwrap()),
    };
    (
        key.clone(),
        format!(
            "{}\ncheckpoint of the first kind:\n{}",
            checkpoint.sign(&key),
            first_kind.sign(&key)
        ),
        format!(
            "{}\nanchor of the first kind:\n{}",
            anchor.sign(&key),
            audit_layer::Anchor {
                root: None,
                ..anchor.clone()
            }
            .sign(&key)
        ),
    )
}

#[test]
fn format_md_checkpoint_and_anchor_vectors_are_what_the_library_signs() {
    let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/FORMAT.md")).unwrap();
    let (key, checkpoint, anchor) = signed_vectors();
    let actual = format!(
        "signer:   {key}\nverifier: {}\n\ncheckpoint:\n{checkpoint}\nanchor:\n{anchor}",
        key.verifier()
    );
    assert_eq!(
        section(&doc, "```text signature-vectors"),
        actual,
        "FORMAT.md's signature vectors differ; now:\n{actual}"
    );
    let (current, first_kind) = checkpoint
        .split_once("\ncheckpoint of the first kind:\n")
        .unwrap();
    let (opened, _) = audit_layer::Checkpoint::open(current, &[key.verifier()]).unwrap();
    assert_eq!(opened.size, 4);
    assert!(opened.root.is_some());
    let (opened, _) = audit_layer::Checkpoint::open(first_kind, &[key.verifier()]).unwrap();
    assert!(opened.root.is_none());
}

/// The seal vectors: initial key 0x01 0x02 ... 0x20, epoch 0 starting at
/// 2026-01-01T09:00:00Z, 60-second epochs; the record vectors written two
/// in epoch 0, two in epoch 1, none in epoch 2.
fn seal_vectors() -> (String, String, String) {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::time::UNIX_EPOCH;

    const START: u64 = 1_767_258_000;
    let key0: [u8; 32] = std::array::from_fn(|i| i as u8 + 1);
    let (sealing, verifying) = audit_layer::SealingKey::from_key(
        key0,
        UNIX_EPOCH + Duration::from_secs(START),
        Duration::from_secs(60),
    )
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let key_path = dir.path().join("vectors.sealing");
    let seals_path = dir.path().join("seals.jsonl");
    sealing.save(&key_path).unwrap();
    let now = Arc::new(AtomicU64::new(START + 1));
    let clock = Arc::clone(&now);
    let seals = audit_layer::ForwardSeals::open(&key_path, &seals_path)
        .unwrap()
        .clock(move || UNIX_EPOCH + Duration::from_secs(clock.load(Ordering::SeqCst)));
    let (handle, guard) = audit_layer::AuditWriter::builder()
        .service("blog-api")
        .host("web-1")
        .forward_seals(seals)
        .spawn(audit_layer::FileSink::open(dir.path().join("log")).unwrap())
        .unwrap();
    let mut events = vector_events().into_iter();
    for epoch in 0..3u64 {
        if epoch < 2 {
            for event in events.by_ref().take(2) {
                handle.submit(event).unwrap();
            }
            handle.flush().unwrap();
        }
        now.store(START + (epoch + 1) * 60 + 1, Ordering::SeqCst);
        handle.flush().unwrap();
    }
    guard.shutdown(Duration::from_secs(10)).unwrap();
    (
        verifying.to_string(),
        std::fs::read_to_string(&seals_path).unwrap(),
        std::fs::read_to_string(&key_path).unwrap(),
    )
}

#[test]
fn format_md_seal_vectors_are_what_the_writer_seals() {
    let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/FORMAT.md")).unwrap();
    let (verifying, seals, sealing_after) = seal_vectors();
    let actual = format!(
        "verifying key:\n{verifying}\nseals.jsonl:\n{seals}\nsealing key after epoch 2:\n{sealing_after}"
    );
    assert_eq!(
        section(&doc, "```text seal-vectors"),
        actual,
        "FORMAT.md's seal vectors differ; now:\n{actual}"
    );
}

#[test]
fn format_md_seals_follow_the_documented_rule() {
    use hmac::{Hmac, KeyInit, Mac};

    let (_, seals, sealing_after) = seal_vectors();
    let mut key: [u8; 32] = std::array::from_fn(|i| i as u8 + 1);
    for (epoch, line) in seals.lines().enumerate() {
        let seal: serde_json::Value = serde_json::from_str(line).unwrap();
        assert_eq!(seal["epoch"], epoch as u64);
        let text = format!(
            "audit-layer seal v1\n{}\n{}\n{}\n",
            seal["epoch"],
            seal["size"],
            seal["head"].as_str().unwrap()
        );
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(&key).unwrap();
        mac.update(text.as_bytes());
        assert_eq!(
            hex::encode(mac.finalize().into_bytes()),
            seal["mac"].as_str().unwrap(),
            "epoch {epoch}"
        );
        let mut evolve = Sha256::new();
        evolve.update(b"audit-layer seal key evolve v1\n");
        evolve.update(key);
        key = evolve.finalize().into();
    }
    assert!(sealing_after.contains(&format!("\nkey {}\n", hex::encode(key))));
}

/// The tree of section 14's four records: leaves, roots, and a proof of
/// each kind, in standard base64 as `audit prove` prints them.
fn tree_vectors() -> String {
    use audit_layer::merkle::{MemoryTree, consistency_proof, inclusion_proof, record_leaf, root};
    use base64::Engine;
    let b64 = |h: &audit_layer::chain::Hash| {
        base64::engine::general_purpose::STANDARD.encode(h.as_bytes())
    };
    let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/FORMAT.md")).unwrap();
    let mut tree = MemoryTree::new();
    let mut text = String::new();
    for (seq, line) in section(&doc, "```jsonl test-vectors").lines().enumerate() {
        let hash = audit_layer::AuditRecord::from_line(line.as_bytes())
            .unwrap()
            .hash;
        tree.push(record_leaf(&hash));
        text.push_str(&format!("leaf {seq}: {}\n", b64(&record_leaf(&hash))));
    }
    for size in 0..=4 {
        text.push_str(&format!(
            "root of {size}: {}\n",
            b64(&root(&tree, size).unwrap())
        ));
    }
    let proof: Vec<String> = inclusion_proof(&tree, 2, 4)
        .unwrap()
        .iter()
        .map(b64)
        .collect();
    text.push_str(&format!("inclusion of 2 in 4: {}\n", proof.join(" ")));
    let proof: Vec<String> = consistency_proof(&tree, 3, 4)
        .unwrap()
        .iter()
        .map(b64)
        .collect();
    text.push_str(&format!("consistency of 3 in 4: {}\n", proof.join(" ")));
    text
}

#[test]
fn format_md_tree_vectors_are_what_the_library_computes() {
    let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/FORMAT.md")).unwrap();
    let actual = tree_vectors();
    assert_eq!(
        section(&doc, "```text tree-vectors"),
        actual,
        "FORMAT.md's tree vectors differ; now:\n{actual}"
    );
}
