//! The acknowledgement a writer gives a record: written durably, or not.
//!
//! One sender, one receiver; the receiver may block (sync callers) or be
//! awaited (async callers, without blocking the executor's thread).

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

struct Slot {
    result: Option<Result<(), WriteError>>,
    waker: Option<Waker>,
}

struct Shared {
    slot: Mutex<Slot>,
    ready: Condvar,
}

/// The writer's side of an acknowledgement.
pub(crate) struct AckSender {
    shared: Arc<Shared>,
}

/// Resolves once the writer has made a record durable (or failed to).
///
/// Block on it with [`wait`](Ack::wait), or `.await` it.
///
/// # Examples
///
/// ```
/// use audit_layer::{AuditEvent, AuditWriter, MemorySink};
///
/// let (sink, _log) = MemorySink::new();
/// let (handle, _guard) = AuditWriter::builder().spawn(sink).unwrap();
/// let ack = handle.submit_acked(AuditEvent::builder("session.login").build()).unwrap();
/// ack.wait().unwrap();
/// ```
#[must_use = "an acknowledgement does nothing unless waited for"]
pub struct Ack {
    shared: Arc<Shared>,
}

pub(crate) fn channel() -> (AckSender, Ack) {
    let shared = Arc::new(Shared {
        slot: Mutex::new(Slot {
            result: None,
            waker: None,
        }),
        ready: Condvar::new(),
    });
    (
        AckSender {
            shared: Arc::clone(&shared),
        },
        Ack { shared },
    )
}

impl AckSender {
    pub(crate) fn send(self, result: Result<(), WriteError>) {
        let waker = {
            let mut slot = self
                .shared
                .slot
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            slot.result = Some(result);
            slot.waker.take()
        };
        self.shared.ready.notify_all();
        if let Some(waker) = waker {
            waker.wake();
        }
    }
}

impl Drop for AckSender {
    fn drop(&mut self) {
        // A sender dropped without answering (the writer thread died) must not
        // leave its caller waiting forever.
        let mut slot = self
            .shared
            .slot
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if slot.result.is_none() {
            slot.result = Some(Err(WriteError::WriterGone));
            let waker = slot.waker.take();
            drop(slot);
            self.shared.ready.notify_all();
            if let Some(waker) = waker {
                waker.wake();
            }
        }
    }
}

impl Ack {
    /// Blocks the current thread until the writer answers.
    ///
    /// # Errors
    ///
    /// The [`WriteError`] that kept the record from being written durably.
    ///
    /// # Examples
    ///
    /// See [`Ack`].
    pub fn wait(self) -> Result<(), WriteError> {
        let mut slot = self
            .shared
            .slot
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        loop {
            if let Some(result) = slot.result.take() {
                return result;
            }
            slot = self
                .shared
                .ready
                .wait(slot)
                .unwrap_or_else(PoisonError::into_inner);
        }
    }

    /// Like [`wait`](Ack::wait), but gives up after `timeout`, returning the
    /// acknowledgement so the caller can wait again.
    ///
    /// # Errors
    ///
    /// `Err(Ok(ack))` on timeout; `Err(Err(e))` when the write failed.
    ///
    /// # Examples
    ///
    /// ```
    /// # use audit_layer::{AuditEvent, AuditWriter, MemorySink};
    /// # use std::time::Duration;
    /// # let (sink, _log) = MemorySink::new();
    /// # let (handle, _guard) = AuditWriter::builder().spawn(sink).unwrap();
    /// let ack = handle.submit_acked(AuditEvent::builder("a").build()).unwrap();
    /// assert!(ack.wait_timeout(Duration::from_secs(10)).is_ok());
    /// ```
    pub fn wait_timeout(self, timeout: Duration) -> Result<(), Result<Ack, WriteError>> {
        let slot = self
            .shared
            .slot
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let (mut slot, _) = self
            .shared
            .ready
            .wait_timeout_while(slot, timeout, |slot| slot.result.is_none())
            .unwrap_or_else(PoisonError::into_inner);
        match slot.result.take() {
            Some(Ok(())) => Ok(()),
            Some(Err(error)) => Err(Err(error)),
            None => {
                drop(slot);
                Err(Ok(self))
            }
        }
    }
}

impl Future for Ack {
    type Output = Result<(), WriteError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut slot = self
            .shared
            .slot
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        match slot.result.take() {
            Some(result) => Poll::Ready(result),
            None => {
                if !slot.waker.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
                    slot.waker = Some(cx.waker().clone());
                }
                Poll::Pending
            }
        }
    }
}

impl std::fmt::Debug for Ack {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ack").finish_non_exhaustive()
    }
}

/// Why a record was not written durably.
///
/// # Examples
///
/// ```
/// let error = audit_layer::WriteError::WriterGone;
/// assert_eq!(error.to_string(), "the audit writer has stopped");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum WriteError {
    /// The sink refused the write.
    #[error("the audit sink failed: {message}")]
    Sink {
        /// The I/O error kind.
        kind: io::ErrorKind,
        /// The I/O error text.
        message: String,
    },
    /// The write went through but could not be synced to stable storage.
    #[error("syncing the audit log to stable storage failed: {message}")]
    Sync {
        /// The I/O error kind.
        kind: io::ErrorKind,
        /// The I/O error text.
        message: String,
    },
    /// The writer thread is gone (shut down, or died).
    #[error("the audit writer has stopped")]
    WriterGone,
}

impl WriteError {
    pub(crate) fn sink(error: &io::Error) -> Self {
        WriteError::Sink {
            kind: error.kind(),
            message: error.to_string(),
        }
    }

    pub(crate) fn sync(error: &io::Error) -> Self {
        WriteError::Sync {
            kind: error.kind(),
            message: error.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dropped_sender_answers_writer_gone() {
        let (sender, ack) = channel();
        drop(sender);
        assert!(matches!(ack.wait(), Err(WriteError::WriterGone)));
    }

    #[test]
    fn answer_from_another_thread_wakes_the_waiter() {
        let (sender, ack) = channel();
        let answering = std::thread::spawn(move || sender.send(Ok(())));
        assert!(ack.wait().is_ok());
        answering.join().unwrap();
    }
}
