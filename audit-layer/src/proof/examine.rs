//! Each line of a log examined on its own (framing, hash, strict parse),
//! in parallel for a large log, before the chain walk links them.

use crate::record::chain::{self, FORMAT_VERSION, FramingError, Hash};

/// What one line says on its own, without the state of the chain: this is
/// the expensive part (hashing, parsing), and it runs in parallel.
pub(crate) enum Examined {
    Record {
        version: u64,
        seq: u64,
        prev: Hash,
        stored: Hash,
        computed: Hash,
        /// For a version-1 line whose hash is right: why it is not a valid
        /// record, if it is not.
        invalid: Option<String>,
    },
    Malformed {
        why: &'static str,
        /// The hash the line still ends with, if it does.
        carried: Option<Hash>,
    },
}

pub(crate) fn examine(line: &[u8]) -> Examined {
    examine_with(line, |line| {
        crate::record::line::line_error(line).map(|error| error.to_string())
    })
}

/// [`examine`], with `validate` saying why a version-1 line whose hash is
/// right is not a valid record (for a caller that parses the line anyway).
pub(crate) fn examine_with(
    line: &[u8],
    validate: impl FnOnce(&[u8]) -> Option<String>,
) -> Examined {
    match chain::frame(line) {
        Ok(view) => {
            let computed = view.computed_hash();
            let invalid = (computed == view.stored_hash
                && view.version == u64::from(FORMAT_VERSION))
            .then(|| validate(line))
            .flatten();
            Examined::Record {
                version: view.version,
                seq: view.seq,
                prev: view.prev,
                stored: view.stored_hash,
                computed,
                invalid,
            }
        }
        Err(FramingError(why)) => Examined::Malformed {
            why,
            carried: chain::carried_hash(line),
        },
    }
}

/// Examines the complete lines of `bytes`, returning each with its offset
/// and length (without the newline) in `bytes`.
pub(crate) fn examine_lines(bytes: &[u8]) -> Vec<(usize, usize, Examined)> {
    let mut out = Vec::with_capacity(bytes.len() / 256);
    let mut start = 0;
    for end in memchr::memchr_iter(b'\n', bytes) {
        out.push((start, end - start, examine(&bytes[start..end])));
        start = end + 1;
    }
    out
}

/// Parts smaller than this are not worth a thread.
pub(crate) const MIN_PARALLEL_PART: usize = 1 << 20;

/// [`examine_lines`] on up to `threads` threads, split at line boundaries.
pub(crate) fn examine_parallel(bytes: &[u8], threads: usize) -> Vec<(usize, usize, Examined)> {
    let parts = threads.min(bytes.len() / MIN_PARALLEL_PART).max(1);
    if parts == 1 {
        return examine_lines(bytes);
    }
    let mut bounds = vec![0];
    for part in 1..parts {
        let target = bytes.len() * part / parts;
        let cut = memchr::memchr(b'\n', &bytes[target..]).map_or(bytes.len(), |at| target + at + 1);
        bounds.push(cut.max(*bounds.last().unwrap_or(&0)));
    }
    bounds.push(bytes.len());
    std::thread::scope(|scope| {
        let handles: Vec<_> = bounds
            .windows(2)
            .skip(1)
            .map(|w| {
                let (start, end) = (w[0], w[1]);
                scope.spawn(move || {
                    let mut lines = examine_lines(&bytes[start..end]);
                    lines.iter_mut().for_each(|(offset, _, _)| *offset += start);
                    lines
                })
            })
            .collect();
        let mut all = examine_lines(&bytes[..bounds[1]]);
        for handle in handles {
            all.extend(handle.join().expect("a hashing thread panicked"));
        }
        all
    })
}
