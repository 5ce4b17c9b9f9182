//! The walk along the chain: each line examined (in parallel for a large
//! log), then linked to the one before, with gaps, duplicates and
//! reorderings told apart.

use crate::proof::examine::Examined;
use crate::proof::examine::examine_parallel;
use crate::proof::merkle::{self, TreeFrontier};
use crate::proof::report::AnchorStatus;
use crate::proof::report::CheckedLine;
use crate::proof::report::Finding;
use crate::proof::report::FindingCode;
use crate::proof::report::Report;
use crate::proof::report::SealStatus;
use std::io;
use std::path::{Path, PathBuf};

use std::collections::BTreeMap;

use crate::record::anchor::Anchor;
use crate::record::chain::{self, FORMAT_VERSION, GENESIS, Hash};

pub(crate) type Visitor<'v> = &'v mut dyn FnMut(CheckedLine<'_>) -> io::Result<()>;

/// A note file is a few hundred bytes; anything far larger is not one.
pub(crate) const NOTE_LIMIT: u64 = 64 * 1024;

/// Tells a last line cut short by a crash (a prefix of a record) from bytes
/// someone changed or added.
pub(crate) fn classify_unterminated(bytes: &[u8]) -> (FindingCode, String) {
    let torn = || {
        (
            FindingCode::TornTail,
            format!(
                "the log ends in {} bytes of an unfinished line (a crash mid-write)",
                bytes.len()
            ),
        )
    };
    if !chain::is_line_prefix(bytes) {
        return (
            FindingCode::Malformed,
            "the bytes after the last record are not the start of a record".into(),
        );
    }
    if let Ok(view) = chain::frame(bytes) {
        if view.computed_hash() == view.stored_hash {
            return torn();
        }
        // A real line is one JSON object that closes only at its very end; a
        // prefix that happens to frame is not a closed object.
        let mut object = view.hashed.to_vec();
        object.push(b'}');
        if serde_json::from_slice::<serde::de::IgnoredAny>(&object).is_ok() {
            return (
                FindingCode::Modified,
                "the last record, missing its newline, does not hash to the hash it carries".into(),
            );
        }
        return torn();
    }
    let complete_then_junk = bytes.len() > 1
        && chain::frame(&bytes[..bytes.len() - 1])
            .is_ok_and(|view| view.computed_hash() == view.stored_hash);
    if complete_then_junk {
        return (
            FindingCode::Malformed,
            format!(
                "a complete record is followed by byte {:#04x} where its newline should be",
                bytes[bytes.len() - 1]
            ),
        );
    }
    torn()
}

/// How the next record must link back.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Link {
    /// To this hash.
    To(Hash),
    /// The record before was modified: to the hash it carries or the one it has.
    Either(Hash, Hash),
    /// Lines before could not be framed: to the hash expected before them
    /// (they were inserted), or to the hash the last of them still carries
    /// (a record damaged in place). A history re-chained from the damaged
    /// line links to neither.
    AfterUnreadable {
        before: Option<Hash>,
        carried: Option<Hash>,
    },
    /// Anything: the first record of a single segment verified on its own.
    Any,
}

impl Link {
    fn accepts(&self, prev: Hash) -> bool {
        match *self {
            Link::To(hash) => prev == hash,
            Link::Either(a, b) => prev == a || prev == b,
            Link::AfterUnreadable { before, carried } => {
                Some(prev) == before || Some(prev) == carried
            }
            Link::Any => true,
        }
    }

    /// The hash the next record should name, as the record before it carries.
    fn expected(&self) -> Option<Hash> {
        match *self {
            Link::To(hash) | Link::Either(hash, _) => Some(hash),
            Link::AfterUnreadable { before, .. } => before,
            Link::Any => None,
        }
    }
}

/// A run of seqs skipped so far: missing unless later records fill it.
#[derive(Debug, Clone)]
pub(crate) struct Gap {
    end: u64,
    segment: Option<PathBuf>,
    offset: u64,
}

/// Hashes of the latest records, to tell an identical duplicate from a
/// different one in the message. The code (`duplicate`) does not depend on
/// it: every seq below the next expected one either fills a gap or was seen.
pub(crate) const RECENT: usize = 4096;

