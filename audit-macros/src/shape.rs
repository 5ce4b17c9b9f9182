//! Which shape of function `#[audited]` is given, hence what it wraps: a
//! function that returns a future is recorded when that future completes,
//! not when it is made.

use syn::spanned::Spanned;
use syn::visit_mut::VisitMut;
use syn::{Block, Expr, ExprAsync, ExprCall, ItemFn, Pat, ReturnType, Stmt, Type, TypeParamBound};

/// How the function produces its result, hence what is wrapped.
pub(crate) enum Shape<'a> {
    /// `fn`: run the block in a closure.
    Sync,
    /// A `#[track_caller]` `fn`: run the block in place, so that
    /// `Location::caller()` and the panics in it still see the caller; its
    /// `return`s and `?`s are rewritten to finish the call.
    TrackCaller(Exit),
    /// `fn ... -> !`: run the block in place; only a panic ends the call.
    Diverging,
    /// `async fn`: run the block in an async block polled in the call's span.
    Async,
    /// A body that is exactly `Box::pin(async move { ... })`, as
    /// `#[async_trait]` writes methods: wrap the async block inside, after
    /// the statements that rebind the arguments.
    AsyncTrait(&'a ExprAsync),
    /// Another `fn` returning a future: wrap the future the body returns.
    ReturnsFuture(FutureType),
}

/// What `?` returns early in a function run in place.
#[derive(Clone, Copy)]
pub(crate) enum Exit {
    /// `Err(From::from(e))`.
    Result,
    /// `None`.
    Option,
    /// The body has no `?`.
    NoQuestionMark,
}

/// The declared type of a returned future.
pub(crate) enum FutureType {
    /// `impl Future<Output = ..>`: an async block of ours is that type
    /// (boxed when `Unpin` is promised).
    Opaque { unpin: bool },
    /// `Pin<Box<dyn Future ..>>`, `BoxFuture`, `LocalBoxFuture`,
    /// `Self::Future`: boxed through `__private::AuditedFuture`.
    Boxed,
}

impl Shape<'_> {
    /// Whether `before` is evaluated in the future that runs the body, so
    /// that it may `.await`.
    pub(crate) fn before_may_await(&self) -> bool {
        matches!(self, Shape::Async | Shape::AsyncTrait(_))
    }

    /// Whether `after` runs in a future, so that it may `.await`.
    pub(crate) fn after_may_await(&self) -> bool {
        matches!(
            self,
            Shape::Async | Shape::AsyncTrait(_) | Shape::ReturnsFuture(_)
        )
    }

    pub(crate) fn in_future(&self) -> bool {
        self.after_may_await()
    }
}

pub(crate) fn shape_of(function: &ItemFn) -> Shape<'_> {
    if function.sig.asyncness.is_some() {
        return Shape::Async;
    }
    if let ReturnType::Type(_, ty) = &function.sig.output
        && matches!(ungroup_type(ty), Type::Never(_))
    {
        return Shape::Diverging;
    }
    if let Some(block) = boxed_async_body(&function.block) {
        return Shape::AsyncTrait(block);
    }
    if let Some(future_type) = future_type(&function.sig.output) {
        return Shape::ReturnsFuture(future_type);
    }
    let track_caller = function
        .attrs
        .iter()
        .any(|attr| attr.path().is_ident("track_caller"));
    if track_caller && let Some(exit) = exit_of(function) {
        return Shape::TrackCaller(exit);
    }
    Shape::Sync
}

