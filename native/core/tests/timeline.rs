//! The timeline on real SQLite files: intervals opened and closed by scans, heartbeats,
//! a reused PID, unreadable processes, a clock going backwards, restarts linked, coverage
//! gaps, retention and the size cap (said in `check`), and a simulated month of scans.
mod catalog_support;

use catalog_support::TempDir;
use livetree_core::catalog::{
    Catalog, RestartEnd, RestartStart, TimelineFilter, TimelineOrigin, TimelineProcessSeen,
    TimelineScan,
};

fn origin(kind: &str, key: &str, label: Option<&str>) -> TimelineOrigin {
    TimelineOrigin {
        kind: kind.into(),
        key: key.into(),
        label: label.map(Into::into),
        source: None,
        source_version: None,
    }
}

fn proc_(pid: u32, start: i64, unit: &str, origins: Vec<TimelineOrigin>) -> TimelineProcessSeen {
    TimelineProcessSeen {
        pid,
        started_at: Some(start),
        comm: "app".into(),
        unit: Some(unit.into()),
        container: None,
        readable: true,
        origins,
    }
}

fn scan(at: i64, processes: Vec<TimelineProcessSeen>) -> TimelineScan {
    catalog_support::timeline_scan(at, processes)
}

fn ssl(v: &str) -> TimelineOrigin {
    origin("package", &format!("libssl3={v}"), None)
}

const T0: i64 = 1_800_000_000;

