use super::*;

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("livetree-layers-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn write(root: &Path, rel: &str, text: &str) {
    let p = root.join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, text).unwrap();
}

fn ino(p: &Path) -> u64 {
    std::os::unix::fs::MetadataExt::ino(&std::fs::symlink_metadata(p).unwrap())
}

#[test]
fn stack_lookup_and_tree() {
    let d = tmp("stack");
    let (top, mid, base) = (d.join("top"), d.join("mid"), d.join("base"));
    write(&base, "usr/lib/a.so", "a1");
    write(&base, "usr/lib/b.so", "b1");
    write(&base, "var/lib/dpkg/status", "base");
    write(&base, "var/lib/dpkg/info/x.list", "/usr/lib/a.so\n");
    write(&mid, "usr/lib/a.so", "a2");
    write(&mid, "var/lib/dpkg/status", "mid");
    write(&mid, "var/lib/dpkg/info/.wh.x.list", "");
    write(&mid, "var/lib/dpkg/info/y.list", "/usr/lib/a.so\n");
    write(&top, "usr/lib/.wh.b.so", "");
    // A link in a layer is never followed out of it.
    std::fs::create_dir_all(top.join("etc")).unwrap();
    std::os::unix::fs::symlink("/etc", top.join("etc/up")).unwrap();
    let layers = vec![top.clone(), mid.clone(), base.clone()];
    let mut probe_at = |i: usize, rel: &[u8]| probe(&layers[i], rel);
    let a2 = ino(&mid.join("usr/lib/a.so"));
    let a1 = ino(&base.join("usr/lib/a.so"));
    assert_eq!(layer_of(3, b"/usr/lib/a.so", a2, &mut probe_at), Some(1));
    // The replaced lower file is still found in its layer, below the one that replaced it.
    assert_eq!(layer_of(3, b"/usr/lib/a.so", a1, &mut probe_at), Some(2));
    // Whited out above: not served by the base layer any more.
    let b1 = ino(&base.join("usr/lib/b.so"));
    assert_eq!(layer_of(3, b"/usr/lib/b.so", b1, &mut probe_at), None);
    assert_eq!(layer_of(3, b"/etc/up/passwd", 1, &mut probe_at), None);
    assert!(probe(&top, b"/etc/up/passwd").hidden);
    assert_eq!(probe(&top, b"/usr/../etc").entry, None);
    let tree = LayerTree::new(&layers, "test".into());
    assert_eq!(
        tree.read("var/lib/dpkg/status").unwrap(),
        Some(b"mid".to_vec())
    );
    let mut names = tree.list("var/lib/dpkg/info").unwrap();
    names.sort();
    assert_eq!(names, vec![b"y.list".to_vec()]);
    assert!(tree.exists("usr/lib/a.so"));
    assert!(!tree.exists("usr/lib/b.so"));
    assert_eq!(tree.read("etc/up/passwd").unwrap(), None);
    // The stack from the base layer down is the database as the base layer left it.
    let below = LayerTree::new(&layers[2..], "base".into());
    assert_eq!(
        below.read("var/lib/dpkg/status").unwrap(),
        Some(b"base".to_vec())
    );
    assert_eq!(
        below.list("var/lib/dpkg/info").unwrap(),
        vec![b"x.list".to_vec()]
    );
    // An opaque directory hides what lies below it (a new tree: this one keeps the
    // directories it walked).
    write(&top, "var/lib/dpkg/.wh..wh..opq", "");
    let tree = LayerTree::new(&layers, "test".into());
    assert_eq!(tree.read("var/lib/dpkg/status").unwrap(), None);
    assert!(tree.list("var/lib/dpkg/info").unwrap().is_empty());
    std::fs::remove_dir_all(&d).unwrap();
}

#[test]
fn trees_share_what_a_layer_holds() {
    let d = tmp("share");
    let (top, mid, base) = (d.join("top"), d.join("mid"), d.join("base"));
    write(&base, "var/lib/dpkg/info/x.list", "/usr/lib/x.so\n");
    write(&base, "var/lib/dpkg/info/y.list", "/usr/lib/y.so\n");
    write(&mid, "var/lib/dpkg/info/y.list", "/usr/lib/y2.so\n");
    write(&top, "var/lib/dpkg/info/.wh.x.list", "");
    std::fs::create_dir_all(&top).unwrap();
    let layers = vec![top.clone(), mid.clone(), base.clone()];
    let files = LayerFiles::default();
    let below = LayerTree::sharing(&layers[2..], "base".into(), &files);
    assert_eq!(
        below.read("var/lib/dpkg/info/x.list").unwrap(),
        Some(b"/usr/lib/x.so\n".to_vec())
    );
    assert_eq!(
        below.read("var/lib/dpkg/info/y.list").unwrap(),
        Some(b"/usr/lib/y.so\n".to_vec())
    );
    // Changed on disk: a tree sharing the base layer's files gets what this scan read
    // of it, each layer above it still probed.
    write(&base, "var/lib/dpkg/info/x.list", "/usr/lib/changed.so\n");
    let middle = LayerTree::sharing(&layers[1..], "mid".into(), &files);
    assert_eq!(
        middle.read("var/lib/dpkg/info/x.list").unwrap(),
        Some(b"/usr/lib/x.so\n".to_vec())
    );
    assert_eq!(
        middle.read("var/lib/dpkg/info/y.list").unwrap(),
        Some(b"/usr/lib/y2.so\n".to_vec())
    );
    // The top layer's whiteout hides the base layer's file, shared or not.
    let whole = LayerTree::sharing(&layers, "top".into(), &files);
    assert_eq!(whole.read("var/lib/dpkg/info/x.list").unwrap(), None);
    assert!(!whole.exists("var/lib/dpkg/info/x.list"));
    assert_eq!(
        whole.read("var/lib/dpkg/info/y.list").unwrap(),
        Some(b"/usr/lib/y2.so\n".to_vec())
    );
    // A tree of its own, or the next scan (cleared), reads the layer again.
    let own = LayerTree::new(&layers[2..], "base".into());
    assert_eq!(
        own.read("var/lib/dpkg/info/x.list").unwrap(),
        Some(b"/usr/lib/changed.so\n".to_vec())
    );
    files.clear();
    let next = LayerTree::sharing(&layers[1..], "mid".into(), &files);
    assert_eq!(
        next.read("var/lib/dpkg/info/x.list").unwrap(),
        Some(b"/usr/lib/changed.so\n".to_vec())
    );
    std::fs::remove_dir_all(&d).unwrap();
}
