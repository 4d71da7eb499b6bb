//! The fs-verity digest of a file's bytes (SHA-256, 4096-byte blocks, no salt): what
//! ostree records as a commit's `ostree.composefs.digest.v0` for its composefs image, and
//! what the kernel checks when composefs mounts with verification. Computed here from the
//! bytes alone, so it works on any filesystem (verity need not be enabled on the image).
use sha2::{Digest, Sha256};

const BLOCK: usize = 4096;

fn hash_blocks(data: &[u8]) -> Vec<[u8; 32]> {
    data.chunks(BLOCK)
        .map(|c| {
            let mut h = Sha256::new();
            h.update(c);
            if c.len() < BLOCK {
                h.update(&[0u8; BLOCK][..BLOCK - c.len()]);
            }
            h.finalize().into()
        })
        .collect()
}

/// The Merkle tree root: data blocks hashed, then each level's hashes packed into blocks
/// and hashed again, until one hash is left. An empty file's root is all zeros.
fn root_hash(data: &[u8]) -> [u8; 32] {
    if data.is_empty() {
        return [0; 32];
    }
    let mut level = hash_blocks(data);
    while level.len() > 1 {
        let packed: Vec<u8> = level.iter().flatten().copied().collect();
        level = hash_blocks(&packed);
    }
    level[0]
}

/// The fs-verity file digest (`fsverity digest`), as 64 hex digits.
pub fn fsverity_digest(data: &[u8]) -> String {
    // struct fsverity_descriptor: version 1, SHA-256 (1), log2 block size 12, no salt,
    // then the data size, the root hash (zero-padded to 64), salt and reserved zeros.
    let mut desc = [0u8; 256];
    desc[0] = 1;
    desc[1] = 1;
    desc[2] = 12;
    desc[8..16].copy_from_slice(&(data.len() as u64).to_le_bytes());
    desc[16..48].copy_from_slice(&root_hash(data));
    Sha256::digest(desc)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_digests() {
        // `fsverity digest` (fsverity-utils 1.5) of an empty file and of "hello\n".
        assert_eq!(
            fsverity_digest(b""),
            "3d248ca542a24fc62d1c43b916eae5016878e2533c88238480b26128a1f1af95"
        );
        assert_eq!(
            fsverity_digest(b"hello\n"),
            "9c76eecc7b76fcb46199cb27b90cf59a660e10575bb0412128905129d5b1c2aa"
        );
    }
}
