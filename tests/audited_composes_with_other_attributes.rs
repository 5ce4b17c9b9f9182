//! `#[audited]` composes with the attributes written around it:
//! `#[instrument]` above or below it gives the call its span's `audit.*`
//! values, and `#[track_caller]` still reports the caller, in
//! `Location::caller()` and in the panics of the body.

use std::panic::Location;

use audit_layer::audited;
use audit_layer::testing::{Expect, capture};
use tracing::instrument;

#[instrument(fields(audit.actor = %user, audit.ticket = "T-9"))]
#[audited(action = "compose.instrument_above")]
fn instrument_above(user: &str) -> u8 {
    1
}

#[audited(action = "compose.instrument_below")]
#[instrument(fields(audit.actor = %user))]
fn instrument_below(user: &str) -> u8 {
    2
}

#[instrument(fields(audit.actor = %user))]
#[audited(action = "compose.instrument_above_async")]
async fn instrument_above_async(user: &str) -> u8 {
    tokio::task::yield_now().await;
    3
}

#[instrument(fields(audit.actor = "from-instrument"))]
#[audited(action = "compose.named_wins", actor = "named")]
fn the_named_actor_wins() {}

#[test]
fn instrument_above_or_below_gives_the_actor() {
    let audit = capture();
    let _request = tracing::info_span!("request", audit.actor = "gateway").entered();
    instrument_above("alice");
    instrument_below("bob");
    the_named_actor_wins();
    audit.assert_exactly(&[
        Expect::action("compose.instrument_above")
            .actor("alice")
            .context("ticket", "T-9"),
        Expect::action("compose.instrument_below").actor("bob"),
        Expect::action("compose.named_wins").actor("named"),
    ]);
}

#[tokio::test]
async fn instrument_above_an_async_fn_gives_the_actor() {
    let audit = capture();
    instrument_above_async("carol").await;
    audit.assert_one(&Expect::action("compose.instrument_above_async").actor("carol"));
}

#[track_caller]
#[audited(action = "compose.track_caller")]
fn where_called() -> &'static Location<'static> {
    Location::caller()
}

#[audited(action = "compose.track_caller_below")]
#[track_caller]
fn where_called_below(early: bool) -> Result<&'static Location<'static>, String> {
    if early {
        return Ok(Location::caller());
    }
    let parsed: u8 = "x".parse().map_err(|_| "not a number".to_string())?;
    let _ = parsed;
    Ok(Location::caller())
}

#[track_caller]
#[audited(action = "compose.track_caller_option")]
fn first_char(text: &str) -> Option<(char, u32)> {
    let first = text.chars().next()?;
    Some((first, Location::caller().line()))
}

#[track_caller]
#[audited(action = "compose.track_caller_panics")]
fn unwraps(value: Option<u8>) -> u8 {
    value.unwrap()
}

#[test]
fn track_caller_still_reports_the_caller() {
    let audit = capture();
    let line = line!() + 1;
    let here = where_called();
    assert_eq!((here.file(), here.line()), (file!(), line));
    let line = line!() + 1;
    let early = where_called_below(true).unwrap();
    assert_eq!(early.line(), line);
    assert_eq!(where_called_below(false), Err("not a number".into()));
    let line = line!() + 1;
    assert_eq!(first_char("ab"), Some(('a', line)));
    assert_eq!(first_char(""), None);
    audit.assert_exactly(&[
        Expect::action("compose.track_caller").success(),
        Expect::action("compose.track_caller_below").success(),
        Expect::action("compose.track_caller_below")
            .failure()
            .reason("not a number"),
        Expect::action("compose.track_caller_option").success(),
        Expect::action("compose.track_caller_option").success(),
    ]);
}

#[test]
fn a_panic_in_a_track_caller_body_points_at_the_caller() {
    let audit = capture();
    let (sender, receiver) = std::sync::mpsc::channel();
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let _ = sender.send(info.location().map(|l| (l.file().to_owned(), l.line())));
    }));
    let line = line!() + 1;
    let result = std::panic::catch_unwind(|| unwraps(None));
    std::panic::set_hook(previous);
    assert!(result.is_err());
    assert_eq!(receiver.recv().unwrap(), Some((file!().to_owned(), line)));
    audit.assert_one(
        &Expect::action("compose.track_caller_panics")
            .failure_kind(audit_layer::FailureKind::Panicked),
    );
}
