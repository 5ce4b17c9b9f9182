//! The main demo: a social-media team's day, then the review of an incident.
//!
//! ```sh
//! cargo run --example incident                 # log in ./audit-log
//! cargo run --example incident -- /tmp/day     # log elsewhere
//! ```
//!
//! It runs the blog service of `examples/blog` in-process and replays the
//! day over HTTP: logins and logouts, drafts created, edited and deleted, an
//! approval and a rejection, publishing, a role change, a settings change, a
//! data export, and one post published without approval. Then it verifies
//! the log, answers "who published post 42, and was it approved?" from the
//! log alone, and shows four forgeries of a copy: the two a hash chain
//! catches by itself, and the two only the signed checkpoints it kept
//! outside the log catch.

mod blog;

use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use audit_layer::{
    AuditLayer, AuditRecord, AuditWriter, CheckpointDir, Checkpoints, FileSink, IntegrityStatement,
    LogReader, Privacy, PseudonymKey, RecordFilter, ReportBuilder, ReportKind, ReportOptions,
    SignerKey, Timeline, Timestamp, Verifier,
};
use axum::http::Method;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tracing_subscriber::prelude::*;

use blog::client::Client;
use blog::domain::Blog;

/// Who works on the blog, and the address each one comes from.
const TEAM: [(&str, &str); 5] = [
    ("alice", "203.0.113.10"),
    ("bob", "203.0.113.11"),
    ("carol", "198.51.100.7"),
    ("dave", "198.51.100.8"),
    ("mallory", "198.51.100.23"),
];

struct Day {
    addr: SocketAddr,
    clients: Vec<(&'static str, Client)>,
}

impl Day {
    fn client(&mut self, who: &str) -> &mut Client {
        if !self.clients.iter().any(|(name, _)| *name == who) {
            let ip = TEAM
                .iter()
                .find(|(name, _)| *name == who)
                .map_or("192.0.2.1", |(_, ip)| ip);
            let name = TEAM
                .iter()
                .find(|(name, _)| *name == who)
                .map_or("stranger", |(name, _)| name);
            self.clients.push((name, Client::new(self.addr, ip)));
        }
        &mut self
            .clients
            .iter_mut()
            .find(|(name, _)| *name == who)
            .expect("just added")
            .1
    }

