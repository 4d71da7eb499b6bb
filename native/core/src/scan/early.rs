//! `/proc` read before a scan is asked for. `livetree status` starts reading its proc root
//! as soon as its options are parsed, while Node goes on loading the CLI's modules on one
//! core (`src/early.ts`, docs/proc-reading.md). The early read works on the cores Node's
//! loading leaves (one of two); the whole scan of that proc root then takes it (`take`),
//! joining in on its own thread for what is left, instead of reading again.
//!
//! A read is used once, by a whole scan (not one of a few PIDs) of the same proc root, within
//! `FRESH` of its start. One whose listing failed is not used: the scan reads as it would
//! have, and a failure then says itself there. One that panicked goes on as that panic in
//! the scan, as the scan's own read would have (the napi glue makes it an EPANIC error).
use std::path::{Path, PathBuf};
use std::sync::mpsc::{channel, Receiver};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::reading::Reading;
use super::ProcRead;

/// An early read older than this is not the host the scan was asked about.
const FRESH: Duration = Duration::from_secs(2);

struct Early {
    proc_root: PathBuf,
    at: Instant,
    /// The reading, once its processes are listed.
    listed: Receiver<Arc<Reading>>,
    /// Its thread: the listing's failure, or nothing once no process is left untaken.
    thread: JoinHandle<crate::Result<()>>,
}

static EARLY: Mutex<Option<Early>> = Mutex::new(None);

/// Threads an early read of a run `threads` can work on uses: one fewer, at least one (the
/// other is Node's, loading the CLI).
fn early_threads(threads: usize) -> usize {
    threads.saturating_sub(1).max(1)
}

/// Start reading every process under `proc_root` on threads of its own, for the next
/// whole scan of it. A read started before and not taken is left to end on its own.
pub fn start(proc_root: PathBuf) {
    let root = proc_root.clone();
    let (tx, listed) = channel();
    let thread = std::thread::spawn(move || {
        let reading = Arc::new(Reading::list(&root, None)?);
        // The scan that takes it may already wait for it; a scan that never comes is no error.
        let _ = tx.send(Arc::clone(&reading));
        reading.work_on(early_threads(reading.threads()));
        Ok(())
    });
    let early = Early {
        proc_root,
        at: Instant::now(),
        listed,
        thread,
    };
    *EARLY.lock().unwrap_or_else(|p| p.into_inner()) = Some(early);
}

/// The early read of `proc_root`, when there is one to use, finished on this thread with the
/// early one's: what it read, or its listing's failure, or the panic it ended in (which the
/// caller goes on with).
pub(super) fn take(proc_root: &Path) -> Option<std::thread::Result<crate::Result<ProcRead>>> {
    let early = EARLY.lock().unwrap_or_else(|p| p.into_inner()).take()?;
    if early.proc_root != proc_root || early.at.elapsed() > FRESH {
        return None;
    }
    let Ok(reading) = early.listed.recv() else {
        // Listing failed, or panicked: its thread says which.
        return match early.thread.join() {
            Ok(Err(e)) => Some(Ok(Err(e))),
            Err(panic) => Some(Err(panic)),
            Ok(Ok(())) => None,
        };
    };
    // What is left, on this thread (and any core the early read left).
    let threads = reading.threads();
    let helped = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        reading.work_on((threads - early_threads(threads)).max(1))
    }));
    let joined = early.thread.join();
    if let Err(panic) = helped {
        return Some(Err(panic));
    }
    match joined {
        Err(panic) => Some(Err(panic)),
        Ok(Err(e)) => Some(Ok(Err(e))),
        // Both threads done: this is the last holder.
        Ok(Ok(())) => Arc::try_unwrap(reading).ok().map(|r| Ok(Ok(r.done(true)))),
    }
}
