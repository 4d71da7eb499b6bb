//! The repo layer against repositories built by the real `ostree` CLI: every field we read
//! is compared with what ostree itself prints.
use std::collections::BTreeSet;
use std::ffi::OsStr;
use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;

use livetree_core::ostree::checksum::{checksum_bare_user_file, checksum_file, checksum_path};
use livetree_core::ostree::gvariant::MetaValue;
use livetree_core::ostree::repo::{self, ObjectKind, Repo, RepoMode};
use livetree_core::Error;

mod scratch;
use scratch::Scratch;

fn run(args: &[&OsStr]) -> Vec<u8> {
    let out = Command::new(args[0]).args(&args[1..]).output().unwrap();
    assert!(
        out.status.success(),
        "{:?} failed: {}",
        args,
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

fn ostree(repo: &Path, args: &[&str]) -> String {
    let repo_arg = format!("--repo={}", repo.display());
    let mut v: Vec<&OsStr> = vec![OsStr::new("ostree"), OsStr::new(&repo_arg)];
    v.extend(args.iter().map(OsStr::new));
    String::from_utf8(run(&v)).unwrap()
}

fn setxattr(path: &Path, name: &str, value: &[u8]) {
    let status = Command::new("setfattr")
        .arg("-n")
        .arg(name)
        .arg("-v")
        .arg(format!(
            "0x{}",
            livetree_core::ostree::checksum::to_hex(value)
        ))
        .arg(path)
        .status()
        .unwrap();
    assert!(status.success());
}

/// The source tree: awkward names, a symlink, executables, an empty directory, xattrs.
fn make_tree(root: &Path, generation: u32, with_xattrs: bool) {
    let lib = root.join("usr/lib");
    fs::create_dir_all(&lib).unwrap();
    fs::create_dir_all(root.join("usr/bin")).unwrap();
    fs::create_dir_all(root.join("var/empty")).unwrap();
    fs::write(
        lib.join("libc.so.6"),
        format!("libc generation {generation}\n"),
    )
    .unwrap();
    fs::write(lib.join("with space.so"), b"space\n").unwrap();
    fs::write(lib.join("new\nline"), b"newline\n").unwrap();
    fs::write(lib.join("empty"), b"").unwrap();
    std::os::unix::fs::symlink("libc.so.6", lib.join("libc.so")).unwrap();
    std::os::unix::fs::symlink("../lib/does-not-exist", root.join("usr/bin/dangling")).unwrap();
    let exe = root.join("usr/bin/tool");
    fs::write(&exe, vec![0x7f, b'E', b'L', b'F', 0, 1, 2, 255]).unwrap();
    fs::set_permissions(&exe, fs::Permissions::from_mode(0o755)).unwrap();
    let big: Vec<u8> = (0..300_000u32).map(|i| (i * 7 % 251) as u8).collect();
    fs::write(lib.join("big.bin"), big).unwrap();
    if with_xattrs {
        // Deliberately set out of order: ostree hashes them sorted by name.
        setxattr(&lib.join("libc.so.6"), "user.zeta", b"z");
        setxattr(&lib.join("libc.so.6"), "user.alpha", b"\x00\x01binary");
        setxattr(&root.join("usr/bin"), "user.dir", b"d");
    }
}

const MODES: [&str; 4] = ["bare", "bare-user", "bare-user-only", "archive"];

struct Built {
    _scratch: Scratch,
    repo: PathBuf,
    root: PathBuf,
    first: String,
    second: String,
}

fn build(mode: &str) -> Built {
    let s = Scratch::new(mode);
    let repo = s.0.join("repo");
    let root = s.0.join("src");
    ostree(&repo, &["init", &format!("--mode={mode}")]);
    // bare-user-only cannot hold xattrs or foreign ownership; the others keep them.
    let xattrs = mode != "bare-user-only";
    make_tree(&root, 1, xattrs);
    let canon = if mode == "bare-user-only" {
        vec!["--canonical-permissions"]
    } else {
        vec![]
    };
    let root_s = root.to_str().unwrap().to_string();
    let mut args = vec![
        "commit",
        "-b",
        "os/stable",
        "--subject=first one",
        "--body=line one\nline two",
        "--add-metadata-string=version=1.2",
        "--timestamp=2021-03-04 05:06:07 +0000",
    ];
    args.extend(canon.iter());
    args.push(&root_s);
    let first = ostree(&repo, &args).trim().to_string();
    fs::write(root.join("usr/lib/libc.so.6"), b"libc generation 2\n").unwrap();
    if xattrs {
        setxattr(&root.join("usr/lib/libc.so.6"), "user.zeta", b"z");
        setxattr(
            &root.join("usr/lib/libc.so.6"),
            "user.alpha",
            b"\x00\x01binary",
        );
    }
    let mut args = vec![
        "commit",
        "-b",
        "os/stable",
        "--subject=second",
        "--add-metadata-string=version=1.3",
        "--add-metadata=answer=uint64 42",
        "--add-metadata=flag=true",
        "--add-metadata=tags=['a', 'b c']",
        "--add-metadata=other=int32 -5",
    ];
    args.extend(canon.iter());
    args.push(&root_s);
    let second = ostree(&repo, &args).trim().to_string();
    Built {
        _scratch: s,
        repo,
        root,
        first,
        second,
    }
}

fn utc(ts: u64) -> String {
    String::from_utf8(run(&[
        OsStr::new("date"),
        OsStr::new("-u"),
        OsStr::new(&format!("-d@{ts}")),
        OsStr::new("+%Y-%m-%d %H:%M:%S +0000"),
    ]))
    .unwrap()
    .trim()
    .to_string()
}

#[test]
fn commits_match_ostree_show() {
    for mode in MODES {
        let b = build(mode);
        let r = Repo::open(&b.repo).unwrap();
        assert_eq!(r.mode().as_str(), mode);
        let c1 = r.read_commit(&b.first).unwrap();
        let c2 = r.read_commit(&b.second).unwrap();
        assert_eq!(c1.subject, "first one");
        assert_eq!(c1.body, "line one\nline two");
        assert_eq!(c1.version.as_deref(), Some("1.2"));
        assert_eq!(c1.timestamp, 1614834367, "big-endian timestamp ({mode})");
        assert_eq!(c1.parent, None);
        assert_eq!(c2.parent.as_deref(), Some(b.first.as_str()));
        assert_eq!(c2.version.as_deref(), Some("1.3"));
        // `ostree rev-parse REF^` is ostree's own view of the parent.
        let parent = ostree(&b.repo, &["rev-parse", &format!("{}^", b.second)]);
        assert_eq!(c2.parent.as_deref(), Some(parent.trim()));
        for c in [&c1, &c2] {
            let show = ostree(&b.repo, &["show", &c.checksum]);
            assert!(
                show.contains(&format!("Date:  {}", utc(c.timestamp))),
                "{show}"
            );
            assert!(show.contains(&c.subject));
            let v = ostree(
                &b.repo,
                &["show", "--print-metadata-key=version", &c.checksum],
            );
            assert_eq!(v.trim(), format!("'{}'", c.version.as_deref().unwrap()));
            // The root tree checksums, as `ostree ls -d -C` prints them for `/`.
            let ls = ostree(&b.repo, &["ls", "-d", "-C", &c.checksum, "/"]);
            assert!(
                ls.contains(&c.root_tree) && ls.contains(&c.root_meta),
                "{ls}"
            );
        }
        let meta = |k: &str| c2.metadata.iter().find(|(n, _)| n == k).map(|(_, v)| v);
        assert_eq!(meta("answer"), Some(&MetaValue::U64(42)));
        assert_eq!(meta("flag"), Some(&MetaValue::Bool(true)));
        assert_eq!(
            meta("tags"),
            Some(&MetaValue::StrList(vec!["a".into(), "b c".into()]))
        );
        assert_eq!(
            meta("other"),
            Some(&MetaValue::Other {
                type_string: "i".into(),
                bytes: (-5i32).to_le_bytes().to_vec()
            })
        );
        let mut commits = r.list_commits().unwrap();
        commits.sort();
        let mut want = vec![b.first.clone(), b.second.clone()];
        want.sort();
        assert_eq!(commits, want);
        ostree(&b.repo, &["fsck"]);
    }
}

/// Parse one line of `ostree ls -C`: mode, uid, gid, size, checksum, then the path.
fn ls_checksum(repo: &Path, commit: &str, path: &[u8]) -> String {
    let repo_arg = format!("--repo={}", repo.display());
    let out = run(&[
        OsStr::new("ostree"),
        OsStr::new(&repo_arg),
        OsStr::new("ls"),
        OsStr::new("-d"),
        OsStr::new("-C"),
        OsStr::new(commit),
        OsStr::new("--"),
        OsStr::from_bytes(path),
    ]);
    let text = String::from_utf8_lossy(&out);
    text.split_whitespace().nth(4).unwrap().to_string()
}

#[test]
fn walk_and_checksums_match_ostree() {
    for mode in MODES {
        let b = build(mode);
        let r = Repo::open(&b.repo).unwrap();
        let tree = r.walk_tree(&b.second).unwrap();
        // Same set of paths as `ostree ls -R`, NUL-separated so newlines survive.
        let repo_arg = format!("--repo={}", b.repo.display());
        let listed = run(&[
            OsStr::new("ostree"),
            OsStr::new(&repo_arg),
            OsStr::new("ls"),
            OsStr::new("-R"),
            OsStr::new("--nul-filenames-only"),
            OsStr::new(&b.second),
        ]);
        let want: BTreeSet<Vec<u8>> = listed
            .split(|c| *c == 0)
            .filter(|p| !p.is_empty())
            .map(<[u8]>::to_vec)
            .collect();
        let got: BTreeSet<Vec<u8>> = tree
            .files
            .iter()
            .map(|f| f.path.clone())
            .chain(tree.dirs.iter().map(|d| d.path.clone()))
            .collect();
        assert_eq!(got, want, "{mode}");
        assert!(got.contains(b"/usr/lib/new\nline".as_slice()));
        assert!(got.contains(b"/usr/lib/with space.so".as_slice()));
        assert!(got.contains(b"/var/empty".as_slice()));

        let co = b.repo.parent().unwrap().join("checkout");
        let co_s = co.to_str().unwrap().to_string();
        // A full (root) checkout applies the committed uid/gid/mode/xattrs in every mode;
        // a user-mode (-U) checkout of bare-user would carry user.ostreemeta instead.
        ostree(&b.repo, &["checkout", &b.second, &co_s]);
        for f in &tree.files {
            assert_eq!(
                f.checksum,
                ls_checksum(&b.repo, &b.second, &f.path),
                "{mode} {:?}",
                String::from_utf8_lossy(&f.path)
            );
            // Our checksum of the checked-out file equals ostree's own `ostree checksum`.
            let on_disk = co.join(OsStr::from_bytes(&f.path[1..]));
            let ours = checksum_path(&on_disk).unwrap();
            let theirs = String::from_utf8(run(&[
                OsStr::new("ostree"),
                OsStr::new("checksum"),
                on_disk.as_os_str(),
            ]))
            .unwrap();
            assert_eq!(ours, theirs.trim(), "{mode} {}", on_disk.display());
            // As root, checkouts of these modes reproduce the committed metadata exactly.
            assert_eq!(ours, f.checksum, "{mode} {}", on_disk.display());
            if fs::symlink_metadata(&on_disk).unwrap().is_file() {
                let fd = fs::File::open(&on_disk).unwrap();
                assert_eq!(checksum_file(&fd).unwrap(), f.checksum);
            }
            // Recomputing from the stored object (ostreemeta, filez header…) agrees too.
            assert_eq!(
                r.file_object_checksum(&f.checksum).unwrap(),
                f.checksum,
                "{mode} {}",
                on_disk.display()
            );
        }
        // Directory metadata: dirmeta checksums computed from the checkout match.
        for d in &tree.dirs {
            let on_disk = co.join(OsStr::from_bytes(&d.path[1..]));
            let md = fs::metadata(&on_disk).unwrap();
            assert_eq!(d.meta.mode, md.mode(), "{mode} {}", on_disk.display());
        }
        let bin = tree.dirs.iter().find(|d| d.path == b"/usr/bin").unwrap();
        if mode == "bare" || mode == "bare-user" || mode == "archive" {
            assert_eq!(bin.meta.xattrs, vec![(b"user.dir".to_vec(), b"d".to_vec())]);
            assert_eq!(
                checksum_path(&co.join("usr/bin")).unwrap(),
                bin.dirmeta,
                "{mode}"
            );
        }
        // Every content object recomputes to its own name.
        for c in r.list_objects(ObjectKind::File).unwrap() {
            assert_eq!(r.file_object_checksum(&c).unwrap(), c, "{mode}");
            if mode == "bare-user" {
                // Through an open descriptor, as for a deleted file of a bare-user deployment.
                let fd = fs::File::open(r.object_path(&c, ObjectKind::File)).unwrap();
                assert_eq!(checksum_bare_user_file(&fd).unwrap(), c);
                assert_ne!(checksum_file(&fd).unwrap(), c, "ostreemeta must matter");
            }
        }
        ostree(&b.repo, &["fsck"]);
    }
}

#[test]
fn xattrs_are_sorted_like_ostree() {
    let b = build("bare");
    let libc = b.root.join("usr/lib/libc.so.6");
    // Whatever order the filesystem lists them in, the checksum is ostree's.
    let theirs = String::from_utf8(run(&[
        OsStr::new("ostree"),
        OsStr::new("checksum"),
        libc.as_os_str(),
    ]))
    .unwrap();
    assert_eq!(checksum_path(&libc).unwrap(), theirs.trim());
    let r = Repo::open(&b.repo).unwrap();
    let files = r.walk_commit(&b.second).unwrap();
    let f = files
        .iter()
        .find(|f| f.path == b"/usr/lib/libc.so.6")
        .unwrap();
    assert_eq!(checksum_path(&libc).unwrap(), f.checksum);
}

#[test]
fn inode_index_finds_hardlinked_checkout_files() {
    let b = build("bare");
    let r = Repo::open(&b.repo).unwrap();
    let co = b.repo.parent().unwrap().join("hardlinked");
    ostree(
        &b.repo,
        &["checkout", "-H", &b.second, co.to_str().unwrap()],
    );
    let idx = r.inode_index().unwrap();
    assert_eq!(idx.len(), r.list_objects(ObjectKind::File).unwrap().len());
    let files = r.walk_commit(&b.second).unwrap();
    assert!(files.len() >= 8);
    for f in &files {
        let md = fs::symlink_metadata(co.join(OsStr::from_bytes(&f.path[1..]))).unwrap();
        if md.is_file() && md.len() == 0 {
            // ostree always copies empty files instead of hard-linking them (EMLINK);
            // nothing maps an empty file, so the index does not need them.
            assert_eq!(md.nlink(), 1);
            continue;
        }
        assert_eq!(
            idx.get(md.dev(), md.ino()),
            Some(f.checksum.clone()),
            "{}",
            String::from_utf8_lossy(&f.path)
        );
    }
    // A copy is another inode: not an object.
    let copy = co.join("copy");
    fs::copy(co.join("usr/lib/libc.so.6"), &copy).unwrap();
    let md = fs::metadata(&copy).unwrap();
    assert_eq!(idx.get(md.dev(), md.ino()), None);
    ostree(&b.repo, &["fsck"]);
}

#[test]
fn refs_match_ostree_refs() {
    let b = build("bare");
    ostree(&b.repo, &["refs", &b.first, "--create=other/old"]);
    ostree(&b.repo, &["refs", &b.first, "--create=origin:remote/ref"]);
    let r = Repo::open(&b.repo).unwrap();
    let refs = r.list_refs().unwrap();
    let names: BTreeSet<String> = refs.iter().map(|(n, _)| n.clone()).collect();
    let listed: BTreeSet<String> = ostree(&b.repo, &["refs"])
        .lines()
        .map(str::to_string)
        .collect();
    assert_eq!(names, listed);
    for (name, sum) in &refs {
        assert_eq!(sum, ostree(&b.repo, &["rev-parse", name]).trim());
        assert_eq!(&r.resolve_ref(name).unwrap(), sum);
    }
    assert!(names.contains("origin:remote/ref"));
}

fn copy_repo(b: &Built, tag: &str) -> (Scratch, PathBuf) {
    let s = Scratch::new(tag);
    let dst = s.0.join("repo");
    run(&[
        OsStr::new("cp"),
        OsStr::new("-a"),
        b.repo.as_os_str(),
        dst.as_os_str(),
    ]);
    (s, dst)
}

fn assert_corrupt_at(err: Error, want: &Path) {
    match err {
        Error::Corrupt { path, .. } => assert_eq!(path, want),
        other => panic!("expected Corrupt at {}, got {other:?}", want.display()),
    }
}

#[test]
fn corrupt_objects_are_reported_with_their_path() {
    let b = build("bare");
    let good = Repo::open(&b.repo).unwrap();
    let c = good.read_commit(&b.second).unwrap();

    // Truncated commit.
    let (_s1, dst) = copy_repo(&b, "trunc");
    let r = Repo::open(&dst).unwrap();
    let p = r.object_path(&b.second, ObjectKind::Commit);
    let bytes = fs::read(&p).unwrap();
    fs::write(&p, &bytes[..bytes.len() / 2]).unwrap();
    assert_corrupt_at(r.read_commit(&b.second).unwrap_err(), &p);
    assert_corrupt_at(r.walk_commit(&b.second).unwrap_err(), &p);

    // One flipped bit in a dirtree: caught by the checksum, reported at the dirtree.
    let (_s2, dst) = copy_repo(&b, "flip");
    let r = Repo::open(&dst).unwrap();
    let p = r.object_path(&c.root_tree, ObjectKind::DirTree);
    let mut bytes = fs::read(&p).unwrap();
    bytes[3] ^= 0x10;
    fs::write(&p, &bytes).unwrap();
    assert_corrupt_at(r.walk_commit(&b.second).unwrap_err(), &p);
    // Same for a dirmeta.
    let p = r.object_path(&c.root_meta, ObjectKind::DirMeta);
    let mut bytes = fs::read(&p).unwrap();
    bytes[0] ^= 1;
    fs::write(&p, &bytes).unwrap();
    assert_corrupt_at(r.read_dirmeta(&c.root_meta).unwrap_err(), &p);

    // Garbage config.
    let (_s3, dst) = copy_repo(&b, "config");
    let cfg = dst.join("config");
    fs::write(&cfg, b"\x00\xffnot a keyfile\n[[[").unwrap();
    assert_corrupt_at(Repo::open(&dst).unwrap_err(), &cfg);
    fs::write(&cfg, b"[core]\nmode=sideways\n").unwrap();
    assert_corrupt_at(Repo::open(&dst).unwrap_err(), &cfg);
    fs::write(&cfg, b"[core]\nrepo_version=1\nmode=archive-z2\n").unwrap();
    assert_eq!(Repo::open(&dst).unwrap().mode(), RepoMode::Archive);

    // A missing object is NotFound, not Corrupt.
    let missing = "0".repeat(64);
    assert!(matches!(
        good.read_commit(&missing),
        Err(Error::NotFound(_))
    ));
    assert!(matches!(
        good.read_commit("../../etc"),
        Err(Error::Corrupt { .. })
    ));
    // Reading never changed the original.
    ostree(&b.repo, &["fsck"]);
}

#[test]
fn parsers_survive_truncation_and_bit_flips_of_real_objects() {
    let b = build("bare");
    let r = Repo::open(&b.repo).unwrap();
    let c = r.read_commit(&b.second).unwrap();
    let tree = r.walk_tree(&b.second).unwrap();
    let mut objects = vec![(
        fs::read(r.object_path(&b.second, ObjectKind::Commit)).unwrap(),
        0,
    )];
    for d in &tree.dirs {
        objects.push((
            fs::read(r.object_path(&d.dirtree, ObjectKind::DirTree)).unwrap(),
            1,
        ));
    }
    objects.push((
        fs::read(r.object_path(&c.root_meta, ObjectKind::DirMeta)).unwrap(),
        2,
    ));
    let parse = |bytes: &[u8], kind: u8| -> bool {
        match kind {
            0 => repo::parse_commit("x", bytes).is_ok(),
            1 => repo::parse_dirtree(bytes).is_ok(),
            _ => repo::parse_dirmeta(bytes).is_ok(),
        }
    };
    for (bytes, kind) in &objects {
        assert!(parse(bytes, *kind));
        for cut in 0..bytes.len() {
            // A GVariant cut short loses its framing offsets; none of these may panic,
            // and a truncated commit never parses.
            let ok = parse(&bytes[..cut], *kind);
            if *kind == 0 {
                assert!(!ok, "truncated commit at {cut} parsed");
            }
        }
        for i in 0..bytes.len() {
            for bit in 0..8 {
                let mut m = bytes.clone();
                m[i] ^= 1 << bit;
                let _ = parse(&m, *kind);
            }
        }
    }
}

#[test]
fn deleted_mapped_object_checksums_through_map_files() {
    use std::os::unix::io::AsRawFd;
    let b = build("bare");
    let r = Repo::open(&b.repo).unwrap();
    let co = b.repo.parent().unwrap().join("deployed");
    ostree(
        &b.repo,
        &["checkout", "-H", &b.second, co.to_str().unwrap()],
    );
    let files = r.walk_commit(&b.second).unwrap();
    let want = &files
        .iter()
        .find(|f| f.path == b"/usr/lib/big.bin")
        .unwrap()
        .checksum;
    let lib = co.join("usr/lib/big.bin");
    let f = fs::File::open(&lib).unwrap();
    let len = f.metadata().unwrap().len() as usize;
    // Map it as the loader would, then delete both the deployed file and the object,
    // as `ostree admin cleanup` does after an update.
    // SAFETY: a fresh read-only private mapping of an open file; unmapped below.
    let addr = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            len,
            libc::PROT_READ,
            libc::MAP_PRIVATE,
            f.as_raw_fd(),
            0,
        )
    };
    assert_ne!(addr, libc::MAP_FAILED);
    drop(f);
    fs::remove_file(&lib).unwrap();
    fs::remove_file(r.object_path(want, ObjectKind::File)).unwrap();
    let start = addr as usize;
    let maps = fs::read_to_string("/proc/self/maps").unwrap();
    let line = maps
        .lines()
        .find(|l| l.starts_with(&format!("{start:x}-")))
        .unwrap();
    assert!(line.ends_with("(deleted)"), "{line}");
    let range = line.split_whitespace().next().unwrap();
    let fd = fs::File::open(format!("/proc/self/map_files/{range}")).unwrap();
    let got = checksum_file(&fd);
    // SAFETY: unmapping exactly the mapping created above.
    unsafe { libc::munmap(addr, len) };
    assert_eq!(&got.unwrap(), want);
}
