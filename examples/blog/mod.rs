//! A small blogging service, shared by the `axum_service` and `incident`
//! examples and by the test that drives it over HTTP.
//!
//! - `domain`: users, roles, posts and their rules, in memory;
//! - `http`: the axum service, its request-span middleware and its
//!   `#[audited]` handlers;
//! - `client`: a few lines of HTTP client, for the demo and the test.
#![allow(dead_code)]

pub mod client;
pub mod domain;
pub mod http;
