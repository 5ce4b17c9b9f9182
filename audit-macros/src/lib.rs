//! Procedural macros of [audit-layer](https://docs.rs/audit-layer).
//!
//! Use them through the `audit-layer` crate, which re-exports them; this crate
//! has no public API of its own yet.

#![warn(missing_docs, unreachable_pub)]
