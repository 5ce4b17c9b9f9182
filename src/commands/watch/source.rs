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
        stream: String,
    },
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
            Source::Store { store, stream } => {
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
            Source::Store { store, stream } => {
                let lines = store.lines_from(stream, next.unwrap_or(0), max)?;
                for (_, line) in &lines {
                    each(line);
                }
                Ok(lines.len())
            }
        }
    }

    /// A full verification, with what the flags trust.
    pub(crate) fn verify(
        &mut self,
        trust: &TrustArgs,
    ) -> Result<Report, Box<dyn std::error::Error>> {
        match self {
            Source::File { dir, .. } => Ok(verifier_for(trust, Some(dir))?.verify_path(&*dir)?),
            Source::Store { store, stream } => {
                Ok(verifier_for(trust, None)?.verify_stream(store, stream)?)
            }
        }
    }
}
