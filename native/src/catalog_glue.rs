//! napi glue for the catalog (restart history, check, rebuild) and `which`.
use base64::Engine;
use livetree_core::catalog::{
    Catalog, CheckReport, RebuildReport, RestartEnd, RestartRecord, RestartStart, TimelineAnswer,
    TimelineFilter, TimelineRecorded, TimelineScan,
};
use livetree_core::which::{which, Query, WhichReport};
use napi::bindgen_prelude::*;
use napi_derive::napi;
use std::path::{Path, PathBuf};

use crate::convert::{coded_error, error};
use crate::guard::guarded;

fn open(env: &Env, path: &str) -> Result<Catalog> {
    Catalog::open(Path::new(path)).map_err(|e| error(env, &e))
}

#[napi]
pub fn catalog_begin_restart(env: Env, path: String, start: RestartStart) -> Result<i64> {
    guarded(&env, "catalogBeginRestart", || {
        open(&env, &path)?
            .begin_restart(&start)
            .map_err(|e| error(&env, &e))
    })
}

#[napi]
pub fn catalog_finish_restart(env: Env, path: String, id: i64, end: RestartEnd) -> Result<()> {
    guarded(&env, "catalogFinishRestart", || {
        open(&env, &path)?
            .finish_restart(id, &end)
            .map_err(|e| error(&env, &e))
    })
}

#[napi]
pub fn catalog_list_restarts(env: Env, path: String) -> Result<Vec<RestartRecord>> {
    // Reading the history never writes, whoever runs it.
    guarded(&env, "catalogListRestarts", || {
        Catalog::open_read_only(Path::new(&path))
            .map_err(|e| error(&env, &e))?
            .list_restarts()
            .map_err(|e| error(&env, &e))
    })
}

#[napi]
pub fn catalog_check(env: Env, path: String) -> Result<CheckReport> {
    guarded(&env, "catalogCheck", || {
        Catalog::check(Path::new(&path)).map_err(|e| error(&env, &e))
    })
}

#[napi]
pub fn catalog_rebuild(env: Env, path: String) -> Result<RebuildReport> {
    guarded(&env, "catalogRebuild", || {
        Catalog::rebuild(Path::new(&path)).map_err(|e| error(&env, &e))
    })
}

#[napi(object)]
pub struct WhichOptions {
    pub sysroot: Option<String>,
    pub run_dir: Option<String>,
    pub catalog_path: Option<String>,
    /// MAJOR:MINOR:INODE (decimal) or a path; a path that is not UTF-8 comes as base64.
    pub query: String,
    pub query_base64: Option<bool>,
}

#[napi]
pub fn which_sync(env: Env, options: WhichOptions) -> Result<WhichReport> {
    guarded(&env, "whichSync", || which_guarded(&env, options))
}

fn which_guarded(env: &Env, options: WhichOptions) -> Result<WhichReport> {
    let env = *env;
    let query = if options.query_base64.unwrap_or(false) {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(&options.query)
            .map_err(|e| coded_error(&env, "EINVAL", &format!("bad base64 query: {e}"), None))?;
        Query::Path(bytes)
    } else if let Some(q) = parse_inode(&options.query) {
        q
    } else {
        Query::Path(options.query.clone().into_bytes())
    };
    let sysroot = PathBuf::from(options.sysroot.as_deref().unwrap_or("/"));
    let run_dir = PathBuf::from(options.run_dir.as_deref().unwrap_or("/run"));
    which(
        &sysroot,
        &run_dir,
        Path::new("/"),
        options.catalog_path.as_deref().map(Path::new),
        &query,
    )
    .map_err(|e| error(&env, &e))
}

/// `MAJ:MIN:INO` in decimal, or `MAJ:MIN INO` as `stat -c '%Hd:%Ld %i'` prints it.
fn parse_inode(q: &str) -> Option<Query> {
    let parts: Vec<&str> = q.split([':', ' ']).collect();
    if parts.len() != 3 {
        return None;
    }
    Some(Query::Inode(
        parts[0].parse().ok()?,
        parts[1].parse().ok()?,
        parts[2].parse().ok()?,
    ))
}

/// Record a whole scan in the timeline of the catalog file at `path`. The file must exist
/// (the scan made or opened it): without one, or when it may not be written (not root, a
/// read-only /var), nothing is recorded and the outcome says why. JavaScript records through
/// `Scanner.recordTimeline`, with the observation the scan built in the core.
pub(crate) fn record_timeline_in(
    env: &Env,
    path: &str,
    scan: &TimelineScan,
) -> Result<TimelineRecorded> {
    let file = Path::new(path);
    let skipped = |why: &str| TimelineRecorded {
        outcome: why.into(),
        changes: 0,
        clock_back: false,
    };
    if !file.exists() {
        return Ok(skipped("no-catalog"));
    }
    match Catalog::open_after_scan(file) {
        Ok(mut catalog) => catalog.record_timeline(scan).map_err(|e| error(env, &e)),
        Err(livetree_core::Error::PermissionDenied(_)) => Ok(skipped("read-only")),
        Err(e) => Err(error(env, &e)),
    }
}

/// The timeline's intervals for `filter`, read-only.
#[napi]
pub fn catalog_query_timeline(
    env: Env,
    path: String,
    filter: TimelineFilter,
) -> Result<TimelineAnswer> {
    Catalog::open_read_only(Path::new(&path))
        .map_err(|e| error(&env, &e))?
        .query_timeline(&filter)
        .map_err(|e| error(&env, &e))
}

/// `livetree timeline --json`: the timeline document for `filter` as JSON text
/// (schema/timeline.schema.json), read-only. With `at` (the filter's since = until = at)
/// the query says `at`. One buffer crosses instead of thousands of objects.
#[napi]
pub fn catalog_timeline_document(
    env: Env,
    path: String,
    filter: TimelineFilter,
    at: Option<i64>,
) -> Result<Buffer> {
    guarded(&env, "catalogTimelineDocument", || {
        Catalog::open_read_only(Path::new(&path))
            .map_err(|e| error(&env, &e))?
            .timeline_document(&filter, at)
            .map(Buffer::from)
            .map_err(|e| error(&env, &e))
    })
}
