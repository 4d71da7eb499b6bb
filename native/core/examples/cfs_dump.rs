//! Print every entry of a composefs image: `cargo run --example cfs_dump IMAGE`.
fn main() {
    let path = std::env::args().nth(1).expect("usage: cfs_dump IMAGE");
    match livetree_core::composefs::image::ImageIndex::read(std::path::Path::new(&path)) {
        Ok(idx) => {
            let mut files: Vec<_> = idx.files.iter().collect();
            files.sort_by(|a, b| a.0.cmp(b.0));
            for (p, f) in files {
                println!(
                    "{} {} {} {}",
                    f.ino,
                    f.size,
                    f.object.as_deref().unwrap_or("-"),
                    String::from_utf8_lossy(p)
                );
            }
        }
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(1);
        }
    }
}
