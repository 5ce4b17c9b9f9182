//! The axum example's fleet mode: `axum_service --db URL` runs as a real
//! process under `#[tokio::main]`, writes each request's record straight
//! into the PostgreSQL store through `PgSink` with only the writer role,
//! and the stream verifies.

mod common;
#[path = "common/pg.rs"]
mod pg;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};

use common::run_audit as audit;

fn post(address: &str, path: &str, body: &str) -> String {
    let mut stream = TcpStream::connect(address).unwrap();
    write!(
        stream,
        "POST {path} HTTP/1.1\r\nHost: {address}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    response
}

#[test]
fn the_example_service_writes_its_trail_into_the_store() {
    let store = pg::Server::shared().fresh_store("axum_store");
    let mut service = Command::new(common::example("axum_service"))
        .args(["--db", &store.writer])
        .env("ADDRESS", "127.0.0.1:0")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the example runs (cargo test builds it)");
    let mut stdout = BufReader::new(service.stdout.take().unwrap());
    let mut banner = String::new();
    stdout.read_line(&mut banner).unwrap();
    let address = banner
        .split("http://")
        .nth(1)
        .and_then(|rest| rest.split(',').next())
        .unwrap_or_else(|| panic!("no address in {banner:?}"))
        .to_owned();
    assert!(banner.contains("stream blog-api@"), "{banner}");
    let ok = post(&address, "/login", r#"{"user":"alice","password":"ecila"}"#);
    assert!(ok.starts_with("HTTP/1.1 200"), "{ok}");
    let refused = post(
        &address,
        "/login",
        r#"{"user":"mallory","password":"guess"}"#,
    );
    assert!(refused.starts_with("HTTP/1.1 401"), "{refused}");
    // SAFETY: kill on the PID of a child we started and have not reaped.
    unsafe { libc::kill(service.id() as libc::pid_t, libc::SIGINT) };
    let status = service.wait().unwrap();
    let mut rest = String::new();
    stdout.read_to_string(&mut rest).unwrap();
    assert!(status.success(), "{rest}");
    assert!(rest.contains("audit records written"), "{rest}");

    let verified = audit(&["verify", "--db", &store.reader]);
    assert_eq!(
        verified.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&verified.stdout)
    );
    let shown = audit(&[
        "show",
        "--db",
        &store.reader,
        "--action",
        "session.*",
        "--json",
    ]);
    let records: serde_json::Value = serde_json::from_slice(&shown.stdout).unwrap();
    let records = records.as_array().unwrap();
    assert_eq!(records.len(), 2, "{records:?}");
    assert_eq!(records[0]["actor"], "alice");
    assert_eq!(records[0]["outcome"], "success");
    assert_eq!(records[1]["actor"], "mallory");
    assert_eq!(records[1]["category"], "denied");
}
