//! How the scan's report serializes as the status document's parts
//! (`schema/status.schema.json`). Most report types derive `Serialize` where they are
//! declared; the few whose contract shape is not their Rust shape (a nested `root`, a
//! `MAJ:MIN` device, a `pathBase64` only for a path that is not UTF-8, the sysroot's
//! deployment record with what the scan adds) are written out here, each in the contract's
//! key order, which the document keeps.
use base64::Engine;
use serde::ser::SerializeStruct;
use serde::{Serialize, Serializer};

use crate::as_text::text;
use crate::report::{DeploymentReport, FileReport, OverlayReport, ProcessReport, ProcessState};

/// A device as maps and the contract show it: `MAJOR:MINOR` in decimal.
struct Device(u32, u32);

impl Serialize for Device {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&format_args!("{}:{}", self.0, self.1))
    }
}

/// `processes[].root`.
#[derive(Serialize)]
struct Root<'a> {
    kind: crate::report::RootKind,
    deployment: &'a Option<String>,
}

/// `processes[]`; `needsRestart` is the stale state, `unit` the one read from its cgroup
/// (TypeScript replaces it with systemd's answer when it has one).
impl Serialize for ProcessReport {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut p = s.serialize_struct("Process", 8)?;
        p.serialize_field("pid", &self.pid)?;
        p.serialize_field("comm", &text(&self.comm))?;
        p.serialize_field("exe", &self.exe.as_deref().map(text))?;
        let root = Root {
            kind: self.root_kind,
            deployment: &self.root_deployment,
        };
        p.serialize_field("root", &root)?;
        p.serialize_field("unit", &self.cgroup_unit)?;
        p.serialize_field("state", &self.state)?;
        p.serialize_field("needsRestart", &(self.state == ProcessState::Stale))?;
        p.serialize_field("files", &self.files)?;
        p.end()
    }
}

/// `processes[].files[]`: the path as text, and its exact bytes in `pathBase64` only when
/// they are not UTF-8.
impl Serialize for FileReport {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let exact = std::str::from_utf8(&self.path).ok();
        let mut f = s.serialize_struct("MappedFile", 11)?;
        f.serialize_field("path", &text(&self.path))?;
        f.serialize_field("dev", &Device(self.major, self.minor))?;
        f.serialize_field("ino", &self.ino)?;
        f.serialize_field("deleted", &self.deleted)?;
        f.serialize_field("superseded", &self.superseded)?;
        f.serialize_field("origin", &self.origin)?;
        match exact {
            Some(_) => f.skip_field("pathBase64")?,
            None => f.serialize_field(
                "pathBase64",
                &base64::engine::general_purpose::STANDARD.encode(&self.path),
            )?,
        }
        f.serialize_field("staleReason", &self.stale_reason)?;
        f.serialize_field("pathGone", &self.path_gone)?;
        f.serialize_field("identicalIn", &self.identical_in)?;
        f.end()
    }
}

/// `deployments[]`: the sysroot's record of the deployment (less what only attribution
/// needs: its index, boot checksum and serial, directory identity) with the scan's count,
/// apply-live state and composefs image.
impl Serialize for DeploymentReport {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let d = &self.deployment;
        let mut m = s.serialize_struct("Deployment", 17)?;
        m.serialize_field("id", &self.id)?;
        m.serialize_field("osname", &d.osname)?;
        m.serialize_field("checksum", &d.checksum)?;
        m.serialize_field("serial", &d.serial)?;
        m.serialize_field("version", &d.version)?;
        m.serialize_field("refspec", &d.refspec)?;
        m.serialize_field("hasOrigin", &d.has_origin)?;
        m.serialize_field("booted", &d.booted)?;
        m.serialize_field("pending", &d.pending)?;
        m.serialize_field("rollback", &d.rollback)?;
        m.serialize_field("staged", &d.staged)?;
        m.serialize_field("pinned", &d.pinned)?;
        m.serialize_field("unlocked", &d.unlocked)?;
        m.serialize_field("processCount", &self.process_count)?;
        m.serialize_field("path", &d.path.to_string_lossy())?;
        m.serialize_field("liveApply", &self.live_apply)?;
        m.serialize_field("composefs", &self.composefs)?;
        m.end()
    }
}

/// `overlays[]`.
impl Serialize for OverlayReport {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut o = s.serialize_struct("Overlay", 6)?;
        o.serialize_field("mountPoint", &text(&self.mount_point))?;
        o.serialize_field("device", &Device(self.major, self.minor))?;
        o.serialize_field("lowerDeployment", &self.lower_deployment)?;
        o.serialize_field("upperDir", &self.upper_dir.as_deref().map(text))?;
        o.serialize_field("sourceCommits", &self.source_commits)?;
        o.serialize_field("files", &self.files)?;
        o.end()
    }
}
