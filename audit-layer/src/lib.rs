//! Tamper-evident audit trails for Rust services.
//!
//! audit-layer answers the questions an auditor, a lawyer or an incident
//! review asks: *who did this, when, to what, with what result, and can you
//! prove the log was not edited?*
//!
//! Mark a handler with [`#[audited]`](audited) and add one [`AuditLayer`] to
//! the tracing subscriber: every call then makes exactly one record, chained
//! by SHA-256 into an append-only log.
//!
//! ```
//! use audit_layer::{audited, AuditLayer, AuditWriter, FileSink, Verifier};
//! use tracing_subscriber::prelude::*;
//!
//! #[audited(action = "post.publish", actor = user, resource = id)]
//! fn publish(user: &str, id: u64) -> Result<(), String> {
//!     Ok(())
//! }
//!
//! let dir = tempfile::tempdir()?;
//! let (audit, guard) = AuditWriter::builder()
//!     .service("blog-api")
//!     .spawn(FileSink::open(dir.path())?)?;
//! let subscriber = tracing_subscriber::registry().with(AuditLayer::new(audit.clone()));
//! tracing::subscriber::with_default(subscriber, || publish("alice", 42))?;
//! guard.shutdown(std::time::Duration::from_secs(5))?;
//!
//! let report = Verifier::new().verify_path(dir.path())?;
//! assert!(report.is_intact(), "{:?}", report.findings);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! The crate follows the data flow, one module per stage (see
//! `ARCHITECTURE.md`):
//!
//! - **Capture**: [`#[audited]`](audited) and [`AuditLayer`] turn a call into
//!   an [`AuditEvent`], with the outcome that really happened
//!   ([`ClassifyFailure`]) and the context of the enclosing spans;
//!   [`record_before`], [`set_actor`] and their siblings add what the body
//!   learns.
//! - **Record**: [`AuditEvent`] and [`AuditRecord`], [`Outcome`],
//!   [`Timestamp`], and the [`chain`] that links each line's exact bytes to
//!   the one before; [`terminal_safe`] shows any of it to a person.
//! - **Write**: [`AuditWriter`] gives each event its `seq` and link on a
//!   thread of its own, losslessly, applying [`Privacy`] before hashing, with
//!   the [`Durability`] asked for; in strict mode a caller waits on its
//!   [`Ack`].
//! - **Store**: a [`Sink`](sink::Sink) keeps the lines: [`FileSink`] (segment
//!   files, torn-tail repair) or [`MemorySink`] (tests).
//! - **Proof**: [`Verifier`] checks every hash, link and seq and reports
//!   every problem with a stable code; [`Checkpoint`]s, [`Anchor`]s and
//!   [`ForwardSeals`] make truncation and rewrites visible.
//! - **Read**: [`LogReader`], [`RecordFilter`], [`Timeline`] and [`export`]
//!   (ECS, CADF, CEF) read a log back; [`LogFollower`] follows a live one;
//!   [`ReportBuilder`] makes a [`ComplianceReport`] (HTML and JSON) that
//!   [`ReportSignature`] signs. [`ESignature`] records an electronic
//!   signature bound to a document version.
//! - **Watch** (feature `watch`): `watch::Engine` evaluates detection rules
//!   (`watch::RuleSet`) over records as they are written and raises
//!   `watch::Alert`s; the engine of `audit watch`.
//!
//! The on-disk format is a public contract, specified in `FORMAT.md`.
//!
//! # Features
//!
//! - `testing`: `testing::capture` and `testing::Expect`, to assert in a
//!   test which records a request produced.
//! - `http`: HTTP handlers are classified by the status they answer with
//!   (`http_status`).
//! - `axum`: `http`, and an `impl IntoResponse` handler is classified by the
//!   status of the response it becomes.
//! - `postgres`: the PostgreSQL store (`PgStore`, `PgSink`, `Shipper`).
//! - `watch`: detection rules over a trail (`watch`), with TOML rules files,
//!   regexes and time zones.
//!
//! # Examples
//!
//! Without the attribute, events can be submitted to the writer directly:
//!
//! ```
//! use audit_layer::{AuditEvent, AuditWriter, FileSink, Verifier};
//!
//! let dir = tempfile::tempdir()?;
//! let (audit, guard) = AuditWriter::builder()
//!     .service("blog-api")
//!     .spawn(FileSink::open(dir.path())?)?;
//!
//! audit.submit(
//!     AuditEvent::builder("user.role_change")
//!         .actor("alice")
//!         .resource("user:bob")
//!         .before(serde_json::json!({"role": "editor"}))
//!         .after(serde_json::json!({"role": "admin"}))
//!         .context("ticket", "SEC-1234")
//!         .build(),
//! )?;
//! guard.shutdown(std::time::Duration::from_secs(5))?;
//!
//! let report = Verifier::new().verify_path(dir.path())?;
//! assert!(report.is_intact(), "{:?}", report.findings);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![warn(missing_docs, unreachable_pub)]

mod capture;
mod proof;
mod read;
mod record;
mod store;
#[cfg(feature = "testing")]
pub mod testing;
#[cfg(feature = "watch")]
pub mod watch;
mod write;

