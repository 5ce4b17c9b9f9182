//! The RFC 6962 / RFC 9162 Merkle tree over a log's records: hashing,
//! roots, inclusion and consistency proofs, and their verification.
//!
//! A leaf is one record; its input is the record's 32-byte `hash`, so a
//! leaf commits to the whole record and to the chain before it (FORMAT.md
//! section 17). Leaves are hashed as `SHA-256(0x00 || input)` and interior
//! nodes as `SHA-256(0x01 || left || right)`, exactly as RFC 6962 section
//! 2.1 and the `golang.org/x/mod/sumdb/tlog` package do, so their clients
//! check our proofs unchanged.
//!
//! Proofs are made from the hashes of complete subtrees ([`MerkleNodes`]):
//! kept in memory ([`MemoryTree`]) or read from stored tiles.

use sha2::{Digest, Sha256};

use crate::record::chain::Hash;

/// The hash of a leaf whose input is `data`: `SHA-256(0x00 || data)`.
///
/// # Examples
///
/// ```
/// use audit_layer::merkle::leaf_hash;
/// // RFC 6962's first test leaf, the empty string.
/// assert_eq!(
///     leaf_hash(b"").to_string(),
///     "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"
/// );
/// ```
pub fn leaf_hash(data: &[u8]) -> Hash {
    let mut hasher = Sha256::new();
    hasher.update([0x00]);
    hasher.update(data);
    Hash::from_bytes(hasher.finalize().into())
}

/// The leaf of a record: [`leaf_hash`] of its 32-byte `hash`.
///
/// # Examples
///
/// ```
/// use audit_layer::chain::GENESIS;
/// use audit_layer::merkle::{leaf_hash, record_leaf};
/// assert_eq!(record_leaf(&GENESIS), leaf_hash(&[0; 32]));
/// ```
pub fn record_leaf(record_hash: &Hash) -> Hash {
    leaf_hash(record_hash.as_bytes())
}

/// The hash of an interior node: `SHA-256(0x01 || left || right)`.
///
/// # Examples
///
/// ```
/// use audit_layer::merkle::{leaf_hash, node_hash};
/// let root_of_two = node_hash(&leaf_hash(b""), &leaf_hash(&[0]));
/// assert_eq!(
///     root_of_two.to_string(),
///     "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"
/// );
/// ```
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut hasher = Sha256::new();
    hasher.update([0x01]);
    hasher.update(left.as_bytes());
    hasher.update(right.as_bytes());
    Hash::from_bytes(hasher.finalize().into())
}

/// The root of the empty tree: SHA-256 of nothing.
///
/// # Examples
///
/// ```
/// assert_eq!(
///     audit_layer::merkle::empty_root().to_string(),
///     "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
/// );
/// ```
pub fn empty_root() -> Hash {
    Hash::from_bytes(Sha256::digest([]).into())
}

/// Why a proof could not be made or does not verify.
///
/// # Examples
///
/// ```
/// use audit_layer::merkle::{ProofError, verify_inclusion};
/// use audit_layer::chain::GENESIS;
/// let refused = verify_inclusion(&GENESIS, 3, 2, &[], &GENESIS);
/// assert!(matches!(refused, Err(ProofError::IndexBeyondSize { .. })));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ProofError {
    /// The leaf's index is not below the tree's size.
    #[error("leaf {index} is not in a tree of {size} leaves")]
    IndexBeyondSize {
        /// The leaf.
        index: u64,
        /// The tree's size.
        size: u64,
    },
    /// The newer tree is smaller than the older one.
    #[error("a tree of {new_size} leaves cannot extend one of {old_size}")]
    SizesReversed {
        /// The older size.
        old_size: u64,
        /// The newer size.
        new_size: u64,
    },
    /// Every tree extends the empty tree: a proof of it proves nothing.
    #[error("a consistency proof from the empty tree proves nothing")]
    FromEmptyTree,
    /// The proof has more or fewer hashes than its sizes call for.
    #[error("the proof has {got} hashes where its sizes call for {expected}")]
    WrongLength {
        /// Hashes given.
        got: usize,
        /// Hashes the sizes call for.
        expected: usize,
    },
    /// The proof leads to another root than the one given.
    #[error("the proof leads to root {computed}, not {expected}")]
    RootMismatch {
        /// The root the proof computes.
        computed: Hash,
        /// The root it was checked against.
        expected: Hash,
    },
    /// A complete subtree's hash the proof needs is not available.
    #[error("the hash of {count} leaves from leaf {start} is not available: {why}")]
    MissingNode {
        /// Its first leaf.
        start: u64,
        /// How many leaves it covers.
        count: u64,
        /// Why.
        why: String,
    },
}

