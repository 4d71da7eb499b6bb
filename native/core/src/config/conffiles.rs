//! `conffile`: the configuration files of the package that installed a process's
//! executable, in the process's own root, changed after the process started.
//!
//! The package is the one the scan named for the executable's mapping (the host's
//! database, a commit's table, a chroot's or container's own database, or the catalog's
//! record for a file replaced since; none is never guessed). Its conffiles come from the
//! database of the process's root — dpkg `status` (`Conffiles:`) or rpm's `rpmdb.sqlite`
//! (files flagged `%config`), each by its one parser — once per distinct database. Each
//! conffile is only `stat`ed.
use std::collections::HashMap;
use std::rc::Rc;

use super::{Clock, ConfigChange, ConfigSource, Facts, Pass, RootKey, Subject};
use crate::packages::{self, dpkg, PackageInfo, RootTree, TreeReader};

/// What one root's package database says that the checks need.
#[derive(Debug, Default)]
pub struct RootPackages {
    /// (name, arch) → that package's conffiles (dpkg).
    conffiles: HashMap<(String, Option<String>), Vec<Vec<u8>>>,
}

impl RootPackages {
    /// The conffiles of `package` in this root.
    fn of(&self, package: &PackageInfo) -> &[Vec<u8>] {
        let exact = (package.name.clone(), package.arch.clone());
        self.conffiles
            .get(&exact)
            .or_else(|| {
                self.conffiles
                    .iter()
                    .find(|((n, _), _)| *n == package.name)
                    .map(|(_, v)| v)
            })
            .map_or(&[], Vec::as_slice)
    }
}

/// Roots seeing one database: a PID to read it through, and the roots.
type SharedDb = (u32, Vec<RootKey>);

impl Pass {
    /// Read, once per root, the conffiles of its database and the owners of the
    /// executables the scan named no package for.
    pub(super) fn read_packages(&mut self, processes: &[Subject]) {
        // Per root: a PID to read it through.
        let mut wanted: HashMap<RootKey, u32> = HashMap::new();
        for p in processes.iter().filter(|p| p.package.is_some()) {
            if let Some(facts) = self.facts.get(&p.pid) {
                wanted.entry(facts.root.clone()).or_insert(p.pid);
            }
        }
        // Many roots (one per mount namespace: services with private mounts) see one
        // database: roots whose database files are the same files (device, inode, times,
        // size) share one read.
        let mut by_db: HashMap<Vec<u8>, SharedDb> = HashMap::new();
        for (root, pid) in wanted {
            let files = match self.shared.get(&root) {
                // An identity the scan gave (a NUL first: no fingerprint's files begin so).
                Some(key) => [b"\0shared\0".as_slice(), key].concat(),
                None => {
                    let dir = self.proc_root.join(pid.to_string()).join("root");
                    let fp = packages::database_fingerprint(&dir);
                    // The fingerprint starts with the directory's path and a NUL; the rest
                    // is the files.
                    fp[fp.iter().position(|b| *b == 0).map_or(0, |i| i + 1)..].to_vec()
                }
            };
            by_db
                .entry(files)
                .or_insert_with(|| (pid, Vec::new()))
                .1
                .push(root);
        }
        for (_, (pid, roots)) in by_db {
            let found = Rc::new(self.read_root(pid));
            for root in roots {
                self.roots.insert(root, Rc::clone(&found));
            }
        }
    }

    /// Read the conffiles of one root's dpkg database (through `pid`'s root).
    fn read_root(&mut self, pid: u32) -> RootPackages {
        let tree = RootTree {
            root: self.proc_root.join(pid.to_string()).join("root"),
        };
        let mut found = RootPackages::default();
        let mut dpkg_found = false;
        for dir in packages::DPKG_DIRS {
            match tree.read(&format!("{dir}/status")) {
                Ok(Some(bytes)) => {
                    for e in dpkg::parse_status(&bytes).entries {
                        if !e.conffiles.is_empty() {
                            found
                                .conffiles
                                .insert((e.info.name, e.info.arch), e.conffiles);
                        }
                    }
                    dpkg_found = true;
                    break;
                }
                Ok(None) => {}
                Err(e) => {
                    self.warn_once("config-package-db", format!("conffiles not checked: {e}"));
                    break;
                }
            }
        }
        // rpm: the files its database flags %config (RPMFILE_CONFIG).
        let rpmdb = packages::RPM_DIRS
            .iter()
            .map(|d| format!("{d}/rpmdb.sqlite"))
            .find(|db| !dpkg_found && tree.exists(db));
        if let Some(db) = rpmdb {
            match packages::rpm::config_files(&tree, &db) {
                Ok(list) => {
                    for (info, files) in list {
                        found.conffiles.insert((info.name, info.arch), files);
                    }
                }
                Err(e) => {
                    self.warn_once("config-package-db", format!("conffiles not checked: {e}"))
                }
            }
        }
        found
    }

    /// The conffiles of the process's package changed after it started.
    pub(super) fn conffile_changes(
        &mut self,
        p: &Subject,
        facts: &Facts,
        clock: &Clock,
    ) -> Vec<ConfigChange> {
        let Some(root) = self.roots.get(&facts.root) else {
            return Vec::new();
        };
        let Some(package) = p.package.cloned() else {
            return Vec::new();
        };
        let paths: Vec<Vec<u8>> = root.of(&package).to_vec();
        let mut out = Vec::new();
        for path in paths {
            if let Some((_, _, ctime)) = self.now(p.pid, &facts.root, &path) {
                if facts.changed_since(clock, ctime) {
                    out.push(ConfigChange {
                        path,
                        changed_ns: ctime,
                        source: ConfigSource::Conffile,
                        package: Some(package.clone()),
                        replaced: false,
                    });
                }
            }
        }
        out
    }
}
