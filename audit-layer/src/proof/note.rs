//! Signed notes (C2SP `signed-note`) with Ed25519 keys, in the key formats
//! of Go's `golang.org/x/mod/sumdb/note`, so that checkpoints and keys work
//! with existing transparency-log tooling.
//!
//! ```text
//! <text, ending in a newline>
//!
//! — <key name> <base64(4-byte key id || 64-byte Ed25519 signature)>
//! ```

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use ed25519_dalek::{Signature, Signer as _};
use sha2::{Digest, Sha256};

/// Signature type byte of Ed25519 in signed notes.
const ED25519: u8 = 0x01;
const PRIVATE_PREFIX: &str = "PRIVATE+KEY+";

/// Why a key or a note was refused.
///
/// # Examples
///
/// ```
/// let error = audit_layer::VerifierKey::parse("nonsense").unwrap_err();
/// assert!(error.to_string().contains("key"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NoteError {
    /// The key text is not in the expected format.
    #[error("not a key: {0}")]
    BadKey(&'static str),
    /// The note is not a signed note.
    #[error("not a signed note: {0}")]
    Malformed(&'static str),
    /// No signature on the note is from a trusted key.
    #[error("the note is not signed by any trusted key (signed by: {0})")]
    UnknownKey(String),
    /// A signature from a trusted key does not verify.
    #[error("the signature of {0} does not verify: the note was altered or forged")]
    BadSignature(String),
    /// Randomness for a new key could not be had.
    #[error("no randomness for a new key: {0}")]
    NoRandomness(String),
}

/// A key's id: `SHA-256(name || "\n" || algorithm || public key)[:4]`
/// (signed-note keys are algorithm 0x01, cosigner keys 0x04).
pub(crate) fn key_id_of(name: &str, algorithm: u8, public: &[u8; 32]) -> u32 {
    let mut hasher = Sha256::new();
    hasher.update(name.as_bytes());
    hasher.update([b'\n', algorithm]);
    hasher.update(public);
    let digest = hasher.finalize();
    u32::from_be_bytes([digest[0], digest[1], digest[2], digest[3]])
}

fn key_id(name: &str, public: &[u8; 32]) -> u32 {
    key_id_of(name, ED25519, public)
}

fn valid_name(name: &str) -> bool {
    !name.is_empty() && !name.chars().any(|c| c.is_whitespace() || c == '+')
}

/// Splits `name+hex8+base64(algorithm || 32 bytes)`. From the left: the
/// name and id hold no `+`, base64 may.
pub(crate) fn parse_parts_of(
    text: &str,
    algorithm: u8,
) -> Result<(String, u32, [u8; 32]), NoteError> {
    let mut parts = text.trim().splitn(3, '+');
    let (Some(name), Some(id), Some(key)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(NoteError::BadKey("expected <name>+<key id>+<key>"));
    };
    if !valid_name(name) {
        return Err(NoteError::BadKey(
            "the name is empty or holds a space or a plus",
        ));
    }
    if id.len() != 8 {
        return Err(NoteError::BadKey("the key id is not 8 hex digits"));
    }
    let id = u32::from_str_radix(id, 16)
        .map_err(|_| NoteError::BadKey("the key id is not 8 hex digits"))?;
    let bytes = STANDARD
        .decode(key)
        .map_err(|_| NoteError::BadKey("the key is not base64"))?;
    let rest = match bytes.split_first() {
        Some((first, rest)) if *first == algorithm => rest,
        _ if algorithm == ED25519 => return Err(NoteError::BadKey("not an Ed25519 key")),
        _ => {
            return Err(NoteError::BadKey("not an Ed25519 cosigner key (type 0x04)"));
        }
    };
    let key: [u8; 32] = rest
        .try_into()
        .map_err(|_| NoteError::BadKey("an Ed25519 key is 32 bytes"))?;
    Ok((name.to_owned(), id, key))
}

fn parse_parts(text: &str) -> Result<(String, u32, [u8; 32]), NoteError> {
    parse_parts_of(text, ED25519)
}

/// A key that signs checkpoints and anchors. Keep it away from the log it
/// signs for: whoever holds it can sign a re-written history.
///
/// # Examples
///
/// ```
/// use audit_layer::SignerKey;
///
/// let key = SignerKey::generate("example.com/audit/billing")?;
/// let text = key.to_string();
/// assert!(text.starts_with("PRIVATE+KEY+example.com/audit/billing+"));
/// assert_eq!(SignerKey::parse(&text)?.verifier(), key.verifier());
/// # Ok::<(), audit_layer::NoteError>(())
/// ```
#[derive(Clone)]
pub struct SignerKey {
    name: String,
    key: ed25519_dalek::SigningKey,
}

impl fmt::Debug for SignerKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never the secret.
        f.debug_struct("SignerKey")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl SignerKey {
    /// A new random key named `name` (a schema-less URL, such as
    /// `example.com/audit/billing`; no spaces, no `+`).
    ///
    /// # Errors
    ///
    /// A name with a space or `+`, or no randomness from the OS.
    ///
    /// # Examples
    ///
    /// See [`SignerKey`].
    pub fn generate(name: &str) -> Result<SignerKey, NoteError> {
        if !valid_name(name) {
            return Err(NoteError::BadKey(
                "the name is empty or holds a space or a plus",
            ));
        }
        let mut seed = [0u8; 32];
        getrandom::fill(&mut seed).map_err(|e| NoteError::NoRandomness(e.to_string()))?;
        Ok(SignerKey {
            name: name.to_owned(),
            key: ed25519_dalek::SigningKey::from_bytes(&seed),
        })
    }

    /// The key with this 32-byte Ed25519 seed (from a key management
    /// system, say); [`generate`](Self::generate) makes a random one.
    ///
    /// # Errors
    ///
    /// A name with a space or `+`.
    ///
    /// # Examples
    ///
    /// ```
    /// let a = audit_layer::SignerKey::from_seed("example.com/log", [7; 32])?;
    /// let b = audit_layer::SignerKey::from_seed("example.com/log", [7; 32])?;
    /// assert_eq!(a.verifier(), b.verifier());
    /// # Ok::<(), audit_layer::NoteError>(())
    /// ```
    pub fn from_seed(name: &str, seed: [u8; 32]) -> Result<SignerKey, NoteError> {
        if !valid_name(name) {
            return Err(NoteError::BadKey(
                "the name is empty or holds a space or a plus",
            ));
        }
        Ok(SignerKey {
            name: name.to_owned(),
            key: ed25519_dalek::SigningKey::from_bytes(&seed),
        })
    }

    /// Parses `PRIVATE+KEY+<name>+<key id>+<base64(0x01 || seed)>`.
    ///
    /// # Errors
    ///
    /// [`NoteError::BadKey`] when the text is not such a key, or the key id
    /// does not match.
    ///
    /// # Examples
    ///
    /// See [`SignerKey`].
    pub fn parse(text: &str) -> Result<SignerKey, NoteError> {
        let rest = text
            .trim()
            .strip_prefix(PRIVATE_PREFIX)
            .ok_or(NoteError::BadKey("a signer key starts with PRIVATE+KEY+"))?;
        let (name, id, seed) = parse_parts(rest)?;
        let key = ed25519_dalek::SigningKey::from_bytes(&seed);
        if key_id(&name, &key.verifying_key().to_bytes()) != id {
            return Err(NoteError::BadKey("the key id does not match the key"));
        }
        Ok(SignerKey { name, key })
    }

    /// The key's name.
    ///
    /// # Examples
    ///
    /// ```
    /// let key = audit_layer::SignerKey::generate("example.com/log")?;
    /// assert_eq!(key.name(), "example.com/log");
    /// # Ok::<(), audit_layer::NoteError>(())
    /// ```
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The public half, to give verifiers.
    ///
    /// # Examples
    ///
    /// ```
    /// let key = audit_layer::SignerKey::generate("example.com/log")?;
    /// assert!(key.verifier().to_string().starts_with("example.com/log+"));
    /// # Ok::<(), audit_layer::NoteError>(())
    /// ```
    pub fn verifier(&self) -> VerifierKey {
        let public = self.key.verifying_key();
        VerifierKey {
            name: self.name.clone(),
            id: key_id(&self.name, &public.to_bytes()),
            key: public,
        }
    }

    /// The Ed25519 key itself, for the other signatures made with it
    /// (cosignatures).
    pub(crate) fn signing_key(&self) -> &ed25519_dalek::SigningKey {
        &self.key
    }

    /// Signs `text` (which must end in a newline) as a note.
    pub(crate) fn sign(&self, text: &str) -> String {
        debug_assert!(text.ends_with('\n'));
        let signature = self.key.sign(text.as_bytes());
        let mut blob = self.verifier().id.to_be_bytes().to_vec();
        blob.extend_from_slice(&signature.to_bytes());
        format!("{text}\n\u{2014} {} {}\n", self.name, STANDARD.encode(blob))
    }
}

impl fmt::Display for SignerKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut bytes = vec![ED25519];
        bytes.extend_from_slice(&self.key.to_bytes());
        write!(
            f,
            "{PRIVATE_PREFIX}{}+{:08x}+{}",
            self.name,
            self.verifier().id,
            STANDARD.encode(bytes)
        )
    }
}

