//! Detection rules evaluated inside a service, on the records it writes:
//! the engine of `audit watch`, as a library (feature `watch`).
//!
//! ```text
//! cargo run --example watch_in_process
//! ```
//!
//! The README shows the part between the markers; a test checks that it
//! appears there as printed and runs this example.

use std::time::Duration;

use audit_layer::watch::{Engine, RuleSet, write_alert_json};
use audit_layer::{AuditEvent, AuditWriter, MemorySink};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (sink, log) = MemorySink::new();
    let (audit, guard) = AuditWriter::builder().service("clinic-api").spawn(sink)?;
    for n in 0..3 {
        audit.submit(
            AuditEvent::builder("patient.export")
                .actor("mallory")
                .resource(format!("ward:{n}"))
                .build(),
        )?;
    }
    guard.shutdown(Duration::from_secs(5))?;
    let lines: Vec<Vec<u8>> = log
        .bytes()
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .map(<[u8]>::to_vec)
        .collect();

    // README: watch-in-process
    let rules = RuleSet::from_toml(
        r#"
        [[rule]]
        name = "export-burst"
        kind = "threshold"
        severity = "high"
        message = "{key} exported {count} times within {within}"
        where = { action = "*.export" }
        group_by = "actor"
        at_least = 3
        within = "1h"
    "#,
    )?;
    let mut engine = Engine::new(rules).source("clinic-api");
    for line in &lines {
        for alert in engine.observe_line(line) {
            write_alert_json(&mut std::io::stdout(), &alert)?; // or page someone
        }
    }
    // README: end
    assert_eq!(engine.stats().alerts, 1);
    Ok(())
}
