//! Matrix products: the one place every head and gradient multiplies matrices.
//!
//! A packed, register-blocked GEMM in pure Rust with micro-kernels for AVX-512,
//! AVX2 + FMA, and a portable fallback, chosen once at run time from the CPU's
//! features ([`crate::cpu`]). Large products are split over the rows of the
//! output across the threads of the current rayon pool (cargo feature `threads`,
//! on by default; [`set_num_threads`] limits it at run time).
//!
//! **Determinism.** Every output element is one fused multiply-add chain over the
//! reduction index in order `0, 1, …, k-1`, starting from zero, whatever the
//! blocking, the number of rows in the call, the row's position in it or the number
//! of threads. So a row's result depends only on that row of `a` and on `b`: a
//! batch gives bit for bit what each sequence gives alone, and one thread gives bit
//! for bit what two give. (Different CPUs may pick different kernels; one machine
//! always picks the same one.)
//!
//! ```
//! use bfactor::matmul;
//! use bfactor::ndarray::array;
//!
//! let a = array![[1.0_f64, 2.0], [3.0, 4.0], [5.0, 6.0]];
//! let b = array![[1.0, 0.0, 2.0], [0.0, 1.0, 3.0]];
//! let c = matmul::matmul(&a.view(), &b.view());
//! assert_eq!(c, a.dot(&b));
//! // Transposed operands are views; nothing is copied by the caller.
//! assert_eq!(matmul::matmul(&b.t(), &a.t()), c.t());
//! ```

use std::ops::Range;

use ndarray::{s, Array2, ArrayView2};

use super::microkernel::{Kernel, MAX_TILE};
use super::pool::{par_each, split_rows, threads_for};
use crate::cpu::{self, Level};
use crate::Float;

pub use super::pool::{num_threads, set_num_threads};

/// Reduction block: how many `k` steps one micro-kernel call runs before storing
/// its accumulators. (Blocking never changes the result; see the module docs.)
const KC: usize = 256;
/// Row block: rows of `a` packed together (every kernel's `MR` divides it,
/// checked at compile time in `microkernel`).
pub(super) const MC: usize = 96;

/// The micro-kernel this machine uses for `F`.
fn kernel<F: Float>() -> Kernel<F> {
    kernel_at(cpu::level())
}

/// The micro-kernel for `F` at `level` (clamped to what the CPU has).
fn kernel_at<F: Float>(level: Level) -> Kernel<F> {
    F::GEMM_KERNELS.at(level)
}

// ---------------------------------------------------------------- packing

/// A vector of `F` whose data starts on a 64-byte boundary.
#[derive(Clone, Default)]
pub(crate) struct AlignedBuf<F> {
    buf: Vec<F>,
    off: usize,
    len: usize,
}

impl<F: Float> AlignedBuf<F> {
    /// Makes room for `len` elements (contents unspecified); allocates only when
    /// the buffer has to grow.
    pub(crate) fn reserve(&mut self, len: usize) {
        let pad = 64 / std::mem::size_of::<F>();
        if self.buf.len() < len + pad {
            self.buf = vec![F::zero(); len + pad];
        }
        let addr = self.buf.as_ptr() as usize;
        self.off = (addr.next_multiple_of(64) - addr) / std::mem::size_of::<F>();
        self.len = len;
    }

    pub(crate) fn as_slice(&self) -> &[F] {
        &self.buf[self.off..self.off + self.len]
    }

    pub(crate) fn as_mut_slice(&mut self) -> &mut [F] {
        &mut self.buf[self.off..self.off + self.len]
    }
}

/// The right-hand matrix `[k, n]` packed into `ceil(n / NR)` column panels of
/// `k × NR` (zero-padded), the layout the micro-kernel reads.
#[derive(Clone)]
pub(crate) struct PackedB<F: Float> {
    data: AlignedBuf<F>,
    k: usize,
    n: usize,
    kernel: Kernel<F>,
}

impl<F: Float> PackedB<F> {
    /// Packs `b` for this machine's kernel.
    pub(crate) fn new(b: &ArrayView2<'_, F>) -> Self {
        let kernel = kernel::<F>();
        Self::with_kernel(b, kernel)
    }

