//! The anchor: where a log cut by retention begins. Its signing and
//! checking are in `proof::checkpoint`; the type is shared vocabulary, since
//! the store keeps anchors beside the segments it deletes.

use crate::record::chain::Hash;

/// Where a log cut by retention begins, signed: the deletion before it was
/// deliberate, and anything missing after it was not.
///
/// # Examples
///
/// ```
/// use audit_layer::{Anchor, SignerKey};
///
/// let key = SignerKey::generate("example.com/log")?;
/// let anchor = Anchor {
///     origin: "example.com/log".into(),
///     first_seq: 1000,
///     prev: audit_layer::chain::Hash::of(b"x"),
///     root: Some(audit_layer::chain::Hash::of(b"the tree of the first 1000")),
/// };
/// let (opened, _) = Anchor::open(&anchor.sign(&key), &[key.verifier()])?;
/// assert_eq!(opened, anchor);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Anchor {
    /// Which log.
    pub origin: String,
    /// The seq of the first record kept.
    pub first_seq: u64,
    /// The hash that record links to (of the last record deleted).
    pub prev: Hash,
    /// The root of the Merkle tree of the `first_seq` records before it (the
    /// records deleted), as a checkpoint of that size would carry it; `None`
    /// in an anchor of the first kind, or from a writer that keeps no tree.
    pub root: Option<Hash>,
}
