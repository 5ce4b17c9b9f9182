//! Text from a log, made safe to show on a terminal.
//!
//! An actor, a resource or an error's text is whatever the service was
//! given, and so whatever an attacker typed. Printed raw, `\r` or an escape
//! sequence rewrites the row it stands in ("alice" over "mallory"), a
//! newline forges a row of its own, and a right-to-left override reorders
//! what a person reads. Every view meant for a person prints log values
//! through [`TerminalSafe`]: each such character becomes a visible escape,
//! and a backslash is doubled so that an escape cannot be forged either.

use std::borrow::Cow;
use std::fmt::{self, Write};

/// Displays a string with every character that could change how a terminal
/// shows it escaped: control characters (C0, DEL, C1) as `\n`, `\r`, `\t`,
/// `\0` or `\u{..}`; bidirectional controls, zero-width characters and line
/// separators as `\u{..}`; and `\` as `\\`. Everything else, non-ASCII
/// letters included, is shown as it is.
///
/// # Examples
///
/// ```
/// use audit_layer::TerminalSafe;
///
/// let actor = "mallory\x1b[2K\ralice";
/// assert_eq!(TerminalSafe(actor).to_string(), r"mallory\u{1b}[2K\ralice");
/// assert_eq!(TerminalSafe("doc\u{202e}fdp.exe").to_string(), r"doc\u{202e}fdp.exe");
/// assert_eq!(TerminalSafe("Zoë").to_string(), "Zoë");
/// ```
#[derive(Debug, Clone, Copy)]
pub struct TerminalSafe<'a>(pub &'a str);

/// Whether `c` changes how a terminal shows the text around it.
fn needs_escape(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\\'
            | '\u{061c}'            // Arabic letter mark
            | '\u{200b}'..='\u{200f}' // zero-width characters, LRM, RLM
            | '\u{2028}' | '\u{2029}' // line and paragraph separators
            | '\u{202a}'..='\u{202e}' // embeddings and overrides
            | '\u{2066}'..='\u{2069}' // isolates
            | '\u{feff}'              // zero-width no-break space
        )
}

impl fmt::Display for TerminalSafe<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for c in self.0.chars() {
            if !needs_escape(c) {
                f.write_char(c)?;
                continue;
            }
            match c {
                '\\' => f.write_str(r"\\")?,
                '\n' => f.write_str(r"\n")?,
                '\r' => f.write_str(r"\r")?,
                '\t' => f.write_str(r"\t")?,
                '\0' => f.write_str(r"\0")?,
                other => write!(f, "\\u{{{:x}}}", u32::from(other))?,
            }
        }
        Ok(())
    }
}

/// The text as [`TerminalSafe`] shows it; borrowed when nothing needed escaping.
///
/// # Examples
///
/// ```
/// assert_eq!(audit_layer::terminal_safe("a\nb"), r"a\nb");
/// assert!(matches!(audit_layer::terminal_safe("plain"), std::borrow::Cow::Borrowed(_)));
/// ```
pub fn terminal_safe(text: &str) -> Cow<'_, str> {
    if text.chars().any(needs_escape) {
        Cow::Owned(TerminalSafe(text).to_string())
    } else {
        Cow::Borrowed(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_character_that_moves_the_cursor_survives() {
        let hostile: String = (0u32..0x110000)
            .filter_map(char::from_u32)
            .filter(|&c| needs_escape(c))
            .collect();
        let shown = terminal_safe(&hostile);
        assert!(!shown.chars().any(|c| c != '\\' && needs_escape(c)));
    }

    #[test]
    fn escapes_cannot_be_forged() {
        assert_ne!(terminal_safe("\\n"), terminal_safe("\n"));
    }
}
