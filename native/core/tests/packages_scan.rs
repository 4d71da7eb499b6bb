//! A whole scan naming packages of host-root processes: a tree with a real dpkg database in
//! /var/lib/dpkg (fixtures/dpkg-tree.sh) serves as the host root, a process runs chrooted
//! in it; its files name their packages. Once its library is replaced on disk, that file
//! names none (the database describes the new file, not the one in memory), while the
//! untouched files still do — unless a scan saw that very file (device, inode, path)
//! before it was replaced: then the catalog names the version it had.
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use livetree_core::scan::{
    self, ProcessReport, ProcessState, RootKind, ScanConfig, ScanReport, StaleReason,
};

struct Cleanup(PathBuf, Option<Child>);
impl Drop for Cleanup {
    fn drop(&mut self) {
        if let Some(c) = &mut self.1 {
            let _ = c.kill();
            let _ = c.wait();
        }
        let _ = fs::remove_dir_all(&self.0);
    }
}

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures")
}

fn scan_pid(base: &Path, root: &Path, pid: u32) -> ProcessReport {
    scan_with(base, root, pid, "catalog.sqlite")
        .processes
        .remove(0)
}

fn scan_with(base: &Path, root: &Path, pid: u32, catalog: &str) -> ScanReport {
    let cfg = ScanConfig {
        sysroot: base.join("no-sysroot"),
        proc_root: "/proc".into(),
        run_dir: base.join("run"),
        host_root: root.to_path_buf(),
        catalog_path: Some(base.join(catalog)),
        pids: Some(vec![pid]),
        progress: false,
        sys_root: "/sys".into(),
        kernel: false,
    };
    scan::run(&cfg).unwrap()
}

fn package_of(p: &ProcessReport, path: &[u8]) -> Option<(String, String)> {
    let f = p
        .files
        .iter()
        .find(|f| f.path == path)
        .unwrap_or_else(|| panic!("{} not mapped", String::from_utf8_lossy(path)));
    f.origin
        .package
        .as_ref()
        .map(|p| (p.name.clone(), p.version.clone()))
}

fn ok(c: &mut Command) {
    assert!(c.status().unwrap().success(), "{c:?} failed");
}

/// A host root made by make-tree.sh whose livetree-demo 5.0-1 is installed by the real
/// `dpkg --root` (database at var/lib/dpkg, as on a host), and a process chrooted in it
/// that maps libdemo.so.1.
fn host_root_with_process(name: &str) -> (PathBuf, PathBuf, u32, Cleanup) {
    let base = std::env::temp_dir().join(format!("livetree-{name}-{}", std::process::id()));
    let _ = fs::remove_dir_all(&base);
    fs::create_dir_all(base.join("no-sysroot")).unwrap();
    fs::create_dir_all(base.join("run")).unwrap();
    let mut guard = Cleanup(base.clone(), None);
    let root = base.join("root");
    ok(Command::new(fixtures().join("make-tree.sh"))
        .args([root.as_os_str(), "--version".as_ref(), "5.0".as_ref()])
        .stdout(Stdio::null()));
    ok(Command::new(fixtures().join("dpkg-tree.sh"))
        .args([root.as_os_str(), "5.0".as_ref(), "var/lib/dpkg".as_ref()])
        .stdout(Stdio::null()));
    let child = Command::new("chroot")
        .args([
            root.as_os_str(),
            "/usr/bin/demo-sleep".as_ref(),
            "60".as_ref(),
        ])
        .spawn()
        .unwrap();
    let pid = child.id();
    guard.1 = Some(child);
    // Wait until sleep has replaced the shell, mapped libdemo and sleeps: only then are its
    // mappings final (libdemo, preloaded, is mapped before libc; a scan between the two
    // would want other paths than the next one, and a kept table would be read again).
    for _ in 0..400 {
        let maps = fs::read_to_string(format!("/proc/{pid}/maps")).unwrap_or_default();
        let syscall = fs::read_to_string(format!("/proc/{pid}/syscall")).unwrap_or_default();
        // clock_nanosleep (230) or nanosleep (35) on x86_64.
        let asleep = syscall.starts_with("230 ") || syscall.starts_with("35 ");
        if asleep && maps.contains("libdemo.so.1") && maps.contains("/usr/bin/sleep") {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(25));
    }
    (base, root, pid, guard)
}

