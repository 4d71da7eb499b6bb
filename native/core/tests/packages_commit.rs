//! Package databases read from OSTree commits through the repo's objects, no checkout:
//! a tree with a real dpkg database in /usr (fixtures/dpkg-tree.sh) and a tree with a real
//! rpmdb.sqlite (rpm --root), committed with the real `ostree` CLI into a bare and an
//! archive repo; each commit's table must equal the table of the tree on disk.
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use livetree_core::catalog::CatalogFile;
use livetree_core::ostree::repo::Repo;
use livetree_core::packages::{read_table, CommitTree, PackageTable, RootTree};

mod scratch;
use scratch::Scratch;

fn run(cmd: &Path, args: &[&str]) -> String {
    let out = Command::new(cmd).args(args).output().unwrap();
    assert!(
        out.status.success(),
        "{} {args:?}: {}",
        cmd.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures")
}

fn commit(repo: &Path, mode: &str, tree: &Path) -> (Repo, String) {
    if !repo.join("config").exists() {
        run(
            Path::new("ostree"),
            &[
                "init",
                &format!("--repo={}", repo.display()),
                &format!("--mode={mode}"),
            ],
        );
    }
    let csum = run(
        Path::new("ostree"),
        &[
            &format!("--repo={}", repo.display()),
            "commit",
            "-b",
            "t/stable",
            "-s",
            "t",
            &tree.display().to_string(),
        ],
    );
    (Repo::open(repo).unwrap(), csum)
}

fn commit_table(repo: &Repo, csum: &str) -> PackageTable {
    let files: Vec<CatalogFile> = repo
        .walk_commit(csum)
        .unwrap()
        .into_iter()
        .map(CatalogFile::from)
        .collect();
    read_table(&CommitTree::new(repo, csum, &files))
}

fn same(a: &PackageTable, b: &PackageTable) {
    assert_eq!(a.packages.len(), b.packages.len());
    assert_eq!(a.paths.len(), b.paths.len());
    for p in a.paths.keys() {
        assert_eq!(a.lookup(p), b.lookup(p), "{}", String::from_utf8_lossy(p));
    }
}

#[test]
fn dpkg_and_rpm_databases_in_bare_and_archive_commits() {
    let s = Scratch::new("pkgcommit");
    let base = s.0.clone();

    // dpkg: make-tree.sh + dpkg-tree.sh (the Endless layout, /var/lib/dpkg a symlink).
    let deb_tree = base.join("deb");
    run(
        &fixtures().join("make-tree.sh"),
        &[&deb_tree.display().to_string(), "--version", "3.1"],
    );
    run(
        &fixtures().join("dpkg-tree.sh"),
        &[&deb_tree.display().to_string(), "3.1"],
    );
    let on_disk = read_table(&RootTree {
        root: deb_tree.clone(),
    });
    assert!(on_disk.warnings.is_empty(), "{:?}", on_disk.warnings);
    let demo = on_disk
        .lookup(b"/usr/lib/livetree-demo/libdemo.so.1")
        .unwrap();
    assert_eq!(
        (demo.name.as_str(), demo.version.as_str()),
        ("livetree-demo", "3.1-1")
    );
    assert_eq!(
        on_disk
            .source
            .as_deref()
            .map(|s| s.ends_with("usr/share/dpkg/database")),
        Some(true)
    );

    // rpm: a package built by rpmbuild, installed with rpm --root into usr/lib/sysimage/rpm.
    let rpm_tree = base.join("rpm");
    let top = base.join("top");
    fs::create_dir_all(&top).unwrap();
    fs::create_dir_all(&rpm_tree).unwrap();
    fs::write(
        top.join("c.spec"),
        "Name: lt-commit\nVersion: 4.2\nRelease: 7\nSummary: s\nLicense: MIT\nBuildArch: x86_64\n%description\ns\n\
         %install\nmkdir -p %{buildroot}/usr/lib64 && echo c > %{buildroot}/usr/lib64/libc-commit.so.4\n\
         %files\n/usr/lib64/libc-commit.so.4\n",
    )
    .unwrap();
    let topdef = format!("_topdir {}", top.display());
    run(
        Path::new("rpmbuild"),
        &[
            "-bb",
            "--quiet",
            "--define",
            &topdef,
            "--define",
            "__os_install_post %{nil}",
            "--define",
            "debug_package %{nil}",
            &top.join("c.spec").display().to_string(),
        ],
    );
    run(
        Path::new("rpm"),
        &[
            &format!("--root={}", rpm_tree.display()),
            "--dbpath=/usr/lib/sysimage/rpm",
            "-i",
            "--nodeps",
            "--noscripts",
            &top.join("RPMS/x86_64/lt-commit-4.2-7.x86_64.rpm")
                .display()
                .to_string(),
        ],
    );
    let rpm_disk = read_table(&RootTree {
        root: rpm_tree.clone(),
    });
    assert_eq!(
        rpm_disk
            .lookup(b"/usr/lib64/libc-commit.so.4")
            .map(|p| p.version.as_str()),
        Some("4.2-7")
    );

    for mode in ["bare", "archive"] {
        let repo_dir = base.join(format!("repo-{mode}"));
        let (repo, deb_commit) = commit(&repo_dir, mode, &deb_tree);
        let from_commit = commit_table(&repo, &deb_commit);
        assert!(
            from_commit.warnings.is_empty(),
            "{mode}: {:?}",
            from_commit.warnings
        );
        same(&on_disk, &from_commit);

        let (repo, rpm_commit) = commit(&repo_dir, mode, &rpm_tree);
        let t = commit_table(&repo, &rpm_commit);
        if mode == "bare" {
            // Read straight from the object file, read-only: the repo gains no file.
            same(&rpm_disk, &t);
            let stray = run(
                Path::new("find"),
                &[
                    &repo_dir.display().to_string(),
                    "-name",
                    "*-shm",
                    "-o",
                    "-name",
                    "*-journal",
                ],
            );
            assert_eq!(stray, "", "SQLite wrote beside a repo object");
        } else {
            // Archive objects are compressed: SQLite cannot open them; said, not guessed.
            assert!(t.packages.is_empty());
            assert!(
                t.warnings.iter().any(|w| w.contains("archive")),
                "{:?}",
                t.warnings
            );
        }
        run(
            Path::new("ostree"),
            &["fsck", &format!("--repo={}", repo_dir.display())],
        );
    }
}
