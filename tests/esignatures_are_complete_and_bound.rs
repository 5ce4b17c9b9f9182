//! An electronic signature (21 CFR Part 11 §11.50, §11.70) is recorded
//! whole or not at all: signer, printed name, meaning, time, and the
//! SHA-256 of the exact version signed, bound to the record of the action,
//! from the library, from `#[audited(esignature = ...)]` and from a body.

use std::time::Duration;

use audit_layer::{
    AuditEvent, AuditLayer, AuditRecord, AuditWriter, DocumentHash, ESignature, ESignatureError,
    MemorySink, SignatureMeaning, Timestamp, audited, record_esignature,
};
use tracing_subscriber::prelude::*;

const SOP: &[u8] = b"SOP-7 version 3: cleaning of the filling line";

fn signature(meaning: SignatureMeaning) -> ESignature {
    ESignature::new(
        "u-17",
        "Dr. Jane Roe",
        meaning,
        "sop:7",
        DocumentHash::of(SOP),
    )
    .unwrap()
}

fn records_of(run: impl FnOnce(&audit_layer::AuditHandle)) -> Vec<AuditRecord> {
    let (sink, log) = MemorySink::new();
    let (audit, guard) = AuditWriter::builder().spawn(sink).unwrap();
    let subscriber = tracing_subscriber::registry().with(AuditLayer::new(audit.clone()));
    tracing::subscriber::with_default(subscriber, || run(&audit));
    guard.shutdown(Duration::from_secs(5)).unwrap();
    log.records().unwrap()
}

#[test]
fn a_part_left_empty_is_an_error_not_an_empty_field() {
    let hash = DocumentHash::of(SOP);
    let cases = [
        (
            ESignature::new(
                "",
                "Dr. Jane Roe",
                SignatureMeaning::Approval,
                "sop:7",
                hash,
            ),
            "signer",
        ),
        (
            ESignature::new("u-17", "   ", SignatureMeaning::Approval, "sop:7", hash),
            "printed name",
        ),
        (
            ESignature::new("u-17", "Dr. Jane Roe", SignatureMeaning::Approval, "", hash),
            "resource",
        ),
    ];
    for (made, part) in cases {
        assert_eq!(made.unwrap_err(), ESignatureError::Missing(part));
    }
    assert_eq!(
        ESignature::new(
            "u-17",
            "Jane\u{1b}[2J",
            SignatureMeaning::Review,
            "sop:7",
            hash
        )
        .unwrap_err(),
        ESignatureError::ControlCharacter("printed name")
    );
    assert!(SignatureMeaning::parse("approve it").is_err());
    assert!(
        DocumentHash::from_hex(&"A".repeat(64)).is_err(),
        "lowercase only"
    );
}

#[test]
fn a_signature_event_reads_back_whole() {
    let at: Timestamp = "2026-11-02T09:30:00Z".parse().unwrap();
    let records = records_of(|audit| {
        audit
            .submit(
                signature(SignatureMeaning::Custom("verification".into()))
                    .signed_at(at)
                    .event("sop.verify"),
            )
            .unwrap();
    });
    let read = ESignature::from_record(&records[0])
        .expect("a signature")
        .unwrap();
    assert_eq!(read.signer(), "u-17");
    assert_eq!(read.printed_name(), "Dr. Jane Roe");
    assert_eq!(read.meaning().as_str(), "verification");
    assert_eq!(read.time(), at);
    assert_eq!(read.resource(), "sop:7");
    assert_eq!(
        read.document().to_string(),
        audit_layer::chain::Hash::of(SOP).to_string()
    );
    assert_eq!(records[0].actor.as_deref(), Some("u-17"));
    assert_eq!(records[0].time, at);
}

#[test]
fn a_record_with_part_of_a_signature_reads_as_an_error() {
    let records = records_of(|audit| {
        audit
            .submit(
                AuditEvent::builder("sop.approve")
                    .actor("u-17")
                    .resource("sop:7")
                    .context("esignature.signer", "u-17")
                    .context("esignature.meaning", "approval")
                    .build(),
            )
            .unwrap();
        audit
            .submit(AuditEvent::builder("sop.read").actor("u-17").build())
            .unwrap();
    });
    assert!(matches!(
        ESignature::from_record(&records[0]),
        Some(Err(ESignatureError::Missing(_)))
    ));
    assert!(ESignature::from_record(&records[1]).is_none());
}

#[audited(action = "sop.approve", actor = user, esignature = signature)]
fn approve(user: &str, signature: &ESignature) -> Result<(), String> {
    Ok(())
}

#[audited(action = "sop.review")]
fn review(user: &str) -> Result<(), ESignatureError> {
    let made = ESignature::new(
        user,
        "Rick Deckard",
        SignatureMeaning::Review,
        "sop:7",
        DocumentHash::of(SOP),
    )?;
    record_esignature(&made);
    Ok(())
}

#[test]
fn audited_calls_carry_the_signature_they_name_or_record() {
    let records = records_of(|_| {
        approve("u-17", &signature(SignatureMeaning::Approval)).unwrap();
        review("u-21").unwrap();
    });
    assert_eq!(records.len(), 2);
    let approved = ESignature::from_record(&records[0])
        .expect("signed")
        .unwrap();
    assert_eq!(approved.meaning(), &SignatureMeaning::Approval);
    assert_eq!(
        records[0].resource.as_deref(),
        Some("sop:7"),
        "the signed document is the resource"
    );
    let reviewed = ESignature::from_record(&records[1])
        .expect("signed")
        .unwrap();
    assert_eq!(reviewed.printed_name(), "Rick Deckard");
    assert_eq!(
        records[1].actor.as_deref(),
        Some("u-21"),
        "the signer is the actor when none was named"
    );
}
