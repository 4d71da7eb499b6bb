//! What a whole scan saw, as the timeline records it (`catalog::timeline`): each process by
//! PID and start time, its unit or container, and the distinct origins of its code. Built
//! here from the scan's report, so that recording a scan needs no JSON parse in JavaScript
//! (the one definition of an observation; docs/timeline.md).
//!
//! Origins per process, each once by (kind, key), in the order first met:
//! - its deployment (`OSNAME/CHECKSUM.SERIAL`, labelled with the deployment's version);
//! - its container's image (manifest digest, else image ID; labelled with its name);
//! - for each mapped file: a live overlay file (`PATH@OBJECT`, or the path when the object
//!   is unknown; labelled with the version), its commit (labelled with the commit's
//!   version), its package (`NAME=VERSION`, labelled with the manager, with its source
//!   package's name and version as the database gives them) and its image layer
//!   (diff digest, else the layer ID).
use std::collections::hash_map::Entry;
use std::collections::HashMap;

use crate::as_text::text;
use crate::catalog::{TimelineOrigin, TimelineProcessSeen};
use crate::fast_hash::FastMap;
use crate::report::{OriginKind, ProcessReport, ProcessState, RootKind, ScanReport};

/// The distinct origins of one process, first met first; a later sighting of the same
/// (kind, key) keeps the place and takes the newer label.
#[derive(Default)]
struct Distinct {
    list: Vec<TimelineOrigin>,
    at: FastMap<(&'static str, String), usize>,
}

impl Distinct {
    fn add(&mut self, kind: &'static str, key: String, label: Option<&str>) {
        self.add_sourced(kind, key, label, (None, None));
    }

    /// With a package's source package (name, version), as its database gives them.
    fn add_sourced(
        &mut self,
        kind: &'static str,
        key: String,
        label: Option<&str>,
        (source, source_version): (Option<&str>, Option<&str>),
    ) {
        let field = |s: Option<&str>| s.filter(|s| !s.is_empty()).map(str::to_owned);
        let (label, source, source_version) = (field(label), field(source), field(source_version));
        match self.at.entry((kind, key)) {
            Entry::Occupied(e) => self.list[*e.get()].label = label,
            Entry::Vacant(e) => {
                let key = e.key().1.clone();
                e.insert(self.list.len());
                self.list.push(TimelineOrigin {
                    kind: kind.to_owned(),
                    key,
                    label,
                    source,
                    source_version,
                });
            }
        }
    }
}

/// The observation of every process of `report`. `versions` are the deployments' versions
/// by id (`deployment_versions`).
pub fn observe(report: &ScanReport) -> Vec<TimelineProcessSeen> {
    let versions = deployment_versions(report);
    report
        .processes
        .iter()
        .map(|p| observe_process(p, &versions))
        .collect()
}

/// Each deployment's `version` metadata by its id.
pub fn deployment_versions(report: &ScanReport) -> HashMap<&str, Option<&str>> {
    report
        .deployments
        .iter()
        .map(|d| (d.id.as_str(), d.deployment.version.as_deref()))
        .collect()
}

/// One process as the timeline sees it; its unit is the one its cgroup names (the caller
/// replaces it with systemd's answer when it has one: `with_units`).
pub fn observe_process(
    p: &ProcessReport,
    versions: &HashMap<&str, Option<&str>>,
) -> TimelineProcessSeen {
    let mut origins = Distinct::default();
    if p.root_kind == RootKind::Deployment {
        if let Some(d) = p.root_deployment.as_deref().filter(|d| !d.is_empty()) {
            let version = versions.get(d).copied().flatten();
            origins.add("deployment", d.to_owned(), version);
        }
    }
    if let Some(image) = p.container.as_ref().and_then(|c| c.image.as_ref()) {
        if let Some(key) = image.digest.as_ref().or(image.id.as_ref()) {
            if !key.is_empty() {
                origins.add("image", key.clone(), image.name.as_deref());
            }
        }
    }
    for f in &p.files {
        let o = &f.origin;
        let version = o.version.as_deref();
        if o.kind == OriginKind::Overlay {
            let path = text(&f.path);
            let key = match o.object.as_deref().filter(|c| !c.is_empty()) {
                Some(object) => format!("{path}@{object}"),
                None => path.into_owned(),
            };
            origins.add("overlay", key, version);
        }
        if let Some(commit) = o.commit.as_ref().filter(|c| !c.is_empty()) {
            origins.add("commit", commit.clone(), version);
        }
        if let Some(pkg) = &o.package {
            let key = format!("{}={}", pkg.name, pkg.version);
            origins.add_sourced(
                "package",
                key,
                Some(pkg.manager.as_str()),
                (pkg.source.as_deref(), pkg.source_version.as_deref()),
            );
        }
        if let Some(layer) = &o.layer {
            let key = layer.diff_digest.as_ref().unwrap_or(&layer.id).clone();
            origins.add("layer", key, None);
        }
    }
    let container = p
        .container
        .as_ref()
        .map(|c| c.name.clone().unwrap_or_else(|| c.id.clone()));
    TimelineProcessSeen {
        pid: p.pid,
        started_at: p.started_ns.map(|ns| ns.div_euclid(1_000_000_000)),
        comm: text(&p.comm).into_owned(),
        unit: p.cgroup_unit.clone().filter(|u| !u.is_empty()),
        container,
        readable: !(p.state == ProcessState::Unknown && p.files.is_empty()),
        origins: origins.list,
    }
}

/// The processes' units as the status document has them once systemd answered (`unit_of`:
/// PID to unit, None for a process the manager places in no unit): they replace the units
/// the processes' cgroups named. A process `unit_of` does not list keeps its cgroup's unit.
pub fn with_units(processes: &mut [TimelineProcessSeen], unit_of: &HashMap<u32, Option<String>>) {
    for p in processes {
        if let Some(unit) = unit_of.get(&p.pid) {
            p.unit = unit.clone().filter(|u| !u.is_empty());
        }
    }
}
