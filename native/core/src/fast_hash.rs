//! The hash maps and sets of the scan's hot paths: keys of every mapped file ((device,
//! inode), paths, PIDs, views) are hashed many times per process, and std's SipHash-1-3 was
//! ~2% of a status's CPU (docs/proc-reading.md, 2026-12-07). `FastMap`/`FastSet` hash with
//! aHash instead, still keyed at random per process and per map: paths come from untrusted
//! processes, so a fixed-key hash would let one of them choose colliding names and make the
//! scan quadratic. The keys come from std's `RandomState` (the operating system's random
//! numbers), mixed per map by aHash's `generate_with`; no new source of randomness.
//!
//! Iteration order is as random as std's was: nothing that reaches a document may depend on
//! it (every output built from a map is sorted).
use std::collections::{HashMap, HashSet};
use std::hash::BuildHasher;
use std::sync::OnceLock;

/// A `HashMap` hashed with aHash, randomly keyed (`FastState`).
pub type FastMap<K, V> = HashMap<K, V, FastState>;
/// A `HashSet` hashed with aHash, randomly keyed (`FastState`).
pub type FastSet<T> = HashSet<T, FastState>;

/// aHash's `RandomState`, made by `Default` with this process's random keys: aHash itself
/// only has a `Default` with its `runtime-rng` feature, which would add a crate.
#[derive(Clone)]
pub struct FastState(ahash::RandomState);

/// Four random words for this process, drawn once from std's randomly keyed SipHash.
fn process_keys() -> &'static [u64; 4] {
    static KEYS: OnceLock<[u64; 4]> = OnceLock::new();
    KEYS.get_or_init(|| {
        let std_state = std::hash::RandomState::new();
        [0u64, 1, 2, 3].map(|i| std_state.hash_one(i))
    })
}

impl Default for FastState {
    fn default() -> Self {
        let [k0, k1, k2, k3] = *process_keys();
        // generate_with mixes in a per-call counter: two maps never share their keys.
        FastState(ahash::RandomState::generate_with(k0, k1, k2, k3))
    }
}

impl BuildHasher for FastState {
    type Hasher = ahash::AHasher;

    fn build_hasher(&self) -> ahash::AHasher {
        self.0.build_hasher()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_and_sets_find_what_they_hold() {
        let mut m: FastMap<Vec<u8>, u32> = FastMap::default();
        m.insert(b"/usr/lib/libc.so.6".to_vec(), 1);
        m.insert(b"/usr/bin/sleep".to_vec(), 2);
        assert_eq!(m.get(b"/usr/lib/libc.so.6".as_slice()), Some(&1));
        assert_eq!(m.get(b"/usr/bin/sleep".as_slice()), Some(&2));
        assert_eq!(m.get(b"/usr/bin/true".as_slice()), None);
        let s: FastSet<(u32, u32, u64)> =
            [(8, 1, 42), (8, 1, 42), (0, 25, 7)].into_iter().collect();
        assert_eq!(s.len(), 2);
        assert!(s.contains(&(0, 25, 7)));
    }

    #[test]
    fn keys_are_random_and_differ_between_maps() {
        // The process's words are not aHash's public constants (all zero would be).
        assert_ne!(process_keys(), &[0u64; 4]);
        // Two maps hash one key differently (64 keys all hashed alike: no chance worth naming).
        let (a, b) = (FastState::default(), FastState::default());
        let differ = (0u64..64).any(|k| a.hash_one(k) != b.hash_one(k));
        assert!(differ);
        // One map hashes a key the same each time.
        assert_eq!(a.hash_one(b"/etc/passwd"), a.hash_one(b"/etc/passwd"));
    }
}
