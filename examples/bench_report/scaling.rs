//! How cost grows with the size of before/after state and with the number
//! of enclosing spans an audited call inherits context from.

use std::path::Path;

use audit_layer::{AuditEvent, CodeLocation, Durability, audited};
use serde::Serialize;
use tracing::Span;

use crate::{CALL_ARGS, audited_call, chain_ceiling_of, ns_under_layer, writer_throughput_of};

/// A document whose body makes up most of its serialised size.
#[derive(Serialize)]
struct Document {
    status: &'static str,
    title: &'static str,
    body: String,
}

impl Document {
    /// A document of about `bytes` bytes of JSON.
    fn of_size(bytes: usize, status: &'static str) -> Self {
        Document {
            status,
            title: "Quarterly results",
            body: "x".repeat(bytes.saturating_sub(60)),
        }
    }
}

/// An audited update carrying `before` and `after` state.
#[audited(
    action = "document.update",
    actor = user,
    resource = id,
    before = before,
    after = |_| after
)]
#[inline(never)]
fn update_document(
    user: &str,
    id: u64,
    before: &Document,
    after: &Document,
) -> Result<u64, String> {
    Ok(std::hint::black_box(id))
}

fn event_with_state(before: &Document, after: &Document) -> AuditEvent {
    AuditEvent::builder("document.update")
        .actor("user-000042")
        .resource("document:7")
        .before(serde_json::to_value(before).expect("json"))
        .after(serde_json::to_value(after).expect("json"))
        .context("request_id", "5f0c2a8e-3b1d-4c55-9a3e-2f6d1c9b7e41")
        .code(CodeLocation::new("docs", "update").with_file("src/docs.rs", 40))
        .build()
}

/// One table: per state size, the caller's cost and the writer's
/// throughput against the one-core ceiling at that size.
pub(crate) fn record_size_rows(scratch: &Path) {
    println!();
    println!(
        "| before + after state | caller CPU per call | chained records/s, OS-buffered | MB/s | one-core ceiling | ratio |"
    );
    println!("|---|---|---|---|---|---|");
    for size in [100_usize, 1024, 4096, 16 * 1024, 64 * 1024] {
        let before = Document::of_size(size / 2, "draft");
        let after = Document::of_size(size / 2, "published");
        // Bound what a burst holds in the queue to about 200 MB.
        let burst = (200_000_000 / size as u64).clamp(2_000, 100_000);
        let caller = ns_under_layer(burst, |n| {
            let _ = std::hint::black_box(update_document("user-000042", n, &before, &after));
        });
        let event = event_with_state(&before, &after);
        let records = (500_000_000 / size as u64).clamp(20_000, 1_000_000);
        let (ceiling, line) = chain_ceiling_of(records, vec![event.clone()]);
        let rate =
            writer_throughput_of(&scratch.join("size"), Durability::Buffered, records, &event);
        println!(
            "| {size} B ({line} B lines) | {caller:.0} ns | {:.3} M/s | {:.0} | {:.3} M/s | {:.2} |",
            rate / 1e6,
            rate * line as f64 / 1e6,
            ceiling / 1e6,
            rate / ceiling
        );
    }
    let _ = std::fs::remove_dir_all(scratch.join("size"));
}

/// One table: per number of enclosing spans with `audit.*` fields, the
/// caller's cost of the benchmark call, against no enclosing span.
pub(crate) fn context_depth_rows() {
    println!();
    println!("| enclosing spans with `audit.*` fields | caller CPU per call | vs none |");
    println!("|---|---|---|");
    let (user, ip, request, session) = CALL_ARGS;
    let mut alone = f64::NAN;
    for depth in [0_usize, 1, 4, 16, 64] {
        let mut enclosing: Vec<tracing::span::EnteredSpan> = Vec::new();
        let ns = ns_under_layer(100_000, |n| {
            if enclosing.len() < depth {
                // Made on the first call, under the layer's subscriber.
                enclosing.extend((0..depth).map(|level| enclosing_span(level).entered()));
            }
            let _ = std::hint::black_box(audited_call(user, n, ip, request, session));
        });
        if depth == 0 {
            alone = ns;
        }
        println!("| {depth} | {ns:.0} ns | {:.2} |", ns / alone);
    }
}

/// A request-scoped span as middleware makes them: each level names its
/// own tenant and ticket, and the outermost the source IP.
fn enclosing_span(level: usize) -> Span {
    tracing::info_span!(
        "request",
        audit.tenant = format!("tenant-{level}"),
        audit.ticket = format!("CHG-{level:04}"),
        audit.source_ip = "198.51.100.7",
    )
}
