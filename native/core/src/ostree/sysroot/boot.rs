//! The boot loader entries' side of a sysroot: the deployments the entries name, read
//! through their `ostree=` links.
use std::fs;
use std::path::{Path, PathBuf};

use super::{new_deployment, parse_deploy_name, Deployment, Warning};
use crate::error::{Error, Result};
use crate::ostree::bootentry::{self, BootEntry, BootLink};

/// The entries of the current boot version: `boot/loader` links to `loader.0` or
/// `loader.1` (missing means 0); only regular `ostree-*.conf` files count. A file that does
/// not parse is a warning.
pub(super) fn read_boot_entries(
    sysroot: &Path,
    warnings: &mut Vec<Warning>,
) -> Result<Vec<(PathBuf, BootEntry)>> {
    let loader = sysroot.join("boot/loader");
    let bootversion = match fs::symlink_metadata(&loader) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => 0,
        Err(e) => return Err(Error::from_io(&loader, e)),
        Ok(m) if !m.file_type().is_symlink() => {
            return Err(Error::corrupt(&loader, "not a symbolic link"))
        }
        Ok(_) => {
            let target = fs::read_link(&loader).map_err(|e| Error::from_io(&loader, e))?;
            match target.to_str() {
                Some("loader.0") => 0,
                Some("loader.1") => 1,
                _ => {
                    return Err(Error::corrupt(
                        &loader,
                        format!("invalid target '{}'", target.display()),
                    ))
                }
            }
        }
    };
    let dir = sysroot.join(format!("boot/loader.{bootversion}/entries"));
    let rd = match fs::read_dir(&dir) {
        Ok(rd) => rd,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(Error::from_io(&dir, e)),
    };
    let mut out = Vec::new();
    for dent in rd {
        let dent = dent.map_err(|e| Error::from_io(&dir, e))?;
        let name = dent.file_name();
        let Some(name) = name.to_str() else { continue };
        if !(name.starts_with("ostree-") && name.ends_with(".conf")) {
            continue;
        }
        let path = dent.path();
        // Follows symlinks, as ostree's fstatat does.
        match fs::metadata(&path) {
            Ok(m) if m.is_file() => {}
            _ => continue,
        }
        match fs::read(&path) {
            Ok(bytes) => match bootentry::parse(&bytes) {
                Ok(e) => out.push((path, e)),
                Err(e) => warnings.push(Warning {
                    code: "bootentry-corrupt".into(),
                    message: format!("{}: {}", path.display(), e),
                }),
            },
            Err(e) => warnings.push(Warning {
                code: "bootentry-unreadable".into(),
                message: Error::from_io(&path, e).to_string(),
            }),
        }
    }
    Ok(out)
}

/// Follow `ostree=`'s boot link (`ostree/boot.N/OSNAME/BOOTCSUM/SERIAL` →
/// `../../../deploy/OSNAME/deploy/CSUM.SERIAL`) to the deployment directory.
pub(super) fn deployment_from_link(sysroot: &Path, link: &BootLink) -> Result<Deployment> {
    let rel = link.path.trim_start_matches('/');
    let link_path = sysroot.join(rel);
    let target = fs::read_link(&link_path).map_err(|e| Error::from_io(&link_path, e))?;
    let base = target
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or_else(|| Error::corrupt(&link_path, "boot link has no target name"))?;
    let (checksum, serial) =
        parse_deploy_name(base).map_err(|e| Error::corrupt(&link_path, e.0))?;
    // Stat through the link itself, as ostree does, so (dev, ino) is the directory the
    // boot entry really points at.
    let meta = fs::metadata(&link_path).map_err(|e| Error::from_io(&link_path, e))?;
    if !meta.is_dir() {
        return Err(Error::corrupt(&link_path, "boot link is not a directory"));
    }
    Ok(new_deployment(
        sysroot,
        &link.osname,
        checksum,
        serial,
        Some(link.bootcsum.clone()),
        Some(link.treebootserial),
        &meta,
    ))
}
