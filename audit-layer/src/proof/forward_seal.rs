//! Forward-secure seals: an HMAC of the chain's head at the end of every
//! epoch, under a key that evolves each epoch and is erased behind it.
//!
//! Checkpoints prove the log was not cut or re-written *if* their signing
//! key stays out of the attacker's hands. Seals cover the other case: the
//! writer's machine itself is taken over. The thief finds the key of the
//! current epoch `t` only; keys of earlier epochs cannot be computed from
//! it (each key is the SHA-256 of the one before), so:
//!
//! - records sealed before `t` cannot be re-sealed after a change (the
//!   attack of journald's CVE-2023-31439, where the newest key was accepted
//!   for old entries): their epoch's seal no longer matches, and a new seal
//!   for that epoch cannot be made;
//! - cutting the log and sealing on from `t` (CVE-2023-31438) leaves the
//!   epochs in between without a seal, because every epoch is sealed, empty
//!   ones too: the verifier reports the run of missing epochs.
//!
//! What was written in the current epoch, not yet sealed, is not protected;
//! the verifier reports it apart, as it does the tail after the last checkpoint.

use crate::proof::seal::Clock;
use crate::proof::seal::Seal;
use crate::proof::seal::SealingKey;
use std::fs::File;
use std::io::{self, Write};
use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use crate::record::chain::Hash;

/// The epoch length when none is given: fifteen minutes, as journald.
pub const DEFAULT_EPOCH: Duration = Duration::from_secs(15 * 60);

/// A writer's forward-secure sealing: the key file it evolves, and the
/// seals file it appends one line to at the end of every epoch.
///
/// At each epoch's end the writer syncs the log, appends the seal of its
/// durable head to the seals file and syncs it, then evolves the key and
/// replaces the key file. Epochs that ended while the writer was stopped
/// are sealed when it starts again, before it writes anything new. If a
/// seal cannot be written, the key evolves anyway: the old key must not
/// outlive its epoch. The missing seal then shows as a `seal-gap`, and
/// [`WriterStats::seal_errors`](crate::WriterStats::seal_errors) counts it.
///
/// # Examples
///
/// ```
/// use audit_layer::{AuditWriter, FileSink, ForwardSeals, SealingKey, DEFAULT_EPOCH};
///
/// let dir = tempfile::tempdir()?;
/// let (sealing, _verifying) = SealingKey::generate(DEFAULT_EPOCH)?;
/// sealing.save(dir.path().join("log.sealing"))?;
/// let seals = ForwardSeals::open(dir.path().join("log.sealing"), dir.path().join("log/seals.jsonl"))?;
/// let (_handle, _guard) = AuditWriter::builder()
///     .forward_seals(seals)
///     .spawn(FileSink::open(dir.path().join("log"))?)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct ForwardSeals {
    key: SealingKey,
    key_path: PathBuf,
    seals_path: PathBuf,
    seals: Option<File>,
    clock: Clock,
}

impl std::fmt::Debug for ForwardSeals {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ForwardSeals")
            .field("key_path", &self.key_path)
            .field("seals_path", &self.seals_path)
            .field("epoch", &self.key.epoch)
            .finish_non_exhaustive()
    }
}

impl ForwardSeals {
    /// Seals with the key in `key_path` into `seals_path` (created with mode
    /// 0600 if absent). If the seals file already holds the seal of the
    /// key's epoch (the writer stopped between writing it and evolving the
    /// key), the key moves on first.
    ///
    /// # Errors
    ///
    /// The key file cannot be read or replaced, or the seals file read.
    ///
    /// # Examples
    ///
    /// See [`ForwardSeals`].
    pub fn open(key_path: impl Into<PathBuf>, seals_path: impl Into<PathBuf>) -> io::Result<Self> {
        let key_path = key_path.into();
        let seals_path = seals_path.into();
        let mut key = SealingKey::load(&key_path)?;
        let last = match crate::store::safe_open::read_text(&seals_path, u64::MAX / 2) {
            Ok(text) => text.lines().rev().find_map(|line| Seal::parse(line).ok()),
            Err(error) if error.kind() == io::ErrorKind::NotFound => None,
            Err(error) => return Err(error),
        };
        if let Some(last) = last
            && last.epoch == key.epoch
            && last.mac == key.seal(last.size, last.head).mac
        {
            key.evolve();
            key.save(&key_path)?;
        }
        Ok(ForwardSeals {
            key,
            key_path,
            seals_path,
            seals: None,
            clock: Box::new(SystemTime::now),
        })
    }

    /// Reads the time from `clock` instead of the system clock: for tests
    /// and simulations that move through epochs without waiting. The writer
    /// checks for due seals whenever it writes, flushes or wakes.
    ///
    /// # Examples
    ///
    /// ```
    /// # use audit_layer::{ForwardSeals, SealingKey, DEFAULT_EPOCH};
    /// # let dir = tempfile::tempdir()?;
    /// # let (sealing, _) = SealingKey::generate(DEFAULT_EPOCH)?;
    /// # sealing.save(dir.path().join("k"))?;
    /// let later = std::time::SystemTime::now() + std::time::Duration::from_secs(3600);
    /// let seals = ForwardSeals::open(dir.path().join("k"), dir.path().join("seals.jsonl"))?
    ///     .clock(move || later);
    /// # let _ = seals;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn clock(mut self, clock: impl Fn() -> SystemTime + Send + 'static) -> Self {
        self.clock = Box::new(clock);
        self
    }

    /// How long until the current epoch's seal is due (zero if it is).
    pub(crate) fn until_due(&self) -> Duration {
        self.key
            .epoch_end()
            .duration_since((self.clock)())
            .unwrap_or(Duration::ZERO)
    }

    /// Seals every epoch that has ended with the log at `size` records
    /// whose last hashes to `head`; returns how many seals were written and
    /// the first error (each epoch's key evolves whether or not its seal
    /// could be written).
    pub(crate) fn seal_ended_epochs(&mut self, size: u64, head: Hash) -> (u64, Option<io::Error>) {
        let mut written = 0;
        let mut first_error = None;
        while self.until_due() == Duration::ZERO {
            let seal = self.key.seal(size, head);
            match self.append(&seal) {
                Ok(()) => written += 1,
                Err(error) => {
                    // A half-written line must not glue onto the next seal.
                    self.seals = None;
                    first_error.get_or_insert(error);
                }
            }
            self.key.evolve();
            if let Err(error) = self.key.save(&self.key_path) {
                first_error.get_or_insert(error);
            }
        }
        (written, first_error)
    }

    fn append(&mut self, seal: &Seal) -> io::Result<()> {
        if self.seals.is_none() {
            let file = match crate::store::safe_open::open_for_appending(&self.seals_path, false) {
                Err(error) if error.kind() == io::ErrorKind::NotFound => {
                    crate::store::safe_open::open_for_appending(&self.seals_path, true)?
                }
                opened => opened?,
            };
            self.seals = Some(file);
        }
        let file = self.seals.as_mut().expect("opened above");
        file.write_all(seal.line().as_bytes())?;
        file.sync_data()
    }
}
