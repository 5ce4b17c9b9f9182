//! The chain walk's checks against evidence kept outside the log:
//! anchors where retention cut it, signed checkpoints, forward-secure
//! seals. They only narrow trust: evidence that is not trusted is reported
//! and not used.

use crate::proof::chain_walk::ChainCheck;
use crate::proof::chain_walk::Link;
use crate::proof::chain_walk::NOTE_LIMIT;
use crate::proof::report::AnchorStatus;
use crate::proof::report::Finding;
use crate::proof::report::FindingCode;
use crate::proof::report::HeadAt;
use crate::proof::report::MAX_LISTED_FINDINGS;
use crate::proof::report::SealStatus;
use crate::proof::report::SealsToCheck;
use std::io;
use std::path::{Path, PathBuf};

use crate::proof::checkpoint::{Checkpoint, CheckpointError};
use crate::proof::cosignature::CosignerVerifier;
use crate::proof::note::{NoteError, VerifierKey};
use crate::proof::seal::EpochKeys;
use crate::proof::seal::Seal;
use crate::record::anchor::Anchor;
use crate::record::chain::GENESIS;
use crate::store::safe_open;

impl<'v> ChainCheck<'v> {
    /// Notes the seqs the checkpoints vouch for, so their hashes are kept
    /// during the walk.
    pub(crate) fn watch(&mut self, checkpoints: &[(PathBuf, String)], keys: &[VerifierKey]) {
        for (_, note) in checkpoints {
            if let Ok((checkpoint, _)) = Checkpoint::open(note, keys)
                && checkpoint.size > 0
            {
                self.watched.insert(checkpoint.size - 1, None);
            }
        }
    }

    /// Notes the seqs the seals vouch for.
    pub(crate) fn watch_seals(&mut self, seals: Option<&SealsToCheck>) {
        let Some(seals) = seals else { return };
        for line in seals.text.lines() {
            if let Ok(seal) = Seal::parse(line)
                && seal.size > 0
            {
                self.watched.insert(seal.size - 1, None);
            }
        }
    }

    /// Starts the chain at the log's latest retention anchor, if it has one
    /// that a trusted key signed. An anchor only narrows what is trusted:
    /// one that is unsigned, signed by no trusted key, not a note, or not a
    /// regular file is a finding and is not used, so the log must then
    /// start at seq 0.
    pub(crate) fn start_from_anchor(&mut self, dir: &Path, keys: &[VerifierKey]) -> Option<Anchor> {
        let found = match crate::store::sink::anchors(dir) {
            Ok(mut found) => found.pop(),
            Err(error) => {
                self.report(
                    FindingCode::Malformed,
                    None,
                    Some(dir),
                    0,
                    format!("the anchors could not be listed: {error}"),
                );
                None
            }
        };
        let (first_seq, path) = found?;
        let note = match safe_open::read_text(&path, NOTE_LIMIT) {
            Ok(note) => note,
            Err(error) => {
                let code = if error.kind() == io::ErrorKind::InvalidInput {
                    FindingCode::ForeignFile
                } else {
                    FindingCode::Malformed
                };
                self.report(
                    code,
                    None,
                    Some(&path),
                    0,
                    format!("anchor not read: {error}"),
                );
                return None;
            }
        };
        self.start_from_anchor_note(first_seq, &note, &path, keys)
    }

    /// Starts the walk at a signed anchor (`note`, found at `path`, which
    /// names `first_seq`) when a trusted key signed it.
    pub(crate) fn start_from_anchor_note(
        &mut self,
        first_seq: u64,
        note: &str,
        path: &Path,
        keys: &[VerifierKey],
    ) -> Option<Anchor> {
        if keys.is_empty() {
            self.untrusted_anchor = Some((
                first_seq,
                "an anchor says the log starts there, but no key was given to check it (--key)"
                    .into(),
            ));
            return None;
        }
        let (anchor, signer) = match Anchor::open(note, keys) {
            Ok(opened) => opened,
            Err(error) => {
                self.note_error(&error, path, "anchor");
                self.untrusted_anchor = Some((
                    first_seq,
                    format!("the anchor that says so was refused: {error}"),
                ));
                return None;
            }
        };
        if anchor.first_seq != first_seq {
            self.report(
                FindingCode::Malformed,
                None,
                Some(path),
                0,
                format!(
                    "the anchor's name says seq {first_seq} and its text says seq {}",
                    anchor.first_seq
                ),
            );
            return None;
        }
        self.expected = Some(anchor.first_seq);
        self.link = Link::To(anchor.prev);
        self.anchor_status = Some(AnchorStatus {
            first_seq: anchor.first_seq,
            signed_by: Some(signer),
        });
        self.anchor = Some(anchor.clone());
        Some(anchor)
    }

    pub(crate) fn note_error(&mut self, error: &CheckpointError, source: &Path, what: &str) {
        let code = match error {
            CheckpointError::Note(NoteError::UnknownKey(_)) => FindingCode::UnknownKey,
            CheckpointError::Note(NoteError::BadSignature(_)) => FindingCode::BadSignature,
            _ => FindingCode::Malformed,
        };
        self.report(
            code,
            None,
            Some(source),
            0,
            format!("{what} refused: {error}"),
        );
    }

