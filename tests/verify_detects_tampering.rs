//! The verifier catches every modified byte, and every deleted, duplicated
//! or reordered record, each with the right code, and reports all of them.

mod common;

use std::collections::BTreeSet;
use std::sync::OnceLock;

use audit_layer::{FindingCode, Report, Verifier};
use proptest::prelude::*;

use common::{line_ranges, reorder, varied_events, write_log};

const RECORDS: usize = 12;

fn log() -> &'static [u8] {
    static LOG: OnceLock<Vec<u8>> = OnceLock::new();
    LOG.get_or_init(|| write_log(varied_events(RECORDS)))
}

fn codes(report: &Report) -> BTreeSet<FindingCode> {
    report.findings.iter().map(|f| f.code).collect()
}

fn verify(bytes: &[u8]) -> Report {
    Verifier::new().verify_bytes(bytes)
}

#[test]
fn the_untouched_log_is_intact() {
    let report = verify(log());
    assert!(report.is_intact(), "{:#?}", report.findings);
    assert_eq!(report.records, RECORDS as u64);
    assert_eq!(
        (report.first_seq, report.last_seq),
        (Some(0), Some(RECORDS as u64 - 1))
    );
}

/// Every byte of the log, flipped three different ways.
#[test]
fn every_single_byte_change_is_caught_as_tampering() {
    let original = log();
    for offset in 0..original.len() {
        for mask in [0x01u8, 0x20, 0x80] {
            let mut bytes = original.to_vec();
            bytes[offset] ^= mask;
            let report = verify(&bytes);
            assert!(
                report.shows_tampering(),
                "flipping byte {offset} with {mask:#x} went unnoticed: {:?}",
                report.findings
            );
            let found = codes(&report);
            assert!(
                found.contains(&FindingCode::Modified) || found.contains(&FindingCode::Malformed),
                "byte {offset}: {found:?}"
            );
        }
    }
}

#[test]
fn a_change_inside_a_record_is_reported_as_modified_with_its_seq_and_offset() {
    let original = log();
    let lines = line_ranges(original);
    let target = &lines[5];
    let mut bytes = original.to_vec();
    let at = target.start + 200.min(target.len() - 80);
    bytes[at] = if bytes[at] == b'x' { b'y' } else { b'x' };
    let report = verify(&bytes);
    assert_eq!(report.findings.len(), 1, "{:#?}", report.findings);
    let finding = &report.findings[0];
    assert_eq!(finding.code, FindingCode::Modified);
    assert_eq!(finding.seq, Some(5));
    assert_eq!(finding.offset, target.start as u64);
}

#[test]
fn every_problem_is_reported_not_only_the_first() {
    let original = log();
    let lines = line_ranges(original);
    // Modify record 2, delete record 6, duplicate record 9.
    let mut order: Vec<usize> = (0..RECORDS).filter(|&i| i != 6).collect();
    order.insert(order.iter().position(|&i| i == 9).unwrap() + 1, 9);
    let mut bytes = reorder(original, &order);
    bytes[lines[2].start + 150] ^= 0x01;
    let report = verify(&bytes);
    let summary: Vec<(FindingCode, Option<u64>)> =
        report.findings.iter().map(|f| (f.code, f.seq)).collect();
    assert_eq!(
        summary,
        vec![
            (FindingCode::Modified, Some(2)),
            (FindingCode::Missing, Some(6)),
            (FindingCode::Duplicate, Some(9)),
        ]
    );
}

#[test]
fn a_forged_record_with_a_correct_hash_breaks_the_link() {
    let original = log();
    let lines = line_ranges(original);
    // Re-seal record 4 after editing it, as someone able to compute SHA-256
    // would; the record itself then checks out, but record 5 no longer links.
    let line = &original[lines[4].clone()];
    let text = std::str::from_utf8(&line[..line.len() - 1]).unwrap();
    let body = &text[..text.len() - 75];
    let forged_body = body.replace("user-", "evil-");
    let hash = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(
        forged_body.as_bytes(),
    ));
    let forged = format!("{forged_body},\"hash\":\"{hash}\"}}\n");
    let mut bytes = original[..lines[4].start].to_vec();
    bytes.extend_from_slice(forged.as_bytes());
    bytes.extend_from_slice(&original[lines[5].start..]);
    let report = verify(&bytes);
    let found: Vec<_> = report.findings.iter().map(|f| (f.code, f.seq)).collect();
    assert_eq!(found, vec![(FindingCode::BrokenLink, Some(5))]);
}

