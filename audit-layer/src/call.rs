//! The runtime side of one `#[audited]` call: what the generated code calls
//! into. Not public API; reached through `audit_layer::__private`.
//!
//! The generated code creates the span, then starts a [`Call`] with the
//! values the attribute names. The call is *active* when an audit layer in
//! the span's dispatcher accepted it; only then are `before`/`after` state
//! serialised and the outcome worked out. Finishing the call hands the record
//! to the writer; dropping it unfinished records a panic or a cancellation.

use std::borrow::Cow;

use serde::Serialize;
use tracing::Span;
use tracing::span::Entered;

use crate::ack::Ack;
use crate::layer::Hook;
use crate::record::to_json;
use crate::{FailureKind, Outcome, WriteError};

/// Runs a synchronous body. Taking it as `FnOnce` makes the closure own its
/// captures, so it may return borrows of them.
#[inline(always)]
pub fn run_body<R>(body: impl FnOnce() -> R) -> R {
    body()
}

/// What is known about a call site at compile time.
#[derive(Debug)]
pub struct Site {
    /// The action named by the attribute, or the function's path.
    pub action: &'static str,
    /// The function's name.
    pub function: &'static str,
    /// `module_path!()` of the function.
    pub module: &'static str,
    /// `file!()` of the function.
    pub file: &'static str,
    /// `line!()` of the function.
    pub line: u32,
}

/// The values of one call, evaluated when it starts.
#[derive(Debug, Default)]
pub struct CallStart {
    /// An action computed at run time (`action = some_expression`).
    pub action: Option<String>,
    /// `actor = ...`.
    pub actor: Option<String>,
    /// `resource = ...`.
    pub resource: Option<String>,
    /// `fields(name = ...)`.
    pub context: Vec<(Cow<'static, str>, String)>,
}

/// One audited call in progress.
#[must_use]
pub struct Call {
    span: Span,
    active: bool,
    finished: bool,
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
            if crate::layer::any_layer_alive() {
                note_unaudited();
            }
            return;
        }
        self.begin_enabled(span, site, start);
    }

    /// A call no audit layer can see.
    #[inline]
    pub fn disabled() -> Call {
        Call {
            span: Span::none(),
            active: false,
            finished: false,
        }
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
        if !self.active && crate::layer::any_layer_alive() {
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
            let json = to_json(&state());
            let mut json = Some(json);
            self.update(&mut |call| call.before = json.take());
        }
    }

    fn update(&self, update: &mut dyn FnMut(&mut crate::layer::CallState)) {
        self.span.with_subscriber(|(id, dispatch)| {
            if let Some(hook) = dispatch.downcast_ref::<Hook>() {
                (hook.update)(dispatch, id, update);
            }
        });
    }

    /// Finishes the call with the outcome `outcome` works out (run only when active).
    #[inline]
    pub fn finish(&mut self, outcome: impl FnOnce() -> Outcome) -> Completion {
        self.finished = true;
        if !self.active {
            return Completion(None);
        }
        self.complete(outcome(), None)
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
        self.finished = true;
        if !self.active {
            return Completion(None);
        }
        let after = to_json(&after(ret));
        self.complete(outcome(), Some(after))
    }

    fn complete(
        &self,
        outcome: Outcome,
        after: Option<Box<serde_json::value::RawValue>>,
    ) -> Completion {
        let ack = self
            .span
            .with_subscriber(|(id, dispatch)| {
                dispatch
                    .downcast_ref::<Hook>()
                    .and_then(|hook| (hook.complete)(dispatch, id, outcome, after))
            })
            .flatten();
        Completion(ack)
    }
}

/// An audit layer is installed but did not get this call: a filter or a
/// compile-time level is in the way. Count it and say so.
#[cold]
fn note_unaudited() {
    tracing::dispatcher::get_default(|dispatch| {
        if let Some(hook) = dispatch.downcast_ref::<Hook>() {
            (hook.unaudited)(dispatch);
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
        let outcome = if std::thread::panicking() {
            Outcome::failure(FailureKind::Panicked, "panicked")
        } else {
            Outcome::failure(
                FailureKind::Cancelled,
                "cancelled: the future was dropped before it completed",
            )
        };
        // Neither a panic nor a drop can wait for durability; the record is queued.
        drop(self.complete(outcome, None));
    }
}

/// The end of a call: in strict mode, the acknowledgement to wait for.
#[must_use]
#[derive(Debug)]
pub struct Completion(Option<Ack>);

impl Completion {
    /// Blocks until the record is durable (strict mode only; otherwise returns at once).
    #[inline]
    pub fn wait(self) -> Result<(), WriteError> {
        match self.0 {
            Some(ack) => ack.wait(),
            None => Ok(()),
        }
    }

    /// Awaits durability without blocking the thread (strict mode only).
    pub async fn wait_async(self) -> Result<(), WriteError> {
        match self.0 {
            Some(ack) => ack.await,
            None => Ok(()),
        }
    }
}
