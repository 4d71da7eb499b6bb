//! read_sysroot against sysroots built by the real `ostree` CLI (fixtures/*.sh), compared
//! field by field with what `ostree admin status` prints for the same sysroot. Needs root.
use std::collections::HashMap;
use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

use livetree_core::ostree::sysroot::{read_sysroot, Deployment, SysrootStatus};
use livetree_core::Error;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures")
}

fn run(cmd: &mut Command) -> String {
    let out = cmd.output().expect("spawn");
    assert!(
        out.status.success(),
        "{:?} failed: {}",
        cmd,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf8")
}

/// A sysroot under /tmp that is destroyed (chattr -i, rm) when the test ends.
struct Sysroot {
    path: PathBuf,
    run: PathBuf,
}

static COUNTER: AtomicUsize = AtomicUsize::new(0);

impl Sysroot {
    fn build(scenario: &str) -> Sysroot {
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let base = std::env::temp_dir().join(format!(
            "livetree-sysroot-test-{}-{}-{}",
            std::process::id(),
            n,
            scenario
        ));
        let s = Sysroot {
            path: base.join("sysroot"),
            run: base.join("run"),
        };
        fs::create_dir_all(&base).unwrap();
        run(Command::new(fixtures().join("build-sysroot.sh"))
            .arg(&s.path)
            .arg("demo")
            .arg(scenario));
        s
    }

    fn step(&self, args: &[&str]) -> String {
        run(Command::new(fixtures().join("sysroot.sh"))
            .arg(args[0])
            .arg(&self.path)
            .args(&args[1..]))
    }

    /// `ostree admin status` text, from outside (None) or booted into a deployment.
    fn ostree_status(&self, booted: Option<usize>) -> String {
        match booted {
            None => run(Command::new("ostree")
                .arg("admin")
                .arg(format!("--sysroot={}", self.path.display()))
                .arg("status")),
            Some(i) => self.step(&[
                "booted-run",
                &i.to_string(),
                self.run.to_str().unwrap(),
                "ostree",
                "admin",
                "status",
            ]),
        }
    }

    fn read(&self, host_root: &Path) -> SysrootStatus {
        let repo = self.path.join("ostree/repo");
        let version_of = |csum: &str| commit_version(&repo, csum);
        read_sysroot(&self.path, &self.run, host_root, &version_of).expect("read_sysroot")
    }
}

impl Drop for Sysroot {
    fn drop(&mut self) {
        let _ = Command::new(fixtures().join("sysroot.sh"))
            .arg("destroy")
            .arg(&self.path)
            .status();
        if let Some(base) = self.path.parent() {
            let _ = fs::remove_dir_all(base);
        }
    }
}

/// The version hook, answered by the real CLI (the repo reader is another module's job).
fn commit_version(repo: &Path, csum: &str) -> Option<String> {
    let out = Command::new("ostree")
        .arg(format!("--repo={}", repo.display()))
        .args(["show", "--print-metadata-key=version", csum])
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    // GVariant text: '1.0'
    let t = String::from_utf8(out.stdout).ok()?;
    Some(t.trim().trim_matches('\'').to_string())
}

/// One deployment as `ostree admin status` prints it.
#[derive(Debug, Default, Clone, PartialEq)]
struct Printed {
    booted: bool,
    osname: String,
    checksum: String,
    serial: u32,
    flag: Option<String>,
    version: Option<String>,
    unlocked: Option<String>,
    pinned: bool,
    refspec: Option<String>,
    /// ostree prints "origin: none" for a deployment without an origin file.
    has_origin: bool,
}

fn parse_status(text: &str) -> Vec<Printed> {
    let mut out: Vec<Printed> = Vec::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("    ") {
            let cur = out.last_mut().expect("detail line before a deployment");
            if let Some(v) = rest.strip_prefix("Version: ") {
                cur.version = Some(v.to_string());
            } else if let Some(v) = rest.strip_prefix("Unlocked: ") {
                cur.unlocked = Some(v.to_string());
            } else if rest == "Pinned: yes" {
                cur.pinned = true;
            } else if let Some(v) = rest.strip_prefix("origin refspec: ") {
                cur.refspec = Some(v.to_string());
                cur.has_origin = true;
            } else if rest == "origin: <unknown origin type>" {
                cur.has_origin = true;
            }
            continue;
        }
        if line == "No deployments." || line.is_empty() {
            continue;
        }
        let booted = line.starts_with('*');
        let mut words = line[2..].split_whitespace();
        let osname = words.next().unwrap().to_string();
        let (csum, serial) = words.next().unwrap().split_once('.').unwrap();
        let flag = words.next().map(|f| f.trim_matches(['(', ')']).to_string());
        out.push(Printed {
            booted,
            osname,
            checksum: csum.to_string(),
            serial: serial.parse().unwrap(),
            flag,
            ..Default::default()
        });
    }
    out
}

