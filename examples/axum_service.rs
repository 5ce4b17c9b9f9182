//! A blog service on axum whose handlers are `#[audited]`.
//!
//! ```sh
//! cargo run --example axum_service             # listens on 127.0.0.1:3000, logs to ./audit-log
//! curl -si -X POST localhost:3000/login -H 'content-type: application/json' \
//!      -d '{"user":"alice","password":"ecila"}'
//! cargo run --bin audit -- show --log ./audit-log
//! ```
//!
//! A request-span middleware supplies source IP, session and request id;
//! every handler names its action and resource; see `examples/blog/http.rs`.

mod blog;

use std::sync::Arc;
use std::time::Duration;

use audit_layer::{AuditLayer, AuditWriter, FileSink};
use tracing_subscriber::prelude::*;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let log = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "audit-log".into());
    let address = std::env::var("ADDRESS").unwrap_or_else(|_| "127.0.0.1:3000".into());
    let (audit, guard) = AuditWriter::builder()
        .service("blog-api")
        .spawn(FileSink::open(&log)?)?;
    tracing_subscriber::registry()
        .with(
            tracing_subscriber::fmt::layer()
                .with_filter(tracing_subscriber::EnvFilter::new("warn")),
        )
        .with(AuditLayer::new(audit.clone()))
        .init();

    let listener = tokio::net::TcpListener::bind(&address).await?;
    println!(
        "blog-api on http://{}, audit log in {log}",
        listener.local_addr()?
    );
    println!(
        "users: alice (admin), bob (editor), carol, dave, mallory (authors); password = name reversed"
    );
    tokio::select! {
        served = blog::http::serve(listener, Arc::new(blog::domain::Blog::with_team())) => served?,
        _ = tokio::signal::ctrl_c() => println!("stopping"),
    }
    // The subscriber is global and never dropped: shut the writer down explicitly.
    let report = guard.shutdown(Duration::from_secs(10))?;
    println!(
        "{} audit records written, next seq {}",
        report.written, report.next_seq
    );
    Ok(())
}
