//! A witness (C2SP `tlog-witness`): it cosigns a log's checkpoint only if
//! the checkpoint is consistent with the last one it cosigned for that log,
//! so a log that rolls back or forks cannot collect cosignatures; and the
//! client a writer uses to ask witnesses.
//!
//! The HTTP side is deliberately small: HTTP/1.1 over plain TCP, one
//! `POST <prefix>/add-checkpoint`, bodies of at most 64 KiB, keep-alive.
//! Put it behind a TLS-terminating proxy (a bastion) to expose it.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use sha2::{Digest, Sha256};

use crate::proof::checkpoint::Checkpoint;
use crate::proof::cosignature::{CosignerKey, CosignerVerifier};
use crate::proof::http_post::MAX_BODY;
use crate::proof::merkle;
use crate::proof::note::{NoteError, SignerKey, VerifierKey};
use crate::record::chain::Hash;
use crate::store::safe_open;

/// The most consistency proof lines a request may carry (tlog-witness).
const MAX_PROOF_LINES: usize = 63;
const MAX_HEADERS: usize = 16 * 1024;

/// What a witness answers: an HTTP status, a content type and a body.
///
/// # Examples
///
/// See [`Witness`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct WitnessAnswer {
    /// The HTTP status (200, 400, 403, 404, 409, 413, 422).
    pub status: u16,
    /// The body's content type.
    pub content_type: &'static str,
    /// The body: cosignature lines on 200, the witnessed size on 409, a
    /// reason otherwise.
    pub body: String,
}

impl WitnessAnswer {
    fn refuse(status: u16, why: impl Into<String>) -> Self {
        WitnessAnswer {
            status,
            content_type: "text/plain; charset=utf-8",
            body: format!("{}\n", why.into()),
        }
    }
}

/// A witness: its key, the logs it witnesses (by their checkpoint keys, the
/// origin being the key's name), and the last checkpoint it cosigned for
/// each, kept in a state directory and replaced atomically.
///
/// # Examples
///
/// ```
/// use audit_layer::merkle::{MemoryTree, leaf_hash, root};
/// use audit_layer::{Checkpoint, SignerKey, Witness, chain::GENESIS};
///
/// let state = tempfile::tempdir()?;
/// let log_key = SignerKey::generate("example.com/log")?;
/// let witness = Witness::new(
///     SignerKey::generate("witness.example/w1")?,
///     vec![log_key.verifier()],
///     state.path(),
/// )?;
/// let mut tree = MemoryTree::new();
/// tree.push(leaf_hash(b"first"));
/// let checkpoint = Checkpoint { origin: "example.com/log".into(), size: 1, head: GENESIS, root: Some(root(&tree, 1)?) };
/// let body = format!("old 0\n\n{}", checkpoint.sign(&log_key));
/// let answer = witness.add_checkpoint(body.as_bytes());
/// assert_eq!(answer.status, 200);
/// assert!(answer.body.starts_with("— witness.example/w1 "));
/// // The same request again: the witness has moved on to size 1.
/// assert_eq!(witness.add_checkpoint(body.as_bytes()).status, 409);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct Witness {
    key: CosignerKey,
    logs: Vec<VerifierKey>,
    state: PathBuf,
    /// Check-then-update of a log's state is one step (tlog-witness).
    lock: Mutex<()>,
}

/// A request body of `add-checkpoint`, parsed.
struct Submission<'a> {
    old_size: u64,
    proof: Vec<Hash>,
    note: &'a str,
}

