//! Forward-secure seals: the [`Seal`] of a chain head at the end of an
//! epoch, the sealing key that evolves each epoch and is erased behind it,
//! its verifying key, the MAC, and [`SealError`].

use crate::record::chain::Hash;
use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256};
use std::fs::File;
use std::io::{self, Read};
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use zeroize::Zeroizing;

pub(crate) const EVOLVE_CONTEXT: &[u8] = b"audit-layer seal key evolve v1\n";
pub(crate) const SEAL_CONTEXT: &str = "audit-layer seal v1";
pub(crate) const SEALING_KEY_HEADER: &str = "audit-layer sealing key v1";
pub(crate) const VERIFYING_KEY_HEADER: &str = "audit-layer seal verifying key v1";

/// Why a key or a seal could not be read or made.
///
/// # Examples
///
/// ```
/// let error = "junk".parse::<audit_layer::SealVerifyingKey>().unwrap_err();
/// assert!(error.to_string().contains("seal verifying key"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SealError {
    /// The operating system gave no randomness for a new key.
    #[error("no randomness for a new sealing key: {0}")]
    NoRandomness(String),
    /// The text is not what it should be.
    #[error("not a {what}: {why}")]
    Parse {
        /// What was expected.
        what: &'static str,
        /// What is wrong with it.
        why: String,
    },
    /// An epoch of zero seconds, or one starting before 1970.
    #[error("an epoch must last at least one second and start after 1970")]
    BadEpoch,
}

type Key = Zeroizing<[u8; 32]>;

pub(crate) fn evolve(key: &[u8; 32]) -> Key {
    let mut hasher = Sha256::new();
    hasher.update(EVOLVE_CONTEXT);
    hasher.update(key);
    Zeroizing::new(hasher.finalize().into())
}

pub(crate) fn unix_secs(time: SystemTime) -> Result<u64, SealError> {
    time.duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .map_err(|_| SealError::BadEpoch)
}

/// The epochs of a key pair: when epoch 0 starts and how long each lasts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Epochs {
    start: u64,
    seconds: u64,
}

impl Epochs {
    fn end_of(&self, epoch: u64) -> SystemTime {
        let secs = epoch
            .saturating_add(1)
            .saturating_mul(self.seconds)
            .saturating_add(self.start);
        UNIX_EPOCH + Duration::from_secs(secs)
    }

    fn write(&self, out: &mut String) {
        out.push_str(&format!(
            "start {}\nepoch-seconds {}\n",
            self.start, self.seconds
        ));
    }
}

/// Reads `name value` lines in the order given after `header`.
pub(crate) fn fields<'t>(
    text: &'t str,
    header: &str,
    names: &[&str],
    what: &'static str,
) -> Result<Vec<&'t str>, SealError> {
    let parse = |why: String| SealError::Parse { what, why };
    let mut lines = text.lines();
    if lines.next() != Some(header) {
        return Err(parse(format!("the first line is not {header:?}")));
    }
    names
        .iter()
        .map(|name| {
            let line = lines
                .next()
                .ok_or_else(|| parse(format!("no {name} line")))?;
            line.strip_prefix(name)
                .and_then(|rest| rest.strip_prefix(' '))
                .ok_or_else(|| parse(format!("expected a {name} line, found {line:?}")))
        })
        .collect()
}

pub(crate) fn number(value: &str, what: &'static str) -> Result<u64, SealError> {
    value.parse().map_err(|_| SealError::Parse {
        what,
        why: format!("{value:?} is not a number"),
    })
}

pub(crate) fn key_bytes(value: &str, what: &'static str) -> Result<Key, SealError> {
    let mut key = Zeroizing::new([0u8; 32]);
    hex::decode_to_slice(value, key.as_mut()).map_err(|_| SealError::Parse {
        what,
        why: "the key is not 64 hex digits".into(),
    })?;
    Ok(key)
}

