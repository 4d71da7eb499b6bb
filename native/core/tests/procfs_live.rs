//! The process-scan layer against the live /proc, with real processes whose executables
//! carry hostile names, get deleted while running, exit mid-scan, or run in a chroot.
//! Needs root (map_files needs CAP_SYS_ADMIN), as CI has.
use std::ffi::OsStr;
use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::thread::sleep;
use std::time::{Duration, Instant};

use livetree_core::proc::maps::group_file_mappings;
use livetree_core::proc::procfs::{
    dev_split, list_pids, map_file_info, open_map_file, path_in_root, read_mountinfo, read_process,
    stat_in_root, ProcReader,
};
use livetree_core::Error;

mod scratch;
use scratch::Scratch;

fn proc_root() -> &'static Path {
    Path::new("/proc")
}

/// Tests run in parallel threads: a child forked by one test inherits, until its exec, the
/// write descriptor of an executable another test is copying, and exec of that copy then
/// fails with ETXTBSY. Writing executables and spawning share this lock.
static FORK_LOCK: Mutex<()> = Mutex::new(());

fn locked<T>(f: impl FnOnce() -> T) -> T {
    let _g = FORK_LOCK.lock().unwrap_or_else(|e| e.into_inner());
    f()
}

/// A child process killed and reaped by its own PID on drop.
struct Proc(Child);
impl Proc {
    fn spawn(cmd: &mut Command) -> Proc {
        let child = locked(|| {
            cmd.stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
        })
        .unwrap();
        Proc(child)
    }
    fn pid(&self) -> u32 {
        self.0.id()
    }
}
impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Wait until the process has exec'd the file at `exe` and the loader has mapped it.
/// (During exec the exe link already names the new file while maps is still empty: the
/// parent of a vfork-style spawn can see that.)
fn wait_exec(pid: u32, exe: &Path) {
    let ino = fs::metadata(exe).unwrap().ino();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Ok(p) = read_process(proc_root(), pid) {
            if p.maps.iter().any(|m| m.inode == ino) {
                return;
            }
        }
        assert!(Instant::now() < deadline, "pid {pid} never mapped {exe:?}");
        sleep(Duration::from_millis(5));
    }
}

fn copy_sleep(dst: &Path) {
    locked(|| fs::copy("/bin/sleep", dst)).unwrap();
}

#[test]
fn lists_own_pid_and_reads_self() {
    let pids = list_pids(proc_root()).unwrap();
    let me = std::process::id();
    assert!(pids.contains(&me));
    assert!(pids.windows(2).all(|w| w[0] < w[1]));

    let p = read_process(proc_root(), me).unwrap();
    assert_eq!(p.pid, me);
    let exe = fs::read_link("/proc/self/exe").unwrap();
    assert_eq!(p.exe.as_ref().unwrap().path, exe.as_os_str().as_bytes());
    let root = fs::metadata("/").unwrap();
    assert_eq!(p.root_dev_ino, Some((root.dev(), root.ino())));
    assert_eq!(p.root.as_deref(), Some(&b"/"[..]));
    let ns = fs::metadata("/proc/self/ns/mnt").unwrap();
    assert_eq!(p.mnt_ns, Some(ns.ino()));
    assert!(!p.cgroup.is_empty());
    // Our own test binary is mapped, with the (dev, ino) that stat reports.
    let st = fs::metadata(&exe).unwrap();
    let groups = group_file_mappings(&p.maps);
    let own = groups
        .iter()
        .find(|g| g.path == exe.as_os_str().as_bytes())
        .unwrap();
    assert_eq!((own.major, own.minor), dev_split(st.dev()));
    assert_eq!(own.inode, st.ino());
    let info = map_file_info(proc_root(), me, &own.range.name()).unwrap();
    assert_eq!(info.exact_path, exe.as_os_str().as_bytes());
    assert_eq!(
        (info.dev, info.ino, info.nlink),
        (dev_split(st.dev()), st.ino(), st.nlink())
    );
    assert!(!info.deleted);

    let mounts = read_mountinfo(proc_root(), me).unwrap();
    assert!(mounts.iter().any(|m| m.mount_point == b"/"));
}

