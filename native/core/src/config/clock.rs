//! When a process started, on the wall clock, and times as the document writes them.
//!
//! `/proc/PID/stat` gives a process's start in clock ticks after boot (field 22); the
//! wall-clock time of boot is `btime` of `/proc/stat` in whole seconds. The kernel's
//! own boot time to the nanosecond is `CLOCK_REALTIME - CLOCK_BOOTTIME` (what `btime` is
//! truncated from); it is used when it agrees with `btime`, which it does on a live
//! `/proc` and not on a captured tree from another boot.
use std::path::Path;

/// Nanoseconds in a second.
const NS: i64 = 1_000_000_000;

/// The boot time and the length of a clock tick, to turn start ticks into UTC.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Clock {
    /// The wall-clock time of boot, nanoseconds since the epoch.
    pub boot_ns: i64,
    /// One clock tick (`sysconf(_SC_CLK_TCK)`), in nanoseconds.
    pub tick_ns: i64,
}

/// `btime` of `/proc/stat`: the boot time in seconds since the epoch.
pub fn parse_btime(stat: &[u8]) -> Option<i64> {
    stat.split(|b| *b == b'\n')
        .find_map(|l| l.strip_prefix(b"btime "))
        .and_then(|v| std::str::from_utf8(v).ok()?.trim().parse().ok())
}

fn clock_ns(id: libc::clockid_t) -> Option<i64> {
    // SAFETY: an all-zero timespec is valid; clock_gettime fills it.
    let mut t: libc::timespec = unsafe { std::mem::zeroed() };
    // SAFETY: t is a valid, writable timespec.
    (unsafe { libc::clock_gettime(id, &mut t) } == 0).then(|| t.tv_sec * NS + t.tv_nsec)
}

impl Clock {
    /// The clock of the boot `proc_root` describes; None when its `stat` has no `btime`.
    pub fn read(proc_root: &Path) -> Option<Clock> {
        let btime = parse_btime(&std::fs::read(proc_root.join("stat")).ok()?)?;
        // SAFETY: sysconf has no preconditions.
        let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
        let hz = if hz > 0 { hz } else { 100 };
        let precise = clock_ns(libc::CLOCK_REALTIME)
            .zip(clock_ns(libc::CLOCK_BOOTTIME))
            .map(|(real, boot)| real - boot)
            .filter(|b| *b >= (btime - 1) * NS && *b < (btime + 2) * NS);
        Some(Clock {
            boot_ns: precise.unwrap_or(btime * NS),
            tick_ns: NS / hz,
        })
    }

    /// The wall-clock time of `ticks` after boot, nanoseconds since the epoch. The
    /// process started in the tick that ends `tick_ns` later.
    pub fn at(&self, ticks: u64) -> i64 {
        let ticks = i64::try_from(ticks).unwrap_or(i64::MAX / self.tick_ns.max(1));
        self.boot_ns
            .saturating_add(ticks.saturating_mul(self.tick_ns))
    }

    /// Whether a file whose change time is `ctime_ns` changed after a process that
    /// started at `started_ns` (from [`Clock::at`]) did: only a change time past the
    /// whole tick the start was counted in is surely later. A change within that tick
    /// is not counted (the process may have read the file after it).
    pub fn changed_after(&self, ctime_ns: i64, started_ns: i64) -> bool {
        ctime_ns >= started_ns.saturating_add(self.tick_ns)
    }
}

/// `ns` since the epoch as the document writes times: UTC, milliseconds, as JavaScript's
/// `toISOString` (`2026-12-06T09:12:03.120Z`).
pub fn utc(ns: i64) -> String {
    let ms = ns.div_euclid(1_000_000);
    let (secs, ms) = (ms.div_euclid(1000), ms.rem_euclid(1000));
    let (days, sod) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let (y, m, d) = crate::civil::civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{ms:03}Z",
        sod / 3600,
        sod / 60 % 60,
        sod % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_text() {
        assert_eq!(utc(0), "1970-01-01T00:00:00.000Z");
        // date -u -d @1796548323.12 +%FT%T
        assert_eq!(utc(1_796_548_323_120_000_000), "2026-12-06T09:12:03.120Z");
        assert_eq!(utc(951_782_400 * NS), "2000-02-29T00:00:00.000Z");
        assert_eq!(utc(-NS), "1969-12-31T23:59:59.000Z");
    }

    #[test]
    fn btime_and_ticks() {
        let stat = b"cpu  1 2 3\nintr 5\nbtime 1796500000\nprocesses 9\n";
        assert_eq!(parse_btime(stat), Some(1_796_500_000));
        assert_eq!(parse_btime(b"cpu 1\n"), None);
        let c = Clock {
            boot_ns: 1_796_500_000 * NS,
            tick_ns: NS / 100,
        };
        assert_eq!(c.at(250), 1_796_500_002_500_000_000);
        let started = c.at(250);
        assert!(!c.changed_after(started, started));
        assert!(!c.changed_after(started + c.tick_ns - 1, started));
        assert!(c.changed_after(started + c.tick_ns, started));
        assert!(!c.changed_after(started - NS, started));
    }
}
