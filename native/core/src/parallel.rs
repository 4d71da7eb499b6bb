//! Kernel-bound work over many items (reading /proc files, one process at a time) spread
//! across the machine's cores: batches handed out from a shared counter, not equal halves
//! split up front (a host's own daemons cost far more than thousands of small processes),
//! results back in the items' order.

/// At most this many threads, whatever the machine has.
const MAX_THREADS: usize = 4;

/// `each(state, item)` for every item, on up to four threads (one where the machine has one
/// core or the items fit in one batch), each thread with its own `state` from `init`; the
/// results in the items' order. A panic on any thread goes on as that panic: results that
/// silently miss items would read as complete.
pub fn in_batches<T: Sync, S, R: Send>(
    items: &[T],
    batch: usize,
    init: impl Fn() -> S + Sync,
    each: impl Fn(&mut S, &T) -> R + Sync,
) -> Vec<R> {
    let batch = batch.max(1);
    let batches = items.len().div_ceil(batch);
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .clamp(1, MAX_THREADS)
        .min(batches.max(1));
    let next = std::sync::atomic::AtomicUsize::new(0);
    let work = || {
        let mut state = init();
        let mut done = Vec::new();
        loop {
            let b = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            if b >= batches {
                break;
            }
            let part = &items[b * batch..((b + 1) * batch).min(items.len())];
            done.push((
                b,
                part.iter().map(|i| each(&mut state, i)).collect::<Vec<R>>(),
            ));
        }
        done
    };
    let mut done: Vec<(usize, Vec<R>)> = if threads <= 1 {
        work()
    } else {
        std::thread::scope(|s| {
            let workers: Vec<_> = (0..threads).map(|_| s.spawn(work)).collect();
            workers
                .into_iter()
                .flat_map(|w| w.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
                .collect()
        })
    };
    done.sort_unstable_by_key(|(b, _)| *b);
    done.into_iter().flat_map(|(_, r)| r).collect()
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
}
