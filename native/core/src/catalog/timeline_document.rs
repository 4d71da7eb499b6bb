//! The one definition of the document `livetree timeline --json` prints
//! (schema/timeline.schema.json): a [`TimelineAnswer`] with its query, written as JSON text
//! here, so that thousands of intervals cross to JavaScript as one string, not as objects.
//! Field names and order are the schema's; times are UTC as JavaScript's `toISOString`
//! writes them (`2027-01-15T08:00:00.000Z`). src/timeline/answer.ts mirrors it as types.
use std::io::Write as _;

use serde::ser::{SerializeSeq, Serializer};
use serde::Serialize;

use super::timeline_query::{TimelineAnswer, TimelineFilter, TimelineGap, TimelineRow};
use super::Catalog;
use crate::error::{Error, Result};

/// Epoch seconds as `toISOString` writes them: `YYYY-MM-DDTHH:MM:SS.000Z`, with a signed
/// six-digit year outside 0000–9999 (`+010000-…`, `-000001-…`), as JavaScript does.
#[derive(Clone, Copy)]
struct Iso(i64);

impl Iso {
    fn some(t: Option<i64>) -> Option<Iso> {
        t.map(Iso)
    }
}

/// Writes `t` into `buf`, returning the length (at most 33 bytes for any i64).
fn iso_into(t: i64, buf: &mut [u8; 40]) -> usize {
    let (days, sod) = (t.div_euclid(86_400), t.rem_euclid(86_400));
    let (y, m, d) = crate::civil::civil_from_days(days);
    let (hh, mm, ss) = (sod / 3600, sod / 60 % 60, sod % 60);
    let mut w = &mut buf[..];
    // 40 bytes hold the longest case (a 12-digit year, from i64 seconds): writing cannot fail.
    let _ = if (0..=9999).contains(&y) {
        write!(w, "{y:04}-{m:02}-{d:02}T{hh:02}:{mm:02}:{ss:02}.000Z")
    } else {
        let sign = if y < 0 { '-' } else { '+' };
        let abs = y.unsigned_abs();
        write!(
            w,
            "{sign}{abs:06}-{m:02}-{d:02}T{hh:02}:{mm:02}:{ss:02}.000Z"
        )
    };
    40 - w.len()
}

impl Serialize for Iso {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        let mut buf = [0u8; 40];
        let n = iso_into(self.0, &mut buf);
        // Only ASCII digits and punctuation were written.
        s.serialize_str(std::str::from_utf8(&buf[..n]).unwrap_or("?"))
    }
}

/// Epoch seconds as the document writes them (UTC, milliseconds, as `toISOString`).
pub fn iso_time(t: i64) -> String {
    let mut buf = [0u8; 40];
    let n = iso_into(t, &mut buf);
    String::from_utf8_lossy(&buf[..n]).into_owned()
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Document<'a> {
    schema_version: u8,
    query: Query<'a>,
    coverage: Coverage<'a>,
    intervals: Intervals<'a>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Query<'a> {
    since: Option<Iso>,
    until: Option<Iso>,
    at: Option<Iso>,
    unit: Option<&'a str>,
    package: Option<&'a str>,
    package_version: Option<&'a str>,
    commit: Option<&'a str>,
    container: Option<&'a str>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Coverage<'a> {
    first_scan: Option<Iso>,
    latest_scan: Option<Iso>,
    scans: i64,
    scan_before: Option<Iso>,
    scan_after: Option<Iso>,
    gaps: Gaps<'a>,
    clock_back: Times<'a>,
    unsourced_package_versions: Option<i64>,
}

struct Gaps<'a>(&'a [TimelineGap]);

impl Serialize for Gaps<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Gap {
            from: Option<Iso>,
            to: Option<Iso>,
        }
        s.collect_seq(self.0.iter().map(|g| Gap {
            from: Iso::some(g.from),
            to: Iso::some(g.to),
        }))
    }
}

struct Times<'a>(&'a [i64]);

impl Serialize for Times<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.collect_seq(self.0.iter().map(|&t| Iso(t)))
    }
}

struct Intervals<'a>(&'a [TimelineRow]);

impl Serialize for Intervals<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(self.0.len()))?;
        for r in self.0 {
            seq.serialize_element(&Interval::of(r))?;
        }
        seq.end()
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Interval<'a> {
    pid: u32,
    started_at: Option<Iso>,
    comm: &'a str,
    unit: Option<&'a str>,
    container: Option<&'a str>,
    process: Process<'a>,
    origin: Origin<'a>,
    first_seen: Iso,
    last_seen: Option<Iso>,
    ended_at: Option<Iso>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Process<'a> {
    first_seen: Iso,
    last_seen: Option<Iso>,
    ended_at: Option<Iso>,
    end_reason: Option<&'a str>,
    restart: Option<Restart<'a>>,
}

