//! The log's Merkle tree on disk, as C2SP `tlog-tiles` hash tiles beside
//! the segments: `tile/<L>/<N>` holds 256 hashes (8,192 bytes) of tree level
//! `8·L`, `tile/<L>/<N>.p/<W>` the first `W` of a tile not yet full.
//! Level-0 hashes are the records' leaves (`merkle::record_leaf`).
//!
//! Tiles are derived from the records, so they are written after them and
//! rebuilt from them: on opening, tiles beyond the stored records are
//! removed, the newest full tile of each level is checked against what it
//! is made of, and missing ones are written again. A static web server can
//! serve the `tile/` directory as is.

use std::fs;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use crate::proof::merkle::{self, MerkleNodes, ProofError};
use crate::record::chain::{self, Hash};
use crate::store::follow::LogFollower;
use crate::store::safe_open::{self, OpenDir};

/// Hashes in a full tile.
pub(crate) const TILE_WIDTH: u64 = 256;
/// Tree levels a tile spans.
const TILE_HEIGHT: u32 = 8;
/// Tiles rebuilt per pass over the segments (a million leaves).
const REBUILD_TILES: u64 = 4096;
/// The file in `tile/` naming the tree size through which every tile was
/// flushed to stable storage.
const SYNCED_MARKER: &str = "synced";
/// The directory of tiles in a log directory.
pub(crate) const TILE_DIR: &str = "tile";

/// The path of a tile under `tile/`, as `tlog-tiles` spells it: the level,
/// then the index in 3-digit groups, all but the last prefixed with `x`,
/// then `.p/<W>` for a partial tile.
///
/// ```text
/// tile_path(0, 1234067, None)      == ["0", "x001", "x234", "067"]
/// tile_path(1, 5, Some(17))        == ["1", "005.p", "17"]
/// ```
pub(crate) fn tile_path(level: u32, index: u64, partial_width: Option<u64>) -> Vec<String> {
    let mut groups = Vec::new();
    let mut rest = index;
    loop {
        groups.push(rest % 1000);
        rest /= 1000;
        if rest == 0 {
            break;
        }
    }
    let mut parts = vec![level.to_string()];
    let last = groups.len() - 1;
    for (at, group) in groups.iter().rev().enumerate() {
        if at < last {
            parts.push(format!("x{group:03}"));
        } else {
            match partial_width {
                Some(_) => parts.push(format!("{group:03}.p")),
                None => parts.push(format!("{group:03}")),
            }
        }
    }
    if let Some(width) = partial_width {
        parts.push(width.to_string());
    }
    parts
}

/// The root of `2^k` hashes (a complete subtree).
fn perfect_root(hashes: &[Hash]) -> Hash {
    debug_assert!(hashes.len().is_power_of_two());
    let mut level: Vec<Hash> = hashes.to_vec();
    while level.len() > 1 {
        level = level
            .chunks(2)
            .map(|pair| merkle::node_hash(&pair[0], &pair[1]))
            .collect();
    }
    level[0]
}

fn encode(hashes: &[Hash]) -> Vec<u8> {
    hashes.iter().flat_map(|h| h.as_bytes().to_vec()).collect()
}

fn decode(bytes: &[u8]) -> Vec<Hash> {
    bytes
        .chunks_exact(32)
        .map(|chunk| Hash::from_bytes(chunk.try_into().expect("32 bytes")))
        .collect()
}

