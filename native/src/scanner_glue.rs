//! napi glue for `livetree_core::scanner`: a scanner object JavaScript keeps between scans.
use std::sync::{Arc, Mutex};

use livetree_core::catalog::{TimelineProcessSeen, TimelineRecorded, TimelineScan};
use livetree_core::scan::ScanReport;
use livetree_core::scanner::{Scanner as CoreScanner, ScannerStats};
use livetree_core::timeline_observe;
use napi::bindgen_prelude::*;
use napi_derive::napi;

use crate::convert::{self, ScanOptions, Written};

/// Which processes one scan looks at; the places come from the scanner.
#[napi(object)]
pub struct ScanRequest {
    /// Only these PIDs (restart verification, explain); absent: every process.
    pub pids: Option<Vec<u32>>,
    /// Also report the kernel; absent: what the scanner's options said.
    pub kernel: Option<bool>,
    /// Write the processes apart, as the contract's array on a second line after the
    /// parts (`livetree_core::contract::write_apart`), for a caller that prints them as
    /// they are; absent: one JSON text, processes included with their files and origins by index.
    pub processes_apart: Option<bool>,
    /// Write the processes apart, as `processes_apart` does, with the table of what adding
    /// systemd's units needs of each in the parts (`livetree_core::contract::write_units`),
    /// for a caller that adds the units to some processes and prints the others as they are;
    /// ignored with `processesApart`.
    pub unit_table: Option<bool>,
    /// Reloads livetree asked for (`livetree_core::config::Reloaded`): configuration
    /// changed before one counts as applied for that process.
    pub reloaded: Option<Vec<crate::config_glue::ReloadedIn>>,
    /// Also build the timeline's observation of a whole scan (`livetree_core::timeline_observe`),
    /// kept by the scanner for `recordTimeline`; absent: none (and the kept one is dropped).
    pub observe: Option<bool>,
}

/// A process's unit as the status document has it once systemd answered.
#[napi(object)]
pub struct ProcessUnit {
    pub pid: u32,
    /// None: the manager places the process in no unit.
    pub unit: Option<String>,
}

/// How to record the scanner's last observed scan in the timeline (`recordTimeline`).
#[napi(object)]
pub struct TimelineRecording {
    /// Epoch seconds of the scan.
    pub at: i64,
    /// `status` or `exporter`.
    pub source: String,
    /// The boot the scan ran in.
    pub boot_id: Option<String>,
    /// The processes' units after systemd's answer; absent (no answer): the units their
    /// cgroups named stay.
    pub units: Option<Vec<ProcessUnit>>,
    /// Skip the scan when the last recorded one is less than this many seconds old.
    pub min_interval: i64,
    /// Keep this many days (pruned oldest first).
    pub retention_days: i64,
    /// Keep at most this many process and origin intervals together.
    pub max_rows: i64,
}

/// The work a scanner did (see `livetree_core::scanner::ScannerStats`).
#[napi(object)]
pub struct ScannerStatsOut {
    pub scans: i64,
    pub knowledge_loads: i64,
    pub index_builds: i64,
    pub catalog_opens: i64,
    pub catalog_refreshes: i64,
    pub composefs_image_reads: i64,
    pub composefs_files_hashed: i64,
    pub container_store_reads: i64,
    pub container_table_reads: i64,
    pub config_fd_reads: i64,
    pub root_opens: i64,
    pub early_reads: i64,
}

fn stats_out(s: ScannerStats) -> ScannerStatsOut {
    let n = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
    ScannerStatsOut {
        scans: n(s.scans),
        knowledge_loads: n(s.knowledge_loads),
        index_builds: n(s.index_builds),
        catalog_opens: n(s.catalog_opens),
        catalog_refreshes: n(s.catalog_refreshes),
        composefs_image_reads: n(s.composefs_image_reads),
        composefs_files_hashed: n(s.composefs_files_hashed),
        container_store_reads: n(s.container_store_reads),
        container_table_reads: n(s.container_table_reads),
        config_fd_reads: n(s.config_fd_reads),
        root_opens: n(s.root_opens),
        early_reads: n(s.early_reads),
    }
}

/// A scanner for one sysroot, run directory and catalog that keeps what it knows between
/// scans and reloads only what changed (the rule is in `livetree_core::scanner`).
#[napi]
pub struct Scanner {
    inner: Arc<Mutex<CoreScanner>>,
    /// The counters as of the last scan, apart from `inner` so that reading them never
    /// waits for a scan running on the thread pool (the event loop must not block).
    stats: Arc<Mutex<ScannerStats>>,
    /// The timeline's observation of the last scan, when it was a whole scan asked to observe.
    observation: Observation,
    kernel: bool,
    /// The catalog file, for a history read while a scan holds `inner`.
    catalog_path: Option<std::path::PathBuf>,
}

