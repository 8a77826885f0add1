//! Threads: when work is split over the cores, and the pool that runs it.
//!
//! Every parallel loop in the crate (the heads' row blocks, [`crate::matmul`]'s
//! row split, the training step's row-wise passes) is sized by [`threads_for`] and
//! run by [`join`]. Rows are independent and every kernel's arithmetic order is fixed,
//! so a result is the same bits however it is split.
//!
//! The pool is rayon's (cargo feature `threads`): the pool the caller installed
//! (`ThreadPool::install`) when the call comes from inside one, otherwise rayon's
//! global pool, whose size `RAYON_NUM_THREADS` sets. The crate never builds a
//! pool of its own, so it shares the cores with the application's other rayon
//! work instead of competing with it.
//!
//! Handing work to the pool costs tens of microseconds when its workers sleep,
//! so work below [`PARALLEL_MIN_FMAS`] multiply-adds stays on the calling thread,
//! and each thread of a split gets at least half that much.

use std::ops::Range;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Below this many multiply-adds work stays on the calling thread, and each
/// thread of a split gets at least half as many. A `[50, 128]` forward pass
/// (1.2 M) stays on one thread; a `[512, 384]` one (88 M) is split.
const PARALLEL_MIN_FMAS: usize = 4_000_000;

/// Each thread gets at least this many rows (the tail kernels' step).
const MIN_ROWS_PER_THREAD: usize = 4;

static MAX_THREADS: AtomicUsize = AtomicUsize::new(0);

/// Limits the threads the matrix products and the heads use (`0`, the default,
/// means every thread of the current rayon pool; `1` switches threading off).
/// Results are the same bits for any setting. Without the `threads` feature,
/// everything runs on the calling thread whatever this says.
///
/// To give the crate a pool of its own size instead, run the calls inside
/// `rayon::ThreadPool::install`, or set `RAYON_NUM_THREADS` for the global pool.
pub fn set_num_threads(n: usize) {
    MAX_THREADS.store(n, Ordering::Relaxed);
}

/// The number of threads a large product uses now: the current rayon pool's
/// size, capped by [`set_num_threads`] (1 without the `threads` feature).
pub fn num_threads() -> usize {
    #[cfg(feature = "threads")]
    {
        let pool = rayon::current_num_threads().max(1);
        match MAX_THREADS.load(Ordering::Relaxed) {
            0 => pool,
            n => n.min(pool),
        }
    }
    #[cfg(not(feature = "threads"))]
    {
        1
    }
}

/// How many threads (parts) a job of `fmas` multiply-adds over `rows` rows is
/// split into.
pub(crate) fn threads_for(rows: usize, fmas: usize) -> usize {
    split_for(rows, fmas, num_threads())
}

/// [`threads_for`]'s rule: `max` threads at most, none for jobs below
/// [`PARALLEL_MIN_FMAS`].
fn split_for(rows: usize, fmas: usize, max: usize) -> usize {
    if max <= 1 || fmas < PARALLEL_MIN_FMAS {
        return 1;
    }
    max.min(fmas / (PARALLEL_MIN_FMAS / 2))
        .min(rows / MIN_ROWS_PER_THREAD)
        .max(1)
}

/// Runs `a` and `b`, potentially in parallel on the current rayon pool when the
/// `threads` feature is on (otherwise one after the other on this thread).
pub(crate) fn join<A: Send, B: Send>(
    a: impl FnOnce() -> A + Send,
    b: impl FnOnce() -> B + Send,
) -> (A, B) {
    #[cfg(feature = "threads")]
    {
        rayon::join(a, b)
    }
    #[cfg(not(feature = "threads"))]
    {
        (a(), b())
    }
}

/// Runs `f` on `parts` disjoint pieces in parallel (on the calling thread if
/// `parts.len() == 1`), by recursive [`join`], allocating nothing.
pub(crate) fn par_each<T: Send>(parts: &mut [T], f: &(impl Fn(&mut T) + Sync)) {
    match parts.len() {
        0 => {}
        1 => f(&mut parts[0]),
        n => {
            let (a, b) = parts.split_at_mut(n / 2);
            join(|| par_each(a, f), || par_each(b, f));
        }
    }
}

