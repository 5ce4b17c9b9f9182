//! Store: where lines are kept.
//!
//! Promises: appends only; files owner-only, opened without following links
//! the store did not make; a torn tail after a crash is detected, kept aside
//! and repaired with a record of the repair; segments are named and listed
//! so that nothing planted reads as part of the log.
//!
//! - `sink`: the [`Sink`](crate::store::sink::Sink) trait, [`FileSink`](crate::FileSink)
//!   (segment files, tail recovery) and [`MemorySink`](crate::MemorySink);
//! - `segment`: segment file names and listing;
//! - `safe_open`: opening files and directories without following links;
//! - `follow`: reading a live file log's new lines as a writer appends;
//! - `postgres` (feature `postgres`): the PostgreSQL store, with
//!   [`PgSink`](crate::PgSink) and [`Shipper`](crate::Shipper).
//!
//! May use: `record`.

pub(crate) mod follow;
#[cfg(feature = "postgres")]
pub(crate) mod postgres;
pub(crate) mod safe_open;
pub(crate) mod segment;
pub mod sink;
