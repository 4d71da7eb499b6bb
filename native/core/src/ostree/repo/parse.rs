//! The metadata object parsers: commits, dirtrees and the header of a `.filez` content
//! object, from bytes (the `Repo` methods read them and attach their paths to errors).
use crate::error::ParseError;
use crate::ostree::checksum;
use crate::ostree::gvariant::{self, types, MetaValue, Type};
use crate::ostree::object::{field, known_type, FileMeta};

/// A commit object, decoded.
#[derive(Debug, Clone, PartialEq)]
pub struct CommitInfo {
    /// The commit's own checksum (its object name).
    pub checksum: String,
    /// The one-line subject given at `ostree commit -s`.
    pub subject: String,
    /// The commit message's body, often empty.
    pub body: String,
    /// Seconds since the epoch (stored big-endian by ostree).
    pub timestamp: u64,
    /// The parent commit, when the commit has one.
    pub parent: Option<String>,
    /// The `version` metadata string, if any.
    pub version: Option<String>,
    /// Checksum of the root dirtree.
    pub root_tree: String,
    /// Checksum of the root dirmeta.
    pub root_meta: String,
    /// Every metadata entry (`a{sv}`), decoded where the type is common.
    pub metadata: Vec<(String, MetaValue)>,
}

/// A dirtree object: files (name, content checksum) and subdirectories
/// (name, dirtree checksum, dirmeta checksum), each sorted by name as ostree writes them.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DirTree {
    /// (name, content checksum) of each file, sorted by name.
    pub files: Vec<(Vec<u8>, String)>,
    /// (name, dirtree checksum, dirmeta checksum) of each subdirectory, sorted by name.
    pub dirs: Vec<(Vec<u8>, String, String)>,
}

