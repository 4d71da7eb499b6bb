//! Which image a composefs mount serves, proven by evidence and never guessed.
//!
//! Every known image is a candidate: the current deployments' images, the images the
//! catalog kept of deployments since pruned, and images loop devices hold. Inode numbers
//! alone prove nothing (two images built from similar trees number their files alike), so
//! they only rule candidates out: a candidate whose root nid is not the mount's, or that has
//! no entry with a nid a process maps, cannot be the image. What proves an image is the
//! bytes: for every distinct file a process maps from the mount, the object the candidate's
//! entry for that nid redirects to must be named by the content checksum of the mapped
//! bytes. One contradicting file rules a candidate out. While several candidates are left,
//! files whose objects differ between them are checksummed through the mount itself; while
//! one is left, its `os-release` and the files by which it differs from the other known
//! images are. One candidate left with at least one file proven is the answer; none or
//! several (or one that no file could prove) is said, never picked.
use std::collections::{BTreeMap, BTreeSet, HashMap};

use super::image::{ImageFile, ImageIndex, INO_MASK};
use super::KnownImage;

/// What identification concluded about one mount.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Identity {
    /// This image (an index into the known images), proven by `proven` checksums.
    One(usize),
    /// These candidates all fit the evidence (an unreadable image can never be ruled out).
    Several(Vec<usize>),
    /// One candidate fits, but no file could be read to prove it.
    Unproven(usize),
    /// No known image fits.
    None,
}

/// What a file at a path of the mount is, read through the mount.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Probed {
    /// A regular file with this ostree content checksum.
    Sum(String),
    /// Nothing at that path, or not a regular file.
    Missing,
    /// It could not be read (permission, I/O): no evidence either way.
    Unreadable,
}

/// Looks at the mount itself (through a process that sees it).
pub trait MountProbe {
    /// The inode number of the mount's root directory.
    fn root_ino(&self) -> Option<u64>;
    /// The file at `path` (absolute in the image) through the mount.
    fn probe(&self, path: &[u8]) -> Probed;
}

pub use crate::report::ProofCost;

/// At most this many files are checksummed through the mount per identification.
const MAX_PROBES: usize = 16;

/// The objects a commit's tree holds by path, for images that cannot be read but whose
/// deployment's commit is known (the catalog's file table): Some(None) when the tree has no
/// regular file there, None when the commit is not known.
pub type TreeObjects<'a> = &'a dyn Fn(&str, &[u8]) -> Option<Option<String>>;

