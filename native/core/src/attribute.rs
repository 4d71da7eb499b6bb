//! Attribution decisions: pure functions that turn what the scan observed into the
//! contract's root kinds and process states. No I/O here, so every rule has a unit test.
use crate::scan::{FileReport, OriginKind, ProcessState, RootKind};

/// A deployment as attribution needs it.
#[derive(Debug, Clone)]
pub struct DeploymentRef {
    pub id: String,
    pub commit: String,
    pub dir_dev: u64,
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
/// directory, which is exact even through bind mounts; a root that no longer matches any
/// deployment is still recognised as one by the catalog (by dev+ino) or by its path.
pub fn classify_root(
    root: Option<(u64, u64)>,
    root_link: Option<&[u8]>,
    host: Option<(u64, u64)>,
    deployments: &[DeploymentRef],
    known_dir: &dyn Fn(u64, u64) -> Option<String>,
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
    if let Some(id) = known_dir(dev, ino) {
        return (RootKind::Deployment, Some(id));
    }
    if let Some((os, csum, serial)) = root_link.and_then(deployment_id_from_path) {
        return (RootKind::Deployment, Some(format!("{os}/{csum}.{serial}")));
    }
    (RootKind::Foreign, None)
}

/// The commit a deployment id names (`OS/CSUM.SERIAL`).
pub fn commit_of_id(id: &str) -> Option<&str> {
    let leaf = id.rsplit('/').next()?;
    Some(leaf.split_once('.')?.0)
}

/// Whether this file makes the process stale: deleted, replaced on disk, or from a tree
/// other than the process's own deployment. Overlay files are live-applied on purpose
/// and say `overlay`, not `stale`.
pub fn file_is_stale(f: &FileReport, root_kind: RootKind, root_commit: Option<&str>) -> bool {
    if f.deleted || f.superseded {
        return true;
    }
    if root_kind != RootKind::Deployment || f.origin.kind == OriginKind::Overlay {
        return false;
    }
    // Only the catalog still knows its commit: that tree is no longer deployed. A process
    // running from a composefs image keeps every path after an undeploy and prune (nothing
    // is unlinked in the detached image), so this is what makes it stale.
    if f.origin.kind == OriginKind::Catalog {
        return true;
    }
    match (f.origin.commit.as_deref(), root_commit) {
        (Some(c), Some(r)) => c != r,
        _ => false,
    }
}

/// The contract's state: the first rule that applies, in the contract's order.
pub fn process_state(
    maps_readable: bool,
    root_kind: RootKind,
    root_deployment: Option<&str>,
    files: &[FileReport],
) -> ProcessState {
    if !maps_readable {
        return ProcessState::Unknown;
    }
    let root_commit = root_deployment.and_then(commit_of_id);
    if files
        .iter()
        .any(|f| file_is_stale(f, root_kind, root_commit))
    {
        return ProcessState::Stale;
    }
    if files.iter().any(|f| f.origin.kind == OriginKind::Overlay) {
        return ProcessState::Overlay;
    }
    if matches!(root_kind, RootKind::Foreign | RootKind::Unknown) {
        return ProcessState::Foreign;
    }
    ProcessState::Current
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scan::Origin;

    const A: &str = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    const B: &str = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";

    fn file(kind: OriginKind, commit: Option<&str>) -> FileReport {
        FileReport {
            path: b"/usr/lib/x.so".to_vec(),
            major: 8,
            minor: 1,
            ino: 42,
            deleted: false,
            superseded: false,
            origin: Origin {
                kind,
                commit: commit.map(str::to_string),
                ..Origin::untracked()
            },
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
        assert_eq!(
            classify_root(Some((1, 100)), None, Some((1, 2)), &deps, &none).0,
            RootKind::Deployment
        );
        assert_eq!(
            classify_root(Some((1, 2)), None, Some((1, 2)), &deps, &none).0,
            RootKind::Host
        );
        assert_eq!(
            classify_root(
                Some((1, 3)),
                Some(b"/srv/chroot"),
                Some((1, 2)),
                &deps,
                &none
            )
            .0,
            RootKind::Foreign
        );
        assert_eq!(
            classify_root(None, None, Some((1, 2)), &deps, &none).0,
            RootKind::Unknown
        );
        let gone = format!("/s/ostree/deploy/demo/deploy/{B}.0 (deleted)");
        let r = classify_root(Some((1, 9)), Some(gone.as_bytes()), None, &deps, &none);
        assert_eq!(r, (RootKind::Deployment, Some(format!("demo/{B}.0"))));
        let known = |d: u64, i: u64| (d == 1 && i == 7).then(|| "old/x.0".to_string());
        assert_eq!(
            classify_root(Some((1, 7)), None, None, &deps, &known).1,
            Some("old/x.0".into())
        );
    }

    #[test]
    fn states_in_contract_order() {
        let own = format!("demo/{A}.0");
        let cur = vec![file(OriginKind::Deployment, Some(A))];
        let st = |files: &[FileReport], kind| process_state(true, kind, Some(&own), files);
        assert_eq!(st(&cur, RootKind::Deployment), ProcessState::Current);
        assert_eq!(
            process_state(false, RootKind::Deployment, Some(&own), &cur),
            ProcessState::Unknown
        );
        let other = vec![file(OriginKind::Deployment, Some(B))];
        assert_eq!(st(&other, RootKind::Deployment), ProcessState::Stale);
        let mut deleted = cur.clone();
        deleted[0].deleted = true;
        assert_eq!(st(&deleted, RootKind::Host), ProcessState::Stale);
        let mut replaced = cur.clone();
        replaced[0].superseded = true;
        assert_eq!(st(&replaced, RootKind::Foreign), ProcessState::Stale);
        let pruned = vec![file(OriginKind::Catalog, Some(A))];
        assert_eq!(st(&pruned, RootKind::Deployment), ProcessState::Stale);
        assert_eq!(
            process_state(true, RootKind::Host, None, &pruned),
            ProcessState::Current
        );
        let overlay = vec![file(OriginKind::Overlay, Some(B))];
        assert_eq!(st(&overlay, RootKind::Deployment), ProcessState::Overlay);
        let untracked = vec![file(OriginKind::Untracked, None)];
        assert_eq!(
            process_state(true, RootKind::Foreign, None, &untracked),
            ProcessState::Foreign
        );
        assert_eq!(
            process_state(true, RootKind::Host, None, &untracked),
            ProcessState::Current
        );
    }
}
