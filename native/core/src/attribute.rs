//! Attribution decisions: pure functions that turn what the scan observed into the
//! contract's root kinds and process states. No I/O here, so every rule has a unit test.
use crate::report::{FileReport, OriginKind, ProcessState, RootKind, StaleReason};

/// A deployment as attribution needs it.
#[derive(Debug, Clone)]
pub struct DeploymentRef {
    /// OSNAME/CHECKSUM.SERIAL, as roots and files name it.
    pub id: String,
    /// The commit the deployment was checked out from.
    pub commit: String,
    /// `st_dev` of the deployment directory, to recognise a process root that is this deployment.
    pub dir_dev: u64,
    /// `st_ino` of the deployment directory.
    pub dir_ino: u64,
}

/// `OSNAME/CHECKSUM.SERIAL` from a deployment directory path, if the path is one
/// (`…/ostree/deploy/OS/deploy/CSUM.N`, possibly with the kernel's ` (deleted)` suffix
/// that /proc/PID/root shows after an undeploy).
pub fn deployment_id_from_path(path: &[u8]) -> Option<(String, String, u32)> {
    let path = path.strip_suffix(b" (deleted)").unwrap_or(path);
    let text = std::str::from_utf8(path).ok()?;
    let mut parts = text.trim_end_matches('/').rsplit('/');
    let leaf = parts.next()?;
    if parts.next()? != "deploy" {
        return None;
    }
    let osname = parts.next()?;
    if parts.next()? != "deploy" || parts.next()? != "ostree" {
        return None;
    }
    let (checksum, serial) = leaf.split_once('.')?;
    if checksum.len() != 64 || !checksum.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    Some((
        osname.to_string(),
        checksum.to_string(),
        serial.parse().ok()?,
    ))
}

/// What a process's root directory is. Deployments are matched by (dev, ino) of the
/// directory, which is exact even through bind mounts. A root that matches no current
/// deployment is one only when the kernel marks it deleted (the deployment directory was
/// removed while the process kept it as its root) and the catalog knows its (dev, ino)
/// or its path names a deployment of this sysroot (`ours` gets the path without the marker):
/// a live directory is never a removed deployment, even when it reuses a removed one's inode
/// number or is a copy named like one (a chroot), and another sysroot's is not this one's.
pub fn classify_root(
    root: Option<(u64, u64)>,
    root_link: Option<&[u8]>,
    host: Option<(u64, u64)>,
    deployments: &[DeploymentRef],
    known_dir: &dyn Fn(u64, u64) -> Option<String>,
    ours: &dyn Fn(&[u8]) -> bool,
) -> (RootKind, Option<String>) {
    let Some((dev, ino)) = root else {
        return (RootKind::Unknown, None);
    };
    if let Some(d) = deployments
        .iter()
        .find(|d| d.dir_dev == dev && d.dir_ino == ino)
    {
        return (RootKind::Deployment, Some(d.id.clone()));
    }
    if host == Some((dev, ino)) {
        return (RootKind::Host, None);
    }
    // Only a removed directory (the kernel's marker) that lay in this sysroot's deploy
    // directory: a catalog shared by several sysroots knows their directories too.
    let Some(path) = root_link.and_then(|l| l.strip_suffix(b" (deleted)")) else {
        return (RootKind::Foreign, None);
    };
    if !ours(path) {
        return (RootKind::Foreign, None);
    }
    if let Some(id) = known_dir(dev, ino) {
        return (RootKind::Deployment, Some(id));
    }
    if let Some((os, csum, serial)) = deployment_id_from_path(path) {
        return (RootKind::Deployment, Some(format!("{os}/{csum}.{serial}")));
    }
    (RootKind::Foreign, None)
}

/// The commit a deployment id names (`OS/CSUM.SERIAL`).
pub fn commit_of_id(id: &str) -> Option<&str> {
    let leaf = id.rsplit('/').next()?;
    Some(leaf.split_once('.')?.0)
}

