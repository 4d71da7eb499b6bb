//! The timeline: what ran when. Every recorded scan (`livetree status`, the exporter at most
//! once a minute) adds a row to `timeline_scans`; what changed since the previous scan opens
//! or closes intervals:
//!
//! - a process (PID and start time, so a reused PID is another process) is open from the
//!   first scan that saw it until the scan that no longer saw it (`ended_at`), its last
//!   sighting being `last_seen`; its start time is the earliest it can have run;
//! - each distinct origin of its code (deployment, commit, overlay, package NAME=VERSION,
//!   container image, layer) is an interval of the process the same way.
//!
//! A scan that sees what the previous one saw writes only its own row (the heartbeat): the
//! observation's digest equals the last one. A scan whose clock is behind the previous one
//! is recorded as such (`clock_back`) and closes every open interval at the previous scan
//! (reason `clock-back`) instead of merging into them. A process ended by `livetree restart`
//! links to that restart (`restart_id`). Retention (days) and a row cap prune oldest first;
//! each pruning is counted in `timeline_pruned` for `catalog check`.
use std::collections::{HashMap, HashSet};

use rusqlite::{params, OptionalExtension, Transaction};

use super::{db_error, Catalog};
use crate::error::Result;
use crate::fast_hash::{FastMap, FastSet};

/// Schema 5 -> 6.
pub(super) const MIGRATION: &str = "
    CREATE TABLE timeline_scans (
        id          INTEGER PRIMARY KEY,
        at          INTEGER NOT NULL,
        source      TEXT NOT NULL,
        boot_id     TEXT,
        processes   INTEGER NOT NULL,
        changes     INTEGER NOT NULL,
        clock_back  INTEGER NOT NULL CHECK (clock_back IN (0, 1)),
        digest      BLOB
    );
    CREATE INDEX timeline_scans_at ON timeline_scans (at);
    CREATE TABLE timeline_origins (
        id          INTEGER PRIMARY KEY,
        kind        TEXT NOT NULL,
        key         TEXT NOT NULL,
        label       TEXT,
        UNIQUE (kind, key)
    );
    CREATE TABLE timeline_processes (
        id          INTEGER PRIMARY KEY,
        pid         INTEGER NOT NULL,
        started_at  INTEGER,
        comm        TEXT NOT NULL,
        unit        TEXT,
        container   TEXT,
        first_seen  INTEGER NOT NULL,
        last_seen   INTEGER,
        ended_at    INTEGER,
        end_reason  TEXT,
        restart_id  INTEGER,
        origins_digest INTEGER
    );
    CREATE INDEX timeline_processes_open ON timeline_processes (id) WHERE ended_at IS NULL;
    CREATE INDEX timeline_processes_unit ON timeline_processes (unit, first_seen);
    CREATE INDEX timeline_processes_ended ON timeline_processes (ended_at);
    CREATE TABLE timeline_uses (
        process_id  INTEGER NOT NULL REFERENCES timeline_processes (id) ON DELETE CASCADE,
        origin_id   INTEGER NOT NULL REFERENCES timeline_origins (id),
        first_seen  INTEGER NOT NULL,
        last_seen   INTEGER,
        ended_at    INTEGER,
        PRIMARY KEY (process_id, origin_id, first_seen)
    ) WITHOUT ROWID;
    CREATE INDEX timeline_uses_origin ON timeline_uses (origin_id, first_seen);
    CREATE TABLE timeline_pruned (
        at          INTEGER NOT NULL,
        reason      TEXT NOT NULL,
        before      INTEGER NOT NULL,
        scans       INTEGER NOT NULL,
        processes   INTEGER NOT NULL
    );
";

/// One origin of a process's code, as the caller names it: kind `deployment`, `commit`,
/// `overlay`, `package` (key NAME=VERSION), `image` or `layer`; label a version or name.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(feature = "napi", napi_derive::napi(object))]
pub struct TimelineOrigin {
    /// What the origin is: deployment, commit, overlay, package, image or layer.
    pub kind: String,
    /// Its identity within the kind (a checksum, NAME=VERSION, a digest, a deployment id).
    pub key: String,
    /// A version or name to show with it, when known.
    pub label: Option<String>,
    /// A package's source package name (dpkg `Source:`, else the binary's own name; rpm
    /// `SOURCERPM`), when the database gives one; None for other kinds.
    pub source: Option<String>,
    /// That source package's version, when known.
    pub source_version: Option<String>,
}

