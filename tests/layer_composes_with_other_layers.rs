//! `AuditLayer` joins an existing stack without changing what the other
//! layers see, receives audit spans whatever their filters say, and says so
//! (counting the calls) when a subscriber-wide filter keeps them from it.

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use audit_layer::{
    AuditHandle, AuditLayer, AuditWriter, MemoryLog, MemorySink, WriterGuard, audited,
};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::prelude::*;

#[audited(action = "post.publish", actor = user, resource = id)]
fn publish(user: &str, id: u64) -> Result<(), String> {
    tracing::info!(id, "publishing");
    tracing::warn!(id, "slow storage");
    Ok(())
}

fn app() {
    let request = tracing::info_span!("request", path = "/posts/7");
    let _entered = request.enter();
    publish("alice", 7).unwrap();
    tracing::error!("done with errors");
}

#[derive(Clone, Default)]
struct Buffer(Arc<Mutex<Vec<u8>>>);

impl Write for Buffer {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Buffer {
    type Writer = Buffer;
    fn make_writer(&'a self) -> Buffer {
        self.clone()
    }
}

impl Buffer {
    fn text(&self) -> String {
        String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
    }
}

fn fmt_layer<S>(out: &Buffer) -> impl tracing_subscriber::Layer<S>
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
{
    tracing_subscriber::fmt::layer()
        .with_writer(out.clone())
        .with_ansi(false)
        .without_time()
        .with_filter(EnvFilter::new("warn"))
}

fn writer() -> (AuditHandle, WriterGuard, MemoryLog) {
    let (sink, log) = MemorySink::new();
    let (handle, guard) = AuditWriter::builder().spawn(sink).unwrap();
    (handle, guard, log)
}

#[test]
fn other_layers_see_exactly_what_they_saw_before() {
    let without = Buffer::default();
    tracing::subscriber::with_default(
        tracing_subscriber::registry().with(fmt_layer(&without)),
        app,
    );

    let with = Buffer::default();
    let (handle, guard, log) = writer();
    tracing::subscriber::with_default(
        tracing_subscriber::registry()
            .with(fmt_layer(&with))
            .with(AuditLayer::new(handle)),
        app,
    );
    guard.shutdown(Duration::from_secs(5)).unwrap();

    assert_eq!(with.text(), without.text());
    assert!(with.text().contains("slow storage") && !with.text().contains("publishing"));
    // ...and the audit span, at INFO, still reached the audit layer.
    let records = log.records().unwrap();
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].actor.as_deref(), Some("alice"));
}

#[test]
fn a_fmt_layer_that_wants_audit_spans_shows_their_fields() {
    let out = Buffer::default();
    let (handle, guard, _log) = writer();
    let fmt = tracing_subscriber::fmt::layer()
        .with_writer(out.clone())
        .with_ansi(false)
        .with_filter(EnvFilter::new("info"));
    tracing::subscriber::with_default(
        tracing_subscriber::registry()
            .with(fmt)
            .with(AuditLayer::new(handle)),
        app,
    );
    guard.shutdown(Duration::from_secs(5)).unwrap();
    let text = out.text();
    assert!(text.contains("audit.actor=\"alice\""), "{text}");
    assert!(text.contains("audit.action=\"post.publish\""), "{text}");
}

#[test]
fn a_subscriber_wide_filter_that_hides_audit_spans_is_counted_not_silent() {
    let (handle, guard, log) = writer();
    let subscriber = tracing_subscriber::registry()
        .with(EnvFilter::new("warn"))
        .with(AuditLayer::new(handle.clone()));
    tracing::subscriber::with_default(subscriber, app);
    guard.shutdown(Duration::from_secs(5)).unwrap();
    assert!(log.records().unwrap().is_empty());
    assert_eq!(handle.stats().unaudited_calls, 1);
}

#[test]
fn a_subscriber_wide_filter_that_lets_audit_through_works() {
    let (handle, guard, log) = writer();
    let subscriber = tracing_subscriber::registry()
        .with(EnvFilter::new("warn,audit=trace"))
        .with(AuditLayer::new(handle.clone()));
    tracing::subscriber::with_default(subscriber, app);
    guard.shutdown(Duration::from_secs(5)).unwrap();
    assert_eq!(log.records().unwrap().len(), 1);
    assert_eq!(handle.stats().unaudited_calls, 0);
}

#[test]
fn without_an_audit_layer_nothing_is_counted_or_recorded() {
    let (handle, guard, log) = writer();
    let out = Buffer::default();
    tracing::subscriber::with_default(tracing_subscriber::registry().with(fmt_layer(&out)), app);
    app();
    guard.shutdown(Duration::from_secs(5)).unwrap();
    assert!(log.records().unwrap().is_empty());
    assert_eq!(handle.stats().unaudited_calls, 0);
}