/// A public key that checkpoints and anchors are checked against.
///
/// # Examples
///
/// ```
/// use audit_layer::{SignerKey, VerifierKey};
///
/// let signer = SignerKey::generate("example.com/log")?;
/// let text = signer.verifier().to_string();
/// let parsed = VerifierKey::parse(&text)?;
/// assert_eq!(parsed, signer.verifier());
/// assert_eq!(parsed.name(), "example.com/log");
/// # Ok::<(), audit_layer::NoteError>(())
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct VerifierKey {
    name: String,
    id: u32,
    key: ed25519_dalek::VerifyingKey,
}

impl fmt::Debug for VerifierKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "VerifierKey({self})")
    }
}

impl VerifierKey {
    /// Parses `<name>+<key id>+<base64(0x01 || public key)>`.
    ///
    /// # Errors
    ///
    /// [`NoteError::BadKey`] when the text is not such a key or the id does not match.
    ///
    /// # Examples
    ///
    /// See [`VerifierKey`].
    pub fn parse(text: &str) -> Result<VerifierKey, NoteError> {
        let (name, id, public) = parse_parts(text)?;
        if key_id(&name, &public) != id {
            return Err(NoteError::BadKey("the key id does not match the key"));
        }
        let key = ed25519_dalek::VerifyingKey::from_bytes(&public)
            .map_err(|_| NoteError::BadKey("not a valid Ed25519 public key"))?;
        Ok(VerifierKey { name, id, key })
    }