/// Why this file makes its process stale, or None: the one rule (renderers only word it).
/// In order: the path names another file now (also when the mapped one was unlinked, as
/// a package upgrade's rename over it does: replaced, not removed); the bytes are gone and
/// the path names nothing; the path is gone with a deployment that no longer exists; the
/// path is gone while another link keeps the bytes; the file comes from a commit other
/// than the process's own deployment's; in a container, the file comes from an image
/// layer that the image its name resolves to now no longer holds (a layer both images
/// share is not stale).
/// Overlay files are live-applied on purpose and make a process `overlay`, not `stale`.
/// `root_current`: the process's root deployment still exists.
pub fn stale_reason(
    f: &FileReport,
    root_kind: RootKind,
    root_deployment: Option<&str>,
    root_current: bool,
) -> Option<StaleReason> {
    if f.superseded {
        return Some(StaleReason::Superseded);
    }
    if f.deleted {
        return Some(StaleReason::Deleted);
    }
    let in_deployment = root_kind == RootKind::Deployment;
    if f.path_gone {
        // A deployment process's file is gone with its tree when that deployment no longer
        // exists, or when the file's commit is one only the catalog remembers.
        let tree_gone = in_deployment && (!root_current || f.origin.kind == OriginKind::Catalog);
        return Some(if tree_gone {
            StaleReason::RemovedDeployment
        } else {
            StaleReason::Unlinked
        });
    }
    if root_kind == RootKind::Container {
        let layer = f
            .origin
            .layer
            .as_ref()
            .filter(|_| f.origin.kind == OriginKind::Layer);
        return (layer.and_then(|l| l.in_current_image) == Some(false))
            .then_some(StaleReason::ImageOutdated);
    }
    if !in_deployment || f.origin.kind == OriginKind::Overlay {
        return None;
    }
    // Only the catalog still knows its commit: that tree is no longer deployed. A process
    // running from a composefs image keeps every path after an undeploy and prune (nothing
    // is unlinked in the detached image), so this is what makes it stale.
    if f.origin.kind == OriginKind::Catalog {
        return Some(if root_current {
            StaleReason::OtherCommit
        } else {
            StaleReason::RemovedDeployment
        });
    }
    match (
        f.origin.commit.as_deref(),
        root_deployment.and_then(commit_of_id),
    ) {
        (Some(c), Some(r)) if c != r => Some(StaleReason::OtherCommit),
        _ => None,
    }
}

/// [`stale_reason`] of a file as the process maps it: a file mapped only shared
/// (MAP_SHARED, every mapping `s`: shared memory such as `/dev/shm/*` unlinked once mapped,
/// a cache or database mapped for its data such as sssd's `/var/lib/sss/mc/*`, which sssd
/// replaces) holds data, not code the process runs: deleted or replaced, it makes no process
/// stale (the facts, `deleted`, `superseded`, are still reported). The dynamic linker maps
/// code private.
pub fn stale_reason_of_mapping(
    f: &FileReport,
    shared_only: bool,
    root_kind: RootKind,
    root_deployment: Option<&str>,
    root_current: bool,
) -> Option<StaleReason> {
    if shared_only {
        return None;
    }
    stale_reason(f, root_kind, root_deployment, root_current)
}