#[test]
fn hostile_executable_names() {
    let dir = Scratch::new("procfs-hostile");
    // Each name is something maps prints ambiguously or escapes.
    let names: [&[u8]; 4] = [
        b"lib x (deleted)",
        b"new\nline",
        b"back\\101slash\ttab",
        b"latin\xe9\xff",
    ];
    for name in names {
        let path = dir.0.join(OsStr::from_bytes(name));
        copy_sleep(&path);
        let child = Proc::spawn(Command::new(&path).arg("60"));
        let pid = child.pid();
        wait_exec(pid, &path);
        let p = read_process(proc_root(), pid).unwrap();
        let full = path.as_os_str().as_bytes();

        // comm is the first 15 bytes of the name, verbatim: the reader takes it from stat,
        // and the kernel's comm file says the same.
        assert_eq!(p.comm.as_deref(), Some(&name[..name.len().min(15)]));
        let comm = fs::read(proc_root().join(pid.to_string()).join("comm")).unwrap();
        assert_eq!(p.comm.as_deref(), comm.strip_suffix(b"\n"));

        let groups = group_file_mappings(&p.maps);
        let st = fs::metadata(&path).unwrap();
        let g = groups
            .iter()
            .find(|g| g.inode == st.ino() && (g.major, g.minor) == dev_split(st.dev()))
            .unwrap_or_else(|| {
                panic!(
                    "{:?} (ino {}) not in {groups:?}",
                    String::from_utf8_lossy(name),
                    st.ino()
                )
            });
        let literal_deleted = name.ends_with(b" (deleted)");
        // maps: the suffix is stripped even though the file is not deleted...
        assert_eq!(g.deleted_suffix, literal_deleted);
        if literal_deleted {
            assert_eq!(g.path, &full[..full.len() - 10]);
        } else {
            assert_eq!(
                g.path,
                full,
                "maps path of {:?}",
                String::from_utf8_lossy(name)
            );
        }
        // ...and map_files gives the exact name back, and a live link count.
        let info = map_file_info(proc_root(), pid, &g.range.name()).unwrap();
        assert_eq!(info.exact_path, full);
        assert!(!info.deleted);
        assert_eq!(info.nlink, 1);
        assert_eq!(info.ino, st.ino());
        // The exe link keeps the raw bytes (no escaping), with the same suffix ambiguity.
        let exe = p.exe.unwrap();
        assert_eq!(exe.deleted_suffix, literal_deleted);
        assert!(full.starts_with(&exe.path));
    }
}

#[test]
fn deleted_file_is_readable_through_map_files() {
    let dir = Scratch::new("procfs-deleted");
    let path = dir.0.join("doomed-sleep");
    copy_sleep(&path);
    let original = fs::read(&path).unwrap();
    let st = fs::metadata(&path).unwrap();
    let child = Proc::spawn(Command::new(&path).arg("60"));
    let pid = child.pid();
    wait_exec(pid, &path);
    fs::remove_file(&path).unwrap();

    let p = read_process(proc_root(), pid).unwrap();
    let exe = p.exe.as_ref().unwrap();
    assert!(exe.deleted_suffix);
    assert_eq!(exe.path, path.as_os_str().as_bytes());
    let g = group_file_mappings(&p.maps)
        .into_iter()
        .find(|g| g.inode == st.ino())
        .unwrap();
    assert!(g.deleted_suffix);
    assert_eq!(g.path, path.as_os_str().as_bytes());

    let info = map_file_info(proc_root(), pid, &g.range.name()).unwrap();
    assert_eq!(info.nlink, 0);
    assert!(info.deleted);
    assert_eq!(info.exact_path, path.as_os_str().as_bytes());
    let mut bytes = Vec::new();
    std::io::Read::read_to_end(
        &mut open_map_file(proc_root(), pid, &g.range.name()).unwrap(),
        &mut bytes,
    )
    .unwrap();
    assert_eq!(bytes, original);

    // Gone from the process's root: not there now...
    assert_eq!(stat_in_root(proc_root(), pid, &g.path).unwrap(), None);
    // ...until a new file takes the name: "superseded", a different inode.
    fs::write(&path, b"new version").unwrap();
    let now = stat_in_root(proc_root(), pid, &g.path).unwrap().unwrap();
    let new_st = fs::metadata(&path).unwrap();
    assert_eq!(now, {
        let (a, b) = dev_split(new_st.dev());
        (a, b, new_st.ino())
    });
    assert_ne!(now.2, info.ino);
}

