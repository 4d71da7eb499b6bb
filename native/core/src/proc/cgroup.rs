//! `/proc/PID/cgroup` and the systemd unit a cgroup path belongs to.
//!
//! Each line is `HIERARCHY-ID:CONTROLLERS:PATH`. The unified (v2) hierarchy is `0::PATH`;
//! v1 hierarchies list their controllers, and systemd's own v1 tracking hierarchy is
//! `N:name=systemd:PATH`. The path is taken as everything after the second colon, since
//! a cgroup directory name may itself hold a colon.
use crate::error::ParseError;

/// One line of `/proc/PID/cgroup`: a hierarchy and the process's cgroup path in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CgroupEntry {
    /// The hierarchy's number; 0 for the unified (v2) hierarchy.
    pub hierarchy_id: u32,
    /// Empty for the unified hierarchy; `["cpu", "cpuacct"]`, `["name=systemd"]` for v1.
    pub controllers: Vec<String>,
    /// Cgroup paths are directory names; bytes that are not UTF-8 become U+FFFD.
    pub path: String,
}

impl CgroupEntry {
    /// Whether this is the unified (cgroup v2) hierarchy's line, `0::PATH`.
    pub fn is_unified(&self) -> bool {
        self.hierarchy_id == 0 && self.controllers.is_empty()
    }
}

/// Parse `/proc/PID/cgroup`, every line.
pub fn parse_cgroup(bytes: &[u8]) -> Result<Vec<CgroupEntry>, ParseError> {
    parse_lines(bytes, |_, _| true)
}

/// [`parse_cgroup`] keeping only the entries [`systemd_cgroup_path`] looks at (the
/// unified hierarchy and v1 `name=systemd`), so that the same answer comes without
/// building the other hierarchies' entries. Every line is still checked.
pub fn parse_systemd_cgroup(bytes: &[u8]) -> Result<Vec<CgroupEntry>, ParseError> {
    parse_lines(bytes, |id, ctl| {
        (id == 0 && ctl.is_empty()) || ctl.split(|b| *b == b',').any(|c| c == b"name=systemd")
    })
}

fn parse_lines(
    bytes: &[u8],
    keep: impl Fn(u32, &[u8]) -> bool,
) -> Result<Vec<CgroupEntry>, ParseError> {
    let mut out = Vec::new();
    for (n, line) in bytes.split(|b| *b == b'\n').enumerate() {
        if line.is_empty() {
            continue;
        }
        let mut parts = line.splitn(3, |b| *b == b':');
        let (Some(id), Some(ctl), Some(path)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(ParseError(format!(
                "cgroup line {}: expected ID:CONTROLLERS:PATH",
                n + 1
            )));
        };
        let hierarchy_id = crate::proc::maps::parse_dec(id)
            .and_then(|v| u32::try_from(v).ok())
            .ok_or_else(|| ParseError(format!("cgroup line {}: bad hierarchy id", n + 1)))?;
        if !keep(hierarchy_id, ctl) {
            continue;
        }
        let controllers = if ctl.is_empty() {
            Vec::new()
        } else {
            ctl.split(|b| *b == b',')
                .map(|c| String::from_utf8_lossy(c).into_owned())
                .collect()
        };
        out.push(CgroupEntry {
            hierarchy_id,
            controllers,
            path: String::from_utf8_lossy(path).into_owned(),
        });
    }
    Ok(out)
}

/// The cgroup path systemd uses to track the process.
///
/// The unified hierarchy when it places the process somewhere, else the v1 `name=systemd`
/// hierarchy. Why not simply "v2 if present": the kernel prints a `0::/` line even on pure
/// v1 (legacy) hosts, where only `name=systemd` is meaningful; on hybrid hosts both agree.
pub fn systemd_cgroup_path(entries: &[CgroupEntry]) -> Option<&str> {
    let unified = entries.iter().find(|e| e.is_unified());
    if let Some(u) = unified {
        if u.path != "/" {
            return Some(&u.path);
        }
    }
    entries
        .iter()
        .find(|e| e.controllers.iter().any(|c| c == "name=systemd"))
        .map(|e| e.path.as_str())
        .or(unified.map(|u| u.path.as_str()))
}

