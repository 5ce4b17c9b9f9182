//! The code `#[audited]` generates raises no lint the user did not earn:
//! this file denies every warning, all of clippy and clippy's pedantic group,
//! and audits every shape of function. It compiles in `cargo test` (rustc's
//! lints) and in `.ci/run`'s `cargo clippy --all-targets` (clippy's).
#![deny(warnings, clippy::all, clippy::pedantic)]
#![deny(
    rust_2018_idioms,
    unused_qualifications,
    unused_results,
    unreachable_pub,
    missing_debug_implementations,
    single_use_lifetimes,
    trivial_casts
)]

use std::future::Future;
use std::pin::Pin;

use audit_layer::audited;
use audit_layer::testing::{Expect, capture};

#[audited(action = "lint.one_line")]
fn one_line() -> Result<(), String> {
    Ok(())
}

#[audited(action = "lint.unit")]
fn unit() {}

#[audited(action = "lint.value", actor = user, resource = id, fields(ticket = "T-1"))]
fn value(user: &str, id: u64) -> u64 {
    id
}

#[audited(action = "lint.async")]
async fn asynchronous() -> Result<(), String> {
    Ok(())
}

#[audited(action = "lint.before_after", before = state, after = |ret: &u32| *ret)]
fn before_after(state: u32) -> u32 {
    state + 1
}

#[track_caller]
#[audited(action = "lint.track_caller")]
fn track_caller(text: &str) -> Result<u8, std::num::ParseIntError> {
    if text.is_empty() {
        return Ok(0);
    }
    let value: u8 = text.parse()?;
    Ok(value)
}

#[audited(action = "lint.diverging")]
fn diverging() -> ! {
    panic!("stop")
}

#[audited(action = "lint.inner_attribute")]
fn inner_attribute() -> u8 {
    #![allow(clippy::identity_op)]
    1 + 0
}

#[async_trait::async_trait]
trait Store {
    async fn put(&mut self, value: u8) -> Result<u8, String>;
}

struct Memory(u8);

#[async_trait::async_trait]
impl Store for Memory {
    #[audited(action = "lint.async_trait", before = self.0, after = |_| self.0)]
    async fn put(&mut self, value: u8) -> Result<u8, String> {
        self.0 = value;
        Ok(value)
    }
}

#[audited(action = "lint.returns_future")]
fn returns_future() -> impl Future<Output = Result<u8, String>> {
    async { Ok(1) }
}

#[audited(action = "lint.boxed")]
fn boxed() -> Pin<Box<dyn Future<Output = Result<u8, String>> + Send>> {
    Box::pin(async { Ok(2) })
}

struct Service {
    name: String,
}

impl Service {
    #[audited]
    fn method(&self) -> &str {
        &self.name
    }

    #[audited(actor = self.name)]
    async fn async_method(&self) -> usize {
        self.name.len()
    }
}

#[tokio::test]
async fn every_shape_runs_and_is_recorded() {
    let audit = capture();
    one_line().unwrap();
    unit();
    assert_eq!(value("alice", 3), 3);
    asynchronous().await.unwrap();
    assert_eq!(before_after(1), 2);
    assert!(std::panic::catch_unwind(|| diverging()).is_err());
    assert_eq!(inner_attribute(), 1);
    assert_eq!(track_caller("7"), Ok(7));
    assert_eq!(Memory(0).put(4).await, Ok(4));
    assert_eq!(returns_future().await, Ok(1));
    assert_eq!(boxed().await, Ok(2));
    let service = Service { name: "svc".into() };
    assert_eq!(service.method(), "svc");
    assert_eq!(service.async_method().await, 3);
    assert_eq!(audit.records().len(), 13);
    let _ = audit.assert_one(&Expect::action("lint.value").actor("alice").resource("3"));
}
