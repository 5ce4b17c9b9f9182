//! Prints the benchmark report as a markdown table.
//!
//! ```sh
//! cargo run --release --example bench_report            # everything
//! cargo run --release --example bench_report -- chain verify peer memory scaling
//! ```
//!
//! Every row is a ratio against a peer measured in the same run, because
//! this machine is shared and noisy: absolute numbers drift, ratios much less.

mod audit_trail_peer;
mod memory;
#[path = "../../tests/common/pg.rs"]
mod pg;
mod reading;
mod scaling;
mod store;
mod strict;
mod tree;
mod watch;
mod workload;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use audit_layer::chain::ChainHead;
use audit_layer::{
    AuditEvent, AuditLayer, AuditWriter, Durability, FileSink, MemorySink, Privacy, PseudonymKey,
    Verifier,
};
use tracing_subscriber::prelude::*;

use workload::{CALL_ARGS, audited_call, instrumented_call, sample_event, sample_event_with_state};

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

/// The median of three runs of `measure`.
fn median_of_three(mut measure: impl FnMut() -> f64) -> f64 {
    median((0..3).map(|_| measure()).collect())
}

/// Serialise + SHA-256 on one core: the most records/s a single writer thread can chain.
fn chain_ceiling(records: u64, make: fn(u64) -> AuditEvent) -> (f64, usize) {
    chain_ceiling_of(records, (0..1024).map(make).collect())
}

/// [`chain_ceiling`] over the given events, taken in turn.
fn chain_ceiling_of(records: u64, events: Vec<AuditEvent>) -> (f64, usize) {
    let mut buf = Vec::with_capacity(4 << 20);
    let mut head = ChainHead::genesis();
    let mut line_len = 0;
    let start = Instant::now();
    for n in 0..records {
        if buf.len() > (4 << 20) - 4096 {
            buf.clear();
        }
        let before = buf.len();
        let hash = audit_layer::__private::encode_for_bench(
            &mut buf,
            &events[n as usize % events.len()],
            head,
        );
        line_len = buf.len() - before;
        head = ChainHead {
            next_seq: head.next_seq + 1,
            prev: hash,
        };
    }
    (records as f64 / start.elapsed().as_secs_f64(), line_len)
}

/// Prints, per durability, the writer's records/s (median of three runs of
/// a million records) against `ceiling`.
fn writer_rows(
    dir: &Path,
    label: &str,
    make: fn(u64) -> AuditEvent,
    ceiling: f64,
    durabilities: &[(&str, Durability)],
) {
    for &(name, durability) in durabilities {
        let rate = median_of_three(|| writer_throughput(dir, durability, 1_000_000, make));
        println!(
            "| chained records/s, {name}, {label} | {:.2} M/s | ceiling {:.2} M/s | {:.2} |",
            rate / 1e6,
            ceiling / 1e6,
            rate / ceiling
        );
    }
}

/// Records/s through the real writer into a file log, from submit to durable.
fn writer_throughput(
    dir: &Path,
    durability: Durability,
    records: u64,
    make: fn(u64) -> AuditEvent,
) -> f64 {
    writer_throughput_of(dir, durability, records, &make(7))
}

/// [`writer_throughput`] of copies of `template`.
fn writer_throughput_of(
    dir: &Path,
    durability: Durability,
    records: u64,
    template: &AuditEvent,
) -> f64 {
    writer_throughput_private(dir, durability, records, template, None)
}