/// Upgrade livetree-demo in `root` to `version`-1 with the real `dpkg --root`: a package
/// built by `dpkg-deb --build` whose libdemo.so.1 (different bytes) dpkg unpacks beside the
/// old one and renames over it, as `apt upgrade` does on a host.
fn dpkg_upgrade(base: &Path, root: &Path, version: &str) {
    let pkg = base.join(format!("pkg-{version}"));
    fs::create_dir_all(pkg.join("DEBIAN")).unwrap();
    fs::create_dir_all(pkg.join("usr/lib/livetree-demo")).unwrap();
    fs::create_dir_all(pkg.join("usr/share/livetree-demo")).unwrap();
    let mut lib = fs::read(root.join("usr/lib/livetree-demo/libdemo.so.1")).unwrap();
    lib.extend_from_slice(format!("livetree-demo {version}").as_bytes());
    fs::write(pkg.join("usr/lib/livetree-demo/libdemo.so.1"), lib).unwrap();
    fs::write(pkg.join("usr/share/livetree-demo/version"), version).unwrap();
    fs::write(
        pkg.join("DEBIAN/control"),
        format!(
            "Package: livetree-demo\nVersion: {version}-1\nArchitecture: amd64\n\
             Source: livetree-demo-src ({version})\nMaintainer: livetree tests <root@localhost>\n\
             Description: livetree demo library\n an upgrade for livetree's tests.\n"
        ),
    )
    .unwrap();
    let deb = base.join(format!("demo-{version}.deb"));
    ok(Command::new("dpkg-deb")
        .args(["--root-owner-group", "--build"])
        .args([pkg.as_os_str(), deb.as_os_str()])
        .stdout(Stdio::null()));
    ok(Command::new("dpkg")
        .arg(format!("--root={}", root.display()))
        .args(["--force-unsafe-io", "-i"])
        .arg(&deb)
        .stdout(Stdio::null()));
}

fn name_version(p: &livetree_core::packages::PackageInfo) -> (String, String) {
    (p.name.clone(), p.version.clone())
}