/// Unit types whose cgroup holds processes. Slices only group other units.
const UNIT_SUFFIXES: [&str; 5] = [".service", ".scope", ".socket", ".mount", ".swap"];

fn is_unit(component: &str) -> bool {
    UNIT_SUFFIXES
        .iter()
        .any(|s| component.len() > s.len() && component.ends_with(s))
}

/// The systemd unit that owns the cgroup at `path`, kept raw (`\x2d` escapes untouched).
///
/// Like systemd's own lookup: skip the slices, the first unit below them owns the cgroup;
/// anything deeper is the unit's own (delegated) subtree, so a container runtime's
/// `x.scope` inside `docker.service` does not count. The exception is a user manager
/// (`user@UID.service`): its subtree holds the user's units, so the search continues
/// there and falls back to `user@UID.service` itself.
///
/// `/system.slice/sshd.service` → `sshd.service`;
/// `/user.slice/user-1000.slice/user@1000.service/app.slice/foo.service` → `foo.service`;
/// `/init.scope` → `init.scope`; `/` and `/user.slice` → None.
pub fn unit_from_cgroup_path(path: &str) -> Option<String> {
    let mut components = path.split('/').filter(|c| !c.is_empty());
    let unit = first_unit_below_slices(&mut components)?;
    if unit.starts_with("user@") && unit.ends_with(".service") {
        if let Some(inner) = first_unit_below_slices(&mut components) {
            return Some(inner.to_string());
        }
    }
    Some(unit.to_string())
}