type Observation = Arc<Mutex<Option<Vec<TimelineProcessSeen>>>>;

/// Keeps the observation of a whole scan asked to observe, and drops the kept one after a
/// whole scan not asked to: a recording never takes an older whole scan's for this one's. A
/// scan of some PIDs (never recorded) leaves it: the processes of units reloaded outside
/// livetree are scanned again between a whole scan and its recording (`collect.ts`).
fn keep_observation(
    kept: &Mutex<Option<Vec<TimelineProcessSeen>>>,
    report: &ScanReport,
    whole: bool,
    observe: bool,
) {
    if !whole {
        return;
    }
    let observed = observe.then(|| timeline_observe::observe(report));
    *kept.lock().unwrap_or_else(|p| p.into_inner()) = observed;
}

fn run(
    inner: &Mutex<CoreScanner>,
    stats: &Mutex<ScannerStats>,
    pids: Option<Vec<u32>>,
    kernel: bool,
    reloaded: Vec<livetree_core::config::Reloaded>,
) -> livetree_core::Result<livetree_core::scan::ScanReport> {
    // A scan that panicked leaves nothing half-changed that matters: the knowledge it held
    // was taken out first, so the next scan loads afresh.
    let mut scanner = inner.lock().unwrap_or_else(|p| p.into_inner());
    let result = scanner.scan_reloaded(pids, kernel, reloaded);
    *stats.lock().unwrap_or_else(|p| p.into_inner()) = scanner.stats();
    result
}

#[napi]
impl Scanner {
    /// `options` name the places (and the default `kernel`); `pids` there is ignored.
    #[napi(constructor)]
    pub fn new(options: ScanOptions) -> Scanner {
        let mut base = convert::config(&options);
        base.pids = None;
        Scanner {
            kernel: base.kernel,
            catalog_path: base.catalog_path.clone(),
            inner: Arc::new(Mutex::new(CoreScanner::new(base))),
            stats: Arc::new(Mutex::new(ScannerStats::default())),
            observation: Arc::new(Mutex::new(None)),
        }
    }

    /// Scan on the calling thread (the CLI's one-shot commands). Returns the scan's part of
    /// the status document as JSON text in UTF-8 bytes, as `scan` does.
    #[napi]
    pub fn scan_sync(&self, env: Env, request: Option<ScanRequest>) -> Result<Buffer> {
        let (pids, kernel, written, reloaded, observe) = self.request(request);
        let whole = pids.is_none();
        let result = crate::guard::guarded(&env, "Scanner.scanSync", || {
            run(&self.inner, &self.stats, pids, kernel, reloaded)
                .map_err(|e| convert::error(&env, &e))
                .and_then(|r| {
                    keep_observation(&self.observation, &r, whole, observe);
                    convert::document(&r, written)
                })
        });
        crate::give_back_memory();
        result.map(|text| Buffer::from(text.into_bytes()))
    }

    /// Scan on the libuv thread pool, so the exporter's event loop keeps serving. Two
    /// scans of one scanner run one after the other. The JSON text comes as its UTF-8 bytes,
    /// handed over without a copy: megabytes for thousands of processes, which `status
    /// --json` prints as they are (src/model/scan-parts.ts), never turned into a string and
    /// back.
    #[napi(ts_return_type = "Promise<Buffer>")]
    pub fn scan(&self, request: Option<ScanRequest>) -> AsyncTask<ScannerTask> {
        let (pids, kernel, written, reloaded, observe) = self.request(request);
        AsyncTask::new(ScannerTask {
            inner: Arc::clone(&self.inner),
            stats: Arc::clone(&self.stats),
            observation: Arc::clone(&self.observation),
            pids,
            kernel,
            reloaded,
            written,
            observe,
            failure: None,
        })
    }

    /// Record the last scan in the timeline of the catalog file at `path`, from the
    /// observation the core built during that scan (it must have been a whole scan asked
    /// to `observe`; the observation is used once). The outcome says when nothing was
    /// recorded (no catalog, read-only, too soon).
    #[napi]
    pub fn record_timeline(
        &self,
        env: Env,
        path: String,
        recording: TimelineRecording,
    ) -> Result<TimelineRecorded> {
        crate::guard::guarded(&env, "Scanner.recordTimeline", || {
            let kept = self
                .observation
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .take();
            let Some(mut processes) = kept else {
                let why = "no observation to record: the scanner's last scan was not a whole scan asked to observe";
                return Err(convert::coded_error(&env, "EINVAL", why, None));
            };
            if let Some(units) = recording.units {
                let unit_of = units.into_iter().map(|u| (u.pid, u.unit)).collect();
                timeline_observe::with_units(&mut processes, &unit_of);
            }
            let scan = TimelineScan {
                at: recording.at,
                source: recording.source,
                boot_id: recording.boot_id,
                processes,
                min_interval: recording.min_interval,
                retention_days: recording.retention_days,
                max_rows: recording.max_rows,
            };
            crate::catalog_glue::record_timeline_in(&env, &path, &scan)
        })
    }

