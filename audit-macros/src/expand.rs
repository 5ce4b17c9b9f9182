//! Generating the audited function.
//!
//! The function keeps its signature; its body becomes:
//!
//! 1. a `static` call site (action, function, module, file, line);
//! 2. a span (target `audit`) carrying the named values as fields, each
//!    evaluated once and only when some layer wants the span;
//! 3. a `Call` started with those values, which an audit layer accepts;
//! 4. `before` (only when the call is recorded), then the original body, in a
//!    closure (sync) or an async block (async), so that `return` and `?` end
//!    the body and not the function;
//! 5. the outcome worked out from the return value, `after`, and the record
//!    handed over; in strict mode, waiting for it to be durable.
//!
//! A panic or a dropped future drops the `Call` unfinished, which records it.

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote, quote_spanned};
use syn::spanned::Spanned;
use syn::visit_mut::VisitMut;
use syn::{Block, Expr, ExprAsync, ExprCall, ItemFn, ReturnType, Stmt, Type};

use crate::attr::{Action, AuditedArgs};

/// Where the body to wrap is.
enum BodyKind<'a> {
    /// `fn`: run the block in a closure.
    Sync,
    /// `async fn`: run the block in an instrumented async block.
    Async,
    /// A function returning `Box::pin(async move { ... })`, as `#[async_trait]`
    /// writes trait methods: wrap the async block inside.
    AsyncTrait {
        statement: usize,
        block: &'a ExprAsync,
    },
}

pub(crate) fn expand(args: &AuditedArgs, function: &ItemFn) -> syn::Result<TokenStream> {
    if let Some(constness) = &function.sig.constness {
        return Err(syn::Error::new(
            constness.span,
            "a `const fn` cannot be audited",
        ));
    }
    if let Some(variadic) = &function.sig.variadic {
        return Err(syn::Error::new(
            variadic.span(),
            "a variadic function cannot be audited",
        ));
    }
    let kind = if function.sig.asyncness.is_some() {
        BodyKind::Async
    } else if let Some((statement, block)) = async_trait_body(&function.block) {
        BodyKind::AsyncTrait { statement, block }
    } else {
        BodyKind::Sync
    };

    let attrs = &function.attrs;
    let vis = &function.vis;
    let sig = &function.sig;
    let prologue = prologue(args, function);
    let krate = args.krate();

    let body = match kind {
        BodyKind::Sync => {
            let block = with_fake_return(&function.block, &function.sig.output);
            let epilogue = epilogue(args, &krate, quote!(.wait()));
            quote_spanned! {function.block.span()=>
                #prologue
                #[allow(clippy::let_unit_value)]
                let __audit_ret = {
                    let __audit_entered = __audit_call.enter();
                    // A closure so that `return` and `?` end the body, not the
                    // function; run as `FnOnce`, so that a body returning a
                    // borrow of its arguments (`&mut self.field`) compiles.
                    #krate::__private::run_body(|| #block)
                };
                #epilogue
            }
        }
        BodyKind::Async => {
            let block = with_fake_return(&function.block, &function.sig.output);
            let capture = capture_mode(&function.sig.output);
            async_body(args, &prologue, &block, &capture)
        }
        BodyKind::AsyncTrait { statement, block } => {
            let async_attrs = &block.attrs;
            let body = async_body(args, &prologue, &block.block, &quote!());
            let wrapped = quote! {
                ::std::boxed::Box::pin(#(#async_attrs)* async move { #body })
            };
            let stmts = function
                .block
                .stmts
                .iter()
                .enumerate()
                .map(|(index, stmt)| {
                    if index == statement {
                        wrapped.clone()
                    } else {
                        quote!(#stmt)
                    }
                });
            let inner_attrs = function
                .attrs
                .iter()
                .filter(|a| matches!(a.style, syn::AttrStyle::Inner(_)));
            let outer_attrs = function
                .attrs
                .iter()
                .filter(|a| matches!(a.style, syn::AttrStyle::Outer));
            return Ok(quote! {
                #(#outer_attrs)*
                #vis #sig {
                    #(#inner_attrs)*
                    #(#stmts)*
                }
            });
        }
    };

    Ok(quote! {
        #(#attrs)*
        #vis #sig {
            #body
        }
    })
}

/// An async body: the block runs in an async block instrumented with the
/// call's span, so the span is entered on every poll.
fn async_body(
    args: &AuditedArgs,
    prologue: &TokenStream,
    block: &impl quote::ToTokens,
    capture: &TokenStream,
) -> TokenStream {
    let krate = args.krate();
    let epilogue = epilogue(args, &krate, quote!(.wait_async().await));
    quote! {
        #prologue
        #[allow(clippy::let_unit_value)]
        let __audit_ret = #krate::__private::Instrument::instrument(
            async #capture #block,
            ::core::clone::Clone::clone(__audit_call.span()),
        )
        .await;
        #epilogue
    }
}

