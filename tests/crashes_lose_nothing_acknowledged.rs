//! A writer killed with SIGKILL at random moments (and, every other time,
//! with the unacknowledged end of its log cut as a power failure would)
//! loses no acknowledged record; the chain verifies after each restart and
//! every torn tail is repaired and noted; after each restart the Merkle
//! tree's tiles agree with the records. A process that exits normally
//! loses nothing; the Abort policy aborts.

use std::os::unix::process::ExitStatusExt;
use std::process::Command;

mod common;

use audit_layer::{LogReader, Verifier};

/// The crash harness example, which `cargo test` builds beside the tests.
fn harness() -> Command {
    Command::new(common::example("crash_harness"))
}

#[test]
fn twenty_four_kills_lose_no_acknowledged_record_and_tiles_agree() {
    let dir = tempfile::tempdir().unwrap();
    let output = harness()
        .args(["--kills", "24", "--dir"])
        .arg(dir.path())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{text}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let row: Vec<&str> = text
        .lines()
        .nth(2)
        .unwrap()
        .split('|')
        .map(str::trim)
        .collect();
    let number = |column: usize| row[column].parse::<u64>().unwrap();
    assert_eq!(number(1), 24, "kills: {text}");
    assert!(number(2) >= 24, "acknowledged calls: {text}");
    assert!(
        number(4) >= 1,
        "power cuts should have left torn tails to repair: {text}"
    );
    assert_eq!(number(4), number(5), "every torn tail noted: {text}");
    assert_eq!(
        number(6),
        24,
        "the tiles checked after every restart: {text}"
    );
    assert_eq!((number(7), number(8)), (0, 0), "{text}");
    assert!(Verifier::new().verify_path(dir.path()).unwrap().is_intact());
}

#[test]
fn a_process_that_exits_normally_loses_nothing() {
    for mode in ["exit-normally", "exit-after-shutdown"] {
        let dir = tempfile::tempdir().unwrap();
        let status = harness()
            .arg(mode)
            .arg(dir.path())
            .arg("5000")
            .status()
            .unwrap();
        assert!(status.success(), "{mode}");
        let records: Vec<_> = LogReader::open(dir.path())
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(records.len(), 5000, "{mode}");
        assert!(
            Verifier::new().verify_path(dir.path()).unwrap().is_intact(),
            "{mode}"
        );
    }
}

#[test]
fn the_abort_policy_aborts_the_process() {
    let output = harness().arg("abort-on-failure").output().unwrap();
    assert_eq!(
        output.status.signal(),
        Some(libc_sigabrt()),
        "{:?}",
        output.status
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("aborting as the failure policy requires"),
        "{stderr}"
    );
    assert!(stderr.contains("no space left on device"), "{stderr}");
}

/// SIGABRT, without a libc dependency for one constant.
fn libc_sigabrt() -> i32 {
    6
}