/// [`writer_throughput_of`], the writer applying `privacy` when given.
fn writer_throughput_private(
    dir: &Path,
    durability: Durability,
    records: u64,
    template: &AuditEvent,
    privacy: Option<Privacy>,
) -> f64 {
    let _ = std::fs::remove_dir_all(dir);
    let sink = FileSink::open(dir).expect("open sink");
    let batch: usize = std::env::var("BATCH")
        .ok()
        .and_then(|b| b.parse().ok())
        .unwrap_or(4096);
    let mut builder = AuditWriter::builder()
        .durability(durability)
        .max_batch_records(batch);
    if let Some(privacy) = privacy {
        builder = builder.privacy(privacy);
    }
    let (handle, guard) = builder.spawn(sink).expect("spawn");
    let start = Instant::now();
    for _ in 0..records {
        handle.submit(template.clone()).expect("submit");
    }
    handle.flush().expect("flush");
    let elapsed = start.elapsed();
    guard.shutdown(Duration::from_secs(60)).expect("shutdown");
    records as f64 / elapsed.as_secs_f64()
}

fn write_log(dir: &Path, records: u64) -> u64 {
    let template = sample_event(7);
    write_log_of(dir, records, |_| template.clone())
}

/// Writes `records` events made by `event(n)` into one segment in `dir`;
/// returns the log's size in bytes.
fn write_log_of(dir: &Path, records: u64, mut event: impl FnMut(u64) -> AuditEvent) -> u64 {
    let _ = std::fs::remove_dir_all(dir);
    let sink = FileSink::builder(dir)
        .max_segment_bytes(u64::MAX)
        .open()
        .expect("open sink");
    let (handle, guard) = AuditWriter::builder()
        .durability(Durability::Buffered)
        .spawn(sink)
        .expect("spawn");
    for n in 0..records {
        handle.submit(event(n)).expect("submit");
    }
    guard.shutdown(Duration::from_secs(120)).expect("shutdown");
    std::fs::read_dir(dir)
        .expect("read dir")
        .map(|e| e.expect("entry").metadata().expect("metadata").len())
        .sum()
}

fn time_openssl(file: &Path) -> Option<Duration> {
    let start = Instant::now();
    let status = Command::new("openssl")
        .arg("dgst")
        .arg("-sha256")
        .arg(file)
        .output()
        .ok()?;
    status.status.success().then(|| start.elapsed())
}

struct VerifySpeeds {
    all_cores: f64,
    one_core: f64,
    openssl: f64,
    bytes: u64,
}

fn verify_vs_openssl(dir: &Path, records: u64) -> VerifySpeeds {
    let bytes = write_log(dir, records);
    let segment = std::fs::read_dir(dir)
        .expect("read dir")
        .map(|e| e.expect("entry").path())
        .find(|p| p.extension().is_some_and(|e| e == "jsonl"))
        .expect("a segment");
    // Warm the page cache for both contestants.
    let _ = std::fs::read(&segment);
    let (mut all, mut one, mut theirs) = (Vec::new(), Vec::new(), Vec::new());
    let time_ours = |verifier: Verifier<'_>| {
        let start = Instant::now();
        let report = verifier.verify_path(dir).expect("verify");
        assert!(report.is_intact());
        start.elapsed().as_secs_f64()
    };
    for _ in 0..5 {
        all.push(time_ours(Verifier::new()));
        one.push(time_ours(Verifier::new().threads(1)));
        if let Some(t) = time_openssl(&segment) {
            theirs.push(t.as_secs_f64());
        }
    }
    let mb = bytes as f64 / 1e6;
    VerifySpeeds {
        all_cores: mb / median(all),
        one_core: mb / median(one),
        openssl: if theirs.is_empty() {
            f64::NAN
        } else {
            mb / median(theirs)
        },
        bytes,
    }
}

/// CPU time of the calling thread, in nanoseconds: what a call costs the
/// caller, not counting time the writer's threads took the core from it.
fn thread_cpu_ns() -> u128 {
    let mut now = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `now` is a valid timespec for clock_gettime to fill.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut now) };
    now.tv_sec as u128 * 1_000_000_000 + now.tv_nsec as u128
}

