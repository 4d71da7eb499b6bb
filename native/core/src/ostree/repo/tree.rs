//! A commit's whole tree (every file and directory) and the index from (device, inode)
//! to content object.
use std::collections::HashMap;
use std::fs;
use std::hash::{BuildHasherDefault, Hasher};
use std::os::unix::fs::MetadataExt;
use std::rc::Rc;

use super::{parse_hex_checksum, DirTree, Repo};
use crate::error::{Error, Result};
use crate::ostree::checksum;
use crate::ostree::object::DirMeta;

/// A file of a commit's tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TreeFile {
    /// Absolute inside the tree, e.g. `/usr/lib/libc.so.6`. Bytes: names need not be UTF-8.
    pub path: Vec<u8>,
    /// Content object checksum.
    pub checksum: String,
}

/// A tree file as the catalog records it: the walk lists regular files (symlinks are
/// dirtree entries of their own), so none is a symlink.
impl From<TreeFile> for crate::ostree::object::CatalogFile {
    fn from(f: TreeFile) -> Self {
        crate::ostree::object::CatalogFile {
            path: f.path,
            object: f.checksum,
            is_symlink: false,
        }
    }
}

/// A directory of a commit's tree, with its metadata.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TreeDir {
    /// Absolute inside the tree; the root is `/`.
    pub path: Vec<u8>,
    /// The checksum of the directory's dirtree object.
    pub dirtree: String,
    /// The checksum of the directory's dirmeta object.
    pub dirmeta: String,
    /// The directory's owner, mode and xattrs.
    pub meta: DirMeta,
}

/// Everything a commit's tree holds.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Tree {
    /// Every non-directory entry (files and symlinks).
    pub files: Vec<TreeFile>,
    /// Every directory, the root included.
    pub dirs: Vec<TreeDir>,
}

/// Maps (st_dev, st_ino) of content objects to their checksums.
///
/// Built for every scan that loads the knowledge (a one-shot `status` on an OSTree host
/// indexes every object of the repo), so it is kept lean: one device for all, the inode
/// as the key hashed by a multiply-shift (inode numbers are not chosen by an adversary and
/// SipHash was most of the cost), the checksum as its 32 bytes (hex only when asked).
#[derive(Debug, Clone, Default)]
pub struct InodeIndex {
    /// st_dev of the objects directory (the kernel's encoding, as in `stat`).
    pub dev: u64,
    map: HashMap<u64, [u8; 32], BuildHasherDefault<InoHasher>>,
}

/// The index's hasher: a 64-bit finalizer (MurmurHash3's) over the inode number.
#[derive(Debug, Default, Clone, Copy)]
pub struct InoHasher(u64);

impl Hasher for InoHasher {
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = (self.0 ^ u64::from(*b)).wrapping_mul(0x100_0000_01b3);
        }
    }
    fn write_u64(&mut self, x: u64) {
        let mut h = x ^ (x >> 33);
        h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
        h ^= h >> 33;
        h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
        self.0 = h ^ (h >> 33);
    }
    fn finish(&self) -> u64 {
        self.0
    }
}

impl InodeIndex {
    /// The checksum of the object at (st_dev, st_ino), if one is there.
    pub fn get(&self, dev: u64, ino: u64) -> Option<String> {
        if dev != self.dev {
            return None;
        }
        self.map.get(&ino).map(|c| checksum::to_hex(c))
    }
    /// How many objects are indexed.
    pub fn len(&self) -> usize {
        self.map.len()
    }
    /// Whether no object is indexed (an empty repo, or not a bare one).
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
    /// Every (st_dev, st_ino, checksum) indexed, in no order.
    pub fn iter(&self) -> impl Iterator<Item = (u64, u64, String)> + '_ {
        self.map
            .iter()
            .map(|(i, c)| (self.dev, *i, checksum::to_hex(c)))
    }
}

impl Repo {
    /// Every file of a commit, as absolute paths in the tree with their content checksums.
    pub fn walk_commit(&self, commit: &str) -> Result<Vec<TreeFile>> {
        Ok(self.walk_tree(commit)?.files)
    }

    /// Every file and directory of a commit. Dirtrees and dirmeta shared between
    /// directories are read once.
    pub fn walk_tree(&self, commit: &str) -> Result<Tree> {
        let c = self.read_commit(commit)?;
        let mut trees: HashMap<String, Rc<DirTree>> = HashMap::new();
        let mut metas: HashMap<String, DirMeta> = HashMap::new();
        let mut out = Tree::default();
        // Depth-first with an explicit stack: no recursion limit on deep trees.
        let mut stack = vec![(b"/".to_vec(), c.root_tree, c.root_meta)];
        while let Some((path, tree_sum, meta_sum)) = stack.pop() {
            let tree = match trees.get(&tree_sum) {
                Some(t) => t.clone(),
                None => {
                    let t = Rc::new(self.read_dirtree(&tree_sum)?);
                    trees.insert(tree_sum.clone(), t.clone());
                    t
                }
            };
            let meta = match metas.get(&meta_sum) {
                Some(m) => m.clone(),
                None => {
                    let m = self.read_dirmeta(&meta_sum)?;
                    metas.insert(meta_sum.clone(), m.clone());
                    m
                }
            };
            let prefix_len = if path == b"/" { 0 } else { path.len() };
            let child = |name: &[u8]| {
                let mut p = Vec::with_capacity(prefix_len + 1 + name.len());
                p.extend_from_slice(&path[..prefix_len]);
                p.push(b'/');
                p.extend_from_slice(name);
                p
            };
            for (name, sum) in &tree.files {
                out.files.push(TreeFile {
                    path: child(name),
                    checksum: sum.clone(),
                });
            }
            // Reverse so that popping visits subdirectories in name order.
            for (name, t, m) in tree.dirs.iter().rev() {
                stack.push((child(name), t.clone(), m.clone()));
            }
            out.dirs.push(TreeDir {
                path,
                dirtree: tree_sum,
                dirmeta: meta_sum,
                meta,
            });
        }
        Ok(out)
    }

    /// Map (dev, ino) → checksum for every `.file` object, from directory entries alone:
    /// d_ino from readdir and one stat of `objects/` for the device, no stat per object.
    /// In a bare repo a deployment's file is a hard link of its object, so this answers
    /// "which object is this mapped inode". (Empty files are the exception: ostree
    /// checkouts copy them rather than hard-link them, and nothing can map them anyway.)
    pub fn inode_index(&self) -> Result<InodeIndex> {
        let objects = self.path.join("objects");
        let dev = fs::metadata(&objects)
            .map_err(|e| Error::from_io(&objects, e))?
            .dev();
        let mut map = HashMap::default();
        self.for_each_object_name(".file", |head, rest, ino| {
            if let Some(sum) = parse_hex_checksum(head, rest) {
                map.insert(ino, sum);
            }
        })?;
        Ok(InodeIndex { dev, map })
    }
}
