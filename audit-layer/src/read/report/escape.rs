//! A value from the trail as HTML text or attribute: nothing in it is
//! markup, nothing invisible reorders or hides what follows (control
//! characters and bidi overrides are shown as `\u{...}`), and a long one is
//! cut.

use std::fmt::Write;

use crate::record::terminal_text::terminal_safe;

/// The most characters of one value a page shows.
pub const MAX_SHOWN_CHARS: usize = 300;

/// `text` as HTML text or attribute value: nothing in it is markup,
/// nothing invisible reorders or hides what follows, and it is cut at
/// [`MAX_SHOWN_CHARS`].
pub(crate) fn escape(text: &str) -> String {
    let (shown, cut) = match text.char_indices().nth(MAX_SHOWN_CHARS) {
        Some((at, _)) => (&text[..at], Some(text.len() - at)),
        None => (text, None),
    };
    let visible = terminal_safe(shown);
    let mut out = String::with_capacity(visible.len() + 16);
    for c in visible.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            other => out.push(other),
        }
    }
    if let Some(more) = cut {
        let _ = write!(out, "… ({more} more bytes)");
    }
    out
}
