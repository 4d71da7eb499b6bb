//! Kernel releases (`uname -r`): their order and their flavour.
//!
//! Two rules, because one does not fit every host:
//! - **Order** is Debian's `linux-version compare` (what GRUB's `10_linux` sorts kernels
//!   with): dpkg's version comparison after `rc` is turned into a pre-release (`6.8.0-rc1`
//!   sorts before `6.8.0`). Digit runs compare by value, so `6.1.0-10` is newer than
//!   `6.1.0-9` (a plain string sort gets that wrong).
//! - **Flavour**: a kernel is only "newer" than the running one if it is the same kind of
//!   kernel. `6.1.0-57-rt-amd64` is not an update of `6.1.0-57-amd64`, a `6.6.0+` built
//!   from a work tree is not an update of a distribution kernel, a `-debug` or rescue image
//!   is not the next boot's kernel: comparing those across flavours is what makes other
//!   tools demand a reboot that would not change anything.
use std::cmp::Ordering;

/// Compare two releases, oldest first.
pub fn compare(a: &str, b: &str) -> Ordering {
    dpkg_compare(&normalise(a), &normalise(b))
}

/// `rc` after a separator or a digit becomes `~rc`, as `linux-version` does, so a
/// release candidate sorts before the release it leads to.
fn normalise(release: &str) -> Vec<u8> {
    let b = release.as_bytes();
    let mut out = Vec::with_capacity(b.len() + 1);
    let mut i = 0;
    while i < b.len() {
        let at_rc = b[i..].starts_with(b"rc")
            && b.get(i + 2).is_some_and(u8::is_ascii_digit)
            && (i == 0
                || matches!(b[i - 1], b'-' | b'.' | b'_' | b'~')
                || b[i - 1].is_ascii_digit());
        if at_rc {
            // Drop a separator just written: "6.8.0-rc1" -> "6.8.0~rc1".
            if matches!(out.last(), Some(b'-' | b'.' | b'_')) {
                out.pop();
            }
            out.push(b'~');
        }
        out.push(b[i]);
        i += 1;
    }
    out
}

/// dpkg's `verrevcmp`: alternate non-digit and digit runs; in non-digit runs `~` sorts
/// before everything (even the end), letters before other characters.
fn dpkg_compare(a: &[u8], b: &[u8]) -> Ordering {
    fn weight(c: Option<&u8>) -> i32 {
        match c {
            None => 0,
            Some(b'~') => -1,
            Some(c) if c.is_ascii_digit() => 0,
            Some(c) if c.is_ascii_alphabetic() => i32::from(*c),
            Some(c) => i32::from(*c) + 256,
        }
    }
    let (mut i, mut j) = (0, 0);
    while i < a.len() || j < b.len() {
        // Non-digit run.
        while (i < a.len() && !a[i].is_ascii_digit()) || (j < b.len() && !b[j].is_ascii_digit()) {
            let (wa, wb) = (weight(a.get(i)), weight(b.get(j)));
            if wa != wb {
                return wa.cmp(&wb);
            }
            i += 1;
            j += 1;
        }
        // Digit run, by value: skip leading zeros, then longer is larger.
        while i < a.len() && a[i] == b'0' {
            i += 1;
        }
        while j < b.len() && b[j] == b'0' {
            j += 1;
        }
        let si = i;
        while i < a.len() && a[i].is_ascii_digit() {
            i += 1;
        }
        let sj = j;
        while j < b.len() && b[j].is_ascii_digit() {
            j += 1;
        }
        let (ra, rb) = (&a[si..i], &b[sj..j]);
        let ord = ra.len().cmp(&rb.len()).then_with(|| ra.cmp(rb));
        if ord != Ordering::Equal {
            return ord;
        }
    }
    Ordering::Equal
}

/// The flavour of a release: the words after the upstream version (`6.1.0`), each cut to
/// its leading letters, plus `+` for a local-version plus. Numbers (ABI numbers, build
/// counters, distribution release numbers like the 39 of `fc39`) are left out, so every
/// update of one kernel line has the same flavour:
///
/// | release | flavour |
/// |---|---|
/// | `6.1.0-57-amd64`, `6.1.0-58-amd64` | `amd` |
/// | `6.1.0-57-rt-amd64` | `rt amd` |
/// | `6.5.6-300.fc39.x86_64`, `6.6.2-201.fc40.x86_64` | `fc x` |
/// | `6.5.6-300.fc39.x86_64+debug` | `fc x + debug` |
/// | `6.6.0+`, `6.6.0-rc1+` | `+` |
///
/// `rc` is a pre-release marker, not a flavour.
pub fn flavour(release: &str) -> Vec<String> {
    // Skip the upstream version: digits and dots at the start.
    let rest = release.trim_start_matches(|c: char| c.is_ascii_digit() || c == '.');
    let mut words = Vec::new();
    let mut word = String::new();
    let flush = |word: &mut String, words: &mut Vec<String>| {
        let letters: String = word
            .chars()
            .take_while(|c| c.is_ascii_alphabetic())
            .collect::<String>()
            .to_ascii_lowercase();
        if !letters.is_empty() && letters != "rc" {
            words.push(letters);
        }
        word.clear();
    };
    for c in rest.chars() {
        match c {
            '-' | '.' | '_' | '~' => flush(&mut word, &mut words),
            '+' => {
                flush(&mut word, &mut words);
                words.push("+".to_string());
            }
            c => word.push(c),
        }
    }
    flush(&mut word, &mut words);
    words
}

