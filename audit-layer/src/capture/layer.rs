//! `AuditLayer`: picks the audited calls out of ordinary tracing traffic and
//! turns each one into a record for the writer.
//!
//! - A per-layer filter admits only spans that carry `audit.*` fields, so the
//!   other layers of a stack see exactly what they saw before, and their
//!   filters do not decide what is audited.
//! - A span is an *audited call* only when `#[audited]`'s generated code
//!   starts it through the layer's hook. An ordinary span that happens to use
//!   the `audit` target or `audit.*` field names never becomes a record; its
//!   `audit.*` fields are context for the audited calls inside it.
//! - Context (`audit.source_ip`, `audit.session`, `audit.request_id`, ...)
//!   comes from every enclosing span, the innermost value winning;
//!   `audit.actor` of an enclosing span is the actor of a call that names none.

use std::any::TypeId;
use std::borrow::Cow;
use std::marker::PhantomData;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::SystemTime;

use serde_json::value::RawValue;
use tracing::field::{Field, Visit};
use tracing::span::{self, Id};
use tracing::subscriber::Interest;
use tracing::{Dispatch, Event, Metadata, Subscriber};
use tracing_subscriber::filter::{Filtered, LevelFilter};
use tracing_subscriber::layer::{Context, Filter, Layer};
use tracing_subscriber::registry::LookupSpan;

use crate::Outcome;
use crate::capture::hook::{CallStart, CallState, Completion, Hook, LAYERS_ALIVE, Site};
use crate::record::time::Timestamp;
use crate::record::{AuditEvent, CodeRef, RecordKind, Text, set_context};
use crate::write::handle::AuditHandle;

/// Prefix of the span fields the audit layer reads.
pub(crate) const FIELD_PREFIX: &str = "audit.";
/// A field every `#[audited]` span declares (and never records): its values
/// arrive through the hook, so the layer need not read them from the span.
pub(crate) const CALL_MARKER: &str = "audit.call";

/// Turns audited calls into records; add it to a `tracing_subscriber` stack.
///
/// It brings its own per-layer filter: it sees only spans with `audit.*`
/// fields, whatever the other layers filter, and they are unaffected by it.
///
/// # Examples
///
/// ```
/// use audit_layer::{AuditLayer, AuditWriter, FileSink};
/// use tracing_subscriber::prelude::*;
///
/// let dir = tempfile::tempdir()?;
/// let (audit, _guard) = AuditWriter::builder().spawn(FileSink::open(dir.path())?)?;
/// let subscriber = tracing_subscriber::registry()
///     .with(tracing_subscriber::fmt::layer().with_filter(tracing_subscriber::EnvFilter::new("warn")))
///     .with(AuditLayer::new(audit.clone()));
/// # drop(subscriber);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct AuditLayer<S> {
    inner: Filtered<AuditSpans<S>, AuditSpanFilter, S>,
}

impl<S> std::fmt::Debug for AuditLayer<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuditLayer")
            .field("strict", &self.inner.inner().strict)
            .finish_non_exhaustive()
    }
}

impl<S> AuditLayer<S>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    /// A layer sending records to the writer behind `handle`.
    ///
    /// # Examples
    ///
    /// See [`AuditLayer`].
    pub fn new(handle: AuditHandle) -> Self {
        Self::with_destination(Destination::Writer(handle))
    }

    fn with_destination(destination: Destination) -> Self {
        warn_if_compiled_out();
        LAYERS_ALIVE.fetch_add(1, Ordering::Relaxed);
        let spans = AuditSpans {
            destination,
            strict: false,
            hook: Hook {
                start: start_call::<S>,
                update: update_call::<S>,
                complete: complete_call::<S>,
                unaudited: note_unaudited::<S>,
                calls_within: calls_within::<S>,
            },
            _subscriber: PhantomData,
        };
        AuditLayer {
            inner: Filtered::new(spans, AuditSpanFilter),
        }
    }

    /// A layer that hands each record to the test capture alive in the
    /// process (see `testing::capture`), for the threads a test starts.
    #[cfg(feature = "testing")]
    pub(crate) fn to_live_captures() -> Self {
        Self::with_destination(Destination::LiveCaptures)
    }

    /// In strict mode an audited call returns only once its record is synced
    /// to stable storage; an async call awaits it without blocking its thread,
    /// and concurrent calls share one fsync.
    ///
    /// If the record cannot be written (failure policy
    /// [`FailRecords`](crate::FailurePolicy::FailRecords), or a writer that has
    /// shut down), the call fails: see [`AuditUnrecorded`](crate::AuditUnrecorded).
    /// Under the default policy it waits until the sink recovers.
    ///
    /// # Examples
    ///
    /// ```
    /// use audit_layer::{AuditLayer, AuditWriter, MemorySink};
    /// use tracing_subscriber::prelude::*;
    ///
    /// let (sink, _log) = MemorySink::new();
    /// let (audit, _guard) = AuditWriter::builder().spawn(sink)?;
    /// let subscriber = tracing_subscriber::registry().with(AuditLayer::new(audit).strict(true));
    /// # drop(subscriber);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn strict(mut self, strict: bool) -> Self {
        self.inner.inner_mut().strict = strict;
        self
    }
}

