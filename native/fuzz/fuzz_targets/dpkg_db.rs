//! dpkg's status, diversions and info/*.list files, byte for byte as a tree may hold them,
//! through `dpkg::table`: the very function a scan builds a tree's package table with.
#![no_main]
use libfuzzer_sys::fuzz_target;
use livetree_core::packages::dpkg;

fuzz_target!(|data: &[u8]| {
    // One input feeds every file: as status, as diversions, and as the list of each package
    // the status names (and of a name the status may not have).
    let status = dpkg::parse_status(data);
    for e in &status.entries {
        assert!(!e.info.name.is_empty() && !e.info.version.is_empty());
    }
    let mut names: Vec<Vec<u8>> = status
        .entries
        .iter()
        .map(|e| format!("{}.list", e.info.name).into_bytes())
        .collect();
    names.push(b"pkg:amd64.list".to_vec());
    names.push(data.to_vec());
    let mut read = |_: &[u8]| Ok(Some(data.to_vec()));
    let table = dpkg::table("/fuzz", data, Some(data), names, &mut read, None);
    for (path, index) in &table.paths {
        assert!((*index as usize) < table.packages.len());
        assert!(table.lookup(path).is_some());
    }
    let _ = dpkg::list_name(data);
});
