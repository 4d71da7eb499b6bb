//! Reading the timeline (`livetree timeline`, `livetree diff A @TIME`): the origin intervals
//! that overlap a time range, filtered, and what the recorded scans cover of that range, so
//! that a question outside it is answered "no scan between …", never "nothing ran".
use rusqlite::{params_from_iter, types::Value};

use super::{db_error, Catalog};
use crate::error::Result;

/// Consecutive scans further apart than this leave a gap: nothing is known in between.
/// `livetree-scan.timer` scans hourly; the exporter records at most once a minute.
pub const GAP_SECONDS: i64 = 2 * 3600;

/// What to read. Times are epoch seconds; `at` is since = until.
#[derive(Debug, Clone, Default)]
#[cfg_attr(feature = "napi", napi_derive::napi(object, object_to_js = false))]
pub struct TimelineFilter {
    /// From this time (epoch seconds).
    pub since: Option<i64>,
    /// Up to this time (epoch seconds).
    pub until: Option<i64>,
    /// Its systemd unit, when known.
    pub unit: Option<String>,
    /// Its container (name, else id), when it runs in one.
    pub container: Option<String>,
    /// A package name: only its intervals.
    pub package: Option<String>,
    /// With `package`: only this version.
    pub package_version: Option<String>,
    /// A commit checksum or a prefix of one (at least 4 hex digits): only its intervals.
    pub commit: Option<String>,
    /// Leave out origins of these kinds (the caller's choice of detail).
    pub kinds: Option<Vec<String>>,
}

/// One origin interval of one process.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "napi", napi_derive::napi(object, object_from_js = false))]
pub struct TimelineRow {
    /// The process row (one per PID and start time).
    pub process_id: i64,
    /// The process ID.
    pub pid: u32,
    /// When the process started (epoch seconds), when known.
    pub started_at: Option<i64>,
    /// Its command name.
    pub comm: String,
    /// Its systemd unit, when known.
    pub unit: Option<String>,
    /// Its container (name, else id), when it runs in one.
    pub container: Option<String>,
    /// The first scan that saw the process.
    pub process_first_seen: i64,
    /// The last scan that saw it, once ended.
    pub process_last_seen: Option<i64>,
    /// The first scan that no longer saw it.
    pub process_ended_at: Option<i64>,
    /// `gone` (a scan no longer saw it) or `clock-back`.
    pub end_reason: Option<String>,
    /// The livetree restart that ended it.
    pub restart_id: Option<i64>,
    /// That restart's verdict.
    pub restart_verdict: Option<String>,
    /// What the origin is: deployment, commit, overlay, package, image or layer.
    pub kind: String,
    /// Its identity within the kind (a checksum, NAME=VERSION, a digest, a deployment id).
    pub key: String,
    /// A version or name to show with it, when known.
    pub label: Option<String>,
    /// A package's source package name, when recorded.
    pub source: Option<String>,
    /// That source package's version, when recorded.
    pub source_version: Option<String>,
    /// The first scan that saw this origin in this process.
    pub first_seen: i64,
    /// None while open (seen by the latest scan).
    pub last_seen: Option<i64>,
    /// The first scan that no longer saw it.
    pub ended_at: Option<i64>,
}

/// A stretch of the asked range that no scan saw.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "napi", napi_derive::napi(object, object_from_js = false))]
pub struct TimelineGap {
    /// The last scan before the gap; None: no scan before it at all.
    pub from: Option<i64>,
    /// The first scan after it; None: no scan after it yet.
    pub to: Option<i64>,
}

