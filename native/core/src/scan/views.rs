//! What the scan keeps per (mount namespace, root) view, looked up from a process as it is
//! read: every mapped file of every process asks for its view's mounts, overlays and
//! composefs layers, and for what its paths name there. A key built per question (the
//! root's bytes copied, then dropped) cost an allocation each; here the namespace and the
//! root are looked up as they are, one level each.
use crate::fast_hash::FastMap;

use super::View;
use crate::proc::procfs::ProcessRaw;

/// Values by view: by mount namespace, then by root as the scanner names it.
pub(super) struct ViewMap<V>(FastMap<u64, FastMap<Vec<u8>, V>>);

impl<V> Default for ViewMap<V> {
    fn default() -> Self {
        ViewMap(FastMap::default())
    }
}

/// The view of `raw` as borrowed parts: what `super::view_of` copies.
pub(super) fn view_parts(raw: &ProcessRaw) -> (u64, &[u8]) {
    (raw.mnt_ns.unwrap_or(0), raw.root.as_deref().unwrap_or(b"/"))
}

impl<V> ViewMap<V> {
    /// The value of `raw`'s view.
    pub(super) fn of(&self, raw: &ProcessRaw) -> Option<&V> {
        let (ns, root) = view_parts(raw);
        self.get(ns, root)
    }

    /// The value of view (`ns`, `root`). An empty map answers without hashing anything.
    pub(super) fn get(&self, ns: u64, root: &[u8]) -> Option<&V> {
        if self.0.is_empty() {
            return None;
        }
        self.0.get(&ns)?.get(root)
    }

    /// The value of `view`.
    pub(super) fn get_view(&self, view: &View) -> Option<&V> {
        self.get(view.0, &view.1)
    }

    /// Whether `view` has a value.
    pub(super) fn contains(&self, view: &View) -> bool {
        self.get_view(view).is_some()
    }

    /// Set the value of `view`.
    pub(super) fn insert(&mut self, view: View, value: V) {
        self.0.entry(view.0).or_default().insert(view.1, value);
    }

    /// The value of `raw`'s view, made by `make` the first time.
    pub(super) fn of_or_insert_with(
        &mut self,
        raw: &ProcessRaw,
        make: impl FnOnce() -> V,
    ) -> &mut V {
        let (ns, root) = view_parts(raw);
        let roots = self.0.entry(ns).or_default();
        if !roots.contains_key(root) {
            roots.insert(root.to_vec(), make());
        }
        roots.get_mut(root).expect("inserted above")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(ns: Option<u64>, root: Option<&[u8]>) -> ProcessRaw {
        ProcessRaw {
            pid: 1,
            comm: None,
            exe: None,
            root: root.map(<[u8]>::to_vec),
            root_dev_ino: None,
            mnt_ns: ns,
            cgroup: Vec::new(),
            maps: Vec::new(),
            kernel_thread: false,
            start_ticks: None,
            ppid: None,
        }
    }

    #[test]
    fn a_process_finds_the_value_of_its_view_as_view_of_names_it() {
        let mut m: ViewMap<u32> = ViewMap::default();
        m.insert((7, b"/".to_vec()), 1);
        m.insert((7, b"/srv/c".to_vec()), 2);
        m.insert((0, b"/".to_vec()), 3);
        for (r, want) in [
            (raw(Some(7), Some(b"/")), Some(&1)),
            (raw(Some(7), None), Some(&1)),
            (raw(Some(7), Some(b"/srv/c")), Some(&2)),
            (raw(None, None), Some(&3)),
            (raw(Some(8), Some(b"/")), None),
            (raw(Some(7), Some(b"/srv")), None),
        ] {
            assert_eq!(m.of(&r), want);
            assert_eq!(m.get_view(&super::super::view_of(&r)), want);
            assert_eq!(m.contains(&super::super::view_of(&r)), want.is_some());
        }
        *m.of_or_insert_with(&raw(Some(9), Some(b"/x")), || 5) += 1;
        *m.of_or_insert_with(&raw(Some(9), Some(b"/x")), || 50) += 1;
        assert_eq!(m.get(9, b"/x"), Some(&7));
    }
}
