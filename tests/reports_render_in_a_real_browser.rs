//! Every report kind, rendered in Debian's headless Chromium: the page
//! loads with no console message and no network request, the key facts are
//! in the rendered DOM, a screenshot and a print to PDF are made, and
//! hostile values (markup, scripts, remote images, control characters,
//! right-to-left overrides, a 1 MiB string) are shown as text, cut, and
//! never run or fetched.

mod common;
#[path = "common/watch.rs"]
mod watch;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use audit_layer::{DocumentHash, ESignature, SignatureMeaning};
use serde_json::json;
use watch::{append, at, event, free_port};

/// Debian's Chromium, or a one-line failure naming the package.
fn chromium() -> PathBuf {
    for candidate in ["/usr/bin/chromium", "/usr/bin/chromium-browser"] {
        if Path::new(candidate).exists() {
            return PathBuf::from(candidate);
        }
    }
    panic!("headless Chromium is needed for the report tests: apt-get install -y chromium");
}

/// Runs Chromium headless on `page` with a fresh profile and `extra` flags.
fn browse(page: &Path, extra: &[String]) -> Output {
    let profile = tempfile::tempdir().unwrap();
    let output = Command::new(chromium())
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--enable-logging=stderr",
            "--log-level=0",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .args(extra)
        .arg(format!("file://{}", page.display()))
        .output()
        .expect("chromium runs");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let log = String::from_utf8_lossy(&output.stderr);
    let console: Vec<&str> = log.lines().filter(|l| l.contains(":CONSOLE")).collect();
    assert!(console.is_empty(), "console messages: {console:#?}");
    output
}

const MIB: usize = 1 << 20;

fn hostile_trail(log: &Path, canary: u16) {
    let remote = format!(
        "<img src=\"http://127.0.0.1:{canary}/img\"><script src=\"http://127.0.0.1:{canary}/js\"></script><link rel=stylesheet href=\"http://127.0.0.1:{canary}/css\"><b style=\"background:url(http://127.0.0.1:{canary}/bg)\">x</b>"
    );
    let script = "<script>document.title='owned'</script></td></tr></table><h1>forged</h1>";
    let bidi = "invoice\u{202e}fdp.exe\u{1b}[2J\u{0}\u{7}";
    let huge = "A".repeat(MIB);
    let v1 = DocumentHash::of(b"SOP-7 v1");
    let mut events = Vec::new();
    for n in 0..60 {
        events.push(
            event("patient.read", "mallory", n)
                .resource(format!("patient:{n}"))
                .build(),
        );
    }
    events.push(event("patient.read", &remote, 70).resource(script).build());
    events.push(
        event("patient.read", bidi, 71)
            .resource(huge.clone())
            .build(),
    );
    events.push(
        event("config.update", "ops", 80)
            .resource("config:db")
            .after(json!({"pool": script}))
            .context("ticket", "CHG-1")
            .build(),
    );
    events.push(
        event("config.update", &huge, 81)
            .resource(bidi)
            .after(json!({"note": remote}))
            .build(),
    );
    events.push(
        event("user.role_change", "alice", 90)
            .resource("user:bob")
            .after(json!({"role": "admin"}))
            .build(),
    );
    events.push(
        event("auditlog.export", bidi, 91)
            .resource("audit-log")
            .build(),
    );
    events.push(
        event("sop.create", "alice", 100)
            .resource("sop:7")
            .after(json!({"sha256": v1.to_string()}))
            .build(),
    );
    events.push(
        ESignature::new(
            "u-1",
            "Grace Hopper",
            SignatureMeaning::Approval,
            "sop:7",
            v1,
        )
        .unwrap()
        .signed_at(at(110))
        .event("sop.sign"),
    );
    events.push(
        ESignature::new(
            "u-2",
            "evil\u{202e}<i>Mallory</i>",
            SignatureMeaning::Review,
            "sop:7",
            v1,
        )
        .unwrap()
        .signed_at(at(120))
        .event("sop.sign"),
    );
    append(log, events);
}

struct Rendered {
    dom: String,
    html_bytes: usize,
}