/// Open gaps kept to be filled by later records; past this many, the oldest
/// is reported as missing at once, so memory stays bounded on any input.
pub(crate) const MAX_OPEN_GAPS: usize = 100_000;

/// The state machine that reads lines in log order.
pub(crate) struct ChainCheck<'v> {
    /// The seq the next record must have; `None` until the first record when
    /// the log may start anywhere.
    pub(crate) expected: Option<u64>,
    pub(crate) link: Link,
    unreadable_since_record: u64,
    /// Open gaps by first missing seq.
    gaps: BTreeMap<u64, Gap>,
    recent: Vec<Option<(u64, Hash)>>,
    pub(crate) findings: Vec<Finding>,
    pub(crate) finding_counts: BTreeMap<FindingCode, u64>,
    pub(crate) findings_unlisted: u64,
    /// Findings so far, listed or not: tells whether a line raised one.
    pub(crate) raised: u64,
    pub(crate) last_raised: Option<FindingCode>,
    records: u64,
    pub(crate) first_seq: Option<u64>,
    pub(crate) last_seq: Option<u64>,
    head: Option<Hash>,
    bytes: u64,
    pub(crate) segments: usize,
    /// The first seq the current segment's name announces, until its first
    /// record has been compared with it.
    pub(crate) segment_first: Option<u64>,
    live: bool,
    in_flight_bytes: u64,
    threads: usize,
    /// The hash accepted at each seq a checkpoint vouches for.
    pub(crate) watched: BTreeMap<u64, Option<Hash>>,
    pub(crate) anchor: Option<Anchor>,
    pub(crate) anchor_status: Option<AnchorStatus>,
    /// An anchor that was found and not trusted: named in `missing`.
    pub(crate) untrusted_anchor: Option<(u64, String)>,
    pub(crate) checkpoints_matched: usize,
    /// Trusted checkpoints compared with the log, whether they matched or not.
    pub(crate) checkpoints_compared: usize,
    pub(crate) anchored_through: Option<u64>,
    pub(crate) seal_status: Option<SealStatus>,
    /// The Merkle tree of the records walked so far, while they run from
    /// seq 0 in order and unmodified (its root means nothing otherwise).
    frontier: Option<TreeFrontier>,
    /// The tree's root at each size a checkpoint names, as the walk saw it.
    pub(crate) roots: BTreeMap<u64, Hash>,
    /// Trusted checkpoints compared, by kind: with a tree root, or the
    /// chain's head alone (the first kind).
    pub(crate) checkpoint_kinds: (usize, usize),
    /// The largest matched checkpoint's size that a quorum of witnesses cosigned.
    pub(crate) witnessed_through: Option<u64>,
    visitor: Option<Visitor<'v>>,
    pub(crate) output_error: Option<io::Error>,
}

impl<'v> ChainCheck<'v> {
    pub(crate) fn new(threads: usize, visitor: Option<Visitor<'v>>) -> Self {
        ChainCheck {
            expected: Some(0),
            link: Link::To(GENESIS),
            unreadable_since_record: 0,
            gaps: BTreeMap::new(),
            recent: vec![None; RECENT],
            findings: Vec::new(),
            finding_counts: BTreeMap::new(),
            findings_unlisted: 0,
            raised: 0,
            last_raised: None,
            records: 0,
            first_seq: None,
            last_seq: None,
            head: None,
            bytes: 0,
            segments: 0,
            segment_first: None,
            live: false,
            in_flight_bytes: 0,
            threads,
            watched: BTreeMap::new(),
            anchor: None,
            anchor_status: None,
            untrusted_anchor: None,
            checkpoints_matched: 0,
            checkpoints_compared: 0,
            anchored_through: None,
            seal_status: None,
            frontier: Some(TreeFrontier::new()),
            roots: BTreeMap::from([(0, merkle::empty_root())]),
            checkpoint_kinds: (0, 0),
            witnessed_through: None,
            visitor,
            output_error: None,
        }
    }

    /// Checks complete lines (each ending in `\n`) that start at `base` in their segment.
    pub(crate) fn lines(&mut self, bytes: &[u8], base: u64, segment: Option<&Path>) {
        let examined = examine_parallel(bytes, self.threads);
        self.examined_lines(bytes, base, segment, examined);
    }