impl<S> Drop for AuditSpans<S> {
    fn drop(&mut self) {
        LAYERS_ALIVE.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Complains once, loudly, when tracing's `max_level_*` features compile out
/// the level `#[audited]` uses by default.
fn warn_if_compiled_out() {
    static WARNED: AtomicBool = AtomicBool::new(false);
    if tracing::level_filters::STATIC_MAX_LEVEL < LevelFilter::INFO
        && !WARNED.swap(true, Ordering::Relaxed)
    {
        eprintln!(
            "audit-layer: tracing is compiled with max level {}: audit spans at INFO, \
             #[audited]'s default level, are compiled out and will not be recorded; \
             remove the max_level_* feature or give #[audited] a level it keeps",
            tracing::level_filters::STATIC_MAX_LEVEL
        );
    }
}

/// The per-layer filter: spans with `audit.*` fields, at any level.
#[derive(Debug, Clone, Copy)]
pub(crate) struct AuditSpanFilter;

fn is_audit_span(metadata: &Metadata<'_>) -> bool {
    metadata.is_span()
        && metadata
            .fields()
            .iter()
            .any(|field| field.name().starts_with(FIELD_PREFIX))
}

impl<S> Filter<S> for AuditSpanFilter {
    fn enabled(&self, metadata: &Metadata<'_>, _: &Context<'_, S>) -> bool {
        is_audit_span(metadata)
    }

    fn callsite_enabled(&self, metadata: &'static Metadata<'static>) -> Interest {
        if is_audit_span(metadata) {
            Interest::always()
        } else {
            Interest::never()
        }
    }

    fn max_level_hint(&self) -> Option<LevelFilter> {
        Some(LevelFilter::TRACE)
    }
}

/// The inner layer; [`AuditLayer`] adds the filter around it.
pub(crate) struct AuditSpans<S> {
    destination: Destination,
    strict: bool,
    hook: Hook,
    _subscriber: PhantomData<fn(S)>,
}

/// `audit.*` fields of an ordinary span (span extension).
#[derive(Default)]
struct ContextFields {
    actor: Option<Text>,
    entries: Vec<(Cow<'static, str>, Text)>,
    /// Audited calls recorded inside the span, for `audited_calls_within`.
    recorded_calls: AtomicU64,
}

impl ContextFields {
    fn set(&mut self, field: &Field, value: Text) {
        let name = field.name();
        match name.strip_prefix(FIELD_PREFIX) {
            Some("actor") => self.actor = Some(value),
            Some("call") | None => {}
            Some(key) => set_context(&mut self.entries, Cow::Borrowed(key), value),
        }
    }
}

impl Visit for ContextFields {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name().starts_with(FIELD_PREFIX) {
            self.set(field, Text::from(value));
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name().starts_with(FIELD_PREFIX) {
            self.set(field, compact_str::format_compact!("{value:?}"));
        }
    }
}

fn start_call<S>(dispatch: &Dispatch, id: &Id, site: &'static Site, start: CallStart) -> bool
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    #[cfg(feature = "testing")]
    if let Some(layer) = dispatch.downcast_ref::<AuditSpans<S>>()
        && matches!(layer.destination, Destination::LiveCaptures)
        && !crate::capture::live_captures::routes_this_thread()
    {
        return false;
    }
    let Some(span) = dispatch.downcast_ref::<S>().and_then(|s| s.span(id)) else {
        return false;
    };
    let mut extensions = span.extensions_mut();
    if extensions.get_mut::<CallState>().is_some() {
        return false;
    }
    extensions.insert(CallState {
        site,
        action: start.action,
        owner: start.owner,
        actor: start.actor,
        resource: start.resource,
        context: start.context,
        before: None,
        after: None,
        started: SystemTime::now(),
        completed: false,
    });
    true
}

fn update_call<S>(dispatch: &Dispatch, id: &Id, update: &mut dyn FnMut(&mut CallState)) -> bool
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    let Some(span) = dispatch.downcast_ref::<S>().and_then(|s| s.span(id)) else {
        return false;
    };
    for span in span.scope() {
        if let Some(state) = span.extensions_mut().get_mut::<CallState>() {
            if state.completed {
                return false;
            }
            update(state);
            return true;
        }
    }
    false
}

fn complete_call<S>(
    dispatch: &Dispatch,
    id: &Id,
    outcome: Outcome,
    after: Option<Box<RawValue>>,
) -> Completion
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    let (Some(layer), Some(span)) = (
        dispatch.downcast_ref::<AuditSpans<S>>(),
        dispatch.downcast_ref::<S>().and_then(|s| s.span(id)),
    ) else {
        return Completion::Done;
    };
    let mut event = {
        let mut extensions = span.extensions_mut();
        let Some(state) = extensions.get_mut::<CallState>() else {
            return Completion::Done;
        };
        if state.completed {
            return Completion::Done;
        }
        state.completed = true;
        let site = state.site;
        let now = SystemTime::now();
        AuditEvent {
            time: Timestamp::clamped(now),
            kind: RecordKind::Event,
            action: match (state.action.take(), state.owner) {
                (Some(action), _) => Cow::Owned(action.into_string()),
                (None, Some(owner)) => Cow::Owned(method_action(owner, site)),
                (None, None) => Cow::Borrowed(site.action),
            },
            actor: state.actor.take(),
            resource: state.resource.take(),
            outcome,
            before: state.before.take(),
            after: after.or_else(|| state.after.take()),
            context: std::mem::take(&mut state.context),
            code: Some(CodeRef::Static(&site.code)),
            duration: Some(now.duration_since(state.started).unwrap_or_default()),
            origin: None,
        }
    };
    // Enclosing spans, innermost first: they fill in what the call did not
    // name. Walked by `parent()`, not `scope().skip(1)`, which would look the
    // call's own span up again only to skip it.
    let mut enclosing = span.parent();
    while let Some(ancestor) = enclosing {
        {
            let extensions = ancestor.extensions();
            if let Some(fields) = extensions.get::<ContextFields>() {
                fields.recorded_calls.fetch_add(1, Ordering::Relaxed);
                inherit(&mut event, fields.actor.as_deref(), &fields.entries);
            } else if let Some(outer) = extensions.get::<CallState>() {
                inherit(&mut event, outer.actor.as_deref(), &outer.context);
            }
        }
        enclosing = ancestor.parent();
    }
    if event.actor.is_none()
        && let Destination::Writer(handle) = &layer.destination
    {
        handle.note_missing_actor();
    }
    drop(span);
    layer.submit(event)
}

/// The default action of a method: the type's path, without its generic
/// arguments (one action per method, whatever it is instantiated with), then
/// the method's name: `blog::repo::UserRepo::delete`.
fn method_action(owner: &str, site: &Site) -> String {
    let owner = owner.split('<').next().unwrap_or(owner);
    let function = site.code.function.as_deref().unwrap_or("");
    format!("{owner}::{function}")
}

fn inherit(event: &mut AuditEvent, actor: Option<&str>, entries: &[(Cow<'static, str>, Text)]) {
    fill_missing(&mut event.actor, &mut event.context, actor, entries);
}

/// Fills an actor and sorted context entries that are still missing; what
/// is already there stays.
fn fill_missing(
    actor_slot: &mut Option<Text>,
    context: &mut Vec<(Cow<'static, str>, Text)>,
    actor: Option<&str>,
    entries: &[(Cow<'static, str>, Text)],
) {
    if actor_slot.is_none() {
        *actor_slot = actor.map(Text::from);
    }
    for (index, (key, value)) in entries.iter().enumerate() {
        if let Err(at) = context.binary_search_by(|(k, _)| compare_keys(k, key)) {
            // Room for every entry still to come: at most one reallocation
            // per span, none when nothing is new.
            context.reserve(entries.len() - index);
            context.insert(at, (key.clone(), value.clone()));
        }
    }
}

/// Orders context keys; the same static name, as every span of one call
/// site carries, is found equal without comparing bytes.
fn compare_keys(a: &str, b: &str) -> std::cmp::Ordering {
    if std::ptr::eq(a, b) {
        std::cmp::Ordering::Equal
    } else {
        a.cmp(b)
    }
}

fn calls_within<S>(dispatch: &Dispatch, id: &Id) -> Option<u64>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    let span = dispatch.downcast_ref::<S>()?.span(id)?;
    let extensions = span.extensions();
    let fields = extensions.get::<ContextFields>()?;
    Some(fields.recorded_calls.load(Ordering::Relaxed))
}

fn note_unaudited<S>(dispatch: &Dispatch)
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    static WARNED: AtomicBool = AtomicBool::new(false);
    match dispatch
        .downcast_ref::<AuditSpans<S>>()
        .map(|layer| &layer.destination)
    {
        Some(Destination::Writer(handle)) => handle.note_unaudited(),
        // Test captures' router: declining a thread is its job, not a loss.
        #[cfg(feature = "testing")]
        Some(Destination::LiveCaptures) => return,
        None => {}
    }
    if !WARNED.swap(true, Ordering::Relaxed) {
        eprintln!(
            "audit-layer: an #[audited] call was not recorded: its span never reached the audit \
             layer. A filter applied to the whole subscriber (a layer-wide EnvFilter, say) or a \
             max_level_* feature disables it. Put filters on the other layers with \
             .with_filter(...), or let `audit=trace` through. (Counted in unaudited_calls.)"
        );
    }
}

/// Where a layer's records go.
enum Destination {
    /// The writer behind this handle.
    Writer(AuditHandle),
    /// The test captures alive in the process: see `testing`.
    #[cfg(feature = "testing")]
    LiveCaptures,
}

impl<S> AuditSpans<S> {
    fn submit(&self, event: AuditEvent) -> Completion {
        // Infallible without the `testing` feature, which adds the other arm.
        #[allow(clippy::infallible_destructuring_match)]
        let handle = match &self.destination {
            Destination::Writer(handle) => handle,
            #[cfg(feature = "testing")]
            Destination::LiveCaptures => {
                return crate::capture::live_captures::submit_to_live_captures(event, self.strict);
            }
        };
        let result = if self.strict {
            handle.submit_acked(event).map(Completion::Pending)
        } else {
            handle.submit(event).map(|()| Completion::Done)
        };
        result.unwrap_or_else(|_| {
            static WARNED: AtomicBool = AtomicBool::new(false);
            if !WARNED.swap(true, Ordering::Relaxed) {
                eprintln!(
                    "audit-layer: the audit writer has shut down; audited calls are no longer \
                     recorded (counted in the writer's `rejected`)"
                );
            }
            if self.strict {
                Completion::Failed(crate::WriteError::WriterGone)
            } else {
                Completion::Done
            }
        })
    }
}

impl<S> Layer<S> for AuditSpans<S>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_new_span(&self, attrs: &span::Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        if attrs.metadata().fields().field(CALL_MARKER).is_some() {
            // An audited call: its values come through the hook.
            return;
        }
        let mut fields = ContextFields::default();
        attrs.record(&mut fields);
        let Some(span) = ctx.span(id) else { return };
        // A span opened directly in an audited body (`#[instrument]` written
        // above `#[audited]` opens its span there) speaks for the call: its
        // values fill what the attribute did not name, before any enclosing
        // span's.
        if let Some(parent) = span.parent()
            && let Some(call) = parent.extensions_mut().get_mut::<CallState>()
            && !call.completed
        {
            fill_missing(
                &mut call.actor,
                &mut call.context,
                fields.actor.as_deref(),
                &fields.entries,
            );
        }
        span.extensions_mut().insert(fields);
    }

    fn on_record(&self, id: &Id, values: &span::Record<'_>, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(id) else { return };
        let mut extensions = span.extensions_mut();
        if let Some(fields) = extensions.get_mut::<ContextFields>() {
            values.record(fields);
        }
    }

    unsafe fn downcast_raw(&self, id: TypeId) -> Option<*const ()> {
        if id == TypeId::of::<Self>() {
            Some(self as *const Self as *const ())
        } else if id == TypeId::of::<Hook>() {
            Some(&self.hook as *const Hook as *const ())
        } else {
            None
        }
    }
}

impl<S> Layer<S> for AuditLayer<S>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_register_dispatch(&self, subscriber: &Dispatch) {
        self.inner.on_register_dispatch(subscriber);
    }

    fn on_layer(&mut self, subscriber: &mut S) {
        self.inner.on_layer(subscriber);
    }

    fn register_callsite(&self, metadata: &'static Metadata<'static>) -> Interest {
        self.inner.register_callsite(metadata)
    }

    fn enabled(&self, metadata: &Metadata<'_>, ctx: Context<'_, S>) -> bool {
        self.inner.enabled(metadata, ctx)
    }

    fn on_new_span(&self, attrs: &span::Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        self.inner.on_new_span(attrs, id, ctx);
    }

    fn max_level_hint(&self) -> Option<LevelFilter> {
        self.inner.max_level_hint()
    }

    fn on_record(&self, span: &Id, values: &span::Record<'_>, ctx: Context<'_, S>) {
        self.inner.on_record(span, values, ctx);
    }

    fn event_enabled(&self, event: &Event<'_>, ctx: Context<'_, S>) -> bool {
        self.inner.event_enabled(event, ctx)
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        self.inner.on_event(event, ctx);
    }

    // `on_enter`, `on_exit`, `on_close`, `on_follows_from` and `on_id_change`
    // are deliberately not forwarded: neither `AuditSpans` nor its filter
    // acts on them, and `Filtered` would look the span up in the registry
    // on each one, for every span of the application, only to call a no-op.
    // A callback added to `AuditSpans` must be forwarded here too.

    unsafe fn downcast_raw(&self, id: TypeId) -> Option<*const ()> {
        if id == TypeId::of::<Self>() {
            Some(self as *const Self as *const ())
        } else {
            // SAFETY: forwarded unchanged; the inner layer answers for its own types.
            unsafe { self.inner.downcast_raw(id) }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Inheritance keeps the context sorted and unique, whether a key is
    /// the same static name as the one already there or an equal string
    /// from elsewhere, and never overrides what the call named itself.
    #[test]
    fn inherited_entries_merge_sorted_without_overriding() {
        static TENANT: &str = "tenant";
        let mut event = AuditEvent::builder("post.edit")
            .context(TENANT, "named-by-the-call")
            .build();
        let owned_tenant = String::from("tenant");
        let outer = [
            (Cow::Borrowed("ticket"), Text::from("CHG-1")),
            (Cow::Borrowed(TENANT), Text::from("same-pointer")),
            (Cow::Owned(owned_tenant), Text::from("equal-string")),
            (Cow::Borrowed("actor_ip"), Text::from("198.51.100.7")),
        ];
        let mut sorted_outer = outer.to_vec();
        sorted_outer.sort_by(|a, b| a.0.cmp(&b.0));
        sorted_outer.dedup_by(|a, b| a.0 == b.0);
        inherit(&mut event, Some("alice"), &sorted_outer);
        inherit(&mut event, Some("mallory"), &outer[..1]);
        let context: Vec<(&str, &str)> = event.context().collect();
        assert_eq!(
            context,
            [
                ("actor_ip", "198.51.100.7"),
                ("tenant", "named-by-the-call"),
                ("ticket", "CHG-1"),
            ]
        );
        assert_eq!(event.actor(), Some("alice"));
        assert_eq!(compare_keys(TENANT, "tenant"), std::cmp::Ordering::Equal);
        assert_eq!(compare_keys("a", "b"), std::cmp::Ordering::Less);
    }
}