#[test]
fn unlinked_name_with_another_hard_link() {
    // Like a deployment file removed while its repo object (a hard link) stays.
    let dir = Scratch::new("procfs-hardlink");
    let object = dir.0.join("object");
    let deployed = dir.0.join("deployed-sleep");
    copy_sleep(&object);
    fs::hard_link(&object, &deployed).unwrap();
    let child = Proc::spawn(Command::new(&deployed).arg("60"));
    let pid = child.pid();
    wait_exec(pid, &deployed);
    fs::remove_file(&deployed).unwrap();
    let p = read_process(proc_root(), pid).unwrap();
    let ino = fs::metadata(&object).unwrap().ino();
    let groups = group_file_mappings(&p.maps);
    let g = groups
        .iter()
        .find(|g| g.inode == ino)
        .unwrap_or_else(|| panic!("ino {ino} not in {groups:?}"));
    let info = map_file_info(proc_root(), pid, &g.range.name()).unwrap();
    assert!(info.deleted);
    assert_eq!(info.nlink, 1);
    assert_eq!(info.exact_path, deployed.as_os_str().as_bytes());
}

#[test]
fn exited_and_zombie_processes_are_not_found() {
    let mut child = Proc::spawn(Command::new("/bin/sleep").arg("60"));
    let pid = child.pid();
    wait_exec(pid, Path::new("/bin/sleep"));
    child.0.kill().unwrap();
    // Not reaped yet: a zombie, which maps nothing and runs nothing.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let stat = fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
        if stat
            .rsplit(')')
            .next()
            .unwrap()
            .trim_start()
            .starts_with('Z')
        {
            break;
        }
        assert!(Instant::now() < deadline);
        sleep(Duration::from_millis(5));
    }
    assert!(matches!(
        read_process(proc_root(), pid),
        Err(Error::NotFound(_))
    ));
    child.0.wait().unwrap();
    // Reaped: the /proc entry is gone.
    assert!(matches!(
        read_process(proc_root(), pid),
        Err(Error::NotFound(_))
    ));
    assert!(matches!(
        map_file_info(proc_root(), pid, "1000-2000"),
        Err(Error::NotFound(_))
    ));
    assert!(matches!(
        read_mountinfo(proc_root(), pid),
        Err(Error::NotFound(_))
    ));
}

#[test]
fn processes_exiting_during_reads_give_ok_or_not_found() {
    // Short-lived processes read while they start, run and exit: every answer must be a
    // complete process or NotFound, never a parse error or an I/O error.
    let mut reader = ProcReader::new();
    let (mut ok, mut gone) = (0, 0);
    for _ in 0..200 {
        let mut child = locked(|| Command::new("/bin/true").spawn()).unwrap();
        let pid = child.id();
        for _ in 0..3 {
            match reader.read_process(proc_root(), pid) {
                Ok(p) => {
                    assert_eq!(p.pid, pid);
                    ok += 1;
                }
                Err(Error::NotFound(_)) => gone += 1,
                Err(e) => panic!("pid {pid}: {e}"),
            }
        }
        child.wait().unwrap();
        assert!(matches!(
            reader.read_process(proc_root(), pid),
            Err(Error::NotFound(_))
        ));
    }
    assert!(ok + gone == 600);
}

