//! Which engine started a process's container, and the container's ID, from the process's
//! cgroup path alone: each engine names the cgroup it makes after the container.
//!
//! - podman: `libpod-ID` (cgroupfs) or `libpod-ID.scope` (systemd), `libpod-payload-ID`
//!   below a Quadlet unit (`--cgroups=split`); `libpod-conmon-ID` is conmon's, not the
//!   container's.
//! - CRI-O: `crio-ID.scope` (`crio-conmon-ID.scope` is conmon's).
//! - docker: `docker-ID.scope` (systemd driver) or `/docker/ID` (cgroupfs driver).
//! - containerd's CRI plugin: `cri-containerd-ID.scope`.
//! - systemd-nspawn: `systemd-nspawn@NAME.service` (as a unit) or `machine-NAME.scope`
//!   (registered with machined); the ID is the machine's name.
//! - LXC: `lxc.payload.NAME`.

/// The engine and container a cgroup path names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CgroupHint {
    /// The engine, as the contract's `container.engine` names it.
    pub engine: &'static str,
    /// The container's ID (a machine's name for systemd-nspawn and LXC).
    pub id: String,
}

fn is_id(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// `ID` of `PREFIX-ID` or `PREFIX-ID.scope`, when ID is 64 hex digits.
fn id_after<'a>(component: &'a str, prefix: &str) -> Option<&'a str> {
    let rest = component.strip_prefix(prefix)?;
    let id = rest.strip_suffix(".scope").unwrap_or(rest);
    is_id(id).then_some(id)
}

