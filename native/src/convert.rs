//! The scan's options in, the scan's document out (JSON text), and core errors as
//! JavaScript errors.
use livetree_core::scan as core;
use napi_derive::napi;
use std::path::PathBuf;

#[napi(object)]
pub struct ScanOptions {
    pub sysroot: Option<String>,
    pub proc_root: Option<String>,
    /// `/sys` by default: live patches.
    pub sys_root: Option<String>,
    pub run_dir: Option<String>,
    pub host_root: Option<String>,
    /// Path of the catalog database; absent keeps the catalog in memory.
    pub catalog_path: Option<String>,
    pub pids: Option<Vec<u32>>,
    /// Progress of long work on stderr; the caller sets it when stderr is a terminal.
    pub progress: Option<bool>,
    /// Also report the kernel (`status` does; a scan of a few PIDs need not).
    pub kernel: Option<bool>,
}

pub fn config(o: &ScanOptions) -> core::ScanConfig {
    let p = |v: &Option<String>, d: &str| PathBuf::from(v.as_deref().unwrap_or(d));
    core::ScanConfig {
        sysroot: p(&o.sysroot, "/"),
        proc_root: p(&o.proc_root, "/proc"),
        sys_root: p(&o.sys_root, "/sys"),
        run_dir: p(&o.run_dir, "/run"),
        host_root: p(&o.host_root, "/"),
        catalog_path: o.catalog_path.as_ref().map(PathBuf::from),
        pids: o.pids.clone(),
        progress: o.progress.unwrap_or(false),
        kernel: o.kernel.unwrap_or(false),
    }
}

/// A core error as a JavaScript `Error` with the message, and the code (`ENOENT`,
/// `EACCES`, `ECORRUPT`, `EIO`, `ECATALOG`; `EPANIC` comes from `guard`) and path as properties, as Node's own
/// file-system errors carry them: the TypeScript side reads `error.code`, it does not
/// parse the message.
pub fn error(env: &napi::Env, e: &livetree_core::Error) -> napi::Error {
    let path = e.path().to_string_lossy();
    coded_error(env, e.code(), &e.to_string(), Some(&path))
}

/// A JavaScript `Error` with `code` (and `path`) properties, wrapped so that napi throws
/// or rejects with that very object.
pub fn coded_error(env: &napi::Env, code: &str, message: &str, path: Option<&str>) -> napi::Error {
    use napi::bindgen_prelude::{JsObjectValue, JsValue};
    let build = || -> napi::Result<napi::Error> {
        let mut js = env.create_error(napi::Error::from_reason(message))?;
        js.set_named_property("code", code)?;
        if let Some(path) = path {
            js.set_named_property("path", path)?;
        }
        Ok(napi::Error::from(js.to_unknown()))
    };
    // Only an environment that is shutting down refuses to build an object; the message
    // still crosses then.
    build().unwrap_or_else(|_| napi::Error::from_reason(format!("{code}: {message}")))
}

/// The scan's part of the status document, as one JSON text (the shapes are the core's:
/// `livetree_core::contract`). JavaScript parses it at once, which is far cheaper than
/// building its objects here one property at a time.
/// How `document` writes the processes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Written {
    /// In the one JSON text, origins by index.
    Whole,
    /// Apart, as a second JSON text on a line of their own
    /// (`livetree_core::contract::write_apart`).
    Apart,
    /// Apart, with the table of what adding systemd's units needs of each process in the
    /// parts (`livetree_core::contract::write_units`).
    Units,
}

pub fn document(r: &core::ScanReport, written: Written) -> napi::Result<String> {
    let text = match written {
        Written::Apart => livetree_core::contract::write_apart(r),
        Written::Units => livetree_core::contract::write_units(r),
        Written::Whole => serde_json::to_string(r),
    };
    text.map_err(|e| napi::Error::from_reason(format!("cannot write the scan as JSON: {e}")))
}
