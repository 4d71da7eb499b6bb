//! The timeline's observation of a process (`timeline_observe`), built from the scan's own
//! report: each distinct origin once, first met first, with the label the document shows;
//! the process's start in whole seconds; its container by name; unreadable only when its
//! maps could not be read; systemd's units replacing the cgroup's.
use std::collections::HashMap;
use std::sync::Arc;

use livetree_core::catalog::TimelineOrigin;
use livetree_core::packages::{Manager, PackageInfo};
use livetree_core::report::*;
use livetree_core::timeline_observe::{observe_process, with_units};

fn package(name: &str, version: &str) -> PackageInfo {
    PackageInfo {
        manager: Manager::Dpkg,
        name: name.into(),
        version: version.into(),
        arch: Some("amd64".into()),
        source: None,
        source_version: None,
    }
}

fn file(path: &[u8], origin: Origin) -> FileReport {
    FileReport {
        path: path.to_vec(),
        major: 254,
        minor: 1,
        ino: 7,
        deleted: false,
        path_gone: false,
        superseded: false,
        origin,
        stale_reason: None,
        identical_in: None,
    }
}

fn from_commit(commit: &str, version: &str, pkg: Option<PackageInfo>) -> Origin {
    Origin {
        kind: OriginKind::Deployment,
        deployment: Some("os/c0ffee.1".into()),
        commit: Some(commit.into()),
        object: Some("0b1ec7".into()),
        tree_path: None,
        version: Some(version.into()),
        package: pkg.map(std::sync::Arc::new),
        layer: None,
    }
}

fn process(files: Vec<FileReport>) -> ProcessReport {
    ProcessReport {
        pid: 42,
        comm: b"d\xffmon".to_vec(),
        exe: None,
        root_kind: RootKind::Deployment,
        root_deployment: Some("os/c0ffee.1".into()),
        cgroup_unit: Some("d.service".into()),
        cgroup: Some("/system.slice/d.service".into()),
        container: None,
        state: ProcessState::Current,
        files,
        started_ns: Some(1_796_548_323_999_000_000),
        start_ticks: None,
        config_changes: Vec::new(),
        unreadable: None,
    }
}

fn origin(kind: &str, key: &str, label: Option<&str>) -> TimelineOrigin {
    TimelineOrigin {
        kind: kind.into(),
        key: key.into(),
        label: label.map(Into::into),
        source: None,
        source_version: None,
    }
}

#[test]
fn a_deployment_process_has_its_deployment_commits_overlay_files_and_packages_once_each() {
    let overlay = Origin {
        kind: OriginKind::Overlay,
        commit: None,
        object: Some("5eed".into()),
        version: None,
        package: None,
        ..from_commit("c0ffee", "2.0", None)
    };
    let p = process(vec![
        file(
            b"/usr/lib/libc.so.6",
            from_commit("c0ffee", "2.0", Some(package("libc6", "2.36-9"))),
        ),
        file(
            b"/usr/lib/libm.so.6",
            from_commit("c0ffee", "2.0", Some(package("libc6", "2.36-9"))),
        ),
        file(b"/usr/lib/libdemo.so.1", overlay.clone()),
        file(
            b"/usr/lib/libx.so",
            Origin {
                object: None,
                ..overlay
            },
        ),
        file(
            b"/usr/lib/old.so",
            from_commit("0dd", "1.0", Some(package("old", "1"))),
        ),
    ]);
    let versions = HashMap::from([("os/c0ffee.1", Some("2.0"))]);
    let seen = observe_process(&p, &versions);
    assert_eq!(seen.pid, 42);
    assert_eq!(seen.started_at, Some(1_796_548_323));
    assert_eq!(seen.comm, "d\u{fffd}mon");
    assert_eq!(seen.unit.as_deref(), Some("d.service"));
    assert_eq!(seen.container, None);
    assert!(seen.readable);
    assert_eq!(
        seen.origins,
        vec![
            origin("deployment", "os/c0ffee.1", Some("2.0")),
            origin("commit", "c0ffee", Some("2.0")),
            origin("package", "libc6=2.36-9", Some("dpkg")),
            origin("overlay", "/usr/lib/libdemo.so.1@5eed", None),
            origin("overlay", "/usr/lib/libx.so", None),
            origin("commit", "0dd", Some("1.0")),
            origin("package", "old=1", Some("dpkg")),
        ]
    );
}

