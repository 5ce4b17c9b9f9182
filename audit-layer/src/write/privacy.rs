//! Hiding secrets and identities before a record is hashed: redaction, and
//! keyed pseudonyms that still let an investigator follow one person.
//!
//! A [`Privacy`] policy is given to the writer
//! ([`WriterBuilder::privacy`](crate::WriterBuilder::privacy)) and applied on
//! its thread, before the record is encoded, chained and hashed: the secret
//! never reaches the log, so nothing that verifies the log needs it, and
//! deleting it later (as GDPR may require) cannot break the chain.
//!
//! - **Redacted** values become the text `[redacted]`. Nothing of them is
//!   kept: a redacted field that changed shows no change.
//! - **Pseudonymised** values become `pseudo:` followed by 32 hex digits, the
//!   first 16 bytes of HMAC-SHA256 under a [`PseudonymKey`]: the same value
//!   always gets the same pseudonym, so "everything this person did" and
//!   "this field changed" remain answerable, and whoever holds the key can
//!   compute the pseudonym of a name to look it up (`audit pseudonym`).
//!   Without the key a pseudonym cannot be turned back into its value, nor
//!   tested against guesses.
//!
//! Names are matched without regard to ASCII case, as keys of `before` and
//! `after` at any depth and as context keys. The policy covers the audit
//! trail only: other layers of the tracing stack see the span's fields as
//! the handler named them, and an error's text is recorded as it is.

use std::fmt;
use std::fs::File;
use std::io::{self, Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use hmac::{Hmac, KeyInit, Mac};
use serde_json::Value;
use serde_json::value::RawValue;
use sha2::Sha256;
use zeroize::Zeroizing;

use crate::record::changes::{Change, diff};
use crate::record::{AuditEvent, RecordKind, Text};

/// What a redacted value is replaced with.
pub const REDACTED: &str = "[redacted]";

/// What every pseudonym starts with.
pub const PSEUDONYM_PREFIX: &str = "pseudo:";

/// The secret key pseudonyms are made with: 32 random bytes.
///
/// Keep it away from the log (like a checkpoint key), and keep it as long
/// as pseudonyms must be looked up: a new key gives everyone new pseudonyms.
///
/// # Examples
///
/// ```
/// use audit_layer::PseudonymKey;
///
/// let key = PseudonymKey::from_bytes([7; 32]);
/// let alice = key.pseudonym("alice@example.com");
/// assert!(alice.starts_with("pseudo:") && alice.len() == 7 + 32);
/// assert_eq!(alice, key.pseudonym("alice@example.com"));
/// assert_ne!(alice, PseudonymKey::from_bytes([8; 32]).pseudonym("alice@example.com"));
/// ```
#[derive(Clone)]
pub struct PseudonymKey(Zeroizing<[u8; 32]>);

impl fmt::Debug for PseudonymKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PseudonymKey(..)")
    }
}

impl PseudonymKey {
    /// A new random key.
    ///
    /// # Errors
    ///
    /// The OS gives no randomness.
    ///
    /// # Examples
    ///
    /// ```
    /// let key = audit_layer::PseudonymKey::generate()?;
    /// # let _ = key;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn generate() -> io::Result<PseudonymKey> {
        let mut key = Zeroizing::new([0u8; 32]);
        getrandom::fill(key.as_mut()).map_err(|e| io::Error::other(e.to_string()))?;
        Ok(PseudonymKey(key))
    }

    /// The key with these bytes (a key kept elsewhere, or a test vector).
    ///
    /// # Examples
    ///
    /// See [`PseudonymKey`].
    pub fn from_bytes(bytes: [u8; 32]) -> PseudonymKey {
        PseudonymKey(Zeroizing::new(bytes))
    }

    /// Reads a key file: 64 lowercase hex digits and a newline, as
    /// [`save`](PseudonymKey::save) and `audit keygen --pseudonym` write it.
    ///
    /// # Errors
    ///
    /// The file cannot be read, or does not hold a key.
    ///
    /// # Examples
    ///
    /// ```
    /// let dir = tempfile::tempdir()?;
    /// let key = audit_layer::PseudonymKey::generate()?;
    /// key.save(dir.path().join("audit.pseudonym"))?;
    /// let read = audit_layer::PseudonymKey::load(dir.path().join("audit.pseudonym"))?;
    /// assert_eq!(read.pseudonym("bob"), key.pseudonym("bob"));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn load(path: impl AsRef<Path>) -> io::Result<PseudonymKey> {
        let mut text = Zeroizing::new(String::new());
        File::open(path)?.read_to_string(&mut text)?;
        let mut key = Zeroizing::new([0u8; 32]);
        hex::decode_to_slice(text.trim_end_matches('\n'), key.as_mut()).map_err(|_| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                "not a pseudonym key: expected 64 hex digits",
            )
        })?;
        Ok(PseudonymKey(key))
    }

    /// Writes the key to a new file `path`, mode 0600.
    ///
    /// # Errors
    ///
    /// A file is already there (a key is never overwritten), or it cannot
    /// be written.
    ///
    /// # Examples
    ///
    /// See [`load`](PseudonymKey::load).
    pub fn save(&self, path: impl AsRef<Path>) -> io::Result<()> {
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path)?;
        let mut text = Zeroizing::new(hex::encode(self.0.as_ref()));
        text.push('\n');
        file.write_all(text.as_bytes())?;
        file.sync_all()
    }

    /// The pseudonym of `value`: `pseudo:` and the first 16 bytes of
    /// HMAC-SHA256(key, value's UTF-8 bytes), in lowercase hex.
    ///
    /// # Examples
    ///
    /// See [`PseudonymKey`].
    pub fn pseudonym(&self, value: &str) -> String {
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(self.0.as_ref())
            .expect("HMAC takes a key of any length");
        mac.update(value.as_bytes());
        let digest = mac.finalize().into_bytes();
        format!("{PSEUDONYM_PREFIX}{}", hex::encode(&digest[..16]))
    }
}

