//! The watch's durable state, in a directory of its own (owner-only, never
//! through a link): `state` holds the engine (chain position, windows,
//! suppression) and the alerts not yet delivered everywhere; `delivered`
//! says how far delivery got. Both are replaced atomically (write a
//! temporary file, sync, rename, sync the directory).
//!
//! An alert is in `state` before it is delivered, so a crash never loses
//! one; a crash between delivery and `delivered` repeats those alerts on
//! restart, with the same ids. A clean stop repeats nothing.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};

use audit_layer::watch::{Alert, Engine, RuleSet};
use serde::{Deserialize, Serialize};

use crate::commands::private_file::{open_no_follow, open_private};

/// An alert waiting for delivery, with its number (increasing, from 1).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Queued {
    pub(crate) number: u64,
    pub(crate) alert: Alert,
}

/// The first line of `state`.
#[derive(Debug, Default, Serialize, Deserialize)]
pub(crate) struct Header {
    pub(crate) format: u32,
    /// The log or stream watched: a state is not reused for another.
    pub(crate) source: String,
    /// The number the next alert gets.
    pub(crate) next_number: u64,
    /// Alerts not yet delivered everywhere.
    pub(crate) outbox: Vec<Queued>,
}

/// How far delivery got.
#[derive(Debug, Default, Clone, Copy, Serialize, Deserialize)]
pub(crate) struct Delivered {
    /// Printed on stdout and written to the alert log, through this number.
    pub(crate) printed: u64,
    /// Taken by the webhook, through this number.
    pub(crate) posted: u64,
}

/// The state directory, locked for this watch.
pub(crate) struct StateDir {
    dir: PathBuf,
    _lock: File,
}

impl StateDir {
    /// Opens (or makes) `dir` and locks it against a second watch.
    pub(crate) fn open(dir: &Path) -> Result<StateDir, String> {
        match std::fs::symlink_metadata(dir) {
            Ok(meta) if meta.file_type().is_symlink() || !meta.is_dir() => {
                return Err(format!(
                    "--state {}: not a directory (a link or a file is not followed)",
                    dir.display()
                ));
            }
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                std::fs::DirBuilder::new()
                    .recursive(true)
                    .mode(0o700)
                    .create(dir)
                    .map_err(|e| format!("--state {}: {e}", dir.display()))?;
            }
            Err(e) => return Err(format!("--state {}: {e}", dir.display())),
        }
        let lock = open_private(&dir.join("lock"), false)
            .map_err(|e| format!("--state {}: {e}", dir.display()))?;
        lock.try_lock()
            .map_err(|_| format!("--state {}: another audit watch is using it", dir.display()))?;
        Ok(StateDir {
            dir: dir.to_owned(),
            _lock: lock,
        })
    }

    /// The saved header and engine, if any.
    pub(crate) fn load(
        &self,
        rules: RuleSet,
        source: &str,
    ) -> Result<Option<(Header, Engine)>, String> {
        let path = self.dir.join("state");
        let file = match open_no_follow(&path) {
            Ok(file) => file,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(format!("{}: {e}", path.display())),
        };
        let mut reader = BufReader::new(file);
        let mut first = String::new();
        reader
            .read_line(&mut first)
            .map_err(|e| format!("{}: {e}", path.display()))?;
        let header: Header = serde_json::from_str(&first)
            .map_err(|e| format!("{}: not a watch state: {e}", path.display()))?;
        if header.source != source {
            return Err(format!(
                "{}: this state is of {}, not of {source}; give another --state",
                path.display(),
                audit_layer::TerminalSafe(&header.source)
            ));
        }
        let engine = Engine::with_state(rules, reader)
            .map_err(|e| format!("{}: {e}", path.display()))?
            .source(source);
        Ok(Some((header, engine)))
    }

    pub(crate) fn delivered(&self) -> Result<Delivered, String> {
        let path = self.dir.join("delivered");
        match open_no_follow(&path) {
            Ok(mut file) => {
                let mut text = String::new();
                file.read_to_string(&mut text)
                    .map_err(|e| format!("{}: {e}", path.display()))?;
                serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Delivered::default()),
            Err(e) => Err(format!("{}: {e}", path.display())),
        }
    }

    pub(crate) fn save(&self, header: &Header, engine: &Engine) -> io::Result<()> {
        self.replace("state", |out| {
            serde_json::to_writer(&mut *out, header).map_err(io::Error::other)?;
            out.write_all(b"\n")?;
            engine.write_state(&mut *out)
        })
    }

    pub(crate) fn save_delivered(&self, delivered: Delivered) -> io::Result<()> {
        self.replace("delivered", |out| {
            serde_json::to_writer(out, &delivered).map_err(io::Error::other)
        })
    }

    fn replace(
        &self,
        name: &str,
        write: impl FnOnce(&mut io::BufWriter<&File>) -> io::Result<()>,
    ) -> io::Result<()> {
        let temporary = self.dir.join(format!("{name}.new"));
        let file = open_private(&temporary, true)?;
        {
            let mut out = io::BufWriter::new(&file);
            write(&mut out)?;
            out.flush()?;
        }
        file.sync_all()?;
        std::fs::rename(&temporary, self.dir.join(name))?;
        File::open(&self.dir)?.sync_all()
    }
}
