//! The writer thread's second stage: seq, links, hashes, writes, syncs,
//! acknowledges, checkpoints, seals.

use crate::write::encoder::Bodies;
use crate::write::handle::Finished;
use crate::write::handle::Shared;
use crate::write::settings::Durability;
use crate::write::settings::FailurePolicy;
use crate::write::settings::ShutdownReport;
use std::io;
use std::sync::atomic::Ordering;
use std::sync::{Arc, PoisonError};
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvTimeoutError};
use serde_json::json;

use crate::proof::checkpoint::{Checkpoint, Checkpoints, RetentionPolicy};
use crate::proof::forward_seal::ForwardSeals;
use crate::proof::merkle;
use crate::proof::tiles::TileTree;
use crate::record::anchor::Anchor;
use crate::record::chain::ChainHead;
use crate::record::encode::{encode_body, seal_line};
use crate::record::time::Timestamp;
use crate::record::{AuditEvent, RecordDefaults, duration_nanos};
use crate::store::sink::{Batch, BatchRecord, Recovery, Repair, Sink};
use crate::write::ack::WriteError;
use crate::{FailureKind, Outcome};

/// What went wrong with the sink since the last successful write.
pub(crate) struct Trouble {
    since: Timestamp,
    error: String,
    attempts: u64,
    lost: u64,
}

/// The default of [`WriterBuilder::max_commit_hold`].
pub(crate) const DEFAULT_MAX_COMMIT_HOLD: Duration = Duration::from_millis(1);

/// The second stage: gives each body its seq and prev, hashes, writes,
/// syncs, acknowledges, checkpoints.
pub(crate) struct Worker<S: Sink> {
    pub(crate) sink: S,
    pub(crate) receiver: Receiver<Bodies>,
    pub(crate) shared: Arc<Shared>,
    pub(crate) head: ChainHead,
    pub(crate) defaults: RecordDefaults,
    pub(crate) durability: Durability,
    pub(crate) policy: FailurePolicy,
    pub(crate) buf: Vec<u8>,
    pub(crate) records: Vec<BatchRecord>,
    pub(crate) unsynced: bool,
    pub(crate) last_sync: Instant,
    pub(crate) trouble: Option<Trouble>,
    /// System records to write before the next events (retention).
    pub(crate) notes: Vec<AuditEvent>,
    pub(crate) checkpoints: Option<Checkpoints>,
    pub(crate) retention: Option<RetentionPolicy>,
    /// Size of the last checkpoint, and when it was signed.
    pub(crate) checkpointed: (u64, Instant),
    pub(crate) forward_seals: Option<ForwardSeals>,
    /// The head as of the last successful sync: what a seal may vouch for.
    pub(crate) synced: ChainHead,
    /// The Merkle tree of the records, as tiles beside them, for a sink
    /// that keeps files; `None` without one, or while it cannot be kept
    /// (it is rebuilt from the records when the writer next starts).
    pub(crate) tree: Option<TileTree>,
}

/// The tree of a sink's records at `size`, when the sink keeps one on disk.
pub(crate) fn open_tree<S: Sink>(sink: &S, size: u64) -> io::Result<TileTree> {
    let dir = sink
        .tree_dir()
        .ok_or_else(|| io::Error::new(io::ErrorKind::Unsupported, "this sink keeps no tree"))?;
    TileTree::open(dir, size)
}

pub(crate) enum Committed {
    Written,
    Abandoned(u64),
}

