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
//! use ndarray::array;
//!
//! let a = array![[1.0_f64, 2.0], [3.0, 4.0], [5.0, 6.0]];
//! let b = array![[1.0, 0.0, 2.0], [0.0, 1.0, 3.0]];
//! let c = matmul::matmul(&a.view(), &b.view());
//! assert_eq!(c, a.dot(&b));
//! // Transposed operands are views; nothing is copied by the caller.
//! assert_eq!(matmul::matmul(&b.t(), &a.t()), c.t());
//! ```

use std::any::TypeId;
use std::ops::Range;

use ndarray::{Array2, ArrayView2};

use super::pool::{par_each, split_rows, threads_for};
use crate::cpu::{self, Level};
use crate::Float;

pub use super::pool::{num_threads, set_num_threads};

/// Reduction block: how many `k` steps one micro-kernel call runs before storing
/// its accumulators. (Blocking never changes the result; see the module docs.)
const KC: usize = 256;
/// Row block: rows of `a` packed together (a multiple of every kernel's `MR`).
const MC: usize = 96;

// ---------------------------------------------------------------- kernels

/// `C[0..MR, 0..NR] (+)= A[0..MR, 0..k] · B_panel`: `A` is row-major with row
/// stride `lda`, `B_panel` is `k × NR` (packed), `C` has row stride `ldc`. With
/// `accumulate`, the accumulators start from `C` (continuing its FMA chains),
/// otherwise from zero.
type KernelFn<F> = unsafe fn(usize, *const F, usize, *const F, *mut F, usize, bool);

/// A micro-kernel and its register tile.
#[derive(Clone, Copy)]
pub(crate) struct Kernel<F: 'static> {
    /// Rows of the register tile.
    pub mr: usize,
    /// Columns of the register tile.
    pub nr: usize,
    func: KernelFn<F>,
    /// Rows of the tail kernel, which covers the last `< mr` rows of a block in
    /// steps of `tail_mr` (a divisor of `mr`) instead of one padded `mr` tile.
    tail_mr: usize,
    tail: KernelFn<F>,
    /// The `mr`-row kernel for a column-major `A` (element `(i, p)` at
    /// `a[p * lda + i]`): transposed left operands without a copy.
    col: KernelFn<F>,
    /// For reports: `"avx512"`, `"avx2"` or `"portable"`.
    #[allow(dead_code)]
    pub name: &'static str,
}

fn cast_kernel<T: 'static, F: 'static>(k: Kernel<T>) -> Kernel<F> {
    assert_eq!(TypeId::of::<T>(), TypeId::of::<F>());
    // SAFETY: T and F are the same type (checked above).
    unsafe { std::mem::transmute_copy(&k) }
}

/// The micro-kernel this machine uses for `F`.
pub(crate) fn kernel<F: Float>() -> Kernel<F> {
    kernel_at(cpu::level())
}

fn kernel_at<F: Float>(level: Level) -> Kernel<F> {
    let is_f32 = TypeId::of::<F>() == TypeId::of::<f32>();
    match level.min(Level::detected()) {
        #[cfg(target_arch = "x86_64")]
        Level::Avx512 => {
            if is_f32 {
                cast_kernel(Kernel::<f32> {
                    mr: 12,
                    nr: 32,
                    func: x86::f32_avx512,
                    tail_mr: 4,
                    tail: x86::f32_avx512_tail,
                    col: x86::f32_avx512_col,
                    name: "avx512",
                })
            } else {
                cast_kernel(Kernel::<f64> {
                    mr: 12,
                    nr: 16,
                    func: x86::f64_avx512,
                    tail_mr: 4,
                    tail: x86::f64_avx512_tail,
                    col: x86::f64_avx512_col,
                    name: "avx512",
                })
            }
        }
        #[cfg(target_arch = "x86_64")]
        Level::Avx2 => {
            if is_f32 {
                cast_kernel(Kernel::<f32> {
                    mr: 6,
                    nr: 16,
                    func: x86::f32_avx2,
                    tail_mr: 2,
                    tail: x86::f32_avx2_tail,
                    col: x86::f32_avx2_col,
                    name: "avx2",
                })
            } else {
                cast_kernel(Kernel::<f64> {
                    mr: 6,
                    nr: 8,
                    func: x86::f64_avx2,
                    tail_mr: 2,
                    tail: x86::f64_avx2_tail,
                    col: x86::f64_avx2_col,
                    name: "avx2",
                })
            }
        }
        _ => Kernel {
            mr: 4,
            nr: 8,
            func: portable::<F>,
            tail_mr: 4,
            tail: portable::<F>,
            col: portable_col::<F>,
            name: "portable",
        },
    }
}

