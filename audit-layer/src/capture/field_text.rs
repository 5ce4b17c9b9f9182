//! How a value named in `#[audited(...)]` becomes the text of its field.
//!
//! Any `T: Display` works. Formatting through `core::fmt` costs a formatter
//! round trip per value, and a handler that names an actor, a resource and
//! three context fields pays it five times on every call: measured, that
//! was a quarter of the caller's cost. So `#[audited]` picks at compile time
//! (autoref specialisation, as for outcomes in `classify`) a direct copy for
//! the string and integer types handlers pass most, and `Display` for
//! everything else. Both give the same text: `Display` of these types *is*
//! the string, or the decimal number.
//!
//! The generated code is
//! `field_text((&TextOf(&value)).audit_text())` with both traits in scope:
//! method lookup tries `TextViaCopy` on `TextOf<T>` first (receiver
//! `&TextOf<T>` as is), then `TextViaDisplay` on `&TextOf<T>` (one more
//! autoref), which holds on to the value; `field_text` then formats it, and
//! its bound is where a value that is not `Display` is reported, with a
//! message that says what to do.

use std::borrow::Cow;
use std::fmt::{Debug, Display, Write as _};
use std::rc::Rc;
use std::sync::Arc;

use compact_str::{CompactString, ToCompactString};

/// A borrowed value on its way to becoming field text.
#[derive(Debug)]
pub struct TextOf<'a, T: ?Sized>(pub &'a T);

/// A value that will be written with its `Display`.
#[derive(Debug)]
pub struct Displayed<'a, T: ?Sized>(pub &'a T);

/// The direct copy, for strings and integers.
pub trait TextViaCopy {
    /// The value as text.
    fn audit_text(&self) -> CompactString;
}

/// The general case: the value, to be written with its `Display`.
pub trait TextViaDisplay<'a, T: ?Sized> {
    /// The value, for [`field_text`].
    fn audit_text(&self) -> Displayed<'a, T>;
}

impl<'a, T: ?Sized> TextViaDisplay<'a, T> for &TextOf<'a, T> {
    #[inline]
    fn audit_text(&self) -> Displayed<'a, T> {
        Displayed(self.0)
    }
}

/// What a value named in `#[audited(...)]` must be: `Display`.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be recorded as audit text: it does not implement `Display`",
    label = "`{Self}` is not `Display`",
    note = "implement `std::fmt::Display` for `{Self}`; or record its `Debug` with `?` (`actor = ?user`, as in `tracing`); or name text: `actor = user.id`, `actor = user.to_string()`"
)]
pub trait AuditDisplay {
    /// The value as text.
    fn display_text(&self) -> CompactString;
}

#[diagnostic::do_not_recommend]
impl<T: Display + ?Sized> AuditDisplay for T {
    #[inline]
    fn display_text(&self) -> CompactString {
        display_text(self)
    }
}

/// The result of either lookup, made text.
pub trait IntoFieldText {
    /// The text.
    fn into_field_text(self) -> CompactString;
}

impl IntoFieldText for CompactString {
    #[inline]
    fn into_field_text(self) -> CompactString {
        self
    }
}

impl<T: AuditDisplay + ?Sized> IntoFieldText for Displayed<'_, T> {
    #[inline]
    fn into_field_text(self) -> CompactString {
        self.0.display_text()
    }
}

/// The text of a named value: a copied string or integer, or a `Display`.
#[inline]
pub fn field_text<V: IntoFieldText>(value: V) -> CompactString {
    value.into_field_text()
}

/// `%value`: the value's `Display`.
#[inline]
pub fn display_field<T: AuditDisplay + ?Sized>(value: &T) -> CompactString {
    value.display_text()
}

/// `?value`: the value's `Debug`.
#[inline]
pub fn debug_field<T: Debug + ?Sized>(value: &T) -> CompactString {
    let mut text = CompactString::const_new("");
    write!(text, "{value:?}").expect("a Debug implementation returned an error");
    text
}

/// A value's `Display`, as `to_string` gives it.
///
/// Not compact_str's `to_compact_string`: that formats floats its own way,
/// and the trail must hold exactly what `Display` says.
pub(crate) fn display_text<T: Display + ?Sized>(value: &T) -> CompactString {
    let mut text = CompactString::const_new("");
    write!(text, "{value}").expect("a Display implementation returned an error");
    text
}

