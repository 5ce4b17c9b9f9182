//! Evidence bundles: the records a selection names, as stored, each with an
//! inclusion proof into a signed (and cosigned) checkpoint; checked offline,
//! with no access to the log.
//!
//! What a bundle proves: every record in it is, byte for byte, the record
//! at its seq in the log whose tree the checkpoint signs (and the witnesses
//! cosigned). For a seq range (`--from-seq`, `--to-seq`) it also proves the
//! range is complete: every seq in it is there. For a selection by field
//! (resource, actor, time), it cannot prove that no record left out also
//! matches: the records left out are not disclosed, and a Merkle proof
//! shows what is in a tree, not what is absent. It says so in its
//! `completeness` field.

use std::io;
use std::path::Path;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Serialize};

use crate::proof::checkpoint::Checkpoint;
use crate::proof::cosignature::CosignerVerifier;
use crate::proof::merkle::{self, ProofError};
use crate::proof::note::VerifierKey;
use crate::proof::tiles::LogTree;
use crate::proof::verify::Verifier;
use crate::read::query::RecordFilter;
use crate::record::AuditRecord;
use crate::record::chain::{self, Hash};

/// The format line of a bundle.
const FORMAT: &str = "audit-layer evidence bundle v1";

/// One disclosed record: its exact line and its inclusion proof.
///
/// # Examples
///
/// See [`EvidenceBundle`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct BundledRecord {
    /// Its seq: its leaf's index.
    pub seq: u64,
    /// Its line as stored, without the newline.
    pub line: String,
    /// The inclusion proof of its leaf in the checkpoint's tree (base64).
    pub proof: Vec<String>,
}

/// Records selected from a log, with proofs, for someone who has no access
/// to the log (an inspector, a data subject). Serialised as one JSON object.
///
/// # Examples
///
/// ```
/// use audit_layer::{AuditEvent, AuditWriter, CheckpointDir, Checkpoints, EvidenceBundle, FileSink, RecordFilter, SignerKey};
///
/// let dir = tempfile::tempdir()?;
/// let key = SignerKey::generate("example.com/audit/docs")?;
/// let (audit, guard) = AuditWriter::builder()
///     .checkpoints(Checkpoints::new(key.clone(), CheckpointDir::new(dir.path().join("cp"))))
///     .spawn(FileSink::open(dir.path().join("log"))?)?;
/// for n in 0..20 {
///     audit.submit(AuditEvent::builder("doc.view").resource(format!("doc:{}", n % 3)).build())?;
/// }
/// guard.shutdown(std::time::Duration::from_secs(5))?;
/// let note = std::fs::read_to_string(dir.path().join("cp/checkpoint-00000000000000000020.note"))?;
///
/// let bundle = EvidenceBundle::build(dir.path().join("log"), &RecordFilter::new().resource("doc:1"), None, &note, &[key.verifier()])?;
/// let checked = EvidenceBundle::check(&bundle.to_json(), &[key.verifier()], &[], 0)?;
/// assert_eq!(checked.records.len(), 7);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct EvidenceBundle {
    /// `audit-layer evidence bundle v1`.
    pub format: String,
    /// The selection, in words.
    pub selection: String,
    /// What the bundle can and cannot prove about the selection.
    pub completeness: String,
    /// For a seq range: its first and last seq, every one of them disclosed.
    pub seq_range: Option<(u64, u64)>,
    /// The signed checkpoint (with any cosignatures) the proofs lead to.
    pub checkpoint: String,
    /// The records, in seq order.
    pub records: Vec<BundledRecord>,
}

