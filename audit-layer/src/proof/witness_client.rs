//! The client a writer uses to ask witnesses (C2SP tlog-witness) to cosign
//! its checkpoints, with a consistency proof from the last size each one
//! cosigned.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use crate::proof::cosignature::CosignerVerifier;
use crate::proof::merkle::{self, MerkleNodes};

/// The largest body either side of the protocol reads.
pub(crate) const MAX_BODY: usize = 64 * 1024;

/// Why a witness did not cosign.
///
/// # Examples
///
/// ```
/// let error = audit_layer::WitnessError::Refused { status: 422, reason: "inconsistent".into() };
/// assert!(error.to_string().contains("422"));
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WitnessError {
    /// It could not be reached, or did not speak HTTP.
    #[error("the witness could not be reached: {0}")]
    Unreachable(#[from] io::Error),
    /// It answered with a refusal.
    #[error("the witness refused ({status}): {reason}")]
    Refused {
        /// The HTTP status.
        status: u16,
        /// Its body.
        reason: String,
    },
    /// Its cosignature does not verify under the key it was trusted with.
    #[error("the witness's answer holds no valid cosignature by its key")]
    BadCosignature,
    /// A consistency proof for it could not be made.
    #[error(transparent)]
    Proof(#[from] merkle::ProofError),
    /// The URL is not `http://host:port[/prefix]`.
    #[error("{0} is not http://HOST:PORT[/PREFIX]")]
    Url(String),
}

/// A witness a writer asks for cosignatures, remembering the size it last
/// cosigned for this log.
///
/// # Examples
///
/// ```no_run
/// use audit_layer::{CosignerVerifier, WitnessClient};
/// let key = CosignerVerifier::parse("witness.example/w1+12345678+BAAA...")?;
/// let witness = WitnessClient::new("http://127.0.0.1:7380", key)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct WitnessClient {
    host: String,
    prefix: String,
    key: CosignerVerifier,
    /// The size it last cosigned, as this client last heard (0 at first).
    witnessed: u64,
}

impl WitnessClient {
    /// A client of the witness at `url` (`http://host:port[/prefix]`),
    /// trusted with `key`.
    ///
    /// # Errors
    ///
    /// [`WitnessError::Url`].
    ///
    /// # Examples
    ///
    /// See [`WitnessClient`].
    pub fn new(url: &str, key: CosignerVerifier) -> Result<Self, WitnessError> {
        let rest = url
            .strip_prefix("http://")
            .ok_or_else(|| WitnessError::Url(url.into()))?;
        let (host, prefix) = match rest.find('/') {
            Some(at) => (&rest[..at], rest[at..].trim_end_matches('/')),
            None => (rest, ""),
        };
        if host.is_empty() {
            return Err(WitnessError::Url(url.into()));
        }
        Ok(WitnessClient {
            host: host.to_owned(),
            prefix: prefix.to_owned(),
            key,
            witnessed: 0,
        })
    }

    /// Its key.
    ///
    /// # Examples
    ///
    /// See [`WitnessClient`].
    pub fn key(&self) -> &CosignerVerifier {
        &self.key
    }

    fn post(&self, body: &str) -> Result<(u16, String), WitnessError> {
        let address = self
            .host
            .to_socket_addrs()?
            .next()
            .ok_or_else(|| WitnessError::Url(self.host.clone()))?;
        let mut stream = TcpStream::connect_timeout(&address, Duration::from_secs(5))?;
        stream.set_read_timeout(Some(Duration::from_secs(10)))?;
        stream.set_write_timeout(Some(Duration::from_secs(10)))?;
        write!(
            stream,
            "POST {}/add-checkpoint HTTP/1.1\r\nHost: {}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            self.prefix,
            self.host,
            body.len()
        )?;
        let mut reader = BufReader::new(stream.take(MAX_BODY as u64 * 2));
        let mut status_line = String::new();
        reader.read_line(&mut status_line)?;
        let status = status_line
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "not an HTTP response"))?;
        let mut length = None;
        loop {
            let mut header = String::new();
            if reader.read_line(&mut header)? == 0 || header.trim().is_empty() {
                break;
            }
            if let Some((name, value)) = header.split_once(':')
                && name.trim().eq_ignore_ascii_case("content-length")
            {
                length = value.trim().parse::<usize>().ok();
            }
        }
        let mut body = Vec::new();
        match length {
            Some(length) if length <= MAX_BODY => {
                body.resize(length, 0);
                reader.read_exact(&mut body)?;
            }
            Some(_) => {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    "an answer larger than 64 KiB",
                )
                .into());
            }
            None => {
                reader.read_to_end(&mut body)?;
            }
        }
        let body = String::from_utf8_lossy(&body).into_owned();
        Ok((status, body))
    }

    /// Asks the witness to cosign the signed checkpoint `note` (of the
    /// tree `tree` at the checkpoint's size), with a consistency proof from
    /// the size it last cosigned; learns that size from a 409 and asks
    /// again once. Returns its cosignature line(s).
    ///
    /// # Errors
    ///
    /// [`WitnessError`].
    ///
    /// # Examples
    ///
    /// See the test `witnesses_cosign_only_consistent_checkpoints`.
    pub fn cosign(
        &mut self,
        note: &str,
        size: u64,
        tree: &impl MerkleNodes,
    ) -> Result<String, WitnessError> {
        for _ in 0..2 {
            let proof = if self.witnessed == 0 || self.witnessed >= size {
                Vec::new()
            } else {
                merkle::consistency_proof(tree, self.witnessed, size)?
            };
            let mut body = format!("old {}\n", self.witnessed);
            for hash in &proof {
                body.push_str(&STANDARD.encode(hash.as_bytes()));
                body.push('\n');
            }
            body.push('\n');
            body.push_str(note);
            let (status, answer) = self.post(&body)?;
            match status {
                200 => {
                    let cosigned = format!("{note}{answer}");
                    if self.key.verify(&cosigned).is_none() {
                        return Err(WitnessError::BadCosignature);
                    }
                    self.witnessed = size;
                    return Ok(answer);
                }
                409 => {
                    self.witnessed = answer.trim().parse().map_err(|_| WitnessError::Refused {
                        status,
                        reason: answer.clone(),
                    })?;
                }
                _ => {
                    return Err(WitnessError::Refused {
                        status,
                        reason: answer.trim().to_owned(),
                    });
                }
            }
        }
        Err(WitnessError::Refused {
            status: 409,
            reason: "the witness's size kept changing".into(),
        })
    }
}