    /// One request of the day, narrated on one line.
    async fn step(
        &mut self,
        who: &str,
        what: &str,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> Value {
        let reply = self.client(who).send(method, path, body).await;
        let verdict = match reply.status {
            200..=299 => "ok".to_owned(),
            status => format!(
                "refused ({status}): {}",
                reply.body["error"].as_str().unwrap_or("")
            ),
        };
        println!("   {who:<8} {what:<52} {verdict}");
        reply.body
    }

    async fn login(&mut self, who: &str, password: &str) {
        let reply = self.client(who).login(who, password).await;
        let what = if reply.status == 200 {
            "logs in"
        } else {
            "tries to log in with a wrong password"
        };
        let verdict = if reply.status == 200 {
            "ok".to_owned()
        } else {
            format!("refused ({})", reply.status)
        };
        println!("   {who:<8} {what:<52} {verdict}");
    }
}

async fn replay_the_day(addr: SocketAddr) {
    let mut day = Day {
        addr,
        clients: Vec::new(),
    };
    let reversed = |name: &str| name.chars().rev().collect::<String>();
    for who in ["alice", "bob", "carol", "dave"] {
        day.login(who, &reversed(who)).await;
    }
    day.login("mallory", "hunter2").await;
    day.login("mallory", &reversed("mallory")).await;

    let draft = |title: &str, body: &str| Some(json!({"title": title, "body": body}));
    day.step(
        "carol",
        "drafts post 40 \"Team offsite\"",
        Method::POST,
        "/posts",
        draft("Team offsite", "Photos soon"),
    )
    .await;
    day.step(
        "carol",
        "edits post 40",
        Method::PUT,
        "/posts/40",
        draft("Team offsite recap", "Photos inside"),
    )
    .await;
    day.step(
        "bob",
        "approves post 40",
        Method::POST,
        "/posts/40/approve",
        None,
    )
    .await;
    day.step(
        "carol",
        "publishes post 40",
        Method::POST,
        "/posts/40/publish",
        None,
    )
    .await;

    day.step(
        "dave",
        "drafts post 41 \"Pricing changes\"",
        Method::POST,
        "/posts",
        draft("Pricing changes", "TBD"),
    )
    .await;
    day.step(
        "bob",
        "rejects post 41",
        Method::POST,
        "/posts/41/reject",
        None,
    )
    .await;
    day.step("dave", "deletes post 41", Method::DELETE, "/posts/41", None)
        .await;

    day.step(
        "mallory",
        "drafts post 42 \"Q3 results\"",
        Method::POST,
        "/posts",
        draft("Q3 results", "Revenue up 40%"),
    )
    .await;
    day.step(
        "mallory",
        "edits post 42",
        Method::PUT,
        "/posts/42",
        draft("Q3 results (embargoed until Friday)", "Revenue up 40%"),
    )
    .await;
    day.step(
        "mallory",
        "tries to approve post 42 herself",
        Method::POST,
        "/posts/42/approve",
        None,
    )
    .await;
    day.step(
        "mallory",
        "publishes post 42",
        Method::POST,
        "/posts/42/publish",
        None,
    )
    .await;

    day.step(
        "carol",
        "drafts post 43 \"Notes\"",
        Method::POST,
        "/posts",
        draft("Notes", "scratch"),
    )
    .await;
    day.step(
        "carol",
        "deletes post 43",
        Method::DELETE,
        "/posts/43",
        None,
    )
    .await;

    day.step(
        "alice",
        "makes dave an editor",
        Method::PUT,
        "/users/dave/role",
        Some(json!({"role": "editor"})),
    )
    .await;
    day.step(
        "mallory",
        "tries to make herself an admin",
        Method::PUT,
        "/users/mallory/role",
        Some(json!({"role": "admin"})),
    )
    .await;
    day.step(
        "bob",
        "turns on two-factor authentication",
        Method::PUT,
        "/account/settings",
        Some(json!({"email": "bob@example.com", "two_factor": true})),
    )
    .await;
    day.step("alice", "exports all posts", Method::GET, "/export", None)
        .await;
    for who in ["carol", "bob", "dave", "mallory", "alice"] {
        day.step(who, "logs out", Method::POST, "/logout", None)
            .await;
    }
}

fn records_about(
    log: &Path,
    resource: &str,
) -> Result<Vec<AuditRecord>, Box<dyn std::error::Error>> {
    let filter = RecordFilter::new().resource(resource).application_only();
    let mut records = Vec::new();
    for record in LogReader::open(log)? {
        let record = record?;
        if filter.matches(&record) {
            records.push(record);
        }
    }
    Ok(records)
}

fn short(record: &AuditRecord) -> String {
    let time = record.time.to_string();
    format!("{} {} UTC", &time[..10], &time[11..19])
}

fn answer(log: &Path) -> Result<(), Box<dyn std::error::Error>> {
    let post42 = records_about(log, "post:42")?;
    let published = post42
        .iter()
        .find(|r| r.action == "post.publish" && r.outcome.is_success())
        .ok_or("post 42 was never published")?;
    let context = |key: &str| published.context.get(key).map_or("?", String::as_str);
    println!(
        "   Post 42 was published by {} at {}, from {} (request {}, session {}), seq {}.",
        published.actor.as_deref().unwrap_or("(nobody named)"),
        short(published),
        context("source_ip"),
        context("request_id"),
        context("session"),
        published.seq
    );
    let approvals: Vec<&AuditRecord> = post42
        .iter()
        .filter(|r| r.action == "post.approve")
        .collect();
    match approvals.iter().find(|r| r.outcome.is_success()) {
        Some(approval) => println!(
            "   It was approved by {} at {}.",
            approval.actor.as_deref().unwrap_or("?"),
            short(approval)
        ),
        None => {
            println!(
                "   It was NOT approved: the log holds no successful post.approve for post:42."
            );
            for attempt in approvals {
                println!(
                    "   The only attempt: {} at {}, {}.",
                    attempt.actor.as_deref().unwrap_or("?"),
                    short(attempt),
                    attempt.outcome
                );
            }
        }
    }
    let post40 = records_about(log, "post:40")?;
    if let Some(approval) = post40
        .iter()
        .find(|r| r.action == "post.approve" && r.outcome.is_success())
    {
        println!(
            "   Compare post 40: approved by {} before it went out.",
            approval.actor.as_deref().unwrap_or("?")
        );
    }
    println!();
    for line in Timeline::new("post:42", &post42).to_string().lines() {
        if line.is_empty() {
            println!();
        } else {
            println!("   {line}");
        }
    }
    Ok(())
}

/// A copy of the log with its lines put through `edit`.
fn forged_copy(
    log: &Path,
    edit: impl FnOnce(&mut Vec<String>),
) -> Result<PathBuf, Box<dyn std::error::Error>> {
    let copy = PathBuf::from(format!("{}-tampered", log.display()));
    let _ = std::fs::remove_dir_all(&copy);
    std::fs::create_dir_all(&copy)?;
    let segment = first_segment(log)?;
    let mut lines: Vec<String> = std::fs::read_to_string(&segment)?
        .lines()
        .map(str::to_owned)
        .collect();
    edit(&mut lines);
    std::fs::write(
        copy.join(segment.file_name().ok_or("no name")?),
        lines.join("\n") + "\n",
    )?;
    Ok(copy)
}

fn first_segment(log: &Path) -> Result<PathBuf, Box<dyn std::error::Error>> {
    Ok(std::fs::read_dir(log)?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|e| e == "jsonl"))
        .ok_or("no segment")?)
}