/// The leaves of records `[from, to)` of the log in `dir`, read from its
/// segments.
pub(crate) fn segment_leaves(dir: &Path, from: u64, to: u64) -> io::Result<Vec<Hash>> {
    let mut leaves = Vec::with_capacity((to - from) as usize);
    if from >= to {
        return Ok(leaves);
    }
    let mut follower = LogFollower::open_at(dir, from)?;
    let mut failure = None;
    follower.read_available(|line| {
        match chain::frame(line) {
            Ok(view) if view.seq < from => {}
            Ok(view) if view.seq == from + leaves.len() as u64 => {
                leaves.push(merkle::record_leaf(&view.stored_hash));
            }
            Ok(view) => {
                failure = Some(format!(
                    "found seq {} where seq {} belongs",
                    view.seq,
                    from + leaves.len() as u64
                ))
            }
            Err(error) => failure = Some(format!("a line is not a record: {}", error.0)),
        }
        failure.is_none() && (from + (leaves.len() as u64)) < to
    })?;
    if let Some(why) = failure {
        return Err(io::Error::new(io::ErrorKind::InvalidData, why));
    }
    if (leaves.len() as u64) < to - from {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            format!(
                "the segments hold records up to seq {}, not {}",
                from + leaves.len() as u64,
                to - 1
            ),
        ));
    }
    Ok(leaves)
}

/// The tiles of one log directory.
#[derive(Debug, Clone)]
pub(crate) struct TileFiles {
    log: PathBuf,
}

impl TileFiles {
    pub(crate) fn new(log: &Path) -> TileFiles {
        TileFiles {
            log: log.to_owned(),
        }
    }

    fn path(&self, level: u32, index: u64, width: Option<u64>) -> PathBuf {
        let mut path = self.log.join(TILE_DIR);
        for part in tile_path(level, index, width) {
            path.push(part);
        }
        path
    }

    /// A full tile, if it is stored whole.
    pub(crate) fn read_full(&self, level: u32, index: u64) -> io::Result<Option<Vec<Hash>>> {
        let path = self.path(level, index, None);
        let mut file = match safe_open::open_for_reading(&path) {
            Ok(file) => file,
            Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(error) => return Err(error),
        };
        let mut bytes = Vec::with_capacity((TILE_WIDTH * 32) as usize);
        Read::by_ref(&mut file)
            .take(TILE_WIDTH * 32 + 1)
            .read_to_end(&mut bytes)?;
        if bytes.len() as u64 != TILE_WIDTH * 32 {
            return Ok(None);
        }
        Ok(Some(decode(&bytes)))
    }

    /// Writes a tile (full, or the first `hashes.len()` of one), creating
    /// its directories without following links; returns the file and its
    /// directory, for the caller to flush when it needs them durable.
    fn write(
        &self,
        level: u32,
        index: u64,
        hashes: &[Hash],
        partial: bool,
    ) -> io::Result<(fs::File, OpenDir)> {
        let parts = tile_path(level, index, partial.then_some(hashes.len() as u64));
        let root = OpenDir::open(&self.log)?;
        let mut dir = root.subdir(TILE_DIR)?;
        for part in &parts[..parts.len() - 1] {
            dir = dir.subdir(part)?;
        }
        let name = &parts[parts.len() - 1];
        let file_path = self.path(level, index, partial.then_some(hashes.len() as u64));
        let mut file = match dir.create_new(name) {
            Ok(file) => file,
            // Left by an earlier run (a partial tile of the same width, or
            // a full tile the repair is writing again): replaced whole.
            Err(error) if error.kind() == io::ErrorKind::AlreadyExists => {
                fs::remove_file(&file_path)?;
                dir.create_new(name)?
            }
            Err(error) => return Err(error),
        };
        // Made durable by `TileTree::sync`; until then the tiles past the
        // last sync are checked again when the tree is opened.
        file.write_all(&encode(hashes))?;
        Ok((file, dir))
    }

