//! Time `Repo::inode_index` on a repo: the per-scan cost of a one-shot `status` on an
//! OSTree host (the exporter keeps its index). Usage: index_time REPO [RUNS]
use std::time::Instant;

use livetree_core::ostree::repo::Repo;

fn main() {
    let mut args = std::env::args().skip(1);
    let repo = args.next().expect("usage: index_time REPO [RUNS]");
    let runs: usize = args.next().map_or(5, |r| r.parse().expect("RUNS"));
    let r = Repo::open(std::path::Path::new(&repo)).expect("open the repo");
    let mut times = Vec::new();
    let mut n = 0;
    for _ in 0..runs {
        let t = Instant::now();
        n = r.inode_index().expect("index").len();
        times.push(t.elapsed());
    }
    times.sort();
    println!("{n} objects, median {:?} of {runs}", times[runs / 2]);
}