/// Seals a line again after its body changed: the hash a forger computes.
fn reseal(line: &str, prev: Option<&str>) -> String {
    let mut body = line[..line.len() - 75].to_owned();
    if let Some(prev) = prev {
        let at = body.find("\"prev\":\"").map_or(0, |at| at + 8);
        body.replace_range(at..at + 64, prev);
    }
    let hash = hex::encode(Sha256::digest(body.as_bytes()));
    format!("{body},\"hash\":\"{hash}\"}}")
}

type Forgery = Box<dyn FnOnce(&mut Vec<String>)>;

/// Four forgeries of a copy of the log, and what verification says of each,
/// with the chain alone and with the checkpoints kept outside the log.
fn tamper(
    log: &Path,
    checkpoints: &Path,
    key: &SignerKey,
) -> Result<(), Box<dyn std::error::Error>> {
    let publish = std::fs::read_to_string(first_segment(log)?)?
        .lines()
        .position(|line| {
            line.contains("\"action\":\"post.publish\"")
                && line.contains("\"resource\":\"post:42\"")
        })
        .ok_or("no publish record for post 42")?;
    let make_bob = |line: &str| line.replace("\"actor\":\"mallory\"", "\"actor\":\"bob\"");
    let forgeries: [(&str, Forgery); 4] = [
        (
            "makes bob the publisher of post 42",
            Box::new(move |lines| lines[publish] = make_bob(&lines[publish])),
        ),
        (
            "does the same and recomputes that record's hash",
            Box::new(move |lines| lines[publish] = reseal(&make_bob(&lines[publish]), None)),
        ),
        (
            "does the same and re-chains every record after it",
            Box::new(move |lines| {
                lines[publish] = reseal(&make_bob(&lines[publish]), None);
                for n in publish + 1..lines.len() {
                    let previous = &lines[n - 1];
                    let prev = previous[previous.len() - 66..previous.len() - 2].to_owned();
                    lines[n] = reseal(&lines[n], Some(&prev));
                }
            }),
        ),
        (
            "cuts the last five records off at a record boundary",
            Box::new(|lines| {
                let keep = lines.len() - 5;
                lines.truncate(keep);
            }),
        ),
    ];
    for (what, edit) in forgeries {
        let copy = forged_copy(log, edit)?;
        println!("   Someone {what}:");
        report("chain only", &Verifier::new().verify_path(&copy)?);
        let mut verifier = Verifier::new().trust(key.verifier());
        for entry in std::fs::read_dir(checkpoints)? {
            let path = entry?.path();
            let note = std::fs::read_to_string(&path)?;
            verifier = verifier.checkpoint(path, note);
        }
        report("with checkpoints", &verifier.verify_path(&copy)?);
    }
    Ok(())
}

