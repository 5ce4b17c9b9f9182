//! The runtime side of one `#[audited]` call: what the generated code calls
//! into. Not public API; reached through `audit_layer::__private`.
//!
//! The generated code creates the span, then starts a [`Call`] with the
//! values the attribute names. The call is *active* when an audit layer in
//! the span's dispatcher accepted it; only then are `before`/`after` state
//! serialised and the outcome worked out. Finishing the call hands the record
//! to the writer; dropping it unfinished records a panic or a cancellation.

use std::any::Any;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};

use serde::Serialize;
use tracing::Span;
use tracing::span::Entered;

use crate::capture::hook::{CallStart, Completion, Hook, Site, any_layer_alive};
use crate::record::to_json;
use crate::{FailureKind, Outcome, WriteError};

/// A panic caught while a call's values were evaluated, to be resumed once
/// the call has started (so that the panic is recorded).
pub type CaughtPanic = Box<dyn Any + Send + 'static>;

/// Evaluates one named value (`actor`, `resource`, a field) unless an earlier
/// one panicked; a panic is kept in `panic` and resumed by
/// [`Call::resume_panic`] once the call has begun.
#[inline]
pub fn catch_value<T>(panic: &mut Option<CaughtPanic>, value: impl FnOnce() -> T) -> Option<T> {
    if panic.is_some() {
        return None;
    }
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(value)) {
        Ok(value) => Some(value),
        Err(payload) => {
            *panic = Some(payload);
            None
        }
    }
}

/// One audited call in progress.
#[must_use]
pub struct Call {
    span: Span,
    active: bool,
    finished: bool,
    /// The call lives in a future, which can be dropped by a panic that
    /// started elsewhere (a sibling branch of `join!`).
    in_future: bool,
    /// A panic started in this call's own code (body, `before`, `after`, a
    /// named value, the outcome).
    own_panic: AtomicBool,
}

/// Marks the call's own code as panicking when dropped during unwinding;
/// forgotten when the code returns.
struct OwnCode<'a>(&'a AtomicBool);

impl Drop for OwnCode<'_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.0.store(true, Ordering::Relaxed);
        }
    }
}

impl<'a> OwnCode<'a> {
    #[inline]
    fn new(flag: &'a AtomicBool) -> Self {
        OwnCode(flag)
    }

    #[inline]
    fn done(self) {
        std::mem::forget(self);
    }
}

impl std::fmt::Debug for Call {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Call")
            .field("active", &self.active)
            .field("finished", &self.finished)
            .finish()
    }
}

impl Call {
    /// Starts the call (made [`disabled`](Call::disabled)) in `span`: hands
    /// its values to the audit layer of the span's dispatcher, if there is one.
    #[inline]
    pub fn begin(&mut self, span: Span, site: &'static Site, start: CallStart) {
        // The common cheap case (no subscriber wants the span) stays inline.
        if span.is_disabled() {
            if any_layer_alive() {
                note_unaudited();
            }
            return;
        }
        self.begin_enabled(span, site, start);
    }

    /// A call no audit layer can see (yet): a synchronous body.
    #[inline]
    pub fn disabled() -> Call {
        Call {
            span: Span::none(),
            active: false,
            finished: false,
            in_future: false,
            own_panic: AtomicBool::new(false),
        }
    }

    /// Like [`disabled`](Call::disabled), for a call whose body is a future.
    #[inline]
    pub fn disabled_in_future() -> Call {
        Call {
            span: Span::none(),
            active: false,
            finished: false,
            in_future: true,
            own_panic: AtomicBool::new(false),
        }
    }

    /// Resumes a panic caught while the call's values were evaluated: the
    /// call has begun, so unwinding now records it as panicked.
    #[cold]
    pub fn resume_panic(&self, payload: CaughtPanic) -> ! {
        self.own_panic.store(true, Ordering::Relaxed);
        std::panic::resume_unwind(payload)
    }

    /// Runs a synchronous body in the call's span. Taking it as `FnOnce`
    /// makes the closure own its captures, so it may return borrows of them.
    #[inline(always)]
    pub fn run<R>(&self, body: impl FnOnce() -> R) -> R {
        let _entered = self.span.enter();
        self.own(body)
    }

