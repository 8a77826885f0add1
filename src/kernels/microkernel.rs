//! The matrix product's micro-kernels: each call computes one register tile of
//! `C`, `C[0..MR, 0..NR] (+)= A[0..MR, 0..k] · B_panel`, as `MR × NR` chains of
//! fused multiply-adds over `p = 0, 1, …, k-1`.
//!
//! Every element type has one [`KernelSet`] (its [`Float`] item
//! `GEMM_KERNELS`): a [`Kernel`] per [`Level`], each a full tile, a tail tile for
//! the last rows of a block and a full tile for column-major `A`. The shapes are
//! checked when the sets are built, at compile time.

use crate::cpu::Level;
use crate::Float;

use super::matmul::MC;

/// The largest register tile (`MR · NR` values) of any kernel: the size of the
/// buffer edge tiles are computed in. [`KernelSet::new`] checks every kernel
/// against it at compile time.
pub(crate) const MAX_TILE: usize = 12 * 32;

/// A micro-kernel: `kernel(k, a, lda, b, c, ldc, accumulate)` computes
/// `C[0..MR, 0..NR] (+)= A[0..MR, 0..k] · B_panel`, where element `(i, p)` of `A`
/// is at `a + i·lda + p` (row-major kernels) or `a + p·lda + i` (column-major
/// ones), `B_panel` is the `k × NR` row-major values at `b`, and element `(i, j)`
/// of `C` is at `c + i·ldc + j`. With `accumulate` the sums start from `C`
/// (continuing its FMA chains), otherwise from zero.
///
/// # Safety
/// - The CPU has the features of the kernel's [`Level`] (true of every kernel
///   handed out by [`KernelSet::at`]).
/// - Those `MR × k` elements of `A` and the `k · NR` values at `b` are readable.
/// - Those `MR × NR` elements of `C` are readable and writable, and nothing else
///   accesses them during the call.
pub(crate) type KernelFn<F> = unsafe fn(usize, *const F, usize, *const F, *mut F, usize, bool);

/// A micro-kernel and its register tile.
#[derive(Clone, Copy)]
pub struct Tile<F: 'static> {
    /// Rows of the tile.
    pub(crate) mr: usize,
    /// Columns of the tile.
    pub(crate) nr: usize,
    /// The kernel.
    pub(crate) func: KernelFn<F>,
}

/// The micro-kernels of one [`Level`] for one element type.
#[derive(Clone, Copy)]
pub struct Kernel<F: 'static> {
    /// The full tile, row-major `A`.
    pub(crate) main: Tile<F>,
    /// The tail tile: as many columns as `main`, `tail.mr` rows (a divisor of
    /// `main.mr`), for the last `< main.mr` rows of a block, which it covers in
    /// steps of `tail.mr` instead of one padded `main` tile.
    pub(crate) tail: Tile<F>,
    /// `main` for a column-major `A` (a transposed view, read without a copy).
    pub(crate) col: Tile<F>,
    /// For reports: `"avx512"`, `"avx2"` or `"portable"`.
    pub(crate) name: &'static str,
}

/// One element type's micro-kernels, one [`Kernel`] per [`Level`].
pub struct KernelSet<F: 'static> {
    portable: Kernel<F>,
    #[cfg(target_arch = "x86_64")]
    avx2: Kernel<F>,
    #[cfg(target_arch = "x86_64")]
    avx512: Kernel<F>,
}

impl<F: Copy> KernelSet<F> {
    /// The set, after checking every kernel's shape (a compile-time error when
    /// the set is a constant): the tile fits [`MAX_TILE`], the tail and the
    /// column-major tiles match the full one, and `MR` divides the row block
    /// [`MC`].
    const fn new(
        portable: Kernel<F>,
        #[cfg(target_arch = "x86_64")] avx2: Kernel<F>,
        #[cfg(target_arch = "x86_64")] avx512: Kernel<F>,
    ) -> Self {
        check(&portable);
        #[cfg(target_arch = "x86_64")]
        {
            check(&avx2);
            check(&avx512);
        }
        Self {
            portable,
            #[cfg(target_arch = "x86_64")]
            avx2,
            #[cfg(target_arch = "x86_64")]
            avx512,
        }
    }

