//! Read: reading a log back.
//!
//! Promises: what is presented was read from the log as it is; views meant
//! for a person escape what they print.
//!
//! - `reader`: [`LogReader`](crate::LogReader);
//! - `query`: [`RecordFilter`](crate::RecordFilter);
//! - `timeline`: one resource's story ([`Timeline`](crate::Timeline));
//! - `export`: the SIEM formats (ECS, CADF, CEF);
//! - `report`: compliance reports (HTML and JSON), signed on request;
//! - `bundle`: evidence bundles, records with their Merkle proofs, checked
//!   offline;
//! - `stored`: selecting records from the PostgreSQL store through its
//!   indexes, each checked on its own (feature `postgres`).
//!
//! May use: `record`, `store`, and `proof` for finding codes.

pub(crate) mod bundle;
pub mod export;
pub(crate) mod query;
pub(crate) mod reader;
pub(crate) mod report;
#[cfg(feature = "postgres")]
pub(crate) mod stored;
pub(crate) mod timeline;

pub use reader::*;