/// Which values the writer redacts or pseudonymises before hashing.
///
/// # Examples
///
/// ```
/// use audit_layer::{AuditEvent, AuditWriter, MemorySink, Privacy, PseudonymKey};
/// use serde_json::json;
///
/// let key = PseudonymKey::from_bytes([7; 32]);
/// let privacy = Privacy::new()
///     .redact(["password", "session"])
///     .pseudonymise(["email"])
///     .pseudonymise_actor()
///     .pseudonym_key(key.clone());
/// let (sink, log) = MemorySink::new();
/// let (audit, guard) = AuditWriter::builder().privacy(privacy).spawn(sink)?;
/// audit.submit(
///     AuditEvent::builder("user.update")
///         .actor("alice@example.com")
///         .before(json!({"email": "bob@example.com", "password": "hunter2"}))
///         .after(json!({"email": "bob@example.org", "password": "hunter3"}))
///         .context("session", "s-8b2f")
///         .build(),
/// )?;
/// guard.shutdown(std::time::Duration::from_secs(5))?;
///
/// let record = log.records()?.remove(0);
/// assert_eq!(record.actor, Some(key.pseudonym("alice@example.com")));
/// assert_eq!(record.before.unwrap()["password"], "[redacted]");
/// assert_eq!(record.context["session"], "[redacted]");
/// // Still visible: the email changed (to what, only the key can test).
/// assert_eq!(record.changes.unwrap()[0].path, "/email");
/// assert!(!String::from_utf8(log.bytes())?.contains("hunter2"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Default)]
#[must_use]
pub struct Privacy {
    redact: Vec<String>,
    pseudonymise: Vec<String>,
    actor: bool,
    resource: bool,
    key: Option<PseudonymKey>,
}

impl Privacy {
    /// A policy that changes nothing.
    ///
    /// # Examples
    ///
    /// See [`Privacy`].
    pub fn new() -> Self {
        Privacy::default()
    }

    /// Redacts the values of these names, in `before`, `after` and context.
    ///
    /// # Examples
    ///
    /// See [`Privacy`].
    pub fn redact<I: IntoIterator<Item = S>, S: Into<String>>(mut self, names: I) -> Self {
        self.redact.extend(names.into_iter().map(Into::into));
        self
    }

    /// Pseudonymises the values of these names, in `before`, `after` and
    /// context (a name also redacted is redacted). Needs a
    /// [`pseudonym_key`](Privacy::pseudonym_key).
    ///
    /// A string's pseudonym is that of its text; any other JSON value's, of
    /// its JSON text; `null` stays `null`.
    ///
    /// # Examples
    ///
    /// See [`Privacy`].
    pub fn pseudonymise<I: IntoIterator<Item = S>, S: Into<String>>(mut self, names: I) -> Self {
        self.pseudonymise.extend(names.into_iter().map(Into::into));
        self
    }

    /// Pseudonymises every record's actor. Needs a
    /// [`pseudonym_key`](Privacy::pseudonym_key).
    ///
    /// # Examples
    ///
    /// See [`Privacy`].
    pub fn pseudonymise_actor(mut self) -> Self {
        self.actor = true;
        self
    }

