//! Compliance reports: the recurring questions of an audit answered from
//! the trail, as one self-contained HTML page and the same content as JSON,
//! with what was verified stated first and signed on request.
//!
//! - `options`: which report ([`ReportKind`](crate::ReportKind)) over which period;
//! - `builder`: one pass over the records ([`ReportBuilder`](crate::ReportBuilder));
//!   `interned`: the names it counts by, each kept once;
//! - `model`: the report's content ([`ComplianceReport`](crate::ComplianceReport)),
//!   and the integrity statement in words;
//! - `html`: the page; `escape`: every value from the trail on it;
//!   `chart`: its inline SVG charts;
//! - `signature`: detached signatures over a report file
//!   ([`ReportSignature`](crate::ReportSignature)).

pub(crate) mod builder;
pub(crate) mod chart;
pub(crate) mod escape;
pub(crate) mod html;
pub(crate) mod interned;
pub(crate) mod model;
pub(crate) mod options;
pub(crate) mod signature;
