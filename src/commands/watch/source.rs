//! What a watch reads: a file log, followed as the writer appends, or a
//! stream of the PostgreSQL store, polled.

use std::path::{Path, PathBuf};

use audit_layer::{LogFollower, PgStore, Report, chain};

use crate::commands::verify::{TrustArgs, verifier_for};

/// Lines come from here.
pub(crate) enum Source {
    File {
        dir: PathBuf,
        follower: Option<LogFollower>,
        /// Lines before this seq were evaluated before a restart.
        skip_below: Option<u64>,
    },
    Store {
        store: Box<PgStore>,
        url: String,
        stream: String,
    },
}

/// What a verify run needs, to run on a thread of its own.
#[derive(Clone)]
pub(crate) enum VerifyTarget {
    File(PathBuf),
    Store { url: String, stream: String },
}

impl VerifyTarget {
    /// A full verification, with what the flags trust.
    pub(crate) fn verify(&self, trust: &TrustArgs) -> Result<Report, String> {
        match self {
            VerifyTarget::File(dir) => verifier_for(trust, Some(dir))
                .map_err(|e| e.to_string())?
                .verify_path(dir)
                .map_err(|e| e.to_string()),
            VerifyTarget::Store { url, stream } => {
                let mut store = PgStore::connect(url).map_err(|e| e.to_string())?;
                verifier_for(trust, None)
                    .map_err(|e| e.to_string())?
                    .verify_stream(&mut store, stream)
                    .map_err(|e| e.to_string())
            }
        }
    }
}

impl Source {
    pub(crate) fn file(dir: &Path) -> Source {
        Source::File {
            dir: dir.to_owned(),
            follower: None,
            skip_below: None,
        }
    }

    pub(crate) fn store(url: &str, stream: &str) -> Result<Source, Box<dyn std::error::Error>> {
        Ok(Source::Store {
            store: Box::new(PgStore::connect(url)?),
            url: url.to_owned(),
            stream: stream.to_owned(),
        })
    }

    /// The seq of the source's first record, when it has one: a log whose
    /// older records were retired starts later than 0.
    pub(crate) fn first_seq(&mut self) -> Result<Option<u64>, Box<dyn std::error::Error>> {
        match self {
            Source::File { dir, .. } => {
                let mut first = None;
                match LogFollower::open_at(dir, 0) {
                    Ok(mut follower) => {
                        follower.read_available(|line| {
                            first = chain::frame_seq(line);
                            false
                        })?;
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    Err(e) => return Err(e.into()),
                }
                Ok(first)
            }
            Source::Store { store, stream, .. } => {
                Ok(store.lines_from(stream, 0, 1)?.first().map(|(seq, _)| *seq))
            }
        }
    }

    /// Hands `each` the lines from seq `next` on, up to `max` of them;
    /// returns how many.
    pub(crate) fn read(
        &mut self,
        next: Option<u64>,
        max: usize,
        mut each: impl FnMut(&[u8]),
    ) -> Result<usize, Box<dyn std::error::Error>> {
        match self {
            Source::File {
                dir,
                follower,
                skip_below,
            } => {
                if follower.is_none() {
                    match LogFollower::open_at(dir, next.unwrap_or(0)) {
                        Ok(opened) => *follower = Some(opened),
                        // The writer has not made its first segment yet.
                        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
                        Err(e) => return Err(e.into()),
                    }
                    *skip_below = next;
                }
                let follower = follower.as_mut().expect("opened above");
                let mut handed = 0;
                follower.read_available(|line| {
                    if let Some(below) = *skip_below {
                        match chain::frame_seq(line) {
                            Some(seq) if seq < below => return true,
                            _ => *skip_below = None,
                        }
                    }
                    each(line);
                    handed += 1;
                    handed < max
                })?;
                Ok(handed)
            }
            Source::Store { store, stream, .. } => {
                let lines = store.lines_from(stream, next.unwrap_or(0), max)?;
                for (_, line) in &lines {
                    each(line);
                }
                Ok(lines.len())
            }
        }
    }

    /// What a verify run of this source needs.
    pub(crate) fn verify_target(&self) -> VerifyTarget {
        match self {
            Source::File { dir, .. } => VerifyTarget::File(dir.clone()),
            Source::Store { url, stream, .. } => VerifyTarget::Store {
                url: url.clone(),
                stream: stream.clone(),
            },
        }
    }
}