/// The writer's half of a seal key pair: the key of the current epoch. It
/// moves forward one epoch at a time and cannot go back.
///
/// Keep it on the machine that writes the log, mode 0600; the writer
/// replaces the file at every epoch, so only the current key is on disk.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use audit_layer::SealingKey;
///
/// let (sealing, verifying) = SealingKey::generate(Duration::from_secs(900))?;
/// assert_eq!(sealing.epoch(), 0);
/// // The text form, for a file: parsed back, it is the same key.
/// let again: SealingKey = sealing.to_string().parse()?;
/// assert_eq!(again.to_string(), sealing.to_string());
/// # let _ = verifying;
/// # Ok::<(), audit_layer::SealError>(())
/// ```
pub struct SealingKey {
    epochs: Epochs,
    pub(crate) epoch: u64,
    key: Key,
}

impl std::fmt::Debug for SealingKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SealingKey")
            .field("epoch", &self.epoch)
            .finish_non_exhaustive()
    }
}

impl SealingKey {
    /// A new random key pair whose epoch 0 starts now (to the second).
    ///
    /// # Errors
    ///
    /// No randomness from the OS, or an epoch shorter than a second.
    ///
    /// # Examples
    ///
    /// See [`SealingKey`].
    pub fn generate(epoch: Duration) -> Result<(SealingKey, SealVerifyingKey), SealError> {
        let mut key0 = Zeroizing::new([0u8; 32]);
        getrandom::fill(key0.as_mut()).map_err(|e| SealError::NoRandomness(e.to_string()))?;
        SealingKey::from_key(key0, SystemTime::now(), epoch)
    }

    /// The key pair with this initial key and epoch 0 starting at `start`
    /// (to the second): for test vectors, and for a key made elsewhere.
    ///
    /// # Errors
    ///
    /// An epoch shorter than a second, or a start before 1970.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::{Duration, UNIX_EPOCH};
    /// let (sealing, _verifying) = audit_layer::SealingKey::from_key(
    ///     [7; 32],
    ///     UNIX_EPOCH + Duration::from_secs(1_700_000_000),
    ///     Duration::from_secs(60),
    /// )?;
    /// assert_eq!(sealing.epoch_end(), UNIX_EPOCH + Duration::from_secs(1_700_000_060));
    /// # Ok::<(), audit_layer::SealError>(())
    /// ```
    pub fn from_key(
        key0: impl Into<Zeroizing<[u8; 32]>>,
        start: SystemTime,
        epoch: Duration,
    ) -> Result<(SealingKey, SealVerifyingKey), SealError> {
        if epoch.as_secs() == 0 {
            return Err(SealError::BadEpoch);
        }
        let epochs = Epochs {
            start: unix_secs(start)?,
            seconds: epoch.as_secs(),
        };
        let key0 = key0.into();
        Ok((
            SealingKey {
                epochs,
                epoch: 0,
                key: key0.clone(),
            },
            SealVerifyingKey { epochs, key0 },
        ))
    }

    /// The epoch this key seals.
    ///
    /// # Examples
    ///
    /// See [`SealingKey`].
    pub fn epoch(&self) -> u64 {
        self.epoch
    }

    /// When the current epoch ends: its seal is due then.
    ///
    /// # Examples
    ///
    /// See [`from_key`](SealingKey::from_key).
    pub fn epoch_end(&self) -> SystemTime {
        self.epochs.end_of(self.epoch)
    }

    /// Seals `size` records whose last hash is `head` for the current epoch.
    pub(crate) fn seal(&self, size: u64, head: Hash) -> Seal {
        Seal {
            epoch: self.epoch,
            size,
            head,
            mac: mac(&self.key, self.epoch, size, head),
        }
    }

    /// Moves to the next epoch; the old key is overwritten in memory.
    pub(crate) fn evolve(&mut self) {
        self.key = evolve(&self.key);
        self.epoch += 1;
    }