    /// [`lines`](ChainCheck::lines) for lines the caller examined itself:
    /// each with its offset and length in `bytes`.
    pub(crate) fn examined_lines(
        &mut self,
        bytes: &[u8],
        base: u64,
        segment: Option<&Path>,
        examined: Vec<(usize, usize, Examined)>,
    ) {
        self.bytes += bytes.len() as u64;
        for (offset, len, examined) in examined {
            let line = &bytes[offset..offset + len];
            self.accept(examined, line, base + offset as u64, segment);
            if self.output_error.is_some() {
                return;
            }
        }
    }

    /// Hands a checked line to the visitor, if there is one.
    fn visit(
        &mut self,
        line: &[u8],
        seq: Option<u64>,
        segment: Option<&Path>,
        offset: u64,
        raised_before: u64,
    ) {
        let Some(visitor) = self.visitor.as_mut() else {
            return;
        };
        let verified = self.raised == raised_before;
        let problem = if verified { None } else { self.last_raised };
        if let Err(error) = visitor(CheckedLine {
            line,
            seq,
            segment,
            offset,
            verified,
            problem,
        }) {
            self.output_error = Some(error);
        }
    }

    fn accept(&mut self, examined: Examined, line: &[u8], offset: u64, segment: Option<&Path>) {
        let raised_before = self.raised;
        let (version, seq, prev, stored_hash, computed, invalid) = match examined {
            Examined::Record {
                version,
                seq,
                prev,
                stored,
                computed,
                invalid,
            } => (version, seq, prev, stored, computed, invalid),
            Examined::Malformed { why, carried } => {
                self.unreadable(carried);
                self.report(
                    FindingCode::Malformed,
                    None,
                    segment,
                    offset,
                    format!("not a record: {why}"),
                );
                self.visit(line, None, segment, offset, raised_before);
                return;
            }
        };
        self.records += 1;
        if let Some(named) = self.segment_first.take()
            && named != seq
        {
            self.report(
                FindingCode::MisnamedSegment,
                Some(seq),
                segment,
                offset,
                format!("the segment's name says it starts at seq {named}, and its first record is seq {seq}"),
            );
        }
        let modified = computed != stored_hash;
        if modified {
            self.report(
                FindingCode::Modified,
                Some(seq),
                segment,
                offset,
                format!("record hashes to {computed}, but carries {}", stored_hash),
            );
        } else if let Some(why) = invalid {
            self.report(
                FindingCode::Malformed,
                Some(seq),
                segment,
                offset,
                format!("its hash is right, but it is not a valid version-1 record: {why}"),
            );
        } else if version != u64::from(FORMAT_VERSION) {
            self.report(
                FindingCode::UnsupportedVersion,
                Some(seq),
                segment,
                offset,
                format!(
                    "format version {} is newer than this verifier's {FORMAT_VERSION}: its hash and link check out, its fields were not interpreted",
                    version
                ),
            );
        }
        self.first_seq = Some(self.first_seq.map_or(seq, |s| s.min(seq)));
        self.last_seq = Some(self.last_seq.map_or(seq, |s| s.max(seq)));

        let expected = *self.expected.get_or_insert(seq);
        if seq < expected {
            self.earlier_seq(seq, stored_hash, segment, offset);
            self.visit(line, Some(seq), segment, offset, raised_before);
            return;
        }
        if seq > expected {
            // Unreadable lines just before may be the records that seem absent.
            let skipped = seq - expected;
            let unexplained = skipped.saturating_sub(self.unreadable_since_record);
            if unexplained > 0 {
                self.open_gap(seq - unexplained, seq, segment, offset);
            }
        }
        // A jump that unreadable lines explain still has a link to check.
        let comparable = seq == expected
            || (seq - expected <= self.unreadable_since_record
                && matches!(self.link, Link::AfterUnreadable { .. }));
        if comparable && !modified && !self.link.accepts(prev) {
            let expected_prev = self
                .link
                .expected()
                .map_or_else(|| "?".to_owned(), |h| h.to_string());
            let message = if matches!(self.link, Link::AfterUnreadable { .. }) {
                format!(
                    "prev is {prev}, which is neither the hash of the last record before the unreadable line(s) ({expected_prev}) nor the hash the unreadable line carries: the log was re-chained from there"
                )
            } else {
                format!("prev is {prev}, but the record before hashes to {expected_prev}")
            };
            self.report(FindingCode::BrokenLink, Some(seq), segment, offset, message);
        }
        // Seq 2^64 - 1 does not frame, so this cannot overflow.
        self.expected = Some(seq + 1);
        self.link = if modified {
            Link::Either(stored_hash, computed)
        } else {
            Link::To(stored_hash)
        };
        self.head = Some(stored_hash);
        self.grow_tree(seq, stored_hash, modified);
        self.unreadable_since_record = 0;
        if let Some(slot @ None) = self.watched.get_mut(&seq) {
            *slot = Some(stored_hash);
        }
        self.recent[(seq % RECENT as u64) as usize] = Some((seq, stored_hash));
        self.visit(line, Some(seq), segment, offset, raised_before);
    }