/// Compare every field ostree prints, plus the ones it implies (path, dev/ino).
fn assert_matches(ours: &SysrootStatus, printed: &[Printed]) {
    assert_eq!(
        ours.deployments.len(),
        printed.len(),
        "deployment count; ours: {:#?}\nostree: {:#?}",
        ours.deployments,
        printed
    );
    for (i, (d, p)) in ours.deployments.iter().zip(printed).enumerate() {
        assert_eq!(d.index, i);
        assert_eq!(d.osname, p.osname, "osname of {i}");
        assert_eq!(d.checksum, p.checksum, "checksum of {i}");
        assert_eq!(d.serial, p.serial, "serial of {i}");
        assert_eq!(d.version, p.version, "version of {i}");
        assert_eq!(d.refspec, p.refspec, "refspec of {i}");
        assert_eq!(d.has_origin, p.has_origin, "origin file of {i}");
        assert_eq!(d.pinned, p.pinned, "pinned of {i}");
        assert_eq!(d.booted, p.booted, "booted of {i}");
        assert_eq!(
            d.unlocked,
            p.unlocked.clone().unwrap_or_else(|| "none".into()),
            "unlocked of {i}"
        );
        // ostree prints one flag, staged before pending before rollback.
        let flag = if d.staged {
            Some("staged")
        } else if d.pending {
            Some("pending")
        } else if d.rollback {
            Some("rollback")
        } else {
            None
        };
        assert_eq!(flag, p.flag.as_deref(), "flag of {i}");
        assert_dir(d, ours);
    }
}

fn assert_dir(d: &Deployment, s: &SysrootStatus) {
    let expect = s
        .path
        .join("ostree/deploy")
        .join(&d.osname)
        .join("deploy")
        .join(format!("{}.{}", d.checksum, d.serial));
    assert_eq!(d.path, expect);
    let m = fs::metadata(&d.path).unwrap();
    assert_eq!((d.dir_dev, d.dir_ino), (m.dev(), m.ino()));
}

fn not_booted(s: &Sysroot) -> SysrootStatus {
    // host_root is the real / : no deployment of a test sysroot can be it.
    s.read(Path::new("/"))
}

#[test]
fn scenarios_match_ostree_admin_status() {
    for (scenario, n) in [
        ("empty", 0),
        ("one", 1),
        ("two", 2),
        ("three", 3),
        ("undeployed", 1),
        ("reserial", 2),
    ] {
        let s = Sysroot::build(scenario);
        let ours = not_booted(&s);
        let printed = parse_status(&s.ostree_status(None));
        assert_eq!(printed.len(), n, "{scenario}: ostree printed {printed:?}");
        assert_matches(&ours, &printed);
        assert_eq!(ours.repo_path, Some(s.path.join("ostree/repo")));
        assert!(!ours.ostree_booted);
        assert!(ours.warnings.is_empty(), "{scenario}: {:?}", ours.warnings);
        match scenario {
            "three" => assert_eq!(
                ours.deployments
                    .iter()
                    .map(|d| d.pinned)
                    .collect::<Vec<_>>(),
                vec![false, false, true]
            ),
            "reserial" => assert_eq!(
                ours.deployments
                    .iter()
                    .map(|d| d.serial)
                    .collect::<Vec<_>>(),
                vec![1, 0]
            ),
            "undeployed" => {
                // Only 2.0 is left and its boot entry is the only one.
                assert_eq!(ours.deployments[0].version.as_deref(), Some("2.0"));
            }
            _ => {}
        }
    }
}