    fn with_kernel(b: &ArrayView2<'_, F>, kernel: Kernel<F>) -> Self {
        let (k, n) = b.dim();
        let nr = kernel.main.nr;
        let panels = n.div_ceil(nr);
        let mut data = AlignedBuf::default();
        data.reserve(panels * k * nr);
        let dst = data.as_mut_slice();
        dst.fill(F::zero());
        // Panel by panel, row by row: each row's `nr` values are one contiguous
        // copy when `b`'s rows are contiguous (no per-element index arithmetic).
        for (panel, out) in dst
            .chunks_exact_mut((k * nr).max(1))
            .take(panels)
            .enumerate()
        {
            let j0 = panel * nr;
            let cols = nr.min(n - j0);
            let block = b.slice(ndarray::s![.., j0..j0 + cols]);
            for (row, o) in block.rows().into_iter().zip(out.chunks_exact_mut(nr)) {
                match row.as_slice() {
                    Some(r) => o[..cols].copy_from_slice(r),
                    None => o.iter_mut().zip(row.iter()).for_each(|(o, &v)| *o = v),
                }
            }
        }
        Self { data, k, n, kernel }
    }

    /// Rows of `b` (the reduction length).
    pub(crate) fn k(&self) -> usize {
        self.k
    }

    /// Columns of `b`.
    pub(crate) fn n(&self) -> usize {
        self.n
    }

    /// Rows of the kernel's tail steps: splitting a product's rows at multiples
    /// of this costs at most one short tile per part.
    pub(crate) fn tail_rows(&self) -> usize {
        self.kernel.tail.mr
    }
}

impl<F: Float> std::fmt::Debug for PackedB<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PackedB([{}, {}], {})", self.k, self.n, self.kernel.name)
    }
}

// ---------------------------------------------------------------- the product

/// The left operand of [`gemm_serial`]: a borrowed `rows × cols` matrix with any
/// strides. It is built only from a slice (its length checked) or a view, so
/// every element it addresses is readable for as long as it lives.
#[derive(Clone, Copy)]
pub(crate) struct MatRef<'a, F>(ArrayView2<'a, F>);

impl<'a, F> MatRef<'a, F> {
    /// The first `rows · cols` values of `s`, row-major.
    ///
    /// # Panics
    /// If `s` holds fewer.
    pub(crate) fn from_slice(s: &'a [F], rows: usize, cols: usize) -> Self {
        let len = rows.checked_mul(cols).expect("rows · cols overflows usize");
        Self(ArrayView2::from_shape((rows, cols), &s[..len]).expect("a rows × cols shape"))
    }

    /// The view `v`.
    pub(crate) fn from_view(v: &ArrayView2<'a, F>) -> Self {
        Self(*v)
    }

    /// Rows `rows` (a range inside `0..self.rows`).
    fn rows(self, rows: Range<usize>) -> Self {
        Self(self.0.slice_move(s![rows, ..]))
    }
}

/// `c[m, n] = a[m, k] · b`, on the calling thread; `c` has row stride `ldc`.
/// `scratch` is grown if needed; it only holds row-tail tiles, and row blocks of
/// `a` when `a`'s rows are not contiguous.
///
/// The loops, outermost first: the reduction in blocks of `KC` steps and the rows
/// of `a` in blocks of `MC` (here); per block, the `NR`-column panels of `b` and
/// the `MR`-row panels of `a` ([`gemm_block`]); one register tile
/// ([`Tiles::run`]).
///
/// # Panics
/// If `a` has other than `b.k()` columns, or `c` is too short for `m` rows of `n`
/// at stride `ldc`.
pub(crate) fn gemm_serial<F: Float>(
    a: &MatRef<'_, F>,
    b: &PackedB<F>,
    c: &mut [F],
    ldc: usize,
    scratch: &mut AlignedBuf<F>,
) {
    let a = &a.0;
    let ((m, k), n) = (a.dim(), b.n);
    assert_eq!(k, b.k, "inner dimensions");
    assert!(ldc >= n && (m == 0 || c.len() >= (m - 1) * ldc + n));
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 {
        for row in c.chunks_mut(ldc).take(m) {
            row[..n].fill(F::zero());
        }
        return;
    }
    let mut buf = [F::zero(); MAX_TILE];
    for p0 in (0..k).step_by(KC) {
        let kc = KC.min(k - p0);
        for r0 in (0..m).step_by(MC) {
            let mc = MC.min(m - r0);
            let block = a.slice(s![r0..r0 + mc, p0..p0 + kc]);
            gemm_block(&block, b, p0, &mut c[r0 * ldc..], ldc, scratch, &mut buf);
        }
    }
}