/// Identify the image a mount serves. `mapped` lists the distinct inode numbers processes
/// map from it, each with its path relative to the mount; `hash_mapped` gives the content
/// checksum of one (None when its bytes cannot be read). Candidates are `images` with an
/// index, or marked unreadable: those are checked against their commit's tree (`tree`)
/// where a path is known, and are never ruled out otherwise.
pub fn identify(
    images: &[KnownImage],
    mapped: &BTreeMap<u64, Vec<u8>>,
    hash_mapped: &mut dyn FnMut(u64) -> Option<String>,
    probe: &dyn MountProbe,
    tree: TreeObjects,
) -> (Identity, ProofCost) {
    let mut cost = ProofCost::default();
    let readable = |i: usize| images[i].index.is_some();
    let mut cands: Vec<usize> = (0..images.len())
        .filter(|&i| readable(i) || images[i].unreadable)
        .collect();
    // What candidate i holds at a path: Some(object or None), or None when not known.
    let at_path = |i: usize, path: &[u8]| -> Option<Option<String>> {
        match images[i].index.as_ref() {
            Some(x) => Some(
                x.get(path)
                    .filter(|f| !f.is_dir)
                    .and_then(|f| f.object.clone()),
            ),
            None if !images[i].commit.is_empty() => tree(&images[i].commit, path),
            None => None,
        }
    };
    // Contradictions that cost nothing: another root nid, a mapped nid the image lacks.
    if let Some(root) = probe.root_ino() {
        cands.retain(|&i| {
            images[i]
                .index
                .as_ref()
                .is_none_or(|x| x.root_ino & INO_MASK == root & INO_MASK)
        });
    }
    let by_nid: HashMap<usize, HashMap<u64, &ImageFile>> = cands
        .iter()
        .filter_map(|&i| Some((i, nid_table(images[i].index.as_deref()?))))
        .collect();
    let entry = |i: usize, ino: u64| by_nid.get(&i).and_then(|t| t.get(&(ino & INO_MASK)));
    cands.retain(|&i| !readable(i) || mapped.keys().all(|&ino| entry(i, ino).is_some()));

    // The bytes: every mapped file, those the candidates disagree on first.
    let mut order: Vec<u64> = mapped.keys().copied().collect();
    order.sort_by_key(|&ino| !disagree(&cands, ino, &entry));
    let mut proven = 0usize;
    for ino in order {
        if cands.is_empty() {
            break;
        }
        let wanted: Vec<Option<&String>> = cands
            .iter()
            .filter(|&&i| readable(i))
            .map(|&i| entry(i, ino).and_then(|f| f.object.as_ref()))
            .collect();
        if wanted.iter().all(Option::is_none) && cands.iter().all(|&i| readable(i)) {
            continue;
        }
        cost.mapped_hashed += 1;
        let Some(sum) = hash_mapped(ino) else {
            continue;
        };
        // The path is the mount's own where a readable candidate has the nid there.
        let path = mapped.get(&ino).filter(|p| {
            cands.iter().any(|&i| {
                images[i]
                    .index
                    .as_ref()
                    .and_then(|x| x.get(p))
                    .is_some_and(|f| f.ino & INO_MASK == ino & INO_MASK)
            })
        });
        cands.retain(|&i| match images[i].index.as_ref() {
            Some(_) => entry(i, ino)
                .and_then(|f| f.object.as_ref())
                .is_none_or(|o| *o == sum),
            None => match path.and_then(|p| at_path(i, p)) {
                Some(o) => o.as_ref() == Some(&sum),
                None => true,
            },
        });
        if wanted.contains(&Some(&sum)) {
            proven += 1;
        }
    }

    // Through the mount: files that tell the candidates left apart.
    let mut asked: BTreeSet<Vec<u8>> = BTreeSet::new();
    while cands.iter().filter(|&&i| readable(i)).count() > 1 && cost.probed < MAX_PROBES {
        let readable_cands: Vec<usize> = cands.iter().copied().filter(|&i| readable(i)).collect();
        let Some(path) = distinguishing(images, &readable_cands, &asked) else {
            break;
        };
        asked.insert(path.clone());
        if let Some(hit) = probe_path(&at_path, &mut cands, &path, probe, &mut cost) {
            proven += usize::from(hit);
        }
    }
    // One readable left: its os-release and what sets it apart from every other known
    // image (an unreadable one among them by its commit's tree).
    if let [only] = cands
        .iter()
        .copied()
        .filter(|&i| readable(i))
        .collect::<Vec<_>>()[..]
    {
        for path in confirming(images, only, &asked) {
            if cost.probed >= MAX_PROBES || !cands.contains(&only) {
                break;
            }
            asked.insert(path.clone());
            if let Some(hit) = probe_path(&at_path, &mut cands, &path, probe, &mut cost) {
                proven += usize::from(hit);
            }
        }
    }
    let identity = match cands[..] {
        [] => Identity::None,
        [i] if readable(i) && proven > 0 => Identity::One(i),
        [i] if readable(i) => Identity::Unproven(i),
        _ => Identity::Several(cands),
    };
    (identity, cost)
}

/// nid -> entry of one image (hard links share a nid and an object).
fn nid_table(index: &ImageIndex) -> HashMap<u64, &ImageFile> {
    index
        .files
        .values()
        .filter(|f| !f.is_dir)
        .map(|f| (f.ino & INO_MASK, f))
        .collect()
}

