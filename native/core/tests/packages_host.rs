//! The package table of this machine's own dpkg database, checked file by file against
//! `dpkg-query -S` (which package owns a path) and `dpkg-query -W` (its version, arch and
//! source) for every file that a few real running processes map.
use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use livetree_core::packages::{read_table, RootTree};
use livetree_core::proc::maps::{group_file_mappings, parse_maps};

fn dpkg_query(args: &[&str]) -> Option<String> {
    let out = Command::new("dpkg-query").args(args).output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

#[test]
fn host_processes_match_dpkg_query() {
    let table = read_table(&RootTree {
        root: PathBuf::from("/"),
    });
    assert!(table.warnings.is_empty(), "{:?}", table.warnings);
    assert!(
        table.packages.len() > 50,
        "{} packages",
        table.packages.len()
    );
    // Real processes of real packages: coreutils' sleep, dash, and this test itself.
    let mut children: Vec<_> = [("sleep", vec!["30"]), ("sh", vec!["-c", "sleep 30"])]
        .iter()
        .map(|(cmd, args)| {
            Command::new(cmd)
                .args(args)
                .stdout(Stdio::null())
                .spawn()
                .unwrap()
        })
        .collect();
    std::thread::sleep(std::time::Duration::from_millis(200));
    let mut pids: Vec<u32> = children.iter().map(|c| c.id()).collect();
    pids.push(std::process::id());
    let mut paths = BTreeSet::new();
    for pid in &pids {
        let maps = std::fs::read(format!("/proc/{pid}/maps")).unwrap();
        for m in group_file_mappings(&parse_maps(&maps).unwrap()) {
            if m.path.starts_with(b"/usr") && !m.deleted_suffix {
                paths.insert(m.path);
            }
        }
    }
    for c in &mut children {
        let _ = c.kill();
        let _ = c.wait();
    }
    let mut checked = 0;
    for p in &paths {
        let text = String::from_utf8_lossy(p).into_owned();
        let ours = table.lookup(p);
        // dpkg-query -S matches the path as its lists spell it; on a merged-/usr host the
        // library may be listed under /lib, so ask for both spellings.
        let alt = text.strip_prefix("/usr").unwrap_or(&text).to_string();
        let theirs = dpkg_query(&["-S", &text]).or_else(|| dpkg_query(&["-S", &alt]));
        let Some(theirs) = theirs else {
            assert!(
                ours.is_none(),
                "{text}: we say {ours:?}, dpkg-query owns none"
            );
            continue;
        };
        // "pkg:arch: /path" (or "pkg1, pkg2: /path" for a shared path).
        let owner = theirs.rsplit_once(": ").unwrap().0;
        let owners: Vec<&str> = owner
            .split(", ")
            .map(|o| o.split(':').next().unwrap())
            .collect();
        let ours = ours.unwrap_or_else(|| panic!("{text}: dpkg-query says {owner}, we say none"));
        assert!(
            owners.contains(&ours.name.as_str()),
            "{text}: {owner} vs {}",
            ours.name
        );
        let w = dpkg_query(&[
            "-W",
            "-f",
            "${Version}\t${Architecture}\t${source:Package}\t${source:Version}",
            &format!("{}:{}", ours.name, ours.arch.as_deref().unwrap()),
        ])
        .unwrap();
        let f: Vec<&str> = w.split('\t').collect();
        assert_eq!(ours.version, f[0], "{text}");
        assert_eq!(ours.arch.as_deref(), Some(f[1]), "{text}");
        assert_eq!(ours.source.as_deref(), Some(f[2]), "{text}");
        assert_eq!(ours.source_version.as_deref(), Some(f[3]), "{text}");
        checked += 1;
    }
    assert!(checked >= 4, "only {checked} files checked: {paths:?}");
}
