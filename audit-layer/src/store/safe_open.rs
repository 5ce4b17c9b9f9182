//! Opening files in a log directory without following what a stranger planted.
//!
//! Whoever can write into a log directory can put a symbolic link, a FIFO or
//! a device where a segment, an anchor or the seals file is expected. Every
//! file of a log is therefore opened with `O_NOFOLLOW` (a link is refused,
//! never followed) and `O_NONBLOCK` (a FIFO cannot hang the opener), and is
//! then checked to be a regular file before a byte is read or written. Files
//! that must be new are created exclusively (`O_EXCL`), and files that must
//! be replaced are written under a fresh name and renamed over the old one
//! (a rename replaces a planted link itself, not its target).

use std::ffi::CString;
use std::fs::{File, OpenOptions};
use std::io::{self, Read};
use std::os::fd::{AsRawFd, FromRawFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;

/// Flags every open of a log file carries.
const NO_FOLLOW: i32 = libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_CLOEXEC;

/// What kind of file a metadata describes, in words for an error message.
pub(crate) fn kind_of(metadata: &std::fs::Metadata) -> &'static str {
    let kind = metadata.file_type();
    if kind.is_symlink() {
        "a symbolic link"
    } else if kind.is_dir() {
        "a directory"
    } else if std::os::unix::fs::FileTypeExt::is_fifo(&kind) {
        "a FIFO"
    } else if std::os::unix::fs::FileTypeExt::is_char_device(&kind) {
        "a character device"
    } else if std::os::unix::fs::FileTypeExt::is_block_device(&kind) {
        "a block device"
    } else if std::os::unix::fs::FileTypeExt::is_socket(&kind) {
        "a socket"
    } else {
        "a regular file"
    }
}

fn not_regular(path: &Path, what: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidInput,
        format!("{} is {what}, not a regular file", path.display()),
    )
}

/// Maps the error of an `O_NOFOLLOW` open of a link to a message that says so.
fn explain(path: &Path, error: io::Error) -> io::Error {
    if error.raw_os_error() == Some(libc::ELOOP) {
        not_regular(path, "a symbolic link")
    } else {
        error
    }
}

/// Refuses anything but a regular file.
fn regular(path: &Path, file: File) -> io::Result<File> {
    let metadata = file.metadata()?;
    if metadata.file_type().is_file() {
        Ok(file)
    } else {
        Err(not_regular(path, kind_of(&metadata)))
    }
}

/// Opens `path` for reading: no link followed, no FIFO waited on, nothing
/// but a regular file accepted.
///
/// # Errors
///
/// [`io::ErrorKind::InvalidInput`] naming the path and what it is when it is
/// not a regular file; any error of the open.
pub(crate) fn open_for_reading(path: &Path) -> io::Result<File> {
    let file = OpenOptions::new()
        .read(true)
        .custom_flags(NO_FOLLOW)
        .open(path)
        .map_err(|e| explain(path, e))?;
    regular(path, file)
}

/// Reads a small text file (a note, a key, a seals file), refusing one
/// larger than `limit` bytes rather than reading without end.
///
/// # Errors
///
/// See [`open_for_reading`]; [`io::ErrorKind::InvalidData`] when the file is
/// larger than `limit` or not UTF-8.
pub(crate) fn read_text(path: &Path, limit: u64) -> io::Result<String> {
    let file = open_for_reading(path)?;
    let mut bytes = Vec::new();
    file.take(limit + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > limit {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("{} is larger than {limit} bytes", path.display()),
        ));
    }
    String::from_utf8(bytes).map_err(|_| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("{} is not UTF-8 text", path.display()),
        )
    })
}

/// Opens an existing log file for appending (and reading), or creates it
/// with mode 0600 when `create_new`: never through a link, and a new file
/// only where nothing stands yet.
///
/// # Errors
///
/// As [`open_for_reading`]; [`io::ErrorKind::AlreadyExists`] for
/// `create_new` where anything (a planted link included) has the name.
pub(crate) fn open_for_appending(path: &Path, create_new: bool) -> io::Result<File> {
    let file = OpenOptions::new()
        .read(true)
        .append(true)
        .create_new(create_new)
        .mode(0o600)
        .custom_flags(NO_FOLLOW)
        .open(path)
        .map_err(|e| explain(path, e))?;
    let file = regular(path, file)?;
    if !create_new {
        owner_only(path, &file, 0o600)?;
    }
    Ok(file)
}

