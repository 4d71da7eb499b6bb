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
    /// Processes' starts as the scan read them, flat: PID, clock ticks after boot, PID,
    /// ticks…; a process not here (or not a whole number of ticks) is read from
    /// `/proc/PID/stat`.
    pub starts: Option<Vec<f64>>,
}

/// A JavaScript number that is a whole number of at most 2^53 − 1, as u64.
fn whole(n: f64) -> Option<u64> {
    (n.fract() == 0.0 && (0.0..=9_007_199_254_740_991.0).contains(&n)).then_some(n as u64)
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
                starts: u
                    .starts
                    .unwrap_or_default()
                    .chunks_exact(2)
                    .filter_map(|pair| Some((whole(pair[0])? as u32, whole(pair[1])?)))
                    .collect(),
            })
            .collect();
        let root = Path::new(&proc_root);
        let (changes, warnings) =
            config::unit_files::unit_file_changes(root, config::Clock::read(root), &units);
        serde_json::to_string(&serde_json::json!({"changes": changes, "warnings": warnings}))
            .map_err(|e| Error::from_reason(format!("cannot write unit-file changes as JSON: {e}")))
    })
}
