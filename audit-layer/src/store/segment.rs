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

/// The entries of a log directory that bear a segment's name.
#[derive(Debug, Default)]
pub(crate) struct Listing {
    /// Regular files, in chain order: the segments.
    pub(crate) segments: Vec<(u64, PathBuf)>,
    /// Anything else with a segment's name (a link, a FIFO, a directory),
    /// with what it is: never read, never written through.
    pub(crate) foreign: Vec<(PathBuf, &'static str)>,
}

/// The segments of `dir`, in chain order, and what else bears their names.
/// Other files are not part of the log and are ignored.
pub(crate) fn list(dir: &Path) -> io::Result<Listing> {
    let mut listing = Listing::default();
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        if let Some(first_seq) = entry.file_name().to_str().and_then(first_seq_of) {
            // `DirEntry::metadata` does not follow a link: a link is reported as one.
            let metadata = entry.metadata()?;
            if metadata.file_type().is_file() {
                listing.segments.push((first_seq, entry.path()));
            } else {
                listing
                    .foreign
                    .push((entry.path(), crate::store::safe_open::kind_of(&metadata)));
            }
        }
    }
    listing.segments.sort();
    listing.foreign.sort();
    Ok(listing)
}

/// File name of the checkpoint of a log of `size` records.
pub(crate) fn checkpoint_file_name(size: u64) -> String {
    format!("checkpoint-{size:020}.note")
}

/// File name of the anchor of a log starting at `first_seq`.
pub(crate) fn anchor_file_name(first_seq: u64) -> String {
    format!("anchor-{first_seq:020}.note")
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
