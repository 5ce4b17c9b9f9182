//! Proof: tamper evidence, and its checking.
//!
//! Promises: a forged log never reads as intact. The verifier checks every
//! hash, link and `seq`, trusts an anchor or a checkpoint only when a
//! trusted key signed it, and reports every problem with a stable code;
//! signed checkpoints catch truncation and rewrites, forward-secure seals a
//! writer's machine taken over.
//!
//! - `verify`: the [`Verifier`](crate::Verifier); `stored_stream`: the same
//!   checks on a stream of the PostgreSQL store (feature `postgres`);
//! - `chain_walk`: the walk along the chain it makes, after `examine` has
//!   checked each line on its own, with `evidence_checks` against
//!   anchors, checkpoints and seals;
//! - `report`: its [`Report`](crate::Report), findings and their codes;
//! - `merkle`: the RFC 6962 Merkle tree over the records, its proofs and
//!   their checks ([`merkle`](crate::merkle));
//! - `tiles`: that tree on disk beside the segments, as C2SP `tlog-tiles`;
//! - `note`: signed notes (C2SP signed-note); `cosignature`: a witness's
//!   (C2SP tlog-cosignature); `witness`: the witness itself (C2SP
//!   tlog-witness) and the client that asks witnesses to cosign;
//! - `http_post`: the plain HTTP/1.1 POST that client (and the watch's
//!   webhooks) speak;
//! - `checkpoint`: checkpoints, anchors and retention;
//! - `forward_seal`: [`ForwardSeals`](crate::ForwardSeals), the writer's
//!   sealing; `seal`: a seal, its keys and its MAC.
//!
//! May use: `record` and `store` (to read what was kept).

pub(crate) mod chain_walk;
pub(crate) mod checkpoint;
pub(crate) mod cosignature;
pub(crate) mod evidence_checks;
pub(crate) mod examine;
pub(crate) mod forward_seal;
pub(crate) mod http_post;
pub mod merkle;
pub(crate) mod note;
pub(crate) mod report;
pub(crate) mod seal;
#[cfg(feature = "postgres")]
pub(crate) mod stored_stream;
pub(crate) mod tiles;
pub(crate) mod verify;
pub(crate) mod witness;
pub(crate) mod witness_client;