impl<S: Sink> Worker<S> {
    pub(crate) fn run(mut self, repairs: Vec<Repair>) {
        // Epochs that ended while no writer ran are sealed as the log stood.
        self.seal_if_due();
        let mut repaired = Bodies::default();
        for repair in repairs {
            let details = serde_json::to_value(&repair).unwrap_or_default();
            let event = AuditEvent::system(repair.action(), Outcome::Success, details);
            repaired.push(&event, None, &self.defaults);
        }
        let mut unwritten = 0;
        if !repaired.is_empty()
            && let Committed::Abandoned(count) = self.commit(repaired)
        {
            unwritten += count;
        }
        loop {
            let Some(batch) = self.next_batch() else {
                continue;
            };
            let shutdown = batch.shutdown;
            if let Committed::Abandoned(count) = self.commit(batch) {
                unwritten += count;
            }
            self.checkpoint_if_due(false);
            if !self.notes.is_empty() {
                // Retention just ran: its record goes in now.
                let _ = self.commit(Bodies::default());
            }
            if shutdown {
                break;
            }
        }
        let sync_error = match self.sink.sync() {
            Ok(()) => {
                self.unsynced = false;
                self.synced = self.head;
                if let Some(tree) = &mut self.tree
                    && let Err(error) = tree.sync()
                {
                    self.shared.note_error(&error);
                }
                self.seal_if_due();
                self.checkpoint_if_due(true);
                None
            }
            Err(error) => {
                self.shared.note_error(&error);
                Some(WriteError::sync(&error))
            }
        };
        let report = ShutdownReport {
            written: self.shared.written.load(Ordering::Relaxed),
            failed: self.shared.failed.load(Ordering::Relaxed),
            next_seq: self.head.next_seq,
        };
        *self
            .shared
            .finished
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(Finished {
            report,
            unwritten,
            sync_error,
        });
        self.shared.finished_signal.notify_all();
    }

    /// The next batch from the encoder; `None` when a timer (interval sync,
    /// checkpoint) woke the worker first.
    fn next_batch(&mut self) -> Option<Bodies> {
        let received = match self.next_deadline() {
            Some(deadline) => match self.receiver.recv_deadline(deadline) {
                Err(RecvTimeoutError::Timeout) => {
                    if self.interval_due() {
                        self.sync_now();
                    }
                    self.seal_if_due();
                    self.checkpoint_if_due(false);
                    if !self.notes.is_empty() {
                        let _ = self.commit(Bodies::default());
                    }
                    return None;
                }
                other => other.ok(),
            },
            None => self.receiver.recv().ok(),
        };
        // The encoder is gone without a word (it cannot panic, but be safe): stop.
        Some(received.unwrap_or_else(|| Bodies {
            shutdown: true,
            ..Bodies::default()
        }))
    }

    /// When the worker must wake up even if nothing arrives: an interval
    /// sync, or a checkpoint due by time.
    fn next_deadline(&self) -> Option<Instant> {
        let sync = match self.durability {
            Durability::Interval(interval) if self.unsynced => Some(self.last_sync + interval),
            _ => None,
        };
        let checkpoint = self.checkpoints.as_ref().and_then(|c| {
            let (size, at) = self.checkpointed;
            c.every
                .filter(|_| self.head.next_seq > size)
                .map(|every| at + every)
        });
        let seal = self
            .forward_seals
            .as_ref()
            .map(|seals| Instant::now() + seals.until_due());
        [sync, checkpoint, seal].into_iter().flatten().min()
    }