    /// The widest partial level-0 tile stored for tile `index`.
    fn widest_partial(&self, index: u64) -> Option<Vec<Hash>> {
        let dir = self.path(0, index, Some(1));
        let dir = dir.parent()?;
        let mut best: Option<(u64, std::path::PathBuf)> = None;
        for entry in fs::read_dir(dir).ok()? {
            let entry = entry.ok()?;
            if let Some(width) = entry
                .file_name()
                .to_str()
                .and_then(|n| n.parse::<u64>().ok())
                && best.as_ref().is_none_or(|(w, _)| width > *w)
            {
                best = Some((width, entry.path()));
            }
        }
        let (width, path) = best?;
        let text = {
            let mut file = safe_open::open_for_reading(&path).ok()?;
            let mut bytes = Vec::new();
            Read::by_ref(&mut file)
                .take(width * 32 + 1)
                .read_to_end(&mut bytes)
                .ok()?;
            bytes
        };
        (text.len() as u64 == width * 32).then(|| decode(&text))
    }

    /// Records that every full tile of a tree of `size` is durable.
    fn mark_synced(&self, size: u64) -> io::Result<()> {
        // The directory itself, made (owner-only, no link followed) if need be.
        OpenDir::open(&self.log)?.subdir(TILE_DIR)?;
        safe_open::replace(
            &self.log.join(TILE_DIR).join(SYNCED_MARKER),
            format!("{size}\n").as_bytes(),
        )
    }

    /// The size through which tiles are known durable (the marker file
    /// `tile/synced`); 0 when there is none.
    fn synced_size(&self) -> u64 {
        safe_open::read_text(&self.log.join(TILE_DIR).join(SYNCED_MARKER), 64)
            .ok()
            .and_then(|text| text.trim().parse().ok())
            .unwrap_or(0)
    }

    /// Removes the tiles of `level` from `index` on (full ones, and every
    /// partial one): what a tree of fewer records does not have.
    fn remove_from(&self, level: u32, index: u64) -> io::Result<()> {
        let level_dir = self.log.join(TILE_DIR).join(level.to_string());
        if !level_dir.is_dir() {
            return Ok(());
        }
        let mut stale = Vec::new();
        collect_tiles(&level_dir, &mut Vec::new(), &mut stale)?;
        for (tile_index, partial, path) in stale {
            if partial || tile_index >= index {
                if path.is_dir() {
                    fs::remove_dir_all(&path)?;
                } else {
                    fs::remove_file(&path)?;
                }
            }
        }
        Ok(())
    }
}

/// Every tile file (and partial-tile directory) under a level directory,
/// with its index and whether it is partial.
fn collect_tiles(
    dir: &Path,
    prefix: &mut Vec<u64>,
    found: &mut Vec<(u64, bool, PathBuf)>,
) -> io::Result<()> {
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let kind = entry.file_type()?;
        let index_of =
            |prefix: &[u64], last: u64| prefix.iter().fold(0u64, |n, g| n * 1000 + g) * 1000 + last;
        if let Some(group) = name.strip_prefix('x').and_then(|g| g.parse::<u64>().ok())
            && kind.is_dir()
        {
            prefix.push(group);
            collect_tiles(&entry.path(), prefix, found)?;
            prefix.pop();
        } else if let Some(group) = name.strip_suffix(".p").and_then(|g| g.parse::<u64>().ok()) {
            found.push((index_of(prefix, group), true, entry.path()));
        } else if let Ok(group) = name.parse::<u64>() {
            found.push((index_of(prefix, group), false, entry.path()));
        }
    }
    Ok(())
}

/// The tree of a log directory: full tiles on disk, and for each level the
/// hashes of its tile not yet full.
#[derive(Debug)]
pub(crate) struct TileTree {
    files: TileFiles,
    size: u64,
    /// Per level, the hashes of the incomplete tile (fewer than 256).
    partial: Vec<Vec<Hash>>,
    /// The size through which tiles are flushed.
    synced: u64,
    /// Full tiles made and not yet written: they go to disk together, so
    /// that the writer's own syncs do not each carry new tile files.
    unwritten: Vec<(u32, u64, Vec<Hash>)>,
    /// Tiles written (by the open's repair) and not yet flushed.
    unflushed: Vec<(fs::File, OpenDir)>,
    /// The thread that writes and flushes tiles for a writer, so that the
    /// writer's own thread does not wait on creating files.
    background: Option<TileThread>,
}

