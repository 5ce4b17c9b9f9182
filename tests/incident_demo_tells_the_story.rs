//! The main demo runs end to end and tells its story: the day is recorded,
//! the log verifies, the question about post 42 is answered from the log,
//! and every tampered copy is caught: two by the chain, two only by the
//! signed checkpoints kept outside the log.

mod common;

use std::process::Command;

#[test]
fn the_incident_demo_answers_and_catches_tampering() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("audit-log");
    let output = Command::new(common::example("incident"))
        .arg(&log)
        .output()
        .expect("run the incident example");
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{text}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(text.contains("28 records written"), "{text}");
    let reports = dir.path().join("audit-log-reports");
    let document =
        std::fs::read_to_string(reports.join("post-42.html")).expect("the document report");
    assert!(
        text.contains(&reports.join("post-42.html").display().to_string()),
        "{text}"
    );
    assert!(document.contains("Document trail: post:42"));
    assert!(document.contains("class=\"verdict intact\""));
    assert!(
        document.contains("<td>post.publish</td>"),
        "the publication is in the trail"
    );
    let approved = std::fs::read_to_string(reports.join("post-40.html")).unwrap();
    assert!(
        approved.contains("<strong class=\"signer-name\">Bob</strong>"),
        "the approval is signed"
    );
    assert!(approved.contains("<strong class=\"meaning\">approval</strong>"));
    assert!(
        !document.contains("class=\"signer-name\""),
        "post 42 was never approved"
    );
    let month = &audit_layer::Timestamp::now().to_string()[..7];
    let access = reports.join(format!("access-{month}.html"));
    assert!(text.contains(&access.display().to_string()), "{text}");
    assert!(
        std::fs::read_to_string(access)
            .unwrap()
            .contains("<td>mallory</td>")
    );
    assert!(text.contains("verified 28 records, seq 0..27"), "{text}");
    assert!(text.contains(": intact"), "{text}");
    // Personal data is pseudonymised before it is hashed: never in clear.
    assert!(
        text.contains("bob@example.com appears 0 times in the log; as its pseudonym pseudo:"),
        "{text}"
    );
    assert!(text.contains("Post 42 was published by mallory"), "{text}");
    assert!(text.contains("It was NOT approved"), "{text}");
    assert!(text.contains("Compare post 40: approved by bob"), "{text}");
    assert!(
        text.contains("chain only        audit verify → modified"),
        "{text}"
    );
    assert!(
        text.contains("chain only        audit verify → broken-link"),
        "{text}"
    );
    // The two forgeries a bare chain cannot see are caught by the checkpoints.
    assert_eq!(
        text.matches("chain only        audit verify → intact")
            .count(),
        2,
        "{text}"
    );
    assert!(
        text.contains("with checkpoints  audit verify → rechained"),
        "{text}"
    );
    assert!(
        text.contains("with checkpoints  audit verify → truncated"),
        "{text}"
    );
    // Run again on the same path: it starts a fresh log rather than failing.
    let again = Command::new(common::example("incident"))
        .arg(&log)
        .output()
        .unwrap();
    assert!(again.status.success());
    // And it refuses to delete a directory that is not a log.
    let elsewhere = dir.path().join("precious");
    std::fs::create_dir(&elsewhere).unwrap();
    std::fs::write(elsewhere.join("thesis.txt"), "do not delete").unwrap();
    let refused = Command::new(common::example("incident"))
        .arg(&elsewhere)
        .output()
        .unwrap();
    assert!(!refused.status.success());
    assert!(elsewhere.join("thesis.txt").exists());
}
