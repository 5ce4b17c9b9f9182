//! What the code `#[audited]` generates and the audit layer share: the call
//! site, the values a call starts with, the state it gathers, how it ends,
//! and the [`Hook`] through which the call reaches the layer. Both sides
//! depend on this module, and not on each other.

use std::borrow::Cow;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::SystemTime;

use serde_json::value::RawValue;
use tracing::Dispatch;
use tracing::span::Id;

use crate::Outcome;
use crate::record::Text;
use crate::write::ack::{Ack, WriteError};

/// How many audit layers exist in the process. While there are none, an
/// audited call with a disabled span is simply not audited: no one asked.
pub(crate) static LAYERS_ALIVE: AtomicUsize = AtomicUsize::new(0);

/// Whether any audit layer exists in the process.
#[inline]
pub fn any_layer_alive() -> bool {
    LAYERS_ALIVE.load(Ordering::Relaxed) > 0
}

/// What is known about a call site at compile time.
#[derive(Debug)]
pub struct Site {
    /// The action named by the attribute, or the function's path.
    pub action: &'static str,
    /// The function's module, name, file and line.
    pub code: crate::CodeLocation,
}

/// The values of one call, evaluated when it starts.
#[derive(Debug, Default)]
pub struct CallStart {
    /// An action computed at run time (`action = some_expression`).
    pub action: Option<compact_str::CompactString>,
    /// `actor = ...`.
    pub actor: Option<compact_str::CompactString>,
    /// `resource = ...`.
    pub resource: Option<compact_str::CompactString>,
    /// `fields(name = ...)`.
    pub context: Vec<(Cow<'static, str>, compact_str::CompactString)>,
    /// For a method: `type_name::<Self>()`, which names the default action.
    pub owner: Option<&'static str>,
}

/// What an audited call has gathered so far (span extension).
pub(crate) struct CallState {
    pub(crate) site: &'static Site,
    pub(crate) action: Option<Text>,
    pub(crate) owner: Option<&'static str>,
    pub(crate) actor: Option<Text>,
    pub(crate) resource: Option<Text>,
    pub(crate) context: Vec<(Cow<'static, str>, Text)>,
    pub(crate) before: Option<Box<RawValue>>,
    pub(crate) after: Option<Box<RawValue>>,
    // Wall-clock start: the end time is read once and serves both as the
    // record's time and, minus this, as its duration (two clock reads a call,
    // not three; a step of the clock shows as a zero duration).
    pub(crate) started: SystemTime,
    pub(crate) completed: bool,
}

/// Changes the nearest audited call at or above a span.
pub(crate) type UpdateCall = fn(&Dispatch, &Id, &mut dyn FnMut(&mut CallState)) -> bool;
/// Finishes an audited call with its outcome and `after` state.
pub(crate) type CompleteCall = fn(&Dispatch, &Id, Outcome, Option<Box<RawValue>>) -> Completion;

/// The functions `#[audited]`'s generated code reaches through
/// `Dispatch::downcast_ref`, monomorphised for the subscriber below the layer.
#[derive(Clone, Copy)]
pub(crate) struct Hook {
    pub(crate) start: fn(&Dispatch, &Id, &'static Site, CallStart) -> bool,
    pub(crate) update: UpdateCall,
    pub(crate) complete: CompleteCall,
    pub(crate) unaudited: fn(&Dispatch),
    pub(crate) calls_within: fn(&Dispatch, &Id) -> Option<u64>,
}

/// The end of a call: in strict mode, the acknowledgement to wait for.
#[must_use]
#[derive(Debug)]
pub enum Completion {
    /// Nothing to wait for (not strict, or not recorded).
    Done,
    /// Strict mode: the record is durable once this resolves.
    Pending(Ack),
    /// Strict mode: the record could not even be handed over.
    Failed(WriteError),
}

impl Completion {
    /// Blocks until the record is durable (strict mode only; otherwise returns at once).
    #[inline]
    pub fn wait(self) -> Result<(), WriteError> {
        match self {
            Completion::Done => Ok(()),
            Completion::Pending(ack) => ack.wait(),
            Completion::Failed(error) => Err(error),
        }
    }

    /// Awaits durability without blocking the thread (strict mode only).
    pub async fn wait_async(self) -> Result<(), WriteError> {
        match self {
            Completion::Done => Ok(()),
            Completion::Pending(ack) => ack.await,
            Completion::Failed(error) => Err(error),
        }
    }
}