/// How the micro-kernels read a block of `a`.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Layout {
    /// Contiguous rows (column stride 1, row stride >= 0): full panels are read in
    /// place, `lda` = the row stride.
    Rows,
    /// Contiguous columns (a transposed view: row stride 1, column stride > 0):
    /// full panels are read in place by the column-major kernel, `lda` = the
    /// column stride.
    Cols,
    /// Any other strides: the block is copied row-major into the scratch buffer.
    Copied,
}

impl Layout {
    fn of<F>(a: &ArrayView2<'_, F>) -> Self {
        let (rs, cs) = (a.strides()[0], a.strides()[1]);
        if cs == 1 && rs >= 0 {
            Layout::Rows
        } else if rs == 1 && cs > 0 {
            Layout::Cols
        } else {
            Layout::Copied
        }
    }
}

/// One block `a` (`mc × kc`: rows `r0..r0 + mc`, reduction steps `p0..p0 + kc`)
/// times rows `p0..p0 + kc` of `b`, into `c`'s first `mc` rows (row stride
/// `ldc`), continuing their FMA chains unless `p0 == 0`. `c` holds at least
/// `(mc - 1) · ldc + b.n()` values.
fn gemm_block<F: Float>(
    a: &ArrayView2<'_, F>,
    b: &PackedB<F>,
    p0: usize,
    c: &mut [F],
    ldc: usize,
    scratch: &mut AlignedBuf<F>,
    buf: &mut [F; MAX_TILE],
) {
    let (mc, kc) = a.dim();
    let kern = b.kernel;
    let (mr, nr) = (kern.main.mr, kern.main.nr);
    let layout = Layout::of(a);
    let full = mc / mr * mr;
    // `base`: the first row of the full panels, `ld` their stride; `tail`: the
    // rows past the last full panel, row-major, zero-padded to `MR` rows.
    let (base, ld, tail) = if layout == Layout::Copied {
        let rows = mc.next_multiple_of(mr);
        scratch.reserve(rows * kc);
        copy_block(a, rows, scratch.as_mut_slice());
        let p = scratch.as_slice().as_ptr();
        (p, kc, p.wrapping_add(full * kc))
    } else {
        if full < mc {
            scratch.reserve(mr * kc);
            copy_block(&a.slice(s![full.., ..]), mr, scratch.as_mut_slice());
        }
        let ld = if layout == Layout::Cols {
            a.strides()[1]
        } else {
            a.strides()[0]
        };
        (a.as_ptr(), ld as usize, scratch.as_slice().as_ptr())
    };
    let mut tiles = Tiles {
        kern,
        kc,
        accumulate: p0 > 0,
        ldc,
        buf,
    };
    let bdata = b.data.as_slice();
    for jp in 0..b.n.div_ceil(nr) {
        let ncols = nr.min(b.n - jp * nr);
        let b_panel = &bdata[(jp * b.k + p0) * nr..][..kc * nr];
        for ip in 0..mc.div_ceil(mr) {
            let rows = mr.min(mc - ip * mr);
            let a_panel = if rows < mr {
                APanel {
                    ptr: tail,
                    ld: kc,
                    col_major: false,
                }
            } else if layout == Layout::Cols {
                APanel {
                    ptr: base.wrapping_add(ip * mr),
                    ld,
                    col_major: true,
                }
            } else {
                APanel {
                    ptr: base.wrapping_add(ip * mr * ld),
                    ld,
                    col_major: false,
                }
            };
            // SAFETY: a full panel (`rows == MR`) is `MR` rows of the block: of
            // the view `a` (whose elements are all readable) when in place, else
            // of the copy in `scratch`. A short one is the `tail` copy, zero-padded
            // to `MR` rows in `scratch`. `scratch` is not touched until the loop
            // ends.
            unsafe {
                tiles.run(
                    a_panel,
                    rows,
                    b_panel,
                    &mut c[ip * mr * ldc + jp * nr..],
                    ncols,
                )
            };
        }
    }
}

