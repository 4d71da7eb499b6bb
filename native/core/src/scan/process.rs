//! The per-process walk: one process's raw facts from /proc turned into its report
//! (root, files, state), and the mount views its files are seen through.
use crate::fast_hash::FastSet;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;

use super::{
    in_proc_root, in_this_sysroot, procfs_comm, root_prefix, view_of, PendingView, Scan, View,
};
use crate::attribute::{classify_root, process_state, stale_reason_of_mapping};
use crate::proc::cgroup::{systemd_cgroup_path, unit_from_cgroup_path};
use crate::proc::maps::FileMapping;
use crate::proc::mountinfo::Mount;
use crate::proc::procfs::{self, ProcReader, ProcessRaw};
use crate::report::{ProcessReport, ProcessState, RootKind, Warning};
use crate::{overlay, Error};

impl Scan<'_> {
    pub(super) fn process(
        &mut self,
        reader: &mut ProcReader,
        pid: u32,
        raw: crate::Result<(ProcessRaw, Vec<FileMapping>)>,
    ) -> Option<ProcessReport> {
        match raw {
            Ok((raw, mappings)) => Some(self.attribute(reader, raw, mappings)),
            // Exited during the scan: it is not running, so it is not reported.
            Err(Error::NotFound(_)) => None,
            Err(e) => {
                self.warnings.push(Warning::new(
                    "process-unreadable",
                    format!("PID {pid}: {e}"),
                    Some(pid),
                ));
                Some(ProcessReport {
                    pid,
                    comm: procfs_comm(&self.cfg.proc_root, pid),
                    exe: None,
                    root_kind: RootKind::Unknown,
                    root_deployment: None,
                    cgroup_unit: None,
                    cgroup: None,
                    container: None,
                    state: ProcessState::Unknown,
                    files: Vec::new(),
                    started_ns: None,
                    start_ticks: None,
                    config_changes: Vec::new(),
                    unreadable: Some(e.code()),
                })
            }
        }
    }

    fn attribute(
        &mut self,
        reader: &mut ProcReader,
        raw: ProcessRaw,
        mappings: Vec<FileMapping>,
    ) -> ProcessReport {
        let pid = raw.pid;
        let view = view_of(&raw);
        if !self.cfs_views.contains(&view) {
            // Read before attribution began (report_with); a process read later still gets
            // its view, with its composefs mounts unidentified.
            self.read_view(reader, &raw, &view, None);
            self.finish_views();
        }
        let (root_kind, root_deployment) = self.root_of(&raw);
        let (root_kind, container) = self.container_root(&raw, &view, root_kind);
        // A mapping on a device no mount of the view shows is kernel-internal (asked once
        // per process; an empty set: no mounts known, nothing left out).
        let mut mappings = mappings;
        if let Some(devices) = self.ns_devices.get_view(&view).filter(|d| !d.is_empty()) {
            mappings.retain(|m| devices.contains(&(m.major, m.minor)));
        }
        let mut files = Vec::with_capacity(mappings.len());
        let mut shared = Vec::with_capacity(mappings.len());
        for m in mappings {
            files.push(self.file(&raw, &m, root_deployment.as_deref()));
            shared.push(m.shared);
        }
        let root_current = root_deployment
            .as_deref()
            .is_some_and(|id| self.k.deployments.iter().any(|d| d.id == id));
        for (f, shared) in files.iter_mut().zip(shared) {
            f.stale_reason = stale_reason_of_mapping(
                f,
                shared,
                root_kind,
                root_deployment.as_deref(),
                root_current,
            );
            f.identical_in = self.identical_in(f, root_deployment.as_deref());
        }
        let state = process_state(true, root_kind, &files);
        let cgroup = systemd_cgroup_path(&raw.cgroup);
        let cgroup_unit = cgroup.and_then(unit_from_cgroup_path);
        let cgroup = cgroup.map(str::to_string);
        let started_ns = self.note_config(&raw);
        let start_ticks = raw.start_ticks;
        ProcessReport {
            pid,
            comm: raw.comm.unwrap_or_default(),
            exe: raw.exe.map(|l| l.path),
            root_kind,
            root_deployment,
            cgroup_unit,
            cgroup,
            container,
            state,
            files,
            started_ns,
            start_ticks,
            config_changes: Vec::new(),
            unreadable: None,
        }
    }

    /// Read what one (mount namespace, root) view shows, once per view: its mounts' devices
    /// (a mapping on none of them is internal), its composefs mounts and its overlays on
    /// deployments. Overlays stacked on composefs wait for `finish_views`, once the
    /// composefs mounts are identified. `read`: the view's mount table as a reader read it
    /// (`read_alongside`), with the PID it was read through, which then stands for the view
    /// in the lookups below; without it, the table is read through `raw` now.
    pub(super) fn read_view(
        &mut self,
        reader: &mut ProcReader,
        raw: &ProcessRaw,
        view: &View,
        read: Option<(u32, Vec<Mount>)>,
    ) {
        let (pid, mounts) = read.unwrap_or_else(|| {
            let mounts = reader.read_mountinfo(&self.cfg.proc_root, raw.pid);
            (raw.pid, mounts.unwrap_or_default())
        });
        let mut devices: FastSet<(u32, u32)> = mounts.iter().map(|m| (m.major, m.minor)).collect();
        if !devices.is_empty() {
            if let Some((dev, _)) = raw.root_dev_ino {
                devices.insert(procfs::dev_split(dev));
            }
        }
        self.ns_devices.insert(view.clone(), devices);
        let proc_root = self.cfg.proc_root.clone();
        let host = |p: &[u8]| {
            std::fs::metadata(std::ffi::OsStr::from_bytes(p))
                .ok()
                .map(|m| {
                    let (ma, mi) = procfs::dev_split(m.dev());
                    (ma, mi, m.ino())
                })
        };
        let host_dev_ino = |p: &[u8]| {
            std::fs::metadata(std::ffi::OsStr::from_bytes(p))
                .ok()
                .map(|m| (m.dev(), m.ino()))
        };
        let cfs = self.cfs.find_mounts(&mounts, &host_dev_ino);
        let found = overlay::find_overlays(
            &mounts,
            &self.deployment_dirs,
            &mut |p| procfs::stat_in_root(&proc_root, pid, p).ok().flatten(),
            &host,
        );
        self.cfs_views.insert(view.clone(), cfs);
        self.pending_views.push(PendingView {
            view: view.clone(),
            mounts,
            found,
            pid,
        });
    }

    /// Finish the views read so far: overlays stacked on a composefs root learn their lower
    /// deployment (now that the mount is identified), upper layers are reached, and
    /// overlays on deployments join the report's the first time they are seen.
    pub(super) fn finish_views(&mut self) {
        let proc_root = self.cfg.proc_root.clone();
        for PendingView {
            view,
            mounts,
            mut found,
            pid,
        } in std::mem::take(&mut self.pending_views)
        {
            let cfs = self.cfs_views.get_view(&view).cloned().unwrap_or_default();
            let stat_in = |p: &[u8]| {
                std::fs::symlink_metadata(in_proc_root(&proc_root, pid, p))
                    .ok()
                    .map(|m| m.ino())
            };
            let host_ino = |p: &[u8]| {
                std::fs::symlink_metadata(std::ffi::OsStr::from_bytes(p))
                    .ok()
                    .map(|m| m.ino())
            };
            let stacked = self
                .cfs
                .stack_overlays(&mounts, &cfs, &mut found, &stat_in, &host_ino);
            let in_root = |p: &[u8]| Some(in_proc_root(&proc_root, pid, p));
            for o in found.iter_mut().filter(|o| o.lower_deployment.is_some()) {
                o.upper_path = overlay::reach_upper(o, &in_root);
            }
            // Only views with something to find are kept: every mapped file asks
            // (`stacked_of`, `overlay_of`), and on a host with none the question then costs
            // no lookup at all.
            if !stacked.is_empty() {
                self.cfs_stacked.insert(view.clone(), stacked);
            }
            for o in &found {
                let known = self
                    .overlays
                    .iter()
                    .any(|k| (k.major, k.minor) == (o.major, o.minor));
                if o.lower_deployment.is_some() && !known {
                    let mut shown = o.clone();
                    // Report the mount point as the scanner would name it: below the
                    // process's root, as maps paths are.
                    shown.mount_point = overlay::join(root_prefix(&view.1), &o.mount_point);
                    self.overlays.push(shown);
                }
            }
            if found.iter().any(|o| o.lower_deployment.is_some()) {
                self.ns_overlays.insert(view.clone(), found);
            }
            // A container's root is identified from these very mounts (scan/container.rs).
            self.containers.keep_mounts(view, mounts);
        }
    }

    /// What the process's root is: a deployment's (and which), the host's, or foreign.
    fn root_of(&mut self, raw: &ProcessRaw) -> (RootKind, Option<String>) {
        // A composefs root is its deployment's (before `host`: on a composefs-booted host
        // the scanner's own root is one). Known once this view's mounts are read.
        // Thousands of processes share a few roots, and classifying one may ask the
        // catalog: once per (root dev+ino, root link).
        let root_key = (raw.root_dev_ino, raw.root.clone());
        match self.roots.get(&root_key) {
            Some(hit) => hit.clone(),
            None => {
                let k = &self.k;
                let on_cfs = raw.root_dev_ino.map(|r| self.cfs.root_deployment(r));
                let c = match on_cfs {
                    Some(Ok(Some(id))) => (RootKind::Deployment, Some(id)),
                    // On a composefs mount whose image could not be proven: unknown.
                    Some(Err(())) => (RootKind::Unknown, None),
                    _ => classify_root(
                        raw.root_dev_ino,
                        raw.root.as_deref(),
                        self.host,
                        &k.deployments,
                        &|dev, ino| k.deployment_by_dir(dev, ino),
                        &|path| in_this_sysroot(&self.cfg.sysroot, path),
                    ),
                };
                self.roots.insert(root_key, c.clone());
                c
            }
        }
    }

    /// map_files of one mapping, shared by every process that maps the same file under
    /// the same name: thousands of processes on one deleted library cost one readlink+stat.
    pub(super) fn map_file_info(
        &mut self,
        pid: u32,
        m: &FileMapping,
    ) -> crate::Result<procfs::MapFileInfo> {
        let key = (m.major, m.minor, m.inode, m.path.clone());
        if let Some(info) = self.map_files.get(&key) {
            return Ok(info.clone());
        }
        let info = procfs::map_file_info(&self.cfg.proc_root, pid, &m.range.name())?;
        self.map_files.insert(key, info.clone());
        Ok(info)
    }
}