#[test]
fn every_offset_inside_the_last_record_is_a_torn_tail_never_tampering() {
    let original = log();
    let last = line_ranges(original).pop().unwrap();
    for cut in last.start + 1..last.end {
        let report = verify(&original[..cut]);
        assert_eq!(
            codes(&report),
            BTreeSet::from([FindingCode::TornTail]),
            "cut at {cut}: {:?}",
            report.findings
        );
        assert!(!report.shows_tampering());
        assert_eq!(report.findings[0].offset, last.start as u64);
    }
}

#[test]
fn a_bare_chain_cannot_see_a_tail_cut_at_a_record_boundary() {
    // This is the limit FORMAT.md states: only a checkpoint kept elsewhere
    // reveals that whole records were cut from the end.
    let original = log();
    let last = line_ranges(original).pop().unwrap();
    assert!(verify(&original[..last.start]).is_intact());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn deleting_any_record_before_the_last_is_missing(index in 0..RECORDS - 1) {
        let order: Vec<usize> = (0..RECORDS).filter(|&i| i != index).collect();
        let report = verify(&reorder(log(), &order));
        let found: Vec<_> = report.findings.iter().map(|f| (f.code, f.seq)).collect();
        prop_assert_eq!(found, vec![(FindingCode::Missing, Some(index as u64))]);
    }

    #[test]
    fn deleting_any_run_of_records_is_missing(start in 0..RECORDS - 1, len in 1..RECORDS) {
        let end = (start + len).min(RECORDS - 1);
        prop_assume!(end > start);
        let order: Vec<usize> = (0..RECORDS).filter(|&i| i < start || i >= end).collect();
        let report = verify(&reorder(log(), &order));
        prop_assert_eq!(codes(&report), BTreeSet::from([FindingCode::Missing]));
        prop_assert_eq!(report.findings[0].seq, Some(start as u64));
    }

    #[test]
    fn duplicating_any_record_is_a_duplicate(index in 0..RECORDS, at in 0..=RECORDS) {
        let mut order: Vec<usize> = (0..RECORDS).collect();
        order.insert(at.max(index + 1), index);
        let report = verify(&reorder(log(), &order));
        prop_assert_eq!(codes(&report), BTreeSet::from([FindingCode::Duplicate]));
        prop_assert_eq!(report.findings[0].seq, Some(index as u64));
    }

    #[test]
    fn a_copy_placed_before_its_original_is_caught(index in 1..RECORDS, at in 0..RECORDS) {
        prop_assume!(at < index);
        let mut order: Vec<usize> = (0..RECORDS).collect();
        order.insert(at, index);
        let report = verify(&reorder(log(), &order));
        prop_assert!(report.shows_tampering());
        prop_assert!(codes(&report).contains(&FindingCode::Duplicate));
    }

    #[test]
    fn swapping_any_two_records_is_out_of_order(a in 0..RECORDS, b in 0..RECORDS) {
        prop_assume!(a != b);
        let mut order: Vec<usize> = (0..RECORDS).collect();
        order.swap(a, b);
        let report = verify(&reorder(log(), &order));
        prop_assert_eq!(codes(&report), BTreeSet::from([FindingCode::OutOfOrder]));
    }

    #[test]
    fn truncating_anywhere_is_never_tampering(cut in 0..4096usize) {
        let original = log();
        let cut = cut % (original.len() + 1);
        let report = verify(&original[..cut]);
        prop_assert!(!report.shows_tampering(), "{:?}", report.findings);
    }

    #[test]
    fn inserting_a_foreign_line_is_malformed(index in 0..=RECORDS, junk in "[^\n]{0,80}") {
        let original = log();
        let lines = line_ranges(original);
        let at = lines.get(index).map_or(original.len(), |r| r.start);
        let mut bytes = original[..at].to_vec();
        bytes.extend_from_slice(junk.as_bytes());
        bytes.push(b'\n');
        bytes.extend_from_slice(&original[at..]);
        let report = verify(&bytes);
        prop_assert_eq!(codes(&report), BTreeSet::from([FindingCode::Malformed]));
        prop_assert_eq!(report.findings[0].offset, at as u64);
    }
}