/// The code before the body: call site, span, call, `before`.
fn prologue(args: &AuditedArgs, function: &ItemFn) -> TokenStream {
    let krate = args.krate();
    let level = args.level();
    let name = function.sig.ident.to_string();
    let site_action = match &args.action {
        Some(Action::Literal(literal)) => quote!(#literal),
        _ => quote!(::core::concat!(::core::module_path!(), "::", #name)),
    };
    let to_text = |expr: &Expr, slot: &syn::Ident| {
        quote_spanned! {expr.span()=>
            {
                #slot = ::core::option::Option::Some({
                    // Only one of the two is picked for any given type.
                    #[allow(unused_imports)]
                    use #krate::__private::{TextViaCopy as _, TextViaDisplay as _};
                    (&#krate::__private::TextOf(&(#expr))).audit_text()
                });
                #slot.as_deref()
            }
        }
    };
    let (action_slot, action_field) = match &args.action {
        Some(Action::Computed(expr)) => {
            let slot = format_ident!("__audit_action");
            let value = to_text(expr, &slot);
            (quote!(#slot), quote!(audit.action = #value,))
        }
        _ => (
            quote!(::core::option::Option::None),
            quote!(audit.action = __AUDIT_SITE.action,),
        ),
    };
    let actor_slot = format_ident!("__audit_actor");
    let actor_field = args.actor.as_ref().map(|expr| {
        let value = to_text(expr, &actor_slot);
        quote!(audit.actor = #value,)
    });
    let resource_slot = format_ident!("__audit_resource");
    let resource_field = args.resource.as_ref().map(|expr| {
        let value = to_text(expr, &resource_slot);
        quote!(audit.resource = #value,)
    });
    let field_count = args.fields.len();
    let field_slots: Vec<_> = (0..field_count)
        .map(|index| format_ident!("__audit_field_{}", index))
        .collect();
    let field_entries = args.fields.iter().zip(&field_slots).map(|(field, slot)| {
        let name = &field.name;
        let value = to_text(&field.value, slot);
        quote!(audit.#name = #value,)
    });
    let context_pushes = args.fields.iter().zip(&field_slots).map(|(field, slot)| {
        let key = field.name.to_string();
        quote! {
            if let ::core::option::Option::Some(value) = #slot {
                __audit_context.push((#krate::__private::Cow::Borrowed(#key), value));
            }
        }
    });
    let before = args.before.as_ref().map(|expr| {
        quote_spanned! {expr.span()=>
            #[allow(clippy::redundant_closure)]
            __audit_call.before(|| #expr);
        }
    });

    quote! {
        static __AUDIT_SITE: #krate::__private::Site = #krate::__private::Site {
            action: #site_action,
            code: #krate::__private::static_code_location(
                ::core::module_path!(),
                #name,
                ::core::file!(),
                ::core::line!(),
            ),
        };
        #[allow(unused_mut)]
        let mut __audit_action: ::core::option::Option<#krate::__private::CompactString> = ::core::option::Option::None;
        #[allow(unused_mut)]
        let mut #actor_slot: ::core::option::Option<#krate::__private::CompactString> = ::core::option::Option::None;
        #[allow(unused_mut)]
        let mut #resource_slot: ::core::option::Option<#krate::__private::CompactString> = ::core::option::Option::None;
        #(
            #[allow(unused_mut)]
            let mut #field_slots: ::core::option::Option<#krate::__private::CompactString> = ::core::option::Option::None;
        )*
        // Like `#[instrument]`: when the level is off everywhere and no audit
        // layer exists, skip the span and the values entirely.
        // Built in place: moving the call out of an `if` costs more than the
        // whole disabled path.
        #[allow(unused_mut)]
        let mut __audit_call = #krate::__private::Call::disabled();
        if #krate::__private::tracing::level_enabled!(#level)
            || #krate::__private::any_layer_alive()
        {
            let __audit_span = #krate::__private::tracing::span!(
                target: "audit",
                #level,
                #name,
                audit.call = #krate::__private::tracing::field::Empty,
                #action_field
                #actor_field
                #resource_field
                #(#field_entries)*
            );
            // Sized once for every field, and allocated only when the fields
            // were evaluated, i.e. when the span is enabled.
            #[allow(unused_mut)]
            let mut __audit_context = ::std::vec::Vec::with_capacity(
                if __audit_span.is_disabled() { 0 } else { #field_count },
            );
            #(#context_pushes)*
            __audit_call.begin(
                __audit_span,
                &__AUDIT_SITE,
                #krate::__private::CallStart {
                    action: #action_slot,
                    actor: #actor_slot,
                    resource: #resource_slot,
                    context: __audit_context,
                },
            );
        }
        #before
    }
}

/// The code after the body: outcome, `after`, hand-over, return.
fn epilogue(args: &AuditedArgs, krate: &TokenStream, wait: TokenStream) -> TokenStream {
    let outcome = quote! {
        || {
            #[allow(unused_imports)]
            use #krate::__private::{ViaClassify as _, ViaDebug as _, ViaDisplay as _, ViaSuccess as _};
            (&&&&#krate::__private::OutcomeOf(&__audit_ret)).audit_outcome()
        }
    };
    let finish = match &args.after {
        None => quote!(__audit_call.finish(#outcome)),
        Some(Expr::Closure(closure)) => {
            quote_spanned!(closure.span()=> __audit_call.finish_after(#outcome, &__audit_ret, #closure))
        }
        Some(expr) => {
            quote_spanned!(expr.span()=> __audit_call.finish_after(#outcome, &__audit_ret, |_| #expr))
        }
    };
    quote! {
        // Only a strict call can fail here, and only under a failure policy
        // that gives records up: see `audit_layer::AuditUnrecorded`.
        match #finish #wait {
            ::core::result::Result::Ok(()) => __audit_ret,
            ::core::result::Result::Err(__audit_error) => {
                #[allow(unused_imports)]
                use #krate::__private::{FailViaError as _, FailViaPanic as _};
                (&&#krate::__private::Unrecorded::new(__audit_ret)).fail(__audit_error)
            }
        }
    }
}

/// How the body's closure or async block captures the arguments.
///
/// By reference (inferred per use, as for any closure), so that `after` can
/// still use the arguments once the body has run. A body that returns a
/// `&mut` borrowed from an argument (`fn get(&mut self) -> &mut T`) must own
/// its captures instead (`move`): a reborrow cannot leave a closure that only
/// borrows. `after` then sees only the `Copy` arguments.
fn capture_mode(output: &ReturnType) -> TokenStream {
    struct FindsMutBorrow(bool);
    impl<'ast> syn::visit::Visit<'ast> for FindsMutBorrow {
        fn visit_type_reference(&mut self, reference: &'ast syn::TypeReference) {
            self.0 |= reference.mutability.is_some();
            syn::visit::visit_type_reference(self, reference);
        }
    }
    let mut finder = FindsMutBorrow(false);
    if let ReturnType::Type(_, ty) = output {
        syn::visit::Visit::visit_type(&mut finder, ty);
    }
    if finder.0 { quote!(move) } else { quote!() }
}

/// The block, preceded by an unreachable `return` of the declared type, so
/// that `?` and `return` inside the closure or async block infer the right
/// type (the technique of `tracing::instrument`).
fn with_fake_return(block: &Block, output: &ReturnType) -> TokenStream {
    let (return_type, span) = match output {
        ReturnType::Type(_, ty) => (erase_impl_trait(ty), ty.span()),
        ReturnType::Default => (syn::parse_quote!(()), Span::call_site()),
    };
    let fake_return = quote_spanned! {span=>
        #[allow(unreachable_code, clippy::diverging_sub_expression, clippy::let_unit_value, clippy::unreachable)]
        if false {
            let __audit_fake_return: #return_type =
                ::core::unreachable!("only here to name the return type");
            return __audit_fake_return;
        }
    };
    quote! {
        {
            #fake_return
            #block
        }
    }
}

/// `impl Trait` cannot name a `let`'s type: replace it with `_`.
fn erase_impl_trait(ty: &Type) -> Type {
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

/// Finds `Box::pin(async move { ... })` as the last expression of a body.
fn async_trait_body(block: &Block) -> Option<(usize, &ExprAsync)> {
    let (index, expr) =
        block
            .stmts
            .iter()
            .enumerate()
            .rev()
            .find_map(|(index, stmt)| match stmt {
                Stmt::Expr(expr, None) => Some((index, expr)),
                _ => None,
            })?;
    let Expr::Call(ExprCall { func, args, .. }) = expr else {
        return None;
    };
    let Expr::Path(path) = func.as_ref() else {
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
    match args.first()? {
        Expr::Async(async_block) if async_block.capture.is_some() => Some((index, async_block)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_returning_a_mutable_borrow_own_their_captures() {
        let capture = |output: ReturnType| capture_mode(&output).to_string();
        assert_eq!(capture(syn::parse_quote!(-> &mut i64)), "move");
        assert_eq!(capture(syn::parse_quote!(-> Option<&'a mut T>)), "move");
        assert_eq!(capture(syn::parse_quote!(-> &str)), "");
        assert_eq!(capture(syn::parse_quote!()), "");
    }
}
