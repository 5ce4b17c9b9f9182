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
use audit_layer::{
    AuditEvent, AuditLayer, AuditWriter, CodeLocation, Durability, MemorySink, Verifier, audited,
};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use tracing_subscriber::prelude::*;

/// The benchmark record of the report: six named fields, code location and
/// duration, about 500 bytes once sealed.
fn sample_event() -> AuditEvent {
    AuditEvent::builder("post.publish")
        .actor("user-000042")
        .resource("post:42")
        .context("request_id", "5f0c2a8e-3b1d-4c55-9a3e-2f6d1c9b7e41")
        .context("session", "s-8b2f1d94c0e64a7f")
        .context("source_ip", "203.0.113.42")
        .code(CodeLocation::new("blog::posts", "publish").with_file("src/posts.rs", 120))
        .duration(Duration::from_micros(830))
        .build()
}

fn encode_and_hash(c: &mut Criterion) {
    let event = sample_event();
    let mut buf = Vec::with_capacity(4096);
    let line = audit_layer::__private::encode_for_bench(&mut buf, &event, ChainHead::genesis());
    let _ = line;
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
    let event = sample_event();
    for _ in 0..RECORDS {
        handle.submit(event.clone()).expect("submit");
    }
    guard.shutdown(Duration::from_secs(60)).expect("shutdown");
    let bytes = log.bytes();
    let mut group = c.benchmark_group("verify");
    group.throughput(Throughput::Bytes(bytes.len() as u64));
    group.sample_size(20);
    group.bench_function("one_core_20k_records", |b| {
        b.iter(|| {
            let report = Verifier::new().threads(1).verify_bytes(&bytes);
            assert!(report.is_intact());
        });
    });
    group.bench_function("all_cores_20k_records", |b| {
        b.iter(|| {
            let report = Verifier::new().verify_bytes(&bytes);
            assert!(report.is_intact());
        });
    });
    group.finish();
}

#[audited(
    action = "post.publish",
    actor = user,
    resource = post,
    fields(source_ip = ip, request_id = request, session = session)
)]
#[inline(never)]
fn audited_call(
    user: &str,
    post: u64,
    ip: &str,
    request: &str,
    session: &str,
) -> Result<u64, String> {
    Ok(std::hint::black_box(post))
}

#[tracing::instrument(
    skip_all,
    fields(action = "post.publish", actor = user, resource = post, source_ip = ip, request_id = request, session = session)
)]
#[inline(never)]
fn instrumented_call(
    user: &str,
    post: u64,
    ip: &str,
    request: &str,
    session: &str,
) -> Result<u64, String> {
    Ok(std::hint::black_box(post))
}

const ARGS: (&str, &str, &str, &str) = (
    "user-000042",
    "203.0.113.42",
    "5f0c2a8e-3b1d-4c55-9a3e-2f6d1c9b7e41",
    "s-8b2f1d94c0e64a7f",
);

fn caller_cost(c: &mut Criterion) {
    let (user, ip, request, session) = ARGS;
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
