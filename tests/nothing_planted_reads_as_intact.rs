//! Whatever is planted, deleted or typed around a log, `audit verify` never
//! says "intact" over records it could not check: anchors and seals only
//! narrow trust, things that are not logs are refused or are findings, a
//! record is valid by one definition for the verifier and the readers, and
//! every loop over attacker-controlled numbers is bounded.

mod common;

use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use audit_layer::chain::{GENESIS, Hash};
use audit_layer::{
    Anchor, AuditWriter, FileSink, FindingCode, Report, SealingKey, SignerKey, Verifier,
};
use common::run_audit;

/// A log directory written by a real writer: `count` records in segments
/// of about `segment_bytes`.
fn file_log(count: usize, segment_bytes: u64) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("log");
    let sink = FileSink::builder(&log)
        .max_segment_bytes(segment_bytes)
        .open()
        .unwrap();
    let (handle, guard) = AuditWriter::builder().spawn(sink).unwrap();
    for event in common::varied_events(count) {
        handle.submit(event).unwrap();
    }
    guard.shutdown(Duration::from_secs(10)).unwrap();
    (dir, log)
}

fn codes(report: &Report) -> Vec<FindingCode> {
    let mut codes: Vec<FindingCode> = report.findings.iter().map(|f| f.code).collect();
    codes.sort();
    codes.dedup();
    codes
}

/// Runs `audit` and gives up (failing) if it does not finish in 60 s: a
/// hang is the defect some of these tests look for.
fn audit_bounded(args: &[&str]) -> Output {
    let child = Command::new(env!("CARGO_BIN_EXE_audit"))
        .args(args)
        .env_remove("AUDIT_LOG")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let (done, finished) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        if finished.recv_timeout(Duration::from_secs(60)).is_err() {
            // SAFETY: kill(2) on the child's pid; at worst it has exited already.
            unsafe { libc::kill(pid as i32, libc::SIGKILL) };
        }
    });
    let output = child.wait_with_output().unwrap();
    let _ = done.send(());
    assert!(
        output.status.code().is_some(),
        "audit {args:?} did not finish by itself"
    );
    output
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// Rewrites the lines of a segment, re-chaining every record from `from`
/// on, as someone with write access and no key would.
fn rechain(lines: &mut [Vec<u8>], from: usize, mut prev: Hash) {
    for line in &mut lines[from..] {
        let text = String::from_utf8(line.clone()).unwrap();
        let body = &text[..text.len() - 76];
        let prev_at = body.find("\"prev\":\"").unwrap() + 8;
        let body = format!("{}{prev}{}", &body[..prev_at], &body[prev_at + 64..]);
        let hash = Hash::of(body.as_bytes());
        *line = format!("{body},\"hash\":\"{hash}\"}}\n").into_bytes();
        prev = hash;
    }
}

fn read_lines(path: &Path) -> Vec<Vec<u8>> {
    let bytes = std::fs::read(path).unwrap();
    common::line_ranges(&bytes)
        .into_iter()
        .map(|r| bytes[r].to_vec())
        .collect()
}

fn write_lines(path: &Path, lines: &[Vec<u8>]) {
    std::fs::write(path, lines.concat()).unwrap();
}

