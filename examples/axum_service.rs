//! A blog service on axum whose handlers are `#[audited]`.
//!
//! ```sh
//! cargo run --example axum_service             # listens on 127.0.0.1:3000, logs to ./audit-log
//! curl -si -X POST localhost:3000/login -H 'content-type: application/json' \
//!      -d '{"user":"alice","password":"ecila"}'
//! cargo run --bin audit -- show --log ./audit-log
//! ```
//!
//! For a fleet, the same service writes straight into the PostgreSQL store
//! (a role holding `audit_writer`), as stream `blog-api@HOST`:
//!
//! ```sh
//! cargo run --example axum_service -- --db postgresql://blog_service@localhost/audit
//! cargo run --bin audit -- show --db postgresql://auditor@localhost/audit
//! ```
//!
//! A request-span middleware supplies source IP, session and request id;
//! every handler names its action and resource; see `examples/blog/http.rs`.

mod blog;

use std::sync::Arc;
use std::time::Duration;

use audit_layer::{AuditLayer, AuditWriter, FileSink, PgSink, default_stream_name};
use tracing_subscriber::prelude::*;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let address = std::env::var("ADDRESS").unwrap_or_else(|_| "127.0.0.1:3000".into());
    let writer = AuditWriter::builder().service("blog-api");
    let (audit, guard, log) = match args.as_slice() {
        [flag, url] if flag == "--db" => {
            let host = gethostname();
            let stream = default_stream_name("blog-api", &host);
            let (audit, guard) = writer.spawn(PgSink::connect(url, &stream)?)?;
            (audit, guard, format!("stream {stream} of the store"))
        }
        [] | [_] => {
            let log = args.first().cloned().unwrap_or_else(|| "audit-log".into());
            let (audit, guard) = writer.spawn(FileSink::open(&log)?)?;
            (audit, guard, log)
        }
        _ => return Err("usage: axum_service [LOG_DIR | --db URL]".into()),
    };
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

/// This machine's name, for the stream's.
fn gethostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|name| name.trim().to_owned())
        .unwrap_or_else(|_| "localhost".into())
}
