//! `/proc` read before a scan is asked for. `livetree status` starts reading its proc root
//! as soon as its options are parsed, while Node goes on loading the CLI's modules on one
//! core and leaves the other idle (`src/early.ts`, docs/proc-reading.md). The whole scan of
//! that proc root then takes this read (`take`) instead of reading again.
//!
//! A read is used once, by a whole scan (not one of a few PIDs) of the same proc root, within
//! `FRESH` of its start. One that failed is not used: the scan reads as it would have, and a
//! failure then says itself there. One that panicked goes on as that panic in the scan, as
//! the scan's own read would have (the napi glue makes it an EPANIC error).
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::ProcRead;

/// An early read older than this is not the host the scan was asked about.
const FRESH: Duration = Duration::from_secs(2);

struct Early {
    proc_root: PathBuf,
    at: Instant,
    read: JoinHandle<crate::Result<ProcRead>>,
}

static EARLY: Mutex<Option<Early>> = Mutex::new(None);

/// Start reading every process under `proc_root` on threads of its own, for the next
/// whole scan of it. A read started before and not taken is left to end on its own.
pub fn start(proc_root: PathBuf) {
    let root = proc_root.clone();
    let read = std::thread::spawn(move || {
        super::read_processes(&root, None).map(|mut r| {
            r.early = true;
            r
        })
    });
    let early = Early {
        proc_root,
        at: Instant::now(),
        read,
    };
    *EARLY.lock().unwrap_or_else(|p| p.into_inner()) = Some(early);
}

/// The early read of `proc_root`, once it is done, when there is one to use: what it read,
/// or its failure, or the panic it ended in (which the caller goes on with).
pub(super) fn take(proc_root: &Path) -> Option<std::thread::Result<crate::Result<ProcRead>>> {
    let early = EARLY.lock().unwrap_or_else(|p| p.into_inner()).take()?;
    if early.proc_root != proc_root || early.at.elapsed() > FRESH {
        return None;
    }
    Some(early.read.join())
}
