//! The hash chain: the exact bytes of a record line, and how a line is checked.
//!
//! The writer and the verifier share this module, so the bytes that are hashed
//! when a record is written are, by construction, the bytes the verifier checks.
//!
//! A record is one line of JSON:
//!
//! ```text
//! {"v":1,"seq":7,"prev":"<64 hex>", ...fields... ,"hash":"<64 hex>"}\n
//! ```
//!
//! `hash` is the SHA-256 of every byte of the line that precedes
//! `,"hash":"`, that is, the line without its last 75 bytes and without the
//! newline. Verifying a record therefore needs no parsing, re-serialising or
//! canonicalising of its JSON: slice, hash, compare. `FORMAT.md` is the
//! normative description.

use std::fmt;
use std::str::FromStr;

use sha2::{Digest, Sha256};

/// The format version written in the `v` field of every record.
///
/// # Examples
///
/// ```
/// assert_eq!(audit_layer::chain::FORMAT_VERSION, 1);
/// ```
pub const FORMAT_VERSION: u32 = 1;

/// The `prev` value of the first record of a log (seq 0): 32 zero bytes.
///
/// # Examples
///
/// ```
/// use audit_layer::chain::GENESIS;
/// assert_eq!(GENESIS.to_string(), "0".repeat(64));
/// ```
pub const GENESIS: Hash = Hash([0; 32]);

/// Length of the fixed-size tail of every line: `,"hash":"` + 64 hex digits + `"}`.
pub(crate) const HASH_SUFFIX_LEN: usize = HASH_KEY.len() + 64 + 2;
const HASH_KEY: &[u8] = b",\"hash\":\"";
const VERSION_KEY: &[u8] = b"{\"v\":";
const SEQ_KEY: &[u8] = b",\"seq\":";
const PREV_KEY: &[u8] = b",\"prev\":\"";

/// A SHA-256 digest, written as 64 lowercase hexadecimal digits.
///
/// # Examples
///
/// ```
/// use audit_layer::chain::Hash;
///
/// let hash = Hash::of(b"abc");
/// assert_eq!(
///     hash.to_string(),
///     "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
/// );
/// assert_eq!(hash.to_string().parse::<Hash>().unwrap(), hash);
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Hash([u8; 32]);

impl Hash {
    /// Wraps 32 raw bytes.
    ///
    /// # Examples
    ///
    /// ```
    /// use audit_layer::chain::{Hash, GENESIS};
    /// assert_eq!(Hash::from_bytes([0; 32]), GENESIS);
    /// ```
    pub const fn from_bytes(bytes: [u8; 32]) -> Self {
        Hash(bytes)
    }

    /// The raw 32 bytes.
    ///
    /// # Examples
    ///
    /// ```
    /// use audit_layer::chain::GENESIS;
    /// assert_eq!(GENESIS.as_bytes(), &[0u8; 32]);
    /// ```
    pub const fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// The SHA-256 of `bytes`.
    ///
    /// # Examples
    ///
    /// ```
    /// use audit_layer::chain::Hash;
    /// assert_ne!(Hash::of(b"a"), Hash::of(b"b"));
    /// ```
    pub fn of(bytes: &[u8]) -> Self {
        Hash(Sha256::digest(bytes).into())
    }

    /// Parses exactly 64 lowercase hexadecimal digits.
    ///
    /// Upper-case digits are refused: the hash field sits outside the hashed
    /// bytes, so accepting two spellings of one hash would let a byte change
    /// there go unnoticed.
    ///
    /// # Examples
    ///
    /// ```
    /// use audit_layer::chain::Hash;
    /// assert!(Hash::from_hex(&[b'a'; 64]).is_some());
    /// assert!(Hash::from_hex(&[b'A'; 64]).is_none());
    /// assert!(Hash::from_hex(b"abc").is_none());
    /// ```
    pub fn from_hex(hex: &[u8]) -> Option<Self> {
        if hex.len() != 64 {
            return None;
        }
        // Branch-free: decode every pair, then check once whether any digit was invalid.
        let mut out = [0u8; 32];
        let mut invalid = 0u8;
        for (byte, pair) in out.iter_mut().zip(hex.chunks_exact(2)) {
            let (high, low) = (
                HEX_VALUE[usize::from(pair[0])],
                HEX_VALUE[usize::from(pair[1])],
            );
            invalid |= high | low;
            *byte = (high << 4) | (low & 0x0f);
        }
        (invalid & 0xf0 == 0).then_some(Hash(out))
    }

