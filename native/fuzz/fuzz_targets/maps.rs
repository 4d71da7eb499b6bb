//! /proc/PID/maps: whole files and single lines; grouping must accept whatever parses.
#![no_main]
use libfuzzer_sys::fuzz_target;
use livetree_core::proc::maps;

fuzz_target!(|data: &[u8]| {
    if let Ok(entries) = maps::parse_maps(data) {
        for e in &entries {
            let _ = e.map_files_name();
        }
        let _ = maps::group_file_mappings(&entries);
    }
    for line in data.split(|b| *b == b'\n') {
        let _ = maps::parse_line(line);
    }
});
