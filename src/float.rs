//! The floating-point types the crate computes in: `f32` and `f64`.
//!
//! Every head, kernel and loss is generic over [`Float`]. The trait is sealed: it
//! bundles the `num-traits` and `ndarray` bounds the numerics need, and only the two
//! IEEE types implement it, so that kernels can rely on their exact semantics.
//! What differs between the two beyond those bounds (the matrix product's
//! micro-kernels, the vectorised `exp`, the dtype of weight files) are the items
//! of a crate-private supertrait, implemented once per type, which also seals
//! the trait.

use std::fmt::{Debug, Display};
use std::iter::Sum;
use std::ops::{AddAssign, DivAssign, MulAssign, SubAssign};

use ndarray::{LinalgScalar, ScalarOperand};
use num_traits::{FromPrimitive, ToPrimitive};

mod sealed {
    use crate::kernels::microkernel::{KernelSet, F32_KERNELS, F64_KERNELS};
    use crate::kernels::ops;
    use crate::weights::WeightDtype;

    /// The per-type half of [`Float`](super::Float): what the crate's kernels
    /// specialise for `f32` and `f64`. Not nameable outside the crate, so it
    /// also seals `Float`.
    pub trait Element: Copy + 'static {
        /// The dtype weight files store this type as.
        const DTYPE: WeightDtype;
        /// The matrix product's micro-kernels for this type, one per level.
        const GEMM_KERNELS: KernelSet<Self>;
        /// `e^x` by this type's branch-free kernel (see `ops::exp`).
        fn exp_kernel(x: Self) -> Self;
    }

    impl Element for f32 {
        const DTYPE: WeightDtype = WeightDtype::F32;
        const GEMM_KERNELS: KernelSet<f32> = F32_KERNELS;
        #[inline(always)]
        fn exp_kernel(x: f32) -> f32 {
            ops::exp_f32(x)
        }
    }

    impl Element for f64 {
        const DTYPE: WeightDtype = WeightDtype::F64;
        const GEMM_KERNELS: KernelSet<f64> = F64_KERNELS;
        #[inline(always)]
        fn exp_kernel(x: f64) -> f64 {
            ops::exp_f64(x)
        }
    }
}

/// A floating-point element type: implemented for `f32` and `f64` only (the
/// trait is sealed).
pub trait Float:
    num_traits::Float
    + FromPrimitive
    + ToPrimitive
    + LinalgScalar
    + ScalarOperand
    + AddAssign
    + SubAssign
    + MulAssign
    + DivAssign
    + Sum
    + Default
    + Debug
    + Display
    + Send
    + Sync
    + 'static
    + sealed::Element
{
    /// Short name of the type (`"f32"` or `"f64"`), used in error messages.
    const NAME: &'static str;

    /// Converts from `f64`, rounding to nearest for `f32`.
    fn from_f64_lossy(x: f64) -> Self;

    /// Widens to `f64` (exact for both types).
    fn to_f64_exact(self) -> f64;
}

impl Float for f32 {
    const NAME: &'static str = "f32";
    #[inline]
    fn from_f64_lossy(x: f64) -> Self {
        x as f32
    }
    #[inline]
    fn to_f64_exact(self) -> f64 {
        self as f64
    }
}

impl Float for f64 {
    const NAME: &'static str = "f64";
    #[inline]
    fn from_f64_lossy(x: f64) -> Self {
        x
    }
    #[inline]
    fn to_f64_exact(self) -> f64 {
        self
    }
}
