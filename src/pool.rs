//! Threads: when work is split over the cores, and the pool that runs it.
//!
//! Every parallel loop in the crate (the heads' row blocks, [`crate::matmul`]'s
//! row split, the training step's row-wise passes) is sized by a [`Split`] and
//! run by [`join`]. Rows are independent and every kernel's arithmetic order is fixed,
//! so a result is the same bits however it is split.
//!
//! The pool is micropool's global pool, not rayon's: its idle workers spin for a
//! while before sleeping, and a thread outside the pool works on its own half of
//! a [`join`] instead of sleeping on a latch. Handing half a `[50, 128]` forward
//! pass to a spinning worker costs well under a microsecond; through rayon, from
//! the caller's thread, it cost 10–20 µs on a 2-core Xeon VM (24 µs alone →
//! 30–44 µs split with rayon, 16 µs with micropool).
//!
//! Waking a *sleeping* worker still costs 15–50 µs on such a VM, more than a
//! small job gains. So work between [`PARALLEL_MIN_FMAS`] and
//! [`COLD_PARALLEL_MIN_FMAS`] multiply-adds is split only while the crate is busy:
//! its previous piece of work ended less than [`WARM_NS`] ago, so a worker that
//! helped with it is still spinning. A lone small call after an idle spell stays
//! on the calling thread (`[50, 128]` after 2 ms idle: 26 µs, where splitting it
//! cost 81 µs); in a stream of calls the first one wakes the worker and the rest
//! find it awake.
//!
//! micropool aborts the process if a job panics, where rayon would unwind into
//! the caller. The jobs here are the crate's own kernels on validated, pre-sized
//! buffers; bad input is reported as an [`crate::Error`] before any split.

use std::ops::Range;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::OnceLock;
use std::time::Instant;

/// Below this many multiply-adds work stays on the calling thread, and each
/// thread gets at least half as many (an `[8, 128]` forward pass, 0.2 M, runs
/// 6.2 → 3.8 µs split in a stream of calls).
const PARALLEL_MIN_FMAS: usize = 100_000;

/// From this many multiply-adds work is split even when the workers sleep: a
/// wake-up (≤ 50 µs) is then a small part of the time saved.
const COLD_PARALLEL_MIN_FMAS: usize = 8_000_000;

/// A worker is taken to be awake if the crate's previous piece of work ended less
/// than this many nanoseconds ago: inside micropool's idle spin (3000
/// `spin_loop` rounds, 35 µs on the Xeon, where one takes 11.6 ns; longer on
/// CPUs where `pause` is slower). A longer spin would not help on such a VM: when
/// the scheduler puts the worker on the caller's core, its spin delays the
/// caller's own half.
const WARM_NS: u64 = 25_000;

/// Each thread gets at least this many rows (the tail kernels' step).
const MIN_ROWS_PER_THREAD: usize = 4;

static MAX_THREADS: AtomicUsize = AtomicUsize::new(0);

/// When the crate's last piece of work worth splitting ended, in nanoseconds
/// since [`epoch`] (0: never).
static LAST_END_NS: AtomicU64 = AtomicU64::new(0);

/// Limits the threads the matrix products and the heads use (`0`, the default,
/// means all the cores; `1` switches threading off). Results are the same bits for
/// any setting. Without the `threads` feature, everything runs on the calling
/// thread whatever this says.
pub fn set_num_threads(n: usize) {
    MAX_THREADS.store(n, Ordering::Relaxed);
}

/// The number of threads a large product uses now (1 without the `threads`
/// feature).
pub fn num_threads() -> usize {
    #[cfg(feature = "threads")]
    {
        match MAX_THREADS.load(Ordering::Relaxed) {
            0 => cores(),
            n => n.min(cores()),
        }
    }
    #[cfg(not(feature = "threads"))]
    {
        1
    }
}