/// A panel of `a` as a micro-kernel reads it: element `(i, p)` at
/// `ptr + i·ld + p`, or with `col_major` at `ptr + p·ld + i`.
#[derive(Clone, Copy)]
struct APanel<F> {
    ptr: *const F,
    ld: usize,
    col_major: bool,
}

/// What the register tiles of one block share: the kernel, the reduction length
/// `kc`, whether to continue `C`'s chains, `C`'s row stride, and the buffer edge
/// tiles are computed in.
struct Tiles<'t, F: 'static> {
    kern: Kernel<F>,
    kc: usize,
    accumulate: bool,
    ldc: usize,
    buf: &'t mut [F; MAX_TILE],
}

impl<F: Float> Tiles<'_, F> {
    /// `C[0..rows, 0..ncols] (+)= A_panel · b`, over `kc` steps (`rows <= MR`,
    /// `ncols <= NR`). `b` is a packed `kc × NR` panel, `c` starts at the tile's
    /// first element and has `C`'s row stride. A full tile runs the kernel on `c`;
    /// an edge tile runs it on the tile buffer and copies the `rows × ncols`
    /// corner; rows short of `MR` run the tail kernel, `tail.mr` rows at a time.
    ///
    /// # Safety
    /// `a` addresses readable elements `(i, p)` for `p < kc` and `i < MR`, and is
    /// row-major unless `rows == MR`.
    #[inline]
    unsafe fn run(&mut self, a: APanel<F>, rows: usize, b: &[F], c: &mut [F], ncols: usize) {
        let Kernel {
            main, tail, col, ..
        } = self.kern;
        let (mr, nr, kc, ldc, acc) = (main.mr, main.nr, self.kc, self.ldc, self.accumulate);
        assert!(rows <= mr && ncols <= nr && b.len() >= kc * nr);
        let full = if a.col_major { col } else { main };
        if rows == mr && ncols == nr {
            assert!(c.len() >= (mr - 1) * ldc + nr);
            // SAFETY: the kernel came from `KernelSet::at` (through `PackedB`), so
            // the CPU runs it; `a` is as the caller promises; `b` holds `kc × NR`
            // values and `c` the `MR` rows of `NR` at stride `ldc` (both
            // asserted), which nothing else can access while `c` is borrowed.
            unsafe { (full.func)(kc, a.ptr, a.ld, b.as_ptr(), c.as_mut_ptr(), ldc, acc) };
            return;
        }
        let t = &mut self.buf[..mr * nr];
        if acc {
            for i in 0..rows {
                t[i * nr..i * nr + ncols].copy_from_slice(&c[i * ldc..i * ldc + ncols]);
            }
        }
        if rows == mr {
            // SAFETY: the kernel, `a` and `b` as above; the tile buffer holds
            // `MR × NR` values (`MAX_TILE`, checked at compile time).
            unsafe { (full.func)(kc, a.ptr, a.ld, b.as_ptr(), t.as_mut_ptr(), nr, acc) };
        } else {
            for t0 in (0..rows).step_by(tail.mr) {
                // SAFETY: rows `t0..t0 + tail.mr <= MR` (`tail.mr` divides `MR`)
                // of `a` (row-major here) and of the tile buffer; the kernel and
                // `b` as above.
                unsafe {
                    (tail.func)(
                        kc,
                        a.ptr.wrapping_add(t0 * a.ld),
                        a.ld,
                        b.as_ptr(),
                        t.as_mut_ptr().wrapping_add(t0 * nr),
                        nr,
                        acc,
                    )
                };
            }
        }
        for i in 0..rows {
            c[i * ldc..i * ldc + ncols].copy_from_slice(&t[i * nr..i * nr + ncols]);
        }
    }
}

