//! Witnesses (C2SP tlog-witness) run as real `audit witness` processes on
//! loopback: a writer collects their cosignatures on each checkpoint;
//! `audit verify --witness --quorum` requires them; a rolled-back or forked
//! log cannot collect a quorum; a witness keeps its state across a
//! restart; hostile requests are refused with the statuses the spec names.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use audit_layer::{
    AuditWriter, Checkpoint, CheckpointDir, Checkpoints, CosignerVerifier, FileSink, SignerKey,
    WitnessClient,
};
use common::run_audit as audit;

struct WitnessProcess {
    child: Child,
    address: String,
    key: PathBuf,
    public: PathBuf,
    state: PathBuf,
}

fn keygen_witness(dir: &Path, name: &str) -> (PathBuf, PathBuf) {
    let prefix = dir.join(name);
    let output = audit(&[
        "keygen",
        &format!("witness.example/{name}"),
        "--witness",
        "--out",
        prefix.to_str().unwrap(),
    ]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    (prefix.with_extension("key"), prefix.with_extension("pub"))
}

fn start(key: &Path, public: &Path, state: &Path, log_key: &str) -> WitnessProcess {
    let mut child = Command::new(env!("CARGO_BIN_EXE_audit"))
        .args(["witness", "--listen", "127.0.0.1:0", "--key"])
        .arg(key)
        .arg("--state")
        .arg(state)
        .args(["--log-key", log_key])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("audit witness starts");
    let mut first = String::new();
    BufReader::new(child.stdout.as_mut().unwrap())
        .read_line(&mut first)
        .unwrap();
    let address = first
        .split("http://")
        .nth(1)
        .and_then(|rest| rest.split('/').next())
        .unwrap_or_else(|| panic!("no address in {first:?}"))
        .to_owned();
    WitnessProcess {
        child,
        address,
        key: key.to_owned(),
        public: public.to_owned(),
        state: state.to_owned(),
    }
}

fn stop(witness: &mut WitnessProcess) {
    // SAFETY: kill on the PID of a child we started and have not reaped.
    unsafe { libc::kill(witness.child.id() as libc::pid_t, libc::SIGTERM) };
    assert!(
        witness.child.wait().unwrap().success(),
        "the witness stops cleanly"
    );
}

fn cosigner(witness: &WitnessProcess) -> CosignerVerifier {
    CosignerVerifier::parse(&std::fs::read_to_string(&witness.public).unwrap()).unwrap()
}

fn client(witness: &WitnessProcess) -> WitnessClient {
    WitnessClient::new(&format!("http://{}", witness.address), cosigner(witness)).unwrap()
}

fn write(
    log: &Path,
    checkpoints: &Path,
    key: &SignerKey,
    witnesses: &[&WitnessProcess],
    records: usize,
) {
    let mut plan = Checkpoints::new(key.clone(), CheckpointDir::new(checkpoints)).every_records(50);
    for witness in witnesses {
        plan = plan.witness(client(witness));
    }
    let sink = FileSink::builder(log)
        .max_segment_bytes(64 * 1024)
        .open()
        .unwrap();
    let (handle, guard) = AuditWriter::builder()
        .checkpoints(plan)
        .spawn(sink)
        .unwrap();
    for event in common::varied_events(records) {
        handle.submit(event).unwrap();
        if records < 400 {
            // Small batches, so that several checkpoints are signed.
            handle.flush().unwrap();
        }
    }
    guard.shutdown(Duration::from_secs(30)).unwrap();
}

fn post(address: &str, request: &[u8]) -> (u16, String) {
    let mut stream = TcpStream::connect(address).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    stream.write_all(request).unwrap();
    let mut response = Vec::new();
    let _ = stream.read_to_end(&mut response);
    let text = String::from_utf8_lossy(&response).into_owned();
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (status, text)
}

fn add_checkpoint(address: &str, body: &str) -> (u16, String) {
    post(
        address,
        format!(
            "POST /add-checkpoint HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )
        .as_bytes(),
    )
}

fn verify_with(
    log: &Path,
    checkpoints: &Path,
    log_key: &str,
    witnesses: &[&WitnessProcess],
    quorum: usize,
) -> (Option<i32>, String) {
    let mut args = vec![
        "verify".to_owned(),
        log.to_str().unwrap().to_owned(),
        "--checkpoint".into(),
        checkpoints.to_str().unwrap().to_owned(),
        "--key".into(),
        log_key.to_owned(),
        "--quorum".into(),
        quorum.to_string(),
    ];
    for witness in witnesses {
        args.push("--witness".into());
        args.push(witness.public.to_str().unwrap().to_owned());
    }
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    let output = audit(&refs);
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
    )
}

#[test]
fn a_writer_collects_a_quorum_and_a_rolled_back_log_cannot() {
    let dir = tempfile::tempdir().unwrap();
    let key = SignerKey::generate("example.com/audit/witnessed").unwrap();
    let log_key = key.verifier().to_string();
    let mut witnesses: Vec<WitnessProcess> = ["w1", "w2", "w3"]
        .iter()
        .map(|name| {
            let (private, public) = keygen_witness(dir.path(), name);
            start(
                &private,
                &public,
                &dir.path().join(format!("{name}-state")),
                &log_key,
            )
        })
        .collect();
    let (log, checkpoints) = (dir.path().join("log"), dir.path().join("checkpoints"));
    let all: Vec<&WitnessProcess> = witnesses.iter().collect();
    write(&log, &checkpoints, &key, &all, 300);
    let mut notes: Vec<PathBuf> = std::fs::read_dir(&checkpoints)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    notes.sort();
    assert!(notes.len() >= 3, "{notes:?}");
    let last = std::fs::read_to_string(notes.last().unwrap()).unwrap();
    assert_eq!(
        last.matches("\u{2014} witness.example/").count(),
        3,
        "{last}"
    );
    let (code, text) = verify_with(&log, &checkpoints, &log_key, &all, 2);
    assert_eq!(code, Some(0), "{text}");
    assert!(
        text.contains("a quorum of witnesses cosigned a checkpoint of"),
        "{text}"
    );

    // Roll the log back to 120 records and write a different history on:
    // the witnesses saw more, and its checkpoints are not consistent with it.
    let segments = common::segments(&log);
    let mut kept = 0;
    for segment in &segments {
        let text = std::fs::read_to_string(segment).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        if kept + lines.len() <= 120 {
            kept += lines.len();
            continue;
        }
        let keep = 120 - kept;
        kept = 120;
        if keep == 0 {
            std::fs::remove_file(segment).unwrap();
        } else {
            std::fs::write(segment, lines[..keep].join("\n") + "\n").unwrap();
        }
    }
    let forked_checkpoints = dir.path().join("forked-checkpoints");
    write(&log, &forked_checkpoints, &key, &all, 400);
    let mut forked: Vec<PathBuf> = std::fs::read_dir(&forked_checkpoints)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    forked.sort();
    let newest = std::fs::read_to_string(forked.last().unwrap()).unwrap();
    assert_eq!(
        newest.matches("\u{2014} witness.example/").count(),
        0,
        "{newest}"
    );
    let (code, text) = verify_with(&log, &forked_checkpoints, &log_key, &all, 1);
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains("no-quorum"), "{text}");

    // A witness restarted keeps what it cosigned: it answers 409 with its size.
    let restarted = {
        let w = &mut witnesses[0];
        stop(w);
        start(
            &w.key.clone(),
            &w.public.clone(),
            &w.state.clone(),
            &log_key,
        )
    };
    let (_, note) = Checkpoint::open(&last, &[key.verifier()])
        .map(|(c, _)| (c, last.clone()))
        .unwrap();
    let (status, answer) = add_checkpoint(&restarted.address, &format!("old 0\n\n{note}"));
    assert_eq!(status, 409, "{answer}");
    assert!(answer.contains("text/x.tlog.size"), "{answer}");
    witnesses[0] = restarted;
    for witness in &mut witnesses {
        stop(witness);
    }
}

