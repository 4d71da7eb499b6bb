//! The scan report serializes to the status document's shapes (schema/status.schema.json):
//! the contract's names, codes and key order, `null` for what is absent, `MAJ:MIN` devices,
//! a nested `root`, and `pathBase64` only for a path that is not UTF-8. TypeScript parses
//! this text as the document's parts, so what is checked here is what `status --json` says.
use std::path::PathBuf;

use livetree_core::config::{ConfigChange, ConfigSource};
use livetree_core::ostree::sysroot::Deployment;
use livetree_core::packages::{Manager, PackageInfo};
use livetree_core::report::*;

fn deployment() -> DeploymentReport {
    let d = Deployment {
        index: 0,
        osname: "os".into(),
        checksum: "c0ffee".into(),
        serial: 1,
        bootcsum: Some("b00t".into()),
        bootserial: Some(0),
        version: Some("2.0".into()),
        refspec: None,
        has_origin: true,
        unlocked: "none".into(),
        booted: true,
        pending: false,
        rollback: false,
        staged: false,
        pinned: true,
        path: PathBuf::from("/sysroot/ostree/deploy/os/deploy/c0ffee.1"),
        dir_dev: 2049,
        dir_ino: 77,
    };
    DeploymentReport {
        id: d.id(),
        deployment: d,
        process_count: 3,
        live_apply: None,
        composefs: Some(ComposefsReport {
            image: None,
            digest: Some("d1".into()),
            mounted: false,
        }),
        etc: Some(livetree_core::config::etc_diff::EtcCounts {
            modified: 2,
            added: 1,
            removed: 0,
        }),
    }
}

fn package() -> PackageInfo {
    PackageInfo {
        manager: Manager::Dpkg,
        name: "libc6".into(),
        version: "2.36-9".into(),
        arch: Some("amd64".into()),
        source: Some("glibc".into()),
        source_version: None,
    }
}

fn file(path: &[u8], stale: Option<StaleReason>) -> FileReport {
    FileReport {
        path: path.to_vec(),
        major: 254,
        minor: 1,
        ino: 1 << 40,
        deleted: stale.is_some(),
        path_gone: stale.is_some(),
        superseded: false,
        origin: Origin {
            kind: OriginKind::Deployment,
            deployment: Some("os/c0ffee.1".into()),
            commit: Some("c0ffee".into()),
            object: Some("0b1ec7".into()),
            tree_path: Some(b"/usr/lib/libc.so.6".to_vec()),
            version: Some("2.0".into()),
            package: Some(std::sync::Arc::new(package())),
            layer: None,
        },
        stale_reason: stale,
        identical_in: None,
    }
}

/// A process `d` in the host's root.
fn host_process(pid: u32, state: ProcessState, files: Vec<FileReport>) -> ProcessReport {
    ProcessReport {
        pid,
        comm: b"d".to_vec(),
        exe: None,
        root_kind: RootKind::Host,
        root_deployment: None,
        cgroup_unit: None,
        cgroup: None,
        container: None,
        state,
        files,
        started_ns: None,
        start_ticks: None,
        config_changes: Vec::new(),
        unreadable: (state == ProcessState::Unknown).then_some("EACCES"),
    }
}

/// A report of a host without OSTree (sysroot `/`) with these processes and nothing else.
fn host_report(processes: Vec<ProcessReport>) -> ScanReport {
    ScanReport {
        composefs_proof: Default::default(),
        config_fd_reads: 0,
        root_opens: 0,
        sysroot: SysrootReport {
            path: PathBuf::from("/"),
            repo_mode: None,
            ostree_booted: false,
        },
        deployments: vec![],
        overlays: vec![],
        processes,
        kernel_threads: vec![],
        warnings: vec![],
        kernel: None,
        installed_packages: vec![],
        compared_trees: vec![],
    }
}

fn json<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_string(v).unwrap()
}

#[test]
fn a_deployment_is_the_sysroot_record_with_what_the_scan_adds_in_the_contract_order() {
    assert_eq!(
        json(&deployment()),
        concat!(
            r#"{"id":"os/c0ffee.1","osname":"os","checksum":"c0ffee","serial":1,"version":"2.0","#,
            r#""refspec":null,"hasOrigin":true,"booted":true,"pending":false,"rollback":false,"#,
            r#""staged":false,"pinned":true,"unlocked":"none","processCount":3,"#,
            r#""path":"/sysroot/ostree/deploy/os/deploy/c0ffee.1","liveApply":null,"#,
            r#""composefs":{"image":null,"digest":"d1","mounted":false},"#,
            r#""etc":{"modified":2,"added":1,"removed":0}}"#
        )
    );
}

