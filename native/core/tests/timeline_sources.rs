//! Package origins by source package on real SQLite files: recorded with their source,
//! asked for by binary or source name and version (upstream part included), the schema
//! 7 -> 8 migration backfilling from `packages` where one source is known, and the count of
//! versions recorded without a source that a source name may not match.
mod catalog_support;

use catalog_support::TempDir;
use livetree_core::catalog::{
    Catalog, TimelineFilter, TimelineOrigin, TimelineProcessSeen, TimelineScan, SCHEMA_VERSION,
};

const T0: i64 = 1_800_000_000;

fn package(key: &str, source: Option<(&str, &str)>) -> TimelineOrigin {
    TimelineOrigin {
        kind: "package".into(),
        key: key.into(),
        label: Some("dpkg".into()),
        source: source.map(|s| s.0.into()),
        source_version: source.map(|s| s.1.into()),
    }
}

fn process(pid: u32, origins: Vec<TimelineOrigin>) -> TimelineProcessSeen {
    TimelineProcessSeen {
        pid,
        started_at: Some(T0 - 10),
        comm: "app".into(),
        unit: Some(format!("app{pid}.service")),
        container: None,
        readable: true,
        origins,
    }
}

fn scan(at: i64, processes: Vec<TimelineProcessSeen>) -> TimelineScan {
    catalog_support::timeline_scan(at, processes)
}

fn ask(c: &Catalog, spec: &str) -> (Vec<String>, Option<i64>) {
    let (name, version) = match spec.split_once('=') {
        Some((n, v)) => (n, Some(v.to_string())),
        None => (spec, None),
    };
    let a = c
        .query_timeline(&TimelineFilter {
            since: Some(T0),
            until: Some(T0 + 60),
            package: Some(name.into()),
            package_version: version,
            ..TimelineFilter::default()
        })
        .unwrap();
    (a.rows.into_iter().map(|r| r.key).collect(), a.unsourced)
}

#[test]
fn a_package_is_found_by_its_binary_or_source_name_and_version() {
    let dir = TempDir::new("sources");
    let mut c = Catalog::open(&dir.catalog()).unwrap();
    let demo = package("libdemo-x1=1.2.3-4", Some(("demo-src", "1.2.3-4")));
    let other = package("demo-src-doc=1.2.30-1", Some(("demo-src-doc", "1.2.30-1")));
    for at in [T0, T0 + 60] {
        c.record_timeline(&scan(
            at,
            vec![
                process(100, vec![demo.clone()]),
                process(101, vec![other.clone()]),
            ],
        ))
        .unwrap();
    }
    let found = (vec!["libdemo-x1=1.2.3-4".to_string()], Some(0));
    assert_eq!(ask(&c, "demo-src=1.2.3"), found);
    assert_eq!(ask(&c, "demo-src=1.2.3-4"), found);
    assert_eq!(ask(&c, "demo-src"), found);
    assert_eq!(ask(&c, "libdemo-x1"), (found.0.clone(), None));
    assert_eq!(ask(&c, "libdemo-x1=1.2.3"), (found.0.clone(), None));
    assert_eq!(ask(&c, "demo-src=1.2"), (vec![], Some(0)));
    assert_eq!(ask(&c, "demo-src=1.2.3-5"), (vec![], Some(0)));
    assert_eq!(ask(&c, "demo-src=1.2.30"), (vec![], Some(0)));
    // Another package whose name begins alike is not it, and keeps its own name.
    assert_eq!(
        ask(&c, "demo-src-doc=1.2.30"),
        (vec!["demo-src-doc=1.2.30-1".to_string()], None)
    );
    let a = c
        .query_timeline(&TimelineFilter {
            package: Some("demo-src".into()),
            ..TimelineFilter::default()
        })
        .unwrap();
    assert_eq!(a.rows[0].source.as_deref(), Some("demo-src"));
    assert_eq!(a.rows[0].source_version.as_deref(), Some("1.2.3-4"));
}

#[test]
fn an_origin_recorded_without_its_source_takes_it_when_met_again() {
    let dir = TempDir::new("sources-later");
    let mut c = Catalog::open(&dir.catalog()).unwrap();
    c.record_timeline(&scan(
        T0,
        vec![process(
            100,
            vec![package("libssl3=3.0.11-1~deb12u2", None)],
        )],
    ))
    .unwrap();
    assert_eq!(ask(&c, "openssl=3.0.11"), (vec![], Some(1)));
    let sourced = package(
        "libssl3=3.0.11-1~deb12u2",
        Some(("openssl", "3.0.11-1~deb12u2")),
    );
    c.record_timeline(&scan(
        T0 + 60,
        vec![
            process(100, vec![package("libssl3=3.0.11-1~deb12u2", None)]),
            process(200, vec![sourced]),
        ],
    ))
    .unwrap();
    let keys = vec!["libssl3=3.0.11-1~deb12u2".to_string(); 2];
    assert_eq!(ask(&c, "openssl=3.0.11"), (keys, Some(0)));
}