#[cfg(feature = "http")]
pub use capture::http_status;
pub use proof::merkle;
pub use read::export;
pub use record::chain;
pub use store::sink;

pub use audit_macros::audited;
pub use capture::call::AuditUnrecorded;
pub use capture::calls_within::audited_calls_within;
pub use capture::classify::ClassifyFailure;
pub use capture::current_call::{
    record_after, record_before, record_esignature, set_actor, set_context, set_resource,
};
pub use capture::layer::AuditLayer;
pub use proof::checkpoint::{
    Checkpoint, CheckpointDir, CheckpointError, CheckpointSink, Checkpoints, RetentionPolicy,
};
pub use proof::cosignature::{CosignerKey, CosignerVerifier};
pub use proof::forward_seal::{DEFAULT_EPOCH, ForwardSeals};
pub use proof::note::{NoteError, SignerKey, VerifierKey};
pub use proof::report::{
    AnchorStatus, CheckedLine, Finding, FindingCode, MAX_LISTED_FINDINGS, Report, SealStatus,
    VerifyError,
};
pub use proof::seal::{Seal, SealError, SealVerifyingKey, SealingKey};
pub use proof::tiles::LogTree;
pub use proof::verify::Verifier;
pub use proof::witness::{Witness, WitnessAnswer};
pub use proof::witness_client::{WitnessClient, WitnessError};
pub use read::bundle::{BundleError, BundledRecord, CheckedBundle, EvidenceBundle};
pub use read::export::ExportFormat;
pub use read::query::RecordFilter;
pub use read::report::builder::ReportBuilder;
pub use read::report::escape::MAX_SHOWN_CHARS;
pub use read::report::model::{
    ActivityBucket, ActorAccess, ComplianceReport, FindingLine, IntegrityStatement, MAX_RESOURCES,
    MAX_ROWS, ReportRow, ResourceAccess, SignatureRow,
};
pub use read::report::options::{
    DEFAULT_PRIVILEGED_ACTIONS, DEFAULT_TRAIL_ACTIONS, ReportKind, ReportOptions,
};
pub use read::report::signature::{ReportSignature, ReportSignatureError};
#[cfg(feature = "postgres")]
pub use read::stored::{StoredRecord, select_stored};
pub use read::timeline::{Timeline, TimelineWriter};
pub use read::{LogReader, ReadError, stored_line};
pub use record::anchor::Anchor;
pub use record::changes::{Change, diff};
pub use record::esignature::{
    DocumentHash, ESIGNATURE_KEYS, ESignature, ESignatureError, SignatureMeaning,
};
pub use record::terminal_text::{TerminalSafe, terminal_safe};
pub use record::time::{Timestamp, TimestampError};
pub use record::{
    AuditEvent, AuditEventBuilder, AuditRecord, CodeLocation, FailureKind, Outcome, RecordKind,
    RecordParseError,
};
pub use store::follow::LogFollower;
#[cfg(feature = "postgres")]
pub use store::postgres::{
    PgError, PgSink, PgStore, ShipError, ShipOptions, ShipProgress, Shipper, StreamSummary,
    default_stream_name,
};
pub use store::sink::{FileSink, MemoryLog, MemorySink};
pub use write::ack::{Ack, WriteError};
pub use write::handle::{AuditHandle, WriterGuard};
pub use write::privacy::{PSEUDONYM_PREFIX, Privacy, PseudonymKey, REDACTED};
pub use write::settings::{
    Durability, FailurePolicy, ShutdownError, ShutdownReport, SubmitError, WriterStats,
};
pub use write::writer::{AuditWriter, WriterBuilder};

/// Not public API: what `#[audited]`'s generated code and the benchmarks
/// need. May change in any release.
#[doc(hidden)]
pub mod __private {
    use crate::record::RecordDefaults;
    use crate::record::chain::{ChainHead, Hash};
    use crate::record::encode::encode_line;

    pub use crate::capture::call::{
        Body, Call, CaughtPanic, FailViaError, FailViaPanic, OwnSection, Unrecorded, catch_value,
    };
    pub use crate::capture::classify::{
        OutcomeOf, ViaClassify, ViaDebug, ViaDisplay, ViaHttpStatus, ViaSuccess,
    };
    pub use crate::capture::field_text::{
        TextOf, TextViaCopy, TextViaDisplay, debug_field, display_field, field_text,
    };
    pub use crate::capture::hook::{CallStart, Completion, Site, any_layer_alive};
    #[cfg(feature = "axum")]
    pub use crate::capture::http_status::into_response;
    pub use crate::capture::returned_future::{AuditedFuture, boxed_future};
    pub use crate::record::static_code_location;
    pub use crate::{FailureKind, Outcome};
    pub use compact_str::CompactString;
    pub use std::borrow::Cow;
    pub use std::string::ToString;
    pub use tracing;
    pub use tracing::Instrument;

    /// Serialises and seals one record as the writer thread does, for
    /// measuring the single-core ceiling of the chain.
    pub fn encode_for_bench(buf: &mut Vec<u8>, event: &crate::AuditEvent, head: ChainHead) -> Hash {
        encode_line(
            buf,
            event,
            head.next_seq,
            head.prev,
            &RecordDefaults::default(),
        )
    }
}
