//! Whether a version someone asks for (`timeline --package NAME=VERSION`) names a package
//! version: the one rule, for binary and source versions alike. `3.0.11` names
//! `3.0.11-1~deb12u2` and `1:3.0.11-2` (their upstream part), never `3.0.110-1` or `3.0.1`.

/// `version` without its epoch (`N:`, digits then a colon) and without its last
/// `-revision` (Debian's revision, rpm's release); a version without a `-` is all upstream.
pub fn upstream(version: &str) -> &str {
    without_revision(without_epoch(version))
}

fn without_epoch(version: &str) -> &str {
    match version.split_once(':') {
        Some((epoch, rest)) if !epoch.is_empty() && epoch.bytes().all(|b| b.is_ascii_digit()) => {
            rest
        }
        _ => version,
    }
}

fn without_revision(version: &str) -> &str {
    version
        .rsplit_once('-')
        .map_or(version, |(upstream, _)| upstream)
}

/// Whether `asked` names `version`: it is the whole version, its upstream part
/// ([`upstream`]), or either with the epoch left out or kept (`1:3.0.11` and `3.0.11-2`
/// name `1:3.0.11-2`). An empty `asked` names nothing.
pub fn version_matches(asked: &str, version: &str) -> bool {
    !asked.is_empty()
        && (asked == version
            || asked == without_epoch(version)
            || asked == upstream(version)
            || asked == without_revision(version))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upstream_strips_the_epoch_and_the_last_revision() {
        assert_eq!(upstream("3.0.11-1~deb12u2"), "3.0.11");
        assert_eq!(upstream("1:3.0.11-2"), "3.0.11");
        assert_eq!(upstream("2.36-9+deb12u10"), "2.36");
        // Only the last `-`: an upstream version may hold one itself.
        assert_eq!(upstream("1.2-rc1-3"), "1.2-rc1");
        // A native package (no revision) is all upstream.
        assert_eq!(upstream("20230311"), "20230311");
        assert_eq!(upstream("1:2.0"), "2.0");
        // rpm: VERSION-RELEASE, with an epoch when there is one.
        assert_eq!(upstream("3.0.7-24.el9"), "3.0.7");
        assert_eq!(upstream("1:3.0.7-24.el9"), "3.0.7");
        // Not an epoch: a colon after something other than digits stays.
        assert_eq!(upstream("a:1.0-1"), "a:1.0");
        assert_eq!(upstream(":1.0-1"), ":1.0");
        assert_eq!(upstream(""), "");
    }

    #[test]
    fn an_upstream_version_names_its_packaged_versions_and_nothing_near_it() {
        assert!(version_matches("3.0.11", "3.0.11-1~deb12u2"));
        assert!(version_matches("3.0.11", "1:3.0.11-2"));
        assert!(version_matches("3.0.11", "3.0.11"));
        assert!(!version_matches("3.0.11", "3.0.110-1"));
        assert!(!version_matches("3.0.11", "3.0.1"));
        assert!(!version_matches("3.0.11", "3.0.1-1"));
        assert!(!version_matches("3.0.11", "13.0.11-1"));
        assert!(!version_matches("3.0", "3.0.11-1"));
        // The whole version, and the version with its epoch but no revision.
        assert!(version_matches("3.0.11-1~deb12u2", "3.0.11-1~deb12u2"));
        assert!(!version_matches("3.0.11-1", "3.0.11-1~deb12u2"));
        assert!(version_matches("1:3.0.11-2", "1:3.0.11-2"));
        assert!(version_matches("1:3.0.11", "1:3.0.11-2"));
        assert!(!version_matches("2:3.0.11", "1:3.0.11-2"));
        assert!(version_matches("3.0.11-2", "1:3.0.11-2"));
        assert!(!version_matches("3.0.11-3", "1:3.0.11-2"));
        // A revision alone is not a version.
        assert!(!version_matches("2", "1:3.0.11-2"));
        assert!(!version_matches("", "3.0.11-1"));
        // The demo package of test/timeline-source.test.ts.
        assert!(version_matches("1.2.3", "1.2.3-4"));
        assert!(version_matches("1.2.3-4", "1.2.3-4"));
        assert!(!version_matches("1.2", "1.2.3-4"));
        assert!(!version_matches("1.2.3-5", "1.2.3-4"));
        assert!(!version_matches("1.2.30", "1.2.3-4"));
    }
}
