//! napi glue: calls into `livetree_core`; no logic and no record types live here. Every
//! entry point that does work runs in `guard`, so a panic in the core is a JavaScript error
//! (code `EPANIC`), never an abort of Node. A scan
//! returns the status document's parts as one JSON text (the core's serde shapes,
//! `livetree_core::contract`); the catalog's records are the core's own `#[napi(object)]`s.
//!
//! Numbers: inode numbers cross as JSON numbers, which JavaScript reads as f64. Linux inode
//! numbers on the filesystems livetree sees fit in 2^53; a larger one would lose precision.
#![deny(clippy::all)]

mod catalog_glue;
mod config_glue;
mod convert;
mod dbus_glue;
mod guard;
mod scanner_glue;

use napi::bindgen_prelude::*;
use napi_derive::napi;

pub use catalog_glue::*;
pub use config_glue::*;
pub use convert::*;
pub use dbus_glue::*;
pub use scanner_glue::*;

#[napi]
pub fn core_version() -> String {
    livetree_core::version().to_string()
}

/// Start reading every process under `proc_root` now, on threads of the core's own, for the
/// next whole scan of that proc root to take (`livetree_core::scan::early`): `status` calls
/// it as soon as its options are parsed (`src/early.ts`). Returns at once.
#[napi]
pub fn read_processes_early(env: Env, proc_root: String) -> Result<()> {
    guard::guarded(&env, "readProcessesEarly", || {
        livetree_core::scan::early::start(std::path::PathBuf::from(proc_root));
        Ok(())
    })
}

/// Scan synchronously (the CLI's one-shot commands use this). Returns the scan's part of
/// the status document as JSON text in UTF-8 bytes (`src/model/scan-parts.ts` types it), as
/// `Scanner.scan` does.
#[napi]
pub fn scan_sync(env: Env, options: ScanOptions) -> Result<Buffer> {
    let cfg = convert::config(&options);
    let result = guard::guarded(&env, "scanSync", || {
        livetree_core::scan::run(&cfg)
            .map_err(|e| convert::error(&env, &e))
            .and_then(|r| convert::document(&r, convert::Written::Whole))
    });
    give_back_memory();
    result.map(|text| Buffer::from(text.into_bytes()))
}

/// A scan of thousands of processes allocates tens of megabytes that are all freed once
/// the result is converted; glibc keeps freed memory in its arenas, so hand it back to the
/// system, or the long-running exporter (and the peak RSS of one scan) carries it forever.
fn give_back_memory() {
    // SAFETY: malloc_trim only releases free memory at the top of glibc's heaps.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// The scan's configuration, and its failure kept for the JavaScript thread: `compute`
/// runs on the thread pool, where no JavaScript error can be built.
pub struct ScanTask(livetree_core::scan::ScanConfig, Option<guard::Failure>);

impl Task for ScanTask {
    type Output = String;
    type JsValue = Buffer;

    /// Scans and writes the JSON on the thread pool: the event loop only receives the text.
    fn compute(&mut self) -> Result<Self::Output> {
        let cfg = &self.0;
        guard::on_pool("scan", &mut self.1, || {
            livetree_core::scan::run(cfg).map(|r| convert::document(&r, convert::Written::Whole))
        })
    }

    fn resolve(&mut self, _env: Env, output: Self::Output) -> Result<Self::JsValue> {
        give_back_memory();
        Ok(Buffer::from(output.into_bytes()))
    }

    fn reject(&mut self, env: Env, err: Error) -> Result<Self::JsValue> {
        Err(match self.1.take() {
            Some(f) => f.to_js(&env),
            None => err,
        })
    }
}

/// Scan on the libuv thread pool, so the exporter's event loop keeps serving.
#[napi(ts_return_type = "Promise<Buffer>")]
pub fn scan(options: ScanOptions) -> AsyncTask<ScanTask> {
    AsyncTask::new(ScanTask(convert::config(&options), None))
}

#[napi(object)]
pub struct ConfigDiffOptions {
    pub sysroot: Option<String>,
    pub run_dir: Option<String>,
    pub host_root: Option<String>,
    /// Index, OSNAME/CHECKSUM.SERIAL or CHECKSUM.SERIAL; absent: booted, else default.
    pub deployment: Option<String>,
}

/// `livetree config-diff`: the JSON of `livetree_core::config::config_diff::ConfigDiff`.
/// Errors carry `code` ENODEPLOYMENT, ENOTSUP or the core's.
#[napi]
pub fn config_diff_sync(env: Env, options: ConfigDiffOptions) -> Result<String> {
    use livetree_core::config::config_diff;
    guard::guarded(&env, "configDiffSync", || {
        let p = |v: &Option<String>, d: &str| std::path::PathBuf::from(v.as_deref().unwrap_or(d));
        let found = config_diff::config_diff(
            &p(&options.sysroot, "/"),
            &p(&options.run_dir, "/run"),
            &p(&options.host_root, "/"),
            options.deployment.as_deref(),
        );
        match found {
            Ok(d) => serde_json::to_string(&d).map_err(|e| Error::from_reason(e.to_string())),
            Err(config_diff::Failure::Core(e)) => Err(convert::error(&env, &e)),
            Err(f) => Err(convert::coded_error(&env, f.code(), &f.to_string(), None)),
        }
    })
}
