//! For trees of every shape, the proofs we make verify, and any change to a
//! proof, a leaf, a root, an index or a size is refused; the incremental
//! tree's roots equal RFC 6962's recursive definition.

use audit_layer::chain::Hash;
use audit_layer::merkle::{
    MemoryTree, consistency_proof, empty_root, inclusion_proof, leaf_hash, node_hash, root,
    verify_consistency, verify_inclusion,
};
use proptest::prelude::*;

/// MTH as RFC 6962 section 2.1 defines it, recursively over the leaves.
fn reference_root(leaves: &[Hash]) -> Hash {
    match leaves.len() {
        0 => empty_root(),
        1 => leaves[0],
        n => {
            let k = 1 << (usize::BITS - 1 - (n - 1).leading_zeros());
            node_hash(&reference_root(&leaves[..k]), &reference_root(&leaves[k..]))
        }
    }
}

fn tree_of(size: u64) -> (MemoryTree, Vec<Hash>) {
    let mut tree = MemoryTree::new();
    let leaves: Vec<Hash> = (0..size).map(|n| leaf_hash(&n.to_be_bytes())).collect();
    for leaf in &leaves {
        tree.push(*leaf);
    }
    (tree, leaves)
}

fn flip(hash: &Hash, bit: usize) -> Hash {
    let mut bytes = *hash.as_bytes();
    bytes[bit / 8 % 32] ^= 1 << (bit % 8);
    Hash::from_bytes(bytes)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn roots_are_rfc_6962_roots(size in 0u64..600) {
        let (tree, leaves) = tree_of(size);
        prop_assert_eq!(root(&tree, size).unwrap(), reference_root(&leaves));
        for smaller in [size / 2, size.saturating_sub(1)] {
            prop_assert_eq!(root(&tree, smaller).unwrap(), reference_root(&leaves[..smaller as usize]));
        }
    }

    #[test]
    fn an_inclusion_proof_verifies_and_no_change_to_it_does(
        size in 1u64..600, index_seed in any::<u64>(), bit in 0usize..256, which in any::<usize>(),
    ) {
        let index = index_seed % size;
        let (tree, leaves) = tree_of(size);
        let top = root(&tree, size).unwrap();
        let proof = inclusion_proof(&tree, index, size).unwrap();
        let leaf = leaves[index as usize];
        prop_assert!(verify_inclusion(&leaf, index, size, &proof, &top).is_ok());
        // Around 32·log2(n) bytes.
        prop_assert!(proof.len() <= 64 - (size - 1).leading_zeros() as usize);

        prop_assert!(verify_inclusion(&flip(&leaf, bit), index, size, &proof, &top).is_err());
        prop_assert!(verify_inclusion(&leaf, index, size, &proof, &flip(&top, bit)).is_err());
        if !proof.is_empty() {
            let mut changed = proof.clone();
            let at = which % changed.len();
            changed[at] = flip(&changed[at], bit);
            prop_assert!(verify_inclusion(&leaf, index, size, &changed, &top).is_err());
            let mut shorter = proof.clone();
            shorter.remove(at);
            prop_assert!(verify_inclusion(&leaf, index, size, &shorter, &top).is_err());
        }
        let mut longer = proof.clone();
        longer.push(leaf);
        prop_assert!(verify_inclusion(&leaf, index, size, &longer, &top).is_err());
        if size > 1 {
            let other = (index + 1) % size;
            prop_assert!(verify_inclusion(&leaf, other, size, &proof, &top).is_err());
        }
        // (A different size may lead to the same root through the same
        // hashes: the signed checkpoint binds size and root together.)
        prop_assert!(verify_inclusion(&leaf, size, size, &proof, &top).is_err());
    }

    #[test]
    fn a_consistency_proof_verifies_and_no_change_to_it_does(
        new in 2u64..600, old_seed in any::<u64>(), bit in 0usize..256, which in any::<usize>(),
    ) {
        let old = 1 + old_seed % (new - 1);
        let (tree, _) = tree_of(new);
        let (old_root, new_root) = (root(&tree, old).unwrap(), root(&tree, new).unwrap());
        let proof = consistency_proof(&tree, old, new).unwrap();
        prop_assert!(verify_consistency(old, new, &old_root, &new_root, &proof).is_ok());

        prop_assert!(verify_consistency(old, new, &flip(&old_root, bit), &new_root, &proof).is_err());
        prop_assert!(verify_consistency(old, new, &old_root, &flip(&new_root, bit), &proof).is_err());
        let at = which % proof.len();
        let mut changed = proof.clone();
        changed[at] = flip(&changed[at], bit);
        prop_assert!(verify_consistency(old, new, &old_root, &new_root, &changed).is_err());
        let mut shorter = proof.clone();
        shorter.remove(at);
        prop_assert!(verify_consistency(old, new, &old_root, &new_root, &shorter).is_err());
        // A forked history: the same old tree, a different new one.
        let mut forked = tree_of(old).0;
        for n in old..new {
            forked.push(leaf_hash(&(n + 1_000_000).to_be_bytes()));
        }
        let forked_root = root(&forked, new).unwrap();
        prop_assert!(verify_consistency(old, new, &old_root, &forked_root, &proof).is_err());
        // A rolled-back log: the new tree no longer holds the old one.
        prop_assert!(verify_consistency(new, old, &new_root, &old_root, &proof).is_err());
    }
}
