//! The `#[audited]` attribute of [audit-layer](https://docs.rs/audit-layer).
//!
//! Use it through `audit_layer::audited`; the documentation is on [`audited`].

#![warn(missing_docs, unreachable_pub)]

use proc_macro::TokenStream;
use quote::ToTokens;

mod attr;
mod expand;
mod shape;

/// Makes every call of a function an audit record: who did what, to what,
/// with what result, and the state before and after.
///
/// Add [`AuditLayer`] to the tracing subscriber; each call then produces
/// exactly one record: when it returns (`Ok`, `Err` or any other value), when
/// it panics, and, for an `async fn` or a function returning a future, when
/// the future completes or is dropped before it completes.
///
/// **Nothing is recorded unless named.** Unlike `#[instrument]`, no argument
/// is captured by default: arguments often hold passwords, tokens and
/// personal data.
///
/// # Arguments
///
/// | argument | value | evaluated |
/// |---|---|---|
/// | `action = "post.publish"` | a string literal, or any `Display` expression | before the body; default: the function's path, `my_crate::posts::publish`, and for a method its type's, `my_crate::posts::PostRepo::publish` |
/// | `actor = user.id` | `Display`; `?user` for `Debug`, `%user` for `Display`, as in `tracing` | before the body; default: the `audit.actor` of an enclosing span, or none (counted in `missing_actor`, never invented) |
/// | `resource = post_id` | like `actor` | before the body |
/// | `before = load(&db, id)` | `Serialize`; in an `async fn` it may `.await` | before the body, only when an audit layer records the call |
/// | `after = \|ret\| ...` | a closure given `&` the return value, or any `Serialize` expression; it may `.await` in an `async fn` or a function returning a future | after the body, only when recorded |
/// | `fields(ticket = req.ticket, ...)` | like `actor`, recorded as context | before the body |
/// | `level = "debug"` | `"trace"` ... `"error"`, or a `tracing::Level` | the span's level (default `INFO`) |
/// | `crate = path::to::audit_layer` | a path | for crates that re-export audit-layer |
///
/// The values also become fields of the call's span (`audit.actor`,
/// `audit.resource`, `audit.<field>`), so a fmt layer shows them too.
/// Values known only inside the body go through [`record_before`],
/// [`record_after`], [`set_resource`], [`set_actor`] and [`set_context`].
///
/// # Outcome
///
/// - `Ok(_)`, and any return value that is not a `Result`: `success`;
/// - `Err(e)`: `failure`, reason `e.to_string()` (or `{:?}` when the error is
///   not `Display`), kind `error` unless the error type implements
///   [`ClassifyFailure`] to say `denied`, `invalid`, ...;
/// - with the `http` feature, an HTTP status (`Response`, `StatusCode`,
///   `(StatusCode, T)`, `Result<T, StatusCode>`, and with `axum`, `impl
///   IntoResponse`): 401/403/407/429 `denied`, other 4xx `invalid`, 5xx
///   `error`;
/// - a panic anywhere in the call (body, `before`, `after`, a named value, the
///   error's classification): `failure`, kind `panicked` (the panic then goes
///   on unwinding);
/// - a future dropped before it completes, or never awaited when a plain `fn`
///   returned it: `failure`, kind `cancelled`; also when it was dropped by a
///   panic that started elsewhere (a sibling branch of `join!`).
///
/// # Every function shape
///
/// Sync and `async fn`; `&self`, `&mut self` and `self` methods; generics,
/// lifetimes and where clauses; `impl Trait` arguments and return types;
/// patterns in arguments; `unsafe fn`; early `return` and `?`; native `async
/// fn` in traits, and `#[async_trait]` methods (put `#[audited]` on the method
/// inside the `#[async_trait]` impl).
///
/// A plain `fn` that returns a future (`impl Future<Output = ..>`,
/// `BoxFuture`, `LocalBoxFuture`, `Pin<Box<dyn Future ..>>`, or a
/// `Self::Future` that is one of those) is recorded when the future
/// completes, with what it resolved to; its values and `before` are taken
/// when it is called. A `Self::Future` of another type is a compile error
/// that says so.
///
/// `-> !` functions (ended only by a panic), bodies that start with inner
/// attributes, functions written by `macro_rules!`, `#[instrument]` above or
/// below (its span's `audit.*` values fill what the attribute does not
/// name), and `#[track_caller]` (the body runs in place, so
/// `Location::caller()` and its panics still name the caller) all work. A
/// `const fn` cannot be audited.
///
/// # Examples
///
/// ```
/// use audit_layer::{audited, ClassifyFailure, FailureKind};
/// use serde::Serialize;
///
/// #[derive(Serialize, Clone)]
/// struct Post { id: u64, published: bool }
///
/// #[derive(Debug)]
/// enum PostError { NotAnEditor }
/// impl std::fmt::Display for PostError {
///     fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result { f.write_str("not an editor") }
/// }
/// impl ClassifyFailure for PostError {
///     fn failure_kind(&self) -> FailureKind { FailureKind::Denied }
/// }
///
/// struct User { name: String, editor: bool }
///
/// #[audited(
///     action = "post.publish",
///     actor = user.name,
///     resource = format_args!("post:{}", post.id),
///     before = post.clone(),
///     after = |ret: &Result<Post, PostError>| ret.as_ref().ok().cloned(),
///     fields(ticket = "EDIT-42"),
/// )]
/// fn publish(user: &User, mut post: Post) -> Result<Post, PostError> {
///     if !user.editor {
///         return Err(PostError::NotAnEditor);
///     }
///     post.published = true;
///     Ok(post)
/// }
///
/// let alice = User { name: "alice".into(), editor: true };
/// assert!(publish(&alice, Post { id: 42, published: false }).is_ok());
/// ```
///
/// An async handler, with the actor coming from an enclosing request span:
///
/// ```
/// use audit_layer::audited;
///
/// #[audited(action = "post.delete", resource = id)]
/// async fn delete(id: u64) -> std::io::Result<()> {
///     Ok(())
/// }
///
/// # let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
/// # rt.block_on(async {
/// let request = tracing::info_span!("request", audit.actor = "alice", audit.request_id = "r-7");
/// tracing::Instrument::instrument(delete(7), request).await.unwrap();
/// # });
/// ```
///
/// A function that returns a future, as trait objects and tower services
/// write them, is recorded when the future completes:
///
/// ```
/// use std::future::Future;
/// use std::pin::Pin;
/// use audit_layer::audited;
///
/// #[audited(action = "post.archive", resource = id)]
/// fn archive(id: u64) -> Pin<Box<dyn Future<Output = Result<(), String>> + Send>> {
///     Box::pin(async move { if id == 0 { Err("no post 0".into()) } else { Ok(()) } })
/// }
///
/// # let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
/// # rt.block_on(async {
/// assert!(archive(0).await.is_err()); // recorded now, as a failure
/// # });
/// ```
///
/// Mistakes are compile errors that point at the offending token:
///
/// ```compile_fail
/// #[audit_layer::audited(actr = user)]
/// fn f(user: &str) {}
/// ```
///
/// [`AuditLayer`]: https://docs.rs/audit-layer/latest/audit_layer/struct.AuditLayer.html
/// [`record_before`]: https://docs.rs/audit-layer/latest/audit_layer/fn.record_before.html
/// [`record_after`]: https://docs.rs/audit-layer/latest/audit_layer/fn.record_after.html
/// [`set_resource`]: https://docs.rs/audit-layer/latest/audit_layer/fn.set_resource.html
/// [`set_actor`]: https://docs.rs/audit-layer/latest/audit_layer/fn.set_actor.html
/// [`set_context`]: https://docs.rs/audit-layer/latest/audit_layer/fn.set_context.html
/// [`ClassifyFailure`]: https://docs.rs/audit-layer/latest/audit_layer/trait.ClassifyFailure.html
#[proc_macro_attribute]
pub fn audited(args: TokenStream, item: TokenStream) -> TokenStream {
    let original = proc_macro2::TokenStream::from(item.clone());
    let result = syn::parse::<attr::AuditedArgs>(args).and_then(|args| {
        let function = syn::parse::<syn::ItemFn>(item).map_err(|error| {
            syn::Error::new(error.span(), "#[audited] goes on a function with a body")
        })?;
        expand::expand(&args, &function)
    });
    match result {
        Ok(expanded) => expanded.into(),
        // Emit the error and the function untouched, so that the error is
        // the only one the user sees (no cascade of "cannot find function").
        Err(error) => {
            let mut tokens = error.into_compile_error();
            original.to_tokens(&mut tokens);
            tokens.into()
        }
    }
}