/// Row-wise work in parallel: `a` (`rows × wa`) and `b` (`rows × wb`, or empty
/// with `wb = 0`) are split by rows into as many parts as a job of
/// `rows · wa · cost` operations merits, and `f(first_row, a_part, b_part)` runs
/// on each. Rows are independent, so the result does not depend on the split.
pub(crate) fn par_rows<T: Send, U: Send>(
    a: &mut [T],
    wa: usize,
    b: &mut [U],
    wb: usize,
    cost: usize,
    f: impl Fn(usize, &mut [T], &mut [U]) + Sync,
) {
    let rows = a.len() / wa.max(1);
    let threads = threads_for(rows, rows * wa * cost);
    let mut parts = Vec::with_capacity(threads);
    let (mut a, mut b) = (a, b);
    for r in split_rows(rows, threads, 1) {
        let (ha, ta) = a.split_at_mut(r.len() * wa);
        let (hb, tb) = b.split_at_mut(r.len() * wb);
        parts.push((r.start, ha, hb));
        (a, b) = (ta, tb);
    }
    par_each(&mut parts, &|(r0, pa, pb)| f(*r0, pa, pb));
}

/// The length of each but the last of `parts` near-equal shares of `rows`: a
/// multiple of `align` (at least `align`), the last share taking the rest.
pub(crate) fn share_len(rows: usize, parts: usize, align: usize) -> usize {
    (rows / parts.max(1) / align * align).max(align)
}

/// Splits `0..rows` into `parts` contiguous ranges of near-equal length, each
/// (except possibly the last, which takes the rest) a multiple of `align`.
pub(crate) fn split_rows(rows: usize, parts: usize, align: usize) -> Vec<Range<usize>> {
    let parts = parts.max(1);
    let per = share_len(rows, parts, align);
    let mut out = Vec::with_capacity(parts);
    let mut start = 0;
    while start < rows || out.is_empty() {
        let end = (start + per.max(1)).min(rows);
        out.push(start..end);
        start = end;
        if out.len() == parts {
            out.last_mut().expect("non-empty").end = rows;
            break;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_large_jobs_split() {
        // A [50, 128] forward pass stays on the calling thread.
        assert_eq!(split_for(50, 1_228_800, 2), 1);
        let large = 512 * 384 * 448;
        assert_eq!(split_for(512, large, 2), 2);
        assert_eq!(split_for(512, large, 8), 8);
        assert_eq!(split_for(4096, 50_000, 2), 1);
        // Never more threads than allowed, than rows allow, or than work merits.
        assert_eq!(split_for(512, large, 1), 1);
        assert_eq!(split_for(7, large, 2), 1);
        assert_eq!(split_for(8, large, 4), 2);
        assert_eq!(split_for(4096, 3 * PARALLEL_MIN_FMAS, 8), 6);
    }

    #[test]
    fn split_rows_covers_in_aligned_balanced_parts() {
        for rows in [0, 1, 3, 4, 50, 511, 512, 4096] {
            for parts in 1..=5 {
                for align in [1, 2, 4, 12] {
                    let r = split_rows(rows, parts, align);
                    assert!(!r.is_empty() && r.len() <= parts, "{rows} {parts} {align}");
                    assert_eq!(r[0].start, 0);
                    assert_eq!(r.last().unwrap().end, rows);
                    for w in r.windows(2) {
                        assert_eq!(w[0].end, w[1].start);
                        assert_eq!(w[0].len() % align, 0, "{rows} {parts} {align}: {r:?}");
                    }
                    if rows >= parts * align {
                        assert_eq!(r.len(), parts, "{rows} {parts} {align}: {r:?}");
                        let (lo, hi) = (r[0].len(), r.last().unwrap().len());
                        assert!(hi - lo < parts * align, "{rows} {parts} {align}: {r:?}");
                    }
                }
            }
        }
    }

    #[test]
    fn join_and_par_each_run_every_part() {
        let (a, b) = join(|| 1 + 1, || "two");
        assert_eq!((a, b), (2, "two"));
        let mut parts: Vec<usize> = (0..7).collect();
        par_each(&mut parts, &|p: &mut usize| *p *= 10);
        assert_eq!(parts, [0, 10, 20, 30, 40, 50, 60]);
    }
}
