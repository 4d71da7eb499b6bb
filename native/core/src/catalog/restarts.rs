//! Restart history. A restart is written before its systemd job starts and finished after
//! its verification, so a crash in between leaves a visible `in-progress` entry rather than
//! no trace of a restart that may have happened.
use rusqlite::{params, OptionalExtension, Row};

use super::encode::{now, parse_pids_json, pids_json};
use super::{catalog_error, Catalog};
use crate::error::Result;

/// What is known when a restart begins.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "napi", napi_derive::napi(object, object_to_js = false))]
pub struct RestartStart {
    /// The systemd unit being restarted.
    pub unit: String,
    /// The PIDs of the unit's processes before the restart.
    pub old_pids: Vec<u32>,
    /// The stale files of the old processes, as JSON text (SQLite checks it is valid JSON).
    pub stale_files_json: String,
}

/// What is known when the restart and its verification are over.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "napi", napi_derive::napi(object, object_to_js = false))]
pub struct RestartEnd {
    /// systemd's job result: `done`, `failed`, `timeout`, ...
    pub job_result: String,
    /// The PIDs of the unit's processes after the restart.
    pub new_pids: Vec<u32>,
    /// livetree's verdict on the new processes, e.g. `verified` or `still-stale`.
    pub verdict: String,
    /// Anything else worth keeping, as JSON text.
    pub details_json: String,
}

/// Whether a recorded restart has finished (a crash can leave one in progress for ever).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RestartState {
    /// Begun and not finished: no result or verdict yet.
    InProgress,
    /// Finished: the job result and verdict are recorded.
    Done,
}

impl RestartState {
    /// The spelling stored in the catalog and shown to users.
    pub fn as_str(self) -> &'static str {
        match self {
            RestartState::InProgress => "in-progress",
            RestartState::Done => "done",
        }
    }
}

/// JavaScript sees the state as its spelling (`as_str`).
#[cfg(feature = "napi")]
impl napi::bindgen_prelude::ToNapiValue for RestartState {
    unsafe fn to_napi_value(
        env: napi::sys::napi_env,
        val: Self,
    ) -> napi::Result<napi::sys::napi_value> {
        // SAFETY: as for any napi value, `env` is the live environment napi passed in.
        unsafe { napi::bindgen_prelude::ToNapiValue::to_napi_value(env, val.as_str()) }
    }
}

/// One restart as recorded. The `Option` fields are `None` while it is in progress (or if
/// livetree crashed before finishing it). Times are epoch seconds.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "napi", napi_derive::napi(object, object_from_js = false))]
pub struct RestartRecord {
    /// The row id, which `finish_restart` takes.
    pub id: i64,
    /// The systemd unit restarted.
    pub unit: String,
    /// When it began (epoch seconds).
    pub started_at: i64,
    /// The PIDs of the unit's processes before the restart.
    pub old_pids: Vec<u32>,
    /// Their stale files, as JSON text.
    pub stale_files_json: String,
    /// systemd's job result, once finished.
    pub job_result: Option<String>,
    /// The PIDs of the unit's processes after the restart, once finished.
    pub new_pids: Option<Vec<u32>>,
    /// livetree's verdict on the new processes, once finished.
    pub verdict: Option<String>,
    /// Anything else recorded at the end, as JSON text.
    pub details_json: Option<String>,
    /// When it finished (epoch seconds).
    pub finished_at: Option<i64>,
    /// Whether it has finished.
    #[cfg_attr(feature = "napi", napi(ts_type = "'in-progress' | 'done'"))]
    pub state: RestartState,
}

const RESTART_COLUMNS: &str = "id, unit, started_at, old_pids, stale_files, job_result, \
                               new_pids, verdict, details, finished_at, state";

/// A column that holds text we cannot interpret becomes a conversion error naming it.
fn bad_column(index: usize, reason: String) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(index, rusqlite::types::Type::Text, reason.into())
}

fn restart_from_row(row: &Row<'_>) -> rusqlite::Result<RestartRecord> {
    let old_pids: String = row.get(3)?;
    let new_pids: Option<String> = row.get(6)?;
    let state: String = row.get(10)?;
    Ok(RestartRecord {
        id: row.get(0)?,
        unit: row.get(1)?,
        started_at: row.get(2)?,
        old_pids: parse_pids_json(&old_pids).map_err(|e| bad_column(3, e))?,
        stale_files_json: row.get(4)?,
        job_result: row.get(5)?,
        new_pids: new_pids
            .map(|s| parse_pids_json(&s))
            .transpose()
            .map_err(|e| bad_column(6, e))?,
        verdict: row.get(7)?,
        details_json: row.get(8)?,
        finished_at: row.get(9)?,
        state: match state.as_str() {
            "in-progress" => RestartState::InProgress,
            "done" => RestartState::Done,
            other => return Err(bad_column(10, format!("unknown restart state {other:?}"))),
        },
    })
}

