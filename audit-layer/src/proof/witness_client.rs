//! The client a writer uses to ask witnesses (C2SP tlog-witness) to cosign
//! its checkpoints, with a consistency proof from the last size each one
//! cosigned.

use std::io;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use crate::proof::cosignature::CosignerVerifier;
use crate::proof::http_post::HttpTarget;
use crate::proof::merkle::{self, MerkleNodes};

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
    target: HttpTarget,
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
        let target = HttpTarget::parse(url).ok_or_else(|| WitnessError::Url(url.into()))?;
        Ok(WitnessClient {
            target,
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
        Ok(self.target.post(
            "/add-checkpoint",
            "text/plain; charset=utf-8",
            body.as_bytes(),
            Duration::from_secs(10),
        )?)
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
