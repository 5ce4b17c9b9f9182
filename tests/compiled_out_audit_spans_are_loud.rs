//! When tracing's `max_level_*` features compile audit spans out, the layer
//! says so when it starts and counts every call it never sees.
//!
//! Features are unified across a workspace, so this builds a small crate of
//! its own, outside it, with `tracing/max_level_warn`.

use std::path::Path;
use std::process::Command;

const PROBE: &str = r#"
use audit_layer::{audited, AuditLayer, AuditWriter, MemorySink};
use tracing_subscriber::prelude::*;

#[audited(action = "post.publish", actor = "alice")]
fn publish() {}

fn main() {
    let (sink, log) = MemorySink::new();
    let (handle, guard) = AuditWriter::builder().spawn(sink).unwrap();
    let subscriber = tracing_subscriber::registry().with(AuditLayer::new(handle.clone()));
    tracing::subscriber::with_default(subscriber, publish);
    guard.shutdown(std::time::Duration::from_secs(5)).unwrap();
    println!("unaudited={} records={}", handle.stats().unaudited_calls, log.records().unwrap().len());
}
"#;

#[test]
fn compiled_out_audit_spans_are_reported_and_counted() {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR"));
    let probe = tempfile::tempdir().unwrap();
    std::fs::create_dir(probe.path().join("src")).unwrap();
    std::fs::write(probe.path().join("src/main.rs"), PROBE).unwrap();
    std::fs::write(
        probe.path().join("Cargo.toml"),
        format!(
            r#"[package]
name = "compiled-out-probe"
version = "0.0.0"
edition = "2024"

[dependencies]
audit-layer = {{ path = "{}" }}
tracing = {{ version = "0.1", features = ["max_level_warn"] }}
tracing-subscriber = {{ version = "0.3", default-features = false, features = ["registry", "std"] }}

[workspace]
"#,
            workspace.join("audit-layer").display()
        ),
    )
    .unwrap();
    // Reuse the lock file so the probe builds from the same versions, offline.
    std::fs::copy(
        workspace.join("Cargo.lock"),
        probe.path().join("Cargo.lock"),
    )
    .unwrap();
    let output = Command::new(env!("CARGO"))
        .args(["run", "--quiet", "--offline"])
        .current_dir(probe.path())
        .env(
            "CARGO_TARGET_DIR",
            workspace.join("target").join("compiled-out-probe"),
        )
        .output()
        .expect("run cargo");
    let stderr = String::from_utf8_lossy(&output.stderr);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stderr}");
    assert!(
        stderr.contains("are compiled out and will not be recorded"),
        "{stderr}"
    );
    assert_eq!(stdout.trim(), "unaudited=1 records=0");
}
