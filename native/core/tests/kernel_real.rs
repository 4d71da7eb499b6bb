//! The kernel report against real parts: the running kernel of this machine (its /proc,
//! compared with `uname`), a real Debian bzImage (its version string compared with what
//! `file` reads from it), installed under other release names in a captured root, and a
//! live-patch directory laid out as Documentation/ABI/testing/sysfs-kernel-livepatch
//! documents it. The OSTree and mount-namespace cases run the CLI (test/kernel.test.ts).
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use livetree_core::kernel::{image, inspect, KernelReport, KernelRoots};
use livetree_core::ostree::sysroot::SysrootStatus;
use livetree_core::report::Warning;

mod scratch;
use scratch::Scratch;

fn run(cmd: &mut Command) -> String {
    let out = cmd.output().expect("spawn");
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .trim_end()
        .to_string()
}

/// The Debian kernel image, fetched once by scripts/kernel-image.sh.
fn debian_image() -> PathBuf {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/kernel-image.sh");
    PathBuf::from(run(&mut Command::new(script)))
}

/// The version `file` (libmagic) reads from a bzImage: an oracle independent of ours.
fn file_says(path: &Path) -> String {
    let out = run(Command::new("file").arg("-b").arg(path));
    let rest = out
        .split_once(", version ")
        .expect("file names a version")
        .1;
    rest.split(", R").next().unwrap().to_string()
}

fn no_sysroot() -> SysrootStatus {
    SysrootStatus {
        path: PathBuf::from("/nonexistent-sysroot"),
        repo_path: None,
        ostree_booted: false,
        deployments: Vec::new(),
        warnings: Vec::new(),
    }
}

fn inspect_at(proc_root: &Path, sys_root: &Path, host_root: &Path) -> (KernelReport, Vec<Warning>) {
    let mut w = Vec::new();
    let roots = KernelRoots {
        proc_root,
        sys_root,
        host_root,
    };
    let k = inspect(&roots, &no_sysroot(), &mut w).expect("a kernel report");
    (k, w)
}

fn codes(k: &KernelReport) -> Vec<&'static str> {
    k.reasons.iter().map(|r| r.code).collect()
}

#[test]
fn the_running_kernel_is_what_uname_says() {
    let empty = Scratch::new("kernel-empty-root");
    let (k, w) = inspect_at(Path::new("/proc"), Path::new("/sys"), &empty.0);
    assert_eq!(k.running.release, run(Command::new("uname").arg("-r")));
    assert_eq!(k.running.version, run(Command::new("uname").arg("-v")));
    let build = k.running.build.as_ref().expect("/proc/version parses");
    assert_eq!(build.release, k.running.release);
    assert_eq!(build.uts_version, k.running.version);
    assert_eq!(
        k.boot_id.as_deref(),
        Some(
            fs::read_to_string("/proc/sys/kernel/random/boot_id")
                .unwrap()
                .trim()
        )
    );
    // An empty root: nothing installed, no module tree, nothing to say.
    assert!(k.installed.is_empty());
    assert_eq!(k.modules_available, None);
    assert!(!k.reboot_needed, "{:?}", k.reasons);
    assert!(w.is_empty(), "{w:?}");
}

#[test]
fn the_version_string_of_a_real_bzimage() {
    let path = debian_image();
    let bytes = fs::read(&path).unwrap();
    let ours = image::version_string(&bytes).unwrap().expect("a bzImage");
    assert_eq!(ours, file_says(&path));
    // The release in the string is the one in the file name (boot/vmlinuz-RELEASE).
    let release = path
        .file_name()
        .unwrap()
        .to_str()
        .unwrap()
        .strip_prefix("vmlinuz-")
        .unwrap();
    assert!(ours.starts_with(&format!("{release} (")), "{ours}");
    // The header alone is enough: inspect reads no more than HEADER_LEN bytes.
    assert_eq!(
        image::version_string(&bytes[..image::HEADER_LEN])
            .unwrap()
            .as_deref(),
        Some(ours.as_str())
    );
    // A truncated image is an error, not a wrong answer.
    let start = usize::from(u16::from_le_bytes([bytes[0x20e], bytes[0x20f]])) + 0x200;
    assert!(image::version_string(&bytes[..start + 3]).is_err());
}

/// A captured host: /proc files of the Debian kernel (as if it were running), and a root
/// whose /boot and /usr/lib/modules hold the real image under several release names.
struct Captured {
    _dir: Scratch,
    proc_root: PathBuf,
    root: PathBuf,
    sys: PathBuf,
    release: String,
    version_string: String,
}