#[derive(Serialize)]
struct Restart<'a> {
    id: i64,
    verdict: Option<&'a str>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Origin<'a> {
    kind: &'a str,
    key: &'a str,
    label: Option<&'a str>,
    source: Option<&'a str>,
    source_version: Option<&'a str>,
}

impl<'a> Interval<'a> {
    fn of(r: &'a TimelineRow) -> Self {
        Interval {
            pid: r.pid,
            started_at: Iso::some(r.started_at),
            comm: &r.comm,
            unit: r.unit.as_deref(),
            container: r.container.as_deref(),
            process: Process {
                first_seen: Iso(r.process_first_seen),
                last_seen: Iso::some(r.process_last_seen),
                ended_at: Iso::some(r.process_ended_at),
                end_reason: r.end_reason.as_deref(),
                restart: r.restart_id.map(|id| Restart {
                    id,
                    verdict: r.restart_verdict.as_deref(),
                }),
            },
            origin: Origin {
                kind: &r.kind,
                key: &r.key,
                label: r.label.as_deref(),
                source: r.source.as_deref(),
                source_version: r.source_version.as_deref(),
            },
            first_seen: Iso(r.first_seen),
            last_seen: Iso::some(r.last_seen),
            ended_at: Iso::some(r.ended_at),
        }
    }
}

/// The timeline document for `answer`, the answer to `filter`, as compact JSON text. With
/// `at` (one moment: the filter's since = until = at) the query says `at`, not the range.
/// Writing these plain records into a Vec does not fail; serde's error is returned as is.
pub fn timeline_json(
    answer: &TimelineAnswer,
    filter: &TimelineFilter,
    at: Option<i64>,
) -> serde_json::Result<Vec<u8>> {
    let range = |t: Option<i64>| if at.is_none() { Iso::some(t) } else { None };
    let doc = Document {
        schema_version: 1,
        query: Query {
            since: range(filter.since),
            until: range(filter.until),
            at: Iso::some(at),
            unit: filter.unit.as_deref(),
            package: filter.package.as_deref(),
            package_version: filter.package_version.as_deref(),
            commit: filter.commit.as_deref(),
            container: filter.container.as_deref(),
        },
        coverage: Coverage {
            first_scan: Iso::some(answer.first_scan),
            latest_scan: Iso::some(answer.latest_scan),
            scans: answer.scans,
            scan_before: Iso::some(answer.scan_before),
            scan_after: Iso::some(answer.scan_after),
            gaps: Gaps(&answer.gaps),
            clock_back: Times(&answer.clock_back),
            unsourced_package_versions: answer.unsourced,
        },
        intervals: Intervals(&answer.rows),
    };
    // About 400 bytes an interval.
    let mut out = Vec::with_capacity(1024 + answer.rows.len() * 420);
    serde_json::to_writer(&mut out, &doc)?;
    Ok(out)
}

