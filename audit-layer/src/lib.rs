//! Tamper-evident audit trails for Rust services.
//!
//! audit-layer answers the questions an auditor, a lawyer or an incident
//! review asks: *who did this, when, to what, with what result, and can you
//! prove the log was not edited?*
//!
//! - [`AuditEvent`]: what happened (actor, action, resource, outcome,
//!   before/after state, context).
//! - [`AuditWriter`]: a lossless writer thread that gives each record a
//!   `seq`, links it to the previous record by SHA-256 and writes batches
//!   durably to a [`Sink`](sink::Sink): [`FileSink`] (segment files) or
//!   [`MemorySink`] (tests).
//! - [`Verifier`]: checks every hash, link and seq of a log and reports every
//!   problem with a stable code; the `audit verify` command wraps it.
//! - [`LogReader`], [`RecordFilter`], [`Timeline`] and [`export`]: reading a
//!   log back, selecting records, one resource's story, and the SIEM
//!   formats (ECS, CADF, CEF).
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
//!
//! # Examples
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
mod write;

#[cfg(feature = "http")]
pub use capture::http_status;
pub use read::export;
pub use record::chain;
pub use store::sink;

pub use audit_macros::audited;
pub use capture::call::AuditUnrecorded;
pub use capture::calls_within::audited_calls_within;
pub use capture::classify::ClassifyFailure;
pub use capture::current_call::{
    record_after, record_before, set_actor, set_context, set_resource,
};
pub use capture::layer::AuditLayer;
pub use proof::checkpoint::{
    Checkpoint, CheckpointDir, CheckpointError, CheckpointSink, Checkpoints, RetentionPolicy,
};
pub use proof::forward_seal::{
    DEFAULT_EPOCH, ForwardSeals, Seal, SealError, SealVerifyingKey, SealingKey,
};
pub use proof::note::{NoteError, SignerKey, VerifierKey};
pub use proof::verify::{
    AnchorStatus, CheckedLine, Finding, FindingCode, MAX_LISTED_FINDINGS, Report, SealStatus,
    Verifier, VerifyError,
};
pub use read::export::ExportFormat;
pub use read::query::RecordFilter;
pub use read::timeline::{Timeline, TimelineWriter};
pub use read::{LogReader, ReadError};
pub use record::anchor::Anchor;
pub use record::changes::{Change, diff};
pub use record::terminal_text::{TerminalSafe, terminal_safe};
pub use record::time::{Timestamp, TimestampError};
pub use record::{
    AuditEvent, AuditEventBuilder, AuditRecord, CodeLocation, FailureKind, Outcome, RecordKind,
    RecordParseError,
};
pub use store::sink::{FileSink, MemoryLog, MemorySink};
pub use write::ack::{Ack, WriteError};
pub use write::privacy::{PSEUDONYM_PREFIX, Privacy, PseudonymKey, REDACTED};
pub use write::writer::{
    AuditHandle, AuditWriter, Durability, FailurePolicy, ShutdownError, ShutdownReport,
    SubmitError, WriterBuilder, WriterGuard, WriterStats,
};

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