fn captured() -> Captured {
    let image = debian_image();
    let version_string = file_says(&image);
    let release = version_string.split(' ').next().unwrap().to_string();
    let dir = Scratch::new("kernel-captured");
    let proc_root = dir.0.join("proc");
    fs::create_dir_all(proc_root.join("sys/kernel/random")).unwrap();
    // /proc/version is the image string with the compiler inserted after the builder.
    let (head, uts) = version_string.split_once(") ").unwrap();
    fs::write(
        proc_root.join("version"),
        format!("Linux version {head}) (gcc-12 (Debian 12.2.0-14+deb12u1) 12.2.0, GNU ld (GNU Binutils for Debian) 2.40) {uts}\n"),
    )
    .unwrap();
    fs::write(
        proc_root.join("sys/kernel/osrelease"),
        format!("{release}\n"),
    )
    .unwrap();
    fs::write(proc_root.join("sys/kernel/version"), format!("{uts}\n")).unwrap();
    fs::write(
        proc_root.join("sys/kernel/random/boot_id"),
        "0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0\n",
    )
    .unwrap();
    fs::write(
        proc_root.join("cmdline"),
        "BOOT_IMAGE=/boot/vmlinuz ro quiet\n",
    )
    .unwrap();
    let root = dir.0.join("root");
    fs::create_dir_all(root.join("boot")).unwrap();
    fs::create_dir_all(root.join("usr/lib/modules")).unwrap();
    let sys = dir.0.join("sys");
    fs::create_dir_all(&sys).unwrap();
    Captured {
        _dir: dir,
        proc_root,
        root,
        sys,
        release,
        version_string,
    }
}

impl Captured {
    fn boot(&self, release: &str) {
        fs::copy(
            debian_image(),
            self.root.join(format!("boot/vmlinuz-{release}")),
        )
        .unwrap();
    }
    fn modules(&self, release: &str) {
        fs::create_dir_all(
            self.root
                .join("usr/lib/modules")
                .join(release)
                .join("kernel"),
        )
        .unwrap();
    }
    fn inspect(&self) -> (KernelReport, Vec<Warning>) {
        inspect_at(&self.proc_root, &self.sys, &self.root)
    }
}

/// `6.1.0-57-amd64` -> `6.1.0-58-amd64`: the ABI number up by one.
fn next_abi(release: &str) -> String {
    let (upstream, rest) = release.split_once('-').unwrap();
    let (abi, flavour) = rest.split_once('-').unwrap();
    format!("{upstream}-{}-{flavour}", abi.parse::<u32>().unwrap() + 1)
}

#[test]
fn a_captured_host_running_its_installed_kernel_needs_nothing() {
    let c = captured();
    c.boot(&c.release);
    c.modules(&c.release);
    let (k, w) = c.inspect();
    assert!(w.is_empty(), "{w:?}");
    assert_eq!(k.running.release, c.release);
    assert_eq!(k.installed.len(), 1);
    assert_eq!(
        k.installed[0].version_string.as_deref(),
        Some(c.version_string.as_str())
    );
    assert_eq!(k.expected.as_deref(), Some(c.release.as_str()));
    assert_eq!(k.modules_available, Some(true));
    assert!(!k.reboot_needed, "{:?}", k.reasons);
    assert_eq!(k.soft_reboot_possible, None);
}

#[test]
fn several_kernels_and_custom_names() {
    let c = captured();
    c.boot(&c.release);
    c.modules(&c.release);
    // Older by number (a string sort would put -9 after -57), other flavours, a local
    // build, a rescue image: none of them is an update of the running kernel.
    let older = c.release.replacen(
        &format!("-{}-", c.release.split('-').nth(1).unwrap()),
        "-9-",
        1,
    );
    let rt = c.release.replace("-amd64", "-rt-amd64");
    let rt_newer = next_abi(&rt);
    let plus = format!("{}+", next_abi(&c.release));
    for r in [
        &older,
        &rt_newer,
        &plus,
        &"0-rescue-0123456789abcdef0123456789abcdef".to_string(),
    ] {
        c.boot(r);
    }
    let (k, w) = c.inspect();
    assert!(w.is_empty(), "{w:?}");
    assert_eq!(k.installed.len(), 5);
    assert_eq!(k.expected.as_deref(), Some(c.release.as_str()));
    assert!(!k.reboot_needed, "{:?}", k.reasons);

    // Now a real update of the same kind: newer-kernel, naming it.
    let newer = next_abi(&c.release);
    c.boot(&newer);
    let (k, _) = c.inspect();
    assert_eq!(k.expected.as_deref(), Some(newer.as_str()));
    assert_eq!(codes(&k), ["newer-kernel"]);
    assert_eq!(k.reasons[0].release.as_deref(), Some(newer.as_str()));
    assert!(k.reboot_needed);
}

