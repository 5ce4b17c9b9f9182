//! C2SP `tlog-cosignature` (Ed25519, `cosignature/v1`): a witness's
//! timestamped statement that a checkpoint is consistent with every
//! checkpoint of that log it saw before.
//!
//! The signature line is `— <name> base64(key id || timestamp || signature)`
//! with the key id `SHA-256(name || "\n" || 0x04 || public key)[:4]`, the
//! timestamp a big-endian u64 of POSIX seconds, and the Ed25519 signature
//! over `cosignature/v1\ntime <timestamp>\n` followed by the checkpoint's
//! note text (every line, extension lines included).

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use ed25519_dalek::{Signature, Signer as _};

use crate::proof::note::{self, NoteError, SignerKey};

/// The algorithm byte of Ed25519 cosignatures in key ids and keys.
const COSIGNATURE_V1: u8 = 0x04;

fn key_id(name: &str, public: &[u8; 32]) -> u32 {
    note::key_id_of(name, COSIGNATURE_V1, public)
}

fn signed_message(text: &str, timestamp: u64) -> String {
    format!("cosignature/v1\ntime {timestamp}\n{text}")
}

/// A witness's key: the Ed25519 key of a [`SignerKey`] (the same private
/// key file), used for cosignatures.
///
/// # Examples
///
/// ```
/// use audit_layer::{CosignerKey, SignerKey};
/// let witness = CosignerKey::new(SignerKey::generate("witness.example/w1")?);
/// let checkpoint = "example.com/log\n1\nbjQLnP+zepicpUTmu3gKLHiQHT+zNzh2hRGjBhevoB0=\n";
/// let line = witness.cosign(checkpoint, 1_700_000_000);
/// let note = format!("{checkpoint}\n{line}");
/// assert_eq!(witness.verifier().verify(&note), Some(1_700_000_000));
/// # Ok::<(), audit_layer::NoteError>(())
/// ```
#[derive(Clone)]
pub struct CosignerKey {
    key: SignerKey,
}

impl fmt::Debug for CosignerKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CosignerKey")
            .field("name", &self.key.name())
            .finish_non_exhaustive()
    }
}

impl CosignerKey {
    /// The cosigner of `key` (its name and Ed25519 key).
    ///
    /// # Examples
    ///
    /// See [`CosignerKey`].
    pub fn new(key: SignerKey) -> Self {
        CosignerKey { key }
    }

    /// Its public key, as verifiers name it.
    ///
    /// # Examples
    ///
    /// See [`CosignerKey`].
    pub fn verifier(&self) -> CosignerVerifier {
        let public = self.key.signing_key().verifying_key();
        CosignerVerifier {
            name: self.key.name().to_owned(),
            id: key_id(self.key.name(), &public.to_bytes()),
            key: public,
        }
    }

    /// The cosignature line (with its newline) of the checkpoint whose note
    /// text is `text`, at `timestamp` (POSIX seconds).
    ///
    /// # Examples
    ///
    /// See [`CosignerKey`].
    pub fn cosign(&self, text: &str, timestamp: u64) -> String {
        let signature = self
            .key
            .signing_key()
            .sign(signed_message(text, timestamp).as_bytes());
        let mut blob = self.verifier().id.to_be_bytes().to_vec();
        blob.extend_from_slice(&timestamp.to_be_bytes());
        blob.extend_from_slice(&signature.to_bytes());
        format!("\u{2014} {} {}\n", self.key.name(), STANDARD.encode(blob))
    }
}

/// A witness's public key: `<name>+<key id>+<base64(0x04 || public key)>`.
///
/// # Examples
///
/// ```
/// use audit_layer::{CosignerKey, CosignerVerifier, SignerKey};
/// let witness = CosignerKey::new(SignerKey::generate("witness.example/w1")?);
/// let text = witness.verifier().to_string();
/// assert_eq!(CosignerVerifier::parse(&text)?, witness.verifier());
/// # Ok::<(), audit_layer::NoteError>(())
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct CosignerVerifier {
    name: String,
    id: u32,
    key: ed25519_dalek::VerifyingKey,
}

impl fmt::Debug for CosignerVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CosignerVerifier({self})")
    }
}

impl fmt::Display for CosignerVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut bytes = vec![COSIGNATURE_V1];
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

impl CosignerVerifier {
    /// Parses a witness's public key.
    ///
    /// # Errors
    ///
    /// [`NoteError::BadKey`] when it is not one, or its id does not match.
    ///
    /// # Examples
    ///
    /// See [`CosignerVerifier`].
    pub fn parse(text: &str) -> Result<CosignerVerifier, NoteError> {
        let (name, id, public) = note::parse_parts_of(text, COSIGNATURE_V1)?;
        let name = name.as_str();
        if key_id(name, &public) != id {
            return Err(NoteError::BadKey("the key id does not match the key"));
        }
        let key = ed25519_dalek::VerifyingKey::from_bytes(&public)
            .map_err(|_| NoteError::BadKey("not a valid Ed25519 public key"))?;
        Ok(CosignerVerifier {
            name: name.to_owned(),
            id,
            key,
        })
    }

    /// Its name.
    ///
    /// # Examples
    ///
    /// ```
    /// # use audit_layer::{CosignerKey, SignerKey};
    /// let witness = CosignerKey::new(SignerKey::generate("witness.example/w1")?);
    /// assert_eq!(witness.verifier().name(), "witness.example/w1");
    /// # Ok::<(), audit_layer::NoteError>(())
    /// ```
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The timestamp of this witness's valid cosignature on the signed
    /// note `note` (a checkpoint with its signature lines), if it has one.
    ///
    /// # Examples
    ///
    /// See [`CosignerKey`].
    pub fn verify(&self, note: &str) -> Option<u64> {
        let split = note.rfind("\n\n")?;
        let (text, signatures) = (&note[..=split], &note[split + 2..]);
        signatures.lines().find_map(|line| {
            let (name, blob) = line.strip_prefix("\u{2014} ")?.split_once(' ')?;
            if name != self.name {
                return None;
            }
            let blob = STANDARD.decode(blob).ok()?;
            if blob.len() != 4 + 8 + 64 || u32::from_be_bytes(blob[..4].try_into().ok()?) != self.id
            {
                return None;
            }
            let timestamp = u64::from_be_bytes(blob[4..12].try_into().ok()?);
            let signature = Signature::from_bytes(&blob[12..].try_into().ok()?);
            self.key
                .verify_strict(signed_message(text, timestamp).as_bytes(), &signature)
                .ok()
                .map(|()| timestamp)
        })
    }
}
