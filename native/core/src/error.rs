//! Typed errors. Every error that concerns a file carries its path, so a user can act on it.
use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

/// Why a core operation failed; each variant carries the path it concerns, so a user can act on it.
#[derive(Debug)]
pub enum Error {
    /// The file or process does not exist (a process that exited mid-scan lands here).
    NotFound(PathBuf),
    /// We may not read it (not root, or a hardened /proc).
    PermissionDenied(PathBuf),
    /// The bytes are there but do not parse: a truncated object, a garbage keyfile.
    Corrupt {
        /// The file whose bytes are wrong.
        path: PathBuf,
        /// What is wrong with them, for the message.
        reason: String,
    },
    /// Any other I/O failure, with the path it happened on.
    Io {
        /// The file or directory the operation was on.
        path: PathBuf,
        /// The operating system's error.
        source: io::Error,
    },
    /// The catalog database refused an operation.
    Catalog {
        /// The catalog database file (`:memory:` for the in-memory fallback).
        path: PathBuf,
        /// SQLite's message, or what the catalog found wrong.
        reason: String,
    },
}

/// The core's result: every fallible operation returns an `Error` naming a path.
pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    /// Map an io::Error to the typed variants that callers branch on.
    pub fn from_io(path: &Path, source: io::Error) -> Error {
        match source.kind() {
            io::ErrorKind::NotFound => Error::NotFound(path.to_path_buf()),
            io::ErrorKind::PermissionDenied => Error::PermissionDenied(path.to_path_buf()),
            _ => {
                // ESRCH shows up when a process dies between open() and read().
                if source.raw_os_error() == Some(3) {
                    Error::NotFound(path.to_path_buf())
                } else {
                    Error::Io {
                        path: path.to_path_buf(),
                        source,
                    }
                }
            }
        }
    }

    /// A `Corrupt` error: the file at `path` is there but its bytes do not parse.
    pub fn corrupt(path: &Path, reason: impl Into<String>) -> Error {
        Error::Corrupt {
            path: path.to_path_buf(),
            reason: reason.into(),
        }
    }

    /// A stable, machine-readable code; it crosses to JavaScript as `error.code`.
    pub fn code(&self) -> &'static str {
        match self {
            Error::NotFound(_) => "ENOENT",
            Error::PermissionDenied(_) => "EACCES",
            Error::Corrupt { .. } => "ECORRUPT",
            Error::Io { .. } => "EIO",
            Error::Catalog { .. } => "ECATALOG",
        }
    }

    /// The path the error concerns, to name it in a message or to group warnings.
    pub fn path(&self) -> &Path {
        match self {
            Error::NotFound(p) | Error::PermissionDenied(p) => p,
            Error::Corrupt { path, .. } | Error::Io { path, .. } | Error::Catalog { path, .. } => {
                path
            }
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::NotFound(p) => write!(f, "{}: not found", p.display()),
            Error::PermissionDenied(p) => write!(f, "{}: permission denied", p.display()),
            Error::Corrupt { path, reason } => write!(f, "{}: corrupt: {}", path.display(), reason),
            Error::Io { path, source } => write!(f, "{}: {}", path.display(), source),
            Error::Catalog { path, reason } => {
                write!(f, "{}: catalog error: {}", path.display(), reason)
            }
        }
    }
}

impl std::error::Error for Error {}

/// A parse failure in a pure parser: no path, since parsers never touch the disk.
/// Callers that know the path wrap it with `Error::corrupt`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError(pub String);

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ParseError {}

/// Something a scan could not do, or did only in part: it does not stop the scan, and the
/// report carries it. `code` is the stable name the TypeScript side turns into words; `pid`
/// names the process it concerns, if one. It lives here, beside `Error`, because every layer
/// (the kernel, composefs, the catalog's callers) reports them, and the report only carries them.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[cfg_attr(feature = "napi", napi_derive::napi(object, object_from_js = false))]
pub struct Warning {
    /// A stable code (`catalog-write`, `origin-corrupt`, ...) that the TypeScript side turns
    /// into words.
    pub code: String,
    /// What happened, naming the path or process concerned.
    pub message: String,
    /// The process the warning is about, when it concerns one.
    pub pid: Option<u32>,
}

impl Warning {
    /// A warning with its code, message and, when it concerns one, the process.
    pub fn new(code: &str, message: impl Into<String>, pid: Option<u32>) -> Warning {
        Warning {
            code: code.to_string(),
            message: message.into(),
            pid,
        }
    }
}