/// Caller-thread nanoseconds per call of `call`, median of several bursts;
/// `between` runs untimed after each burst (to drain a queue).
fn ns_per_call(calls: u64, mut call: impl FnMut(u64), mut between: impl FnMut()) -> f64 {
    let mut samples = Vec::new();
    for _ in 0..7 {
        let start = thread_cpu_ns();
        for n in 0..calls {
            call(n);
        }
        samples.push((thread_cpu_ns() - start) as f64 / calls as f64);
        between();
    }
    median(samples)
}

/// Nanoseconds per audited call under `AuditLayer`, the queue large enough
/// that a burst never waits on the writer.
fn audited_under_layer(burst: u64) -> f64 {
    let (user, ip, request, session) = CALL_ARGS;
    ns_under_layer(burst, |n| {
        let _ = std::hint::black_box(audited_call(user, n, ip, request, session));
    })
}

/// Caller-thread nanoseconds per `call` under `AuditLayer`, writing to
/// memory; `call` must make exactly one audited call.
fn ns_under_layer(burst: u64, mut call: impl FnMut(u64)) -> f64 {
    let (sink, log) = MemorySink::new();
    let (handle, guard) = AuditWriter::builder()
        .queue_capacity(burst as usize + 1)
        .durability(Durability::Buffered)
        .spawn(sink)
        .expect("spawn");
    let ns = tracing::subscriber::with_default(
        tracing_subscriber::registry().with(AuditLayer::new(handle.clone())),
        || {
            ns_per_call(burst, &mut call, || {
                handle.flush().expect("flush");
                // Only the caller's cost is measured: drop what was written.
                log.set_bytes(Vec::new());
            })
        },
    );
    assert_eq!(handle.stats().unaudited_calls, 0);
    guard.shutdown(Duration::from_secs(60)).expect("shutdown");
    ns
}

fn caller_cost_rows(scratch: &Path) {
    const BURST: u64 = 100_000;
    let (user, ip, request, session) = CALL_ARGS;
    let audited = |n: u64| {
        let _ = std::hint::black_box(audited_call(user, n, ip, request, session));
    };
    let instrumented = |n: u64| {
        let _ = std::hint::black_box(instrumented_call(user, n, ip, request, session));
    };

    let bare_audited = ns_per_call(BURST, audited, || {});
    let bare_instrumented = ns_per_call(BURST, instrumented, || {});
    let with_layer = audited_under_layer(BURST);

    // The peer: #[instrument] with a JSON fmt layer logging each span's
    // close, written through tracing-appender's non_blocking in lossless mode.
    std::fs::create_dir_all(scratch).expect("scratch dir");
    let file = std::fs::File::create(scratch.join("fmt-json.log")).expect("log file");
    let (writer, appender) = tracing_appender::non_blocking::NonBlockingBuilder::default()
        .lossy(false)
        .buffered_lines_limit(BURST as usize)
        .finish(file);
    let json = tracing::subscriber::with_default(
        tracing_subscriber::registry().with(
            tracing_subscriber::fmt::layer()
                .json()
                .with_span_events(tracing_subscriber::fmt::format::FmtSpan::CLOSE)
                .with_writer(writer),
        ),
        || ns_per_call(BURST, instrumented, || {}),
    );
    drop(appender);

    // The floor: the same span under a registry with no layer at all.
    let floor = tracing::subscriber::with_default(tracing_subscriber::registry(), || {
        ns_per_call(BURST, instrumented, || {})
    });

    println!(
        "| caller CPU per audited call, 6 fields, AuditLayer | {with_layer:.0} ns | `#[instrument]` + fmt JSON + non_blocking (lossless): {json:.0} ns | {:.2} |",
        with_layer / json
    );
    println!(
        "| caller CPU per audited call, 6 fields, AuditLayer | {with_layer:.0} ns | the same span under a bare registry (tracing's floor): {floor:.0} ns | {:.2} |",
        with_layer / floor
    );
    println!(
        "| caller CPU per audited call, no subscriber | {bare_audited:.1} ns | `#[instrument]`, no subscriber: {bare_instrumented:.1} ns | {:.2} |",
        bare_audited / bare_instrumented
    );
}