/// One process as a scan saw it.
#[derive(Debug, Clone)]
#[cfg_attr(feature = "napi", napi_derive::napi(object, object_to_js = false))]
pub struct TimelineProcessSeen {
    /// The process ID.
    pub pid: u32,
    /// Epoch seconds; None when unknown.
    pub started_at: Option<i64>,
    /// Its command name.
    pub comm: String,
    /// Its systemd unit, when known.
    pub unit: Option<String>,
    /// Its container (name, else id), when it runs in one.
    pub container: Option<String>,
    /// False when its maps could not be read: its origins are then unknown, not gone.
    pub readable: bool,
    /// The distinct origins of the code it maps.
    pub origins: Vec<TimelineOrigin>,
}

/// A whole scan, to record.
#[derive(Debug, Clone)]
#[cfg_attr(feature = "napi", napi_derive::napi(object, object_to_js = false))]
pub struct TimelineScan {
    /// Epoch seconds of the scan.
    pub at: i64,
    /// `status` or `exporter`.
    pub source: String,
    /// The boot the scan ran in.
    pub boot_id: Option<String>,
    /// Every process the scan saw.
    pub processes: Vec<TimelineProcessSeen>,
    /// Skip the scan when the last recorded one is less than this many seconds old.
    pub min_interval: i64,
    /// Keep this many days (pruned oldest first).
    pub retention_days: i64,
    /// Keep at most this many process and origin intervals together.
    pub max_rows: i64,
}

/// What recording did.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "napi", napi_derive::napi(object, object_from_js = false))]
pub struct TimelineRecorded {
    /// `skipped` (too soon after the last), `heartbeat` (nothing changed) or `changes`.
    pub outcome: String,
    /// Intervals opened or closed.
    pub changes: i64,
    /// The scan clock was behind the previous scan.
    pub clock_back: bool,
}

/// Counts for `catalog check`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(feature = "napi", napi_derive::napi(object, object_from_js = false))]
pub struct TimelineCounts {
    /// Scans recorded.
    pub scans: i64,
    /// The first scan kept (epoch seconds).
    pub first_scan: Option<i64>,
    /// The latest scan (epoch seconds).
    pub last_scan: Option<i64>,
    /// Scans whose clock was behind the previous one.
    pub clock_back_scans: i64,
    /// Every process the scan saw.
    pub processes: i64,
    /// Origin intervals kept.
    pub uses: i64,
    /// Every pruning: "N scans and M processes before TIME (reason) at TIME".
    pub pruned: Vec<TimelinePruned>,
}

/// One pruning of the timeline.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "napi", napi_derive::napi(object, object_from_js = false))]
pub struct TimelinePruned {
    /// When (epoch seconds).
    pub at: i64,
    /// `retention` or `size-cap`.
    pub reason: String,
    /// Everything that ended before this time was dropped.
    pub before: i64,
    /// Scans recorded.
    pub scans: i64,
    /// Every process the scan saw.
    pub processes: i64,
}

type ProcessKey = (u32, Option<i64>, String);

fn key_of(p: &TimelineProcessSeen) -> ProcessKey {
    // The start time tells a reused PID apart; without one, the command name does what it can.
    (
        p.pid,
        p.started_at,
        if p.started_at.is_some() {
            String::new()
        } else {
            p.comm.clone()
        },
    )
}

/// The digest of what a scan saw, independent of the order it listed things in: SipHash
/// (std's, fixed keys) of every field, with the counts of processes and origins beside it.
/// It runs at every scan, changed or not, so it is streamed, never built as strings; two
/// different scans agreeing on all of it is a 2^-64 chance. A livetree whose std hashes
/// otherwise only records one scan in full instead of as a heartbeat.
fn digest(scan: &TimelineScan) -> Vec<u8> {
    use std::hash::{Hash, Hasher};
    let mut order: Vec<&TimelineProcessSeen> = scan.processes.iter().collect();
    order.sort_by(|a, b| {
        (a.pid, a.started_at, &a.comm, &a.unit).cmp(&(b.pid, b.started_at, &b.comm, &b.unit))
    });
    let mut h = std::collections::hash_map::DefaultHasher::new();
    scan.boot_id.hash(&mut h);
    let mut origins: Vec<(&str, &str)> = Vec::new();
    let mut n_origins = 0u64;
    for p in order {
        (
            p.pid,
            p.started_at,
            &p.comm,
            &p.unit,
            &p.container,
            p.readable,
        )
            .hash(&mut h);
        origins.clear();
        origins.extend(p.origins.iter().map(|o| (o.kind.as_str(), o.key.as_str())));
        origins.sort_unstable();
        origins.dedup();
        n_origins += origins.len() as u64;
        origins.hash(&mut h);
    }
    let mut out = h.finish().to_le_bytes().to_vec();
    out.extend((scan.processes.len() as u64).to_le_bytes());
    out.extend(n_origins.to_le_bytes());
    out
}

struct OpenProcess {
    id: i64,
    unit: Option<String>,
    /// `origins_digest` of the origins last recorded for it.
    digest: Option<i64>,
}

