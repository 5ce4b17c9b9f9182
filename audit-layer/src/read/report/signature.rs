//! A detached signature over a report file: a signed note (C2SP
//! signed-note, the key format of checkpoints) whose text names the file
//! and carries the SHA-256 of its exact bytes.
//!
//! ```text
//! audit-layer report signature
//! access-2026-11.html
//! 48213 9f2c...e1
//!
//! — billing-audit AbCd...
//! ```

use crate::proof::note::{self, NoteError, SignerKey, VerifierKey};
use crate::record::chain::Hash;

const HEADER: &str = "audit-layer report signature";

/// Why a report signature could not be made or does not hold.
///
/// # Examples
///
/// ```
/// let error = audit_layer::ReportSignatureError::Altered;
/// assert!(error.to_string().contains("altered"));
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReportSignatureError {
    /// The note's signature does not hold (or no trusted key signed it).
    #[error(transparent)]
    Note(#[from] NoteError),
    /// The note is signed, but is not a report signature.
    #[error("not a report signature: {0}")]
    NotAReportSignature(&'static str),
    /// The file's bytes are not the bytes signed.
    #[error("the report was altered after it was signed: its SHA-256 is not the one signed")]
    Altered,
    /// A name that can not go on one line of a note.
    #[error("a report's name must be one line of printable text")]
    BadName,
}

/// What a report signature says: the file's name, size and SHA-256.
///
/// # Examples
///
/// ```
/// use audit_layer::{ReportSignature, SignerKey};
/// let key = SignerKey::generate("compliance.example/reports")?;
/// let report = b"<!DOCTYPE html><html>...</html>";
/// let note = ReportSignature::of(report, "access.html")?.sign(&key);
/// let checked = ReportSignature::check(report, &note, &[key.verifier()])?;
/// assert_eq!(checked.name, "access.html");
/// assert!(ReportSignature::check(b"<html>edited</html>", &note, &[key.verifier()]).is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ReportSignature {
    /// The report's file name, as signed.
    pub name: String,
    /// Its size in bytes.
    pub size: u64,
    /// The SHA-256 of its bytes, hex.
    pub sha256: String,
    /// Who signed (the key's name), once checked.
    pub signed_by: Option<String>,
}

impl ReportSignature {
    /// What a signature of `report`, named `name`, says.
    ///
    /// # Errors
    ///
    /// [`ReportSignatureError::BadName`] for an empty name or one with a
    /// control character.
    ///
    /// # Examples
    ///
    /// See [`ReportSignature`].
    pub fn of(report: &[u8], name: &str) -> Result<ReportSignature, ReportSignatureError> {
        if name.is_empty() || name.chars().any(char::is_control) {
            return Err(ReportSignatureError::BadName);
        }
        Ok(ReportSignature {
            name: name.to_owned(),
            size: report.len() as u64,
            sha256: Hash::of(report).to_string(),
            signed_by: None,
        })
    }

    /// The signed note.
    ///
    /// # Examples
    ///
    /// See [`ReportSignature`].
    pub fn sign(&self, key: &SignerKey) -> String {
        key.sign(&format!(
            "{HEADER}\n{}\n{} {}\n",
            self.name, self.size, self.sha256
        ))
    }

    /// Checks `note` against `trusted` keys and `report`'s bytes.
    ///
    /// # Errors
    ///
    /// [`ReportSignatureError`]: the note's signature, its shape, or the
    /// report's bytes.
    ///
    /// # Examples
    ///
    /// See [`ReportSignature`].
    pub fn check(
        report: &[u8],
        note: &str,
        trusted: &[VerifierKey],
    ) -> Result<ReportSignature, ReportSignatureError> {
        let opened = note::open(note, trusted)?;
        let mut lines = opened.text.lines();
        if lines.next() != Some(HEADER) {
            return Err(ReportSignatureError::NotAReportSignature("its first line"));
        }
        let name = lines
            .next()
            .ok_or(ReportSignatureError::NotAReportSignature("no name"))?
            .to_owned();
        let (size, sha256) = lines.next().and_then(|line| line.split_once(' ')).ok_or(
            ReportSignatureError::NotAReportSignature("no size and hash"),
        )?;
        let size: u64 = size
            .parse()
            .map_err(|_| ReportSignatureError::NotAReportSignature("the size"))?;
        if lines.next().is_some() {
            return Err(ReportSignatureError::NotAReportSignature(
                "lines after the hash",
            ));
        }
        if size != report.len() as u64 || sha256 != Hash::of(report).to_string() {
            return Err(ReportSignatureError::Altered);
        }
        Ok(ReportSignature {
            name,
            size,
            sha256: sha256.to_owned(),
            signed_by: Some(opened.signed_by),
        })
    }
}