/// What a privacy policy costs the writer: the same records with and
/// without one (redacting a key of before/after and pseudonymising the
/// actor and a context value), OS-buffered, medians of three.
fn privacy_rows(dir: &Path) {
    let template = sample_event_with_state(7);
    let policy = || {
        Privacy::new()
            .redact(["title"])
            .pseudonymise(["source_ip"])
            .pseudonymise_actor()
            .pseudonym_key(PseudonymKey::from_bytes([7; 32]))
    };
    let plain = median_of_three(|| {
        writer_throughput_private(dir, Durability::Buffered, 500_000, &template, None)
    });
    let private = median_of_three(|| {
        writer_throughput_private(
            dir,
            Durability::Buffered,
            500_000,
            &template,
            Some(policy()),
        )
    });
    println!(
        "| chained records/s with a privacy policy, OS-buffered, 6 fields + before/after | {:.2} M/s | without one: {:.2} M/s | {:.2} |",
        private / 1e6,
        plain / 1e6,
        private / plain
    );
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let [mode, dir] = args.as_slice()
        && mode == "memory-child"
    {
        memory::child(Path::new(dir));
        return;
    }
    if let [mode, dir, records] = args.as_slice()
        && mode == "write-log"
    {
        // The benchmark's log, for experiments by hand.
        let records = records.parse().expect("a record count");
        let bytes = write_log_of(Path::new(dir), records, sample_event);
        println!("{records} records, {bytes} bytes in {dir}");
        return;
    }
    if let [mode, dir, records] = args.as_slice()
        && mode == "write-clinic-log"
    {
        // The watch benchmark's log (patient reads, logins, exports...).
        let records = records.parse().expect("a record count");
        let bytes = write_log_of(Path::new(dir), records, watch::clinic_event);
        println!("{records} records, {bytes} bytes in {dir}");
        return;
    }
    let wants = |name: &str| args.is_empty() || args.iter().any(|a| a == name);
    let scratch = std::env::temp_dir().join(format!("audit-bench-{}", std::process::id()));

    println!("| measurement | value | peer (same run) | ratio |");
    println!("|---|---|---|---|");
    if args.iter().any(|a| a == "reading") {
        reading::rows(&scratch.join("reading"), 1_000_000);
    }
    if wants("tree") {
        tree::rows(&scratch.join("tree"), 1_000_000);
    }
    if args.iter().any(|a| a == "proofs") {
        tree::proof_rows(&scratch.join("proofs"), 10_000_000);
    }
    if args.iter().any(|a| a == "watch-evaluate") {
        // Only the evaluation rate: for profiling the engine.
        watch::evaluation_only(&scratch.join("watch"));
    }
    if args.iter().any(|a| a == "watch") {
        watch::rows(&scratch.join("watch"));
    }
    if args.iter().any(|a| a == "store") {
        store::rows(&scratch.join("store"), 1_000_000);
    }
    if args.iter().any(|a| a == "store-queries") {
        store::query_rows(&scratch.join("store-queries"), 10_000_000);
    }
    if args.iter().any(|a| a == "bare") {
        // Only the audited call with no subscriber: for profiling.
        let (user, ip, request, session) = CALL_ARGS;
        let ns = ns_per_call(
            5_000_000,
            |n| {
                let _ = std::hint::black_box(audited_call(user, n, ip, request, session));
            },
            || {},
        );
        println!("| bare audited call | {ns:.1} ns | | |");
    }
    if args.iter().any(|a| a == "layer") {
        // Only audited calls under AuditLayer: for profiling the caller's side.
        println!(
            "| audited call under AuditLayer | {:.0} ns | | |",
            audited_under_layer(200_000)
        );
    }
    if wants("caller") {
        caller_cost_rows(&scratch.join("caller"));
    }
    if wants("strict") {
        strict::rows(&scratch);
    }
    if wants("privacy") {
        privacy_rows(&scratch.join("privacy"));
    }
    if args.iter().any(|a| a == "strict64") {
        // Only strict mode at 64 callers, group commit: for profiling it.
        let (p50, p99) = strict::thread_latency(&scratch.join("strict"), 64, 4096);
        println!("| strict, 64 threads | p50 {p50:.0} µs, p99 {p99:.0} µs | | |");
        let (p50, p99) = strict::task_latency(&scratch.join("strict-tasks"), 64);
        println!("| strict, 64 tasks | p50 {p50:.0} µs, p99 {p99:.0} µs | | |");
    }
    if args.iter().any(|a| a == "ceiling") {
        // Only the single-core ceiling: for profiling the encode path.
        let (ceiling, line) = chain_ceiling(3_000_000, sample_event);
        println!(
            "| ceiling ({line} B lines) | {:.2} M/s | | |",
            ceiling / 1e6
        );
    }
    if args.iter().any(|a| a == "throughput") {
        // Ceiling and writer, medians of three, for tuning the writer.
        let ceiling = median_of_three(|| chain_ceiling(1_000_000, sample_event).0);
        writer_rows(
            &scratch.join("t"),
            "6 fields",
            sample_event,
            ceiling,
            &[
                ("group commit", Durability::GroupCommit),
                ("OS-buffered", Durability::Buffered),
            ],
        );
    }
    if args.iter().any(|a| a == "buffered") {
        // Only the writer, OS-buffered: for profiling the pipeline.
        let rate = writer_throughput(
            &scratch.join("chain"),
            Durability::Buffered,
            3_000_000,
            sample_event,
        );
        println!("| buffered writer | {:.2} M/s | | |", rate / 1e6);
    }
    if wants("chain") {
        for (label, make) in [
            ("6 fields", sample_event as fn(u64) -> AuditEvent),
            ("6 fields + before/after", sample_event_with_state),
        ] {
            let (ceiling, line) = chain_ceiling(1_000_000, make);
            println!(
                "| serialise + SHA-256 ceiling, one core, {label} ({line} B lines) | {:.2} M records/s | | |",
                ceiling / 1e6
            );
            writer_rows(
                &scratch.join("chain"),
                label,
                make,
                ceiling,
                &[
                    ("group commit", Durability::GroupCommit),
                    (
                        "interval 10 ms",
                        Durability::Interval(Duration::from_millis(10)),
                    ),
                    ("OS-buffered", Durability::Buffered),
                ],
            );
        }
    }
    if wants("verify") {
        let speeds = verify_vs_openssl(&scratch.join("verify"), 1_000_000);
        let mb = speeds.bytes as f64 / 1e6;
        println!(
            "| `audit verify` {mb:.0} MB from page cache, all cores | {:.0} MB/s | `openssl dgst -sha256`: {:.0} MB/s | {:.2} |",
            speeds.all_cores,
            speeds.openssl,
            speeds.all_cores / speeds.openssl
        );
        println!(
            "| `audit verify` {mb:.0} MB from page cache, one core | {:.0} MB/s | `openssl dgst -sha256`: {:.0} MB/s | {:.2} |",
            speeds.one_core,
            speeds.openssl,
            speeds.one_core / speeds.openssl
        );
    }
    if wants("peer") {
        audit_trail_peer::rows(&scratch.join("peer"));
    }
    if wants("memory") {
        memory::rows(&scratch);
    }
    if args.iter().any(|a| a == "depth") {
        // Only the context-depth table: for profiling ancestor inheritance.
        scaling::context_depth_rows();
    }
    if wants("scaling") {
        scaling::record_size_rows(&scratch);
        scaling::context_depth_rows();
    }
    let _ = std::fs::remove_dir_all(&scratch);
}
