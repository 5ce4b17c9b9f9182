//! Record: the vocabulary every stage shares, and the exact bytes of a
//! record.
//!
//! Promises: an event is encoded to one canonical JSON line whose bytes, and
//! the SHA-256 chain that links them, are exactly what `FORMAT.md`
//! specifies; a line read back parses strictly or not at all. Text shown to
//! a person is escaped (`terminal_text`).
//!
//! - `event`: [`AuditEvent`](crate::AuditEvent) and its builder;
//! - `outcome`: [`Outcome`](crate::Outcome) and [`FailureKind`](crate::FailureKind);
//! - `code_location`: [`CodeLocation`](crate::CodeLocation);
//! - `line`: the line's schema, and [`AuditRecord`](crate::AuditRecord), a line read back;
//! - `encode`, `chain`: the canonical line and its hash chain;
//! - `anchor`: where a log cut by retention begins;
//! - `esignature`: electronic signatures, carried in a record's context;
//! - `glob`: the patterns rules files and reports write;
//! - `changes`: the difference between `before` and `after`;
//! - `time`: timestamps as the format writes them;
//! - `terminal_text`: how any text of a record is shown to a person.
//!
//! May use: nothing else in the crate.

pub(crate) mod anchor;
pub mod chain;
pub(crate) mod changes;
pub(crate) mod code_location;
pub(crate) mod encode;
pub(crate) mod esignature;
pub(crate) mod event;
pub(crate) mod glob;
pub(crate) mod line;
pub(crate) mod outcome;
pub(crate) mod terminal_text;
pub(crate) mod time;

pub use code_location::*;
pub use event::*;
pub use line::*;
pub use outcome::*;