#[test]
fn host_file_replaced_by_dpkg_names_the_version_a_scan_recorded() {
    let (base, root, pid, _guard) = host_root_with_process("pkgrec");
    let lib = root
        .join("usr/lib/livetree-demo/libdemo.so.1")
        .as_os_str()
        .as_encoded_bytes()
        .to_vec();
    // The first scan sees libdemo current: 5.0-1, recorded in the catalog.
    let r = scan_with(&base, &root, pid, "catalog.sqlite");
    assert_eq!(
        package_of(&r.processes[0], &lib),
        Some(("livetree-demo".into(), "5.0-1".into()))
    );
    let before = r.processes[0].files.iter().find(|f| f.path == lib).unwrap();
    let identity = (before.major, before.minor, before.ino);

    dpkg_upgrade(&base, &root, "6.0");
    let status = fs::read_to_string(root.join("var/lib/dpkg/status")).unwrap();
    assert!(status.contains("Package: livetree-demo\nStatus: install ok installed"));
    assert!(status.contains("Version: 6.0-1"));

    // The process still maps the 5.0 inode, now unlinked, and its path names dpkg's new
    // file: replaced (superseded), not merely deleted. dpkg's database names 6.0-1.
    let r = scan_with(&base, &root, pid, "catalog.sqlite");
    let p = &r.processes[0];
    let f = p.files.iter().find(|f| f.path == lib).unwrap();
    assert_eq!(
        (f.deleted, f.path_gone, f.superseded, f.stale_reason),
        (true, true, true, Some(StaleReason::Superseded)),
        "dpkg replaced libdemo: {f:?}"
    );
    assert_eq!((f.major, f.minor, f.ino), identity);
    let running = f.origin.package.as_ref().expect("recorded package");
    assert_eq!(
        name_version(running),
        ("livetree-demo".into(), "5.0-1".into())
    );
    assert_eq!(running.source.as_deref(), Some("livetree-demo-src"));
    assert_eq!(running.source_version.as_deref(), Some("5.0"));
    assert_eq!(running.arch.as_deref(), Some("amd64"));
    // What `livetree packages` compares it with: the host's installed version, 6.0-1.
    let installed: Vec<(String, String)> = r
        .installed_packages
        .iter()
        .filter(|(tree, p)| tree == "host" && p.name == "livetree-demo")
        .map(|(_, p)| name_version(p))
        .collect();
    assert_eq!(
        installed,
        vec![("livetree-demo".to_string(), "6.0-1".to_string())]
    );

    // A catalog that never saw the 5.0 file has no record of it: no package, no guess.
    let r = scan_with(&base, &root, pid, "other-catalog.sqlite");
    assert_eq!(package_of(&r.processes[0], &lib), None);
    // The untouched files still name the host's packages.
    let sleep = root
        .join("usr/bin/sleep")
        .as_os_str()
        .as_encoded_bytes()
        .to_vec();
    assert_eq!(
        package_of(&r.processes[0], &sleep).map(|s| s.0),
        Some("coreutils".into())
    );
}

#[test]
fn host_root_files_name_their_packages_and_replaced_ones_only_if_recorded() {
    let (base, root, pid, _guard) = host_root_with_process("pkgscan");

    // maps shows the chrooted process's files as the scanner sees them: below the root.
    let full = |p: &str| root.join(p).as_os_str().as_encoded_bytes().to_vec();
    let lib = full("usr/lib/livetree-demo/libdemo.so.1");
    let p = scan_pid(&base, &root, pid);
    assert_eq!(p.root_kind, RootKind::Host);
    assert_eq!(
        package_of(&p, &lib),
        Some(("livetree-demo".into(), "5.0-1".into()))
    );
    let sleep = package_of(&p, &full("usr/bin/sleep")).unwrap();
    assert_eq!(sleep.0, "coreutils");

    // Replace the library on disk (as an upgrade does: a new file renamed over the old).
    let new = root.join("usr/lib/livetree-demo/libdemo.so.1.new");
    fs::copy(root.join("usr/lib/livetree-demo/libdemo.so.1"), &new).unwrap();
    fs::rename(&new, root.join("usr/lib/livetree-demo/libdemo.so.1")).unwrap();
    // Its only name now names the new file: the mapped one is deleted. Scanned with a
    // catalog that never saw it current, it names no package (the database describes the
    // new file); with the catalog of the first scan, the package it had then.
    let p = scan_with(&base, &root, pid, "fresh.sqlite")
        .processes
        .remove(0);
    let f = p.files.iter().find(|f| f.path == lib).unwrap();
    assert_eq!(
        (f.deleted, f.superseded, f.stale_reason),
        (true, true, Some(StaleReason::Superseded)),
        "renamed over: {f:?}"
    );
    assert_eq!(p.state, ProcessState::Stale);
    assert_eq!(package_of(&p, &lib), None);
    let p = scan_pid(&base, &root, pid);
    assert_eq!(
        package_of(&p, &lib),
        Some(("livetree-demo".into(), "5.0-1".into()))
    );
    assert_eq!(
        package_of(&p, &full("usr/bin/sleep")).map(|s| s.0),
        Some("coreutils".into())
    );
}