fn report(how: &str, report: &audit_layer::Report) {
    let mut codes: Vec<&str> = report.findings.iter().map(|f| f.code.as_str()).collect();
    codes.dedup();
    match report.findings.first() {
        None => println!("     {how:<17} audit verify → intact"),
        Some(first) => println!(
            "     {how:<17} audit verify → {} (first at seq {})",
            codes.join(", "),
            first.seq.map_or("?".into(), |s| s.to_string())
        ),
    }
}

fn fresh_checkpoint_dir(path: &Path) -> Result<(), Box<dyn std::error::Error>> {
    if path.exists() {
        let only_notes = std::fs::read_dir(path)?
            .filter_map(Result::ok)
            .all(|e| e.path().extension().is_some_and(|x| x == "note"));
        if !only_notes {
            return Err(format!(
                "{} holds more than checkpoints; give another path",
                path.display()
            )
            .into());
        }
        std::fs::remove_dir_all(path)?;
    }
    Ok(())
}

fn fresh_log_dir(path: &Path) -> Result<(), Box<dyn std::error::Error>> {
    if path.exists() {
        // Only ever remove what is recognisably an earlier run's log.
        let is_log = std::fs::read_dir(path)?
            .filter_map(Result::ok)
            .any(|entry| {
                let name = entry.file_name();
                let name = name.to_string_lossy();
                name.starts_with("segment-") && name.ends_with(".jsonl")
            });
        if !is_log {
            return Err(format!(
                "{} exists and is not an audit log; give another path",
                path.display()
            )
            .into());
        }
        std::fs::remove_dir_all(path)?;
    }
    Ok(())
}

/// Every segment of the log, as text.
fn segment_text(log: &Path) -> std::io::Result<String> {
    let mut segments: Vec<PathBuf> = std::fs::read_dir(log)?
        .map(|entry| entry.map(|e| e.path()))
        .collect::<Result<_, _>>()?;
    segments.retain(|path| path.extension().is_some_and(|e| e == "jsonl"));
    segments.sort();
    let mut text = String::new();
    for segment in segments {
        text.push_str(&std::fs::read_to_string(segment)?);
    }
    Ok(text)
}