#[test]
fn a_process_nests_its_root_and_says_whether_it_needs_a_restart() {
    let p = ProcessReport {
        pid: 42,
        comm: b"d\xffmon".to_vec(),
        exe: None,
        root_kind: RootKind::Deployment,
        root_deployment: Some("os/c0ffee.1".into()),
        cgroup_unit: Some("d.service".into()),
        cgroup: Some("/system.slice/d.service".into()),
        container: None,
        state: ProcessState::Stale,
        files: vec![],
        started_ns: Some(1_796_548_323_120_000_000),
        start_ticks: Some(1234),
        config_changes: vec![ConfigChange {
            path: b"/etc/ssh/sshd_config".to_vec(),
            changed_ns: 1_796_548_400_000_000_000,
            source: ConfigSource::Conffile,
            package: None,
            replaced: false,
        }],
        unreadable: None,
    };
    assert_eq!(
        json(&p),
        concat!(
            "{\"pid\":42,\"comm\":\"d\u{fffd}mon\",\"exe\":null,",
            r#""root":{"kind":"deployment","deployment":"os/c0ffee.1"},"unit":"d.service","#,
            r#""cgroup":"/system.slice/d.service","#,
            r#""state":"stale","needsRestart":true,"files":[],"#,
            r#""startedAt":"2026-12-06T09:12:03.120Z","needsReload":true,"#,
            r#""configChanges":[{"path":"/etc/ssh/sshd_config","#,
            r#""changedAt":"2026-12-06T09:13:20.000Z","source":"conffile","package":null}]}"#
        )
    );
    let current = ProcessReport {
        state: ProcessState::Current,
        config_changes: Vec::new(),
        ..p
    };
    assert!(json(&current).contains(r#""needsReload":false,"configChanges":[]}"#));
    assert!(json(&current).contains(r#""state":"current","needsRestart":false"#));
}

#[test]
fn a_file_carries_its_exact_bytes_only_when_its_path_is_not_utf8() {
    let text = json(&file(b"/usr/lib/libc.so.6", None));
    assert_eq!(
        text,
        concat!(
            r#"{"path":"/usr/lib/libc.so.6","dev":"254:1","ino":1099511627776,"deleted":false,"#,
            r#""superseded":false,"origin":{"kind":"deployment","deployment":"os/c0ffee.1","#,
            r#""commit":"c0ffee","objectChecksum":"0b1ec7","treePath":"/usr/lib/libc.so.6","#,
            r#""version":"2.0","package":{"name":"libc6","version":"2.36-9","arch":"amd64","#,
            r#""manager":"dpkg","source":"glibc","sourceVersion":null}},"staleReason":null,"#,
            r#""pathGone":false,"identicalIn":null}"#
        )
    );
    let odd = json(&file(
        b"/opt/caf\xe9.so",
        Some(StaleReason::RemovedDeployment),
    ));
    assert!(
        odd.starts_with("{\"path\":\"/opt/caf\u{fffd}.so\","),
        "{odd}"
    );
    // base64 of the exact bytes, after the origin, before the verdict (the contract's order).
    assert!(
        odd.contains(r#"},"pathBase64":"L29wdC9jYWbpLnNv","staleReason":"removed-deployment","pathGone":true,"#),
        "{odd}"
    );
}

#[test]
fn an_overlay_names_its_device_and_upper_layer_as_text() {
    let o = OverlayReport {
        mount_point: b"/usr".to_vec(),
        major: 0,
        minor: 52,
        lower_deployment: Some("os/c0ffee.1".into()),
        upper_dir: None,
        source_commits: vec!["c0ffee".into()],
        files: vec![OverlayFileReport {
            path: b"/usr/bin/x".to_vec(),
            object: None,
            commits: vec![],
        }],
    };
    assert_eq!(
        json(&o),
        concat!(
            r#"{"mountPoint":"/usr","device":"0:52","lowerDeployment":"os/c0ffee.1","upperDir":null,"#,
            r#""sourceCommits":["c0ffee"],"files":[{"path":"/usr/bin/x","objectChecksum":null,"commits":[]}]}"#
        )
    );
}

#[test]
fn the_scan_report_is_the_documents_parts_with_each_distinct_origin_and_file_once() {
    let process =
        |pid: u32, files: Vec<FileReport>| host_process(pid, ProcessState::Current, files);
    let mut other = file(b"/usr/bin/d", None);
    other.origin = Origin::untracked();
    let r = ScanReport {
        composefs_proof: Default::default(),
        config_fd_reads: 0,
        root_opens: 0,
        sysroot: SysrootReport {
            path: PathBuf::from("/sysroot"),
            repo_mode: Some("bare".into()),
            ostree_booted: false,
        },
        deployments: vec![deployment()],
        overlays: vec![],
        processes: vec![
            process(1, vec![file(b"/usr/lib/libc.so.6", None), other.clone()]),
            process(
                2,
                vec![
                    other,
                    file(b"/usr/lib/libc.so.6", None),
                    file(b"/usr/lib/libc.so.6", Some(StaleReason::Superseded)),
                ],
            ),
        ],
        kernel_threads: vec![
            KernelThread {
                pid: 2,
                comm: b"kthreadd".to_vec(),
            },
            KernelThread {
                pid: 3,
                comm: b"pool_workqueue_release".to_vec(),
            },
        ],
        warnings: vec![Warning::new("origin-corrupt", "x.origin: bad", None)],
        kernel: None,
        installed_packages: vec![("host".into(), package())],
        compared_trees: vec!["container:c1".into()],
    };
    let v: serde_json::Value = serde_json::from_str(&json(&r)).unwrap();
    let keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        [
            "comparedTrees",
            "counts",
            "deployments",
            "files",
            "installedPackages",
            "kernel",
            "kernelThreads",
            "origins",
            "overlays",
            "processes",
            "sysroot",
            "warnings"
        ]
    );
    assert_eq!(
        v["sysroot"],
        serde_json::json!({"path": "/sysroot", "repoMode": "bare", "ostreeBooted": false})
    );
    assert_eq!(
        v["warnings"],
        serde_json::json!([{"code": "origin-corrupt", "message": "x.origin: bad", "pid": null}])
    );
    assert_eq!(v["installedPackages"][0]["tree"], "host");
    assert_eq!(v["installedPackages"][0]["package"]["manager"], "dpkg");
    assert!(v["kernel"].is_null());
    assert_eq!(
        v["kernelThreads"],
        serde_json::json!([{"pid": 2, "comm": "kthreadd"}, {"pid": 3, "comm": "pool_workqueue_release"}])
    );
    assert_eq!(v["counts"]["kernelThreads"], 2);
    assert_eq!(v["counts"]["complete"], true);
    // Two distinct origins among five files, three of them distinct: each origin and each
    // file written once, files name their origin by index, processes their files; a file
    // and an origin read back from the tables are the ones a file alone carries inline.
    let origins = v["origins"].as_array().unwrap();
    assert_eq!(origins.len(), 2);
    let files = v["files"].as_array().unwrap();
    assert_eq!(files.len(), 3);
    assert_eq!(v["processes"][0]["files"], serde_json::json!([0, 1]));
    assert_eq!(v["processes"][1]["files"], serde_json::json!([1, 0, 2]));
    let origin = |f: usize| files[f]["origin"].as_u64().unwrap();
    assert_eq!((origin(0), origin(1), origin(2)), (0, 1, 0));
    let alone: serde_json::Value =
        serde_json::from_str(&json(&file(b"/usr/lib/libc.so.6", None))).unwrap();
    assert_eq!(origins[0], alone["origin"]);
    assert_eq!(origins[1]["kind"], "untracked");
    let mut stale: serde_json::Value = serde_json::from_str(&json(&file(
        b"/usr/lib/libc.so.6",
        Some(StaleReason::Superseded),
    )))
    .unwrap();
    stale["origin"] = 0.into();
    assert_eq!(files[2], stale);
    assert_eq!(files[2]["staleReason"], "superseded");
}

/// Counted once in the core: distinct files by (device, inode), processes by state.
/// Written apart: the parts without processes on one line, then the contract's array.
#[test]
fn counts_and_the_processes_written_apart() {
    let process = host_process;
    let mut untracked = file(b"/usr/bin/d", None);
    untracked.origin = Origin::untracked();
    untracked.ino = 7;
    let stale = file(b"/usr/lib/libc.so.6 \"x\"\n", Some(StaleReason::Deleted));
    let mut r = host_report(vec![
        process(
            1,
            ProcessState::Stale,
            vec![stale.clone(), untracked.clone()],
        ),
        process(2, ProcessState::Stale, vec![stale, untracked]),
        process(3, ProcessState::Unknown, vec![]),
        process(4, ProcessState::Current, vec![file(b"/usr/lib/x", None)]),
    ]);
    r.kernel_threads = vec![KernelThread {
        pid: 2,
        comm: b"kthreadd".to_vec(),
    }];
    assert_eq!(
        r.counts(),
        livetree_core::contract::ProcessCounts {
            processes: 4,
            processes_needing_restart: 2,
            stale_files: 1,
            untracked_files: 1,
            processes_unreadable: 1,
            processes_needing_reload: 0,
            processes_denied: 1,
            processes_read_failed: 0,
            kernel_threads: 1,
            complete: false,
            containers: 0,
            containers_outdated: 0,
        }
    );
    let text = livetree_core::contract::write_apart(&r).unwrap();
    let (parts, processes) = text.split_once('\n').unwrap();
    assert!(!processes.contains('\n'), "one line each");
    let parts: serde_json::Value = serde_json::from_str(parts).unwrap();
    assert!(parts.get("processes").is_none() && parts.get("origins").is_none());
    assert_eq!(
        parts["counts"],
        serde_json::json!({"processes": 4, "processesNeedingRestart": 2, "staleFiles": 1,
            "untrackedFiles": 1, "processesUnreadable": 1, "processesDenied": 1, "processesReadFailed": 0,
            "kernelThreads": 1, "complete": false, "containers": 0, "containersOutdated": 0, "processesNeedingReload": 0})
    );
    assert_eq!(processes, json(&r.processes));
    let whole: serde_json::Value = serde_json::from_str(&json(&r)).unwrap();
    assert_eq!(whole["counts"], parts["counts"]);

    // With the unit table: the same array, and in the parts what adding the units needs.
    r.processes[0].comm = "d 𝄞é".as_bytes().to_vec();
    r.processes[1].cgroup = Some("/system.slice/d.service".into());
    r.processes[1].cgroup_unit = Some("d.service".into());
    r.processes[2].cgroup = Some("/system.slice/d.service".into());
    r.processes[2].cgroup_unit = Some("d.service".into());
    r.processes[3].started_ns = Some(1_700_000_000_000_000_000);
    r.processes[1].start_ticks = Some(u64::from(u32::MAX) * 4);
    r.processes[3].start_ticks = Some(170);
    r.processes[3].config_changes = vec![ConfigChange {
        path: b"/etc/d.conf".to_vec(),
        changed_ns: 1_700_000_001_000_000_000,
        source: ConfigSource::OpenFile,
        package: None,
        replaced: true,
    }];
    let mut other = file(b"/usr/lib/libz.so.1", Some(StaleReason::Superseded));
    other.ino = 9;
    r.processes[1].files.push(other);
    let text = livetree_core::contract::write_units(&r).unwrap();
    let (parts, processes) = text.split_once('\n').unwrap();
    assert_eq!(
        processes,
        json(&r.processes),
        "the array as write_apart writes it"
    );
    let parts: serde_json::Value = serde_json::from_str(parts).unwrap();
    assert!(parts.get("processes").is_none() && parts.get("origins").is_none());
    assert_eq!(parts["counts"], serde_json::json!(r.counts()));
    let table = &parts["unitTable"];
    assert_eq!(table["pids"], serde_json::json!([1, 2, 3, 4]));
    let lengths: Vec<usize> = r.processes.iter().map(|p| json(p).len()).collect();
    assert_eq!(table["lengths"], serde_json::json!(lengths));
    assert_ne!(
        lengths[0],
        json(&r.processes[0]).encode_utf16().count(),
        "bytes, not UTF-16"
    );
    assert_eq!(
        table["groups"],
        serde_json::json!([[null, null], ["/system.slice/d.service", "d.service"]])
    );
    assert_eq!(table["group"], serde_json::json!([0, 1, 1, 0]));
    // Two stale processes map the same stale libc: one entry; the second's libz another.
    let libc: serde_json::Value = serde_json::from_str(&json(&r.processes[0].files[0])).unwrap();
    let libz: serde_json::Value = serde_json::from_str(&json(&r.processes[1].files[2])).unwrap();
    assert_eq!(table["files"], serde_json::json!([libc, libz]));
    assert_eq!(table["stale"], serde_json::json!([0, 1]));
    assert_eq!(table["staleRoots"], serde_json::json!(["host", "host"]));
    assert_eq!(table["staleFiles"], serde_json::json!([[0], [0, 1]]));
    assert_eq!(table["config"], serde_json::json!([3]));
    // Each process's start in clock ticks, as the scan read it (not in the process's text).
    assert_eq!(
        table["starts"],
        serde_json::json!([null, u64::from(u32::MAX) * 4, null, 170])
    );
    assert!(!processes.contains("17179869180"));
    let alone: serde_json::Value = serde_json::from_str(&json(&r.processes[3])).unwrap();
    assert_eq!(
        table["configStartedAt"],
        serde_json::json!([alone["startedAt"]])
    );
    assert_eq!(
        table["configChanges"],
        serde_json::json!([alone["configChanges"]])
    );
    assert_eq!(alone["configChanges"][0]["replaced"], true);
}

/// Thousands of processes are written in runs on several threads (`process_texts`): the
/// array and each process's length are what one writer gives, across runs of every size, in
/// order, none and one process included.
#[test]
fn processes_written_in_runs_are_the_text_one_writer_gives() {
    for n in [0usize, 1, 127, 128, 129, 1000] {
        let processes: Vec<ProcessReport> = (0..n)
            .map(|i| {
                let mut f = file(format!("/usr/lib/l{i}.so \"é\"").as_bytes(), None);
                f.ino = i as u64;
                let mut p = host_process(i as u32 + 1, ProcessState::Current, vec![f]);
                p.comm = format!("p{i} 𝄞").into_bytes();
                p
            })
            .collect();
        let r = host_report(processes);
        let apart = livetree_core::contract::write_apart(&r).unwrap();
        assert_eq!(
            apart.split_once('\n').unwrap().1,
            json(&r.processes),
            "{n} processes"
        );
        let units = livetree_core::contract::write_units(&r).unwrap();
        let (parts, array) = units.split_once('\n').unwrap();
        assert_eq!(array, json(&r.processes), "{n} processes");
        let parts: serde_json::Value = serde_json::from_str(parts).unwrap();
        let lengths: Vec<usize> = r.processes.iter().map(|p| json(p).len()).collect();
        assert_eq!(
            parts["unitTable"]["lengths"],
            serde_json::json!(lengths),
            "{n} processes"
        );
    }
}

/// A process in a container: `root.kind` container, its `container` after its files, and a
/// layer file's `origin.layer`; the summary counts each container once.
#[test]
fn container_process() {
    use livetree_core::report::{ContainerImage, ContainerReport, LayerRef, RootKind};
    let c = std::sync::Arc::new(ContainerReport {
        engine: "podman".into(),
        id: "c1".into(),
        name: Some("web".into()),
        image: Some(ContainerImage {
            id: Some("i1".into()),
            digest: Some("sha256:d1".into()),
            name: Some("localhost/web:latest".into()),
            name_now_resolves_to: Some("i2".into()),
        }),
        image_outdated: Some(true),
        storage_root: Some("/var/lib/containers/storage".into()),
        unit: None,
    });
    let mut f = file(b"/usr/lib/libdemo.so.1", Some(StaleReason::ImageOutdated));
    f.deleted = false;
    f.path_gone = false;
    f.origin = Origin {
        kind: OriginKind::Layer,
        tree_path: Some(b"/usr/lib/libdemo.so.1".to_vec()),
        layer: Some(LayerRef {
            id: "l1".into(),
            diff_digest: Some("sha256:l1".into()),
            in_current_image: Some(false),
        }),
        ..Origin::untracked()
    };
    let mut p = host_process(7, ProcessState::Stale, vec![f]);
    p.root_kind = RootKind::Container;
    p.container = Some(c.clone());
    assert_eq!(
        json(&p),
        concat!(
            r#"{"pid":7,"comm":"d","exe":null,"root":{"kind":"container","deployment":null},"#,
            r#""unit":null,"cgroup":null,"state":"stale","needsRestart":true,"files":[{"path":"/usr/lib/libdemo.so.1","#,
            r#""dev":"254:1","ino":1099511627776,"deleted":false,"superseded":false,"origin":{"kind":"layer","#,
            r#""deployment":null,"commit":null,"objectChecksum":null,"treePath":"/usr/lib/libdemo.so.1","#,
            r#""version":null,"package":null,"layer":{"id":"l1","diffDigest":"sha256:l1","inCurrentImage":false}},"#,
            r#""staleReason":"image-outdated","pathGone":false,"identicalIn":null}],"#,
            r#""container":{"engine":"podman","id":"c1","name":"web","image":{"id":"i1","digest":"sha256:d1","#,
            r#""name":"localhost/web:latest","nameNowResolvesTo":"i2"},"imageOutdated":true,"#,
            r#""storageRoot":"/var/lib/containers/storage","unit":null},"#,
            r#""startedAt":null,"needsReload":false,"configChanges":[]}"#
        )
    );
    let mut q = p.clone();
    q.pid = 8;
    let r = host_report(vec![p, q, host_process(9, ProcessState::Current, vec![])]);
    let counts = r.counts();
    assert_eq!((counts.containers, counts.containers_outdated), (1, 1));
}