    /// Writes the 64 lowercase hex digits into `out`.
    pub(crate) fn write_hex(&self, out: &mut [u8; 64]) {
        const DIGITS: &[u8; 16] = b"0123456789abcdef";
        for (i, byte) in self.0.iter().enumerate() {
            out[2 * i] = DIGITS[usize::from(byte >> 4)];
            out[2 * i + 1] = DIGITS[usize::from(byte & 0x0f)];
        }
    }
}

/// Value of each byte as a lowercase hex digit; 0xff for anything else.
const HEX_VALUE: [u8; 256] = {
    let mut table = [0xffu8; 256];
    let mut digit = 0;
    while digit < 16 {
        table[b"0123456789abcdef"[digit] as usize] = digit as u8;
        digit += 1;
    }
    table
};

fn lower_hex_value(digit: u8) -> Option<u8> {
    let value = HEX_VALUE[usize::from(digit)];
    (value != 0xff).then_some(value)
}

impl fmt::Display for Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut hex = [0u8; 64];
        self.write_hex(&mut hex);
        // write_hex only produces ASCII digits.
        f.write_str(std::str::from_utf8(&hex).map_err(|_| fmt::Error)?)
    }
}

impl fmt::Debug for Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Hash({self})")
    }
}

/// The error of parsing a [`Hash`](struct@Hash) from text.
///
/// # Examples
///
/// ```
/// use audit_layer::chain::Hash;
/// let err = "xyz".parse::<Hash>().unwrap_err();
/// assert!(err.to_string().contains("64 lowercase"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a hash is 64 lowercase hexadecimal digits")]
pub struct ParseHashError;

impl FromStr for Hash {
    type Err = ParseHashError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Hash::from_hex(s.as_bytes()).ok_or(ParseHashError)
    }
}

impl serde::Serialize for Hash {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut hex = [0u8; 64];
        self.write_hex(&mut hex);
        serializer.serialize_str(std::str::from_utf8(&hex).map_err(serde::ser::Error::custom)?)
    }
}

impl<'de> serde::Deserialize<'de> for Hash {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// Where the chain stands: the seq the next record gets and the hash it links to.
///
/// # Examples
///
/// ```
/// use audit_layer::chain::{ChainHead, GENESIS};
/// let head = ChainHead::genesis();
/// assert_eq!(head.next_seq, 0);
/// assert_eq!(head.prev, GENESIS);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChainHead {
    /// The seq of the next record to be written.
    pub next_seq: u64,
    /// The hash of the last record written ([`GENESIS`] for an empty log).
    pub prev: Hash,
}

impl ChainHead {
    /// The head of an empty log.
    ///
    /// # Examples
    ///
    /// ```
    /// # use audit_layer::chain::ChainHead;
    /// assert_eq!(ChainHead::genesis().next_seq, 0);
    /// ```
    pub const fn genesis() -> Self {
        ChainHead {
            next_seq: 0,
            prev: GENESIS,
        }
    }
}

/// One framed line, split into the parts the chain checks.
#[derive(Debug, Clone, Copy)]
pub(crate) struct LineView<'a> {
    /// The format version; framing is the same in every version, so a line
    /// of an unknown version can still have its hash and link checked.
    pub(crate) version: u64,
    pub(crate) seq: u64,
    pub(crate) prev: Hash,
    /// The hash the line claims for itself.
    pub(crate) stored_hash: Hash,
    /// The bytes the claimed hash covers.
    pub(crate) hashed: &'a [u8],
}

impl LineView<'_> {
    /// The hash the line's bytes actually have.
    pub(crate) fn computed_hash(&self) -> Hash {
        Hash::of(self.hashed)
    }
}

/// Why a line does not have the shape of a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct FramingError(pub(crate) &'static str);