impl Catalog {
    /// Record that a restart begins; the row is committed when this returns, before the
    /// caller starts the job. Returns the restart's id for `finish_restart`.
    pub fn begin_restart(&self, start: &RestartStart) -> Result<i64> {
        self.conn
            .execute(
                "INSERT INTO restarts (unit, started_at, old_pids, stale_files, state) \
                 VALUES (?1, ?2, ?3, ?4, 'in-progress')",
                params![
                    start.unit,
                    now(),
                    pids_json(&start.old_pids),
                    start.stale_files_json
                ],
            )
            .map_err(|e| self.err(e))?;
        Ok(self.conn.last_insert_rowid())
    }

    /// Record how a restart ended. An unknown id, or one that is already finished, is an error.
    pub fn finish_restart(&self, id: i64, end: &RestartEnd) -> Result<()> {
        let changed = self
            .conn
            .execute(
                "UPDATE restarts SET job_result = ?2, new_pids = ?3, verdict = ?4, details = ?5, \
                 finished_at = ?6, state = 'done' WHERE id = ?1 AND state = 'in-progress'",
                params![
                    id,
                    end.job_result,
                    pids_json(&end.new_pids),
                    end.verdict,
                    end.details_json,
                    now()
                ],
            )
            .map_err(|e| self.err(e))?;
        if changed == 1 {
            return Ok(());
        }
        let reason = match self.restart(id)? {
            Some(_) => format!("restart {id} is already finished"),
            None => format!("no restart with id {id}"),
        };
        Err(catalog_error(&self.path, reason))
    }

    /// One restart by id.
    pub fn restart(&self, id: i64) -> Result<Option<RestartRecord>> {
        self.conn
            .prepare_cached(&format!(
                "SELECT {RESTART_COLUMNS} FROM restarts WHERE id = ?1"
            ))
            .and_then(|mut stmt| stmt.query_row([id], restart_from_row).optional())
            .map_err(|e| self.err(e))
    }

    /// The whole restart history, newest first.
    pub fn list_restarts(&self) -> Result<Vec<RestartRecord>> {
        let mut stmt = self
            .conn
            .prepare(&format!(
                "SELECT {RESTART_COLUMNS} FROM restarts ORDER BY id DESC"
            ))
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map([], restart_from_row)
            .and_then(|rows| rows.collect());
        rows.map_err(|e| self.err(e))
    }

    /// The reloads `livetree restart --reload-needed` made that took (verdict `reloaded` or
    /// `reloaded-unverifiable`): each process reloaded, with its start and when the reload
    /// was asked (the details' `requestedAt`, `processes[].pid` and `.startedAt`). A record
    /// whose details do not say these is left out.
    pub fn reloads(&self) -> Result<Vec<crate::config::Reloaded>> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT details FROM restarts WHERE state = 'done' \
                 AND verdict IN ('reloaded', 'reloaded-unverifiable') AND details IS NOT NULL",
            )
            .map_err(|e| self.err(e))?;
        let rows: Vec<String> = stmt
            .query_map([], |r| r.get(0))
            .and_then(|rows| rows.collect())
            .map_err(|e| self.err(e))?;
        Ok(rows.iter().flat_map(|d| reloads_of(d)).collect())
    }
}

/// The processes one reload record's details name, with the time it was asked.
fn reloads_of(details: &str) -> Vec<crate::config::Reloaded> {
    let Ok(v) = serde_json::from_str::<serde_json::Value>(details) else {
        return Vec::new();
    };
    let Some(at_ms) = v.get("requestedAt").and_then(serde_json::Value::as_f64) else {
        return Vec::new();
    };
    let Some(list) = v.get("processes").and_then(serde_json::Value::as_array) else {
        return Vec::new();
    };
    list.iter()
        .filter_map(|p| {
            Some(crate::config::Reloaded {
                pid: u32::try_from(p.get("pid")?.as_u64()?).ok()?,
                started_at: p.get("startedAt")?.as_str()?.to_string(),
                at_ns: (at_ms * 1e6) as i64,
            })
        })
        .collect()
}

#[cfg(test)]
mod reload_tests {
    #[test]
    fn reloads_of_details() {
        let d = r#"{"action":"reload","requestedAt":1796548323120,"processes":[{"pid":7,"startedAt":"2026-12-06T09:12:03.120Z"},{"pid":"x"}]}"#;
        let r = super::reloads_of(d);
        assert_eq!(r.len(), 1);
        assert_eq!(r[0].pid, 7);
        assert_eq!(r[0].started_at, "2026-12-06T09:12:03.120Z");
        assert_eq!(r[0].at_ns, 1_796_548_323_120_000_000);
        assert!(super::reloads_of("{}").is_empty());
        assert!(super::reloads_of("not json").is_empty());
    }
}
