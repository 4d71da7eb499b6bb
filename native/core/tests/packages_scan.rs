//! A whole scan naming packages of host-root processes: a tree with a real dpkg database in
//! /var/lib/dpkg (fixtures/dpkg-tree.sh) serves as the host root, a process runs chrooted
//! in it; its files name their packages. Once its library is replaced on disk, that file
//! names none (the database describes the new file, not the one in memory), while the
//! untouched files still do.
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use livetree_core::scan::{self, ProcessReport, RootKind, ScanConfig};

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
    let cfg = ScanConfig {
        sysroot: base.join("no-sysroot"),
        proc_root: "/proc".into(),
        run_dir: base.join("run"),
        host_root: root.to_path_buf(),
        catalog_path: Some(base.join("catalog.sqlite")),
        pids: Some(vec![pid]),
        progress: false,
        sys_root: "/sys".into(),
        kernel: false,
    };
    let mut r = scan::run(&cfg).unwrap();
    r.processes.remove(0)
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

#[test]
fn host_root_files_name_their_packages_until_replaced() {
    let base = std::env::temp_dir().join(format!("livetree-pkgscan-{}", std::process::id()));
    let _ = fs::remove_dir_all(&base);
    fs::create_dir_all(base.join("no-sysroot")).unwrap();
    fs::create_dir_all(base.join("run")).unwrap();
    let mut guard = Cleanup(base.clone(), None);
    let root = base.join("root");
    let ok = |c: &mut Command| assert!(c.status().unwrap().success());
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
    // Wait until sleep has replaced the shell and mapped libdemo.
    for _ in 0..200 {
        let maps = fs::read_to_string(format!("/proc/{pid}/maps")).unwrap_or_default();
        if maps.contains("libdemo.so.1") && maps.contains("/usr/bin/sleep") {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(25));
    }

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
    let p = scan_pid(&base, &root, pid);
    let f = p.files.iter().find(|f| f.path == lib).unwrap();
    // Its only name now names the new file: the mapped one is deleted.
    assert!(f.deleted || f.superseded);
    assert_eq!(package_of(&p, &lib), None);
    assert_eq!(
        package_of(&p, &full("usr/bin/sleep")).map(|s| s.0),
        Some("coreutils".into())
    );
}