/// The portable micro-kernel (4 × 8), row-major `A`.
unsafe fn portable<F: Float>(
    k: usize,
    a: *const F,
    lda: usize,
    b: *const F,
    c: *mut F,
    ldc: usize,
    accumulate: bool,
) {
    tile::<F, 4, 8>(k, a, lda, b, c, ldc, accumulate)
}

/// The portable micro-kernel (4 × 8), column-major `A`.
unsafe fn portable_col<F: Float>(
    k: usize,
    a: *const F,
    lda: usize,
    b: *const F,
    c: *mut F,
    ldc: usize,
    accumulate: bool,
) {
    tile_col::<F, 4, 8>(k, a, lda, b, c, ldc, accumulate)
}

/// The accumulators: `C`'s tile with `accumulate` (continuing its FMA chains),
/// else zeros.
#[inline(always)]
unsafe fn load_tile<F: Float, const MR: usize, const NR: usize>(
    c: *const F,
    ldc: usize,
    accumulate: bool,
) -> [[F; NR]; MR] {
    let mut acc = [[F::zero(); NR]; MR];
    if accumulate {
        for (i, row) in acc.iter_mut().enumerate() {
            row.copy_from_slice(std::slice::from_raw_parts(c.add(i * ldc), NR));
        }
    }
    acc
}

#[inline(always)]
unsafe fn store_tile<F: Float, const MR: usize, const NR: usize>(
    acc: &[[F; NR]; MR],
    c: *mut F,
    ldc: usize,
) {
    for (i, row) in acc.iter().enumerate() {
        std::slice::from_raw_parts_mut(c.add(i * ldc), NR).copy_from_slice(row);
    }
}

/// The register-tile loop, written once with plain arrays and `mul_add`: inside
/// the `#[target_feature]` wrappers below, LLVM keeps the `MR × NR` accumulators in
/// vector registers and turns each row's update into `NR / width` vector FMAs.
/// `A` is row-major: element `(i, p)` at `a[i * lda + p]`.
#[inline(always)]
unsafe fn tile<F: Float, const MR: usize, const NR: usize>(
    k: usize,
    a: *const F,
    lda: usize,
    b: *const F,
    c: *mut F,
    ldc: usize,
    accumulate: bool,
) {
    let mut acc = load_tile::<F, MR, NR>(c, ldc, accumulate);
    let mut b = b;
    for p in 0..k {
        let bp: &[F; NR] = &*(b as *const [F; NR]);
        for (i, row) in acc.iter_mut().enumerate() {
            let ai = *a.add(i * lda + p);
            for (x, &bx) in row.iter_mut().zip(bp) {
                *x = ai.mul_add(bx, *x);
            }
        }
        b = b.add(NR);
    }
    store_tile(&acc, c, ldc);
}

/// [`tile`] for a column-major `A` (element `(i, p)` at `a[p * lda + i]`, e.g. a
/// transposed view): the `MR` values of each step are contiguous, so the operand
/// is read in place. The same FMA chains. (A loop of its own: indexing
/// `a[p * lda + i]` inside [`tile`], or a closure for the `A` value, made LLVM
/// spill the accumulators to the stack.)
#[inline(always)]
unsafe fn tile_col<F: Float, const MR: usize, const NR: usize>(
    k: usize,
    a: *const F,
    lda: usize,
    b: *const F,
    c: *mut F,
    ldc: usize,
    accumulate: bool,
) {
    let mut acc = load_tile::<F, MR, NR>(c, ldc, accumulate);
    let (mut a, mut b) = (a, b);
    for _ in 0..k {
        let ap: &[F; MR] = &*(a as *const [F; MR]);
        let bp: &[F; NR] = &*(b as *const [F; NR]);
        for (row, &ai) in acc.iter_mut().zip(ap) {
            for (x, &bx) in row.iter_mut().zip(bp) {
                *x = ai.mul_add(bx, *x);
            }
        }
        a = a.add(lda);
        b = b.add(NR);
    }
    store_tile(&acc, c, ldc);
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use super::{tile, tile_col};

    macro_rules! kernel {
        ($name:ident, $t:ty, $level:ident, $mr:literal, $nr:literal) => {
            kernel!($name, tile, $t, $level, $mr, $nr);
        };
        ($name:ident, $tile:ident, $t:ty, $level:ident, $mr:literal, $nr:literal) => {
            crate::cpu::with_level!(
                $level,
                /// See `KernelFn`.
                pub(super) unsafe fn $name(
                    k: usize,
                    a: *const $t,
                    lda: usize,
                    b: *const $t,
                    c: *mut $t,
                    ldc: usize,
                    accumulate: bool,
                ) {
                    $tile::<$t, $mr, $nr>(k, a, lda, b, c, ldc, accumulate)
                }
            );
        };
    }

    kernel!(f32_avx512, f32, avx512, 12, 32);
    kernel!(f64_avx512, f64, avx512, 12, 16);
    kernel!(f32_avx2, f32, avx2, 6, 16);
    kernel!(f64_avx2, f64, avx2, 6, 8);
    kernel!(f32_avx512_tail, f32, avx512, 4, 32);
    kernel!(f64_avx512_tail, f64, avx512, 4, 16);
    kernel!(f32_avx2_tail, f32, avx2, 2, 16);
    kernel!(f64_avx2_tail, f64, avx2, 2, 8);
    kernel!(f32_avx512_col, tile_col, f32, avx512, 12, 32);
    kernel!(f64_avx512_col, tile_col, f64, avx512, 12, 16);
    kernel!(f32_avx2_col, tile_col, f32, avx2, 6, 16);
    kernel!(f64_avx2_col, tile_col, f64, avx2, 6, 8);
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
        let nr = kernel.nr;
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
        self.kernel.tail_mr
    }
}