/// Splits a line (without its newline) into seq, prev, stored hash and hashed bytes.
pub(crate) fn frame(line: &[u8]) -> Result<LineView<'_>, FramingError> {
    let rest = line
        .strip_prefix(VERSION_KEY)
        .ok_or(FramingError("does not start with {\"v\":"))?;
    let (version, rest) = split_number(rest).ok_or(FramingError("version is not a number"))?;
    let rest = rest
        .strip_prefix(SEQ_KEY)
        .ok_or(FramingError("seq does not follow the version"))?;
    let (seq, rest) = split_number(rest).ok_or(FramingError("seq is not a number"))?;
    if seq == u64::MAX {
        // The size of a log is its last seq plus one, and must fit in 64 bits.
        return Err(FramingError(
            "seq is 2^64 - 1, which leaves no room for a size",
        ));
    }
    let rest = rest
        .strip_prefix(PREV_KEY)
        .ok_or(FramingError("prev does not follow seq"))?;
    let prev = rest
        .get(..64)
        .and_then(Hash::from_hex)
        .ok_or(FramingError("prev is not 64 lowercase hex digits"))?;
    if rest.get(64..66) != Some(b"\",") {
        return Err(FramingError("prev is not followed by a field"));
    }
    let consumed = line.len() - rest.len() + 66;
    if line.len() < consumed + HASH_SUFFIX_LEN {
        return Err(FramingError("line is too short to end with a hash"));
    }
    let split = line.len() - HASH_SUFFIX_LEN;
    let (hashed, suffix) = line.split_at(split);
    let hex = suffix
        .strip_prefix(HASH_KEY)
        .and_then(|s| s.strip_suffix(b"\"}"))
        .ok_or(FramingError(
            "line does not end with ,\"hash\":\"<64 hex>\"}",
        ))?;
    let stored_hash =
        Hash::from_hex(hex).ok_or(FramingError("hash is not 64 lowercase hex digits"))?;
    Ok(LineView {
        version,
        seq,
        prev,
        stored_hash,
        hashed,
    })
}

/// Why a line does not vouch for itself.
///
/// # Examples
///
/// See [`check_line`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LineCheckError {
    /// The line does not have the shape of a record.
    #[error("not a record: {0}")]
    NotARecord(&'static str),
    /// The line's bytes do not hash to the hash it carries.
    #[error("modified: its bytes hash to {computed}, not to the hash it carries")]
    Modified {
        /// What they hash to.
        computed: Hash,
    },
}

/// Checks that a record's line (without its newline) hashes to the hash it
/// carries (FORMAT.md section 3), and returns that hash. It says nothing of
/// the record's place in the chain: that is the verifier's job.
///
/// # Errors
///
/// [`LineCheckError`].
///
/// # Examples
///
/// ```
/// use audit_layer::chain::{LineCheckError, check_line};
/// assert!(matches!(check_line(b"{}"), Err(LineCheckError::NotARecord(_))));
/// ```
pub fn check_line(line: &[u8]) -> Result<Hash, LineCheckError> {
    let view = frame(line).map_err(|error| LineCheckError::NotARecord(error.0))?;
    let computed = view.computed_hash();
    if computed == view.stored_hash {
        Ok(computed)
    } else {
        Err(LineCheckError::Modified { computed })
    }
}

/// The seq a line carries, if it has the frame of a record (its hash is
/// not checked): where a reader resuming at a seq skips to.
///
/// # Examples
///
/// ```
/// use audit_layer::chain::frame_seq;
/// assert_eq!(frame_seq(b"not a record"), None);
/// ```
pub fn frame_seq(line: &[u8]) -> Option<u64> {
    frame(line).ok().map(|view| view.seq)
}

/// The hash a line that does not frame still ends with, if it does: what a
/// damaged record carried before it was damaged.
pub(crate) fn carried_hash(line: &[u8]) -> Option<Hash> {
    let suffix = line
        .len()
        .checked_sub(HASH_SUFFIX_LEN)
        .map(|at| &line[at..])?;
    suffix
        .strip_prefix(HASH_KEY)
        .and_then(|s| s.strip_suffix(b"\"}"))
        .and_then(Hash::from_hex)
}

