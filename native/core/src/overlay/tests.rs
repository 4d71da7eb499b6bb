use super::*;
use crate::proc::mountinfo::parse_mountinfo;
use std::os::unix::ffi::OsStringExt;

#[test]
fn paths_below_and_joined() {
    assert_eq!(below(b"/usr", b"/usr/lib/x.so"), Some(&b"/lib/x.so"[..]));
    assert_eq!(below(b"/usr/", b"/usr/lib/x.so"), Some(&b"/lib/x.so"[..]));
    assert_eq!(below(b"/usr", b"/usrx/lib"), None);
    assert_eq!(below(b"/", b"/usr/lib"), Some(&b"/usr/lib"[..]));
    assert_eq!(below(b"/usr", b"/usr"), Some(&b"/"[..]));
    assert_eq!(join(b"/usr", b"/lib/x.so"), b"/usr/lib/x.so");
    assert_eq!(join(b"", b"/lib/x.so"), b"/lib/x.so");
    assert_eq!(join(b"/usr", b"/"), b"/usr");
    assert_eq!(join(b"", b"/"), b"/");
}

#[test]
fn subpaths_on_component_boundaries() {
    let d = b"/s/ostree/deploy/demo/deploy/abc.1";
    assert_eq!(
        subpath_in(d, b"/s/ostree/deploy/demo/deploy/abc.1/usr"),
        Some(b"/usr".to_vec())
    );
    assert_eq!(
        subpath_in(d, b"/s/ostree/deploy/demo/deploy/abc.1/"),
        Some(Vec::new())
    );
    assert_eq!(
        subpath_in(d, b"/s/ostree/deploy/demo/deploy/abc.10/usr"),
        None
    );
    assert_eq!(subpath_in(d, b"usr"), None);
}

#[test]
fn ancestor_walk() {
    let mut seen = Vec::new();
    let r = suffix_below_matching(b"/a/b/c", &mut |p| {
        seen.push(p.to_vec());
        p == b"/a"
    });
    assert_eq!(r, Some(b"/b/c".to_vec()));
    assert_eq!(
        seen,
        vec![b"/a/b/c".to_vec(), b"/a/b".to_vec(), b"/a".to_vec()]
    );
    assert_eq!(
        suffix_below_matching(b"/usr", &mut |p| p == b"/"),
        Some(b"/usr".to_vec())
    );
    assert_eq!(
        suffix_below_matching(b"/a/b", &mut |p| p == b"/a/b"),
        Some(Vec::new())
    );
    assert_eq!(suffix_below_matching(b"/a/b", &mut |_| false), None);
    assert_eq!(suffix_below_matching(b"a/b", &mut |_| true), None);
}

fn dep(id: &str, path: &str, ino: u64) -> DeploymentDir {
    DeploymentDir {
        id: id.into(),
        path: path.as_bytes().to_vec(),
        major: 254,
        minor: 0,
        ino,
    }
}

#[test]
fn overlays_matched_to_deployments() {
    let text = b"1 0 254:0 / / rw - ext4 /dev/vda rw\n\
        60 1 0:39 / /s/d/A.0/usr rw - overlay overlay rw,lowerdir=/hot:/s/d/A.0/usr,upperdir=/up,workdir=/wk\n\
        61 1 0:40 / /usr rw - overlay overlay rw,lowerdir=usr,upperdir=.usr-ovl-upper,workdir=.usr-ovl-work\n\
        62 1 0:41 / /var/lib/c rw - overlay overlay rw,lowerdir=/c/l,upperdir=/c/u,workdir=/c/w\n";
    let mounts = parse_mountinfo(text).unwrap();
    let deps = vec![
        dep("demo/A.0", "/s/d/A.0", 10),
        dep("demo/B.0", "/s/d/B.0", 11),
    ];
    // `/` is deployment B's directory (a booted deployment).
    let mut stat = |p: &[u8]| match p {
        b"/" => Some((254, 0, 11)),
        b"/hot" => Some((254, 0, 50)),
        b"/c/l" => Some((254, 0, 51)),
        _ => None,
    };
    // The scanner sees B's /usr, but no `hot` or `c` directory in B.
    let host = |p: &[u8]| (p == b"/s/d/B.0/usr").then_some((254, 0, 60));
    let o = find_overlays(&mounts, &deps, &mut stat, &host);
    assert_eq!(o.len(), 3);
    assert_eq!(o[0].lower_deployment.as_deref(), Some("demo/A.0"));
    assert_eq!(o[0].deployment_layer, Some(1));
    assert_eq!(o[0].tree_prefix, b"/usr");
    assert_eq!(o[0].upperdir.as_deref(), Some(&b"/up"[..]));
    assert_eq!((o[0].major, o[0].minor), (0, 39));
    assert_eq!(o[1].lower_deployment.as_deref(), Some("demo/B.0"));
    assert_eq!(o[1].tree_prefix, b"/usr");
    // ostree's unlock: upperdir=.usr-ovl-upper is relative to the deployment too.
    assert_eq!(o[1].relative_base.as_deref(), Some(&b"/s/d/B.0"[..]));
    assert_eq!(o[0].relative_base, None);
    assert_eq!(o[2].lower_deployment, None);
    assert_eq!(o[0].tree_path(b"/lib/x.so"), b"/usr/lib/x.so");
}