    /// Reads a key file.
    ///
    /// # Errors
    ///
    /// The file cannot be read, or is not a sealing key
    /// ([`io::ErrorKind::InvalidData`]).
    ///
    /// # Examples
    ///
    /// ```
    /// let dir = tempfile::tempdir()?;
    /// let (sealing, _) = audit_layer::SealingKey::generate(audit_layer::DEFAULT_EPOCH)?;
    /// sealing.save(dir.path().join("log.sealing"))?;
    /// let read = audit_layer::SealingKey::load(dir.path().join("log.sealing"))?;
    /// assert_eq!(read.epoch(), 0);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn load(path: impl AsRef<Path>) -> io::Result<SealingKey> {
        let mut text = Zeroizing::new(String::new());
        File::open(path)?.read_to_string(&mut text)?;
        text.parse()
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
    }

    /// Writes the key to `path` with mode 0600, replacing any file there
    /// in one step (a new file renamed over the old), and syncs both.
    ///
    /// # Errors
    ///
    /// The file or its directory cannot be written or synced.
    ///
    /// # Examples
    ///
    /// See [`load`](SealingKey::load).
    pub fn save(&self, path: impl AsRef<Path>) -> io::Result<()> {
        crate::store::safe_open::replace(path.as_ref(), Zeroizing::new(self.to_string()).as_bytes())
    }
}

impl std::fmt::Display for SealingKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut text = format!("{SEALING_KEY_HEADER}\n");
        self.epochs.write(&mut text);
        text.push_str(&format!(
            "epoch {}\nkey {}\n",
            self.epoch,
            hex::encode(*self.key)
        ));
        f.write_str(&Zeroizing::new(text))
    }
}

impl std::str::FromStr for SealingKey {
    type Err = SealError;

    fn from_str(text: &str) -> Result<SealingKey, SealError> {
        const WHAT: &str = "sealing key";
        let values = fields(
            text,
            SEALING_KEY_HEADER,
            &["start", "epoch-seconds", "epoch", "key"],
            WHAT,
        )?;
        let epochs = Epochs {
            start: number(values[0], WHAT)?,
            seconds: number(values[1], WHAT)?,
        };
        if epochs.seconds == 0 {
            return Err(SealError::BadEpoch);
        }
        Ok(SealingKey {
            epochs,
            epoch: number(values[2], WHAT)?,
            key: key_bytes(values[3], WHAT)?,
        })
    }
}

/// The auditor's half of a seal key pair: the initial key, from which the
/// key of every epoch follows. Whoever holds it can check seals, and could
/// also make them: keep it off the machine that writes the log.
///
/// # Examples
///
/// ```
/// let (_sealing, verifying) = audit_layer::SealingKey::generate(audit_layer::DEFAULT_EPOCH)?;
/// let text = verifying.to_string();
/// assert!(text.starts_with("audit-layer seal verifying key v1\n"));
/// let again: audit_layer::SealVerifyingKey = text.parse()?;
/// assert_eq!(again, verifying);
/// # Ok::<(), audit_layer::SealError>(())
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct SealVerifyingKey {
    epochs: Epochs,
    key0: Key,
}

impl std::fmt::Debug for SealVerifyingKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SealVerifyingKey")
            .field("start", &self.epochs.start)
            .field("epoch_seconds", &self.epochs.seconds)
            .finish_non_exhaustive()
    }
}

impl SealVerifyingKey {
    /// When `epoch` ends.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::{Duration, UNIX_EPOCH};
    /// let (_, verifying) = audit_layer::SealingKey::from_key([1; 32], UNIX_EPOCH, Duration::from_secs(10))?;
    /// assert_eq!(verifying.epoch_end(2), UNIX_EPOCH + Duration::from_secs(30));
    /// # Ok::<(), audit_layer::SealError>(())
    /// ```
    pub fn epoch_end(&self, epoch: u64) -> SystemTime {
        self.epochs.end_of(epoch)
    }

    /// How many epochs had ended by `now`.
    pub(crate) fn epochs_ended_by(&self, now: SystemTime) -> u64 {
        let secs = unix_secs(now).unwrap_or(0);
        secs.saturating_sub(self.epochs.start) / self.epochs.seconds
    }

