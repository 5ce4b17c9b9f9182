//! The chain, checked line by line as a watch follows it: each line's hash,
//! its link to the one before, and its seq. A line that fails is reported
//! with the verifier's finding code, and the check goes on from it.

use serde::{Deserialize, Serialize};

use crate::proof::report::FindingCode;
use crate::record::chain::{self, GENESIS, Hash, LineView};

/// What a line broke.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Break {
    pub(crate) code: FindingCode,
    pub(crate) seq: Option<u64>,
    pub(crate) detail: String,
}

/// Where the chain stands: what the next line must be, once known.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct ChainWatch {
    /// `None` until a line is seen, unless the watch starts at the log's
    /// beginning.
    expected: Option<Expected>,
}

/// The seq and prev the next line must carry.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
struct Expected {
    next_seq: u64,
    prev: Hash,
}

/// A line that passed or failed; a line that passed has its hash.
pub(crate) struct Checked<'a> {
    pub(crate) breaks: Vec<Break>,
    /// The line, framed, when it can be read as a record (its fields are
    /// evaluated).
    pub(crate) readable: Option<LineView<'a>>,
}

impl ChainWatch {
    /// A check that expects the log's first record (seq 0, after genesis).
    pub(crate) fn from_genesis() -> ChainWatch {
        ChainWatch {
            expected: Some(Expected {
                next_seq: 0,
                prev: GENESIS,
            }),
        }
    }

    /// A check that takes the first line it sees as the start (a log whose
    /// older records were retired).
    pub(crate) fn from_anywhere() -> ChainWatch {
        ChainWatch { expected: None }
    }

    /// The seq the next line must have, once known.
    pub(crate) fn next_seq(&self) -> Option<u64> {
        self.expected.map(|e| e.next_seq)
    }

    pub(crate) fn check<'a>(&mut self, line: &'a [u8]) -> Checked<'a> {
        let mut breaks = Vec::new();
        let view = match chain::frame(line) {
            Ok(view) => view,
            Err(why) => {
                breaks.push(Break {
                    code: FindingCode::Malformed,
                    seq: self.next_seq(),
                    detail: format!("a line that is not a record: {}", why.0),
                });
                return Checked {
                    breaks,
                    readable: None,
                };
            }
        };
        let seq = view.seq;
        let modified = view.computed_hash() != view.stored_hash;
        if modified {
            breaks.push(Break {
                code: FindingCode::Modified,
                seq: Some(seq),
                detail: "its bytes do not hash to the hash it carries".into(),
            });
        }
        if let Some(expected) = self.expected {
            if seq > expected.next_seq {
                breaks.push(Break {
                    code: FindingCode::Missing,
                    seq: Some(expected.next_seq),
                    detail: format!(
                        "seq {} to {} are missing: the log jumps to seq {seq}",
                        expected.next_seq,
                        seq - 1
                    ),
                });
            } else if seq + 1 == expected.next_seq {
                breaks.push(Break {
                    code: FindingCode::Duplicate,
                    seq: Some(seq),
                    detail: format!("seq {seq} appears again"),
                });
            } else if seq < expected.next_seq {
                breaks.push(Break {
                    code: FindingCode::OutOfOrder,
                    seq: Some(seq),
                    detail: format!("seq {seq} stands after seq {}", expected.next_seq - 1),
                });
            } else if view.prev != expected.prev && !modified {
                breaks.push(Break {
                    code: FindingCode::BrokenLink,
                    seq: Some(seq),
                    detail: "its prev is not the hash of the record before it".into(),
                });
            }
        }
        let readable =
            (view.version == u64::from(chain::FORMAT_VERSION) && !modified).then_some(view);
        if !modified && view.version != u64::from(chain::FORMAT_VERSION) {
            breaks.push(Break {
                code: FindingCode::UnsupportedVersion,
                seq: Some(seq),
                detail: format!(
                    "format version {} is not read by this version",
                    view.version
                ),
            });
        }
        // A seq seen before does not move the chain: the next line links to
        // the record that first held it.
        if self.next_seq().is_none_or(|next| seq >= next) {
            self.expected = Some(Expected {
                next_seq: seq + 1,
                prev: view.stored_hash,
            });
        }
        Checked { breaks, readable }
    }
}
