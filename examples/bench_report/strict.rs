//! Strict mode: how long an audited call waits for its record to be synced,
//! with 1, 8 and 64 callers at once, as OS threads and as tokio tasks,
//! against one `fdatasync` and against syncing each record alone.

use std::path::Path;
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use audit_layer::{AuditLayer, AuditWriter, FileSink, WriterGuard, audited};
use tracing::instrument::WithSubscriber;
use tracing_subscriber::prelude::*;

/// The calls of one run, shared among the callers.
const CALLS: usize = 12_800;

/// The handler of the thread rows.
#[audited(action = "payment.capture", actor = "bench", resource = n)]
fn strict_call(n: u64) -> Result<u64, String> {
    Ok(n)
}

/// The handler of the task rows.
#[audited(action = "payment.capture", actor = "bench", resource = n)]
async fn strict_call_async(n: u64) -> Result<u64, String> {
    Ok(n)
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn p50_p99(mut samples: Vec<f64>) -> (f64, f64) {
    samples.sort_by(f64::total_cmp);
    (percentile(&samples, 0.5), percentile(&samples, 0.99))
}

/// p50 and p99, in microseconds, of `fdatasync` after a 512-byte append.
fn fsync_alone(dir: &Path) -> (f64, f64) {
    use std::io::Write as _;
    std::fs::create_dir_all(dir).expect("scratch dir");
    let path = dir.join("fsync-probe");
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .expect("open");
    let samples: Vec<f64> = (0..2000)
        .map(|_| {
            file.write_all(&[b'x'; 512]).expect("write");
            let start = Instant::now();
            file.sync_data().expect("fdatasync");
            start.elapsed().as_secs_f64() * 1e6
        })
        .collect();
    let _ = std::fs::remove_file(path);
    p50_p99(samples)
}

/// A strict-mode dispatcher over a fresh file log in `dir`, syncing at
/// most `batch` records at a time.
fn strict_writer(dir: &Path, batch: usize) -> (tracing::Dispatch, WriterGuard) {
    let _ = std::fs::remove_dir_all(dir);
    let sink = FileSink::open(dir).expect("open sink");
    let (handle, guard) = AuditWriter::builder()
        .max_batch_records(batch)
        .spawn(sink)
        .expect("spawn");
    let dispatch = tracing::Dispatch::new(
        tracing_subscriber::registry().with(AuditLayer::new(handle).strict(true)),
    );
    (dispatch, guard)
}

/// p50 and p99 of strict audited calls, in microseconds, with `callers`
/// OS threads calling at once.
pub(crate) fn thread_latency(dir: &Path, callers: usize, batch: usize) -> (f64, f64) {
    let (dispatch, guard) = strict_writer(dir, batch);
    let calls_each = (CALLS / callers).max(200);
    let start = Arc::new(Barrier::new(callers));
    let samples: Vec<f64> = std::thread::scope(|scope| {
        let threads: Vec<_> = (0..callers)
            .map(|_| {
                let (dispatch, start) = (dispatch.clone(), Arc::clone(&start));
                scope.spawn(move || {
                    tracing::dispatcher::with_default(&dispatch, || {
                        start.wait();
                        (0..calls_each as u64)
                            .map(|n| {
                                let began = Instant::now();
                                strict_call(n).expect("recorded");
                                began.elapsed().as_secs_f64() * 1e6
                            })
                            .collect::<Vec<f64>>()
                    })
                })
            })
            .collect();
        threads
            .into_iter()
            .flat_map(|t| t.join().expect("caller"))
            .collect()
    });
    guard.shutdown(Duration::from_secs(60)).expect("shutdown");
    p50_p99(samples)
}

/// p50 and p99 of strict audited async calls, in microseconds, with
/// `callers` tasks calling at once on a two-worker tokio runtime, as an
/// HTTP service runs its handlers.
pub(crate) fn task_latency(dir: &Path, callers: usize) -> (f64, f64) {
    let (dispatch, guard) = strict_writer(dir, 4096);
    let calls_each = (CALLS / callers).max(200);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .expect("runtime");
    let samples = runtime.block_on(async {
        let start = Arc::new(tokio::sync::Barrier::new(callers));
        let tasks: Vec<_> = (0..callers)
            .map(|_| {
                let start = Arc::clone(&start);
                tokio::spawn(
                    async move {
                        start.wait().await;
                        let mut samples = Vec::with_capacity(calls_each);
                        for n in 0..calls_each as u64 {
                            let began = Instant::now();
                            strict_call_async(n).await.expect("recorded");
                            samples.push(began.elapsed().as_secs_f64() * 1e6);
                        }
                        samples
                    }
                    .with_subscriber(dispatch.clone()),
                )
            })
            .collect();
        let mut samples = Vec::with_capacity(CALLS);
        for task in tasks {
            samples.extend(task.await.expect("caller"));
        }
        samples
    });
    drop(runtime);
    guard.shutdown(Duration::from_secs(60)).expect("shutdown");
    p50_p99(samples)
}

/// The strict-mode rows of the report.
pub(crate) fn rows(scratch: &Path) {
    let (fsync_p50, fsync_p99) = fsync_alone(scratch);
    let bound = fsync_p99 + 1000.0;
    println!(
        "| one fdatasync of a 512-byte append | p50 {fsync_p50:.0} µs, p99 {fsync_p99:.0} µs | | |"
    );
    for callers in [1, 8, 64] {
        let (p50, p99) = thread_latency(&scratch.join("strict"), callers, 4096);
        let (alone_p50, alone_p99) = thread_latency(&scratch.join("strict-alone"), callers, 1);
        println!(
            "| strict call latency, {callers} threads, group commit | p50 {p50:.0} µs, p99 {p99:.0} µs | each record synced alone: p50 {alone_p50:.0} µs, p99 {alone_p99:.0} µs | p99 / (one fsync p99 + 1 ms) = {:.2} |",
            p99 / bound
        );
    }
    for callers in [8, 64] {
        let (p50, p99) = task_latency(&scratch.join("strict-tasks"), callers);
        println!(
            "| strict call latency, {callers} tokio tasks on 2 workers, group commit | p50 {p50:.0} µs, p99 {p99:.0} µs | one fdatasync: p50 {fsync_p50:.0} µs, p99 {fsync_p99:.0} µs | p99 / (one fsync p99 + 1 ms) = {:.2} |",
            p99 / bound
        );
    }
}