impl<F: Float> std::fmt::Debug for PackedB<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PackedB([{}, {}], {})", self.k, self.n, self.kernel.name)
    }
}

/// A row-major (or any-strided) left-hand matrix by pointer and strides.
#[derive(Clone, Copy)]
pub(crate) struct MatPtr<F> {
    pub ptr: *const F,
    pub rows: usize,
    pub cols: usize,
    pub row_stride: isize,
    pub col_stride: isize,
}

impl<F> MatPtr<F> {
    pub(crate) fn from_slice(s: &[F], rows: usize, cols: usize) -> Self {
        assert!(s.len() >= rows * cols);
        Self {
            ptr: s.as_ptr(),
            rows,
            cols,
            row_stride: cols as isize,
            col_stride: 1,
        }
    }

    pub(crate) fn from_view(v: &ArrayView2<'_, F>) -> Self {
        let (rows, cols) = v.dim();
        let s = v.strides();
        Self {
            ptr: v.as_ptr(),
            rows,
            cols,
            row_stride: s[0],
            col_stride: s[1],
        }
    }
}

/// Copies rows `r0..r0 + rows` and columns `p0..p0 + kc` of `a` into `dst` as a
/// row-major `mr_pad × kc` block (rows past `rows` zero).
///
/// # Safety
/// The rows and columns must lie inside `a`.
unsafe fn copy_block<F: Float>(
    a: &MatPtr<F>,
    r0: usize,
    rows: usize,
    p0: usize,
    kc: usize,
    rows_pad: usize,
    dst: &mut [F],
) {
    for (i, out) in dst.chunks_exact_mut(kc).take(rows_pad).enumerate() {
        if i >= rows {
            out.fill(F::zero());
            continue;
        }
        let base = a
            .ptr
            .offset((r0 + i) as isize * a.row_stride + p0 as isize * a.col_stride);
        if a.col_stride == 1 {
            out.copy_from_slice(std::slice::from_raw_parts(base, kc));
        } else {
            for (p, o) in out.iter_mut().enumerate() {
                *o = *base.offset(p as isize * a.col_stride);
            }
        }
    }
}

