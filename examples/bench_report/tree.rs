//! The Merkle tree's cost and yield: the writer's records/s with the tree
//! (tiles beside the segments) against without it in the same run, and on
//! a large log the size and time of inclusion and consistency proofs.

use std::path::Path;
use std::time::{Duration, Instant};

use audit_layer::merkle::{verify_consistency, verify_inclusion};
use audit_layer::{AuditWriter, Durability, FileSink, LogTree};

use crate::median;
use crate::workload::sample_event;

fn writer_rate(dir: &Path, tree: bool, durability: Durability, records: u64) -> f64 {
    let sink = FileSink::builder(dir).tree(tree).open().expect("open sink");
    let (handle, guard) = AuditWriter::builder()
        .durability(durability)
        .spawn(sink)
        .expect("spawn");
    let start = Instant::now();
    for n in 0..records {
        handle.submit(sample_event(n)).expect("submit");
    }
    guard.shutdown(Duration::from_secs(300)).expect("shutdown");
    records as f64 / start.elapsed().as_secs_f64()
}

pub(crate) fn rows(scratch: &Path, records: u64) {
    for (label, durability) in [
        ("group commit", Durability::GroupCommit),
        ("OS-buffered", Durability::Buffered),
    ] {
        // Alternated, so that the host's drift falls on both alike.
        // Each run in a directory of its own, deleted only at the end: ext4
        // slows down creating files where many were just deleted, which is
        // the benchmark's doing, not a writer's.
        let (mut with, mut without) = (Vec::new(), Vec::new());
        for run in 0..3 {
            let with_dir = scratch.join(format!("with-{label}-{run}"));
            let without_dir = scratch.join(format!("without-{label}-{run}"));
            with.push(writer_rate(&with_dir, true, durability, records));
            without.push(writer_rate(&without_dir, false, durability, records));
        }
        let (with, without) = (median(with), median(without));
        println!(
            "| chained records/s with the Merkle tree (tiles), {label}, {records} records, median of 3 | {:.2} M/s | without the tree: {:.2} M/s | {:.2} |",
            with / 1e6,
            without / 1e6,
            with / without
        );
    }
    let _ = std::fs::remove_dir_all(scratch);
}

pub(crate) fn proof_rows(scratch: &Path, records: u64) {
    let dir = scratch.join("big");
    crate::write_log_of(&dir, records, sample_event);
    let start = Instant::now();
    let tree = LogTree::open(&dir).expect("open the tree");
    let opened = start.elapsed();
    let size = tree.size();
    let root = tree.root();
    let samples = 1000u64;
    let (mut make, mut check, mut bytes) = (Duration::ZERO, Duration::ZERO, 0usize);
    for n in 0..samples {
        let index = n.wrapping_mul(0x9E37_79B9_7F4A_7C15) % size;
        let start = Instant::now();
        let proof = tree.inclusion_proof(index, size).expect("proof");
        let leaf = tree.leaf(index).expect("leaf");
        make += start.elapsed();
        let start = Instant::now();
        verify_inclusion(&leaf, index, size, &proof, &root).expect("verifies");
        check += start.elapsed();
        bytes += proof.len() * 32;
    }
    println!(
        "| inclusion proof in a log of {size} records (mean of {samples}) | {} bytes ({:.1} hashes; log2 n = {:.1}), made in {:.0} µs, checked in {:.1} µs | opening the tree: {:.0} ms | |",
        bytes as u64 / samples,
        bytes as f64 / 32.0 / samples as f64,
        (size as f64).log2(),
        make.as_secs_f64() * 1e6 / samples as f64,
        check.as_secs_f64() * 1e6 / samples as f64,
        opened.as_secs_f64() * 1e3
    );
    let old = size / 3;
    let start = Instant::now();
    let proof = tree.consistency_proof(old, size).expect("proof");
    let made = start.elapsed();
    let old_root = tree.root_at(old).expect("root");
    let start = Instant::now();
    verify_consistency(old, size, &old_root, &root, &proof).expect("verifies");
    println!(
        "| consistency proof {old} → {size} | {} bytes, made in {:.0} µs, checked in {:.1} µs | | |",
        proof.len() * 32,
        made.as_secs_f64() * 1e6,
        start.elapsed().as_secs_f64() * 1e6
    );
}
