//! On a real filesystem that runs out of space: under the default policy the
//! writer holds the records and retries, and once space is freed everything
//! is written, with the outage noted in the chain; under `FailRecords` the
//! records are given up, counted, and their loss noted.
//!
//! Needs to mount a small tmpfs (root); where it cannot, it says why and
//! checks nothing (the same policies are tested with an injected failure in
//! `writer_loses_nothing.rs`).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use audit_layer::{Ack, AuditEvent, AuditWriter, FailurePolicy, FileSink, LogReader, Verifier};

struct TinyDisk {
    path: PathBuf,
    _dir: tempfile::TempDir,
}

impl TinyDisk {
    fn mount() -> Result<TinyDisk, String> {
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        let path = dir.path().join("disk");
        std::fs::create_dir(&path).map_err(|e| e.to_string())?;
        let output = Command::new("mount")
            .args(["-t", "tmpfs", "-o", "size=256k,mode=0700", "tmpfs"])
            .arg(&path)
            .output()
            .map_err(|e| format!("cannot run mount: {e}"))?;
        if !output.status.success() {
            return Err(String::from_utf8_lossy(&output.stderr).trim().to_owned());
        }
        Ok(TinyDisk { path, _dir: dir })
    }

    /// Fills the disk but for `spare` bytes; returns the filler's path.
    fn fill(&self, spare: u64) -> PathBuf {
        let filler = self.path.join("filler");
        let mut file = std::fs::File::create(&filler).unwrap();
        let chunk = vec![0u8; 4096];
        while std::io::Write::write_all(&mut file, &chunk).is_ok() {}
        drop(file);
        let size = std::fs::metadata(&filler).unwrap().len();
        std::fs::OpenOptions::new()
            .write(true)
            .open(&filler)
            .unwrap()
            .set_len(size - spare)
            .unwrap();
        filler
    }
}

impl Drop for TinyDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.path).status();
    }
}

fn event(n: u32) -> AuditEvent {
    AuditEvent::builder("payment.capture")
        .actor("billing")
        .resource(format!("payment:{n}"))
        .context("note", "x".repeat(400))
        .build()
}

fn wait_until_failing(handle: &audit_layer::AuditHandle) {
    while !handle.stats().failing {
        std::thread::yield_now();
    }
}

fn records(log: &Path) -> Vec<audit_layer::AuditRecord> {
    LogReader::open(log)
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

#[test]
fn block_and_retry_writes_everything_once_space_is_freed() {
    let disk = match TinyDisk::mount() {
        Ok(disk) => disk,
        Err(why) => return eprintln!("skipped: a tmpfs cannot be mounted here ({why})"),
    };
    let log = disk.path.join("log");
    let (handle, guard) = AuditWriter::builder()
        .spawn(FileSink::open(&log).unwrap())
        .unwrap();
    let filler = disk.fill(16 * 1024);
    let acks: Vec<Ack> = (0..200)
        .map(|n| handle.submit_acked(event(n)).unwrap())
        .collect();
    wait_until_failing(&handle);
    assert!(
        handle
            .stats()
            .last_error
            .unwrap()
            .to_lowercase()
            .contains("space")
    );
    std::fs::remove_file(filler).unwrap();
    for ack in acks {
        ack.wait().expect("retried until space was freed");
    }
    let stats = handle.stats();
    assert!(stats.write_errors > 0 && stats.failed == 0 && !stats.failing);
    guard.shutdown(Duration::from_secs(10)).unwrap();

    let records = records(&log);
    let payments = records
        .iter()
        .filter(|r| r.action == "payment.capture")
        .count();
    assert_eq!(payments, 200);
    let outage = records
        .iter()
        .find(|r| r.action == "audit.outage")
        .expect("the outage is in the chain");
    let details = outage.after.as_ref().unwrap();
    assert_eq!(details["records_lost"], 0);
    assert!(details["records_delayed"].as_u64().unwrap() > 0);
    assert!(details["since"].as_str().unwrap() <= details["until"].as_str().unwrap());
    assert!(Verifier::new().verify_path(&log).unwrap().is_intact());
}

#[test]
fn fail_records_counts_and_notes_what_was_lost() {
    let disk = match TinyDisk::mount() {
        Ok(disk) => disk,
        Err(why) => return eprintln!("skipped: a tmpfs cannot be mounted here ({why})"),
    };
    let log = disk.path.join("log");
    let (handle, guard) = AuditWriter::builder()
        .failure_policy(FailurePolicy::FailRecords)
        .spawn(FileSink::open(&log).unwrap())
        .unwrap();
    let filler = disk.fill(16 * 1024);
    let results: Vec<_> = (0..200)
        .map(|n| handle.submit_acked(event(n)).unwrap().wait())
        .collect();
    let lost = results.iter().filter(|r| r.is_err()).count() as u64;
    assert!(lost > 0, "the disk should have filled up");
    assert_eq!(handle.stats().failed, lost);
    std::fs::remove_file(filler).unwrap();
    handle
        .submit_acked(event(999))
        .unwrap()
        .wait()
        .expect("space is back");
    guard.shutdown(Duration::from_secs(10)).unwrap();

    let records = records(&log);
    let outage = records
        .iter()
        .find(|r| r.action == "audit.outage")
        .expect("the loss is in the chain");
    assert_eq!(outage.after.as_ref().unwrap()["records_lost"], lost);
    assert_eq!(outage.outcome.status(), "failure");
    let kept = records
        .iter()
        .filter(|r| r.action == "payment.capture")
        .count() as u64;
    assert_eq!(kept + lost, 201);
    assert!(Verifier::new().verify_path(&log).unwrap().is_intact());
}