    /// Adds an in-order record to the tree, keeping its root at the sizes
    /// checkpoints name; anything out of order ends the tree.
    fn grow_tree(&mut self, seq: u64, hash: Hash, modified: bool) {
        let Some(frontier) = &mut self.frontier else {
            return;
        };
        if modified || seq != frontier.size() {
            self.frontier = None;
            return;
        }
        frontier.push(merkle::record_leaf(&hash));
        if self.watched.contains_key(&seq) {
            self.roots.insert(seq + 1, frontier.root());
        }
    }

    /// Records the seqs `start..end` as absent, until a later record fills them.
    fn open_gap(&mut self, start: u64, end: u64, segment: Option<&Path>, offset: u64) {
        self.gaps.insert(
            start,
            Gap {
                end,
                segment: segment.map(Path::to_owned),
                offset,
            },
        );
        if self.gaps.len() > MAX_OPEN_GAPS
            && let Some((start, gap)) = self.gaps.pop_first()
        {
            self.report_missing(start, gap);
        }
    }

    fn report_missing(&mut self, start: u64, gap: Gap) {
        let count = gap.end - start;
        let mut message = if count == 1 {
            format!("seq {start} is missing")
        } else {
            format!("{count} records are missing: seq {start}..{}", gap.end - 1)
        };
        if let Some((anchor_seq, why)) = &self.untrusted_anchor
            && start == 0
            && gap.end == *anchor_seq
        {
            message.push_str(&format!(" ({why})"));
        }
        self.report(
            FindingCode::Missing,
            Some(start),
            gap.segment.as_deref(),
            gap.offset,
            message,
        );
    }

    /// A line that does not frame: the next record must link to what came
    /// before it, or to the hash it still carries.
    fn unreadable(&mut self, carried: Option<Hash>) {
        self.unreadable_since_record += 1;
        let before = match self.link {
            Link::AfterUnreadable { before, .. } => before,
            other => other.expected(),
        };
        self.link = match self.link {
            Link::Any => Link::Any,
            _ => Link::AfterUnreadable { before, carried },
        };
    }

    /// A record whose seq is below the one expected next: it fills a gap
    /// (`out-of-order`), or its seq was seen already (`duplicate`).
    fn earlier_seq(&mut self, seq: u64, hash: Hash, segment: Option<&Path>, offset: u64) {
        let containing = self
            .gaps
            .range(..=seq)
            .next_back()
            .filter(|(_, gap)| seq < gap.end)
            .map(|(start, _)| *start);
        let previous = self.expected.unwrap_or(1) - 1;
        if let Some(start) = containing {
            let gap = self.gaps.remove(&start).expect("found above");
            if start < seq {
                self.gaps.insert(
                    start,
                    Gap {
                        end: seq,
                        ..gap.clone()
                    },
                );
            }
            if seq + 1 < gap.end {
                self.gaps.insert(seq + 1, gap);
            }
            self.report(
                FindingCode::OutOfOrder,
                Some(seq),
                segment,
                offset,
                format!("seq {seq} comes after seq {previous}"),
            );
            return;
        }
        let message = match self.recent[(seq % RECENT as u64) as usize] {
            Some((seen_seq, seen_hash)) if seen_seq == seq && seen_hash == hash => {
                format!("seq {seq} appears again, identical")
            }
            Some((seen_seq, _)) if seen_seq == seq => {
                format!("seq {seq} appears again, with different content")
            }
            _ => format!("seq {seq} appears again, after seq {previous}"),
        };
        self.report(FindingCode::Duplicate, Some(seq), segment, offset, message);
    }