/// Whether the candidates' objects for a mapped nid are not all the same.
fn disagree<'a>(
    cands: &[usize],
    ino: u64,
    entry: &impl Fn(usize, u64) -> Option<&'a &'a ImageFile>,
) -> bool {
    let mut objects = cands
        .iter()
        .map(|&i| entry(i, ino).and_then(|f| f.object.as_ref()));
    let first = objects.next();
    objects.any(|o| Some(o) != first)
}

/// What candidate i holds at a path: Some(its object, or None), or None when not known.
type AtPath<'a> = dyn Fn(usize, &[u8]) -> Option<Option<String>> + 'a;

/// Check one path through the mount against the candidates; Some(true) when the bytes
/// matched a candidate's object there (proof), Some(false) when they only ruled some out.
fn probe_path(
    at: &AtPath,
    cands: &mut Vec<usize>,
    path: &[u8],
    probe: &dyn MountProbe,
    cost: &mut ProofCost,
) -> Option<bool> {
    cost.probed += 1;
    match probe.probe(path) {
        Probed::Unreadable => None,
        Probed::Missing => {
            // The mount has no regular file there: candidates with one are ruled out.
            cands.retain(|&i| at(i, path).is_none_or(|o| o.is_none()));
            Some(false)
        }
        Probed::Sum(sum) => {
            let hit = cands
                .iter()
                .any(|&i| at(i, path).flatten().as_ref() == Some(&sum));
            cands.retain(|&i| at(i, path).is_none_or(|o| o.as_ref() == Some(&sum)));
            Some(hit)
        }
    }
}

/// The first path (in sorted order) not yet asked whose object is not the same in every
/// candidate.
fn distinguishing(
    images: &[KnownImage],
    cands: &[usize],
    asked: &BTreeSet<Vec<u8>>,
) -> Option<Vec<u8>> {
    let object = |i: usize, p: &[u8]| {
        images[i]
            .index
            .as_ref()
            .and_then(|x| x.get(p))
            .filter(|f| !f.is_dir)
            .and_then(|f| f.object.clone())
    };
    let mut paths: BTreeSet<&Vec<u8>> = BTreeSet::new();
    for &i in cands {
        if let Some(x) = images[i].index.as_ref() {
            paths.extend(x.files.iter().filter(|(_, f)| !f.is_dir).map(|(p, _)| p));
        }
    }
    paths
        .into_iter()
        .filter(|p| !asked.contains(*p))
        .find(|p| {
            let first = object(cands[0], p);
            cands[1..].iter().any(|&j| object(j, p) != first)
        })
        .cloned()
}