/// What the tile thread is asked to do, in order.
enum TileJob {
    /// Write these tiles: (level, index, hashes, partial).
    Write(Vec<(u32, u64, Vec<Hash>, bool)>),
    /// Flush everything written, then record `size` as synced; answer if asked.
    Flush(u64, Option<std::sync::mpsc::SyncSender<io::Result<()>>>),
}

/// The tile thread of a writer's tree.
#[derive(Debug)]
struct TileThread {
    jobs: Option<std::sync::mpsc::SyncSender<TileJob>>,
    thread: Option<std::thread::JoinHandle<()>>,
    /// The first error the thread met; the tree is given up after it.
    failed: std::sync::Arc<std::sync::Mutex<Option<(io::ErrorKind, String)>>>,
}

impl std::fmt::Debug for TileJob {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TileJob::Write(tiles) => write!(f, "Write({} tiles)", tiles.len()),
            TileJob::Flush(size, _) => write!(f, "Flush({size})"),
        }
    }
}

impl TileThread {
    fn start(files: TileFiles) -> io::Result<TileThread> {
        let (jobs, receive) = std::sync::mpsc::sync_channel::<TileJob>(8);
        let failed = std::sync::Arc::new(std::sync::Mutex::new(None));
        let seen = std::sync::Arc::clone(&failed);
        let thread = std::thread::Builder::new()
            .name("audit-tiles".into())
            .spawn(move || {
                let mut unflushed: Vec<(fs::File, OpenDir)> = Vec::new();
                for job in receive {
                    let done = match job {
                        TileJob::Write(tiles) => {
                            tiles
                                .into_iter()
                                .try_for_each(|(level, index, hashes, partial)| {
                                    unflushed.push(files.write(level, index, &hashes, partial)?);
                                    Ok(())
                                })
                        }
                        TileJob::Flush(size, answer) => {
                            let done =
                                flush_files(&mut unflushed).and_then(|()| files.mark_synced(size));
                            if let Some(answer) = answer {
                                let copy = done
                                    .as_ref()
                                    .map(|_| ())
                                    .map_err(|e| io::Error::new(e.kind(), e.to_string()));
                                let _ = answer.send(copy);
                            }
                            done
                        }
                    };
                    if let Err(error) = done {
                        let mut slot = seen
                            .lock()
                            .unwrap_or_else(std::sync::PoisonError::into_inner);
                        slot.get_or_insert((error.kind(), error.to_string()));
                    }
                }
            })?;
        Ok(TileThread {
            jobs: Some(jobs),
            thread: Some(thread),
            failed,
        })
    }

    fn check(&self) -> io::Result<()> {
        match &*self
            .failed
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
        {
            Some((kind, message)) => Err(io::Error::new(*kind, message.clone())),
            None => Ok(()),
        }
    }

    fn send(&self, job: TileJob) -> io::Result<()> {
        self.check()?;
        self.jobs
            .as_ref()
            .ok_or_else(|| io::Error::other("the tile thread has stopped"))?
            .send(job)
            .map_err(|_| io::Error::other("the tile thread has stopped"))
    }
}

