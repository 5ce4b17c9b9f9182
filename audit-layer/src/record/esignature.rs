//! Electronic signatures, as 21 CFR Part 11 asks of them (§11.50, §11.70):
//! who signed, the signer's printed name, the date and time, what the
//! signature means, and the exact version of what was signed, bound to the
//! record that carries them.
//!
//! A signature travels in a record's context under the `esignature.` keys
//! (FORMAT.md section 20); the record's resource is what was signed.

use std::borrow::Cow;
use std::fmt;

use crate::record::chain::Hash;
use crate::record::event::AuditEvent;
use crate::record::line::AuditRecord;
use crate::record::time::Timestamp;

/// The context keys a signature is written under, in the order FORMAT.md
/// lists them.
pub const ESIGNATURE_KEYS: [&str; 5] = [
    "esignature.signer",
    "esignature.name",
    "esignature.meaning",
    "esignature.time",
    "esignature.document_sha256",
];

/// What a signature means (§11.50(a)(3)).
///
/// # Examples
///
/// ```
/// use audit_layer::SignatureMeaning;
/// assert_eq!(SignatureMeaning::parse("approval")?, SignatureMeaning::Approval);
/// assert_eq!(SignatureMeaning::parse("verification")?.as_str(), "verification");
/// assert!(SignatureMeaning::parse("").is_err());
/// # Ok::<(), audit_layer::ESignatureError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum SignatureMeaning {
    /// The signer reviewed it.
    Review,
    /// The signer approved it.
    Approval,
    /// The signer takes responsibility for it.
    Responsibility,
    /// The signer wrote it.
    Authorship,
    /// Another meaning, in one word (letters, digits, `-`, `_`; at most 40).
    Custom(String),
}

impl SignatureMeaning {
    /// Reads a meaning: one of the four, or a custom word.
    ///
    /// # Errors
    ///
    /// [`ESignatureError::Meaning`] for an empty or unreadable word.
    ///
    /// # Examples
    ///
    /// See [`SignatureMeaning`].
    pub fn parse(word: &str) -> Result<SignatureMeaning, ESignatureError> {
        Ok(match word {
            "review" => SignatureMeaning::Review,
            "approval" => SignatureMeaning::Approval,
            "responsibility" => SignatureMeaning::Responsibility,
            "authorship" => SignatureMeaning::Authorship,
            other => {
                let fits = !other.is_empty()
                    && other.len() <= 40
                    && other
                        .chars()
                        .all(|c| c.is_alphanumeric() || c == '-' || c == '_');
                if !fits {
                    return Err(ESignatureError::Meaning(other.to_owned()));
                }
                SignatureMeaning::Custom(other.to_owned())
            }
        })
    }

    /// The word, as records carry it.
    ///
    /// # Examples
    ///
    /// See [`SignatureMeaning`].
    pub fn as_str(&self) -> &str {
        match self {
            SignatureMeaning::Review => "review",
            SignatureMeaning::Approval => "approval",
            SignatureMeaning::Responsibility => "responsibility",
            SignatureMeaning::Authorship => "authorship",
            SignatureMeaning::Custom(word) => word,
        }
    }
}

impl fmt::Display for SignatureMeaning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The SHA-256 of the exact bytes of the version signed.
///
/// # Examples
///
/// ```
/// use audit_layer::DocumentHash;
/// let hash = DocumentHash::of(b"SOP-7 v3");
/// assert_eq!(DocumentHash::from_hex(&hash.to_string())?, hash);
/// assert!(DocumentHash::from_hex("abc").is_err());
/// # Ok::<(), audit_layer::ESignatureError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct DocumentHash(Hash);

impl DocumentHash {
    /// The hash of `document`'s bytes.
    ///
    /// # Examples
    ///
    /// See [`DocumentHash`].
    pub fn of(document: &[u8]) -> DocumentHash {
        DocumentHash(Hash::of(document))
    }