    /// The kernel for `level`, clamped to [`Level::detected`], so that the CPU
    /// has the features the kernel was compiled with.
    #[inline]
    pub(crate) fn at(&self, level: Level) -> Kernel<F> {
        match level.min(Level::detected()) {
            #[cfg(target_arch = "x86_64")]
            Level::Avx512 => self.avx512,
            #[cfg(target_arch = "x86_64")]
            Level::Avx2 => self.avx2,
            _ => self.portable,
        }
    }
}

/// The shape rules [`KernelSet::new`] checks.
const fn check<F>(k: &Kernel<F>) {
    let (main, tail, col) = (&k.main, &k.tail, &k.col);
    assert!(main.mr > 0 && main.nr > 0, "an empty tile");
    assert!(main.mr * main.nr <= MAX_TILE, "a tile larger than MAX_TILE");
    assert!(
        col.mr == main.mr && col.nr == main.nr,
        "col tile != main tile"
    );
    assert!(tail.nr == main.nr, "the tail tile has other columns");
    assert!(
        tail.mr > 0 && main.mr % tail.mr == 0,
        "tail MR must divide MR"
    );
    assert!(
        MC.is_multiple_of(main.mr),
        "MR must divide the row block MC"
    );
}

/// The `f32` kernels.
pub(crate) const F32_KERNELS: KernelSet<f32> = KernelSet::new(
    portable(),
    #[cfg(target_arch = "x86_64")]
    Kernel {
        main: x86::f32_avx2::TILE,
        tail: x86::f32_avx2_tail::TILE,
        col: x86::f32_avx2_col::TILE,
        name: "avx2",
    },
    #[cfg(target_arch = "x86_64")]
    Kernel {
        main: x86::f32_avx512::TILE,
        tail: x86::f32_avx512_tail::TILE,
        col: x86::f32_avx512_col::TILE,
        name: "avx512",
    },
);

/// The `f64` kernels.
pub(crate) const F64_KERNELS: KernelSet<f64> = KernelSet::new(
    portable(),
    #[cfg(target_arch = "x86_64")]
    Kernel {
        main: x86::f64_avx2::TILE,
        tail: x86::f64_avx2_tail::TILE,
        col: x86::f64_avx2_col::TILE,
        name: "avx2",
    },
    #[cfg(target_arch = "x86_64")]
    Kernel {
        main: x86::f64_avx512::TILE,
        tail: x86::f64_avx512_tail::TILE,
        col: x86::f64_avx512_col::TILE,
        name: "avx512",
    },
);

/// The portable kernel (4 × 8, whatever the compile target enables); its tail is
/// itself.
const fn portable<F: Float>() -> Kernel<F> {
    let main = Tile {
        mr: 4,
        nr: 8,
        func: portable_row::<F>,
    };
    Kernel {
        main,
        tail: main,
        col: Tile {
            mr: 4,
            nr: 8,
            func: portable_col::<F>,
        },
        name: "portable",
    }
}

/// The portable micro-kernel (4 × 8), row-major `A`. See [`KernelFn`].
unsafe fn portable_row<F: Float>(
    k: usize,
    a: *const F,
    lda: usize,
    b: *const F,
    c: *mut F,
    ldc: usize,
    accumulate: bool,
) {
    // SAFETY: the caller's contract (KernelFn) with MR × NR = 4 × 8.
    unsafe { tile::<F, 4, 8>(k, a, lda, b, c, ldc, accumulate) }
}

/// The portable micro-kernel (4 × 8), column-major `A`. See [`KernelFn`].
unsafe fn portable_col<F: Float>(
    k: usize,
    a: *const F,
    lda: usize,
    b: *const F,
    c: *mut F,
    ldc: usize,
    accumulate: bool,
) {
    // SAFETY: the caller's contract (KernelFn) with MR × NR = 4 × 8.
    unsafe { tile_col::<F, 4, 8>(k, a, lda, b, c, ldc, accumulate) }
}

/// The accumulators: `C`'s tile with `accumulate` (continuing its FMA chains),
/// else zeros.
///
/// # Safety
/// With `accumulate`, `c + i·ldc + j` is readable for `i < MR`, `j < NR`.
#[inline(always)]
unsafe fn load_tile<F: Float, const MR: usize, const NR: usize>(
    c: *const F,
    ldc: usize,
    accumulate: bool,
) -> [[F; NR]; MR] {
    let mut acc = [[F::zero(); NR]; MR];
    if accumulate {
        for (i, row) in acc.iter_mut().enumerate() {
            // SAFETY: row i of the tile is readable (the contract).
            row.copy_from_slice(unsafe { std::slice::from_raw_parts(c.add(i * ldc), NR) });
        }
    }
    acc
}