/// `c[m, n] = a[m, k] · b`, on the calling thread; `c` has row stride `ldc`.
/// `scratch` is grown if needed; it only holds row-tail tiles, and row blocks of
/// `a` when `a`'s rows are not contiguous.
pub(crate) fn gemm_serial<F: Float>(
    a: &MatPtr<F>,
    b: &PackedB<F>,
    c: &mut [F],
    ldc: usize,
    scratch: &mut AlignedBuf<F>,
) {
    let (m, k, n) = (a.rows, b.k, b.n);
    assert_eq!(a.cols, k, "inner dimensions");
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
    let kern = b.kernel;
    let (mr, nr) = (kern.mr, kern.nr);
    let contiguous = a.col_stride == 1 && a.row_stride >= 0;
    // A transposed view (`x.t()` of a row-major `x`): full tiles read it in place
    // with the column-major kernel; only the tail rows are copied.
    let col_major = !contiguous && a.row_stride == 1 && a.col_stride > 0;
    let in_place = contiguous || col_major;
    let mc_max = MC.min(m.next_multiple_of(mr));
    let kc_max = KC.min(k);
    scratch.reserve(if in_place { mr } else { mc_max } * kc_max);
    let bdata = b.data.as_slice();
    let panels = n.div_ceil(nr);
    let mut tile = [F::zero(); 16 * 32];
    for p0 in (0..k).step_by(KC) {
        let kc = KC.min(k - p0);
        let accumulate = p0 > 0;
        for r0 in (0..m).step_by(MC) {
            let mc = MC.min(m - r0);
            let full = mc / mr * mr;
            // Row panels: (pointer to the panel's first row, row stride; for
            // `col_major`, the first row's stride between steps of p).
            let (blk, ld) = if in_place {
                if full < mc {
                    // SAFETY: the tail rows and these columns are inside a.
                    unsafe {
                        copy_block(a, r0 + full, mc - full, p0, kc, mr, scratch.as_mut_slice())
                    };
                }
                // SAFETY: row r0, column p0 is inside a.
                let ptr = unsafe {
                    a.ptr
                        .offset(r0 as isize * a.row_stride + p0 as isize * a.col_stride)
                };
                let ld = if col_major {
                    a.col_stride
                } else {
                    a.row_stride
                };
                (ptr, ld as usize)
            } else {
                let pad = mc.next_multiple_of(mr);
                // SAFETY: as above.
                unsafe { copy_block(a, r0, mc, p0, kc, pad, scratch.as_mut_slice()) };
                (scratch.as_slice().as_ptr(), kc)
            };
            for jp in 0..panels {
                let ncols = nr.min(n - jp * nr);
                let bptr = bdata[(jp * k + p0) * nr..].as_ptr();
                for ip in 0..mc.div_ceil(mr) {
                    let rows = mr.min(mc - ip * mr);
                    let (aptr, lda) = if in_place && rows < mr {
                        (scratch.as_slice().as_ptr(), kc)
                    } else if col_major {
                        // SAFETY: panel ip's first row is inside the block.
                        (unsafe { blk.add(ip * mr) }, ld)
                    } else {
                        // SAFETY: as above.
                        (unsafe { blk.add(ip * mr * ld) }, ld)
                    };
                    let func = if col_major && rows == mr {
                        kern.col
                    } else {
                        kern.func
                    };
                    let c0 = (r0 + ip * mr) * ldc + jp * nr;
                    if rows == mr && ncols == nr {
                        // SAFETY: the full MR × NR tile at c0 lies inside c (checked
                        // above); A's MR rows hold kc values each; B's panel kc × NR.
                        unsafe { func(kc, aptr, lda, bptr, c[c0..].as_mut_ptr(), ldc, accumulate) };
                    } else {
                        let t = &mut tile[..mr * nr];
                        if accumulate {
                            for i in 0..rows {
                                t[i * nr..i * nr + ncols]
                                    .copy_from_slice(&c[c0 + i * ldc..c0 + i * ldc + ncols]);
                            }
                        }
                        if rows == mr {
                            // SAFETY: the tile buffer holds MR × NR values; A as above.
                            unsafe { func(kc, aptr, lda, bptr, t.as_mut_ptr(), nr, accumulate) };
                        } else {
                            // The last rows, `tail_mr` at a time (`tail_mr` divides
                            // MR; rows past `rows` come zero-padded from scratch).
                            for t0 in (0..rows).step_by(kern.tail_mr) {
                                // SAFETY: rows t0..t0 + tail_mr <= MR of the tile
                                // buffer and of A's (padded) panel.
                                unsafe {
                                    (kern.tail)(
                                        kc,
                                        aptr.add(t0 * lda),
                                        lda,
                                        bptr,
                                        t.as_mut_ptr().add(t0 * nr),
                                        nr,
                                        accumulate,
                                    )
                                };
                            }
                        }
                        for i in 0..rows {
                            c[c0 + i * ldc..c0 + i * ldc + ncols]
                                .copy_from_slice(&t[i * nr..i * nr + ncols]);
                        }
                    }
                }
            }
        }
    }
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
    let ap = MatPtr::from_view(a);
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
    let ap = SendPtr(ap);
    par_each(&mut tasks, &|(rows, c): &mut (Range<usize>, &mut [F])| {
        let a = ap;
        let sub = MatPtr {
            // SAFETY: rows lies inside a.
            ptr: unsafe { a.0.ptr.offset(rows.start as isize * a.0.row_stride) },
            rows: rows.len(),
            ..a.0
        };
        let mut apack = AlignedBuf::default();
        gemm_serial(&sub, b, c, n, &mut apack);
    });
    c
}

/// A [`MatPtr`] that may cross threads: the pointee is only read, and outlives the
/// parallel region.
#[derive(Clone, Copy)]
pub(crate) struct SendPtr<F>(pub MatPtr<F>);
// SAFETY: only shared reads through the pointer, during a scope the data outlives.
unsafe impl<F: Sync> Send for SendPtr<F> {}
// SAFETY: as above.
unsafe impl<F: Sync> Sync for SendPtr<F> {}

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
                    &MatPtr::from_view(&a.view()),
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
                    &MatPtr::from_view(&a_t.t()),
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
                    &MatPtr::from_view(&a32.view()),
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
}