/// Removed, not replaced: `dpkg --remove` unlinks libdemo and puts nothing at its path.
/// Only then is the file `deleted` (the path names nothing); an upgrade's rename over it
/// is `superseded` (above).
#[test]
fn a_library_dpkg_removed_is_deleted_and_one_it_upgraded_is_superseded() {
    let (base, root, pid, _guard) = host_root_with_process("pkgremove");
    let lib = root
        .join("usr/lib/livetree-demo/libdemo.so.1")
        .as_os_str()
        .as_encoded_bytes()
        .to_vec();
    let verdict = |r: &ScanReport| {
        let f = r.processes[0].files.iter().find(|f| f.path == lib).unwrap();
        (f.deleted, f.superseded, f.stale_reason)
    };
    assert_eq!(
        verdict(&scan_with(&base, &root, pid, "c.sqlite")),
        (false, false, None)
    );
    dpkg_upgrade(&base, &root, "6.0");
    assert_eq!(
        verdict(&scan_with(&base, &root, pid, "c.sqlite")),
        (true, true, Some(StaleReason::Superseded))
    );
    ok(Command::new("dpkg")
        .arg(format!("--root={}", root.display()))
        .args([
            "--force-unsafe-io",
            "--force-depends",
            "--remove",
            "livetree-demo",
        ])
        .stdout(Stdio::null()));
    assert!(!root.join("usr/lib/livetree-demo/libdemo.so.1").exists());
    let r = scan_with(&base, &root, pid, "c.sqlite");
    assert_eq!(verdict(&r), (true, false, Some(StaleReason::Deleted)));
    assert_eq!(r.processes[0].state, ProcessState::Stale);
}

/// A kept scanner (the exporter's) reads the host's dpkg database once and keeps the
/// table while the database files are unchanged; so does the catalog for the next process
/// (another `livetree status`). The real `dpkg --root` upgrade changes the files, and the
/// next scan reads the database again and names the new installed version.
#[test]
fn the_host_database_is_read_again_only_when_dpkg_changed_it() {
    use livetree_core::scanner::Scanner;
    let (base, root, pid, _guard) = host_root_with_process("pkgkeep");
    let sleep = root
        .join("usr/bin/sleep")
        .as_os_str()
        .as_encoded_bytes()
        .to_vec();
    let new_scanner = || {
        Scanner::new(ScanConfig {
            sysroot: base.join("no-sysroot"),
            proc_root: "/proc".into(),
            run_dir: base.join("run"),
            host_root: root.clone(),
            catalog_path: Some(base.join("catalog.sqlite")),
            pids: Some(vec![pid]),
            progress: false,
            sys_root: "/sys".into(),
            kernel: false,
        })
    };
    let mut scanner = new_scanner();
    let installed = |r: &ScanReport| -> Vec<(String, String)> {
        r.installed_packages
            .iter()
            .filter(|(tree, p)| tree == "host" && p.name == "livetree-demo")
            .map(|(_, p)| name_version(p))
            .collect()
    };
    let first = scanner.scan(Some(vec![pid]), false).unwrap();
    let second = scanner.scan(Some(vec![pid]), false).unwrap();
    assert_eq!(
        scanner.stats().host_database_reads,
        1,
        "{:?}",
        scanner.stats()
    );
    for r in [&first, &second] {
        assert_eq!(
            package_of(&r.processes[0], &sleep).map(|s| s.0),
            Some("coreutils".into())
        );
        assert_eq!(installed(r), vec![("livetree-demo".into(), "5.0-1".into())]);
    }

    dpkg_upgrade(&base, &root, "6.0");
    let third = scanner.scan(Some(vec![pid]), false).unwrap();
    assert_eq!(
        scanner.stats().host_database_reads,
        2,
        "{:?}",
        scanner.stats()
    );
    assert_eq!(
        installed(&third),
        vec![("livetree-demo".into(), "6.0-1".into())]
    );
    // And a fresh scan agrees with the kept one.
    let fresh = scan_with(&base, &root, pid, "catalog.sqlite");
    assert_eq!(installed(&fresh), installed(&third));
    assert_eq!(
        package_of(&fresh.processes[0], &sleep),
        package_of(&third.processes[0], &sleep)
    );
}