/// Stores the accumulators into `C`'s tile.
///
/// # Safety
/// `c + i·ldc + j` is writable for `i < MR`, `j < NR`, and nothing else accesses
/// those elements meanwhile.
#[inline(always)]
unsafe fn store_tile<F: Float, const MR: usize, const NR: usize>(
    acc: &[[F; NR]; MR],
    c: *mut F,
    ldc: usize,
) {
    for (i, row) in acc.iter().enumerate() {
        // SAFETY: row i of the tile is writable and not aliased (the contract).
        unsafe { std::slice::from_raw_parts_mut(c.add(i * ldc), NR) }.copy_from_slice(row);
    }
}

/// The register-tile loop, written once with plain arrays and `mul_add`: inside
/// the `#[target_feature]` wrappers below, LLVM keeps the `MR × NR` accumulators in
/// vector registers and turns each row's update into `NR / width` vector FMAs.
/// `A` is row-major: element `(i, p)` at `a[i * lda + p]`.
///
/// # Safety
/// As for [`KernelFn`] (row-major `A`), with this `MR × NR`.
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
    // SAFETY (every block below): the contract makes `A`'s `MR × k` elements and
    // `B`'s `k · NR` values readable, and `C`'s tile readable and writable.
    let mut acc = unsafe { load_tile::<F, MR, NR>(c, ldc, accumulate) };
    let mut b = b;
    for p in 0..k {
        let bp: &[F; NR] = unsafe { &*(b as *const [F; NR]) };
        for (i, row) in acc.iter_mut().enumerate() {
            let ai = unsafe { *a.add(i * lda + p) };
            for (x, &bx) in row.iter_mut().zip(bp) {
                *x = ai.mul_add(bx, *x);
            }
        }
        b = unsafe { b.add(NR) };
    }
    unsafe { store_tile(&acc, c, ldc) };
}

/// [`tile`] for a column-major `A` (element `(i, p)` at `a[p * lda + i]`, e.g. a
/// transposed view): the `MR` values of each step are contiguous, so the operand
/// is read in place. The same FMA chains. (A loop of its own: indexing
/// `a[p * lda + i]` inside [`tile`], or a closure for the `A` value, made LLVM
/// spill the accumulators to the stack.)
///
/// # Safety
/// As for [`KernelFn`] (column-major `A`), with this `MR × NR`.
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
    // SAFETY (every block below): as in `tile`.
    let mut acc = unsafe { load_tile::<F, MR, NR>(c, ldc, accumulate) };
    let (mut a, mut b) = (a, b);
    for _ in 0..k {
        let ap: &[F; MR] = unsafe { &*(a as *const [F; MR]) };
        let bp: &[F; NR] = unsafe { &*(b as *const [F; NR]) };
        for (row, &ai) in acc.iter_mut().zip(ap) {
            for (x, &bx) in row.iter_mut().zip(bp) {
                *x = ai.mul_add(bx, *x);
            }
        }
        // Not `add`: after the last step this points past `A`'s last column,
        // which may lie beyond its allocation.
        a = a.wrapping_add(lda);
        b = unsafe { b.add(NR) };
    }
    unsafe { store_tile(&acc, c, ldc) };
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    /// `$name::TILE`: [`tile`](super::tile) (or `tile_col`) for `$t` with an
    /// `$mr × $nr` register tile, compiled for `$level`.
    macro_rules! kernel {
        ($name:ident, $t:ty, $level:ident, $mr:literal, $nr:literal) => {
            kernel!($name, tile, $t, $level, $mr, $nr);
        };
        ($name:ident, $tile:ident, $t:ty, $level:ident, $mr:literal, $nr:literal) => {
            pub(super) mod $name {
                use super::super::{$tile, Tile};

                pub(in super::super) const TILE: Tile<$t> = Tile {
                    mr: $mr,
                    nr: $nr,
                    func: run,
                };

                crate::cpu::with_level!(
                    $level,
                    /// See `KernelFn`.
                    unsafe fn run(
                        k: usize,
                        a: *const $t,
                        lda: usize,
                        b: *const $t,
                        c: *mut $t,
                        ldc: usize,
                        accumulate: bool,
                    ) {
                        // SAFETY: the caller's contract (KernelFn) with this tile.
                        unsafe { $tile::<$t, $mr, $nr>(k, a, lda, b, c, ldc, accumulate) }
                    }
                );
            }
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