#[test]
fn intervals_heartbeats_restarts_and_gaps() {
    let dir = TempDir::new("timeline");
    let mut c = Catalog::open(&dir.catalog()).unwrap();
    let old = vec![
        ssl("3.0.20"),
        origin("commit", &"a".repeat(64), Some("1.0")),
    ];
    let new = vec![
        ssl("3.0.21"),
        origin("commit", &"b".repeat(64), Some("2.0")),
    ];
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    // Restarts are stamped with the real clock: these scans are just before and after now.
    let base = now - 120;
    let r = c
        .record_timeline(&scan(
            base,
            vec![proc_(10, base - 100, "sshd.service", old.clone())],
        ))
        .unwrap();
    assert_eq!((r.outcome.as_str(), r.changes), ("changes", 3));
    // The same again: a heartbeat, nothing else.
    let r = c
        .record_timeline(&scan(
            base + 60,
            vec![proc_(10, base - 100, "sshd.service", old.clone())],
        ))
        .unwrap();
    assert_eq!((r.outcome.as_str(), r.changes), ("heartbeat", 0));
    let id = c
        .begin_restart(&RestartStart {
            unit: "sshd.service".into(),
            old_pids: vec![10],
            stale_files_json: "[]".into(),
        })
        .unwrap();
    c.finish_restart(
        id,
        &RestartEnd {
            job_result: "done".into(),
            new_pids: vec![11],
            verdict: "verified".into(),
            details_json: "{}".into(),
        },
    )
    .unwrap();
    let r = c
        .record_timeline(&scan(
            now + 1,
            vec![proc_(11, now, "sshd.service", new.clone())],
        ))
        .unwrap();
    // Closed: process 10 (1); opened: process 11 and its two origins (3).
    assert_eq!(r.changes, 4);
    let answer = c
        .query_timeline(&TimelineFilter {
            package: Some("libssl3".into()),
            ..Default::default()
        })
        .unwrap();
    let rows: Vec<_> = answer
        .rows
        .iter()
        .map(|r| {
            (
                r.pid,
                r.key.as_str(),
                r.first_seen,
                r.last_seen,
                r.ended_at,
                r.restart_id,
                r.restart_verdict.as_deref(),
            )
        })
        .collect();
    assert_eq!(
        rows,
        vec![
            (
                10,
                "libssl3=3.0.20",
                base,
                Some(base + 60),
                Some(now + 1),
                Some(id),
                Some("verified")
            ),
            (11, "libssl3=3.0.21", now + 1, None, None, None, None),
        ]
    );
    // Only one version asked.
    let answer = c
        .query_timeline(&TimelineFilter {
            package: Some("libssl3".into()),
            package_version: Some("3.0.21".into()),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(answer.rows.len(), 1);
    // --at between the two scans, before any scan, and after a long silence.
    let at = |t: i64| {
        c.query_timeline(&TimelineFilter {
            since: Some(t),
            until: Some(t),
            ..Default::default()
        })
        .unwrap()
    };
    let before = at(base - 10);
    assert_eq!(before.gaps.len(), 1);
    assert_eq!((before.gaps[0].from, before.gaps[0].to), (None, Some(base)));
    let later = at(now + 3 * 3600);
    assert_eq!(
        (later.gaps[0].from, later.gaps[0].to),
        (Some(now + 1), None)
    );
    let covered = at(now + 1);
    assert!(covered.gaps.is_empty());
    assert_eq!(
        covered.rows.iter().map(|r| r.pid).collect::<Vec<_>>(),
        vec![11, 11]
    );
}

#[test]
fn reused_pid_unreadable_and_clock_back() {
    let dir = TempDir::new("timeline-clock");
    let mut c = Catalog::open(&dir.catalog()).unwrap();
    let o = vec![ssl("1")];
    c.record_timeline(&scan(T0, vec![proc_(7, T0 - 5, "a.service", o.clone())]))
        .unwrap();
    // Same PID, another start time: another process.
    let r = c
        .record_timeline(&scan(
            T0 + 60,
            vec![proc_(7, T0 + 30, "a.service", o.clone())],
        ))
        .unwrap();
    assert_eq!(r.changes, 3);
    // Unreadable now: its origins stay open.
    let mut unreadable = proc_(7, T0 + 30, "a.service", vec![]);
    unreadable.readable = false;
    let r = c
        .record_timeline(&scan(T0 + 120, vec![unreadable]))
        .unwrap();
    assert_eq!(r.changes, 0);
    // The clock goes back: recorded as such, open intervals closed at the previous scan.
    let r = c
        .record_timeline(&scan(
            T0 + 10,
            vec![proc_(7, T0 + 30, "a.service", o.clone())],
        ))
        .unwrap();
    assert!(r.clock_back);
    assert_eq!(r.changes, 3);
    let all = c.query_timeline(&TimelineFilter::default()).unwrap();
    let rows: Vec<_> = all
        .rows
        .iter()
        .map(|r| {
            (
                r.started_at,
                r.first_seen,
                r.last_seen,
                r.end_reason.as_deref(),
            )
        })
        .collect();
    assert_eq!(
        rows,
        vec![
            (Some(T0 - 5), T0, Some(T0), Some("gone")),
            (Some(T0 + 30), T0 + 60, Some(T0 + 120), Some("clock-back")),
            (Some(T0 + 30), T0 + 10, None, None),
        ]
    );
    let check = Catalog::check(&dir.catalog()).unwrap();
    let t = check.timeline.unwrap();
    assert_eq!((t.scans, t.clock_back_scans, t.processes), (4, 1, 3));
}

#[test]
fn a_moment_between_scans_far_apart_is_a_gap_even_when_the_clock_went_back_after() {
    // Scans at T0+60 and T0+3h, then the clock goes back to T0+3h-10min. At T0+1h no scan
    // looked: the two scans recorded one after the other lie three hours apart.
    let dir = TempDir::new("timeline-back-gap");
    let mut c = Catalog::open(&dir.catalog()).unwrap();
    let o = vec![ssl("1")];
    for at in [T0 + 60, T0 + 3 * 3600, T0 + 3 * 3600 - 600] {
        c.record_timeline(&scan(at, vec![proc_(7, T0, "a.service", o.clone())]))
            .unwrap();
    }
    let at = |t: i64| TimelineFilter {
        since: Some(t),
        until: Some(t),
        ..TimelineFilter::default()
    };
    let q = c.query_timeline(&at(T0 + 3600)).unwrap();
    let gaps: Vec<_> = q.gaps.iter().map(|g| (g.from, g.to)).collect();
    assert_eq!(gaps, vec![(Some(T0 + 60), Some(T0 + 3 * 3600))]);
    assert_eq!(q.clock_back, vec![T0 + 3 * 3600 - 600]);
    // Inside the last ten minutes the clock covered twice, a scan a minute or less away on
    // both sides in the order they were recorded is no gap there.
    let q = c.query_timeline(&at(T0 + 3 * 3600 - 300)).unwrap();
    let gaps: Vec<_> = q.gaps.iter().map(|g| (g.from, g.to)).collect();
    assert_eq!(gaps, vec![(Some(T0 + 60), Some(T0 + 3 * 3600))]);
    // The whole range: the one gap, the one clock going back.
    let q = c.query_timeline(&TimelineFilter::default()).unwrap();
    let gaps: Vec<_> = q.gaps.iter().map(|g| (g.from, g.to)).collect();
    assert_eq!(gaps, vec![(Some(T0 + 60), Some(T0 + 3 * 3600))]);
    assert_eq!(q.clock_back, vec![T0 + 3 * 3600 - 600]);
}

#[test]
fn retention_and_size_cap_prune_oldest_first_and_say_so() {
    let dir = TempDir::new("timeline-prune");
    let mut c = Catalog::open(&dir.catalog()).unwrap();
    let day = 86_400;
    for i in 0..10u32 {
        let mut s = scan(
            T0 + i as i64 * day,
            vec![proc_(100 + i, T0, "x.service", vec![ssl(&i.to_string())])],
        );
        s.retention_days = 5;
        c.record_timeline(&s).unwrap();
    }
    let t = Catalog::check(&dir.catalog()).unwrap().timeline.unwrap();
    // Kept: the scans of the last 5 days (and the open process), said in the prunings.
    assert_eq!(t.first_scan, Some(T0 + 4 * day));
    // Process 100+i ran from day i to day i+1: those that ended before day 4 are gone.
    assert_eq!(t.processes, 7);
    assert!(t.pruned.iter().all(|p| p.reason == "retention"));
    assert_eq!(t.pruned.iter().map(|p| p.scans).sum::<i64>(), 4);
    assert_eq!(t.pruned.iter().map(|p| p.processes).sum::<i64>(), 3);

    // A cap of 6 rows (3 processes with one origin each): the oldest ended ones go.
    let mut s = scan(
        T0 + 10 * day,
        vec![proc_(200, T0, "x.service", vec![ssl("new")])],
    );
    s.retention_days = 5;
    s.max_rows = 6;
    c.record_timeline(&s).unwrap();
    let t = Catalog::check(&dir.catalog()).unwrap().timeline.unwrap();
    let cap: Vec<_> = t.pruned.iter().filter(|p| p.reason == "size-cap").collect();
    assert_eq!(cap.len(), 1);
    assert!(t.processes * 2 <= 6, "{t:?}");
    let left = c.query_timeline(&TimelineFilter::default()).unwrap();
    // Newest first kept: the open process and the last ended ones.
    assert_eq!(left.rows.iter().map(|r| r.pid).max(), Some(200));
    assert!(left
        .rows
        .iter()
        .all(|r| r.ended_at.is_none_or(|e| e >= cap[0].before)));
}