    /// Compares the log with every trusted checkpoint.
    pub(crate) fn compare_checkpoints(
        &mut self,
        checkpoints: &[(PathBuf, String)],
        keys: &[VerifierKey],
        anchor: Option<&Anchor>,
        witnesses: Option<(&[CosignerVerifier], usize)>,
    ) {
        let mut trusted: Vec<(&Path, Checkpoint)> = Vec::new();
        let mut notes: Vec<&str> = Vec::new();
        for (source, note) in checkpoints {
            match Checkpoint::open(note, keys) {
                Ok((checkpoint, _)) => {
                    trusted.push((source, checkpoint));
                    notes.push(note);
                }
                Err(error) => self.note_error(&error, source, "checkpoint"),
            }
        }
        for (index, (source, checkpoint)) in trusted.iter().enumerate() {
            let disagrees = trusted[..index].iter().any(|(_, earlier)| {
                earlier.origin == checkpoint.origin
                    && earlier.size == checkpoint.size
                    && (earlier.head != checkpoint.head
                        || matches!((earlier.root, checkpoint.root), (Some(a), Some(b)) if a != b))
            });
            if disagrees {
                self.report(
                    FindingCode::Equivocation,
                    checkpoint.size.checked_sub(1),
                    Some(source),
                    0,
                    format!(
                        "two signed checkpoints of {} at size {} name different heads",
                        checkpoint.origin, checkpoint.size
                    ),
                );
            }
        }
        for ((source, checkpoint), note) in trusted.into_iter().zip(notes) {
            let size = checkpoint.size;
            let vouched = match self.head_at(size, anchor) {
                HeadAt::Known(hash) => Some(hash == Some(checkpoint.head)),
                HeadAt::Deleted => None,
                HeadAt::Beyond(now) => {
                    self.count_kind(&checkpoint);
                    self.report(
                        FindingCode::Truncated,
                        size.checked_sub(1),
                        Some(source),
                        0,
                        format!(
                            "a signed checkpoint says the log had {size} records; it now {now}"
                        ),
                    );
                    continue;
                }
            };
            if vouched.is_some() {
                self.count_kind(&checkpoint);
            }
            // A checkpoint with a tree root: the log's tree at its size must
            // have that root, which holds only if the log then extends it.
            let root_differs = match (checkpoint.root, self.roots.get(&size)) {
                (Some(signed), Some(walked)) => signed != *walked,
                _ => false,
            };
            match vouched {
                Some(true) if root_differs => self.report(
                    FindingCode::Rechained,
                    size.checked_sub(1),
                    Some(source),
                    0,
                    format!(
                        "a signed checkpoint at size {size} names tree root {}, and the log's tree there has root {}: the log is not the one that was signed",
                        checkpoint.root.map(|r| r.to_string()).unwrap_or_default(),
                        self.roots.get(&size).map(|r| r.to_string()).unwrap_or_default()
                    ),
                ),
                Some(true) => {
                    self.checkpoints_matched += 1;
                    self.anchored_through = Some(self.anchored_through.map_or(size, |s| s.max(size)));
                    if let Some((witnesses, quorum)) = witnesses {
                        let cosigned = witnesses
                            .iter()
                            .filter(|witness| witness.verify(note).is_some())
                            .count();
                        if cosigned >= quorum {
                            self.witnessed_through =
                                Some(self.witnessed_through.map_or(size, |s| s.max(size)));
                        }
                    }
                }
                Some(false) => self.report(
                    FindingCode::Rechained,
                    size.checked_sub(1),
                    Some(source),
                    0,
                    format!(
                        "a signed checkpoint at size {size} names head {}, which the log no longer has there: its history was re-written",
                        checkpoint.head
                    ),
                ),
                // Deleted by retention before the anchor: nothing left to compare.
                None => {}
            }
        }
    }

    fn count_kind(&mut self, checkpoint: &Checkpoint) {
        self.checkpoints_compared += 1;
        match checkpoint.root {
            Some(_) => self.checkpoint_kinds.0 += 1,
            None => self.checkpoint_kinds.1 += 1,
        }
    }

    /// The log's head when it had `size` records, as this walk saw it.
    fn head_at(&self, size: u64, anchor: Option<&Anchor>) -> HeadAt {
        match (size.checked_sub(1), anchor) {
            (None, _) => HeadAt::Known(Some(GENESIS)),
            (Some(_), Some(anchor)) if size < anchor.first_seq => HeadAt::Deleted,
            (Some(_), Some(anchor)) if size == anchor.first_seq => HeadAt::Known(Some(anchor.prev)),
            (Some(last), _) => match self.last_seq {
                Some(log_last) if last > log_last => {
                    HeadAt::Beyond(format!("ends at seq {log_last}"))
                }
                None => HeadAt::Beyond("has none".into()),
                Some(_) => HeadAt::Known(self.watched.get(&last).copied().flatten()),
            },
        }
    }