impl Drop for TileThread {
    fn drop(&mut self) {
        self.jobs.take();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Flushes written tiles and the directories naming them: the writer's own
/// data is not forced out with them, nor anyone else's on the filesystem.
fn flush_files(unflushed: &mut Vec<(fs::File, OpenDir)>) -> io::Result<()> {
    for (file, dir) in std::mem::take(unflushed) {
        file.sync_data()?;
        dir.as_file().sync_all()?;
    }
    Ok(())
}

/// Full tiles held before they are written together (64 level-0 tiles
/// are 16,384 records).
const WRITE_TILES_EVERY: usize = 64;
/// Records between flushes of the tiles, when no checkpoint asks sooner.
const FLUSH_RECORDS_EVERY: u64 = 1 << 16;

/// How many hashes of tile level `level` a tree of `size` leaves completes.
fn level_count(size: u64, level: u32) -> u64 {
    size.checked_shr(TILE_HEIGHT * level).unwrap_or(0)
}

impl TileTree {
    /// The tree of the first `size` records of the log in `dir`: tiles
    /// beyond it removed, the newest full tile of each level checked, the
    /// missing ones written, from the segments where need be.
    pub(crate) fn open(dir: &Path, size: u64) -> io::Result<TileTree> {
        let mut tree = TileTree {
            files: TileFiles::new(dir),
            size,
            partial: Vec::new(),
            synced: 0,
            unwritten: Vec::new(),
            unflushed: Vec::new(),
            background: None,
        };
        let synced = tree.files.synced_size().min(size);
        let mut level = 0;
        loop {
            let count = level_count(size, level);
            let full = count / TILE_WIDTH;
            tree.files.remove_from(level, full)?;
            if count == 0 {
                break;
            }
            // Tiles flushed before the last sync are trusted; those after it
            // may be missing or half written by a crash: each is checked
            // against its records, a bounded run at a time, and written
            // again where it differs.
            let mut index = (level_count(synced, level) / TILE_WIDTH).min(full);
            while index < full {
                let end = (index + REBUILD_TILES).min(full);
                let hashes = tree.hashes_at(level, index * TILE_WIDTH, end * TILE_WIDTH)?;
                for (offset, tile) in hashes.chunks(TILE_WIDTH as usize).enumerate() {
                    let at = index + offset as u64;
                    if tree.files.read_full(level, at)?.as_deref() != Some(tile) {
                        let written = tree.files.write(level, at, tile, false)?;
                        tree.unflushed.push(written);
                    }
                }
                index = end;
            }
            let partial = tree.hashes_at(level, full * TILE_WIDTH, count)?;
            tree.partial.push(partial);
            level += 1;
        }
        tree.sync()?;
        tree.background = Some(TileThread::start(tree.files.clone())?);
        Ok(tree)
    }

    /// Flushes every tile written so far to stable storage, then records
    /// the size they cover. Called before a checkpoint names the tree and
    /// when the writer shuts down; after a crash, the tiles written since
    /// are checked against the records when the tree is opened again.
    pub(crate) fn sync(&mut self) -> io::Result<()> {
        self.write_tiles()?;
        if self.synced == self.size && self.size > 0 {
            return Ok(());
        }
        self.flush()
    }

    /// Flushes the tiles written so far, and records the size they cover.
    fn flush(&mut self) -> io::Result<()> {
        flush_files(&mut self.unflushed)?;
        match &self.background {
            Some(thread) => {
                let (answer, answered) = std::sync::mpsc::sync_channel(1);
                thread.send(TileJob::Flush(self.size, Some(answer)))?;
                answered
                    .recv()
                    .map_err(|_| io::Error::other("the tile thread has stopped"))??;
            }
            None => self.files.mark_synced(self.size)?,
        }
        self.synced = self.size;
        Ok(())
    }

    /// The tree of the first `size` records as the log directory holds it,
    /// for a reader: nothing is written, and a tile that is not stored is
    /// made again from what it is made of.
    pub(crate) fn read(dir: &Path, size: u64) -> io::Result<TileTree> {
        let mut tree = TileTree {
            files: TileFiles::new(dir),
            size,
            partial: Vec::new(),
            synced: size,
            unwritten: Vec::new(),
            unflushed: Vec::new(),
            background: None,
        };
        let mut level = 0;
        loop {
            let count = level_count(size, level);
            if count == 0 {
                break;
            }
            let full = count / TILE_WIDTH;
            let partial = tree.hashes_at(level, full * TILE_WIDTH, count)?;
            tree.partial.push(partial);
            level += 1;
        }
        Ok(tree)
    }

    /// The hashes `[from, to)` of tile level `level`: leaves for level 0,
    /// else the roots of full tiles of the level below.
    fn hashes_at(&self, level: u32, from: u64, to: u64) -> io::Result<Vec<Hash>> {
        if level == 0 {
            return match segment_leaves(&self.files.log, from, to) {
                Ok(leaves) => Ok(leaves),
                // Records retention deleted: their leaves are in the tiles,
                // full or partial, that the writer wrote before.
                Err(error) => self.leaves_from_tiles(from, to).ok_or(error),
            };
        }
        (from..to)
            .map(|index| {
                let tile = match self.files.read_full(level - 1, index)? {
                    Some(tile) => tile,
                    None => {
                        self.hashes_at(level - 1, index * TILE_WIDTH, (index + 1) * TILE_WIDTH)?
                    }
                };
                Ok(perfect_root(&tile))
            })
            .collect()
    }

    /// The leaves `[from, to)` (within one level-0 tile) from the stored
    /// tiles: the full tile, or the widest partial one, and the segments
    /// for what comes after it.
    fn leaves_from_tiles(&self, from: u64, to: u64) -> Option<Vec<Hash>> {
        let index = from / TILE_WIDTH;
        if to > (index + 1) * TILE_WIDTH {
            return None;
        }
        let start = index * TILE_WIDTH;
        let stored = match self.files.read_full(0, index).ok()? {
            Some(full) => full,
            None => self.files.widest_partial(index)?,
        };
        let mut leaves: Vec<Hash> = stored
            .into_iter()
            .skip((from - start) as usize)
            .take((to - from) as usize)
            .collect();
        let have = from + leaves.len() as u64;
        if have < to {
            leaves.extend(segment_leaves(&self.files.log, have, to).ok()?);
        }
        Some(leaves)
    }

    /// How many records it covers.
    pub(crate) fn size(&self) -> u64 {
        self.size
    }

    /// Adds the next record's leaf, writing every tile it completes.
    pub(crate) fn push(&mut self, leaf: Hash) -> io::Result<()> {
        let mut level = 0usize;
        let mut hash = leaf;
        loop {
            if self.partial.len() == level {
                self.partial.push(Vec::new());
            }
            self.partial[level].push(hash);
            if self.partial[level].len() as u64 != TILE_WIDTH {
                break;
            }
            let index = level_count(self.size + 1, level as u32) / TILE_WIDTH - 1;
            self.files
                .write(level as u32, index, &self.partial[level], false)?;
            hash = perfect_root(&self.partial[level]);
            self.partial[level].clear();
            level += 1;
        }
        self.size += 1;
        if self.unwritten.len() >= WRITE_TILES_EVERY {
            self.write_tiles()?;
        }
        // Bounded even for a writer that never checkpoints: the tiles are
        // flushed, and the size they cover recorded, every 65,536 records,
        // so that a crash leaves a bounded run of them to check at start.
        if self.size.is_multiple_of(FLUSH_RECORDS_EVERY) && self.background.is_some() {
            self.write_tiles()?;
            if let Some(thread) = &self.background {
                thread.send(TileJob::Flush(self.size, None))?;
            }
        }
        Ok(())
    }

    /// Writes the full tiles made since the last write (on the tile thread,
    /// for a writer), flushing them every 256 tiles.
    fn write_tiles(&mut self) -> io::Result<()> {
        if self.unwritten.is_empty() {
            return match &self.background {
                Some(thread) => thread.check(),
                None => Ok(()),
            };
        }
        let tiles: Vec<(u32, u64, Vec<Hash>, bool)> = std::mem::take(&mut self.unwritten)
            .into_iter()
            .map(|(level, index, hashes)| (level, index, hashes, false))
            .collect();
        self.dispatch(tiles)
    }

    /// Has `tiles` written: by the tile thread for a writer, here otherwise.
    fn dispatch(&mut self, tiles: Vec<(u32, u64, Vec<Hash>, bool)>) -> io::Result<()> {
        match &self.background {
            Some(thread) => thread.send(TileJob::Write(tiles)),
            None => {
                for (level, index, hashes, partial) in tiles {
                    let written = self.files.write(level, index, &hashes, partial)?;
                    self.unflushed.push(written);
                }
                Ok(())
            }
        }
    }

    /// Writes the partial tiles of the current size, as `tlog-tiles` asks
    /// for every size a checkpoint names.
    pub(crate) fn write_partial_tiles(&mut self) -> io::Result<()> {
        self.write_tiles()?;
        let mut tiles = Vec::new();
        for (level, hashes) in self.partial.iter().enumerate() {
            if !hashes.is_empty() {
                let index = level_count(self.size, level as u32) / TILE_WIDTH;
                tiles.push((level as u32, index, hashes.clone(), true));
            }
        }
        self.dispatch(tiles)
    }

    /// The root of the tree at its size.
    pub(crate) fn root(&self) -> Hash {
        // The complete subtrees of the size, largest (leftmost) first, then
        // folded from the right as RFC 6962's MTH splits.
        let mut subtrees = Vec::new();
        for hashes in self.partial.iter().rev() {
            let mut at = 0;
            let mut left = hashes.len();
            while left > 0 {
                let take = 1 << (usize::BITS - 1 - left.leading_zeros());
                subtrees.push(perfect_root(&hashes[at..at + take]));
                at += take;
                left -= take;
            }
        }
        match subtrees.pop() {
            None => merkle::empty_root(),
            Some(mut root) => {
                while let Some(left) = subtrees.pop() {
                    root = merkle::node_hash(&left, &root);
                }
                root
            }
        }
    }
}

impl MerkleNodes for TileTree {
    fn node(&self, level: u32, index: u64) -> Result<Hash, ProofError> {
        let missing = |why: String| ProofError::MissingNode {
            start: index << level,
            count: 1 << level,
            why,
        };
        let (tile_level, height) = (level / TILE_HEIGHT, level % TILE_HEIGHT);
        let first = index << height;
        let tile = first / TILE_WIDTH;
        let full = level_count(self.size, tile_level) / TILE_WIDTH;
        let hashes = if tile < full {
            match self
                .files
                .read_full(tile_level, tile)
                .map_err(|e| missing(e.to_string()))?
            {
                Some(hashes) => hashes,
                // Not stored (deleted, or never flushed): made again from
                // what it is made of.
                None => self
                    .hashes_at(tile_level, tile * TILE_WIDTH, (tile + 1) * TILE_WIDTH)
                    .map_err(|e| missing(format!("tile {tile_level}/{tile} is missing: {e}")))?,
            }
        } else if tile == full {
            self.partial
                .get(tile_level as usize)
                .cloned()
                .ok_or_else(|| missing("beyond the tree".into()))?
        } else {
            return Err(missing("beyond the tree".into()));
        };
        let at = (first % TILE_WIDTH) as usize;
        let wanted = 1usize << height;
        hashes
            .get(at..at + wanted)
            .map(perfect_root)
            .ok_or_else(|| missing("beyond the tree".into()))
    }
}

/// A log's Merkle tree, read from its tiles and segments: roots, leaves,
/// and inclusion and consistency proofs for any size up to its own, without
/// re-reading the log (only the records after the last full tile).
///
/// # Examples
///
/// ```
/// use audit_layer::{AuditEvent, AuditWriter, FileSink, LogTree};
/// use audit_layer::merkle::{verify_consistency, verify_inclusion};
///
/// let dir = tempfile::tempdir()?;
/// let (audit, guard) = AuditWriter::builder().spawn(FileSink::open(dir.path())?)?;
/// for n in 0..600 {
///     audit.submit(AuditEvent::builder("post.view").resource(format!("post:{n}")).build())?;
/// }
/// guard.shutdown(std::time::Duration::from_secs(10))?;
///
/// let tree = LogTree::open(dir.path())?;
/// assert_eq!(tree.size(), 600);
/// let proof = tree.inclusion_proof(42, 600)?;
/// verify_inclusion(&tree.leaf(42)?, 42, 600, &proof, &tree.root())?;
/// let grown = tree.consistency_proof(100, 600)?;
/// verify_consistency(100, 600, &tree.root_at(100)?, &tree.root(), &grown)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct LogTree {
    tree: TileTree,
}

impl LogTree {
    /// The tree of every record of the log in `dir`.
    ///
    /// # Errors
    ///
    /// I/O errors reading the segments or tiles.
    ///
    /// # Examples
    ///
    /// See [`LogTree`].
    pub fn open(dir: impl AsRef<Path>) -> io::Result<LogTree> {
        let dir = dir.as_ref();
        let size = crate::store::sink::last_stored_seq(dir)?.map_or(0, |seq| seq + 1);
        LogTree::open_at(dir, size)
    }