    /// Reads a verifying key file.
    ///
    /// # Errors
    ///
    /// The file cannot be read, or is not a verifying key
    /// ([`io::ErrorKind::InvalidData`]).
    ///
    /// # Examples
    ///
    /// ```
    /// let dir = tempfile::tempdir()?;
    /// let (_, verifying) = audit_layer::SealingKey::generate(audit_layer::DEFAULT_EPOCH)?;
    /// std::fs::write(dir.path().join("log.seal-verify"), verifying.to_string())?;
    /// let read = audit_layer::SealVerifyingKey::load(dir.path().join("log.seal-verify"))?;
    /// assert_eq!(read, verifying);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn load(path: impl AsRef<Path>) -> io::Result<SealVerifyingKey> {
        let mut text = Zeroizing::new(String::new());
        File::open(path)?.read_to_string(&mut text)?;
        text.parse()
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
    }
}

impl std::fmt::Display for SealVerifyingKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut text = format!("{VERIFYING_KEY_HEADER}\n");
        self.epochs.write(&mut text);
        text.push_str(&format!("key {}\n", hex::encode(*self.key0)));
        f.write_str(&Zeroizing::new(text))
    }
}

impl std::str::FromStr for SealVerifyingKey {
    type Err = SealError;

    fn from_str(text: &str) -> Result<SealVerifyingKey, SealError> {
        const WHAT: &str = "seal verifying key";
        let values = fields(
            text,
            VERIFYING_KEY_HEADER,
            &["start", "epoch-seconds", "key"],
            WHAT,
        )?;
        let epochs = Epochs {
            start: number(values[0], WHAT)?,
            seconds: number(values[1], WHAT)?,
        };
        if epochs.seconds == 0 {
            return Err(SealError::BadEpoch);
        }
        Ok(SealVerifyingKey {
            epochs,
            key0: key_bytes(values[2], WHAT)?,
        })
    }
}

/// Walks the key sequence forward from the initial key, so that checking
/// seals in epoch order costs one hash per epoch in all.
pub(crate) struct EpochKeys<'k> {
    verifying: &'k SealVerifyingKey,
    epoch: u64,
    key: Key,
}

impl<'k> EpochKeys<'k> {
    pub(crate) fn new(verifying: &'k SealVerifyingKey) -> Self {
        EpochKeys {
            verifying,
            epoch: 0,
            key: verifying.key0.clone(),
        }
    }

    /// Whether `seal` carries the MAC of its epoch's key.
    pub(crate) fn verifies(&mut self, seal: &Seal) -> bool {
        if seal.epoch < self.epoch {
            *self = EpochKeys::new(self.verifying);
        }
        while self.epoch < seal.epoch {
            self.key = evolve(&self.key);
            self.epoch += 1;
        }
        let mut check = <Hmac<Sha256> as KeyInit>::new_from_slice(self.key.as_ref())
            .expect("HMAC takes a key of any length");
        check.update(signed_text(seal.epoch, seal.size, seal.head).as_bytes());
        check.verify_slice(&seal.mac).is_ok()
    }
}

pub(crate) fn signed_text(epoch: u64, size: u64, head: Hash) -> String {
    format!("{SEAL_CONTEXT}\n{epoch}\n{size}\n{head}\n")
}

pub(crate) fn mac(key: &[u8; 32], epoch: u64, size: u64, head: Hash) -> [u8; 32] {
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(key).expect("any key length");
    mac.update(signed_text(epoch, size, head).as_bytes());
    mac.finalize().into_bytes().into()
}

/// One epoch's seal: the log had `size` records, the last hashing to
/// `head`, when `epoch` ended.
///
/// # Examples
///
/// ```
/// // The first seal of FORMAT.md's test vectors.
/// let line = r#"{"epoch":0,"size":2,"head":"5b758c88adcb3d39cc1ddd43c2a7ae58e63076eac52111b6b002e709a665e685","mac":"23a9529f8321feb2b5d31f962d1d66a36932b2df97c4ce5f4955939b2b4bffed"}"#;
/// let seal = audit_layer::Seal::parse(line)?;
/// assert_eq!((seal.epoch, seal.size), (0, 2));
/// assert_eq!(seal.line(), format!("{line}\n"));
/// # Ok::<(), audit_layer::SealError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seal {
    /// The epoch sealed.
    pub epoch: u64,
    /// Records in the log at the end of the epoch.
    pub size: u64,
    /// The hash of the record with seq `size - 1` (the genesis value for size 0).
    pub head: Hash,
    /// HMAC-SHA256 of the seal's text under the epoch's key.
    pub mac: [u8; 32],
}