/// What `query_timeline` found, with what the scans cover.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "napi", napi_derive::napi(object, object_from_js = false))]
pub struct TimelineAnswer {
    /// The intervals, by unit, kind, key and time.
    pub rows: Vec<TimelineRow>,
    /// Scans recorded in the asked range.
    pub scans: i64,
    /// The first and latest scans recorded at all.
    pub first_scan: Option<i64>,
    /// The latest scan recorded.
    pub latest_scan: Option<i64>,
    /// The scan at or before `since` (else the first in range) and the one at or after `until`.
    pub scan_before: Option<i64>,
    /// scan after.
    pub scan_after: Option<i64>,
    /// Stretches of the range no scan saw.
    pub gaps: Vec<TimelineGap>,
    /// Scans in range whose clock was behind the previous one.
    pub clock_back: Vec<i64>,
    /// With `package` when no interval found matched it through a binary name: the package
    /// versions in the range recorded without their source package (a source name may not
    /// match them); None otherwise.
    pub unsourced: Option<i64>,
}

const ROW_COLUMNS: &str = "p.id, p.pid, p.started_at, p.comm, p.unit, p.container, \
    p.first_seen, p.last_seen, p.ended_at, p.end_reason, p.restart_id, r.verdict, \
    o.kind, o.key, o.label, o.source, o.source_version, u.first_seen, u.last_seen, u.ended_at";

