//! The running kernel's own words: `/proc/version` and `/proc/cmdline`, parsed from bytes.
use crate::error::ParseError;

/// `/proc/version`: `Linux version RELEASE (BUILDER) (COMPILER) UTS_VERSION`, where the
/// compiler part holds nested parentheses (`(gcc-12 (Debian 12.2.0-14) 12.2.0, GNU ld …)`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcVersion {
    /// `uname -r`.
    pub release: String,
    /// `user@host` that built it.
    pub builder: String,
    /// The compiler and linker that built it, nested parentheses included.
    pub compiler: String,
    /// `uname -v`: `#1 SMP PREEMPT_DYNAMIC Debian 6.1.192-3 (2026-11-26)`.
    pub uts_version: String,
}

impl ProcVersion {
    /// The string the same build carries in its bzImage header (`kernel_version`):
    /// `RELEASE (BUILDER) UTS_VERSION` — /proc/version without the compiler.
    pub fn image_string(&self) -> String {
        format!("{} ({}) {}", self.release, self.builder, self.uts_version)
    }
}

/// Parse `/proc/version`.
pub fn parse_version(bytes: &[u8]) -> Result<ProcVersion, ParseError> {
    let text = std::str::from_utf8(bytes)
        .map_err(|e| ParseError(format!("not UTF-8 at byte {}", e.valid_up_to())))?;
    let text = text.trim_end_matches('\n');
    let rest = text
        .strip_prefix("Linux version ")
        .ok_or_else(|| ParseError("does not start with 'Linux version '".into()))?;
    let (release, rest) = rest
        .split_once(' ')
        .ok_or_else(|| ParseError("no space after the release".into()))?;
    if release.is_empty() {
        return Err(ParseError("empty release".into()));
    }
    let (builder, rest) = group(rest).ok_or_else(|| ParseError("no (builder) group".into()))?;
    let (compiler, rest) = group(rest).ok_or_else(|| ParseError("no (compiler) group".into()))?;
    let uts_version = rest.trim();
    if uts_version.is_empty() {
        return Err(ParseError("no version after the compiler".into()));
    }
    Ok(ProcVersion {
        release: release.to_string(),
        builder: builder.to_string(),
        compiler: compiler.to_string(),
        uts_version: uts_version.to_string(),
    })
}

/// One balanced `( … )` group at the start of `s` (after spaces): its inside and the rest.
fn group(s: &str) -> Option<(&str, &str)> {
    let s = s.trim_start_matches(' ');
    if !s.starts_with('(') {
        return None;
    }
    let mut depth = 0usize;
    for (i, c) in s.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => {
                depth -= 1;
                if depth == 0 {
                    return Some((&s[1..i], &s[i + 1..]));
                }
            }
            _ => {}
        }
    }
    None
}

/// The value of the last `ostree=` argument of `/proc/cmdline` (the kernel, like
/// ostree-prepare-root, lets a later argument win). Arguments after a bare `--` belong to
/// init, not to the kernel; double-quoted values may hold spaces.
pub fn cmdline_ostree(bytes: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(bytes);
    let mut found = None;
    for arg in split_cmdline(&text) {
        if arg == "--" {
            break;
        }
        if let Some(v) = arg.strip_prefix("ostree=") {
            found = Some(v.trim_matches('"').to_string());
        }
    }
    found
}

