//! Our RFC 6962 tree agrees with an independent implementation: the roots,
//! inclusion proofs and consistency proofs of transparency-dev/merkle's
//! published vectors (tests/vectors/transparency-dev-merkle), every probe
//! it says must verify does, every one it says must fail does, and the
//! proofs we make are the proofs it publishes.

use std::path::{Path, PathBuf};

use audit_layer::chain::Hash;
use audit_layer::merkle::{
    MemoryTree, consistency_proof, inclusion_proof, leaf_hash, root, verify_consistency,
    verify_inclusion,
};
use base64::Engine;
use serde_json::Value;

const VECTORS: &str = "tests/vectors/transparency-dev-merkle";

fn probes(kind: &str) -> Vec<(PathBuf, Value)> {
    fn walk(dir: &Path, found: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, found);
            } else if path.extension().is_some_and(|e| e == "json") {
                found.push(path);
            }
        }
    }
    let mut files = Vec::new();
    walk(&Path::new(VECTORS).join(kind), &mut files);
    files.sort();
    files
        .into_iter()
        .map(|path| {
            let value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
            (path, value)
        })
        .collect()
}

/// A 32-byte hash from standard base64; `None` for anything else (a probe
/// with such a value must be one that fails).
fn hash(value: &Value) -> Option<Hash> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(value.as_str().unwrap_or_default())
        .ok()?;
    Some(Hash::from_bytes(bytes.try_into().ok()?))
}

fn hashes(value: &Value) -> Option<Vec<Hash>> {
    match value {
        Value::Null => Some(Vec::new()),
        Value::Array(items) => items.iter().map(hash).collect(),
        _ => None,
    }
}

fn the_eight_leaves() -> (MemoryTree, Vec<Hash>) {
    let leaves: Value =
        serde_json::from_slice(&std::fs::read(format!("{VECTORS}/leaves.json")).unwrap()).unwrap();
    let mut tree = MemoryTree::new();
    for input in leaves["leaf_inputs_hex"].as_array().unwrap() {
        tree.push(leaf_hash(&hex::decode(input.as_str().unwrap()).unwrap()));
    }
    let roots = leaves["roots_hex"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| Hash::from_hex(r.as_str().unwrap().as_bytes()).unwrap())
        .collect();
    (tree, roots)
}

#[test]
fn roots_of_every_size_match() {
    let (tree, roots) = the_eight_leaves();
    for (size, expected) in roots.iter().enumerate() {
        assert_eq!(root(&tree, size as u64).unwrap(), *expected, "size {size}");
    }
}

#[test]
fn inclusion_probes_verify_exactly_when_they_should() {
    let all = probes("inclusion");
    assert!(all.len() > 60, "{} probes", all.len());
    let (tree, roots) = the_eight_leaves();
    let mut made = 0;
    for (path, probe) in &all {
        let want_error = probe["wantErr"].as_bool().unwrap();
        let (index, size) = (
            probe["leafIdx"].as_u64().unwrap(),
            probe["treeSize"].as_u64().unwrap(),
        );
        let parts = (
            hash(&probe["leafHash"]),
            hash(&probe["root"]),
            hashes(&probe["proof"]),
        );
        let verdict = match &parts {
            (Some(leaf), Some(root), Some(proof)) => {
                verify_inclusion(leaf, index, size, proof, root)
            }
            // A value that is not a 32-byte hash cannot be a valid proof.
            _ => {
                assert!(want_error, "{}: undecodable but valid", path.display());
                continue;
            }
        };
        assert_eq!(
            verdict.is_err(),
            want_error,
            "{}: {verdict:?}",
            path.display()
        );
        // The proofs we make for the published trees are the published ones.
        if let (false, (Some(_), Some(root), Some(proof))) = (want_error, &parts)
            && size <= 8
            && roots[size as usize] == *root
        {
            assert_eq!(
                inclusion_proof(&tree, index, size).unwrap(),
                *proof,
                "{}",
                path.display()
            );
            made += 1;
        }
    }
    assert!(made >= 4, "only {made} proofs compared");
}

#[test]
fn consistency_probes_verify_exactly_when_they_should() {
    let all = probes("consistency");
    assert!(all.len() > 80, "{} probes", all.len());
    let (tree, roots) = the_eight_leaves();
    let mut made = 0;
    for (path, probe) in &all {
        let want_error = probe["wantErr"].as_bool().unwrap();
        let (old, new) = (
            probe["size1"].as_u64().unwrap(),
            probe["size2"].as_u64().unwrap(),
        );
        let parts = (
            hash(&probe["root1"]),
            hash(&probe["root2"]),
            hashes(&probe["proof"]),
        );
        let verdict = match &parts {
            (Some(root1), Some(root2), Some(proof)) => {
                verify_consistency(old, new, root1, root2, proof)
            }
            // Roots that are not 32 bytes: valid only where nothing is
            // computed (equal sizes, empty proof, equal roots), which a
            // stand-in root shows as well.
            (_, _, Some(proof)) if !want_error => {
                assert!(old == new && proof.is_empty() && probe["root1"] == probe["root2"]);
                verify_consistency(old, new, &Hash::of(b"x"), &Hash::of(b"x"), proof)
            }
            _ => {
                assert!(want_error, "{}: undecodable but valid", path.display());
                continue;
            }
        };
        assert_eq!(
            verdict.is_err(),
            want_error,
            "{}: {verdict:?}",
            path.display()
        );
        if let (false, (Some(root1), Some(root2), Some(proof))) = (want_error, &parts)
            && new <= 8
            && roots[new as usize] == *root2
            && roots[old as usize] == *root1
        {
            assert_eq!(
                consistency_proof(&tree, old, new).unwrap(),
                *proof,
                "{}",
                path.display()
            );
            made += 1;
        }
    }
    assert!(made >= 4, "only {made} proofs compared");
}

#[test]
fn every_proof_of_the_published_trees_verifies() {
    let (tree, roots) = the_eight_leaves();
    for size in 1..=8u64 {
        for index in 0..size {
            let proof = inclusion_proof(&tree, index, size).unwrap();
            let leaf = tree_leaf(&tree, index);
            verify_inclusion(&leaf, index, size, &proof, &roots[size as usize]).unwrap();
        }
        for old in 1..=size {
            let proof = consistency_proof(&tree, old, size).unwrap();
            verify_consistency(
                old,
                size,
                &roots[old as usize],
                &roots[size as usize],
                &proof,
            )
            .unwrap();
        }
    }
}

fn tree_leaf(tree: &MemoryTree, index: u64) -> Hash {
    use audit_layer::merkle::MerkleNodes;
    tree.node(0, index).unwrap()
}
