//! Every command the README shows runs, exactly as printed, and does what
//! the README says of it. `cargo run --bin audit --` stands for the `audit`
//! binary this test was built with; everything after it is the README's text.

mod common;
#[path = "common/pg.rs"]
mod pg;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use audit_layer::{AuditEvent, AuditWriter, FailureKind, FileSink, Outcome};

const README: &str = include_str!("../README.md");

/// The lines of the README's `sh` blocks, in order.
fn shell_lines() -> Vec<&'static str> {
    let mut lines = Vec::new();
    let mut in_sh = false;
    for line in README.lines() {
        match line.trim() {
            "```sh" => in_sh = true,
            "```" => in_sh = false,
            text if in_sh && !text.is_empty() => lines.push(text),
            _ => {}
        }
    }
    lines
}

/// The statements of the README's `sql` blocks, in order.
fn sql_blocks() -> Vec<String> {
    let mut blocks = Vec::new();
    let mut current: Option<String> = None;
    for line in README.lines() {
        match (line.trim(), &mut current) {
            ("```sql", None) => current = Some(String::new()),
            ("```", Some(_)) => blocks.extend(current.take()),
            (_, Some(block)) => {
                block.push_str(line);
                block.push('\n');
            }
            _ => {}
        }
    }
    blocks
}

/// A day's log in `dir/audit-log`, with the records the README's commands ask about.
fn write_log(dir: &Path) {
    let (handle, guard) = AuditWriter::builder()
        .spawn(FileSink::open(dir.join("audit-log")).unwrap())
        .unwrap();
    for event in [
        AuditEvent::builder("post.create")
            .actor("alice")
            .resource("post:42")
            .build(),
        AuditEvent::builder("post.publish")
            .actor("mallory")
            .resource("post:42")
            .outcome(Outcome::failure(FailureKind::Denied, "not an editor"))
            .build(),
    ] {
        handle.submit(event).unwrap();
    }
    guard.shutdown(Duration::from_secs(5)).unwrap();
}

/// Runs one README line in `dir` with `sh`, `cargo run ... --bin audit --`
/// mapped to the test's binary.
fn run_line(dir: &Path, line: &str) -> std::process::Output {
    run_line_with(dir, line, &[])
}

fn run_line_with(dir: &Path, line: &str, env: &[(&str, String)]) -> std::process::Output {
    let prelude =
        r#"cargo() { while [ "$1" != "--" ]; do shift; done; shift; "$AUDIT_BIN" "$@"; }"#;
    Command::new("sh")
        .arg("-c")
        .arg(format!("{prelude}\n{line}"))
        .current_dir(dir)
        .env("AUDIT_BIN", env!("CARGO_BIN_EXE_audit"))
        .env_remove("AUDIT_LOG")
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .output()
        .unwrap()
}

