//! Globs, as rules files and report options write patterns: `*` any run
//! of characters, `?` one character, `\` escapes the next one.

/// A compiled glob.
#[derive(Debug, Clone)]
pub(crate) enum Glob {
    Exact(String),
    Prefix(String),
    Suffix(String),
    Any,
    /// The pattern in tokens.
    General(Vec<GlobToken>),
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum GlobToken {
    Literal(char),
    One,
    Many,
}

impl Glob {
    pub(crate) fn new(pattern: &str) -> Glob {
        let mut tokens = Vec::new();
        let mut chars = pattern.chars();
        while let Some(c) = chars.next() {
            tokens.push(match c {
                '*' if tokens.last() == Some(&GlobToken::Many) => continue,
                '*' => GlobToken::Many,
                '?' => GlobToken::One,
                '\\' => GlobToken::Literal(chars.next().unwrap_or('\\')),
                other => GlobToken::Literal(other),
            });
        }
        let literal = |tokens: &[GlobToken]| -> Option<String> {
            tokens
                .iter()
                .map(|t| match t {
                    GlobToken::Literal(c) => Some(*c),
                    _ => None,
                })
                .collect()
        };
        match tokens.as_slice() {
            [GlobToken::Many] => Glob::Any,
            [rest @ .., GlobToken::Many] if literal(rest).is_some() => {
                Glob::Prefix(literal(rest).unwrap_or_default())
            }
            [GlobToken::Many, rest @ ..] if literal(rest).is_some() => {
                Glob::Suffix(literal(rest).unwrap_or_default())
            }
            all if literal(all).is_some() => Glob::Exact(literal(all).unwrap_or_default()),
            _ => Glob::General(tokens),
        }
    }

    pub(crate) fn matches(&self, text: &str) -> bool {
        match self {
            Glob::Exact(exact) => text == exact,
            Glob::Prefix(prefix) => text.starts_with(prefix.as_str()),
            Glob::Suffix(suffix) => text.ends_with(suffix.as_str()),
            Glob::Any => true,
            Glob::General(tokens) => general_match(tokens, text),
        }
    }
}

/// Wildcard matching with one backtrack point, linear in practice.
fn general_match(tokens: &[GlobToken], text: &str) -> bool {
    let chars: Vec<char> = text.chars().collect();
    let (mut t, mut c) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while c < chars.len() {
        match tokens.get(t) {
            Some(GlobToken::Literal(l)) if *l == chars[c] => {
                t += 1;
                c += 1;
            }
            Some(GlobToken::One) => {
                t += 1;
                c += 1;
            }
            Some(GlobToken::Many) => {
                star = Some((t, c));
                t += 1;
            }
            _ => match star {
                Some((star_t, star_c)) => {
                    t = star_t + 1;
                    c = star_c + 1;
                    star = Some((star_t, star_c + 1));
                }
                None => return false,
            },
        }
    }
    tokens[t..].iter().all(|token| *token == GlobToken::Many)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_match_as_shells_do() {
        let cases = [
            ("user.*", "user.role_change", true),
            ("user.*", "users.x", false),
            ("*.export", "patient.export", true),
            ("*.export", "patient.exports", false),
            ("a*b*c", "aXXbYYc", true),
            ("a*b*c", "aXXbYY", false),
            ("?.x", "é.x", true),
            ("a\\*", "a*", true),
            ("a\\*", "ab", false),
            ("*", "", true),
            ("post.*.delete", "post.comment.delete", true),
            ("*a*a*a*b", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", false),
        ];
        for (pattern, text, expected) in cases {
            assert_eq!(
                Glob::new(pattern).matches(text),
                expected,
                "{pattern} vs {text}"
            );
        }
    }
}
