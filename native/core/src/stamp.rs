//! What "unchanged" means for a file livetree keeps something read from: its device, inode,
//! modification and change times to the nanosecond, and size. A rename puts another inode
//! in place; a write in place moves mtime and ctime; a chmod or a new link moves ctime. One
//! definition for every cache that trusts a file not to have changed (the scanner's
//! fingerprint, kept composefs images, the host package database's stamp).
use std::fs::Metadata;
use std::os::unix::fs::MetadataExt;

/// A file's stamp: [dev, ino, mtime s, mtime ns, ctime s, ctime ns, size].
pub type FileStamp = [i64; 7];

/// The stamp of what `m` describes.
pub fn of(m: &Metadata) -> FileStamp {
    [
        m.dev() as i64,
        m.ino() as i64,
        m.mtime(),
        m.mtime_nsec(),
        m.ctime(),
        m.ctime_nsec(),
        m.size() as i64,
    ]
}

/// The stamp of the file at `path` (symbolic links followed), None when it cannot be read.
pub fn of_path(path: &std::path::Path) -> Option<FileStamp> {
    std::fs::metadata(path).ok().map(|m| of(&m))
}