    /// The catalog's restart history, through the catalog this scanner keeps open (no
    /// open and `quick_check` of the file per call: the exporter reads it after every
    /// scrape's scan). While a scan holds the scanner the file is opened read-only
    /// instead: the event loop never waits for a scan.
    #[napi]
    pub fn list_restarts(&self, env: Env) -> Result<Vec<livetree_core::catalog::RestartRecord>> {
        use std::sync::TryLockError;
        crate::guard::guarded(&env, "Scanner.listRestarts", || {
            let result = match self.inner.try_lock() {
                Ok(scanner) => scanner.list_restarts(),
                Err(TryLockError::Poisoned(p)) => p.into_inner().list_restarts(),
                Err(TryLockError::WouldBlock) => {
                    livetree_core::scanner::restarts_in_file(self.catalog_path.as_deref())
                }
            };
            result.map_err(|e| convert::error(&env, &e))
        })
    }

    /// Counters of the work done by the scans finished so far.
    /// Close the catalog this scanner keeps open and forget what it kept (a one-shot
    /// command's last step): the close records the catalog's stamp, so the next command's
    /// open skips `quick_check` when nothing else changed the file (docs/catalog-check.md).
    #[napi]
    pub fn release(&self) {
        self.inner
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .release();
    }

    #[napi]
    pub fn stats(&self) -> ScannerStatsOut {
        stats_out(*self.stats.lock().unwrap_or_else(|p| p.into_inner()))
    }
}

impl Scanner {
    fn request(&self, r: Option<ScanRequest>) -> Request {
        match r {
            Some(r) => (
                r.pids,
                r.kernel.unwrap_or(self.kernel),
                if r.processes_apart.unwrap_or(false) {
                    Written::Apart
                } else if r.unit_table.unwrap_or(false) {
                    Written::Units
                } else {
                    Written::Whole
                },
                crate::config_glue::reloaded(r.reloaded.unwrap_or_default()),
                r.observe.unwrap_or(false),
            ),
            None => (None, self.kernel, Written::Whole, Vec::new(), false),
        }
    }
}

/// A request's PIDs, kernel, how the processes are written, reloads, and whether to observe.
type Request = (
    Option<Vec<u32>>,
    bool,
    Written,
    Vec<livetree_core::config::Reloaded>,
    bool,
);

pub struct ScannerTask {
    inner: Arc<Mutex<CoreScanner>>,
    stats: Arc<Mutex<ScannerStats>>,
    observation: Observation,
    pids: Option<Vec<u32>>,
    kernel: bool,
    reloaded: Vec<livetree_core::config::Reloaded>,
    written: Written,
    observe: bool,
    /// The core's error of a failed scan (or a panic's message), turned into a JavaScript
    /// error (with its `code` and `path`, or `EPANIC`) on the JavaScript thread, where an
    /// Env is at hand.
    failure: Option<crate::guard::Failure>,
}

impl Task for ScannerTask {
    type Output = String;
    type JsValue = Buffer;

    /// Scans and writes the JSON on the thread pool: the event loop only receives the text.
    fn compute(&mut self) -> Result<Self::Output> {
        let (inner, stats, pids, kernel, written, reloaded) = (
            &self.inner,
            &self.stats,
            self.pids.take(),
            self.kernel,
            self.written,
            std::mem::take(&mut self.reloaded),
        );
        let (observation, whole, observe) = (&self.observation, pids.is_none(), self.observe);
        crate::guard::on_pool("Scanner.scan", &mut self.failure, || {
            run(inner, stats, pids, kernel, reloaded).map(|r| {
                keep_observation(observation, &r, whole, observe);
                convert::document(&r, written)
            })
        })
    }

    fn resolve(&mut self, _env: Env, output: Self::Output) -> Result<Self::JsValue> {
        crate::give_back_memory();
        Ok(Buffer::from(output.into_bytes()))
    }

    fn reject(&mut self, env: Env, err: Error) -> Result<Self::JsValue> {
        Err(match self.failure.take() {
            Some(f) => f.to_js(&env),
            None => err,
        })
    }
}