fn first_unit_below_slices<'a>(components: &mut impl Iterator<Item = &'a str>) -> Option<&'a str> {
    let mut below_slice = false;
    for c in components {
        if c.ends_with(".slice") {
            below_slice = true;
            continue;
        }
        if is_unit(c) {
            return Some(c);
        }
        // Plain directories above the first slice are where a manager was started (a
        // delegated subtree: a container, a test's private root); below a slice, a plain
        // directory means no unit owns the cgroup.
        if below_slice {
            return None;
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manager_in_a_delegated_subtree() {
        assert_eq!(
            unit_from_cgroup_path("/livetree-test-1-ab/app.slice/lt-app.service").as_deref(),
            Some("lt-app.service")
        );
        assert_eq!(
            unit_from_cgroup_path("/lxc/c1/system.slice/sshd.service").as_deref(),
            Some("sshd.service")
        );
        assert_eq!(unit_from_cgroup_path("/docker/abc123"), None);
        assert_eq!(unit_from_cgroup_path("/system.slice/plain/x"), None);
    }

    #[test]
    fn captured_hybrid_host() {
        // Seen on this machine: v1 controllers plus name=systemd plus the unified line.
        let bytes =
            include_bytes!("../../../../fixtures/captured/procfs/cgroup-v1-hybrid-init-scope.txt");
        let e = parse_cgroup(bytes).unwrap();
        assert_eq!(e.len(), bytes.iter().filter(|b| **b == b'\n').count());
        assert!(e.iter().any(|x| x.is_unified()));
        let sd = e
            .iter()
            .find(|x| x.controllers == vec!["name=systemd".to_string()])
            .unwrap();
        assert_eq!(systemd_cgroup_path(&e), Some(sd.path.as_str()));
        assert_eq!(
            unit_from_cgroup_path(systemd_cgroup_path(&e).unwrap()).as_deref(),
            Some("init.scope")
        );
    }

    #[test]
    fn captured_outside_any_unit() {
        // A process in the root cgroup (a container's view): no unit owns it.
        let bytes = include_bytes!("../../../../fixtures/captured/procfs/cgroup-v1-hybrid.txt");
        let e = parse_cgroup(bytes).unwrap();
        assert_eq!(e.len(), 10);
        assert_eq!(e[5].controllers, vec!["memory"]);
        assert!(e[5].path.starts_with("/process_api/"));
        assert_eq!(systemd_cgroup_path(&e), Some("/"));
        assert_eq!(unit_from_cgroup_path("/"), None);
    }

    #[test]
    fn systemd_only_parse_gives_the_same_unit() {
        let inputs: [&[u8]; 5] = [
            include_bytes!("../../../../fixtures/captured/procfs/cgroup-v1-hybrid.txt"),
            b"0::/system.slice/sshd.service\n",
            b"12:cpu,cpuacct:/system.slice/a.service\n1:name=systemd:/system.slice/b.service\n0::/\n",
            b"3:cpu,name=systemd:/x.scope\n0::/\n",
            b"",
        ];
        for bytes in inputs {
            let all = parse_cgroup(bytes).unwrap();
            let few = parse_systemd_cgroup(bytes).unwrap();
            assert!(few.len() <= 2 && few.iter().all(|e| all.contains(e)));
            assert_eq!(systemd_cgroup_path(&few), systemd_cgroup_path(&all));
        }
        assert!(parse_systemd_cgroup(b"x:cpu:/\n").is_err());
        assert!(parse_systemd_cgroup(b"1:cpu\n").is_err());
    }

    #[test]
    fn v2_only_and_v1_only() {
        let v2 = parse_cgroup(b"0::/system.slice/sshd.service\n").unwrap();
        assert_eq!(systemd_cgroup_path(&v2), Some("/system.slice/sshd.service"));
        let legacy = parse_cgroup(
            b"12:cpu,cpuacct:/system.slice/a.service\n1:name=systemd:/system.slice/b.service\n0::/\n",
        )
        .unwrap();
        assert_eq!(legacy[0].controllers, vec!["cpu", "cpuacct"]);
        assert_eq!(
            systemd_cgroup_path(&legacy),
            Some("/system.slice/b.service")
        );
        let none = parse_cgroup(b"3:cpu:/x\n").unwrap();
        assert_eq!(systemd_cgroup_path(&none), None);
    }

    #[test]
    fn captured_user_manager_unit() {
        // A unit of a systemd --user manager running in a delegated subtree of this hybrid
        // host: the path systemd reports as the unit's ControlGroup, and the unit it names.
        let bytes = include_bytes!("../../../../fixtures/captured/systemd/hybrid-user-unit.cgroup");
        let control_group =
            include_str!("../../../../fixtures/captured/systemd/hybrid-user-unit.ControlGroup");
        let e = parse_cgroup(bytes).unwrap();
        assert_eq!(systemd_cgroup_path(&e), Some(control_group.trim()));
        assert_eq!(
            unit_from_cgroup_path(control_group.trim()).as_deref(),
            Some("capture.service")
        );
        let harness = include_bytes!("../../../../fixtures/captured/systemd/harness-self.cgroup");
        assert_eq!(
            systemd_cgroup_path(&parse_cgroup(harness).unwrap()),
            Some("/")
        );
    }

    #[test]
    fn path_may_hold_colons() {
        let e = parse_cgroup(b"0::/system.slice/a:b.service\n").unwrap();
        assert_eq!(e[0].path, "/system.slice/a:b.service");
    }

    #[test]
    fn units() {
        let cases = [
            ("/system.slice/sshd.service", Some("sshd.service")),
            (
                "/user.slice/user-1000.slice/user@1000.service/app.slice/foo.service",
                Some("foo.service"),
            ),
            (
                "/user.slice/user-1000.slice/user@1000.service/init.scope",
                Some("init.scope"),
            ),
            (
                "/user.slice/user-1000.slice/user@1000.service",
                Some("user@1000.service"),
            ),
            (
                "/user.slice/user-1000.slice/session-3.scope",
                Some("session-3.scope"),
            ),
            ("/init.scope", Some("init.scope")),
            (
                "/system.slice/docker.service/x/y.scope",
                Some("docker.service"),
            ),
            (
                "/system.slice/system-getty.slice/getty@tty1.service",
                Some("getty@tty1.service"),
            ),
            (
                "/system.slice/dev-disk-by\\x2duuid-1.swap",
                Some("dev-disk-by\\x2duuid-1.swap"),
            ),
            ("/system.slice/sshd.socket", Some("sshd.socket")),
            ("/system.slice/", None),
            ("/", None),
            ("/user.slice", None),
            ("/lxc/container1", None),
            ("", None),
            ("/.service", None),
        ];
        for (path, want) in cases {
            assert_eq!(unit_from_cgroup_path(path).as_deref(), want, "{path}");
        }
    }

    #[test]
    fn garbage() {
        assert!(parse_cgroup(b"nocolons\n").is_err());
        assert!(parse_cgroup(b"x::/\n").is_err());
        assert!(parse_cgroup(b"").unwrap().is_empty());
    }
}
