//! The PostgreSQL store: one place for a fleet's trails, with separation of
//! duties (feature `postgres`).
//!
//! - `store`: [`PgStore`], a connection, and what an operator does with one:
//!   install the schema, list streams, retire old records, keep checkpoints;
//! - `schema.sql`: the tables, roles, triggers and functions, installed by
//!   [`PgStore::init`]; `install_check`: what a weakened install looks like;
//! - `columns`: the indexed columns a stored line is given, and the check
//!   that they still say what the line says;
//! - `rows`: reading a stream back in seq order, in constant memory;
//! - `sink`: [`PgSink`], the writer's way in;
//! - `ship`: [`Shipper`], the way in for a file log (`audit ship`).
//!
//! A record is stored as its exact line, so the chain verifies against the
//! database exactly as against files. Each writer appends its own chain as a
//! *stream*, named by [`default_stream_name`] unless told otherwise.
//!
//! May use: `record`, `store::follow`.

mod columns;
mod install_check;
mod rows;
mod ship;
mod sink;
#[allow(clippy::module_inception)]
mod store;

pub(crate) use columns::{as_column, to_micros};
pub(crate) use rows::{ROW_COLUMNS, StoredRow, decode as decode_row, for_each_row};
pub use ship::{ShipError, ShipOptions, ShipProgress, Shipper};
pub use sink::PgSink;
pub use store::{PgError, PgStore, StreamSummary, default_stream_name};
