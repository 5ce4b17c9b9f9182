//! Write: the lossless writer.
//!
//! Promises: every event handed over is written or counted as not written,
//! never silently dropped; records get their `seq` and chain link in order;
//! privacy rules apply before anything is hashed; batches reach storage with
//! the durability asked for (group commit, acknowledgements in strict
//! mode), and sink failures follow the failure policy and leave a record.
//!
//! - `writer`: [`AuditWriter`](crate::AuditWriter) and its builder;
//! - `handle`: [`AuditHandle`](crate::AuditHandle) and [`WriterGuard`](crate::WriterGuard);
//! - `encoder`, `worker`: the writer thread's two stages;
//! - `settings`: durability, failure policy, errors, reports and counters;
//! - `ack`: the acknowledgement a strict caller waits for;
//! - `privacy`: redaction and pseudonyms.
//!
//! May use: `record`, `store` (where batches go) and `proof` (the writer
//! signs checkpoints and seals as it writes).

pub(crate) mod ack;
pub(crate) mod encoder;
pub(crate) mod handle;
pub(crate) mod privacy;
pub(crate) mod settings;
pub(crate) mod worker;
pub(crate) mod writer;
