//! The scan's hook into the configuration wing (`config`): each process's start time
//! as it is attributed, and, once every process's packages are named, the configuration
//! each depends on that changed since it started.
use super::Scan;
use crate::config::{RootKey, Subject};
use crate::proc::procfs::ProcessRaw;
use crate::report::ProcessReport;

/// The process's root as the configuration checks tell roots apart.
pub(super) fn root_key(raw: &ProcessRaw) -> RootKey {
    (
        raw.root_dev_ino,
        raw.mnt_ns,
        raw.root.clone().unwrap_or_else(|| b"/".to_vec()),
    )
}

impl Scan<'_> {
    /// The process's start (nanoseconds since the epoch), remembered with its root for
    /// `config_changes`.
    pub(super) fn note_config(&mut self, raw: &ProcessRaw) -> Option<i64> {
        let started = self.config.started_ns(raw.start_ticks);
        self.config.note(raw.pid, root_key(raw), started);
        started
    }

    /// Fill every process's `config_changes`; what could not be checked is a warning.
    pub(super) fn config_changes(&mut self, processes: &mut [ProcessReport]) {
        let subjects: Vec<Subject> = processes
            .iter()
            .map(|p| {
                // The executable's own mapping, and the package the scan named for it.
                let exe = p
                    .exe
                    .as_deref()
                    .and_then(|exe| p.files.iter().find(|f| f.path == exe));
                Subject {
                    pid: p.pid,
                    exe: p.exe.as_deref(),
                    package: exe.and_then(|f| f.origin.package.as_deref()),
                }
            })
            .collect();
        let changes = self.config.run(&subjects);
        for (p, c) in processes.iter_mut().zip(changes) {
            p.config_changes = c;
        }
        self.warnings.append(&mut self.config.warnings);
    }
}
