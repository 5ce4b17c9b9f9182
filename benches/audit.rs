//! Criterion benchmarks of the three hot paths: sealing a record, verifying
//! a log, and an audited call on the caller's thread (with its peers).
//!
//! ```sh
//! cargo bench --bench audit
//! ```
//!
//! `cargo run --release --example bench_report` prints the full report
//! with peers and ratios; these give criterion's statistics and history.

use std::time::{Duration, Instant};

use audit_layer::chain::ChainHead;
use audit_layer::{AuditLayer, AuditWriter, Durability, MemorySink, Verifier};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use tracing_subscriber::prelude::*;

// The record and handlers of the report, so that both measure the same thing.
#[path = "../examples/bench_report/workload.rs"]
#[allow(dead_code)] // sample_event_with_state is the report's alone
mod workload;

use workload::{CALL_ARGS, audited_call, instrumented_call, sample_event};

fn encode_and_hash(c: &mut Criterion) {
    let event = sample_event(42);
    let mut buf = Vec::with_capacity(4096);
    // Sealed once to learn the line's length, the group's throughput unit.
    let _ = audit_layer::__private::encode_for_bench(&mut buf, &event, ChainHead::genesis());
    let mut group = c.benchmark_group("seal");
    group.throughput(Throughput::Bytes(buf.len() as u64));
    group.bench_function("serialise_and_sha256_one_record", |b| {
        let mut head = ChainHead::genesis();
        b.iter(|| {
            buf.clear();
            let hash = audit_layer::__private::encode_for_bench(&mut buf, &event, head);
            head = ChainHead {
                next_seq: head.next_seq + 1,
                prev: hash,
            };
        });
    });
    group.finish();
}

fn verify(c: &mut Criterion) {
    const RECORDS: usize = 20_000;
    let (sink, log) = MemorySink::new();
    let (handle, guard) = AuditWriter::builder()
        .durability(Durability::Buffered)
        .spawn(sink)
        .expect("spawn");
    let event = sample_event(42);
    for _ in 0..RECORDS {
        handle.submit(event.clone()).expect("submit");
    }
    guard.shutdown(Duration::from_secs(60)).expect("shutdown");
    let bytes = log.bytes();
    let mut group = c.benchmark_group("verify");
    group.throughput(Throughput::Bytes(bytes.len() as u64));
    group.sample_size(20);
    for (name, threads) in [
        ("one_core_20k_records", Some(1)),
        ("all_cores_20k_records", None),
    ] {
        group.bench_function(name, |b| {
            b.iter(|| {
                let verifier = match threads {
                    Some(threads) => Verifier::new().threads(threads),
                    None => Verifier::new(),
                };
                assert!(verifier.verify_bytes(&bytes).is_intact());
            });
        });
    }
    group.finish();
}

fn caller_cost(c: &mut Criterion) {
    let (user, ip, request, session) = CALL_ARGS;
    let mut group = c.benchmark_group("call");

    group.bench_function("audited_no_subscriber", |b| {
        b.iter(|| audited_call(user, 42, ip, request, session))
    });
    group.bench_function("instrument_no_subscriber", |b| {
        b.iter(|| instrumented_call(user, 42, ip, request, session))
    });

    let (sink, log) = MemorySink::new();
    let (handle, guard) = AuditWriter::builder()
        .durability(Durability::Buffered)
        .queue_capacity(1 << 20)
        .spawn(sink)
        .expect("spawn");
    tracing::subscriber::with_default(
        tracing_subscriber::registry().with(AuditLayer::new(handle.clone())),
        || {
            group.bench_function("audited_under_audit_layer", |b| {
                b.iter_custom(|iters| {
                    let start = Instant::now();
                    for n in 0..iters {
                        let _ = std::hint::black_box(audited_call(user, n, ip, request, session));
                    }
                    let elapsed = start.elapsed();
                    // Untimed: drain the queue and drop what was written,
                    // so that memory stays flat however long criterion runs.
                    handle.flush().expect("flush");
                    log.set_bytes(Vec::new());
                    elapsed
                })
            });
        },
    );
    guard.shutdown(Duration::from_secs(60)).expect("shutdown");

    let (writer, appender) = tracing_appender::non_blocking::NonBlockingBuilder::default()
        .lossy(false)
        .finish(std::io::sink());
    tracing::subscriber::with_default(
        tracing_subscriber::registry().with(
            tracing_subscriber::fmt::layer()
                .json()
                .with_span_events(tracing_subscriber::fmt::format::FmtSpan::CLOSE)
                .with_writer(writer),
        ),
        || {
            group.bench_function("instrument_under_fmt_json_non_blocking", |b| {
                b.iter(|| instrumented_call(user, 42, ip, request, session))
            });
        },
    );
    drop(appender);
    group.finish();
}

criterion_group!(benches, encode_and_hash, verify, caller_cost);
criterion_main!(benches);