#[test]
fn every_audit_command_in_the_readme_runs_as_printed() {
    let lines = shell_lines();
    // The two fresh-machine commands: the demo (tests/incident_demo_tells_the_story.rs
    // runs it) and the suite (what .ci/run runs).
    assert!(
        lines[0].starts_with("cargo run --example incident "),
        "{}",
        lines[0]
    );
    assert!(
        lines[1].starts_with("cargo test --workspace "),
        "{}",
        lines[1]
    );
    let ci =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(".ci/run")).unwrap();
    assert!(
        ci.lines().any(|l| l.trim() == "cargo test --workspace"),
        "{ci}"
    );

    let dir = tempfile::tempdir().unwrap();
    write_log(dir.path());
    // The watch commands name the example rules by their path in the repository.
    std::fs::create_dir_all(dir.path().join("examples/watch")).unwrap();
    std::fs::copy(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/watch/rules.toml"),
        dir.path().join("examples/watch/rules.toml"),
    )
    .unwrap();
    // The pseudonym lookup needs a pseudonym key, made as the README's Rust comment says.
    let keygen = run_line(
        dir.path(),
        "cargo run --bin audit -- keygen --pseudonym --out billing",
    );
    assert!(keygen.status.success(), "{keygen:?}");

    // The fleet section's commands run against a real server, with the
    // logins its SQL creates.
    let server = pg::Server::shared();
    let store = server.fresh_store("readme_fleet");
    let mut admin = store.superuser();
    for role in ["blog_service", "blog_shipper", "auditor"] {
        admin
            .batch_execute(&format!("DROP ROLE IF EXISTS {role}"))
            .unwrap();
    }
    let env = [
        ("ADMIN_URL", store.admin.clone()),
        ("SHIPPER_URL", server.url_as("blog_shipper", "readme_fleet")),
        ("AUDITOR_URL", server.url_as("auditor", "readme_fleet")),
    ];
    let sql = sql_blocks();
    assert_eq!(sql.len(), 1, "{sql:?}");

    let mut ran = 0;
    for line in &lines[2..] {
        if line.starts_with("cargo run --example") {
            continue;
        }
        assert!(
            line.starts_with("cargo run --bin audit -- "),
            "not exercised: {line}"
        );
        if line.contains("-- witness --listen") {
            // A server: started as printed, seen to listen, then stopped.
            let port = std::net::TcpListener::bind("127.0.0.1:0")
                .unwrap()
                .local_addr()
                .unwrap()
                .port();
            let line = line.replace("127.0.0.1:7380", &format!("127.0.0.1:{port}"));
            let prelude = r#"cargo() { while [ "$1" != "--" ]; do shift; done; shift; exec "$AUDIT_BIN" "$@"; }"#;
            let mut child = Command::new("sh")
                .arg("-c")
                .arg(format!("{prelude}\n{line}"))
                .current_dir(dir.path())
                .env("AUDIT_BIN", env!("CARGO_BIN_EXE_audit"))
                .stdout(std::process::Stdio::piped())
                .spawn()
                .unwrap();
            let mut first = String::new();
            std::io::BufRead::read_line(
                &mut std::io::BufReader::new(child.stdout.as_mut().unwrap()),
                &mut first,
            )
            .unwrap();
            assert!(
                first.contains("witness listening on http://127.0.0.1:"),
                "{line}: {first}"
            );
            child.kill().unwrap();
            child.wait().unwrap();
            ran += 1;
            continue;
        }
        let output = run_line_with(dir.path(), line, &env);
        if line.contains(" db init ") {
            admin.batch_execute(&sql[0]).expect("the README's SQL runs");
        }
        let said = format!(
            "{line}\n{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        if line.contains("--seal-key") {
            // The README says: no seal yet is a finding, exit 1.
            assert_eq!(output.status.code(), Some(1), "{said}");
            assert!(said.contains("no-seal"), "{said}");
        } else if line.contains("--after-seq 41272") {
            // A cursor beyond this small log's head is said, not answered with nothing.
            assert_eq!(output.status.code(), Some(1), "{said}");
            assert!(said.contains("beyond the log's last record"), "{said}");
        } else {
            assert_eq!(output.status.code(), Some(0), "{said}");
        }
        if line.contains("--actor mallory --outcome denied --since 2h") {
            assert!(said.contains("not an editor"), "{said}");
        }
        if line.contains("verify-bundle") {
            assert!(said.contains("verified: 2 record(s)"), "{said}");
        }
        if line.contains("db retire") {
            assert!(said.contains("retired 1 record(s)"), "{said}");
        }
        if line.contains("--db \"$AUDITOR_URL\" --actor mallory") {
            assert!(said.contains("not an editor"), "{said}");
        }
        if line.contains("watch --rules examples/watch/rules.toml --check") {
            assert!(said.contains("privilege-escalation-then-export"), "{said}");
        }
        if line.contains("--state ./watch-state") {
            assert!(said.contains("2 record(s) evaluated, 0 alert(s)"), "{said}");
            assert!(dir.path().join("watch-state/state").exists());
            assert!(dir.path().join("alert-log").is_dir());
        }
        if line.contains("-- report ") {
            assert!(
                said.contains(".html\n"),
                "the report's paths are printed: {said}"
            );
        }
        if line.contains("report access --log ./audit-log --checkpoint") {
            let page = std::fs::read_to_string(dir.path().join("access-2026-11.html")).unwrap();
            assert!(
                page.contains("<dt>Signed checkpoints matched</dt><dd class=\"value\">1</dd>"),
                "{said}"
            );
        }
        if line.contains("verify-report post-42.html") {
            assert!(said.contains("verified: post-42.html"), "{said}");
        }
        if line.contains("verify ./audit-log --checkpoint") {
            assert!(said.contains("1 signed checkpoint(s) matched"), "{said}");
        }
        ran += 1;
    }
    assert!(ran >= 10, "only {ran} README commands found");
    assert!(dir.path().join("checkpoints/cp.note").exists());
    assert!(dir.path().join("audit.cef").exists());
}