fn split_cmdline(text: &str) -> Vec<String> {
    let mut args = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    for c in text.chars() {
        match c {
            '"' => {
                quoted = !quoted;
                cur.push(c);
            }
            c if c.is_whitespace() && !quoted => {
                if !cur.is_empty() {
                    args.push(std::mem::take(&mut cur));
                }
            }
            c => cur.push(c),
        }
    }
    if !cur.is_empty() {
        args.push(cur);
    }
    args
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debian_proc_version() {
        let v = parse_version(b"Linux version 6.1.0-57-amd64 (debian-kernel@lists.debian.org) (gcc-12 (Debian 12.2.0-14+deb12u1) 12.2.0, GNU ld (GNU Binutils for Debian) 2.40) #1 SMP PREEMPT_DYNAMIC Debian 6.1.192-3 (2026-11-26)\n").unwrap();
        assert_eq!(v.release, "6.1.0-57-amd64");
        assert_eq!(v.builder, "debian-kernel@lists.debian.org");
        assert_eq!(
            v.compiler,
            "gcc-12 (Debian 12.2.0-14+deb12u1) 12.2.0, GNU ld (GNU Binutils for Debian) 2.40"
        );
        assert_eq!(
            v.uts_version,
            "#1 SMP PREEMPT_DYNAMIC Debian 6.1.192-3 (2026-11-26)"
        );
        assert_eq!(
            v.image_string(),
            "6.1.0-57-amd64 (debian-kernel@lists.debian.org) #1 SMP PREEMPT_DYNAMIC Debian 6.1.192-3 (2026-11-26)"
        );
    }

    #[test]
    fn other_builders() {
        let v = parse_version(b"Linux version 6.18.44-fc-v657 (builder@sandboxing) (gcc (GCC) 15.3.0, GNU ld (GNU Binutils) 2.46) #1 SMP PREEMPT_DYNAMIC @0\n").unwrap();
        assert_eq!(v.release, "6.18.44-fc-v657");
        assert_eq!(v.uts_version, "#1 SMP PREEMPT_DYNAMIC @0");
        let v = parse_version(b"Linux version 6.5.6-300.fc39.x86_64 (mockbuild@ab12) (gcc (GCC) 13.2.1 20230918 (Red Hat 13.2.1-3), GNU ld version 2.40-13.fc39) #1 SMP PREEMPT_DYNAMIC Fri Oct  6 19:57:21 UTC 2023\n").unwrap();
        assert_eq!(
            v.compiler,
            "gcc (GCC) 13.2.1 20230918 (Red Hat 13.2.1-3), GNU ld version 2.40-13.fc39"
        );
        assert_eq!(
            v.uts_version,
            "#1 SMP PREEMPT_DYNAMIC Fri Oct  6 19:57:21 UTC 2023"
        );
    }

    #[test]
    fn garbage_is_an_error() {
        assert!(parse_version(b"").is_err());
        assert!(parse_version(b"Linux version 6.1.0\n").is_err());
        assert!(parse_version(b"Linux version 6.1.0 (a@b) (gcc (unclosed) #1\n").is_err());
        assert!(parse_version(b"Linux version 6.1.0 (a@b) (gcc)\n").is_err());
        assert!(parse_version(b"Linux version 6.1.0 (a@b) (gcc) #1 \xff\n").is_err());
    }

    #[test]
    fn ostree_argument() {
        assert_eq!(
            cmdline_ostree(b"BOOT_IMAGE=(hd0,gpt2)/ostree/fedora-ab/vmlinuz-6.5.6 rw ostree=/ostree/boot.1/fedora-coreos/ab12/0 quiet\n").as_deref(),
            Some("/ostree/boot.1/fedora-coreos/ab12/0")
        );
        assert_eq!(cmdline_ostree(b"console=ttyS0 quiet nomodule\n"), None);
        // After `--` the arguments are init's.
        assert_eq!(
            cmdline_ostree(b"quiet -- ostree=/ostree/boot.0/x/y/0\n"),
            None
        );
        // A quoted value with a space elsewhere does not split arguments.
        assert_eq!(
            cmdline_ostree(b"dyndbg=\"file x.c +p\" ostree=/ostree/boot.0/os/c/1").as_deref(),
            Some("/ostree/boot.0/os/c/1")
        );
        // The last one wins.
        assert_eq!(
            cmdline_ostree(b"ostree=/ostree/boot.0/a/b/0 ostree=/ostree/boot.1/a/c/0").as_deref(),
            Some("/ostree/boot.1/a/c/0")
        );
    }
}