fn render(dir: &Path, kind: &str, extra: &[&str]) -> Rendered {
    let prefix = dir.join(kind);
    let mut args = vec!["report", kind, "--log"];
    let log = dir.join("log");
    args.push(log.to_str().unwrap());
    args.extend(["--out", prefix.to_str().unwrap()]);
    args.extend_from_slice(extra);
    let made = common::run_audit(&args);
    assert_eq!(
        made.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );
    let page = prefix.with_extension("html");
    let dom = String::from_utf8(browse(&page, &["--dump-dom".into()]).stdout).unwrap();
    let screenshot = dir.join(format!("{kind}.png"));
    browse(
        &page,
        &[
            format!("--screenshot={}", screenshot.display()),
            "--window-size=1280,1600".into(),
        ],
    );
    let png = std::fs::read(&screenshot).expect("a screenshot");
    assert!(
        png.starts_with(b"\x89PNG") && png.len() > 10_000,
        "{}",
        png.len()
    );
    let pdf = dir.join(format!("{kind}.pdf"));
    browse(
        &page,
        &[
            format!("--print-to-pdf={}", pdf.display()),
            "--no-pdf-header-footer".into(),
        ],
    );
    let pdf = std::fs::read(&pdf).expect("a PDF");
    assert!(
        pdf.starts_with(b"%PDF") && pdf.len() > 5_000,
        "{}",
        pdf.len()
    );
    if let Ok(keep) = std::env::var("AUDIT_KEEP_SCREENSHOTS") {
        std::fs::copy(&screenshot, Path::new(&keep).join(format!("{kind}.png"))).unwrap();
    }
    Rendered {
        dom,
        html_bytes: std::fs::metadata(&page).unwrap().len() as usize,
    }
}

fn assert_inert(rendered: &Rendered) {
    let dom = &rendered.dom;
    for element in [
        "<script",
        "<img",
        "<link",
        "<iframe",
        "<b style",
        "<i>",
        "<h1>forged",
    ] {
        assert!(!dom.contains(element), "{element} became markup");
    }
    assert!(
        !dom.contains('\u{202e}') && !dom.contains('\u{1b}') && !dom.contains('\u{0}'),
        "control characters shown raw"
    );
    assert!(
        rendered.html_bytes < 400_000,
        "a 1 MiB value is cut: {} bytes",
        rendered.html_bytes
    );
}

/// The canary server, stopped by its PID however the test ends.
struct Canary(std::process::Child);

impl Drop for Canary {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn every_report_kind_renders_offline_with_its_facts_and_nothing_hostile_runs() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let canary_log = dir.path().join("canary.txt");
    let mut canary = Canary(
        Command::new(common::example("webhook_receiver"))
            .args([
                "--listen",
                &format!("127.0.0.1:{port}"),
                "--out",
                canary_log.to_str().unwrap(),
            ])
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("the canary server starts"),
    );
    {
        // Wait (bounded) until it listens.
        use std::io::BufRead;
        let mut first = String::new();
        std::io::BufReader::new(canary.0.stderr.as_mut().unwrap())
            .read_line(&mut first)
            .unwrap();
        assert!(first.contains("listening"), "{first}");
    }
    hostile_trail(&dir.path().join("log"), port);

    let access = render(dir.path(), "access", &[]);
    assert_inert(&access);
    assert!(
        access.dom.contains("<title>Access report</title>"),
        "the title is not rewritten"
    );
    assert!(
        access
            .dom
            .contains("class=\"verdict intact\">The trail is intact")
    );
    assert!(
        access
            .dom
            .contains("<tr class=\"outlier\"><td>mallory</td>")
    );
    assert!(
        access
            .dom
            .contains("invoice\\u{202e}fdp.exe\\u{1b}[2J\\0\\u{7}"),
        "shown escaped"
    );
    assert!(access.dom.contains("more bytes)"), "the 1 MiB value is cut");
    assert!(
        access.dom.contains("&lt;script&gt;document.title="),
        "shown as text"
    );

    let changes = render(dir.path(), "changes", &[]);
    assert_inert(&changes);
    assert!(
        changes.dom.contains("id=\"coverage-share\">16.7%</strong>"),
        "1 of 6 changes (two config updates, a role change, a creation, two signatures) has a ticket"
    );

    let privileged = render(dir.path(), "privileged", &[]);
    assert_inert(&privileged);
    assert!(privileged.dom.contains("<td>user.role_change</td>"));
    assert!(privileged.dom.contains("<td>auditlog.export</td>"));

    let document = render(dir.path(), "document", &["--resource", "sop:7"]);
    assert_inert(&document);
    assert!(
        document
            .dom
            .contains("<strong class=\"signer-name\">Grace Hopper</strong>")
    );
    assert!(
        document
            .dom
            .contains("<strong class=\"meaning\">approval</strong>")
    );
    assert!(
        document.dom.contains("2026-11-02T09:01:50.000000000Z"),
        "the date and time of the signature"
    );
    assert!(
        document
            .dom
            .contains(&DocumentHash::of(b"SOP-7 v1").to_string()),
        "the version signed"
    );
    assert!(document.dom.contains("&lt;i&gt;Mallory&lt;/i&gt;"));

    drop(canary);
    let requests = std::fs::read_to_string(&canary_log).unwrap_or_default();
    assert!(
        requests.is_empty(),
        "the page made {} request(s)",
        requests.lines().count()
    );
}