/// An ostree checksum is 64 lowercase hex digits.
pub fn is_checksum(s: &str) -> bool {
    s.len() == 64
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

fn checksum_from_bytes(b: &[u8], what: &str) -> std::result::Result<String, ParseError> {
    if b.len() != 32 {
        return Err(ParseError(format!(
            "{what} checksum has {} bytes, not 32",
            b.len()
        )));
    }
    Ok(checksum::to_hex(b))
}

fn lossy(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Decode a commit object's bytes. The checksum is the caller's (it names the object).
pub fn parse_commit(checksum: &str, bytes: &[u8]) -> std::result::Result<CommitInfo, ParseError> {
    let ty = known_type(types::COMMIT)?;
    let parts = gvariant::split_tuple(&ty, bytes)?;
    let members = match &ty {
        Type::Tuple(m) => m,
        _ => return Err(ParseError("commit type is not a tuple".into())),
    };
    let metadata = gvariant::parse_metadata(parts[0])?;
    // The other fields are small; decode them generically.
    let mut vals = Vec::with_capacity(6);
    for (m, p) in members.iter().zip(parts.iter()).skip(1) {
        vals.push(gvariant::parse(m, p)?);
    }
    let bytes_of = |i: usize, what: &str| -> std::result::Result<Vec<u8>, ParseError> {
        field(&vals, i, what)?
            .as_bytes()
            .map(<[u8]>::to_vec)
            .ok_or_else(|| ParseError(format!("{what} is not bytes")))
    };
    let str_of = |i: usize, what: &str| -> std::result::Result<String, ParseError> {
        field(&vals, i, what)?
            .as_str_bytes()
            .map(lossy)
            .ok_or_else(|| ParseError(format!("{what} is not a string")))
    };
    let parent_bytes = bytes_of(0, "parent")?;
    let parent = if parent_bytes.is_empty() {
        None
    } else {
        Some(checksum_from_bytes(&parent_bytes, "parent")?)
    };
    let timestamp = field(&vals, 4, "timestamp")?
        .as_u64_be()
        .ok_or_else(|| ParseError("timestamp is not a u64".into()))?;
    let version = metadata.iter().find_map(|(k, v)| match (k.as_str(), v) {
        ("version", MetaValue::Str(s)) => Some(s.clone()),
        _ => None,
    });
    Ok(CommitInfo {
        checksum: checksum.to_string(),
        subject: str_of(2, "subject")?,
        body: str_of(3, "body")?,
        timestamp,
        parent,
        version,
        root_tree: checksum_from_bytes(&bytes_of(5, "root tree")?, "root tree")?,
        root_meta: checksum_from_bytes(&bytes_of(6, "root meta")?, "root meta")?,
        metadata,
    })
}

/// Ostree refuses names that could escape the tree; so do we, since we build paths from them.
fn valid_name(name: &[u8]) -> bool {
    !name.is_empty() && name != b"." && name != b".." && !name.contains(&b'/')
}

/// Decode a dirtree object's bytes. Works on byte slices directly: dirtrees are the bulk
/// of a commit, and this keeps a 100,000-file walk cheap.
pub fn parse_dirtree(bytes: &[u8]) -> std::result::Result<DirTree, ParseError> {
    let ty = known_type(types::DIRTREE)?;
    let file_ty = known_type(types::DIRTREE_FILE)?;
    let dir_ty = known_type(types::DIRTREE_DIR)?;
    let parts = gvariant::split_tuple(&ty, bytes)?;
    let mut tree = DirTree::default();
    for e in gvariant::split_array(&file_ty, parts[0])? {
        let f = gvariant::split_tuple(&file_ty, e)?;
        let name = gvariant::read_str(f[0])?;
        if !valid_name(name) {
            return Err(ParseError(format!("invalid file name {:?}", lossy(name))));
        }
        tree.files
            .push((name.to_vec(), checksum_from_bytes(f[1], "file")?));
    }
    for e in gvariant::split_array(&dir_ty, parts[1])? {
        let d = gvariant::split_tuple(&dir_ty, e)?;
        let name = gvariant::read_str(d[0])?;
        if !valid_name(name) {
            return Err(ParseError(format!(
                "invalid directory name {:?}",
                lossy(name)
            )));
        }
        tree.dirs.push((
            name.to_vec(),
            checksum_from_bytes(d[1], "dirtree")?,
            checksum_from_bytes(d[2], "dirmeta")?,
        ));
    }
    Ok(tree)
}

/// Decode the header of an archive `.filez` object: the length-prefixed
/// `(tuuuusa(ayay))`. Returns the metadata, the uncompressed size and where the
/// compressed data starts.
pub fn parse_filez_header(bytes: &[u8]) -> std::result::Result<(FileMeta, u64, usize), ParseError> {
    let len_bytes: [u8; 4] = bytes
        .get(..4)
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| ParseError("filez object shorter than its size prefix".into()))?;
    let len = u32::from_be_bytes(len_bytes) as usize;
    let end = len
        .checked_add(8)
        .filter(|e| *e <= bytes.len())
        .ok_or_else(|| ParseError("filez header runs past the object".into()))?;
    let v = gvariant::parse(&known_type(types::ZLIB_FILE_HEADER)?, &bytes[8..end])?;
    let c = v
        .children()
        .ok_or_else(|| ParseError("filez header is not a tuple".into()))?;
    let u = |i: usize| -> std::result::Result<u32, ParseError> {
        field(c, i, "header")?
            .as_u32_be()
            .ok_or_else(|| ParseError(format!("header field {i} is not a u32")))
    };
    let size = field(c, 0, "size")?
        .as_u64_be()
        .ok_or_else(|| ParseError("size is not a u64".into()))?;
    let target = field(c, 5, "symlink target")?
        .as_str_bytes()
        .ok_or_else(|| ParseError("symlink target is not a string".into()))?;
    let mode = u(3)?;
    let meta = FileMeta {
        uid: u(1)?,
        gid: u(2)?,
        mode,
        rdev: u(4)?,
        symlink_target: (mode & 0o170000 == 0o120000).then(|| target.to_vec()),
        xattrs: gvariant::parse_xattrs(field(c, 6, "xattrs")?)?,
    };
    Ok((meta, size, end))
}

#[cfg(test)]
mod tests {
    //! Pure-parser tests on objects captured from a real repo by
    //! `fixtures/captured/repo/capture.sh`.
    use super::*;
    use crate::ostree::repo::{parse_dirmeta, RepoMode};

    const COMMIT: &[u8] = include_bytes!("../../../../../fixtures/captured/repo/commit.bin");
    const COMMIT_SUM: &str = include_str!("../../../../../fixtures/captured/repo/commit.checksum");
    const PARENT_SUM: &str = include_str!("../../../../../fixtures/captured/repo/parent.checksum");
    const DIRTREE: &[u8] = include_bytes!("../../../../../fixtures/captured/repo/dirtree.bin");
    const DIRTREE_SUM: &str =
        include_str!("../../../../../fixtures/captured/repo/dirtree.checksum");
    const DIRMETA: &[u8] = include_bytes!("../../../../../fixtures/captured/repo/dirmeta.bin");
    const DIRMETA_SUM: &str =
        include_str!("../../../../../fixtures/captured/repo/dirmeta.checksum");
    const FILEZ: &[u8] = include_bytes!("../../../../../fixtures/captured/repo/filez.bin");
    const FILEZ_SUM: &str = include_str!("../../../../../fixtures/captured/repo/filez.checksum");

    #[test]
    fn metadata_objects_hash_to_their_names() {
        assert_eq!(checksum::sha256_hex(COMMIT), COMMIT_SUM.trim());
        assert_eq!(checksum::sha256_hex(DIRTREE), DIRTREE_SUM.trim());
        assert_eq!(checksum::sha256_hex(DIRMETA), DIRMETA_SUM.trim());
    }

    #[test]
    fn captured_commit() {
        let c = parse_commit(COMMIT_SUM.trim(), COMMIT).unwrap();
        assert_eq!(c.subject, "second");
        assert_eq!(c.body, "body");
        assert_eq!(c.version.as_deref(), Some("1.2"));
        assert_eq!(c.parent.as_deref(), Some(PARENT_SUM.trim()));
        // --timestamp='2021-03-05 05:06:07 +0000', stored big-endian.
        assert_eq!(c.timestamp, 1_614_920_767);
        let tags = c.metadata.iter().find(|(k, _)| k == "tags").map(|(_, v)| v);
        assert_eq!(
            tags,
            Some(&MetaValue::StrList(vec!["a".into(), "b".into()]))
        );
    }

    #[test]
    fn captured_dirtree_and_dirmeta() {
        let t = parse_dirtree(DIRTREE).unwrap();
        let names: Vec<&[u8]> = t.files.iter().map(|(n, _)| n.as_slice()).collect();
        assert_eq!(
            names,
            vec![&b"libc.so"[..], &b"libc.so.6"[..], &b"with space"[..]]
        );
        assert!(t.dirs.is_empty());
        let m = parse_dirmeta(DIRMETA).unwrap();
        assert_eq!(m.mode, 0o40755);
        assert_eq!(m.xattrs, vec![(b"user.dir".to_vec(), b"d".to_vec())]);
        // Our dirmeta writer reproduces the object byte for byte.
        assert_eq!(checksum::dirmeta(m.uid, m.gid, m.mode, &m.xattrs), DIRMETA);
    }

    #[test]
    fn captured_filez_checksums_like_ostree() {
        let (meta, size, start) = parse_filez_header(FILEZ).unwrap();
        assert_eq!(size, 5);
        assert_eq!(meta.mode & 0o170000, 0o100000);
        let names: Vec<&[u8]> = meta.xattrs.iter().map(|(n, _)| n.as_slice()).collect();
        assert!(names.contains(&&b"user.alpha"[..]) && names.contains(&&b"user.zeta"[..]));
        let content = flate2::read::DeflateDecoder::new(&FILEZ[start..]);
        assert_eq!(
            checksum::file_checksum(&meta, content).unwrap(),
            FILEZ_SUM.trim()
        );
    }

    #[test]
    fn real_objects_reserialize_identically() {
        for (ts, bytes) in [
            (types::COMMIT, COMMIT),
            (types::DIRTREE, DIRTREE),
            (types::DIRMETA, DIRMETA),
        ] {
            let ty = Type::parse(ts).unwrap();
            let v = gvariant::parse(&ty, bytes).unwrap();
            assert_eq!(gvariant::serialize(&ty, &v).unwrap(), bytes, "{ts}");
        }
    }

    #[test]
    fn truncated_and_flipped_objects_never_panic() {
        type Parser = fn(&[u8]) -> bool;
        let cases: [(&[u8], Parser); 4] = [
            (COMMIT, |b| parse_commit("x", b).is_ok()),
            (DIRTREE, |b| parse_dirtree(b).is_ok()),
            (DIRMETA, |b| parse_dirmeta(b).is_ok()),
            (FILEZ, |b| parse_filez_header(b).is_ok()),
        ];
        for (bytes, parse) in cases {
            assert!(parse(bytes));
            for cut in 0..bytes.len() {
                let _ = parse(&bytes[..cut]);
            }
            for i in 0..bytes.len() {
                for bit in 0..8 {
                    let mut m = bytes.to_vec();
                    m[i] ^= 1 << bit;
                    let _ = parse(&m);
                    let _ = gvariant::parse_metadata(&m);
                }
            }
        }
        // Truncated commits lose their checksums' framing: none parse.
        for cut in 0..COMMIT.len() {
            assert!(parse_commit("x", &COMMIT[..cut]).is_err(), "cut {cut}");
        }
    }

    #[test]
    fn mode_names() {
        for m in [
            RepoMode::Bare,
            RepoMode::BareUser,
            RepoMode::BareUserOnly,
            RepoMode::BareSplitXattrs,
            RepoMode::Archive,
        ] {
            assert_eq!(RepoMode::from_name(m.as_str()), Some(m));
        }
        assert_eq!(RepoMode::from_name("archive-z2"), Some(RepoMode::Archive));
        assert_eq!(RepoMode::from_name("z2"), None);
        assert!(is_checksum(COMMIT_SUM.trim()));
        assert!(!is_checksum(&COMMIT_SUM.trim().to_uppercase()));
    }
}
