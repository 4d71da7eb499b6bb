//! Kernel-bound work over many items (reading /proc files, one process at a time) spread
//! across the machine's cores: batches handed out from a shared counter, not equal halves
//! split up front (a host's own daemons cost far more than thousands of small processes),
//! results back in the items' order. Threads may join a run of batches late (`Batches`).

/// At most this many threads, whatever the machine has.
const MAX_THREADS: usize = 4;

/// Items handed out in batches, from a shared counter, to whichever threads work on them,
/// which may join at any time (`scan::early`: a read one thread begins and the scan joins
/// later); the results in the items' order once all are done.
pub struct Batches<'a, T: Clone, R> {
    items: std::borrow::Cow<'a, [T]>,
    batch: usize,
    next: std::sync::atomic::AtomicUsize,
    done: std::sync::Mutex<Vec<(usize, Vec<R>)>>,
}

impl<'a, T: Clone, R> Batches<'a, T, R> {
    /// `items` (borrowed, or owned by a run that outlives its caller) in batches of `batch`.
    pub fn new(items: impl Into<std::borrow::Cow<'a, [T]>>, batch: usize) -> Self {
        Batches {
            items: items.into(),
            batch: batch.max(1),
            next: std::sync::atomic::AtomicUsize::new(0),
            done: std::sync::Mutex::new(Vec::new()),
        }
    }

    fn count(&self) -> usize {
        self.items.len().div_ceil(self.batch)
    }

    /// How many threads to work with: the machine's cores, at most four, at most one per
    /// batch (one where the machine has one core or the items fit in one batch).
    pub fn threads(&self) -> usize {
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
            .clamp(1, MAX_THREADS)
            .min(self.count().max(1))
    }

    /// `each(state, item)` for the batches no thread has taken yet, on this thread, until
    /// none is left.
    pub fn work<S>(&self, state: &mut S, each: impl Fn(&mut S, &T) -> R) {
        loop {
            let b = self.next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            if b >= self.count() {
                break;
            }
            let part = &self.items[b * self.batch..((b + 1) * self.batch).min(self.items.len())];
            let results = part.iter().map(|i| each(state, i)).collect::<Vec<R>>();
            self.done
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push((b, results));
        }
    }

    /// The results in the items' order, once every batch is done.
    pub fn into_results(self) -> Vec<R> {
        let mut done = self.done.into_inner().unwrap_or_else(|p| p.into_inner());
        done.sort_unstable_by_key(|(b, _)| *b);
        done.into_iter().flat_map(|(_, r)| r).collect()
    }
}

/// Run `work` on `threads` threads at once, this one among them. A panic on any thread goes
/// on as that panic: work that silently misses items would read as complete.
pub fn on_threads(threads: usize, work: impl Fn() + Sync) {
    if threads <= 1 {
        return work();
    }
    std::thread::scope(|s| {
        let others: Vec<_> = (1..threads).map(|_| s.spawn(&work)).collect();
        work();
        for o in others {
            o.join().unwrap_or_else(|p| std::panic::resume_unwind(p));
        }
    });
}

/// `each(state, item)` for every item, on up to four threads (`Batches::threads`), each
/// thread with its own `state` from `init`; the results in the items' order. A panic on
/// any thread goes on as that panic.
pub fn in_batches<T: Sync + Clone, S, R: Send>(
    items: &[T],
    batch: usize,
    init: impl Fn() -> S + Sync,
    each: impl Fn(&mut S, &T) -> R + Sync,
) -> Vec<R> {
    let batches = Batches::new(items, batch);
    on_threads(batches.threads(), || batches.work(&mut init(), &each));
    batches.into_results()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_come_back_in_the_items_order_whatever_thread_made_them() {
        let items: Vec<u32> = (0..1000).collect();
        let out = in_batches(
            &items,
            7,
            || 0u32,
            |calls, i| {
                *calls += 1;
                i * 2
            },
        );
        assert_eq!(out, items.iter().map(|i| i * 2).collect::<Vec<_>>());
        assert!(in_batches(&[] as &[u32], 32, || (), |_, i| *i).is_empty());
    }

    #[test]
    fn threads_that_join_a_run_late_take_what_is_left_each_item_once() {
        let items: Vec<u32> = (0..1000).collect();
        let b = Batches::new(items.clone(), 7);
        let calls = std::sync::atomic::AtomicUsize::new(0);
        let each = |_: &mut (), i: &u32| {
            calls.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            i * 2
        };
        // One thread begins (slowly); another joins while it works; a third comes once
        // nothing is left, and takes nothing.
        std::thread::scope(|s| {
            s.spawn(|| {
                b.work(&mut (), |st, i| {
                    std::thread::sleep(std::time::Duration::from_micros(200));
                    each(st, i)
                })
            });
            std::thread::sleep(std::time::Duration::from_millis(20));
            b.work(&mut (), each);
        });
        b.work(&mut (), |_, _| unreachable!("every batch was taken"));
        assert_eq!(calls.into_inner(), 1000);
        assert_eq!(
            b.into_results(),
            items.iter().map(|i| i * 2).collect::<Vec<_>>()
        );
    }
}
