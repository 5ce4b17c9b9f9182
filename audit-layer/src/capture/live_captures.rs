//! The test captures alive in the process (feature `testing`), and the
//! router that hands them the records made on threads a test starts: the
//! capture side of `testing::capture`, kept here so that capture never
//! depends on the test helpers.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use crate::capture::hook::Completion;
use crate::record::AuditEvent;
use crate::write::handle::AuditHandle;

/// A capture as the process-wide router sees it.
pub(crate) struct LiveCapture {
    pub(crate) id: u64,
    pub(crate) handle: AuditHandle,
    pub(crate) seen: Arc<Sightings>,
}

/// What a capture was told about records made on threads it does not own.
#[derive(Default)]
pub(crate) struct Sightings {
    /// Records handed to every live capture, for want of telling whose.
    pub(crate) shared: AtomicU64,
    /// Audited calls made where no capture could see them.
    pub(crate) unseen: AtomicU64,
}

static LIVE_CAPTURES: Mutex<Vec<LiveCapture>> = Mutex::new(Vec::new());

pub(crate) fn live_captures() -> MutexGuard<'static, Vec<LiveCapture>> {
    LIVE_CAPTURES.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Whether an audited call on this thread, which has no subscriber of its
/// own, is routed to the live captures: only on threads a test starts
/// (unnamed `std::thread`s, tokio's workers and blocking threads), never on
/// a test's own thread (named after the test, or `main`): a test that runs
/// without a capture must stay invisible to the others. Only while a
/// capture is alive.
pub(crate) fn routes_this_thread() -> bool {
    let started_by_a_test = match std::thread::current().name() {
        None => true,
        Some(name) => name.starts_with("tokio-"),
    };
    started_by_a_test && !live_captures().is_empty()
}

/// A record made on a thread without a subscriber of its own: to the live
/// capture, or to each of them when several are alive.
pub(crate) fn submit_to_live_captures(event: AuditEvent, strict: bool) -> Completion {
    let live = live_captures();
    match live.as_slice() {
        [] => Completion::Done,
        [only] if strict => only
            .handle
            .submit_acked(event)
            .map_or(Completion::Done, Completion::Pending),
        [only] => {
            let _ = only.handle.submit(event);
            Completion::Done
        }
        several => {
            for capture in several {
                capture.seen.shared.fetch_add(1, Ordering::Relaxed);
                let _ = capture.handle.submit(event.clone());
            }
            Completion::Done
        }
    }
}

/// An audited call ran where no capture can see it.
pub(crate) fn note_unseen() {
    if !routes_this_thread() {
        return;
    }
    for capture in live_captures().iter() {
        capture.seen.unseen.fetch_add(1, Ordering::Relaxed);
    }
}
