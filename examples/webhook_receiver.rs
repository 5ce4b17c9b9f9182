//! A webhook receiver for trying `audit watch --webhook` (and for its
//! tests): appends each POSTed body as one line to a file and answers 200,
//! or 500 to the first `--fail-first N` requests.
//!
//! ```text
//! cargo run --example webhook_receiver -- --listen 127.0.0.1:9090 --out alerts.jsonl
//! audit watch --rules examples/watch/rules.toml --log audit-log --webhook http://127.0.0.1:9090/alerts
//! ```
//!
//! It stops after `--max-requests N` requests (when given), or when killed.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut listen = "127.0.0.1:9090".to_owned();
    let mut out_path = "webhook.jsonl".to_owned();
    let mut fail_first = 0u64;
    let mut max_requests = u64::MAX;
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args.next().ok_or(format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--listen" => listen = value,
            "--out" => out_path = value,
            "--fail-first" => fail_first = value.parse()?,
            "--max-requests" => max_requests = value.parse()?,
            other => return Err(format!("unknown flag {other}").into()),
        }
    }
    let listener = TcpListener::bind(&listen)?;
    eprintln!("webhook_receiver: listening on {}", listener.local_addr()?);
    let mut out = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&out_path)?;
    let mut served = 0u64;
    while served < max_requests {
        let (stream, _) = listener.accept()?;
        let mut reader = BufReader::new(stream);
        let mut request_line = String::new();
        reader.read_line(&mut request_line)?;
        let mut length = 0usize;
        loop {
            let mut header = String::new();
            if reader.read_line(&mut header)? == 0 || header.trim().is_empty() {
                break;
            }
            if let Some((name, value)) = header.split_once(':')
                && name.trim().eq_ignore_ascii_case("content-length")
            {
                length = value.trim().parse()?;
            }
        }
        let mut body = vec![0; length];
        reader.read_exact(&mut body)?;
        served += 1;
        let mut stream = reader.into_inner();
        if served <= fail_first {
            stream.write_all(b"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 4\r\nConnection: close\r\n\r\nbusy")?;
            continue;
        }
        out.write_all(&body)?;
        out.write_all(b"\n")?;
        out.flush()?;
        stream.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")?;
    }
    Ok(())
}
