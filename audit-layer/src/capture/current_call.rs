//! Adding to the current audited call from inside its body, for what is
//! known only half-way through (the post a handler has just loaded, say).
//!
//! Each function acts on the innermost `#[audited]` call that encloses the
//! current span (nested spans and `.await`s included) and returns whether
//! there was one. Nothing is serialised when no audit layer records the call.

use std::borrow::Cow;
use std::fmt::Display;

use crate::capture::field_text::display_text;
use serde::Serialize;
use tracing::Span;

use crate::capture::hook::{CallState, Hook};
use crate::record::esignature::ESignature;
use crate::record::{Text, set_context as insert_sorted, to_json};

fn with_current_call(update: &mut dyn FnMut(&mut CallState)) -> bool {
    Span::current()
        .with_subscriber(|(id, dispatch)| {
            dispatch
                .downcast_ref::<Hook>()
                .is_some_and(|hook| (hook.update)(dispatch, id, update))
        })
        .unwrap_or(false)
}

fn in_audited_call() -> bool {
    with_current_call(&mut |_| {})
}

/// Records the state before the action, for a call whose `before` is only
/// known inside its body.
///
/// Returns whether an audited call received it.
///
/// # Examples
///
/// ```
/// use audit_layer::{audited, record_before, record_after};
/// # #[derive(serde::Serialize, Clone)] struct Post { id: u64, published: bool }
/// # fn load(id: u64) -> Post { Post { id, published: false } }
///
/// #[audited(action = "post.publish", resource = id)]
/// fn publish(id: u64) -> Post {
///     let mut post = load(id);
///     record_before(&post);
///     post.published = true;
///     record_after(&post);
///     post
/// }
/// # publish(1);
/// ```
pub fn record_before(state: &impl Serialize) -> bool {
    if !in_audited_call() {
        return false;
    }
    let mut json = Some(to_json(state));
    with_current_call(&mut |call| call.before = json.take())
}

/// Records the state after the action. An `after = ...` argument of the
/// attribute, evaluated once the body has returned, has the last word.
///
/// Returns whether an audited call received it.
///
/// # Examples
///
/// See [`record_before`].
pub fn record_after(state: &impl Serialize) -> bool {
    if !in_audited_call() {
        return false;
    }
    let mut json = Some(to_json(state));
    with_current_call(&mut |call| call.after = json.take())
}

/// Sets the resource of the current audited call.
///
/// Returns whether an audited call received it.
///
/// # Examples
///
/// ```
/// use audit_layer::{audited, set_resource};
///
/// #[audited(action = "post.create")]
/// fn create(title: &str) -> u64 {
///     let id = 42; // assigned by the database
///     set_resource(format_args!("post:{id}"));
///     id
/// }
/// # create("t");
/// ```
pub fn set_resource(resource: impl Display) -> bool {
    let mut resource = Some(display_text(&resource));
    with_current_call(&mut |call| call.resource = resource.take())
}

/// Sets the actor of the current audited call (after authentication, say).
///
/// Returns whether an audited call received it.
///
/// # Examples
///
/// ```
/// use audit_layer::{audited, set_actor};
///
/// #[audited(action = "session.login")]
/// fn login(user: &str, password: &str) -> bool {
///     set_actor(user);
///     password == "correct horse"
/// }
/// # login("alice", "x");
/// ```
pub fn set_actor(actor: impl Display) -> bool {
    let mut actor = Some(display_text(&actor));
    with_current_call(&mut |call| call.actor = actor.take())
}

/// Adds a context entry to the current audited call.
///
/// Returns whether an audited call received it.
///
/// # Examples
///
/// ```
/// use audit_layer::{audited, set_context};
///
/// #[audited(action = "export.users")]
/// fn export() {
///     set_context("rows", 1200);
/// }
/// # export();
/// ```
pub fn set_context(key: impl Into<Cow<'static, str>>, value: impl Display) -> bool {
    let mut entry = Some((key.into(), display_text(&value)));
    with_current_call(&mut |call| {
        if let Some((key, value)) = entry.take() {
            insert_sorted(&mut call.context, key, value);
        }
    })
}

/// Records an electronic signature in the current audited call: its
/// context gets the `esignature.` entries, its resource becomes what was
/// signed, and its actor (when not named already) the signer.
///
/// Returns whether an audited call received it.
///
/// # Examples
///
/// ```
/// use audit_layer::{audited, record_esignature, DocumentHash, ESignature, SignatureMeaning};
///
/// #[audited(action = "sop.approve")]
/// fn approve(user: &str, name: &str, sop: &str, text: &[u8]) -> Result<(), audit_layer::ESignatureError> {
///     let signature = ESignature::new(user, name, SignatureMeaning::Approval, sop, DocumentHash::of(text))?;
///     record_esignature(&signature);
///     Ok(())
/// }
/// # approve("u-17", "Dr. Jane Roe", "sop:7", b"v3").unwrap();
/// ```
pub fn record_esignature(signature: &ESignature) -> bool {
    if !in_audited_call() {
        return false;
    }
    with_current_call(&mut |call| apply_esignature(call, signature))
}

/// Puts `signature` into `call`.
pub(crate) fn apply_esignature(call: &mut CallState, signature: &ESignature) {
    for (key, value) in signature.context_entries() {
        insert_sorted(&mut call.context, Cow::Borrowed(key), Text::from(value));
    }
    call.resource = Some(Text::from(signature.resource()));
    if call.actor.is_none() {
        call.actor = Some(Text::from(signature.signer()));
    }
}
