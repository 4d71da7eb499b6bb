//! The EROFS reader on a real image written by mkfs.erofs (fixtures/captured/composefs).
use std::io::Read;

use livetree_core::composefs::erofs;
use livetree_core::composefs::image::ImageIndex;

fn image() -> Vec<u8> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../fixtures/captured/composefs/small.cfs.gz"
    );
    let gz = std::fs::read(path).expect("captured image");
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(&gz[..])
        .read_to_end(&mut out)
        .expect("gunzip");
    out
}

#[test]
fn reads_paths_inodes_sizes_and_redirects() {
    let idx = ImageIndex::from_bytes(&image()).expect("valid image");
    assert_eq!(idx.files.len(), 110);
    let x = idx.get(b"/usr/bin/x").expect("/usr/bin/x");
    // The kernel's st_ino for this file on the loop-mounted image.
    assert_eq!(x.ino, 51);
    assert_eq!(x.size, 1 << 20);
    assert_eq!(
        x.object.as_deref(),
        Some(format!("ab{}", "c".repeat(62)).as_str())
    );
    assert_eq!(idx.get(b"/bin").map(|f| f.ino), Some(41));
    let empty = idx.get(b"/usr/lib/empty").expect("empty");
    assert_eq!((empty.size, empty.object.as_deref()), (0, None));
    assert!(idx.get(b"/etc").is_some_and(|f| f.is_dir));
    // A directory of two blocks: every name is read, none twice.
    for n in 1..=100u64 {
        let p = format!("/usr/lib/many/a-long-file-name-to-fill-blocks-{n}.so");
        let f = idx.get(p.as_bytes()).unwrap_or_else(|| panic!("{p}"));
        assert_eq!(f.size, (1 << 20) + n * 4096);
        assert_eq!(
            f.object.as_deref(),
            Some(format!("{n:02x}{}", "d".repeat(62)).as_str())
        );
    }
    assert_eq!(
        idx.get(b"/usr/lib/many/a-long-file-name-to-fill-blocks-77.so")
            .map(|f| f.ino),
        Some(4014)
    );
    // A redirect that is not an object path is kept out of attribution, and listed.
    assert_eq!(
        idx.get(b"/usr/lib/evil").and_then(|f| f.object.clone()),
        None
    );
    assert_eq!(
        idx.bad_redirects,
        vec![(b"/usr/lib/evil".to_vec(), b"/../../../etc/passwd".to_vec())]
    );
}

#[test]
fn fsverity_digest_of_the_image() {
    // `fsverity digest --compact` (fsverity-utils 1.5) of the gunzipped image: 45 blocks,
    // so two Merkle levels.
    assert_eq!(
        livetree_core::composefs::verity::fsverity_digest(&image()),
        "31751ef9ce5b9144a9cefca22b8ed9a58402353dc4b17e8afc0a3ea22125fae7"
    );
}

#[test]
fn truncated_and_flipped_images_are_errors_not_panics() {
    let img = image();
    for len in [0, 100, 1024, 1100, 4096, 8192, img.len() / 2, img.len() - 1] {
        let _ = erofs::walk(&img[..len.min(img.len())]);
    }
    assert!(ImageIndex::from_bytes(&img[..4096]).is_err());
    // Flip bytes across the metadata area: any answer is fine, a panic or a hang is not.
    for at in (1024..img.len().min(40_000)).step_by(7) {
        let mut bad = img.clone();
        bad[at] ^= 0xff;
        let _ = erofs::walk(&bad);
    }
}

#[test]
fn catalog_keeps_an_images_entries() {
    use livetree_core::catalog::{Catalog, ComposefsImageInfo};
    let idx = ImageIndex::from_bytes(&image()).expect("valid image");
    let dir = std::env::temp_dir().join(format!("livetree-cfs-cat-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let mut cat = Catalog::open(&dir.join("catalog.sqlite")).expect("catalog");
    let info = ComposefsImageInfo {
        deployment_id: format!("os/{}.0", "e".repeat(64)),
        commit: "e".repeat(64),
        image: "/s/ostree/deploy/os/deploy/x.0/.ostree.cfs".into(),
        root_ino: idx.root_ino,
    };
    assert!(!cat.has_composefs_image(&info.deployment_id).unwrap());
    cat.record_composefs_image(&info, &idx).unwrap();
    // Recording again keeps the first record (a deployment's image never changes).
    cat.record_composefs_image(&info, &ImageIndex::default())
        .unwrap();
    assert!(cat.has_composefs_image(&info.deployment_id).unwrap());
    assert_eq!(cat.composefs_images().unwrap(), vec![info.clone()]);
    let back = cat.composefs_entries(&info.deployment_id).unwrap();
    assert_eq!(back.root_ino, idx.root_ino);
    assert_eq!(back.files, idx.files);
    drop(cat);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_fifo_or_symlink_in_place_of_an_image_is_refused_without_blocking() {
    let dir = std::env::temp_dir().join(format!("livetree-cfs-fifo-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let fifo = dir.join(".ostree.cfs");
    let c = std::ffi::CString::new(fifo.as_os_str().as_encoded_bytes()).unwrap();
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
    assert!(ImageIndex::read(&fifo).is_err());
    let link = dir.join("link.cfs");
    std::os::unix::fs::symlink("/dev/zero", &link).unwrap();
    assert!(ImageIndex::read(&link).is_err());
    std::fs::remove_dir_all(&dir).unwrap();
}