    /// The tree of the first `size` records of the log in `dir`.
    ///
    /// # Errors
    ///
    /// I/O errors, and [`io::ErrorKind::UnexpectedEof`] when the log holds
    /// fewer records.
    ///
    /// # Examples
    ///
    /// See [`LogTree`].
    pub fn open_at(dir: impl AsRef<Path>, size: u64) -> io::Result<LogTree> {
        Ok(LogTree {
            tree: TileTree::read(dir.as_ref(), size)?,
        })
    }

    /// How many records (leaves) it has.
    ///
    /// # Examples
    ///
    /// See [`LogTree`].
    pub fn size(&self) -> u64 {
        self.tree.size()
    }

    /// Its root.
    ///
    /// # Examples
    ///
    /// See [`LogTree`].
    pub fn root(&self) -> Hash {
        self.tree.root()
    }

    /// The root of its first `size` leaves.
    ///
    /// # Errors
    ///
    /// [`ProofError`] when `size` is beyond it, or a tile cannot be read.
    ///
    /// # Examples
    ///
    /// See [`LogTree`].
    pub fn root_at(&self, size: u64) -> Result<Hash, ProofError> {
        if size > self.size() {
            return Err(ProofError::SizesReversed {
                old_size: size,
                new_size: self.size(),
            });
        }
        merkle::root(&self.tree, size)
    }