#[derive(serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SealLine {
    epoch: u64,
    size: u64,
    head: String,
    mac: String,
}

impl Seal {
    /// The seal as one JSON line, as the seals file holds it.
    ///
    /// # Examples
    ///
    /// See [`Seal`].
    pub fn line(&self) -> String {
        let line = SealLine {
            epoch: self.epoch,
            size: self.size,
            head: self.head.to_string(),
            mac: hex::encode(self.mac),
        };
        let mut text = serde_json::to_string(&line).expect("plain fields serialise");
        text.push('\n');
        text
    }

    /// Reads one line of a seals file.
    ///
    /// # Errors
    ///
    /// [`SealError::Parse`] when the line is not a seal.
    ///
    /// # Examples
    ///
    /// See [`Seal`].
    pub fn parse(line: &str) -> Result<Seal, SealError> {
        let parse = |why: String| SealError::Parse { what: "seal", why };
        let line: SealLine = serde_json::from_str(line).map_err(|e| parse(e.to_string()))?;
        let head = Hash::from_hex(line.head.as_bytes())
            .ok_or_else(|| parse("head is not 64 hex digits".into()))?;
        let mut mac = [0u8; 32];
        hex::decode_to_slice(&line.mac, &mut mac)
            .map_err(|_| parse("mac is not 64 hex digits".into()))?;
        Ok(Seal {
            epoch: line.epoch,
            size: line.size,
            head,
            mac,
        })
    }
}

pub(crate) type Clock = Box<dyn Fn() -> SystemTime + Send>;

#[cfg(test)]
mod tests {
    use super::*;

    fn pair() -> (SealingKey, SealVerifyingKey) {
        SealingKey::from_key([3; 32], UNIX_EPOCH, Duration::from_secs(60)).unwrap()
    }

    #[test]
    fn a_seal_verifies_under_its_own_epoch_key_only() {
        let (mut sealing, verifying) = pair();
        sealing.evolve();
        sealing.evolve();
        let seal = sealing.seal(5, Hash::of(b"head"));
        assert!(EpochKeys::new(&verifying).verifies(&seal));
        let relabelled = Seal { epoch: 1, ..seal };
        assert!(!EpochKeys::new(&verifying).verifies(&relabelled));
    }

    #[test]
    fn epoch_keys_walk_back_when_asked_for_an_earlier_epoch() {
        let (mut sealing, verifying) = pair();
        let first = sealing.seal(0, crate::record::chain::GENESIS);
        sealing.evolve();
        let second = sealing.seal(1, Hash::of(b"x"));
        let mut keys = EpochKeys::new(&verifying);
        assert!(keys.verifies(&second));
        assert!(keys.verifies(&first));
    }

    #[test]
    fn key_text_round_trips_and_rejects_junk() {
        let (sealing, verifying) = pair();
        let parsed: SealingKey = sealing.to_string().parse().unwrap();
        assert_eq!(parsed.to_string(), sealing.to_string());
        let parsed: SealVerifyingKey = verifying.to_string().parse().unwrap();
        assert_eq!(parsed, verifying);
        assert!(
            "audit-layer sealing key v1\nstart 0\n"
                .parse::<SealingKey>()
                .is_err()
        );
        let zero_epoch = sealing
            .to_string()
            .replace("epoch-seconds 60", "epoch-seconds 0");
        assert_eq!(
            zero_epoch.parse::<SealingKey>().unwrap_err(),
            SealError::BadEpoch
        );
    }
}