#[test]
fn rebuilt_and_missing_modules() {
    let c = captured();
    c.modules(&c.release);
    // The same release name on disk, another build inside (the running one is "#2").
    fs::write(
        c.proc_root.join("version"),
        fs::read_to_string(c.proc_root.join("version"))
            .unwrap()
            .replace(") #1 ", ") #2 "),
    )
    .unwrap();
    c.boot(&c.release);
    let (k, _) = c.inspect();
    assert_eq!(codes(&k), ["kernel-rebuilt"]);
    assert_eq!(k.reasons[0].release.as_deref(), Some(c.release.as_str()));

    // The running release's modules removed while another kernel's remain.
    let c = captured();
    c.boot(&c.release);
    c.modules(&next_abi(&c.release));
    let (k, _) = c.inspect();
    assert_eq!(k.modules_available, Some(false));
    assert_eq!(codes(&k), ["modules-missing"]);
}

#[test]
fn a_damaged_image_is_a_warning_naming_it() {
    let c = captured();
    c.boot(&c.release);
    let victim = c.root.join(format!("boot/vmlinuz-{}", c.release));
    let mut bytes = fs::read(&victim).unwrap();
    // kernel_version pointing past the setup code.
    bytes[0x20e] = 0xff;
    bytes[0x20f] = 0xff;
    fs::write(&victim, &bytes).unwrap();
    let (k, w) = c.inspect();
    assert_eq!(k.installed[0].version_string, None);
    assert_eq!(w.len(), 1);
    assert_eq!(w[0].code, "kernel-image-corrupt");
    assert!(
        w[0].message.contains(victim.to_str().unwrap()),
        "{}",
        w[0].message
    );
    // No evidence of a rebuild: no reason.
    assert!(!k.reboot_needed);
}

/// A patch directory as the sysfs ABI lays it out.
fn livepatch(sys: &Path, name: &str, enabled: &str, transition: &str, objects: &[(&str, &[&str])]) {
    let dir = sys.join("kernel/livepatch").join(name);
    fs::create_dir_all(&dir).unwrap();
    fs::write(dir.join("enabled"), enabled).unwrap();
    fs::write(dir.join("transition"), transition).unwrap();
    fs::write(dir.join("force"), "").unwrap();
    fs::write(dir.join("replace"), "1\n").unwrap();
    for (object, functions) in objects {
        let o = dir.join(object);
        fs::create_dir_all(&o).unwrap();
        fs::write(o.join("patched"), "1\n").unwrap();
        for f in *functions {
            fs::create_dir_all(o.join(f)).unwrap();
        }
    }
}

#[test]
fn live_patches_through_a_sys_root() {
    let c = captured();
    c.boot(&c.release);
    c.modules(&c.release);
    livepatch(
        &c.sys,
        "livepatch_cve_2026_1",
        "1\n",
        "0\n",
        &[("vmlinux", &["cmdline_proc_show,1"])],
    );
    let (k, w) = c.inspect();
    assert!(w.is_empty(), "{w:?}");
    assert_eq!(k.livepatches.len(), 1);
    let p = &k.livepatches[0];
    assert_eq!(
        (p.name.as_str(), p.enabled, p.transition),
        ("livepatch_cve_2026_1", true, false)
    );
    assert_eq!(p.objects, ["vmlinux"]);
    // Live-patched and settled: no reboot is pretended.
    assert!(!k.reboot_needed);

    livepatch(
        &c.sys,
        "livepatch_ext4_fix",
        "1\n",
        "1\n",
        &[("ext4", &["ext4_fill_super,1"]), ("vmlinux", &[])],
    );
    let (k, _) = c.inspect();
    assert_eq!(k.livepatches.len(), 2);
    assert_eq!(k.livepatches[1].objects, ["ext4", "vmlinux"]);
    assert_eq!(codes(&k), ["livepatch-transition"]);
    assert_eq!(k.reasons[0].name.as_deref(), Some("livepatch_ext4_fix"));

    // A garbage flag: that patch is a warning naming the file, the other is still listed.
    fs::write(
        c.sys.join("kernel/livepatch/livepatch_ext4_fix/enabled"),
        "yes\n",
    )
    .unwrap();
    let (k, w) = c.inspect();
    assert_eq!(k.livepatches.len(), 1);
    assert_eq!(w.len(), 1);
    assert_eq!(w[0].code, "livepatch-unreadable");
    assert!(
        w[0].message.contains("livepatch_ext4_fix/enabled"),
        "{}",
        w[0].message
    );
}

#[test]
fn an_unreadable_proc_is_no_report_and_a_warning() {
    let empty = Scratch::new("kernel-no-proc");
    let mut w = Vec::new();
    let roots = KernelRoots {
        proc_root: &empty.0,
        sys_root: &empty.0,
        host_root: &empty.0,
    };
    assert!(inspect(&roots, &no_sysroot(), &mut w).is_none());
    assert!(w.iter().any(|w| w.code == "kernel-unreadable"), "{w:?}");
}
