//! Generating the audited function.
//!
//! The function keeps its signature; its body becomes:
//!
//! 1. a `static` call site (action, function, module, file, line);
//! 2. a span (target `audit`) carrying the named values as fields, each
//!    evaluated once and only when some layer wants the span; a panic in
//!    one is held until the call has begun, so that it is recorded;
//! 3. a `Call` started with those values, which an audit layer accepts;
//! 4. `before` (only when the call is recorded), then the original body, in a
//!    closure (sync) or an async block (async), so that `return` and `?` end
//!    the body and not the function;
//! 5. the outcome worked out from the return value, `after`, and the record
//!    handed over; in strict mode, waiting for it to be durable.
//!
//! A panic or a dropped future drops the `Call` unfinished, which records it.
//!
//! Which body is wrapped depends on the function's [`Shape`]: a function
//! that returns a future is recorded when that future completes, not when
//! it is made.
//!
//! Every local the expansion adds is named with [`Span::mixed_site`]: it can
//! neither see nor hide the user's names, wherever the function was written,
//! inside a `macro_rules!` included.

use proc_macro2::{Group, Ident, Span, TokenStream, TokenTree};
use quote::{ToTokens, format_ident, quote, quote_spanned};
use syn::spanned::Spanned;
use syn::visit::Visit;
use syn::visit_mut::VisitMut;
use syn::{Block, Expr, ExprAsync, ItemFn, Pat, ReturnType, Type};

use crate::attr::{Action, AuditedArgs, Sigil, Value};
use crate::shape::{
    Exit, FutureType, Shape, binds_self, erase_impl_trait, future_output, returns_into_response,
    shape_of, split_rebinding, ungroup,
};

/// The generated locals.
struct Names {
    site: Ident,
    call: Ident,
    ret: Ident,
    panic: Ident,
    span: Ident,
    context: Ident,
    action: Ident,
    actor: Ident,
    resource: Ident,
    fields: Vec<Ident>,
    future: Ident,
    audited: Ident,
    after: Ident,
    value: Ident,
    own: Ident,
    completion: Ident,
    error: Ident,
    entered: Ident,
    fake_return: Ident,
}

impl Names {
    fn new(field_count: usize) -> Self {
        let name = |text: &str| Ident::new(text, Span::mixed_site());
        Names {
            site: name("__AUDIT_SITE"),
            call: name("__audit_call"),
            ret: name("__audit_ret"),
            panic: name("__audit_panic"),
            span: name("__audit_span"),
            context: name("__audit_context"),
            action: name("__audit_action"),
            actor: name("__audit_actor"),
            resource: name("__audit_resource"),
            fields: (0..field_count)
                .map(|index| {
                    let mut ident = format_ident!("__audit_field_{}", index);
                    ident.set_span(Span::mixed_site());
                    ident
                })
                .collect(),
            future: name("__audit_future"),
            audited: name("__audit_audited"),
            after: name("__audit_after"),
            value: name("__audit_value"),
            own: name("__audit_own"),
            completion: name("__audit_completion"),
            error: name("__audit_error"),
            entered: name("__audit_entered"),
            fake_return: name("__audit_fake_return"),
        }
    }
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
    let shape = shape_of(function);
    check_awaits(args, &shape)?;
    if let (Shape::Diverging, Some(after)) = (&shape, &args.after) {
        return Err(syn::Error::new(
            after.span(),
            "`after` never runs: this function never returns (`-> !`); record what it leaves \
             behind with `audit_layer::record_after` before it diverges",
        ));
    }

    let names = Names::new(args.fields.len());
    let krate = args.krate();
    let responds = cfg!(feature = "axum") && returns_into_response(&function.sig.output);
    let prologue = prologue(args, function, &names, &shape);
    let call = &names.call;
    let ret = &names.ret;