fn parse_submission(body: &[u8]) -> Result<Submission<'_>, WitnessAnswer> {
    let bad = |why: &str| WitnessAnswer::refuse(400, why);
    let text = std::str::from_utf8(body).map_err(|_| bad("the body is not UTF-8"))?;
    let (first, rest) = text
        .split_once('\n')
        .ok_or_else(|| bad("no old size line"))?;
    let old = first
        .strip_prefix("old ")
        .filter(|n| !n.is_empty() && (n == &"0" || !n.starts_with('0')))
        .and_then(|n| n.parse::<u64>().ok())
        .ok_or_else(|| bad("the first line is not `old <size>`"))?;
    let mut proof = Vec::new();
    let mut rest = rest;
    loop {
        let (line, after) = rest
            .split_once('\n')
            .ok_or_else(|| bad("no empty line before the checkpoint"))?;
        rest = after;
        if line.is_empty() {
            break;
        }
        if proof.len() == MAX_PROOF_LINES {
            return Err(bad("more than 63 consistency proof lines"));
        }
        let bytes: [u8; 32] = STANDARD
            .decode(line)
            .ok()
            .and_then(|b| b.try_into().ok())
            .ok_or_else(|| bad("a proof line is not a base64 hash"))?;
        proof.push(Hash::from_bytes(bytes));
    }
    Ok(Submission {
        old_size: old,
        proof,
        note: rest,
    })
}

fn now_seconds() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

impl Witness {
    /// A witness signing with `key`, witnessing the logs whose checkpoints
    /// `logs` sign, keeping its state in `state` (created owner-only).
    ///
    /// # Errors
    ///
    /// I/O errors creating the state directory.
    ///
    /// # Examples
    ///
    /// See [`Witness`].
    pub fn new(
        key: SignerKey,
        logs: Vec<VerifierKey>,
        state: impl Into<PathBuf>,
    ) -> io::Result<Self> {
        let state = state.into();
        std::fs::create_dir_all(&state)?;
        let dir = safe_open::OpenDir::open(&state)?;
        safe_open::owner_only(&state, dir.as_file(), 0o700)?;
        Ok(Witness {
            key: CosignerKey::new(key),
            logs,
            state,
            lock: Mutex::new(()),
        })
    }

