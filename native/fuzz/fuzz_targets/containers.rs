//! containers/storage records, a container root overlay's mount options, cgroup paths,
//! storage.conf and passwd: every container parser on the same bytes.
#![no_main]
use libfuzzer_sys::fuzz_target;
use livetree_core::containers::{config, engine, mount, records};

fuzz_target!(|data: &[u8]| {
    if let Ok(c) = records::parse_containers(data) {
        for r in &c {
            assert!(r.image_name.as_deref() != Some(""));
        }
    }
    if let Ok(i) = records::parse_images(data) {
        for r in &i {
            assert!(r.layer.as_deref() != Some(""));
        }
    }
    let _ = records::parse_layers(data);
    let m = mount::container_mount(data);
    let _ = m.graphroots();
    let _ = mount::layer_dir(data);
    let _ = mount::link_target_layer(data);
    if let Ok(text) = std::str::from_utf8(data) {
        if let Some(h) = engine::from_cgroup_path(text) {
            assert!(!h.id.is_empty());
        }
    }
    let conf = config::parse_storage_conf(data);
    let _ = config::expand_rootless(
        conf.rootless_storage_path.as_deref().unwrap_or("$HOME"),
        data,
        1000,
        "u",
    );
    let _ = config::passwd_entry(data, 1000);
    if let Some((root, id)) = engine::conmon_bundle(data) {
        assert!(root.starts_with(b"/") && id.len() == 64);
    }
});