/// Copies `a` into `dst` row-major, `a.ncols()` values a row, and zero-fills the
/// rows from `a.nrows()` up to `rows_pad`.
///
/// # Panics
/// If `dst` holds fewer than `rows_pad` rows.
fn copy_block<F: Float>(a: &ArrayView2<'_, F>, rows_pad: usize, dst: &mut [F]) {
    let kc = a.ncols();
    assert!(a.nrows() <= rows_pad && dst.len() >= rows_pad * kc);
    let mut out = dst.chunks_exact_mut(kc).take(rows_pad);
    for (o, row) in (&mut out).zip(a.rows()) {
        match row.as_slice() {
            Some(r) => o.copy_from_slice(r),
            None => o.iter_mut().zip(row.iter()).for_each(|(o, &v)| *o = v),
        }
    }
    out.for_each(|o| o.fill(F::zero()));
}

/// `a · b` for any two matrix views (any strides, transposed or not), as
/// `a.dot(b)` computes it but faster, multithreaded over the rows of the result
/// for large products, and deterministic (see the [module docs](self)).
///
/// # Panics
/// If the inner dimensions differ (`a.ncols() != b.nrows()`), like `dot`.
pub fn matmul<F: Float>(a: &ArrayView2<'_, F>, b: &ArrayView2<'_, F>) -> Array2<F> {
    assert_eq!(
        a.ncols(),
        b.nrows(),
        "matmul: inner dimensions differ ({:?} · {:?})",
        a.shape(),
        b.shape()
    );
    let packed = PackedB::new(b);
    matmul_packed(a, &packed)
}