impl Catalog {
    /// The intervals overlapping [since, until] that the filter keeps, with the coverage.
    pub fn query_timeline(&self, f: &TimelineFilter) -> Result<TimelineAnswer> {
        let err = |e| db_error(&self.path, e);
        let conn = &self.conn;
        let (first_scan, latest_scan): (Option<i64>, Option<i64>) = conn
            // Two subqueries, each one step down the index (min and max together scan it).
            .query_row(
                "SELECT (SELECT min(at) FROM timeline_scans), (SELECT max(at) FROM timeline_scans)",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .map_err(err)?;
        let since = f.since.unwrap_or(i64::MIN);
        let until = f.until.unwrap_or(i64::MAX);
        let latest = latest_scan.unwrap_or(i64::MIN);

        let mut sql = format!(
            "SELECT {ROW_COLUMNS} FROM timeline_uses u
             JOIN timeline_processes p ON p.id = u.process_id
             JOIN timeline_origins o ON o.id = u.origin_id
             LEFT JOIN restarts r ON r.id = p.restart_id
             WHERE u.first_seen <= ? AND coalesce(u.ended_at, ?) > ?"
        );
        // An open interval runs on to the latest scan, and no further than a gap after it.
        let open_end = latest.saturating_add(GAP_SECONDS + 1);
        let mut args: Vec<Value> = vec![until.into(), open_end.into(), since.into()];
        if let Some(unit) = &f.unit {
            sql.push_str(" AND p.unit = ?");
            args.push(unit.clone().into());
        }
        if let Some(c) = &f.container {
            sql.push_str(" AND p.container = ?");
            args.push(c.clone().into());
        }
        if let Some(name) = &f.package {
            // By binary or source name and version (timeline_sources.rs): the few origin
            // ids, then their intervals through the (origin_id, first_seen) index.
            let ids =
                super::timeline_sources::matching_origins(conn, name, f.package_version.as_deref())
                    .map_err(err)?;
            sql.push_str(" AND u.origin_id IN (SELECT value FROM json_each(?))");
            args.push(
                serde_json::to_string(&ids)
                    .unwrap_or_else(|_| "[]".into())
                    .into(),
            );
        }
        if let Some(c) = &f.commit {
            sql.push_str(
                " AND o.kind IN ('commit', 'deployment', 'overlay') AND (o.key LIKE ? OR o.key LIKE ?)",
            );
            args.push(format!("{c}%").into());
            args.push(format!("%/{c}%").into());
        }
        if let Some(kinds) = &f.kinds {
            sql.push_str(&format!(
                " AND o.kind IN ({})",
                vec!["?"; kinds.len()].join(", ")
            ));
            args.extend(kinds.iter().map(|k| Value::from(k.clone())));
        }
        sql.push_str(" ORDER BY p.unit, o.kind, o.key, p.id, u.first_seen");
        let mut stmt = conn.prepare(&sql).map_err(err)?;
        let rows = stmt
            .query_map(params_from_iter(args), |r| {
                Ok(TimelineRow {
                    process_id: r.get(0)?,
                    pid: r.get(1)?,
                    started_at: r.get(2)?,
                    comm: r.get(3)?,
                    unit: r.get(4)?,
                    container: r.get(5)?,
                    process_first_seen: r.get(6)?,
                    process_last_seen: r.get(7)?,
                    process_ended_at: r.get(8)?,
                    end_reason: r.get(9)?,
                    restart_id: r.get(10)?,
                    restart_verdict: r.get(11)?,
                    kind: r.get(12)?,
                    key: r.get(13)?,
                    label: r.get(14)?,
                    source: r.get(15)?,
                    source_version: r.get(16)?,
                    first_seen: r.get(17)?,
                    last_seen: r.get(18)?,
                    ended_at: r.get(19)?,
                })
            })
            .and_then(|rows| rows.collect::<rusqlite::Result<Vec<_>>>())
            .map_err(err)?;

        // Nothing found through a binary name: NAME may be a source name, which versions
        // recorded without their source do not answer to; how many there are is said.
        let through_binary = |name: &str| {
            rows.iter().any(|r| {
                r.key
                    .split_once('=')
                    .is_some_and(|(binary, _)| binary == name)
            })
        };
        let unsourced = if f.package.as_deref().is_some_and(|n| !through_binary(n)) {
            Some(super::timeline_sources::unsourced(conn, f, since, until, open_end).map_err(err)?)
        } else {
            None
        };
        let scan_before: Option<i64> = conn
            .query_row(
                "SELECT max(at) FROM timeline_scans WHERE at <= ?1",
                [since],
                |r| r.get(0),
            )
            .map_err(err)?;
        let scan_after: Option<i64> = conn
            .query_row(
                "SELECT min(at) FROM timeline_scans WHERE at >= ?1",
                [until],
                |r| r.get(0),
            )
            .map_err(err)?;
        let scans: i64 = conn
            .query_row(
                "SELECT count(*) FROM timeline_scans WHERE at >= ?1 AND at <= ?2",
                [since, until],
                |r| r.get(0),
            )
            .map_err(err)?;
        let mut gaps = Vec::new();
        let mut clock_back = Vec::new();
        // Walk the scans from the one before the range to the one after it, in the order
        // they were recorded (id), reading two integers a row and keeping none of them.
        let lo = scan_before.unwrap_or(since);
        let hi = scan_after.unwrap_or(until);
        // Both plans read the same rows in the same order. A range holding most scans (a
        // month of them for `--package`) is read in id order straight off the table, `+at`
        // keeping SQLite off the index (which would sort 43,200 rows by id after); a narrow
        // one (`--at`) is found through the index and its few rows sorted.
        let (min_id, max_id): (Option<i64>, Option<i64>) = conn
            .query_row(
                "SELECT (SELECT min(id) FROM timeline_scans), (SELECT max(id) FROM timeline_scans)",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .map_err(err)?;
        let span = max_id.unwrap_or(0).saturating_sub(min_id.unwrap_or(0));
        let wide = scans.saturating_mul(4) > span;
        let walk = if wide {
            "SELECT id, at, clock_back FROM timeline_scans WHERE +at >= ?1 AND +at <= ?2 ORDER BY id"
        } else {
            "SELECT id, at, clock_back FROM timeline_scans WHERE at >= ?1 AND at <= ?2 ORDER BY id"
        };
        // Where the clock went back, the same moments were lived more than once: each stretch
        // between two clock jumps is a pass of its own, and a moment a pass went through with
        // no scan near it is a gap, whichever pass the walk above followed.
        let backs: Vec<i64> = conn
            .prepare_cached("SELECT id FROM timeline_scans WHERE clock_back = 1 ORDER BY id")
            .and_then(|mut s| {
                s.query_map([], |r| r.get(0))
                    .and_then(|rows| rows.collect::<rusqlite::Result<Vec<i64>>>())
            })
            .map_err(err)?;
        let mut stmt = conn.prepare_cached(walk).map_err(err)?;
        let mut walked = stmt.query([lo, hi]).map_err(err)?;
        let (mut first, mut last): (Option<i64>, Option<(i64, i64)>) = (None, None);
        while let Some(r) = walked.next().map_err(err)? {
            let id: i64 = r.get(0).map_err(err)?;
            let at: i64 = r.get(1).map_err(err)?;
            let back = r.get::<_, i64>(2).map_err(err)? == 1;
            match last {
                None => first = Some(at),
                Some(_) if back => clock_back.push(at),
                // Scans recorded one after the other (where the clock went back, no scan
                // between them may have left the range: the passes below judge those).
                Some((prev_id, prev))
                    if (backs.is_empty() || id == prev_id + 1)
                        && at.saturating_sub(prev) > GAP_SECONDS =>
                {
                    gaps.push(TimelineGap {
                        from: Some(prev),
                        to: Some(at),
                    })
                }
                Some(_) => {}
            }
            last = Some((id, at));
        }
        drop(walked);
        if !backs.is_empty() {
            let mut starts = vec![min_id.unwrap_or(0)];
            starts.extend(&backs);
            let ends: Vec<i64> = backs
                .iter()
                .map(|b| b - 1)
                .chain([max_id.unwrap_or(0)])
                .collect();
            for (start, end) in starts.into_iter().zip(ends) {
                for g in pass_gaps(conn, start, end, since, until).map_err(err)? {
                    if !gaps.contains(&g) {
                        gaps.push(g);
                    }
                }
            }
            gaps.sort_by_key(|g| (g.from, g.to));
        }
        let last = last.map(|(_, at)| at);
        if scan_before.is_none() && f.since.is_some() {
            gaps.insert(
                0,
                TimelineGap {
                    from: None,
                    to: first,
                },
            );
        }
        if scan_after.is_none()
            && f.until.is_some()
            && last.is_none_or(|t| until.saturating_sub(t) > GAP_SECONDS)
        {
            gaps.push(TimelineGap {
                from: last,
                to: None,
            });
        }
        Ok(TimelineAnswer {
            rows,
            scans,
            first_scan,
            latest_scan,
            scan_before,
            scan_after,
            gaps,
            clock_back,
            unsourced,
        })
    }
}

/// The gaps of one pass of the clock (scans `start..=end` by id, their times rising) that
/// touch [since, until]: two scans recorded one after the other more than `GAP_SECONDS`
/// apart with part of that range between them.
fn pass_gaps(
    conn: &rusqlite::Connection,
    start: i64,
    end: i64,
    since: i64,
    until: i64,
) -> rusqlite::Result<Vec<TimelineGap>> {
    let bound = |sql: &str, at: i64| -> rusqlite::Result<Option<i64>> {
        conn.query_row(sql, rusqlite::params![start, end, at], |r| r.get(0))
    };
    // The pass's scans from the last one at or before `since` to the first at or after
    // `until` (its first and last scan where there is none).
    let lo = bound(
        "SELECT max(id) FROM timeline_scans WHERE id BETWEEN ?1 AND ?2 AND at <= ?3",
        since,
    )?
    .unwrap_or(start);
    let hi = bound(
        "SELECT min(id) FROM timeline_scans WHERE id BETWEEN ?1 AND ?2 AND at >= ?3",
        until,
    )?
    .unwrap_or(end);
    let mut stmt = conn
        .prepare_cached("SELECT at FROM timeline_scans WHERE id BETWEEN ?1 AND ?2 ORDER BY id")?;
    let times = stmt
        .query_map([lo, hi], |r| r.get::<_, i64>(0))?
        .collect::<rusqlite::Result<Vec<i64>>>()?;
    Ok(times
        .windows(2)
        .filter(|w| w[1].saturating_sub(w[0]) > GAP_SECONDS && w[0] <= until && w[1] >= since)
        .map(|w| TimelineGap {
            from: Some(w[0]),
            to: Some(w[1]),
        })
        .collect())
}
