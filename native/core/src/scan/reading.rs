//! Reading every process of a proc root on the machine's cores: each process's raw facts and
//! mapped files, and the mount table of each (mount namespace, root) view, by the first
//! reader to meet a process of that view (a host of 200 containers has 201 views, and the
//! kernel's rendering of their mountinfo costs as much as all their maps). A `Reading` is
//! listed once and then worked by any threads, which may join late: the scan's own read
//! works it on every core at once; an early read (`early`) on fewer, and the scan that takes
//! it joins in.
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use super::{view_of, ProcRead, RawProcess, View};
use crate::fast_hash::{FastMap, FastSet};
use crate::parallel::Batches;
use crate::proc::mountinfo::Mount;
use crate::proc::procfs::{self, ProcReader, ProcessRaw};

/// Batches of 32 (crate::parallel): a host's own daemons map hundreds of files each while
/// thousands of small processes map a few.
const BATCH: usize = 32;

/// The processes of one proc root to read, and what was read of them so far.
pub(crate) struct Reading {
    proc_root: PathBuf,
    batches: Batches<'static, u32, RawProcess>,
    /// Views claimed by a reader (one reads each), and the tables read.
    claimed: Mutex<FastSet<View>>,
    views: Mutex<FastMap<View, (u32, Vec<Mount>)>>,
}

impl Reading {
    /// The processes under `proc_root` (or only `pids`), listed now, none read yet. Our own
    /// process is left out of a whole listing: its maps would list the addon itself, which is
    /// not what the user asked about.
    pub(crate) fn list(proc_root: &Path, pids: Option<&[u32]>) -> crate::Result<Reading> {
        let listed = match pids {
            Some(p) => p.to_vec(),
            None => {
                let own = std::process::id();
                let mut all = procfs::list_pids(proc_root)?;
                all.retain(|&p| p != own);
                all
            }
        };
        Ok(Reading {
            proc_root: proc_root.to_path_buf(),
            batches: Batches::new(listed, BATCH),
            claimed: Mutex::default(),
            views: Mutex::default(),
        })
    }

    /// How many threads the machine gives a read of these processes (`Batches::threads`).
    pub(crate) fn threads(&self) -> usize {
        self.batches.threads()
    }

    /// Read on `threads` threads at once, this one among them, until no process is left
    /// untaken. A reader that panicked would leave its batch out, a scan that silently misses
    /// processes: the panic goes on instead (the napi glue makes it an EPANIC error).
    pub(crate) fn work_on(&self, threads: usize) {
        crate::parallel::on_threads(threads, || {
            crate::test_panic("reader");
            // Keep what attribution reads: one entry per file, not every mapping
            // (thousands of processes wait here at once).
            self.batches.work(&mut ProcReader::new(), |reader, &pid| {
                let read = reader.read_process_files(&self.proc_root, pid);
                if let Ok((raw, _)) = &read {
                    self.read_view_of(reader, raw);
                }
                (pid, read)
            });
        });
    }

    /// Every process read, back in /proc's order whichever reader took which, once every
    /// thread working on it is done.
    pub(crate) fn done(self, early: bool) -> ProcRead {
        ProcRead {
            raws: self.batches.into_results(),
            views: self.views.into_inner().unwrap_or_else(|p| p.into_inner()),
            early,
        }
    }

    /// The mount table of `raw`'s view, read through `raw` unless another reader has it or
    /// is reading it. A failed read (the process exited meanwhile) gives the view back, for
    /// the next of its processes to read.
    fn read_view_of(&self, reader: &mut ProcReader, raw: &ProcessRaw) {
        let view = view_of(raw);
        let claim = || self.claimed.lock().unwrap_or_else(|p| p.into_inner());
        if !claim().insert(view.clone()) {
            return;
        }
        match reader.read_mountinfo(&self.proc_root, raw.pid) {
            Ok(mounts) => {
                let mut views = self.views.lock().unwrap_or_else(|p| p.into_inner());
                views.insert(view, (raw.pid, mounts));
            }
            Err(_) => {
                claim().remove(&view);
            }
        }
    }
}
