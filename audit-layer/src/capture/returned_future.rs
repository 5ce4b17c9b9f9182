//! A function that is not `async fn` but returns a boxed future (a
//! `BoxFuture`, `Pin<Box<dyn Future>>`, a `Self::Future` that is one): its
//! call is recorded when the future completes, so `#[audited]` returns a
//! future of the same type wrapping the one the body made.

use std::future::Future;
use std::pin::Pin;

/// A boxed future type `#[audited]` can build around the body's future `F`.
#[diagnostic::on_unimplemented(
    message = "`#[audited]` cannot record this call when its future completes: it returns `{Self}`",
    label = "returns `{Self}`",
    note = "a function that returns a future is recorded when the future completes, so `#[audited]` returns a future of its own: write the return type as `impl Future<Output = ..>`, `Pin<Box<dyn Future<Output = ..> + ..>>`, `BoxFuture<..>` or `LocalBoxFuture<..>` (a `Self::Future` must be one of the boxed ones), or make it an `async fn`"
)]
pub trait AuditedFuture<F>: Sized {
    /// Boxes the wrapped future as the declared type.
    fn from_audited(future: F) -> Self;
}

impl<'a, T, F> AuditedFuture<F> for Pin<Box<dyn Future<Output = T> + Send + 'a>>
where
    F: Future<Output = T> + Send + 'a,
{
    #[inline]
    fn from_audited(future: F) -> Self {
        Box::pin(future)
    }
}

impl<'a, T, F> AuditedFuture<F> for Pin<Box<dyn Future<Output = T> + Send + Sync + 'a>>
where
    F: Future<Output = T> + Send + Sync + 'a,
{
    #[inline]
    fn from_audited(future: F) -> Self {
        Box::pin(future)
    }
}

impl<'a, T, F> AuditedFuture<F> for Pin<Box<dyn Future<Output = T> + 'a>>
where
    F: Future<Output = T> + 'a,
{
    #[inline]
    fn from_audited(future: F) -> Self {
        Box::pin(future)
    }
}

/// The audited future, as the function's declared boxed type `R`.
#[inline]
pub fn boxed_future<R: AuditedFuture<F>, F>(future: F) -> R {
    R::from_audited(future)
}