    /// The key's name.
    ///
    /// # Examples
    ///
    /// See [`VerifierKey`].
    pub fn name(&self) -> &str {
        &self.name
    }
}

impl fmt::Display for VerifierKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut bytes = vec![ED25519];
        bytes.extend_from_slice(&self.key.to_bytes());
        write!(
            f,
            "{}+{:08x}+{}",
            self.name,
            self.id,
            STANDARD.encode(bytes)
        )
    }
}

/// A note whose signature by a trusted key verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct OpenedNote {
    pub(crate) text: String,
    pub(crate) signed_by: String,
}

/// Checks a signed note against `trusted` keys, as the spec requires:
/// signatures from unknown keys are ignored, a failing signature from a
/// known key rejects the note, and at least one known key must have signed.
pub(crate) fn open(note: &str, trusted: &[VerifierKey]) -> Result<OpenedNote, NoteError> {
    if note.chars().any(|c| c.is_control() && c != '\n') {
        return Err(NoteError::Malformed("control characters"));
    }
    let split = note
        .rfind("\n\n")
        .ok_or(NoteError::Malformed("no blank line before the signatures"))?;
    let (text, signatures) = (&note[..=split], &note[split + 2..]);
    let mut seen = Vec::new();
    let mut verified_by = None;
    for line in signatures.lines().filter(|l| !l.is_empty()) {
        let rest = line.strip_prefix("\u{2014} ").ok_or(NoteError::Malformed(
            "a signature line starts with an em dash",
        ))?;
        let (name, blob) = rest.split_once(' ').ok_or(NoteError::Malformed(
            "a signature line is `— <name> <signature>`",
        ))?;
        let blob = STANDARD
            .decode(blob)
            .map_err(|_| NoteError::Malformed("a signature is not base64"))?;
        if blob.len() < 4 {
            return Err(NoteError::Malformed("a signature is too short"));
        }
        let id = u32::from_be_bytes([blob[0], blob[1], blob[2], blob[3]]);
        seen.push(format!("{name}+{id:08x}"));
        let Some(key) = trusted.iter().find(|k| k.name == name && k.id == id) else {
            continue;
        };
        let signature = <[u8; 64]>::try_from(&blob[4..])
            .map(|bytes| Signature::from_bytes(&bytes))
            .map_err(|_| NoteError::BadSignature(name.to_owned()))?;
        key.key
            .verify_strict(text.as_bytes(), &signature)
            .map_err(|_| NoteError::BadSignature(name.to_owned()))?;
        verified_by.get_or_insert_with(|| name.to_owned());
    }
    if seen.is_empty() {
        return Err(NoteError::Malformed("no signature lines"));
    }
    match verified_by {
        Some(signed_by) => Ok(OpenedNote {
            text: text.to_owned(),
            signed_by,
        }),
        None => Err(NoteError::UnknownKey(seen.join(", "))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signed_notes_open_with_the_right_key_only() {
        let key = SignerKey::generate("example.com/log").unwrap();
        let other = SignerKey::generate("example.com/other").unwrap();
        let note = key.sign("example.com/log\n7\nAAAA\n");
        let opened = open(&note, &[other.verifier(), key.verifier()]).unwrap();
        assert_eq!(opened.text, "example.com/log\n7\nAAAA\n");
        assert_eq!(opened.signed_by, "example.com/log");
        assert!(matches!(
            open(&note, &[other.verifier()]),
            Err(NoteError::UnknownKey(_))
        ));
        let altered = note.replacen("\n7\n", "\n8\n", 1);
        assert!(matches!(
            open(&altered, &[key.verifier()]),
            Err(NoteError::BadSignature(_))
        ));
    }

    /// The known answer of Go's golang.org/x/mod/sumdb/note, the reference
    /// implementation: same key, same text, the very same note.
    #[test]
    fn notes_match_the_go_reference_byte_for_byte() {
        let signer = SignerKey::parse(
            "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz",
        )
        .unwrap();
        let verifier = VerifierKey::parse(
            "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
        )
        .unwrap();
        assert_eq!(signer.verifier(), verifier);
        let text = "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n";
        let note = signer.sign(text);
        assert_eq!(
            note,
            format!(
                "{text}\n\u{2014} PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n"
            )
        );
        assert_eq!(open(&note, &[verifier]).unwrap().text, text);
        assert_eq!(
            signer.to_string(),
            "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
        );
    }

    #[test]
    fn key_ids_and_kinds_are_checked() {
        // Go's note package: a key's text round-trips and its id is checked.
        let key = SignerKey::generate("PeterNeumann").unwrap();
        let mangled = key.verifier().to_string().replacen('+', "+0", 1);
        assert!(VerifierKey::parse(&mangled).is_err());
        assert!(
            SignerKey::parse(&key.verifier().to_string()).is_err(),
            "a public key is not a signer key"
        );
    }
}