#[test]
fn a_lower_layer_that_is_the_mount_point_is_what_the_mount_covers() {
    // Inside a booted deployment B: `mount -t overlay -o lowerdir=/usr,… overlay /usr`.
    let text = b"1 0 254:0 / / rw - ext4 /dev/vda rw\n\
        70 1 0:50 / /usr rw - overlay overlay rw,lowerdir=/usr,upperdir=/var/hot/u,workdir=/var/hot/w\n\
        80 1 0:60 / /opt rw - tmpfs tmpfs rw\n\
        81 80 0:61 / /opt rw - overlay overlay rw,lowerdir=/opt,upperdir=/o/u,workdir=/o/w\n";
    let mounts = parse_mountinfo(text).unwrap();
    let deps = vec![dep("demo/B.0", "/s/d/B.0", 11)];
    let mut stat = |p: &[u8]| match p {
        b"/" => Some((254, 0, 11)),
        b"/usr" => Some((0, 50, 1)),
        b"/opt" => Some((0, 61, 1)),
        _ => None,
    };
    let host = |p: &[u8]| match p {
        b"/s/d/B.0/usr" => Some((254, 0, 60)),
        b"/s/d/B.0/opt" => Some((254, 0, 61)),
        _ => None,
    };
    let o = find_overlays(&mounts, &deps, &mut stat, &host);
    assert_eq!(o[0].lower_deployment.as_deref(), Some("demo/B.0"));
    assert_eq!(o[0].deployment_layer, Some(0));
    assert_eq!(o[0].tree_prefix, b"/usr");
    assert_eq!(o[0].deployment_lower.as_deref(), Some(&b"/s/d/B.0/usr"[..]));
    // Stacked on another mount (a tmpfs on /opt): the lower layer is that tmpfs.
    assert_eq!(o[1].lower_deployment, None);
    // A chrooted process's table does not list the mount its root is on.
    let chrooted = parse_mountinfo(
        b"70 1 0:50 / /usr rw - overlay overlay rw,lowerdir=/usr,upperdir=/tmp/u,workdir=/tmp/w\n",
    )
    .unwrap();
    let o = find_overlays(&chrooted, &deps, &mut stat, &host);
    assert_eq!(o[0].lower_deployment.as_deref(), Some("demo/B.0"));
}

#[test]
fn relative_and_in_root_upper_layers_are_reached() {
    let dir = std::env::temp_dir().join(format!("livetree-upper-{}", std::process::id()));
    fs::create_dir_all(dir.join("dep/.usr-ovl-upper")).unwrap();
    fs::create_dir_all(dir.join("root/var/hot/u")).unwrap();
    let base = dir.join("dep").into_os_string().into_vec();
    let mut o = OverlayMount {
        mount_point: b"/usr".to_vec(),
        major: 0,
        minor: 50,
        lowerdirs: vec![b"usr".to_vec()],
        upperdir: Some(b".usr-ovl-upper".to_vec()),
        workdir: None,
        lower_deployment: Some("demo/B.0".into()),
        deployment_layer: Some(0),
        tree_prefix: b"/usr".to_vec(),
        deployment_lower: None,
        relative_base: Some(base),
        upper_path: None,
    };
    let root = dir.join("root");
    let in_root = |p: &[u8]| Some(root.join(std::ffi::OsStr::from_bytes(&p[1..])));
    assert_eq!(
        reach_upper(&o, &in_root),
        Some(dir.join("dep/.usr-ovl-upper"))
    );
    o.upperdir = Some(b"/var/hot/u".to_vec());
    assert_eq!(reach_upper(&o, &in_root), Some(dir.join("root/var/hot/u")));
    o.upperdir = Some(b"/nowhere/u".to_vec());
    assert_eq!(reach_upper(&o, &in_root), None);
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn commits_at_exact_path() {
    let hit = |c: &str, p: &str| ObjectHit {
        commit: c.into(),
        version: None,
        path: p.as_bytes().to_vec(),
        timestamp: 0,
        is_symlink: false,
    };
    let hits = vec![
        hit("b", "/usr/lib/x"),
        hit("a", "/usr/lib/y"),
        hit("a", "/usr/lib/x"),
        hit("b", "/usr/lib/x"),
    ];
    assert_eq!(
        commits_at(&hits, b"/usr/lib/x"),
        vec!["b".to_string(), "a".to_string()]
    );
    assert!(commits_at(&hits, b"/usr/bin/z").is_empty());
}
