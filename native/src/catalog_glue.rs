//! napi glue for the catalog (restart history, check, rebuild) and `which`.
use base64::Engine;
use livetree_core::catalog::{Catalog, RestartEnd, RestartStart};
use livetree_core::which::{which, Query};
use napi::bindgen_prelude::*;
use napi_derive::napi;
use std::path::{Path, PathBuf};

use crate::convert::{coded_error, error};

#[napi(object)]
pub struct RestartStartIn {
    pub unit: String,
    pub old_pids: Vec<u32>,
    pub stale_files_json: String,
}

#[napi(object)]
pub struct RestartEndIn {
    pub job_result: String,
    pub new_pids: Vec<u32>,
    pub verdict: String,
    pub details_json: String,
}

#[napi(object)]
pub struct RestartRecordOut {
    pub id: i64,
    pub unit: String,
    /// Epoch seconds.
    pub started_at: i64,
    pub old_pids: Vec<u32>,
    pub stale_files_json: String,
    pub job_result: Option<String>,
    pub new_pids: Option<Vec<u32>>,
    pub verdict: Option<String>,
    pub details_json: Option<String>,
    pub finished_at: Option<i64>,
    /// in-progress | done
    pub state: String,
}

#[napi(object)]
pub struct CatalogCheckOut {
    pub path: String,
    pub ok: bool,
    pub problems: Vec<String>,
    pub schema_version: Option<i64>,
    pub commits: Option<i64>,
    pub files: Option<i64>,
    pub deployments: Option<i64>,
    pub restarts: Option<i64>,
    pub restarts_in_progress: Option<i64>,
}

#[napi(object)]
pub struct CatalogRebuildOut {
    pub path: String,
    pub moved_to: Option<String>,
    pub commits_salvaged: i64,
    pub deployments_salvaged: i64,
    pub restarts_salvaged: i64,
    pub lost: Vec<String>,
}

fn open(env: &Env, path: &str) -> Result<Catalog> {
    Catalog::open(Path::new(path)).map_err(|e| error(env, &e))
}

#[napi]
pub fn catalog_begin_restart(env: Env, path: String, start: RestartStartIn) -> Result<i64> {
    open(&env, &path)?
        .begin_restart(&RestartStart {
            unit: start.unit,
            old_pids: start.old_pids,
            stale_files_json: start.stale_files_json,
        })
        .map_err(|e| error(&env, &e))
}

#[napi]
pub fn catalog_finish_restart(env: Env, path: String, id: i64, end: RestartEndIn) -> Result<()> {
    open(&env, &path)?
        .finish_restart(
            id,
            &RestartEnd {
                job_result: end.job_result,
                new_pids: end.new_pids,
                verdict: end.verdict,
                details_json: end.details_json,
            },
        )
        .map_err(|e| error(&env, &e))
}

#[napi]
pub fn catalog_list_restarts(env: Env, path: String) -> Result<Vec<RestartRecordOut>> {
    // Reading the history never writes, whoever runs it.
    Ok(Catalog::open_read_only(Path::new(&path))
        .map_err(|e| error(&env, &e))?
        .list_restarts()
        .map_err(|e| error(&env, &e))?
        .into_iter()
        .map(|r| RestartRecordOut {
            id: r.id,
            unit: r.unit,
            started_at: r.started_at,
            old_pids: r.old_pids,
            stale_files_json: r.stale_files_json,
            job_result: r.job_result,
            new_pids: r.new_pids,
            verdict: r.verdict,
            details_json: r.details_json,
            finished_at: r.finished_at,
            state: r.state.as_str().to_string(),
        })
        .collect())
}

fn count(v: Option<u64>) -> Option<i64> {
    v.map(|n| n as i64)
}

#[napi]
pub fn catalog_check(env: Env, path: String) -> Result<CatalogCheckOut> {
    let r = Catalog::check(Path::new(&path)).map_err(|e| error(&env, &e))?;
    Ok(CatalogCheckOut {
        path: r.path.to_string_lossy().into_owned(),
        ok: r.ok,
        problems: r.problems,
        schema_version: r.schema_version,
        commits: count(r.commits),
        files: count(r.files),
        deployments: count(r.deployments),
        restarts: count(r.restarts),
        restarts_in_progress: count(r.restarts_in_progress),
    })
}

#[napi]
pub fn catalog_rebuild(env: Env, path: String) -> Result<CatalogRebuildOut> {
    let r = Catalog::rebuild(Path::new(&path)).map_err(|e| error(&env, &e))?;
    Ok(CatalogRebuildOut {
        path: r.path.to_string_lossy().into_owned(),
        moved_to: r.moved_to.map(|p| p.to_string_lossy().into_owned()),
        commits_salvaged: r.commits_salvaged as i64,
        deployments_salvaged: r.deployments_salvaged as i64,
        restarts_salvaged: r.restarts_salvaged as i64,
        lost: r.lost,
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

#[napi(object)]
pub struct WhichHitOut {
    pub commit: String,
    pub version: Option<String>,
    pub tree_path: String,
    pub object_checksum: String,
    pub deployments: Vec<String>,
}

#[napi(object)]
pub struct WhichOut {
    pub object_checksum: Option<String>,
    pub hits: Vec<WhichHitOut>,
    pub warnings: Vec<crate::convert::WarningOut>,
}

#[napi]
pub fn which_sync(env: Env, options: WhichOptions) -> Result<WhichOut> {
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
    let r = which(
        &sysroot,
        &run_dir,
        Path::new("/"),
        options.catalog_path.as_deref().map(Path::new),
        &query,
    )
    .map_err(|e| error(&env, &e))?;
    Ok(WhichOut {
        object_checksum: r.object,
        hits: r
            .hits
            .into_iter()
            .map(|h| WhichHitOut {
                commit: h.commit,
                version: h.version,
                tree_path: String::from_utf8_lossy(&h.tree_path).into_owned(),
                object_checksum: h.object,
                deployments: h.deployments,
            })
            .collect(),
        warnings: r
            .warnings
            .into_iter()
            .map(|w| crate::convert::WarningOut {
                code: w.code,
                message: w.message,
                pid: w.pid,
            })
            .collect(),
    })
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