#[test]
fn booted_pending_rollback_and_staged() {
    let s = Sysroot::build("three");
    let before = not_booted(&s);
    // Boot into the middle one: index 0 is pending, index 2 rollback.
    let middle = before.deployments[1].path.clone();
    let printed = parse_status(&s.ostree_status(Some(1)));
    let ours = s.read(&middle);
    assert!(ours.ostree_booted);
    assert_matches(&ours, &printed);
    assert_eq!(
        ours.deployments
            .iter()
            .map(|d| (d.booted, d.pending, d.rollback))
            .collect::<Vec<_>>(),
        vec![
            (false, true, false),
            (true, false, false),
            (false, false, true)
        ]
    );

    // Stage the current commit while booted into index 1.
    s.step(&["stage", "demo", "1", s.run.to_str().unwrap()]);
    assert!(s.run.join("ostree/staged-deployment").exists());
    let printed = parse_status(&s.ostree_status(Some(1)));
    let ours = s.read(&middle);
    assert_matches(&ours, &printed);
    assert!(ours.deployments[0].staged);
    assert_eq!(ours.deployments[0].bootserial, None);
    assert!(ours.deployments[1..].iter().all(|d| !d.staged));

    // Without ostree-booted nothing is booted and the staged record is ignored, as ostree does.
    fs::remove_file(s.run.join("ostree-booted")).unwrap();
    let ours = s.read(&middle);
    assert!(!ours.ostree_booted);
    assert!(ours.deployments.iter().all(|d| !d.staged && !d.booted));
}

#[test]
fn unlocked_states() {
    let s = Sysroot::build("two");
    let st = not_booted(&s);
    let (d0, d1) = (&st.deployments[0], &st.deployments[1]);
    // A runtime flag under RUN, as `ostree admin unlock` leaves it.
    let flag_dir = s.run.join(format!(
        "ostree/deployment-state/{}.{}",
        d0.checksum, d0.serial
    ));
    fs::create_dir_all(&flag_dir).unwrap();
    fs::write(flag_dir.join("unlocked-development"), b"").unwrap();
    // A persistent hotfix in the origin file (beside the immutable directory).
    let origin = PathBuf::from(format!("{}.origin", d1.path.display()));
    let mut text = fs::read_to_string(&origin).unwrap();
    text = text.replace("[origin]\n", "[origin]\nunlocked=hotfix\n");
    fs::write(&origin, text).unwrap();

    let booted_into = d1.path.clone();
    let printed = parse_status(&s.ostree_status(Some(1)));
    let ours = s.read(&booted_into);
    assert_matches(&ours, &printed);
    assert_eq!(ours.deployments[0].unlocked, "development");
    assert_eq!(ours.deployments[1].unlocked, "hotfix");
}

#[test]
fn missing_and_empty_origin_files_as_ostree_prints_them() {
    let s = Sysroot::build("two");
    let st = not_booted(&s);
    let origin = |i: usize| PathBuf::from(format!("{}.origin", st.deployments[i].path.display()));
    // "origin: none" without the file, "origin: <unknown origin type>" with no refspec.
    fs::remove_file(origin(0)).unwrap();
    fs::write(origin(1), b"").unwrap();
    let text = s.ostree_status(None);
    assert!(text.contains("    origin: none\n"), "{text}");
    assert!(
        text.contains("    origin: <unknown origin type>\n"),
        "{text}"
    );
    let ours = not_booted(&s);
    assert_matches(&ours, &parse_status(&text));
    assert!(!ours.deployments[0].has_origin);
    assert!(ours.deployments[1].has_origin);
    assert_eq!(ours.deployments[1].refspec, None);
}