/// The contract's state: the first rule that applies, in the contract's order. Files
/// carry their `stale_reason` already. A container's process is `current` when nothing it
/// maps is stale, as a host process is.
pub fn process_state(
    maps_readable: bool,
    root_kind: RootKind,
    files: &[FileReport],
) -> ProcessState {
    if !maps_readable {
        return ProcessState::Unknown;
    }
    if files.iter().any(|f| f.stale_reason.is_some()) {
        return ProcessState::Stale;
    }
    // Its root could not be told (unreadable, or a composefs mount whose image could not be
    // proven): what it runs is unknown, never "foreign" or "current".
    if root_kind == RootKind::Unknown {
        return ProcessState::Unknown;
    }
    if files.iter().any(|f| f.origin.kind == OriginKind::Overlay) {
        return ProcessState::Overlay;
    }
    if root_kind == RootKind::Foreign {
        return ProcessState::Foreign;
    }
    ProcessState::Current
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::Origin;

    const A: &str = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    const B: &str = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";

    fn file(kind: OriginKind, commit: Option<&str>) -> FileReport {
        FileReport {
            path: b"/usr/lib/x.so".to_vec(),
            major: 8,
            minor: 1,
            ino: 42,
            deleted: false,
            path_gone: false,
            superseded: false,
            origin: Origin {
                kind,
                commit: commit.map(str::to_string),
                ..Origin::untracked()
            },
            stale_reason: None,
            identical_in: None,
        }
    }

    #[test]
    fn deployment_paths() {
        let p = format!("/sysroot/ostree/deploy/demo/deploy/{A}.1");
        assert_eq!(
            deployment_id_from_path(p.as_bytes()),
            Some(("demo".into(), A.into(), 1))
        );
        let deleted = format!("{p} (deleted)");
        assert_eq!(
            deployment_id_from_path(deleted.as_bytes()).map(|d| d.2),
            Some(1)
        );
        assert_eq!(deployment_id_from_path(b"/usr/lib"), None);
        assert_eq!(
            deployment_id_from_path(b"/ostree/deploy/demo/deploy/abc.0"),
            None
        );
        assert_eq!(deployment_id_from_path(&[0xff, b'/']), None);
    }

    #[test]
    fn roots() {
        let deps = vec![DeploymentRef {
            id: format!("demo/{A}.0"),
            commit: A.into(),
            dir_dev: 1,
            dir_ino: 100,
        }];
        let none = |_: u64, _: u64| None;
        let yes = |_: &[u8]| true;
        assert_eq!(
            classify_root(Some((1, 100)), None, Some((1, 2)), &deps, &none, &yes).0,
            RootKind::Deployment
        );
        assert_eq!(
            classify_root(Some((1, 2)), None, Some((1, 2)), &deps, &none, &yes).0,
            RootKind::Host
        );
        assert_eq!(
            classify_root(
                Some((1, 3)),
                Some(b"/srv/chroot"),
                Some((1, 2)),
                &deps,
                &none,
                &yes
            )
            .0,
            RootKind::Foreign
        );
        assert_eq!(
            classify_root(None, None, Some((1, 2)), &deps, &none, &yes).0,
            RootKind::Unknown
        );
        let gone = format!("/s/ostree/deploy/demo/deploy/{B}.0 (deleted)");
        let r = classify_root(
            Some((1, 9)),
            Some(gone.as_bytes()),
            None,
            &deps,
            &none,
            &yes,
        );
        assert_eq!(r, (RootKind::Deployment, Some(format!("demo/{B}.0"))));
        let known = |d: u64, i: u64| (d == 1 && i == 7).then(|| "old/x.0".to_string());
        let removed = b"/s/ostree/deploy/old/deploy/x.0 (deleted)";
        assert_eq!(
            classify_root(Some((1, 7)), Some(removed), None, &deps, &known, &yes).1,
            Some("old/x.0".into())
        );
        // A live directory reusing a removed deployment's inode number is not that
        // deployment; nor is a live copy named like a deployment directory.
        assert_eq!(
            classify_root(
                Some((1, 7)),
                Some(b"/srv/chroot"),
                None,
                &deps,
                &known,
                &yes
            ),
            (RootKind::Foreign, None)
        );
        // Another sysroot's removed deployment is not this sysroot's.
        let theirs = |_: &[u8]| false;
        assert_eq!(
            classify_root(
                Some((1, 9)),
                Some(gone.as_bytes()),
                None,
                &deps,
                &none,
                &theirs
            ),
            (RootKind::Foreign, None)
        );
        let copy = format!("/backup/ostree/deploy/demo/deploy/{B}.0");
        assert_eq!(
            classify_root(
                Some((1, 8)),
                Some(copy.as_bytes()),
                None,
                &deps,
                &none,
                &yes
            )
            .0,
            RootKind::Foreign
        );
    }

    fn reasoned(mut files: Vec<FileReport>, kind: RootKind, own: Option<&str>) -> Vec<FileReport> {
        for f in &mut files {
            f.stale_reason = stale_reason(f, kind, own, true);
        }
        files
    }

    #[test]
    fn states_in_contract_order() {
        let own = format!("demo/{A}.0");
        let st = |files: Vec<FileReport>, kind| {
            process_state(true, kind, &reasoned(files, kind, Some(&own)))
        };
        let cur = vec![file(OriginKind::Deployment, Some(A))];
        assert_eq!(st(cur.clone(), RootKind::Deployment), ProcessState::Current);
        assert_eq!(
            process_state(false, RootKind::Deployment, &cur),
            ProcessState::Unknown
        );
        let other = vec![file(OriginKind::Deployment, Some(B))];
        assert_eq!(st(other, RootKind::Deployment), ProcessState::Stale);
        let mut deleted = cur.clone();
        deleted[0].deleted = true;
        assert_eq!(st(deleted, RootKind::Host), ProcessState::Stale);
        let mut replaced = cur.clone();
        replaced[0].superseded = true;
        assert_eq!(st(replaced, RootKind::Foreign), ProcessState::Stale);
        let pruned = vec![file(OriginKind::Catalog, Some(A))];
        let mut gone = pruned.clone();
        gone[0].stale_reason = stale_reason(&gone[0], RootKind::Deployment, Some(&own), false);
        assert_eq!(gone[0].stale_reason, Some(StaleReason::RemovedDeployment));
        assert_eq!(
            process_state(true, RootKind::Deployment, &gone),
            ProcessState::Stale
        );
        assert_eq!(st(pruned, RootKind::Host), ProcessState::Current);
        let overlay = vec![file(OriginKind::Overlay, Some(B))];
        assert_eq!(st(overlay, RootKind::Deployment), ProcessState::Overlay);
        let untracked = vec![file(OriginKind::Untracked, None)];
        assert_eq!(
            st(untracked.clone(), RootKind::Foreign),
            ProcessState::Foreign
        );
        assert_eq!(st(untracked, RootKind::Host), ProcessState::Current);
    }

    #[test]
    fn stale_reasons() {
        let own = format!("demo/{A}.0");
        let why = |f: &FileReport, kind, current| stale_reason(f, kind, Some(&own), current);
        let mut f = file(OriginKind::Deployment, Some(A));
        assert_eq!(why(&f, RootKind::Deployment, true), None);
        // The path is gone but another link keeps the bytes: with the deployment gone it
        // is the removed deployment, not a deletion.
        f.path_gone = true;
        assert_eq!(
            why(&f, RootKind::Deployment, false),
            Some(StaleReason::RemovedDeployment)
        );
        assert_eq!(
            why(&f, RootKind::Deployment, true),
            Some(StaleReason::Unlinked)
        );
        let mut c = file(OriginKind::Catalog, Some(A));
        c.path_gone = true;
        assert_eq!(
            why(&c, RootKind::Deployment, true),
            Some(StaleReason::RemovedDeployment)
        );
        assert_eq!(why(&c, RootKind::Host, true), Some(StaleReason::Unlinked));
        f.deleted = true;
        assert_eq!(
            why(&f, RootKind::Deployment, false),
            Some(StaleReason::Deleted)
        );
        // Unlinked and its path naming another file: a rename over it (a package upgrade)
        // replaced it. That is the fact to say, not that it was removed.
        f.superseded = true;
        assert_eq!(
            why(&f, RootKind::Deployment, false),
            Some(StaleReason::Superseded)
        );
        assert_eq!(why(&f, RootKind::Host, true), Some(StaleReason::Superseded));
        f.superseded = false;
        let mut s = file(OriginKind::Deployment, Some(B));
        assert_eq!(
            why(&s, RootKind::Deployment, true),
            Some(StaleReason::OtherCommit)
        );
        assert_eq!(why(&s, RootKind::Foreign, true), None);
        s.superseded = true;
        assert_eq!(
            why(&s, RootKind::Deployment, true),
            Some(StaleReason::Superseded)
        );
        let o = file(OriginKind::Overlay, Some(B));
        assert_eq!(why(&o, RootKind::Deployment, true), None);
    }

    #[test]
    fn container_layers() {
        let layer = |in_current| {
            let mut f = file(OriginKind::Layer, None);
            f.origin.layer = Some(crate::report::LayerRef {
                id: "l".into(),
                diff_digest: None,
                in_current_image: in_current,
            });
            f
        };
        let why = |f: &FileReport| stale_reason(f, RootKind::Container, None, false);
        // A layer the image the name now resolves to still has (a shared base): current.
        assert_eq!(why(&layer(Some(true))), None);
        assert_eq!(why(&layer(Some(false))), Some(StaleReason::ImageOutdated));
        // The container's own layer, or nothing known of the current image: not stale.
        assert_eq!(why(&layer(None)), None);
        // Replaced or deleted inside the container, as on the host.
        let mut replaced = layer(Some(true));
        replaced.superseded = true;
        assert_eq!(why(&replaced), Some(StaleReason::Superseded));
        let mut gone = layer(Some(false));
        gone.deleted = true;
        assert_eq!(why(&gone), Some(StaleReason::Deleted));
        let mut unlinked = layer(Some(true));
        unlinked.path_gone = true;
        assert_eq!(why(&unlinked), Some(StaleReason::Unlinked));
        assert_eq!(why(&file(OriginKind::Untracked, None)), None);
        let files = vec![layer(Some(true))];
        assert_eq!(
            process_state(true, RootKind::Container, &files),
            ProcessState::Current
        );
    }
}
