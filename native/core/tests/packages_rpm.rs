//! rpm databases made by the real rpm tools: packages built with `rpmbuild`, installed with
//! `rpm --root TREE --dbpath /usr/lib/sysimage/rpm -i --nodeps` (the sqlite backend), read
//! as a tree and cross-checked file by file with `rpm -qf`; then a header damaged inside
//! the database, and a tree with only a Berkeley DB / ndb database: warnings, no crash.
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use livetree_core::packages::{read_table, RootTree};

mod scratch;
use scratch::Scratch;

fn run(cmd: &str, args: &[String]) -> String {
    let out = Command::new(cmd).args(args).output().unwrap();
    assert!(
        out.status.success(),
        "{cmd} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Build NAME from a spec installing FILES (absolute paths) and return the .rpm path.
fn build(top: &Path, name: &str, epoch: Option<u32>, version: &str, files: &[&str]) -> PathBuf {
    let install: String = files
        .iter()
        .map(|f| {
            format!("mkdir -p %{{buildroot}}$(dirname {f}); echo {name} > %{{buildroot}}{f}\n")
        })
        .collect();
    let list: String = files.iter().map(|f| format!("{f}\n")).collect();
    let spec = format!(
        "Name: {name}\n{}Version: {version}\nRelease: 1.lt\nSummary: t\nLicense: MIT\nBuildArch: x86_64\n\
         %description\nt\n%install\n{install}%files\n{list}",
        epoch.map(|e| format!("Epoch: {e}\n")).unwrap_or_default()
    );
    let spec_path = top.join(format!("{name}.spec"));
    fs::write(&spec_path, spec).unwrap();
    run(
        "rpmbuild",
        &[
            "-bb".into(),
            "--quiet".into(),
            "--define".into(),
            format!("_topdir {}", top.display()),
            "--define".into(),
            "__os_install_post %{nil}".into(),
            "--define".into(),
            "debug_package %{nil}".into(),
            spec_path.display().to_string(),
        ],
    );
    top.join(format!("RPMS/x86_64/{name}-{version}-1.lt.x86_64.rpm"))
}

const DBPATH: &str = "/usr/lib/sysimage/rpm";

fn rpm_root(root: &Path, args: &[&str]) -> String {
    let mut a = vec![
        format!("--root={}", root.display()),
        format!("--dbpath={DBPATH}"),
    ];
    a.extend(args.iter().map(|s| s.to_string()));
    run("rpm", &a)
}

#[test]
fn rpmbuild_packages_read_and_cross_checked_with_rpm_qf() {
    let s = Scratch::new("rpm-real");
    let (top, root) = (s.0.join("top"), s.0.join("root"));
    fs::create_dir_all(&top).unwrap();
    fs::create_dir_all(&root).unwrap();
    let a = build(
        &top,
        "lt-demo-libs",
        Some(2),
        "3.0.7",
        &["/usr/lib64/libltdemo.so.3", "/usr/share/lt-demo/a.txt"],
    );
    let b = build(
        &top,
        "lt-tool",
        None,
        "1.2",
        &["/usr/bin/lt-tool", "/usr/lib/lt-tool/plugin.so"],
    );
    for p in [&a, &b] {
        rpm_root(
            &root,
            &["-i", "--nodeps", "--noscripts", &p.display().to_string()],
        );
    }
    assert!(root.join("usr/lib/sysimage/rpm/rpmdb.sqlite").is_file());

    let dbdir = root.join("usr/lib/sysimage/rpm");
    let listing = || {
        let mut v: Vec<(String, u64)> = fs::read_dir(&dbdir)
            .unwrap()
            .map(|e| e.unwrap())
            .map(|e| {
                (
                    e.file_name().to_string_lossy().into_owned(),
                    e.metadata().unwrap().len(),
                )
            })
            .collect();
        v.sort();
        v
    };
    let before = listing();
    let table = read_table(&RootTree { root: root.clone() });
    assert!(table.warnings.is_empty(), "{:?}", table.warnings);
    // Reading wrote nothing next to the database.
    assert_eq!(listing(), before);
    let mut checked = 0;
    for f in [
        "/usr/lib64/libltdemo.so.3",
        "/usr/share/lt-demo/a.txt",
        "/usr/bin/lt-tool",
        "/usr/lib/lt-tool/plugin.so",
    ] {
        let ours = table
            .lookup(f.as_bytes())
            .unwrap_or_else(|| panic!("{f}: no package"));
        let theirs = rpm_root(
            &root,
            &[
                "-qf",
                f,
                "--qf",
                "%{NAME}|%|EPOCH?{%{EPOCH}:}|%{VERSION}-%{RELEASE}|%{ARCH}|%{SOURCERPM}",
            ],
        );
        let t: Vec<&str> = theirs.trim().split('|').collect();
        assert_eq!(ours.name, t[0], "{f}");
        assert_eq!(ours.version, t[1], "{f}");
        assert_eq!(ours.arch.as_deref(), Some(t[2]), "{f}");
        let (src, src_ver) = livetree_core::packages::rpm::split_sourcerpm(t[3]);
        assert_eq!(
            (ours.source.clone(), ours.source_version.clone()),
            (src, src_ver),
            "{f}"
        );
        assert_eq!(ours.manager.as_str(), "rpm");
        checked += 1;
    }
    assert_eq!(checked, 4);
    assert_eq!(
        table.lookup(b"/usr/lib64/libltdemo.so.3").unwrap().version,
        "2:3.0.7-1.lt"
    );
    // The usr-merged spelling of a /usr/lib file.
    assert!(table.lookup(b"/lib/lt-tool/plugin.so").is_some());

    // Capture one real header blob as a fuzz seed and parser fixture.
    let db = root.join("usr/lib/sysimage/rpm/rpmdb.sqlite");
    let conn = rusqlite_open(&db);
    let blob: Vec<u8> = conn
        .query_row("SELECT blob FROM Packages ORDER BY hnum LIMIT 1", [], |r| {
            r.get(0)
        })
        .unwrap();
    let parsed = livetree_core::packages::rpm::parse_header(&blob).unwrap();
    assert_eq!(parsed.info.name, "lt-demo-libs");

    // A header with an offset past its data: that package is skipped with a warning, the
    // other one is still read.
    let mut bad = blob.clone();
    let il = u32::from_be_bytes(bad[0..4].try_into().unwrap()) as usize;
    for i in 0..il {
        let at = 8 + i * 16 + 8;
        bad[at..at + 4].copy_from_slice(&0x7fff_fff0u32.to_be_bytes());
    }
    conn.execute(
        "UPDATE Packages SET blob = ?1 WHERE hnum = (SELECT min(hnum) FROM Packages)",
        [&bad],
    )
    .unwrap();
    drop(conn);
    let damaged = read_table(&RootTree { root: root.clone() });
    assert!(
        damaged
            .warnings
            .iter()
            .any(|w| w.contains("unreadable package header")),
        "{:?}",
        damaged.warnings
    );
    assert!(damaged.lookup(b"/usr/bin/lt-tool").is_some());
    assert!(damaged.lookup(b"/usr/lib64/libltdemo.so.3").is_none());

    // Not a database at all.
    fs::write(&db, b"SQLite format 3\0garbage").unwrap();
    let garbage = read_table(&RootTree { root });
    assert!(!garbage.warnings.is_empty());
    assert!(garbage.packages.is_empty());
}

#[test]
fn berkeley_db_only_is_a_documented_warning() {
    let s = Scratch::new("rpm-bdb");
    fs::create_dir_all(s.0.join("var/lib/rpm")).unwrap();
    fs::write(s.0.join("var/lib/rpm/Packages"), b"\0\0\0\0bdb").unwrap();
    let t = read_table(&RootTree { root: s.0.clone() });
    assert!(t.packages.is_empty());
    assert!(
        t.warnings.iter().any(|w| w.contains("Berkeley DB")),
        "{:?}",
        t.warnings
    );
}

fn rusqlite_open(p: &Path) -> rusqlite::Connection {
    rusqlite::Connection::open(p).unwrap()
}