/// How a body run in place exits early, if it can be rewritten: a `?` is
/// understood in a function returning `Result` or `Option`; in any other, a
/// `#[track_caller]` body keeps its closure (its `?` would otherwise bypass
/// the record).
fn exit_of(function: &ItemFn) -> Option<Exit> {
    #[derive(Default)]
    struct FindsTry(bool);
    impl<'ast> syn::visit::Visit<'ast> for FindsTry {
        fn visit_expr_try(&mut self, _: &'ast syn::ExprTry) {
            self.0 = true;
        }
        fn visit_expr_closure(&mut self, _: &'ast syn::ExprClosure) {}
        fn visit_expr_async(&mut self, _: &'ast ExprAsync) {}
        fn visit_item(&mut self, _: &'ast syn::Item) {}
    }
    let mut finder = FindsTry::default();
    syn::visit::Visit::visit_block(&mut finder, &function.block);
    if !finder.0 {
        return Some(Exit::NoQuestionMark);
    }
    let ReturnType::Type(_, ty) = &function.sig.output else {
        return None;
    };
    let Type::Path(path) = ungroup_type(ty) else {
        return None;
    };
    if last_segment_is(&path.path, "Result") {
        Some(Exit::Result)
    } else if last_segment_is(&path.path, "Option") {
        Some(Exit::Option)
    } else {
        None
    }
}

fn ungroup_type(ty: &Type) -> &Type {
    match ty {
        Type::Group(group) => ungroup_type(&group.elem),
        Type::Paren(paren) => ungroup_type(&paren.elem),
        other => other,
    }
}

/// Expressions arrive from `macro_rules!` wrapped in invisible groups.
pub(crate) fn ungroup(expr: &Expr) -> &Expr {
    match expr {
        Expr::Group(group) => ungroup(&group.expr),
        Expr::Paren(paren) => ungroup(&paren.expr),
        other => other,
    }
}

fn last_segment_is(path: &syn::Path, name: &str) -> bool {
    path.segments
        .last()
        .is_some_and(|segment| segment.ident == name)
}

/// Whether one of `bounds` is the trait `name` (by its last path segment).
fn names_trait(
    bounds: &syn::punctuated::Punctuated<TypeParamBound, syn::Token![+]>,
    name: &str,
) -> bool {
    bounds.iter().any(|bound| match bound {
        TypeParamBound::Trait(bound) => last_segment_is(&bound.path, name),
        _ => false,
    })
}

fn names_future(bounds: &syn::punctuated::Punctuated<TypeParamBound, syn::Token![+]>) -> bool {
    names_trait(bounds, "Future")
}

/// `-> impl IntoResponse`: axum's handlers.
pub(crate) fn returns_into_response(output: &ReturnType) -> bool {
    match output {
        ReturnType::Type(_, ty) => {
            matches!(ungroup_type(ty), Type::ImplTrait(impl_trait) if names_trait(&impl_trait.bounds, "IntoResponse"))
        }
        ReturnType::Default => false,
    }
}

/// The returned future's type, if the declared return type names one.
fn future_type(output: &ReturnType) -> Option<FutureType> {
    let ReturnType::Type(_, ty) = output else {
        return None;
    };
    match ungroup_type(ty) {
        Type::ImplTrait(impl_trait) if names_future(&impl_trait.bounds) => {
            let unpin = names_trait(&impl_trait.bounds, "Unpin");
            Some(FutureType::Opaque { unpin })
        }
        Type::Path(path) => {
            let segments = &path.path.segments;
            let last = segments.last()?;
            let boxed = match last.ident.to_string().as_str() {
                "BoxFuture" | "LocalBoxFuture" => true,
                "Pin" => pins_boxed_dyn_future(&last.arguments),
                // `Self::Future`, `<Self as Service<R>>::Future`.
                "Future" => {
                    path.qself.as_ref().is_some_and(|qself| {
                        matches!(ungroup_type(&qself.ty), Type::Path(p) if p.path.is_ident("Self"))
                    }) || (segments.len() == 2 && segments[0].ident == "Self")
                }
                _ => false,
            };
            boxed.then_some(FutureType::Boxed)
        }
        _ => None,
    }
}

/// The declared output of a returned future: `X` of `impl Future<Output =
/// X>`, `Pin<Box<dyn Future<Output = X>>>`, `BoxFuture<'a, X>`. It types the
/// result, since the outcome is chosen by its type, which the future does
/// not tell early enough.
pub(crate) fn future_output(output: &ReturnType) -> Option<Type> {
    let ReturnType::Type(_, ty) = output else {
        return None;
    };
    let declared = match ungroup_type(ty) {
        Type::ImplTrait(impl_trait) => declared_output(&impl_trait.bounds),
        Type::Path(path) => {
            let last = path.path.segments.last()?;
            let syn::PathArguments::AngleBracketed(arguments) = &last.arguments else {
                return None;
            };
            let mut types = arguments.args.iter().filter_map(|argument| match argument {
                syn::GenericArgument::Type(ty) => Some(ungroup_type(ty)),
                _ => None,
            });
            match last.ident.to_string().as_str() {
                "BoxFuture" | "LocalBoxFuture" => types.next().cloned(),
                "Pin" => match types.next()? {
                    Type::Path(boxed) => {
                        let last = boxed.path.segments.last()?;
                        let syn::PathArguments::AngleBracketed(inner) = &last.arguments else {
                            return None;
                        };
                        inner.args.iter().find_map(|argument| match argument {
                            syn::GenericArgument::Type(ty) => match ungroup_type(ty) {
                                Type::TraitObject(object) => declared_output(&object.bounds),
                                _ => None,
                            },
                            _ => None,
                        })
                    }
                    _ => None,
                },
                _ => None,
            }
        }
        _ => None,
    };
    declared.map(|ty| erase_impl_trait(&ty))
}

/// `X` of `Future<Output = X>`.
fn declared_output(
    bounds: &syn::punctuated::Punctuated<TypeParamBound, syn::Token![+]>,
) -> Option<Type> {
    bounds.iter().find_map(|bound| {
        let TypeParamBound::Trait(bound) = bound else {
            return None;
        };
        let last = bound.path.segments.last()?;
        let syn::PathArguments::AngleBracketed(arguments) = &last.arguments else {
            return None;
        };
        arguments.args.iter().find_map(|argument| match argument {
            syn::GenericArgument::AssocType(assoc) if assoc.ident == "Output" => {
                Some(assoc.ty.clone())
            }
            _ => None,
        })
    })
}

fn pins_boxed_dyn_future(arguments: &syn::PathArguments) -> bool {
    let syn::PathArguments::AngleBracketed(arguments) = arguments else {
        return false;
    };
    arguments.args.iter().any(|argument| {
        let syn::GenericArgument::Type(Type::Path(boxed)) = argument else {
            return false;
        };
        let Some(last) = boxed.path.segments.last() else {
            return false;
        };
        let syn::PathArguments::AngleBracketed(inner) = &last.arguments else {
            return false;
        };
        last.ident == "Box"
            && inner.args.iter().any(|argument| {
                matches!(argument, syn::GenericArgument::Type(ty)
                    if matches!(ungroup_type(ty), Type::TraitObject(object) if names_future(&object.bounds)))
            })
    })
}

/// Finds a body that is exactly `Box::pin(async move { ... })`.
fn boxed_async_body(block: &Block) -> Option<&ExprAsync> {
    let [Stmt::Expr(expr, None)] = block.stmts.as_slice() else {
        return None;
    };
    let Expr::Call(ExprCall { func, args, .. }) = ungroup(expr) else {
        return None;
    };
    let Expr::Path(path) = ungroup(func) else {
        return None;
    };
    let segments: Vec<String> = path
        .path
        .segments
        .iter()
        .map(|s| s.ident.to_string())
        .collect();
    if !segments.ends_with(&["Box".to_owned(), "pin".to_owned()]) || args.len() != 1 {
        return None;
    }
    match ungroup(args.first()?) {
        Expr::Async(async_block) if async_block.capture.is_some() => Some(async_block),
        _ => None,
    }
}

/// Splits `#[async_trait]`'s async block into the statements that rebind
/// the arguments (and its type hint), which must run first, and the body.
pub(crate) fn split_rebinding(stmts: &[Stmt]) -> (&[Stmt], &[Stmt]) {
    let prefix = stmts
        .iter()
        .take_while(|stmt| match stmt {
            // `if let Some(__ret) = None::<Ret> { return __ret; }`
            Stmt::Expr(Expr::If(if_expr), _) => matches!(*if_expr.cond, Expr::Let(_)),
            // `let x = x;`, `let __self = self;`, `let (a, b) = { let __arg1 = __arg1; __arg1 };`
            Stmt::Local(local) => {
                !matches!(local.pat, Pat::Type(_))
                    && local
                        .init
                        .as_ref()
                        .is_some_and(|init| init.diverge.is_none() && is_rebinding(&init.expr))
            }
            _ => false,
        })
        .count();
    stmts.split_at(prefix)
}

fn is_rebinding(expr: &Expr) -> bool {
    match ungroup(expr) {
        Expr::Path(path) => path.qself.is_none() && path.path.segments.len() == 1,
        Expr::Block(block) => matches!(
            block.block.stmts.as_slice(),
            [Stmt::Local(_), Stmt::Expr(Expr::Path(_), None)]
        ),
        _ => false,
    }
}

pub(crate) fn binds_self(stmt: &Stmt) -> bool {
    matches!(stmt, Stmt::Local(local) if matches!(&local.pat, Pat::Ident(ident) if ident.ident == "__self"))
}

/// `impl Trait` cannot name a `let`'s type: replace it with `_`.
pub(crate) fn erase_impl_trait(ty: &Type) -> Type {
    struct Eraser;
    impl VisitMut for Eraser {
        fn visit_type_mut(&mut self, ty: &mut Type) {
            if let Type::ImplTrait(_) = ty {
                let underscore = syn::Token![_](ty.span());
                *ty = syn::parse_quote!(#underscore);
            } else {
                syn::visit_mut::visit_type_mut(self, ty);
            }
        }
    }
    let mut ty = ty.clone();
    Eraser.visit_type_mut(&mut ty);
    ty
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn returned_futures_are_recognised_by_their_declared_type() {
        let kind = |output: ReturnType| match future_type(&output) {
            None => "none",
            Some(FutureType::Opaque { unpin: false }) => "opaque",
            Some(FutureType::Opaque { unpin: true }) => "opaque unpin",
            Some(FutureType::Boxed) => "boxed",
        };
        assert_eq!(
            kind(syn::parse_quote!(-> impl Future<Output = u8>)),
            "opaque"
        );
        assert_eq!(
            kind(syn::parse_quote!(-> impl std::future::Future<Output = u8> + Send + 'a)),
            "opaque"
        );
        assert_eq!(
            kind(syn::parse_quote!(-> impl Future<Output = u8> + Unpin)),
            "opaque unpin"
        );
        assert_eq!(kind(syn::parse_quote!(-> BoxFuture<'static, u8>)), "boxed");
        assert_eq!(
            kind(syn::parse_quote!(-> futures::future::LocalBoxFuture<'a, u8>)),
            "boxed"
        );
        assert_eq!(
            kind(syn::parse_quote!(-> Pin<Box<dyn Future<Output = u8> + Send + '_>>)),
            "boxed"
        );
        assert_eq!(kind(syn::parse_quote!(-> Self::Future)), "boxed");
        assert_eq!(
            kind(syn::parse_quote!(-> <Self as Service<Request>>::Future)),
            "boxed"
        );
        assert_eq!(kind(syn::parse_quote!(-> S::Future)), "none");
        assert_eq!(kind(syn::parse_quote!(-> Pin<Box<u8>>)), "none");
        assert_eq!(kind(syn::parse_quote!(-> impl Iterator<Item = u8>)), "none");
        assert_eq!(kind(syn::parse_quote!(-> Result<u8, String>)), "none");
    }
}