    /// A segment file with no byte in it.
    pub(crate) fn empty_segment(&mut self, segment: &Path, last: bool, live: bool) {
        if last && live {
            return;
        }
        if last {
            self.report(
                FindingCode::TornTail,
                None,
                Some(segment),
                0,
                "the last segment is empty: a writer stopped between creating it and writing to it (the next writer removes it)".into(),
            );
        } else {
            self.report(
                FindingCode::Malformed,
                None,
                Some(segment),
                0,
                "the segment is empty: a segment holds at least one record".into(),
            );
        }
    }

    /// Handles the bytes after the last newline of a segment.
    pub(crate) fn tail(
        &mut self,
        bytes: &[u8],
        offset: u64,
        segment: Option<&Path>,
        last: bool,
        live: bool,
    ) {
        if bytes.is_empty() {
            return;
        }
        let seq = chain::frame_prefix_seq(bytes);
        // In flight: the beginning of the very record the chain expects next.
        let in_flight = live
            && last
            && chain::is_line_prefix(bytes)
            && seq.is_none_or(|seq| self.expected.is_none_or(|e| e == seq));
        if in_flight {
            self.live = true;
            self.in_flight_bytes += bytes.len() as u64;
            return;
        }
        if !last {
            self.bytes += bytes.len() as u64;
            self.unreadable(chain::carried_hash(bytes));
            self.report(
                FindingCode::Malformed,
                seq,
                segment,
                offset,
                "segment does not end with a complete line".into(),
            );
            return;
        }
        if let Ok(view) = chain::frame(bytes)
            && view.computed_hash() == view.stored_hash
        {
            // A whole record lacking only its newline: checked like any
            // other; the writer restores the newline when it starts.
            self.lines(&[bytes, b"\n"].concat(), offset, segment);
            self.bytes -= 1;
            self.report(
                FindingCode::TornTail,
                Some(view.seq),
                segment,
                offset,
                "the last record lacks its newline (a crash before its last byte); it was checked like any other, and the writer restores the newline when it starts".into(),
            );
            return;
        }
        self.bytes += bytes.len() as u64;
        let (code, message) = classify_unterminated(bytes);
        self.report(code, seq, segment, offset, message);
    }

    pub(crate) fn finish(mut self) -> Report {
        for (start, gap) in std::mem::take(&mut self.gaps) {
            self.report_missing(start, gap);
        }
        self.findings
            .sort_by(|a, b| (&a.segment, a.offset).cmp(&(&b.segment, b.offset)));
        let unanchored = match (self.last_seq, self.anchored_through) {
            (Some(last), Some(through)) if last >= through => Some((through, last)),
            (Some(last), None) => Some((self.first_seq.unwrap_or(0), last)),
            _ => None,
        };
        Report {
            records: self.records,
            first_seq: self.first_seq,
            last_seq: self.last_seq,
            head: self.head,
            bytes: self.bytes,
            segments: self.segments,
            live: self.live,
            in_flight_bytes: self.in_flight_bytes,
            findings: self.findings,
            finding_counts: self.finding_counts,
            findings_unlisted: self.findings_unlisted,
            anchor: self.anchor_status,
            checkpoints_matched: self.checkpoints_matched,
            anchored_through: self.anchored_through,
            unanchored,
            seals: self.seal_status,
            tree_root: self
                .frontier
                .as_ref()
                .filter(|f| self.raised == 0 && Some(f.size()) == self.last_seq.map(|l| l + 1))
                .map(TreeFrontier::root),
            checkpoints_with_root: self.checkpoint_kinds.0,
            checkpoints_of_first_kind: self.checkpoint_kinds.1,
            witnessed_through: self.witnessed_through,
        }
    }
}