/// Makes an existing file or directory of ours owner-only; refuses one that
/// others may read or write and that we cannot tighten.
///
/// # Errors
///
/// [`io::ErrorKind::PermissionDenied`] naming the path, its mode and owner.
pub(crate) fn owner_only(path: &Path, file: &File, mode: u32) -> io::Result<()> {
    let metadata = file.metadata()?;
    let current = metadata.mode() & 0o777;
    if current & 0o077 == 0 {
        return Ok(());
    }
    // SAFETY: geteuid has no preconditions and cannot fail.
    let us = unsafe { libc::geteuid() };
    if metadata.uid() == us {
        file.set_permissions(std::fs::Permissions::from_mode(mode))?;
        tracing::warn!(
            target: "audit_layer",
            path = %path.display(),
            was = format_args!("{current:o}"),
            now = format_args!("{mode:o}"),
            "audit log file was readable or writable by others; made it owner-only"
        );
        return Ok(());
    }
    Err(io::Error::new(
        io::ErrorKind::PermissionDenied,
        format!(
            "{} has mode {current:o} and belongs to uid {}, not to this process (uid {us}): others may read or change the audit log; make it owner-only (chmod {mode:o}) or run the writer as its owner",
            path.display(),
            metadata.uid()
        ),
    ))
}

/// A directory held open, so that the files made in it are made there and
/// not wherever a name was later pointed.
#[derive(Debug)]
pub(crate) struct OpenDir {
    file: File,
}

impl OpenDir {
    /// Opens `path` as a directory. The path itself is the caller's (a link
    /// the operator made is followed); a non-directory is refused.
    pub(crate) fn open(path: &Path) -> io::Result<OpenDir> {
        let file = OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_DIRECTORY | libc::O_CLOEXEC)
            .open(path)?;
        Ok(OpenDir { file })
    }

    /// Opens the subdirectory `name` of this one, creating it (mode 0700)
    /// if absent; a link or any other file in its place is refused.
    pub(crate) fn subdir(&self, name: &str) -> io::Result<OpenDir> {
        let c_name = c_name(name)?;
        // SAFETY: the fd is open for as long as `self` lives; the name is NUL-terminated.
        let made = unsafe { libc::mkdirat(self.file.as_raw_fd(), c_name.as_ptr(), 0o700) };
        if made != 0 {
            let error = io::Error::last_os_error();
            if error.kind() != io::ErrorKind::AlreadyExists {
                return Err(error);
            }
        }
        let fd = self.openat(
            &c_name,
            libc::O_RDONLY | libc::O_DIRECTORY | libc::O_NOFOLLOW | libc::O_CLOEXEC,
            0,
        )?;
        Ok(OpenDir { file: fd })
    }

    /// Creates `name` in this directory, mode 0600, failing if anything
    /// already has that name.
    pub(crate) fn create_new(&self, name: &str) -> io::Result<File> {
        self.openat(
            &c_name(name)?,
            libc::O_WRONLY | libc::O_CREAT | libc::O_EXCL | NO_FOLLOW,
            0o600,
        )
    }

    fn openat(&self, name: &CString, flags: i32, mode: libc::mode_t) -> io::Result<File> {
        // SAFETY: as in `subdir`; the returned fd is owned by the File below.
        let fd = unsafe {
            libc::openat(
                self.file.as_raw_fd(),
                name.as_ptr(),
                flags,
                libc::c_uint::from(mode),
            )
        };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `fd` was just returned by openat and is owned by no one else.
        Ok(unsafe { File::from_raw_fd(fd) })
    }

    /// The directory as an open file: for locking it, syncing it, checking it.
    pub(crate) fn as_file(&self) -> &File {
        &self.file
    }
}

fn c_name(name: &str) -> io::Result<CString> {
    if name.contains('/') || name == ".." || name == "." {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{name:?} is not a plain file name"),
        ));
    }
    CString::new(Path::new(name).as_os_str().as_bytes())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "a file name holds NUL"))
}

/// Replaces `path` with `bytes` in one step: written under a fresh name,
/// synced, renamed over the old name (a planted link there is replaced, its
/// target untouched), and the directory synced.
///
/// # Errors
///
/// Any I/O error; then `path` is as it was.
pub(crate) fn replace(path: &Path, bytes: &[u8]) -> io::Result<()> {
    use std::io::Write;
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    let name = path
        .file_name()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "a path names a file"))?;
    let mut random = [0u8; 8];
    getrandom::fill(&mut random).map_err(io::Error::other)?;
    let mut temporary_name = name.to_owned();
    temporary_name.push(format!(".{}.tmp", hex::encode(random)));
    let temporary = dir.join(temporary_name);
    let written = (|| {
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .custom_flags(NO_FOLLOW)
            .open(&temporary)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        std::fs::rename(&temporary, path)
    })();
    if let Err(error) = written {
        let _ = std::fs::remove_file(&temporary);
        return Err(error);
    }
    File::open(dir)?.sync_all()
}