#[test]
fn hostile_requests_are_refused_with_the_statuses_the_spec_names() {
    let dir = tempfile::tempdir().unwrap();
    let key = SignerKey::generate("example.com/audit/hostile").unwrap();
    let (private, public) = keygen_witness(dir.path(), "w9");
    let mut witness = start(
        &private,
        &public,
        &dir.path().join("state"),
        &key.verifier().to_string(),
    );
    let address = witness.address.clone();
    let empty = Checkpoint {
        origin: "example.com/audit/hostile".into(),
        size: 0,
        head: audit_layer::chain::GENESIS,
        root: Some(audit_layer::merkle::empty_root()),
    };
    let grown = Checkpoint {
        size: 5,
        root: Some(audit_layer::chain::Hash::of(b"five")),
        ..empty.clone()
    };
    // Unknown log, a signature by an impostor key of the same name, a bad proof line.
    let stranger = SignerKey::generate("example.com/other").unwrap();
    let unknown = Checkpoint {
        origin: "example.com/other".into(),
        ..empty.clone()
    };
    assert_eq!(
        add_checkpoint(&address, &format!("old 0\n\n{}", unknown.sign(&stranger))).0,
        404
    );
    let impostor = SignerKey::generate("example.com/audit/hostile").unwrap();
    assert_eq!(
        add_checkpoint(&address, &format!("old 0\n\n{}", empty.sign(&impostor))).0,
        403
    );
    assert_eq!(
        add_checkpoint(
            &address,
            &format!("old 0\nnot base64!\n\n{}", empty.sign(&key))
        )
        .0,
        400
    );
    assert_eq!(
        add_checkpoint(&address, &format!("old 9\n\n{}", empty.sign(&key))).0,
        400,
        "old > size"
    );
    // Text changed after signing: the signature no longer holds.
    assert_eq!(
        add_checkpoint(
            &address,
            &format!("old 0\n\n{}", grown.sign(&key).replace("\n5\n", "\n6\n"))
        )
        .0,
        403
    );
    // Size 0 with another root than the empty tree's.
    let bad_empty = Checkpoint {
        root: Some(audit_layer::chain::Hash::of(b"x")),
        ..empty.clone()
    };
    assert_eq!(
        add_checkpoint(&address, &format!("old 0\n\n{}", bad_empty.sign(&key))).0,
        422
    );
    // A first checkpoint, then one whose proof does not verify.
    assert_eq!(
        add_checkpoint(&address, &format!("old 0\n\n{}", grown.sign(&key))).0,
        200
    );
    let later = Checkpoint {
        size: 9,
        root: Some(audit_layer::chain::Hash::of(b"nine")),
        ..empty.clone()
    };
    let forged_proof = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n".repeat(3);
    assert_eq!(
        add_checkpoint(
            &address,
            &format!("old 5\n{forged_proof}\n{}", later.sign(&key))
        )
        .0,
        422
    );
    // Equal sizes with another root; a stale old size.
    let other_five = Checkpoint {
        root: Some(audit_layer::chain::Hash::of(b"another five")),
        ..grown.clone()
    };
    assert_eq!(
        add_checkpoint(&address, &format!("old 5\n\n{}", other_five.sign(&key))).0,
        422
    );
    assert_eq!(
        add_checkpoint(&address, &format!("old 3\n\n{}", later.sign(&key))).0,
        409
    );
    // Too many proof lines, a huge body, the wrong method, another path.
    let many = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n".repeat(64);
    assert_eq!(
        add_checkpoint(&address, &format!("old 5\n{many}\n{}", later.sign(&key))).0,
        400
    );
    let (status, _) = post(
        &address,
        b"POST /add-checkpoint HTTP/1.1\r\nContent-Length: 10000000\r\n\r\n",
    );
    assert_eq!(status, 413);
    assert_eq!(
        post(
            &address,
            b"GET /add-checkpoint HTTP/1.1\r\nConnection: close\r\n\r\n"
        )
        .0,
        405
    );
    assert_eq!(
        post(
            &address,
            b"POST /elsewhere HTTP/1.1\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        )
        .0,
        404
    );
    let (status, _) = post(&address, &[b'x'; 20_000]);
    assert_eq!(status, 400, "headers larger than 16 KiB");
    // Still serving, and still at size 5.
    let (status, body) = add_checkpoint(&address, &format!("old 0\n\n{}", empty.sign(&key)));
    assert_eq!(status, 409);
    assert!(body.ends_with("5\n"), "{body}");
    stop(&mut witness);
}