/// systemd's unit name escaping undone for a machine name (`\x2d` → `-`).
fn unescape(s: &str) -> String {
    let mut out = Vec::with_capacity(s.len());
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' && b.get(i + 1) == Some(&b'x') && i + 4 <= b.len() {
            let hex = std::str::from_utf8(&b[i + 2..i + 4]).ok();
            if let Some(v) = hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                out.push(v);
                i += 4;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The container a cgroup path names, looking from the deepest component up (a container's
/// own nested cgroups, such as systemd's inside it, lie below the engine's).
pub fn from_cgroup_path(path: &str) -> Option<CgroupHint> {
    let parts: Vec<&str> = path.split('/').filter(|c| !c.is_empty()).collect();
    for (i, c) in parts.iter().enumerate().rev() {
        let hint = |engine, id: &str| {
            Some(CgroupHint {
                engine,
                id: id.to_string(),
            })
        };
        if c.starts_with("libpod-conmon-") || c.starts_with("crio-conmon-") {
            return None;
        }
        if let Some(id) = id_after(c, "libpod-payload-").or_else(|| id_after(c, "libpod-")) {
            return hint("podman", id);
        }
        if let Some(id) = id_after(c, "crio-") {
            return hint("cri-o", id);
        }
        if let Some(id) = id_after(c, "cri-containerd-") {
            return hint("containerd", id);
        }
        if let Some(id) = id_after(c, "docker-") {
            return hint("docker", id);
        }
        if is_id(c) && i > 0 && parts[i - 1] == "docker" {
            return hint("docker", c);
        }
        if let Some(name) = c
            .strip_prefix("systemd-nspawn@")
            .and_then(|r| r.strip_suffix(".service"))
            .filter(|n| !n.is_empty())
        {
            return hint("systemd-nspawn", &unescape(name));
        }
        if let Some(name) = c
            .strip_prefix("machine-")
            .and_then(|r| r.strip_suffix(".scope"))
            .filter(|n| !n.is_empty())
        {
            return hint("systemd-nspawn", &unescape(name));
        }
        if let Some(name) = c.strip_prefix("lxc.payload.").filter(|n| !n.is_empty()) {
            return hint("lxc", name);
        }
    }
    None
}

/// The store a container's conmon names: its `-b`/`--bundle` argument is
/// `GRAPHROOT/overlay-containers/ID/userdata` for podman (CRI-O's bundle lies in its run
/// root, where no records are, so it names nothing that matches). `cmdline` is
/// `/proc/PID/cmdline`: NUL-separated arguments. The graph root and the container ID.
pub fn conmon_bundle(cmdline: &[u8]) -> Option<(Vec<u8>, String)> {
    let args: Vec<&[u8]> = cmdline.split(|b| *b == 0).collect();
    let prog = args.first()?;
    if !prog.ends_with(b"conmon") {
        return None;
    }
    let bundle = args.iter().enumerate().find_map(|(i, a)| {
        if *a == b"-b" || *a == b"--bundle" {
            args.get(i + 1).copied()
        } else {
            a.strip_prefix(b"--bundle=")
        }
    })?;
    let rest = bundle.strip_suffix(b"/userdata")?;
    let cut = rest.iter().rposition(|b| *b == b'/')?;
    let id = std::str::from_utf8(&rest[cut + 1..])
        .ok()
        .filter(|id| is_id(id))?;
    let store = rest[..cut].strip_suffix(b"/overlay-containers")?;
    (store.starts_with(b"/") && !store.is_empty()).then(|| (store.to_vec(), id.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "dacdfaa72c4553e002958f34cd9a6ae10109d0bdd2c4fc4575cfc6b6437e88c3";

    fn of(p: &str) -> Option<(&'static str, String)> {
        from_cgroup_path(p).map(|h| (h.engine, h.id))
    }

    #[test]
    fn engines() {
        let podman = Some(("podman", ID.to_string()));
        assert_eq!(of(&format!("/libpod_parent/libpod-{ID}")), podman);
        assert_eq!(of(&format!("/machine.slice/libpod-{ID}.scope")), podman);
        assert_eq!(
            of(&format!("/machine.slice/libpod-{ID}.scope/container")),
            podman
        );
        assert_eq!(
            of(&format!("/system.slice/web.service/libpod-payload-{ID}")),
            podman
        );
        assert_eq!(
            of(&format!("/machine.slice/libpod-conmon-{ID}.scope")),
            None
        );
        assert_eq!(
            of(&format!(
                "/kubepods.slice/kubepods-besteffort.slice/x/crio-{ID}.scope"
            )),
            Some(("cri-o", ID.to_string()))
        );
        assert_eq!(of(&format!("/x/crio-conmon-{ID}.scope")), None);
        assert_eq!(
            of(&format!("/system.slice/docker-{ID}.scope")),
            Some(("docker", ID.to_string()))
        );
        assert_eq!(
            of(&format!("/docker/{ID}")),
            Some(("docker", ID.to_string()))
        );
        assert_eq!(
            of(&format!("/k/cri-containerd-{ID}.scope")),
            Some(("containerd", ID.to_string()))
        );
        assert_eq!(
            of("/machine.slice/systemd-nspawn@deb\\x2dtest.service/payload"),
            Some(("systemd-nspawn", "deb-test".to_string()))
        );
        assert_eq!(
            of("/machine.slice/machine-web.scope"),
            Some(("systemd-nspawn", "web".to_string()))
        );
        assert_eq!(
            of("/lxc.payload.c1/init.scope"),
            Some(("lxc", "c1".to_string()))
        );
    }

    #[test]
    fn conmon() {
        let cmd = format!(
            "/usr/bin/conmon\0--api-version\x001\0-c\0{ID}\0-b\0/tmp/ctf/root/overlay-containers/{ID}/userdata\0-p\0/x"
        );
        assert_eq!(
            conmon_bundle(cmd.as_bytes()),
            Some((b"/tmp/ctf/root".to_vec(), ID.to_string()))
        );
        let eq = format!("conmon\0--bundle=/s/overlay-containers/{ID}/userdata");
        assert_eq!(conmon_bundle(eq.as_bytes()).unwrap().0, b"/s");
        assert_eq!(
            conmon_bundle(b"/usr/bin/sleep\0-b\0/s/overlay-containers/x/userdata"),
            None
        );
        assert_eq!(conmon_bundle(b"conmon\0-b"), None);
        assert_eq!(
            conmon_bundle(format!("conmon\0-b\0overlay-containers/{ID}/userdata").as_bytes()),
            None
        );
        assert_eq!(conmon_bundle(b""), None);
    }

    #[test]
    fn not_containers() {
        assert_eq!(of("/"), None);
        assert_eq!(of("/system.slice/sshd.service"), None);
        assert_eq!(of("/libpod_parent/conmon"), None);
        assert_eq!(of("/libpod-abc"), None);
        assert_eq!(of(&format!("/{ID}")), None);
        assert_eq!(of("/machine-.scope"), None);
        assert_eq!(
            of("\\x\\xzz/machine-\\x4.scope"),
            Some(("systemd-nspawn", "\\x4".into()))
        );
        assert_eq!(
            of("/machine-\\x\u{e9}.scope"),
            Some(("systemd-nspawn", "\\x\u{e9}".into()))
        );
    }
}
