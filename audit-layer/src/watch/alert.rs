//! An alert, and the JSON that carries it to a terminal, a webhook or a file.

use std::io;

use serde::{Deserialize, Serialize};

use crate::record::chain::Hash;
use crate::record::time::Timestamp;

/// How serious an alert is.
///
/// # Examples
///
/// ```
/// use audit_layer::watch::Severity;
/// assert!(Severity::Critical > Severity::Low);
/// assert_eq!(Severity::High.as_str(), "high");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Worth knowing.
    Info,
    /// Look when convenient.
    Low,
    /// Look today.
    Medium,
    /// Look now.
    High,
    /// Wake someone up.
    Critical,
}

impl Severity {
    /// The word, as the rules file and alerts spell it.
    ///
    /// # Examples
    ///
    /// See [`Severity`].
    pub fn as_str(&self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }
}

/// A record an alert points at: verify it with `audit prove --seq` or find
/// it with `audit show --seq`.
///
/// # Examples
///
/// ```
/// use audit_layer::watch::AlertRecord;
/// let r = AlertRecord { seq: 7, hash: audit_layer::chain::GENESIS };
/// assert_eq!(r.seq, 7);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlertRecord {
    /// The record's seq.
    pub seq: u64,
    /// The record's hash, as its line carries it.
    pub hash: Hash,
}

/// One alert: which rule, how serious, why, about whom, and the records.
///
/// Its `id` is the same however often the same records raise it (a replay,
/// a restart), so a receiver can drop repeats.
///
/// # Examples
///
/// ```
/// use audit_layer::watch::{Engine, RuleSet};
/// use audit_layer::{AuditEvent, AuditRecord};
///
/// let rules = RuleSet::from_toml(r#"
///     [[rule]]
///     name = "admin-granted"
///     kind = "match"
///     severity = "high"
///     message = "{actor} made {resource} an admin"
///     where = { action = "user.role_change", "after.role" = "admin" }
/// "#)?;
/// let mut engine = Engine::new(rules);
/// let line = br#"{"v":1,"seq":0,"prev":"0000000000000000000000000000000000000000000000000000000000000000","time":"2026-01-01T00:00:00.000000000Z","kind":"event","action":"user.role_change","actor":"alice","resource":"user:bob","outcome":"success","category":null,"reason":null,"before":null,"after":{"role":"admin"},"changes":null,"context":{},"code":null,"duration_ns":null,"service":null,"host":null,"hash":"0000000000000000000000000000000000000000000000000000000000000000"}"#;
/// let record = AuditRecord::from_line(line)?;
/// let alerts = engine.observe(&record);
/// assert_eq!(alerts[0].message, "alice made user:bob an admin");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Alert {
    /// Stable id: the rule, the key and the records that raised it, hashed.
    pub id: String,
    /// The rule's name (`integrity` for integrity alerts).
    pub rule: String,
    /// The rule's kind: match, threshold, sequence, time_of_day, silence,
    /// integrity.
    pub kind: String,
    /// How serious.
    pub severity: Severity,
    /// The rule's message, filled in.
    pub message: String,
    /// The group key (actor, session...) the rule counted by, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// The record time that raised it (for silence: the time it was noticed).
    pub time: Timestamp,
    /// For threshold rules: how many records (or distinct values) were counted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<u64>,
    /// The records that raised it, oldest first (at most
    /// [`MAX_ALERT_RECORDS`]).
    pub records: Vec<AlertRecord>,
    /// Alerts of this rule and key held back since the last one sent.
    pub suppressed: u64,
    /// Which log or stream, when the caller named it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
}

/// The most records one alert lists.
pub const MAX_ALERT_RECORDS: usize = 100;

/// Writes `alert` as one line of JSON in ASCII: every character outside
/// printable ASCII is a `\u` escape, so neither a terminal nor a receiver
/// sees a control character, an escape sequence or a bidi override raw.
///
/// # Errors
///
/// What `out` returns.
///
/// # Examples
///
/// ```
/// # use audit_layer::watch::{Alert, Engine, RuleSet, write_alert_json};
/// # let mut engine = Engine::new(RuleSet::from_toml("")?);
/// # let alert = engine.finding(audit_layer::FindingCode::Modified, Some(3), "x\u{202e}\n").unwrap();
/// let mut out = Vec::new();
/// write_alert_json(&mut out, &alert)?;
/// assert!(out.is_ascii());
/// assert_eq!(out.iter().filter(|b| **b == b'\n').count(), 1);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn write_alert_json(out: &mut impl io::Write, alert: &Alert) -> io::Result<()> {
    write_ascii_json(&mut *out, alert)?;
    out.write_all(b"\n")
}

/// Writes `value` as JSON in ASCII (see [`write_alert_json`]).
pub(crate) fn write_ascii_json(out: impl io::Write, value: &impl Serialize) -> io::Result<()> {
    let mut serializer = serde_json::Serializer::with_formatter(out, AsciiOnly);
    value.serialize(&mut serializer).map_err(io::Error::other)
}

/// serde_json escapes `"`, `\` and C0 controls; this escapes the rest of
/// what is not printable ASCII.
struct AsciiOnly;

impl serde_json::ser::Formatter for AsciiOnly {
    fn write_string_fragment<W: ?Sized + io::Write>(
        &mut self,
        writer: &mut W,
        fragment: &str,
    ) -> io::Result<()> {
        let mut start = 0;
        for (at, c) in fragment.char_indices() {
            if c.is_ascii() && c != '\u{7f}' {
                continue;
            }
            writer.write_all(&fragment.as_bytes()[start..at])?;
            let mut units = [0u16; 2];
            for unit in c.encode_utf16(&mut units) {
                write!(writer, "\\u{unit:04x}")?;
            }
            start = at + c.len_utf8();
        }
        writer.write_all(&fragment.as_bytes()[start..])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ascii_json_escapes_everything_a_terminal_would_act_on() {
        let hostile = "a\u{1b}[31m\u{202e}\u{7f}\u{85}\"\\\n😀é";
        let mut out = Vec::new();
        write_ascii_json(&mut out, &hostile).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(
            text.is_ascii() && !text.bytes().any(|b| b < 0x20 || b == 0x7f),
            "{text}"
        );
        let back: String = serde_json::from_str(&text).unwrap();
        assert_eq!(back, hostile);
    }
}
