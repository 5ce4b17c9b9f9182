//! Parsing `#[audited(...)]`'s arguments.

use proc_macro2::{Span, TokenStream};
use quote::{ToTokens, quote};
use syn::parse::{Parse, ParseStream};
use syn::punctuated::Punctuated;
use syn::{Expr, Ident, LitStr, Path, Token};

/// Every argument the attribute accepts, for error messages.
const ARGUMENTS: &str = "action, actor, resource, before, after, esignature, fields, level, crate";

/// Context keys the attribute already has arguments for.
const RESERVED_FIELDS: &[&str] = &["action", "actor", "resource", "call"];

pub(crate) enum Action {
    Literal(LitStr),
    Computed(Expr),
}

/// How a named value becomes text: as `tracing` writes it, `%` for
/// `Display`, `?` for `Debug`; without a sigil, `Display` (with a direct copy
/// for strings and integers).
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Sigil {
    None,
    Display,
    Debug,
}

/// A value named by `actor`, `resource` or a context field.
pub(crate) struct Value {
    pub(crate) sigil: Sigil,
    pub(crate) expr: Expr,
}

impl Parse for Value {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let sigil = if input.peek(Token![%]) {
            input.parse::<Token![%]>()?;
            Sigil::Display
        } else if input.peek(Token![?]) {
            input.parse::<Token![?]>()?;
            Sigil::Debug
        } else {
            Sigil::None
        };
        Ok(Value {
            sigil,
            expr: input.parse()?,
        })
    }
}

pub(crate) struct FieldArg {
    pub(crate) name: Ident,
    pub(crate) value: Value,
}

pub(crate) enum Level {
    Named(Ident),
    Expr(Expr),
}

#[derive(Default)]
pub(crate) struct AuditedArgs {
    pub(crate) action: Option<Action>,
    pub(crate) actor: Option<Value>,
    pub(crate) resource: Option<Value>,
    pub(crate) before: Option<Expr>,
    pub(crate) after: Option<Expr>,
    /// An `audit_layer::ESignature` (or a reference to one) the call records.
    pub(crate) esignature: Option<Expr>,
    pub(crate) fields: Vec<FieldArg>,
    pub(crate) level: Option<Level>,
    pub(crate) krate: Option<Path>,
}

impl AuditedArgs {
    /// The path to the audit-layer crate in generated code.
    pub(crate) fn krate(&self) -> TokenStream {
        match &self.krate {
            Some(path) => path.to_token_stream(),
            None => quote!(::audit_layer),
        }
    }