#[test]
fn an_unsigned_or_untrusted_anchor_cannot_hide_a_forged_start() {
    let (_dir, log) = file_log(10, 1 << 20);
    let segment = common::segments(&log).remove(0);
    // Drop the first four records, forge the fifth, re-chain, and plant an
    // anchor (signed by a key of the forger's own) saying the log starts there.
    let mut lines = read_lines(&segment);
    let mut kept: Vec<Vec<u8>> = lines.drain(4..).collect();
    let forged = String::from_utf8(kept[0].clone())
        .unwrap()
        .replacen("\"post.", "\"user.", 1);
    kept[0] = forged.into_bytes();
    let forged_prev = Hash::of(b"whatever the forger likes");
    rechain(&mut kept, 0, forged_prev);
    std::fs::remove_file(&segment).unwrap();
    write_lines(&log.join("segment-00000000000000000004.jsonl"), &kept);
    let forger = SignerKey::generate("example.com/audit/test").unwrap();
    let note = Anchor {
        origin: "example.com/audit/test".into(),
        first_seq: 4,
        prev: forged_prev,
        root: None,
    }
    .sign(&forger);
    std::fs::write(log.join("anchor-00000000000000000004.note"), note).unwrap();

    // No key: the anchor is not used, so seq 0..3 are missing.
    let report = Verifier::new().verify_path(&log).unwrap();
    assert!(!report.is_intact());
    assert!(
        codes(&report).contains(&FindingCode::Missing),
        "{:?}",
        report.findings
    );
    assert!(report.anchor.is_none());
    // The auditor's key did not sign it: unknown-key, and still missing.
    let auditor = SignerKey::generate("example.com/audit/test").unwrap();
    let report = Verifier::new()
        .trust(auditor.verifier())
        .verify_path(&log)
        .unwrap();
    assert_eq!(
        codes(&report),
        vec![FindingCode::Missing, FindingCode::UnknownKey]
    );

    // Every reader agrees: nothing reads as intact, and the exit code says so.
    let log_arg = log.to_str().unwrap();
    for args in [
        vec!["verify", log_arg],
        vec!["show", "--log", log_arg],
        vec!["timeline", "post:0", "--log", log_arg],
        vec!["export", "--log", log_arg],
        vec!["checkpoint", log_arg, "--key", "/no/such/key"],
    ] {
        let output = run_audit(&args);
        assert_ne!(output.status.code(), Some(0), "{args:?}: {}", text(&output));
        assert!(!text(&output).contains("log verified: intact"), "{args:?}");
    }
}

#[test]
fn a_forged_segment_before_a_genuine_anchor_is_never_presented() {
    let key = SignerKey::generate("example.com/audit/test").unwrap();
    let (_dir, log) = file_log(6, 1 << 20);
    let segment = common::segments(&log).remove(0);
    let lines = read_lines(&segment);
    // Genuine retention: seq 0..2 gone, a signed anchor at 3.
    let prev_of_3: Hash = {
        let record = audit_layer::AuditRecord::from_line(&lines[2]).unwrap();
        record.hash
    };
    std::fs::remove_file(&segment).unwrap();
    write_lines(&log.join("segment-00000000000000000003.jsonl"), &lines[3..]);
    let note = Anchor {
        origin: "example.com/audit/test".into(),
        first_seq: 3,
        prev: prev_of_3,
        root: None,
    }
    .sign(&key);
    std::fs::write(log.join("anchor-00000000000000000003.note"), note).unwrap();
    // A forger plants a segment before the anchor, with a record of their own.
    let forged = String::from_utf8(lines[0].clone())
        .unwrap()
        .replace("user-0", "mallory");
    let mut forged = vec![forged.into_bytes()];
    rechain(&mut forged, 0, GENESIS);
    write_lines(&log.join("segment-00000000000000000000.jsonl"), &forged);

    let public = log.parent().unwrap().join("key.pub");
    std::fs::write(&public, key.verifier().to_string()).unwrap();
    let report = Verifier::new()
        .trust(key.verifier())
        .verify_path(&log)
        .unwrap();
    assert!(report.is_intact(), "{:?}", report.findings);
    // The readers read what the verifier read: the planted record is not shown.
    let (log_arg, key_arg) = (log.to_str().unwrap(), public.to_str().unwrap());
    let output = run_audit(&["show", "--log", log_arg, "--key", key_arg, "--json"]);
    assert_eq!(output.status.code(), Some(0));
    let shown = String::from_utf8_lossy(&output.stdout);
    assert!(!shown.contains("mallory"), "{shown}");
    let output = run_audit(&["export", "--log", log_arg, "--key", key_arg]);
    assert!(!String::from_utf8_lossy(&output.stdout).contains("mallory"));
    // Without the key nothing can tell the planted start from a genuine one:
    // it is read, and the records retention deleted are missing, so the
    // verdict is not "intact" and the exit code says so.
    let output = run_audit(&["show", "--log", log_arg]);
    assert_eq!(output.status.code(), Some(1));
    assert!(text(&output).contains("WARNING"), "{}", text(&output));
}

#[test]
fn asking_for_seals_with_none_to_check_is_a_finding() {
    let (_sealing, verifying) = SealingKey::generate(Duration::from_secs(60)).unwrap();
    let (_dir, log) = file_log(3, 1 << 20);
    let report = Verifier::new()
        .seals_file(verifying.clone(), log.join("seals.jsonl"))
        .unwrap()
        .verify_path(&log)
        .unwrap();
    assert_eq!(codes(&report), vec![FindingCode::NoSeal]);
    std::fs::write(log.join("seals.jsonl"), "").unwrap();
    let report = Verifier::new()
        .seals_file(verifying, log.join("seals.jsonl"))
        .unwrap()
        .verify_path(&log)
        .unwrap();
    assert_eq!(codes(&report), vec![FindingCode::NoSeal]);
    assert!(!report.is_intact());
}