/// A chroot with /bin/sleep, its libraries, and an absolute symlink inside.
fn build_chroot(dir: &Path) {
    let out = locked(|| Command::new("ldd").arg("/bin/sleep").output()).unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    let mut files = vec!["/bin/sleep".to_string()];
    for line in text.lines() {
        for word in line.split_whitespace() {
            if word.starts_with('/') {
                files.push(word.to_string());
            }
        }
    }
    for f in files {
        let real = fs::canonicalize(&f).unwrap();
        for p in [PathBuf::from(&f), real.clone()] {
            let dst = dir.join(p.strip_prefix("/").unwrap());
            fs::create_dir_all(dst.parent().unwrap()).unwrap();
            if !dst.exists() {
                locked(|| fs::copy(&real, &dst)).unwrap();
            }
        }
    }
    fs::create_dir_all(dir.join("etc")).unwrap();
    fs::write(dir.join("etc/livetree-target"), b"inside").unwrap();
    std::os::unix::fs::symlink("/etc/livetree-target", dir.join("link")).unwrap();
}

#[test]
fn chrooted_process_paths_and_stat_in_its_root() {
    let dir = Scratch::new("procfs-chroot");
    build_chroot(&dir.0);
    let child = Proc::spawn(
        Command::new("chroot")
            .arg(&dir.0)
            .args(["/bin/sleep", "60"]),
    );
    let pid = child.pid();
    // chroot(1) changes root, then execs the sleep inside: wait for that exec.
    wait_exec(pid, &dir.0.join("bin/sleep"));
    let p = read_process(proc_root(), pid).unwrap();
    let root = p.root.clone().unwrap();
    let rd = fs::metadata(&dir.0).unwrap();
    assert_eq!(p.root_dev_ino, Some((rd.dev(), rd.ino())));

    // maps paths are printed from the reader's root: the chroot prefix is in them.
    assert_eq!(root, dir.0.as_os_str().as_bytes());
    let sleep_ino = fs::metadata(dir.0.join("bin/sleep")).unwrap().ino();
    let g = group_file_mappings(&p.maps)
        .into_iter()
        .find(|g| g.inode == sleep_ino)
        .unwrap();
    assert_eq!(g.path, dir.0.join("bin/sleep").as_os_str().as_bytes());
    let inside = path_in_root(&root, &g.path).unwrap();
    assert_eq!(inside, b"/bin/sleep");
    let (ma, mi, ino) = stat_in_root(proc_root(), pid, inside).unwrap().unwrap();
    assert_eq!((ma, mi, ino), (g.major, g.minor, g.inode));

    // An absolute symlink resolves inside the process's root, not ours.
    let target = fs::metadata(dir.0.join("etc/livetree-target")).unwrap();
    let got = stat_in_root(proc_root(), pid, b"/link").unwrap().unwrap();
    assert_eq!(got.2, target.ino());
    // ".." cannot climb out of it either.
    let via_dotdot = stat_in_root(proc_root(), pid, b"/../../etc/livetree-target").unwrap();
    assert_eq!(via_dotdot.map(|t| t.2), Some(target.ino()));
    assert_eq!(
        stat_in_root(proc_root(), pid, b"/no/such/file").unwrap(),
        None
    );
    assert_eq!(
        stat_in_root(proc_root(), pid, b"/bin/sleep/notadir").unwrap(),
        None
    );
}

/// Runs only inside the unprivileged re-execution below (env var set); a no-op otherwise.
#[test]
fn unprivileged_child_probe() {
    let Some(pid) = std::env::var_os("LIVETREE_PROBE_PID") else {
        return;
    };
    let pid: u32 = pid.to_str().unwrap().parse().unwrap();
    let range = std::env::var("LIVETREE_PROBE_RANGE").unwrap();
    assert!(matches!(
        read_process(proc_root(), pid),
        Err(Error::PermissionDenied(_))
    ));
    assert!(matches!(
        map_file_info(proc_root(), pid, &range),
        Err(Error::PermissionDenied(_))
    ));
    assert!(matches!(
        open_map_file(proc_root(), pid, &range),
        Err(Error::PermissionDenied(_))
    ));
    // Still visible, though: listing works without privileges.
    assert!(list_pids(proc_root()).unwrap().contains(&pid));
    println!("probe ran for pid {pid}");
}