    let body = match &shape {
        Shape::Sync => {
            let block = with_fake_return(&function.block, &function.sig.output, &names);
            let epilogue = epilogue(args, &krate, &names, false, responds);
            quote! {
                #prologue
                #[allow(clippy::let_unit_value)]
                let #ret = #call.run(|| #block);
                #epilogue
            }
        }
        Shape::TrackCaller(exit) => {
            let entered = &names.entered;
            let span = &names.span;
            let finish = |value: TokenStream| {
                let return_type = declared_type(&function.sig.output);
                let epilogue = epilogue(args, &krate, &names, false, responds);
                quote! {
                    {
                        #[allow(clippy::let_unit_value)]
                        let #ret: #return_type = #value;
                        ::core::mem::drop(#entered);
                        #epilogue
                    }
                }
            };
            let mut block = function.block.as_ref().clone();
            EarlyExits {
                exit: *exit,
                finish: &finish,
            }
            .visit_block_mut(&mut block);
            let stmts = &block.stmts;
            let mut body = TokenStream::new();
            block.brace_token.surround(&mut body, |tokens| {
                tokens.extend(quote!(#(#stmts)*));
            });
            let tail = finish(body);
            quote! {
                #prologue
                // A clone, so that finishing the call (`&mut`) while it is
                // entered borrows nothing twice.
                let #span = ::core::clone::Clone::clone(#call.span());
                let #entered = #span.enter();
                #tail
            }
        }
        Shape::Diverging => {
            let stmts = &function.block.stmts;
            let entered = &names.entered;
            quote! {
                #prologue
                let #entered = #call.enter();
                #(#stmts)*
            }
        }
        Shape::Async => {
            let block = with_fake_return(&function.block, &function.sig.output, &names);
            let capture = capture_mode(&function.sig.output);
            let epilogue = epilogue(args, &krate, &names, true, responds);
            quote! {
                #prologue
                #[allow(clippy::let_unit_value)]
                let #ret = #call.body(async #capture #block).await;
                #epilogue
            }
        }
        Shape::AsyncTrait(block) => {
            let (prefix, rest) = split_rebinding(&block.block.stmts);
            let renamed = prefix.iter().any(binds_self);
            let rename = |tokens: TokenStream| {
                if renamed { rename_self(tokens) } else { tokens }
            };
            let awaited_before = rename(awaited_before(args, &names));
            let epilogue = rename(epilogue(args, &krate, &names, true, responds));
            let async_attrs = &block.attrs;
            let output = future_output(&function.sig.output).map(|ty| quote!(: #ty));
            quote! {
                #prologue
                ::std::boxed::Box::pin(#(#async_attrs)* async move {
                    #(#prefix)*
                    #awaited_before
                    #[allow(clippy::let_unit_value)]
                    let #ret #output = #call.body(async { #(#rest)* }).await;
                    #epilogue
                })
            }
        }
        Shape::ReturnsFuture(future_type) => {
            let block = with_fake_return(&function.block, &function.sig.output, &names);
            let epilogue = epilogue(args, &krate, &names, true, responds);
            let future = &names.future;
            let audited = &names.audited;
            let returned = match future_type {
                FutureType::Opaque { unpin: false } => quote!(#audited),
                FutureType::Opaque { unpin: true } => {
                    quote!(::std::boxed::Box::pin(#audited))
                }
                FutureType::Boxed => quote!(#krate::__private::boxed_future(#audited)),
            };
            let output = future_output(&function.sig.output).map(|ty| quote!(: #ty));
            quote! {
                #prologue
                let #future = #call.run(|| #block);
                let #audited = async move {
                    #[allow(clippy::let_unit_value)]
                    let #ret #output = #call.body(#future).await;
                    #epilogue
                };
                #returned
            }
        }
    };

    let outer_attrs = function
        .attrs
        .iter()
        .filter(|attr| matches!(attr.style, syn::AttrStyle::Outer));
    let inner_attrs = function
        .attrs
        .iter()
        .filter(|attr| matches!(attr.style, syn::AttrStyle::Inner(_)));
    let vis = &function.vis;
    let sig = &function.sig;
    let mut output = quote!(#(#outer_attrs)* #vis #sig);
    // The user's own braces: the function stays theirs for the lints that
    // look at its span (dead code, above all).
    function.block.brace_token.surround(&mut output, |tokens| {
        tokens.extend(quote! {
            #(#inner_attrs)*
            #body
        });
    });
    Ok(output)
}

/// The declared return type, `impl Trait` erased, for a `let`.
fn declared_type(output: &ReturnType) -> Type {
    match output {
        ReturnType::Type(_, ty) => erase_impl_trait(ty),
        ReturnType::Default => syn::parse_quote!(()),
    }
}

/// Rewrites the `return`s and `?`s of a body run in place so that they
/// finish the call first; closures, async blocks and items keep theirs.
struct EarlyExits<'a> {
    exit: Exit,
    finish: &'a dyn Fn(TokenStream) -> TokenStream,
}

impl VisitMut for EarlyExits<'_> {
    fn visit_expr_mut(&mut self, expr: &mut Expr) {
        match expr {
            Expr::Closure(_) | Expr::Async(_) | Expr::Const(_) => {}
            Expr::Return(early) => {
                if let Some(value) = &mut early.expr {
                    self.visit_expr_mut(value);
                }
                let value = match &early.expr {
                    Some(value) => quote!(#value),
                    None => quote!(()),
                };
                let finished = (self.finish)(value);
                *expr = syn::parse_quote_spanned!(early.return_token.span=> return #finished);
            }
            Expr::Try(question_mark) => {
                self.visit_expr_mut(&mut question_mark.expr);
                let operand = &question_mark.expr;
                let value = Ident::new("__audit_value", Span::mixed_site());
                let residual = Ident::new("__audit_residual", Span::mixed_site());
                let replaced = match self.exit {
                    Exit::Result => {
                        let finished = (self.finish)(quote! {
                            ::core::result::Result::Err(::core::convert::From::from(#residual))
                        });
                        quote! {
                            match #operand {
                                ::core::result::Result::Ok(#value) => #value,
                                ::core::result::Result::Err(#residual) => return #finished,
                            }
                        }
                    }
                    Exit::Option => {
                        let finished = (self.finish)(quote!(::core::option::Option::None));
                        quote! {
                            match #operand {
                                ::core::option::Option::Some(#value) => #value,
                                ::core::option::Option::None => return #finished,
                            }
                        }
                    }
                    Exit::NoQuestionMark => return,
                };
                *expr = syn::parse_quote_spanned!(question_mark.question_token.span=> #replaced);
            }
            _ => syn::visit_mut::visit_expr_mut(self, expr),
        }
    }

    fn visit_item_mut(&mut self, _: &mut syn::Item) {}
}

/// `#[async_trait]` moves `self` into `__self`: what runs after that must use it.
fn rename_self(tokens: TokenStream) -> TokenStream {
    tokens
        .into_iter()
        .map(|tree| match tree {
            TokenTree::Ident(ident) if ident == "self" => {
                TokenTree::Ident(Ident::new("__self", ident.span()))
            }
            TokenTree::Group(group) => {
                let mut renamed = Group::new(group.delimiter(), rename_self(group.stream()));
                renamed.set_span(group.span());
                TokenTree::Group(renamed)
            }
            other => other,
        })
        .collect()
}

/// Finds `.await` outside nested async blocks, closures and items.
#[derive(Default)]
struct FindsAwait(Option<Span>);

impl<'ast> Visit<'ast> for FindsAwait {
    fn visit_expr_await(&mut self, expr: &'ast syn::ExprAwait) {
        self.0.get_or_insert(expr.await_token.span());
    }
    fn visit_expr_async(&mut self, _: &'ast ExprAsync) {}
    fn visit_expr_closure(&mut self, _: &'ast syn::ExprClosure) {}
    fn visit_item(&mut self, _: &'ast syn::Item) {}
}

fn find_await(expr: &Expr) -> Option<Span> {
    let mut finder = FindsAwait::default();
    finder.visit_expr(expr);
    finder.0
}

/// `after`'s body and argument: `|ret| body`, or an expression of its own.
fn after_parts(after: &Expr) -> (Option<&Pat>, &Expr) {
    match ungroup(after) {
        Expr::Closure(closure) if closure.inputs.len() == 1 => {
            (closure.inputs.first(), &closure.body)
        }
        other => (None, other),
    }
}

fn after_awaits(after: &Expr) -> Option<Span> {
    find_await(after_parts(after).1)
}

fn check_awaits(args: &AuditedArgs, shape: &Shape<'_>) -> syn::Result<()> {
    let mut values: Vec<(&str, &Expr)> = Vec::new();
    if let Some(Action::Computed(expr)) = &args.action {
        values.push(("`action`", expr));
    }
    if let Some(actor) = &args.actor {
        values.push(("`actor`", &actor.expr));
    }
    if let Some(resource) = &args.resource {
        values.push(("`resource`", &resource.expr));
    }
    for field in &args.fields {
        values.push(("`fields(..)`", &field.value.expr));
    }
    for (what, expr) in values {
        if let Some(span) = find_await(expr) {
            return Err(syn::Error::new(
                span,
                format!(
                    "`.await` cannot be used in {what}: it is evaluated when the call starts, \
                     to name its span; await the value before the call, or set it from the body \
                     (`audit_layer::set_actor`, `set_resource`, `set_context`)"
                ),
            ));
        }
    }
    if let Some(span) = args.esignature.as_ref().and_then(find_await) {
        return Err(syn::Error::new(
            span,
            "`.await` cannot be used in `esignature`: it is recorded when the call starts; \
             make the signature before the call, or call `audit_layer::record_esignature` in the body",
        ));
    }
    if let Some(span) = args.before.as_ref().and_then(find_await)
        && !shape.before_may_await()
    {
        {
            let hint = if shape.after_may_await() {
                "this function returns a future without being an `async fn`, so `before` runs \
                 when it is called, where nothing can be awaited; call \
                 `audit_layer::record_before(&state)` inside the future instead"
            } else {
                "only an `async fn` can await its `before` state; load it before the call, or \
                 call `audit_layer::record_before(&state)` in the body"
            };
            return Err(syn::Error::new(
                span,
                format!("`.await` in `before`: {hint}"),
            ));
        }
    }
    if let Some(span) = args.after.as_ref().and_then(after_awaits)
        && !shape.after_may_await()
    {
        {
            return Err(syn::Error::new(
                span,
                "`.await` in `after`: only a function that is `async` or returns a future can \
                 await its `after` state; call `audit_layer::record_after(&state)` in the body",
            ));
        }
    }
    Ok(())
}

/// The text of a named value, evaluated under `catch_value`.
fn text_of(krate: &TokenStream, value: &Value) -> TokenStream {
    let expr = &value.expr;
    match value.sigil {
        Sigil::None => quote_spanned! {expr.span()=>
            {
                // Only one of the two is picked for any given type.
                #[allow(unused_imports)]
                use #krate::__private::{TextViaCopy as _, TextViaDisplay as _};
                #krate::__private::field_text((&#krate::__private::TextOf(&(#expr))).audit_text())
            }
        },
        Sigil::Display => quote_spanned! {expr.span()=>
            #krate::__private::display_field(&(#expr))
        },
        Sigil::Debug => quote_spanned! {expr.span()=>
            #krate::__private::debug_field(&(#expr))
        },
    }
}

/// Whether the function is a method (it can name `Self`).
fn is_method(function: &ItemFn) -> bool {
    fn mentions_self(tokens: TokenStream) -> bool {
        tokens.into_iter().any(|tree| match tree {
            TokenTree::Ident(ident) => ident == "Self",
            TokenTree::Group(group) => mentions_self(group.stream()),
            _ => false,
        })
    }
    function.sig.receiver().is_some() || mentions_self(function.sig.to_token_stream())
}

/// The code before the body: call site, span, call, `before`.
fn prologue(
    args: &AuditedArgs,
    function: &ItemFn,
    names: &Names,
    shape: &Shape<'_>,
) -> TokenStream {
    let krate = args.krate();
    let level = args.level();
    let name = function.sig.ident.to_string();
    let Names {
        site,
        call,
        panic,
        span,
        context,
        action: action_slot,
        actor: actor_slot,
        resource: resource_slot,
        fields: field_slots,
        ..
    } = names;
    let site_action = match &args.action {
        Some(Action::Literal(literal)) => quote!(#literal),
        _ => quote!(::core::concat!(::core::module_path!(), "::", #name)),
    };
    let catch = |text: TokenStream, slot: &Ident| {
        quote! {
            {
                #slot = #krate::__private::catch_value(&mut #panic, || #text);
                #slot.as_deref()
            }
        }
    };
    let (action_start, action_field) = match &args.action {
        Some(Action::Computed(expr)) => {
            let value = Value {
                sigil: Sigil::None,
                expr: expr.clone(),
            };
            let value = catch(text_of(&krate, &value), action_slot);
            (quote!(#action_slot), quote!(audit.action = #value,))
        }
        _ => (
            quote!(::core::option::Option::None),
            quote!(audit.action = #site.action,),
        ),
    };
    let owner = if args.action.is_none() && is_method(function) {
        quote!(::core::option::Option::Some(
            ::core::any::type_name::<Self>()
        ))
    } else {
        quote!(::core::option::Option::None)
    };
    let actor_field = args.actor.as_ref().map(|value| {
        let value = catch(text_of(&krate, value), actor_slot);
        quote!(audit.actor = #value,)
    });
    let resource_field = args.resource.as_ref().map(|value| {
        let value = catch(text_of(&krate, value), resource_slot);
        quote!(audit.resource = #value,)
    });
    let field_count = args.fields.len();
    let field_entries = args.fields.iter().zip(field_slots).map(|(field, slot)| {
        let name = &field.name;
        let value = catch(text_of(&krate, &field.value), slot);
        quote!(audit.#name = #value,)
    });
    // Pushed in key order: the call's context is kept sorted.
    let mut sorted: Vec<_> = args.fields.iter().zip(field_slots).collect();
    sorted.sort_by_key(|(field, _)| field.name.to_string());
    let context_pushes = sorted.iter().map(|(field, slot)| {
        let key = field.name.to_string();
        quote! {
            if let ::core::option::Option::Some(value) = #slot {
                #context.push((#krate::__private::Cow::Borrowed(#key), value));
            }
        }
    });
    // A `before` that awaits is evaluated in the future; in an
    // `#[async_trait]` method, after its arguments are rebound.
    let before = match &args.before {
        Some(expr) if find_await(expr).is_none() => quote_spanned! {expr.span()=>
            #[allow(clippy::redundant_closure)]
            #call.before(|| #expr);
        },
        _ if matches!(shape, Shape::AsyncTrait(_)) => quote!(),
        _ => awaited_before(args, names),
    };
    let esignature = args.esignature.as_ref().map(|expr| {
        quote_spanned! {expr.span()=>
            #[allow(clippy::redundant_closure)]
            #call.esignature(|| #expr);
        }
    });
    let new_call = if shape.in_future() {
        quote!(#krate::__private::Call::disabled_in_future())
    } else {
        quote!(#krate::__private::Call::disabled())
    };

    quote! {
        static #site: #krate::__private::Site = #krate::__private::Site {
            action: #site_action,
            code: #krate::__private::static_code_location(
                ::core::module_path!(),
                #name,
                ::core::file!(),
                ::core::line!(),
            ),
        };
        #[allow(unused_mut)]
        let mut #panic: ::core::option::Option<#krate::__private::CaughtPanic> = ::core::option::Option::None;
        #[allow(unused_mut)]
        let mut #action_slot: ::core::option::Option<#krate::__private::CompactString> = ::core::option::Option::None;
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
        let mut #call = #new_call;
        if #krate::__private::tracing::level_enabled!(#level)
            || #krate::__private::any_layer_alive()
        {
            let #span = #krate::__private::tracing::span!(
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
            let mut #context = ::std::vec::Vec::with_capacity(
                if #span.is_disabled() { 0 } else { #field_count },
            );
            #(#context_pushes)*
            #call.begin(
                #span,
                &#site,
                #krate::__private::CallStart {
                    action: #action_start,
                    actor: #actor_slot,
                    resource: #resource_slot,
                    context: #context,
                    owner: #owner,
                },
            );
        }
        if let ::core::option::Option::Some(#panic) = #panic {
            #call.resume_panic(#panic);
        }
        #before
        #esignature
    }
}

/// A `before` that awaits: evaluated in the future, only when recorded.
fn awaited_before(args: &AuditedArgs, names: &Names) -> TokenStream {
    let Some(expr) = args
        .before
        .as_ref()
        .filter(|expr| find_await(expr).is_some())
    else {
        return quote!();
    };
    let Names {
        call, own, value, ..
    } = names;
    quote! {
        if #call.is_active() {
            let #own = #call.own_section();
            let #value = #expr;
            #own.done();
            #call.before_value(::core::option::Option::Some(#value));
        }
    }
}

/// The code after the body: outcome, `after`, hand-over, return.
fn epilogue(
    args: &AuditedArgs,
    krate: &TokenStream,
    names: &Names,
    asynchronous: bool,
    responds: bool,
) -> TokenStream {
    let Names {
        call,
        ret,
        after: after_slot,
        own,
        value,
        completion,
        error,
        ..
    } = names;
    let outcome = quote! {
        || {
            #[allow(unused_imports)]
            use #krate::__private::{
                ViaClassify as _, ViaDebug as _, ViaDisplay as _, ViaHttpStatus as _, ViaSuccess as _,
            };
            (&&&&&#krate::__private::OutcomeOf(&#ret)).audit_outcome()
        }
    };
    let finish = match &args.after {
        None => quote!(#call.finish(#outcome)),
        Some(after) if after_awaits(after).is_some() => {
            let (pattern, body) = after_parts(after);
            let bind = pattern.map(|pattern| quote!(let #pattern = &#ret;));
            quote! {
                {
                    let #after_slot = if #call.is_active() {
                        let #own = #call.own_section();
                        #bind
                        let #value = #body;
                        #own.done();
                        ::core::option::Option::Some(#value)
                    } else {
                        ::core::option::Option::None
                    };
                    #call.finish_with(#outcome, #after_slot)
                }
            }
        }
        Some(after) => match ungroup(after) {
            Expr::Closure(closure) => {
                quote_spanned!(closure.span()=> #call.finish_after(#outcome, &#ret, #closure))
            }
            expr => {
                quote_spanned!(expr.span()=> #call.finish_after(#outcome, &#ret, |_| #expr))
            }
        },
    };
    let wait = if asynchronous {
        quote!(.wait_async().await)
    } else {
        quote!(.wait())
    };
    // An `impl IntoResponse` becomes its response, whose status classifies
    // the call (feature `axum`).
    let into_response =
        responds.then(|| quote!(let #ret = #krate::__private::into_response(#ret);));
    quote! {
        #into_response
        let #completion = #finish;
        // Only a strict call can fail here, and only under a failure policy
        // that gives records up: see `audit_layer::AuditUnrecorded`.
        match #completion #wait {
            ::core::result::Result::Ok(()) => #ret,
            ::core::result::Result::Err(#error) => {
                #[allow(unused_imports)]
                use #krate::__private::{FailViaError as _, FailViaPanic as _};
                (&&#krate::__private::Unrecorded::new(#ret)).fail(#error)
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

/// The block's statements, preceded by an unreachable `return` of the
/// declared type, so that `?` and `return` inside the closure or async block
/// infer the right type (the technique of `tracing::instrument`). The
/// statements are spliced, not nested in a block of their own: a one-line
/// body would otherwise be a block around a single expression, which rustc
/// reports as `unused_braces` in the user's code.
fn with_fake_return(block: &Block, output: &ReturnType, names: &Names) -> TokenStream {
    let return_type = declared_type(output);
    let span = match output {
        ReturnType::Type(_, ty) => ty.span(),
        ReturnType::Default => Span::call_site(),
    };
    let fake = &names.fake_return;
    let fake_return = quote_spanned! {span=>
        #[allow(unreachable_code, clippy::diverging_sub_expression, clippy::let_unit_value, clippy::unreachable)]
        if false {
            let #fake: #return_type =
                ::core::unreachable!("only here to name the return type");
            return #fake;
        }
    };
    let stmts = &block.stmts;
    let mut tokens = TokenStream::new();
    block.brace_token.surround(&mut tokens, |tokens| {
        tokens.extend(quote!(#fake_return #(#stmts)*));
    });
    tokens
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

    #[test]
    fn self_is_renamed_everywhere_but_in_other_words() {
        let renamed = rename_self(quote!(|r| (self.owner.clone(), Self::X, selfish, [self])));
        assert_eq!(
            renamed.to_string(),
            quote!(|r| (__self.owner.clone(), Self::X, selfish, [__self])).to_string()
        );
    }
}