#[test]
fn a_seal_of_an_absurd_epoch_is_refused_without_computing_its_key() {
    let (_sealing, verifying) = SealingKey::generate(Duration::from_secs(1)).unwrap();
    let head = GENESIS;
    let seals = format!(
        "{{\"epoch\":18446744073709551000,\"size\":0,\"head\":\"{head}\",\"mac\":\"{}\"}}\n{{\"epoch\":5,\"size\":0,\"head\":\"{head}\",\"mac\":\"{}\"}}\n{{\"epoch\":4,\"size\":0,\"head\":\"{head}\",\"mac\":\"{}\"}}\n",
        "0".repeat(64),
        "0".repeat(64),
        "0".repeat(64)
    );
    // Finishes at once (the key is not evolved 2^64 times), with a finding for each.
    let report = Verifier::new()
        .seals(verifying, "seals.jsonl", seals)
        .verify_bytes(b"");
    assert!(codes(&report).contains(&FindingCode::BadSeal));
    assert!(codes(&report).contains(&FindingCode::NoSeal));
}

#[test]
fn things_that_are_not_logs_are_refused_or_are_findings() {
    // Devices and FIFOs given as the log: an error, at once.
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("segment-00000000000000000000.jsonl");
    let made = Command::new("mkfifo").arg(&fifo).status().unwrap();
    assert!(made.success());
    for path in ["/dev/zero", "/dev/urandom", fifo.to_str().unwrap()] {
        let output = audit_bounded(&["verify", path]);
        assert_eq!(output.status.code(), Some(2), "{path}: {}", text(&output));
        assert!(
            text(&output).contains("not a regular file"),
            "{}",
            text(&output)
        );
    }
    // A FIFO with a segment's name inside a directory: a finding, not a hang.
    let output = audit_bounded(&["verify", dir.path().to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(1), "{}", text(&output));
    assert!(text(&output).contains("foreign-file"), "{}", text(&output));

    // An empty segment is not "0 records, intact".
    let empty = tempfile::tempdir().unwrap();
    std::fs::write(empty.path().join("segment-00000000000000000000.jsonl"), "").unwrap();
    let report = Verifier::new().verify_path(empty.path()).unwrap();
    assert_eq!(codes(&report), vec![FindingCode::TornTail]);
    let output = run_audit(&["verify", empty.path().to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(1));

    // Zeroes and random bytes in a regular file are findings.
    let junk = tempfile::tempdir().unwrap();
    let mut bytes = vec![0u8; 4096];
    bytes.extend((0..4096u32).map(|n| (n.wrapping_mul(2_654_435_761) >> 13) as u8));
    std::fs::write(
        junk.path().join("segment-00000000000000000000.jsonl"),
        &bytes,
    )
    .unwrap();
    let report = Verifier::new().verify_path(junk.path()).unwrap();
    assert!(!report.is_intact());
}

#[test]
fn links_with_segment_or_anchor_names_are_findings_and_never_followed() {
    let (dir, log) = file_log(4, 1 << 20);
    let outside = dir.path().join("outside.jsonl");
    std::fs::copy(common::segments(&log)[0].clone(), &outside).unwrap();
    symlink(&outside, log.join("segment-00000000000000000004.jsonl")).unwrap();
    symlink("/dev/zero", log.join("anchor-00000000000000000002.note")).unwrap();
    let key = SignerKey::generate("example.com/audit/test").unwrap();
    let report = Verifier::new()
        .trust(key.verifier())
        .verify_path(&log)
        .unwrap();
    let found = codes(&report);
    assert!(found.contains(&FindingCode::ForeignFile), "{found:?}");
    assert!(!report.is_intact());
    assert_eq!(report.last_seq, Some(3), "the linked copy was not read");
}

/// A line whose hash is right but which is not a valid record, sealed as a
/// writer would seal it at `seq` after `prev`.
fn sealed(body_after_prev: &str, seq: u64, prev: Hash) -> Vec<u8> {
    let body = format!("{{\"v\":1,\"seq\":{seq},\"prev\":\"{prev}\",{body_after_prev}");
    let hash = Hash::of(body.as_bytes());
    format!("{body},\"hash\":\"{hash}\"}}\n").into_bytes()
}

const FIELDS: &str = r#""time":"2026-01-01T09:00:00.000000000Z","kind":"event","action":"a","actor":null,"resource":null,"outcome":"success","category":null,"reason":null,"before":null,"after":null,"changes":null,"context":{},"code":null,"duration_ns":null,"service":null,"host":null"#;

#[test]
fn verify_and_read_agree_on_what_a_record_is() {
    let deep = format!("{}\"a\"{}", "[".repeat(130), "]".repeat(130));
    let cases: Vec<(&str, String)> = vec![
        ("duplicate key", format!("{FIELDS},\"actor\":\"eve\"")),
        (
            "raw control character",
            FIELDS.replace("\"action\":\"a\"", "\"action\":\"a\u{1}b\""),
        ),
        (
            "missing key",
            FIELDS.replace("\"host\":null", "\"hostname\":null"),
        ),
        (
            "deep nesting",
            FIELDS.replace("\"before\":null", &format!("\"before\":{deep}")),
        ),
        ("bad outcome", FIELDS.replace("\"success\"", "\"maybe\"")),
        (
            "category on success",
            FIELDS.replace("\"category\":null", "\"category\":\"denied\""),
        ),
    ];
    for (what, fields) in cases {
        let line = sealed(&fields, 0, GENESIS);
        let report = Verifier::new().verify_bytes(&line);
        assert_eq!(codes(&report), vec![FindingCode::Malformed], "{what}");
        assert_eq!(report.findings[0].seq, Some(0), "{what}");
        assert!(
            audit_layer::AuditRecord::from_line(&line).is_err(),
            "{what}"
        );
    }
    // Invalid UTF-8 inside a string, with a right hash.
    let mut fields = FIELDS.as_bytes().to_vec();
    let at = fields.windows(3).position(|w| w == b"\"a\"").unwrap() + 1;
    fields[at] = 0xff;
    let body = [
        format!("{{\"v\":1,\"seq\":0,\"prev\":\"{GENESIS}\",").as_bytes(),
        &fields,
    ]
    .concat();
    let hash = Hash::of(&body);
    let line = [&body[..], format!(",\"hash\":\"{hash}\"}}\n").as_bytes()].concat();
    let report = Verifier::new().verify_bytes(&line);
    assert_eq!(codes(&report), vec![FindingCode::Malformed]);

    // The valid twin of those lines verifies and reads.
    let line = sealed(FIELDS, 0, GENESIS);
    assert!(Verifier::new().verify_bytes(&line).is_intact());
    assert!(audit_layer::AuditRecord::from_line(&line).is_ok());

    // A key named "hash" inside a value does not move the hashed bytes.
    let nested = FIELDS.replace(
        "\"after\":null",
        r#""after":{"x":",\"hash\":\"","hash":"00"}"#,
    );
    let line = sealed(&nested, 0, GENESIS);
    assert!(Verifier::new().verify_bytes(&line).is_intact());
}

#[test]
fn a_history_rechained_after_a_damaged_line_is_caught() {
    let bytes = common::write_log(common::varied_events(8));
    let mut lines: Vec<Vec<u8>> = common::line_ranges(&bytes)
        .into_iter()
        .map(|r| bytes[r].to_vec())
        .collect();
    // Damaged in place, hash suffix kept: one finding, the chain goes on.
    let mut damaged = lines.clone();
    damaged[3] = String::from_utf8(damaged[3].clone())
        .unwrap()
        .replacen("{\"v\":1", "{\"w\":1", 1)
        .into_bytes();
    let report = Verifier::new().verify_bytes(&damaged.concat());
    assert_eq!(codes(&report), vec![FindingCode::Malformed]);
    // Damaged, and everything after it re-chained from the damaged line.
    lines[3] = damaged[3].clone();
    let damaged_hash = Hash::of(&lines[3][..lines[3].len() - 76]);
    rechain(&mut lines, 4, damaged_hash);
    let report = Verifier::new().verify_bytes(&lines.concat());
    assert_eq!(
        codes(&report),
        vec![FindingCode::BrokenLink, FindingCode::Malformed]
    );
}

#[test]
fn seq_numbers_neither_wrap_nor_hide_old_duplicates() {
    // The largest seq does not frame: size = seq + 1 must fit in 64 bits.
    let line = sealed(FIELDS, u64::MAX, GENESIS);
    let mut log = Verifier::new().verify_bytes(&line);
    assert_eq!(codes(&log), vec![FindingCode::Malformed]);
    assert_eq!(log.findings.remove(0).seq, None);

    // A duplicate of seq 0 after 5,000 records is a duplicate, not a reorder.
    let bytes = common::write_log(common::varied_events(5_000));
    let first = &bytes[common::line_ranges(&bytes)[0].clone()];
    let replayed = [&bytes[..], first].concat();
    let report = Verifier::new().verify_bytes(&replayed);
    assert_eq!(codes(&report), vec![FindingCode::Duplicate]);
}

#[test]
fn a_reversed_log_is_judged_record_by_record() {
    // Every record after the first fills the gap the first opened: linear
    // work, one finding each, and nothing is left missing.
    let bytes = common::write_log(common::varied_events(20_000));
    let order: Vec<usize> = (0..20_000).rev().collect();
    let report = Verifier::new().verify_bytes(&common::reorder(&bytes, &order));
    assert_eq!(report.finding_counts[&FindingCode::OutOfOrder], 19_999);
    assert_eq!(report.finding_total(), 19_999);
}

#[test]
fn a_segment_whose_name_lies_about_its_first_seq_is_a_finding() {
    let (_dir, log) = file_log(5, 1 << 20);
    let segment = common::segments(&log).remove(0);
    std::fs::rename(&segment, log.join("segment-00000000000000000001.jsonl")).unwrap();
    let report = Verifier::new().verify_path(&log).unwrap();
    assert!(codes(&report).contains(&FindingCode::MisnamedSegment));
}

#[test]
fn foreign_bytes_at_the_tail_are_not_in_flight_while_the_lock_is_held() {
    let (_dir, log) = file_log(3, 1 << 20);
    let segment = common::segments(&log).remove(0);
    // Someone holds the directory's lock (a writer, or a stranger).
    let holder = std::fs::File::open(&log).unwrap();
    holder.lock().unwrap();
    let mut bytes = std::fs::read(&segment).unwrap();
    bytes.extend_from_slice(b"not the start of any record");
    std::fs::write(&segment, &bytes).unwrap();
    let report = Verifier::new().verify_path(&log).unwrap();
    assert_eq!(codes(&report), vec![FindingCode::Malformed]);
    assert_eq!(report.in_flight_bytes, 0);
}

#[test]
fn checkpoints_asked_for_and_matched_nowhere_are_a_finding() {
    let key = SignerKey::generate("example.com/audit/test").unwrap();
    let (dir, log) = file_log(3, 1 << 20);
    let elsewhere = dir.path().join("elsewhere");
    std::fs::create_dir(&elsewhere).unwrap();
    let public = dir.path().join("key.pub");
    std::fs::write(&public, key.verifier().to_string()).unwrap();
    let private = dir.path().join("key.key");
    std::fs::write(&private, key.to_string()).unwrap();
    let (log_arg, public_arg) = (log.to_str().unwrap(), public.to_str().unwrap());
    let note = elsewhere.join("cp.note");
    let (elsewhere_arg, private_arg) = (elsewhere.to_str().unwrap(), private.to_str().unwrap());
    let verify_against_checkpoints = || {
        run_audit(&[
            "verify",
            log_arg,
            "--checkpoint",
            elsewhere_arg,
            "--key",
            public_arg,
        ])
    };
    let sign_checkpoint = || {
        run_audit(&[
            "checkpoint",
            log_arg,
            "--key",
            private_arg,
            "--out",
            note.to_str().unwrap(),
        ])
    };
    // An empty directory of checkpoints: nothing checked, a finding.
    let output = verify_against_checkpoints();
    assert_eq!(output.status.code(), Some(1), "{}", text(&output));
    assert!(text(&output).contains("no-checkpoint"));
    // A checkpoint written under any name is found in its directory.
    let output = sign_checkpoint();
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    let output = verify_against_checkpoints();
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    assert!(text(&output).contains("1 signed checkpoint(s) matched"));
    // It is never overwritten.
    let before = std::fs::read(&note).unwrap();
    let output = sign_checkpoint();
    assert_eq!(output.status.code(), Some(2));
    assert!(text(&output).contains("already exists"));
    assert_eq!(std::fs::read(&note).unwrap(), before);
    // A file that is not a note is a finding, not a silent skip.
    std::fs::write(elsewhere.join("junk.note"), "not a note\n").unwrap();
    let output = verify_against_checkpoints();
    assert_eq!(output.status.code(), Some(1));
    assert!(text(&output).contains("malformed"));
}