#[test]
fn maps_of_another_user_are_permission_denied() {
    use std::os::unix::process::CommandExt;
    let dir = Scratch::new("procfs-unpriv");
    let path = dir.0.join("root-sleep");
    copy_sleep(&path);
    let target = Proc::spawn(Command::new(&path).arg("60"));
    wait_exec(target.pid(), &path);
    let p = read_process(proc_root(), target.pid()).unwrap();
    let range = p.maps[0].map_files_name();
    // Re-run this test binary as nobody, on the probe test only.
    let exe = std::env::current_exe().unwrap();
    let out = locked(|| {
        Command::new(&exe)
            .args(["--exact", "unprivileged_child_probe", "--nocapture"])
            .env("LIVETREE_PROBE_PID", target.pid().to_string())
            .env("LIVETREE_PROBE_RANGE", &range)
            .uid(65534)
            .gid(65534)
            .output()
    })
    .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("probe ran for pid"), "{text}");
}

/// An overlay mount undone on drop.
struct Mounted(PathBuf);
impl Drop for Mounted {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

#[test]
fn overlay_mapping_resolves_to_its_layer() {
    let dir = Scratch::new("procfs-overlay");
    let lower = dir.0.join("low er:1");
    let (upper, work, merged) = (dir.0.join("up"), dir.0.join("work"), dir.0.join("m"));
    for d in [&lower, &upper, &work, &merged] {
        fs::create_dir_all(d).unwrap();
    }
    copy_sleep(&lower.join("sl"));
    let lower_opt = lower.to_str().unwrap().replace(':', "\\:");
    let status = Command::new("mount")
        .args(["-t", "overlay", "overlay", "-o"])
        .arg(format!(
            "lowerdir={lower_opt},upperdir={},workdir={}",
            upper.display(),
            work.display()
        ))
        .arg(&merged)
        .status()
        .unwrap();
    assert!(status.success());
    let _mounted = Mounted(merged.clone());

    let child = Proc::spawn(Command::new(merged.join("sl")).arg("60"));
    let pid = child.pid();
    wait_exec(pid, &merged.join("sl"));
    let p = read_process(proc_root(), pid).unwrap();
    let lower_st = fs::metadata(lower.join("sl")).unwrap();
    let g = group_file_mappings(&p.maps)
        .into_iter()
        .find(|g| g.path == merged.join("sl").as_os_str().as_bytes())
        .unwrap();
    // The overlay's own device with the lower file's inode number...
    assert_eq!(g.inode, lower_st.ino());
    assert_ne!((g.major, g.minor), dev_split(lower_st.dev()));
    // ...and that device is the overlay mount in the process's mountinfo, whose options
    // name the lower layer, ':' and space included.
    let mounts = read_mountinfo(proc_root(), pid).unwrap();
    let m = livetree_core::proc::mountinfo::mounts_with_dev(&mounts, g.major, g.minor)
        .next()
        .unwrap();
    assert_eq!(m.fstype, "overlay");
    assert_eq!(m.mount_point, merged.as_os_str().as_bytes());
    let o = livetree_core::proc::mountinfo::parse_overlay_options(&m.super_options);
    assert_eq!(o.lowerdirs, vec![lower.as_os_str().as_bytes().to_vec()]);
    assert_eq!(o.upperdir.as_deref(), Some(upper.as_os_str().as_bytes()));
    // map_files agrees with maps on this kernel (overlay device, lower inode).
    let info = map_file_info(proc_root(), pid, &g.range.name()).unwrap();
    assert_eq!((info.dev, info.ino), ((g.major, g.minor), g.inode));
    drop(child);
}