    /// Pseudonymises every record's resource (`user:alice@example.com`).
    /// Needs a [`pseudonym_key`](Privacy::pseudonym_key).
    ///
    /// # Examples
    ///
    /// ```
    /// let policy = audit_layer::Privacy::new()
    ///     .pseudonymise_resource()
    ///     .pseudonym_key(audit_layer::PseudonymKey::from_bytes([1; 32]));
    /// # let _ = policy;
    /// ```
    pub fn pseudonymise_resource(mut self) -> Self {
        self.resource = true;
        self
    }

    /// The key pseudonyms are made with.
    ///
    /// # Examples
    ///
    /// See [`Privacy`].
    pub fn pseudonym_key(mut self, key: PseudonymKey) -> Self {
        self.key = Some(key);
        self
    }

    /// Refuses a policy that would pseudonymise without a key.
    pub(crate) fn check(&self) -> io::Result<()> {
        let pseudonymises = self.actor || self.resource || !self.pseudonymise.is_empty();
        if pseudonymises && self.key.is_none() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "the privacy policy pseudonymises values but has no pseudonym_key",
            ));
        }
        Ok(())
    }

    fn is_redacted(&self, name: &str) -> bool {
        self.redact.iter().any(|n| n.eq_ignore_ascii_case(name))
    }

    fn is_pseudonymised(&self, name: &str) -> bool {
        self.pseudonymise
            .iter()
            .any(|n| n.eq_ignore_ascii_case(name))
    }

    fn pseudonym(&self, value: &str) -> String {
        match &self.key {
            Some(key) => key.pseudonym(value),
            // `check` refuses such a policy; hide the value all the same.
            None => REDACTED.to_owned(),
        }
    }

    /// Applies the policy to an application event (audit-layer's own
    /// records carry no personal data and are left alone). Returns the
    /// changes between the hidden before and after when it parsed both,
    /// so that they need not be parsed again.
    pub(crate) fn apply(&self, event: &mut AuditEvent) -> Option<Vec<Change>> {
        if event.kind == RecordKind::System {
            return None;
        }
        if self.actor
            && let Some(actor) = &mut event.actor
        {
            *actor = Text::from(self.pseudonym(actor));
        }
        if self.resource
            && let Some(resource) = &mut event.resource
        {
            *resource = Text::from(self.pseudonym(resource));
        }
        for (name, value) in &mut event.context {
            if self.is_redacted(name) {
                *value = Text::from(REDACTED);
            } else if self.is_pseudonymised(name) {
                *value = Text::from(self.pseudonym(value));
            }
        }
        if self.redact.is_empty() && self.pseudonymise.is_empty() {
            return None;
        }
        let before = event.before.as_mut().and_then(|raw| self.hide_raw(raw));
        let after = event.after.as_mut().and_then(|raw| self.hide_raw(raw));
        match (before, after) {
            (Some(before), Some(after)) => Some(diff(&before, &after)),
            _ => None,
        }
    }

    /// Hides the named values in one serialised state, in place; returns
    /// the state as parsed (and hidden).
    ///
    /// State is JSON by construction (`RawValue`); should it ever fail to
    /// parse or to serialise again, all of it is redacted: the policy fails
    /// closed.
    fn hide_raw(&self, raw: &mut Box<RawValue>) -> Option<Value> {
        let redacted = || serde_json::value::to_raw_value(REDACTED).expect("a string serialises");
        let Ok(mut value) = serde_json::from_str::<Value>(raw.get()) else {
            *raw = redacted();
            return None;
        };
        if self.hide_in(&mut value) {
            *raw = serde_json::value::to_raw_value(&value).unwrap_or_else(|_| redacted());
        }
        Some(value)
    }

    /// Hides the named values at any depth of `value`; says whether any was.
    fn hide_in(&self, value: &mut Value) -> bool {
        match value {
            Value::Object(map) => {
                let mut hidden = false;
                for (name, field) in map.iter_mut() {
                    if self.is_redacted(name) {
                        *field = Value::String(REDACTED.to_owned());
                        hidden = true;
                    } else if self.is_pseudonymised(name) {
                        match field {
                            Value::Null => {}
                            Value::String(text) => *text = self.pseudonym(text),
                            other => *other = Value::String(self.pseudonym(&other.to_string())),
                        }
                        hidden = true;
                    } else {
                        hidden |= self.hide_in(field);
                    }
                }
                hidden
            }
            Value::Array(items) => items
                .iter_mut()
                .fold(false, |hidden, item| self.hide_in(item) | hidden),
            _ => false,
        }
    }
}
