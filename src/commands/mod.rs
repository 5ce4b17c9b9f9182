//! One module per subcommand. Each `run` returns `Ok(true)` when there is
//! nothing to report, `Ok(false)` when it found problems, and `Err` when it
//! could not do its job.

pub(crate) mod bundle;
pub(crate) mod checkpoint;
pub(crate) mod db;
pub(crate) mod export;
pub(crate) mod keygen;
mod private_file;
pub(crate) mod prove;
pub(crate) mod pseudonym;
pub(crate) mod report;
mod selection;
pub(crate) mod ship;
pub(crate) mod show;
mod stop_signal;
pub(crate) mod streams;
mod table;
pub(crate) mod timeline;
pub(crate) mod verify;
pub(crate) mod watch;
pub(crate) mod witness;