    /// The span level, as a `tracing::Level` expression.
    pub(crate) fn level(&self) -> TokenStream {
        let krate = self.krate();
        match &self.level {
            None => quote!(#krate::__private::tracing::Level::INFO),
            Some(Level::Named(name)) => quote!(#krate::__private::tracing::Level::#name),
            Some(Level::Expr(expr)) => expr.to_token_stream(),
        }
    }
}

fn duplicate(name: &Ident) -> syn::Error {
    syn::Error::new(name.span(), format!("`{name}` is given more than once"))
}

fn set_once<T>(slot: &mut Option<T>, name: &Ident, value: T) -> syn::Result<()> {
    if slot.is_some() {
        return Err(duplicate(name));
    }
    *slot = Some(value);
    Ok(())
}

fn expect_eq(input: ParseStream<'_>, name: &Ident) -> syn::Result<()> {
    if input.peek(Token![=]) {
        input.parse::<Token![=]>()?;
        Ok(())
    } else {
        Err(syn::Error::new(
            name.span(),
            format!("expected `{name} = ...`"),
        ))
    }
}

fn parse_level(input: ParseStream<'_>) -> syn::Result<Level> {
    if input.peek(LitStr) {
        let literal: LitStr = input.parse()?;
        let name = match literal.value().to_ascii_lowercase().as_str() {
            "trace" => "TRACE",
            "debug" => "DEBUG",
            "info" => "INFO",
            "warn" => "WARN",
            "error" => "ERROR",
            _ => {
                return Err(syn::Error::new(
                    literal.span(),
                    "unknown level; expected \"trace\", \"debug\", \"info\", \"warn\" or \"error\"",
                ));
            }
        };
        Ok(Level::Named(Ident::new(name, literal.span())))
    } else {
        Ok(Level::Expr(input.parse()?))
    }
}

fn parse_fields(input: ParseStream<'_>, fields: &mut Vec<FieldArg>) -> syn::Result<()> {
    let content;
    syn::parenthesized!(content in input);
    let parsed = Punctuated::<FieldArgSyntax, Token![,]>::parse_terminated(&content)?;
    for FieldArgSyntax(field) in parsed {
        let name = field.name.to_string();
        if RESERVED_FIELDS.contains(&name.as_str()) {
            return Err(syn::Error::new(
                field.name.span(),
                format!(
                    "`{name}` is not a context field: it has an argument of its own (`{name} = ...`)"
                ),
            ));
        }
        if fields.iter().any(|existing| existing.name == field.name) {
            return Err(syn::Error::new(
                field.name.span(),
                format!("field `{name}` is given more than once"),
            ));
        }
        fields.push(field);
    }
    Ok(())
}

struct FieldArgSyntax(FieldArg);

impl Parse for FieldArgSyntax {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let name: Ident = input.parse()?;
        if !input.peek(Token![=]) {
            return Err(syn::Error::new(
                name.span(),
                format!("expected `{name} = ...`: a context field needs a value"),
            ));
        }
        input.parse::<Token![=]>()?;
        let value = input.parse()?;
        Ok(FieldArgSyntax(FieldArg { name, value }))
    }
}

impl Parse for AuditedArgs {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let mut args = AuditedArgs::default();
        let mut seen_fields: Option<Span> = None;
        while !input.is_empty() {
            if input.peek(Token![crate]) {
                let token: Token![crate] = input.parse()?;
                let name = Ident::new("crate", token.span);
                expect_eq(input, &name)?;
                let path = input.call(Path::parse_mod_style)?;
                set_once(&mut args.krate, &name, path)?;
            } else {
                let name: Ident = input.parse().map_err(|error| {
                    syn::Error::new(
                        error.span(),
                        format!("expected an argument: one of {ARGUMENTS}"),
                    )
                })?;
                match name.to_string().as_str() {
                    "action" => {
                        expect_eq(input, &name)?;
                        let action = if input.peek(LitStr) {
                            let literal: LitStr = input.parse()?;
                            if literal.value().is_empty() {
                                return Err(syn::Error::new(
                                    literal.span(),
                                    "an action cannot be empty",
                                ));
                            }
                            Action::Literal(literal)
                        } else {
                            Action::Computed(input.parse()?)
                        };
                        set_once(&mut args.action, &name, action)?;
                    }
                    "actor" | "resource" => {
                        expect_eq(input, &name)?;
                        let value = input.parse()?;
                        let slot = if name == "actor" {
                            &mut args.actor
                        } else {
                            &mut args.resource
                        };
                        set_once(slot, &name, value)?;
                    }
                    "before" | "after" => {
                        expect_eq(input, &name)?;
                        let value = input.parse()?;
                        let slot = if name == "before" {
                            &mut args.before
                        } else {
                            &mut args.after
                        };
                        set_once(slot, &name, value)?;
                    }
                    "esignature" => {
                        expect_eq(input, &name)?;
                        let value = input.parse()?;
                        set_once(&mut args.esignature, &name, value)?;
                    }
                    "level" => {
                        expect_eq(input, &name)?;
                        let level = parse_level(input)?;
                        set_once(&mut args.level, &name, level)?;
                    }
                    "fields" => {
                        if seen_fields.is_some() {
                            return Err(duplicate(&name));
                        }
                        seen_fields = Some(name.span());
                        if !input.peek(syn::token::Paren) {
                            return Err(syn::Error::new(
                                name.span(),
                                "expected `fields(name = value, ...)`",
                            ));
                        }
                        parse_fields(input, &mut args.fields)?;
                    }
                    other => {
                        return Err(syn::Error::new(
                            name.span(),
                            format!("unknown argument `{other}`; expected one of {ARGUMENTS}"),
                        ));
                    }
                }
            }
            if input.is_empty() {
                break;
            }
            input
                .parse::<Token![,]>()
                .map_err(|error| syn::Error::new(error.span(), "expected `,` between arguments"))?;
        }
        Ok(args)
    }
}