#[test]
fn the_note_is_left_out_when_a_binary_name_found_something() {
    let dir = TempDir::new("sources-binary");
    let mut c = Catalog::open(&dir.catalog()).unwrap();
    // Debian's `openssl` command (binary openssl, source openssl) beside a libssl3 recorded
    // without its source: found through the binary name, so not counted.
    let cli = package(
        "openssl=3.0.11-1~deb12u2",
        Some(("openssl", "3.0.11-1~deb12u2")),
    );
    c.record_timeline(&scan(
        T0,
        vec![
            process(100, vec![cli]),
            process(101, vec![package("libssl3=3.0.11-1~deb12u2", None)]),
        ],
    ))
    .unwrap();
    assert_eq!(
        ask(&c, "openssl=3.0.11"),
        (vec!["openssl=3.0.11-1~deb12u2".to_string()], None)
    );
    // A version the command was not at: nothing through the binary name, so counted.
    assert_eq!(ask(&c, "openssl=3.0.12"), (vec![], Some(1)));
}

#[test]
fn the_migration_backfills_origins_whose_package_has_one_known_source() {
    let dir = TempDir::new("sources-migration");
    let path = dir.catalog();
    {
        let mut c = Catalog::open(&path).unwrap();
        c.record_timeline(&scan(
            T0,
            vec![process(
                100,
                vec![
                    package("libssl3=3.0.11-1~deb12u2", None),
                    package("libdual=2.0-1", None),
                    package("libnone=1.0-1", None),
                    TimelineOrigin {
                        kind: "commit".into(),
                        key: "a".repeat(64),
                        label: Some("1.0".into()),
                        source: None,
                        source_version: None,
                    },
                ],
            )],
        ))
        .unwrap();
    }
    {
        // Back to schema 7 as livetree wrote it: no source columns, no index; and the
        // packages a scan had recorded (two architectures of libssl3 with one source, two
        // sources for libdual, none for libnone).
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute_batch(
            "DROP INDEX timeline_origins_source;
             ALTER TABLE timeline_origins DROP COLUMN source;
             ALTER TABLE timeline_origins DROP COLUMN source_version;
             INSERT INTO packages (manager, name, version, arch, source, source_version) VALUES
               ('dpkg', 'libssl3', '3.0.11-1~deb12u2', 'amd64', 'openssl', '3.0.11-1~deb12u2'),
               ('dpkg', 'libssl3', '3.0.11-1~deb12u2', 'i386', 'openssl', '3.0.11-1~deb12u2'),
               ('rpm', 'libssl3', '3.0.11-1~deb12u2', 'x86_64', 'other', '1-1'),
               ('dpkg', 'libdual', '2.0-1', 'amd64', 'dual-a', '2.0-1'),
               ('dpkg', 'libdual', '2.0-1', 'i386', 'dual-b', '2.0-1'),
               ('dpkg', 'libnone', '1.0-2', 'amd64', 'none-src', '1.0-2');
             PRAGMA user_version = 7;",
        )
        .unwrap();
    }
    let c = Catalog::open(&path).unwrap();
    let conn = rusqlite::Connection::open(&path).unwrap();
    let version: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!((version, SCHEMA_VERSION), (8, 8));
    let mut stmt = conn
        .prepare("SELECT kind, key, source, source_version FROM timeline_origins ORDER BY key")
        .unwrap();
    let origins: Vec<(String, String, Option<String>, Option<String>)> = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap();
    let s = |x: &str| Some(x.to_string());
    assert_eq!(
        origins,
        vec![
            ("commit".into(), "a".repeat(64), None, None),
            ("package".into(), "libdual=2.0-1".into(), None, None),
            ("package".into(), "libnone=1.0-1".into(), None, None),
            (
                "package".into(),
                "libssl3=3.0.11-1~deb12u2".into(),
                s("openssl"),
                s("3.0.11-1~deb12u2")
            ),
        ]
    );
    // Found by its backfilled source; the two left without one are counted.
    assert_eq!(
        ask(&c, "openssl=3.0.11"),
        (vec!["libssl3=3.0.11-1~deb12u2".to_string()], Some(2))
    );
    assert_eq!(ask(&c, "dual-a"), (vec![], Some(2)));
    assert_eq!(
        ask(&c, "libdual"),
        (vec!["libdual=2.0-1".to_string()], None)
    );
    // Outside the range the versions were in memory, none is counted.
    let a = c
        .query_timeline(&TimelineFilter {
            since: Some(T0 + 30 * 86_400),
            until: Some(T0 + 31 * 86_400),
            package: Some("openssl".into()),
            ..TimelineFilter::default()
        })
        .unwrap();
    assert_eq!((a.rows.len(), a.unsourced), (0, Some(0)));
}