    /// The body of an async call: polled in the call's span, a panic in it
    /// counted as the call's own.
    #[inline]
    pub fn body<F: Future>(&self, future: F) -> Body<'_, F> {
        Body { call: self, future }
    }

    /// Marks code of the call that runs outside [`run`](Call::run),
    /// [`body`](Call::body), [`before`](Call::before) and the `finish`
    /// methods (an awaited `before` or `after`): a panic in it is the call's.
    /// Call [`OwnSection::done`] when it returns.
    #[inline]
    pub fn own_section(&self) -> OwnSection<'_> {
        OwnSection(OwnCode::new(&self.own_panic))
    }

    #[inline(never)]
    fn begin_enabled(&mut self, span: Span, site: &'static Site, start: CallStart) {
        self.active = span
            .with_subscriber(|(id, dispatch)| {
                dispatch
                    .downcast_ref::<Hook>()
                    .is_some_and(|hook| (hook.start)(dispatch, id, site, start))
            })
            .unwrap_or(false);
        self.span = span;
        if !self.active && any_layer_alive() {
            note_unaudited();
        }
    }

    /// Whether an audit layer is recording this call.
    #[inline]
    pub fn is_active(&self) -> bool {
        self.active
    }

    /// The call's span.
    #[inline]
    pub fn span(&self) -> &Span {
        &self.span
    }

    /// Enters the call's span for a synchronous body.
    #[inline]
    pub fn enter(&self) -> Entered<'_> {
        self.span.enter()
    }

    /// Records the state before the call; `state` runs only when the call is active.
    #[inline]
    pub fn before<T: Serialize>(&self, state: impl FnOnce() -> T) {
        if self.active {
            // Evaluated and serialised outside the layer's lock: user code may
            // itself use tracing or the in-body API.
            let mut json = Some(self.own(|| to_json(&state())));
            self.update(&mut |call| call.before = json.take());
        }
    }

    /// Records the electronic signature `#[audited(esignature = ...)]`
    /// names; `signature` runs only when the call is active.
    #[inline]
    pub fn esignature<S: std::borrow::Borrow<crate::record::esignature::ESignature>>(
        &self,
        signature: impl FnOnce() -> S,
    ) {
        if self.active {
            let signature = self.own(signature);
            self.update(&mut |call| {
                crate::capture::current_call::apply_esignature(call, signature.borrow())
            });
        }
    }

    /// Records a `before` state already evaluated (an awaited `before`).
    #[inline]
    pub fn before_value<T: Serialize>(&self, state: Option<T>) {
        if let Some(state) = state {
            self.before(|| state);
        }
    }

    /// Runs code of the call's own (user code it calls into) so that a
    /// panic in it is recorded as the call's.
    #[inline(always)]
    fn own<R>(&self, code: impl FnOnce() -> R) -> R {
        let own = OwnCode::new(&self.own_panic);
        let ret = code();
        own.done();
        ret
    }

    fn update(&self, update: &mut dyn FnMut(&mut crate::capture::hook::CallState)) {
        self.span.with_subscriber(|(id, dispatch)| {
            if let Some(hook) = dispatch.downcast_ref::<Hook>() {
                (hook.update)(dispatch, id, update);
            }
        });
    }

    /// Finishes the call with the outcome `outcome` works out (run only when active).
    #[inline]
    pub fn finish(&mut self, outcome: impl FnOnce() -> Outcome) -> Completion {
        self.finish_own(|| (outcome(), None))
    }

    /// Like [`finish`](Call::finish), with an `after` state already
    /// evaluated (an awaited `after`).
    #[inline]
    pub fn finish_with<T: Serialize>(
        &mut self,
        outcome: impl FnOnce() -> Outcome,
        after: Option<T>,
    ) -> Completion {
        self.finish_own(|| {
            let after = after.map(|state| to_json(&state));
            (outcome(), after)
        })
    }

    /// Like [`finish`](Call::finish), with `after` computed from the return value.
    #[inline]
    pub fn finish_after<'r, R: ?Sized, T: Serialize>(
        &mut self,
        outcome: impl FnOnce() -> Outcome,
        ret: &'r R,
        // One lifetime, not a higher-ranked one: `after` may return a borrow
        // of the return value (`|ret| ret.as_ref().ok()`).
        after: impl FnOnce(&'r R) -> T,
    ) -> Completion {
        self.finish_own(|| {
            let after = to_json(&after(ret));
            (outcome(), Some(after))
        })
    }

    /// Works out the outcome and `after` (only when active) and hands the
    /// record over. A panic in them leaves the call unfinished: dropping it
    /// records the panic.
    #[inline]
    fn finish_own(
        &mut self,
        work: impl FnOnce() -> (Outcome, Option<Box<serde_json::value::RawValue>>),
    ) -> Completion {
        if !self.active {
            self.finished = true;
            return Completion::Done;
        }
        let (outcome, after) = self.own(work);
        self.finished = true;
        self.complete(outcome, after)
    }

    fn complete(
        &self,
        outcome: Outcome,
        after: Option<Box<serde_json::value::RawValue>>,
    ) -> Completion {
        self.span
            .with_subscriber(|(id, dispatch)| {
                dispatch
                    .downcast_ref::<Hook>()
                    .map(|hook| (hook.complete)(dispatch, id, outcome, after))
            })
            .flatten()
            .unwrap_or(Completion::Done)
    }
}