/// The hashes of complete subtrees of a tree: what proofs are made from.
///
/// `node(level, index)` is the root of the `2^level` leaves that start at
/// leaf `index * 2^level`.
///
/// # Examples
///
/// See [`MemoryTree`].
pub trait MerkleNodes {
    /// The hash of the complete subtree at `level` and `index`.
    ///
    /// # Errors
    ///
    /// [`ProofError::MissingNode`] when it is not stored.
    fn node(&self, level: u32, index: u64) -> Result<Hash, ProofError>;
}

/// The largest power of two strictly below `n` (for `n >= 2`).
fn split_point(n: u64) -> u64 {
    debug_assert!(n >= 2);
    1 << (63 - (n - 1).leading_zeros())
}

/// MTH of leaves `[start, end)`, from complete subtrees.
fn range_hash(nodes: &impl MerkleNodes, start: u64, end: u64) -> Result<Hash, ProofError> {
    let len = end - start;
    if len.is_power_of_two() && start.is_multiple_of(len) {
        return nodes.node(len.trailing_zeros(), start >> len.trailing_zeros());
    }
    let k = split_point(len);
    Ok(node_hash(
        &range_hash(nodes, start, start + k)?,
        &range_hash(nodes, start + k, end)?,
    ))
}

/// The root of the first `size` leaves.
///
/// # Errors
///
/// [`ProofError::MissingNode`] when `nodes` lacks a subtree it needs.
///
/// # Examples
///
/// See [`MemoryTree`].
pub fn root(nodes: &impl MerkleNodes, size: u64) -> Result<Hash, ProofError> {
    if size == 0 {
        return Ok(empty_root());
    }
    range_hash(nodes, 0, size)
}

/// The inclusion proof of leaf `index` in the tree of `size` leaves
/// (RFC 9162 section 2.1.3.1), nearest sibling first.
///
/// # Errors
///
/// [`ProofError::IndexBeyondSize`]; [`ProofError::MissingNode`].
///
/// # Examples
///
/// See [`MemoryTree`].
pub fn inclusion_proof(
    nodes: &impl MerkleNodes,
    index: u64,
    size: u64,
) -> Result<Vec<Hash>, ProofError> {
    if index >= size {
        return Err(ProofError::IndexBeyondSize { index, size });
    }
    let mut proof = Vec::new();
    path(nodes, index, 0, size, &mut proof)?;
    Ok(proof)
}

fn path(
    nodes: &impl MerkleNodes,
    index: u64,
    start: u64,
    end: u64,
    proof: &mut Vec<Hash>,
) -> Result<(), ProofError> {
    if end - start == 1 {
        return Ok(());
    }
    let k = split_point(end - start);
    if index < start + k {
        path(nodes, index, start, start + k, proof)?;
        proof.push(range_hash(nodes, start + k, end)?);
    } else {
        path(nodes, index, start + k, end, proof)?;
        proof.push(range_hash(nodes, start, start + k)?);
    }
    Ok(())
}

/// The consistency proof that the tree of `new_size` leaves extends the
/// tree of its first `old_size` (RFC 9162 section 2.1.4.1).
///
/// # Errors
///
/// [`ProofError::SizesReversed`], [`ProofError::FromEmptyTree`],
/// [`ProofError::MissingNode`].
///
/// # Examples
///
/// See [`MemoryTree`].
pub fn consistency_proof(
    nodes: &impl MerkleNodes,
    old_size: u64,
    new_size: u64,
) -> Result<Vec<Hash>, ProofError> {
    if old_size > new_size {
        return Err(ProofError::SizesReversed { old_size, new_size });
    }
    if old_size == 0 {
        return Err(ProofError::FromEmptyTree);
    }
    let mut proof = Vec::new();
    if old_size < new_size {
        subproof(nodes, old_size, 0, new_size, true, &mut proof)?;
    }
    Ok(proof)
}

fn subproof(
    nodes: &impl MerkleNodes,
    m: u64,
    start: u64,
    end: u64,
    whole: bool,
    proof: &mut Vec<Hash>,
) -> Result<(), ProofError> {
    let n = end - start;
    if m == n {
        if !whole {
            proof.push(range_hash(nodes, start, end)?);
        }
        return Ok(());
    }
    let k = split_point(n);
    if m <= k {
        subproof(nodes, m, start, start + k, whole, proof)?;
        proof.push(range_hash(nodes, start + k, end)?);
    } else {
        subproof(nodes, m - k, start + k, end, false, proof)?;
        proof.push(range_hash(nodes, start, start + k)?);
    }
    Ok(())
}

