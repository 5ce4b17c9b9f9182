//! Read: reading a log back.
//!
//! Promises: what is presented was read from the log as it is; views meant
//! for a person escape what they print.
//!
//! - `reader`: [`LogReader`](crate::LogReader);
//! - `query`: [`RecordFilter`](crate::RecordFilter);
//! - `timeline`: one resource's story ([`Timeline`](crate::Timeline));
//! - `export`: the SIEM formats (ECS, CADF, CEF).
//!
//! May use: `record` and `store`.

pub mod export;
pub(crate) mod query;
pub(crate) mod reader;
pub(crate) mod timeline;

pub use reader::*;