/// The digest of a process's origins (and whether they were readable), kept in its row so
/// that a changed scan reads the open origins only of processes whose origins changed.
fn origins_digest(p: &TimelineProcessSeen) -> i64 {
    use std::hash::{Hash, Hasher};
    let mut origins: Vec<(&str, &str)> = p
        .origins
        .iter()
        .map(|o| (o.kind.as_str(), o.key.as_str()))
        .collect();
    origins.sort_unstable();
    origins.dedup();
    let mut h = std::collections::hash_map::DefaultHasher::new();
    origins.hash(&mut h);
    h.finish() as i64
}

impl Catalog {
    /// Record one whole scan in the timeline (see the module's comment). Only whole scans:
    /// a scan of some PIDs would end every other process.
    pub fn record_timeline(&mut self, scan: &TimelineScan) -> Result<TimelineRecorded> {
        let (tx, path) = self.write_transaction()?;
        let err = |e| db_error(&path, e);
        let last: Option<(i64, Vec<u8>)> = tx
            .query_row(
                "SELECT at, digest FROM timeline_scans ORDER BY id DESC LIMIT 1",
                [],
                |r| {
                    Ok((
                        r.get(0)?,
                        r.get::<_, Option<Vec<u8>>>(1)?.unwrap_or_default(),
                    ))
                },
            )
            .optional()
            .map_err(err)?;
        let clock_back = last.as_ref().is_some_and(|(at, _)| scan.at < *at);
        if let Some((at, _)) = &last {
            if !clock_back && scan.at - at < scan.min_interval {
                return Ok(TimelineRecorded {
                    outcome: "skipped".into(),
                    changes: 0,
                    clock_back: false,
                });
            }
        }
        let digest = digest(scan);
        let unchanged = !clock_back && last.as_ref().is_some_and(|(_, d)| *d == digest);
        let changes = if unchanged {
            0
        } else {
            apply_changes(&tx, scan, last.as_ref().map(|l| l.0), clock_back).map_err(err)?
        };
        tx.execute(
            "INSERT INTO timeline_scans (at, source, boot_id, processes, changes, clock_back, digest)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![
                scan.at,
                scan.source,
                scan.boot_id,
                scan.processes.len() as i64,
                changes,
                clock_back as i64,
                digest
            ],
        )
        .map_err(err)?;
        if !unchanged {
            super::timeline_retention::prune(&tx, scan).map_err(err)?;
        }
        tx.commit().map_err(err)?;
        Ok(TimelineRecorded {
            outcome: if unchanged { "heartbeat" } else { "changes" }.into(),
            changes,
            clock_back,
        })
    }
}

fn origin_id(
    tx: &Transaction<'_>,
    cache: &mut HashMap<(String, String), i64>,
    o: &TimelineOrigin,
) -> rusqlite::Result<i64> {
    let k = (o.kind.clone(), o.key.clone());
    if let Some(id) = cache.get(&k) {
        return Ok(*id);
    }
    // An origin recorded before its source was (schema 8) takes it when met again.
    tx.execute(
        "INSERT INTO timeline_origins (kind, key, label, source, source_version)
         VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT (kind, key) DO UPDATE SET label = coalesce(excluded.label, label),
           source = coalesce(excluded.source, source),
           source_version = coalesce(excluded.source_version, source_version)",
        params![o.kind, o.key, o.label, o.source, o.source_version],
    )?;
    let id: i64 = tx.query_row(
        "SELECT id FROM timeline_origins WHERE kind = ?1 AND key = ?2",
        params![o.kind, o.key],
        |r| r.get(0),
    )?;
    cache.insert(k, id);
    Ok(id)
}

fn load_open(tx: &Transaction<'_>) -> rusqlite::Result<FastMap<ProcessKey, OpenProcess>> {
    let mut open = FastMap::default();
    let mut stmt = tx.prepare(
        "SELECT id, pid, started_at, comm, unit, origins_digest FROM timeline_processes
         WHERE ended_at IS NULL",
    )?;
    let rows = stmt.query_map([], |r| {
        Ok((
            r.get::<_, i64>(0)?,
            r.get::<_, u32>(1)?,
            r.get::<_, Option<i64>>(2)?,
            r.get::<_, String>(3)?,
            r.get::<_, Option<String>>(4)?,
            r.get::<_, Option<i64>>(5)?,
        ))
    })?;
    for row in rows {
        let (id, pid, started_at, comm, unit, digest) = row?;
        let key = (
            pid,
            started_at,
            if started_at.is_some() {
                String::new()
            } else {
                comm
            },
        );
        open.insert(key, OpenProcess { id, unit, digest });
    }
    Ok(open)
}