#[test]
fn corrupt_origin_and_boot_entry_are_warnings() {
    let s = Sysroot::build("three");
    let st = not_booted(&s);
    let victim = &st.deployments[1];
    let origin = PathBuf::from(format!("{}.origin", victim.path.display()));
    fs::write(&origin, b"this is not a key file\n").unwrap();
    let ours = not_booted(&s);
    assert_eq!(ours.deployments.len(), 3);
    let w: Vec<_> = ours
        .warnings
        .iter()
        .filter(|w| w.code == "origin-corrupt")
        .collect();
    assert_eq!(w.len(), 1, "{:?}", ours.warnings);
    assert!(w[0].message.contains(origin.to_str().unwrap()));
    assert_eq!(ours.deployments[1].refspec, None);
    assert_eq!(ours.deployments[0].refspec.as_deref(), Some("demo/stable"));
    // ostree itself refuses the whole sysroot here; we go on.
    let out = Command::new("ostree")
        .arg("admin")
        .arg(format!("--sysroot={}", s.path.display()))
        .arg("status")
        .output()
        .unwrap();
    assert!(!out.status.success());

    // Garbage in one boot entry, and an entry with no ostree= argument.
    let entries = s.path.join("boot/loader/entries");
    let mut names: Vec<_> = fs::read_dir(&entries)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    names.sort();
    fs::write(&names[0], [0x74, 0x69, 0xff, 0xfe, 0x0a]).unwrap();
    fs::write(&names[1], b"title x\nversion 9\noptions quiet\n").unwrap();
    let ours = not_booted(&s);
    let codes: Vec<_> = ours.warnings.iter().map(|w| w.code.as_str()).collect();
    assert_eq!(
        codes.iter().filter(|c| **c == "bootentry-corrupt").count(),
        2,
        "{:?}",
        ours.warnings
    );
    // Messages name the file (under the real loader.N directory boot/loader links to).
    for n in &names[..2] {
        let name = n.file_name().unwrap().to_str().unwrap();
        assert!(ours.warnings.iter().any(|w| w.message.contains(name)));
    }
    assert_eq!(ours.deployments.len(), 1);
}

#[test]
fn not_ostree_and_missing() {
    let dir = std::env::temp_dir().join(format!("livetree-notostree-{}", std::process::id()));
    fs::create_dir_all(dir.join("usr")).unwrap();
    let none = |_: &str| None;
    let st = read_sysroot(&dir, &dir.join("run"), Path::new("/"), &none).unwrap();
    assert!(st.deployments.is_empty());
    assert_eq!(st.repo_path, None);
    assert!(st.warnings.is_empty());
    fs::remove_dir_all(&dir).unwrap();
    match read_sysroot(&dir, &dir, Path::new("/"), &none) {
        Err(Error::NotFound(p)) => assert_eq!(p, dir),
        other => panic!("expected NotFound, got {other:?}"),
    }
}

#[test]
fn version_hook_is_used() {
    let s = Sysroot::build("two");
    let calls = std::cell::RefCell::new(HashMap::new());
    let hook = |c: &str| {
        calls.borrow_mut().insert(c.to_string(), ());
        Some(format!("v-{}", &c[..8]))
    };
    let st = read_sysroot(&s.path, &s.run, Path::new("/"), &hook).unwrap();
    for d in &st.deployments {
        assert_eq!(d.version, Some(format!("v-{}", &d.checksum[..8])));
        assert!(calls.borrow().contains_key(&d.checksum));
    }
}