/// Implements `TextViaCopy` for a type, a reference to it, and a reference
/// to that: `&str` fields are usually passed as `&str` or `&&str`.
macro_rules! copy_as_str {
    ($($ty:ty),* $(,)?) => {$(
        impl TextViaCopy for TextOf<'_, $ty> {
            #[inline]
            fn audit_text(&self) -> CompactString {
                CompactString::new(&**self.0)
            }
        }
        impl TextViaCopy for TextOf<'_, &$ty> {
            #[inline]
            fn audit_text(&self) -> CompactString {
                CompactString::new(&***self.0)
            }
        }
        impl TextViaCopy for TextOf<'_, &&$ty> {
            #[inline]
            fn audit_text(&self) -> CompactString {
                CompactString::new(&****self.0)
            }
        }
    )*};
}

copy_as_str!(
    String,
    CompactString,
    Cow<'_, str>,
    Box<str>,
    Arc<str>,
    Rc<str>,
    &str
);

impl TextViaCopy for TextOf<'_, str> {
    #[inline]
    fn audit_text(&self) -> CompactString {
        CompactString::new(self.0)
    }
}

/// Integers go through compact_str's own integer conversion (`itoa`-style,
/// no formatter), which needs the exact integer type: hence the deref.
macro_rules! copy_integer {
    ($($ty:ty),* $(,)?) => {$(
        impl TextViaCopy for TextOf<'_, $ty> {
            #[inline]
            fn audit_text(&self) -> CompactString {
                self.0.to_compact_string()
            }
        }
        impl TextViaCopy for TextOf<'_, &$ty> {
            #[inline]
            fn audit_text(&self) -> CompactString {
                (*self.0).to_compact_string()
            }
        }
    )*};
}

copy_integer!(
    u8, u16, u32, u64, u128, usize, i8, i16, i32, i64, i128, isize
);

#[cfg(test)]
mod tests {
    use super::*;

    /// The copy and the `Display` paths must agree on every type the copy
    /// path takes, or a field's text would depend on how it was passed.
    #[test]
    fn copied_text_equals_displayed_text() {
        let s = "user-42 \"quoted\"\n\u{7}";
        let owned = String::from(s);
        let cow: Cow<'_, str> = Cow::Borrowed(s);
        let boxed: Box<str> = s.into();
        let arc: Arc<str> = s.into();
        let rc: Rc<str> = s.into();
        let compact = CompactString::new(s);
        let copies = [
            TextOf(s).audit_text(),
            TextOf(&s).audit_text(),
            TextOf(&&s).audit_text(),
            TextOf(&owned).audit_text(),
            TextOf(&&owned).audit_text(),
            TextOf(&cow).audit_text(),
            TextOf(&boxed).audit_text(),
            TextOf(&arc).audit_text(),
            TextOf(&rc).audit_text(),
            TextOf(&compact).audit_text(),
        ];
        for copy in copies {
            assert_eq!(copy, s);
        }
        for n in [0_i64, -1, i64::MIN, i64::MAX] {
            assert_eq!(TextOf(&n).audit_text(), n.to_string());
            assert_eq!(TextOf(&&n).audit_text(), n.to_string());
        }
        assert_eq!(TextOf(&u128::MAX).audit_text(), u128::MAX.to_string());
        assert_eq!(TextOf(&usize::MAX).audit_text(), usize::MAX.to_string());
    }

    /// Method lookup picks the copy for strings and `Display` otherwise; a
    /// type with a `Display` unlike any string still gets its `Display`.
    #[test]
    // The borrow is the point: it is the shape the macro expands to, and
    // what makes method lookup fall back to .
    #[allow(clippy::needless_borrow)]
    fn lookup_falls_back_to_display() {
        struct Shouting(&'static str);
        impl Display for Shouting {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                write!(f, "{}!", self.0.to_uppercase())
            }
        }
        let value = Shouting("hi");
        assert_eq!(field_text((&TextOf(&value)).audit_text()), "HI!");
        assert_eq!(field_text((&TextOf(&"hi")).audit_text()), "hi");
        for x in [3.5_f64, 0.1 + 0.2, 1e21, 1e-7, f64::MAX, f64::NAN] {
            assert_eq!(field_text((&TextOf(&x)).audit_text()), x.to_string());
        }
        assert_eq!(display_field(&value), "HI!");
        assert_eq!(debug_field(&Some("a\nb")), "Some(\"a\\nb\")");
    }
}