/// Whether `partial` can be the beginning of a record line: a line cut short
/// by a crash always is; foreign bytes almost never are.
pub(crate) fn is_line_prefix(partial: &[u8]) -> bool {
    enum Step {
        Literal(&'static [u8]),
        Number,
        Hex64,
    }
    const STEPS: [Step; 7] = [
        Step::Literal(VERSION_KEY),
        Step::Number,
        Step::Literal(SEQ_KEY),
        Step::Number,
        Step::Literal(PREV_KEY),
        Step::Hex64,
        Step::Literal(b"\","),
    ];
    let mut rest = partial;
    for step in STEPS {
        if rest.is_empty() {
            return true;
        }
        match step {
            Step::Literal(literal) => {
                let n = literal.len().min(rest.len());
                if rest[..n] != literal[..n] {
                    return false;
                }
                rest = &rest[n..];
            }
            Step::Number => {
                let digits = rest.iter().take_while(|b| b.is_ascii_digit()).count();
                if digits == 0 {
                    return false;
                }
                rest = &rest[digits..];
            }
            Step::Hex64 => {
                let n = 64.min(rest.len());
                if !rest[..n].iter().all(|&b| lower_hex_value(b).is_some()) {
                    return false;
                }
                rest = &rest[n..];
            }
        }
    }
    !rest.contains(&b'\n')
}

/// The seq of a line that was cut short, if it got far enough to say.
pub(crate) fn frame_prefix_seq(partial: &[u8]) -> Option<u64> {
    let rest = partial.strip_prefix(VERSION_KEY)?;
    let (_, rest) = split_number(rest)?;
    let (seq, rest) = split_number(rest.strip_prefix(SEQ_KEY)?)?;
    // Digits running to the end may be a number cut short.
    (!rest.is_empty()).then_some(seq)
}

/// Parses a JSON unsigned integer as serde_json writes it (no sign, no leading zero).
fn split_number(bytes: &[u8]) -> Option<(u64, &[u8])> {
    let digits = bytes.iter().take_while(|b| b.is_ascii_digit()).count();
    if digits == 0 || (digits > 1 && bytes[0] == b'0') {
        return None;
    }
    let mut value: u64 = 0;
    for &digit in &bytes[..digits] {
        value = value
            .checked_mul(10)?
            .checked_add(u64::from(digit - b'0'))?;
    }
    Some((value, &bytes[digits..]))
}

/// Turns `buf[start..]`, a JSON object that begins with the version, seq and
/// prev fields and ends with `}`, into a sealed line: the closing brace makes
/// way for the hash field, and a newline ends the line.
pub(crate) fn seal(buf: &mut Vec<u8>, start: usize) -> Hash {
    debug_assert_eq!(buf.last(), Some(&b'}'));
    buf.pop();
    let hash = Hash::of(&buf[start..]);
    let mut hex = [0u8; 64];
    hash.write_hex(&mut hex);
    buf.extend_from_slice(HASH_KEY);
    buf.extend_from_slice(&hex);
    buf.extend_from_slice(b"\"}\n");
    hash
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sealed(body: &str) -> Vec<u8> {
        let mut buf = body.as_bytes().to_vec();
        seal(&mut buf, 0);
        buf
    }

    #[test]
    fn sealed_line_frames_back_to_its_parts() {
        let prev = Hash::of(b"previous");
        let body = format!("{{\"v\":1,\"seq\":42,\"prev\":\"{prev}\",\"action\":\"x\"}}");
        let line = sealed(&body);
        let view = frame(&line[..line.len() - 1]).unwrap();
        assert_eq!(view.seq, 42);
        assert_eq!(view.prev, prev);
        assert_eq!(view.stored_hash, view.computed_hash());
        assert_eq!(view.hashed, &body.as_bytes()[..body.len() - 1]);
    }

    #[test]
    fn framing_is_the_same_for_every_version() {
        let v2 = sealed(&format!(
            "{{\"v\":2,\"seq\":1,\"prev\":\"{GENESIS}\",\"a\":1}}"
        ));
        let view = frame(&v2[..v2.len() - 1]).unwrap();
        assert_eq!((view.version, view.seq), (2, 1));
        assert_eq!(view.stored_hash, view.computed_hash());
    }

    #[test]
    fn framing_refuses_other_shapes() {
        for bad in [
            &b"{}"[..],
            b"{\"v\":1,\"seq\":01,\"prev\":\"\"}",
            b"{\"v\":1,\"seq\":99999999999999999999999,\"prev\":\"\"}",
        ] {
            assert!(frame(bad).is_err());
        }
    }

    #[test]
    fn every_prefix_of_a_line_is_a_line_prefix_and_junk_is_not() {
        let line = sealed(&format!(
            "{{\"v\":1,\"seq\":7,\"prev\":\"{GENESIS}\",\"a\":1}}"
        ));
        for cut in 0..line.len() {
            assert!(is_line_prefix(&line[..cut]), "cut at {cut}");
        }
        for junk in [&b"x"[..], b"{\"v\":x", b"{\"v\":1,\"seq\":2,\"prev\":\"g"] {
            assert!(!is_line_prefix(junk));
        }
    }

    #[test]
    fn uppercase_hash_is_refused() {
        let mut line = sealed(&format!(
            "{{\"v\":1,\"seq\":1,\"prev\":\"{GENESIS}\",\"a\":1}}"
        ));
        line.pop();
        let at = line.iter().rposition(|b| b.is_ascii_lowercase()).unwrap();
        line[at] = line[at].to_ascii_uppercase();
        assert!(matches!(frame(&line), Err(FramingError(_))));
    }
}