    /// The leaf of record `index`: `merkle::record_leaf` of its hash.
    ///
    /// # Errors
    ///
    /// [`ProofError`] when it is beyond the tree.
    ///
    /// # Examples
    ///
    /// See [`LogTree`].
    pub fn leaf(&self, index: u64) -> Result<Hash, ProofError> {
        if index >= self.size() {
            return Err(ProofError::IndexBeyondSize {
                index,
                size: self.size(),
            });
        }
        self.tree.node(0, index)
    }

    /// The inclusion proof of record `index` in the tree of `size` records.
    ///
    /// # Errors
    ///
    /// [`ProofError`].
    ///
    /// # Examples
    ///
    /// See [`LogTree`].
    pub fn inclusion_proof(&self, index: u64, size: u64) -> Result<Vec<Hash>, ProofError> {
        self.root_at(size)?;
        merkle::inclusion_proof(&self.tree, index, size)
    }

    /// The consistency proof from its first `old_size` records to its first
    /// `new_size`.
    ///
    /// # Errors
    ///
    /// [`ProofError`].
    ///
    /// # Examples
    ///
    /// See [`LogTree`].
    pub fn consistency_proof(&self, old_size: u64, new_size: u64) -> Result<Vec<Hash>, ProofError> {
        self.root_at(new_size)?;
        merkle::consistency_proof(&self.tree, old_size, new_size)
    }
}