/// The threads a split can use: the caller plus micropool's workers (one fewer
/// than the cores unless the application built the pool otherwise), at most the
/// cores; counted once.
#[cfg(feature = "threads")]
fn cores() -> usize {
    static CORES: OnceLock<usize> = OnceLock::new();
    *CORES.get_or_init(|| {
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        (micropool::num_threads() + 1).min(cores)
    })
}

fn epoch() -> Instant {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    *EPOCH.get_or_init(Instant::now)
}

/// Nanoseconds since [`epoch`], at least 1.
fn now_ns() -> u64 {
    u64::try_from(epoch().elapsed().as_nanos())
        .unwrap_or(u64::MAX)
        .max(1)
}

/// How a job of `fmas` multiply-adds over `rows` rows is split; keep it until
/// the job is done (dropping it notes the time, see the [module docs](self)).
#[must_use = "the split marks the crate busy until it is dropped"]
pub(crate) struct Split {
    threads: usize,
    timed: bool,
}

impl Split {
    /// The split for a job starting now.
    pub(crate) fn new(rows: usize, fmas: usize) -> Self {
        let max = num_threads();
        if max <= 1 || fmas < PARALLEL_MIN_FMAS {
            return Self {
                threads: 1,
                timed: false,
            };
        }
        let last = LAST_END_NS.load(Ordering::Relaxed);
        let warm = last != 0 && now_ns().saturating_sub(last) < WARM_NS;
        Self {
            threads: split_for(rows, fmas, max, warm),
            timed: true,
        }
    }

    /// The number of threads (parts) to use.
    pub(crate) fn threads(&self) -> usize {
        self.threads
    }
}

impl Drop for Split {
    fn drop(&mut self) {
        if self.timed {
            LAST_END_NS.store(now_ns(), Ordering::Relaxed);
        }
    }
}

/// [`Split::new`]'s rule, without the clock: `max` threads at most, and jobs
/// below [`COLD_PARALLEL_MIN_FMAS`] split only when `warm`.
fn split_for(rows: usize, fmas: usize, max: usize, warm: bool) -> usize {
    if fmas < PARALLEL_MIN_FMAS || (fmas < COLD_PARALLEL_MIN_FMAS && !warm) {
        return 1;
    }
    max.min(fmas / (PARALLEL_MIN_FMAS / 2))
        .min(rows / MIN_ROWS_PER_THREAD)
        .max(1)
}

/// Runs `a` and `b`, on two threads when the `threads` feature is on and a worker
/// is free (otherwise one after the other on this thread).
pub(crate) fn join<A: Send, B: Send>(
    a: impl FnOnce() -> A + Send,
    b: impl FnOnce() -> B + Send,
) -> (A, B) {
    #[cfg(feature = "threads")]
    {
        micropool::join(a, b)
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
    let split = Split::new(rows, rows * wa * cost);
    let mut parts = Vec::with_capacity(split.threads());
    let (mut a, mut b) = (a, b);
    for r in split_rows(rows, split.threads(), 1) {
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
    fn small_jobs_split_only_while_warm() {
        let small = 1_228_800; // a [50, 128] forward pass
        assert_eq!(split_for(50, small, 2, false), 1);
        assert_eq!(split_for(50, small, 2, true), 2);
        // Large jobs split whether or not a worker is awake; tiny ones never.
        let large = 512 * 384 * 448;
        assert_eq!(split_for(512, large, 2, false), 2);
        assert_eq!(split_for(512, large, 8, false), 8);
        assert_eq!(split_for(4096, 50_000, 2, true), 1);
        // Never more threads than allowed, than rows allow, or than work merits.
        assert_eq!(split_for(512, large, 1, true), 1);
        assert_eq!(split_for(7, small, 2, true), 1);
        assert_eq!(split_for(8, small, 4, true), 2);
        assert_eq!(split_for(4096, 3 * PARALLEL_MIN_FMAS, 8, true), 6);
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
