//! The writer thread's first stage: privacy applied, each record's body
//! encoded, batches handed to the worker when it is ready for them.

use crate::record::changes::Change;
use crate::record::encode::encode_body;
use crate::record::encode::push_body;
use crate::record::{AuditEvent, RecordDefaults};
use crate::write::ack::AckSender;
use crate::write::handle::Message;
use crate::write::handle::Shared;
use crate::write::privacy::Privacy;
use crossbeam_channel::{Receiver, RecvTimeoutError, Select, Sender};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

/// Records encoded by the first stage, waiting for their place in the chain.
#[derive(Default)]
pub(crate) struct Bodies {
    /// The bodies, end to end.
    pub(crate) bytes: Vec<u8>,
    /// Where each body ends in `bytes`.
    pub(crate) ends: Vec<usize>,
    /// The acknowledgement each record's caller waits for, if any.
    pub(crate) acks: Vec<Option<AckSender>>,
    /// How many of `acks` are some: callers waiting for this batch.
    pub(crate) waiting: usize,
    pub(crate) flushes: Vec<AckSender>,
    pub(crate) shutdown: bool,
}

impl Bodies {
    pub(crate) fn len(&self) -> usize {
        self.ends.len()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    pub(crate) fn push(
        &mut self,
        event: &AuditEvent,
        ack: Option<AckSender>,
        defaults: &RecordDefaults,
    ) {
        encode_body(&mut self.bytes, event, defaults);
        self.pushed(ack);
    }

    /// Like [`push`](Bodies::push), with `changes` already worked out.
    fn push_with_changes(
        &mut self,
        event: &AuditEvent,
        ack: Option<AckSender>,
        changes: &[Change],
        defaults: &RecordDefaults,
    ) {
        push_body(&mut self.bytes, event, Some(changes), defaults);
        self.pushed(ack);
    }

    fn pushed(&mut self, ack: Option<AckSender>) {
        self.ends.push(self.bytes.len());
        self.waiting += usize::from(ack.is_some());
        self.acks.push(ack);
    }

    fn take(&mut self, message: Message, defaults: &RecordDefaults) {
        match message {
            // The event is freed here, on the encoder's thread.
            Message::Record { event, ack } => self.push(&event, ack, defaults),
            Message::Flush(ack) => self.flushes.push(ack),
            Message::Shutdown => self.shutdown = true,
        }
    }

    pub(crate) fn bodies(&self) -> impl Iterator<Item = &[u8]> {
        let mut start = 0;
        self.ends.iter().map(move |&end| {
            let body = &self.bytes[start..end];
            start = end;
            body
        })
    }

    pub(crate) fn wants_sync(&self) -> bool {
        !self.flushes.is_empty() || self.shutdown || self.acks.iter().any(Option::is_some)
    }
}

/// The first stage: takes events off the queue and encodes their bodies,
/// which do not depend on their place in the chain. It runs beside the
/// second stage, so encoding one batch overlaps hashing and writing the last.
pub(crate) struct Encoder {
    pub(crate) receiver: Receiver<Message>,
    pub(crate) chainer: Sender<Bodies>,
    pub(crate) shared: Arc<Shared>,
    pub(crate) defaults: RecordDefaults,
    pub(crate) max_batch_records: usize,
    pub(crate) max_commit_hold: Duration,
    pub(crate) privacy: Option<Privacy>,
}

impl Encoder {
    pub(crate) fn run(self) {
        let mut pending = Bodies::default();
        // Callers that waited for the last batch handed over, and until
        // when the current one may be held for them (see below).
        let mut last_waiting = 0;
        let mut hold_until: Option<Instant> = None;
        loop {
            if pending.is_empty() && !pending.shutdown {
                // Once closed, a full queue may have kept the shutdown message
                // out: stop when the queue is drained rather than wait for it.
                if self.shared.closed.load(Ordering::Acquire) && self.receiver.is_empty() {
                    pending.shutdown = true;
                } else {
                    // Blocking is safe: the queue is empty, so a shutdown message fits in it.
                    match self.receiver.recv() {
                        Ok(message) => self.accept(&mut pending, message),
                        Err(_) => pending.shutdown = true,
                    }
                }
            }
            while pending.len() < self.max_batch_records && !pending.shutdown {
                match self.receiver.try_recv() {
                    Ok(message) => self.accept(&mut pending, message),
                    Err(_) => break,
                }
            }
            if pending.shutdown {
                // Events accepted just before the shutdown message are written too.
                while let Ok(message) = self.receiver.try_recv() {
                    self.accept(&mut pending, message);
                }
                let _ = self.chainer.send(pending);
                return;
            }
            if pending.len() >= self.max_batch_records {
                (last_waiting, hold_until) = (pending.waiting, None);
                if self.chainer.send(std::mem::take(&mut pending)).is_err() {
                    return;
                }
                continue;
            }
            // Strict callers come back in waves: each caller of the last
            // batch sends its next record once that batch is acknowledged.
            // Handing the first of them over alone would split the wave
            // across two syncs. So while fewer callers wait than did last
            // time, hold the batch for them, at most as long as one sync
            // takes; a lone strict caller is never held.
            if pending.waiting > 0
                && pending.waiting < last_waiting
                && !self.max_commit_hold.is_zero()
            {
                let until = *hold_until.get_or_insert_with(|| Instant::now() + self.hold_limit());
                match self.receiver.recv_deadline(until) {
                    Ok(message) => {
                        self.accept(&mut pending, message);
                        continue;
                    }
                    Err(RecvTimeoutError::Disconnected) => {
                        pending.shutdown = true;
                        continue;
                    }
                    Err(RecvTimeoutError::Timeout) => {}
                }
            }
            // Group commit: hand the batch over as soon as the chainer can
            // take it; while it is busy (writing, syncing), keep gathering.
            let mut select = Select::new();
            let send = select.send(&self.chainer);
            let receive = select.recv(&self.receiver);
            let operation = select.select();
            if operation.index() == send {
                (last_waiting, hold_until) = (pending.waiting, None);
                if operation
                    .send(&self.chainer, std::mem::take(&mut pending))
                    .is_err()
                {
                    return;
                }
            } else {
                debug_assert_eq!(operation.index(), receive);
                match operation.recv(&self.receiver) {
                    Ok(message) => self.accept(&mut pending, message),
                    Err(_) => pending.shutdown = true,
                }
            }
        }
    }

    /// Adds a message to the batch being gathered, hiding what the privacy
    /// policy names first: before the record is encoded, so before it is hashed.
    fn accept(&self, pending: &mut Bodies, message: Message) {
        match (&self.privacy, message) {
            (Some(privacy), Message::Record { mut event, ack }) => {
                // The policy parses before and after to hide what it names;
                // the changes between them come from that parse, not a second.
                match privacy.apply(&mut event) {
                    Some(changes) => {
                        pending.push_with_changes(&event, ack, &changes, &self.defaults);
                    }
                    None => pending.push(&event, ack, &self.defaults),
                }
            }
            (_, message) => pending.take(message, &self.defaults),
        }
    }

    /// The longest a batch is held for strict callers on their way back:
    /// the last sync's duration, so a held record waits at most one sync
    /// more, and never over [`WriterBuilder::max_commit_hold`].
    fn hold_limit(&self) -> Duration {
        Duration::from_nanos(self.shared.last_sync_nanos.load(Ordering::Relaxed))
            .min(self.max_commit_hold)
    }
}
