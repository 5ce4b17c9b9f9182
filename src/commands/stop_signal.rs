//! A clean stop on SIGTERM or SIGINT for the commands that run until told
//! (`audit ship`, `audit witness`): the signal sets a flag they poll.

use std::sync::atomic::{AtomicBool, Ordering};

/// Set when SIGTERM or SIGINT arrives.
pub(crate) static STOP: AtomicBool = AtomicBool::new(false);

extern "C" fn request_stop(_signal: libc::c_int) {
    STOP.store(true, Ordering::SeqCst);
}

/// Sets [`STOP`] on SIGTERM and SIGINT instead of ending the process.
pub(crate) fn stop_on_signals() {
    let handler = request_stop as extern "C" fn(libc::c_int);
    // SAFETY: the handler only stores to an atomic, which is async-signal-safe.
    unsafe {
        libc::signal(libc::SIGTERM, handler as libc::sighandler_t);
        libc::signal(libc::SIGINT, handler as libc::sighandler_t);
    }
}