    /// Seals every epoch that has ended, with the durable head.
    fn seal_if_due(&mut self) {
        let Some(seals) = &self.forward_seals else {
            return;
        };
        if seals.until_due() > Duration::ZERO {
            return;
        }
        // A seal vouches for stable records only; if the sync fails, the
        // head of the last one that succeeded is sealed.
        if self.unsynced && self.trouble.is_none() {
            self.sync_now();
        }
        let head = self.synced;
        let seals = self.forward_seals.as_mut().expect("checked above");
        let (written, error) = seals.seal_ended_epochs(head.next_seq, head.prev);
        self.shared.seals.fetch_add(written, Ordering::Relaxed);
        if let Some(error) = error {
            self.shared.note_error(&error);
            self.shared.seal_errors.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Signs and publishes a checkpoint of the synced head when one is due
    /// (or `finally`, at shutdown), then applies the retention policy.
    fn checkpoint_if_due(&mut self, finally: bool) {
        let Some(checkpoints) = &self.checkpoints else {
            return;
        };
        let (size, at) = self.checkpointed;
        let grown = self.head.next_seq.saturating_sub(size);
        let due = grown > 0
            && (finally
                || checkpoints.every_records.is_some_and(|n| grown >= n)
                || checkpoints.every.is_some_and(|every| at.elapsed() >= every));
        if !due || self.trouble.is_some() {
            return;
        }
        // A checkpoint vouches for stable records only.
        if self.unsynced && self.sync_now().is_some() {
            return;
        }
        // The tree's root at this size, with its partial tiles written so
        // that a static server can serve proofs to it (tlog-tiles).
        let root = match &mut self.tree {
            Some(tree) if tree.size() == self.head.next_seq => {
                match tree.write_partial_tiles().and_then(|()| tree.sync()) {
                    Ok(()) => Some(tree.root()),
                    Err(error) => {
                        self.shared.note_error(&error);
                        None
                    }
                }
            }
            _ => None,
        };
        let checkpoints = self.checkpoints.as_mut().expect("checked above");
        let checkpoint = Checkpoint {
            origin: checkpoints.origin.clone(),
            size: self.head.next_seq,
            head: self.head.prev,
            root,
        };
        let mut note = checkpoint.sign(&checkpoints.key);
        // Witnesses cosign what the tree proves consistent with what they saw.
        if let (Some(_), Some(tree)) = (checkpoint.root, &self.tree) {
            for witness in &mut checkpoints.witnesses {
                match witness.cosign(&note, checkpoint.size, tree) {
                    Ok(cosignature) => note.push_str(&cosignature),
                    Err(error) => {
                        self.shared.note_error(&error);
                        self.shared
                            .checkpoint_errors
                            .fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
        }
        match checkpoints.destination.publish(
            &crate::store::segment::checkpoint_file_name(checkpoint.size),
            &note,
        ) {
            Ok(()) => {
                self.shared.checkpoints.fetch_add(1, Ordering::Relaxed);
                self.checkpointed = (checkpoint.size, Instant::now());
            }
            Err(error) => {
                self.shared.note_error(&error);
                self.shared
                    .checkpoint_errors
                    .fetch_add(1, Ordering::Relaxed);
                // Try again at the next due time, not in a tight loop.
                self.checkpointed.1 = Instant::now();
            }
        }
        if let Err(error) = self.apply_retention() {
            self.shared.note_error(&error);
            self.shared
                .checkpoint_errors
                .fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Deletes the oldest sealed segments the policy no longer keeps.
    fn apply_retention(&mut self) -> io::Result<()> {
        let (Some(policy), Some(checkpoints)) = (self.retention, &mut self.checkpoints) else {
            return Ok(());
        };
        let segments = self.sink.segments()?;
        let mut count = segments.len();
        let mut total: u64 = segments.iter().map(|s| s.bytes).sum();
        let oldest_kept = policy
            .max_age
            .and_then(|age| std::time::SystemTime::now().checked_sub(age))
            .map(Timestamp::clamped);
        let mut cut = None;
        for segment in &segments {
            let Some(sealed) = &segment.sealed else { break };
            let over = policy.max_segments.is_some_and(|max| count > max)
                || policy.max_bytes.is_some_and(|max| total > max)
                || oldest_kept.is_some_and(|oldest| sealed.newest < oldest);
            if !over {
                break;
            }
            count -= 1;
            total -= segment.bytes;
            cut = Some(sealed.clone());
        }
        let Some(last) = cut else { return Ok(()) };
        let first_seq = last.last_seq + 1;
        let anchor = Anchor {
            origin: checkpoints.origin.clone(),
            first_seq,
            prev: last.last_hash,
            // The tree of the records deleted: the tiles keep it after them.
            root: self
                .tree
                .as_ref()
                .filter(|tree| tree.size() >= first_seq)
                .and_then(|tree| merkle::root(tree, first_seq).ok()),
        };
        let note = anchor.sign(&checkpoints.key);
        let retired = self.sink.retire(&anchor, &note)?;
        checkpoints.destination.publish(
            &crate::store::segment::anchor_file_name(anchor.first_seq),
            &note,
        )?;
        let details = json!({
            "segments_deleted": retired.segments,
            "bytes_deleted": retired.bytes,
            "seq_from": retired.first_seq,
            "seq_to": retired.last_seq,
            "anchor_first_seq": anchor.first_seq,
            "policy": {
                "max_age_secs": policy.max_age.map(|a| a.as_secs()),
                "max_bytes": policy.max_bytes,
                "max_segments": policy.max_segments,
            },
        });
        self.notes.push(AuditEvent::system(
            "audit.retention",
            Outcome::Success,
            details,
        ));
        Ok(())
    }

    fn sync_now(&mut self) -> Option<WriteError> {
        let started = Instant::now();
        let synced = self.sink.sync();
        let finished = Instant::now();
        self.shared
            .last_sync_nanos
            .store(duration_nanos(finished - started), Ordering::Relaxed);
        match synced {
            Ok(()) => {
                self.unsynced = false;
                self.synced = self.head;
                self.last_sync = finished;
                None
            }
            Err(error) => {
                self.shared.note_error(&error);
                Some(WriteError::sync(&error))
            }
        }
    }

    /// Chains the bodies after the current head (after an outage note if the
    /// sink had been failing, and any retention notes) into the batch buffer.
    fn encode(&mut self, batch: &Bodies) -> (ChainHead, usize) {
        self.buf.clear();
        self.records.clear();
        let mut head = self.head;
        let mut notes: Vec<AuditEvent> = Vec::new();
        if let Some(trouble) = &self.trouble {
            notes.push(outage_note(trouble, batch.len()));
        }
        notes.extend(self.notes.iter().cloned());
        let mut body = Vec::new();
        for note in &notes {
            body.clear();
            encode_body(&mut body, note, &self.defaults);
            head = self.chain_one(&body, head);
        }
        for body in batch.bodies() {
            head = self.chain_one(body, head);
        }
        (head, notes.len())
    }

    fn chain_one(&mut self, body: &[u8], head: ChainHead) -> ChainHead {
        let hash = seal_line(&mut self.buf, head.next_seq, head.prev, body);
        self.records.push(BatchRecord {
            seq: head.next_seq,
            hash,
            end: self.buf.len(),
        });
        ChainHead {
            next_seq: head.next_seq + 1,
            prev: hash,
        }
    }

    fn commit(&mut self, mut batch: Bodies) -> Committed {
        let wants_sync = batch.wants_sync();
        let mut backoff = Duration::from_millis(10);
        let outcome = loop {
            if batch.is_empty() && self.trouble.is_none() && self.notes.is_empty() {
                break Ok(());
            }
            let (head, notes) = self.encode(&batch);
            let error = match self.sink.append(&Batch::new(&self.buf, &self.records)) {
                Ok(()) => {
                    self.grow_tree();
                    self.head = head;
                    self.unsynced = true;
                    self.trouble = None;
                    self.notes.clear();
                    self.shared.failing.store(false, Ordering::Relaxed);
                    self.shared
                        .written
                        .fetch_add((batch.len() + notes) as u64, Ordering::Relaxed);
                    self.shared.next_seq.store(head.next_seq, Ordering::Relaxed);
                    break Ok(());
                }
                Err(error) => error,
            };
            self.shared.note_error(&error);
            self.shared.failing.store(true, Ordering::Relaxed);
            let trouble = self.trouble.get_or_insert_with(|| Trouble {
                since: Timestamp::now(),
                error: String::new(),
                attempts: 0,
                lost: 0,
            });
            trouble.attempts += 1;
            trouble.error = error.to_string();
            let failure = WriteError::sink(&error);
            match self.policy {
                FailurePolicy::Abort => {
                    eprintln!(
                        "audit-layer: the audit sink failed ({error}); aborting as the failure policy requires"
                    );
                    std::process::abort();
                }
                FailurePolicy::FailRecords => {
                    trouble.lost += batch.len() as u64;
                    self.shared
                        .failed
                        .fetch_add(batch.len() as u64, Ordering::Relaxed);
                    for ack in batch.acks.drain(..).flatten() {
                        ack.send(Err(failure.clone()));
                    }
                    batch.ends.clear();
                    self.resync_head();
                    break Err(failure);
                }
                FailurePolicy::BlockAndRetry => {
                    if self.shared.abandon.load(Ordering::Acquire) {
                        let abandoned = batch.len() as u64;
                        for ack in batch.acks.drain(..).flatten() {
                            ack.send(Err(failure.clone()));
                        }
                        for flush in batch.flushes.drain(..) {
                            flush.send(Err(failure.clone()));
                        }
                        return Committed::Abandoned(abandoned);
                    }
                    std::thread::sleep(backoff);
                    backoff = (backoff * 2).min(Duration::from_secs(1));
                    // The bodies do not depend on the head: after recovery
                    // they are simply chained again from where the sink stands.
                    self.resync_head();
                }
            }
        };
        let sync_error = if outcome.is_ok()
            && self.unsynced
            && (wants_sync || self.durability == Durability::GroupCommit || self.interval_due())
        {
            self.sync_now()
        } else {
            None
        };
        let result = match (outcome, sync_error) {
            (Err(error), _) => Err(error),
            (Ok(()), Some(error)) => Err(error),
            (Ok(()), None) => Ok(()),
        };
        // Before answering, so that a flush returns with every ended epoch sealed.
        self.seal_if_due();
        for ack in batch.acks.into_iter().flatten() {
            ack.send(result.clone());
        }
        for flush in batch.flushes {
            flush.send(result.clone());
        }
        Committed::Written
    }

    fn interval_due(&self) -> bool {
        matches!(self.durability, Durability::Interval(interval) if self.last_sync.elapsed() >= interval)
    }

    /// After a failed append, learns from the sink where its chain really
    /// ends, and takes its tree back to that size.
    fn resync_head(&mut self) {
        match self.sink.recover() {
            Ok(Recovery { head, .. }) => {
                self.head = head;
                if self.sink.tree_dir().is_some() {
                    self.tree = open_tree(&self.sink, head.next_seq)
                        .map_err(|error| self.shared.note_error(&error))
                        .ok();
                }
            }
            Err(error) => self.shared.note_error(&error),
        }
    }

    /// Adds the records just stored to the tree. Tiles are derived data: if
    /// one cannot be written, the tree is dropped until the writer restarts
    /// and rebuilds it from the records, and checkpoints carry the chain
    /// head alone meanwhile.
    fn grow_tree(&mut self) {
        let Some(tree) = &mut self.tree else { return };
        for record in &self.records {
            if let Err(error) = tree.push(merkle::record_leaf(&record.hash)) {
                self.shared.note_error(&error);
                self.tree = None;
                return;
            }
        }
    }
}

pub(crate) fn outage_note(trouble: &Trouble, delayed: usize) -> AuditEvent {
    let details = json!({
        "since": trouble.since,
        "until": Timestamp::now(),
        "failed_attempts": trouble.attempts,
        "last_error": trouble.error,
        "records_lost": trouble.lost,
        "records_delayed": if trouble.lost == 0 { delayed } else { 0 },
    });
    let outcome = if trouble.lost == 0 {
        Outcome::Success
    } else {
        Outcome::failure(
            FailureKind::Other("records_lost".into()),
            format!(
                "{} audit records were lost while the sink failed",
                trouble.lost
            ),
        )
    };
    AuditEvent::system("audit.outage", outcome, details)
}