    /// Its public key, for verifiers (`audit verify --witness`).
    ///
    /// # Examples
    ///
    /// ```
    /// # let state = tempfile::tempdir()?;
    /// let witness = audit_layer::Witness::new(audit_layer::SignerKey::generate("w.example/1")?, vec![], state.path())?;
    /// assert!(witness.verifier().to_string().starts_with("w.example/1+"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn verifier(&self) -> CosignerVerifier {
        self.key.verifier()
    }

    fn state_path(&self, origin: &str) -> PathBuf {
        self.state.join(format!(
            "{}.checkpoint",
            hex::encode(Sha256::digest(origin.as_bytes()))
        ))
    }

    /// The size and root this witness last cosigned for `origin`.
    fn latest(&self, origin: &str) -> io::Result<Option<(u64, Hash)>> {
        let text = match safe_open::read_text(&self.state_path(origin), 4096) {
            Ok(text) => text,
            Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(error) => return Err(error),
        };
        let mut lines = text.lines();
        let parsed = (|| {
            let (stored_origin, size, root) = (lines.next()?, lines.next()?, lines.next()?);
            let root: [u8; 32] = STANDARD.decode(root).ok()?.try_into().ok()?;
            (stored_origin == origin).then_some((size.parse().ok()?, Hash::from_bytes(root)))
        })();
        parsed.map(Some).ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                "the witness's state file is damaged",
            )
        })
    }

    /// Handles one `add-checkpoint` request body, as C2SP tlog-witness
    /// specifies: 404 for an unknown log, 403 for a checkpoint no trusted
    /// key signed (or one it signed badly), 400 for a malformed request,
    /// 409 (with the witnessed size) when the old size is not the one it
    /// last cosigned, 422 when the consistency proof does not verify, 200
    /// with its cosignature otherwise, after storing the new state.
    ///
    /// # Examples
    ///
    /// See [`Witness`].
    pub fn add_checkpoint(&self, body: &[u8]) -> WitnessAnswer {
        if body.len() > MAX_BODY {
            return WitnessAnswer::refuse(413, "the body is larger than 64 KiB");
        }
        let submission = match parse_submission(body) {
            Ok(submission) => submission,
            Err(answer) => return answer,
        };
        let origin = submission.note.lines().next().unwrap_or_default();
        let trusted: Vec<VerifierKey> = self
            .logs
            .iter()
            .filter(|key| key.name() == origin)
            .cloned()
            .collect();
        if trusted.is_empty() {
            return WitnessAnswer::refuse(404, "this witness does not witness that log");
        }
        let checkpoint = match Checkpoint::open(submission.note, &trusted) {
            Ok((checkpoint, _)) => checkpoint,
            Err(crate::proof::checkpoint::CheckpointError::Note(
                NoteError::UnknownKey(_) | NoteError::BadSignature(_),
            )) => return WitnessAnswer::refuse(403, "no valid signature by the log's key"),
            Err(_) => return WitnessAnswer::refuse(400, "not a checkpoint"),
        };
        // tlog-checkpoint's third line is the tree root: for our first kind
        // of checkpoint it is the chain head, and consistency cannot hold.
        let root = checkpoint.root.unwrap_or(checkpoint.head);
        if submission.old_size > checkpoint.size {
            return WitnessAnswer::refuse(400, "the old size is larger than the checkpoint's");
        }
        let _one_at_a_time = self
            .lock
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let latest = match self.latest(origin) {
            Ok(latest) => latest,
            Err(error) => return WitnessAnswer::refuse(500, error.to_string()),
        };
        let (known_size, known_root) = latest.unwrap_or((0, merkle::empty_root()));
        if submission.old_size != known_size {
            return WitnessAnswer {
                status: 409,
                content_type: "text/x.tlog.size",
                body: format!("{known_size}\n"),
            };
        }
        if checkpoint.size == 0 && root != merkle::empty_root() {
            return WitnessAnswer::refuse(
                422,
                "a checkpoint of size 0 must have the empty tree's root",
            );
        }
        let consistent = if submission.old_size == 0 {
            submission.proof.is_empty()
        } else {
            merkle::verify_consistency(
                submission.old_size,
                checkpoint.size,
                &known_root,
                &root,
                &submission.proof,
            )
            .is_ok()
        };
        if !consistent {
            return WitnessAnswer::refuse(
                422,
                "the checkpoint is not consistent with the one this witness cosigned last",
            );
        }
        let state = format!(
            "{origin}\n{}\n{}\n",
            checkpoint.size,
            STANDARD.encode(root.as_bytes())
        );
        if let Err(error) = safe_open::replace(&self.state_path(origin), state.as_bytes()) {
            return WitnessAnswer::refuse(500, format!("the state could not be stored: {error}"));
        }
        let text = &submission.note[..submission.note.rfind("\n\n").map_or(0, |at| at + 1)];
        WitnessAnswer {
            status: 200,
            content_type: "text/plain; charset=utf-8",
            body: self.key.cosign(text, now_seconds()),
        }
    }

    /// Serves `add-checkpoint` under `prefix` (such as `""` or `/witness`)
    /// on `listener` until `stop` is set, a thread per connection.
    ///
    /// # Errors
    ///
    /// An error of the listener.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # let state = tempfile::tempdir()?;
    /// # let witness = audit_layer::Witness::new(audit_layer::SignerKey::generate("w.example/1")?, vec![], state.path())?;
    /// let listener = std::net::TcpListener::bind("127.0.0.1:7380")?;
    /// witness.serve(listener, "", &std::sync::atomic::AtomicBool::new(false))?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn serve(&self, listener: TcpListener, prefix: &str, stop: &AtomicBool) -> io::Result<()> {
        listener.set_nonblocking(true)?;
        std::thread::scope(|scope| {
            while !stop.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((stream, _)) => {
                        scope.spawn(move || {
                            let _ = self.serve_connection(stream, prefix);
                        });
                    }
                    Err(error) if error.kind() == io::ErrorKind::WouldBlock => {
                        std::thread::sleep(Duration::from_millis(20));
                    }
                    Err(error) => return Err(error),
                }
            }
            Ok(())
        })
    }

    fn serve_connection(&self, stream: TcpStream, prefix: &str) -> io::Result<()> {
        stream.set_nonblocking(false)?;
        stream.set_read_timeout(Some(Duration::from_secs(10)))?;
        stream.set_write_timeout(Some(Duration::from_secs(10)))?;
        let mut reader = BufReader::new(stream.try_clone()?);
        let mut writer = stream;
        loop {
            let request = match read_request(&mut reader)? {
                Some(request) => request,
                None => return Ok(()),
            };
            let mut close = false;
            let answer = match request {
                Err(answer) => answer,
                Ok((method, path, body, asked_to_close)) => {
                    close = asked_to_close;
                    if path != format!("{prefix}/add-checkpoint") {
                        WitnessAnswer::refuse(404, "no such resource")
                    } else if method != "POST" {
                        WitnessAnswer::refuse(405, "add-checkpoint takes a POST")
                    } else {
                        self.add_checkpoint(&body)
                    }
                }
            };
            write!(
                writer,
                "HTTP/1.1 {} {}\r\nContent-Type: {}\r\nContent-Length: {}\r\n{}\r\n{}",
                answer.status,
                reason(answer.status),
                answer.content_type,
                answer.body.len(),
                if close || answer.status == 413 || answer.status == 400 {
                    "Connection: close\r\n"
                } else {
                    ""
                },
                answer.body
            )?;
            writer.flush()?;
            // What follows a refused body cannot be trusted to frame.
            if close || answer.status == 413 || answer.status == 400 {
                return Ok(());
            }
        }
    }
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        409 => "Conflict",
        413 => "Content Too Large",
        422 => "Unprocessable Entity",
        _ => "Internal Server Error",
    }
}

