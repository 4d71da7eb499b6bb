//! napi glue for `livetree_core::config`: the reloads a scan is told about, and the
//! `unit-file` check of the units systemd named (`livetree_core::config::unit_files`).
use std::path::Path;

use livetree_core::config::{self, unit_files::UnitFiles, Reloaded};
use napi::bindgen_prelude::*;
use napi_derive::napi;

/// A reload livetree asked for (`livetree_core::config::Reloaded`).
#[napi(object)]
pub struct ReloadedIn {
    pub pid: u32,
    /// The process's `startedAt` when it was reloaded.
    pub started_at: String,
    /// When the reload was asked, milliseconds since the epoch.
    pub at_ms: f64,
}

pub fn reloaded(list: Vec<ReloadedIn>) -> Vec<Reloaded> {
    list.into_iter()
        .map(|r| Reloaded {
            pid: r.pid,
            started_at: r.started_at,
            at_ns: (r.at_ms * 1e6) as i64,
        })
        .collect()
}

/// One unit as the manager describes it (`livetree_core::config::unit_files::UnitFiles`).
#[napi(object)]
pub struct UnitFilesIn {
    pub name: String,
    pub main_pid: Option<u32>,
    pub pids: Vec<u32>,
    pub manager_pid: Option<u32>,
    /// FragmentPath; empty for none.
    pub fragment: String,
    pub drop_ins: Vec<String>,
    pub need_daemon_reload: bool,
    /// The start its check is measured from, in clock ticks after boot, as the scan read
    /// it; absent (or not a whole number of ticks): read from `/proc/PID/stat`.
    pub start_ticks: Option<f64>,
}

/// Each unit's `unit-file` changes, as JSON text: `{"changes": [[change…]…], "warnings":
/// […]}`, changes in the contract's `configChanges[]` shape, in the order of `units`.
#[napi]
pub fn unit_file_changes(env: Env, proc_root: String, units: Vec<UnitFilesIn>) -> Result<String> {
    crate::guard::guarded(&env, "unitFileChanges", || {
        let units: Vec<UnitFiles> = units
            .into_iter()
            .map(|u| UnitFiles {
                name: u.name,
                main_pid: u.main_pid,
                pids: u.pids,
                manager_pid: u.manager_pid,
                fragment: u.fragment.into_bytes(),
                drop_ins: u.drop_ins.into_iter().map(String::into_bytes).collect(),
                need_daemon_reload: u.need_daemon_reload,
                start_ticks: u
                    .start_ticks
                    .filter(|t| t.fract() == 0.0 && *t >= 0.0 && *t <= 9_007_199_254_740_991.0)
                    .map(|t| t as u64),
            })
            .collect();
        let root = Path::new(&proc_root);
        let (changes, warnings) =
            config::unit_files::unit_file_changes(root, config::Clock::read(root), &units);
        serde_json::to_string(&serde_json::json!({"changes": changes, "warnings": warnings}))
            .map_err(|e| Error::from_reason(format!("cannot write unit-file changes as JSON: {e}")))
    })
}