#[test]
fn a_container_process_has_its_image_by_digest_and_its_layers_by_diff_digest() {
    let layer = |id: &str, diff: Option<&str>| Origin {
        kind: OriginKind::Layer,
        deployment: None,
        commit: None,
        object: None,
        tree_path: None,
        version: None,
        package: Some(std::sync::Arc::new(package("livetree-demo", "1.0-1"))),
        layer: Some(LayerRef {
            id: id.into(),
            diff_digest: diff.map(Into::into),
            in_current_image: Some(false),
        }),
    };
    let mut p = process(vec![
        file(b"/usr/lib/libdemo.so.1", layer("abc", Some("sha256:d1ff"))),
        file(b"/tmp/own.so", layer("upper", None)),
    ]);
    p.root_kind = RootKind::Container;
    p.root_deployment = None;
    p.cgroup_unit = None;
    p.container = Some(Arc::new(ContainerReport {
        engine: "podman".into(),
        id: "c0n7a1".into(),
        name: Some("web".into()),
        image: Some(ContainerImage {
            id: Some("1d".into()),
            digest: Some("sha256:d16e57".into()),
            name: Some("localhost/web:latest".into()),
            name_now_resolves_to: Some("2d".into()),
        }),
        image_outdated: Some(true),
        storage_root: None,
        unit: None,
    }));
    let seen = observe_process(&p, &HashMap::new());
    assert_eq!(seen.container.as_deref(), Some("web"));
    assert_eq!(seen.unit, None);
    assert_eq!(
        seen.origins,
        vec![
            origin("image", "sha256:d16e57", Some("localhost/web:latest")),
            origin("package", "livetree-demo=1.0-1", Some("dpkg")),
            origin("layer", "sha256:d1ff", None),
            origin("layer", "upper", None),
        ]
    );
}

#[test]
fn an_unreadable_process_is_said_unreadable_and_systemd_units_replace_the_cgroups() {
    let mut p = process(vec![]);
    p.state = ProcessState::Unknown;
    p.unreadable = Some("EACCES");
    let mut seen = vec![
        observe_process(&p, &HashMap::new()),
        observe_process(&process(vec![]), &HashMap::new()),
    ];
    assert!(!seen[0].readable);
    assert!(seen[1].readable, "read, mapping no file: readable");
    seen[1].pid = 43;
    seen.push(observe_process(&process(vec![]), &HashMap::new()));
    seen[2].pid = 44;
    // systemd placed 42 in another unit and 43 in none; it said nothing of 44.
    let answer = HashMap::from([(42, Some("other.service".to_owned())), (43, None)]);
    with_units(&mut seen, &answer);
    let units: Vec<Option<&str>> = seen.iter().map(|s| s.unit.as_deref()).collect();
    assert_eq!(units, vec![Some("other.service"), None, Some("d.service")]);
}

#[test]
fn a_package_origin_keeps_its_source_package_as_the_database_gave_it() {
    let mut ssl = package("libssl3", "3.0.11-1~deb12u2");
    ssl.source = Some("openssl".into());
    ssl.source_version = Some("3.0.11-1~deb12u2".into());
    // An empty source field is no source (as if the database gave none).
    let mut bare = package("bare", "1-1");
    bare.source = Some(String::new());
    let p = process(vec![
        file(
            b"/usr/lib/libssl.so.3",
            from_commit("c0ffee", "2.0", Some(ssl)),
        ),
        file(
            b"/usr/lib/libbare.so",
            from_commit("c0ffee", "2.0", Some(bare)),
        ),
    ]);
    let seen = observe_process(&p, &HashMap::new());
    let packages: Vec<_> = seen
        .origins
        .iter()
        .filter(|o| o.kind == "package")
        .map(|o| {
            (
                o.key.as_str(),
                o.source.as_deref(),
                o.source_version.as_deref(),
            )
        })
        .collect();
    assert_eq!(
        packages,
        vec![
            (
                "libssl3=3.0.11-1~deb12u2",
                Some("openssl"),
                Some("3.0.11-1~deb12u2")
            ),
            ("bare=1-1", None, None),
        ]
    );
    // Other kinds have none.
    assert!(seen
        .origins
        .iter()
        .filter(|o| o.kind != "package")
        .all(|o| o.source.is_none() && o.source_version.is_none()));
}