/// Releases that are never the next boot's regular kernel: Fedora's rescue image
/// (`vmlinuz-0-rescue-MACHINEID`), which is a copy of some older kernel.
pub fn is_rescue(release: &str) -> bool {
    release.starts_with("0-rescue-")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sorted(mut v: Vec<&str>) -> Vec<&str> {
        v.sort_by(|a, b| compare(a, b));
        v
    }

    #[test]
    fn digit_runs_compare_by_value() {
        assert_eq!(
            compare("6.1.0-10-amd64", "6.1.0-9-amd64"),
            Ordering::Greater
        );
        assert_eq!(compare("6.18.9-fc-v657", "6.18.44-fc-v657"), Ordering::Less);
        assert_eq!(compare("6.10.0", "6.9.12"), Ordering::Greater);
        assert_eq!(
            compare("5.15.0-100-generic", "5.15.0-99-generic"),
            Ordering::Greater
        );
        assert_eq!(compare("6.1.0-57-amd64", "6.1.0-57-amd64"), Ordering::Equal);
        assert_eq!(
            compare("6.1.0-057-amd64", "6.1.0-57-amd64"),
            Ordering::Equal
        );
    }

    #[test]
    fn release_candidates_sort_before_the_release() {
        assert_eq!(compare("6.8.0-rc1", "6.8.0"), Ordering::Less);
        assert_eq!(compare("6.8.0-rc7", "6.8.0-rc10"), Ordering::Less);
        assert_eq!(compare("6.8.0-rc7+", "6.8.0"), Ordering::Less);
        assert_eq!(compare("6.8.0-rc1", "6.7.12"), Ordering::Greater);
    }

    #[test]
    fn several_kernels_sort_like_linux_version() {
        assert_eq!(
            sorted(vec![
                "6.1.0-9-amd64",
                "6.1.0-57-amd64",
                "5.10.0-28-amd64",
                "6.1.0-10-amd64",
                "6.1.0-rc3-amd64",
            ]),
            vec![
                "5.10.0-28-amd64",
                "6.1.0-rc3-amd64",
                "6.1.0-9-amd64",
                "6.1.0-10-amd64",
                "6.1.0-57-amd64",
            ]
        );
        assert_eq!(
            sorted(vec!["6.6.2-201.fc40.x86_64", "6.5.6-300.fc39.x86_64"]),
            vec!["6.5.6-300.fc39.x86_64", "6.6.2-201.fc40.x86_64"]
        );
    }

    #[test]
    fn a_plus_is_a_later_local_build_of_the_same_version() {
        assert_eq!(compare("6.6.0+", "6.6.0"), Ordering::Greater);
        assert_eq!(compare("6.6.0+", "6.6.1"), Ordering::Less);
    }

    #[test]
    fn flavours() {
        let f = |r: &str| flavour(r).join(" ");
        assert_eq!(f("6.1.0-57-amd64"), "amd");
        assert_eq!(f("6.1.0-58-amd64"), "amd");
        assert_eq!(f("6.1.0-57-rt-amd64"), "rt amd");
        assert_eq!(f("6.5.6-300.fc39.x86_64"), "fc x");
        assert_eq!(f("6.6.2-201.fc40.x86_64"), "fc x");
        assert_eq!(f("6.5.6-300.fc39.x86_64+debug"), "fc x + debug");
        assert_eq!(
            f("5.14.0-284.11.1.rt14.296.el9_2.x86_64"),
            "rt el x",
            "RHEL's real-time kernel"
        );
        assert_eq!(f("5.14.0-284.11.1.el9_2.x86_64"), "el x");
        assert_eq!(f("6.6.0+"), "+");
        assert_eq!(f("6.6.0-rc1+"), "+");
        assert_eq!(f("6.8.0-rc1"), "");
        assert_eq!(f("6.8.0"), "");
        assert_eq!(f("6.18.44-fc-v657"), "fc v");
        assert_eq!(f("6.6.7-arch1-1"), "arch");
        assert_eq!(f("6.5.0-14-generic"), "generic");
        assert_eq!(f("6.5.0-14-lowlatency"), "lowlatency");
        assert_eq!(f("6.1.0-MyBuild"), "mybuild");
    }

    #[test]
    fn rescue_images() {
        assert!(is_rescue("0-rescue-0123456789abcdef0123456789abcdef"));
        assert!(!is_rescue("6.1.0-57-amd64"));
    }
}
