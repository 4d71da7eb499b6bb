//! A simulated month of one scan a minute on a host of 3000 processes, written through the
//! catalog's own `record_timeline` with a controllable clock (each scan's `at`): 300 units,
//! each process mapping a commit, its deployment and 11 packages; a daily upgrade (a new
//! commit, 20 package versions bumped) after which 5 units restart (new PIDs, new code);
//! an hourly job whose 3 short processes live for one scan. The catalog stays under 50 MB.
//!
//! Slow unoptimised: run with `--release` (scripts/bench-timeline.sh does, and keeps the
//! catalog for its `timeline --package` timing). LIVETREE_SIM_DAYS (default 30) and
//! LIVETREE_SIM_OUT (a directory to keep catalog.sqlite in) tune it.
mod catalog_support;

use catalog_support::TempDir;
use livetree_core::catalog::{
    Catalog, TimelineFilter, TimelineOrigin, TimelineProcessSeen, TimelineScan,
};

const PROCESSES: u32 = 3000;
const UNITS: u32 = 300;
const PACKAGES: u32 = 200;
const T0: i64 = 1_800_000_000;

fn origin(kind: &str, key: String, label: Option<String>) -> TimelineOrigin {
    TimelineOrigin {
        kind: kind.into(),
        key,
        label,
        source: None,
        source_version: None,
    }
}

struct Host {
    /// Day of each package's current version.
    versions: Vec<u32>,
    day: u32,
    next_pid: u32,
}

impl Host {
    fn commit(&self) -> String {
        format!("{:064x}", 0xc0ffee_u64 + self.day as u64)
    }

    fn process(&mut self, slot: u32, at: i64) -> TimelineProcessSeen {
        let pid = self.next_pid;
        self.next_pid += 1;
        let commit = self.commit();
        let mut origins = vec![
            origin(
                "deployment",
                format!("os/{commit}.0"),
                Some(format!("day {}", self.day)),
            ),
            origin("commit", commit, Some(format!("day {}", self.day))),
            origin(
                "package",
                format!("libc6=2.36-{}", self.versions[0]),
                Some("dpkg".into()),
            ),
        ];
        for k in 0..10 {
            let j = 1 + (slot * 7 + k * 13) % (PACKAGES - 1);
            origins.push(origin(
                "package",
                format!("pkg{j}=1.{}", self.versions[j as usize]),
                Some("dpkg".into()),
            ));
        }
        TimelineProcessSeen {
            pid,
            started_at: Some(at),
            comm: format!("svc{}", slot % UNITS),
            unit: Some(format!("svc{}.service", slot % UNITS)),
            container: None,
            readable: true,
            origins,
        }
    }
}

fn file_size(path: &std::path::Path) -> u64 {
    std::fs::metadata(path).map(|m| m.len()).unwrap_or(0)
}

#[test]
fn a_month_of_scans_at_3000_processes_stays_under_50_mb() {
    // Unoptimised (`cargo test` in `npm test`) a month takes many minutes: there the same
    // simulation runs for two days and its size is held to the month's bound pro rata;
    // scripts/bench-timeline.sh runs the month with --release.
    let days: i64 = std::env::var("LIVETREE_SIM_DAYS")
        .ok()
        .and_then(|d| d.parse().ok())
        .unwrap_or(if cfg!(debug_assertions) { 2 } else { 30 });
    let tmp = TempDir::new("timeline-month");
    let dir = std::env::var("LIVETREE_SIM_OUT")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|_| tmp.catalog().parent().unwrap().to_path_buf());
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("catalog.sqlite");
    let _ = std::fs::remove_file(&path);
    let mut catalog = Catalog::open(&path).unwrap();
    let mut host = Host {
        versions: vec![0; PACKAGES as usize],
        day: 0,
        next_pid: 1000,
    };
    let mut processes: Vec<TimelineProcessSeen> = (0..PROCESSES)
        .map(|slot| host.process(slot, T0 - 3600))
        .collect();
    let mut outcomes = (0, 0, 0);
    let mut in_record = std::time::Duration::ZERO;
    let mut scan = TimelineScan {
        at: T0,
        source: "exporter".into(),
        boot_id: Some("boot".into()),
        processes: processes.clone(),
        min_interval: 60,
        retention_days: 400,
        max_rows: 2_000_000,
    };
    for minute in 0..days * 1440 {
        let at = T0 + minute * 60;
        scan.at = at;
        scan.processes.truncate(PROCESSES as usize);
        if minute % 1440 == 180 {
            // 03:00: the daily upgrade, then 5 units restarted onto the new code.
            host.day += 1;
            for j in 0..20 {
                let p = ((host.day * 20 + j) % PACKAGES) as usize;
                host.versions[p] = host.day;
            }
            host.versions[0] = host.day / 7;
            for u in 0..5 {
                let unit = (host.day * 5 + u) % UNITS;
                for slot in (unit..PROCESSES).step_by(UNITS as usize) {
                    processes[slot as usize] = host.process(slot, at - 5);
                }
            }
            scan.processes.clone_from(&processes);
        }
        if minute % 60 == 30 {
            // The hourly job: three processes seen by this scan only.
            for k in 0..3 {
                let mut job = host.process(k, at - 1);
                job.unit = Some("job.service".into());
                scan.processes.push(job);
            }
        }
        let started = std::time::Instant::now();
        let r = catalog.record_timeline(&scan).unwrap();
        in_record += started.elapsed();
        match r.outcome.as_str() {
            "heartbeat" => outcomes.0 += 1,
            "changes" => outcomes.1 += 1,
            _ => outcomes.2 += 1,
        }
    }
    // The answer over the month: every libc6 version, each in memory at some time.
    let answer = catalog
        .query_timeline(&TimelineFilter {
            package: Some("libc6".into()),
            ..Default::default()
        })
        .unwrap();
    let versions: std::collections::BTreeSet<&str> =
        answer.rows.iter().map(|r| r.key.as_str()).collect();
    drop(catalog);
    let bytes = file_size(&path)
        + file_size(&dir.join("catalog.sqlite-wal"))
        + file_size(&dir.join("catalog.sqlite-shm"));
    eprintln!(
        "timeline month: {days} days, {} scans ({} heartbeats, {} with changes, {} skipped), \
         {bytes} bytes, {:.1} ms per recording, libc6 versions {versions:?}",
        days * 1440,
        outcomes.0,
        outcomes.1,
        outcomes.2,
        in_record.as_secs_f64() * 1000.0 / (days * 1440) as f64
    );
    // Every minute's scan is recorded (none skipped at exactly a minute apart); changes come
    // only at the hourly job's appearance and exit and at the daily upgrade.
    assert_eq!(outcomes.2, 0);
    assert_eq!(outcomes.1 as i64, 1 + days * 49);
    assert_eq!(versions.len() as i64, days / 7 + 1);
    // 50 MB for 30 days, pro rata for a shorter run (the first day's rows weigh most).
    let bound = 50 * 1024 * 1024 * days.min(30) as u64 / 30;
    assert!(
        bytes < bound,
        "{bytes} bytes after {days} days, bound {bound}"
    );
}