/// Why a bundle could not be made or does not check.
///
/// # Examples
///
/// ```
/// let error = audit_layer::BundleError::Invalid("no records".into());
/// assert!(error.to_string().contains("no records"));
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BundleError {
    /// The log could not be read.
    #[error("cannot read the log: {0}")]
    Io(#[from] io::Error),
    /// The checkpoint, a proof or a record does not check.
    #[error("{0}")]
    Invalid(String),
    /// A proof could not be made or does not verify.
    #[error(transparent)]
    Proof(#[from] ProofError),
}

fn invalid(why: impl Into<String>) -> BundleError {
    BundleError::Invalid(why.into())
}

fn b64(hash: &Hash) -> String {
    STANDARD.encode(hash.as_bytes())
}

fn unb64(text: &str) -> Option<Hash> {
    let bytes: [u8; 32] = STANDARD.decode(text).ok()?.try_into().ok()?;
    Some(Hash::from_bytes(bytes))
}

/// What [`EvidenceBundle::check`] found: the records, each proved.
///
/// # Examples
///
/// See [`EvidenceBundle`].
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct CheckedBundle {
    /// The checkpoint the records are proved into.
    pub checkpoint: Checkpoint,
    /// The key that signed it.
    pub signed_by: String,
    /// The witnesses whose cosignatures on it verified.
    pub cosigned_by: Vec<String>,
    /// The records, parsed.
    pub records: Vec<AuditRecord>,
    /// Whether the bundle is a complete seq range.
    pub complete_range: Option<(u64, u64)>,
    /// What the bundle says it can and cannot prove.
    pub completeness: String,
}

impl EvidenceBundle {
    /// Selects the records of the log in `log` that `filter` keeps (or the
    /// seq range `range`, all of it) among the first records the signed
    /// checkpoint `note` covers, and proves each into it. The log must
    /// verify up to the checkpoint, and its tree there must have the
    /// checkpoint's root.
    ///
    /// # Errors
    ///
    /// [`BundleError`]: a checkpoint no trusted key signed or of the first
    /// kind (no tree root), a log that does not match it, a range beyond it.
    ///
    /// # Examples
    ///
    /// See [`EvidenceBundle`].
    pub fn build(
        log: impl AsRef<Path>,
        filter: &RecordFilter,
        range: Option<(u64, u64)>,
        note: &str,
        keys: &[VerifierKey],
    ) -> Result<EvidenceBundle, BundleError> {
        let log = log.as_ref();
        let (checkpoint, _) =
            Checkpoint::open(note, keys).map_err(|e| invalid(format!("the checkpoint: {e}")))?;
        let root = checkpoint
            .root
            .ok_or_else(|| invalid("the checkpoint is of the first kind: it signs no tree root"))?;
        if let Some((first, last)) = range
            && (first > last || last >= checkpoint.size)
        {
            return Err(invalid(format!(
                "seq {first}..{last} is not a range within the checkpoint's {} records",
                checkpoint.size
            )));
        }
        let tree = LogTree::open_at(log, checkpoint.size)?;
        if tree.root() != root {
            return Err(invalid(
                "the log's tree at the checkpoint's size does not have the root it signs",
            ));
        }
        let mut records = Vec::new();
        let mut failure = None;
        let report = Verifier::new()
            .trust_all(keys)
            .verify_path_with(log, |line| {
                let Some(seq) = line.seq.filter(|seq| *seq < checkpoint.size) else {
                    return Ok(());
                };
                let wanted = match range {
                    Some((first, last)) => (first..=last).contains(&seq),
                    None => AuditRecord::from_line(line.line)
                        .is_ok_and(|record| filter.matches(&record)),
                };
                if !wanted {
                    return Ok(());
                }
                if !line.verified {
                    failure = Some(format!("record {seq} does not verify"));
                    return Ok(());
                }
                records.push((seq, line.line.to_vec()));
                Ok(())
            })
            .map_err(|e| invalid(e.to_string()))?;
        if let Some(why) = failure {
            return Err(invalid(why));
        }
        if report.shows_tampering() {
            return Err(invalid("the log does not verify: run `audit verify`"));
        }
        let mut bundled = Vec::with_capacity(records.len());
        for (seq, line) in records {
            let proof = tree.inclusion_proof(seq, checkpoint.size)?;
            bundled.push(BundledRecord {
                seq,
                line: String::from_utf8(line).map_err(|_| invalid("a record is not UTF-8"))?,
                proof: proof.iter().map(b64).collect(),
            });
        }
        let (selection, completeness) = match range {
            Some((first, last)) => (
                format!("seq {first} to {last}"),
                format!(
                    "complete: every record from seq {first} to seq {last} of the log is in this bundle, each proved into the checkpoint's tree"
                ),
            ),
            None => (
                filter.describe(),
                "every record in this bundle is proved to be in the log, byte for byte, at its seq; this bundle cannot prove that no record left out also matches the selection: the records left out are not disclosed, and a Merkle proof shows what a tree holds, not what it lacks".into(),
            ),
        };
        Ok(EvidenceBundle {
            format: FORMAT.into(),
            selection,
            completeness,
            seq_range: range,
            checkpoint: note.to_owned(),
            records: bundled,
        })
    }

    /// The bundle as one JSON object.
    ///
    /// # Examples
    ///
    /// See [`EvidenceBundle`].
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default()
    }

    /// Checks a bundle offline: the checkpoint is signed by one of `keys`
    /// and, with `witnesses`, cosigned by at least `quorum` of them; every
    /// record hashes to its hash and its leaf is proved at its seq into the
    /// checkpoint's tree; a seq range is complete.
    ///
    /// # Errors
    ///
    /// [`BundleError::Invalid`] naming the first thing that does not check.
    ///
    /// # Examples
    ///
    /// See [`EvidenceBundle`].
    pub fn check(
        json: &str,
        keys: &[VerifierKey],
        witnesses: &[CosignerVerifier],
        quorum: usize,
    ) -> Result<CheckedBundle, BundleError> {
        let bundle: EvidenceBundle =
            serde_json::from_str(json).map_err(|e| invalid(format!("not a bundle: {e}")))?;
        if bundle.format != FORMAT {
            return Err(invalid(format!(
                "not a bundle of this format: {:?}",
                bundle.format
            )));
        }
        let (checkpoint, signed_by) = Checkpoint::open(&bundle.checkpoint, keys)
            .map_err(|e| invalid(format!("the checkpoint: {e}")))?;
        let root = checkpoint
            .root
            .ok_or_else(|| invalid("the checkpoint signs no tree root"))?;
        let cosigned_by: Vec<String> = witnesses
            .iter()
            .filter(|w| w.verify(&bundle.checkpoint).is_some())
            .map(|w| w.name().to_owned())
            .collect();
        if !witnesses.is_empty() && cosigned_by.len() < quorum.max(1) {
            return Err(invalid(format!(
                "the checkpoint carries cosignatures from {} of the witnesses given, fewer than {}",
                cosigned_by.len(),
                quorum.max(1)
            )));
        }
        let mut records = Vec::with_capacity(bundle.records.len());
        let mut previous: Option<u64> = None;
        for bundled in &bundle.records {
            let seq = bundled.seq;
            if previous.is_some_and(|p| p >= seq) {
                return Err(invalid(format!("record {seq} is out of order or repeated")));
            }
            previous = Some(seq);
            let hash = chain::check_line(bundled.line.as_bytes())
                .map_err(|e| invalid(format!("record {seq} is {e}")))?;
            let record = AuditRecord::from_line(bundled.line.as_bytes())
                .map_err(|e| invalid(format!("record {seq}: {e}")))?;
            if record.seq != seq {
                return Err(invalid(format!(
                    "the record given as seq {seq} says seq {}",
                    record.seq
                )));
            }
            let proof = bundled
                .proof
                .iter()
                .map(|p| unb64(p))
                .collect::<Option<Vec<_>>>()
                .ok_or_else(|| invalid(format!("record {seq}: a proof hash is not base64")))?;
            merkle::verify_inclusion(
                &merkle::record_leaf(&hash),
                seq,
                checkpoint.size,
                &proof,
                &root,
            )
            .map_err(|e| {
                invalid(format!(
                    "record {seq} is not proved in the checkpoint's tree: {e}"
                ))
            })?;
            records.push(record);
        }
        let complete_range = match bundle.seq_range {
            Some((first, last)) => {
                let seqs: Vec<u64> = bundle.records.iter().map(|r| r.seq).collect();
                if seqs != (first..=last).collect::<Vec<_>>() {
                    return Err(invalid(format!(
                        "the bundle says it holds every record from seq {first} to {last}, and it does not"
                    )));
                }
                Some((first, last))
            }
            None => None,
        };
        Ok(CheckedBundle {
            checkpoint,
            signed_by,
            cosigned_by,
            records,
            complete_range,
            completeness: bundle.completeness,
        })
    }
}
