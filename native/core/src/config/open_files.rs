//! `open-file`: files under `/etc` a process holds open (`/proc/PID/fd`, by link only)
//! that changed after it started, or whose path now names another file or none (a file
//! replaced by rename, as editors and package managers do).
use std::os::unix::ffi::OsStringExt;
use std::os::unix::fs::MetadataExt;

use super::{Clock, ConfigChange, ConfigSource, Facts, Pass};
use crate::procfs::{path_in_root, LinkTarget};

/// Whether an fd's target (inside the process's root) is configuration: below `/etc`.
pub fn is_config_path(path: &[u8]) -> bool {
    path.starts_with(b"/etc/")
}

impl Pass {
    /// The files under `/etc` process `pid` holds open that changed after it started.
    pub(super) fn open_file_changes(
        &mut self,
        pid: u32,
        facts: &Facts,
        clock: &Clock,
    ) -> Vec<ConfigChange> {
        let dir = self.proc_root.join(pid.to_string()).join("fd");
        let entries = match std::fs::read_dir(&dir) {
            Ok(rd) => rd,
            // Exited since it was read: nothing runs, nothing to say.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Vec::new(),
            Err(e) => {
                self.warn_once(
                    "config-fds",
                    format!("open files not checked ({}: {e})", dir.display()),
                );
                return Vec::new();
            }
        };
        let mut out = Vec::new();
        for entry in entries.flatten() {
            let link = entry.path();
            let Ok(target) = std::fs::read_link(&link) else {
                continue;
            };
            let target = LinkTarget::from_bytes(target.into_os_string().into_vec());
            let Some(path) = path_in_root(&facts.root.2, &target.path) else {
                continue;
            };
            if !is_config_path(path) {
                continue;
            }
            // The held inode itself (stat follows the fd's magic link, even when deleted).
            let Ok(held) = std::fs::metadata(&link) else {
                continue;
            };
            if !held.is_file() {
                continue;
            }
            let path = path.to_vec();
            let held_ctime = held.ctime() * 1_000_000_000 + held.ctime_nsec();
            let changed = match self.now(pid, &facts.root, &path) {
                // The path names another file now: whatever is there is newer config.
                Some((dev, ino, ctime)) if (dev, ino) != (held.dev(), held.ino()) => Some(ctime),
                Some((_, _, ctime)) => clock
                    .changed_after(ctime, facts.started_ns)
                    .then_some(ctime),
                // Removed: the held file's own change time (the unlink).
                None => Some(held_ctime),
            };
            if let Some(changed_ns) = changed {
                out.push(ConfigChange {
                    path,
                    changed_ns,
                    source: ConfigSource::OpenFile,
                    package: None,
                });
            }
        }
        out
    }
}