/// The open origin intervals of one process: origin id -> first seen.
fn open_uses(tx: &Transaction<'_>, process: i64) -> rusqlite::Result<HashMap<i64, i64>> {
    let mut stmt = tx.prepare_cached(
        "SELECT origin_id, first_seen FROM timeline_uses WHERE process_id = ?1 AND ended_at IS NULL",
    )?;
    let rows = stmt.query_map([process], |r| Ok((r.get(0)?, r.get(1)?)))?;
    rows.collect()
}

/// Close process `p` (and its open origins): last seen at `last`, ended at `at`.
fn close_process(
    tx: &Transaction<'_>,
    p: &OpenProcess,
    pid: u32,
    last: i64,
    at: i64,
    reason: &str,
) -> rusqlite::Result<()> {
    // The restart by livetree that ended it: of its unit, begun after its last sighting
    // (a second of slack: both clocks count whole seconds), naming its PID among the old ones.
    let restart: Option<i64> = match (&p.unit, reason) {
        (Some(unit), "gone") => tx
            .query_row(
                "SELECT r.id FROM restarts r WHERE r.unit = ?1 AND r.started_at >= ?2 - 1
                   AND r.started_at <= ?3 + 1
                   AND EXISTS (SELECT 1 FROM json_each(r.old_pids) WHERE value = ?4)
                 ORDER BY r.started_at DESC LIMIT 1",
                params![unit, last, at, pid],
                |r| r.get(0),
            )
            .optional()?,
        _ => None,
    };
    tx.execute(
        "UPDATE timeline_processes SET last_seen = ?2, ended_at = ?3, end_reason = ?4,
           restart_id = ?5 WHERE id = ?1",
        params![p.id, last, at, reason, restart],
    )?;
    tx.execute(
        "UPDATE timeline_uses SET last_seen = ?2, ended_at = ?3
         WHERE process_id = ?1 AND ended_at IS NULL",
        params![p.id, last, at],
    )?;
    Ok(())
}

fn apply_changes(
    tx: &Transaction<'_>,
    scan: &TimelineScan,
    previous: Option<i64>,
    clock_back: bool,
) -> rusqlite::Result<i64> {
    let mut open = load_open(tx)?;
    let mut changes = 0i64;
    let mut origins = HashMap::new();
    let prev = previous.unwrap_or(scan.at);
    if clock_back {
        // Not merged: everything open ends at the previous scan, and starts again from here.
        for (key, p) in open.drain() {
            close_process(tx, &p, key.0, prev, prev, "clock-back")?;
            changes += 1;
        }
    }
    let mut seen = FastSet::default();
    for p in &scan.processes {
        let key = key_of(p);
        if !seen.insert(key.clone()) {
            continue;
        }
        let digest = origins_digest(p);
        let known = open.get(&key);
        if let Some(o) = known {
            if o.unit.is_none() && p.unit.is_some() {
                tx.execute(
                    "UPDATE timeline_processes SET unit = ?2 WHERE id = ?1",
                    params![o.id, p.unit],
                )?;
            }
            // Unknown is not gone: an unreadable process's origins stay open.
            if !p.readable || o.digest == Some(digest) {
                continue;
            }
        }
        let wanted: HashSet<i64> = p
            .origins
            .iter()
            .map(|o| origin_id(tx, &mut origins, o))
            .collect::<rusqlite::Result<_>>()?;
        let (id, uses) = match known {
            Some(o) => {
                tx.execute(
                    "UPDATE timeline_processes SET origins_digest = ?2 WHERE id = ?1",
                    params![o.id, digest],
                )?;
                (o.id, open_uses(tx, o.id)?)
            }
            None => {
                tx.execute(
                    "INSERT INTO timeline_processes
                       (pid, started_at, comm, unit, container, first_seen, origins_digest)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                    params![
                        p.pid,
                        p.started_at,
                        p.comm,
                        p.unit,
                        p.container,
                        scan.at,
                        if p.readable { Some(digest) } else { None }
                    ],
                )?;
                changes += 1;
                (tx.last_insert_rowid(), HashMap::new())
            }
        };
        for origin in wanted.iter().filter(|w| !uses.contains_key(w)) {
            tx.execute(
                "INSERT OR IGNORE INTO timeline_uses (process_id, origin_id, first_seen) VALUES (?1, ?2, ?3)",
                params![id, origin, scan.at],
            )?;
            changes += 1;
        }
        for (origin, first) in uses.iter().filter(|(u, _)| !wanted.contains(u)) {
            tx.execute(
                "UPDATE timeline_uses SET last_seen = ?4, ended_at = ?5
                 WHERE process_id = ?1 AND origin_id = ?2 AND first_seen = ?3",
                params![id, origin, first, prev, scan.at],
            )?;
            changes += 1;
        }
    }
    for (key, p) in open.iter().filter(|(k, _)| !seen.contains(*k)) {
        close_process(tx, p, key.0, prev, scan.at, "gone")?;
        changes += 1;
    }
    Ok(changes)
}