    /// Reads 64 lowercase hex digits.
    ///
    /// # Errors
    ///
    /// [`ESignatureError::DocumentHash`].
    ///
    /// # Examples
    ///
    /// See [`DocumentHash`].
    pub fn from_hex(hex: &str) -> Result<DocumentHash, ESignatureError> {
        Hash::from_hex(hex.as_bytes())
            .map(DocumentHash)
            .ok_or_else(|| ESignatureError::DocumentHash(hex.chars().take(80).collect()))
    }
}

impl fmt::Display for DocumentHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

/// Why a signature could not be made or read back: a part is missing or
/// unreadable. A signature is never recorded with an empty part.
///
/// # Examples
///
/// ```
/// use audit_layer::{DocumentHash, ESignature, ESignatureError, SignatureMeaning};
/// let error = ESignature::new("u-17", " ", SignatureMeaning::Approval, "sop:7", DocumentHash::of(b"v3")).unwrap_err();
/// assert!(matches!(error, ESignatureError::Missing("printed name")));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ESignatureError {
    /// A part is empty or absent.
    #[error("an electronic signature needs its {0}")]
    Missing(&'static str),
    /// A part holds a control character (a name must print as written).
    #[error("the signature's {0} holds a control character")]
    ControlCharacter(&'static str),
    /// The meaning is not one word.
    #[error(
        "`{0}` is not a signature meaning (review, approval, responsibility, authorship, or one word)"
    )]
    Meaning(String),
    /// The document hash is not 64 lowercase hex digits.
    #[error("`{0}` is not a SHA-256 (64 lowercase hex digits)")]
    DocumentHash(String),
    /// The time is not a timestamp.
    #[error("`{0}` is not a signature time")]
    Time(String),
}

/// An electronic signature: signer, printed name, meaning, time, and the
/// document version (resource and SHA-256) it is bound to.
///
/// Every part is required by [`ESignature::new`]: leaving one out does not
/// compile, and an empty one is an error.
///
/// # Examples
///
/// ```
/// use audit_layer::{AuditWriter, DocumentHash, ESignature, MemorySink, SignatureMeaning};
///
/// let document = b"SOP-7, version 3: cleaning of the filling line";
/// let signature = ESignature::new(
///     "u-17",
///     "Dr. Jane Roe",
///     SignatureMeaning::Approval,
///     "sop:7",
///     DocumentHash::of(document),
/// )?;
/// let (sink, log) = MemorySink::new();
/// let (audit, guard) = AuditWriter::builder().spawn(sink)?;
/// audit.submit(signature.event("sop.approve"))?;
/// guard.shutdown(std::time::Duration::from_secs(5))?;
///
/// let record = &log.records()?[0];
/// let read_back = ESignature::from_record(record).expect("a signature")?;
/// assert_eq!(read_back.printed_name(), "Dr. Jane Roe");
/// assert_eq!(read_back.document(), DocumentHash::of(document));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ESignature {
    signer: String,
    printed_name: String,
    meaning: SignatureMeaning,
    resource: String,
    document: DocumentHash,
    signed_at: Timestamp,
}

fn required(part: &'static str, text: String) -> Result<String, ESignatureError> {
    let text = text.trim().to_owned();
    if text.is_empty() {
        return Err(ESignatureError::Missing(part));
    }
    if text.chars().any(char::is_control) {
        return Err(ESignatureError::ControlCharacter(part));
    }
    Ok(text)
}

impl ESignature {
    /// A signature by `signer` (the user id), printed as `printed_name`,
    /// meaning `meaning`, of the version of `resource` whose bytes hash to
    /// `document`, signed now.
    ///
    /// # Errors
    ///
    /// [`ESignatureError`] for an empty part or a control character.
    ///
    /// # Examples
    ///
    /// See [`ESignature`].
    pub fn new(
        signer: impl Into<String>,
        printed_name: impl Into<String>,
        meaning: SignatureMeaning,
        resource: impl Into<String>,
        document: DocumentHash,
    ) -> Result<ESignature, ESignatureError> {
        Ok(ESignature {
            signer: required("signer", signer.into())?,
            printed_name: required("printed name", printed_name.into())?,
            meaning,
            resource: required("resource", resource.into())?,
            document,
            signed_at: Timestamp::now(),
        })
    }