/// Files that confirm the one candidate left: its os-release, then up to a few files whose
/// object differs from another known image's at the same path (those images were ruled out,
/// but an image no one knows is most likely a neighbour of theirs).
fn confirming(images: &[KnownImage], only: usize, asked: &BTreeSet<Vec<u8>>) -> Vec<Vec<u8>> {
    let Some(mine) = images[only].index.as_ref() else {
        return Vec::new();
    };
    let has_object = |p: &[u8]| mine.get(p).is_some_and(|f| !f.is_dir && f.object.is_some());
    let mut out: Vec<Vec<u8>> = [&b"/usr/lib/os-release"[..], b"/etc/os-release"]
        .into_iter()
        .filter(|p| has_object(p))
        .map(<[u8]>::to_vec)
        .collect();
    let mut differing: BTreeSet<&Vec<u8>> = BTreeSet::new();
    for (j, other) in images.iter().enumerate() {
        let Some(theirs) = other.index.as_ref().filter(|_| j != only) else {
            continue;
        };
        differing.extend(
            mine.files
                .iter()
                .filter(|(_, f)| !f.is_dir && f.object.is_some())
                .filter(|(p, f)| theirs.get(p).map(|g| &g.object) != Some(&f.object))
                .map(|(p, _)| p),
        );
    }
    for p in differing {
        if out.len() >= 6 {
            break;
        }
        if !out.contains(p) {
            out.push(p.clone());
        }
    }
    out.retain(|p| !asked.contains(p));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::RefCell;
    use std::sync::Arc;

    const LIB: &[u8] = b"/usr/lib/libdemo.so";
    const LIBC: &[u8] = b"/usr/lib/libc.so";
    const OS: &[u8] = b"/usr/lib/os-release";

    fn obj(c: char) -> String {
        c.to_string().repeat(64)
    }

    /// An image numbering its files alike to every other (as similar trees do): root 37,
    /// libc 50 (object 'a' everywhere), libdemo 51 and os-release 52 (objects per image).
    fn image(id: &str, lib: char, os: char) -> KnownImage {
        let mut index = ImageIndex {
            root_ino: 37,
            ..ImageIndex::default()
        };
        let file = |ino, object: char| ImageFile {
            ino,
            size: 10,
            is_dir: false,
            object: Some(obj(object)),
        };
        index.files.insert(
            b"/".to_vec(),
            ImageFile {
                ino: 37,
                size: 0,
                is_dir: true,
                object: None,
            },
        );
        index.files.insert(LIBC.to_vec(), file(50, 'a'));
        index.files.insert(LIB.to_vec(), file(51, lib));
        index.files.insert(OS.to_vec(), file(52, os));
        KnownImage {
            deployment_id: id.into(),
            commit: id.into(),
            image: format!("/s/{id}/.ostree.cfs").into(),
            deployed: true,
            digest: None,
            index: Some(Arc::new(index)),
            unreadable: false,
            stored_root: None,
        }
    }

    /// A mount serving these objects at these paths, with root nid 37.
    struct Mount {
        files: HashMap<&'static [u8], String>,
        asked: RefCell<Vec<Vec<u8>>>,
    }

    impl Mount {
        fn serving(lib: char, os: char) -> Mount {
            Mount {
                files: HashMap::from([(LIBC, obj('a')), (LIB, obj(lib)), (OS, obj(os))]),
                asked: RefCell::new(Vec::new()),
            }
        }
    }

    impl MountProbe for Mount {
        fn root_ino(&self) -> Option<u64> {
            Some(37)
        }
        fn probe(&self, path: &[u8]) -> Probed {
            self.asked.borrow_mut().push(path.to_vec());
            match self.files.get(path) {
                Some(s) => Probed::Sum(s.clone()),
                None => Probed::Missing,
            }
        }
    }

    fn no_tree(_: &str, _: &[u8]) -> Option<Option<String>> {
        None
    }

    /// The mapped inode numbers with the paths the test images give them.
    fn paths(inos: &[u64]) -> BTreeMap<u64, Vec<u8>> {
        inos.iter()
            .map(|&i| {
                let p = match i & INO_MASK {
                    50 => LIBC,
                    51 => LIB,
                    52 => OS,
                    _ => b"/nowhere",
                };
                (i, p.to_vec())
            })
            .collect()
    }

    fn run(images: &[KnownImage], mount: &Mount, mapped: &[(u64, char)]) -> Identity {
        let sums: HashMap<u64, String> = mapped.iter().map(|&(i, c)| (i, obj(c))).collect();
        let inos = paths(&sums.keys().copied().collect::<Vec<_>>());
        identify(
            images,
            &inos,
            &mut |ino| sums.get(&ino).cloned(),
            mount,
            &no_tree,
        )
        .0
    }

    #[test]
    fn the_image_whose_objects_the_mapped_bytes_are_is_the_one() {
        let images = [image("v1", 'b', 'x'), image("v2", 'c', 'y')];
        // A v1 process maps v1's libdemo: v2 is contradicted by its bytes.
        assert_eq!(
            run(&images, &Mount::serving('b', 'x'), &[(50, 'a'), (51, 'b')]),
            Identity::One(0)
        );
        assert_eq!(
            run(
                &images,
                &Mount::serving('c', 'y'),
                &[(50, 'a'), (51 | 1 << 40, 'c')]
            ),
            Identity::One(1)
        );
    }

    #[test]
    fn a_pruned_image_not_known_is_never_taken_for_the_current_one() {
        // Only v2 is known; the mount serves v1 (pruned, never recorded). The mapped
        // libdemo contradicts v2.
        let images = [image("v2", 'c', 'y')];
        assert_eq!(
            run(&images, &Mount::serving('b', 'x'), &[(50, 'a'), (51, 'b')]),
            Identity::None
        );
        // Mapping only libc, which both share: the mount's os-release still tells.
        assert_eq!(
            run(&images, &Mount::serving('b', 'x'), &[(50, 'a')]),
            Identity::None
        );
    }

    #[test]
    fn shared_files_alone_are_told_apart_through_the_mount() {
        let images = [image("v1", 'b', 'x'), image("v2", 'c', 'y')];
        let mount = Mount::serving('b', 'x');
        assert_eq!(run(&images, &mount, &[(50, 'a')]), Identity::One(0));
        assert!(!mount.asked.borrow().is_empty());
    }

    #[test]
    fn identical_images_are_several_never_one_picked() {
        let images = [image("a", 'b', 'x'), image("b", 'b', 'x')];
        assert_eq!(
            run(&images, &Mount::serving('b', 'x'), &[(50, 'a'), (51, 'b')]),
            Identity::Several(vec![0, 1])
        );
    }

    #[test]
    fn an_unreadable_image_is_never_ruled_out() {
        let mut bad = image("bad", 'z', 'z');
        bad.index = None;
        bad.unreadable = true;
        let images = [image("v1", 'b', 'x'), bad];
        assert_eq!(
            run(&images, &Mount::serving('b', 'x'), &[(51, 'b')]),
            Identity::Several(vec![0, 1])
        );
    }

    #[test]
    fn an_unreadable_image_of_a_known_commit_is_ruled_out_by_its_tree() {
        let mut bad = image("bad", 'z', 'z');
        bad.index = None;
        bad.unreadable = true;
        bad.commit = "c0".into();
        let images = [image("v1", 'b', 'x'), bad];
        // The commit holds another libdemo: the mapped bytes rule the damaged image out.
        let tree = |c: &str, p: &[u8]| (c == "c0").then(|| (p == LIB).then(|| obj('z')));
        let sums = HashMap::from([(51, obj('b'))]);
        let (id, _) = identify(
            &images,
            &paths(&[51]),
            &mut |ino| sums.get(&ino).cloned(),
            &Mount::serving('b', 'x'),
            &tree,
        );
        assert_eq!(id, Identity::One(0));
        // A commit the catalog does not know: nothing rules the damaged image out.
        let (id, _) = identify(
            &images,
            &paths(&[51]),
            &mut |ino| sums.get(&ino).cloned(),
            &Mount::serving('b', 'x'),
            &no_tree,
        );
        assert_eq!(id, Identity::Several(vec![0, 1]));
    }

    #[test]
    fn nothing_readable_proves_nothing() {
        let images = [image("v1", 'b', 'x')];
        struct Blind;
        impl MountProbe for Blind {
            fn root_ino(&self) -> Option<u64> {
                None
            }
            fn probe(&self, _: &[u8]) -> Probed {
                Probed::Unreadable
            }
        }
        let (id, cost) = identify(&images, &paths(&[51]), &mut |_| None, &Blind, &no_tree);
        assert_eq!(id, Identity::Unproven(0));
        assert_eq!(cost.mapped_hashed, 1);
    }

    #[test]
    fn another_root_or_a_missing_nid_rules_out_without_reading() {
        let images = [image("v1", 'b', 'x')];
        let mut hashed = 0;
        let (id, _) = identify(
            &images,
            &paths(&[99]),
            &mut |_| {
                hashed += 1;
                None
            },
            &Mount::serving('b', 'x'),
            &no_tree,
        );
        assert_eq!(id, Identity::None);
        assert_eq!(hashed, 0);
    }
}