/// `a · b` with `b` already packed.
pub(crate) fn matmul_packed<F: Float>(a: &ArrayView2<'_, F>, b: &PackedB<F>) -> Array2<F> {
    let (m, n) = (a.nrows(), b.n());
    let mut c = Array2::<F>::zeros((m, n));
    let ap = MatRef::from_view(a);
    let out = c.as_slice_mut().expect("fresh array");
    let ranges = split_rows(m, threads_for(m, m * n * b.k()), b.tail_rows());
    // One (rows, output rows) task per thread.
    let mut tasks: Vec<(Range<usize>, &mut [F])> = Vec::with_capacity(ranges.len());
    let mut rest = out;
    for r in ranges {
        let (head, tail) = rest.split_at_mut(r.len() * n);
        tasks.push((r, head));
        rest = tail;
    }
    par_each(&mut tasks, &|(rows, c): &mut (Range<usize>, &mut [F])| {
        let mut apack = AlignedBuf::default();
        gemm_serial(&ap.rows(rows.clone()), b, c, n, &mut apack);
    });
    c
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Array2;

    fn naive(a: &Array2<f64>, b: &Array2<f64>) -> Array2<f64> {
        let (m, k) = a.dim();
        let n = b.ncols();
        Array2::from_shape_fn((m, n), |(i, j)| {
            (0..k).fold(0.0, |acc, p| a[[i, p]].mul_add(b[[p, j]], acc))
        })
    }

    #[test]
    fn every_kernel_is_an_exact_fma_chain() {
        for level in Level::available() {
            for &(m, k, n) in &[
                (1, 1, 1),
                (3, 5, 7),
                (13, 300, 33),
                (100, 520, 70),
                (25, 0, 3),
            ] {
                let a = Array2::from_shape_fn((m, k), |(i, j)| {
                    ((i * 7 + j * 3) % 13) as f64 * 0.37 - 1.1
                });
                let b =
                    Array2::from_shape_fn((k, n), |(i, j)| ((i * 5 + j) % 11) as f64 * 0.21 - 0.9);
                let packed = PackedB::with_kernel(&b.view(), kernel_at::<f64>(level));
                let mut c = Array2::from_elem((m, n), f64::NAN);
                let mut buf = AlignedBuf::default();
                gemm_serial(
                    &MatRef::from_view(&a.view()),
                    &packed,
                    c.as_slice_mut().unwrap(),
                    n,
                    &mut buf,
                );
                assert_eq!(c, naive(&a, &b), "{level:?} {m}x{k}x{n}");
                // The same product with `a` as a transposed (column-major) view.
                let a_t = a.t().to_owned();
                let mut c_col = Array2::from_elem((m, n), f64::NAN);
                gemm_serial(
                    &MatRef::from_view(&a_t.t()),
                    &packed,
                    c_col.as_slice_mut().unwrap(),
                    n,
                    &mut buf,
                );
                assert_eq!(c_col, c, "{level:?} {m}x{k}x{n}, column-major a");
                // f32 agrees with the f64 result to rounding.
                let a32 = a.mapv(|v| v as f32);
                let b32 = b.mapv(|v| v as f32);
                let packed = PackedB::with_kernel(&b32.view(), kernel_at::<f32>(level));
                let mut c32 = Array2::zeros((m, n));
                gemm_serial(
                    &MatRef::from_view(&a32.view()),
                    &packed,
                    c32.as_slice_mut().unwrap(),
                    n,
                    &mut AlignedBuf::default(),
                );
                let want = naive(&a32.mapv(f64::from), &b32.mapv(f64::from));
                for (x, y) in c32.iter().zip(&want) {
                    assert!(
                        (f64::from(*x) - y).abs() <= 1e-4 * (1.0 + y.abs()),
                        "{level:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn rows_are_independent_of_the_call_and_threads() {
        let a = Array2::from_shape_fn((301, 384), |(i, j)| {
            ((i * 31 + j * 17) % 97) as f32 / 9.0 - 5.0
        });
        let b = Array2::from_shape_fn((384, 200), |(i, j)| {
            ((i * 13 + j * 7) % 89) as f32 / 40.0 - 1.0
        });
        let all = matmul(&a.view(), &b.view());
        for i in [0, 11, 12, 150, 300] {
            let one = matmul(&a.slice(ndarray::s![i..i + 1, ..]), &b.view());
            assert_eq!(one.row(0), all.row(i));
        }
        let t = matmul(&b.t(), &a.t());
        assert_eq!(t, all.t());
    }

    #[test]
    fn strided_left_operands_are_copied_exactly() {
        // Neither rows nor columns contiguous: every block goes through
        // `copy_block`. Sizes cross the KC and MC blocks and leave row tails.
        for level in Level::available() {
            for &(m, k, n) in &[(1, 1, 1), (7, 3, 9), (101, 300, 35)] {
                let big = Array2::from_shape_fn((2 * m, 2 * k), |(i, j)| {
                    ((i * 11 + j * 5) % 17) as f64 * 0.29 - 2.3
                });
                let b = Array2::from_shape_fn((k, n), |(i, j)| {
                    ((i * 3 + j * 7) % 13) as f64 * 0.17 - 1.0
                });
                let packed = PackedB::with_kernel(&b.view(), kernel_at::<f64>(level));
                let views = [
                    big.slice(s![..;2, ..;2]),
                    big.slice(s![..;-2, 1..;2]),
                    big.slice(s![1..;2, ..;-2]),
                ];
                for a in views {
                    let mut c = Array2::from_elem((m, n), f64::NAN);
                    gemm_serial(
                        &MatRef::from_view(&a),
                        &packed,
                        c.as_slice_mut().unwrap(),
                        n,
                        &mut AlignedBuf::default(),
                    );
                    assert_eq!(
                        c,
                        naive(&a.to_owned(), &b),
                        "{level:?} {m}x{k}x{n} {:?}",
                        a.strides()
                    );
                }
            }
        }
    }

    #[test]
    #[should_panic]
    fn a_short_slice_is_refused() {
        MatRef::from_slice(&[1.0_f32; 5], 2, 3);
    }
}