/// The document reports of post 42 (and of post 40, approved, to compare)
/// and this month's access report, as HTML
/// and JSON in `LOG-reports/`; returns their paths.
fn write_reports(log: &Path) -> Result<Vec<PathBuf>, Box<dyn std::error::Error>> {
    let dir = PathBuf::from(format!("{}-reports", log.display()));
    std::fs::create_dir_all(&dir)?;
    let verification = Verifier::new().verify_path(log)?;
    let integrity = IntegrityStatement::from_report(&verification, log.display().to_string());
    let now = Timestamp::now().to_string();
    let month = &now[..7];
    let month_start: Timestamp = format!("{month}-01T00:00:00Z").parse()?;
    let mut document =
        ReportBuilder::new(ReportOptions::new(ReportKind::Document).resource("post:42"));
    // Post 40 for comparison: its approval is an electronic signature.
    let mut compared =
        ReportBuilder::new(ReportOptions::new(ReportKind::Document).resource("post:40"));
    let mut access =
        ReportBuilder::new(ReportOptions::new(ReportKind::Access).period(Some(month_start), None));
    for record in LogReader::open(log)? {
        let record = record?;
        let problem = (!verification.is_intact()).then_some("the log has findings");
        document.add(&record, problem);
        compared.add(&record, problem);
        access.add(&record, problem);
    }
    let mut written = Vec::new();
    for (name, report) in [
        ("post-42".to_owned(), document.finish(integrity.clone())),
        ("post-40".to_owned(), compared.finish(integrity.clone())),
        (format!("access-{month}"), access.finish(integrity)),
    ] {
        for (extension, text) in [("html", report.to_html()), ("json", report.to_json())] {
            let path = dir.join(format!("{name}.{extension}"));
            std::fs::write(&path, text)?;
            written.push(path);
        }
    }
    Ok(written)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let log = PathBuf::from(
        std::env::args()
            .nth(1)
            .unwrap_or_else(|| "audit-log".into()),
    );
    fresh_log_dir(&log)?;
    println!("audit-layer demo: a social-media team's day, then an incident review");
    println!("====================================================================");
    println!();

    // Checkpoints go beside, not into, the log (in production, onto another
    // machine); the demo's key lives in memory only.
    let checkpoints = PathBuf::from(format!("{}-checkpoints", log.display()));
    fresh_checkpoint_dir(&checkpoints)?;
    let key = SignerKey::generate("example.com/blog/audit")?;
    // Email addresses are personal data: the trail keeps keyed pseudonyms.
    let pseudonyms = PseudonymKey::generate()?;
    let (audit, guard) = AuditWriter::builder()
        .service("blog-api")
        .privacy(
            Privacy::new()
                .pseudonymise(["email"])
                .pseudonym_key(pseudonyms.clone()),
        )
        .checkpoints(
            Checkpoints::new(key.clone(), CheckpointDir::new(&checkpoints)).every_records(10),
        )
        .spawn(FileSink::open(&log)?)?;
    tracing_subscriber::registry()
        .with(AuditLayer::new(audit.clone()))
        .init();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(blog::http::serve(listener, Arc::new(Blog::with_team())));

    println!("1. The day: every request to the blog service is an audited call");
    println!("   (log: {}, service on http://{addr})", log.display());
    println!();
    replay_the_day(addr).await;
    let written = guard.shutdown(Duration::from_secs(10))?;
    println!();
    println!(
        "   {} records written; {} calls had no actor.",
        written.written,
        audit.stats().missing_actor
    );
    println!();

    println!("2. Is the trail intact?");
    let report = Verifier::new().verify_path(&log)?;
    println!(
        "   {}: {}",
        report.summary(),
        if report.is_intact() {
            "intact"
        } else {
            "FINDINGS"
        }
    );
    let log_text = segment_text(&log)?;
    println!(
        "   Personal data: bob@example.com appears {} times in the log; as its pseudonym {} it appears {} times.",
        log_text.matches("bob@example.com").count(),
        pseudonyms.pseudonym("bob@example.com"),
        log_text
            .matches(&pseudonyms.pseudonym("bob@example.com"))
            .count()
    );
    let signed = std::fs::read_dir(&checkpoints)?.count();
    println!(
        "   {signed} signed checkpoint{} sent to {}, outside the log.",
        if signed == 1 { " was" } else { "s were" },
        checkpoints.display()
    );
    println!();

    println!(
        "3. The incident: post 42 went live and never should have. Who published it, and was it approved?"
    );
    println!();
    answer(&log)?;
    println!();

    println!(
        "4. Could the trail have been edited to tell another story? Four forgers try, on copies:"
    );
    tamper(&log, &checkpoints, &key)?;
    println!();

    println!("5. For the auditor: reports made from the verified trail, to hand over as they are:");
    for path in write_reports(&log)? {
        println!("   {}", path.display());
    }
    println!();

    println!("Try it yourself:");
    println!("   cargo run --bin audit -- verify {}", log.display());
    println!(
        "   cargo run --bin audit -- timeline post:42 --log {}",
        log.display()
    );
    println!(
        "   cargo run --bin audit -- show --log {} --outcome denied",
        log.display()
    );
    println!(
        "   cargo run --bin audit -- export --log {} --format ecs    # or cadf, cef: for a SIEM",
        log.display()
    );
    println!(
        "   cargo run --bin audit -- report document --resource post:42 --log {}    # or access, changes, privileged",
        log.display()
    );
    println!(
        "   cargo run --bin audit -- verify {}-tampered --checkpoint {} --key {}",
        log.display(),
        checkpoints.display(),
        key.verifier()
    );
    std::io::stdout().flush()?;
    Ok(())
}