/// Method, path, body, and whether the client asked to close after it.
type Request = Result<(String, String, Vec<u8>, bool), WitnessAnswer>;

/// Reads one HTTP/1.1 request: `None` at the end of the connection.
fn read_request(reader: &mut impl BufRead) -> io::Result<Option<Request>> {
    let mut head = Vec::new();
    loop {
        let before = head.len();
        let read = reader
            .by_ref()
            .take((MAX_HEADERS + 1 - head.len()) as u64)
            .read_until(b'\n', &mut head)?;
        if read == 0 {
            return Ok(
                (!head.is_empty()).then(|| Err(WitnessAnswer::refuse(400, "a request cut short")))
            );
        }
        if head.len() > MAX_HEADERS {
            return Ok(Some(Err(WitnessAnswer::refuse(
                400,
                "headers larger than 16 KiB",
            ))));
        }
        let line = &head[before..];
        if line == b"\r\n" || line == b"\n" {
            break;
        }
    }
    let text = String::from_utf8_lossy(&head);
    let mut lines = text.lines();
    let mut parts = lines.next().unwrap_or_default().split(' ');
    let (method, path) = (
        parts.next().unwrap_or_default().to_owned(),
        parts.next().unwrap_or_default().to_owned(),
    );
    let mut length = None;
    let mut close = false;
    for header in lines {
        if let Some((name, value)) = header.split_once(':')
            && name.trim().eq_ignore_ascii_case("connection")
            && value.trim().eq_ignore_ascii_case("close")
        {
            close = true;
        }
        if let Some((name, value)) = header.split_once(':')
            && name.trim().eq_ignore_ascii_case("content-length")
        {
            length = value.trim().parse::<usize>().ok();
            if length.is_none() {
                return Ok(Some(Err(WitnessAnswer::refuse(
                    400,
                    "a bad Content-Length",
                ))));
            }
        }
        if let Some((name, value)) = header.split_once(':')
            && name.trim().eq_ignore_ascii_case("transfer-encoding")
            && !value.trim().eq_ignore_ascii_case("identity")
        {
            return Ok(Some(Err(WitnessAnswer::refuse(
                400,
                "send a Content-Length, not chunks",
            ))));
        }
    }
    let length = length.unwrap_or(0);
    if length > MAX_BODY {
        return Ok(Some(Err(WitnessAnswer::refuse(
            413,
            "the body is larger than 64 KiB",
        ))));
    }
    let mut body = vec![0u8; length];
    reader.read_exact(&mut body)?;
    Ok(Some(Ok((method, path, body, close))))
}