/// An audit layer is installed but did not get this call: a filter or a
/// compile-time level is in the way. Count it and say so.
#[cold]
fn note_unaudited() {
    tracing::dispatcher::get_default(|dispatch| {
        if let Some(hook) = dispatch.downcast_ref::<Hook>() {
            (hook.unaudited)(dispatch);
        } else {
            // No audit layer on this thread at all: a test capture alive
            // elsewhere must not take the silence for an absence.
            #[cfg(feature = "testing")]
            crate::capture::live_captures::note_unseen();
        }
    });
}

impl Drop for Call {
    #[inline]
    fn drop(&mut self) {
        if self.finished || !self.active {
            return;
        }
        self.record_unfinished();
    }
}

impl Call {
    #[cold]
    fn record_unfinished(&mut self) {
        let outcome = if !std::thread::panicking() {
            Outcome::failure(
                FailureKind::Cancelled,
                "cancelled: the future was dropped before it completed",
            )
        } else if !self.in_future || self.own_panic.load(Ordering::Relaxed) {
            Outcome::failure(FailureKind::Panicked, "panicked")
        } else {
            // The future was dropped by a panic that unwound through whoever
            // polled it (a sibling of `join!`, say): it did not panic itself.
            Outcome::failure(
                FailureKind::Cancelled,
                "cancelled: the future was dropped while a panic elsewhere unwound",
            )
        };
        // Neither a panic nor a drop can wait for durability; the record is queued.
        drop(self.complete(outcome, None));
    }
}

/// See [`Call::own_section`].
#[must_use]
pub struct OwnSection<'a>(OwnCode<'a>);

impl OwnSection<'_> {
    /// The section returned without panicking.
    #[inline]
    pub fn done(self) {
        self.0.done();
    }
}

impl std::fmt::Debug for OwnSection<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("OwnSection")
    }
}

/// The body of an async call, polled in the call's span; see [`Call::body`].
#[must_use = "futures do nothing unless polled"]
pub struct Body<'a, F> {
    call: &'a Call,
    future: F,
}

impl<F: Future> Future for Body<'_, F> {
    type Output = F::Output;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        // SAFETY: `future` is structurally pinned: it is never moved out of
        // `Body`, and `Body` has no `Drop` and is not `Unpin` unless `F` is.
        let this = unsafe { self.get_unchecked_mut() };
        let future = unsafe { Pin::new_unchecked(&mut this.future) };
        let _entered = this.call.span.enter();
        let own = OwnCode::new(&this.call.own_panic);
        let poll = future.poll(cx);
        own.done();
        poll
    }
}

impl<F> std::fmt::Debug for Body<'_, F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Body")
            .field("call", self.call)
            .finish_non_exhaustive()
    }
}

/// The return value of a strict call whose record could not be written,
/// wrapped to choose how the call fails (autoref specialisation, as for
/// outcomes).
pub struct Unrecorded<R>(std::cell::Cell<Option<R>>);

impl<R> Unrecorded<R> {
    /// Wraps the value the body returned.
    pub fn new(value: R) -> Self {
        Unrecorded(std::cell::Cell::new(Some(value)))
    }
}

/// `Result<T, E>` with `E: From<AuditUnrecorded>`: the call returns that error.
pub trait FailViaError<R> {
    /// The value the call returns instead.
    fn fail(&self, error: WriteError) -> R;
}

impl<T, E: From<AuditUnrecorded>> FailViaError<Result<T, E>> for &Unrecorded<Result<T, E>> {
    fn fail(&self, error: WriteError) -> Result<T, E> {
        drop(self.0.take());
        Err(E::from(AuditUnrecorded(error)))
    }
}

/// Any other return type: the call panics.
pub trait FailViaPanic<R> {
    /// Panics.
    fn fail(&self, error: WriteError) -> R;
}

impl<R> FailViaPanic<R> for Unrecorded<R> {
    fn fail(&self, error: WriteError) -> R {
        drop(self.0.take());
        panic!(
            "audit-layer: strict mode could not record this call ({error}); the call fails \
             because the failure policy gives records up. Return a Result whose error \
             implements From<audit_layer::AuditUnrecorded> to get an error instead of a panic."
        )
    }
}

/// The error a strict call returns when its audit record could not be
/// written durably (failure policy [`FailRecords`](crate::FailurePolicy::FailRecords),
/// or a writer that has shut down).
///
/// An audited function opts in by returning `Result<T, E>` where
/// `E: From<AuditUnrecorded>`; other functions panic instead. Without strict
/// mode, calls never fail on account of their record: losses are counted and
/// noted in the chain.
///
/// # Examples
///
/// ```
/// use audit_layer::AuditUnrecorded;
///
/// #[derive(Debug)]
/// enum ApiError { Unrecorded(AuditUnrecorded) }
///
/// impl From<AuditUnrecorded> for ApiError {
///     fn from(error: AuditUnrecorded) -> Self { ApiError::Unrecorded(error) }
/// }
/// # let _ = ApiError::from(AuditUnrecorded(audit_layer::WriteError::WriterGone));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the audit record of this call could not be written: {0}")]
pub struct AuditUnrecorded(pub WriteError);