/// Checks that `leaf` is leaf `index` of the tree of `size` leaves whose
/// root is `root` (RFC 9162 section 2.1.3.2).
///
/// # Errors
///
/// [`ProofError::IndexBeyondSize`], [`ProofError::WrongLength`],
/// [`ProofError::RootMismatch`].
///
/// # Examples
///
/// See [`MemoryTree`].
pub fn verify_inclusion(
    leaf: &Hash,
    index: u64,
    size: u64,
    proof: &[Hash],
    root: &Hash,
) -> Result<(), ProofError> {
    if index >= size {
        return Err(ProofError::IndexBeyondSize { index, size });
    }
    let expected = inclusion_proof_len(index, size);
    if proof.len() != expected {
        return Err(ProofError::WrongLength {
            got: proof.len(),
            expected,
        });
    }
    let (mut fn_, mut sn) = (index, size - 1);
    let mut r = *leaf;
    for p in proof {
        if fn_ & 1 == 1 || fn_ == sn {
            r = node_hash(p, &r);
            while fn_ & 1 == 0 && fn_ != 0 {
                fn_ >>= 1;
                sn >>= 1;
            }
        } else {
            r = node_hash(&r, p);
        }
        fn_ >>= 1;
        sn >>= 1;
    }
    if r == *root {
        Ok(())
    } else {
        Err(ProofError::RootMismatch {
            computed: r,
            expected: *root,
        })
    }
}

/// How many hashes the inclusion proof of `index` in `size` leaves has.
fn inclusion_proof_len(index: u64, size: u64) -> usize {
    // The levels below where the paths to `index` and to the last leaf
    // meet, plus one hash for each left turn above.
    let inner = 64 - (index ^ (size - 1)).leading_zeros();
    let border = (index >> inner).count_ones();
    (inner + border) as usize
}

/// Checks that the tree of `new_size` leaves with root `new_root` extends
/// the tree of `old_size` leaves with root `old_root` (RFC 9162 section
/// 2.1.4.2). Equal sizes need an empty proof and equal roots.
///
/// # Errors
///
/// [`ProofError::SizesReversed`], [`ProofError::FromEmptyTree`],
/// [`ProofError::WrongLength`], [`ProofError::RootMismatch`].
///
/// # Examples
///
/// See [`MemoryTree`].
pub fn verify_consistency(
    old_size: u64,
    new_size: u64,
    old_root: &Hash,
    new_root: &Hash,
    proof: &[Hash],
) -> Result<(), ProofError> {
    if old_size > new_size {
        return Err(ProofError::SizesReversed { old_size, new_size });
    }
    if old_size == 0 {
        return Err(ProofError::FromEmptyTree);
    }
    if old_size == new_size {
        if !proof.is_empty() {
            return Err(ProofError::WrongLength {
                got: proof.len(),
                expected: 0,
            });
        }
        return match old_root == new_root {
            true => Ok(()),
            false => Err(ProofError::RootMismatch {
                computed: *old_root,
                expected: *new_root,
            }),
        };
    }
    let expected = consistency_proof_len(old_size, new_size);
    if proof.len() != expected {
        return Err(ProofError::WrongLength {
            got: proof.len(),
            expected,
        });
    }
    let mut path: Vec<Hash> = Vec::with_capacity(proof.len() + 1);
    if old_size.is_power_of_two() {
        path.push(*old_root);
    }
    path.extend_from_slice(proof);
    let (mut fn_, mut sn) = (old_size - 1, new_size - 1);
    while fn_ & 1 == 1 {
        fn_ >>= 1;
        sn >>= 1;
    }
    let (mut fr, mut sr) = (path[0], path[0]);
    for c in &path[1..] {
        if sn == 0 {
            return Err(ProofError::WrongLength {
                got: proof.len(),
                expected,
            });
        }
        if fn_ & 1 == 1 || fn_ == sn {
            fr = node_hash(c, &fr);
            sr = node_hash(c, &sr);
            while fn_ & 1 == 0 && fn_ != 0 {
                fn_ >>= 1;
                sn >>= 1;
            }
        } else {
            sr = node_hash(&sr, c);
        }
        fn_ >>= 1;
        sn >>= 1;
    }
    if fr != *old_root {
        return Err(ProofError::RootMismatch {
            computed: fr,
            expected: *old_root,
        });
    }
    if sr != *new_root || sn != 0 {
        return Err(ProofError::RootMismatch {
            computed: sr,
            expected: *new_root,
        });
    }
    Ok(())
}

/// How many hashes the consistency proof from `old` to `new` leaves has
/// (`old < new`).
fn consistency_proof_len(old: u64, new: u64) -> usize {
    // The inclusion proof of the old tree's last leaf in the new tree,
    // less the levels inside the largest complete subtree both trees share,
    // plus that subtree's root unless it is the whole old tree.
    let inner = 64 - ((old - 1) ^ (new - 1)).leading_zeros();
    let border = ((old - 1) >> inner).count_ones();
    let shared = old.trailing_zeros();
    usize::from(!old.is_power_of_two()) + (inner - shared) as usize + border as usize
}