    /// Checks the seals file against the log: every epoch from 0 on sealed
    /// once, in order, each under its own epoch's key, each naming the head
    /// the log has at that size. Keys only evolve forward, and never past
    /// the epochs that have ended by this machine's clock, so the work is
    /// bounded whatever epoch numbers the file holds.
    pub(crate) fn compare_seals(&mut self, seals: &SealsToCheck, anchor: Option<&Anchor>) {
        let source = Some(seals.source.as_path());
        let mut keys = EpochKeys::new(&seals.key);
        let mut status = SealStatus::default();
        let mut next_epoch = 0u64;
        let mut last_size = 0u64;
        let mut offset = 0u64;
        let ended = seals.key.epochs_ended_by(std::time::SystemTime::now());
        for line in seals.text.split_inclusive('\n') {
            let at = offset;
            offset += line.len() as u64;
            if !line.ends_with('\n') {
                // The writer syncs each seal whole; an unfinished last line is a crash mid-write.
                self.report(
                    FindingCode::TornTail,
                    None,
                    source,
                    at,
                    format!(
                        "the seals file ends in {} bytes of an unfinished seal",
                        line.len()
                    ),
                );
                continue;
            }
            let seal = match Seal::parse(line.trim_end_matches('\n')) {
                Ok(seal) => seal,
                Err(error) => {
                    self.report(FindingCode::Malformed, None, source, at, error.to_string());
                    continue;
                }
            };
            let seq = seal.size.checked_sub(1);
            if seal.epoch < next_epoch {
                self.report(FindingCode::OutOfOrder, seq, source, at, format!("a seal of epoch {} (size {}) comes after the seal of epoch {} (size {last_size})", seal.epoch, seal.size, next_epoch - 1));
                continue;
            }
            if seal.epoch >= ended {
                self.report(FindingCode::BadSeal, seq, source, at, format!("a seal of epoch {}, which has not ended by this machine's clock ({ended} epochs have): no writer could have made it", seal.epoch));
                continue;
            }
            if !keys.verifies(&seal) {
                self.report(FindingCode::BadSeal, seq, source, at, format!("the seal of epoch {} does not verify under that epoch's key: it was forged, or made with a later epoch's key", seal.epoch));
                continue;
            }
            status.seals += 1;
            if seal.epoch > next_epoch {
                let missing = if seal.epoch - next_epoch == 1 {
                    format!("epoch {next_epoch} has")
                } else {
                    format!("epochs {next_epoch}..{} have", seal.epoch - 1)
                };
                self.report(FindingCode::SealGap, seq, source, at, format!("{missing} no seal: the log was cut and sealed on with a later key, or sealing stopped"));
            } else if seal.size < last_size {
                self.report(FindingCode::OutOfOrder, seq, source, at, format!("the seal of epoch {} has size {}, below the size {last_size} sealed before", seal.epoch, seal.size));
                continue;
            }
            next_epoch = seal.epoch + 1;
            last_size = seal.size;
            status.last_epoch = Some(seal.epoch);
            match self.head_at(seal.size, anchor) {
                HeadAt::Known(hash) if hash == Some(seal.head) => {
                    status.sealed_through = Some(status.sealed_through.map_or(seal.size, |s| s.max(seal.size)));
                }
                HeadAt::Known(_) => self.report(FindingCode::Rechained, seq, source, at, format!("the seal of epoch {} at size {} names head {}, which the log no longer has there: its history was re-written", seal.epoch, seal.size, seal.head)),
                HeadAt::Deleted => {}
                HeadAt::Beyond(now) => self.report(FindingCode::Truncated, seq, source, at, format!("the seal of epoch {} says the log had {} records; it now {now}", seal.epoch, seal.size)),
            }
        }
        if status.seals == 0 {
            self.report(
                FindingCode::NoSeal,
                None,
                source,
                0,
                "no seal verified: the seals file is missing or holds none, so nothing vouches for the log's past".into(),
            );
        }
        status.epochs_ended_unsealed = ended.saturating_sub(next_epoch);
        status.unsealed = match (self.last_seq, status.sealed_through) {
            (Some(last), Some(through)) if last >= through => Some((through, last)),
            (Some(last), None) => Some((self.first_seq.unwrap_or(0), last)),
            _ => None,
        };
        self.seal_status = Some(status);
    }

    pub(crate) fn report(
        &mut self,
        code: FindingCode,
        seq: Option<u64>,
        segment: Option<&Path>,
        offset: u64,
        message: String,
    ) {
        self.raised += 1;
        self.last_raised = Some(code);
        *self.finding_counts.entry(code).or_insert(0) += 1;
        if self.findings.len() < MAX_LISTED_FINDINGS {
            self.findings.push(Finding {
                code,
                seq,
                segment: segment.map(Path::to_owned),
                offset,
                message,
            });
        } else {
            self.findings_unlisted += 1;
        }
    }
}
