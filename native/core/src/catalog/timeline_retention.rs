//! Keeping the timeline bounded: retention (days) and a row cap prune the oldest first, each
//! pruning recorded in `timeline_pruned`; and the counts `catalog check` shows of it.

use rusqlite::{params, Transaction};

use super::timeline::{TimelineCounts, TimelinePruned, TimelineScan};

/// Drop what ended before the retention, then the oldest ended processes beyond the row cap.
pub(super) fn prune(tx: &Transaction<'_>, scan: &TimelineScan) -> rusqlite::Result<()> {
    let cutoff = scan.at - scan.retention_days.max(1) * 86_400;
    let old_scans: i64 = tx.query_row(
        "SELECT count(*) FROM timeline_scans WHERE at < ?1",
        [cutoff],
        |r| r.get(0),
    )?;
    let old_processes: i64 = tx.query_row(
        "SELECT count(*) FROM timeline_processes WHERE ended_at < ?1",
        [cutoff],
        |r| r.get(0),
    )?;
    if old_scans + old_processes > 0 {
        drop_before(tx, scan.at, "retention", cutoff, old_scans, old_processes)?;
    }
    let rows: i64 = tx.query_row(
        "SELECT (SELECT count(*) FROM timeline_processes) + (SELECT count(*) FROM timeline_uses)",
        [],
        |r| r.get(0),
    )?;
    if rows <= scan.max_rows {
        return Ok(());
    }
    // Drop ended processes oldest first down to 90% of the cap, so this does not run at
    // every scan; the time they ended before is what `catalog check` says.
    let excess = rows - scan.max_rows * 9 / 10;
    let mut stmt = tx.prepare(
        "SELECT p.ended_at, 1 + (SELECT count(*) FROM timeline_uses u WHERE u.process_id = p.id)
         FROM timeline_processes p WHERE p.ended_at IS NOT NULL ORDER BY p.ended_at",
    )?;
    let mut rows_iter = stmt.query([])?;
    let mut dropped = 0;
    let mut before = None;
    let mut processes = 0;
    while let Some(r) = rows_iter.next()? {
        let ended: i64 = r.get(0)?;
        // Whole seconds at a time: everything that ended before `before` goes.
        if dropped >= excess && before != Some(ended + 1) {
            break;
        }
        dropped += r.get::<_, i64>(1)?;
        processes += 1;
        before = Some(ended + 1);
    }
    drop(rows_iter);
    drop(stmt);
    if let Some(before) = before {
        let scans: i64 = tx.query_row(
            "SELECT count(*) FROM timeline_scans WHERE at < ?1",
            [before],
            |r| r.get(0),
        )?;
        drop_before(tx, scan.at, "size-cap", before, scans, processes)?;
    }
    Ok(())
}

fn drop_before(
    tx: &Transaction<'_>,
    at: i64,
    reason: &str,
    before: i64,
    scans: i64,
    processes: i64,
) -> rusqlite::Result<()> {
    tx.execute(
        "DELETE FROM timeline_uses WHERE process_id IN
           (SELECT id FROM timeline_processes WHERE ended_at < ?1)",
        [before],
    )?;
    tx.execute(
        "DELETE FROM timeline_processes WHERE ended_at < ?1",
        [before],
    )?;
    tx.execute("DELETE FROM timeline_scans WHERE at < ?1", [before])?;
    tx.execute(
        "INSERT INTO timeline_pruned (at, reason, before, scans, processes) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![at, reason, before, scans, processes],
    )?;
    Ok(())
}

/// The counts `catalog check` shows, from a read-only connection.
pub(super) fn counts(conn: &rusqlite::Connection) -> rusqlite::Result<TimelineCounts> {
    let (scans, first_scan, last_scan, clock_back_scans) = conn.query_row(
        "SELECT count(*), min(at), max(at), coalesce(sum(clock_back), 0) FROM timeline_scans",
        [],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
    )?;
    let processes = conn.query_row("SELECT count(*) FROM timeline_processes", [], |r| r.get(0))?;
    let uses = conn.query_row("SELECT count(*) FROM timeline_uses", [], |r| r.get(0))?;
    let mut stmt = conn
        .prepare("SELECT at, reason, before, scans, processes FROM timeline_pruned ORDER BY at")?;
    let pruned = stmt
        .query_map([], |r| {
            Ok(TimelinePruned {
                at: r.get(0)?,
                reason: r.get(1)?,
                before: r.get(2)?,
                scans: r.get(3)?,
                processes: r.get(4)?,
            })
        })?
        .collect::<rusqlite::Result<_>>()?;
    Ok(TimelineCounts {
        scans,
        first_scan,
        last_scan,
        clock_back_scans,
        processes,
        uses,
        pruned,
    })
}
