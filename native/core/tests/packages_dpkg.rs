//! dpkg databases made by the real dpkg (`dpkg --root`, `dpkg-divert --root`) in a scratch
//! root, read as a tree: versions, Source forms, a diversion, a name that is not UTF-8;
//! then the same database damaged (truncated status, cut diversions): warnings, no crash.
use std::ffi::OsStr;
use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::process::Command;

use livetree_core::packages::{dpkg, read_table, RootTree};

mod scratch;
use scratch::Scratch;

fn sh(cmd: &str, args: &[&std::ffi::OsStr]) {
    let out = Command::new(cmd).args(args).output().unwrap();
    assert!(
        out.status.success(),
        "{cmd} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Build NAME_VERSION.deb holding FILES (relative paths, bytes) and install it with dpkg --root.
fn install(work: &Path, root: &Path, control: &str, files: &[&[u8]]) {
    let pkg = work.join("pkg");
    let _ = fs::remove_dir_all(&pkg);
    fs::create_dir_all(pkg.join("DEBIAN")).unwrap();
    fs::write(pkg.join("DEBIAN/control"), control).unwrap();
    for f in files {
        let p = pkg.join(std::ffi::OsStr::from_bytes(f));
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(&p, b"\x7fELF not really\n").unwrap();
    }
    let deb = work.join("p.deb");
    sh(
        "dpkg-deb",
        &[
            "--root-owner-group".as_ref(),
            "--build".as_ref(),
            pkg.as_os_str(),
            deb.as_os_str(),
        ],
    );
    let root_arg = format!("--root={}", root.display());
    sh(
        "dpkg",
        &[
            root_arg.as_ref(),
            "--force-unsafe-io".as_ref(),
            "-i".as_ref(),
            deb.as_os_str(),
        ],
    );
}

#[test]
fn real_dpkg_root_database() {
    let s = Scratch::new("dpkg-real");
    let (work, root) = (s.0.join("work"), s.0.join("root"));
    fs::create_dir_all(root.join("var/lib/dpkg/info")).unwrap();
    fs::create_dir_all(root.join("var/lib/dpkg/updates")).unwrap();
    fs::write(root.join("var/lib/dpkg/status"), b"").unwrap();
    install(
        &work,
        &root,
        "Package: libfoo1\nVersion: 1:2.0-3+b1\nArchitecture: amd64\nMulti-Arch: same\nSource: foo (2.0-3)\nMaintainer: t <t@t>\nDescription: foo\n",
        &[b"usr/lib/x86_64-linux-gnu/libfoo.so.1", b"usr/share/foo/caf\xe9.dat", b"usr/bin/foo"],
    );
    install(
        &work,
        &root,
        "Package: foo-wrapper\nVersion: 0.1\nArchitecture: all\nMaintainer: t <t@t>\nDescription: w\n",
        &[b"usr/share/foo-wrapper/readme"],
    );
    // foo-wrapper diverts libfoo1's /usr/bin/foo to /usr/bin/foo.real, as real wrappers do.
    let root_arg = format!("--root={}", root.display());
    sh(
        "dpkg-divert",
        &[
            root_arg.as_ref(),
            "--package".as_ref(),
            "foo-wrapper".as_ref(),
            "--rename".as_ref(),
            "--divert".as_ref(),
            "/usr/bin/foo.real".as_ref(),
            "--add".as_ref(),
            "/usr/bin/foo".as_ref(),
        ],
    );
    assert!(root.join("usr/bin/foo.real").exists());

    let table = read_table(&RootTree { root: root.clone() });
    let foo = table
        .lookup(b"/usr/lib/x86_64-linux-gnu/libfoo.so.1")
        .unwrap();
    assert_eq!(foo.name, "libfoo1");
    assert_eq!(foo.version, "1:2.0-3+b1");
    assert_eq!(foo.arch.as_deref(), Some("amd64"));
    assert_eq!(foo.source.as_deref(), Some("foo"));
    assert_eq!(foo.source_version.as_deref(), Some("2.0-3"));
    // The same file through the merged-/usr alias.
    assert_eq!(
        table.lookup(b"/lib/x86_64-linux-gnu/libfoo.so.1"),
        Some(foo)
    );
    // A name that is not UTF-8, matched byte for byte, with a warning saying so.
    assert_eq!(
        table
            .lookup(b"/usr/share/foo/caf\xe9.dat")
            .map(|p| p.name.as_str()),
        Some("libfoo1")
    );
    assert!(
        table.warnings.iter().any(|w| w.contains("not UTF-8")),
        "{:?}",
        table.warnings
    );
    // The diverted file lives at foo.real; /usr/bin/foo is nobody's file now.
    assert_eq!(
        table.lookup(b"/usr/bin/foo.real").map(|p| p.name.as_str()),
        Some("libfoo1")
    );
    assert_eq!(table.lookup(b"/usr/bin/foo"), None);
    let w = table.lookup(b"/usr/share/foo-wrapper/readme").unwrap();
    assert_eq!(
        (w.source.as_deref(), w.source_version.as_deref()),
        (Some("foo-wrapper"), Some("0.1"))
    );

    // What a scan reads is what the fuzzed function gives for the same bytes: there is one
    // dpkg implementation (`dpkg::table`), and `read_table` only fetches its files.
    let db = root.join("var/lib/dpkg");
    let names: Vec<Vec<u8>> = fs::read_dir(db.join("info"))
        .unwrap()
        .map(|e| e.unwrap().file_name().as_bytes().to_vec())
        .collect();
    let mut read = |n: &[u8]| Ok(fs::read(db.join("info").join(OsStr::from_bytes(n))).ok());
    let location = format!("{}/var/lib/dpkg", root.display());
    let fuzzed = dpkg::table(
        &location,
        &fs::read(db.join("status")).unwrap(),
        Some(&fs::read(db.join("diversions")).unwrap()),
        names,
        &mut read,
        None,
    );
    assert_eq!(fuzzed.paths, table.paths);
    assert_eq!(fuzzed.packages, table.packages);
    assert_eq!(fuzzed.warnings, table.warnings);
    assert_eq!(fuzzed.source, table.source);

    // Damage: status cut in the middle of a stanza, diversions cut mid-record.
    let status = fs::read(db.join("status")).unwrap();
    let cut = status.windows(9).rposition(|w| w == b"Version: ").unwrap() + 4;
    fs::write(db.join("status"), &status[..cut]).unwrap();
    let div = fs::read(db.join("diversions")).unwrap();
    fs::write(db.join("diversions"), &div[..div.len() - 5]).unwrap();
    let damaged = read_table(&RootTree { root: root.clone() });
    assert!(
        damaged
            .warnings
            .iter()
            .any(|w| w.contains("status") && w.contains("truncated")),
        "{:?}",
        damaged.warnings
    );
    assert!(
        damaged.warnings.iter().any(|w| w.contains("diversions")),
        "{:?}",
        damaged.warnings
    );
    assert!(damaged.packages.len() < table.packages.len());

    // Garbage everywhere: still a table (empty), warnings, no panic.
    fs::write(
        db.join("status"),
        [0xffu8, 0, b'\n', b':', b'\n', b'\n', b'P'],
    )
    .unwrap();
    fs::write(db.join("info/libfoo1:amd64.list"), [0xfe, 0xff, 0]).unwrap();
    let garbage = read_table(&RootTree { root });
    assert!(garbage.packages.is_empty());
    assert!(!garbage.warnings.is_empty());
}

#[test]
fn no_database_is_an_empty_table_without_warnings() {
    let s = Scratch::new("dpkg-none");
    let t = read_table(&RootTree { root: s.0.clone() });
    assert!(t.packages.is_empty() && t.warnings.is_empty());
}
