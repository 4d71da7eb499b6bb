//! Scale: a real ostree commit of 100,000 distinct files. Building it takes ostree about
//! 20 s, so the test is ignored by default; run it with
//! `cargo test --release -p livetree-core --test repo_perf -- --ignored --nocapture`.
use std::fs;
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use livetree_core::ostree::repo::Repo;

#[test]
#[ignore]
fn walk_and_index_100k_files() {
    let dir = std::env::temp_dir().join(format!("livetree-repo-perf-{}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    let tree = dir.join("tree");
    for d in 0..1000 {
        let p = tree.join(format!("usr/lib/d{d:04}"));
        fs::create_dir_all(&p).unwrap();
        for f in 0..100 {
            fs::write(p.join(format!("f{f:03}")), format!("{d}-{f}\n")).unwrap();
        }
    }
    let repo: PathBuf = dir.join("repo");
    let ok = |c: &mut Command| c.status().unwrap().success();
    assert!(ok(Command::new("ostree")
        .arg(format!("--repo={}", repo.display()))
        .args(["init", "--mode=bare"])));
    let out = Command::new("ostree")
        .arg(format!("--repo={}", repo.display()))
        .args(["commit", "-b", "big", "--subject=big"])
        .arg(&tree)
        .output()
        .unwrap();
    assert!(out.status.success());
    let commit = String::from_utf8(out.stdout).unwrap().trim().to_string();

    let r = Repo::open(&repo).unwrap();
    let t0 = Instant::now();
    let files = r.walk_commit(&commit).unwrap();
    let walk = t0.elapsed();
    let t1 = Instant::now();
    let idx = r.inode_index().unwrap();
    let index = t1.elapsed();
    eprintln!(
        "walk_commit: {walk:?} for {} files; inode_index: {index:?} for {} objects",
        files.len(),
        idx.len()
    );
    assert_eq!(files.len(), 100_000);
    assert_eq!(idx.len(), 100_000);
    if !cfg!(debug_assertions) {
        assert!(walk < Duration::from_secs(1), "walk took {walk:?}");
        assert!(index < Duration::from_secs(1), "index took {index:?}");
    }
    let _ = fs::remove_dir_all(&dir);
}
