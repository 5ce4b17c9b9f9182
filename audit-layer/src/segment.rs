//! How the segment files of a log directory are named and found.
//!
//! A segment is named for the seq of its first record, zero-padded so that
//! the lexical order of names is the order of the chain:
//! `segment-00000000000000000000.jsonl`.

use std::io;
use std::path::{Path, PathBuf};

const PREFIX: &str = "segment-";
const SUFFIX: &str = ".jsonl";

/// The file name of the segment whose first record has `first_seq`.
pub(crate) fn file_name(first_seq: u64) -> String {
    format!("{PREFIX}{first_seq:020}{SUFFIX}")
}

/// The first seq a segment file name announces, if it is a segment name.
pub(crate) fn first_seq_of(name: &str) -> Option<u64> {
    let digits = name.strip_prefix(PREFIX)?.strip_suffix(SUFFIX)?;
    if digits.len() != 20 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// The segments of `dir`, in chain order. Other files are ignored.
pub(crate) fn list(dir: &Path) -> io::Result<Vec<(u64, PathBuf)>> {
    let mut segments = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        if let Some(first_seq) = entry.file_name().to_str().and_then(first_seq_of)
            && entry.file_type()?.is_file()
        {
            segments.push((first_seq, entry.path()));
        }
    }
    segments.sort();
    Ok(segments)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_sort_as_numbers() {
        assert_eq!(first_seq_of(&file_name(42)), Some(42));
        assert_eq!(first_seq_of(&file_name(u64::MAX)), Some(u64::MAX));
        assert!(file_name(9) < file_name(10));
        assert_eq!(first_seq_of("segment-1.jsonl"), None);
        assert_eq!(first_seq_of("notes.txt"), None);
    }
}