    /// The same signature, signed at `time`.
    ///
    /// # Examples
    ///
    /// ```
    /// # use audit_layer::{DocumentHash, ESignature, SignatureMeaning, Timestamp};
    /// let at: Timestamp = "2026-11-02T09:00:00Z".parse()?;
    /// let signature = ESignature::new("u-1", "A. Person", SignatureMeaning::Review, "doc:1", DocumentHash::of(b""))?
    ///     .signed_at(at);
    /// assert_eq!(signature.time(), at);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn signed_at(mut self, time: Timestamp) -> ESignature {
        self.signed_at = time;
        self
    }

    /// Who signed (the user id).
    ///
    /// # Examples
    ///
    /// See [`ESignature`].
    pub fn signer(&self) -> &str {
        &self.signer
    }

    /// The signer's printed name.
    ///
    /// # Examples
    ///
    /// See [`ESignature`].
    pub fn printed_name(&self) -> &str {
        &self.printed_name
    }

    /// What the signature means.
    ///
    /// # Examples
    ///
    /// See [`ESignature`].
    pub fn meaning(&self) -> &SignatureMeaning {
        &self.meaning
    }

    /// What was signed.
    ///
    /// # Examples
    ///
    /// See [`ESignature`].
    pub fn resource(&self) -> &str {
        &self.resource
    }

    /// The SHA-256 of the version signed.
    ///
    /// # Examples
    ///
    /// See [`ESignature`].
    pub fn document(&self) -> DocumentHash {
        self.document
    }

    /// When it was signed.
    ///
    /// # Examples
    ///
    /// See [`ESignature::signed_at`].
    pub fn time(&self) -> Timestamp {
        self.signed_at
    }

    /// The context entries that carry it, in [`ESIGNATURE_KEYS`] order.
    pub(crate) fn context_entries(&self) -> [(&'static str, String); 5] {
        [
            (ESIGNATURE_KEYS[0], self.signer.clone()),
            (ESIGNATURE_KEYS[1], self.printed_name.clone()),
            (ESIGNATURE_KEYS[2], self.meaning.as_str().to_owned()),
            (ESIGNATURE_KEYS[3], self.signed_at.to_string()),
            (ESIGNATURE_KEYS[4], self.document.to_string()),
        ]
    }

    /// An event recording the signature as `action`: the signer is the
    /// actor, the document the resource, the signature's time the record's.
    ///
    /// # Examples
    ///
    /// See [`ESignature`].
    pub fn event(&self, action: impl Into<Cow<'static, str>>) -> AuditEvent {
        let mut builder = AuditEvent::builder(action)
            .actor(self.signer.clone())
            .resource(self.resource.clone())
            .time(self.signed_at);
        for (key, value) in self.context_entries() {
            builder = builder.context(key, value);
        }
        builder.build()
    }

    /// The signature a record carries: `None` when it carries none, an
    /// error when it carries part of one.
    ///
    /// # Examples
    ///
    /// See [`ESignature`].
    pub fn from_record(record: &AuditRecord) -> Option<Result<ESignature, ESignatureError>> {
        let get = |key: &str| record.context.get(key);
        if !ESIGNATURE_KEYS.iter().any(|key| get(key).is_some()) {
            return None;
        }
        let part = |key: &str, name: &'static str| -> Result<String, ESignatureError> {
            required(name, get(key).cloned().unwrap_or_default())
        };
        Some((|| {
            let time_text = part(ESIGNATURE_KEYS[3], "time")?;
            Ok(ESignature {
                signer: part(ESIGNATURE_KEYS[0], "signer")?,
                printed_name: part(ESIGNATURE_KEYS[1], "printed name")?,
                meaning: SignatureMeaning::parse(&part(ESIGNATURE_KEYS[2], "meaning")?)?,
                resource: required("resource", record.resource.clone().unwrap_or_default())?,
                document: DocumentHash::from_hex(&part(ESIGNATURE_KEYS[4], "document hash")?)?,
                signed_at: time_text
                    .parse()
                    .map_err(|_| ESignatureError::Time(time_text.clone()))?,
            })
        })())
    }
}