/// The right edge of a growing tree: the roots of its largest complete
/// subtrees, enough for its root at every size it passes, in memory that
/// grows as `log2` of its size. What the verifier keeps while it walks a log.
///
/// # Examples
///
/// ```
/// use audit_layer::merkle::{MemoryTree, TreeFrontier, leaf_hash, root};
/// let (mut frontier, mut tree) = (TreeFrontier::new(), MemoryTree::new());
/// for n in 0..13u8 {
///     frontier.push(leaf_hash(&[n]));
///     tree.push(leaf_hash(&[n]));
///     assert_eq!(frontier.root(), root(&tree, tree.size())?);
/// }
/// # Ok::<(), audit_layer::merkle::ProofError>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TreeFrontier {
    size: u64,
    /// Roots of the complete subtrees the size decomposes into, largest first.
    subtrees: Vec<Hash>,
}

impl TreeFrontier {
    /// The frontier of the empty tree.
    ///
    /// # Examples
    ///
    /// See [`TreeFrontier`].
    pub fn new() -> Self {
        TreeFrontier::default()
    }

    /// Appends a leaf.
    ///
    /// # Examples
    ///
    /// See [`TreeFrontier`].
    pub fn push(&mut self, leaf: Hash) {
        let mut hash = leaf;
        let mut size = self.size;
        while size & 1 == 1 {
            let left = self
                .subtrees
                .pop()
                .expect("one subtree per set bit of the size");
            hash = node_hash(&left, &hash);
            size >>= 1;
        }
        self.subtrees.push(hash);
        self.size += 1;
    }

    /// How many leaves.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(audit_layer::merkle::TreeFrontier::new().size(), 0);
    /// ```
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The root at the current size.
    ///
    /// # Examples
    ///
    /// See [`TreeFrontier`].
    pub fn root(&self) -> Hash {
        let mut subtrees = self.subtrees.iter().rev();
        match subtrees.next() {
            None => empty_root(),
            Some(last) => subtrees.fold(*last, |right, left| node_hash(left, &right)),
        }
    }
}

/// A tree kept in memory: every complete subtree's hash, level by level.
/// For tests and small logs; a log's tree on disk is kept as tiles.
///
/// # Examples
///
/// ```
/// use audit_layer::merkle::{
///     MemoryTree, consistency_proof, inclusion_proof, leaf_hash, root, verify_consistency,
///     verify_inclusion,
/// };
///
/// let mut tree = MemoryTree::new();
/// for n in 0..7u8 {
///     tree.push(leaf_hash(&[n]));
/// }
/// let root7 = root(&tree, 7)?;
/// let proof = inclusion_proof(&tree, 3, 7)?;
/// verify_inclusion(&leaf_hash(&[3]), 3, 7, &proof, &root7)?;
///
/// let root4 = root(&tree, 4)?;
/// let extends = consistency_proof(&tree, 4, 7)?;
/// verify_consistency(4, 7, &root4, &root7, &extends)?;
/// # Ok::<(), audit_layer::merkle::ProofError>(())
/// ```
#[derive(Debug, Clone, Default)]
pub struct MemoryTree {
    levels: Vec<Vec<Hash>>,
}

impl MemoryTree {
    /// An empty tree.
    ///
    /// # Examples
    ///
    /// See [`MemoryTree`].
    pub fn new() -> Self {
        MemoryTree::default()
    }

    /// How many leaves it has.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(audit_layer::merkle::MemoryTree::new().size(), 0);
    /// ```
    pub fn size(&self) -> u64 {
        self.levels.first().map_or(0, |leaves| leaves.len() as u64)
    }

    /// Appends a leaf (its hash), completing every subtree it closes.
    ///
    /// # Examples
    ///
    /// See [`MemoryTree`].
    pub fn push(&mut self, leaf: Hash) {
        let mut level = 0;
        let mut hash = leaf;
        loop {
            if self.levels.len() == level {
                self.levels.push(Vec::new());
            }
            let nodes = &mut self.levels[level];
            nodes.push(hash);
            if nodes.len() % 2 == 1 {
                return;
            }
            hash = node_hash(&nodes[nodes.len() - 2], &nodes[nodes.len() - 1]);
            level += 1;
        }
    }
}

impl MerkleNodes for MemoryTree {
    fn node(&self, level: u32, index: u64) -> Result<Hash, ProofError> {
        self.levels
            .get(level as usize)
            .and_then(|nodes| nodes.get(usize::try_from(index).ok()?))
            .copied()
            .ok_or_else(|| ProofError::MissingNode {
                start: index << level,
                count: 1 << level,
                why: "the tree is not that large".into(),
            })
    }
}