impl Catalog {
    /// `livetree timeline --json`: the intervals for `filter` and their coverage, as the
    /// document's JSON text ([`timeline_json`]).
    pub fn timeline_document(&self, filter: &TimelineFilter, at: Option<i64>) -> Result<Vec<u8>> {
        let answer = self.query_timeline(filter)?;
        timeline_json(&answer, filter, at).map_err(|e| Error::Catalog {
            path: self.path.clone(),
            reason: format!("writing the timeline document: {e}"),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row() -> TimelineRow {
        TimelineRow {
            process_id: 9,
            pid: 4000,
            started_at: Some(1_800_001_799),
            comm: "svc\"0\n\u{1}é".into(),
            unit: Some("job.service".into()),
            container: None,
            process_first_seen: 1_800_001_800,
            process_last_seen: Some(1_800_001_800),
            process_ended_at: Some(1_800_001_860),
            end_reason: Some("restarted".into()),
            restart_id: Some(3),
            restart_verdict: None,
            kind: "package".into(),
            key: "libc6=2.36-0".into(),
            label: Some("dpkg".into()),
            source: Some("glibc".into()),
            source_version: Some("2.36-0".into()),
            first_seen: 1_800_001_800,
            last_seen: None,
            ended_at: None,
        }
    }

    fn answer(rows: Vec<TimelineRow>) -> TimelineAnswer {
        TimelineAnswer {
            rows,
            scans: 2,
            first_scan: Some(1_800_000_000),
            latest_scan: Some(1_800_001_860),
            scan_before: None,
            scan_after: Some(1_800_001_860),
            gaps: vec![
                TimelineGap {
                    from: None,
                    to: Some(1_800_000_000),
                },
                TimelineGap {
                    from: Some(1_800_000_000),
                    to: Some(1_800_001_800),
                },
            ],
            clock_back: vec![1_800_001_860],
            unsourced: Some(4),
        }
    }

    #[test]
    fn the_document_as_javascript_wrote_it() {
        let filter = TimelineFilter {
            since: Some(1_799_990_000),
            package: Some("libc6".into()),
            kinds: Some(vec!["image".into()]),
            ..TimelineFilter::default()
        };
        let text = timeline_json(&answer(vec![row()]), &filter, None).unwrap();
        let expected = concat!(
            r#"{"schemaVersion":1,"query":{"since":"2027-01-15T05:13:20.000Z","until":null,"at":null,"#,
            r#""unit":null,"package":"libc6","packageVersion":null,"commit":null,"container":null},"#,
            r#""coverage":{"firstScan":"2027-01-15T08:00:00.000Z","latestScan":"2027-01-15T08:31:00.000Z","#,
            r#""scans":2,"scanBefore":null,"scanAfter":"2027-01-15T08:31:00.000Z","#,
            r#""gaps":[{"from":null,"to":"2027-01-15T08:00:00.000Z"},"#,
            r#"{"from":"2027-01-15T08:00:00.000Z","to":"2027-01-15T08:30:00.000Z"}],"#,
            r#""clockBack":["2027-01-15T08:31:00.000Z"],"unsourcedPackageVersions":4},"#,
            r#""intervals":[{"pid":4000,"startedAt":"2027-01-15T08:29:59.000Z","comm":"svc\"0\n\u0001é","#,
            r#""unit":"job.service","container":null,"process":{"firstSeen":"2027-01-15T08:30:00.000Z","#,
            r#""lastSeen":"2027-01-15T08:30:00.000Z","endedAt":"2027-01-15T08:31:00.000Z","#,
            r#""endReason":"restarted","restart":{"id":3,"verdict":null}},"#,
            r#""origin":{"kind":"package","key":"libc6=2.36-0","label":"dpkg","source":"glibc","sourceVersion":"2.36-0"},"#,
            r#""firstSeen":"2027-01-15T08:30:00.000Z","lastSeen":null,"endedAt":null}]}"#,
        );
        assert_eq!(String::from_utf8(text).unwrap(), expected);
    }

    #[test]
    fn one_moment_says_at_and_no_range() {
        let filter = TimelineFilter {
            since: Some(1_800_001_830),
            until: Some(1_800_001_830),
            unit: Some("a.service".into()),
            ..TimelineFilter::default()
        };
        let mut a = answer(vec![]);
        a.gaps.clear();
        a.clock_back.clear();
        a.first_scan = None;
        a.unsourced = None;
        let text = timeline_json(&a, &filter, Some(1_800_001_830)).unwrap();
        let expected = concat!(
            r#"{"schemaVersion":1,"query":{"since":null,"until":null,"at":"2027-01-15T08:30:30.000Z","#,
            r#""unit":"a.service","package":null,"packageVersion":null,"commit":null,"container":null},"#,
            r#""coverage":{"firstScan":null,"latestScan":"2027-01-15T08:31:00.000Z","#,
            r#""scans":2,"scanBefore":null,"scanAfter":"2027-01-15T08:31:00.000Z","#,
            r#""gaps":[],"clockBack":[],"unsourcedPackageVersions":null},"intervals":[]}"#,
        );
        assert_eq!(String::from_utf8(text).unwrap(), expected);
    }

    #[test]
    fn times_as_to_iso_string() {
        // node -p 'new Date(T * 1000).toISOString()' for each T.
        assert_eq!(iso_time(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(iso_time(-1), "1969-12-31T23:59:59.000Z");
        assert_eq!(iso_time(951_782_400), "2000-02-29T00:00:00.000Z");
        assert_eq!(iso_time(253_402_300_799), "9999-12-31T23:59:59.000Z");
        assert_eq!(iso_time(253_402_300_800), "+010000-01-01T00:00:00.000Z");
        assert_eq!(iso_time(-62_167_219_200), "0000-01-01T00:00:00.000Z");
        assert_eq!(iso_time(-62_167_219_201), "-000001-12-31T23:59:59.000Z");
        assert_eq!(iso_time(8_640_000_000_000), "+275760-09-13T00:00:00.000Z");
        // Past JavaScript's dates (toISOString throws): still a time, never a panic.
        assert!(iso_time(i64::MAX).ends_with('Z'));
        assert!(iso_time(i64::MIN).ends_with('Z'));
    }
}
